"""Paper B's classifier runs on generated ThermalSynth data (Tables B.2, B.3)."""

from __future__ import annotations

import pytest

from vadlib import experiments, profiles, reported
from vadlib import thermalsynth_runs as runs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_run_trains_keeps_the_best_validation_checkpoint_and_tests_on_unseen_backgrounds():
    run = runs.FallClassifierRun(network="resnet18", n_sequences=40, test_sequences=12, max_steps=2)
    train_backgrounds, test_backgrounds = run.backgrounds()
    assert not {b.clip for b in train_backgrounds} & {b.clip for b in test_backgrounds}
    result = experiments.execute(run)
    scores = result["synthetic_test"]
    (tp, fn), (fp, tn) = scores["confusion"]
    assert tp + fn + fp + tn == scores["n"] == result["test_samples"] and tp + fn == scores["falls"]
    assert scores["accuracy"] == pytest.approx(100 * (tp + tn) / scores["n"])
    assert 0 <= result["best_val_accuracy"] <= 100 and result["best_step"] in (0, 1)
    table = runs.table_b2({"resnet18": result})
    assert set(table.columns) <= set(reported.load_table("B.2").columns)


def test_plans_and_bad_input():
    full = profiles.resolve("full")
    plan = runs.plan_thermalsynth(full)
    assert [r.network for r in plan] == ["alexnet", "resnet18"] and plan[0].n_sequences == runs.PAPER_SEQUENCES
    with pytest.raises(ValueError, match="network must be one of"):
        runs.FallClassifierRun(network="vgg16").build_model()
    import torch
    assert runs.FallClassifierRun().build_model()(torch.zeros(1, 3, 115, 185)).shape == (1, 2)  # 185×115×3 input
