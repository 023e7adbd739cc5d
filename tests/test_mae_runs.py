"""Paper F's runs: MAE / CM-MAE pre-training and k-NN evaluation behind Tables F.1–F.6 and 4.1."""

from __future__ import annotations

import numpy as np
import pytest

from vadlib import mae_runs, profiles, reported
from vadlib.runs import experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_printed_rows_map_to_the_runs_they_name():
    full = profiles.resolve("full")
    for table_id, rows in mae_runs.TABLE_ROWS.items():
        assert len(rows) == len(reported.load_table(table_id))
        assert [label for label, _ in rows if label] == [m for m in reported.load_table(table_id).Method if m]
    same = mae_runs.run_config(full, mae_runs.SAME_CYCLE)
    # one configuration named in four tables is one run
    assert {mae_runs.run_config(full, mae_runs.TABLE_ROWS[t][i][1]) for t, i in
            (("F.1", 1), ("F.2", 1), ("F.3", 2), ("F.6", 1))} == {same}
    assert dict(same.curriculum) == {"eta": 50} and dict(same.model_options) == {"lambda_div": 2.0}
    updated = mae_runs.run_config(full, mae_runs.TABLE_ROWS["F.4"][1][1])
    assert dict(updated.curriculum) == {"eta": 100, "train_fraction": 0.2}
    assert mae_runs.run_config(full, mae_runs.TABLE_ROWS["4.1"][1][1]) == updated
    f5 = [dict(mae_runs.run_config(full, spec).model_options) for _, spec in mae_runs.TABLE_ROWS["F.5"]]
    assert [(o["lambda_gauss"], o["lambda_kl"]) for o in f5] == [(1, 0), (2, 0), (5, 0), (10, 0), (10, 1), (10, 2),
                                                                  (10, 5), (10, 10)]
    assert full.model_size == "paper" and same.image_size == 224
    assert len(mae_runs.plan_cm_mae(full)) == 1 + 5 + 8 + 3 + 2  # baseline, F.1-F.4 CM runs, F.5, F.6, figures


def test_a_cm_mae_run_walks_the_whole_curriculum_and_keeps_its_masks():
    settings = profiles.resolve("smoke", max_steps=8, eval_limit=20)
    run = mae_runs.run_config(settings, mae_runs.SAME_CYCLE)
    result = experiment.execute(run)
    assert 0 <= result["acc1"] <= result["acc5"] <= 100 and result["train_steps"] == min(8, result["train_steps"])
    weights = [h["w_prog"] for h in result["history"]]
    assert weights[0] == 1.0 and min(weights) < 0  # helping first, then opposing
    probes = [h for h in result["history"] if h.get("knn_acc1") is not None]
    assert len(probes) == min(run.eval_points, result["train_steps"]) and probes[-1]["paper_epoch"] == 199
    kept = mae_runs.load_masks(run)
    n = (32 // 4) ** 2
    assert kept["visible"].shape == (len(probes), mae_runs.SHOWN_IMAGES, n)
    assert (kept["visible"].sum(-1) == n // 4).all()  # exactly K = 25 % visible
    assert 0.0 <= mae_runs.mask_diversity(kept) <= 1.0


def test_reconstruction_pastes_the_visible_patches_back_exactly():
    import torch

    from vadlib.models.mae import MAE
    mae = MAE("tiny")
    images = torch.rand(2, 3, 32, 32)
    masking = mae.random_masking(2)
    with torch.no_grad():
        _, pred, _ = mae(images, ids_keep=masking.ids_keep)
    shown = mae_runs.reconstruction(mae, images, pred, masking.mask)
    visible = ~masking.mask.bool()
    patches = mae.patchify(shown)
    assert torch.allclose(patches[visible], mae.patchify(images)[visible], atol=1e-5)


def test_bad_method_is_refused():
    with pytest.raises(ValueError, match="'mae' or 'cm_mae'"):
        mae_runs.PretrainRun(method="beit").build_model()
