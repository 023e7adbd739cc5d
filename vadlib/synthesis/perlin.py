"""DRAEM's anomaly simulation: Perlin-noise masks filled with augmented texture.

Zavrtanik, Kristan, Skočaj, "DRAEM - A discriminatively trained reconstruction embedding for
surface anomaly detection", ICCV 2021, Sec. 3.3 and Fig. 4. Reimplemented here from the paper and
from the hyperparameters of the official code (``github.com/VitjanZ/DRAEM``, MIT licence,
``data_loader.py`` / ``perlin.py``, read for settings only; no code copied).

One synthetic anomaly (:func:`synthesize`), for an image ``I`` (C×H×W) or a volume (C×D×H×W) in
[0, 1]:

1. **Mask.** Perlin noise (:func:`perlin_noise`, gradient noise with quintic fade) with a lattice of
   ``2**k`` cells per axis, ``k`` drawn uniformly from {0, ..., 5} independently per axis (official
   ``perlin_scale = 6``, ``min_perlin_scale = 0``); the noise is rotated by an angle drawn uniformly
   from [-90°, 90°] (official ``iaa.Affine(rotate=(-90, 90))``: bilinear, zero fill; volumes: every
   slice rotated in-plane by the same angle) and thresholded at 0.5 -> binary mask ``M``.
2. **Texture.** ``A`` = an image drawn uniformly from the anomaly-source set (DRAEM: DTD), resized
   to the image size, then 3 of the 10 augmentations of the official code, drawn without
   replacement and applied in the drawn order (:data:`AUGMENTATIONS`). With no source set, ``A`` is
   the image itself (``anomaly_source=None``; **our** fallback -- DRAEM always uses an external
   set -- so the host can train without DTD; it is also the default source of the 3D host, see
   :mod:`vadlib.models.draem3d`).
3. **Blend** (official ``augment_image``)::

       I_a = (1 - M) ⊙ I + M ⊙ (β I + (1 - β) A),    β ~ U[0, 0.8)

   i.e. β is the weight of the *image* inside the mask and the texture's opacity is
   1 - β ∈ (0.2, 1]. Outside the mask ``I_a`` equals ``I`` exactly (computed with ``where``).
   Note: the brief of this module (and a literal reading of "β·texture") puts β on the texture;
   we follow the official code, where a texture weight near 0 -- an anomaly that the mask
   marks but that does not exist -- cannot occur.
4. **No anomaly half the time.** With probability 1 - ``anomaly_probability`` = 0.5 (official
   ``no_anomaly > 0.5``) the image is returned unchanged with an empty mask. ``has_anomaly`` is 1
   only when an anomaly was drawn *and* its mask is not empty (as in the official code).

The ten augmentations (official list: ``GammaContrast((0.5, 2), per_channel)``,
``MultiplyAndAddToBrightness(mul=(0.8, 1.2), add=(-30, 30))``, ``pillike.EnhanceSharpness()``,
``AddToHueAndSaturation((-50, 50), per_channel)``, ``Solarize(0.5, threshold=(32, 128))``,
``Posterize()``, ``Invert()``, ``pillike.Autocontrast()``, ``pillike.Equalize()``,
``Affine(rotate=(-45, 45))``), all ten implemented here with numpy / OpenCV on uint8 RGB, written
from their definitions (imgaug itself is not a dependency):

=============== ===========================================================================
gamma           per channel ``255 (x/255)^g``, g ~ U(0.5, 2) per channel
brightness      Y channel of YCrCb: ``Y·m + a``, m ~ U(0.8, 1.2), a ~ U(-30, 30) (imgaug picks
                one of several colour spaces at random; we always use YCrCb)
sharpness       PIL's ``ImageEnhance.Sharpness``: blend with the 3×3 "smooth" filter
                (1 1 1 / 1 5 1 / 1 1 1)/13 (border pixels kept), factor ~ U(0, 2)
hue_saturation  OpenCV HSV: hue += h·180/255 (cyclic), saturation += s (clipped),
                h, s ~ U{-50..50} independently
solarize        with probability 0.5: x ≥ t -> 255 - x, t ~ U(32, 128)
posterize       keep the ``b`` high bits (PIL ``ImageOps.posterize``), b ~ U{1..8} (imgaug's
                ``Posterize`` quantises to 2^b levels at the bin centres instead)
invert          255 - x
autocontrast    per channel, cut c % of the pixels at both ends of the histogram and stretch
                to [0, 255] (PIL semantics), c ~ U{0..20}
equalize        per-channel histogram equalisation with PIL's ``ImageOps.equalize`` lookup rule
rotate          rotation about the centre by U(-45°, 45°), bilinear, zero fill
=============== ===========================================================================

For volumes, every augmentation draws its parameters once and applies them to every slice (the
intensity ones to the whole volume's histogram). Grey images (C = 1) are augmented as RGB with the
grey value in all three channels and converted back with the ITU-R 601 luma weights
(0.299, 0.587, 0.114) -- so hue/saturation changes leave a grey texture almost unchanged; an RGB
source for a grey image is converted the same way.

Decisions of ours where DRAEM is silent (it only ever runs at 256×256):

* Perlin lattice: the noise is evaluated at ``x_i = i · res / size`` (as the official grid), which
  works for any size; the number of cells per axis is clamped to ``max(1, size // 8)`` so a cell
  spans at least 8 pixels -- the official finest lattice, 32 cells on 256 px. At 256 px the clamp
  never binds; on small test images (64 px: at most 8 cells) it keeps the mask from degenerating
  (at one cell per pixel every pixel is a lattice point, where Perlin noise is exactly 0).
* Amplitude: 2D noise is multiplied by sqrt(2), the official factor (range [-1, 1]); thresholded
  at 0.5 it keeps about 5 % of the pixels on average (measured: 5.0 % at 256 px, 4.6 % at 64 px;
  about 7 % of the draws are empty). 3D noise (gradients uniform on the sphere) has a smaller
  spread, and with the analogous factor 2/sqrt(3) only about 0.7 % of the voxels pass 0.5; we
  multiply it by 1.6 instead, which matches the 2D noise's standard deviation (0.31 measured)
  and so keeps about 5 % of the voxels, like the 2D masks.

Everything random comes from a ``numpy.random.Generator`` passed in, so a host owning one seeded
generator is reproducible run to run.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "AUGMENTATIONS",
    "perlin_noise",
    "perlin_mask",
    "rotate_planes",
    "augment_texture",
    "blend",
    "synthesize",
    "synthesize_batch",
    "random_rotate",
    "gamma_contrast",
    "brightness",
    "sharpness",
    "hue_saturation",
    "solarize",
    "posterize",
    "invert",
    "autocontrast",
    "equalize",
    "rotate",
]

LUMA = (0.299, 0.587, 0.114)
#: noise amplitude per number of axes (2D: the official sqrt(2); 3D: matches the 2D spread)
AMPLITUDE = {2: math.sqrt(2.0), 3: 1.6}


# ------------------------------------------------------------------------------------ noise

def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def perlin_noise(shape: Sequence[int], res: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Perlin gradient noise on a grid of ``shape`` (2 or 3 axes) with ``res`` lattice cells per
    axis; float32 array of ``shape``, 0 at every lattice point.

    Pixel ``i`` of an axis sits at lattice coordinate ``i · res / size``; random unit gradients at
    the (res + 1) lattice points of each axis, dot products with the offsets to the cell corners,
    interpolated with the quintic fade 6t^5 - 15t^4 + 10t^3 (Perlin, SIGGRAPH 2002); scaled by
    :data:`AMPLITUDE` (2D: sqrt(2), values in [-1, 1]; 3D: 1.6, see the module docstring).
    """
    shape = tuple(int(s) for s in shape)
    res = tuple(int(r) for r in res)
    n = len(shape)
    if n not in (2, 3) or len(res) != n:
        raise ValueError(f"shape and res must both have 2 or 3 entries, got {shape} and {res}")
    if min(shape) < 1 or min(res) < 1:
        raise ValueError(f"shape and res must be positive, got {shape} and {res}")
    lattice = tuple(r + 1 for r in res)
    if n == 2:  # uniform angles, as the official code
        angles = 2.0 * math.pi * rng.random(lattice)
        grads = np.stack((np.cos(angles), np.sin(angles)), axis=-1)
    else:  # uniform on the sphere: normalised Gaussian vectors
        grads = rng.standard_normal((*lattice, 3))
        grads /= np.maximum(np.linalg.norm(grads, axis=-1, keepdims=True), 1e-12)
    # The sum over the 2^n cell corners of fade weights × (gradient · offset) is separable:
    # for gradient component a it is G_a contracted along every axis with an s × (r + 1)
    # interpolation matrix -- fade weights (B) on the other axes, fade weights × offsets (A) on
    # axis a. Exact, and far cheaper than gathering gradients per pixel.
    mats_a, mats_b = [], []
    for size, cells in zip(shape, res):
        coord = np.arange(size) * (cells / size)
        cell = np.minimum(np.floor(coord).astype(np.int64), cells - 1)
        frac = coord - cell
        w1 = _fade(frac)
        rows = np.arange(size)
        a_mat, b_mat = np.zeros((size, cells + 1)), np.zeros((size, cells + 1))
        b_mat[rows, cell], b_mat[rows, cell + 1] = 1.0 - w1, w1
        a_mat[rows, cell], a_mat[rows, cell + 1] = (1.0 - w1) * frac, w1 * (frac - 1.0)
        mats_a.append(a_mat)
        mats_b.append(b_mat)
    letters, outs = "ijk"[:n], "xyz"[:n]
    spec = letters + "," + ",".join(o + l for o, l in zip(outs, letters)) + "->" + outs
    out = sum(np.einsum(spec, grads[..., a], *[mats_a[ax] if ax == a else mats_b[ax]
                                               for ax in range(n)], optimize=True)
              for a in range(n))
    return (out * AMPLITUDE[n]).astype(np.float32)


