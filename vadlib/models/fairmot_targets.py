"""Training targets of the one-stage tracker of Paper A (FairMOT/CenterNet style).

Paper A (thesis L1432-L1444, ``shared/specs/paper_A_B.md`` §1.4): for a ground-truth box
``(x1, y1, x2, y2)`` the centre is ``c = ((x1 + x2)/2, (y1 + y2)/2)``; on the stride-4 output map
its cell is ``c̃ = (⌊c_x/4⌋, ⌊c_y/4⌋)``; the heat map is a Gaussian around each ``c̃``; the box
head regresses the size ``(x2 - x1, y2 - y1)`` and the offset (printed garbled as "C = C/4",
read as ``c/4 - ⌊c/4⌋``) at ``c̃``; the identity target is the box's track identity. The Gaussian's
σ is not given: we use FairMOT's (``ifzhang/FairMOT``, MIT, ``src/lib/datasets/dataset/jde.py``
and ``src/lib/utils/image.py``; CenterNet's ``gaussian_radius`` / ``draw_umich_gaussian``,
re-written here):

* the box size on the output map ``(w, h)`` (input pixels / 4) gives a radius
  ``r = max(0, int(gaussian_radius((ceil(h), ceil(w)), min_overlap=0.7)))``;
* a ``(2r+1)×(2r+1)`` Gaussian with ``σ = (2r+1)/6``, values below ``eps·max`` set to 0, peak
  exactly 1 at the centre cell, is written into the heat map by an element-wise **max** with what
  is already there (the thesis prints a sum; §1.11 item 2), clipped at the border;
* the centre is first clipped to ``[0, W_out - 1] × [0, H_out - 1]`` (FairMOT), boxes with a
  non-positive width or height are skipped, at most ``max_objs`` boxes per image are kept (500,
  FairMOT 2020-09; 128 before) -- extra boxes are dropped with a warning;
* sizes ``wh`` are in output-map pixels (FairMOT), offsets ``reg = c/4 - ⌊c/4⌋`` in [0, 1),
  ``ind = c̃_y · W_out + c̃_x`` (flat index into the map), ``reg_mask`` marks the used slots and
  ``ids`` holds the identity (-1 = no identity, ignored by the re-ID loss, e.g. ETH and
  CityPersons boxes).

``gaussian_radius`` is CenterNet's code as written (the smallest of three radii; its quadratic
roots are ``(b + sqrt(b² - 4ac)) / 2`` rather than the textbook ``/ (2a)``, a known quirk FairMOT
inherits). The result is kept exactly as FairMOT computes it, because the targets depend on it.

Boxes come per image in input pixels, ``box_format="tlbr"`` (x1, y1, x2, y2; the thesis' form) or
``"tlwh"`` (left, top, width, height; what :mod:`vadlib.data.mot` returns).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["gaussian_radius", "gaussian2d", "draw_umich_gaussian", "build_targets", "to_tlbr",
           "DOWN_RATIO", "MAX_OBJS", "BOX_FORMATS"]

DOWN_RATIO = 4
MAX_OBJS = 500
BOX_FORMATS = ("tlbr", "tlwh")


def gaussian_radius(det_size: tuple[float, float], min_overlap: float = 0.7) -> float:
    """CenterNet's radius for a box of ``det_size = (height, width)`` (output pixels): the minimum
    of the three case radii of CornerNet, as coded in CenterNet/FairMOT (module docstring)."""
    height, width = det_size
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * c1)) / 2
    a2, b2 = 4, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def gaussian2d(shape: tuple[int, int], sigma: float = 1.0) -> np.ndarray:
    """Unnormalised Gaussian ``exp(-(x² + y²) / (2σ²))`` on a grid centred at 0 (odd sides), with
    values below ``eps · max`` set to 0 (CenterNet)."""
    m, n = [(s - 1.0) / 2.0 for s in shape]
    y, x = np.ogrid[-m:m + 1, -n:n + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h


def draw_umich_gaussian(heatmap: np.ndarray, center: Sequence[int], radius: int, k: float = 1.0) -> np.ndarray:
    """Max a ``(2r+1)²`` Gaussian (σ = (2r+1)/6) centred at integer ``center = (x, y)`` into
    ``heatmap`` (H×W, modified in place and returned); the part outside the map is dropped."""
    diameter = 2 * radius + 1
    gaussian = gaussian2d((diameter, diameter), sigma=diameter / 6)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top:y + bottom, x - left:x + right]
    patch = gaussian[radius - top:radius + bottom, radius - left:radius + right]
    if min(patch.shape) > 0 and min(region.shape) > 0:
        np.maximum(region, patch * k, out=region)
    return heatmap


def to_tlbr(boxes, box_format: str = "tlbr") -> np.ndarray:
    """M×4 boxes as float64 ``(x1, y1, x2, y2)``."""
    if box_format not in BOX_FORMATS:
        raise ValueError(f"unknown box_format {box_format!r}; formats: {', '.join(BOX_FORMATS)}")
    b = boxes.detach().cpu().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4) if np.size(b) else np.zeros((0, 4))
    if box_format == "tlwh":
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    return b


def build_targets(boxes: Sequence, ids: Sequence | None, image_size: tuple[int, int], *,
                  box_format: str = "tlbr", down_ratio: int = DOWN_RATIO,
                  max_objs: int = MAX_OBJS, min_overlap: float = 0.7) -> dict[str, Tensor]:
    """Heat-map, size, offset, index and identity targets for a batch (module docstring).

    Args:
        boxes: one entry per image, each M_i×4 (tensor, array or nested list) in input pixels.
        ids: one entry per image, M_i integer identities (-1 = none); None = all -1.
        image_size: (H, W) of the network input (multiples of ``down_ratio``).

    Returns a dict of tensors (N images, K = ``max_objs``, h×w = H/4 × W/4): ``hm`` N×1×h×w
    float32, ``wh`` N×K×2 and ``reg`` N×K×2 float32, ``ind`` N×K int64, ``reg_mask`` N×K bool,
    ``ids`` N×K int64 (-1 in unused slots).
    """
    height, width = (int(s) for s in image_size)
    if height % down_ratio or width % down_ratio:
        raise ValueError(f"image_size {image_size} must be a multiple of down_ratio={down_ratio}")
    if ids is not None and len(ids) != len(boxes):
        raise ValueError(f"boxes has {len(boxes)} images but ids has {len(ids)}")
    out_h, out_w = height // down_ratio, width // down_ratio
    n = len(boxes)
    hm = np.zeros((n, 1, out_h, out_w), dtype=np.float32)
    wh = np.zeros((n, max_objs, 2), dtype=np.float32)
    reg = np.zeros((n, max_objs, 2), dtype=np.float32)
    ind = np.zeros((n, max_objs), dtype=np.int64)
    mask = np.zeros((n, max_objs), dtype=bool)
    id_t = np.full((n, max_objs), -1, dtype=np.int64)
    for b in range(n):
        tlbr = to_tlbr(boxes[b], box_format)
        if ids is None:
            idv = np.full(len(tlbr), -1, dtype=np.int64)
        else:
            raw = ids[b]
            idv = np.asarray(raw.detach().cpu().numpy() if isinstance(raw, Tensor) else raw,
                             dtype=np.int64).reshape(-1)
        if len(idv) != len(tlbr):
            raise ValueError(f"image {b}: {len(tlbr)} boxes but {len(idv)} ids")
        if len(tlbr) > max_objs:
            warnings.warn(f"image {b}: {len(tlbr)} boxes, only the first max_objs={max_objs} "
                          f"are used (FairMOT's rule)", stacklevel=2)
        slot = 0
        for k in range(min(len(tlbr), max_objs)):
            x1, y1, x2, y2 = tlbr[k] / down_ratio
            w, h = x2 - x1, y2 - y1
            if not (w > 0 and h > 0):
                continue
            cx = min(max((x1 + x2) / 2, 0.0), out_w - 1)
            cy = min(max((y1 + y2) / 2, 0.0), out_h - 1)
            radius = max(0, int(gaussian_radius((math.ceil(h), math.ceil(w)), min_overlap)))
            cx_int, cy_int = int(cx), int(cy)
            draw_umich_gaussian(hm[b, 0], (cx_int, cy_int), radius)
            wh[b, slot] = w, h
            reg[b, slot] = cx - cx_int, cy - cy_int
            ind[b, slot] = cy_int * out_w + cx_int
            mask[b, slot] = True
            id_t[b, slot] = idv[k]
            slot += 1
    return {"hm": torch.from_numpy(hm), "wh": torch.from_numpy(wh), "reg": torch.from_numpy(reg),
            "ind": torch.from_numpy(ind), "reg_mask": torch.from_numpy(mask),
            "ids": torch.from_numpy(id_t)}
