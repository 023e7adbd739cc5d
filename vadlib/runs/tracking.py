"""How one run of Paper A's tracker trains, tracks and is evaluated: one cached experiment per
(attention variant, training data, evaluation data); test-split submission files for Table A.2
(= 2.1). Which runs fill which table is :mod:`vadlib.papers.a_tracker`; the figures of tracked
frames are :mod:`vadlib.plots.tracking`.

A run trains :class:`vadlib.models.hrnet_tracker.HRNetTracker` with :func:`vadlib.runs.train.train`,
then tracks every evaluation sequence frame by frame -- ``model.predict`` (heat-map peaks, boxes,
128-d embeddings) feeding :func:`vadlib.tracking.track_sequence` (JDE/FairMOT association) -- and
scores the MOTChallenge rows with :func:`vadlib.metrics.tracking.evaluate_mot` (TrackEval: MOTA,
MOTP, IDF1, IDs, HOTA, MT, ML). The trained weights stay in the run directory (``model.pt``) for
the test-split submission, the qualitative figures and the frame scrubber.

Data (``train_data`` / ``eval_data``):

* ``"mot17_half"`` / ``"mot17_half_val"``: the first / second half of every MOT17 training
  sequence (FairMOT's validation protocol; one detector copy, SDP, since the three copies share
  frames and ground truth), pedestrians only. The ablations (Tables A.3–A.5) were trained "on
  MOT17 only" (L1543) with no evaluation set stated: this half split is our choice.
* ``"jde_mixture"``: the JDE/FairMOT training mixture of Table A.1 -- ETH, CityPersons, Caltech,
  CUHK-SYSU, PRW (JDE list files) plus all of MOT17 (SDP copy) -- identities made unique over
  sources. ``"mot15_train"``: every MOT15 training sequence, the thesis's validation set (L1484).
  ``"mot15_fairmot_val"``: the 6-sequence subset of MOT15 train that JDE/FairMOT evaluate on
  (:data:`MOT15_FAIRMOT_VAL`); Table A.1 ("as also done in JDE", L1529) is scored on it.

No evaluation video may be in the training data: :meth:`TrackerRun.check_evaluation` (run before
training) refuses, with :func:`check_disjoint`, e.g. the JDE mixture (all of MOT17) against all 11
MOT15 sequences, since ETH-Pedcross2 is MOT16/17-05 (:data:`SAME_VIDEO`). The MOT17 half split is
disjoint by frames.

Loss: Eq. A.4/A.5's per-task uncertainty weighting (``weighting="per_task"``), FairMOT's two-term
weighting as the option ``"fairmot"``. Schedule: the thesis's per-model one (L1515), or another
model's (``schedule_from``) -- the Table A.5 explicit rows take the implicit/HRNet schedule so all
rows of an ablation table get the same optimiser budget.

Frames are letterboxed into ``input_size`` (H, W) as JDE and FairMOT do (``letterbox=False``
stretches them instead); boxes are mapped back to the original pixels before evaluation. Training
images get JDE's augmentation (random rotation, scaling, translation, shear, colour jitter and
flip: :class:`vadlib.data.jde_augment.JDEAugment`, ``augment=False`` turns it off), the thesis's
"rotation, scaling and color jittering ... similar to JDE" (L1515).

Dense connections (``dense=True``) are made at the highest resolution only
(``resolutions="highest"`` in :data:`vadlib.papers.a_tracker.DENSE`), as the ablation describes
them (L1561); consecutive ones at every resolution (L1424).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch

from vadlib.data import DataSource, mot
from vadlib.data.jde_augment import JDEAugment
from vadlib.data.mot import JDE_LIST_FILES, JDEMixture
from vadlib.metrics.tracking import evaluate_mot, write_mot
from vadlib.models.hrnet_tracker import HRNetTracker
from vadlib.profiles import resolve_device
from vadlib.runs import code
from vadlib.runs.experiment import Budget, Experiment, RunContext, cached_file, execute
from vadlib.runs.train import data_loader, endless, train
from vadlib.tracking import track_sequence as associate

INPUT_SIZE = {"paper": (608, 1088), "tiny": (96, 160)}  # (H, W); paper: FairMOT's default
MODEL_FILE = "model.pt"
EVAL_BENCHMARK = {"mot17_half_val": "MOT17", "mot15_train": "MOT15", "mot15_fairmot_val": "MOT15"}
#: FairMOT's "MOT15 val" (src/track.py, commit 7464c6c; data_manifests/mot15.yaml): the JDE/FairMOT
#: evaluation subset of MOT15 train, without the ETH, Venice and ADL-Rundle-8 videos
MOT15_FAIRMOT_VAL = ("KITTI-13", "KITTI-17", "ADL-Rundle-6", "PETS09-S2L1", "TUD-Campus", "TUD-Stadtmitte")
#: one video under two benchmark names -> the name used here. ETH-Pedcross2 (MOT15) and MOT16/17-05
#: are the same ETH clip: 837 frames, 640x480, 14 fps in both seqinfo files.
SAME_VIDEO = {"ETH-Pedcross2": "MOT17-05"}
TRAIN_DATA = ("mot17_half", "jde_mixture")
JDE_SOURCES = ("jde_eth", "jde_citypersons", "jde_caltech", "jde_cuhksysu", "jde_prw")
MOT17_COPY = "SDP"


@dataclass(frozen=True)
class TrackerRun(Experiment):
    """Train one variant of Paper A's tracker and evaluate it on ``eval_data``."""

    kind: ClassVar[str] = "tracking"

    attention: str = "none"  # none | implicit | explicit
    dense: bool = False
    gated: bool = True
    explicit_stage: int = 3
    resolutions: str = "all"  # implicit links at "all" resolutions or the "highest" only
    weighting: str = "per_task"  # per_task (Eq. A.4/A.5) | fairmot
    schedule_from: str = ""  # "": the thesis's schedule of this attention; else that attention's
    train_data: str = "mot17_half"
    eval_data: str = "mot17_half_val"
    input_size: tuple[int, int] = INPUT_SIZE["tiny"]
    letterbox: bool = True
    augment: bool = True
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def code_units(self) -> tuple[str, ...]:
        return ("run:tracking", "train", "model:tracker", "metrics:tracking") + \
            code.data_units(["mot17"], self.data.synthetic)

    # ------------------------------------------------------------------ data
    def _root(self, name: str) -> Path:
        return self.data.locate(name)

    def training_set(self):
        """(dataset of frames with globally unique identities, number of identities)."""
        if self.train_data not in TRAIN_DATA:
            raise ValueError(f"train_data must be one of {TRAIN_DATA}, got {self.train_data!r}")
        # JDE drops boxes under 4 px at 608 rows: the same fraction of this input's height
        augment = JDEAugment(min_size=max(1.0, 4.0 * self.input_size[0] / INPUT_SIZE["paper"][0])) \
            if self.augment else None
        mot17 = _mot17_frames(self._root("mot17"), "train", self.input_size,
                              half="train" if self.train_data == "mot17_half" else None,
                              letterbox=self.letterbox, augment=augment)
        if self.train_data == "mot17_half":
            return mot17, mot17.n_identities
        roots = {name: self._root(name) for name in JDE_SOURCES}
        parent = next(iter(roots.values())).parent
        mixture = JDEMixture(parent, {name: roots[name] / JDE_LIST_FILES[name][1] for name in JDE_SOURCES},
                             resize=self.input_size, letterbox=self.letterbox, transform=augment)
        offset = mixture.total_identities
        mot17.identity_offset = offset
        return torch.utils.data.ConcatDataset([mixture, mot17]), offset + mot17.n_identities

    def evaluation_sequences(self) -> tuple[Path, list[str], str | None]:
        """(dataset root, sequence names, half) of ``eval_data``."""
        if self.eval_data not in EVAL_BENCHMARK:
            raise ValueError(f"eval_data must be one of {tuple(EVAL_BENCHMARK)}, got {self.eval_data!r}")
        if self.eval_data in ("mot15_train", "mot15_fairmot_val"):
            root = self._root("mot15")
            available = list(mot.sequences(root, "train").sequence)
            if self.eval_data == "mot15_train":
                return root, available, None
            names = [name for name in MOT15_FAIRMOT_VAL if name in available]
            missing = [name for name in MOT15_FAIRMOT_VAL if name not in available]
            if not names or (missing and not self.data.synthetic):
                raise ValueError(f"MOT15 under {root} lacks {', '.join(missing)} of FairMOT's "
                                 f"validation subset {MOT15_FAIRMOT_VAL}")
            return root, names, None
        root = self._root("mot17")
        table = mot.sequences(root, "train")
        return root, list(table[table.detector == MOT17_COPY].sequence), "val"

    def training_videos(self) -> list[str]:
        """The videos the training data draw frames from: MOT17's (one name per video) and, for
        the JDE mixture, ``<source>/<folder>`` of every list file's sequence folder."""
        if self.train_data not in TRAIN_DATA:
            raise ValueError(f"train_data must be one of {TRAIN_DATA}, got {self.train_data!r}")
        table = mot.sequences(self._root("mot17"), "train")
        names = sorted(set(table.video))
        if self.train_data == "jde_mixture":
            for source in JDE_SOURCES:
                listed = self._root(source) / JDE_LIST_FILES[source][1]
                folders = {Path(line.strip()).parts[1] for line in listed.read_text().splitlines()
                           if len(Path(line.strip()).parts) > 2}
                names += sorted(f"{source}/{folder}" for folder in folders)
        return names

    def check_evaluation(self) -> list[str]:
        """The evaluation sequences, after :func:`check_disjoint` against the training videos
        (the MOT17 half split is disjoint by frames and is not checked)."""
        _, names, half = self.evaluation_sequences()
        if not (half == "val" and self.train_data == "mot17_half"):
            check_disjoint(self.training_videos(), names)
        return names

    def build_model(self, n_identities: int):
        return HRNetTracker(size=self.budget.model_size, attention=self.attention, dense=self.dense,
                            gated=self.gated, resolutions=self.resolutions, explicit_stage=self.explicit_stage,
                            n_identities=max(3, n_identities), weighting=self.weighting, seed=self.seed)

    def schedule(self):
        return HRNetTracker.schedule(self.budget.model_size, self.schedule_from or self.attention)

    def total_steps(self, n_train: int, batch_size: int, epochs: int) -> int:
        return self.budget.steps(epochs, math.ceil(n_train / batch_size))

    # ------------------------------------------------------------------ the experiment
    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        self.check_evaluation()
        train_set, n_identities = self.training_set()
        model = self.build_model(n_identities).to(self.device)
        schedule = self.schedule()
        steps = self.total_steps(len(train_set), schedule.batch_size, schedule.epochs)
        history = train(model, lambda batch: model.training_loss(_to(batch, self.device)),
                        endless(data_loader(train_set, schedule.batch_size, shuffle=True, seed=self.seed,
                                            collate_fn=_collate)),
                        schedule=schedule, total_steps=steps, ctx=ctx, device=self.device,
                        description=f"HRNet {self.variant_label()}")
        ctx.write_file(MODEL_FILE, lambda stream: torch.save(model.state_dict(), stream))
        model.eval()
        root, names, half = self.evaluation_sequences()
        tracks = {name: track_sequence(model, root, name, self.input_size, half, self.budget.eval_limit, self.device,
                                             letterbox=self.letterbox)
                  for name in names}
        scores = evaluate(root, tracks, half, EVAL_BENCHMARK[self.eval_data], self.budget.eval_limit)
        return {**scores, "n_identities": n_identities, "train_frames": len(train_set), "train_steps": steps,
                "loss_first": history[0]["loss"] if history else None,
                "loss_last": history[-1]["loss"] if history else None,
                "parameters": model.parameter_counts(), "schedule": schedule.source,
                "epochs": schedule.epochs, "batch_size": schedule.batch_size, "weighting": self.weighting,
                "eval_sequences": names,
                "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One training step and one tracked frame at this config's sizes on the smoke twins."""
        twin = replace(self, data=DataSource())
        twin.check_evaluation()
        train_set, n_identities = twin.training_set()
        model = twin.build_model(n_identities)
        started = time.perf_counter()
        train(model, model.training_loss, endless(data_loader(train_set, 1, shuffle=True, collate_fn=_collate)),
              schedule=self.schedule(), total_steps=1, progress=False)
        root, names, half = twin.evaluation_sequences()
        track_sequence(model.eval(), root, names[0], self.input_size, half, limit=1, device="cpu",
                       letterbox=self.letterbox)
        return {"parameters": model.parameter_counts()["network"],
                "step_time_s": round(time.perf_counter() - started, 3)}

    def dry_run_key(self) -> str:
        """One dry run per attention kind and training data: the dense, ungated and stage
        variants differ by a few gates, which the unit tests build at every setting."""
        return f"{self.attention}/{self.train_data}/{self.budget.model_size}/{self.input_size}"

    def gpu_hours(self) -> float:
        """From the thesis's own figure: ~60 h (implicit, 60 epochs, batch 16) / ~120 h (explicit,
        100 epochs, batch 8) on 2× 1080 Ti for the ~54k-image mixture (L1515), i.e. a GPU-time per
        step, times the steps this config runs (data size, epoch fraction, ``max_steps``)."""
        schedule, own = self.schedule(), HRNetTracker.schedule(self.budget.model_size, self.attention)
        images = 54000 if self.train_data == "jde_mixture" else 2650  # MOT17 half: 5,316 / 2 frames
        per_image = 2 * (120 if self.attention == "explicit" else 60) / (own.epochs * 54000)  # two GPUs
        return per_image * schedule.batch_size * self.total_steps(images, schedule.batch_size, schedule.epochs)

    def variant_label(self) -> str:
        if self.attention == "none":
            return "plain"
        if self.attention == "explicit":
            return f"explicit after stage {self.explicit_stage}"
        return ("dense" if self.dense else "consecutive") + ("" if self.gated else " ungated") + \
            (" (highest resolution)" if self.resolutions == "highest" else "")


# ------------------------------------------------------------------------------------ helpers
def _mot17_frames(root: Path, split: str, size, half: str | None, letterbox: bool = True, augment=None):
    """MOT17 frames of the SDP copies with identities numbered 0.. over (sequence, track), then
    ``augment`` (a transform of the item, or None)."""
    table = mot.sequences(root, split)
    names = list(table[table.detector == MOT17_COPY].sequence) or list(table.sequence)
    frames = mot.MOTFrames(root, split, names, resize=size, kind="gt", half=half, pedestrians_only=True,
                           letterbox=letterbox)
    boxes = mot.index(root, split, "gt", names)
    boxes = boxes[(boxes["conf"] != 0) & (boxes["class"] == 1)]
    keys = sorted(set(zip(boxes.sequence, boxes["id"].astype(int))))
    numbering = {key: i for i, key in enumerate(keys)}
    frames.n_identities = len(numbering)
    frames.identity_offset = 0

    def global_ids(item):
        ids = [numbering.get((item["sequence"], int(i)), -1) for i in item["ids"]]
        item["ids"] = torch.as_tensor([i + frames.identity_offset if i >= 0 else -1 for i in ids],
                                      dtype=torch.int64)
        return augment(item) if augment else item

    frames.transform = global_ids
    return frames


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"image": torch.stack([item["image"] for item in items]),
            "boxes": [item["boxes"] for item in items], "ids": [item["ids"] for item in items],
            "box_format": "tlwh"}


