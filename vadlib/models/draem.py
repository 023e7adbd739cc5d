"""DRAEM, the image host of Papers C and D (Table C.2, Tables D.3-D.4).

Zavrtanik, Kristan, Skočaj, "DRAEM - A discriminatively trained reconstruction embedding for
surface anomaly detection", ICCV 2021. Reimplemented from the paper; layer widths, losses, schedule
and scoring follow the official code (``github.com/VitjanZ/DRAEM``, MIT licence: ``model_unet.py``,
``loss.py``, ``train_DRAEM.py``, ``test_DRAEM.py``, read for hyperparameters only).

Architecture (the paper's Fig. 3; widths as the official code)::

    augmented image I_a ──► reconstructive sub-network ──► I_r        (L2 + SSIM to the clean I)
    concat(I_r, I_a)    ──► discriminative sub-network ──► 2-channel logits -> softmax
                                                           (focal loss to the synthetic mask)

* **Reconstructive sub-network** (encoder-decoder without skips), base width b = 128:
  encoder 5 stages of [conv3×3-BN-ReLU] × 2 with widths b, 2b, 4b, 8b, 8b and 2×2 max-pooling
  between stages; decoder 4 stages of "upsample ×2 (bilinear, align_corners) -> conv-BN-ReLU" then
  [conv-BN-ReLU] × 2 (8b->8b->4b, 4b->4b->2b, 2b->2b->b, b->b->b), final conv3×3 b -> C (no
  activation).
* **Discriminative sub-network** (U-Net), base width b = 64, input 2C channels (reconstruction
  first, as the official ``torch.cat((gray_rec, aug_gray_batch))``): encoder 6 stages, widths
  b, 2b, 4b, 8b, 8b, 8b, 5 poolings; decoder 5 stages "upsample -> conv-BN-ReLU, concatenate the
  encoder skip, [conv-BN-ReLU] × 2", final conv3×3 b -> 2.
* ``size="paper"``: b = 128 / 64 (official); ``size="tiny"``: b = 16 / 8, the same layers.
* Weights initialised as the official ``weights_init``: conv weights N(0, 0.02), BatchNorm weights
  N(1, 0.02) and biases 0 (conv biases: PyTorch's default uniform rule), drawn from a generator
  seeded with ``seed``.
* Upsampling goes to the exact size of the matching encoder stage, so any image of at least
  32×32 px works (the official code needs multiples of 32; for those the two agree exactly).

Training (:meth:`DRAEM.training_loss`, official ``train_DRAEM.py``): the clean image is rotated by
U(-90°, 90°) with probability 0.3 (official ``do_aug_orig``), DRAEM's anomaly is synthesised
(:mod:`vadlib.synthesis.perlin`: Perlin mask, DTD texture or our self-texture fallback, β blend,
50 % left normal), and ``loss = L2(I_r, I) + (1 - SSIM(I_r, I)) + Focal(softmax, M)``: L2 = mean
squared error; SSIM (:func:`vadlib.models.layers.ssim`, ``padding="same"``) with an 11×11
Gaussian window (σ = 1.5), zero padding 5 and C1 = 0.01², C2 = 0.03² (data range 1; the official
code infers the range, which is 1 for [0, 1] images), averaged over all pixels and channels;
focal loss γ = 2, no α, label smoothing 1e-5 as the official ``FocalLoss``:
``mean(-(1 - p_t)^γ log p_t)`` with ``p_t = Σ_k onehot_k p_k + 1e-5`` and the one-hot clamped to
[1e-5, 1 - 1e-5]. Gradients of the focal loss flow into the reconstructive
network too (no detach in the official training loop).

Scoring (:meth:`DRAEM.score`, official ``test_DRAEM.py``): pixel map = softmax channel 1 of the
discriminative output (eval mode, the reconstruction fed in as computed); image score =
max of the map average-pooled with a 21×21 window, stride 1, zero padding 10 counted in the average
(``F.avg_pool2d(..., 21, stride=1, padding=21 // 2)``).

Schedule (:meth:`DRAEM.schedule`): Adam, lr 1e-4 (both sub-networks), batch 8, 700 epochs,
MultiStepLR ×0.2 at 80 % and 90 % of the epochs. The milestones and γ are in ``train_DRAEM.py``;
lr, batch and epochs are command-line arguments there, and 1e-4 / 8 / 700 are the example command
of the official README (``paper_C.md`` §2 marks them "[bg — verify]"; verified against the README
only). anomalib's DRAEM uses milestones 400/600 with γ 0.1 instead.

Block sites (``block_sites``; :meth:`DRAEM.block_sites_for`): in both sub-networks the penultimate
convolution is the second conv of the last decoder stage, ``decoder.db4.3`` (b -> b, stride 1),
followed by BN-ReLU and the final conv; it is the only candidate with in = out channels right
before the output, so no channel adaptation is needed:

* ``reconstructive.decoder.db4.3`` (128 -> 128 paper, 16 -> 16 tiny)
* ``discriminative.decoder.db4.3`` (64 -> 64 paper, 8 -> 8 tiny)

Where SSPCAB goes is a seed conflict. Paper C says "We introduce SSPCAB into both the localization
and detection networks" (thesis T L2132), but also "Regardless of the underlying framework [...],
we add only one instance of SSPCAB" (T L2286; supplementary, seed 002 L83, whose list names DRAEM).
Paper D adds "only one instance of SSMCTB" (T L2812) and compares the two blocks row against row
in the same table (D.3 repeats C.2's DRAEM + SSPCAB column; D.4). The protocol those tables imply
is one block, in the same place, for both: by default SSPCAB and SSMCTB each go to the
discriminative network alone -- the network that outputs the anomaly map, whose penultimate conv
is the penultimate conv of the whole model -- so that the summed block loss carries one λ for
either block. "Both networks" (T L2132) is the constructor option ``sspcab_networks=NETWORKS``
(the image run's ``sspcab_networks="both"``). ``block_sites`` (what a runner that does not call
``block_sites_for`` sees) is the union of the two options' sites. λ (``block_weight``) = 0.1 for
both blocks (Paper C T L2084; Paper D T 2599, "we keep λ = 0.1 across all data sets").
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.blocks import block_family
from vadlib.models.hosts import ImageHost, Schedule
from vadlib.models.layers import conv_bn_relu, double_conv_bn_relu, ssim
from vadlib.models.registry import HostContext, register_host
from vadlib.synthesis.perlin import AUGMENTATIONS, random_rotate, synthesize_batch

__all__ = [
    "DRAEM",
    "ReconstructiveSubNetwork",
    "DiscriminativeSubNetwork",
    "focal_loss",
    "pooled_maps",
    "image_scores_from_maps",
]

SIZES = ("tiny", "paper")
NETWORKS = ("reconstructive", "discriminative")

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_MODE = {2: "bilinear", 3: "trilinear"}


# ------------------------------------------------------------------------------------ layers

def _double(c_in: int, c_mid: int, c_out: int, dims: int) -> nn.Sequential:
    """[conv3-BN-ReLU] × 2: indices 0 (conv c_in -> c_mid), 3 (conv c_mid -> c_out)."""
    return double_conv_bn_relu(c_in, c_out, mid=c_mid, dims=dims, inplace=True)


def _down(x: Tensor, dims: int) -> Tensor:
    """2×2 max-pooling (3D: 2×2 in-plane, depth halved while it is at least 2)."""
    if dims == 2:
        return F.max_pool2d(x, 2)
    return F.max_pool3d(x, (2 if x.shape[2] >= 2 else 1, 2, 2))


class _Up(nn.Module):
    """Upsample to the size of the matching encoder stage (bilinear / trilinear, align_corners,
    as the official ``nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)``), then
    conv3-BN-ReLU (``block.0`` is the conv)."""

    def __init__(self, c_in: int, c_out: int, dims: int):
        super().__init__()
        self.dims = dims
        self.block = nn.Sequential(*conv_bn_relu(c_in, c_out, dims=dims, inplace=True))

    def forward(self, x: Tensor, size: Sequence[int]) -> Tensor:
        x = F.interpolate(x, size=tuple(size), mode=_MODE[self.dims], align_corners=True)
        return self.block(x)


class _ReconstructiveEncoder(nn.Module):
    def __init__(self, c_in: int, b: int, dims: int):
        super().__init__()
        self.dims = dims
        self.block1 = _double(c_in, b, b, dims)
        self.block2 = _double(b, 2 * b, 2 * b, dims)
        self.block3 = _double(2 * b, 4 * b, 4 * b, dims)
        self.block4 = _double(4 * b, 8 * b, 8 * b, dims)
        self.block5 = _double(8 * b, 8 * b, 8 * b, dims)

    def forward(self, x: Tensor) -> tuple[Tensor, list[tuple[int, ...]]]:
        sizes = []
        for stage in (self.block1, self.block2, self.block3, self.block4):
            x = stage(x)
            sizes.append(tuple(x.shape[2:]))
            x = _down(x, self.dims)
        return self.block5(x), sizes


class _ReconstructiveDecoder(nn.Module):
    def __init__(self, b: int, c_out: int, dims: int):
        super().__init__()
        self.up1, self.db1 = _Up(8 * b, 8 * b, dims), _double(8 * b, 8 * b, 4 * b, dims)
        self.up2, self.db2 = _Up(4 * b, 4 * b, dims), _double(4 * b, 4 * b, 2 * b, dims)
        self.up3, self.db3 = _Up(2 * b, 2 * b, dims), _double(2 * b, 2 * b, b, dims)
        self.up4, self.db4 = _Up(b, b, dims), _double(b, b, b, dims)
        self.fin_out = _CONV[dims](b, c_out, kernel_size=3, padding=1)

    def forward(self, x: Tensor, sizes: list[tuple[int, ...]]) -> Tensor:
        x = self.db1(self.up1(x, sizes[3]))
        x = self.db2(self.up2(x, sizes[2]))
        x = self.db3(self.up3(x, sizes[1]))
        x = self.db4(self.up4(x, sizes[0]))
        return self.fin_out(x)


class ReconstructiveSubNetwork(nn.Module):
    """DRAEM's reconstructive encoder-decoder (module docstring); ``dims`` 2 or 3."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base_width: int = 128,
                 dims: int = 2):
        super().__init__()
        self.encoder = _ReconstructiveEncoder(in_channels, base_width, dims)
        self.decoder = _ReconstructiveDecoder(base_width, out_channels, dims)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(*self.encoder(x))


