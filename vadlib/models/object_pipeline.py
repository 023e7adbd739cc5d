"""The object pipeline shared by the object-centric hosts (:mod:`vadlib.models.object_hosts`):
detection, object cubes, optical flow inside the objects' boxes, temporal filtering of frame scores.

**Detection** (:func:`detect`). The object-centric methods of Papers C and D detect the objects of
every frame with a pre-trained detector and keep the detections above a confidence: Georgescu et
al. (CVPR 2021, seed 003 L62, L165) use YOLOv3 and keep "the detections with a confidence higher
than 0.8" on Avenue and ShanghaiTech, 0.5 on UCSD Ped2, the same threshold for training and
inference; HF2-VAD (Liu et al., ICCV 2021) uses Cascade R-CNN (paper_C spec §2); the TPAMI
framework of Georgescu et al. and SSMTL++ give no detector in the seeds. Here:

* ``"faster_rcnn"`` / ``"faster_rcnn_v2"`` / ``"mask_rcnn"``: torchvision's
  ``fasterrcnn_resnet50_fpn`` (Ren et al., NeurIPS 2015, with FPN), its v2 (Li et al. 2021) or
  ``maskrcnn_resnet50_fpn`` (He et al., ICCV 2017; only its boxes are used), built with
  ``weights=None`` and the 91 COCO category slots, the COCO state dict read from a local file:
  ``weights=`` or the torch hub cache, ``torch.hub.get_dir()/checkpoints/<official file name>``
  (:func:`detector_weights_path`). Nothing is downloaded; a missing file raises
  :class:`FileNotFoundError` naming the path and the URL to fetch it from. Thresholds
  :data:`DETECTION_THRESHOLD` per dataset (seed 003's values, set for YOLOv3: our choice to
  reuse them for a different detector); every COCO class is kept unless ``classes`` is given
  (seed 003 keeps every YOLOv3 detection above the confidence).
* ``"oracle"`` (smoke runs on the synthetic twins, :func:`oracle_detections`): the twin's
  rendered objects -- people, cyclists and thrown objects -- from
  :func:`vadlib.data.synthetic.video_anomaly.objects`, score 1. Real data have no oracle.

Boxes everywhere in the pipeline are ``x1, y1, x2, y2`` in *inclusive integer pixel corners* of
the original frame (the convention of the ``vad_tracks`` regions and of
:func:`vadlib.metrics.rbdc_tbdc`): a detector's continuous box ``[x1, x2) × [y1, y2)`` covers
the pixel columns ``floor(x1) .. ceil(x2) − 1``.

**Object cubes** (:func:`object_cubes`): the box of an object in frame i, cropped from frames
i − h .. i + h (h = (window − 1) / 2; one box for every frame of the cube, as seed 003 L62 crops
"the corresponding bounding box from frames {i − t, …, i + t}"), each crop resized to S × S
(bilinear, area interpolation when shrinking: the frame loaders' rule) without keeping the aspect
ratio (seed 003 L167: 64 × 64 crops), RGB in [0, 1]. A host that scores the *last* frame of its
cube (HF2-VAD predicts frame i from frames i − 4 .. i − 1) takes the cube ``anchor="last"``: the
box of frame i cropped from frames i − T + 1 .. i (:func:`window_frames`), so that its score,
which belongs to frame i, is about frame i and its box.

**Flow** (:class:`VideoFlow`, :func:`flow_cubes`): optical flow between consecutive frames by
torchvision's RAFT-small (Teed & Deng, ECCV 2020) with the weights policy of FFP
(:func:`vadlib.models.ffp.load_flow_network`, imported: ``"raft"`` = pretrained weights from the
hub cache or a file, ``"random"`` = the frozen random stand-in of smoke runs), computed once per
frame pair on the whole frame (resized to sides that are multiples of 8 and at least 128 px, the
flow resized back and rescaled to original pixels), then cropped with the object's box, resized to
S × S and expressed in pixels of the crop. HF2-VAD and Georgescu et al. use FlowNet2 / SelFlow;
RAFT-small is our stand-in, as for FFP.

**Temporal filter** (:func:`temporal_filter`): the post-processing of a video's frame scores,
``("gaussian", σ)`` (Georgescu et al., seed 003 L143), ``("median", kernel)`` (HF2-VAD's
official evaluation: kernel 17) or ``("none", 0)``, in frames of the video; on frames sampled
every s-th frame the size is divided by s.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from vadlib.models.ffp import FLOW_UPDATES, load_flow_network

__all__ = ["DETECTORS", "DETECTION_THRESHOLD", "DETECTION_COLUMNS", "detector_weights_path", "load_detector",
           "detect", "oracle_detections", "to_pixel_box", "crop_box", "ANCHORS", "window_frames", "object_cubes",
           "LRUCache", "FrameReader", "VideoFlow", "flow_cubes", "temporal_filter", "FRAME_FILTERS"]

#: detector name -> (torchvision builder, its weights enum): the detectors :func:`detect` runs
DETECTORS = {
    "faster_rcnn": ("fasterrcnn_resnet50_fpn", "FasterRCNN_ResNet50_FPN_Weights"),
    "faster_rcnn_v2": ("fasterrcnn_resnet50_fpn_v2", "FasterRCNN_ResNet50_FPN_V2_Weights"),
    "mask_rcnn": ("maskrcnn_resnet50_fpn", "MaskRCNN_ResNet50_FPN_Weights"),
}
#: confidence kept per dataset: seed 003 L165 (Georgescu et al., CVPR 2021, YOLOv3)
DETECTION_THRESHOLD = {"avenue": 0.8, "shanghaitech": 0.8, "ucsd_ped2": 0.5}
#: columns of a detection table (one row per kept detection; ``label`` = COCO category name)
DETECTION_COLUMNS = ["frame", "x1", "y1", "x2", "y2", "score", "label"]
FRAME_FILTERS = ("gaussian", "median", "none")
_COCO_SLOTS = 91  # torchvision's COCO heads: 80 categories in 91 slots (background and gaps)
_NOT_CATEGORIES = ("__background__", "N/A")  # the slots that name no COCO category
_RAFT_MIN = 128  # torchvision RAFT's smallest input side (its correlation pyramid)


# ------------------------------------------------------------------------------------ detection

def _weights_enum(detector: str):
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)} (or 'oracle' on the twins), "
                         f"got {detector!r}")
    from torchvision.models import detection
    return getattr(detection, DETECTORS[detector][1]).COCO_V1


def detector_weights_path(detector: str = "faster_rcnn") -> Path:
    """Where torchvision keeps the COCO weights of ``detector`` once downloaded:
    ``torch.hub.get_dir()/checkpoints/<official file name>`` (read at call time)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(_weights_enum(detector).url)