def _to(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {**batch, "image": batch["image"].to(device)}


def video_of(sequence: str) -> str:
    """The video a sequence name shows: MOT16/MOT17 names without the detector suffix as
    ``MOT17-NN``, :data:`SAME_VIDEO` aliases resolved, other names unchanged."""
    sequence = SAME_VIDEO.get(sequence, sequence)
    match = re.fullmatch(r"MOT1[67]-(\d+)(-(DPM|FRCNN|SDP))?", sequence)
    return f"MOT17-{match.group(1)}" if match else sequence


def check_disjoint(training: list[str], evaluation: list[str]) -> None:
    """Raise ``ValueError`` naming every evaluation sequence whose video (:func:`video_of`) is
    also a training video."""
    seen = {video_of(name) for name in training}
    overlap = [name for name in evaluation if video_of(name) in seen]
    if overlap:
        raise ValueError(f"evaluation sequences also in the training data: {', '.join(overlap)} "
                         f"(as {', '.join(video_of(n) for n in overlap)})")


def split_of(root: Path, sequence: str) -> str:
    """The split (``"train"`` or ``"test"``) holding ``sequence`` under ``root`` (either layout:
    ``train/<seq>`` or FairMOT's ``images/train/<seq>``)."""
    try:
        return "train" if sequence in set(mot.sequences(root, "train").sequence) else "test"
    except mot.DatasetError:
        return "test"


def detections(model, item: dict[str, Any], device: str = "cpu",
               conf_thres: float = 0.4) -> tuple[int, Any, Any, Any]:
    """``(frame, boxes, scores, embeddings)`` of ``model.predict`` on one :class:`MOTFrames` item:
    boxes as tlwh in the frame's original pixels (undoing the item's resize or letterbox)."""
    scale, offset = torch.tensor(item["scale"] * 2), torch.tensor(item["offset"] * 2)
    found = model.predict(item["image"][None].to(device), conf_thres=conf_thres)[0]
    boxes = (found["boxes"].cpu() - offset) / scale  # tlbr in original pixels
    tlwh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).numpy()
    return item["frame"], tlwh, found["scores"].cpu().numpy(), found["embeddings"].cpu().numpy()


