"""Synthetic twin of MVTec AD: textures and rendered objects with pasted defects and exact masks.

Written in the official layout that :mod:`vadlib.data.mvtec` reads (``<category>/train/good/000.png``,
``<category>/test/<defect>/000.png``, ``<category>/ground_truth/<defect>/000_mask.png`` as 0/255
PNGs at image size, ``license.txt`` and ``readme.txt`` at the top), under real category names:

* texture categories are random crops of scikit-image's bundled textures (``grid`` ← brick,
  stored as a 1-channel PNG like the real grid; ``carpet`` ← gravel tinted brown), with small
  brightness jitter and noise;
* object categories are rendered: ``bottle`` (a glass bottle seen from above: dark mouth, bright
  inner ring, glass rim, on black) and ``metal_nut`` (a four-lobed nut with a central hole), with
  slight shifts of position, size, rotation and lighting.

Defect types, each with a mask covering exactly the pixels it painted (a pixel outside the mask
is never changed):
``scratch`` (a thin bright or dark curve), ``hole`` (a dark disc with a lighter rim), ``stain``
(a soft coloured blob, at least half opaque), ``missing_part`` (a sector of the object replaced by
background; on textures, a patch replaced by the backing material).

Sizes: the real images are 700-1024 px; the twin's are 64 px (tiny), 128 px (smoke) and 256 px
(large). :func:`render` and :func:`truth` expose what was drawn, for tests that check a loader
against the generator rather than against its own parsing.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

DEFECT_TYPES = ("scratch", "hole", "stain", "missing_part")
GRAYSCALE = ("grid",)
TEXTURES = {"grid": "brick", "carpet": "gravel"}
OBJECTS = ("bottle", "metal_nut")


@dataclass(frozen=True)
class Plan:
    resolution: int
    defects: dict[str, tuple[str, ...]]  # category → defect types of its test split
    train: int
    test_good: int
    per_defect: int


PLANS = {
    "tiny": Plan(64, {"grid": ("hole", "scratch"), "bottle": ("missing_part", "stain")},
                 train=6, test_good=3, per_defect=2),
    "smoke": Plan(128, {name: DEFECT_TYPES for name in ("bottle", "carpet", "grid", "metal_nut")},
                  train=30, test_good=4, per_defect=2),
    "large": Plan(256, {name: DEFECT_TYPES for name in ("bottle", "carpet", "grid", "metal_nut")},
                  train=200, test_good=40, per_defect=10),
}


@dataclass(frozen=True)
class Rendered:
    clean: np.ndarray          # the defect-free rendering, uint8 H×W×3
    image: np.ndarray          # what is written: uint8 H×W×3 (H×W for grayscale categories)
    mask: np.ndarray | None    # bool H×W, True where the defect changed the image; None for good


def items(size: str) -> list[tuple[str, str, str, int]]:
    """Every (category, split, defect, number) of a twin, in writing order."""
    plan = PLANS[size]
    out = []
    for category in sorted(plan.defects):
        out += [(category, "train", "good", n) for n in range(plan.train)]
        out += [(category, "test", "good", n) for n in range(plan.test_good)]
        for defect in plan.defects[category]:
            out += [(category, "test", defect, n) for n in range(plan.per_defect)]
    return out


def relative_paths(category: str, split: str, defect: str, number: int) -> tuple[str, str | None]:
    """The image path and (for defects) mask path of one item, relative to the dataset directory."""
    image = f"{category}/{split}/{defect}/{number:03d}.png"
    mask = None if defect == "good" else f"{category}/ground_truth/{defect}/{number:03d}_mask.png"
    return image, mask


def truth(size: str, seed: int) -> pd.DataFrame:
    """What the twin of (size, seed) contains: one row per image with its defect pixel count."""
    rows = []
    for category, split, defect, number in items(size):
        image, mask = relative_paths(category, split, defect, number)
        drawn = render(category, split, defect, number, size=size, seed=seed)
        rows.append({"category": category, "split": split, "defect": defect, "image": image,
                     "mask": mask, "label": int(defect != "good"),
                     "defect_pixels": 0 if drawn.mask is None else int(drawn.mask.sum())})
    return pd.DataFrame(rows)


def render(category: str, split: str, defect: str, number: int, *, size: str, seed: int) -> Rendered:
    """Draw one item; the same arguments always give the same pixels."""
    resolution = PLANS[size].resolution
    rng = np.random.default_rng([seed, _code(category), _code(f"{split}/{defect}"), number])
    if category in TEXTURES:
        clean, region, background = _texture(category, resolution, rng), None, None
    else:
        clean, region, background = _OBJECT_RENDERERS[category](resolution, rng)
    gray = category in GRAYSCALE
    if defect == "good":
        image, mask = clean, None
    else:
        image, mask = _DEFECTS[defect](clean, region, background, rng, gray)
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    clean_u8 = np.clip(np.rint(clean), 0, 255).astype(np.uint8)
    image_u8 = clean_u8 if mask is None else image
    if gray:
        image_u8 = image_u8[..., 0]
    return Rendered(clean_u8, image_u8, mask)


def generate(out: Path, *, size: str, seed: int) -> None:
    out = Path(out)
    (out / "license.txt").write_text(
        "Synthetic twin of MVTec AD written by vadlib; no MVTec images are included.\n"
        "The real dataset is licensed CC BY-NC-SA 4.0 by MVTec Software GmbH.\n")
    (out / "readme.txt").write_text(
        f"vadlib synthetic MVTec AD twin, size={size}, seed={seed}, "
        f"{PLANS[size].resolution} px images; layout as in mvtec_anomaly_detection.tar.xz.\n")
    for category, split, defect, number in items(size):
        drawn = render(category, split, defect, number, size=size, seed=seed)
        image_path, mask_path = relative_paths(category, split, defect, number)
        _save_png(out / image_path, drawn.image)
        if mask_path is not None:
            _save_png(out / mask_path, drawn.mask.astype(np.uint8) * 255)


TWINS = {"mvtec_ad": generate}


# --- rendering -------------------------------------------------------------------------------

def _code(text: str) -> int:
    return zlib.crc32(text.encode())


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=6)


@functools.lru_cache(maxsize=None)
def _source(name: str) -> np.ndarray:
    import skimage.data
    return getattr(skimage.data, name)()


def _crop(source: np.ndarray, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (about a third of the source), flipped/rotated, resized; float [0, 1]."""
    side = int(source.shape[0] * rng.uniform(0.3, 0.38))
    top, left = rng.integers(0, source.shape[0] - side), rng.integers(0, source.shape[1] - side)
    patch = np.rot90(source[top:top + side, left:left + side], k=int(rng.integers(4)))
    patch = Image.fromarray(np.ascontiguousarray(patch)).resize((resolution, resolution), Image.BILINEAR)
    return np.asarray(patch, dtype=np.float64) / 255.0


