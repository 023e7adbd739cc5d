"""Paper B (notebook 02): which classifier runs fill Tables B.2 and B.3, and the tables.

One :class:`~vadlib.runs.fall_classification.FallClassifierRun` per network of the paper
(:data:`NETWORKS`, trained on generated ThermalSynth data, tested on held-out generated data and
on the real Intentional Fall and Dummy sets, their twins under smoke), plus the learnability check
of a small CNN (:func:`~vadlib.runs.fall_classification.learnability_run`; not a row of the
paper). A run's result is a dict: ``synthetic_test`` and ``real_tests[name]`` hold the scores of
:func:`~vadlib.runs.fall_classification.evaluate` (accuracy, sensitivity, specificity in %, the
2 × 2 ``confusion`` counts, rows true fall / no fall, columns predicted), or ``{"missing": why}``
for a real set that is not under the data root.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vadlib.runs.experiment import run_experiments
from vadlib.runs.fall_classification import FallClassifierRun, learnability_run, run_config

NETWORKS = ("alexnet", "resnet18")  # the paper's two classifiers (Tables B.2, B.3)
NETWORK_LABELS = {"alexnet": "AlexNet", "resnet18": "ResNet-18", "small_cnn": "small CNN (ours)"}
REAL_TESTS = {"intentional_fall": "Intentional Fall", "dummy_fall": "Dummy"}  # column names of B.2 / B.3


def plan(settings) -> list[FallClassifierRun]:
    """The runs of notebook 02: one per network of :data:`NETWORKS`, then the learnability check."""
    return [run_config(settings, network) for network in NETWORKS] + [learnability_run(settings)]


def results(settings) -> dict[str, dict]:
    """{network: result} of the paper's networks (cached like every run)."""
    runs = [run_config(settings, network) for network in NETWORKS]
    return {network: result for network, result in zip(NETWORKS, run_experiments(runs))}


def learnability(settings) -> dict:
    """The result of :func:`~vadlib.runs.fall_classification.learnability_run` (cached like every run)."""
    return run_experiments([learnability_run(settings)])[0]


def _tested(result: dict) -> dict[str, dict]:
    """{column name: scores} of the real test sets a run was tested on."""
    return {REAL_TESTS[name]: scores for name, scores in result.get("real_tests", {}).items()
            if "missing" not in scores}


def table_b2(found: dict[str, dict]) -> pd.DataFrame:
    """Table B.2: accuracy (%) on the held-out synthetic test and on each real test set that was
    found (the twins under smoke); a set that is missing leaves its column empty."""
    rows = []
    for network, result in found.items():
        row = {"Network": NETWORK_LABELS[network], "Synthetic Accuracy": result["synthetic_test"]["accuracy"]}
        row.update({f"{test} Accuracy": scores["accuracy"] for test, scores in _tested(result).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def table_b3(found: dict[str, dict]) -> pd.DataFrame | None:
    """Table B.3: sensitivity and specificity (%) on the real test sets that were found; ``None``
    when neither was."""
    rows = []
    for network, result in found.items():
        row = {"Network": NETWORK_LABELS[network]}
        for test, scores in _tested(result).items():
            row.update({f"{test} Sensitivity": scores["sensitivity"], f"{test} Specificity": scores["specificity"]})
        rows.append(row)
    return pd.DataFrame(rows) if any(len(row) > 1 for row in rows) else None


def missing_tests(found: dict[str, dict]) -> dict[str, str]:
    """{test set: why it is missing} over all runs (empty under smoke, where the twins stand in)."""
    return {name: scores["missing"] for result in found.values()
            for name, scores in result.get("real_tests", {}).items() if "missing" in scores}


def confusion_matrices(found: dict[str, dict]) -> dict[tuple[str, str], np.ndarray]:
    """{(test set, network label): 2 × 2 counts, rows true fall / no fall, columns predicted} for
    the synthetic test and every real test set that was found (Fig. B.6's layout: sets by networks)."""
    matrices = {}
    for network, result in found.items():
        tests = {"Synthetic": result["synthetic_test"], **_tested(result)}
        for test, scores in tests.items():
            matrices[(test, NETWORK_LABELS[network])] = np.array(scores["confusion"])
    return matrices


def rates(found: dict[str, dict]) -> pd.DataFrame:
    """Sensitivity and specificity on the held-out synthetic test (a stand-in for Table B.3's
    real sets, which are not public) with the counts behind them."""
    rows = []
    for network, result in found.items():
        scores = result["synthetic_test"]
        (tp, fn), (fp, tn) = scores["confusion"]
        rows.append({"Network": NETWORK_LABELS[network], "Accuracy": scores["accuracy"],
                     "Sensitivity": scores["sensitivity"], "Specificity": scores["specificity"],
                     "TP": tp, "FN": fn, "FP": fp, "TN": tn})
    return pd.DataFrame(rows)