def track_sequence(model, root: Path, sequence: str, size, half: str | None = None, limit: int | None = None,
                   device: str = "cpu", conf_thres: float = 0.4, letterbox: bool = True) -> pd.DataFrame:
    """MOTChallenge rows of ``model``'s detections associated by :func:`vadlib.tracking.track_sequence`
    on one sequence (frames letterboxed, or resized, to ``size``), in the sequence's original
    pixels, sorted by (frame, id); ``limit`` keeps the first frames only."""
    split = split_of(root, sequence)
    frames = mot.MOTFrames(root, split, [sequence], resize=size, kind=None, half=half, letterbox=letterbox)
    rate = int(mot.sequences(root, split).set_index("sequence").loc[sequence, "frameRate"])
    count = len(frames) if limit is None else min(limit, len(frames))
    found = (detections(model, frames[position], device, conf_thres) for position in range(count))
    return associate(found, frame_rate=rate, conf_thres=conf_thres)


def evaluated_frames(root: Path, sequence: str, half: str | None, limit: int | None) -> list[int]:
    """The frame numbers a run tracks and scores in ``sequence``: its half (or all), the first
    ``limit`` of them."""
    seq_length = int(mot.sequences(root, split_of(root, sequence)).set_index("sequence").loc[sequence, "seqLength"])
    frames = mot.half_split(seq_length)[1] if half == "val" else list(range(1, seq_length + 1))
    return frames if limit is None else frames[:limit]


