"""Layers and image measures that several hosts share, each implemented once here.

* :func:`conv_bn_relu` / :func:`double_conv_bn_relu` -- 3×3 convolution (padding 1), batch norm,
  ReLU, 2D or 3D; the building unit of DRAEM, 3D DRAEM, MNAD and NSA.
* :func:`ssim` -- mean structural similarity (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004)
  with a Gaussian window, in the two forms the project uses: ``padding="same"`` (DRAEM's loss,
  as its official code) and ``padding="valid"`` (the SSIM reconstruction loss of the blocks).
* :func:`psnr` -- peak signal-to-noise ratio of images in [0, 1] (FFP's and MNAD's frame score).
* :func:`minmax` -- min-max normalisation over one video (the video hosts' frame scores).

Each form reproduces, bit for bit, the code it replaced (``tests/models/test_layers.py`` checks
the outputs against ones saved from the old functions).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["conv_bn_relu", "double_conv_bn_relu", "ssim", "psnr", "minmax", "SSIM_PADDINGS"]

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_BN = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}

#: the two ways :func:`ssim` treats the image border
SSIM_PADDINGS = ("same", "valid")


# ------------------------------------------------------------------------------------ layers

def conv_bn_relu(c_in: int, c_out: int, *, dims: int = 2, bias: bool = True,
                 inplace: bool = False) -> list[nn.Module]:
    """``[conv 3×3 (padding 1, stride 1), BatchNorm, ReLU]`` as a list (to splice into an
    ``nn.Sequential``; index 0 is the conv). ``dims`` 2 or 3 (3×3×3 kernels); ``bias``: whether
    the conv has one (NSA: no); ``inplace``: the ReLU's flag (DRAEM: True)."""
    if dims not in _CONV:
        raise ValueError(f"dims must be 2 or 3, got {dims!r}")
    return [_CONV[dims](c_in, c_out, kernel_size=3, padding=1, bias=bias), _BN[dims](c_out),
            nn.ReLU(inplace=inplace)]


def double_conv_bn_relu(c_in: int, c_out: int, *, mid: int | None = None, dims: int = 2,
                        bias: bool = True, inplace: bool = False) -> nn.Sequential:
    """Two :func:`conv_bn_relu` in a row, c_in -> ``mid`` (default c_out) -> c_out; the convs
    are at indices 0 and 3 (index 3, a stride-1 conv, is where the papers put a block)."""
    mid = c_out if mid is None else mid
    return nn.Sequential(*conv_bn_relu(c_in, mid, dims=dims, bias=bias, inplace=inplace),
                         *conv_bn_relu(mid, c_out, dims=dims, bias=bias, inplace=inplace))


# ------------------------------------------------------------------------------------ SSIM

def _same_blur(window: int, sigma: float, x: Tensor) -> Callable[[Tensor], Tensor]:
    """One 2D Gaussian kernel (outer product of a 1D window computed in float64, then cast to
    the input's dtype), zero padding ``window // 2``: maps keep the image's size (DRAEM)."""
    channels = x.shape[1]
    t = torch.arange(window, device=x.device, dtype=torch.float64) - window // 2
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = (g / g.sum()).to(x.dtype)
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, window, window).contiguous()
    return lambda image: F.conv2d(image, kernel, padding=window // 2, groups=channels)


def _valid_blur(window: int, sigma: float, x: Tensor) -> Callable[[Tensor], Tensor]:
    """A separable Gaussian (rows, then columns; the window computed in the input's dtype) at the
    valid positions only; the window shrinks to the image's smaller side (kept odd)."""
    channels = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    size -= 1 - size % 2
    t = torch.arange(size, device=x.device, dtype=x.dtype) - (size - 1) / 2
    g = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    rows = g.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    columns = g.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    return lambda image: F.conv2d(F.conv2d(image, rows, groups=channels), columns, groups=channels)


def ssim(x: Tensor, y: Tensor, window: int = 11, sigma: float = 1.5, data_range: float = 1.0,
         padding: str = "same") -> Tensor:
    """Mean SSIM of ``x`` and ``y``: N×C×H×W, or N×C×D×H×W scored as 2D SSIM on every depth
    slice (frame). Per channel, with local means, variances and covariance from a Gaussian window
    ``window``×``window`` of standard deviation ``sigma``:

        SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
        C1 = (0.01 L)², C2 = (0.03 L)², L = ``data_range``,

    averaged over every position and channel (and slice). ``padding``:

    * ``"same"``: zero padding ``window // 2``, every pixel is a position (DRAEM's official
      ``ssim``; the window is one 2D kernel);
    * ``"valid"``: only the positions where the window fits (the reference definition, as
      scikit-image's ``structural_similarity(gaussian_weights=True)``); the window shrinks to the
      image's smaller side when the image is smaller than it.
    """
    if padding not in SSIM_PADDINGS:
        raise ValueError(f"padding must be one of {SSIM_PADDINGS}, got {padding!r}")
    if x.dim() == 5:
        n, c, d, h, w = x.shape
        x = x.transpose(1, 2).reshape(n * d, c, h, w)
        y = y.transpose(1, 2).reshape(n * d, c, h, w)
    if padding == "same":
        blur = _same_blur(window, sigma, x)
        # t ** 2 here, t * t below: the same values, but their gradients round differently, and
        # each form keeps the arithmetic of the code it replaced
        square = lambda t: t ** 2  # noqa: E731
    else:
        blur = _valid_blur(window, sigma, x)
        square = lambda t: t * t  # noqa: E731
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - square(mu_x)
    var_y = blur(y * y) - square(mu_y)
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((square(mu_x) + square(mu_y) + c1) * (var_x + var_y + c2))
    return s.mean()


# ------------------------------------------------------------------------------------ scores

def psnr(prediction: Tensor, target: Tensor, eps: float = 1e-10) -> Tensor:
    """PSNR in dB of each image of a batch, peak 1: ``10 log10(1 / mean((p - t)²))`` over all
    but the first dimension (images in [0, 1]); the MSE is floored at ``eps``."""
    mse = (prediction - target).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(eps))


def minmax(values: np.ndarray) -> np.ndarray:
    """(v − min) / (max − min) over one video (float64); all zeros when the video's values are
    constant or there are none."""
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min() if values.size else 0.0
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)
