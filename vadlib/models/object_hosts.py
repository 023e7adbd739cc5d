"""What every object-centric video anomaly-detection host offers (Papers C and D's HF2-VAD,
Georgescu et al.'s background-agnostic framework, SSMTL++).

Object-centric methods first detect the objects of every frame, then learn normality on
*object cubes*: the box of an object in frame i cropped from the frames around i (Georgescu et al.,
CVPR 2021, seed 003 L62: "cropping the corresponding bounding box from frames {i−t, …, i+t}",
one box, that of frame i, for every frame of the cube) and, where the method uses motion, the
optical flow inside the same box. :mod:`vadlib.models.object_pipeline` detects, crops and computes
flow; :mod:`vadlib.runs.object_vad` trains a host on the cubes of the normal training videos and
turns the object scores of the test videos into frame scores and scored regions. A host only sees
batches of cubes::

    ctx = HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue")
    host = create_host("object_ae", ctx)          # vadlib.models.registry (kind "object")
    schedule = type(host).schedule_for(ctx)
    batch = {"appearance": N×T×C×S×S in [0, 1],   # T = host.window, S = host.crop_size[ctx.size]
             "flow": N×(T−1)×2×S×S,                # only when host.needs_flow
             "boxes": N×4}                         # x1, y1, x2, y2 of the centre frame, original pixels
    loss, logs = host.training_loss(batch)         # objects of normal training frames only
    host.on_train_step(step, total_steps)          # after each step (and once with step −1 before)
    host.calibrate(batches_of_normal_objects)     # once after training (default: nothing)
    scores = host.object_scores(batch)            # N, higher = more anomalous

Definitions:

* ``window`` (odd): frames per cube, centred on the scored frame (frame i and (window − 1)/2
  frames on each side); a frame whose window does not fit inside its video is not scored.
* ``score_anchor``: where the scored frame sits in its cube, ``"centre"`` (the default: frames
  i − h .. i + h) or ``"last"`` (frames i − window + 1 .. i, for a host whose score is about the
  last frame of its clip: HF2-VAD predicts it from the frames before it); either way the cube is
  cut with the box of the scored frame i, and the object score is attributed to frame i
  (:func:`vadlib.models.object_pipeline.window_frames`).
* ``appearance``: the crops of the centre frame's box (inclusive integer pixel corners, see
  :func:`vadlib.models.object_pipeline.crop_box`) in each frame of the cube, resized to S × S,
  RGB (or grey, C = 1) in [0, 1].
* ``flow``: optical flow from frame j to frame j + 1 of the cube, inside the same box, resized to
  S × S, in pixels *of the crop* (u scaled by S / box width, v by S / box height), channel 0 = u
  (right), 1 = v (down).
* ``frame_filter``: the temporal filter the host's paper applies to the frame scores of each
  video, ``(name, size)``: ``("gaussian", σ in frames)`` or ``("median", kernel in frames)``;
  frame score = max of the frame's object scores before it (:mod:`vadlib.runs.object_vad`).

``block_positions``, ``default_position``, ``block_weight`` (λ), ``name``, ``label``,
``steps_per_epoch``, :meth:`ObjectHost.from_context` and :meth:`ObjectHost.schedule_for` are as
for the frame-level video hosts (:mod:`vadlib.models.video_hosts`). A block placed at a position
replaces the named convolution(s); a 3D convolution gets the 3D form of the block.
"""

from __future__ import annotations

from typing import ClassVar, Iterable

import torch
from torch import nn

from vadlib.models.registry import HostContext
from vadlib.models.schedule import Schedule
from vadlib.models.video_hosts import VideoHost

__all__ = ["ObjectHost", "HostContext", "Schedule", "BATCH_KEYS"]

#: keys of an object batch (``flow`` only for hosts with ``needs_flow``)
BATCH_KEYS = ("appearance", "flow", "boxes")