class _DiscriminativeEncoder(nn.Module):
    def __init__(self, c_in: int, b: int, dims: int):
        super().__init__()
        self.dims = dims
        self.block1 = _double(c_in, b, b, dims)
        self.block2 = _double(b, 2 * b, 2 * b, dims)
        self.block3 = _double(2 * b, 4 * b, 4 * b, dims)
        self.block4 = _double(4 * b, 8 * b, 8 * b, dims)
        self.block5 = _double(8 * b, 8 * b, 8 * b, dims)
        self.block6 = _double(8 * b, 8 * b, 8 * b, dims)

    def forward(self, x: Tensor) -> list[Tensor]:
        skips = [self.block1(x)]
        for stage in (self.block2, self.block3, self.block4, self.block5, self.block6):
            skips.append(stage(_down(skips[-1], self.dims)))
        return skips


class _DiscriminativeDecoder(nn.Module):
    def __init__(self, b: int, c_out: int, dims: int):
        super().__init__()
        self.up_b, self.db_b = _Up(8 * b, 8 * b, dims), _double(16 * b, 8 * b, 8 * b, dims)
        self.up1, self.db1 = _Up(8 * b, 4 * b, dims), _double(12 * b, 4 * b, 4 * b, dims)
        self.up2, self.db2 = _Up(4 * b, 2 * b, dims), _double(6 * b, 2 * b, 2 * b, dims)
        self.up3, self.db3 = _Up(2 * b, b, dims), _double(3 * b, b, b, dims)
        self.up4, self.db4 = _Up(b, b, dims), _double(2 * b, b, b, dims)
        self.fin_out = _CONV[dims](b, c_out, kernel_size=3, padding=1)

    def forward(self, skips: list[Tensor]) -> Tensor:
        b1, b2, b3, b4, b5, b6 = skips
        x = b6
        for up, db, skip in ((self.up_b, self.db_b, b5), (self.up1, self.db1, b4),
                             (self.up2, self.db2, b3), (self.up3, self.db3, b2),
                             (self.up4, self.db4, b1)):
            x = db(torch.cat((up(x, skip.shape[2:]), skip), dim=1))
        return self.fin_out(x)


