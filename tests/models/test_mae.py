"""MAE (vadlib.models.mae): random masking and unshuffling, external masks, the masked-only loss,
sin-cos positions and sizes, frozen features, timm blocks, a few pre-training steps through the
project's loop, the interface the pre-training run shares with CM-MAE, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mae_helpers import fixed_mask_loss, structured

from vadlib.models import mae as mae_module
from vadlib.models.mae import MAE, num_visible, patch_targets, sincos_pos_embed_2d
from vadlib.runs.train import endless, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


# ------------------------------------------------------------------------------ masking

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
    imgs = structured(2)
    ids = mae.random_masking(2, generator=torch.Generator().manual_seed(1)).ids_keep
    perm = ids[:, torch.randperm(ids.shape[1])]
    with torch.no_grad():
        loss_a, pred_a, _ = mae(imgs, ids_keep=ids)
        loss_b, pred_b, _ = mae(imgs, ids_keep=perm)
    assert torch.allclose(pred_a, pred_b, atol=1e-5)
    assert torch.allclose(loss_a, loss_b, atol=1e-6)


def test_mae_loss_counts_masked_patches_only():
    mae = MAE("tiny")
    imgs = structured(4)
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
    imgs = structured(5)
    f = mae.features(imgs)
    assert f.shape == (5, 64) and mae.training  # mode restored
    assert torch.equal(f, mae.features(imgs))   # deterministic: no masking
    with torch.no_grad():
        tokens = mae.encode_tokens(mae.embed(imgs))
    assert torch.allclose(f, tokens[:, 1:].mean(1))
    assert torch.allclose(mae.features(imgs, pool="cls"), tokens[:, 0])
    assert torch.allclose(mae.features(imgs, batch_size=2), f, atol=1e-6)


def test_blocks_are_timms_with_vit_parameter_names():
    from timm.models.vision_transformer import Block
    mae = MAE("tiny")
    assert all(isinstance(b, Block) for b in list(mae.blocks) + list(mae.decoder_blocks))
    assert {"cls_token", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "decoder_embed.weight"} <= set(mae.state_dict())


# ------------------------------------------------------------------------------ the pre-training run's interface

def test_masks_are_a_fresh_random_masking_with_its_visibility_as_scores():
    mae = MAE("tiny")
    imgs = structured(3)
    mae.reset_rng(4)
    scores, masking = mae.masks(imgs)
    mae.reset_rng(4)
    expected = mae.random_masking(3)  # drawn from the model's own generator, as the training masks
    assert torch.equal(masking.ids_keep, expected.ids_keep) and torch.equal(masking.mask, expected.mask)
    assert torch.equal(scores, 1.0 - expected.mask)
    # the top-K of the scores is that masking: the same visible set
    top = mae.masking_from_scores(scores)
    assert torch.equal(top.mask, masking.mask)
    assert mae.autoencoder is mae


def test_set_epoch_changes_nothing():
    mae = MAE("tiny")
    state = {k: v.clone() for k, v in mae.state_dict().items() if isinstance(v, torch.Tensor)}
    rng = mae.rng.get_state()
    mae.set_epoch(150)
    assert all(torch.equal(v, mae.state_dict()[k]) for k, v in state.items())
    assert torch.equal(mae.rng.get_state(), rng)


def test_every_exported_name_exists():
    assert all(hasattr(mae_module, name) for name in mae_module.__all__)


# ------------------------------------------------------------------------------ pre-training

def test_a_few_pretraining_steps_lower_the_mae_loss():
    # 40 steps take the tiny MAE from its random-init loss (~1.7) to about the level of predicting
    # each normalised patch's mean (1.0): the optimisation works; it is no representation test.
    model = MAE("tiny")
    imgs = structured(16)
    before = fixed_mask_loss(model, imgs)
    history = train(model, model.training_loss, endless([imgs]), schedule=MAE.schedule("tiny"),
                    total_steps=40, progress=False)
    after = fixed_mask_loss(model, imgs)
    assert after < 0.8 * before, (before, after)
    first = np.mean([h["loss"] for h in history[:5]])
    last = np.mean([h["loss"] for h in history[-5:]])
    assert last < first


# ------------------------------------------------------------------------------ bad input

def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="not divisible by the patch"):
        MAE("tiny", img_size=30)
    for ratio in (0.0, 1.0, -0.1, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="mask_ratio"):
            MAE("tiny", mask_ratio=ratio)
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