def load_detector(detector: str = "faster_rcnn", weights: str | os.PathLike | None = None,
                  device: str = "cpu") -> nn.Module:
    """The eval-mode COCO detector ``detector`` with its state dict from ``weights`` or the hub
    cache; :class:`FileNotFoundError` naming the expected file and its URL when it is absent."""
    enum = _weights_enum(detector)
    path = Path(weights) if weights is not None else detector_weights_path(detector)
    if not path.is_file():
        raise FileNotFoundError(
            f"the {detector} detector needs its COCO weights at {path}, which do not exist (nothing is "
            f"downloaded here). Fetch {enum.url} on a machine with internet (e.g. "
            f"`python -c \"import torchvision.models.detection as d; "
            f"d.{DETECTORS[detector][0]}(weights=d.{DETECTORS[detector][1]}.COCO_V1)\"` puts it in "
            f"~/.cache/torch/hub/checkpoints/) and copy it to {path}, or pass weights=<file>; the "
            f"synthetic twins can use detector='oracle'.")
    from torchvision.models import detection
    builder = getattr(detection, DETECTORS[detector][0])
    model = builder(weights=None, weights_backbone=None, num_classes=_COCO_SLOTS)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False).to(device)


def to_pixel_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """A continuous box ``[x1, x2) × [y1, y2)`` as inclusive integer pixel corners inside the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    left, top = min(max(math.floor(x1), 0), width - 1), min(max(math.floor(y1), 0), height - 1)
    right = min(max(math.ceil(x2) - 1, left), width - 1)
    bottom = min(max(math.ceil(y2) - 1, top), height - 1)
    return left, top, right, bottom


@torch.no_grad()
def detect(rgb_frames: Iterable[np.ndarray], detector: str | nn.Module = "faster_rcnn", *,
           weights: str | os.PathLike | None = None, threshold: float = 0.8,
           classes: Sequence[str] | None = None, device: str = "cpu", batch_size: int = 4) -> pd.DataFrame:
    """Objects of each frame by a COCO detector (see the module docstring).

    Args:
        rgb_frames: uint8 H×W×3 RGB frames (any iterable; read in batches of ``batch_size``).
        detector: a name of :data:`DETECTORS`, or a model from :func:`load_detector` (to load it
            once for many videos).
        weights: the state-dict file (default: the hub cache, :func:`detector_weights_path`).
        threshold: the smallest confidence kept (:data:`DETECTION_THRESHOLD` per dataset).
        classes: COCO category names kept (e.g. ``("person",)``); None keeps every category.

    Returns:
        :data:`DETECTION_COLUMNS`: ``frame`` = position of the frame in ``rgb_frames``, the box in
        inclusive integer pixel corners, the confidence and the COCO category name.
    """
    if isinstance(detector, str):
        model, name = load_detector(detector, weights, device), detector
    else:
        model, name = detector, "faster_rcnn"
    categories = _weights_enum(name).meta["categories"]
    rows: list[tuple] = []
    batch: list[np.ndarray] = []
    position = 0

    def run(frames: list[np.ndarray], first: int) -> None:
        tensors = [torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1).float().div(255).to(device)
                   for f in frames]
        for offset, (frame, out) in enumerate(zip(frames, model(tensors))):
            height, width = frame.shape[:2]
            for box, score, label in zip(out["boxes"].tolist(), out["scores"].tolist(), out["labels"].tolist()):
                category = categories[label]
                unwanted = category in _NOT_CATEGORIES or (classes is not None and category not in classes)
                if score < threshold or unwanted:
                    continue
                rows.append((first + offset, *to_pixel_box(box, width, height), float(score), category))

    for frame in rgb_frames:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"detect needs H×W×3 RGB frames, got shape {frame.shape}")
        batch.append(frame)
        if len(batch) == batch_size:
            run(batch, position)
            position += len(batch)
            batch = []
    if batch:
        run(batch, position)
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def oracle_detections(dataset: str, video: str, split: str = "test", *, size: str = "smoke",
                      seed: int = 0) -> pd.DataFrame:
    """The oracle detector of the synthetic twins: every rendered object of a twin video
    (:func:`vadlib.data.synthetic.video_anomaly.objects`), score 1, ``label`` its shape
    ("person", "bike", "blob"), plus the twin's ``kind`` and ``abnormal`` columns."""
    from vadlib.data.synthetic import video_anomaly
    found = video_anomaly.objects(dataset, size, seed, split, video)
    return found.assign(score=1.0, label=found["shape"])[DETECTION_COLUMNS + ["kind", "abnormal"]]


