"""The notebooks of the companion: one per thesis paper, plus the thesis at a glance.

Each entry names its ``papers`` module, whose ``plan(settings)`` lists the experiment runs the
notebook makes: :func:`planned_runs` asks it, so the plan ``vadlib reproduce --dry-run`` prints
and checks is exactly what the notebook executes.

Each entry also declares the artifacts its notebook must write (showyourwork's discipline: an
output is declared beside its producer, and a run that does not produce it fails):

- ``tables``: the ids given to ``nb.table(id, ...)``, recorded as ``table:<id>`` in
  ``figures/index.json``;
- ``figures``: the ids given to ``nb.figure(fig, id)``, recorded as ``figure:<paper>/<id>``.

The declaration is what the notebook writes under the **default parameters** (the smoke profile,
no overrides), exactly. A few artifacts depend on the parameters: one figure per MVTec AD class the
profile runs (two under smoke, fifteen under quick and full), or a figure of a real test set that
may be absent outside smoke. ``varying`` lists them as ``fnmatch`` patterns of ids. After a
successful execution ``vadlib reproduce`` (see :func:`vadlib.reproduce.check_outputs`) applies
the rule:

- default parameters: every declared id must be written; an undeclared one is a warning;
- other parameters: every declared id that matches no ``varying`` pattern must be written; an id
  that matches one may be missing or extra; any other undeclared id is a warning.

A declared id that is missing marks the notebook failed.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass

from vadlib import paths


@dataclass(frozen=True)
class NotebookEntry:
    number: str
    stem: str
    paper: str | None
    title: str
    regenerates: str  # the same, in words, for the README's table of notebooks
    papers: str | None = None  # the vadlib.papers module with this notebook's plan
    tables: tuple[str, ...] = ()  # table ids the notebook writes under the default parameters
    figures: tuple[str, ...] = ()  # figure ids the notebook writes under the default parameters
    varying: tuple[str, ...] = ()  # fnmatch patterns of ids whose presence depends on the parameters

    @property
    def ipynb(self):
        return paths.NOTEBOOKS_DIR / f"{self.stem}.ipynb"

    @property
    def script(self):
        return paths.NOTEBOOKS_DIR / f"{self.stem}.py"

    def varies(self, artifact_id: str) -> bool:
        """Whether ``artifact_id`` (a table or figure id) is written or not depending on the parameters."""
        return any(fnmatch.fnmatchcase(artifact_id, pattern) for pattern in self.varying)


NOTEBOOKS = (
    NotebookEntry("00", "00_thesis_at_a_glance", None, "The thesis at a glance",
                  "every reported table; an audit of the thesis's own arithmetic (errata)",
                  tables=("thesis_tables", "thesis_audit", "thesis_errata"),
                  figures=("audit_verdicts",)),
    NotebookEntry("01", "01_A_attention_tracker", "A", "Paper A — attention-gated one-stage tracker",
                  "Tables A.1–A.5 and 2.1 (MOT15/16/17)",
                  papers="vadlib.papers.a_tracker",
                  tables=("A.1", "A.2", "2.1", "A.3", "A.4", "A.5"),
                  figures=("A_oracle_association", "A.5_tracklets", "A.6_implicit_vs_explicit")),
    NotebookEntry("02", "02_B_thermalsynth", "B", "Paper B — ThermalSynth",
                  "Tables B.1–B.3 and 3.1; confusion matrices (Fig. B.6 = 3.1)",
                  papers="vadlib.papers.b_thermalsynth",
                  tables=("B.1", "3.1", "B.2", "B.3", "B3_synthetic_test"),
                  figures=("B_background_and_composites", "B.3_postprocessing", "B.5_gain_level",
                           "B_generated_samples", "B_real_test_samples", "B.6_reproduced",
                           "B.6_intentional_fall_recovered"),
                  # smoke draws twins of the real test sets; quick and full skip a set that is absent
                  varying=("B_real_test_samples",)),
    NotebookEntry("03", "03_C_sspcab", "C", "Paper C — SSPCAB",
                  "Tables C.1–C.6, supplementary Tables 1–3 (MVTec AD, Avenue, ShanghaiTech)",
                  papers="vadlib.papers.c_sspcab",
                  tables=("C.1", "C.2", "C.3", "C.4", "C.S1", "C.5", "C.S2", "C.6", "C.S3"),
                  figures=("C.2_masked_kernel", "C.3_localization_carpet", "C.3_localization_bottle",
                           "C.4_frame_scores_ffp_avenue"),
                  varying=("C.3_localization_*",)),  # one per MVTec AD class the profile runs
    NotebookEntry("04", "04_D_ssmctb", "D", "Paper D — SSMCTB",
                  "Tables D.1–D.12 and 5.1–5.4 (MVTec AD, BRATS, Avenue, ShanghaiTech, Thermal)",
                  papers="vadlib.papers.d_ssmctb",
                  tables=("D.1", "D.2", "D.3", "5.3", "D.4", "5.1", "D.5", "5.4", "D.6", "5.2", "003.Ped2", "D.7",
                          "D.8", "D.9", "D.10", "D.11", "D.12"),
                  figures=("D.4_localization_carpet", "D.4_localization_bottle", "D.5_localization_draem",
                           "D.5_localization_draem3d", "D.5_maps_draem", "D.9_frame_scores_mnad_avenue",
                           "D.9_frame_scores_mnad_thermal_rare_event"),
                  varying=("D.4_localization_*",)),  # one per MVTec AD class the profile runs
    NotebookEntry("05", "05_E_trajectories", "E", "Paper E — socially unacceptable trajectories",
                  "Tables E.1–E.2 and 5.5; Figs. E.1–E.4 (Avenue, ShanghaiTech)",
                  papers="vadlib.papers.e_trajectories",
                  tables=("E.1", "5.5", "E.2", "E_fusion_protocols"),
                  figures=("E.1_pipeline", "E.2_avenue_trajectories", "E.3_shanghaitech_trajectories",
                           "E.4_score_curves")),
    NotebookEntry("06", "06_F_curriculum_mae", "F", "Paper F — curriculum masking for MAE (CM-MAE)",
                  "Tables F.1–F.6 and 4.1",
                  papers="vadlib.papers.f_cm_mae",
                  tables=("F.1", "F.2", "F.3", "F.4", "4.1", "F.5", "F.6"),
                  figures=("F_curriculum_weights", "F_training_curves", "F.2_first_epoch_lambda_prog",
                           "F_masks_over_curriculum", "F.3_masks_without_div", "F.4_F.5_masked_fraction")),
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


def planned_measurements(entry: NotebookEntry, settings) -> list:
    """The speed measurements ``entry``'s notebook makes under ``settings``, as cached runs
    (:class:`vadlib.runs.timing.Measurement`; none for most notebooks). Kept apart from
    :func:`planned_runs`: they are timings of a machine, not results, and a dry run skips them."""
    if entry.papers is None:
        return []
    module = importlib.import_module(entry.papers)
    return module.measurements(settings) if hasattr(module, "measurements") else []
