"""NSA host: a ResNet-18 encoder-decoder trained to segment Natural Synthetic Anomalies.

Schlüter, Tan, Hou, Kainz, "Natural Synthetic Anomalies for Self-Supervised Anomaly Detection and
Localization", ECCV 2022 (arXiv 2109.15222) -- thesis Paper D's host [57], "NSA (logistic)",
with SSPCAB/SSMCTB at the penultimate convolution and λ = 0.001 (T 2599). Reimplemented from the
paper; hyperparameters read from the official code (github.com/hmsch/natural-synthetic-anomalies,
``train_mvtec.py``), which is not copied. The synthesis is :mod:`vadlib.synthesis.poisson`.

Architecture (``size="paper"``)::

    input N×C×H×W (H, W >= 32)
    encoder  torchvision resnet18: conv1/bn1/relu (64, H/2) -> maxpool -> layer1 (64, H/4)
             -> layer2 (128, H/8) -> layer3 (256, H/16) -> layer4 (512, H/32); no avgpool/fc
    decoder  U-Net style, 4 up-blocks: bilinear x2 to the skip's size, concat skip,
             [conv3x3 - BN - ReLU] x 2:  up4 512+256 -> 256, up3 256+128 -> 128,
             up2 128+64 -> 64, up1 64+64 -> 64 (H/2)
             up0: bilinear to H×W, conv3x3 64 -> 32 - BN - ReLU
    head     head.0 conv3x3 32 -> 32 (stride 1)  <- block site (penultimate conv, in == out)
             head.1 BN, head.2 ReLU, head.3 conv1x1 32 -> 1 (logits)

``size="tiny"``: the same torchvision resnet18 encoder (it cannot be narrowed without leaving
torchvision) with a narrower decoder: up-blocks 64, 32, 16, 16, up0 and head 16 channels; meant
for 64-128 px CPU smoke runs.

The official ``model/resnet.py`` (``resnet18_enc_dec``) is not in the code we could read, so the
decoder widths, the skip connections (the brief asks for a U-Net-style decoder; the NSA code
also has a ``uresnet18``) and the 32-channel head are our choice. ``pretrained=False`` is NSA's
setting (trained from scratch, no ImageNet weights); ``pretrained=True`` loads torchvision's
``ResNet18_Weights.IMAGENET1K_V1`` (1-channel inputs: conv1's weights summed over RGB).

Loss: per-pixel binary cross-entropy between the logits and the logistic label (the official
code applies a sigmoid and ``nn.BCELoss``; ``BCEWithLogits`` is the same value, computed stably).

Score (``score``): pixel map = sigmoid of the logits at input resolution (the decoder's last
stage runs at H×W); image score = mean of the map. The official evaluation code
(``experiments/mvtec_tasks.py``) is not in the readable part of the repository; the mean is our
reading of NSA's sample-level score ("average of the pixel-level predictions"), unverified --
``image_score="max"`` is offered as an alternative.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.hosts import ImageHost, Schedule
from vadlib.models.layers import conv_bn_relu, double_conv_bn_relu
from vadlib.models.registry import HostContext, register_host
from vadlib.synthesis.poisson import (
    EPOCHS,
    NSASynthesizer,
    nsa_settings,
    synthesize_batch,
)

__all__ = ["NSA", "WIDTHS", "MIN_SIZE", "mvtec_category"]

#: decoder widths (up4, up3, up2, up1, up0/head)
WIDTHS = {"paper": (256, 128, 64, 64, 32), "tiny": (64, 32, 16, 16, 16)}
#: smallest input side (five stride-2 stages)
MIN_SIZE = 32

_SOURCE = ("NSA official code train_mvtec.py (github.com/hmsch/natural-synthetic-anomalies): "
           "Adam, max_lr 1e-3, CosineAnnealingLR(T_max=epochs, eta_min=1e-6) stepped per epoch, "
           "batch 64, 320 epochs (560 for hazelnut, metal_nut, screw); the cosine schedule is "
           "not expressible in Schedule (no milestones given)")


def mvtec_category(ctx: HostContext) -> str | None:
    """The MVTec AD class whose official settings apply to this run (None off MVTec AD)."""
    return ctx.category if ctx.dataset == "mvtec_ad" else None


class _Up(nn.Module):
    """Bilinear upsampling to the skip's size, concatenation, two conv-BN-ReLU."""

    def __init__(self, c_in: int, c_skip: int, c_out: int):
        super().__init__()
        self.conv = double_conv_bn_relu(c_in + c_skip, c_out, bias=False)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


