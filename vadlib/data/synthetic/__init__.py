"""Synthetic twins: small datasets written in exactly the official on-disk layouts.

Every generator is deterministic in its seed and writes into an empty directory; the loaders of
:mod:`vadlib.data` cannot tell a twin from the real dataset, so CI exercises the whole loading
path. :func:`generate` adds what every twin needs: a cache keyed by (name, size, seed), atomic
creation (a temporary directory renamed into place) and an integrity record.

Sizes: ``tiny`` for unit tests (seconds), ``smoke`` for the smoke profile's notebooks, ``large``
for loader benchmarks.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from vadlib import paths
from vadlib.data.integrity import read_record, write_record

SIZES = ("tiny", "smoke", "large")
GENERATOR_VERSION = 2  # 2: the thermal twins write their geometry files (harbour_view.json, roi.json)

# Each module defines TWINS: {dataset name: generate(out_dir, *, size, seed) -> None}.
_MODULES = ("mot", "video_anomaly", "thermal", "fall_tests", "mvtec", "dtd", "brats", "imagenet")


def generators() -> dict[str, Callable[..., None]]:
    found: dict[str, Callable[..., None]] = {}
    for module in _MODULES:
        try:
            twins = importlib.import_module(f"{__name__}.{module}").TWINS
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{module}":
                raise
            continue
        found.update(twins)
    return found


def twin_root(size: str = "smoke", seed: int = 0, data_root: Path | None = None) -> Path:
    """The data root under which the twins of one (size, seed) live, one directory per dataset."""
    return Path(data_root or paths.data_root()) / "synthetic" / f"{size}-seed{seed}"


def _directory_name(name: str) -> str:
    try:
        from vadlib.data.manifests import load_manifest
        return load_manifest(name).directory
    except (KeyError, FileNotFoundError):
        return name


def generate(name: str, *, size: str = "smoke", seed: int = 0, data_root: Path | None = None,
             force: bool = False) -> Path:
    """Write (or reuse) the synthetic twin of ``name``; returns the dataset directory.

    The twin lives at ``<data_root>/synthetic/<size>-seed<seed>/<dataset directory>``, so the
    loaders read it exactly as they read ``<data_root>/<dataset directory>`` of the real set.
    """
    table = generators()
    if name not in table:
        raise ValueError(f"no synthetic twin for {name!r}; twins exist for: {', '.join(sorted(table))}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    target = twin_root(size, seed, data_root) / _directory_name(name)
    wanted = {"dataset": name, "size": size, "seed": seed, "generator_version": GENERATOR_VERSION}
    record = read_record(target)
    if not force and record and all(record.get(key) == value for key, value in wanted.items()):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        table[name](scratch, size=size, seed=seed)
        write_record(scratch, "synthetic", **wanted)
        if target.exists():
            shutil.rmtree(target)
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target
