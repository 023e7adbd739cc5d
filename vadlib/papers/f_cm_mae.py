"""Paper F (notebook 06): which pre-training runs fill CM-MAE's tables and figures.

A run is named by a spec ``(method, curriculum items, model option items)``
(:func:`vadlib.runs.pretraining.run_config` turns it into a :class:`~vadlib.runs.pretraining.PretrainRun`
under a profile). :data:`TABLE_ROWS` maps every printed row of Tables F.1–F.6 and 4.1 to its spec;
rows that name the same configuration in different tables are one cached run. :data:`FIGURE_RUNS`
are the runs behind Figs. F.3–F.5 only; :func:`first_epoch_runs` Fig. F.2's one-epoch λ_prog sweep.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from vadlib import reported
from vadlib.runs.experiment import run_experiments
from vadlib.runs.pretraining import PAPER_EPOCHS, PretrainRun, load_masks, run_config

__all__ = [
    "ABLATIONS",
    "FIGURE_RUNS",
    "FIRST_EPOCH_LAMBDAS",
    "MAE_BASELINE",
    "PAPER_EPOCHS",
    "PROBE_COLUMN",
    "SAME_CYCLE",
    "TABLE_ROWS",
    "THESIS_CM",
    "THESIS_WEIGHTS",
    "UPDATED_SETTINGS",
    "cm",
    "curves",
    "first_epoch_masks",
    "first_epoch_runs",
    "masks",
    "plan",
    "rows",
    "table",
    "table_runs",
]

MAE_BASELINE = ("mae", (), ())
#: Tables F.1–F.3 and F.6: the thesis's curriculum (η = 50, CMM trained throughout, same cycle);
#: λ_div = 2 there, since F.6's λ_div = 2 row prints the same 38.1 / 60.4 as their CM-MAE rows
THESIS_CM = {"eta": 50}
THESIS_WEIGHTS = {"lambda_div": 2.0}


def cm(curriculum: dict, **weights) -> tuple:
    """The spec of a CM-MAE run: the thesis's curriculum and weights, updated by the arguments."""
    return ("cm_mae", tuple(sorted({**THESIS_CM, **curriculum}.items())),
            tuple(sorted({**THESIS_WEIGHTS, **weights}.items())))


SAME_CYCLE = cm({})
#: printed row label -> (method, curriculum, model options), per table
TABLE_ROWS = {
    "F.1": (("MAE (Baseline)", MAE_BASELINE), ("CM-MAE (Same Cycle)", SAME_CYCLE),
            ("CM-MAE (Alternate Cycles)", cm({"cycle": "alternate"}))),
    "F.2": (("MAE (Baseline)", MAE_BASELINE), ("CM-MAE (w/o re-initialized parameters)", SAME_CYCLE),
            ("CM-MAE (w/ re-initialized parameters)", cm({"reinit": True}))),
    "F.3": (("MAE (Baseline)", MAE_BASELINE), ("CM-MAE (Curriculum Update - 30 epochs)", cm({"eta": 30})),
            ("CM-MAE (Curriculum Update - 50 epochs)", SAME_CYCLE)),
    # the final method (T 3465, 3485-3505): η assumed 100, CMM trained in the first 20 % of each
    # interval, λ_div = 5
    "F.4": (("MAE (Baseline)", MAE_BASELINE),
            ("CM-MAE (Updated Settings)", cm({"eta": 100, "train_fraction": 0.2}, lambda_div=5.0))),
}
TABLE_ROWS["4.1"] = (("MAE (Baseline)", MAE_BASELINE), ("Ours (MAE w/ Curriculum Masking)", TABLE_ROWS["F.4"][1][1]))
#: Table F.5: the easy task (λ_prog fixed at 1) with L_GL and L_KL switched and weighted per row
EASY = {"constant": 1.0}
TABLE_ROWS["F.5"] = tuple(
    (label, cm(EASY, lambda_gauss=gl, lambda_kl=kl))
    for label, gl, kl in (("CM-MAE (w/ Easy Task)", 1.0, 0.0), ("", 2.0, 0.0), ("", 5.0, 0.0), ("", 10.0, 0.0),
                          ("", 10.0, 1.0), ("", 10.0, 2.0), ("", 10.0, 5.0), ("", 10.0, 10.0)))
TABLE_ROWS["F.6"] = tuple((label, cm({}, lambda_div=d)) for label, d in
                          (("CM-MAE (w/ Curriculum Masking)", 1.0), ("", 2.0), ("", 5.0), ("", 10.0)))
