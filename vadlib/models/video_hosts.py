"""What every frame-level video anomaly-detection host offers (Papers C and D's video results).

A host is an ``nn.Module`` trained on clips of normal video and scoring the last frame of a clip::

    host = video_host_class("ffp")(size="tiny", in_channels=3)
    clips = batch["clip"]                              # N×T×C×H×W in [0, 1] (ClipDataset), T = host.window
    loss, logs = host.training_loss(clips)             # normal clips only
    parts, maps = host.frame_evidence(clips)           # per-clip evidence for the clip's last frame
    scores = host.video_scores(parts_of_one_video)     # that video's frame anomaly scores

The score is the host's own rule, applied per test video as its official evaluation does (e.g.
FFP: PSNR of the predicted frame, min–max normalised within each video, 1 − that). ``parts`` holds
the raw per-frame quantities that rule needs (arrays of one value per clip, keyed by name) so
the experiment can gather them video by video before normalising. ``maps`` are N×H×W per-pixel
errors (higher = more anomalous) for region-based metrics and figures.

``block_positions`` maps a placement name of Tables C.4 / D.8 ("early", "middle", "late") to the
layer(s) a block replaces; ``block_sites`` is the papers' default ("late": the penultimate
convolution unless stated). ``block_weight`` is λ.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch
from torch import nn

from vadlib.models.hosts import Schedule

__all__ = ["VideoHost", "Schedule", "VIDEO_HOST_CLASSES", "video_host_class", "minmax"]


def minmax(values: np.ndarray) -> np.ndarray:
    """(v − min) / (max − min) over one video; all zeros when the video's values are constant."""
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


class VideoHost(nn.Module):
    """Base class of the video hosts (plain auto-encoder, FFP, MNAD)."""

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


VIDEO_HOST_CLASSES = {
    "plain_ae": "vadlib.models.plain_ae:PlainAutoEncoder",
    "ffp": "vadlib.models.ffp:FutureFramePrediction",
    "mnad": "vadlib.models.mnad:MNAD",
}


def video_host_class(name: str) -> type[VideoHost]:
    if name not in VIDEO_HOST_CLASSES:
        raise ValueError(f"unknown video host {name!r}; hosts: {', '.join(VIDEO_HOST_CLASSES)}")
    module, _, cls = VIDEO_HOST_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)
