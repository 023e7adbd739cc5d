"""Shared input checks for :mod:`vadlib.metrics` (internal).

Every check raises :class:`ValueError` with a message that names the argument and the problem, so a
bad call fails loudly instead of producing a silent ``nan``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def as_1d_float(x, name: str) -> np.ndarray:
    """1-D float64 array from ``x``; raises on wrong dimensionality, NaN or infinity."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` (float array) holds NaN or +-inf, saying how many and where the first is."""
    bad = ~np.isfinite(arr)
    if bad.any():
        n_nan = int(np.isnan(arr).sum())
        first = np.unravel_index(int(np.argmax(bad)), arr.shape)
        kind = "NaN" if n_nan else "infinite"
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite value(s) ({n_nan} NaN), "
            f"first {kind} at index {first if len(first) > 1 else first[0]}"
        )


def as_binary(x, name: str) -> np.ndarray:
    """Boolean array from a 0/1 or bool array of any shape; raises on other values or NaN."""
    arr = np.asarray(x)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; labels must be 0/1 or bool")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric 0/1 or bool, got dtype {arr.dtype}")
    ok = (arr == 0) | (arr == 1)
    if not ok.all():
        bad = np.unique(arr[~ok])[:5]
        raise ValueError(f"{name} must contain only 0/1 (or bool); found {bad.tolist()}")
    return arr.astype(bool)


def check_same_keys(a: Mapping, b: Mapping, name_a: str, name_b: str) -> None:
    """Raise if two per-video mappings do not have the same video ids."""
    ka, kb = set(a), set(b)
    if ka != kb:
        only_a = sorted(map(str, ka - kb))[:10]
        only_b = sorted(map(str, kb - ka))[:10]
        parts = []
        if only_a:
            parts.append(f"unknown video ids in {name_a} (absent from {name_b}): {only_a}")
        if only_b:
            parts.append(f"unknown video ids in {name_b} (absent from {name_a}): {only_b}")
        raise ValueError("; ".join(parts))
