"""How one object-centric video anomaly-detection run works: one cached experiment per (object
host, block, placement, block options, dataset, detector), the object-centric rows of Tables C.3,
D.5 and D.6 (HF2-VAD, Georgescu et al.'s background-agnostic framework, SSMTL++), and SSMTL on UCSD
Ped2 (notebook 04's extra check of seed 003).

A run

1. detects the objects of the frames of the normal training videos and of the test frames it
   scores (:mod:`vadlib.models.object_pipeline`: a COCO Faster R-CNN on real data; the twins'
   rendered objects, ``detector="oracle"``, on the synthetic twins), keeping the detections in
   the run directory (``detections.csv``: a resumed run does not detect again);
2. builds object cubes -- the appearance crops of each object's box in the ``window`` frames
   centred on its frame (ending at its frame for a host with ``score_anchor = "last"``: HF2-VAD)
   and, for hosts with ``needs_flow``, the optical flow inside the box --
   and trains the host (:mod:`vadlib.models.object_hosts`) on the training objects with
   SSPCAB/SSMCTB at the host's placement, weighted by its λ (Eq. C.3), through
   :func:`vadlib.runs.train.train`; then hands the host its training objects once
   (:meth:`~vadlib.models.object_hosts.ObjectHost.calibrate`: training statistics);
3. scores every test object; a frame's score is the maximum of its objects' scores (HF2-VAD's
   ``eval.py``; Georgescu et al., CVPR 2021, seed 003 L143: the maximum of the map the object
   scores are reassembled into); a frame without any object gets the smallest object score of
   the test set (as normal as the most normal object; our choice, the papers are silent); then
   each video's frame scores go through the host's temporal filter
   (:attr:`~vadlib.models.object_hosts.ObjectHost.frame_filter`: a Gaussian for Georgescu et al.,
   seed 003 L143, whose σ is not given -- 3 frames by default, our choice; HF2-VAD: median, 17);
4. reports frame AUC micro/macro with :data:`vadlib.runs.video_ad.MACRO_POLICY`, and RBDC/TBDC
   (:func:`vadlib.runs.video_ad.evaluate`) when ``vad_tracks`` exists, with every test object's box
   a region scored by its (unfiltered) object score -- the papers' object boxes, without the pixel
   map and 3D mean filter of seed 003 L143 (our simplification).

Scored frames: a frame whose window of frames does not fit inside its video (the first and last
``(window − 1) / 2`` frames; the first ``window − 1`` frames for a host anchored on the last frame
of its cube) has no cube and is not scored, as FFP's and HF2-VAD's evaluations drop the frames
without a full window (HF2-VAD's official evaluation: the first 4 frames of each video).
``eval_limit`` caps the scored frames per test video by taking
every s-th frame, s the smallest stride keeping at most that many (as
:mod:`vadlib.runs.video_ad`); the temporal filter's size is divided by s. When the budget caps the
training steps (``max_steps``), the training frames are taken every s-th frame too, s the smallest
stride keeping at most ``max_steps × batch size`` frames (a capped run never looks at more objects
than it can train on, and the detector is not run on frames nobody uses).

Flow (``flow``): "raft" (torchvision RAFT-small, pretrained weights from the torch hub cache, as
FFP), "random" (the frozen random RAFT-small stand-in of smoke runs); None: "raft" at model size
"paper", "random" at "tiny" (FFP's rule). Only hosts with ``needs_flow`` use it.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from vadlib.data import DataSource, avenue, shanghaitech, synthetic, ucsd_ped2
from vadlib.models import object_pipeline as pipeline
from vadlib.models.blocks import make_block, replace_layer
from vadlib.models.ffp import FLOW_UPDATES, load_flow_network
from vadlib.models.object_hosts import ObjectHost
from vadlib.models.registry import HostContext, create_host, host_class
from vadlib.models.schedule import Schedule
from vadlib.profiles import resolve_device
from vadlib.runs import code
from vadlib.runs.experiment import Budget, Experiment, RunContext, cached_file
from vadlib.runs.train import data_loader, endless, train
from vadlib.runs.video_ad import (
    BASELINE,
    Variant,
    _without_defaults,
    evaluate,
    strided_positions,
)

BLOCK_KINDS = (None, "sspcab", "ssmctb")
OBJECT_DATASETS = ("avenue", "shanghaitech", "ucsd_ped2")
DETECTOR_KINDS = ("oracle",) + tuple(pipeline.DETECTORS)
FLOW_KINDS = ("raft", "random")
DETECTIONS_FILE = "detections.csv"
OBJECT_SCORES_FILE = "object_scores.csv"
SCORE_BATCH = 64
#: decoded frames and flow fields kept in memory per split (shared by its videos): ~0.4 GB of
#: Avenue frames, ~0.9 GB of its flows
FRAME_CACHE, FLOW_CACHE = 512, 256
#: frames of the training / test videos (official releases), for :meth:`ObjectVideoRun.gpu_hours`
FRAMES = {"avenue": (15328, 15324), "shanghaitech": (274515, 40791), "ucsd_ped2": (2550, 2010)}
#: test videos per dataset (official releases)
TEST_VIDEOS = {"avenue": 21, "shanghaitech": 107, "ucsd_ped2": 12}
#: objects per frame assumed by gpu_hours: seed 003 L380 ("an average of 5 objects per frame")
OBJECTS_PER_FRAME = 5


def _data_module(dataset: str):
    modules = {"avenue": avenue, "shanghaitech": shanghaitech, "ucsd_ped2": ucsd_ped2}
    if dataset not in modules:
        raise ValueError(f"dataset must be one of {OBJECT_DATASETS}, got {dataset!r}")
    return modules[dataset]


class ObjectCubes(torch.utils.data.Dataset):
    """One item per object of ``objects`` (rows ``video, frame, x1, y1, x2, y2``): ``{"appearance":
    T×C×S×S, "flow": (T−1)×2×S×S (when ``flows``), "boxes": 4, "index": its row}``, the cube's
    frames placed around the object's frame by ``anchor``
    (:func:`vadlib.models.object_pipeline.window_frames`)."""

    def __init__(self, objects: pd.DataFrame, readers: dict[str, pipeline.FrameReader], window: int, size: int,
                 flows: dict[str, pipeline.VideoFlow] | None = None, anchor: str = "centre"):
        self.objects = objects.reset_index(drop=True)
        self.videos = self.objects["video"].astype(str).to_numpy()
        self.frames = self.objects["frame"].to_numpy(np.int64)
        self.boxes = self.objects[["x1", "y1", "x2", "y2"]].to_numpy(np.int64)
        self.readers, self.flows, self.window, self.size, self.anchor = readers, flows, window, size, anchor

    def __len__(self) -> int:
        return len(self.objects)

    def __getitem__(self, index: int) -> dict[str, Any]:
        video, frame, box = self.videos[index], int(self.frames[index]), self.boxes[index]
        item = {"appearance": pipeline.object_cubes(self.readers[video], box, frame, self.window, self.size,
                                                    self.anchor)[0],
                "boxes": torch.from_numpy(box.astype(np.float32)), "index": index}
        if self.flows is not None:
            item["flow"] = pipeline.flow_cubes(self.flows[video], box, frame, self.window, self.size, self.anchor)[0]
        return item


def _to(batch: dict, device: str) -> dict:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def _scored_frames(index: pd.DataFrame, window: int, limit: int | None, anchor: str = "centre") -> pd.DataFrame:
    """Rows (``video, frame, label``) of the frames whose window (placed by ``anchor``,
    :func:`vadlib.models.object_pipeline.window_frames`) fits in their video, every s-th per video
    when ``limit`` caps them (:func:`vadlib.runs.video_ad.strided_positions`), with the stride in
    column ``stride``."""
    offsets = pipeline.window_frames(0, window, anchor)
    before, after = -offsets[0], offsets[-1]
    rows = []
    for video, group in index.groupby("video", sort=True):
        group = group.sort_values("frame")
        if len(group) >= window:
            rows.append(group.iloc[before:len(group) - after])
    if not rows:
        return pd.DataFrame(columns=["video", "frame", "label", "stride"])
    eligible = pd.concat(rows, ignore_index=True)[["video", "frame", "label"]]
    keep = strided_positions(eligible, limit)
    chosen = eligible.loc[keep].reset_index(drop=True)
    per_video = eligible.groupby("video").size()
    chosen["stride"] = [1 if limit is None else max(1, math.ceil(per_video[v] / limit)) for v in chosen.video]
    return chosen


@dataclass(frozen=True)
class ObjectVideoRun(Experiment):
    """Train object host ``host`` (± ``block`` at ``position`` with ``block_options``) on the
    objects ``detector`` finds in ``dataset``, score its test frames."""

    kind: ClassVar[str] = "object_vad"

    host: str
    block: str | None
    dataset: str
    position: str = "late"
    block_options: tuple[tuple[str, Any], ...] = ()
    host_options: tuple[tuple[str, Any], ...] = ()
    detector: str = "oracle"
    detection_threshold: float | None = None  # None: pipeline.DETECTION_THRESHOLD[dataset]
    flow: str | None = None  # None: "raft" at model size "paper", "random" at "tiny"
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def code_units(self) -> tuple[str, ...]:
        return ("run:object_vad", "run:video_ad", "pipeline:objects", "train", f"host:{self.host}",
                "metrics:anomaly") + (("blocks",) if self.block else ()) + \
            code.data_units([self.dataset, "vad_tracks"], self.data.synthetic)

    # ------------------------------------------------------------------ building blocks
    @property
    def host_type(self) -> type[ObjectHost]:
        """The registered object host class ``host`` names."""
        return host_class(self.host, kind="object")

    @property
    def threshold(self) -> float:
        return pipeline.DETECTION_THRESHOLD[self.dataset] if self.detection_threshold is None \
            else float(self.detection_threshold)

    @property
    def flow_kind(self) -> str:
        kind = self.flow or ("raft" if self.budget.model_size == "paper" else "random")
        if kind not in FLOW_KINDS:
            raise ValueError(f"flow must be one of {FLOW_KINDS} or None, got {kind!r}")
        return kind

    def flow_note(self, host: ObjectHost) -> str | None:
        """What the flow of this run is (None when its host uses no flow: ``needs_flow`` of the
        built host, which some hosts set per instance)."""
        if not host.needs_flow:
            return None
        if self.flow_kind == "raft":
            return "flow: torchvision RAFT-small, pretrained (C_T_V2), frozen"
        return ("flow: STAND-IN -- torchvision RAFT-small with frozen RANDOM weights (smoke); not optical "
                "flow, a fixed random motion feature")

    def context(self, **overrides) -> HostContext:
        """What this run tells its host (``host_options`` updated by ``overrides``)."""
        return HostContext(size=self.budget.model_size, in_channels=3, seed=self.seed, dataset=self.dataset,
                           options=tuple({**dict(self.host_options), **overrides}.items()))

    def build_host(self, **overrides) -> ObjectHost:
        """The host built from :meth:`context`, with ``block`` at ``position`` (the 3D form of the
        block where the replaced layer is a 3D convolution)."""
        if self.block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {BLOCK_KINDS}, got {self.block!r}")
        _data_module(self.dataset)
        if self.detector not in DETECTOR_KINDS:
            raise ValueError(f"detector must be one of {DETECTOR_KINDS}, got {self.detector!r}")
        host = create_host(self.host, self.context(**overrides), kind="object")
        if self.block:
            for i, site in enumerate(host.sites_for(self.position)):
                # a tuple value gives one value per site, in the position's order
                options = {k: (v[i] if isinstance(v, tuple) else v) for k, v in self.block_options}
                layer = host.get_submodule(site)
                kind = self.block + ("3d" if isinstance(layer, nn.Conv3d) else "")
                replace_layer(host, site, make_block(kind, layer.out_channels, **options))
        return host

    def schedule(self) -> Schedule:
        return self.host_type.schedule_for(self.context())

    def index(self, root, split: str) -> pd.DataFrame:
        return _data_module(self.dataset).index(root, split)

    def readers(self, index: pd.DataFrame) -> dict[str, pipeline.FrameReader]:
        """Per video a frame reader; the readers of a split share one cache of decoded frames."""
        cache = pipeline.LRUCache(FRAME_CACHE)
        return {str(v): pipeline.FrameReader(rows, dataset=self.dataset, cache=cache)
                for v, rows in index.groupby("video")}

    def flow_network(self, host: ObjectHost) -> nn.Module | None:
        """The frozen RAFT-small of this run (``flow_kind``), or None when ``host`` uses no flow."""
        return load_flow_network(self.flow_kind, seed=self.seed) if host.needs_flow else None

    def flows(self, readers: dict[str, pipeline.FrameReader], network: nn.Module | None
              ) -> dict[str, pipeline.VideoFlow] | None:
        """Per video the flow of consecutive frames by ``network`` (one RAFT shared by every
        video); None without a network."""
        if network is None:
            return None
        cache = pipeline.LRUCache(FLOW_CACHE)
        return {v: pipeline.VideoFlow(r, network, updates=FLOW_UPDATES[self.flow_kind], device=self.device,
                                      cache=cache) for v, r in readers.items()}

    def detect(self, split: str, frames: pd.DataFrame, readers: dict[str, pipeline.FrameReader],
               model: nn.Module | None = None) -> pd.DataFrame:
        """Objects (``split, video, frame, x1, y1, x2, y2, score, label``) of the listed frames."""
        found = []
        for video, group in frames.groupby("video", sort=True):
            numbers = group["frame"].astype(int).tolist()
            if self.detector == "oracle":
                if not self.data.synthetic:
                    raise ValueError("detector='oracle' exists only on the synthetic twins; use 'faster_rcnn'")
                boxes = pipeline.oracle_detections(self.dataset, str(video), split, seed=self.data.twin_seed)
                boxes = boxes[boxes.frame.isin(numbers)][pipeline.DETECTION_COLUMNS]
            else:
                boxes = pipeline.detect((readers[str(video)](f) for f in numbers), model,
                                        threshold=self.threshold, device=self.device)
                boxes["frame"] = np.asarray(numbers, np.int64)[boxes["frame"].to_numpy(np.int64)]
            found.append(boxes.assign(split=split, video=str(video)))
        columns = ["split", "video"] + pipeline.DETECTION_COLUMNS
        return pd.concat(found, ignore_index=True)[columns] if found else pd.DataFrame(columns=columns)

    def train_limit(self, batch_size: int) -> int | None:
        """Most training frames used, over all videos (None: all): see the module docstring."""
        return None if not self.budget.max_steps else self.budget.max_steps * batch_size

    # ------------------------------------------------------------------ the experiment
    def _detections(self, ctx: RunContext, train_frames, test_frames, train_readers, test_readers):
        path = ctx.dir / DETECTIONS_FILE
        if path.is_file():  # a resumed run: the detections were kept before the interruption
            return pd.read_csv(path, dtype={"video": str, "split": str})
        model = None if self.detector == "oracle" else pipeline.load_detector(self.detector, device=self.device)
        found = pd.concat([self.detect("train", train_frames, train_readers, model),
                           self.detect("test", test_frames, test_readers, model)], ignore_index=True)
        ctx.write_file(DETECTIONS_FILE, lambda stream: stream.write(found.to_csv(index=False).encode()))
        return found

    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        root = self.data.locate(self.dataset)
        host = self.build_host().to(self.device)
        schedule = self.schedule()
        train_index, test_index = self.index(root, "train"), self.index(root, "test")
        # training frames: every frame with a full window, over all videos at most train_limit
        train_frames = _scored_frames(train_index, host.window, None, host.score_anchor)
        limit = self.train_limit(schedule.batch_size)
        if limit is not None and len(train_frames) > limit:
            stride = math.ceil(len(train_frames) / limit)
            train_frames = train_frames.iloc[::stride].reset_index(drop=True)
        test_frames = _scored_frames(test_index, host.window, self.budget.eval_limit, host.score_anchor)
        unscored = sorted(set(test_index.video.astype(str)) - set(test_frames.video.astype(str)))
        if unscored:
            warnings.warn(f"{self.dataset}: test videos {', '.join(unscored)} are shorter than {self.host}'s "
                          f"window of {host.window} frames and are not scored", stacklevel=2)
        train_readers, test_readers = self.readers(train_index), self.readers(test_index)
        found = self._detections(ctx, train_frames, test_frames, train_readers, test_readers)
        train_objects = found[found.split == "train"].reset_index(drop=True)
        test_objects = found[found.split == "test"].reset_index(drop=True)
        if not len(train_objects):
            raise RuntimeError(f"{self.detector} found no object in the {self.dataset} training frames "
                               f"(threshold {self.threshold})")
        flow_net = self.flow_network(host)
        train_set = ObjectCubes(train_objects, train_readers, host.window, host.side,
                                self.flows(train_readers, flow_net), host.score_anchor)
        per_epoch = self.host_type.steps_per_epoch or math.ceil(len(train_set) / schedule.batch_size)
        steps = self.budget.steps(schedule.epochs, per_epoch)
        loader = data_loader(train_set, schedule.batch_size, shuffle=True, seed=self.seed)
        host.on_train_step(-1, steps)  # a staged host starts its first stage (a resumed run: its checkpoint's)
        history = train(host, lambda batch: host.training_loss(_to(batch, self.device)), endless(loader),
                        schedule=schedule, total_steps=steps, block_weight=host.block_weight if self.block else 0.0,
                        ctx=ctx, device=self.device, description=f"{self.host} {self.block or ''} {self.dataset}",
                        on_step=lambda step, _: host.on_train_step(step, steps))
        host.eval()
        with torch.no_grad():
            host.calibrate(_to(b, self.device) for b in data_loader(train_set, SCORE_BATCH))
        test_set = ObjectCubes(test_objects, test_readers, host.window, host.side, self.flows(test_readers, flow_net),
                               host.score_anchor)
        object_scores = score_objects(host, test_set, self.device)
        scored = frame_scores(test_frames, test_objects, object_scores, host.frame_filter)
        regions = test_objects[["video", "frame", "x1", "y1", "x2", "y2"]].assign(score=object_scores)
        ctx.write_file(OBJECT_SCORES_FILE, lambda stream: stream.write(regions.to_csv(index=False).encode()))
        evaluation = evaluate(scored, regions, self.dataset, self.data)
        return {**evaluation, "detector": self.detector,
                "detection_threshold": None if self.detector == "oracle" else self.threshold,
                "n_train_objects": len(train_objects), "n_test_objects": len(test_objects),
                "n_train_frames": len(train_frames), "train_steps": steps,
                "loss_first": history[0]["loss"] if history else None,
                "loss_last": history[-1]["loss"] if history else None,
                "frame_filter": list(host.frame_filter), "flow_note": self.flow_note(host), "schedule": schedule.source,
                "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One training step and one scored batch at this config's sizes on the smoke twin (the
        oracle detector); a missing detector or RAFT weights file is named in ``note``, and the
        check goes on with the oracle / the random RAFT."""
        notes = []
        if self.detector != "oracle":
            try:
                pipeline.load_detector(self.detector)
            except FileNotFoundError as missing:
                notes.append(str(missing).split(". ")[0])
        twin = replace(self, data=DataSource(), detector="oracle")
        host = twin.build_host()
        flow_net = None
        if host.needs_flow:
            try:
                flow_net = twin.flow_network(host)
            except FileNotFoundError as missing:  # pretrained RAFT not on this machine
                notes.append(str(missing).split(". ")[0])
                twin = replace(twin, flow="random")
                flow_net = twin.flow_network(host)
        schedule = twin.schedule()
        root = synthetic.generate(self.dataset, size="smoke", seed=0)
        batches = {}
        for split in ("train", "test"):
            index = twin.index(root, split)
            frames = _scored_frames(index, host.window, 2, host.score_anchor)
            readers = twin.readers(index)
            objects = twin.detect(split, frames, readers).head(2)
            batches[split] = next(iter(data_loader(ObjectCubes(objects, readers, host.window, host.side,
                                                               twin.flows(readers, flow_net), host.score_anchor),
                                                   2)))
        started = time.perf_counter()
        host.on_train_step(-1, 1)
        train(host, host.training_loss, iter([batches["train"]]), schedule=schedule, total_steps=1,
              block_weight=host.block_weight if self.block else 0.0, progress=False)
        host.eval()
        with torch.no_grad():
            host.calibrate([batches["train"]])
        host.object_scores(batches["test"])
        return {"parameters": sum(p.numel() for p in host.parameters()),
                "step_time_s": round(time.perf_counter() - started, 3), **({"note": "; ".join(notes)} if notes else {})}

    def dry_run_key(self) -> str:
        """One dry run per host, block, placement, size and detector (block options change the
        block's arithmetic, not what the host must fit)."""
        return f"object/{self.host}/{self.block}/{self.position}/{self.host_options}/{self.budget.model_size}/" \
               f"{self.detector}/{self.flow_kind}"

    def gpu_hours(self) -> float:
        """Rough, on one modern GPU: the official steps at ~0.1 s per step (≈ 5 objects per frame
        of the training frames used, seed 003 L380, for one epoch's steps); the detector at ~0.05 s
        per frame (R50-FPN Faster R-CNN at 800 px); RAFT-small at ~0.03 s per frame pair (hosts
        with flow); every training frame used and every scored test frame."""
        schedule = self.schedule()
        n_train, n_test = FRAMES[self.dataset]
        limit = self.train_limit(schedule.batch_size)
        train_frames = n_train if limit is None else min(n_train, limit)
        per_epoch = self.host_type.steps_per_epoch or math.ceil(OBJECTS_PER_FRAME * train_frames / schedule.batch_size)
        steps = self.budget.steps(schedule.epochs, per_epoch)
        n_videos = TEST_VIDEOS[self.dataset]
        test_frames = n_test if self.budget.eval_limit is None else min(n_test, n_videos * self.budget.eval_limit)
        frames = train_frames + test_frames
        seconds = 0.1 * steps + (0.05 * frames if self.detector != "oracle" else 0.0) + \
            (0.03 * frames * self.host_type.window if self.host_type.needs_flow else 0.0)
        return seconds / 3600


