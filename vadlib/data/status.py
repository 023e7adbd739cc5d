"""Is a dataset there, complete and intact? The logic behind ``vadlib data status`` and ``verify``.

A dataset directory is judged against its manifest:

* ``missing``: the directory does not exist or is empty;
* ``not a directory``: a file stands where the directory (or the data root) should be;
* ``wrong layout``: files are there, but no layout variant of the manifest matches;
* ``corrupt``: files recorded when vadlib fetched or generated the set are gone or changed
  (sizes for ``status``; sha256 for ``verify``);
* ``incomplete``: a layout matches but holds fewer files than the complete release;
* ``present``: a layout matches with the release's counts (or counts are not published);
* ``synthetic twin``: a complete twin written by ``vadlib data synth``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from vadlib import paths
from vadlib.data.errors import DatasetError
from vadlib.data.integrity import check_record, read_record
from vadlib.data.manifests import Manifest, load_manifest

USABLE = ("present", "incomplete", "synthetic twin")


@dataclass
class DatasetStatus:
    name: str
    state: str
    path: Path
    variant: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.state in USABLE

    def describe(self) -> str:
        head = f"{self.name:<20} {self.state:<15} {self.path}"
        if self.variant:
            head += f"  (layout: {self.variant})"
        return "\n".join([head] + [f"{'':<20} - {line}" for line in self.details])


def _layout_report(manifest: Manifest, directory: Path) -> tuple[str | None, list[str], list[str]]:
    """(matching variant, shortfalls against the release counts, problems of the closest variant)."""
    best: tuple[int, str, list[str]] | None = None
    for variant, entries in manifest.layouts.items():
        absent, short = [], []
        for entry in entries:
            found = len(entry.matches(directory))
            if found == 0:
                absent.append(f"no {entry.what or 'files'} ({entry.pattern})")
            elif entry.count is not None and found < entry.count:
                short.append(f"{found} of {entry.count} {entry.what or 'files'} ({entry.pattern})")
        if not absent:
            return variant, short, []
        if best is None or len(absent) < best[0]:
            best = (len(absent), variant, absent)
    problems = [f"layout '{best[1]}': {line}" for line in best[2]] if best else ["manifest has no layout"]
    return None, [], problems


def status(name: str, data_root: Path | None = None, *, directory: Path | None = None,
           deep: bool = False) -> DatasetStatus:
    """The state of dataset ``name`` under ``data_root`` (or at ``directory`` itself)."""
    manifest = load_manifest(name)
    path = Path(directory) if directory else manifest.path(data_root or paths.data_root())
    blocker = _file_in_the_way(path)
    if blocker is not None:
        what = "the dataset path" if blocker == path else f"{blocker} (on the dataset path)"
        return DatasetStatus(name, "not a directory", path,
                             details=[f"{what} is a file, not a directory"])
    if not path.is_dir() or not any(path.iterdir()):
        return DatasetStatus(name, "missing", path)
    variant, short, problems = _layout_report(manifest, path)
    if variant is None:
        return DatasetStatus(name, "wrong layout", path, details=problems)
    damaged = check_record(path, deep=deep)
    if damaged:
        shown = damaged[:5] + ([f"... and {len(damaged) - 5} more"] if len(damaged) > 5 else [])
        return DatasetStatus(name, "corrupt", path, variant, shown)
    record = read_record(path) or {}
    if record.get("source") == "synthetic":
        return DatasetStatus(name, "synthetic twin", path, variant,
                             [f"size {record.get('size')}, seed {record.get('seed')}"])
    if short:
        return DatasetStatus(name, "incomplete", path, variant, short)
    return DatasetStatus(name, "present", path, variant)


def _file_in_the_way(path: Path) -> Path | None:
    """``path`` or the nearest existing folder above it when that is not a directory (a file
    where the dataset or the data root should be); None otherwise."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def require(name: str, data_root: Path | None = None, *, directory: Path | None = None) -> Path:
    """The dataset directory if usable; :class:`DatasetError` saying what is wrong otherwise.

    An incomplete set (e.g. a few MVTec categories) is usable, with a warning.
    """
    found = status(name, data_root, directory=directory)
    if not found.usable:
        problem = {"missing": "dataset directory is missing or empty",
                   "not a directory": "; ".join(found.details)}.get(
            found.state, f"{found.state}: " + "; ".join(found.details))
        raise DatasetError(name, found.path, problem)
    if found.state == "incomplete":
        warnings.warn(f"{name} at {found.path} is incomplete: " + "; ".join(found.details), stacklevel=2)
    return found.path
