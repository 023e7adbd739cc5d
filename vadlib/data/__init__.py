"""Datasets: manifests, loaders for the official on-disk layouts, and synthetic twins.

Notebooks ask for a dataset directory with :func:`dataset_root`; under the smoke profile
(``data_source='synthetic'``) that is a synthetic twin written on first use, otherwise the real
dataset under the data root, whose layout is checked before any loader reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vadlib.data.errors import DatasetError

__all__ = ["DatasetError", "dataset_root"]


def dataset_root(name: str, settings: Any = None, *, size: str = "smoke") -> Path:
    """The directory of dataset ``name`` for a profile's settings.

    ``settings.data_source == 'synthetic'`` → the twin of (``size``, ``settings.seed``), generated
    on first use under ``<data root>/synthetic/``; ``'real'`` → ``<data root>/<directory>``,
    which must hold one of the manifest's layouts, else :class:`DatasetError`.
    """
    from vadlib import profiles
    from vadlib.data import status as status_module, synthetic
    settings = settings if settings is not None else profiles.resolve()
    data_root = Path(settings.data_root) if settings.data_root else None
    if settings.data_source == "synthetic":
        return synthetic.generate(name, size=size, seed=settings.seed, data_root=data_root)
    return status_module.require(name, data_root)