# ------------------------------------------------------------------------------------ crops

def crop_box(frame: np.ndarray, box: Sequence[int], size: int) -> np.ndarray:
    """The pixels of ``box`` (inclusive integer corners) of an H×W×C frame, resized to size × size
    (area interpolation when shrinking, bilinear otherwise); the frame's dtype, size × size × C."""
    import cv2
    x1, y1, x2, y2 = (int(v) for v in box)
    height, width = frame.shape[:2]
    if not (0 <= x1 <= x2 < width and 0 <= y1 <= y2 < height):
        raise ValueError(f"box {tuple(box)} is not inside the {width}×{height} frame (inclusive corners)")
    patch = frame[y1:y2 + 1, x1:x2 + 1]
    shrink = patch.shape[0] > size and patch.shape[1] > size
    out = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out.reshape(size, size, frame.shape[2])


ANCHORS = ("centre", "last")


def window_frames(frame: int, window: int, anchor: str = "centre") -> range:
    """The frames of the cube of an object detected in ``frame``: ``frame − h .. frame + h``
    (``anchor="centre"``, h = (window − 1) / 2; ``window`` odd) or ``frame − window + 1 .. frame``
    (``anchor="last"``: the detection frame is the cube's last frame, as HF2-VAD predicts the last
    frame of its clip from the frames before it). The object's score belongs to ``frame``."""
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
    if window < 1 or (anchor == "centre" and window % 2 == 0):
        raise ValueError(f"window must be an odd number >= 1 (a positive one for anchor 'last'), got {window}")
    first = frame - window // 2 if anchor == "centre" else frame - window + 1
    return range(first, first + window)