def score_objects(host: ObjectHost, objects: ObjectCubes, device: str) -> np.ndarray:
    """The host's score of every object of ``objects``, in its order."""
    scores = np.zeros(len(objects), np.float64)
    with torch.no_grad():
        for batch in data_loader(objects, SCORE_BATCH):
            scores[batch["index"].numpy()] = host.object_scores(_to(batch, device)).float().cpu().numpy()
    return scores


def frame_scores(frames: pd.DataFrame, objects: pd.DataFrame, object_scores: np.ndarray,
                 frame_filter: tuple[str, float]) -> dict[str, dict[str, Any]]:
    """Per video the scored frames, their labels and frame scores: the maximum object score of the
    frame (the smallest object score where the frame has none), filtered along time
    (:func:`vadlib.models.object_pipeline.temporal_filter`, size divided by the video's stride)."""
    floor = float(np.min(object_scores)) if len(object_scores) else 0.0
    best = pd.Series(object_scores, dtype=np.float64).groupby(
        [objects["video"].astype(str).to_numpy(), objects["frame"].to_numpy(np.int64)]).max()
    lookup = best.to_dict()
    scored = {}
    for video, group in frames.groupby("video", sort=True):
        group = group.sort_values("frame")
        numbers = group["frame"].to_numpy(np.int64)
        raw = np.array([lookup.get((str(video), int(f)), floor) for f in numbers])
        kind, size = frame_filter
        scored[str(video)] = {"frames": numbers, "labels": group["label"].to_numpy(np.int64),
                              "scores": pipeline.temporal_filter(raw, kind, size, int(group["stride"].iloc[0]))}
    return scored