class DiscriminativeSubNetwork(nn.Module):
    """DRAEM's discriminative U-Net (module docstring); ``dims`` 2 or 3."""

    def __init__(self, in_channels: int = 6, out_channels: int = 2, base_width: int = 64,
                 dims: int = 2):
        super().__init__()
        self.encoder = _DiscriminativeEncoder(in_channels, base_width, dims)
        self.decoder = _DiscriminativeDecoder(base_width, out_channels, dims)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Official ``weights_init``: conv weight N(0, 0.02), BN weight N(1, 0.02), BN bias 0; conv
    biases re-drawn with PyTorch's default rule U(±1/sqrt(fan_in)) from the same generator."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                m.weight.normal_(0.0, 0.02, generator=generator)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1.0 / math.sqrt(fan_in)
                    m.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.normal_(1.0, 0.02, generator=generator)
                m.bias.zero_()


# ------------------------------------------------------------------------------------ losses

def focal_loss(probs: Tensor, target: Tensor, gamma: float = 2.0, smooth: float = 1e-5) -> Tensor:
    """Focal loss (Lin et al., ICCV 2017) as DRAEM's official ``FocalLoss`` (α = None, γ = 2,
    smooth 1e-5): ``mean(-(1 - p_t)^γ log p_t)`` over every pixel, p_t = Σ_k ŷ_k p_k + smooth
    with the one-hot ŷ clamped to [smooth/(K-1), 1 - smooth]. ``probs``: N×K×... softmax output;
    ``target``: N×1×... (or N×...) class indices (DRAEM: the 0/1 anomaly mask)."""
    k = probs.shape[1]
    labels = target.reshape(probs.shape[0], *probs.shape[2:]).long()
    onehot = F.one_hot(labels, k).movedim(-1, 1).to(probs.dtype)
    onehot = onehot.clamp(smooth / (k - 1), 1.0 - smooth)
    pt = (onehot * probs).sum(1) + smooth
    return (-(1.0 - pt).pow(gamma) * pt.log()).mean()


