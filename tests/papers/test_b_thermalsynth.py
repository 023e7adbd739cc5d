"""Paper B's tables from the classifier runs (vadlib.papers.b_thermalsynth): Tables B.2, B.3, the
Fig. B.6 confusion matrices and the notebook's plan."""

from __future__ import annotations

import pytest

from vadlib import profiles, reported
from vadlib.papers import b_thermalsynth as paper
from vadlib.runs import experiment
from vadlib.runs import fall_classification as runs
from vadlib.runs.experiment import Budget

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MISSING = {"intentional_fall": "not found (not public)", "dummy_fall": "not found (not public)"}


def test_the_tables_of_a_run_tested_on_the_twins_have_the_printed_columns():
    run = runs.FallClassifierRun(network="resnet18", n_sequences=40, test_sequences=12, budget=Budget(max_steps=2))
    result = experiment.execute(run)
    table = paper.table_b2({"resnet18": result})
    assert set(table.columns) == set(reported.load_table("B.2").columns)  # the twins fill every column
    assert table["Synthetic Accuracy"][0] == result["synthetic_test"]["accuracy"]
    rates = paper.table_b3({"resnet18": result})
    assert set(rates.columns) == set(reported.load_table("B.3").columns)
    intentional_fall = result["real_tests"]["intentional_fall"]
    assert rates["Intentional Fall Sensitivity"][0] == intentional_fall["sensitivity"]
    matrices = paper.confusion_matrices({"resnet18": result})
    assert set(matrices) == {(test, "ResNet-18") for test in ("Synthetic", "Intentional Fall", "Dummy")}
    assert matrices["Intentional Fall", "ResNet-18"].sum() == 77
    assert paper.missing_tests({"resnet18": result}) == {}


def test_missing_real_test_sets_leave_their_columns_empty():
    result = {"synthetic_test": {"accuracy": 50.0}, "real_tests": {k: {"missing": v} for k, v in MISSING.items()}}
    assert paper.table_b3({"alexnet": result}) is None
    assert list(paper.table_b2({"alexnet": result}).columns) == ["Network", "Synthetic Accuracy"]
    assert set(paper.missing_tests({"alexnet": result})) == {"intentional_fall", "dummy_fall"}


def test_rates_on_the_synthetic_test_follow_from_the_confusion_counts():
    # 6 falls (4 found), 14 no falls (7 kept): sensitivity 4/6, specificity 7/14, accuracy 11/20
    scores = {"accuracy": 55.0, "sensitivity": 100 * 4 / 6, "specificity": 50.0, "confusion": [[4, 2], [7, 7]]}
    table = paper.rates({"alexnet": {"synthetic_test": scores}})
    row = table.iloc[0]
    assert row["Network"] == "AlexNet" and (row["TP"], row["FN"], row["FP"], row["TN"]) == (4, 2, 7, 7)
    assert row["Sensitivity"] == pytest.approx(100 * row["TP"] / (row["TP"] + row["FN"]))
    assert row["Specificity"] == pytest.approx(100 * row["TN"] / (row["TN"] + row["FP"]))


def test_the_plan_is_the_paper_networks_then_the_learnability_check():
    full = profiles.resolve("full")
    plan = paper.plan(full)
    assert [r.network for r in plan] == ["alexnet", "resnet18", "small_cnn"]
    assert plan[0].n_sequences == runs.PAPER_SEQUENCES and plan[2] == runs.learnability_run(full)
    assert plan[:2] == [runs.run_config(full, network) for network in paper.NETWORKS]