@register_host
class NSA(ImageHost):
    """NSA (logistic) host: ``NSA(size="tiny"|"paper", in_channels=3, pretrained=False, *,
    seed=0, category=None, image_score="mean", **synthesis options)``.

    ``category`` (an MVTec AD class name) selects the official code's per-class synthesis
    settings (:func:`vadlib.synthesis.poisson.nsa_settings`); any keyword of
    :class:`~vadlib.synthesis.poisson.NSASynthesizer` (``mode``, ``num_patches``,
    ``logistic_params``, ``width_bounds``, ``background``, ...) overrides them. The synthesis
    draws from a ``numpy.random.Generator`` seeded with ``seed`` and owned by the host (weight
    initialisation uses torch's global generator: seed it before construction).
    """

    name = "nsa"
    label = "NSA"
    needs_category = True
    block_sites = ("head.0",)
    block_weight = 0.001  # Paper D, T 2599: "we decrease λ to 0.001" for NSA
    localizes = True

    def __init__(self, size: str = "tiny", in_channels: int = 3, pretrained: bool = False, *,
                 seed: int = 0, category: str | None = None, image_score: str = "mean",
                 **synthesis):
        super().__init__()
        if size not in WIDTHS:
            raise ValueError(f"size must be one of {', '.join(WIDTHS)}, got {size!r}")
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3 (OpenCV's Poisson blending works on "
                             f"gray or RGB images), got {in_channels!r}")
        if image_score not in ("mean", "max"):
            raise ValueError(f"image_score must be 'mean' or 'max', got {image_score!r}")
        self.size, self.in_channels, self.image_score = size, in_channels, image_score
        self.category = category
        self.synthesizer = NSASynthesizer(**{**nsa_settings(category), **synthesis})
        self.seed = seed
        self.rng = np.random.default_rng(seed)

        from torchvision.models import ResNet18_Weights, resnet18
        backbone = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1 if pretrained else None)
        if in_channels != 3:
            conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
            if pretrained:
                with torch.no_grad():
                    conv1.weight.copy_(backbone.conv1.weight.sum(dim=1, keepdim=True))
            backbone.conv1 = conv1
        self.stem = nn.Sequential(backbone.conv1, backbone.bn1, backbone.relu)
        self.pool = backbone.maxpool
        self.layer1, self.layer2 = backbone.layer1, backbone.layer2
        self.layer3, self.layer4 = backbone.layer3, backbone.layer4

        w4, w3, w2, w1, w0 = WIDTHS[size]
        self.up4 = _Up(512, 256, w4)
        self.up3 = _Up(w4, 128, w3)
        self.up2 = _Up(w3, 64, w2)
        self.up1 = _Up(w2, 64, w1)
        self.up0 = nn.Sequential(*conv_bn_relu(w1, w0, bias=False))
        self.head = nn.Sequential(nn.Conv2d(w0, w0, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(w0), nn.ReLU(inplace=False),
                                  nn.Conv2d(w0, 1, 1))

    @classmethod
    def from_context(cls, ctx: HostContext, **extra) -> "NSA":
        """As :meth:`ImageHost.from_context`, with the synthesis settings of ``ctx.category`` on
        MVTec AD (:func:`mvtec_category`)."""
        return super().from_context(ctx, category=mvtec_category(ctx), **extra)

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        """:meth:`schedule` with the epochs of ``ctx.category`` on MVTec AD."""
        return cls.schedule(ctx.size, category=mvtec_category(ctx))

    # -- checks ------------------------------------------------------------------------------
    def _check(self, images: Tensor) -> None:
        if not isinstance(images, Tensor) or images.dim() != 4:
            raise ValueError(f"NSA expects images as an N×C×H×W tensor, got "
                             f"{getattr(images, 'shape', type(images))}")
        n, c, h, w = images.shape
        if c != self.in_channels:
            raise ValueError(f"NSA was built for {self.in_channels} channels, got images with "
                             f"{c} channels")
        if min(h, w) < MIN_SIZE:
            raise ValueError(f"images too small: {h}×{w} px, NSA needs at least "
                             f"{MIN_SIZE}×{MIN_SIZE} (five stride-2 stages)")
        if n == 0:
            raise ValueError("empty batch")

    # -- network -----------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Logits N×1×H×W of the per-pixel anomaly probability."""
        self._check(x)
        s0 = self.stem(x)                   # H/2, 64
        s1 = self.layer1(self.pool(s0))     # H/4, 64
        s2 = self.layer2(s1)                # H/8, 128
        s3 = self.layer3(s2)                # H/16, 256
        s4 = self.layer4(s3)                # H/32, 512
        d = self.up4(s4, s3)
        d = self.up3(d, s2)
        d = self.up2(d, s1)
        d = self.up1(d, s0)
        d = F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.up0(d))

    # -- host interface ----------------------------------------------------------------------
    def synthesize(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(anomalous images, logistic labels N×1×H×W, patch masks N×1×H×W) from the host's
        generator; sources are other images of the batch."""
        self._check(images)
        if images.min() < 0 or images.max() > 1:
            raise ValueError("images must lie in [0, 1]")
        return synthesize_batch(images, self.rng, self.synthesizer)

    def training_loss(self, images: Tensor) -> tuple[Tensor, dict[str, float]]:
        x, label, mask = self.synthesize(images)
        logits = self(x)
        loss = F.binary_cross_entropy_with_logits(logits, label)
        return loss, {"bce": float(loss.detach()), "anomalous_fraction": float(mask.float().mean())}

    @torch.no_grad()
    def score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(image scores N, maps N×H×W): map = sigmoid(logits); image score = mean of the map
        (``image_score="max"``: its maximum). Runs in eval mode (BatchNorm running statistics)
        and restores the previous mode."""
        self._check(images)
        was_training = self.training
        self.eval()
        try:
            maps = torch.sigmoid(self(images))[:, 0]
        finally:
            self.train(was_training)
        scores = maps.flatten(1).mean(1) if self.image_score == "mean" else maps.flatten(1).amax(1)
        return scores, maps

    @classmethod
    def schedule(cls, size: str = "paper", category: str | None = None) -> Schedule:
        """Official NSA MVTec schedule: Adam lr 1e-3 with cosine annealing to 1e-6, batch 64, 320 epochs
        (``category`` in hazelnut/metal_nut/screw: 560). Same numbers for "tiny" (the experiment
        runner scales them by profile)."""
        if size not in WIDTHS:
            raise ValueError(f"size must be one of {', '.join(WIDTHS)}, got {size!r}")
        if category is not None and category not in EPOCHS:
            raise ValueError(f"unknown MVTec AD category {category!r}")
        epochs = EPOCHS.get(category, 320) if category else 320
        return Schedule(epochs=epochs, batch_size=64, lr=1e-3, optimizer="adam",
                        weight_decay=0.0, lr_schedule="cosine", min_lr=1e-6, source=_SOURCE)
