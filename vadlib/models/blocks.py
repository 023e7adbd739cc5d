"""Masked-convolution blocks of Papers C and D: SSPCAB and SSMCTB, in 2D and 3D.

* **SSPCAB** -- Ristea, Madan, Ionescu, Nasrollahi, Khan, Moeslund, Shah, "Self-Supervised
  Predictive Convolutional Attentive Block for Anomaly Detection", CVPR 2022 (thesis Paper C):
  masked convolution -> ReLU -> squeeze-and-excitation; MSE between block input and output.
* **SSMCTB** -- Madan, Ristea, Ionescu, Nasrollahi, Khan, Moeslund, Shah, "Self-Supervised Masked
  Convolutional Transformer Block for Anomaly Detection", IEEE TPAMI 46(1), 2024 (thesis Paper D):
  masked convolution (2D or 3D) -> ReLU -> channel-wise transformer (Eqs. D.1-D.6); Huber loss
  (Eq. D.7, delta = 1).

Reimplemented from the papers (the official code is CC BY-NC-SA and is not used). Every block is a
drop-in replacement for a c -> c convolution: ``forward(x)`` returns a tensor of ``x``'s shape and
leaves the self-supervised loss of that forward on ``block.loss``; the host adds
``lam * block_loss(model)`` to its own loss (Eq. C.3 / D.8; lam = 0.1 in both papers).

Placing a block (:func:`place_block`, one call for every host): a *site* is a dotted module path
with a mode, written as a string in a host's ``block_positions`` -- ``"decoder.stage1.3"``
replaces that c -> c layer (:func:`replace_layer`, the papers' usual "penultimate convolutional
layer", T 2596); ``"before:encoder.blocks.0"`` / ``"after:mae.patch_embed"`` wrap the module so
that the block runs on its input / output (:func:`insert_before`, :func:`insert_after`,
:class:`InsertedBlock`), for placements a layer swap cannot express, such as Paper D's MAE host
("before the first transformer block", T 2596). For a ViT's B×(P + HW)×D token sequences the
wrapper reshapes the HW patch tokens to a B×D×H×W map (channels = the token width D; the P
leading [CLS]/register tokens pass through) and back -- our choice, the paper does not say how.

Masked convolution geometry (Fig. C.2, Fig. D.2/D.3): the only weights are the 4 (2D) or 8 (3D)
corner sub-kernels of size k' (``kernel_size``), each at distance d (``dilation``) from the masked
centre M; footprint k = 2k' + 2d + 1, zero padding k' + d, stride 1, c filters over all c input
channels. The centre, the gap of width d around it and the cross between the corners are invisible.

Fast formulations (all exact; forward + backward of the masked conv alone, measured round-robin
by ``benchmarks/bench_blocks.py --threads 1`` on the 2-core development VM; table in
benchmarks/README.md):

* k' = 1 (the papers' default): the four corners are *one* 2x2 convolution with dilation
  2d + 2 and padding d + 1 (3D: 2x2x2, dilation 2d + 2). 3.7x faster than the literal
  four-branch sum in 2D (N=8, C=64, 64x64: 29.9 vs 110.9 ms) and 3.6x faster than the
  eight-branch sum in 3D (N=2, C=32, 8x32x32: 11.3 vs 40.2 ms); whole SSPCAB / SSMCTB3d block
  2.5x / 2.3x.
* k' > 1: three exact candidates were measured, (a) "dense": one k x k conv whose weight is the
  corner blocks scattered into a zero kernel (the fixed binary mask), (b) "shifted": the literal
  sum of four (eight) k' x k' convs on shifted crops of the padded input, (c) "expand": one
  k' x k' conv to 4c (8c) channels, then a shift-and-add of its output groups. (b) won whenever
  d >= 1, by 1.3-2.3x over (a) in 2D and 1.5-3.6x in 3D (k' in {2, 3}, d in {1, 2}); (a) won at
  d = 0, where the corners fill most of the k x k window, by 1.14-1.19x; (c) was never fastest.
  ``impl="auto"`` therefore uses (a) for d = 0 and (b) for d >= 1. Any formulation can be forced
  with ``impl=`` ("dense", "shifted", "expand", "dilated").

Parameters are stored once, compactly: ``weight`` has shape (c, c, 2k', 2k') (3D:
(c, c, 2k', 2k', 2k')) -- the four corner sub-kernels side by side with the gap removed -- and
one ``bias`` of shape (c,) (the four branch biases of the literal formulation add up to one bias,
so 4k'^2 c^2 + c parameters, not 4(k'^2 c^2 + c)). All formulations read the same tensors.

Decisions where the papers are silent (each one is a constructor argument where it matters):

* ``detach_target`` (default False): the loss is ``loss(X_hat, X)`` with gradients into both
  X_hat and X, i.e. also into the layers that produce X. The papers write L(G, X) = (G(X) - X)^2
  without a stop-gradient, and the authors' public snippets do not detach; set True to treat X as a
  fixed target.
* Loss reduction: mean over all elements (both papers' snippets use a mean).
* ``mask_size`` m (Tables C.5 and D.9; geometry not given): M is an m x m (x m) block, the corners
  keep distance d from M's border, so k = 2k' + 2d + m and the corner groups are k' + 2d + m apart.
  For odd m the output at p predicts the block centred on p; for even m the block covers offsets
  -(m-1)//2 .. m//2 (padding is then asymmetric).
* ``attention`` (Tables C.1, D.2): "ca" = SE for SSPCAB, channel-wise transformer for SSMCTB;
  "none" = masked conv + ReLU only; "sa" and "ca+sa" are named but not defined by the papers.
  SSPCAB "sa" = spatial squeeze-and-excitation (sSE: 1x1 conv c -> 1, sigmoid; Roy, Navab,
  Wachinger, MICCAI 2018); SSMCTB "sa" = the same transformer with spatial positions as tokens
  (Z pooled to ``sa_pooled_size``, one c-dim token per position, gate upsampled by nearest
  neighbour). "ca+sa" = both gates computed from Z and multiplied: X_hat = Z * s_c * s_s.
* ``conv="dilated"`` (Table D.12 "SSDCTB"; not defined further): an ordinary, unmasked conv with
  kernel 2k' + 1 and dilation d + 1 -- for k' = 1 its outer taps are exactly the masked corners,
  and it additionally sees the centre and the cross at the same distance.
* SSMCTB transformer internals (Sec. 3.2 of Paper D, Eqs. D.1-D.6), see :class:`SSMCTB`.
* ``loss="ssim"`` (Table D.2; settings not given): 1 - mean SSIM, Gaussian window 11 (sigma 1.5),
  C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = 1, per channel, "valid" window positions (Wang et al.
  2004 defaults; :func:`vadlib.models.layers.ssim` with ``padding="valid"``); 3D inputs are scored
  frame by frame.
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any, Iterable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.layers import ssim

__all__ = [
    "MaskedConv2d",
    "MaskedConv3d",
    "SSPCAB",
    "SSPCAB3d",
    "SSMCTB",
    "SSMCTB3d",
    "block_loss",
    "reconstruction_loss",
    "replace_layer",
    "BlockSite",
    "SITE_MODES",
    "InsertedBlock",
    "insert_before",
    "insert_after",
    "place_block",
    "site_channels",
    "tokens_to_map",
    "map_to_tokens",
    "make_block",
    "default_options",
    "block_family",
    "BLOCK_FAMILIES",
    "corner_offsets",
    "LOSSES",
    "ATTENTIONS",
    "CONVS",
    "IMPLS",
]

LOSSES = ("mse", "mae", "huber", "ssim")
ATTENTIONS = ("ca", "sa", "ca+sa", "none")
CONVS = ("masked", "dilated")
IMPLS = ("auto", "dilated", "dense", "shifted", "expand")

_CONV = {2: F.conv2d, 3: F.conv3d}
_POOL = {2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}


def _check_int(name: str, value, low: int, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}{what}, got {value!r}")
    return value


def _check_choice(name: str, value: str, valid: Sequence[str]) -> str:
    v = value.lower() if isinstance(value, str) else value
    if v not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {value!r}")
    return v


def _tuple(name: str, value, dims: int) -> tuple[int, ...]:
    t = (value,) * dims if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    if len(t) != dims or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in t):
        raise ValueError(f"{name} must be a positive int or {dims} positive ints, got {value!r}")
    return t


def corner_offsets(kernel_size: int = 1, dilation: int = 1, mask_size: int = 1) -> list[int]:
    """Offsets (along one axis, relative to the output position) covered by the corner sub-kernels.

    The visible positions of the masked kernel are the Cartesian product of this list with itself
    (2D) or with itself twice (3D): 4 k'^2 or 8 k'^3 positions.
    """
    lo = (mask_size - 1) // 2 + dilation + kernel_size  # distance of the far edge, before M
    hi = mask_size // 2 + dilation + 1                  # first visible offset after M
    return list(range(-lo, -lo + kernel_size)) + list(range(hi, hi + kernel_size))


# ------------------------------------------------------------------------------------------------
# Masked convolution
# ------------------------------------------------------------------------------------------------
class _MaskedConvNd(nn.Module):
    dims = 2

    def __init__(self, channels: int, kernel_size: int = 1, dilation: int = 1, *,
                 mask_size: int = 1, bias: bool = True, impl: str = "auto"):
        super().__init__()
        self.channels = _check_int("channels", channels, 1)
        self.kernel_size = _check_int("kernel_size (k')", kernel_size, 1)
        self.dilation = _check_int("dilation (d)", dilation, 0)
        self.mask_size = _check_int("mask_size", mask_size, 1)
        self.impl = _check_choice("impl", impl, IMPLS)
        if self.impl == "dilated" and kernel_size != 1:
            raise ValueError("impl='dilated' (one 2x2 dilated conv) needs kernel_size (k') = 1")
        kp, n = kernel_size, self.dims
        #: distance between the two corner groups along each axis
        self.step = kp + 2 * dilation + mask_size
        #: receptive field side k = 2k' + 2d + m
        self.receptive_field = kp + self.step
        self.pad_lo = (mask_size - 1) // 2 + dilation + kp
        self.pad_hi = mask_size // 2 + dilation + kp
        self.weight = nn.Parameter(torch.empty(channels, channels, *(2 * kp,) * n))
        self.bias = nn.Parameter(torch.empty(channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # as nn.ConvNd, with fan-in = c * (number of visible taps)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (f"{self.channels}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
             f"receptive_field={self.receptive_field}")
        if self.mask_size != 1:
            s += f", mask_size={self.mask_size}"
        return s + f", impl={self.resolved_impl()!r}"

    def resolved_impl(self) -> str:
        if self.impl != "auto":
            return self.impl
        if self.kernel_size == 1:
            return "dilated"
        return "dense" if self.dilation == 0 else "shifted"  # measured, see module docstring

    def corners(self) -> list[Tensor]:
        """The 2^dims corner sub-kernels (views of ``weight``), in itertools.product order."""
        kp = self.kernel_size
        return [self.weight[(slice(None), slice(None))
                            + tuple(slice(u * kp, (u + 1) * kp) for u in us)]
                for us in itertools.product((0, 1), repeat=self.dims)]

    def dense_weight(self) -> Tensor:
        """The full k x k (x k) kernel: corner blocks in place, zeros elsewhere (mask applied)."""
        kp, n, k = self.kernel_size, self.dims, self.receptive_field
        idx = torch.cat([torch.arange(kp), torch.arange(kp) + self.step]).to(self.weight.device)
        w = self.weight.new_zeros(self.channels, self.channels, *(k,) * n)
        grids = [idx.view(*(-1 if i == j else 1 for j in range(n))) for i in range(n)]
        w[(slice(None), slice(None), *grids)] = self.weight
        return w

    def mask(self) -> Tensor:
        """Binary k x k (x k) mask of the visible positions (1 = learnable weight)."""
        k, n = self.receptive_field, self.dims
        m = torch.zeros((k,) * n)
        vis = [o + self.pad_lo for o in corner_offsets(self.kernel_size, self.dilation,
                                                       self.mask_size)]
        for pos in itertools.product(vis, repeat=n):
            m[pos] = 1.0
        return m

    def _pad(self, x: Tensor) -> Tensor:
        return F.pad(x, (self.pad_lo, self.pad_hi) * self.dims)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.dims + 2:
            raise ValueError(f"{type(self).__name__} expects a {self.dims + 2}-D input "
                             f"(N, C, {'D, ' if self.dims == 3 else ''}H, W), got {tuple(x.shape)}")
        conv, impl, n = _CONV[self.dims], self.resolved_impl(), self.dims
        sym = self.pad_lo == self.pad_hi
        if impl == "dilated":    # k' = 1: the corners are one 2^n kernel with dilation `step`
            if sym:
                return conv(x, self.weight, self.bias, padding=self.pad_lo, dilation=self.step)
            return conv(self._pad(x), self.weight, self.bias, dilation=self.step)
        if impl == "dense":      # masked dense k^n kernel
            if sym:
                return conv(x, self.dense_weight(), self.bias, padding=self.pad_lo)
            return conv(self._pad(x), self.dense_weight(), self.bias)
        xp, size, s = self._pad(x), x.shape[2:], self.step
        if impl == "shifted":    # literal: one k'^n conv per corner on a shifted crop, summed
            out = None
            for us, w in zip(itertools.product((0, 1), repeat=n), self.corners()):
                crop = xp[(..., *(slice(u * s, u * s + sz + self.kernel_size - 1)
                                  for u, sz in zip(us, size)))]
                y = conv(crop, w)
                out = y if out is None else out + y
            return out if self.bias is None else out + self.bias.view(-1, *(1,) * n)
        # "expand": one conv c -> 2^n c with all corner kernels, then shift-and-add the groups
        c, kp = self.channels, self.kernel_size
        w = self.weight.view(c, c, *itertools.chain.from_iterable((2, kp) for _ in range(n)))
        perm = [2 + 2 * i for i in range(n)] + [0, 1] + [3 + 2 * i for i in range(n)]
        w = w.permute(*perm).reshape(2 ** n * c, c, *(kp,) * n)
        y = conv(xp, w).unflatten(1, (2 ** n, c))
        out = None
        for g, us in enumerate(itertools.product((0, 1), repeat=n)):
            part = y[(slice(None), g, slice(None),
                      *(slice(u * s, u * s + sz) for u, sz in zip(us, size)))]
            out = part if out is None else out + part
        return out if self.bias is None else out + self.bias.view(-1, *(1,) * n)


class MaskedConv2d(_MaskedConvNd):
    """2D masked convolution of SSPCAB / SSMCTB (Paper C Sec. 3, Fig. C.2; Paper D Fig. D.2).

    ``MaskedConv2d(channels, kernel_size=1, dilation=1, *, mask_size=1, bias=True, impl="auto")``
    maps (N, c, H, W) -> (N, c, H, W). Learnable weights only at the four k' x k' corner
    sub-kernels, at distance d from the masked centre; receptive field 2k' + 2d + 1; zero padding
    k' + d. ``kernel_size`` is the sub-kernel size k' (>= 1), ``dilation`` is d (>= 0; Table C.1
    uses d = 0 although the paper writes d in N+). See the module docstring for the formulations.
    """

    dims = 2


class MaskedConv3d(_MaskedConvNd):
    """3D masked convolution of SSMCTB (Paper D Sec. 3.1, Fig. D.3): eight k'^3 corner cubes.

    ``MaskedConv3d(channels, kernel_size=1, dilation=1, *, mask_size=1, bias=True, impl="auto")``
    maps (N, c, D, H, W) -> (N, c, D, H, W); receptive field (2k' + 2d + 1)^3, zero padding k' + d
    on all three axes. (Paper D writes K_i in R^{k' x k' x c}; a 3D sub-kernel is k' x k' x k' x c.)
    """

    dims = 3


def _dilated_conv(dims: int, channels: int, kernel_size: int, dilation: int) -> nn.Module:
    """Unmasked baseline of Table D.12 ("SSDCTB"): kernel 2k'+1, dilation d+1, same padding."""
    cls = nn.Conv2d if dims == 2 else nn.Conv3d
    return cls(channels, channels, 2 * kernel_size + 1, dilation=dilation + 1,
               padding=kernel_size * (dilation + 1))


# ------------------------------------------------------------------------------------------------
# Losses
# ------------------------------------------------------------------------------------------------
def reconstruction_loss(kind: str, out: Tensor, target: Tensor, delta: float = 1.0) -> Tensor:
    """A block's self-supervised loss between its output and its input: "mse", "mae", "huber"
    (threshold ``delta``) or "ssim" (1 - :func:`vadlib.models.layers.ssim` at valid positions)."""
    if kind == "mse":
        return F.mse_loss(out, target)
    if kind == "mae":
        return F.l1_loss(out, target)
    if kind == "huber":
        return F.huber_loss(out, target, delta=delta)
    return 1.0 - ssim(out, target, padding="valid")


# ------------------------------------------------------------------------------------------------
# Shared block skeleton
# ------------------------------------------------------------------------------------------------
class _SelfSupervisedBlock(nn.Module):
    """masked conv -> ReLU -> attention gate(s) -> X_hat; ``.loss`` = loss(X_hat, X)."""

    dims = 2
    default_loss = "mse"

    def __init__(self, channels: int, kernel_size: int, dilation: int, *, loss: str,
                 huber_delta: float, attention: str, conv: str, mask_size: int,
                 detach_target: bool, impl: str):
        super().__init__()
        self.channels = _check_int("channels", channels, 1)
        self.loss_type = _check_choice("loss", loss, LOSSES)
        self.attention = _check_choice("attention", attention, ATTENTIONS)
        self.conv_type = _check_choice("conv", conv, CONVS)
        if not (isinstance(huber_delta, (int, float)) and huber_delta > 0):
            raise ValueError(f"huber_delta must be a number > 0, got {huber_delta!r}")
        self.huber_delta = float(huber_delta)
        self.detach_target = bool(detach_target)
        if self.conv_type == "masked":
            cls = MaskedConv2d if self.dims == 2 else MaskedConv3d
            self.conv = cls(channels, kernel_size, dilation, mask_size=mask_size, impl=impl)
        else:
            _check_int("kernel_size (k')", kernel_size, 1)
            _check_int("dilation (d)", dilation, 0)
            if mask_size != 1:
                raise ValueError("mask_size applies to conv='masked' only")
            self.conv = _dilated_conv(self.dims, channels, kernel_size, dilation)
        self.loss: Tensor | None = None

    # subclasses set self.channel_gate / self.spatial_gate: modules mapping Z -> gate or None
    def gates(self, z: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(channel gate (N, c, 1..), spatial gate (N, 1, ...)) for Z; None where not used."""
        cg = self.channel_gate(z) if self.channel_gate is not None else None
        sg = self.spatial_gate(z) if self.spatial_gate is not None else None
        return cg, sg

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.dims + 2 or x.shape[1] != self.channels:
            raise ValueError(f"{type(self).__name__}({self.channels}) expects input "
                             f"(N, {self.channels}, {'D, ' if self.dims == 3 else ''}H, W), "
                             f"got {tuple(x.shape)}")
        z = F.relu(self.conv(x))
        cg, sg = self.gates(z)
        out = z
        if cg is not None:
            out = out * cg
        if sg is not None:
            out = out * sg
        target = x.detach() if self.detach_target else x
        self.loss = reconstruction_loss(self.loss_type, out, target, self.huber_delta)
        return out

    def extra_repr(self) -> str:
        s = f"{self.channels}, loss={self.loss_type!r}"
        if self.loss_type == "huber":
            s += f", huber_delta={self.huber_delta}"
        return s + f", attention={self.attention!r}, detach_target={self.detach_target}"


# ------------------------------------------------------------------------------------------------
# SSPCAB (Paper C)
# ------------------------------------------------------------------------------------------------
class _SE(nn.Module):
    """Squeeze-and-excitation gate (Hu et al., CVPR 2018; Eq. C.1): sigma(W2 relu(W1 mean(Z)))."""

    def __init__(self, channels: int, reduction: int, dims: int):
        super().__init__()
        self.dims = dims
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, z: Tensor) -> Tensor:
        s = z.mean(dim=tuple(range(2, z.dim())))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return s.view(*s.shape, *(1,) * self.dims)


class _SpatialSE(nn.Module):
    """Spatial squeeze, channel excitation (sSE; Roy et al., MICCAI 2018): sigma(conv1x1(Z))."""

    def __init__(self, channels: int, dims: int):
        super().__init__()
        self.proj = (nn.Conv2d if dims == 2 else nn.Conv3d)(channels, 1, 1)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.proj(z))


class SSPCAB(_SelfSupervisedBlock):
    """Self-Supervised Predictive Convolutional Attentive Block (Ristea et al., CVPR 2022).

    ``SSPCAB(channels, kernel_size=1, dilation=1, reduction=8, *, loss="mse", huber_delta=1.0,
    attention="ca", conv="masked", mask_size=1, detach_target=False, impl="auto")``

    X (N, c, H, W) -> Z = ReLU(masked conv(X)) -> X_hat = Z * s with the SE gate
    s = sigma(W2 ReLU(W1 avgpool(Z))) (Eq. C.1, hidden width c // r, both FC layers with bias).
    ``.loss`` = L_SSPCAB = mean((X_hat - X)^2) (Eq. C.2) of the last forward.
    Defaults are the paper's choice (k' = 1, d = 1, r = 8, MSE, CA; Sec. 4.2). Ablation axes:
    ``loss`` in "mse" | "mae" (Table C.1) | "huber" | "ssim"; ``attention`` in "ca" (SE, alias
    "se") | "none" | "sa" | "ca+sa" (Table C.1); ``reduction`` r in {4, 8, 16} (Table C.1);
    ``mask_size`` 1 | 3 (Table C.5); ``conv`` "masked" | "dilated". Placement (Table C.4) is the
    host's business (:func:`replace_layer`).
    """

    dims = 2

    def __init__(self, channels: int, kernel_size: int = 1, dilation: int = 1,
                 reduction: int = 8, *, loss: str = "mse", huber_delta: float = 1.0,
                 attention: str = "ca", conv: str = "masked", mask_size: int = 1,
                 detach_target: bool = False, impl: str = "auto"):
        if isinstance(attention, str) and attention.lower() == "se":
            attention = "ca"
        super().__init__(channels, kernel_size, dilation, loss=loss, huber_delta=huber_delta,
                         attention=attention, conv=conv, mask_size=mask_size,
                         detach_target=detach_target, impl=impl)
        self.reduction = reduction
        self.channel_gate = self.spatial_gate = None
        if self.attention in ("ca", "ca+sa"):
            if isinstance(reduction, bool) or not isinstance(reduction, int) or not (
                    1 <= reduction <= channels):
                raise ValueError(f"reduction must be an integer in [1, channels={channels}] so "
                                 f"that the SE hidden width channels // reduction >= 1; "
                                 f"got {reduction!r}")
            self.channel_gate = _SE(channels, reduction, self.dims)
        if self.attention in ("sa", "ca+sa"):
            self.spatial_gate = _SpatialSE(channels, self.dims)


class SSPCAB3d(SSPCAB):
    """SSPCAB on (N, c, D, H, W) with the 3D masked conv (Paper D's 3D kernel, SE over D x H x W).

    Same signature as :class:`SSPCAB`. Paper C defines only the 2D block; this is the natural 3D
    counterpart used as a baseline (a "+SSPCAB" row with a 3D host is not in the papers).
    """

    dims = 3


# ------------------------------------------------------------------------------------------------
# SSMCTB (Paper D)
# ------------------------------------------------------------------------------------------------
class _SumHeadAttention(nn.Module):
    """Multi-head self-attention with the heads *summed* (Eqs. D.3-D.4).

    Y = sum_j softmax(R W^Q_j (R W^K_j)^T / sqrt(d_q)) R W^V_j, W^Q_j, W^K_j in R^{d_t x d_q},
    W^V_j in R^{d_t x d_t} (d_v = d_t so that P = Y + R, Eq. D.5, type-checks). No biases and no
    output projection: the equations have neither. (Summing heads with d_v = d_t is a standard
    concat + W^O attention whose per-head product W^V_j W^O_j is unconstrained.)
    """

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qk = nn.Linear(dim, 2 * heads * head_dim, bias=False)
        self.v = nn.Linear(dim, heads * dim, bias=False)

    def forward(self, r: Tensor) -> Tensor:                  # r: (B, T, d_t)
        b, t, dim = r.shape
        q, k = self.qk(r).view(b, t, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        v = self.v(r).view(b, t, self.heads, dim).transpose(1, 2)   # (B, H, T, d_t)
        y = F.scaled_dot_product_attention(q, k, v)          # softmax(QK^T / sqrt(d_q)) V
        return y.sum(dim=1)                                   # sum over heads (Eq. D.4)


class _TransformerBlock(nn.Module):
    """Pre-norm block: P = f(norm(R)) + R (D.1), R = g(norm(P)) + P (D.2)."""

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_ratio: float):
        super().__init__()
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _SumHeadAttention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, r: Tensor) -> Tensor:
        p = self.attn(self.norm1(r)) + r
        return self.mlp(self.norm2(p)) + p


class _TokenTransformer(nn.Module):
    """tokens (B, T, n) -> Linear n -> d_t + position embedding -> L blocks -> mean over d_t."""

    def __init__(self, n_tokens: int, in_dim: int, token_dim: int, heads: int, blocks: int,
                 head_dim: int, mlp_ratio: float):
        super().__init__()
        self.proj = nn.Linear(in_dim, token_dim)
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, token_dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(_TransformerBlock(token_dim, heads, head_dim, mlp_ratio)
                                    for _ in range(blocks))

    def forward(self, a: Tensor) -> Tensor:                   # -> (B, T) logits R_hat
        r = self.proj(a) + self.pos                            # T* (Sec. 3.2)
        for blk in self.blocks:
            r = blk(r)
        return r.mean(dim=-1)                                  # average over the d_t features


class _ChannelTransformerGate(nn.Module):
    """Channel-wise transformer of Paper D: tokens are the c channels of Z pooled to h' x w'."""

    def __init__(self, channels, pooled_size, token_dim, heads, blocks, head_dim, mlp_ratio, dims):
        super().__init__()
        self.pooled_size, self.dims = pooled_size, dims
        self.net = _TokenTransformer(channels, math.prod(pooled_size), token_dim, heads, blocks,
                                     head_dim, mlp_ratio)

    def forward(self, z: Tensor) -> Tensor:
        a = _POOL[self.dims](z, self.pooled_size).flatten(2)   # A in R^{c x n}, n = h'w'
        s = torch.sigmoid(self.net(a))                         # sigma(R_hat) in (0, 1)^c
        return s.view(*s.shape, *(1,) * self.dims)


class _SpatialTransformerGate(nn.Module):
    """"SA" variant (not defined in Paper D): tokens are the positions of Z pooled to a grid."""

    def __init__(self, channels, grid, token_dim, heads, blocks, head_dim, mlp_ratio, dims):
        super().__init__()
        self.grid, self.dims = grid, dims
        self.net = _TokenTransformer(math.prod(grid), channels, token_dim, heads, blocks,
                                     head_dim, mlp_ratio)

    def forward(self, z: Tensor) -> Tensor:
        a = _POOL[self.dims](z, self.grid).flatten(2).transpose(1, 2)   # (B, positions, c)
        s = torch.sigmoid(self.net(a)).view(z.shape[0], 1, *self.grid)
        return F.interpolate(s, size=z.shape[2:], mode="nearest")


class SSMCTB(_SelfSupervisedBlock):
    """Self-Supervised Masked Convolutional Transformer Block (Madan et al., TPAMI 2024).

    ``SSMCTB(channels, kernel_size=1, dilation=1, *, pooled_size=1, token_dim=64, heads=4,
    blocks=2, head_dim=None, mlp_ratio=4.0, loss="huber", huber_delta=1.0, attention="ca",
    conv="masked", mask_size=1, sa_pooled_size=8, detach_target=False, impl="auto")``

    X -> Z = ReLU(masked conv(X)) -> channel-wise transformer -> X_hat = Z * sigma(R_hat)
    (Eq. D.6); ``.loss`` = mean Huber_delta(X_hat - X) (Eq. D.7, delta = 1). Defaults are the
    paper's (Sec. 4.2: k' = 1, d = 1, h' x w' = 1 x 1, d_t = 64, H = 4, L = 2, Huber delta = 1, CA).

    Channel-wise transformer, following Sec. 3.2 / Eqs. D.1-D.6:
      1. A = avgpool(Z) to h' x w' (``pooled_size``), reshaped to c tokens of length n = h'w';
      2. T = A W + b (Linear n -> d_t), T* = T + E with E a *learnable* (c, d_t) position
         embedding (type not stated; learnable as in ViT, truncated-normal std 0.02 init; the
         block therefore has to know c at construction);
      3. L pre-norm blocks (D.1, D.2): norm = LayerNorm (not named in the paper); f = multi-head
         self-attention over the c tokens with the heads summed (D.3-D.5; W^Q, W^K in
         R^{d_t x d_q} with d_q = ``head_dim``, default d_t // H as in Vaswani et al.; W^V in
         R^{d_t x d_t}; no biases, no output projection); g = MLP d_t -> mlp_ratio d_t -> d_t with
         GELU (ViT convention; not given in the paper); no dropout; no final norm;
      4. R_hat = mean over the d_t features of each token -> c scalars ("average along the token
         dimension", which can only give c x 1 this way); sigma(R_hat) scales Z per channel.

    Ablation axes as arguments: ``pooled_size``, ``token_dim``, ``heads``, ``blocks`` (Table
    D.10); ``huber_delta`` (D.11); ``conv`` "masked" | "dilated" (D.12); ``mask_size`` 1|2|3
    (D.9); ``loss`` "mae" | "mse" | "ssim" | "huber" and ``attention`` "ca" | "sa" | "ca+sa" |
    "none", ``kernel_size``, ``dilation`` (D.2). The SA variant's tokens are the positions of Z
    average-pooled to ``sa_pooled_size`` (c-dim each), its gate is upsampled (nearest) to Z's size.
    """

    dims = 2

    def __init__(self, channels: int, kernel_size: int = 1, dilation: int = 1, *,
                 pooled_size: int | Sequence[int] = 1, token_dim: int = 64, heads: int = 4,
                 blocks: int = 2, head_dim: int | None = None, mlp_ratio: float = 4.0,
                 loss: str = "huber", huber_delta: float = 1.0, attention: str = "ca",
                 conv: str = "masked", mask_size: int = 1,
                 sa_pooled_size: int | Sequence[int] = 8, detach_target: bool = False,
                 impl: str = "auto"):
        super().__init__(channels, kernel_size, dilation, loss=loss, huber_delta=huber_delta,
                         attention=attention, conv=conv, mask_size=mask_size,
                         detach_target=detach_target, impl=impl)
        self.pooled_size = _tuple("pooled_size", pooled_size, self.dims)
        self.token_dim = _check_int("token_dim (d_t)", token_dim, 1)
        self.heads = _check_int("heads (H)", heads, 1)
        self.blocks = _check_int("blocks (L)", blocks, 1)
        self.head_dim = _check_int("head_dim (d_q)", head_dim if head_dim is not None
                                   else max(1, token_dim // heads), 1)
        if not (isinstance(mlp_ratio, (int, float)) and mlp_ratio > 0):
            raise ValueError(f"mlp_ratio must be a number > 0, got {mlp_ratio!r}")
        args = (self.token_dim, self.heads, self.blocks, self.head_dim, float(mlp_ratio),
                self.dims)
        self.channel_gate = self.spatial_gate = None
        if self.attention in ("ca", "ca+sa"):
            self.channel_gate = _ChannelTransformerGate(channels, self.pooled_size, *args)
        if self.attention in ("sa", "ca+sa"):
            self.sa_pooled_size = _tuple("sa_pooled_size", sa_pooled_size, self.dims)
            self.spatial_gate = _SpatialTransformerGate(channels, self.sa_pooled_size, *args)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", pooled_size={self.pooled_size}, "
                f"token_dim={self.token_dim}, heads={self.heads}, blocks={self.blocks}")


class SSMCTB3d(SSMCTB):
    """3D SSMCTB (Paper D Sec. 3.1-3.2): 3D masked conv (eight k'^3 corners) on (N, c, D, H, W);
    the channel-wise transformer pools each channel to ``pooled_size`` = (r', h', w') (default
    1 x 1 x 1). Same signature and defaults as :class:`SSMCTB`."""

    dims = 3


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
_KINDS = {"sspcab": SSPCAB, "sspcab3d": SSPCAB3d, "ssmctb": SSMCTB, "ssmctb3d": SSMCTB3d}
#: the papers' two blocks; "sspcab3d" / "ssmctb3d" are their 3D forms
BLOCK_FAMILIES = ("sspcab", "ssmctb")


def block_family(kind: str) -> str:
    """"sspcab" or "ssmctb" for a block kind (case-insensitive, 3D forms included): hosts choose
    their block sites by family."""
    key = kind.lower() if isinstance(kind, str) else kind
    key = key[:-2] if isinstance(key, str) and key.endswith("3d") else key
    if key not in BLOCK_FAMILIES:
        raise ValueError(f"unknown block kind {kind!r}; kinds: sspcab, ssmctb (and their 3d forms)")
    return key


def make_block(kind: str, channels: int, **options) -> nn.Module:
    """Build a block by name: "sspcab", "ssmctb", "sspcab3d" or "ssmctb3d" (case-insensitive)."""
    key = _check_choice("kind", kind, tuple(_KINDS))
    return _KINDS[key](channels, **options)


def default_options(kind: str) -> dict[str, Any]:
    """The constructor options of block ``kind`` and their defaults: what ``make_block(kind, c)``
    uses for every option it is not given (so a run can leave the defaults implicit)."""
    key = _check_choice("kind", kind, tuple(_KINDS))
    parameters = inspect.signature(_KINDS[key]).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _blocks(model: nn.Module) -> Iterable[_SelfSupervisedBlock]:
    return (m for m in model.modules() if isinstance(m, _SelfSupervisedBlock))


def block_loss(model: nn.Module) -> Tensor:
    """Sum of ``.loss`` over every SSPCAB/SSMCTB block in ``model`` (the model itself included).

    Blocks that have not run yet (``.loss is None``) are skipped; a 0-dim zero tensor is returned
    when none has run. Each ``.loss`` is the loss of that block's *last* forward: call this after
    the forward pass it belongs to. Use as ``loss = host_loss + lam * block_loss(model)``.
    """
    losses = [b.loss for b in _blocks(model) if b.loss is not None]
    if not losses:
        p = next(model.parameters(), None)
        return torch.zeros((), device=p.device if p is not None else None,
                           dtype=p.dtype if p is not None and p.is_floating_point() else None)
    return torch.stack(losses).sum() if len(losses) > 1 else losses[0]


def _conv_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]


def replace_layer(model: nn.Module, name: str, block: nn.Module) -> nn.Module:
    """Replace the submodule at dotted path ``name`` (e.g. "layer1.0.conv2", "decoder.3") by
    ``block`` in place; return the module that was replaced.

    Raises ValueError when the layer does not exist (the message lists the model's conv layers,
    those with equal in/out channels -- the ones a c -> c block can stand in for -- marked),
    when a conv layer's in/out channels differ from ``block.channels`` or from each other, when
    a conv has stride != 1 (the block keeps the spatial size), or when the conv's dimensionality
    differs from the block's. Layers without ``in_channels``/``out_channels`` are replaced
    unchecked.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"layer name must be a non-empty dotted path, got {name!r}")
    parent, _, leaf = name.rpartition(".")
    try:
        owner = model.get_submodule(parent) if parent else model
        old = owner.get_submodule(leaf)
    except AttributeError:
        old = None
    if old is None or old is model:
        cands = [f"{n}{' (in = out)' if m.in_channels == m.out_channels else ''}"
                 for n, m in model.named_modules()
                 if isinstance(m, nn.modules.conv._ConvNd)]
        raise ValueError(f"no layer named {name!r} in {type(model).__name__}; conv layers: "
                         + (", ".join(cands) if cands else "(none)"))
    c_in, c_out = getattr(old, "in_channels", None), getattr(old, "out_channels", None)
    c_blk = getattr(block, "channels", None)
    if c_in is not None and c_out is not None:
        if c_in != c_out:
            raise ValueError(f"layer {name!r} maps {c_in} -> {c_out} channels; a "
                             f"{type(block).__name__} maps c -> c and can only replace a layer "
                             f"with equal in/out channels")
        if c_blk is not None and c_blk != c_in:
            raise ValueError(f"channel mismatch: layer {name!r} has {c_in} channels, "
                             f"{type(block).__name__} has {c_blk}")
    if isinstance(old, nn.modules.conv._ConvNd):
        if any(s != 1 for s in old.stride):
            raise ValueError(f"layer {name!r} has stride {old.stride}; the block keeps the "
                             f"spatial size, so it can only replace a stride-1 layer")
        bdims = getattr(block, "dims", None)
        if bdims is not None and len(old.kernel_size) != bdims:
            raise ValueError(f"layer {name!r} is a {len(old.kernel_size)}D conv, "
                             f"{type(block).__name__} is {bdims}D")
    if isinstance(owner, (nn.Sequential, nn.ModuleList)) and leaf.isdigit():
        owner[int(leaf)] = block
    else:
        setattr(owner, leaf, block)
    return old


# ------------------------------------------------------------------------------------------------
# Block sites: replacing a layer, or inserting a block before / after a module
# ------------------------------------------------------------------------------------------------
SITE_MODES = ("replace", "before", "after")


class BlockSite(NamedTuple):
    """Where a block goes in a host: the submodule at dotted path ``name`` and how.

    * ``mode="replace"``: the block stands in for that layer (:func:`replace_layer`; the papers'
      "replace the penultimate convolutional layer", T 2596);
    * ``mode="before"``: the block runs on the module's input, then the module
      (:func:`insert_before`);
    * ``mode="after"``: the module runs, then the block on its output (:func:`insert_after`).

    Hosts write sites as strings in ``block_positions`` so that every runner handles them alike:
    ``"decoder.stage1.3"`` (= ``"replace:decoder.stage1.3"``), ``"before:encoder.blocks.0"``,
    ``"after:mae.patch_embed"``. :meth:`parse` reads them, ``str(site)`` writes the canonical form
    (a plain name for "replace", so every existing host's sites are unchanged).
    """

    name: str
    mode: str = "replace"

    @classmethod
    def parse(cls, site: str | BlockSite) -> BlockSite:
        """A :class:`BlockSite` from ``"name"``, ``"replace:name"``, ``"before:name"`` or
        ``"after:name"`` (or a BlockSite, checked)."""
        if isinstance(site, BlockSite):
            name, mode = site.name, site.mode
        elif isinstance(site, str):
            mode, sep, name = site.partition(":")
            if not sep:
                mode, name = "replace", site
        else:
            raise ValueError(f"a block site is a string or a BlockSite, got {type(site).__name__}")
        mode = _check_choice("site mode", mode, SITE_MODES)
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError(f"block site {site!r} has no valid dotted layer name")
        return cls(name, mode)

    def __str__(self) -> str:
        return self.name if self.mode == "replace" else f"{self.mode}:{self.name}"


def _locate(model: nn.Module, name: str) -> tuple[nn.Module, str, nn.Module]:
    """(owner, leaf, module) of the submodule at dotted path ``name``, or ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"layer name must be a non-empty dotted path, got {name!r}")
    parent, _, leaf = name.rpartition(".")
    try:
        owner = model.get_submodule(parent) if parent else model
        module = owner.get_submodule(leaf)
    except AttributeError:
        module = None
    if module is None or module is model:
        names = [n for n, _ in model.named_children()]
        raise ValueError(f"no submodule named {name!r} in {type(model).__name__}; its children: "
                         + (", ".join(names) if names else "(none)"))
    return owner, leaf, module


def _assign(owner: nn.Module, leaf: str, module: nn.Module) -> None:
    if isinstance(owner, (nn.Sequential, nn.ModuleList)) and leaf.isdigit():
        owner[int(leaf)] = module
    else:
        setattr(owner, leaf, module)


def tokens_to_map(tokens: Tensor, grid: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Split a token sequence B×T×D into its P = T - prod(grid) leading (prefix) tokens B×P×D
    and the rest as a feature map B×D×(grid) (row-major: token P + i·W + j is position (i, j))."""
    if tokens.dim() != 3:
        raise ValueError(f"tokens must be B×T×D, got shape {tuple(tokens.shape)}")
    b, t, d = tokens.shape
    n = math.prod(grid)
    if t < n:
        raise ValueError(f"{t} tokens cannot fill a {'×'.join(map(str, grid))} grid: the block needs "
                         f"the full patch grid here (a token-dropping encoder, e.g. MAE's, only "
                         f"sees the visible patches after its masking step)")
    prefix, patches = tokens[:, :t - n], tokens[:, t - n:]
    return prefix, patches.transpose(1, 2).reshape(b, d, *grid)


def map_to_tokens(prefix: Tensor, feature_map: Tensor) -> Tensor:
    """Inverse of :func:`tokens_to_map`: B×P×D prefix and B×D×(grid) map -> B×(P + prod(grid))×D."""
    return torch.cat([prefix, feature_map.flatten(2).transpose(1, 2)], dim=1)


class InsertedBlock(nn.Module):
    """A module with a block run on its input (``mode="before"``) or on its output (``"after"``).

    ``InsertedBlock(block, module, mode="before", grid=None)``; ``forward(x, *args, **kwargs)``
    is ``module(block'(x), *args, **kwargs)`` or ``block'(module(x, *args, **kwargs))``, where
    block' is the block on feature maps and, for token sequences, this reshape (the papers do not
    say how a conv block sees a ViT's tokens; Paper D puts it "before the first transformer block",
    T 2596):

    * a tensor with ``block.dims + 2`` dimensions (N×C×H×W, N×C×D×H×W) goes to the block as is;
    * a B×T×D token sequence is read as P = T - prod(``grid``) leading tokens ([CLS], registers)
      followed by the patch tokens in row-major grid order (the ViT/timm layout); the patch tokens
      become a B×D×gh×gw map (channels = the token width D), the block runs on it, and the result
      is flattened back in the same order; the prefix tokens pass through unchanged. With an
      identity block the round trip is exact (a reshape and a transpose, no arithmetic).

    ``grid`` is the patch grid (gh, gw) -- or (gt, gh, gw) for a 3D block -- needed only for token
    inputs; fewer than prod(grid) tokens is an error (no guessing at a partial grid). The wrapped
    module stays reachable as ``.module`` (its parameters are renamed ``<name>.module.*``), the
    block as ``.block`` (so :func:`block_loss` finds it).
    """

    def __init__(self, block: nn.Module, module: nn.Module, mode: str = "before",
                 grid: Sequence[int] | None = None):
        super().__init__()
        self.mode = _check_choice("mode", mode, ("before", "after"))
        self.block, self.module = block, module
        self.grid = None if grid is None else tuple(int(g) for g in grid)
        dims = getattr(block, "dims", None)
        if self.grid is not None and (any(g < 1 for g in self.grid)
                                      or (dims is not None and len(self.grid) != dims)):
            raise ValueError(f"grid {grid!r} does not suit a {dims}D block")

    def apply_block(self, x: Tensor) -> Tensor:
        """The block on ``x``: directly on a feature map, through :func:`tokens_to_map` on tokens."""
        dims = getattr(self.block, "dims", 2)
        if x.dim() == dims + 2:
            return self.block(x)
        if x.dim() == 3:
            if self.grid is None:
                raise ValueError(f"{type(self.block).__name__} got tokens {tuple(x.shape)} but no "
                                 f"patch grid is known: give grid= (or a `token_grid` attribute "
                                 f"on the model, or `grid_size` on the wrapped module)")
            prefix, fmap = tokens_to_map(x, self.grid)
            return map_to_tokens(prefix, self.block(fmap))
        raise ValueError(f"a {dims}D block takes N×C×{'D×' if dims == 3 else ''}H×W maps or B×T×D "
                         f"tokens, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor, *args, **kwargs):
        if self.mode == "before":
            return self.module(self.apply_block(x), *args, **kwargs)
        return self.apply_block(self.module(x, *args, **kwargs))

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}" + (f", grid={self.grid}" if self.grid is not None else "")


def _grid_for(model: nn.Module, module: nn.Module, grid) -> tuple[int, ...] | None:
    # explicit > the wrapped module's own grid (timm PatchEmbed.grid_size) > the host's token_grid
    for value in (grid, getattr(module, "grid_size", None), getattr(model, "token_grid", None)):
        if value is not None:
            return tuple(int(g) for g in value)
    return None


def _insert(model: nn.Module, name: str, block: nn.Module, mode: str, grid) -> InsertedBlock:
    owner, leaf, module = _locate(model, name)
    if isinstance(module, InsertedBlock):
        raise ValueError(f"{name!r} already has a block inserted; one block per site")
    wrapper = InsertedBlock(block, module, mode, _grid_for(model, module, grid))
    _assign(owner, leaf, wrapper)
    return wrapper


def insert_before(model: nn.Module, name: str, block: nn.Module,
                  grid: Sequence[int] | None = None) -> InsertedBlock:
    """Wrap the submodule at dotted path ``name`` so that ``block`` runs on its input first;
    return the :class:`InsertedBlock` wrapper (now at ``name``).

    Token inputs (B×T×D) are reshaped to the patch grid as :class:`InsertedBlock` documents; the
    grid is ``grid``, else the wrapped module's ``grid_size`` attribute, else ``model.token_grid``.
    Paper D's placement for the MAE host, "before the first transformer block" (T 2596).
    """
    return _insert(model, name, block, "before", grid)


def insert_after(model: nn.Module, name: str, block: nn.Module,
                 grid: Sequence[int] | None = None) -> InsertedBlock:
    """Wrap the submodule at ``name`` so that ``block`` runs on its output; as
    :func:`insert_before` otherwise (e.g. on a ViT's patch embedding: the full token grid)."""
    return _insert(model, name, block, "after", grid)


def _width(module: nn.Module, mode: str) -> int | None:
    """Channels / token width a module takes ("before") or gives ("after"), or None."""
    attrs = ("in_channels", "in_features") if mode == "before" else ("out_channels", "out_features")
    for attr in attrs:
        if isinstance(getattr(module, attr, None), int):
            return getattr(module, attr)
    shape = getattr(module, "normalized_shape", None)
    if shape:
        return int(shape[-1])
    return None


def site_channels(model: nn.Module, site: str | BlockSite) -> int:
    """The channel count c of the c -> c block that ``site`` takes.

    * "replace": the layer's ``out_channels`` (what the video run has always used);
    * "before": the module's ``in_channels`` / ``in_features`` / ``normalized_shape[-1]``, else
      that of its first submodule that has one (a pre-norm transformer block: ``norm1``);
    * "after": ``out_channels`` / ``out_features`` / ``normalized_shape[-1]``, else that of its
      last submodule that has one (a patch embedding: ``proj.out_channels``).

    For token sequences this is the token width D. ValueError when none is found.
    """
    site = BlockSite.parse(site)
    _, _, module = _locate(model, site.name)
    if site.mode == "replace":
        c = getattr(module, "out_channels", None)
    else:
        mods = list(module.modules())
        c = next((w for w in (_width(m, site.mode) for m in
                              (mods if site.mode == "before" else [module] + mods[:0:-1]))
                  if w is not None), None)
    if not isinstance(c, int):
        raise ValueError(f"cannot tell the channel count at block site {str(site)!r} "
                         f"({type(module).__name__}); build the block yourself and pass it")
    return c


def place_block(model: nn.Module, site: str | BlockSite, block, *,
                grid: Sequence[int] | None = None) -> nn.Module:
    """Put a block at ``site`` (a :class:`BlockSite` or its string form) and return the block.

    ``block`` is a module, or a callable ``channels -> module`` that is called with
    :func:`site_channels` (so a runner need not know what kind of layer a site is):
    ``place_block(host, site, lambda c: make_block("ssmctb", c))``. Dispatches to
    :func:`replace_layer` ("replace", unchanged behaviour and checks), :func:`insert_before` or
    :func:`insert_after` (``grid`` as there).
    """
    site = BlockSite.parse(site)
    if not isinstance(block, nn.Module):
        if not callable(block):
            raise ValueError(f"block must be an nn.Module or a callable channels -> module, "
                             f"got {type(block).__name__}")
        block = block(site_channels(model, site))
    if site.mode == "replace":
        replace_layer(model, site.name, block)
        return block
    c_blk = getattr(block, "channels", None)
    if c_blk is not None:
        try:
            c = site_channels(model, site)
        except ValueError:
            c = None
        if c is not None and c != c_blk:
            raise ValueError(f"channel mismatch: site {str(site)!r} has {c} channels, "
                             f"{type(block).__name__} has {c_blk}")
    (insert_before if site.mode == "before" else insert_after)(model, site.name, block, grid)
    return block