UPDATED_SETTINGS = TABLE_ROWS["F.4"][1][1]
ABLATIONS = ("F.5", "F.6")  # cut to ablation_limit rows under smoke
#: runs behind Figs. F.3–F.5 only: no diversity loss; the hard (adversarial) task without L_KL
FIGURE_RUNS = {"no_div": cm({}, lambda_div=0.0), "hard_no_kl": cm({"constant": -0.001}, lambda_kl=0.0),
               "easy_no_kl": TABLE_ROWS["F.5"][3][1], "easy_kl": TABLE_ROWS["F.5"][7][1]}


#: Fig. F.2: the reconstruction after the first epoch for fixed λ_prog (T 3383, 3405)
FIRST_EPOCH_LAMBDAS = (1.0, -0.001, -0.002, -0.1)


def first_epoch_runs(settings) -> dict[float, PretrainRun]:
    """Fig. F.2's runs: CM-MAE with λ_prog fixed at each of :data:`FIRST_EPOCH_LAMBDAS`, stopped
    after the steps of the first paper epoch."""
    return {lam: replace(run_config(settings, cm({"constant": lam})), stop_epoch=1) for lam in FIRST_EPOCH_LAMBDAS}


def first_epoch_masks(settings) -> dict[float, dict[str, np.ndarray]]:
    """The masks and reconstructions Fig. F.2's runs kept, per λ_prog (their last point = end of epoch 1)."""
    runs = first_epoch_runs(settings)
    run_experiments(list(runs.values()))
    return {lam: load_masks(run) for lam, run in runs.items()}


def rows(settings, table_id: str) -> tuple:
    """The ``(label, spec)`` rows of a table that a profile runs (ablations cut to ``ablation_limit``)."""
    table_rows = TABLE_ROWS[table_id]
    if table_id in ABLATIONS and settings.ablation_limit:
        table_rows = table_rows[: settings.ablation_limit]
    return table_rows


def table_runs(settings, table_id: str) -> list[PretrainRun]:
    """The distinct runs behind a table, in row order."""
    return list(dict.fromkeys(run_config(settings, spec) for _, spec in rows(settings, table_id)))


#: the extra column beside the printed k-NN ones: the linear probe each run computes at its end
PROBE_COLUMN = "Linear probe Acc@1"


def table(settings, table_id: str, probe: bool = False) -> pd.DataFrame:
    """Reproduced k-NN accuracies (%) of a Paper F table, keyed like the printed one; with
    ``probe`` also the linear probe's Acc@1 (:data:`PROBE_COLUMN`; the thesis prints none, so the
    saved table leaves it out)."""
    printed = reported.load_table(table_id)
    keys = reported.info(table_id)["key_columns"]
    runs = [run_config(settings, spec) for _, spec in rows(settings, table_id)]
    results = dict(zip(runs, run_experiments(list(dict.fromkeys(runs)))))
    out = []
    for position, run in enumerate(runs):
        label_cells = {k: printed.iloc[position][k] for k in keys}
        result = results[run]
        out.append({**label_cells, "Zero-shot Acc@1": result["acc1"], "Zero-shot Acc@5": result["acc5"],
                    PROBE_COLUMN: result["linear_probe"]})
    columns = keys + ["Zero-shot Acc@1", "Zero-shot Acc@5"] + ([PROBE_COLUMN] if probe else [])
    return pd.DataFrame(out, columns=columns)


def curves(settings, specs: dict[str, tuple]) -> pd.DataFrame:
    """Per training step of each run: losses, masked fraction, curriculum weight and (at the
    evaluation points) k-NN accuracy, in one long table with a ``run`` column."""
    runs = {label: run_config(settings, spec) for label, spec in specs.items()}
    results = run_experiments(list(runs.values()))
    return pd.concat([pd.DataFrame(r["history"]).assign(run=label) for label, r in zip(runs, results)],
                     ignore_index=True)


def masks(settings, spec: tuple) -> dict[str, np.ndarray]:
    """The masks and reconstructions the run of ``spec`` kept (:func:`vadlib.runs.pretraining.load_masks`)."""
    return load_masks(run_config(settings, spec))


def plan(settings) -> list[PretrainRun]:
    """Every run of notebook 06: the tables' in table order, then the figures' (each once)."""
    runs = [run for table_id in TABLE_ROWS for run in table_runs(settings, table_id)]
    runs += [run_config(settings, spec) for spec in FIGURE_RUNS.values()]
    runs += list(first_epoch_runs(settings).values())
    return list(dict.fromkeys(runs))
