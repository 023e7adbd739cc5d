"""What every frame-level video anomaly-detection host offers (Papers C and D's video results).

A host is an ``nn.Module`` trained on clips of normal video and scoring the last frame of a clip::

    ctx = HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue", options=(("variant", "prediction"),))
    host = create_host("mnad", ctx)                    # vadlib.models.registry
    schedule = type(host).schedule_for(ctx)
    clips = batch["clip"]                              # N×T×C×H×W in [0, 1] (ClipDataset), T = host.window
    loss, logs = host.training_loss(clips)             # normal clips only
    host.prepare_test()                                # before the test videos (MNAD: memory reset)
    parts, maps = host.frame_evidence(clips)           # per-clip evidence for the clip's last frame
    scores = host.video_scores(parts_of_one_video)     # that video's frame anomaly scores

The score is the host's own rule, applied per test video as its official evaluation does (e.g.
FFP: PSNR of the predicted frame, min–max normalised within each video, 1 − that). ``parts`` holds
the raw per-frame quantities that rule needs (arrays of one value per clip, keyed by name) so
the experiment can gather them video by video before normalising. ``maps`` are N×H×W per-pixel
errors (higher = more anomalous) for region-based metrics and figures. A host whose state changes
while it scores (``updates_at_test``: MNAD's test-time memory update) must see the test clips one
at a time, in temporal order.

``block_positions`` maps a placement name of Tables C.4 / D.8 ("early", "middle", "late") to the
layer(s) a block replaces; ``block_sites`` is the papers' default ("late": the penultimate
convolution unless stated). ``block_weight`` is λ. ``name``, ``label``, ``steps_per_epoch`` and
:meth:`VideoHost.schedule_for` are as for the image hosts (:mod:`vadlib.models.hosts`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from vadlib.models.blocks import block_family
from vadlib.models.layers import minmax
from vadlib.models.registry import HostContext
from vadlib.models.schedule import Schedule

__all__ = ["VideoHost", "HostContext", "Schedule", "minmax"]


class VideoHost(nn.Module):
    """Base class of the video hosts (plain auto-encoder, FFP, MNAD)."""

    kind: ClassVar[str] = "video"
    #: registry key and printed name (set by each registered host)
    name: ClassVar[str]
    label: ClassVar[str]
    #: frames are images (clips N×T×C×H×W)
    dims: ClassVar[int] = 2
    #: True when scoring changes the host's state (clips must come one at a time, in order); a
    #: host whose constructor switches it (MNAD's ``test_update``) sets it on the instance
    updates_at_test: bool = False
    #: one schedule "epoch" in optimisation steps when the official code counts iterations;
    #: None: a pass over the training clips
    steps_per_epoch: ClassVar[int | None] = None
    #: frames per clip: the past frames a predictor sees plus the target (reconstruction: 1)
    window: int = 1
    #: placement name -> dotted layer paths a block replaces (Tables C.4 and D.8)
    block_positions: dict[str, tuple[str, ...]] = {}
    #: the papers' default placement
    default_position: str = "late"
    #: λ of the block loss
    block_weight: float = 0.1

    @property
    def block_sites(self) -> tuple[str, ...]:
        return self.block_positions[self.default_position]

    def block_sites_for(self, block: str) -> tuple[str, ...]:
        """The layers a block of kind ``block`` replaces at the default placement (both blocks go
        to the same layers; :meth:`sites_for` gives the other placements)."""
        block_family(block)
        return self.block_sites

    def sites_for(self, position: str) -> tuple[str, ...]:
        """Layer paths of a placement; combinations join names with '+' ("early+late")."""
        sites: list[str] = []
        for name in position.split("+"):
            if name not in self.block_positions:
                raise ValueError(f"unknown block position {name!r} for {type(self).__name__}; "
                                 f"positions: {', '.join(self.block_positions)}")
            sites += [s for s in self.block_positions[name] if s not in sites]
        return tuple(sites)

    def check_clips(self, clips: torch.Tensor) -> torch.Tensor:
        """Refuse clips that are not N×T×C×H×W with T >= ``window`` (the last ``window`` are used)."""
        if clips.dim() != 5:
            raise ValueError(f"{type(self).__name__} expects clips N×T×C×H×W, got shape {tuple(clips.shape)}")
        if clips.shape[1] < self.window:
            raise ValueError(f"{type(self).__name__} needs clips of at least {self.window} frames "
                             f"(its temporal window), got {clips.shape[1]}")
        return clips[:, clips.shape[1] - self.window:]

    @classmethod
    def from_context(cls, ctx: HostContext) -> "VideoHost":
        """The host built from what the run knows; ``ctx.options`` are its constructor options."""
        if ctx.pretrained:
            raise ValueError(f"{cls.__name__} trains from scratch; use pretrained=False")
        return cls(size=ctx.size, in_channels=ctx.in_channels, seed=ctx.seed, **dict(ctx.options))

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        """The official schedule for this run (default: :meth:`schedule` of ``ctx.size``)."""
        return cls.schedule(ctx.size)

    def prepare_test(self) -> None:
        """Called once after training, before the test videos are scored; default: nothing."""

    def training_loss(self, clips: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    @torch.no_grad()
    def frame_evidence(self, clips: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Raw per-clip quantities of the clip's last frame, and N×H×W error maps."""
        raise NotImplementedError

    def video_scores(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Frame anomaly scores of one video from its frames' ``parts`` (default: min–max of
        the single part "error")."""
        return minmax(parts["error"])

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        raise NotImplementedError