def object_cubes(read_frame: Callable[[int], np.ndarray], boxes_of_frame: np.ndarray, frame: int,
                 window: int, size: int, anchor: str = "centre") -> torch.Tensor:
    """Appearance cubes N×T×C×S×S in [0, 1] of the N boxes (N×4, inclusive corners) of frame
    ``frame``: each box cropped from the frames of :func:`window_frames` (``frame − h .. frame +
    h``, T = ``window`` = 2h + 1, or the T frames ending at ``frame`` for ``anchor="last"``) read
    by ``read_frame(number) -> uint8 H×W×C``, resized to S = ``size``."""
    boxes = np.asarray(boxes_of_frame, dtype=np.int64).reshape(-1, 4)
    frames = [read_frame(j) for j in window_frames(frame, window, anchor)]
    cubes = np.stack([np.stack([crop_box(f, box, size) for f in frames]) for box in boxes]) if len(boxes) else \
        np.zeros((0, window, size, size, frames[0].shape[2]), np.uint8)
    return torch.from_numpy(cubes).permute(0, 1, 4, 2, 3).float().div(255)


class LRUCache:
    """The last ``capacity`` values put, by key; one cache can be shared by the readers of many
    videos so that memory stays bounded whatever the number of videos."""

    def __init__(self, capacity: int = 256):
        self.capacity = int(capacity)
        self._items: OrderedDict = OrderedDict()

    def get(self, key):
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


class FrameReader:
    """``reader(frame) -> uint8 H×W×C`` frame of one video from its rows of a frame index
    (``frame``, ``path``: images or a video file), keeping decoded frames in ``cache`` (an
    :class:`LRUCache`, possibly shared between videos, or its capacity)."""

    def __init__(self, rows: pd.DataFrame, grayscale: bool = False, cache: int | LRUCache = 256,
                 dataset: str = "video"):
        self.paths = dict(zip(rows["frame"].astype(int), rows["path"].astype(str)))
        self.grayscale, self.dataset = grayscale, dataset
        self.cache = cache if isinstance(cache, LRUCache) else LRUCache(cache)

    def __len__(self) -> int:
        return len(self.paths)

    def __call__(self, frame: int) -> np.ndarray:
        frame = int(frame)
        image = self.cache.get((id(self), frame))
        if image is not None:
            return image
        if frame not in self.paths:
            raise KeyError(f"frame {frame} is not in this video (frames {min(self.paths)}..{max(self.paths)})")
        from vadlib.data import video as video_io
        path = self.paths[frame]
        image = (video_io.read_video_frames(path, frame, 1, grayscale=self.grayscale)[0]
                 if video_io.is_video_file(path) else video_io.read_image(path, self.grayscale, dataset=self.dataset))
        self.cache.put((id(self), frame), image)
        return image


# ------------------------------------------------------------------------------------ flow