def evaluate(root: Path, tracks: dict[str, pd.DataFrame], half: str | None, benchmark: str,
             limit: int | None = None) -> dict[str, Any]:
    """TrackEval metrics (ratios in %, counts as counts) of ``tracks`` against the ground truth of
    the frames that were tracked: COMBINED over sequences, plus each sequence's."""
    gts, preds, lengths = {}, {}, {}
    for sequence, pred in tracks.items():
        frames = evaluated_frames(root, sequence, half, limit)
        gt = mot.index(root, "train", "gt", [sequence])
        gt = gt[gt.frame.isin(frames)].copy()
        shift = frames[0] - 1  # TrackEval numbers frames 1..n
        gt["frame"] -= shift
        shifted = pred.assign(frame=pred.frame - shift)
        gts[sequence] = gt[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "class", "visibility"]]
        preds[sequence], lengths[sequence] = shifted, len(frames)
    table = evaluate_mot(gts, preds, benchmark, seq_lengths=lengths, percent=True)
    return {"metrics": {k: float(v) for k, v in table.loc["COMBINED"].items()},
            "per_sequence": {s: {k: float(v) for k, v in table.loc[s].items()} for s in tracks}}


def load_model(config: TrackerRun):
    """The trained model of ``config`` (running it first if not cached), in eval mode, on CPU."""
    def load(path: Path):
        model = config.build_model(execute(config)["n_identities"])
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    return cached_file(config, MODEL_FILE, load)


