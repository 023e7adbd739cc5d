"""Tests of vadlib.metrics.classification: Paper B's numbers from the reconstructed confusion
counts (shared/specs/paper_A_B.md §2.7) and hand-computed small cases."""

from __future__ import annotations

import numpy as np
import pytest

from vadlib.metrics import (
    accuracy,
    binary_counts,
    binary_report,
    classification_report,
    confusion_matrix,
    labels_from_counts,
    sensitivity,
    specificity,
)


# TP, FN, TN, FP on the Intentional Fall set -> Acc, Sens, Spec, Precision, F1 in % (§2.7)
@pytest.mark.parametrize("counts, expected", [
    ((18, 0, 58, 1), (98.70, 100.00, 98.31, 94.74, 97.30)),  # AlexNet
    ((17, 1, 52, 7), (89.61, 94.44, 88.14, 70.83, 80.95)),  # ResNet-18
])
def test_paper_b_intentional_fall(counts, expected):
    y, p = labels_from_counts(*counts)
    r = binary_report(y, p, percent=True)
    got = [r["accuracy"], r["sensitivity"], r["specificity"], r["precision"], r["f1"]]
    np.testing.assert_allclose(np.round(got, 2), expected, atol=1e-9)
    assert (r["TP"], r["FN"], r["TN"], r["FP"]) == counts
    # the printed Table B.2 / B.3 values (accuracy 98.70 / 89.61; sens. 100 / 94 rounded)
    assert round(100 * accuracy(y, p), 2) == expected[0]
    assert round(100 * sensitivity(y, p)) == round(expected[1])
    assert 100 * specificity(y, p) == pytest.approx(expected[2], abs=5e-3)


def test_paper_b_dummy_hypothesis_gives_75_percent():
    # 41 falls (17 / 23 detected) with the Intentional Fall no-fall cells: both 75.00 % (§2.7)
    for tp, tn, fp in ((17, 58, 1), (23, 52, 7)):
        y, p = labels_from_counts(tp, 41 - tp, tn, fp)
        assert 100 * accuracy(y, p) == pytest.approx(75.0)


def test_confusion_matrix_layout():
    y = ["fall", "fall", "none", "none", "none"]
    p = ["fall", "none", "none", "fall", "none"]
    cm = confusion_matrix(y, p)
    assert cm.index.name == "true" and cm.columns.name == "pred"
    assert cm.loc["fall"].tolist() == [1, 1] and cm.loc["none"].tolist() == [1, 2]
    cm2 = confusion_matrix(y, p, labels=["none", "fall"])
    assert cm2.to_numpy().tolist() == [[2, 1], [1, 1]]
    assert binary_counts(y, p, positive="fall") == {"TP": 1, "FN": 1, "TN": 2, "FP": 1}


def test_per_class_and_weighted_report():
    y = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    p = [0, 0, 1, 2, 1, 1, 2, 2, 2, 0]
    rep = classification_report(y, p)
    # class 0: TP 2, predicted 3, true 4; class 1: TP 2, pred 3, true 2; class 2: TP 3, pred 4,
    # true 4
    prec, rec = np.array([2 / 3, 2 / 3, 3 / 4]), np.array([2 / 4, 2 / 2, 3 / 4])
    f1 = 2 * prec * rec / (prec + rec)
    np.testing.assert_allclose(rep.loc[["0", "1", "2"], "precision"], prec)
    np.testing.assert_allclose(rep.loc[["0", "1", "2"], "recall"], rec)
    np.testing.assert_allclose(rep.loc[["0", "1", "2"], "f1"], f1)
    w = np.array([4, 2, 4]) / 10
    np.testing.assert_allclose(rep.loc["weighted avg", ["precision", "recall", "f1"]],
                               [w @ prec, w @ rec, w @ f1])
    np.testing.assert_allclose(rep.loc["macro avg", "f1"], f1.mean())
    assert rep.loc["accuracy", "precision"] == pytest.approx(0.7)
    assert rep["support"].tolist() == [4, 2, 4, 10, 10, 10]


def test_zero_division_is_explicit():
    y, p = [0, 0, 1], [0, 0, 0]
    r = binary_report(y, p)
    assert r["precision"] == 0.0 and r["sensitivity"] == 0.0 and r["specificity"] == 1.0
    assert binary_report(y, p, zero_division=1.0)["precision"] == 1.0


def test_classification_bad_input():
    with pytest.raises(ValueError, match="length mismatch"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="NaN"):
        accuracy([0, np.nan], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        confusion_matrix([], [])
    with pytest.raises(ValueError, match="not in `labels`"):
        confusion_matrix([0, 1, 2], [0, 1, 1], labels=[0, 1])
    with pytest.raises(ValueError, match="non-negative"):
        labels_from_counts(1, -1, 0, 0)


def test_counts_consistent_with_recovers_the_paper_b_confusion_matrices():
    from vadlib.metrics.classification import counts_consistent_with

    alexnet = counts_consistent_with(18, 59, {"accuracy": (98.70, 0.005), "sensitivity": (100.0, 0.5),
                                              "specificity": (98.0, 0.5)})
    assert alexnet[["TP", "FN", "TN", "FP"]].values.tolist() == [[18, 0, 58, 1]]
    resnet = counts_consistent_with(18, 59, {"accuracy": (89.61, 0.005), "sensitivity": (94.0, 0.5),
                                             "specificity": (88.0, 0.5)})
    assert resnet[["TP", "FN", "TN", "FP"]].values.tolist() == [[17, 1, 52, 7]]


def test_counts_consistent_with_finds_any_matrix_from_its_own_rates():
    from vadlib.metrics.classification import counts_consistent_with

    rng = np.random.default_rng(0)
    for _ in range(5):
        tp, tn = int(rng.integers(0, 21)), int(rng.integers(0, 31))
        rates = {"accuracy": 100 * (tp + tn) / 50, "sensitivity": 100 * tp / 20, "specificity": 100 * tn / 30}
        found = counts_consistent_with(20, 30, {k: (round(v, 2), 0.005) for k, v in rates.items()})
        assert [tp, 20 - tp, tn, 30 - tn] in found[["TP", "FN", "TN", "FP"]].values.tolist()
    with pytest.raises(ValueError, match="unknown rates"):
        counts_consistent_with(1, 1, {"precision": (50.0, 0.5)})
