"""Synthetic twins: small datasets written in exactly the official on-disk layouts.

Every generator is deterministic in its seed and writes into an empty directory; the loaders of
:mod:`vadlib.data` cannot tell a twin from the real dataset, so CI exercises the whole loading
path. :func:`generate` adds what every twin needs: a cache keyed by (name, size, seed), atomic
creation (a temporary directory renamed into place) and an integrity record. Generation holds an
inter-process lock (a file under ``<data_root>/synthetic/.locks/``), so two processes asking for a
twin that is not there yet generate it once: the second waits and then uses the finished twin.

Sizes: ``tiny`` for unit tests (seconds), ``smoke`` for the smoke profile's notebooks, ``large``
for loader benchmarks.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

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


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if absent, never removed: removing a
    lock file lets a waiter and a newcomer lock two different files)."""
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _is_current(target: Path, wanted: dict) -> bool:
    record = read_record(target)
    return bool(record) and all(record.get(key) == value for key, value in wanted.items())


def _move_into_place(scratch: Path, target: Path) -> None:
    """Rename the finished ``scratch`` directory to ``target``. An old ``target`` is renamed aside
    first and deleted after, so ``target`` is never a half-deleted or half-written twin."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old)  # a directory replaces an empty one
    os.replace(scratch, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def generate(name: str, *, size: str = "smoke", seed: int = 0, data_root: Path | None = None,
             force: bool = False) -> Path:
    """Write (or reuse) the synthetic twin of ``name``; returns the dataset directory.

    The twin lives at ``<data_root>/synthetic/<size>-seed<seed>/<dataset directory>``, so the
    loaders read it exactly as they read ``<data_root>/<dataset directory>`` of the real set. It is
    generated into a hidden sibling directory and renamed into place, under a lock shared by every
    process: a reader never sees a half-written twin, and a twin is generated once however many
    processes ask for it at the same time.
    """
    table = generators()
    if name not in table:
        raise ValueError(f"no synthetic twin for {name!r}; twins exist for: {', '.join(sorted(table))}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    target = twin_root(size, seed, data_root) / _directory_name(name)
    wanted = {"dataset": name, "size": size, "seed": seed, "generator_version": GENERATOR_VERSION}
    if not force and _is_current(target, wanted):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    locks = target.parent.parent / ".locks"  # outside the twin root, which holds datasets only
    locks.mkdir(exist_ok=True)
    with _exclusive(locks / f"{target.parent.name}.{target.name}.lock"):
        if not force and _is_current(target, wanted):  # another process generated it while we waited
            return target
        # leftovers of a process killed while generating (only the lock holder generates)
        for stale in target.parent.glob(f".{target.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            table[name](scratch, size=size, seed=seed)
            write_record(scratch, "synthetic", **wanted)
            _move_into_place(scratch, target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    return target