def _texture(category: str, resolution: int, rng: np.random.Generator) -> np.ndarray:
    gray = _crop(_source(TEXTURES[category]), resolution, rng) * rng.uniform(0.93, 1.07)
    if category in GRAYSCALE:
        rgb = np.repeat((40 + 190 * gray)[..., None], 3, axis=2)
    else:  # a brown carpet: the texture modulates a tinted base colour
        rgb = np.array([70.0, 50, 35]) + gray[..., None] * np.array([150.0, 125, 100])
    return rgb + rng.normal(0, 2.0, rgb.shape[:2])[..., None]


def _polar(resolution: int, rng: np.random.Generator, jitter: float = 0.02):
    centre = resolution / 2 + rng.normal(0, jitter * resolution, 2)
    yy, xx = np.mgrid[0:resolution, 0:resolution] + 0.5
    return np.hypot(yy - centre[0], xx - centre[1]), np.arctan2(yy - centre[0], xx - centre[1])


def _black_background(resolution: int, rng: np.random.Generator) -> np.ndarray:
    return np.full((resolution, resolution, 3), 12.0) + rng.normal(0, 2.0, (resolution, resolution, 1))


def _bottle(resolution: int, rng: np.random.Generator):
    """A bottle from above: dark mouth, bright inner ring, brown glass rim; lit from one side."""
    radius, angle = _polar(resolution, rng)
    outer = 0.40 * resolution * rng.uniform(0.97, 1.03)
    light = rng.uniform(0, 2 * np.pi)
    shade = rng.uniform(0.9, 1.1) * (0.85 + 0.15 * np.cos(angle - light))
    grain = 0.92 + 0.16 * _crop(_source("gravel"), resolution, rng)
    zone = np.digitize(radius, [0.45 * outer, 0.62 * outer])  # 0 mouth, 1 inner ring, 2 rim
    glass = np.array([[28.0, 22, 16], [175, 135, 80], [100, 68, 34]])[zone]
    glass = glass * (shade * grain)[..., None]
    background = _black_background(resolution, rng)
    region = radius < outer
    return np.where(region[..., None], glass, background), region, background


def _metal_nut(resolution: int, rng: np.random.Generator):
    """A four-lobed silver nut with a central hole, slightly rotated; a bright ridge ring."""
    radius, angle = _polar(resolution, rng)
    base = 0.36 * resolution * rng.uniform(0.97, 1.03)
    rotation = rng.normal(0, np.deg2rad(8))
    boundary = base * (1 + 0.12 * np.cos(4 * (angle - rotation)))
    region = (radius < boundary) & (radius > 0.36 * base)
    light = rng.uniform(0, 2 * np.pi)
    ridge = np.exp(-((radius - 0.7 * base) / (0.08 * base)) ** 2)
    value = rng.uniform(0.9, 1.1) * (120 + 50 * np.cos(angle - light) * (radius / base) + 70 * ridge)
    metal = value[..., None] * np.array([1.0, 1.0, 1.05])[None, None]
    background = _black_background(resolution, rng)
    return np.where(region[..., None], metal, background), region, background


_OBJECT_RENDERERS = {"bottle": _bottle, "metal_nut": _metal_nut}


# --- defects: each returns (float image, bool mask of the pixels it changed) ---------------------

