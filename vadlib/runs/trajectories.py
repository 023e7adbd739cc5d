"""How one run of Paper E's temporal branch works: track the people of every video of a dataset,
train Social GAN on the normal training trajectories, score each test frame by the trajectory
errors of the people in it. One cached experiment per (dataset, detector); the spatial branch and
the fusion are :mod:`vadlib.papers.e_trajectories`.

1. **Tracks.** Every frame of every training and test video goes through a detector and
   :func:`vadlib.tracking.track_sequence` (JDE/FairMOT association, Paper A). ``detector``:

   * ``"tracker"`` (quick / full): Paper A's tracker, the explicit model of Table A.1
     (:func:`vadlib.papers.a_tracker.proposed_runs`), trained under the same profile; the thesis
     uses the "pre-trained" tracker of Paper A without saying which variant (L3105, L3162), and
     the explicit one is the stronger. Frames are letterboxed into its input as in Paper A.
   * ``"oracle"`` (smoke): the twin's people (:func:`vadlib.data.synthetic.video_anomaly.people`),
     boxes as rendered, one fixed random embedding per person -- a perfect detector feeding the
     same association code. Only synthetic data have it; tables label it.

2. **Trajectories.** Box centres (Paper A's centre formula, L1432) joined by track id, cut into
   Social GAN's scene windows of ``obs_len`` + ``pred_len`` steps, one step every ``frame_step``
   frames (:mod:`vadlib.tracking.trajectories`). The thesis gives no lengths or rate; we take Social
   GAN's 8 + 8 steps at its data's 2.5 frames/s, i.e. every 10th frame of the 25 fps videos
   (:data:`FRAME_STEP`). The short twin videos (80 frames) use every 2nd frame.

3. **Predictor.** :class:`vadlib.models.social_gan.SocialGAN` trained on the training videos'
   windows (normal motion only) for the thesis's 200 epochs at batch 64 (L3167), scaled by the
   profile's budget.

4. **Scores.** Each test window's prediction (one sample) against what the person did: ADE + FDE
   (Eq. E.1). A frame's error is the largest error of the people whose predicted steps span it
   (:func:`vadlib.tracking.trajectories.frame_scores`; the paper leaves this open); frames no
   prediction spans have none (NaN). Min–max normalisation and ``1 −`` (Eqs. E.2, E.3) are the
   fusion's business, over the data the paper normalises over.

Results: per test video the frame numbers, the frame errors and the frame labels; the number of
tracks and windows. Files in the run directory: ``tracks.csv`` (every tracked box of the test
videos, with the person's largest window error) for the figures and the explorer, and
``windows.csv`` (each scored window of each person: its predicted span and error) for the regions
of RBDC/TBDC.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from vadlib.data import DataSource, avenue, mot, shanghaitech
from vadlib.data import video as video_io
from vadlib.metrics.trajectory import trajectory_error
from vadlib.models.social_gan import SocialGAN
from vadlib.profiles import resolve_device
from vadlib.runs import code
from vadlib.artifacts import atomic_write_text
from vadlib.runs.experiment import Budget, Experiment, RunContext, cached_file
from vadlib.runs.tracking import TrackerRun
from vadlib.runs.train import data_loader, endless, train
from vadlib.tracking import track_sequence
from vadlib.tracking.trajectories import TrajectoryWindows, centres, collate_windows, frame_scores, windows

TRAJECTORY_DATASETS = ("avenue", "shanghaitech")
DETECTORS = ("oracle", "tracker")
FPS = 25  # Avenue and ShanghaiTech
#: frames between two trajectory steps: Social GAN's 2.5 frames/s on 25 fps video; the twins' short
#: videos (80 frames) need a shorter step for 16-step windows to fit
FRAME_STEP = {"real": 10, "synthetic": 2}
TRACKS_FILE = "tracks.csv"
WINDOWS_FILE = "windows.csv"
EMBEDDING_DIM = 128


@dataclass(frozen=True)
class TrajectoryRun(Experiment):
    """Track, train Social GAN on the normal training trajectories, score the test frames."""

    kind: ClassVar[str] = "trajectories"

    dataset: str = "avenue"
    detector: str = "oracle"
    tracker: TrackerRun | None = None  # the trained tracker, when detector == "tracker"
    obs_len: int = 8
    pred_len: int = 8
    frame_step: int = FRAME_STEP["synthetic"]
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        if self.dataset not in TRAJECTORY_DATASETS:
            raise ValueError(f"dataset must be one of {TRAJECTORY_DATASETS}, got {self.dataset!r}")
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.detector == "oracle" and not self.data.synthetic:
            raise ValueError("the oracle detector exists only on the synthetic twins: real data "
                             "are tracked with detector='tracker'")
        if self.detector == "tracker" and self.tracker is None:
            raise ValueError("detector='tracker' needs the TrackerRun of the tracker to use")

    def code_units(self) -> tuple[str, ...]:
        units = ("run:trajectories", "train", "model:social_gan", "metrics:trajectory", "model:tracker") + \
            code.data_units([self.dataset], self.data.synthetic)
        return units + (self.tracker.code_units() if self.tracker is not None else ())

    def label(self) -> str:
        return "SGAN on oracle tracks (twin's people)" if self.detector == "oracle" else "SGAN"

    # ------------------------------------------------------------------ tracks
    def _module(self):
        return {"avenue": avenue, "shanghaitech": shanghaitech}[self.dataset]

    def frames(self, split: str) -> pd.DataFrame:
        """The dataset's frame index of ``split`` (video, frame, path, and label on test)."""
        return self._module().index(self.data.locate(self.dataset), split)

    def track(self, split: str, model=None) -> dict[str, pd.DataFrame]:
        """video -> MOTChallenge rows of the people tracked in it (frames 0-based as the index)."""
        index = self.frames(split)
        out = {}
        for video, group in index.groupby("video", sort=True):
            frames = group["frame"].to_numpy()
            found = self._oracle(split, video, frames) if self.detector == "oracle" else \
                self._detect(model, group)
            out[str(video)] = track_sequence(found, frame_rate=FPS, min_box_area=0)
        return out

    def _oracle(self, split: str, video: str, frames: np.ndarray):
        from vadlib.data.synthetic import video_anomaly
        people = video_anomaly.people(self.dataset, "smoke", self.data.twin_seed, split, video)
        rng = np.random.default_rng([self.data.twin_seed, sum(map(ord, video)), len(split)])
        identity = {p: v / np.linalg.norm(v) for p, v in
                    ((p, rng.normal(size=EMBEDDING_DIM)) for p in sorted(people.person.unique()))}
        by_frame = dict(tuple(people.groupby("frame")))
        for frame in frames:
            rows = by_frame.get(int(frame), people.iloc[:0])
            boxes = rows[["bb_left", "bb_top", "bb_width", "bb_height"]].to_numpy(float)
            embeddings = np.stack([identity[p] for p in rows.person]) if len(rows) else np.zeros((0, EMBEDDING_DIM))
            yield int(frame), boxes, np.ones(len(rows)), embeddings

    def _detect(self, model, group: pd.DataFrame):
        from vadlib.runs.tracking import detections
        size = self.tracker.input_size
        for row in group.itertuples():
            path = row.path
            rgb = video_io.read_video_frames(path, int(row.frame), 1)[0] if video_io.is_video_file(path) \
                else video_io.read_image(path)
            image, scale, offset = mot.letterbox_array(rgb, size, self.tracker.letterbox)
            item = {"image": image, "frame": int(row.frame), "scale": scale, "offset": offset}
            yield detections(model, item, self.device)

    # ------------------------------------------------------------------ the experiment
    def windows_of(self, tracks: dict[str, pd.DataFrame]) -> dict[str, list]:
        return {video: windows(centres(rows), self.obs_len, self.pred_len, frame_step=self.frame_step)
                for video, rows in tracks.items()}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        model = None
        if self.detector == "tracker":
            from vadlib.runs.tracking import load_model
            model = load_model(self.tracker).to(self.device)
        train_tracks, test_tracks = self.track("train", model), self.track("test", model)
        train_windows = [w for ws in self.windows_of(train_tracks).values() for w in ws]
        if not train_windows:
            raise ValueError(f"no complete {self.obs_len + self.pred_len}-step trajectory in the "
                             f"training videos of {self.dataset} (frame step {self.frame_step})")
        predictor = SocialGAN(size=self.budget.model_size, obs_len=self.obs_len, pred_len=self.pred_len,
                              seed=self.seed).to(self.device)
        schedule = SocialGAN.schedule(self.budget.model_size)
        steps = self.budget.steps(schedule.epochs, max(1, math.ceil(len(train_windows) / schedule.batch_size)))
        batches = endless(data_loader(TrajectoryWindows(train_windows), schedule.batch_size, shuffle=True,
                                      seed=self.seed, collate_fn=collate_windows))
        history = train(predictor, predictor.training_loss, batches, schedule=schedule, total_steps=steps,
                        ctx=ctx, device=self.device, description=f"Social GAN {self.dataset}")
        predictor.eval()
        labels = {str(v): g.sort_values("frame") for v, g in self.frames("test").groupby("video")}
        scored, boxes, spans = {}, [], []
        for video, video_windows in self.windows_of(test_tracks).items():
            frames = labels[video]["frame"].to_numpy()
            errors = self.window_errors(predictor, video_windows)
            spans.append(errors.assign(video=video))
            per_frame = frame_scores(errors, frames)
            scored[video] = {"frames": frames.tolist(), "errors": [None if np.isnan(e) else float(e) for e in per_frame],
                             "labels": labels[video]["label"].astype(int).tolist()}
            worst = errors.groupby("id")["error"].max() if len(errors) else pd.Series(dtype=float)
            rows = test_tracks[video].assign(video=video)
            boxes.append(rows.assign(error=rows["id"].map(worst)))
        tracks = pd.concat(boxes, ignore_index=True) if boxes else pd.DataFrame()
        atomic_write_text(ctx.dir / TRACKS_FILE, tracks.to_csv(index=False, lineterminator="\n"))
        windows_table = pd.concat(spans, ignore_index=True) if spans else pd.DataFrame()
        atomic_write_text(ctx.dir / WINDOWS_FILE, windows_table.to_csv(index=False, lineterminator="\n"))
        return {"frame_errors": scored, "train_windows": len(train_windows),
                "test_windows": int(sum(len(w) for w in self.windows_of(test_tracks).values())),
                "train_tracks": int(sum(r["id"].nunique() for r in train_tracks.values() if len(r))),
                "test_tracks": int(sum(r["id"].nunique() for r in test_tracks.values() if len(r))),
                "train_steps": steps, "epochs": schedule.epochs, "batch_size": schedule.batch_size,
                "loss_first": history[0]["loss"] if history else None,
                "loss_last": history[-1]["loss"] if history else None,
                "frame_step": self.frame_step, "detector": self.detector,
                "wall_time_s": round(time.perf_counter() - started, 2)}

    def window_errors(self, predictor: SocialGAN, video_windows: list) -> pd.DataFrame:
        """One row per (window, person): id, the first and last predicted frame, ADE + FDE of one
        predicted sample (seeded) against what the person did."""
        rows = []
        generator_state = torch.get_rng_state()
        torch.manual_seed(self.seed)
        with torch.no_grad():
            for window in video_windows:
                batch = collate_windows([window])
                batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
                predicted = predictor.predict(batch, samples=1)[0].cpu()
                errors = trajectory_error(predicted, batch["future"].cpu())
                predicted_frames = window.frames[self.obs_len:]
                for person, error in zip(window.ids, errors):
                    rows.append((int(person), int(predicted_frames[0]), int(predicted_frames[-1]), float(error)))
        torch.set_rng_state(generator_state)
        return pd.DataFrame(rows, columns=["id", "first_frame", "last_frame", "error"])

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """Social GAN at this config's size: one training step on straight walkers."""
        predictor = SocialGAN(size=self.budget.model_size, obs_len=self.obs_len, pred_len=self.pred_len, seed=self.seed)
        steps = np.arange(self.obs_len + self.pred_len, dtype=float)
        fake = pd.DataFrame([(f, p, 10.0 * p + 3.0 * f, 50.0 + 5 * p, 10.0, 30.0)
                             for f in range(0, len(steps) * self.frame_step) for p in range(4)],
                            columns=["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"])
        walkers = windows(centres(fake), self.obs_len, self.pred_len, frame_step=self.frame_step)
        started = time.perf_counter()
        train(predictor, predictor.training_loss, endless(data_loader(TrajectoryWindows(walkers), 1,
                                                                      collate_fn=collate_windows)),
              schedule=SocialGAN.schedule(self.budget.model_size), total_steps=1, progress=False)
        return {"parameters": sum(p.numel() for p in predictor.parameters()),
                "step_time_s": round(time.perf_counter() - started, 3)}

    def dry_run_key(self) -> str:
        return f"social_gan/{self.budget.model_size}/{self.obs_len}+{self.pred_len}"

    def gpu_hours(self) -> float:
        """The thesis: ~2 h per dataset on an RTX 2080 Ti for 200 epochs (L3167), scaled by the
        epoch fraction; tracking every frame adds ~1 h per 30k frames at 1088×608."""
        tracking = {"avenue": 30652, "shanghaitech": 317398}[self.dataset] / 30000 if self.detector == "tracker" else 0
        return 2.0 * self.budget.epoch_fraction + tracking


