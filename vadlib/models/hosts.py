"""What every image anomaly-detection host offers, so one experiment runner can train any of them,
with or without a block, and score it with :mod:`vadlib.metrics`.

A host is an ``nn.Module`` that synthesises its own training anomalies and scores images::

    host = HOSTS["draem"](size="tiny", in_channels=3)
    loss, logs = host.training_loss(images)          # images: N×C×H×W in [0, 1], normal only
    host.fit_normal(batches)                         # optional (e.g. CutPaste's Gaussian density)
    scores, maps = host.score(images)                # N image scores, N×H×W maps (or None)

``block_sites`` names the layers where the papers insert SSPCAB/SSMCTB (each must be a stride-1
convolution with as many input as output channels, so :func:`vadlib.models.blocks.replace_layer`
can swap it); ``block_weight`` is the papers' λ for this host; ``schedule()`` gives the training
hyperparameters of the host's official code, which the experiment runner scales by the profile.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn


@dataclass(frozen=True)
class Schedule:
    """Training hyperparameters of a host as its official code sets them (``source`` says where)."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)  # adam / adamw
    weight_decay: float = 0.0
    lr_schedule: str = "multistep"  # multistep | cosine
    milestones: tuple[float, ...] = ()  # multistep: fractions of training where lr is multiplied by gamma
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine: the final learning rate
    warmup_fraction: float = 0.0  # linear warm-up over this fraction of training, then the schedule
    source: str = ""


class ImageHost(nn.Module):
    """Base class of the image hosts (DRAEM, 3D DRAEM, NSA, CutPaste)."""

    #: dotted layer paths where the papers insert a block ("penultimate conv unless stated")
    block_sites: tuple[str, ...] = ()
    #: the papers' weight λ of the block loss for this host
    block_weight: float = 0.1
    #: True when the host scores pixels (localization) as well as images
    localizes: bool = True

    def training_loss(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The host's own loss on a batch of normal images (anomalies synthesised inside)."""
        raise NotImplementedError

    def fit_normal(self, batches: Iterable[torch.Tensor]) -> None:
        """Called once after training with the normal training images; default: nothing to fit."""

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N image scores, N×H×W anomaly maps or None); higher means more anomalous."""
        raise NotImplementedError

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        raise NotImplementedError


# name -> "module:Class"; imported lazily so a missing optional host never breaks the others
HOST_CLASSES = {
    "draem": "vadlib.models.draem:DRAEM",
    "draem3d": "vadlib.models.draem3d:DRAEM3d",
    "nsa": "vadlib.models.nsa:NSA",
    "cutpaste": "vadlib.models.cutpaste:CutPaste",
}


def host_class(name: str) -> type[ImageHost]:
    if name not in HOST_CLASSES:
        raise ValueError(f"unknown host {name!r}; hosts: {', '.join(HOST_CLASSES)}")
    module, _, cls = HOST_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)