def _read_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"video": str})


def load_object_scores(config: ObjectVideoRun) -> pd.DataFrame:
    """Every scored test object of a run (``video, frame, x1, y1, x2, y2, score``), running it first
    if not cached."""
    return cached_file(config, OBJECT_SCORES_FILE, _read_csv)


def load_detections(config: ObjectVideoRun) -> pd.DataFrame:
    """The detections a run used (``split, video, frame, x1, y1, x2, y2, score, label``)."""
    return cached_file(config, DETECTIONS_FILE, _read_csv)


# ------------------------------------------------------------------ runs of a profile
def variant_run(host: str, dataset: str, variant: Variant = BASELINE, **fields) -> ObjectVideoRun:
    """The run of object host ``host`` with ``variant``'s block (and host options) on ``dataset``."""
    return ObjectVideoRun(host=host, block=variant.block, dataset=dataset, position=variant.position,
                          block_options=_without_defaults(variant.block, variant.options),
                          host_options=variant.host_options, **fields)


def run_config(settings, host: str, dataset: str, variant: Variant = BASELINE) -> ObjectVideoRun:
    """:func:`variant_run` under a profile's settings: the oracle detector on the synthetic twins,
    Faster R-CNN on real data."""
    data = DataSource.from_settings(settings)
    return variant_run(host, dataset, variant, detector="oracle" if data.synthetic else "faster_rcnn",
                       budget=Budget.from_settings(settings), data=data, seed=settings.seed,
                       device=resolve_device(settings.device))
