"""Tests of Paper F's models (vadlib.models.mae, vadlib.models.curriculum_masking) and its k-NN
evaluation (vadlib.knn_eval): random masking and unshuffling, the masked-only MAE loss, the four
mask losses against their formulas, the thesis's curriculum schedule, k-NN Acc@1 / "Acc@5" on a
hand-made feature set, short pre-training runs through the project's loop, the masking module kept
out of the project's optimiser, same vs alternate cycles, re-initialisation, checkpoints, and bad
input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vadlib.knn_eval import (
    evaluate_features,
    extract_features,
    knn_accuracy,
    knn_neighbours,
    linear_probe_accuracy,
    majority_vote,
)
from vadlib.models.curriculum_masking import (
    CMMAE,
    CurriculumSchedule,
    curriculum_table,
    diversity_loss,
    gaussian_loss,
    kl_mask_ratio_loss,
    progressive_loss,
)
from vadlib.models.mae import MAE, num_visible, patch_targets, sincos_pos_embed_2d
from vadlib.runs.train import endless, make_optimizer, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


def _structured(n: int = 16, size: int = 32, seed: int = 0) -> torch.Tensor:
    """n×3×size×size images in [0, 1]: an oriented low-frequency grating plus a bright disc."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    images = []
    for _ in range(n):
        theta, freq, phase = torch.rand(3, generator=g) * torch.tensor([math.pi, 0.3, 6.28])
        freq = freq + 0.1
        wave = torch.sin(freq * (xx * torch.cos(theta) + yy * torch.sin(theta)) + phase)
        cx, cy = (torch.rand(2, generator=g) * (size - 12) + 6).tolist()
        disc = (((xx - cx) ** 2 + (yy - cy) ** 2) < 25).float()
        colour = torch.rand(3, 1, 1, generator=g)
        img = 0.5 + 0.25 * wave[None] * torch.tensor([1.0, 0.6, -0.8])[:, None, None]
        img = img * (1 - disc) + colour * disc
        images.append(img.clamp(0, 1))
    return torch.stack(images)


# ------------------------------------------------------------------------------ MAE masking

def test_random_masking_keeps_exactly_k_and_unshuffles_exactly():
    mae = MAE("tiny")
    n, k = mae.num_patches, mae.num_keep
    assert (n, k) == (64, 16)
    imgs = torch.rand(8, 3, 32, 32)
    m = mae.random_masking(8, generator=torch.Generator().manual_seed(3))
    assert m.ids_keep.shape == (8, k) and m.ids_restore.shape == (8, n) and m.mask.shape == (8, n)
    assert torch.equal(m.mask.sum(1), torch.full((8,), float(n - k)))  # exactly n - K masked
    for row in range(8):
        assert m.ids_keep[row].unique().numel() == k
        assert torch.all(m.mask[row, m.ids_keep[row]] == 0)
    assert not torch.equal(m.ids_keep[0], m.ids_keep[1])  # per-sample noise
    # the encoder's visible list + the masked patches, unshuffled with ids_restore = the image
    patches = mae.patchify(imgs)
    ids_shuffle = torch.argsort(m.ids_restore, dim=1)
    assert torch.equal(ids_shuffle[:, :k], m.ids_keep)
    visible = torch.gather(patches, 1, m.ids_keep[..., None].expand(-1, -1, patches.shape[-1]))
    masked = torch.gather(patches, 1, ids_shuffle[:, k:, None].expand(-1, -1, patches.shape[-1]))
    restored = torch.gather(torch.cat([visible, masked], 1), 1,
                            m.ids_restore[..., None].expand(-1, -1, patches.shape[-1]))
    assert torch.equal(restored, patches)
    assert torch.equal(mae.unpatchify(restored), imgs)
    # same generator seed -> same masks; the model's own generator is seeded and resettable
    again = mae.random_masking(8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again.ids_keep, m.ids_keep)
    mae.reset_rng(5)
    a = mae.random_masking(2)
    mae.reset_rng(5)
    assert torch.equal(mae.random_masking(2).ids_keep, a.ids_keep)
    # another ratio
    assert mae.random_masking(3, mask_ratio=0.5).ids_keep.shape == (3, 32)


