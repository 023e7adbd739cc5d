"""What every image anomaly-detection host offers, so one experiment runner can train any of them,
with or without a block, and score it with :mod:`vadlib.metrics`.

A host is an ``nn.Module`` that synthesises its own training anomalies and scores images::

    ctx = HostContext(size="tiny", in_channels=3, seed=0, dataset="mvtec_ad", category="bottle")
    host = create_host("draem", ctx)                 # vadlib.models.registry
    schedule = type(host).schedule_for(ctx)          # the official recipe, scaled by the runner
    for site in host.block_sites_for("sspcab"):      # where the papers put the block
        ...                                          # vadlib.models.blocks.replace_layer
    loss, logs = host.training_loss(images)          # images: N×C×H×W in [0, 1], normal only
    host.fit_normal(batches)                         # optional (e.g. CutPaste's Gaussian density)
    scores, maps = host.score(images)                # N image scores, N×H×W maps (or None)

Who the host is and what it needs are class attributes, so a runner never branches on its name:
``name`` / ``label`` (registry key, printed name), ``dims`` (3 for volumes: the runner inserts the
3D block and scores per slice with :meth:`ImageHost.score_slices`), ``needs_anomaly_source`` (textures its
anomalies with an external set, DRAEM's DTD), ``needs_category`` (per-class settings, NSA),
``localizes`` (scores pixels as well as images), ``steps_per_epoch`` (set when the official
schedule counts iterations rather than passes over the data), ``block_weight`` (the papers' λ).

Block sites name stride-1 convolutions with as many input as output channels, so
:func:`vadlib.models.blocks.replace_layer` can swap them for a block; ``block_sites`` is the
default placement and :meth:`ImageHost.block_sites_for` the placement of one block kind.
"""

from __future__ import annotations

from typing import ClassVar, Iterable

import torch
from torch import nn

from vadlib.models.blocks import block_family
from vadlib.models.registry import HostContext
from vadlib.models.schedule import Schedule

__all__ = ["ImageHost", "HostContext", "Schedule"]


class ImageHost(nn.Module):
    """Base class of the image hosts (DRAEM, 3D DRAEM, NSA, CutPaste)."""

    kind: ClassVar[str] = "image"
    #: registry key and printed name (set by each registered host)
    name: ClassVar[str]
    label: ClassVar[str]
    #: 2 for images (N×C×H×W), 3 for volumes (N×C×D×H×W, scored per slice)
    dims: ClassVar[int] = 2
    #: textures synthetic anomalies with ``HostContext.anomaly_source`` when the run has one
    needs_anomaly_source: ClassVar[bool] = False
    #: uses ``HostContext.category`` (per-class settings of MVTec AD)
    needs_category: ClassVar[bool] = False
    #: one schedule "epoch" in optimisation steps when the official code counts iterations;
    #: None: a pass over the training data
    steps_per_epoch: ClassVar[int | None] = None
    #: dotted layer paths where the papers insert a block ("penultimate conv unless stated")
    block_sites: tuple[str, ...] = ()
    #: the papers' weight λ of the block loss for this host
    block_weight: float = 0.1
    #: True when the host scores pixels (localization) as well as images
    localizes: bool = True

    @classmethod
    def from_context(cls, ctx: HostContext, **extra) -> "ImageHost":
        """The host built from what the run knows (``extra``: arguments a subclass adds)."""
        return cls(size=ctx.size, in_channels=ctx.in_channels, pretrained=ctx.pretrained,
                   seed=ctx.seed, **extra, **dict(ctx.options))

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        """The official schedule for this run (default: :meth:`schedule` of ``ctx.size``)."""
        return cls.schedule(ctx.size)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        raise NotImplementedError

    def block_sites_for(self, block: str) -> tuple[str, ...]:
        """The layers a block of kind ``block`` ("sspcab", "ssmctb", or a 3D form) replaces
        (default: ``block_sites`` for both blocks)."""
        block_family(block)
        return tuple(self.block_sites)

    def training_loss(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The host's own loss on a batch of normal images (anomalies synthesised inside)."""
        raise NotImplementedError

    def fit_normal(self, batches: Iterable[torch.Tensor]) -> None:
        """Called once after training with the normal training images; default: nothing to fit."""

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N image scores, N×H×W anomaly maps or None); higher means more anomalous."""
        raise NotImplementedError

    @torch.no_grad()
    def score_slices(self, volumes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Hosts with ``dims == 3``: (N×D per-slice scores, N×D×H×W maps or None) of N×C×D×H×W
        volumes, the protocol of per-slice evaluation (BraTS, Table D.4)."""
        raise NotImplementedError(f"{type(self).__name__} scores images (dims == {self.dims}); "
                                  f"score_slices is for volumes (dims == 3)")

