"""CutPaste and CutPaste-Scar: the artificial anomalies of the CutPaste host.

Li, Sohn, Yoon, Pfister, "CutPaste: Self-Supervised Learning for Anomaly Detection and
Localization", CVPR 2021 (cited as [67] in thesis Paper C). Reimplemented from the paper's
description; no code is copied.

* **CutPaste** (Sec. 2.1 and App. A of the paper): cut a rectangle whose area is a fraction
  ``area_ratio`` ~ U[0.02, 0.15] of the image and whose aspect ratio (width / height) lies in
  [0.3, 3.3] -- sampled log-uniformly, so that r and 1/r are equally likely -- from a random place
  of the image, colour-jitter it, and paste it back at another random place *of the same image*.
* **CutPaste-Scar**: a long thin rectangle, width ~ U[2, 16] px and length ~ U[10, 25] px, cut from
  the image, colour-jittered, rotated by an angle ~ U[-45°, 45°] and pasted at a random place.
  The sizes are in pixels of the network input (the paper trains at 256×256); they are not
  rescaled for other input sizes.
* **3-way** (Sec. 2.2): every normal image appears three times in a batch -- unchanged (label 0),
  with a CutPaste patch (label 1) and with a scar (label 2).

Decisions where the paper is terse:

* Colour jitter: brightness, contrast, saturation and hue, each 0.1 (the factors of
  torchvision's ``ColorJitter(0.1, 0.1, 0.1, 0.1)`` as used by the unofficial PyTorch port
  Runinho/pytorch-cutpaste, MIT licence; the paper says only "color jitter"). Factors are drawn
  uniformly from [1 - 0.1, 1 + 0.1] (hue shift from [-0.1, 0.1]) and the four adjustments are
  applied in a random order, as ``ColorJitter`` does, but with *our* generator so that results
  are reproducible. On 1-channel images only brightness and contrast apply.
* Integer geometry: the rectangle is ``round(sqrt(area · aspect))`` px wide and
  ``round(sqrt(area / aspect))`` px high (clipped to the image); scar width and length are rounded
  to whole pixels. Source and target positions are uniform over all positions where the
  rectangle fits (they may coincide or overlap).
* Scar rotation: the pasted pixels are exactly those whose centres fall inside the rotated
  rectangle; each takes the value of the nearest patch pixel (nearest-neighbour inverse mapping,
  no blending), so a pixel outside the returned mask is never changed. The rotated rectangle is
  placed so that its bounding box lies inside the image.

Every function takes a ``numpy.random.Generator``: the same generator state gives the same result.
Images are float tensors C×H×W in [0, 1]; masks are bool H×W, True on the pasted pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms import functional as TF

__all__ = [
    "AREA_RATIO",
    "ASPECT_RATIO",
    "SCAR_WIDTH",
    "SCAR_LENGTH",
    "SCAR_ROTATION",
    "JITTER",
    "Paste",
    "color_jitter",
    "cutpaste",
    "cutpaste_scar",
    "three_way",
]

AREA_RATIO = (0.02, 0.15)     # patch area / image area (CutPaste App. A)
ASPECT_RATIO = (0.3, 3.3)     # patch width / height, log-uniform (CutPaste App. A)
SCAR_WIDTH = (2.0, 16.0)      # px (CutPaste App. A)
SCAR_LENGTH = (10.0, 25.0)    # px (CutPaste App. A)
SCAR_ROTATION = (-45.0, 45.0)  # degrees (CutPaste App. A)
JITTER = 0.1                  # brightness = contrast = saturation = hue (Runinho/pytorch-cutpaste)


@dataclass(frozen=True)
class Paste:
    """What one call drew (for tests and figures).

    ``height``/``width``: size of the cut rectangle (for a scar: length/width) before rotation;
    ``source``: (top, left) of the cut; ``target``: (top, left) of the pasted region's bounding
    box; ``angle``: rotation in degrees (0 for CutPaste); ``area_ratio`` and ``aspect_ratio``: the
    drawn (continuous) values, before rounding to pixels (None for a scar).
    """

    height: int
    width: int
    source: tuple[int, int]
    target: tuple[int, int]
    angle: float = 0.0
    area_ratio: float | None = None
    aspect_ratio: float | None = None


def _check_image(image: Tensor) -> tuple[int, int, int]:
    if not isinstance(image, Tensor) or image.dim() != 3:
        got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"expected one image as a C×H×W tensor, got {got}")
    if not image.is_floating_point():
        raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")
    c, h, w = image.shape
    if c not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {c}")
    return c, h, w


def _check_range(name: str, value, low: float = 0.0) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not (low <= lo <= hi):
        raise ValueError(f"{name} must be a pair lo <= hi with lo >= {low}, got {value!r}")
    return lo, hi


def color_jitter(patch: Tensor, rng: np.random.Generator, strength: float = JITTER) -> Tensor:
    """Random brightness, contrast, saturation (factors in [1-s, 1+s]) and hue (shift in [-s, s],
    s <= 0.5) in a random order, like ``torchvision.transforms.ColorJitter(s, s, s, s)`` but
    driven by ``rng``. 1-channel patches get brightness and contrast only. ``strength=0`` returns
    the patch unchanged."""
    c = _check_image(patch)[0]
    if strength < 0:
        raise ValueError(f"jitter strength must be >= 0, got {strength}")
    if strength == 0:
        return patch
    factors = {
        "brightness": rng.uniform(max(0.0, 1 - strength), 1 + strength),
        "contrast": rng.uniform(max(0.0, 1 - strength), 1 + strength),
        "saturation": rng.uniform(max(0.0, 1 - strength), 1 + strength),
        "hue": rng.uniform(-min(strength, 0.5), min(strength, 0.5)),
    }
    ops = ["brightness", "contrast"] + (["saturation", "hue"] if c == 3 else [])
    out = patch
    for i in rng.permutation(len(ops)):
        op = ops[i]
        if op == "brightness":
            out = TF.adjust_brightness(out, factors[op])
        elif op == "contrast":
            out = TF.adjust_contrast(out, factors[op])
        elif op == "saturation":
            out = TF.adjust_saturation(out, factors[op])
        else:
            out = TF.adjust_hue(out, factors[op])
    return out.clamp(0.0, 1.0)


def cutpaste(image: Tensor, rng: np.random.Generator, *, area_ratio=AREA_RATIO,
             aspect_ratio=ASPECT_RATIO, jitter: float = JITTER, return_params: bool = False):
    """CutPaste one image: returns ``(augmented, mask)`` (``+ (Paste,)`` with ``return_params``).

    ``augmented`` is a new tensor; ``image`` is not modified. ``mask`` is True exactly on the
    pasted rectangle; every pixel outside it equals the input.
    """
    _, h, w = _check_image(image)
    a_lo, a_hi = _check_range("area_ratio", area_ratio)
    r_lo, r_hi = _check_range("aspect_ratio", aspect_ratio)
    if a_hi > 1 or r_lo <= 0:
        raise ValueError(f"need 0 <= area_ratio <= 1 and aspect_ratio > 0, got {area_ratio!r}, "
                         f"{aspect_ratio!r}")
    area = rng.uniform(a_lo, a_hi)
    aspect = float(np.exp(rng.uniform(np.log(r_lo), np.log(r_hi))))
    cut_w = int(min(w, max(1, round(math.sqrt(area * h * w * aspect)))))
    cut_h = int(min(h, max(1, round(math.sqrt(area * h * w / aspect)))))
    sy, sx = int(rng.integers(0, h - cut_h + 1)), int(rng.integers(0, w - cut_w + 1))
    patch = color_jitter(image[:, sy:sy + cut_h, sx:sx + cut_w], rng, jitter)
    ty, tx = int(rng.integers(0, h - cut_h + 1)), int(rng.integers(0, w - cut_w + 1))
    out = image.clone()
    out[:, ty:ty + cut_h, tx:tx + cut_w] = patch
    mask = torch.zeros(h, w, dtype=torch.bool, device=image.device)
    mask[ty:ty + cut_h, tx:tx + cut_w] = True
    if return_params:
        return out, mask, Paste(cut_h, cut_w, (sy, sx), (ty, tx), 0.0, float(area), aspect)
    return out, mask


def _rotated_extent(length: int, width: int, angle: float) -> tuple[int, int]:
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    return (max(1, math.ceil(length * c + width * s - 1e-9)),
            max(1, math.ceil(width * c + length * s - 1e-9)))


def cutpaste_scar(image: Tensor, rng: np.random.Generator, *, width=SCAR_WIDTH,
                  length=SCAR_LENGTH, rotation=SCAR_ROTATION, jitter: float = JITTER,
                  return_params: bool = False):
    """CutPaste-Scar one image: returns ``(augmented, mask)`` (``+ (Paste,)`` with
    ``return_params``); ``mask`` is True exactly on the pixels that received scar pixels.

    The scar is ``length`` px along its long axis (vertical before rotation) and ``width`` px
    across, both clipped to the image; rotated by ``angle`` degrees (counter-clockwise as
    displayed) about its centre.
    """
    _, h, w = _check_image(image)
    w_lo, w_hi = _check_range("width", width, 1.0)
    l_lo, l_hi = _check_range("length", length, 1.0)
    g_lo, g_hi = _check_range("rotation", rotation, -360.0)
    sw = int(min(w, max(1, round(rng.uniform(w_lo, w_hi)))))
    sl = int(min(h, max(1, round(rng.uniform(l_lo, l_hi)))))
    sy, sx = int(rng.integers(0, h - sl + 1)), int(rng.integers(0, w - sw + 1))
    patch = color_jitter(image[:, sy:sy + sl, sx:sx + sw], rng, jitter)
    angle = float(rng.uniform(g_lo, g_hi))
    bh, bw = _rotated_extent(sl, sw, angle)
    if bh > h or bw > w:  # rotated scar does not fit: fall back to the unrotated one
        angle, (bh, bw) = 0.0, (sl, sw)
    ty, tx = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    # inverse mapping: pixel centre relative to the box centre, rotated back into the patch frame
    dy = torch.arange(bh, dtype=torch.float64).view(-1, 1) + 0.5 - bh / 2
    dx = torch.arange(bw, dtype=torch.float64).view(1, -1) + 0.5 - bw / 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    pr = dy * cos + dx * sin          # row in the patch frame (centred)
    pc = -dy * sin + dx * cos         # column in the patch frame (centred)
    inside = (pr.abs() < sl / 2) & (pc.abs() < sw / 2)
    ri = (pr + sl / 2).floor().long().clamp(0, sl - 1)
    ci = (pc + sw / 2).floor().long().clamp(0, sw - 1)
    inside = inside.to(image.device)
    rotated = patch[:, ri.to(image.device), ci.to(image.device)]   # C×bh×bw
    out = image.clone()
    region = out[:, ty:ty + bh, tx:tx + bw]
    out[:, ty:ty + bh, tx:tx + bw] = torch.where(inside, rotated, region)
    mask = torch.zeros(h, w, dtype=torch.bool, device=image.device)
    mask[ty:ty + bh, tx:tx + bw] = inside
    if return_params:
        return out, mask, Paste(sl, sw, (sy, sx), (ty, tx), angle)
    return out, mask


def three_way(images: Tensor, rng: np.random.Generator, *, jitter: float = JITTER,
              return_masks: bool = False):
    """The 3-way batch of CutPaste Sec. 2.2: ``(inputs, labels)`` with inputs 3N×C×H×W =
    [the N normal images, their CutPaste versions, their scar versions] and labels
    [0]*N + [1]*N + [2]*N (int64). With ``return_masks`` also the 3N×H×W pasted-pixel masks
    (all False for the normal third)."""
    if not isinstance(images, Tensor) or images.dim() != 4:
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"expected a batch N×C×H×W, got {got}")
    n = images.shape[0]
    if n == 0:
        raise ValueError("empty batch")
    cut = [cutpaste(im, rng, jitter=jitter) for im in images]
    scar = [cutpaste_scar(im, rng, jitter=jitter) for im in images]
    inputs = torch.cat([images, torch.stack([c[0] for c in cut]),
                        torch.stack([s[0] for s in scar])])
    labels = torch.arange(3, device=images.device).repeat_interleave(n)
    if return_masks:
        none = torch.zeros(n, *images.shape[2:], dtype=torch.bool, device=images.device)
        masks = torch.cat([none, torch.stack([c[1] for c in cut]),
                           torch.stack([s[1] for s in scar])])
        return inputs, labels, masks
    return inputs, labels