def test_external_masking_scores_and_visible_ids():
    mae = MAE("tiny")
    scores = torch.stack([torch.arange(64.0), -torch.arange(64.0)])
    m = mae.masking_from_scores(scores)
    assert set(m.ids_keep[0].tolist()) == set(range(48, 64))  # the 16 highest scores visible
    assert set(m.ids_keep[1].tolist()) == set(range(16))
    assert torch.equal(m.mask[0], (torch.arange(64) < 48).float())
    ids = torch.tensor([[5, 0, 63, 7] + list(range(20, 32))])
    v = mae.masking_from_visible(ids)
    assert torch.equal(v.ids_keep, ids)
    expected = torch.ones(1, 64)
    expected[0, ids[0]] = 0
    assert torch.equal(v.mask, expected)
    with pytest.raises(ValueError, match="repeated"):
        mae.masking_from_visible(torch.tensor([[1, 1, 2]]))


def test_prediction_does_not_depend_on_the_order_of_the_visible_list():
    """A wrong unshuffle would move encoded tokens to other patches: permuting the encoder's input
    order must give the same reconstruction (the blocks are permutation-equivariant)."""
    mae = MAE("tiny").eval()
    imgs = _structured(2)
    ids = mae.random_masking(2, generator=torch.Generator().manual_seed(1)).ids_keep
    perm = ids[:, torch.randperm(ids.shape[1])]
    with torch.no_grad():
        loss_a, pred_a, _ = mae(imgs, ids_keep=ids)
        loss_b, pred_b, _ = mae(imgs, ids_keep=perm)
    assert torch.allclose(pred_a, pred_b, atol=1e-5)
    assert torch.allclose(loss_a, loss_b, atol=1e-6)


def test_mae_loss_counts_masked_patches_only():
    mae = MAE("tiny")
    imgs = _structured(4)
    with torch.no_grad():
        loss, pred, m = mae(imgs, generator=torch.Generator().manual_seed(0))
        target = mae.targets(imgs)
        manual = ((pred - target) ** 2).mean(-1)[m.mask.bool()].mean()
        assert torch.allclose(loss, manual)
        changed = pred + 5.0 * (1 - m.mask)[..., None]  # change visible-patch predictions only
        assert torch.equal(mae.reconstruction_loss(imgs, changed, m.mask), loss)
        masked = pred + 0.5 * m.mask[..., None]
        assert mae.reconstruction_loss(imgs, masked, m.mask) > loss
    # norm_pix targets: each patch has mean 0 and population std ~1
    t = patch_targets(mae.patchify(imgs))
    assert torch.allclose(t.mean(-1), torch.zeros(t.shape[:2]), atol=1e-5)
    spread = t.std(-1, unbiased=False)
    varied = mae.patchify(mae.preprocess(imgs)).var(-1, unbiased=False) > 1e-2
    assert varied.any() and torch.allclose(spread[varied], torch.ones(int(varied.sum())), atol=1e-3)
    assert torch.all(spread <= 1 + 1e-4)  # flat patches (inside the disc) stay near 0


def test_sincos_position_embedding_and_sizes():
    pe = sincos_pos_embed_2d(8, (2, 3))
    assert pe.shape == (7, 8) and torch.equal(pe[0], torch.zeros(8))
    # patch (row 1, col 2) = index 1 + 1*3 + 2; dims: rows [sin(r), sin(r/100), cos r, cos(r/100)], cols likewise
    row, col = 1.0, 2.0
    expected = torch.tensor([math.sin(row), math.sin(row / 100), math.cos(row), math.cos(row / 100),
                             math.sin(col), math.sin(col / 100), math.cos(col), math.cos(col / 100)])
    assert torch.allclose(pe[1 + 5], expected, atol=1e-6)
    paper = MAE("paper")
    assert (paper.num_patches, paper.num_keep, paper.embed_dim, len(paper.blocks)) == (196, 49, 768, 12)
    assert (paper.decoder_embed_dim, len(paper.decoder_blocks)) == (512, 8)
    assert paper.decoder_blocks[0].attn.num_heads == 16
    assert not any(name.endswith("pos_embed") for name, _ in paper.named_parameters())
    n_params = sum(p.numel() for p in paper.parameters())
    assert 110e6 < n_params < 113e6  # ViT-B/16 MAE with the 512-d, 8-block decoder ~ 111.7M


