"""NSA anomaly synthesis: scaled patches of another normal image, Poisson-blended into the target.

Schlüter, Tan, Hou, Kainz, "Natural Synthetic Anomalies for Self-Supervised Anomaly Detection and
Localization", ECCV 2022 (arXiv 2109.15222; the thesis's Paper D cites it as [57] and uses its
"logistic" variant as a host). Reimplemented from the paper's description; the numbers of the
official code (github.com/hmsch/natural-synthetic-anomalies, ``train_mvtec.py``; no licence file)
were read for the hyperparameter tables below only.

Recipe for one target image (:meth:`NSASynthesizer.__call__`):

1. ``num_patches`` attempts; the first is always made, each further one with probability 1/2.
2. Patch size: half-height and half-width are drawn independently as
   ``(lower + Gamma(shape, scale)) * side`` (``gamma_params`` = (shape, scale, lower)), clipped to
   ``width_bounds`` (half-widths as fractions of the side). A source rectangle of that size is
   cut from the *source* image (another normal image) at a uniformly random centre; with a
   foreground (object categories) the centre is redrawn (up to 200 times) until more than
   ``min_object_pct`` of the rectangle is source foreground.
3. Scaling: the patch is resized by ``s = clip(N(1, 0.5), *resize_bounds)`` keeping its aspect
   ratio (bilinear, ``cv2.resize``), shrunk further if it would not fit inside the image with a
   1-pixel margin.
4. Destination: a uniformly random position with the patch at least 1 pixel from the image border
   (OpenCV zeroes the mask's outer ring). With a foreground the position is redrawn (up to 200
   times) until the source foreground covers more than ``min_object_pct`` of the patch and more
   than ``min_overlap_pct`` of it lands on target foreground.
5. Blend mask = the patch rectangle (AND (source fg OR target fg) with a foreground), then Poisson
   image editing (Pérez, Gangnet, Blake, SIGGRAPH 2003) with ``cv2.seamlessClone``:
   ``NORMAL_CLONE`` (source gradients) for objects, ``MIXED_CLONE`` for textures, as the NSA
   code's evaluation notebook states ("we use mixed for textures and normal for objects").
   Patches whose mask has fewer than ``min_area`` pixels are skipped (NSA: 50; seamlessClone
   fails on tiny masks).
6. Label. ``diff`` = mean over channels of |blended - original| in 0..255 intensity units;
   ``changed`` = diff > ``tol`` inside the patch mask, cleaned with a 5x5 median filter;
   "logistic" label = ``changed * sigmoid(k * (median_disk5(diff * changed) - x0))`` with the
   per-category (k, x0) of the official code; "binary" label = ``changed``.

What OpenCV's seamlessClone computes (established against an independent sparse solve, see
tests/models/test_nsa.py): with R the bounding rectangle of the mask and E the mask eroded three
times by a 3x3 square, it solves the discrete 5-point Poisson equation on the interior of R,
with the target as Dirichlet boundary on R's outer ring and guidance field = forward differences
of the source on E and of the target elsewhere; MIXED_CLONE picks, per pixel and channel, the
source's (gx, gy) where |gx_src - gy_src| > |gx_tgt - gy_tgt| (OpenCV's rule), else the target's.
Two OpenCV traps handled here: seamlessClone writes into the mask array it is given (we pass a
copy), and the centre must be a tuple of Python ints.

Decisions where the paper/code leave room (each documented in the host's report):

* Every pixel outside the returned patch mask is left *bitwise* unchanged: for non-rectangular
  masks OpenCV also rewrites pixels of R outside the mask; those are restored (the NSA code keeps
  them, and additionally blends the common background into the mask; we do not).
* The label is forced to 0 outside the patch mask (NSA's 5x5 median of ``changed`` can switch on
  a pixel just outside an L-shaped union of patches).
* Foreground ("skip_background" in NSA) is the simple rule of the official code: a pixel is
  foreground when |mean intensity - brightness| > threshold, cleaned by a 7x7 median filter; an
  explicit mask can be passed instead.
* Images are 8-bit for OpenCV: the float image is rounded to uint8 for blending and the blended
  pixels (inside the mask only) are returned as uint8 / 255.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import cv2
import numpy as np
import torch
from scipy import ndimage
from scipy.special import expit

__all__ = [
    "NSASynthesizer",
    "nsa_settings",
    "seamless_clone",
    "logistic_label",
    "foreground_mask",
    "synthesize_batch",
    "WIDTH_BOUNDS",
    "NUM_PATCHES",
    "LOGISTIC_PARAMS",
    "MIN_OBJECT_PCT",
    "MIN_OVERLAP_PCT",
    "BACKGROUND",
    "EPOCHS",
    "TEXTURES",
]

MODES = {"normal": cv2.NORMAL_CLONE, "mixed": cv2.MIXED_CLONE}
LABEL_MODES = ("logistic", "binary")

# --- per-category settings of the official NSA code (train_mvtec.py), MVTec AD ------------------
TEXTURES = ("carpet", "grid", "leather", "tile", "wood")
#: half-widths of the patch as fractions of the side: ((h_min, h_max), (w_min, w_max))
WIDTH_BOUNDS = {
    "bottle": ((0.03, 0.4), (0.03, 0.4)), "cable": ((0.05, 0.4), (0.05, 0.4)),
    "capsule": ((0.03, 0.15), (0.03, 0.4)), "hazelnut": ((0.03, 0.35), (0.03, 0.35)),
    "metal_nut": ((0.03, 0.4), (0.03, 0.4)), "pill": ((0.03, 0.2), (0.03, 0.4)),
    "screw": ((0.03, 0.12), (0.03, 0.12)), "toothbrush": ((0.03, 0.4), (0.03, 0.2)),
    "transistor": ((0.03, 0.4), (0.03, 0.4)), "zipper": ((0.03, 0.4), (0.03, 0.2)),
    "carpet": ((0.03, 0.4), (0.03, 0.4)), "grid": ((0.03, 0.4), (0.03, 0.4)),
    "leather": ((0.03, 0.4), (0.03, 0.4)), "tile": ((0.03, 0.4), (0.03, 0.4)),
    "wood": ((0.03, 0.4), (0.03, 0.4)),
}
NUM_PATCHES = {"bottle": 3, "cable": 3, "capsule": 3, "hazelnut": 3, "metal_nut": 3, "pill": 3,
               "screw": 4, "toothbrush": 3, "transistor": 3, "zipper": 4, "carpet": 4, "grid": 4,
               "leather": 4, "tile": 4, "wood": 4}
#: (k, x0) of the logistic label, intensity differences in 0..255 units
LOGISTIC_PARAMS = {"bottle": (1 / 12, 24), "cable": (1 / 12, 24), "capsule": (1 / 2, 4),
                   "hazelnut": (1 / 12, 24), "metal_nut": (1 / 3, 7), "pill": (1 / 3, 7),
                   "screw": (1, 3), "toothbrush": (1 / 6, 15), "transistor": (1 / 6, 15),
                   "zipper": (1 / 6, 15), "carpet": (1 / 3, 7), "grid": (1 / 3, 7),
                   "leather": (1 / 3, 7), "tile": (1 / 3, 7), "wood": (1 / 6, 15)}
MIN_OBJECT_PCT = {"bottle": 0.7, "capsule": 0.7, "hazelnut": 0.7, "metal_nut": 0.5, "pill": 0.7,
                  "screw": 0.5, "toothbrush": 0.25, "zipper": 0.7}
MIN_OVERLAP_PCT = {"bottle": 0.25, "capsule": 0.25, "hazelnut": 0.25, "metal_nut": 0.25,
                   "pill": 0.25, "screw": 0.25, "toothbrush": 0.25, "zipper": 0.25}
#: (background brightness, threshold) of the foreground rule, 0..255 units
BACKGROUND = {"bottle": (200, 60), "screw": (200, 60), "capsule": (200, 60), "zipper": (200, 60),
              "hazelnut": (20, 20), "pill": (20, 20), "toothbrush": (20, 20),
              "metal_nut": (20, 20)}
#: training epochs (unaligned objects get more)
EPOCHS = {"bottle": 320, "cable": 320, "capsule": 320, "hazelnut": 560, "metal_nut": 560,
          "pill": 320, "screw": 560, "toothbrush": 320, "transistor": 320, "zipper": 320,
          "carpet": 320, "grid": 320, "leather": 320, "tile": 320, "wood": 320}


def nsa_settings(category: str | None) -> dict:
    """Keyword arguments of :class:`NSASynthesizer` for an MVTec AD category as the official code
    sets them (textures: mixed clone, resize bounds (0.5, 2), no foreground; objects: normal
    clone, resize bounds (0.7, 1.3), foreground rule where the code has one). ``None``: the
    defaults of the class (the code's ``patch_ex`` defaults, normal clone)."""
    if category is None:
        return {}
    if category not in WIDTH_BOUNDS:
        raise ValueError(f"unknown MVTec AD category {category!r}; "
                         f"categories: {', '.join(sorted(WIDTH_BOUNDS))}")
    texture = category in TEXTURES
    return {
        "width_bounds": WIDTH_BOUNDS[category],
        "num_patches": NUM_PATCHES[category],
        "logistic_params": LOGISTIC_PARAMS[category],
        "mode": "mixed" if texture else "normal",
        "resize_bounds": (0.5, 2.0) if texture else (0.7, 1.3),
        "background": None if texture else BACKGROUND.get(category),
        "min_object_pct": MIN_OBJECT_PCT.get(category, 0.25),
        "min_overlap_pct": MIN_OVERLAP_PCT.get(category, 0.25),
    }


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------
def _as_hwc_u8(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (0..255), got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"{name} must be H×W, H×W×1 or H×W×3, got shape {image.shape}")
    return image


def foreground_mask(image: np.ndarray, background: tuple[float, float]) -> np.ndarray:
    """Object foreground by NSA's rule: |mean over channels - brightness| > threshold, then a 7x7
    median filter against grain. ``image`` uint8 H×W(×C); returns bool H×W."""
    image = _as_hwc_u8(image, "image")
    brightness, threshold = background
    fg = (np.abs(image.mean(axis=2) - brightness) > threshold).astype(np.uint8)
    return cv2.medianBlur(fg, 7).astype(bool)


def seamless_clone(source: np.ndarray, target: np.ndarray, mask: np.ndarray,
                   mode: str = "normal") -> np.ndarray:
    """Poisson-blend ``source`` into ``target`` inside ``mask`` with ``cv2.seamlessClone``.

    ``source`` and ``target`` are uint8 H×W×C (C = 1 or 3) *aligned* images (the source pixel at
    (y, x) lands at (y, x)); ``mask`` bool H×W must stay 1 pixel away from the image border.
    Returns the blended uint8 image; pixels outside ``mask`` are the target's, bitwise.
    """
    source, target = _as_hwc_u8(source, "source"), _as_hwc_u8(target, "target")
    if source.shape != target.shape:
        raise ValueError(f"source {source.shape} and target {target.shape} differ in shape")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != target.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match the image {target.shape[:2]}")
    if mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
        raise ValueError("mask touches the image border; keep a 1-pixel margin")
    ys, xs = np.nonzero(mask)
    if len(ys) == 0 or np.ptp(ys) < 2 or np.ptp(xs) < 2:
        return target.copy()
    y0, x0 = int(ys.min()), int(xs.min())
    h, w = int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1
    centre = (x0 + w // 2, y0 + h // 2)  # OpenCV: roi = (cx - w/2, cy - h/2, w, h)
    gray = target.shape[2] == 1
    src3 = np.repeat(source, 3, axis=2) if gray else np.ascontiguousarray(source)
    dst3 = np.repeat(target, 3, axis=2) if gray else np.ascontiguousarray(target)
    m8 = mask.astype(np.uint8) * 255  # fresh array: seamlessClone writes into its mask
    out = cv2.seamlessClone(src3, dst3, m8, centre, MODES[mode])
    out = out[..., :1] if gray else out
    return np.where(mask[..., None], out, target)


_DISK5 = np.hypot(*np.mgrid[-5:6, -5:6]) <= 5  # skimage.morphology.disk(5)


def logistic_label(original: np.ndarray, blended: np.ndarray, mask: np.ndarray, *,
                   logistic_params: tuple[float, float] = (1 / 6, 20), tol: float = 1.0,
                   smooth: bool = True, label_mode: str = "logistic") -> np.ndarray:
    """Per-pixel NSA target (float32 H×W, in [0, 1], 0 outside ``mask``).

    ``diff`` = mean over channels of |blended - original| (images uint8, so 0..255 units);
    ``changed`` = (diff > tol) & mask, cleaned by a 5x5 median filter when ``smooth``;
    logistic: ``changed * 1 / (1 + exp(-k (d - x0)))`` with d the median of ``diff * changed``
    over a radius-5 disk (``smooth``) or ``diff`` itself (``smooth=False``); binary: ``changed``.
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {', '.join(LABEL_MODES)}, got {label_mode!r}")
    original, blended = _as_hwc_u8(original, "original"), _as_hwc_u8(blended, "blended")
    mask = np.asarray(mask, dtype=bool)
    diff = np.abs(blended.astype(np.float64) - original.astype(np.float64)).mean(axis=2)
    changed = (diff > tol) & mask
    label = np.zeros(mask.shape, np.float32)
    if not changed.any():
        return label
    if smooth:
        changed = cv2.medianBlur(changed.astype(np.uint8), 5).astype(bool) & mask
        if not changed.any():
            return label
    if label_mode == "binary":
        return changed.astype(np.float32)
    k, x0 = logistic_params
    d = diff * changed
    if smooth:  # median over a disk of radius 5, computed on the bounding box (+5 px) only
        ys, xs = np.nonzero(changed)
        r0, r1 = max(ys.min() - 6, 0), min(ys.max() + 7, d.shape[0])
        c0, c1 = max(xs.min() - 6, 0), min(xs.max() + 7, d.shape[1])
        crop = np.zeros_like(d)
        crop[r0:r1, c0:c1] = ndimage.median_filter(d[r0:r1, c0:c1], footprint=_DISK5,
                                                   mode="reflect")
        d = crop
    label[changed] = expit(k * (d[changed] - x0))
    return label


# ------------------------------------------------------------------------------------------------
# The synthesiser
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NSASynthesizer:
    """NSA's self-supervised anomalies (see the module docstring for the recipe).

    Defaults are the official code's: ``patch_ex`` defaults for the MVTec settings "Shift-
    Intensity" (gamma_params (2, 0.05, 0.03), resize, shift, another image as source, normal
    clone, logistic labels), logistic (k, x0) = (1/6, 20) of ``patch_ex`` and the MVTec width
    bounds ((0.03, 0.4), (0.03, 0.4)). Use ``NSASynthesizer(**nsa_settings(category))`` for the
    per-category values.
    """

    num_patches: int = 3
    width_bounds: tuple[tuple[float, float], tuple[float, float]] = ((0.03, 0.4), (0.03, 0.4))
    gamma_params: tuple[float, float, float] | None = (2.0, 0.05, 0.03)
    resize: bool = True
    resize_bounds: tuple[float, float] = (0.7, 1.3)
    mode: str = "normal"
    label_mode: str = "logistic"
    logistic_params: tuple[float, float] = (1 / 6, 20)
    tol: float = 1.0
    background: tuple[float, float] | None = None
    min_object_pct: float = 0.25
    min_overlap_pct: float = 0.25
    min_area: int = 50
    attempts: int = 200

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.label_mode not in LABEL_MODES:
            raise ValueError(f"label_mode must be one of {', '.join(LABEL_MODES)}, "
                             f"got {self.label_mode!r}")
        if not isinstance(self.num_patches, int) or self.num_patches < 1:
            raise ValueError(f"num_patches must be an integer >= 1, got {self.num_patches!r}")
        for lo, hi in self.width_bounds:
            if not 0 < lo <= hi <= 0.5:
                raise ValueError(f"width_bounds are half-widths in (0, 0.5], got "
                                 f"{self.width_bounds!r}")

    def replace(self, **changes) -> "NSASynthesizer":
        return replace(self, **changes)

    # -- sampling --------------------------------------------------------------------------
    def _half(self, side: int, bounds: tuple[float, float], rng: np.random.Generator) -> int:
        lo, hi = max(1, round(bounds[0] * side)), max(1, round(bounds[1] * side))
        if self.gamma_params is not None:
            shape, scale, lower = self.gamma_params
            return int(np.clip(round((lower + rng.gamma(shape, scale)) * side), lo, hi))
        return int(rng.integers(lo, hi + 1))

    def _one_patch(self, current, source, tgt_fg, src_fg, rng):
        H, W = current.shape[:2]
        (bh, bw) = self.width_bounds
        half_h, half_w = self._half(H, bh, rng), self._half(W, bw, rng)
        min_h, min_w = max(1, round(bh[0] * H)), max(1, round(bw[0] * W))
        # 1. source rectangle
        for _ in range(self.attempts):
            cy = int(rng.integers(min_h, max(H - min_h, min_h + 1)))
            cx = int(rng.integers(min_w, max(W - min_w, min_w + 1)))
            r0, r1 = max(cy - half_h, 0), min(cy + half_h, H)
            c0, c1 = max(cx - half_w, 0), min(cx + half_w, W)
            if r1 - r0 < 3 or c1 - c0 < 3:
                continue
            if src_fg is None or src_fg[r0:r1, c0:c1].mean() > self.min_object_pct:
                break
        else:
            return None
        patch = source[r0:r1, c0:c1]
        pfg = None if src_fg is None else src_fg[r0:r1, c0:c1]
        h, w = patch.shape[:2]
        # 2. scaling, aspect ratio kept, fits with a 1-pixel margin
        s = float(np.clip(rng.normal(1.0, 0.5), *self.resize_bounds)) if self.resize else 1.0
        s = min(s, (H - 2) / h, (W - 2) / w)
        nh, nw = max(3, int(round(s * h))), max(3, int(round(s * w)))
        if (nh, nw) != (h, w):
            patch = cv2.resize(patch, (nw, nh), interpolation=cv2.INTER_LINEAR)
            patch = patch.reshape(nh, nw, -1)
            if pfg is not None:
                pfg = cv2.resize(pfg.astype(np.uint8), (nw, nh),
                                 interpolation=cv2.INTER_NEAREST).astype(bool)
        # 3. destination
        for _ in range(self.attempts):
            y = int(rng.integers(1, H - 1 - nh + 1))
            x = int(rng.integers(1, W - 1 - nw + 1))
            if pfg is None:
                break
            dfg = tgt_fg[y:y + nh, x:x + nw]
            if (pfg.mean() > self.min_object_pct
                    and (pfg & dfg).sum() / max(pfg.sum(), 1) > self.min_overlap_pct):
                break
        else:
            return None
        mask = np.zeros((H, W), bool)
        mask[y:y + nh, x:x + nw] = True if pfg is None else (pfg | tgt_fg[y:y + nh, x:x + nw])
        if mask.sum() < self.min_area:
            return None
        canvas = current.copy()
        canvas[y:y + nh, x:x + nw] = patch
        return seamless_clone(canvas, current, mask, self.mode), mask

    def __call__(self, target: np.ndarray, source: np.ndarray, rng: np.random.Generator, *,
                 target_foreground: np.ndarray | None = None,
                 source_foreground: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(anomalous uint8 image shaped like ``target``, label float32 H×W, patch mask bool H×W).

        ``target``/``source``: uint8 H×W(×1|×3) normal images of the same shape. Foregrounds
        (bool H×W) restrict patches to the object; when not given and ``background`` is set,
        they are computed with :func:`foreground_mask`.
        """
        squeeze = np.asarray(target).ndim == 2
        tgt, src = _as_hwc_u8(target, "target"), _as_hwc_u8(source, "source")
        if tgt.shape != src.shape:
            raise ValueError(f"target {tgt.shape} and source {src.shape} differ in shape")
        H, W = tgt.shape[:2]
        if min(H, W) < 8:
            raise ValueError(f"images must be at least 8×8 px for patch synthesis, got {H}×{W}")
        if self.background is not None:
            if target_foreground is None:
                target_foreground = foreground_mask(tgt, self.background)
            if source_foreground is None:
                source_foreground = foreground_mask(src, self.background)
        if (target_foreground is None) != (source_foreground is None):
            raise ValueError("give both target_foreground and source_foreground, or neither")
        if target_foreground is not None:
            target_foreground = np.asarray(target_foreground, bool)
            source_foreground = np.asarray(source_foreground, bool)
        current, mask = tgt.copy(), np.zeros((H, W), bool)
        for i in range(self.num_patches):
            if i > 0 and rng.integers(2) == 0:
                continue
            made = self._one_patch(current, src, target_foreground, source_foreground, rng)
            if made is not None:
                current, m = made
                mask |= m
        label = logistic_label(tgt, current, mask, logistic_params=self.logistic_params,
                               tol=self.tol, label_mode=self.label_mode)
        return (current[..., 0] if squeeze else current), label, mask


def synthesize_batch(images: torch.Tensor, rng: np.random.Generator,
                     synthesizer: NSASynthesizer | None = None,
                     foregrounds: Sequence[np.ndarray] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """NSA anomalies for a batch of normal images (N×C×H×W float in [0, 1], C = 1 or 3).

    Image i takes its patches from image j = (i + U{1..N-1}) mod N, another image of the batch
    (itself when N = 1). Returns (anomalous images N×C×H×W float32 on ``images``' device, labels
    N×1×H×W float32, patch masks N×1×H×W bool). Every pixel the blend did not change (all
    those outside the mask among them) equals the input pixel bitwise; a changed pixel is the
    blended uint8 value / 255.
    """
    synthesizer = synthesizer or NSASynthesizer()
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be N×C×H×W with C = 1 or 3, got {tuple(images.shape)}")
    x = images.detach().to("cpu", torch.float32)
    u8 = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    n = len(u8)
    out, labels, masks = x.clone(), torch.zeros(n, 1, *x.shape[2:]), torch.zeros(
        n, 1, *x.shape[2:], dtype=torch.bool)
    for i in range(n):
        j = (i + int(rng.integers(1, n))) % n if n > 1 else i
        fg_i = fg_j = None
        if foregrounds is not None:
            fg_i, fg_j = foregrounds[i], foregrounds[j]
        blended, label, mask = synthesizer(u8[i], u8[j], rng, target_foreground=fg_i,
                                           source_foreground=fg_j)
        # replace only the pixels the blend changed (all inside the mask), so that every other
        # pixel keeps its exact float value
        touched = torch.from_numpy(mask & np.any(blended.reshape(u8[i].shape) != u8[i], axis=2))
        b = torch.from_numpy(blended.reshape(u8[i].shape).astype(np.float32) / 255.0)
        out[i] = torch.where(touched, b.permute(2, 0, 1), out[i])
        m = torch.from_numpy(mask)
        labels[i, 0] = torch.from_numpy(label)
        masks[i, 0] = m
    dev = images.device
    return out.to(dev), labels.to(dev), masks.to(dev)
