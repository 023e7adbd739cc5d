"""Where things live: the repository, generated figures and tables, cached runs, datasets.

Every location can be moved with an environment variable, so tests, clusters and read-only
checkouts can redirect output without touching code:

=====================  ==============================  ======================================
what                   default                         environment variable
=====================  ==============================  ======================================
repository root        the checkout containing vadlib  (fixed)
figures and tables     ``<repo>/figures``              ``VADLIB_FIGURES``
cached runs            ``<repo>/runs``                 ``VADLIB_RUNS``
datasets               ``~/.cache/vadlib/data``        ``VADLIB_DATA`` (or ``XDG_CACHE_HOME``)
=====================  ==============================  ======================================
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
REPORTED_DIR = PACKAGE_DIR / "reported"
STYLE_FILE = PACKAGE_DIR / "vadlib.mplstyle"


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def figures_dir() -> Path:
    """Root of generated artifacts: ``tables/<id>.*``, ``<paper>/<id>.*`` and ``index.json``."""
    return _from_env("VADLIB_FIGURES", REPO_ROOT / "figures")


def tables_dir() -> Path:
    return figures_dir() / "tables"


def timings_dir() -> Path:
    """Tables of measured wall-clock times (``save_table(..., measured=True)``)."""
    return figures_dir() / "timings"


def runs_dir() -> Path:
    """Root of the experiment cache (``<config-hash>/``) and executed notebooks (``notebooks/``)."""
    return _from_env("VADLIB_RUNS", REPO_ROOT / "runs")


def data_root() -> Path:
    """Root under which every dataset lives in its official layout (``<root>/<dataset>/...``)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return _from_env("VADLIB_DATA", cache / "vadlib" / "data")