def test_features_are_frozen_mean_pooled_encoder_outputs():
    mae = MAE("tiny").train()
    imgs = _structured(5)
    f = mae.features(imgs)
    assert f.shape == (5, 64) and mae.training  # mode restored
    assert torch.equal(f, mae.features(imgs))   # deterministic: no masking
    with torch.no_grad():
        tokens = mae._encode_tokens(mae.embed(imgs))
    assert torch.allclose(f, tokens[:, 1:].mean(1))
    assert torch.allclose(mae.features(imgs, pool="cls"), tokens[:, 0])
    assert torch.allclose(mae.features(imgs, batch_size=2), f, atol=1e-6)


def test_blocks_are_timms_with_vit_parameter_names():
    from timm.models.vision_transformer import Block
    mae = MAE("tiny")
    assert all(isinstance(b, Block) for b in list(mae.blocks) + list(mae.decoder_blocks))
    assert {"cls_token", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "decoder_embed.weight"} <= set(mae.state_dict())


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
    imgs = _structured(4)
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
    imgs = _structured(4)
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
    loss, logs = model.training_loss(_structured(4))
    loss.backward()
    assert math.isfinite(float(loss.detach())) and math.isfinite(logs["cmm_loss"]) and model.masker.updates == 1
    if "cmm_tokens" in options:
        assert not hasattr(model.masker.net, "patch_embed")
        assert model.masker.net.embed_dim == model.mae.embed_dim
    if "cmm_clip_grad" in options:
        assert logs["w_prog"] == pytest.approx(0.001) and "cmm_grad_norm" in logs


def test_no_cmm_update_in_eval_mode_or_without_gradients():
    model = CMMAE("tiny")
    imgs = _structured(4)
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
    imgs = _structured(4)
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
    imgs = _structured(4)
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
    imgs = _structured(4)
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
    imgs = _structured(4)
    epochs = [model.training_loss(imgs)[1]["epoch"] for _ in range(5)]
    assert epochs == [0, 0, 1, 1, 2] and model.stage == 1 and model.curriculum_weight == -0.001
    clone = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2), steps_per_epoch=2, seed=7)
    clone.load_state_dict(model.state_dict())
    assert (clone.epoch, clone.stage, clone.masker.updates) == (2, 1, 5)
    assert clone.masker.optimizer.state_dict()["state"].keys() == model.masker.optimizer.state_dict()["state"].keys()
    assert torch.equal(clone.scores(imgs), model.scores(imgs))
    assert torch.equal(clone.mae.random_masking(2).ids_keep, model.mae.random_masking(2).ids_keep)


# ------------------------------------------------------------------------------ pre-training

def _fixed_mask_loss(mae: MAE, imgs: torch.Tensor) -> float:
    with torch.no_grad():
        return float(mae(imgs, generator=torch.Generator().manual_seed(123))[0])


def test_a_few_pretraining_steps_lower_the_mae_loss():
    # 40 steps take the tiny MAE from its random-init loss (~1.7) to about the level of predicting
    # each normalised patch's mean (1.0): the optimisation works; it is no representation test.
    model = MAE("tiny")
    imgs = _structured(16)
    before = _fixed_mask_loss(model, imgs)
    history = train(model, model.training_loss, endless([imgs]), schedule=MAE.schedule("tiny"),
                    total_steps=40, progress=False)
    after = _fixed_mask_loss(model, imgs)
    assert after < 0.8 * before, (before, after)
    first = np.mean([h["loss"] for h in history[:5]])
    last = np.mean([h["loss"] for h in history[-5:]])
    assert last < first