def rotate_planes(array: np.ndarray, angle: float, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Rotate every H×W plane of ``array`` (shape (..., H, W)) by ``angle`` degrees about the
    plane's centre (counter-clockwise), zero fill; float32 or uint8 in, same dtype out."""
    if angle == 0:
        return array.copy()
    h, w = array.shape[-2:]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(angle), 1.0)
    planes = np.ascontiguousarray(array).reshape(-1, h, w)
    out = np.empty_like(planes)
    for k, plane in enumerate(planes):
        out[k] = cv2.warpAffine(plane, matrix, (w, h), flags=interpolation,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.reshape(array.shape)


def _lattice(shape: Sequence[int], rng: np.random.Generator, max_scale_exp: int,
             min_cell: int) -> tuple[int, ...]:
    exps = rng.integers(0, max_scale_exp, size=len(shape))
    return tuple(int(min(2 ** int(e), max(1, s // min_cell))) for e, s in zip(exps, shape))


def perlin_mask(shape: Sequence[int], rng: np.random.Generator, *, threshold: float = 0.5,
                max_scale_exp: int = 6, min_cell: int = 8, max_angle: float = 90.0,
                ) -> tuple[np.ndarray, dict[str, Any]]:
    """DRAEM's anomaly mask: bool array of ``shape`` (H×W or D×H×W) and the draw's parameters
    (``res``: cells per axis, ``angle``: degrees).

    Lattice cells per axis ``2**k``, k ~ U{0, ..., max_scale_exp - 1}, clamped to
    ``max(1, size // min_cell)``; noise rotated in-plane by U(-max_angle, max_angle) degrees
    (zero fill); mask = noise > ``threshold``.
    """
    shape = tuple(int(s) for s in shape)
    res = _lattice(shape, rng, max_scale_exp, min_cell)
    noise = perlin_noise(shape, res, rng)
    angle = float(rng.uniform(-max_angle, max_angle)) if max_angle else 0.0
    noise = rotate_planes(noise, angle)
    return noise > threshold, {"res": res, "angle": angle}


# ---------------------------------------------------------------------------- augmentations
# Each works on a uint8 stack S×H×W×3 (S slices of an RGB image; S = 1 for a 2D image) with
# explicit parameters; _SAMPLERS draws the parameters as the official code's augmenters do.

def _lut(x: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Apply one 256-entry lookup table per channel (luts: 3×256 or 256)."""
    luts = np.broadcast_to(np.asarray(luts), (3, 256))
    out = np.empty_like(x)
    for c in range(3):
        out[..., c] = luts[c].astype(np.uint8)[x[..., c]]
    return out


def _as_rows(x: np.ndarray) -> np.ndarray:
    """S×H×W×3 -> (S·H)×W×3, for OpenCV colour conversions (pixelwise)."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[-2], 3)


def gamma_contrast(x: np.ndarray, gamma: Sequence[float]) -> np.ndarray:
    """255 · (x / 255) ** gamma_c per channel c."""
    levels = np.arange(256) / 255.0
    luts = np.stack([np.clip(np.round(255.0 * levels ** g), 0, 255) for g in np.broadcast_to(gamma, 3)])
    return _lut(x, luts)


def brightness(x: np.ndarray, mul: float, add: float) -> np.ndarray:
    """Y ← clip(Y · mul + add) in YCrCb (Cr, Cb kept)."""
    ycc = cv2.cvtColor(_as_rows(x), cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = np.clip(np.round(ycc[..., 0].astype(np.float32) * mul + add), 0, 255).astype(np.uint8)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB).reshape(x.shape)


def sharpness(x: np.ndarray, factor: float) -> np.ndarray:
    """PIL ``ImageEnhance.Sharpness``: degenerate = 3×3 smooth filter (border kept);
    out = degenerate + factor · (x - degenerate) (factor 1: identity, 0: smoothed)."""
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32) / 13.0
    out = np.empty_like(x)
    for k, plane in enumerate(x):
        img = plane.astype(np.float32)
        degenerate = img.copy()
        if img.shape[0] > 2 and img.shape[1] > 2:
            smooth = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE)
            degenerate[1:-1, 1:-1] = np.round(smooth[1:-1, 1:-1])
        out[k] = np.clip(np.round(degenerate + factor * (img - degenerate)), 0, 255).astype(np.uint8)
    return out


def hue_saturation(x: np.ndarray, hue: int, saturation: int) -> np.ndarray:
    """OpenCV HSV: H ← (H + hue·180/255) mod 180, S ← clip(S + saturation)."""
    hsv = cv2.cvtColor(_as_rows(x), cv2.COLOR_RGB2HSV).astype(np.int32)
    hsv[..., 0] = (hsv[..., 0] + int(round(hue * 180 / 255))) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + int(saturation), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).reshape(x.shape)


def solarize(x: np.ndarray, threshold: float | None) -> np.ndarray:
    """Values ≥ threshold inverted (255 - x); ``None``: unchanged."""
    if threshold is None:
        return x.copy()
    return np.where(x >= threshold, 255 - x, x).astype(np.uint8)


def posterize(x: np.ndarray, bits: int) -> np.ndarray:
    """Keep the ``bits`` most significant bits of every value."""
    return (x & np.uint8((0xFF << (8 - int(bits))) & 0xFF)).astype(np.uint8)


def invert(x: np.ndarray) -> np.ndarray:
    return (255 - x).astype(np.uint8)


def autocontrast(x: np.ndarray, cutoff: float) -> np.ndarray:
    """PIL ``ImageOps.autocontrast`` semantics, per channel: remove ``N · cutoff // 100`` pixels
    from each end of the histogram, then map the remaining [lo, hi] linearly onto [0, 255]
    (``floor(i · 255/(hi - lo) - lo · 255/(hi - lo))``, clipped; identity when hi <= lo)."""
    luts = []
    for c in range(3):
        hist = np.bincount(x[..., c].ravel(), minlength=256)
        cut = int(hist.sum() * cutoff // 100)
        lo = int(np.searchsorted(np.cumsum(hist), cut, side="right"))
        hi = 255 - int(np.searchsorted(np.cumsum(hist[::-1]), cut, side="right"))
        if hi <= lo:
            luts.append(np.arange(256))
            continue
        scale = 255.0 / (hi - lo)
        luts.append(np.clip(np.floor(np.arange(256) * scale - lo * scale), 0, 255))
    return _lut(x, np.stack(luts))


def equalize(x: np.ndarray) -> np.ndarray:
    """Per-channel histogram equalisation (PIL ``ImageOps.equalize`` lookup rule:
    step = (N - count of the last used level) // 255, lut[i] = (step//2 + cumcount(<i)) // step)."""
    luts = []
    for c in range(3):
        hist = np.bincount(x[..., c].ravel(), minlength=256)
        used = np.nonzero(hist)[0]
        step = (hist.sum() - hist[used[-1]]) // 255 if len(used) else 0
        if step == 0:
            luts.append(np.arange(256))
            continue
        before = np.concatenate(([0], np.cumsum(hist)[:-1]))
        luts.append(np.minimum(255, (step // 2 + before) // step))
    return _lut(x, np.stack(luts))


def rotate(x: np.ndarray, angle: float) -> np.ndarray:
    """Every slice rotated by ``angle`` degrees about its centre, bilinear, zero fill."""
    return np.moveaxis(rotate_planes(np.moveaxis(x, -1, 1), angle), 1, -1).copy()


_SAMPLERS: dict[str, tuple[Callable[[np.random.Generator], dict], Callable[..., np.ndarray]]] = {
    "gamma": (lambda r: {"gamma": r.uniform(0.5, 2.0, size=3)}, gamma_contrast),
    "brightness": (lambda r: {"mul": r.uniform(0.8, 1.2), "add": r.uniform(-30.0, 30.0)}, brightness),
    "sharpness": (lambda r: {"factor": r.uniform(0.0, 2.0)}, sharpness),
    "hue_saturation": (lambda r: {"hue": int(r.integers(-50, 51)),
                                  "saturation": int(r.integers(-50, 51))}, hue_saturation),
    "solarize": (lambda r: {"threshold": r.uniform(32.0, 128.0) if r.random() < 0.5 else None},
                 solarize),
    "posterize": (lambda r: {"bits": int(r.integers(1, 9))}, posterize),
    "invert": (lambda r: {}, invert),
    "autocontrast": (lambda r: {"cutoff": int(r.integers(0, 21))}, autocontrast),
    "equalize": (lambda r: {}, equalize),
    "rotate": (lambda r: {"angle": r.uniform(-45.0, 45.0)}, rotate),
}
#: the official code's ten texture augmentations, in its order
AUGMENTATIONS = tuple(_SAMPLERS)


def augment_texture(x: np.ndarray, rng: np.random.Generator, n: int = 3,
                    names: Sequence[str] = AUGMENTATIONS) -> tuple[np.ndarray, list[str]]:
    """``n`` augmentations drawn without replacement from ``names`` and applied in the drawn
    order to a uint8 stack S×H×W×3 (or one H×W×3 image); returns (augmented, names applied)."""
    unknown = [a for a in names if a not in _SAMPLERS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; known: {', '.join(AUGMENTATIONS)}")
    if not 0 <= n <= len(names):
        raise ValueError(f"n must be in [0, {len(names)}], got {n}")
    if x.dtype != np.uint8 or x.shape[-1] != 3 or x.ndim not in (3, 4):
        raise ValueError(f"texture must be uint8 H×W×3 or S×H×W×3, got {x.dtype} {x.shape}")
    single = x.ndim == 3
    out = x[None] if single else x
    chosen = [names[i] for i in rng.choice(len(names), size=n, replace=False)]
    for name in chosen:
        sample, apply = _SAMPLERS[name]
        out = apply(out, **sample(rng))
    return (out[0] if single else out), chosen


# ------------------------------------------------------------------------------- synthesis

def blend(image: torch.Tensor, texture: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """(1 - M) ⊙ I + M ⊙ (β I + (1 - β) A), exactly ``image`` where ``mask`` is 0 (official
    ``augment_image``). ``mask`` broadcasts over the channels (1×... or same shape)."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    return torch.where(mask.bool(), beta * image + (1.0 - beta) * texture, image)


def _to_stack(t: torch.Tensor) -> np.ndarray:
    """C×H×W or C×D×H×W float [0, 1] (C = 1 or 3) -> uint8 S×H×W×3."""
    arr = np.round(t.detach().float().clamp(0, 1).cpu().numpy() * 255.0).astype(np.uint8)
    if arr.ndim == 3:
        arr = arr[:, None]
    arr = np.moveaxis(arr, 0, -1)  # S×H×W×C
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr)


def _from_stack(arr: np.ndarray, channels: int, spatial_dims: int) -> torch.Tensor:
    """uint8 S×H×W×3 -> float C×(D×)H×W in [0, 1] with C = 1 (luma) or 3."""
    x = torch.from_numpy(arr.astype(np.float32) / 255.0)
    if channels == 1:
        x = (x * torch.tensor(LUMA)).sum(-1, keepdim=True)
    x = x.movedim(-1, 0)  # C×S×H×W
    return x[:, 0] if spatial_dims == 2 else x


def _match(t: torch.Tensor, channels: int, spatial: tuple[int, ...]) -> torch.Tensor:
    """Source image/volume -> float tensor with ``channels`` (1 or 3) and ``spatial`` shape."""
    t = torch.as_tensor(t).float()
    if t.dim() == 2:
        t = t[None]
    if len(spatial) == 3 and t.dim() == 3:  # a 2D texture for a volume: constant along depth
        t = t[:, None].expand(t.shape[0], spatial[0], *t.shape[1:])
    if t.dim() != len(spatial) + 1:
        raise ValueError(f"anomaly source item of shape {tuple(t.shape)} cannot texture an input "
                         f"of spatial shape {spatial}")
    if tuple(t.shape[1:]) != spatial:
        mode = "bilinear" if len(spatial) == 2 else "trilinear"
        t = F.interpolate(t[None], size=spatial, mode=mode, align_corners=False)[0]
    if t.shape[0] == channels:
        return t.clamp(0, 1)
    if t.shape[0] == 3 and channels == 1:
        return (t * torch.tensor(LUMA).view(3, *(1,) * len(spatial))).sum(0, keepdim=True).clamp(0, 1)
    if t.shape[0] == 1 and channels == 3:
        return t.expand(3, *spatial).clamp(0, 1)
    raise ValueError(f"anomaly source has {t.shape[0]} channels; the input has {channels}")


def _source_item(source, index: int) -> torch.Tensor:
    item = source[index]
    if isinstance(item, dict):
        for key in ("image", "volume"):
            if key in item:
                return item[key]
        raise ValueError("anomaly source items must hold an 'image' or a 'volume' tensor")
    return item[0] if isinstance(item, (tuple, list)) else item


def synthesize(image: torch.Tensor, rng: np.random.Generator, anomaly_source=None, *,
               anomaly_probability: float = 0.5, beta_max: float = 0.8, threshold: float = 0.5,
               max_scale_exp: int = 6, min_cell: int = 8, max_angle: float = 90.0,
               n_augmentations: int = 3, augmentations: Sequence[str] = AUGMENTATIONS,
               return_info: bool = False):
    """One DRAEM anomaly (module docstring): ``image`` C×H×W or C×D×H×W in [0, 1], C = 1 or 3.

    Returns ``(augmented, mask, has_anomaly)``: ``augmented`` like ``image``, ``mask`` float
    1×H×W (1×D×H×W) of 0/1, ``has_anomaly`` a float scalar tensor (1.0 or 0.0); with
    ``return_info=True`` also a dict: ``anomaly`` (drawn), and when drawn ``res``, ``angle``,
    ``beta``, ``augmentations``, ``source_index`` (None = the image itself) and ``texture`` (the
    augmented texture A, like ``image``).

    ``anomaly_source``: a ``Dataset`` whose items hold ``image`` (C×H×W, e.g.
    :class:`vadlib.data.dtd.DTDTextures`) or ``volume`` (C×D×H×W, e.g.
    :class:`vadlib.data.brats.BraTSVolumes`) in [0, 1]; resized to the input's size; a 2D texture
    for a volume is repeated along depth. ``None``: the image itself (our fallback).
    """
    if not isinstance(image, torch.Tensor) or image.dim() not in (3, 4):
        raise ValueError(f"image must be a C×H×W or C×D×H×W tensor, got "
                         f"{getattr(image, 'shape', type(image))}")
    channels, spatial = image.shape[0], tuple(image.shape[1:])
    if channels not in (1, 3):
        raise ValueError(f"DRAEM's anomaly synthesis needs 1 (grey) or 3 (RGB) channels, got {channels}")
    if not 0.0 <= beta_max <= 1.0:
        raise ValueError(f"beta_max must be in [0, 1], got {beta_max}")
    empty = torch.zeros((1, *spatial), dtype=image.dtype, device=image.device)
    zero = torch.zeros((), dtype=image.dtype, device=image.device)
    if rng.random() >= anomaly_probability:
        out = (image.clone(), empty, zero)
        return (*out, {"anomaly": False}) if return_info else out
    mask_np, info = perlin_mask(spatial, rng, threshold=threshold, max_scale_exp=max_scale_exp,
                                min_cell=min_cell, max_angle=max_angle)
    if anomaly_source is not None:
        if len(anomaly_source) == 0:
            raise ValueError("the anomaly source is empty")
        index = int(rng.integers(len(anomaly_source)))
        source = _match(_source_item(anomaly_source, index), channels, spatial)
    else:
        index, source = None, image
    stack, applied = augment_texture(_to_stack(source), rng, n_augmentations, augmentations)
    texture = _from_stack(stack, channels, len(spatial)).to(image.device, image.dtype)
    beta = float(rng.uniform(0.0, beta_max))
    mask = torch.from_numpy(mask_np[None]).to(image.device)
    augmented = blend(image, texture, mask, beta)
    mask = mask.to(image.dtype)
    has = (mask.amax() > 0).to(image.dtype)
    if not return_info:
        return augmented, mask, has
    info.update(anomaly=True, beta=beta, augmentations=applied, source_index=index, texture=texture)
    return augmented, mask, has, info


def synthesize_batch(images: torch.Tensor, rng: np.random.Generator, anomaly_source=None,
                     return_info: bool = False, **options):
    """:func:`synthesize` for every image of a batch N×C×H×W (or N×C×D×H×W), each with its own
    draws; returns ``(augmented N×C×..., mask N×1×..., has_anomaly N)`` (+ list of infos)."""
    if not isinstance(images, torch.Tensor) or images.dim() not in (4, 5):
        raise ValueError(f"images must be N×C×H×W or N×C×D×H×W, got "
                         f"{getattr(images, 'shape', type(images))}")
    results = [synthesize(img, rng, anomaly_source, return_info=return_info, **options)
               for img in images]
    augmented = torch.stack([r[0] for r in results])
    masks = torch.stack([r[1] for r in results])
    has = torch.stack([r[2] for r in results])
    if return_info:
        return augmented, masks, has, [r[3] for r in results]
    return augmented, masks, has


def random_rotate(images: torch.Tensor, rng: np.random.Generator, p: float = 0.3,
                  max_angle: float = 90.0) -> tuple[torch.Tensor, list[float]]:
    """DRAEM's augmentation of the *normal* training image (official ``transform_image``): with
    probability ``p`` (0.3: ``rand > 0.7``) rotate by U(-max_angle, max_angle) degrees, bilinear,
    zero fill; volumes in-plane, every slice by the same angle. Returns (images, angles), angle 0
    for the images left alone."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    out, angles = [], []
    for img in images:
        angle = float(rng.uniform(-max_angle, max_angle)) if rng.random() < p else 0.0
        angles.append(angle)
        if angle == 0.0:
            out.append(img)
            continue
        arr = img.detach().float().cpu().numpy().astype(np.float32)
        out.append(torch.from_numpy(rotate_planes(arr, angle)).to(img.device, img.dtype))
    return torch.stack(out), angles