# ----------------------------------------------------------------------------------- scoring

def _pool_size(pool_size, dims: int) -> tuple[int, ...]:
    size = (pool_size,) * dims if isinstance(pool_size, int) else tuple(pool_size)
    if len(size) != dims or any(not isinstance(k, int) or k < 1 or k % 2 == 0 for k in size):
        raise ValueError(f"pool_size must be {dims} odd positive integers, got {pool_size!r}")
    return size


def pooled_maps(maps: Tensor, pool_size: int | Sequence[int] = 21) -> Tensor:
    """Average-pooled anomaly maps, same shape as ``maps``.

    N×H×W: ``F.avg_pool2d(k, stride=1, padding=k // 2)`` with the zero padding counted in the
    average (official ``test_DRAEM.py``). N×D×H×W (3D DRAEM; ours): the same in-plane pooling
    (``pool_size`` = (k_d, k_h, k_w)) followed by a depth average over k_d slices that does *not*
    count padding, so the first and last slices of a chunk are not diluted by slices that do not
    exist (box averaging is separable, so with k_d = 1 this is exactly the 2D rule per slice).
    """
    if maps.dim() == 3:
        kh, kw = _pool_size(pool_size, 2)
        return F.avg_pool2d(maps[:, None], (kh, kw), stride=1, padding=(kh // 2, kw // 2))[:, 0]
    if maps.dim() == 4:
        kd, kh, kw = _pool_size(pool_size, 3)
        x = F.avg_pool3d(maps[:, None], (1, kh, kw), stride=1, padding=(0, kh // 2, kw // 2))
        if kd > 1:
            x = F.avg_pool3d(x, (kd, 1, 1), stride=1, padding=(kd // 2, 0, 0),
                             count_include_pad=False)
        return x[:, 0]
    raise ValueError(f"maps must be N×H×W or N×D×H×W, got {tuple(maps.shape)}")


def image_scores_from_maps(maps: Tensor, pool_size: int | Sequence[int] = 21) -> Tensor:
    """DRAEM's image (volume) score: max of :func:`pooled_maps`; a tensor of N scores."""
    return pooled_maps(maps, pool_size).flatten(1).amax(1)


# -------------------------------------------------------------------------------------- host

@register_host
class DRAEM(ImageHost):
    """DRAEM (Zavrtanik et al., ICCV 2021) as an :class:`ImageHost` (see the module docstring).

    ``DRAEM(size="tiny" | "paper", in_channels=3, pretrained=False, *, anomaly_source=None,
    seed=0, sspcab_networks=("discriminative",),
    ssmctb_networks=("discriminative",), anomaly_probability=0.5, beta_max=0.8, rotate_p=0.3,
    n_augmentations=3, augmentations=AUGMENTATIONS, pool_size=21)``

    * widths (reconstructive / discriminative base): paper 128 / 64, tiny 16 / 8;
    * ``anomaly_source``: a ``Dataset`` of dicts with ``image`` C×H×W in [0, 1] (e.g.
      :class:`vadlib.data.dtd.DTDTextures`, DRAEM's choice; ``HostContext.anomaly_source``) or
      None (the image itself, our fallback); ``in_channels`` must be 1 or 3 (the texture
      augmentations are RGB/grey);
    * ``seed`` seeds the weight initialisation and the host's ``numpy`` generator that draws every
      synthetic anomaly (:meth:`reset_rng` re-seeds it);
    * ``pretrained`` must be False: DRAEM trains from scratch.

    Inputs: N×C×H×W float in [0, 1], H, W ≥ 32 (five 2×2 poolings in the discriminative net).
    """

    name = "draem"
    label = "DRAEM"
    dims = 2
    needs_anomaly_source = True
    WIDTHS = {"paper": (128, 64), "tiny": (16, 8)}
    SITES = {"reconstructive": "reconstructive.decoder.db4.3",
             "discriminative": "discriminative.decoder.db4.3"}
    #: every candidate site; an instance keeps the sites its options use (module docstring)
    block_sites = tuple(SITES.values())
    block_weight = 0.1
    localizes = True
    MIN_SIZE = 32

    def __init__(self, size: str = "tiny", in_channels: int = 3, pretrained: bool = False, *,
                 anomaly_source=None, seed: int = 0,
                 sspcab_networks: Sequence[str] = ("discriminative",),
                 ssmctb_networks: Sequence[str] = ("discriminative",),
                 anomaly_probability: float = 0.5, beta_max: float = 0.8, rotate_p: float = 0.3,
                 n_augmentations: int = 3, augmentations: Sequence[str] = AUGMENTATIONS,
                 pool_size: int | Sequence[int] = 21):
        super().__init__()
        if size not in self.WIDTHS:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey) or 3 (RGB) for DRAEM's texture "
                             f"anomalies, got {in_channels!r}")
        if pretrained:
            raise ValueError("DRAEM has no pretrained backbone (both sub-networks train from "
                             "scratch); use pretrained=False")
        for name, value in (("anomaly_probability", anomaly_probability), ("beta_max", beta_max),
                            ("rotate_p", rotate_p)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        self.size, self.in_channels, self.seed = size, in_channels, int(seed)
        self.sspcab_networks = self._networks("sspcab_networks", sspcab_networks)
        self.ssmctb_networks = self._networks("ssmctb_networks", ssmctb_networks)
        used = set(self.sspcab_networks) | set(self.ssmctb_networks)
        self.block_sites = tuple(self.SITES[n] for n in NETWORKS if n in used)
        self.pool_size = _pool_size(pool_size, self.dims)
        self.anomaly_source = anomaly_source
        self.synthesis = {"anomaly_probability": float(anomaly_probability),
                          "beta_max": float(beta_max), "n_augmentations": int(n_augmentations),
                          "augmentations": tuple(augmentations)}
        self.rotate_p = float(rotate_p)
        rec_width, disc_width = self.WIDTHS[size]
        self.reconstructive = ReconstructiveSubNetwork(in_channels, in_channels, rec_width, self.dims)
        self.discriminative = DiscriminativeSubNetwork(2 * in_channels, 2, disc_width, self.dims)
        _init_weights(self, torch.Generator().manual_seed(self.seed))
        self.reset_rng()

    # ---------------------------------------------------------------- configuration
    @staticmethod
    def _networks(name: str, value: Sequence[str]) -> tuple[str, ...]:
        value = (value,) if isinstance(value, str) else tuple(value)
        bad = [v for v in value if v not in NETWORKS]
        if bad or not value:
            raise ValueError(f"{name} must be a non-empty subset of {NETWORKS}, got {value!r}")
        return tuple(n for n in NETWORKS if n in value)

    @classmethod
    def from_context(cls, ctx: HostContext, **extra) -> "DRAEM":
        """As :meth:`ImageHost.from_context`, texturing anomalies with ``ctx.anomaly_source``."""
        return super().from_context(ctx, anomaly_source=ctx.anomaly_source, **extra)

    def block_sites_for(self, block: str) -> tuple[str, ...]:
        """The layers a block of kind ``block`` replaces: "sspcab"/"sspcab3d" ->
        ``sspcab_networks`` (default the discriminative network: one instance, T L2286), "ssmctb"/"ssmctb3d" -> ``ssmctb_networks``
        (default the discriminative network, Paper D's single block)."""
        networks = self.sspcab_networks if block_family(block) == "sspcab" else self.ssmctb_networks
        return tuple(self.SITES[n] for n in networks)

    def reset_rng(self, seed: int | None = None) -> None:
        """Re-seed the generator of the synthetic anomalies (default: the constructor's seed)."""
        self.rng = np.random.default_rng(self.seed if seed is None else int(seed))

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        return Schedule(
            epochs=700, batch_size=8, lr=1e-4, optimizer="adam", milestones=(0.8, 0.9), gamma=0.2,
            source=("DRAEM official code (github.com/VitjanZ/DRAEM): train_DRAEM.py -- Adam over "
                    "both sub-networks, MultiStepLR at 0.8 and 0.9 of the epochs, gamma 0.2; "
                    "lr 1e-4, batch 8, 700 epochs are command-line arguments there, taken from "
                    "the official README's example command (paper_C.md §2: '[bg — verify]'; "
                    "verified against the README, not the paper). Same for size='tiny'."))

    # ---------------------------------------------------------------- checks
    def _check(self, images, what: str = "images") -> Tensor:
        spatial = "D×H×W" if self.dims == 3 else "H×W"
        if not isinstance(images, Tensor):
            raise ValueError(f"{what} must be a torch.Tensor N×C×{spatial}, got {type(images).__name__}")
        if images.dim() != self.dims + 2:
            raise ValueError(f"{what} must be N×C×{spatial} ({self.dims + 2}-D) for "
                             f"{type(self).__name__}, got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"{what} must be floating point in [0, 1], got {images.dtype}")
        if images.shape[0] == 0:
            raise ValueError(f"{what} is an empty batch")
        if images.shape[1] != self.in_channels:
            raise ValueError(f"{what} have {images.shape[1]} channels; this "
                             f"{type(self).__name__} was built for in_channels={self.in_channels}")
        h, w = images.shape[-2:]
        if h < self.MIN_SIZE or w < self.MIN_SIZE:
            raise ValueError(f"{what} are {h}×{w} px, too small: {type(self).__name__} needs at "
                             f"least {self.MIN_SIZE}×{self.MIN_SIZE} (five 2×2 poolings)")
        return images

    # ---------------------------------------------------------------- forward
    def anomaly_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(reconstruction, 2-channel discriminative logits) for (possibly augmented) images."""
        rec = self.reconstructive(images)
        return rec, self.discriminative(torch.cat((rec, images), dim=1))

    def training_loss(self, images: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Official training step on a batch of normal images (module docstring): returns
        (L2 + SSIM loss + focal loss, logs). The block loss is the runner's to add."""
        images = self._check(images)
        if images.detach().amin() < 0.0 or images.detach().amax() > 1.0:
            raise ValueError("images must be in [0, 1]")
        target = images
        if self.rotate_p > 0:
            target, _ = random_rotate(images, self.rng, self.rotate_p)
        augmented, mask, has = synthesize_batch(target, self.rng, self.anomaly_source,
                                                **self.synthesis)
        rec, logits = self.anomaly_logits(augmented)
        probs = torch.softmax(logits, dim=1)
        l2 = F.mse_loss(rec, target)
        ssim_loss = 1.0 - ssim(rec, target)
        seg = focal_loss(probs, mask)
        loss = l2 + ssim_loss + seg
        logs = {"loss": float(loss.detach()), "l2": float(l2.detach()),
                "ssim": float(ssim_loss.detach()), "focal": float(seg.detach()),
                "anomalous": float(has.mean())}
        return loss, logs

    @torch.no_grad()
    def anomaly_maps(self, images: Tensor) -> Tensor:
        """Softmax anomaly channel of the discriminative output, N×H×W (N×D×H×W in 3D); runs in
        eval mode and restores the previous mode."""
        images = self._check(images)
        was_training = self.training
        self.eval()
        try:
            _, logits = self.anomaly_logits(images)
        finally:
            self.train(was_training)
        return torch.softmax(logits, dim=1)[:, 1]

    @torch.no_grad()
    def score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(N image scores = max of the 21×21 average-pooled map, N×H×W anomaly maps)."""
        maps = self.anomaly_maps(images)
        return image_scores_from_maps(maps, self.pool_size), maps