def test_a_few_pretraining_steps_lower_the_cmmae_loss():
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=2), steps_per_epoch=10)
    imgs = _structured(16)
    before = _fixed_mask_loss(model.mae, imgs)
    history = train(model, model.training_loss, endless([imgs]), schedule=CMMAE.schedule("tiny"),
                    total_steps=40, progress=False)
    after = _fixed_mask_loss(model.mae, imgs)
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


# ------------------------------------------------------------------------------ k-NN evaluation

def _knn_set():
    """Unit directions (with varied norms) at hand-chosen angles; labels A-D."""
    train_deg = [0, 10, 20, 30, 40, 90, 100, 110, 120, 180]
    train_lab = ["A", "A", "B", "B", "C", "C", "C", "B", "A", "D"]
    test_deg = [16, 97, 170, 252]
    test_lab = ["B", "C", "A", "C"]
    norms = np.linspace(0.5, 3.0, len(train_deg))

    def vec(deg, scale=1.0):
        r = np.deg2rad(deg)
        return scale * np.array([np.cos(r), np.sin(r)])

    xtr = np.stack([vec(d, s) for d, s in zip(train_deg, norms)])
    xte = np.stack([vec(d, 2.0) for d in test_deg])
    return xtr, np.array(train_lab), xte, np.array(test_lab)


def test_knn_acc1_and_any_of_5_on_a_hand_made_set():
    xtr, ytr, xte, yte = _knn_set()
    idx, _ = knn_neighbours(xtr, xte, k=5)
    # by angular distance: 16° -> 20, 10, 30, 0, 40; 97° -> 100, 90, 110, 120, 40;
    # 170° -> 180, 120, 110, 100, 90; 252° -> 180, 0, 10, 20, 120
    assert idx.tolist() == [[2, 1, 3, 0, 4], [6, 5, 7, 8, 4], [9, 8, 7, 6, 5], [9, 0, 1, 2, 8]]
    # votes: B,A,B,A,C -> tie A/B, nearest B (true B, hit); C,C,B,A,C -> C (hit);
    # D,A,B,C,C -> C (true A, miss); D,A,A,B,A -> A (true C, miss)
    assert majority_vote(ytr[idx]).tolist() == ["B", "C", "C", "A"]
    assert majority_vote(ytr[idx], tie_break="smallest").tolist() == ["A", "C", "C", "A"]
    res = knn_accuracy(xtr, ytr, xte, yte)
    assert res["acc@1"] == pytest.approx(50.0) and res["acc@5"] == pytest.approx(75.0)  # 2/4, 3/4
    assert knn_accuracy(xtr, ytr, xte, yte, tie_break="smallest")["acc@1"] == pytest.approx(25.0)
    assert knn_accuracy(xtr, ytr, xte, yte, percent=False)["acc@5"] == pytest.approx(0.75)
    # k = 1: nearest neighbour 20°(B), 100°(C), 180°(D), 180°(D) -> 2 of 4 for both numbers
    one = knn_accuracy(xtr, ytr, xte, yte, k=1)
    assert one == {"acc@1": 50.0, "k": 1}  # with k = 1 the two numbers coincide
    # torch tensors and integer labels work the same
    codes = {c: i for i, c in enumerate("ABCD")}
    res_t = knn_accuracy(torch.tensor(xtr), torch.tensor([codes[c] for c in ytr]), torch.tensor(xte),
                         [codes[c] for c in yte])
    assert (res_t["acc@1"], res_t["acc@5"]) == (50.0, 75.0)
    # cosine ignores the norms; Euclidean on raw features does not
    assert not np.array_equal(knn_neighbours(xtr, xte, k=5, metric="euclidean")[0], idx)


