"""CM-MAE (vadlib.models.curriculum_masking): the four mask losses against their formulas, the
thesis's curriculum schedule, the masking module kept out of the project's optimiser, same vs
alternate cycles, re-initialisation, checkpoints, a few pre-training steps through the project's
loop, the interface the pre-training run shares with MAE, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mae_helpers import fixed_mask_loss, structured

from vadlib.models.curriculum_masking import (
    CMMAE,
    CurriculumSchedule,
    curriculum_table,
    diversity_loss,
    gaussian_loss,
    kl_mask_ratio_loss,
    progressive_loss,
)
from vadlib.runs.train import endless, make_optimizer, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


# ------------------------------------------------------------------------------ mask losses

def test_gaussian_loss_against_its_formula():
    c = 1 / (0.12 * math.sqrt(2 * math.pi))  # 3.32452
    assert gaussian_loss(torch.full((2, 3), 0.5)).item() == pytest.approx(3.32452, abs=1e-4)
    assert gaussian_loss(torch.tensor([[0.25, 0.75]])).item() == pytest.approx(
        c * math.exp(-0.0625 / 0.0288), rel=1e-5)
    assert gaussian_loss(torch.tensor([[0.25, 0.75]])).item() == pytest.approx(0.37948, abs=1e-4)
    assert gaussian_loss(torch.tensor([[0.0, 1.0]])).item() == pytest.approx(5.652e-4, rel=1e-3)
    z = torch.tensor([[0.5, 0.0], [0.25, 1.0]])  # averaged over all four entries
    expected = c * (1 + 2 * math.exp(-0.25 / 0.0288) + math.exp(-0.0625 / 0.0288)) / 4
    assert gaussian_loss(z).item() == pytest.approx(expected, rel=1e-5)
    # cl-mae's scale: multiplied by σ√(2π) instead of divided
    assert gaussian_loss(torch.full((1, 1), 0.5), scale="code").item() == pytest.approx(
        0.12 * math.sqrt(2 * math.pi), rel=1e-6)


def test_kl_loss_against_its_formula():
    z = torch.full((3, 8), 0.5)  # predicted visible fraction 0.5; target V = 0.25, M = 0.75
    tp = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    pt = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert kl_mask_ratio_loss(z, 0.75).item() == pytest.approx(tp, rel=1e-5)  # 0.130812
    assert tp == pytest.approx(0.130812, abs=1e-6)
    assert kl_mask_ratio_loss(z, 0.75, "pred||target").item() == pytest.approx(pt, rel=1e-5)
    assert kl_mask_ratio_loss(z, 0.75, "printed").item() == pytest.approx(-tp, rel=1e-5)
    matched = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])  # both at V = 0.25
    for direction in ("target||pred", "pred||target", "printed"):
        assert kl_mask_ratio_loss(matched, 0.75, direction).item() == pytest.approx(0.0, abs=1e-6)
    # per-sample fractions, then the batch mean
    two = torch.tensor([[0.5] * 4, [0.25] * 4])
    assert kl_mask_ratio_loss(two, 0.75).item() == pytest.approx(tp / 2, rel=1e-5)


def test_diversity_loss_against_its_formula():
    z = torch.tensor([[0.0, 0.0], [0.3, 0.0], [0.0, 0.4]])  # distances 0.3, 0.4, 0.5
    unique = (math.exp(-0.3) + math.exp(-0.4) + math.exp(-0.5)) / 3
    assert diversity_loss(z, k=1.0).item() == pytest.approx(unique, rel=1e-6)
    assert diversity_loss(z, k=1.0, pairs="ordered").item() == pytest.approx(2 * unique, rel=1e-6)
    k01 = (math.exp(-0.03) + math.exp(-0.04) + math.exp(-0.05)) / 3
    assert diversity_loss(z).item() == pytest.approx(k01, rel=1e-6)  # default k = 0.1
    same = torch.full((4, 5), 0.3, requires_grad=True)
    loss = diversity_loss(same)
    assert loss.item() == pytest.approx(1.0)  # identical masks: the maximum
    loss.backward()
    assert torch.isfinite(same.grad).all()
    assert diversity_loss(torch.rand(1, 5)).item() == 0.0


def test_progressive_loss_and_total_cmm_loss():
    assert progressive_loss(torch.tensor(2.0), -0.004).item() == pytest.approx(-0.008)
    model = CMMAE("tiny", lambda_gauss=10, lambda_kl=10, lambda_div=5)
    imgs = structured(4)
    z = torch.rand(4, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        total, parts = model.cmm_losses(imgs, z, weight=-0.002)
        rec, per_patch = model.mae.soft_reconstruction(imgs, z)
    assert parts["prog_rec"].item() == pytest.approx(rec.item())
    assert rec.item() == pytest.approx(((1 - z) * per_patch).sum().item() / (1 - z).sum().item(), rel=1e-5)
    expected = (-0.002 * rec + 10 * gaussian_loss(z) + 10 * kl_mask_ratio_loss(z, 0.75)
                + 5 * diversity_loss(z)).item()
    assert total.item() == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------------------------ curriculum

def test_curriculum_weights_follow_the_thesis():
    # η = 50, 200 epochs: +1 (cooperative), then -0.001 doubling in magnitude every η (T 3397, 3405)
    expected = [1.0] * 50 + [-0.001] * 50 + [-0.002] * 50 + [-0.004] * 50
    got = CurriculumSchedule(eta=50).weights(200)
    assert got == pytest.approx(expected, rel=1e-12)
    # η = 30 (Table F.3): 30 × +1, then -0.001, -0.002, -0.004, -0.008, -0.016 and 20 × -0.032
    expected30 = ([1.0] * 30 + [-0.001] * 30 + [-0.002] * 30 + [-0.004] * 30 + [-0.008] * 30
                  + [-0.016] * 30 + [-0.032] * 20)
    assert CurriculumSchedule(eta=30).weights(200) == pytest.approx(expected30, rel=1e-12)
    s = CurriculumSchedule(eta=50)
    assert [s.stage(e) for e in (0, 49, 50, 199)] == [0, 0, 1, 3]
    assert [s.lambda_prog(e) for e in (0, 50, 100)] == pytest.approx([1.0, -0.001, -0.002])
    assert [s.prog_sign(e) for e in (49, 50)] == [1, -1]
    # the printed double negative λ_prog · (-MSE) stays cooperative
    literal = CurriculumSchedule(eta=50, sign="literal")
    assert literal.weights(200)[::50] == pytest.approx([1.0, 0.001, 0.002, 0.004])
    # fixed weights of the ablations
    assert CurriculumSchedule.easy_task().weights(200) == [1.0] * 200
    assert CurriculumSchedule(constant=-0.1).weight(0) == -0.1


def test_masking_module_trained_only_in_the_first_fraction_of_each_interval():
    s = CurriculumSchedule(eta=50, train_fraction=0.2)  # "initial 20 % of epochs" (T 3465)
    active = [e for e in range(200) if s.cmm_active(e)]
    assert active == (list(range(0, 10)) + list(range(50, 60)) + list(range(100, 110))
                      + list(range(150, 160)))
    assert all(CurriculumSchedule(eta=50).cmm_active(e) for e in range(200))
    assert [CurriculumSchedule(eta=3, train_fraction=0.2).cmm_active(e) for e in range(6)] == \
        [True, False, False, True, False, False]
    u = CurriculumSchedule.updated_settings()
    assert (u.eta, u.train_fraction) == (100, 0.2)
    rows = curriculum_table(s, 60)
    assert rows[50] == {"epoch": 50, "stage": 1, "lambda_prog": -0.001, "sign": -1,
                        "weight": -0.001, "cmm_active": True}


def test_cmmae_freezes_the_cmm_outside_its_active_epochs():
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2, train_fraction=0.5))
    imgs = structured(4)
    model.set_epoch(0)
    _, logs = model.training_loss(imgs)
    assert logs["cmm_step"] == 1 and model.masker.updates == 1 and logs["w_prog"] == 1.0
    model.set_epoch(1)
    before = [p.clone() for p in model.masker.parameters()]
    _, logs = model.training_loss(imgs)
    assert logs["cmm_step"] == 0 and logs["mae_step"] == 1 and model.masker.updates == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.masker.parameters()))
    model.set_epoch(2)
    _, logs = model.training_loss(imgs)
    assert logs["cmm_step"] == 1 and logs["w_prog"] == -0.001 and model.stage == 1


@pytest.mark.parametrize("options", [
    dict(cmm_tokens="mae"),
    dict(soft_masking="mask_token"),
    dict(gauss_scale="code", kl_direction="pred||target", div_pairs="ordered", lambda_div=2.0),
    dict(curriculum=CurriculumSchedule(eta=1, sign="literal"), cmm_clip_grad=1.0),
])
def test_documented_variants_run(options):
    model = CMMAE("tiny", **options)
    model.set_epoch(1)
    loss, logs = model.training_loss(structured(4))
    loss.backward()
    assert math.isfinite(float(loss.detach())) and math.isfinite(logs["cmm_loss"]) and model.masker.updates == 1
    if "cmm_tokens" in options:
        assert not hasattr(model.masker.net, "patch_embed")
        assert model.masker.net.embed_dim == model.mae.embed_dim
    if "cmm_clip_grad" in options:
        assert logs["w_prog"] == pytest.approx(0.001) and "cmm_grad_norm" in logs


def test_no_cmm_update_in_eval_mode_or_without_gradients():
    model = CMMAE("tiny")
    imgs = structured(4)
    with torch.no_grad():
        model.training_loss(imgs)
    model.eval()
    loss, logs = model.training_loss(imgs)
    assert model.masker.updates == 0 and logs["cmm_step"] == 0 and logs["mae_step"] == 1
    z, m = model.masks(imgs)
    assert z.shape == (4, 64) and torch.all((z > 0) & (z < 1))
    assert torch.equal(m.mask.sum(1), torch.full((4,), 48.0))
    _, _, m2, z2 = model(imgs)
    assert torch.equal(z2, z) and torch.equal(m2.ids_keep, m.ids_keep)


def test_cmm_stays_out_of_the_projects_optimizer_and_its_step_leaves_the_mae_alone():
    model = CMMAE("tiny")
    optimizer, _ = make_optimizer(model, CMMAE.schedule("tiny"), 10)
    in_opt = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in in_opt for p in model.masker.parameters())
    assert all(id(p) in in_opt for p in model.mae.parameters())
    imgs = structured(4)
    mae_before = [p.clone() for p in model.mae.parameters()]
    cmm_before = [p.clone() for p in model.masker.parameters()]
    loss, logs = model.training_loss(imgs)  # CMM step inside, MAE untouched until the caller steps
    assert all(torch.equal(a, b) for a, b in zip(mae_before, model.mae.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(cmm_before, model.masker.parameters()))
    assert all(p.grad is None for p in model.mae.parameters())
    loss.backward()
    assert all(p.grad is None for p in model.masker.parameters())
    assert all(p.grad is not None for p in model.mae.parameters() if p.requires_grad)
    assert {"prog_rec", "gauss", "kl", "div", "cmm_loss", "mae_loss"} <= set(logs)


def test_alternate_cycles_update_one_side_per_step():
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=5, cycle="alternate"))
    optimizer, _ = make_optimizer(model, CMMAE.schedule("tiny"), 10)
    imgs = structured(4)
    for step in range(4):
        mae_before = [p.clone() for p in model.mae.parameters()]
        cmm_before = [p.clone() for p in model.masker.parameters()]
        loss, logs = model.training_loss(imgs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        mae_moved = any(not torch.equal(a, b) for a, b in zip(mae_before, model.mae.parameters()))
        cmm_moved = any(not torch.equal(a, b) for a, b in zip(cmm_before, model.masker.parameters()))
        assert (mae_moved, cmm_moved) == ((True, False) if step % 2 == 0 else (False, True))
        assert logs["mae_step"] == float(step % 2 == 0)
    # per-epoch alternation
    by_epoch = CMMAE("tiny", curriculum=CurriculumSchedule(eta=5, cycle="alternate",
                                                           alternate_unit="epoch"))
    turns = []
    for epoch in range(4):
        by_epoch.set_epoch(epoch)
        turns.append(by_epoch.training_loss(imgs)[1]["cmm_step"])
    assert turns == [0.0, 1.0, 0.0, 1.0]


def test_reinitialisation_at_curriculum_updates():
    imgs = structured(4)
    for reinit in (False, True):
        model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2, reinit=reinit))
        model.training_loss(imgs)
        trained = [p.clone() for p in model.masker.parameters()]
        model.set_epoch(1)  # same stage: nothing happens
        assert all(torch.equal(a, b) for a, b in zip(trained, model.masker.parameters()))
        model.set_epoch(2)  # curriculum update
        same = all(torch.equal(a, b) for a, b in zip(trained, model.masker.parameters()))
        assert same is (not reinit)
        assert (len(model.masker.optimizer.state) == 0) is reinit


def test_steps_per_epoch_drives_the_curriculum_and_state_dict_round_trips():
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2), steps_per_epoch=2)
    imgs = structured(4)
    epochs = [model.training_loss(imgs)[1]["epoch"] for _ in range(5)]
    assert epochs == [0, 0, 1, 1, 2] and model.stage == 1 and model.curriculum_weight == -0.001
    clone = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2), steps_per_epoch=2, seed=7)
    clone.load_state_dict(model.state_dict())
    assert (clone.epoch, clone.stage, clone.masker.updates) == (2, 1, 5)
    assert clone.masker.optimizer.state_dict()["state"].keys() == model.masker.optimizer.state_dict()["state"].keys()
    assert torch.equal(clone.scores(imgs), model.scores(imgs))
    assert torch.equal(clone.mae.random_masking(2).ids_keep, model.mae.random_masking(2).ids_keep)


def test_the_autoencoder_is_the_inner_mae():
    model = CMMAE("tiny")
    assert model.autoencoder is model.mae


# ------------------------------------------------------------------------------ pre-training

def test_a_few_pretraining_steps_lower_the_cmmae_loss():
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2), steps_per_epoch=10)
    imgs = structured(16)
    before = fixed_mask_loss(model.mae, imgs)
    history = train(model, model.training_loss, endless([imgs]), schedule=CMMAE.schedule("tiny"),
                    total_steps=40, progress=False)
    after = fixed_mask_loss(model.mae, imgs)
    assert after < 0.8 * before, (before, after)
    first = np.mean([h["mae_loss"] for h in history[:5]])
    last = np.mean([h["mae_loss"] for h in history[-5:]])
    assert last < first
    assert model.masker.updates == 40 and model.epoch == 3 and model.stage == 1
    assert [h["w_prog"] for h in history[::10]] == [1.0, 1.0, -0.001, -0.001]
    # the cooperative stage lowers the masking module's own objective
    coop = [h["cmm_loss"] for h in history[:20]]
    assert np.mean(coop[-5:]) < np.mean(coop[:5])
    assert all(h["masked_fraction"] == 0.75 for h in history)


# ------------------------------------------------------------------------------ bad input

def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="not divisible by the patch"):
        CMMAE("tiny", img_size=34, patch_size=4)
    for ratio in (0.0, 1.0, -0.1, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="mask_ratio"):
            CMMAE("tiny", mask_ratio=ratio)
    with pytest.raises(ValueError):
        CurriculumSchedule(eta=0)
    with pytest.raises(ValueError):
        CurriculumSchedule(train_fraction=0.0)
    with pytest.raises(ValueError):
        CurriculumSchedule(cycle="sometimes")
    with pytest.raises(ValueError):
        CurriculumSchedule().weight(-1)
    with pytest.raises(ValueError):
        CMMAE("tiny", kl_direction="sideways")
