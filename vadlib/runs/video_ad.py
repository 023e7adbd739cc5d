"""How one frame-level video anomaly-detection run works: one cached experiment per (host, block,
placement, block options, dataset), the runs behind Tables C.1, C.3–C.5, D.2, D.5, D.6, D.8–D.12.

A run trains a video host (:mod:`vadlib.models.video_hosts`) on clips of the normal training
videos, with SSPCAB or SSMCTB at the host's placement and weighted by its λ, then scores every test
frame that ends a full window (the first ``window − 1`` frames of a video have no past and are not
scored, as FFP's evaluation drops them) and reports

* frame AUC, micro and macro (:func:`vadlib.metrics.frame_auc`; the macro average's policy for
  single-class videos is the dataset's :data:`MACRO_POLICY`: the thesis authors' padding on Avenue
  and ShanghaiTech, only the clips holding both classes on Thermal Rare Event, as its manifest
  states; the policy and the number of videos averaged are stored beside the number);
* RBDC and TBDC (:func:`vadlib.metrics.rbdc_tbdc`) when the dataset has track annotations
  (``vad_tracks``): the host's per-pixel error maps are binarised at the 99.9th percentile of the
  maps of normal training frames (our choice: the papers do not say how maps become regions),
  each connected component is a region scored by its maximum, boxes are scaled to the original
  frame size.

``eval_limit`` caps the scored frames per test video by evaluating every s-th frame, with s the
smallest stride that keeps at most that many, so a capped run still spans each whole video.

Which printed row is which run is the papers' business (:mod:`vadlib.papers.c_sspcab`,
:mod:`vadlib.papers.d_ssmctb`): they hand an :class:`AblationSpec` or a :class:`ComparisonSpec`
to :func:`ablation_table` / :func:`comparison_table`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd
import torch

from vadlib import metrics, reported
from vadlib.data import DatasetError, DataSource, avenue, shanghaitech, synthetic, thermal, vad_tracks
from vadlib.data import video as video_io
from vadlib.models.blocks import block_loss, default_options, make_block, place_block
from vadlib.models.registry import HostContext, create_host, host_class
from vadlib.models.schedule import Schedule
from vadlib.models.video_hosts import VideoHost
from vadlib.profiles import resolve_device
from vadlib.runs import code, timing
from vadlib.runs.experiment import Budget, Experiment, RunContext, cached_file, execute, run_experiments
from vadlib.runs.train import data_loader, endless, train

BLOCK_KINDS = (None, "sspcab", "ssmctb")
VIDEO_DATASETS = ("avenue", "shanghaitech", "thermal_rare_event")
FRAME_SIZE = {"paper": 256, "tiny": 64}  # FFP and MNAD resize frames to 256×256
MAP_QUANTILE = 0.999  # of normal training maps: the binarisation threshold for regions
#: dataset -> the macro-AUC policy for single-class videos (:data:`vadlib.metrics.SINGLE_CLASS_POLICIES`).
#: Thermal Rare Event: "skip", as data_manifests/thermal_rare_event.yaml (thesis_protocol) states:
#: its test clips are mostly event-free, and padding each with a (0 → normal, 1 → abnormal) pair
#: gives a random detector a macro AUC near 95 (the thesis prints 66.5 macro / 53.2 micro, T L2771-2793).
MACRO_POLICY = {"avenue": "pad", "shanghaitech": "pad", "thermal_rare_event": "skip"}


def _data_module(dataset: str):
    modules = {"avenue": avenue, "shanghaitech": shanghaitech, "thermal_rare_event": thermal}
    if dataset not in modules:
        raise ValueError(f"dataset must be one of {VIDEO_DATASETS}, got {dataset!r}")
    return modules[dataset]


@dataclass(frozen=True)
class VideoAnomalyRun(Experiment):
    """Train ``host`` (± ``block`` at ``position`` with ``block_options``) on ``dataset``, score it."""

    kind: ClassVar[str] = "video_ad"

    host: str
    block: str | None
    dataset: str
    position: str = "late"
    block_options: tuple[tuple[str, Any], ...] = ()  # constructor arguments of the block (ablations)
    host_options: tuple[tuple[str, Any], ...] = ()
    frame_size: int = 64
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def code_units(self) -> tuple[str, ...]:
        return ("run:video_ad", "train", f"host:{self.host}", "metrics:anomaly") + \
            (("blocks",) if self.block else ()) + code.data_units([self.dataset, "vad_tracks"], self.data.synthetic)

    # ------------------------------------------------------------------ building blocks
    def _root(self):
        return self.data.locate(self.dataset)

    @property
    def grayscale(self) -> bool:
        return self.dataset == "thermal_rare_event"

    @property
    def host_type(self) -> type[VideoHost]:
        """The registered video host class ``host`` names."""
        return host_class(self.host, kind="video")

    def context(self, **overrides) -> HostContext:
        """What this run tells its host: ``host_options`` (updated by ``overrides``) are the
        host's constructor options (:class:`vadlib.models.registry.HostContext`)."""
        return HostContext(size=self.budget.model_size, in_channels=1 if self.grayscale else 3, seed=self.seed,
                           dataset=self.dataset, options=tuple({**dict(self.host_options), **overrides}.items()))

    def build_host(self, **overrides) -> VideoHost:
        """The host built from :meth:`context`, with ``block`` at ``position``."""
        if self.block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {BLOCK_KINDS}, got {self.block!r}")
        host = create_host(self.host, self.context(**overrides), kind="video")
        if self.block:
            sites = host.sites_for(self.position)
            for i, site in enumerate(sites):
                # a tuple value gives one value per site, in the position's order (D.8's "all" row)
                options = {k: (v[i] if isinstance(v, tuple) else v) for k, v in self.block_options}
                place_block(host, site, lambda channels: make_block(self.block, channels, **options))
        return host

    def clips(self, root, split: str, window: int, step: int = 1):
        module = _data_module(self.dataset)
        return module.clips(root, split, length=window, step=step, resize=self.frame_size,
                            grayscale=self.grayscale)

    def schedule(self) -> Schedule:
        """The host's official schedule for this run (:meth:`VideoHost.schedule_for`: per dataset
        and variant where the host distinguishes them)."""
        return self.host_type.schedule_for(self.context())

    def total_steps(self, n_train: int, batch_size: int, epochs: int) -> int:
        """The official epochs × steps per epoch (a pass over the data, or the host's own
        ``steps_per_epoch`` when its schedule counts iterations), scaled and capped."""
        per_epoch = self.host_type.steps_per_epoch or math.ceil(n_train / batch_size)
        return self.budget.steps(epochs, per_epoch)

    # ------------------------------------------------------------------ the experiment
    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        root = self._root()
        host = self.build_host().to(self.device)
        schedule = self.schedule()
        train_set = self.clips(root, "train", host.window)
        loader = data_loader(train_set, schedule.batch_size, shuffle=True, seed=self.seed)
        steps = self.total_steps(len(train_set), schedule.batch_size, schedule.epochs)
        history = train(host, lambda batch: host.training_loss(batch["clip"].to(self.device)),
                        endless(loader), schedule=schedule, total_steps=steps,
                        block_weight=host.block_weight if self.block else 0.0, ctx=ctx, device=self.device,
                        description=f"{self.host} {self.block or ''} {self.dataset}")
        host.eval()
        threshold = normal_map_threshold(host, train_set, self.device, self.seed)
        host.prepare_test()  # MNAD: start the test videos from the trained memory
        scored, regions, examples = score_videos(host, self, root, self.device, threshold)
        maps = {f"maps/{v}": m for v, m in examples.items()}
        ctx.write_file(EXAMPLES_FILE, lambda stream: np.savez_compressed(stream, **maps))
        evaluation = evaluate(scored, regions, self.dataset, self.data)
        return {**evaluation, "train_steps": steps, "n_train_clips": len(train_set),
                "loss_first": history[0]["loss"] if history else None,
                "loss_last": history[-1]["loss"] if history else None,
                "map_threshold": threshold, "schedule": schedule.source,
                "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One training step and one scored clip at this config's sizes on the smoke twin."""
        root = synthetic.generate(self.dataset, size="smoke", seed=0)
        twin = replace(self, data=DataSource())
        note = None
        try:
            host = twin.build_host()
        except FileNotFoundError as missing:  # pretrained weights (FFP's RAFT) not on this machine:
            # check everything else with the same architecture, and say what the real run needs
            host = twin.build_host(flow="random")
            note = str(missing).splitlines()[0]
        schedule = twin.schedule()
        train_set = twin.clips(root, "train", host.window)
        started = time.perf_counter()
        train(host, lambda batch: host.training_loss(batch["clip"]),
              endless(data_loader(train_set, min(2, schedule.batch_size), shuffle=True)), schedule=schedule,
              total_steps=1, block_weight=host.block_weight if self.block else 0.0, progress=False)
        host.eval()
        batch = next(iter(data_loader(twin.clips(root, "test", host.window), 2)))
        host.frame_evidence(batch["clip"])
        return {"parameters": sum(p.numel() for p in host.parameters()),
                "step_time_s": round(time.perf_counter() - started, 3), **({"note": note} if note else {})}

    def dry_run_key(self) -> str:
        """One dry run per host, block, placement and size: the ablations' block options change
        the block's arithmetic, not what the host must fit (every ablation row is built by the
        tests)."""
        return f"{self.host}/{self.block}/{self.position}/{self.host_options}/" \
               f"{self.budget.model_size}/{self.frame_size}/{self.dataset == 'thermal_rare_event'}"

    def gpu_hours(self) -> float:
        """Rough: the official number of steps at ~0.1 s per step on one modern GPU."""
        schedule = self.schedule()
        n_train = {"avenue": 15328, "shanghaitech": 274515, "thermal_rare_event": 20000}[self.dataset]
        per_epoch = self.host_type.steps_per_epoch or math.ceil(n_train / schedule.batch_size)
        steps = schedule.epochs * self.budget.epoch_fraction * per_epoch
        if self.budget.max_steps:
            steps = min(steps, self.budget.max_steps)
        return steps * 0.1 / 3600


EXAMPLES_FILE = "examples.npz"


def _read_example_maps(path) -> dict[str, np.ndarray]:
    with np.load(path) as stored:
        return {k.split("/", 1)[1]: stored[k] for k in stored.files}


def load_example_maps(config: VideoAnomalyRun) -> dict[str, np.ndarray]:
    """video -> (frames, h, w) error maps the run kept (running it first if not cached); the
    frames are those of the run's ``frame_scores[video]["frames"]``."""
    return cached_file(config, EXAMPLES_FILE, _read_example_maps)


def normal_map_threshold(host, train_set, device: str, seed: int, clips: int = 64) -> float:
    """The :data:`MAP_QUANTILE` quantile of the host's error maps on up to ``clips`` normal
    training clips: above it a pixel is unusual for normal video."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(train_set))[:clips].tolist()
    values = []
    with torch.no_grad():
        for batch in data_loader(torch.utils.data.Subset(train_set, chosen), 8):
            _, maps = host.frame_evidence(batch["clip"].to(device))
            values.append(maps.float().cpu().numpy().ravel())
    return float(np.quantile(np.concatenate(values), MAP_QUANTILE))


EXAMPLE_VIDEOS = 2  # test videos with an anomaly whose maps a run keeps for the explorer
EXAMPLE_MAP_SIZE = 64  # side of the kept maps (float16)


def score_videos(host, config: VideoAnomalyRun, root, device: str, threshold: float | None = None):
    """Score every test video, one clip per scored frame, aligned on each clip's last frame.

    Returns ``(scored, regions, examples)``: ``scored[video]`` holds the scored frame numbers,
    labels and frame scores in frame order; ``regions`` the scored regions of all videos
    (:func:`vadlib.metrics.regions_from_maps` at ``threshold``, boxes in original pixels; empty
    when ``threshold`` is None); ``examples[video]`` the error maps (downsampled to
    :data:`EXAMPLE_MAP_SIZE`) of the first :data:`EXAMPLE_VIDEOS` videos with an anomaly. Maps are
    turned into regions as each video finishes, so memory holds one video's maps at a time.
    """
    test_set = config.clips(root, "test", host.window)
    keep = strided_positions(test_set.windows, config.budget.eval_limit)
    subset = torch.utils.data.Subset(test_set, keep.tolist())
    scored: dict[str, dict[str, Any]] = {}
    regions: list[pd.DataFrame] = []
    examples: dict[str, np.ndarray] = {}
    current: dict[str, Any] | None = None

    def finish(entry):
        order = np.argsort(entry["frames"], kind="stable")
        frames, labels = np.asarray(entry["frames"])[order], np.asarray(entry["labels"])[order]
        parts = {k: np.asarray(v)[order] for k, v in entry["parts"].items()}
        maps = np.stack(entry["maps"])[order]
        video = entry["video"]
        scored[video] = {"frames": frames, "labels": labels, "scores": host.video_scores(parts)}
        if threshold is not None:
            regions.append(map_regions(video, maps, frames, threshold, _frame_shape(test_set, video)))
        if labels.any() and len(examples) < EXAMPLE_VIDEOS:
            examples[video] = _shrink(maps)

    # a host that updates its state while testing (MNAD's memory) sees the frames one at a time,
    # as its official evaluation does
    batch_size = 1 if host.updates_at_test else 8
    with torch.no_grad():
        for batch in data_loader(subset, batch_size):
            parts, maps = host.frame_evidence(batch["clip"].to(device))
            for i, video in enumerate(batch["video"]):
                if current is None or current["video"] != video:
                    if current is not None:
                        finish(current)
                    current = {"video": video, "frames": [], "labels": [], "maps": [], "parts": {}}
                current["frames"].append(int(batch["frames"][i, -1]))
                current["labels"].append(int(batch["labels"][i, -1]))
                current["maps"].append(maps[i].float().cpu().numpy())
                for name, values in parts.items():
                    current["parts"].setdefault(name, []).append(float(values[i]))
    if current is not None:
        finish(current)
    unscored = sorted(set(test_set.frames.video) - set(scored))
    if unscored:
        warnings.warn(f"{config.dataset}: test videos {', '.join(map(str, unscored))} are shorter than "
                      f"{config.host}'s window of {host.window} frames and are not scored", stacklevel=2)
    columns = ["video", "frame", "x1", "y1", "x2", "y2", "score"]
    found = [r for r in regions if len(r)]
    return scored, (pd.concat(found, ignore_index=True)[columns] if found else pd.DataFrame(columns=columns)), examples


def map_regions(video: str, maps: np.ndarray, frames: np.ndarray, threshold: float,
             frame_shape: tuple[int, int]) -> pd.DataFrame:
    """Connected regions of one video's maps above ``threshold``, in original frame pixels."""
    found = metrics.regions_from_maps({video: maps.astype(np.float32)}, threshold)
    if len(found):
        height, width = frame_shape
        sy, sx = height / maps.shape[1], width / maps.shape[2]
        found["frame"] = frames[found["frame"].to_numpy()]
        # map pixel j covers original pixels [j·s, (j+1)·s): inclusive corners floor / ceil − 1
        found["x1"], found["y1"] = np.floor(found.x1 * sx), np.floor(found.y1 * sy)
        found["x2"] = np.minimum(np.ceil((found.x2 + 1) * sx) - 1, width - 1)
        found["y2"] = np.minimum(np.ceil((found.y2 + 1) * sy) - 1, height - 1)
    return found


def _shrink(maps: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(maps.astype(np.float32))[:, None]
    if max(maps.shape[1:]) > EXAMPLE_MAP_SIZE:
        tensor = torch.nn.functional.adaptive_avg_pool2d(tensor, EXAMPLE_MAP_SIZE)
    return tensor[:, 0].numpy().astype(np.float16)


def strided_positions(windows: pd.DataFrame, limit: int | None) -> np.ndarray:
    positions = []
    for _, group in windows.groupby("video", sort=True):
        stride = 1 if limit is None else max(1, math.ceil(len(group) / limit))
        positions.append(group.index.to_numpy()[::stride])
    return np.concatenate(positions)


def _frame_shape(test_set, video: str) -> tuple[int, int]:
    """(height, width) of the original frames of ``video`` (for scaling boxes back)."""
    path = test_set.frames.loc[test_set.frames.video == video, "path"].iloc[0]
    frame = video_io.read_video_frames(path, 0, 1)[0] if video_io.is_video_file(path) else video_io.read_image(path)
    return int(frame.shape[0]), int(frame.shape[1])


def evaluate(scored: dict[str, dict[str, Any]], regions: pd.DataFrame, dataset: str,
             data: DataSource = DataSource()) -> dict[str, Any]:
    """Micro/macro frame AUC, and RBDC/TBDC where track annotations exist."""
    scores = {v: s["scores"] for v, s in scored.items()}
    labels = {v: s["labels"] for v, s in scored.items()}
    policy = MACRO_POLICY.get(dataset, "pad")
    per_video = metrics.per_video_auc(scores, labels, single_class=policy)
    result: dict[str, Any] = {
        "auc_micro": metrics.frame_auc(scores, labels, "micro") if _two_classes(labels) else None,
        "auc_macro": float(np.mean(list(per_video.values()))) if per_video else None,
        "macro_policy": policy, "macro_videos": len(per_video),
        "rbdc": None, "tbdc": None, "n_frames": int(sum(len(v) for v in labels.values())),
        "n_abnormal": int(sum(v.sum() for v in labels.values())),
        "frame_scores": {v: {"frames": s["frames"].tolist(), "scores": [float(x) for x in s["scores"]],
                             "labels": s["labels"].tolist()} for v, s in scored.items()}}
    gt = _tracks(dataset, data)
    if gt is not None:
        gt = gt.astype({"video": str})
        check_tracks_against_labels(gt, scored)
        scored_frames = pd.concat([pd.DataFrame({"video": v, "frame": s["frames"]}) for v, s in scored.items()])
        gt = gt.merge(scored_frames.astype({"video": str}), on=["video", "frame"])
        if len(gt):  # false positives per scored frame
            result["rbdc"], result["tbdc"] = metrics.rbdc_tbdc(regions, gt, result["n_frames"])
    return result


def check_tracks_against_labels(gt: pd.DataFrame, scored: dict[str, dict[str, Any]], tolerance: float = 0.9) -> None:
    """Warn when the track annotations do not line up with the frame labels: track videos that
    are not test videos, or fewer than ``tolerance`` of the track regions on scored frames
    falling on frames labelled abnormal (naming the share a one-frame shift would fix, the
    usual cause: 0- vs 1-based frame ids)."""
    unknown = sorted(set(gt.video) - set(map(str, scored)))
    if unknown:
        warnings.warn(f"track files for videos that are not scored test videos: {', '.join(unknown[:10])}", stacklevel=3)
    labelled = {str(v): dict(zip(s["frames"].tolist(), s["labels"].tolist())) for v, s in scored.items()}

    def share(shift: int) -> tuple[int, float]:
        hits = [labelled[v].get(f + shift) for v, f in zip(gt.video, gt.frame) if v in labelled]
        hits = [h for h in hits if h is not None]
        return len(hits), (sum(hits) / len(hits) if hits else 1.0)

    n, agree = share(0)
    if n and agree < tolerance:
        best = max((-1, 1), key=lambda k: share(k)[1])
        warnings.warn(f"only {100 * agree:.0f} % of {n} track regions on scored frames fall on frames labelled "
                      f"abnormal; shifted by {best:+d} frame it would be {100 * share(best)[1]:.0f} % -- check the "
                      f"frame numbering of the track files", stacklevel=3)


def _two_classes(labels: dict[str, np.ndarray]) -> bool:
    joined = np.concatenate(list(labels.values()))
    return 0 < joined.sum() < len(joined)


def _tracks(dataset: str, data: DataSource):
    """RBDC/TBDC ground truth of Avenue / ShanghaiTech from ``vad_tracks``; None if absent."""
    if dataset not in ("avenue", "shanghaitech"):
        return None
    try:
        root = data.locate("vad_tracks")
        return vad_tracks.tracks(root, dataset)
    except DatasetError:
        return None


# ------------------------------------------------------------------ runs of a profile, tables
METRIC_COLUMNS = {"AUC Micro": "auc_micro", "AUC Macro": "auc_macro", "RBDC": "rbdc", "TBDC": "tbdc",
                  "Micro AUC": "auc_micro", "Macro AUC": "auc_macro"}


@dataclass(frozen=True)
class Variant:
    """The block part of a run: which block, where, with which constructor arguments; and the
    host options a table's row sets beside it (``host_options``: Table D.5's HF2-VAD rows with a
    block take Paper D's λ, ``(("paper", "D"),)``)."""

    block: str | None = None
    position: str = "late"
    options: tuple[tuple[str, Any], ...] = ()
    host_options: tuple[tuple[str, Any], ...] = ()


BASELINE = Variant()


def _without_defaults(block: str | None, options: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """Drop the options equal to the block's defaults, so that a row spelling out the default
    (Table C.1's CA r = 8 row) and one leaving it implicit (C.4's "Late") are the same cached run."""
    if not block:
        return ()
    defaults = default_options(block)
    return tuple(sorted((k, v) for k, v in options if k not in defaults or defaults[k] != v))


# Host settings the official code sets per dataset: FFP's Avenue intensity-loss weight
# (hyper_params.ini [avenue] LAM_LP = 0.001, behind its 85.1 baseline; 1 elsewhere).
DATASET_HOST_OPTIONS = {("ffp", "avenue"): (("lam_int", 0.001),)}


def variant_run(host: str, dataset: str, variant: Variant = BASELINE, **fields) -> VideoAnomalyRun:
    """The run of ``host`` with ``variant``'s block on ``dataset``; ``fields``: the rest of its config."""
    return VideoAnomalyRun(host=host, block=variant.block, dataset=dataset, position=variant.position,
                           host_options=DATASET_HOST_OPTIONS.get((host, dataset), ()) + variant.host_options,
                           block_options=_without_defaults(variant.block, variant.options), **fields)


def run_config(settings, host: str, dataset: str, variant: Variant = BASELINE) -> VideoAnomalyRun:
    """:func:`variant_run` under a profile's settings."""
    return variant_run(host, dataset, variant, frame_size=FRAME_SIZE[settings.model_size],
                       budget=Budget.from_settings(settings), data=DataSource.from_settings(settings),
                       seed=settings.seed, device=resolve_device(settings.device))


def _percent(value):
    return None if value is None else 100 * value


@dataclass(frozen=True)
class AblationSpec:
    """An ablation table: every printed row is one variant of ``host`` on ``dataset``."""

    table_id: str
    host: str
    dataset: str
    variant_of: Callable[[pd.Series], Variant | None]  # printed row -> its Variant (None: cannot be run)


def ablation_rows(settings, spec: AblationSpec) -> list[tuple[pd.Series, VideoAnomalyRun | None]]:
    """(printed row, its run or None), for the first ``ablation_limit`` printed rows."""
    printed = reported.load_table(spec.table_id)
    limit = settings.ablation_limit or len(printed)
    out = []
    for _, row in printed.head(limit).iterrows():
        variant = spec.variant_of(row)
        out.append((row, None if variant is None else run_config(settings, spec.host, spec.dataset, variant)))
    return out


def ablation_runs(settings, spec: AblationSpec) -> list[VideoAnomalyRun]:
    """The distinct runs of ``spec``'s rows, in printed order."""
    return list(dict.fromkeys(run for _, run in ablation_rows(settings, spec) if run))


def ablation_table(settings, spec: AblationSpec) -> pd.DataFrame:
    """Reproduced rows of an ablation table (in %), keyed by the printed table's label columns;
    rows beyond ``ablation_limit`` or that cannot be run are left out (shown as not run)."""
    printed = reported.load_table(spec.table_id)
    keys = reported.info(spec.table_id)["key_columns"]
    metric_columns = [c for c in printed.columns if c in METRIC_COLUMNS]
    pairs = [(row, run) for row, run in ablation_rows(settings, spec) if run is not None]
    results = dict(zip([run for _, run in pairs], run_experiments(list(dict.fromkeys(r for _, r in pairs)))))
    rows = []
    for row, run in pairs:
        result = results[run]
        rows.append({**{k: row[k] for k in keys},
                     **{c: _percent(result[METRIC_COLUMNS[c]]) for c in metric_columns}})
    return pd.DataFrame(rows, columns=keys + metric_columns)


@dataclass(frozen=True)
class ComparisonSpec:
    """A method-comparison table: the printed rows vadlib runs, and its groups of dataset columns."""

    table_id: str
    rows: tuple[tuple[str, str, Variant], ...]  # (printed label, host, variant)
    datasets: tuple[tuple[str, str], ...]  # (dataset, prefix of its printed columns, e.g. "Avenue ")
    #: hosts run on the first dataset only under a profile that limits its ablations (smoke): the
    #: object-centric and ViT hosts, slow on a CPU, are checked there on one dataset
    limited_hosts: tuple[str, ...] = ()

    def datasets_of(self, settings, host: str) -> tuple[tuple[str, str], ...]:
        """The (dataset, prefix) pairs ``host``'s rows run on under ``settings``."""
        if settings.ablation_limit is not None and host in self.limited_hosts:
            return self.datasets[:1]
        return self.datasets


def comparison_runs(settings, spec: ComparisonSpec) -> list[VideoAnomalyRun]:
    """The distinct runs of ``spec``: each row on each dataset, in printed order."""
    return list(dict.fromkeys(row_run(settings, host, dataset, variant)
                              for _, host, variant in spec.rows for dataset, _ in spec.datasets_of(settings, host)))


def row_run(settings, host: str, dataset: str, variant: Variant = BASELINE):
    """The run of one table row: a frame-level host's :class:`VideoAnomalyRun`, an object-centric
    host's :class:`vadlib.runs.object_vad.ObjectVideoRun` (same result keys)."""
    if host_class(host).kind == "object":
        from vadlib.runs import object_vad  # it builds on this module
        return object_vad.run_config(settings, host, dataset, variant)
    return run_config(settings, host, dataset, variant)


def comparison_table(settings, spec: ComparisonSpec) -> pd.DataFrame:
    """Reproduced rows (in %) of the hosts vadlib has in a method-comparison table (C.3, D.5,
    D.6); the other methods' rows stay reported-only (marked not run)."""
    printed = reported.load_table(spec.table_id)
    runs = comparison_runs(settings, spec)
    results = dict(zip(runs, run_experiments(runs)))
    printed_rows = printed.set_index("Method")
    rows = []
    for label, host, variant in spec.rows:
        row = {"Method": label}
        for dataset, prefix in spec.datasets_of(settings, host):
            result = results[row_run(settings, host, dataset, variant)]
            for column, key in (("AUC Micro", "auc_micro"), ("AUC Macro", "auc_macro"), ("RBDC", "rbdc"),
                                ("TBDC", "tbdc")):
                name = prefix + column
                # only where the thesis prints a number: MNAD has no RBDC/TBDC there (no localization)
                if name in printed.columns and pd.notna(printed_rows.loc[label, name]):
                    row[name] = _percent(result[key])
        rows.append(row)
    return pd.DataFrame(rows)


def macro_policies(settings, spec: ComparisonSpec) -> pd.DataFrame:
    """Beside every reproduced macro-AUC cell of ``spec`` (in %): the single-class policy it was
    computed with (:data:`MACRO_POLICY`) and how many test videos its mean is over."""
    runs = comparison_runs(settings, spec)
    results = dict(zip(runs, run_experiments(runs)))
    rows = []
    for label, host, variant in spec.rows:
        for dataset, prefix in spec.datasets_of(settings, host):
            result = results[row_run(settings, host, dataset, variant)]
            rows.append({"Method": label, "Column": prefix + "AUC Macro", "reproduced": _percent(result["auc_macro"]),
                         "single-class policy": result["macro_policy"], "videos averaged": result["macro_videos"],
                         "test videos": len(result["frame_scores"])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ what the figures show
def frame_scores(settings, host: str, dataset: str, variants: dict[str, Variant]) -> dict[str, dict]:
    """label -> the run's ``frame_scores`` (video -> frames, scores, labels) for each variant."""
    return {label: execute(run_config(settings, host, dataset, variant))["frame_scores"]
            for label, variant in variants.items()}


def example_maps(settings, host: str, dataset: str, variants: dict[str, Variant]) -> dict[str, dict]:
    """label -> the error maps each variant's run kept (video -> (frames, h, w))."""
    return {label: load_example_maps(run_config(settings, host, dataset, variant))
            for label, variant in variants.items()}


def frame_reader(settings, dataset: str) -> Callable[[str, int], np.ndarray]:
    """``read(video, frame)``: an original test frame of ``dataset``, from the data the profile's
    runs use."""
    frames = _data_module(dataset).index(DataSource.from_settings(settings).locate(dataset), "test")
    paths = frames.set_index(["video", "frame"]).path

    def read(video: str, number: int) -> np.ndarray:
        path = paths[(video, number)]
        if video_io.is_video_file(path):
            return video_io.read_video_frames(path, number, 1)[0]
        return video_io.read_image(path)

    return read


# ------------------------------------------------------------------ speed (Tables C.6, D.7)
def speed(model_size: str, device: str, host: str, variants: dict[str, Variant], batch_size: int = 4,
          repeats: int = 5, dataset: str = "avenue") -> pd.DataFrame:
    """Training and test speed of ``host`` with each block variant at ``model_size``, on ``device``.

    Per variant: ms per training example (host loss + λ · block loss, backward, Adam step) and ms
    per test example, both timed in alternation across the variants (:mod:`vadlib.runs.timing`) on
    random inputs at the model size. An example is a clip scored for its last frame
    (``frame_evidence``) for a frame-level host, and one detected object
    (``object_scores``) for an object-centric host, whose frame costs its objects' times (plus
    detection and flow, not timed here). Relative expansions over the variant without a block
    follow. Table C.6 / D.7 report the test side, per example, on an RTX 3090.
    """
    kind = host_class(host).kind
    built, steps, tests = {}, {}, {}
    for label, variant in variants.items():
        if kind == "object":
            from vadlib.runs import object_vad  # it builds on this module
            config = object_vad.variant_run(host, dataset, variant, budget=Budget(model_size=model_size), device=device)
        else:
            config = variant_run(host, dataset, variant, frame_size=FRAME_SIZE[model_size],
                                 budget=Budget(model_size=model_size), device=device)
        built[label] = config.build_host().to(device)
    model = next(iter(built.values()))
    generator = torch.Generator().manual_seed(0)
    channels = 1 if dataset == "thermal_rare_event" else 3
    if kind == "object":
        side = model.side
        inputs = torch.rand((batch_size, model.window, channels, side, side), generator=generator).to(device)
        flow = torch.randn((batch_size, model.window - 1, 2, side, side), generator=generator).to(device)
        boxes = torch.tensor([[0.0, 0.0, side - 1.0, side - 1.0]] * batch_size, device=device)

        def as_batch(x, model):
            return {"appearance": x, "boxes": boxes, **({"flow": flow} if model.needs_flow else {})}
    else:
        size = FRAME_SIZE[model_size]
        inputs = torch.rand((batch_size, model.window, channels, size, size), generator=generator).to(device)

        def as_batch(x, model):
            return x
    for label, variant in variants.items():
        model = built[label]
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
        if kind == "object":
            model.calibrate([as_batch(inputs, model)])

        def step(x, model=model, optimizer=optimizer, weight=model.block_weight if variant.block else 0.0):
            loss, _ = model.training_loss(as_batch(x, model))
            optimizer.zero_grad()
            (loss + weight * block_loss(model)).backward()
            optimizer.step()

        steps[label] = step
        tests[label] = (lambda x, model=model: model.object_scores(as_batch(x, model))) if kind == "object" \
            else (lambda x, model=model: model.frame_evidence(x))
    for model in built.values():
        model.train()
    train_ms = timing.ms_per_example_round_robin(steps, inputs, repeats=repeats, grad=True)
    for model in built.values():
        model.eval()
    test_ms = timing.ms_per_example_round_robin(tests, inputs, repeats=repeats)
    base = next((label for label, v in variants.items() if v.block is None), None)
    unit = "object" if kind == "object" else "frame"
    return pd.DataFrame([{
        "Host": host_class(host).label, "Variant": label, "train ms per example": train_ms[label],
        "train examples/s": 1000 / train_ms[label], "test ms per example": test_ms[label],
        "test examples/s": 1000 / test_ms[label], "example": unit,
        "test relative expansion (%)": None if base is None or label == base
        else timing.relative_expansion(test_ms[label], test_ms[base])} for label in variants])


def measured_speed(settings, host: str, variants: dict[str, Variant]) -> pd.DataFrame:
    """:func:`speed` at the profile's model size on its device, measured once and cached
    (measurement ``video_speed`` of :mod:`vadlib.runs.timing`), so reruns reproduce the same tables."""
    return pd.DataFrame(execute(speed_measurement(settings, host, variants))["rows"])


def speed_measurement(settings, host: str, variants: dict[str, Variant]) -> timing.Measurement:
    """The cached measurement behind :func:`measured_speed`."""
    return timing.measurement("video_speed", units=("blocks", "run:video_ad", f"host:{host}"),
                              model_size=settings.model_size, device=resolve_device(settings.device), host=host,
                              variants={label: [v.block, v.position, [list(o) for o in v.options]]
                                        for label, v in variants.items()})


def measure_speed(model_size: str, device: str, host: str, variants: dict[str, list]) -> pd.DataFrame:
    """The ``video_speed`` measurement: :func:`speed` of variants given as JSON lists
    ``[block, position, options]`` (how :func:`measured_speed` stores them in the cache key)."""
    return speed(model_size, device, host, {label: Variant(block, position, tuple(tuple(o) for o in options))
                                            for label, (block, position, options) in variants.items()})
