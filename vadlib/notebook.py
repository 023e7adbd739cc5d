"""What every notebook does first: resolve its profile, seed everything, set up provenance.

    nb = setup("03_C_sspcab", profile=profile, data_root=data_root, device=device, seed=seed,
               overrides=overrides)
    nb.table("C.2")                       # the printed table, saved with provenance
    nb.table("C.2", reproduced=frame)     # reported | reproduced | delta
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vadlib import artifacts, paths, profiles, reported
from vadlib.data import DataSource
from vadlib.catalog import notebook_by_id


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def use_style() -> None:
    """The committed matplotlib style of every vadlib figure."""
    import matplotlib.pyplot as plt
    plt.style.use(paths.STYLE_FILE)


@dataclass
class Session:
    notebook: str
    paper: str | None
    settings: profiles.Settings
    device: str
    #: fingerprint of the data this notebook's artifacts derive from: the transcribed thesis tables
    #: until the notebook loads a dataset, which then sets it (``artifacts.fingerprint([root])``).
    data_fingerprint: str = ""
    datasets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.data_fingerprint:
            self.data_fingerprint = artifacts.fingerprint([reported.TABLES_DIR, reported.AUDIT_DIR])

    def dataset(self, name: str, size: str = "smoke") -> Path:
        """The directory of dataset ``name`` for this profile (a synthetic twin under ``smoke``),
        located by the same rule as every run (:class:`vadlib.data.DataSource`).

        Its fingerprint joins the data fingerprint recorded with every artifact saved afterwards.
        """
        from vadlib.data.integrity import fingerprint
        root = DataSource.from_settings(self.settings).locate(name, size)
        self.datasets[name] = fingerprint(root)
        combined = "\n".join([self.data_fingerprint] + [f"{k}={v}" for k, v in sorted(self.datasets.items())])
        self.data_fingerprint = "sha256:" + hashlib.sha256(combined.encode()).hexdigest()
        return root

    def table(self, table_id: str, reproduced: pd.DataFrame | None = None, **kwargs: Any) -> pd.DataFrame:
        """Save a table (see :func:`vadlib.artifacts.save_table`) and return what was written."""
        kwargs.setdefault("paper", self.paper)
        if reproduced is not None:
            kwargs.setdefault("data_fingerprint", self.data_fingerprint)
        return artifacts.save_table(table_id, reproduced, **kwargs)

    def figure(self, fig, figure_id: str, **kwargs: Any):
        kwargs.setdefault("data_fingerprint", self.data_fingerprint)
        return artifacts.save_figure(fig, figure_id, kwargs.pop("paper", self.paper or "thesis"), **kwargs)

    def reported_tables(self) -> list[str]:
        return reported.table_ids(self.paper)

    def banner(self) -> str:
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.settings.knobs.items())
        threads = os.environ.get("OMP_NUM_THREADS", "?")
        return f"{self.notebook} · profile {self.settings.profile} · device {self.device} · {threads} math threads\n{knobs}"


def setup(notebook: str, *, profile: str = profiles.DEFAULT_PROFILE, data_root: str | None = None,
          device: str = "auto", seed: int = 0, overrides: dict[str, Any] | None = None) -> Session:
    entry = notebook_by_id(notebook)
    overrides = dict(overrides or {})
    clash = sorted(set(overrides) & {"data_root", "device", "seed"})
    if clash:
        raise ValueError(f"set {', '.join(clash)} as notebook parameters, not in overrides")
    settings = profiles.resolve(profile, data_root=data_root, device=device, seed=seed, **overrides)
    seed_everything(settings.seed)
    profiles.apply_math_threads()  # a kernel started by `vadlib reproduce` finds OMP_NUM_THREADS set
    use_style()
    parameters = {"profile": profile, "data_root": data_root, "device": device, "seed": seed, "overrides": overrides}
    resolved_device = profiles.resolve_device(settings.device)
    artifacts.set_provenance(entry.stem, profile, parameters, {**settings.as_dict(), "device_used": resolved_device})
    return Session(entry.stem, entry.paper, settings, resolved_device)
