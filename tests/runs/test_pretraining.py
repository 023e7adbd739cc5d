"""Paper F's pre-training run (vadlib.runs.pretraining): one MAE / CM-MAE run through the whole
compressed curriculum, its kept masks and reconstructions, the snapshot taken through the interface
MAE and CM-MAE share, k-NN on the run's datasets, and bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from vadlib import plots, profiles
from vadlib.data import DataSource
from vadlib.models.curriculum_masking import CMMAE
from vadlib.models.mae import MAE
from vadlib.runs import experiment, pretraining

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: the thesis's curriculum (η = 50, λ_div = 2): papers.f_cm_mae.SAME_CYCLE, spelled out
SAME_CYCLE = ("cm_mae", (("eta", 50),), (("lambda_div", 2.0),))


def test_a_cm_mae_run_walks_the_whole_curriculum_and_keeps_its_masks():
    settings = profiles.resolve("smoke", max_steps=8, eval_limit=20)
    run = pretraining.run_config(settings, SAME_CYCLE)
    result = experiment.execute(run)
    assert 0 <= result["acc1"] <= result["acc5"] <= 100 and result["train_steps"] == min(8, result["train_steps"])
    weights = [h["w_prog"] for h in result["history"]]
    assert weights[0] == 1.0 and min(weights) < 0  # helping first, then opposing
    probes = [h for h in result["history"] if h.get("knn_acc1") is not None]
    assert len(probes) == min(run.eval_points, result["train_steps"]) and probes[-1]["paper_epoch"] == 199
    kept = pretraining.load_masks(run)
    n = (32 // 4) ** 2
    assert kept["visible"].shape == (len(probes), pretraining.SHOWN_IMAGES, n)
    assert (kept["visible"].sum(-1) == n // 4).all()  # exactly K = 25 % visible
    assert 0.0 <= plots.mask_diversity(kept) <= 1.0
    # a run cached without its masks file is recomputed once, and the file comes back the same
    (experiment.run_dir(run) / pretraining.MASKS_FILE).unlink()
    again = pretraining.load_masks(run)
    assert all(np.array_equal(again[k], kept[k]) for k in kept)


def test_the_baseline_run_keeps_random_masks_and_no_curriculum_columns():
    settings = profiles.resolve("smoke", max_steps=4, eval_limit=20)
    run = pretraining.run_config(settings, ("mae", (), ()))
    result = experiment.execute(run)
    assert all(h["w_prog"] is None and h["masked_fraction"] == 0.75 for h in result["history"])
    kept = pretraining.load_masks(run)
    assert (kept["visible"].sum(-1) == 16).all()
    assert np.array_equal(kept["scores"].astype(np.float32), kept["visible"].astype(np.float32))


def test_reconstruction_pastes_the_visible_patches_back_exactly():
    mae = MAE("tiny")
    images = torch.rand(2, 3, 32, 32)
    masking = mae.random_masking(2)
    with torch.no_grad():
        _, pred, _ = mae(images, ids_keep=masking.ids_keep)
    shown = pretraining.reconstruction(mae, images, pred, masking.mask)
    visible = ~masking.mask.bool()
    patches = mae.patchify(shown)
    assert torch.allclose(patches[visible], mae.patchify(images)[visible], atol=1e-5)


@pytest.mark.parametrize("model_class", [MAE, CMMAE])
def test_a_snapshot_keeps_the_models_masks_and_its_reconstruction(model_class):
    images = torch.rand(3, 3, 32, 32)
    model = model_class("tiny").eval()
    model.autoencoder.reset_rng(2)
    snapshots = {"epoch": [], "scores": [], "recon": [], "visible": []}
    pretraining.snapshot(model, images, snapshots, epoch=7)
    model.autoencoder.reset_rng(2)
    scores, masking = model.masks(images)  # the same draw for MAE, the module's top-K for CM-MAE
    with torch.no_grad():
        _, pred, _ = model.autoencoder(images, ids_keep=masking.ids_keep)
    recon = pretraining.reconstruction(model.autoencoder, images, pred, masking.mask).clamp(0, 1)
    assert snapshots["epoch"] == [7]
    assert np.array_equal(snapshots["visible"][0], 1 - masking.mask.numpy().astype(np.uint8))
    assert np.array_equal(snapshots["scores"][0], scores.numpy().astype(np.float16))
    assert np.array_equal(snapshots["recon"][0], recon.numpy().astype(np.float16))
    assert (snapshots["visible"][0].sum(-1) == 16).all()


def test_knn_on_the_runs_datasets():
    run = pretraining.PretrainRun()
    train_set, val_set = run.datasets()
    model = MAE("tiny")
    result = pretraining.knn(model, train_set, val_set, 40, 10, "cpu", probe=True)
    assert 0 <= result["acc@1"] <= result["acc@5"] <= 100 and result["k"] == 5
    assert set(result["linear_probe"]) == {"acc@1", "acc@5"}
    assert "linear_probe" not in pretraining.knn(model, train_set, val_set, 40, 10, "cpu")


def test_spread_picks_evenly_spaced_distinct_indices():
    assert pretraining.spread(10, 4) == [0, 3, 6, 9]
    assert pretraining.spread(3, 8) == [0, 1, 2]
    assert pretraining.spread(1, 4) == [0]


def test_the_twin_uses_every_class_and_the_real_set_the_100_class_subset(monkeypatch, tmp_path):
    requested = []

    class Folder:
        def __init__(self, root, split, classes, resize, augment=None):
            requested.append((split, classes, resize, augment))

    monkeypatch.setattr(pretraining, "ImageNetFolder", Folder)
    monkeypatch.setattr(DataSource, "locate", lambda self, name, size="smoke": tmp_path)
    pretraining.PretrainRun(image_size=32).datasets()
    pretraining.PretrainRun(image_size=224, data=DataSource(kind="real")).datasets()
    pretraining.PretrainRun(image_size=224, data=DataSource(kind="real")).pretrain_set()
    assert requested == [("train", None, 32, None), ("val", None, 32, None),
                         ("train", "imagenet100", 224, None), ("val", "imagenet100", 224, None),
                         ("train", "imagenet100", 224, "mae")]


def test_pretraining_sees_new_crops_each_epoch_and_evaluation_the_same_images():
    run = pretraining.PretrainRun()
    def epoch():
        return {path: image for batch in loader for path, image in zip(batch["path"], batch["image"])}

    torch.manual_seed(run.seed)
    loader = pretraining.data_loader(run.pretrain_set(), 4, shuffle=True, seed=run.seed)
    first, second = epoch(), epoch()
    assert first.keys() == second.keys()
    assert all(not torch.equal(first[p], second[p]) for p in first)  # another crop of every image
    torch.manual_seed(run.seed)
    loader = pretraining.data_loader(run.pretrain_set(), 4, shuffle=True, seed=run.seed)
    assert all(torch.equal(first[p], image) for p, image in epoch().items())  # seeded: a rerun repeats them
    train_set, val_set = run.datasets()
    for dataset in (train_set, val_set):
        assert dataset.augment is None and torch.equal(dataset[0]["image"], dataset[0]["image"])
    assert pretraining.PretrainRun(augment=None).pretrain_set().augment is None


def test_loss_magnitudes_at_init():
    run = pretraining.PretrainRun(method="cm_mae", model_options=(("lambda_gauss", 10.0), ("lambda_kl", 10.0)))
    terms = pretraining.loss_magnitudes(run)
    assert list(terms) == ["rec", "gauss_pdf", "gauss_code", "kl", "div"]
    # the two Gaussian scales differ by the factor 1 / (σ²·2π) between 1/(σ√2π) and σ√2π
    assert terms["gauss_pdf"] / terms["gauss_code"] == pytest.approx(1 / (0.12 ** 2 * 2 * np.pi), rel=1e-4)
    doubled = pretraining.loss_magnitudes(replace(run, model_options=(("lambda_gauss", 20.0), ("lambda_kl", 20.0))))
    assert doubled["gauss_pdf"] == pytest.approx(2 * terms["gauss_pdf"], rel=1e-5)
    assert doubled["kl"] == pytest.approx(2 * terms["kl"], rel=1e-5) and doubled["rec"] == pytest.approx(terms["rec"])
    coded = pretraining.loss_magnitudes(replace(run, model_options=(("gauss_scale", "code"),)))
    assert list(coded)[1] == "gauss_code"
    with pytest.raises(ValueError, match="cm_mae"):
        pretraining.loss_magnitudes(pretraining.PretrainRun())


def test_bad_method_is_refused():
    with pytest.raises(ValueError, match="'mae' or 'cm_mae'"):
        pretraining.PretrainRun(method="beit").build_model()


def test_stop_epoch_trains_the_first_paper_epochs_steps_only():
    settings = profiles.resolve("smoke", max_steps=400, eval_limit=10)
    run = pretraining.run_config(settings, ("cm_mae", (("constant", -0.1),), ()))
    full = run.total_steps(len(run.datasets()[0]), run.schedule())
    short = replace(run, stop_epoch=1, eval_points=2)
    result = experiment.execute(short)
    assert result["train_steps"] == max(1, -(-full // pretraining.PAPER_EPOCHS))
    assert all(h["w_prog"] == -0.1 for h in result["history"])
    kept = pretraining.load_masks(short)
    assert kept["epoch"][-1] == min(199, result["train_steps"] * pretraining.PAPER_EPOCHS // full)
