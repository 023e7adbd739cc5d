"""CutPaste host (Paper C, Table C.2): anomaly synthesis, 3-way training, GDE scoring, ensemble."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.cutpaste import CutPaste, ensemble_scores, mahalanobis
from vadlib.models.registry import host_class
from vadlib.synthesis.cutpaste import color_jitter, cutpaste, cutpaste_scar, three_way


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """Normal training images and labelled test images of the tiny MVTec twin (64 px, bottle)."""
    from vadlib.data.mvtec import MVTecAD
    from vadlib.data.synthetic import generate

    root = generate("mvtec_ad", size="tiny", seed=0, data_root=tmp_path_factory.mktemp("data"))
    train = torch.stack([d["image"] for d in MVTecAD(root, "bottle", "train", resize=None)])
    test = MVTecAD(root, "bottle", "test", resize=None)
    return (train, torch.stack([d["image"] for d in test]),
            np.array([int(d["label"]) for d in test]))


def _noise(seed: int, c: int = 3, size: int = 64) -> torch.Tensor:
    # values away from 0 and 1 so that jitter never clamps two different pixels to the same value
    return 0.1 + 0.8 * torch.rand(c, size, size, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# synthesis
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [cutpaste, cutpaste_scar])
@pytest.mark.parametrize("channels", [3, 1])
def test_mask_covers_exactly_the_changed_pixels(fn, channels):
    rng = np.random.default_rng(0)
    changed_inside = total_inside = 0
    for k in range(40):
        image = _noise(k, channels)
        out, mask = fn(image, rng)
        assert out.shape == image.shape and mask.shape == image.shape[1:]
        assert mask.dtype == torch.bool
        assert out.min() >= 0 and out.max() <= 1
        changed = (out != image).any(0)
        assert not (changed & ~mask).any(), "a pixel outside the mask changed"
        assert torch.equal(out[:, ~mask], image[:, ~mask])
        assert mask.any()
        changed_inside += int((changed & mask).sum())
        total_inside += int(mask.sum())
    # on noise images the pasted pixels come from elsewhere: (almost) every one of them changes
    assert changed_inside / total_inside > 0.99


def test_cutpaste_pastes_a_jittered_copy_of_a_source_rectangle():
    image = _noise(1)
    out, mask, p = cutpaste(image, np.random.default_rng(3), jitter=0.0, return_params=True)
    (sy, sx), (ty, tx) = p.source, p.target
    assert torch.equal(out[:, ty:ty + p.height, tx:tx + p.width],
                       image[:, sy:sy + p.height, sx:sx + p.width])
    expected = torch.zeros_like(mask)
    expected[ty:ty + p.height, tx:tx + p.width] = True
    assert torch.equal(mask, expected)


def test_cutpaste_area_and_aspect_ratio_ranges():
    rng, image, size = np.random.default_rng(1), torch.zeros(1, 256, 256), 256
    areas, aspects, drawn_aspects = [], [], []
    for _ in range(400):
        _, mask, p = cutpaste(image, rng, jitter=0.0, return_params=True)
        assert 0.02 <= p.area_ratio <= 0.15 and 0.3 <= p.aspect_ratio <= 3.3
        assert int(mask.sum()) == p.height * p.width
        areas.append(p.height * p.width / size ** 2)
        aspects.append(p.width / p.height)
        drawn_aspects.append(p.aspect_ratio)
    areas, aspects = np.array(areas), np.array(aspects)
    # realised (integer) sizes stay within the ranges up to rounding to whole pixels
    assert areas.min() > 0.02 * 0.9 and areas.max() < 0.15 * 1.1
    assert aspects.min() > 0.3 * 0.9 and aspects.max() < 3.3 * 1.1
    # the ranges are covered, and the aspect is log-uniform: r < 1 and r > 1 about equally often
    assert areas.min() < 0.03 and areas.max() > 0.14
    assert min(drawn_aspects) < 0.4 and max(drawn_aspects) > 2.5
    assert 0.4 < np.mean(np.array(drawn_aspects) < 1) < 0.6


def test_scar_dimensions():
    rng, image = np.random.default_rng(2), torch.zeros(1, 64, 64)
    widths, lengths = [], []
    for _ in range(150):  # unrotated: the mask is exactly a length × width rectangle
        _, mask, p = cutpaste_scar(image, rng, rotation=(0, 0), jitter=0.0, return_params=True)
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        assert rows.numel() == p.height and cols.numel() == p.width
        assert int(mask.sum()) == p.height * p.width
        widths.append(p.width)
        lengths.append(p.height)
    assert min(widths) >= 2 and max(widths) <= 16 and min(lengths) >= 10 and max(lengths) <= 25
    assert min(widths) <= 3 and max(widths) >= 15 and min(lengths) <= 11 and max(lengths) >= 24
    for _ in range(5):  # a quarter turn swaps the extents
        _, mask, p = cutpaste_scar(image, rng, rotation=(90, 90), jitter=0.0, return_params=True)
        assert int(mask.any(1).sum()) == p.width and int(mask.any(0).sum()) == p.height
    for _ in range(100):  # any angle in [-45, 45]: area preserved up to the pixel boundary
        _, mask, p = cutpaste_scar(image, rng, jitter=0.0, return_params=True)
        assert -45 <= p.angle <= 45
        area, perimeter = p.height * p.width, 2 * (p.height + p.width)
        assert abs(int(mask.sum()) - area) <= 0.5 * perimeter + 2
        a = math.radians(abs(p.angle))
        extent_rows = p.height * math.cos(a) + p.width * math.sin(a)
        assert int(mask.any(1).sum()) <= math.ceil(extent_rows) + 1


def test_synthesis_is_deterministic_per_seed():
    image = _noise(4)
    a = cutpaste_scar(cutpaste(image, np.random.default_rng(7))[0], np.random.default_rng(7))
    b = cutpaste_scar(cutpaste(image, np.random.default_rng(7))[0], np.random.default_rng(7))
    c = cutpaste(image, np.random.default_rng(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(c[0], cutpaste(image, np.random.default_rng(7))[0])


def test_color_jitter_identity_and_range():
    patch = _noise(5)
    assert torch.equal(color_jitter(patch, np.random.default_rng(0), 0.0), patch)
    out = color_jitter(patch, np.random.default_rng(0), 0.1)
    assert out.shape == patch.shape and 0 <= out.min() and out.max() <= 1
    assert not torch.equal(out, patch)
    assert (out - patch).abs().mean() < 0.1  # a mild change at strength 0.1
    with pytest.raises(ValueError, match="channels"):
        color_jitter(torch.rand(2, 8, 8), np.random.default_rng(0))


def test_three_way_labels_and_versions():
    images = torch.stack([_noise(k) for k in range(4)])
    inputs, labels, masks = three_way(images, np.random.default_rng(0), return_masks=True)
    assert inputs.shape == (12, 3, 64, 64) and masks.shape == (12, 64, 64)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and labels.dtype == torch.int64
    assert torch.equal(inputs[:4], images) and not masks[:4].any()
    for k in range(4, 12):
        src = images[k % 4]
        assert masks[k].any() and torch.equal(inputs[k][:, ~masks[k]], src[:, ~masks[k]])
    with pytest.raises(ValueError, match="N×C×H×W"):
        three_way(images[0], np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# Gaussian density estimator and ensemble
# ---------------------------------------------------------------------------------------------
def test_mahalanobis_known_answers():
    from sklearn.covariance import LedoitWolf

    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    lw = LedoitWolf().fit(x.numpy())
    mean, prec = torch.as_tensor(lw.location_), torch.as_tensor(lw.precision_)
    assert mahalanobis(mean[None], mean, prec).item() == pytest.approx(0.0, abs=1e-6)
    near, far = mean + 0.1, mean + 10.0
    d = mahalanobis(torch.stack([near, far]), mean, prec)
    assert d[1] > d[0] > 0
    # identity precision: Euclidean distance; diagonal precision: scaled distance
    assert mahalanobis(torch.tensor([[3.0, 4.0]]), torch.zeros(2), torch.eye(2)).item() == 5.0
    assert mahalanobis(torch.tensor([[2.0, 0.0]]), torch.zeros(2),
                       torch.diag(torch.tensor([0.25, 1.0]))).item() == 1.0


def test_ensemble_scores_on_hand_made_arrays():
    scores = [np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])]
    normals = [np.array([0.0, 2.0]), np.array([10.0, 30.0])]  # means 1, 20; std 1, 10
    np.testing.assert_allclose(ensemble_scores(scores, normals), [-0.5, 0.5, 1.5])
    np.testing.assert_allclose(ensemble_scores(scores), [5.5, 11.0, 16.5])
    # a zero std counts as 1
    np.testing.assert_allclose(ensemble_scores([np.array([3.0])], [np.array([1.0, 1.0])]), [2.0])
    with pytest.raises(ValueError, match="same images"):
        ensemble_scores([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="normal scores"):
        ensemble_scores(scores, normals[:1])


# ---------------------------------------------------------------------------------------------
# host
# ---------------------------------------------------------------------------------------------
def _fixed_loss(host: CutPaste, images: torch.Tensor, draws: int = 3) -> float:
    """Host loss + λ·block loss averaged over fixed draws of anomalies (the host's generator is
    reset to constants, then restored), so that losses before and after training compare."""
    rng, values = host._rng, []
    for d in range(draws):
        host._rng = np.random.default_rng(100 + d)
        with torch.no_grad():
            values.append(float(host.training_loss(images)[0]
                                + host.block_weight * block_loss(host)))
    host._rng = rng
    return float(np.mean(values))


def _train(host: CutPaste, images: torch.Tensor, steps: int) -> list[float]:
    s = host.schedule("tiny")
    opt = torch.optim.SGD(host.parameters(), lr=s.lr, momentum=s.momentum,
                          weight_decay=s.weight_decay)
    losses = []
    for _ in range(steps):
        loss, logs = host.training_loss(images)
        loss = loss + host.block_weight * block_loss(host)
        assert set(logs) == {"ce", "accuracy"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("kind", [None, "sspcab", "ssmctb"])
def test_trains_with_and_without_block(twin, kind):
    train = twin[0]
    host = CutPaste("tiny", seed=0)
    with torch.no_grad():
        host.eval()
        emb0, logits0 = host(train)
        host.train()
    if kind is not None:
        for site in host.block_sites:
            conv = host.get_submodule(site)
            assert isinstance(conv, nn.Conv2d) and conv.stride == (1, 1)
            assert conv.in_channels == conv.out_channels
            replace_layer(host, site, make_block(kind, conv.in_channels))
        with torch.no_grad():
            host.eval()
            emb1, logits1 = host(train)
            host.train()
        assert emb1.shape == emb0.shape and logits1.shape == logits0.shape == (6, 3)
    before = _fixed_loss(host, train)
    losses = _train(host, train, 40)
    assert all(math.isfinite(v) for v in losses)
    if kind is not None:
        assert float(block_loss(host).detach()) > 0
    after = _fixed_loss(host, train)
    assert after < before, (before, after)


def test_fit_normal_and_score_on_the_twin(twin):
    train, test, labels = twin
    host = CutPaste("tiny", seed=1)
    _train(host, train, 10)
    with pytest.raises(RuntimeError, match="fit_normal"):
        host.score(test)
    host.fit_normal([train[:3], {"image": train[3:]}])
    scores, maps = host.score(test)
    assert maps is None and host.localizes is False
    assert scores.shape == (len(labels),) and torch.isfinite(scores).all() and (scores >= 0).all()
    # the GDE is the Mahalanobis distance of the (eval-mode) embeddings
    emb = host.embed(test).double()
    assert host.gde_mean.shape == (emb.shape[1],)
    expected = mahalanobis(emb, host.gde_mean, host.gde_precision)
    np.testing.assert_allclose(scores.numpy(), expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(host.gde_mean.numpy(), host.embed(train).double().mean(0).numpy(),
                               atol=1e-6)
    # known answer: uniform-noise images lie far from the normal embeddings
    noise = torch.stack([_noise(k) for k in range(3)])
    assert host.score(noise)[0].min() > host.score(train)[0].max()
    # standardised scores of the normal images have mean 0, std 1
    z = host.standardize(host.score(train)[0])
    assert z.mean() == pytest.approx(0.0, abs=1e-4) and z.std() == pytest.approx(1.0, abs=1e-4)
    # state_dict round trip keeps the fitted density
    other = CutPaste("tiny", seed=9)
    other.load_state_dict(host.state_dict())
    torch.testing.assert_close(other.score(test)[0], scores)


def test_seeds_make_different_ensemble_members():
    a, b, a2 = CutPaste("tiny", seed=0), CutPaste("tiny", seed=1), CutPaste("tiny", seed=0)
    wa, wb = a.backbone.conv1.weight, b.backbone.conv1.weight
    assert torch.equal(wa, a2.backbone.conv1.weight) and not torch.equal(wa, wb)
    x = torch.stack([_noise(k) for k in range(2)])
    la, la2 = a.training_loss(x)[0], a2.training_loss(x)[0]
    assert torch.equal(la, la2)  # same seed: same weights and same anomalies


def test_paper_size_matches_torchvision_resnet18():
    from torchvision.models import resnet18

    host = CutPaste("paper")
    ref = {k: v.shape for k, v in resnet18().state_dict().items() if not k.startswith("fc.")}
    assert {k: v.shape for k, v in host.backbone.state_dict().items()} == ref
    assert host.head[0].in_features == 512 and host.head[-3].out_features == 128
    assert len([m for m in host.head if isinstance(m, nn.Linear)]) == 9
    site = host.block_sites[0]
    assert site == "backbone.layer4.1.conv1"
    replace_layer(host, site, make_block("sspcab", 512))
    host.eval()
    with torch.no_grad():
        emb, logits = host(torch.rand(2, 3, 64, 64))
    assert emb.shape == (2, 512) and logits.shape == (2, 3)


def test_interface_metadata():
    assert host_class("cutpaste") is CutPaste
    assert CutPaste.block_weight == 0.1 and CutPaste.steps_per_epoch == 256
    s = CutPaste.schedule("paper")
    assert (s.epochs, s.batch_size, s.lr, s.optimizer, s.momentum) == (256, 32, 0.03, "sgd", 0.9)
    assert "CutPaste" in s.source
    assert s.lr_schedule == "cosine" and s.weight_decay == 3e-5
    grey = CutPaste("tiny", in_channels=1)
    loss, _ = grey.training_loss(torch.rand(2, 1, 48, 48))
    assert math.isfinite(float(loss.detach()))


def test_bad_input_raises():
    host = CutPaste("tiny")
    with pytest.raises(ValueError, match="channels"):
        host.training_loss(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="at least 32"):
        host.training_loss(torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="N×C×H×W"):
        host.training_loss(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="unknown size"):
        CutPaste("huge")
    with pytest.raises(ValueError, match="unknown size"):
        CutPaste.schedule("huge")
    with pytest.raises(ValueError, match="pretrained"):
        CutPaste("tiny", pretrained=True)
    with pytest.raises(ValueError, match="channels"):
        host.embed(torch.rand(2, 4, 64, 64))
    with pytest.raises(ValueError, match="area_ratio"):
        cutpaste(torch.rand(3, 32, 32), np.random.default_rng(0), area_ratio=(0.2, 0.1))
