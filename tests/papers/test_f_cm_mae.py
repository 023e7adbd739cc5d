"""Paper F's tables: which pre-training runs fill Tables F.1–F.6 and 4.1 and Figs. F.3–F.5."""

from __future__ import annotations

import pytest

from vadlib import profiles, reported
from vadlib.papers import f_cm_mae
from vadlib.runs.pretraining import run_config


def test_printed_rows_map_to_the_runs_they_name():
    full = profiles.resolve("full")
    for table_id, rows in f_cm_mae.TABLE_ROWS.items():
        assert len(rows) == len(reported.load_table(table_id))
        assert [label for label, _ in rows if label] == [m for m in reported.load_table(table_id).Method if m]
    same = run_config(full, f_cm_mae.SAME_CYCLE)
    # one configuration named in four tables is one run
    assert {run_config(full, f_cm_mae.TABLE_ROWS[t][i][1]) for t, i in
            (("F.1", 1), ("F.2", 1), ("F.3", 2), ("F.6", 1))} == {same}
    assert dict(same.curriculum) == {"eta": 50} and dict(same.model_options) == {"lambda_div": 2.0}
    updated = run_config(full, f_cm_mae.TABLE_ROWS["F.4"][1][1])
    assert dict(updated.curriculum) == {"eta": 100, "train_fraction": 0.2}
    assert run_config(full, f_cm_mae.TABLE_ROWS["4.1"][1][1]) == updated
    assert run_config(full, f_cm_mae.UPDATED_SETTINGS) == updated
    f5 = [dict(run_config(full, spec).model_options) for _, spec in f_cm_mae.TABLE_ROWS["F.5"]]
    assert [(o["lambda_gauss"], o["lambda_kl"]) for o in f5] == [(1, 0), (2, 0), (5, 0), (10, 0), (10, 1), (10, 2),
                                                                  (10, 5), (10, 10)]
    assert full.model_size == "paper" and same.image_size == 224
    assert len(f_cm_mae.plan(full)) == 1 + 5 + 8 + 3 + 2 + 4  # baseline, F.1-F.4 CM runs, F.5, F.6, figures, F.2


def test_the_plan_lists_each_run_once_tables_first_then_figures():
    full = profiles.resolve("full")
    plan = f_cm_mae.plan(full)
    assert len(set(plan)) == len(plan)
    assert plan[0] == run_config(full, f_cm_mae.MAE_BASELINE)
    # the figure-only runs come last, in FIGURE_RUNS order, then Fig. F.2's first-epoch runs
    table_runs = {run for table_id in f_cm_mae.TABLE_ROWS for run in f_cm_mae.table_runs(full, table_id)}
    figure_only = [run_config(full, spec) for spec in f_cm_mae.FIGURE_RUNS.values()]
    figure_only = [run for run in figure_only if run not in table_runs]
    figure_only += list(f_cm_mae.first_epoch_runs(full).values())
    assert plan[len(table_runs):] == figure_only and set(plan[:len(table_runs)]) == table_runs
    # F.1's runs are planned in its row order, before any run first named by a later table
    assert plan[:3] == f_cm_mae.table_runs(full, "F.1")


def test_smoke_cuts_the_ablation_tables_to_their_first_rows():
    smoke = profiles.resolve("smoke")
    assert smoke.ablation_limit
    for table_id in f_cm_mae.ABLATIONS:
        assert len(f_cm_mae.rows(smoke, table_id)) == min(smoke.ablation_limit, len(f_cm_mae.TABLE_ROWS[table_id]))
    assert len(f_cm_mae.rows(smoke, "F.1")) == 3  # the main tables are never cut


@pytest.mark.usefixtures("one_torch_thread")
def test_a_table_and_the_curves_from_short_runs():
    settings = profiles.resolve("smoke", max_steps=3, eval_limit=20)
    table = f_cm_mae.table(settings, "F.4")
    printed = reported.load_table("F.4")
    keys = reported.info("F.4")["key_columns"]
    assert list(table.columns) == keys + ["Zero-shot Acc@1", "Zero-shot Acc@5"]
    probed = f_cm_mae.table(settings, "F.4", probe=True)  # the same cached runs, the probe beside k-NN
    assert list(probed.columns) == list(table.columns) + [f_cm_mae.PROBE_COLUMN]
    assert probed[list(table.columns)].equals(table)
    assert ((0 <= probed[f_cm_mae.PROBE_COLUMN]) & (probed[f_cm_mae.PROBE_COLUMN] <= 100)).all()
    assert table[keys].astype(str).values.tolist() == printed[keys].astype(str).values.tolist()
    assert ((0 <= table["Zero-shot Acc@1"]) & (table["Zero-shot Acc@1"] <= table["Zero-shot Acc@5"])).all()
    curves = f_cm_mae.curves(settings, {"MAE": f_cm_mae.MAE_BASELINE, "CM-MAE": f_cm_mae.UPDATED_SETTINGS})
    assert list(curves.run.unique()) == ["MAE", "CM-MAE"]
    assert {"step", "loss", "w_prog", "knn_acc1"} <= set(curves.columns)
    assert curves[curves.run == "CM-MAE"].w_prog.notna().all() and curves[curves.run == "MAE"].w_prog.isna().all()


def test_fig_f2_runs_fix_lambda_prog_for_the_first_epoch():
    smoke = profiles.resolve("smoke")
    runs = f_cm_mae.first_epoch_runs(smoke)
    assert list(runs) == [1.0, -0.001, -0.002, -0.1]  # T 3383, 3405
    assert all(run.stop_epoch == 1 and dict(run.curriculum)["constant"] == lam for lam, run in runs.items())
    assert set(runs.values()) <= set(f_cm_mae.plan(smoke))