class ObjectHost(nn.Module):
    """Base class of the object-centric video hosts (see the module docstring)."""

    kind: ClassVar[str] = "object"
    #: registry key and printed name (set by each registered host)
    name: ClassVar[str]
    label: ClassVar[str]
    #: frames per object cube, odd, centred on the scored frame (see ``score_anchor``)
    window: ClassVar[int] = 1
    #: where the scored frame sits in its cube: "centre" (frames i − h .. i + h) or "last" (frames
    #: i − window + 1 .. i); the object's score is attributed to that frame
    score_anchor: ClassVar[str] = "centre"
    #: whether batches carry ``flow`` (the pipeline computes optical flow only for such hosts)
    needs_flow: ClassVar[bool] = False
    #: crop side S per model size
    crop_size: ClassVar[dict[str, int]] = {"paper": 64, "tiny": 32}
    #: one schedule "epoch" in optimisation steps when the official code counts iterations;
    #: None: a pass over the training objects
    steps_per_epoch: ClassVar[int | None] = None
    #: placement name -> dotted layer paths a block replaces
    block_positions: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: the papers' default placement
    default_position: ClassVar[str] = "late"
    #: λ of the block loss
    block_weight: ClassVar[float] = 0.1
    #: temporal filter of the frame scores of each video: ("gaussian", σ) | ("median", kernel) |
    #: ("none", 0); default: Georgescu et al. (CVPR 2021, seed 003 L143) filter the frame scores
    #: with a temporal Gaussian and give no σ -- σ = 3 frames is our choice
    frame_filter: ClassVar[tuple[str, float]] = ("gaussian", 3.0)

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0):
        super().__init__()
        if size not in self.crop_size:
            raise ValueError(f"size must be one of {', '.join(self.crop_size)}, got {size!r}")
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"{type(self).__name__}.window must be an odd number >= 1, got {self.window}")
        self.size, self.in_channels, self.seed = size, int(in_channels), int(seed)

    # ---------------------------------------------------------------- block placement
    @property
    def side(self) -> int:
        """S, the crop side of this host's size."""
        return self.crop_size[self.size]

    # block placement as the frame-level video hosts place it (one definition, shared)
    block_sites = VideoHost.block_sites
    block_sites_for = VideoHost.block_sites_for
    sites_for = VideoHost.sites_for

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_context(cls, ctx: HostContext) -> "ObjectHost":
        """The host built from what the run knows; ``ctx.options`` are its constructor options."""
        if ctx.pretrained:
            raise ValueError(f"{cls.__name__} trains from scratch; use pretrained=False")
        return cls(size=ctx.size, in_channels=ctx.in_channels, seed=ctx.seed, **dict(ctx.options))

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        """The official schedule for this run (default: :meth:`schedule` of ``ctx.size``)."""
        return cls.schedule(ctx.size)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        raise NotImplementedError

    # ---------------------------------------------------------------- batches
    def check_batch(self, batch: dict) -> dict:
        """Refuse a batch that does not follow the contract (shapes, window, crop size, flow)."""
        appearance = batch.get("appearance")
        if not isinstance(appearance, torch.Tensor) or appearance.dim() != 5:
            raise ValueError(f"{type(self).__name__} expects batch['appearance'] N×T×C×S×S, got "
                             f"{None if appearance is None else tuple(appearance.shape)}")
        n, t, c, h, w = appearance.shape
        if t != self.window or c != self.in_channels or h != w:
            raise ValueError(f"{type(self).__name__} expects appearance cubes of T = {self.window} frames, "
                             f"C = {self.in_channels} channels, square crops; got {tuple(appearance.shape)}")
        if self.needs_flow:
            flow = batch.get("flow")
            if not isinstance(flow, torch.Tensor) or tuple(flow.shape) != (n, t - 1, 2, h, w):
                raise ValueError(f"{type(self).__name__} needs batch['flow'] of shape {(n, t - 1, 2, h, w)}, "
                                 f"got {None if flow is None else tuple(flow.shape)}")
        return batch

    def training_loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """The host's loss on a batch of normal objects, and numbers to log."""
        raise NotImplementedError

    def on_train_step(self, step: int, total_steps: int) -> None:
        """Called by the object run once before training (``step = -1``) and after each
        optimisation step ``step`` (0-based) of ``total_steps``, for hosts whose training changes
        from step to step (HF2-VAD's staged training); default: nothing."""

    def calibrate(self, batches: Iterable[dict]) -> None:
        """Called once after training with batches of normal training objects (no gradients), for
        hosts whose score uses training statistics (HF2-VAD's z-normalisation); default: nothing."""

    @torch.no_grad()
    def object_scores(self, batch: dict) -> torch.Tensor:
        """Anomaly score of each object of the batch (N,), higher = more anomalous."""
        raise NotImplementedError
