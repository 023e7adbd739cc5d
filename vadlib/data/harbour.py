"""The harbour both ThermalSynth and Paper B's real fall test sets look at, and the samples cut
from it: the view (:data:`HARBOUR_VIEW`), the water-area warp (:func:`warp_roi`) and the sample
set (:class:`ThermalSynthSet`).

A leaf module of :mod:`vadlib.data` (it imports no other vadlib module): the fall test sets'
loader (:mod:`vadlib.data.fall_tests`) and the ThermalSynth generator (:mod:`vadlib.thermal`,
which reads its backgrounds through :mod:`vadlib.data.thermal`) both build on it, so neither
package imports the other's loader. :mod:`vadlib.thermal` re-exports every name.

**The view.** Paper B (thesis seed ``000_f794b37c98b9d304.txt``) uses one fixed thermal camera on the harbour
front of Aalborg (the LTD / Seasons in Drift view, 384×288 px, Table B.1 at L1742-L1750) and needs
three regions of it that it never gives numerically:

* the **harbour area** where the temporal median is applied (L1720: "solely applied to the harbor
  area ... by manually creating a mask"),
* the **water area** that decides the automatic fall / no-fall label ("annotate the dataset based
  on the location of foreground objects", L610), and
* the **trapezoidal water crop** that is warped to 185×115 for the classifiers (L1830).

The Unity camera copies the real camera's parameters (Table B.1: 25 mm lens, 21.7° field of view,
384×288) and its pose was "set to best match" by hand (L1726).

**Our choices** (the paper gives no polygon, no camera height and no crop corners):

* :data:`HARBOUR_VIEW` describes the view of the synthetic Seasons-in-Drift twin
  (:mod:`vadlib.data.synthetic.thermal`): far shore and sky above row 0.34 of the image, the water
  basin on the left, the quay edge running from (0.600, 0.34) to (0.7848, 1.0) (normalised
  column, row), the quay (walkway) on its right, and a pier across the water at rows 0.58-0.64.
  For the real LTD footage draw your own polygons and build a :class:`HarbourView` with them.
* The harbour area for the median is the quay plus the pier: the places where real people walk.
  The water is left out, as the paper says, so that its waves keep moving.
* The water area for the labels is the water polygon without the pier.
* The crop quadrilateral (top-left, top-right, bottom-right, bottom-left) spans the water from
  row 0.40 to the bottom of the frame and reaches over the quay edge by 0.06 of the width at the
  top and 0.10 at the bottom (about 1.5 m of quay at either end), so that people standing or
  walking next to the edge -- the hard "no fall" cases -- are inside the crop.
* Camera: a pinhole with the horizontal field of view of Table B.1 (21.7°, so a focal length of
  ``(width / 2) / tan(10.85°)`` = 1,000 px at 384 px), the horizon at row 0.125 and the camera
  6 m above the quay. These two numbers make a 1.75 m person 73 px tall at the bottom row and
  27 px at row 0.45, the sizes of the people of the synthetic twin. The camera looks straight
  ahead (a level camera whose horizon is shifted, as with a shift lens); its slight real tilt is
  ignored. The water surface is 1 m below the quay.

Coordinates: normalised image points are ``(u, v)`` = (column / width, row / height); pixel
points are ``(x, y)`` = ``(u · width, v · height)``; world points are ``(X, Y, Z)`` in metres with X
to the right, Y forward (away from the camera) and Z up, the quay at Z = 0.

**The samples.** A sample is three consecutive frames of the warped water area, 3 × 115 × 185
uint8 (Paper B L1830: "a single tensor of size 185 × 115 × 3"); channel c holds frame t + c. A
:class:`ThermalSynthSet` holds N samples, their fall / no-fall labels and one metadata row per
sample; :func:`split_by_sequence` splits it into training and validation by whole sequences in
the paper's proportions (:data:`PAPER_COUNTS`). :mod:`vadlib.thermal.dataset` generates such sets,
:func:`vadlib.data.fall_tests.load` reads the real ones.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pandas as pd

__all__ = ["FALL_KINDS", "FRAME_SHAPE", "HARBOUR_VIEW", "NO_FALL_KINDS", "VIEW_FILE", "PAPER_COUNTS", "SAMPLE_SIZE",
           "TRIPLET", "HarbourView", "PinholeCamera", "ThermalSynthSet", "polygon_mask",
           "split_by_sequence", "warp_roi"]

#: (height, width) of an LTD / Seasons in Drift frame (Table B.1, L1745; L1720).
FRAME_SHAPE = (288, 384)
#: Horizontal field of view of the LTD camera in degrees (Table B.1, L1745).
FOV_DEG = 21.7

Polygon = tuple[tuple[float, float], ...]


def _edge_u(v: float) -> float:
    """Column of the default quay edge at row ``v`` (both normalised)."""
    return 0.60 + 0.28 * (v - 0.34)


@dataclass(frozen=True)
class PinholeCamera:
    """A level pinhole camera ``height_m`` above the quay, for frames of ``shape`` (H, W).

    ``x = cx + f X / Y``, ``y = horizon + f (height - Z) / Y``; :meth:`ground` inverts this for
    points on the quay plane (Z = 0).
    """

    focal: float
    cx: float
    horizon: float
    height_m: float

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (..., 3) -> pixel x, pixel y and depth Y (metres in front of the camera)."""
        points = np.asarray(points, dtype=np.float64)
        depth = np.maximum(points[..., 1], 1e-6)
        x = self.cx + self.focal * points[..., 0] / depth
        y = self.horizon + self.focal * (self.height_m - points[..., 2]) / depth
        return x, y, depth

    def ground(self, x: float, y: float) -> tuple[float, float]:
        """The quay-plane point (X, Y) seen at pixel (x, y); ``y`` must be below the horizon."""
        if y <= self.horizon:
            raise ValueError(f"pixel row {y:.1f} is not below the horizon ({self.horizon:.1f})")
        depth = self.focal * self.height_m / (y - self.horizon)
        return (x - self.cx) * depth / self.focal, depth

    def pixels_per_metre(self, depth: float) -> float:
        return self.focal / depth