def test_linear_probe_and_evaluate_features():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 4
    ytr, yte = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 5)
    xtr = centres[ytr] + rng.normal(size=(60, 8))
    xte = centres[yte] + rng.normal(size=(15, 8))
    lin = linear_probe_accuracy(xtr, ytr, xte, yte)
    assert lin == {"acc@1": 100.0, "acc@5": 100.0}
    table = evaluate_features(xtr, ytr, xte, yte)
    assert set(table) == {"knn_acc@1", "knn_acc@5", "linear_acc@1", "linear_acc@5"}
    assert table["knn_acc@1"] == 100.0


def test_extract_features_from_a_model():
    mae = MAE("tiny")
    imgs = _structured(6)
    batches = [{"image": imgs[:4], "label": torch.tensor([0, 1, 0, 1])},
               (imgs[4:], torch.tensor([1, 0]))]
    feats, labels = extract_features(mae, batches)
    assert feats.shape == (6, 64) and labels.tolist() == [0, 1, 0, 1, 1, 0]
    assert torch.allclose(feats, mae.features(imgs), atol=1e-6)
    res = knn_accuracy(feats[:4], labels[:4], feats[4:], labels[4:], k=3)
    assert set(res) == {"acc@1", "acc@3", "k"}


# ------------------------------------------------------------------------------ bad input

def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="not divisible by the patch"):
        MAE("tiny", img_size=30)
    with pytest.raises(ValueError, match="not divisible by the patch"):
        CMMAE("tiny", img_size=34, patch_size=4)
    for ratio in (0.0, 1.0, -0.1, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="mask_ratio"):
            MAE("tiny", mask_ratio=ratio)
        with pytest.raises(ValueError, match="mask_ratio"):
            CMMAE("tiny", mask_ratio=ratio)
    mae = MAE("tiny")
    with pytest.raises(ValueError, match="mask_ratio"):
        mae.random_masking(2, mask_ratio=1.0)
    with pytest.raises(ValueError, match="at least one visible"):
        num_visible(4, 0.1)
    with pytest.raises(ValueError, match="leaves 0 of 64 patches visible"):  # K = 0
        MAE("tiny", mask_ratio=0.995)
    with pytest.raises(ValueError, match="not divisible by the patch"):
        mae(torch.rand(2, 3, 30, 30))
    with pytest.raises(ValueError, match="built for"):
        mae(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match="channels"):
        mae(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown size"):
        MAE("huge")
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
    xtr, ytr, xte, yte = _knn_set()
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(xtr, ytr, xte, yte, k=11)
    with pytest.raises(ValueError, match="width"):
        knn_accuracy(xtr, ytr, xte[:, :1], yte)
    with pytest.raises(ValueError, match="entries"):
        knn_accuracy(xtr, ytr[:-1], xte, yte)


# ------------------------------------------------------------------------------ end to end

def test_end_to_end_on_the_synthetic_imagenet_twin(tmp_path):
    """The real loader's dict batches through the project's loop, then frozen-feature k-NN."""
    from torch.utils.data import DataLoader

    from vadlib.data import synthetic
    from vadlib.data.imagenet import ImageNetFolder

    root = synthetic.generate("imagenet100", size="tiny", seed=0, data_root=tmp_path)
    train_set = ImageNetFolder(root, "train", resize=32)
    val_set = ImageNetFolder(root, "val", resize=32)
    loader = DataLoader(train_set, batch_size=8, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=1), steps_per_epoch=len(loader))
    history = train(model, model.training_loss, endless(loader), schedule=CMMAE.schedule("tiny"),
                    total_steps=2 * len(loader), progress=False)
    assert len(history) == 2 * len(loader) and model.epoch == 1 and model.stage == 1
    xtr, ytr = extract_features(model, DataLoader(train_set, batch_size=16))
    xte, yte = extract_features(model, DataLoader(val_set, batch_size=16))
    assert xtr.shape == (len(train_set), 64) and xte.shape == (len(val_set), 64)
    table = evaluate_features(xtr, ytr, xte, yte, k=5)
    assert all(0.0 <= v <= 100.0 for v in table.values())
    assert table["knn_acc@5"] >= table["knn_acc@1"]
