"""Synthetic twin of BraTS: small brain-like MRI volumes with tumours, in the BraTS 2021 layout.

Written exactly as :mod:`vadlib.data.brats` reads the real release: one folder per subject,
``BraTS2021_<5 digits>/BraTS2021_<5 digits>_{flair,t1,t1ce,t2,seg}.nii.gz``, int16 images and a
uint8 segmentation, 1 mm voxels and the BraTS 2021 affine (x flipped, y flipped, z up: axis codes
L, P, S, so the axial axis is the third array axis).

Each subject is rendered procedurally:

* a skull-stripped head: an ellipsoidal brain with an irregular border (0 outside, ≥ 1 inside),
  a grey-matter rim with fold-like undulations, white matter inside, two ventricle-like CSF
  regions; slow multiplicative bias field and fine tissue texture per modality;
* per-modality contrast as in MRI: CSF dark in FLAIR and T1, bright in T2; white matter brighter
  than grey matter in T1, darker in T2 and FLAIR;
* one tumour per subject (every BraTS subject has one), a union of 2-4 jittered ellipsoids, with
  the BraTS labels: 1 necrotic core (centre), 4 enhancing tumour (a shell around it; very bright
  in T1ce), 2 oedema (the outer zone; hyperintense in FLAIR and T2). The tumour spans only some
  axial slices, so every subject also has lesion-free slices with brain, and the top and bottom
  slices hold no brain at all.

Sizes (the real volumes are 240×240×155): tiny = 5 subjects of 48×48×24, smoke = 10 of 64×64×40,
large = 8 of 240×240×155. :func:`render` returns the arrays a subject was written from and
:func:`truth` the per-slice facts (tumour, brain pixels), computed from those arrays, for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

MODALITIES = ("flair", "t1", "t1ce", "t2")


@dataclass(frozen=True)
class Plan:
    subjects: int
    shape: tuple[int, int, int]


PLANS = {"tiny": Plan(5, (48, 48, 24)), "smoke": Plan(10, (64, 64, 40)),
         "large": Plan(8, (240, 240, 155))}

# Relative intensity of each tissue per modality: white matter, grey matter, CSF,
# necrotic core (1), oedema (2), enhancing tumour (4).
CONTRAST = {
    "flair": (0.50, 0.62, 0.10, 0.55, 0.95, 0.85),
    "t1": (0.80, 0.58, 0.15, 0.35, 0.55, 0.60),
    "t1ce": (0.80, 0.60, 0.15, 0.30, 0.55, 1.00),
    "t2": (0.45, 0.60, 1.00, 0.85, 0.90, 0.70),
}
INTENSITY_SCALE = 1000.0  # int16 values of roughly 100..1000, like a BraTS FLAIR


def subject_ids(size: str) -> list[str]:
    return [f"BraTS2021_{number:05d}" for number in range(PLANS[size].subjects)]


def affine(shape: tuple[int, int, int]) -> np.ndarray:
    """The BraTS 2021 affine for a volume of ``shape``: 1 mm voxels, axis codes (L, P, S)."""
    return np.array([[-1.0, 0, 0, 0], [0, -1.0, 0, shape[1] - 1], [0, 0, 1.0, 0], [0, 0, 0, 1]])


def render(number: int, *, size: str, seed: int) -> dict[str, np.ndarray]:
    """The arrays of subject ``number``: one int16 volume per modality, ``seg`` (uint8 labels
    0/1/2/4) and ``brain`` (bool), each of shape (X, Y, Z); the axial slice k is ``[:, :, k]``."""
    shape = PLANS[size].shape
    rng = np.random.default_rng([seed, number, 2021])
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")

    centre = rng.uniform(-0.04, 0.04, 3) + (0, 0, -0.05)
    radii = np.array([0.78, 0.88, 0.80]) * rng.uniform(0.95, 1.02, 3)
    head = np.sqrt(((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2
                   + ((z - centre[2]) / radii[2]) ** 2)
    head = head + 0.04 * _smooth_noise(shape, rng, cells=5)
    brain = head < 1.0
    folds = 0.05 * _smooth_noise(shape, rng, cells=10)
    grey = brain & (head + folds > 0.80)
    ventricles = np.zeros(shape, bool)
    for side in (-1, 1):
        vx, vy, vz = centre[0] + side * 0.13, centre[1] - 0.05, centre[2] + 0.05
        ventricles |= (((x - vx) / 0.07) ** 2 + ((y - vy) / 0.28) ** 2 + ((z - vz) / 0.22) ** 2) < 1
    ventricles &= brain & ~grey

    seg = _tumour(shape, x, y, z, centre, rng) * brain
    tissue = np.zeros(shape, np.int8)  # 0 white, 1 grey, 2 CSF, 3 core, 4 oedema, 5 enhancing
    tissue[grey] = 1
    tissue[ventricles] = 2
    tissue[seg == 1], tissue[seg == 2], tissue[seg == 4] = 3, 4, 5

    arrays: dict[str, np.ndarray] = {}
    for modality in MODALITIES:
        levels = np.asarray(CONTRAST[modality])
        volume = levels[tissue]
        volume = volume * (1 + 0.08 * _smooth_noise(shape, rng, cells=3))  # bias field
        volume = volume + 0.03 * _fine_noise(shape, rng)  # tissue texture
        volume = ndimage.gaussian_filter(volume, 0.6) + rng.normal(0, 0.015, shape)
        values = np.clip(np.round(volume * INTENSITY_SCALE), 1, 32000)
        arrays[modality] = np.where(brain, values, 0).astype(np.int16)
    arrays["seg"] = seg.astype(np.uint8)
    arrays["brain"] = brain
    return arrays


def truth(size: str, seed: int) -> pd.DataFrame:
    """One row per (subject, axial slice): ``scan``, ``slice``, ``has_lesion``, ``lesion_pixels``,
    ``brain_pixels``, ``slice_pixels`` — read off the rendered arrays, not the written files."""
    rows = []
    for number, scan in enumerate(subject_ids(size)):
        arrays = render(number, size=size, seed=seed)
        seg, brain = arrays["seg"], arrays["brain"]
        for k in range(seg.shape[2]):
            lesion = int((seg[:, :, k] > 0).sum())
            rows.append({"scan": scan, "slice": k, "has_lesion": lesion > 0, "lesion_pixels": lesion,
                         "brain_pixels": int(brain[:, :, k].sum()),
                         "slice_pixels": seg.shape[0] * seg.shape[1]})
    return pd.DataFrame(rows)


def generate(out: Path, *, size: str, seed: int) -> None:
    import nibabel as nib

    out = Path(out)
    plan = PLANS[size]
    for number, scan in enumerate(subject_ids(size)):
        arrays = render(number, size=size, seed=seed)
        folder = out / scan
        folder.mkdir(parents=True, exist_ok=True)
        for kind in (*MODALITIES, "seg"):
            image = nib.Nifti1Image(arrays[kind], affine(plan.shape))
            image.header.set_xyzt_units("mm", "sec")
            image.header.set_qform(affine(plan.shape), code=1)
            image.header.set_sform(affine(plan.shape), code=1)
            nib.save(image, str(folder / f"{scan}_{kind}.nii.gz"))


TWINS = {"brats": generate}


def _smooth_noise(shape: tuple[int, ...], rng: np.random.Generator, cells: int) -> np.ndarray:
    """Zero-mean, unit-std noise varying over about ``cells`` cells per axis (linear upsampling of
    a coarse random grid, then a light blur to hide the grid)."""
    coarse_shape = tuple(max(2, min(cells, n)) for n in shape)
    coarse = rng.normal(size=coarse_shape)
    field = ndimage.zoom(coarse, [n / c for n, c in zip(shape, coarse_shape)], order=1, mode="nearest")
    field = field[tuple(slice(0, n) for n in shape)]
    if field.shape != tuple(shape):  # zoom can round one short
        field = np.pad(field, [(0, n - f) for n, f in zip(shape, field.shape)], mode="edge")
    field = ndimage.uniform_filter(field, 3)
    return (field - field.mean()) / (field.std() + 1e-8)


def _fine_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.normal(size=shape), 1.0)
    return field / (field.std() + 1e-8)


def _tumour(shape, x, y, z, centre, rng: np.random.Generator) -> np.ndarray:
    """BraTS labels of a tumour made of 2-4 jittered ellipsoids: 1 core, 4 enhancing, 2 oedema."""
    core = centre + np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.35, 0.35), rng.uniform(-0.2, 0.2)])
    distance = np.full(shape, np.inf)
    for _ in range(rng.integers(2, 5)):
        offset = rng.uniform(-0.1, 0.1, 3)
        radii = np.array([rng.uniform(0.14, 0.24), rng.uniform(0.14, 0.24), rng.uniform(0.16, 0.26)])
        c = core + offset
        d = np.sqrt(((x - c[0]) / radii[0]) ** 2 + ((y - c[1]) / radii[1]) ** 2 + ((z - c[2]) / radii[2]) ** 2)
        distance = np.minimum(distance, d)
    distance = distance + 0.08 * _smooth_noise(shape, rng, cells=6)
    labels = np.zeros(shape, np.uint8)
    labels[distance < 1.0] = 2
    labels[distance < 0.6] = 4
    labels[distance < 0.35] = 1
    return labels