@dataclass(frozen=True)
class HarbourView:
    """Regions of the fixed harbour view (normalised polygons) and its camera; see the module
    docstring. ``median_areas`` may hold several polygons (their union is used)."""

    water: Polygon
    quay: Polygon
    quay_edge: tuple[tuple[float, float], tuple[float, float]]
    roi: Polygon  # top-left, top-right, bottom-right, bottom-left
    median_areas: tuple[Polygon, ...]
    pier: Polygon | None = None
    horizon_v: float = 0.125
    fov_deg: float = FOV_DEG
    camera_height_m: float = 6.0
    quay_height_m: float = 1.0
    walk_rows: tuple[float, float] = (0.45, 0.97)  # rows where generated people may stand

    def __post_init__(self):
        if len(self.roi) != 4:
            raise ValueError(f"roi must be a quadrilateral (4 corners), got {len(self.roi)} points")
        for name in ("water", "quay"):
            if len(getattr(self, name)) < 3:
                raise ValueError(f"{name} polygon needs at least 3 points")
        if not 0 <= self.horizon_v < self.walk_rows[0] < self.walk_rows[1] <= 1:
            raise ValueError("need 0 <= horizon_v < walk_rows[0] < walk_rows[1] <= 1")

    # ------------------------------------------------------------------------ file form

    def to_dict(self) -> dict:
        """The view as plain JSON-able lists and numbers (the layout of :data:`VIEW_FILE`)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "HarbourView":
        """Inverse of :meth:`to_dict` (polygons back to tuples); unknown keys raise ``TypeError``."""
        def poly(points):
            return None if points is None else tuple(tuple(float(c) for c in p) for p in points)
        data = dict(data)
        for name in ("water", "quay", "quay_edge", "roi", "pier"):
            if name in data:
                data[name] = poly(data[name])
        if "median_areas" in data:
            data["median_areas"] = tuple(poly(p) for p in data["median_areas"])
        if "walk_rows" in data:
            data["walk_rows"] = tuple(float(v) for v in data["walk_rows"])
        return cls(**data)

    def write(self, path: str | Path) -> Path:
        """Write the view as JSON to ``path`` (e.g. ``<dataset>/harbour_view.json``)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> "HarbourView":
        """The view written by :meth:`write` (``ValueError`` / ``TypeError`` / ``KeyError`` if malformed)."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    # ------------------------------------------------------------------------ image regions

    @staticmethod
    def to_pixels(polygon: Sequence[Sequence[float]], shape: tuple[int, int]) -> np.ndarray:
        """Normalised polygon -> float pixel coordinates (N × 2, x then y)."""
        height, width = shape[:2]
        return np.asarray(polygon, dtype=np.float64) * (width, height)

    def mask(self, which: str, shape: tuple[int, int] = FRAME_SHAPE) -> np.ndarray:
        """Bool H×W mask of ``water`` (without the pier), ``quay``, ``median`` (union of the
        median areas), ``pier`` or ``roi``."""
        if which == "water":
            mask = polygon_mask(self.to_pixels(self.water, shape), shape)
            if self.pier is not None:
                mask &= ~polygon_mask(self.to_pixels(self.pier, shape), shape)
            return mask
        if which == "median":
            mask = np.zeros(shape[:2], bool)
            for polygon in self.median_areas:
                mask |= polygon_mask(self.to_pixels(polygon, shape), shape)
            return mask
        polygons = {"quay": self.quay, "pier": self.pier, "roi": self.roi}
        if which not in polygons or polygons[which] is None:
            raise ValueError(f"unknown region {which!r}; known: water, quay, median, roi"
                             + (", pier" if self.pier is not None else ""))
        return polygon_mask(self.to_pixels(polygons[which], shape), shape)

    def roi_corners(self, shape: tuple[int, int] = FRAME_SHAPE) -> np.ndarray:
        """The crop quadrilateral in pixels (4 × 2 float32, TL, TR, BR, BL), clipped to the frame
        so that ``u = 1`` / ``v = 1`` map to the last column / row."""
        height, width = shape[:2]
        corners = self.to_pixels(self.roi, shape)
        corners[:, 0] = np.clip(corners[:, 0], 0, width - 1)
        corners[:, 1] = np.clip(corners[:, 1], 0, height - 1)
        return corners.astype(np.float32)

    # ------------------------------------------------------------------------------ camera

    def camera(self, shape: tuple[int, int] = FRAME_SHAPE) -> PinholeCamera:
        height, width = shape[:2]
        focal = (width / 2) / math.tan(math.radians(self.fov_deg) / 2)
        return PinholeCamera(focal, width / 2, self.horizon_v * height, self.camera_height_m)

    def edge_point(self, v: float, shape: tuple[int, int] = FRAME_SHAPE) -> np.ndarray:
        """The quay-plane point (X, Y) of the quay edge seen at normalised row ``v``."""
        (u0, v0), (u1, v1) = self.quay_edge
        t = (v - v0) / (v1 - v0) if v1 != v0 else 0.0
        height, width = shape[:2]
        return np.array(self.camera(shape).ground((u0 + t * (u1 - u0)) * width, v * height))

    def edge_world(self, shape: tuple[int, int] = FRAME_SHAPE):
        """The quay edge on the quay plane: a point on it, its unit direction (towards the camera)
        and the unit normal pointing from the quay into the water (all (X, Y) in metres)."""
        far, near = (self.edge_point(v, shape) for v in self.walk_rows)
        direction = (near - far) / np.linalg.norm(near - far)
        normal = np.array([-direction[1], direction[0]])
        if not self.over_water((far + near) / 2 + 0.5 * normal, shape):
            normal = -normal
        return far, direction, normal

    def over_water(self, ground_xy, shape: tuple[int, int] = FRAME_SHAPE,
                   water: np.ndarray | None = None) -> bool:
        """Whether the quay-plane point (X, Y) is seen inside the water area."""
        water = self.mask("water", shape) if water is None else water
        return self._in_mask(water, self.camera(shape), np.asarray(ground_xy, float))

    @staticmethod
    def _in_mask(mask: np.ndarray, camera: PinholeCamera, ground_xy: np.ndarray) -> bool:
        x, y, _ = camera.project(np.array([ground_xy[0], ground_xy[1], 0.0]))
        col, row = int(np.floor(x)), int(np.floor(y))
        return 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and bool(mask[row, col])


def polygon_mask(polygon_px: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool H×W mask of the pixels whose centres lie inside a polygon given in pixels."""
    mask = np.zeros(shape[:2], np.uint8)
    # pixel centres sit at integer + 0.5; shift so that cv2's integer grid samples them
    points = np.round((np.asarray(polygon_px, float) - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(mask, [points.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


_SHORE = 0.34
HARBOUR_VIEW = HarbourView(
    water=((0.0, _SHORE), (_edge_u(_SHORE), _SHORE), (_edge_u(1.0), 1.0), (0.0, 1.0)),
    quay=((_edge_u(_SHORE), _SHORE), (1.0, _SHORE), (1.0, 1.0), (_edge_u(1.0), 1.0)),
    quay_edge=((_edge_u(_SHORE), _SHORE), (_edge_u(1.0), 1.0)),
    roi=((0.0, 0.40), (_edge_u(0.40) + 0.06, 0.40), (_edge_u(1.0) + 0.10, 1.0), (0.0, 1.0)),
    median_areas=(
        ((_edge_u(_SHORE), _SHORE), (1.0, _SHORE), (1.0, 1.0), (_edge_u(1.0), 1.0)),
        ((0.25, 0.58), (_edge_u(0.58), 0.58), (_edge_u(0.64), 0.64), (0.25, 0.64)),
    ),
    pier=((0.25, 0.58), (_edge_u(0.58), 0.58), (_edge_u(0.64), 0.64), (0.25, 0.64)),
)
"""The synthetic Seasons-in-Drift twin's harbour (see the module docstring). The twin writes it
to :data:`VIEW_FILE` next to its metadata.csv; runs read the geometry from the dataset's file
(:func:`vadlib.data.thermal.sid_view`), never from this constant, so real data without a drawn
view fails instead of silently using the twin's polygons."""

#: The harbour geometry file of a Seasons-in-Drift root (next to metadata.csv): a
#: :meth:`HarbourView.to_dict` as JSON -- normalised (column / width, row / height) polygons
#: ``water``, ``quay``, ``quay_edge``, ``roi`` (TL, TR, BR, BL), ``median_areas``, ``pier`` and the
#: camera numbers. The release ships none: draw it for the real view (vadlib's convention).
VIEW_FILE = "harbour_view.json"


# ------------------------------------------------------------------------------ samples

#: (width, height) of a sample: "a single tensor of size 185 × 115 × 3" (L1830).
SAMPLE_SIZE = (185, 115)
TRIPLET = 3
#: Kinds of generated sequence whose person ends in the water (fall) or stays on the quay.
FALL_KINDS = ("fall", "jump")
NO_FALL_KINDS = ("walk", "stand")
#: The paper's sizes (Ch. 3 L610, L1830, L1849; L1724's count of foreground sequences contradicts
#: the others, see :mod:`vadlib.thermal.dataset`).
PAPER_COUNTS = {"frames": 310_788, "samples": 103_596, "fall_samples": 51_798,
                "no_fall_samples": 51_798, "train": 69_000, "validation": 34_596,
                "validation_fall": 17_298, "foreground_sequences_L1724": 79_998}


def warp_roi(frame: np.ndarray, corners: np.ndarray, size: tuple[int, int] = SAMPLE_SIZE) -> np.ndarray:
    """The quadrilateral ``corners`` (4 × 2 pixels: TL, TR, BR, BL) of ``frame`` warped to a
    ``size`` = (width, height) rectangle (uint8 height × width)."""
    corners = np.asarray(corners, np.float32)
    if corners.shape != (4, 2):
        raise ValueError(f"corners must be 4 × 2 (TL, TR, BR, BL), got {corners.shape}")
    width, height = size
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(frame, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


@dataclass
class ThermalSynthSet:
    """Samples N × 3 × 115 × 185 uint8, labels N (1 fall, 0 no fall) and one metadata row per
    sample. Generated sets have :data:`vadlib.thermal.dataset.META_COLUMNS` (background clip and
    frame numbers, sequence id and kind, frame ids t, t+1, t+2 within the sequence and their
    labels, and the person's box -- the union of the three frames' boxes in full-frame pixels
    (x0, y0, x1, y1), ``None`` if nobody is visible); loaded real sets have the columns of
    :func:`vadlib.data.fall_tests.load`. Both have ``sequence_id`` and ``label``. ``frames``: the
    composited full frames per sequence id when kept (``keep_frames=True``)."""

    samples: np.ndarray
    labels: np.ndarray
    meta: pd.DataFrame
    frames: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices) -> "ThermalSynthSet":
        indices = np.asarray(indices, np.int64)
        kept = set(self.meta["sequence_id"].iloc[indices]) if len(indices) else set()
        return ThermalSynthSet(self.samples[indices], self.labels[indices],
                               self.meta.iloc[indices].reset_index(drop=True),
                               {k: v for k, v in self.frames.items() if k in kept})

    def split(self, val_fraction: float | None = None, seed: int = 0):
        """(train, validation) sets split by sequence (see :func:`split_by_sequence`)."""
        train, val = split_by_sequence(self.meta, val_fraction, seed)
        return self.subset(train), self.subset(val)


def split_by_sequence(meta: pd.DataFrame, val_fraction: float | None = None, seed: int = 0):
    """Sample indices (train, validation): whole sequences are assigned to one side, per class of
    sequence (fall kinds / others) ``round(val_fraction · sequences of that class)`` go to
    validation. ``val_fraction`` defaults to the paper's 34,596 / 103,596."""
    if val_fraction is None:
        val_fraction = PAPER_COUNTS["validation"] / PAPER_COUNTS["samples"]
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1], got {val_fraction}")
    # class of a sequence: its kind for the generated kinds, else whether any sample is a fall
    sequences = meta.groupby("sequence_id", sort=True)
    kinds = sequences["kind"].first() if "kind" in meta.columns else None
    falls = sequences["label"].max().astype(int)
    if kinds is not None:
        known = kinds.isin(FALL_KINDS + NO_FALL_KINDS)
        falls[known] = kinds[known].isin(FALL_KINDS).astype(int)
    rng = np.random.default_rng([seed, 7])
    val_ids = []
    for value in (0, 1):
        ids = np.array(falls.index[falls.to_numpy() == value])
        chosen = rng.permutation(len(ids))[:int(round(val_fraction * len(ids)))]
        val_ids.extend(ids[chosen].tolist())
    in_val = meta["sequence_id"].isin(set(val_ids)).to_numpy()
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)
