"""Datasets: manifests, loaders for the official on-disk layouts, and synthetic twins.

Runs and notebooks find a dataset directory through one rule, :class:`DataSource`: under the
smoke profile (``data_source='synthetic'``) a synthetic twin written on first use, otherwise the
real dataset under the data root, whose layout is checked before any loader reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vadlib.data.errors import DatasetError, DatasetFileError

__all__ = ["DataSource", "DatasetError", "DatasetFileError", "dataset_root"]

DATA_SOURCES = ("synthetic", "real")


@dataclass(frozen=True)
class DataSource:
    """Where a run's datasets come from.

    ``kind='synthetic'``: the twins of seed ``twin_seed`` (generated on first use under
    ``<root>/synthetic/``); ``'real'``: ``<root>/<directory>`` of each manifest. ``root`` None
    means :func:`vadlib.paths.data_root` (env ``VADLIB_DATA``). The profile's ``seed`` knob seeds
    the runs (initialisation, shuffling), never the data: every seed trains on the same twin, as
    every seed trains on the same real dataset.
    """

    kind: str = "synthetic"
    root: str | None = None
    twin_seed: int = 0

    def __post_init__(self):
        if self.kind not in DATA_SOURCES:
            raise ValueError(f"data source must be one of {', '.join(DATA_SOURCES)}, got {self.kind!r}")

    @classmethod
    def from_settings(cls, settings) -> "DataSource":
        return cls(settings.data_source, str(settings.data_root) if settings.data_root else None)

    @property
    def synthetic(self) -> bool:
        return self.kind == "synthetic"

    def locate(self, name: str, size: str = "smoke") -> Path:
        """The directory of dataset ``name`` (a twin of ``size`` when synthetic)."""
        from vadlib.data import status as status_module, synthetic
        root = Path(self.root) if self.root else None
        if self.synthetic:
            return synthetic.generate(name, size=size, seed=self.twin_seed, data_root=root)
        return status_module.require(name, root)


def dataset_root(name: str, settings: Any = None, *, size: str = "smoke") -> Path:
    """The directory of dataset ``name`` for a profile's settings: ``DataSource.from_settings``
    then :meth:`DataSource.locate` (the rule every run follows)."""
    from vadlib import profiles
    settings = settings if settings is not None else profiles.resolve()
    return DataSource.from_settings(settings).locate(name, size)