def _place(region: np.ndarray | None, resolution: int, rng: np.random.Generator, margin: float):
    """A random point inside the object (or anywhere away from the border on a texture)."""
    if region is None:
        return rng.uniform(margin, 1 - margin, 2) * resolution
    inside = np.argwhere(ndimage.binary_erosion(region, iterations=max(1, int(margin * resolution))))
    if len(inside) == 0:
        inside = np.argwhere(region)
    return inside[rng.integers(len(inside))] + 0.5


def _contrast(local: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour far from the local mean: dark on bright surfaces, bright on dark ones."""
    level = 20.0 if local.mean() > 110 else 235.0
    return np.full(3, level + rng.uniform(-10, 10))


def _scratch(clean, region, background, rng, gray):
    resolution = clean.shape[0]
    start = _place(region, resolution, rng, 0.15)
    span = resolution * rng.uniform(0.25, 0.45)
    direction = rng.uniform(0, 2 * np.pi)
    end = start + span * np.array([np.sin(direction), np.cos(direction)])
    bend = (start + end) / 2 + rng.normal(0, 0.12 * resolution, 2)
    t = np.linspace(0, 1, 8 * resolution)[:, None]
    points = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t ** 2 * end
    rows, cols = np.clip(np.floor(points).astype(int), 0, resolution - 1).T
    mask = np.zeros(clean.shape[:2], dtype=bool)
    mask[rows, cols] = True
    if resolution >= 128:
        mask = ndimage.binary_dilation(mask)
    image = clean.copy()
    image[mask] = _contrast(clean[mask], rng) + rng.normal(0, 3, (int(mask.sum()), 1))
    return image, mask


def _hole(clean, region, background, rng, gray):
    resolution = clean.shape[0]
    centre = _place(region, resolution, rng, 0.12)
    hole_radius = resolution * rng.uniform(0.05, 0.09)
    yy, xx = np.mgrid[0:resolution, 0:resolution] + 0.5
    distance = np.hypot(yy - centre[0], xx - centre[1])
    mask = distance < hole_radius
    core = distance < 0.7 * hole_radius
    image = clean.copy()
    image[mask & ~core] = np.minimum(clean[mask & ~core] * 1.3 + 45, 255)  # a raised, lit rim
    image[core] = 8 + 10 * (distance[core] / hole_radius)[:, None]
    return image, mask


def _stain(clean, region, background, rng, gray):
    resolution = clean.shape[0]
    centre = _place(region, resolution, rng, 0.15)
    yy, xx = np.mgrid[0:resolution, 0:resolution] + 0.5
    field = np.zeros(clean.shape[:2])
    for _ in range(int(rng.integers(2, 4))):
        blob = centre + rng.normal(0, 0.04 * resolution, 2)
        sigma = resolution * rng.uniform(0.04, 0.07)
        field += np.exp(-((yy - blob[0]) ** 2 + (xx - blob[1]) ** 2) / (2 * sigma ** 2))
    field /= field.max()
    mask = field > 0.3
    alpha = np.where(mask, 0.55 + 0.45 * (field - 0.3) / 0.7, 0.0)[..., None]
    local = clean[mask].mean(axis=0)
    if gray:
        colour = _contrast(clean[mask], rng)
    else:
        palette = np.array([[150.0, 40, 30], [40, 60, 150], [210, 190, 60], [30, 110, 50]])
        colour = palette[np.argmax(np.abs(palette - local).sum(axis=1))]
    return (1 - alpha) * clean + alpha * colour, mask


def _missing_part(clean, region, background, rng, gray):
    resolution = clean.shape[0]
    yy, xx = np.mgrid[0:resolution, 0:resolution] + 0.5
    image = clean.copy()
    if region is None:  # a torn-out patch of the texture showing the dark backing
        centre = _place(None, resolution, rng, 0.2)
        half = resolution * rng.uniform(0.06, 0.12, 2)
        tilt = rng.uniform(0, np.pi)
        u = (yy - centre[0]) * np.cos(tilt) + (xx - centre[1]) * np.sin(tilt)
        v = -(yy - centre[0]) * np.sin(tilt) + (xx - centre[1]) * np.cos(tilt)
        mask = (np.abs(u) < half[0]) & (np.abs(v) < half[1])
        image[mask] = 30 + rng.normal(0, 2, (int(mask.sum()), 1))
        return image, mask
    # a broken-off sector of the object's outer part, showing the background behind it
    centre = np.argwhere(region).mean(axis=0) + 0.5
    radius = np.hypot(yy - centre[0], xx - centre[1])
    angle = np.arctan2(yy - centre[0], xx - centre[1])
    outer = radius[region].max()
    direction, half_width = rng.uniform(-np.pi, np.pi), np.deg2rad(rng.uniform(15, 30))
    offset = np.angle(np.exp(1j * (angle - direction)))
    mask = region & (np.abs(offset) < half_width) & (radius > 0.55 * outer)
    image[mask] = background[mask]
    return image, mask


_DEFECTS = {"scratch": _scratch, "hole": _hole, "stain": _stain, "missing_part": _missing_part}