def write_submission(config: TrackerRun, benchmark: str, directory: Path) -> list[Path]:
    """MOTChallenge submission files of ``config``'s trained model on ``benchmark``'s test split
    (MOT16 or MOT17; MOT17 tracks one detector copy per video and writes the same rows under the
    three copies' names, as FairMOT does): ``directory/<sequence>.txt``. The numbers of Table A.2
    come from uploading these to motchallenge.net."""
    if benchmark not in ("MOT16", "MOT17"):
        raise ValueError(f"benchmark must be 'MOT16' or 'MOT17' (Table A.2), got {benchmark!r}")
    model = load_model(config)
    root = config._root(benchmark.lower())
    table = mot.sequences(root, "test")
    written = []
    for video, copies in table.groupby(table.video if "video" in table else table.sequence):
        rows = track_sequence(model, root, copies.sequence.iloc[0], config.input_size, None, None, "cpu",
                              letterbox=config.letterbox)
        for sequence in copies.sequence:
            written.append(write_mot(rows, Path(directory) / f"{sequence}.txt"))
    return written


def run_config(settings, options: dict[str, Any], train_data: str = "mot17_half",
               eval_data: str = "mot17_half_val") -> TrackerRun:
    """The run of model ``options`` (TrackerRun's attention fields) under a profile's settings."""
    return TrackerRun(**options, train_data=train_data, eval_data=eval_data,
                      input_size=INPUT_SIZE[settings.model_size], budget=Budget.from_settings(settings),
                      data=DataSource.from_settings(settings),
                      seed=settings.seed, device=resolve_device(settings.device))