def load_tracks(config: TrajectoryRun) -> pd.DataFrame:
    """The tracked boxes of ``config``'s test videos (running it first if not cached): MOTChallenge
    rows plus ``video`` and ``error`` (the person's largest window error, NaN if never scored)."""
    return cached_file(config, TRACKS_FILE, lambda path: pd.read_csv(path, dtype={"video": str}))


def load_windows(config: TrajectoryRun) -> pd.DataFrame:
    """One row per scored (test window, person) of ``config``: ``video, id, first_frame,
    last_frame`` (the predicted steps' span) and ``error`` (ADE + FDE)."""
    return cached_file(config, WINDOWS_FILE, lambda path: pd.read_csv(path, dtype={"video": str}))


def run_config(settings, dataset: str, tracker: TrackerRun | None = None) -> TrajectoryRun:
    """The temporal branch of ``dataset`` under a profile's settings: the oracle detector on the
    twins, ``tracker`` (Paper A's trained tracker, required) on real data."""
    data = DataSource.from_settings(settings)
    return TrajectoryRun(dataset=dataset, detector="oracle" if data.synthetic else "tracker",
                         tracker=None if data.synthetic else tracker,
                         frame_step=FRAME_STEP["synthetic" if data.synthetic else "real"],
                         budget=Budget.from_settings(settings), data=data, seed=settings.seed,
                         device=resolve_device(settings.device))