class VideoFlow:
    """``flow(frame) -> float32 2×H×W``: optical flow from ``frame`` to ``frame + 1`` of one
    video, in original pixels (channel 0 = u, rightwards; 1 = v, downwards), by a frozen RAFT
    (``network``: :func:`vadlib.models.ffp.load_flow_network`, or a name "raft" | "random" given
    to it), computed on whole frames and kept in ``cache`` (an :class:`LRUCache`, possibly shared
    between videos, or its capacity)."""

    def __init__(self, read_frame: Callable[[int], np.ndarray], network: nn.Module | str = "random", *,
                 updates: int | None = None, weights: str | os.PathLike | None = None, seed: int = 0,
                 device: str = "cpu", cache: int | LRUCache = 64):
        if isinstance(network, str):
            updates = FLOW_UPDATES[network] if updates is None else updates
            network = load_flow_network(network, seed=seed, weights=weights)
        self.read_frame, self.network = read_frame, network.to(device)
        self.updates = FLOW_UPDATES["raft"] if updates is None else int(updates)
        self.device = device
        self.cache = cache if isinstance(cache, LRUCache) else LRUCache(cache)

    def _tensor(self, frame: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = x.to(self.device)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x.contiguous()

    @torch.no_grad()
    def __call__(self, frame: int) -> np.ndarray:
        frame = int(frame)
        kept = self.cache.get((id(self), frame))
        if kept is not None:
            return kept
        first, second = self.read_frame(frame), self.read_frame(frame + 1)
        height, width = first.shape[:2]
        size = (max(_RAFT_MIN, -(-height // 8) * 8), max(_RAFT_MIN, -(-width // 8) * 8))
        flow = self.network(self._tensor(first, size), self._tensor(second, size),
                            num_flow_updates=self.updates)[-1].float()
        if size != (height, width):  # back to the frame's pixels: resample, rescale the vectors
            flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
            flow = flow * torch.tensor([width / size[1], height / size[0]], device=flow.device).view(1, 2, 1, 1)
        out = flow[0].cpu().numpy().astype(np.float32)
        self.cache.put((id(self), frame), out)
        return out


def flow_cubes(flow_of_frame: Callable[[int], np.ndarray], boxes_of_frame: np.ndarray, frame: int,
               window: int, size: int, anchor: str = "centre") -> torch.Tensor:
    """Flow cubes N×(T−1)×2×S×S of the N boxes of frame ``frame``: the flow from frame j to j + 1
    for j = the cube's frames but its last (:func:`window_frames`: frame − h .. frame + h − 1, or
    frame − T + 1 .. frame − 1 for ``anchor="last"``; ``flow_of_frame(j)`` -> 2×H×W in original
    pixels, e.g. a :class:`VideoFlow`), cropped with the box, resized to S = ``size`` and rescaled
    to pixels of the crop (u × S / box width, v × S / box height)."""
    boxes = np.asarray(boxes_of_frame, dtype=np.int64).reshape(-1, 4)
    flows = [np.ascontiguousarray(flow_of_frame(j).transpose(1, 2, 0))
             for j in list(window_frames(frame, window, anchor))[:-1]]
    out = np.zeros((len(boxes), window - 1, 2, size, size), np.float32)
    for n, (x1, y1, x2, y2) in enumerate(boxes):
        scale = np.array([size / (x2 - x1 + 1), size / (y2 - y1 + 1)], np.float32)
        for k, flow in enumerate(flows):
            out[n, k] = (crop_box(flow, (x1, y1, x2, y2), size) * scale).transpose(2, 0, 1)
    return torch.from_numpy(out)


# ------------------------------------------------------------------------------------ frame scores

def temporal_filter(scores: np.ndarray, kind: str = "gaussian", size: float = 3.0, stride: int = 1) -> np.ndarray:
    """One video's frame scores filtered along time: ``"gaussian"`` with σ = ``size`` frames,
    ``"median"`` with a kernel of ``size`` frames (odd), ``"none"``; for scores of every
    ``stride``-th frame the size is divided by ``stride`` (so the filter spans the same time). Edges
    repeat the nearest score (scipy.ndimage ``mode="nearest"``)."""
    from scipy import ndimage
    scores = np.asarray(scores, dtype=np.float64)
    if kind not in FRAME_FILTERS:
        raise ValueError(f"frame filter must be one of {FRAME_FILTERS}, got {kind!r}")
    if kind == "none" or len(scores) < 2:
        return scores
    if kind == "gaussian":
        sigma = float(size) / stride
        return ndimage.gaussian_filter1d(scores, sigma, mode="nearest") if sigma > 0 else scores
    kernel = max(1, int(round(float(size) / stride)))
    kernel += 1 - kernel % 2  # odd
    return ndimage.median_filter(scores, size=kernel, mode="nearest")
