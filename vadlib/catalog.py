"""The notebooks of the companion: one per thesis paper, plus the thesis at a glance.

Each entry names its ``papers`` module, whose ``plan(settings)`` lists the experiment runs the
notebook makes: :func:`planned_runs` asks it, so the plan ``vadlib reproduce --dry-run`` prints
and checks is exactly what the notebook executes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from vadlib import paths


@dataclass(frozen=True)
class NotebookEntry:
    number: str
    stem: str
    paper: str | None
    title: str
    regenerates: str
    papers: str | None = None  # the vadlib.papers module with this notebook's plan

    @property
    def ipynb(self):
        return paths.NOTEBOOKS_DIR / f"{self.stem}.ipynb"

    @property
    def script(self):
        return paths.NOTEBOOKS_DIR / f"{self.stem}.py"


NOTEBOOKS = (
    NotebookEntry("00", "00_thesis_at_a_glance", None, "The thesis at a glance",
                  "every reported table; an audit of the thesis's own arithmetic (errata)"),
    NotebookEntry("01", "01_A_attention_tracker", "A", "Paper A — attention-gated one-stage tracker",
                  "Tables A.1–A.5 and 2.1 (MOT15/16/17)",
                  papers="vadlib.papers.a_tracker"),
    NotebookEntry("02", "02_B_thermalsynth", "B", "Paper B — ThermalSynth",
                  "Tables B.1–B.3 and 3.1; confusion matrices (Fig. B.6 = 3.1)",
                  papers="vadlib.papers.b_thermalsynth"),
    NotebookEntry("03", "03_C_sspcab", "C", "Paper C — SSPCAB",
                  "Tables C.1–C.6, supplementary Tables 1–3 (MVTec AD, Avenue, ShanghaiTech)",
                  papers="vadlib.papers.c_sspcab"),
    NotebookEntry("04", "04_D_ssmctb", "D", "Paper D — SSMCTB",
                  "Tables D.1–D.12 and 5.1–5.4 (MVTec AD, BRATS, Avenue, ShanghaiTech, Thermal)",
                  papers="vadlib.papers.d_ssmctb"),
    NotebookEntry("05", "05_E_trajectories", "E", "Paper E — socially unacceptable trajectories",
                  "Tables E.1–E.2 and 5.5"),
    NotebookEntry("06", "06_F_curriculum_mae", "F", "Paper F — curriculum masking for MAE (CM-MAE)",
                  "Tables F.1–F.6 and 4.1",
                  papers="vadlib.papers.f_cm_mae"),
)


def notebook_by_id(token: str) -> NotebookEntry:
    """Find a notebook by number (``03``), paper letter (``C``) or stem (``03_C_sspcab``)."""
    for entry in NOTEBOOKS:
        if token in (entry.number, entry.stem, entry.paper) or (entry.paper and token.upper() == entry.paper):
            return entry
    valid = ", ".join(f"{e.number}" + (f"/{e.paper}" if e.paper else "") for e in NOTEBOOKS)
    raise ValueError(f"unknown notebook {token!r}; valid: {valid} (number, paper letter or full name)")


def planned_runs(entry: NotebookEntry, settings) -> list:
    """Every experiment run ``entry``'s notebook makes under ``settings`` (none for a notebook
    that only presents reported tables)."""
    if entry.papers is None:
        return []
    return importlib.import_module(entry.papers).plan(settings)
