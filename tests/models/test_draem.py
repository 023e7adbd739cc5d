"""Tests of DRAEM (vadlib.models.draem), 3D DRAEM (vadlib.models.draem3d) and DRAEM's anomaly
simulation (vadlib.synthesis.perlin), against independent oracles: a literal per-corner Perlin sum,
PIL's ImageOps/ImageEnhance for the texture augmentations, hand-computed blends, brute-force
average pooling, and forward hooks for the block sites."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps
from torch import nn
from torch.utils.data import Dataset

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.draem import (
    DRAEM,
    focal_loss,
    image_scores_from_maps,
    pooled_maps,
)
from vadlib.models.draem3d import DRAEM3d
from vadlib.models.registry import host_class
from vadlib.models.layers import ssim
from vadlib.synthesis import perlin as P


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    from vadlib.data.synthetic import generate
    root = tmp_path_factory.mktemp("draem_twins")
    return {name: generate(name, size="tiny", seed=0, data_root=root)
            for name in ("mvtec_ad", "dtd", "brats")}


@pytest.fixture(scope="module")
def mvtec_batch(twins):
    from vadlib.data.mvtec import MVTecAD
    data = MVTecAD(twins["mvtec_ad"], "bottle", "train", resize=64)
    return torch.stack([data[i]["image"] for i in range(4)])


# --------------------------------------------------------------------------- Perlin noise

def _literal_perlin(shape, res, seed):
    """Perlin noise as the textbook per-pixel corner sum, with the module's gradient draws."""
    rng = np.random.default_rng(seed)
    n = len(shape)
    lattice = tuple(r + 1 for r in res)
    if n == 2:
        angles = 2 * math.pi * rng.random(lattice)
        grads = np.stack((np.cos(angles), np.sin(angles)), -1)
    else:
        grads = rng.standard_normal((*lattice, 3))
        grads /= np.linalg.norm(grads, axis=-1, keepdims=True)
    out = np.zeros(shape)
    for idx in itertools.product(*[range(s) for s in shape]):
        pos = [i * r / s for i, r, s in zip(idx, res, shape)]
        cell = [int(math.floor(p)) for p in pos]
        frac = [p - c for p, c in zip(pos, cell)]
        total = 0.0
        for corner in itertools.product((0, 1), repeat=n):
            g = grads[tuple(c + b for c, b in zip(cell, corner))]
            dot = sum(g[a] * (frac[a] - corner[a]) for a in range(n))
            w = 1.0
            for a in range(n):
                t = 6 * frac[a] ** 5 - 15 * frac[a] ** 4 + 10 * frac[a] ** 3
                w *= t if corner[a] else 1 - t
            total += w * dot
        out[idx] = total
    return out * P.AMPLITUDE[n]


@pytest.mark.parametrize("shape,res", [((12, 10), (3, 4)), ((16, 16), (4, 2)),
                                       ((5, 9, 7), (2, 3, 1))])
def test_perlin_noise_equals_literal_corner_sum(shape, res):
    fast = P.perlin_noise(shape, res, np.random.default_rng(7))
    assert fast.shape == shape and fast.dtype == np.float32
    np.testing.assert_allclose(fast, _literal_perlin(shape, res, 7), atol=1e-5)


def test_perlin_noise_zero_on_lattice_bounded_and_seeded():
    noise = P.perlin_noise((64, 64), (8, 8), np.random.default_rng(1))
    assert np.all(noise[::8, ::8] == 0)                     # lattice points
    assert np.abs(noise).max() <= 1.0 and noise.std() > 0.1
    again = P.perlin_noise((64, 64), (8, 8), np.random.default_rng(1))
    other = P.perlin_noise((64, 64), (8, 8), np.random.default_rng(2))
    assert np.array_equal(noise, again) and not np.array_equal(noise, other)


@pytest.mark.parametrize("shape,draws", [((64, 64), 60), ((8, 32, 32), 30)])
def test_perlin_mask_binary_and_fraction_sane(shape, draws):
    rng = np.random.default_rng(0)
    fractions = []
    for _ in range(draws):
        mask, info = P.perlin_mask(shape, rng)
        assert mask.dtype == bool and mask.shape == shape
        assert -90 <= info["angle"] <= 90
        for r, s in zip(info["res"], shape):       # 2^k, k < 6, at least 8 px per cell
            assert r in (1, 2, 4, 8, 16, 32) and r <= max(1, s // 8)
        fractions.append(mask.mean())
    fractions = np.array(fractions)
    # threshold 0.5 on noise spanning about [-1, 1]: a few percent of the pixels on average
    assert 0.02 < fractions.mean() < 0.10 and fractions.max() < 0.5
    assert (fractions > 0).mean() > 0.7


def test_perlin_mask_is_thresholded_rotated_noise():
    """Replaying the draws: mask == rotate(noise) > 0.5 with the reported res and angle."""
    mask, info = P.perlin_mask((64, 48), np.random.default_rng(3), threshold=0.5)
    rng = np.random.default_rng(3)
    rng.integers(0, 6, size=2)                                   # the lattice draw
    noise = P.perlin_noise((64, 48), info["res"], rng)
    rng.uniform(-90, 90)
    assert np.array_equal(mask, P.rotate_planes(noise, info["angle"]) > 0.5)
    low, _ = P.perlin_mask((64, 48), np.random.default_rng(3), threshold=-2.0, max_angle=0)
    assert low.all()


# ------------------------------------------------------------------------- augmentations

def _rgb(seed=0, shape=(1, 33, 29, 3)):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) ** 2 * 200 + 20).astype(np.uint8)


def test_augmentations_match_pil():
    x = _rgb()
    img = Image.fromarray(x[0])
    for c in (0, 5, 20):
        assert np.array_equal(P.autocontrast(x, c)[0], np.asarray(ImageOps.autocontrast(img, cutoff=c)))
    assert np.array_equal(P.equalize(x)[0], np.asarray(ImageOps.equalize(img)))
    for bits in (1, 4, 8):
        assert np.array_equal(P.posterize(x, bits)[0], np.asarray(ImageOps.posterize(img, bits)))
    assert np.array_equal(P.solarize(x, 77.5)[0], np.asarray(ImageOps.solarize(img, 77.5)))
    assert np.array_equal(P.solarize(x, None), x)
    assert np.array_equal(P.invert(x)[0], np.asarray(ImageOps.invert(img)))
    for f in (0.0, 0.5, 1.0, 2.0):                    # PIL rounds its blend differently: ±1
        ours = P.sharpness(x, f)[0].astype(int)
        assert np.abs(ours - np.asarray(ImageEnhance.Sharpness(img).enhance(f))).max() <= 1
    assert np.array_equal(P.sharpness(x, 1.0), x)


def test_augmentations_closed_form():
    x = _rgb(1)
    levels = np.arange(256) / 255.0
    want = np.round(255 * levels ** 2.0).astype(np.uint8)[x]
    assert np.array_equal(P.gamma_contrast(x, (2.0, 2.0, 2.0)), want)
    assert np.array_equal(P.gamma_contrast(x, (1.0, 1.0, 1.0)), x)
    square = _rgb(2, (1, 31, 31, 3))
    assert np.array_equal(P.rotate(square, 0), square)
    assert np.array_equal(P.rotate(square, 90)[0], np.rot90(square[0], 1))
    assert np.abs(P.brightness(x, 1.0, 0.0).astype(int) - x).max() <= 2
    assert P.brightness(x, 1.0, 30.0).mean() > x.mean() + 20
    assert np.abs(P.hue_saturation(x, 0, 0).astype(int) - x).max() <= 3
    grey = np.repeat(x[..., :1], 3, axis=-1)
    assert np.abs(P.hue_saturation(grey, 40, 0).astype(int) - grey).max() <= 1   # no hue on grey


def test_augment_texture_draws_three_distinct_and_is_seeded():
    x = _rgb(3, (2, 16, 16, 3))
    a, names_a = P.augment_texture(x, np.random.default_rng(5))
    b, names_b = P.augment_texture(x, np.random.default_rng(5))
    assert len(set(names_a)) == 3 and set(names_a) <= set(P.AUGMENTATIONS)
    assert names_a == names_b and np.array_equal(a, b) and a.shape == x.shape and a.dtype == np.uint8
    assert len(P.AUGMENTATIONS) == 10
    with pytest.raises(ValueError, match="unknown augmentation"):
        P.augment_texture(x, np.random.default_rng(0), names=("gamma", "blur"))
    with pytest.raises(ValueError, match="uint8"):
        P.augment_texture(x.astype(np.float32), np.random.default_rng(0))


# ------------------------------------------------------------------------------ synthesis

def test_synthesize_blend_mask_and_beta():
    rng = np.random.default_rng(0)
    image = torch.rand(3, 48, 48)
    betas = []
    for _ in range(40):
        aug, mask, has, info = P.synthesize(image, rng, anomaly_probability=1.0, return_info=True)
        assert aug.shape == image.shape and mask.shape == (1, 48, 48)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        inside = mask.bool().expand_as(image)
        assert torch.equal(aug[~inside], image[~inside])          # exactly unchanged outside
        beta = info["beta"]
        want = beta * image + (1 - beta) * info["texture"]          # official blend
        torch.testing.assert_close(aug[inside], want[inside], rtol=0, atol=1e-6)
        assert float(has) == float(mask.any())
        assert info["source_index"] is None and len(info["augmentations"]) == 3
        betas.append(beta)
    assert 0.0 <= min(betas) < 0.2 and 0.6 < max(betas) < 0.8


def test_synthesize_leaves_half_normal():
    rng = np.random.default_rng(1)
    image = torch.rand(1, 32, 32)
    drawn = 0
    for _ in range(300):
        aug, mask, has, info = P.synthesize(image, rng, return_info=True)
        if not info["anomaly"]:
            assert torch.equal(aug, image) and mask.sum() == 0 and has == 0
        drawn += info["anomaly"]
    assert 0.42 < drawn / 300 < 0.58      # p = 0.5: ±2.8 standard deviations


def test_synthesize_batch_shapes_and_determinism():
    images = torch.rand(5, 3, 32, 40)
    a = P.synthesize_batch(images, np.random.default_rng(4))
    b = P.synthesize_batch(images, np.random.default_rng(4))
    c = P.synthesize_batch(images, np.random.default_rng(5))
    assert a[0].shape == images.shape and a[1].shape == (5, 1, 32, 40) and a[2].shape == (5,)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])
    changed = (a[0] != images).any(1, keepdim=True)
    assert not (changed & (a[1] == 0)).any()           # every changed pixel is in the mask


def test_synthesize_with_dtd_source(twins):
    from vadlib.data.dtd import DTDTextures
    source = DTDTextures(twins["dtd"], resize=48)
    rng = np.random.default_rng(2)
    for channels in (3, 1):
        image = torch.rand(channels, 64, 64)
        aug, mask, has, info = P.synthesize(image, rng, source, anomaly_probability=1.0,
                                            return_info=True)
        assert 0 <= info["source_index"] < len(source)
        assert info["texture"].shape == image.shape
        inside = mask.bool().expand_as(image)
        want = info["beta"] * image + (1 - info["beta"]) * info["texture"]
        torch.testing.assert_close(aug[inside], want[inside], rtol=0, atol=1e-6)
        assert torch.equal(aug[~inside], image[~inside])


def test_synthesize_volume_and_volume_source():
    class Volumes(Dataset):
        def __init__(self):
            self.items = [torch.full((1, 4, 16, 16), v) for v in (0.1, 0.9)]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"volume": self.items[i]}

    rng = np.random.default_rng(3)
    volume = torch.rand(1, 8, 32, 32)
    aug, mask, has, info = P.synthesize(volume, rng, Volumes(), anomaly_probability=1.0,
                                        return_info=True)
    assert mask.shape == (1, 8, 32, 32) and info["source_index"] in (0, 1)
    assert info["texture"].shape == volume.shape
    inside = mask.bool()
    assert torch.equal(aug[~inside], volume[~inside])


def test_random_rotate_and_synthesis_errors():
    images = torch.rand(6, 3, 32, 32)
    out, angles = P.random_rotate(images, np.random.default_rng(0), p=0.0)
    assert torch.equal(out, images) and angles == [0.0] * 6
    out, angles = P.random_rotate(images, np.random.default_rng(0), p=1.0)
    assert all(a != 0 for a in angles) and out.shape == images.shape
    with pytest.raises(ValueError, match="1 \\(grey\\) or 3"):
        P.synthesize(torch.rand(2, 32, 32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="beta"):
        P.blend(images[0], images[1], torch.ones(1, 32, 32), 1.5)


# --------------------------------------------------------------------------- losses

def test_focal_loss_and_ssim_closed_forms():
    probs = torch.stack([torch.tensor([[0.9], [0.3]]), torch.tensor([[0.1], [0.7]])])[None]
    target = torch.tensor([[0.0], [1.0]]).view(1, 1, 2, 1)
    pts = torch.tensor([0.9, 0.7]) * (1 - 1e-5) + torch.tensor([0.1, 0.3]) * 1e-5 + 1e-5
    want = (-(1 - pts) ** 2 * pts.log()).mean()
    torch.testing.assert_close(focal_loss(probs, target), want)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(ssim(x, x), torch.tensor(1.0))
    assert ssim(x, torch.rand_like(x)) < 0.2
    vol = torch.rand(1, 1, 3, 32, 32)
    torch.testing.assert_close(ssim(vol, vol * 0.5), ssim(vol[0].transpose(0, 1), vol[0].transpose(0, 1) * 0.5))


# ------------------------------------------------------------------------------ scoring

def _brute_pool(m, k):
    """Zero-padded k×k box mean at every pixel (padding counted), loops."""
    h, w = m.shape
    p = np.pad(m, k // 2)
    return np.array([[p[i:i + k, j:j + k].sum() / k ** 2 for j in range(w)] for i in range(h)])


def test_image_score_is_max_of_21x21_average_pooled_map():
    maps = torch.zeros(4, 64, 64)
    maps[1, 30, 30] = 1.0                       # one hot pixel
    maps[2, 20:41, 10:31] = 1.0                 # a full 21×21 window
    maps[3, :11, :11] = 1.0                     # corner: the zero padding counts
    scores = image_scores_from_maps(maps)
    torch.testing.assert_close(scores, torch.tensor([0.0, 1 / 441, 1.0, 121 / 441]))
    rand = torch.rand(2, 30, 26)
    pooled = pooled_maps(rand)
    for i in range(2):
        np.testing.assert_allclose(pooled[i].numpy(), _brute_pool(rand[i].double().numpy(), 21),
                                   atol=1e-6)
    torch.testing.assert_close(image_scores_from_maps(rand), pooled.flatten(1).amax(1))


def test_pooled_maps_3d_matches_brute_force():
    maps = torch.rand(1, 4, 12, 10)
    pooled = pooled_maps(maps, (3, 5, 5))[0].double().numpy()
    plane = np.stack([_brute_pool(maps[0, d].double().numpy(), 5) for d in range(4)])
    want = np.stack([plane[max(0, d - 1):d + 2].mean(0) for d in range(4)])   # valid slices only
    np.testing.assert_allclose(pooled, want, atol=1e-6)
    slices = DRAEM3d.slice_scores_from_maps(maps, (3, 5, 5))
    torch.testing.assert_close(slices[0], torch.from_numpy(want.max(axis=(1, 2))).float())
    torch.testing.assert_close(image_scores_from_maps(maps, (3, 5, 5)), slices.amax(1))


class _BrightDetector(nn.Module):
    """Stub discriminative net: anomaly logit 20 where channel 3 (the input image) is > 0.9."""

    def forward(self, x):
        bright = (x[:, 3:4] > 0.9).float()
        return torch.cat((torch.zeros_like(bright), 20 * bright), 1)


def test_score_uses_softmax_channel_and_pooled_max():
    host = DRAEM("tiny")
    host.discriminative = _BrightDetector()
    images = torch.full((2, 3, 64, 64), 0.5)
    images[1, :, 10:31, 20:41] = 1.0            # a 21×21 "anomaly"
    host.train()
    scores, maps = host.score(images)
    assert host.training                          # mode restored
    assert maps.shape == (2, 64, 64) and scores.shape == (2,)
    torch.testing.assert_close(maps[0], torch.full((64, 64), 0.5))
    torch.testing.assert_close(scores, torch.tensor([0.5, torch.sigmoid(torch.tensor(20.0)).item()]))


# ---------------------------------------------------------------------------- the host

def test_registry_widths_and_schedule():
    assert host_class("draem") is DRAEM and host_class("draem3d") is DRAEM3d
    host = DRAEM("tiny")
    assert host.reconstructive.encoder.block1[0].out_channels == 16
    assert host.discriminative.encoder.block1[0].in_channels == 6
    assert host.discriminative.encoder.block1[0].out_channels == 8
    assert host.discriminative.decoder.fin_out.out_channels == 2
    assert DRAEM.WIDTHS["paper"] == (128, 64)
    s = DRAEM.schedule("paper")
    assert (s.epochs, s.batch_size, s.lr, s.optimizer, s.milestones, s.gamma) == (
        700, 8, 1e-4, "adam", (0.8, 0.9), 0.2)
    assert "train_DRAEM.py" in s.source and "verify" in s.source
    assert DRAEM.block_weight == DRAEM3d.block_weight == 0.1


def _conv_call_order(module, x):
    order = []
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: order.append(n))
             for n, m in module.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    with torch.no_grad():
        module(x)
    for h in hooks:
        h.remove()
    return order


@pytest.mark.parametrize("cls,x", [(DRAEM, torch.rand(2, 3, 32, 32)),
                                   (DRAEM3d, torch.rand(2, 1, 4, 32, 32))])
def test_block_sites_are_penultimate_convs(cls, x):
    host = cls("tiny", in_channels=x.shape[1], sspcab_networks=("reconstructive", "discriminative"))
    assert host.block_sites == tuple(host.SITES.values())
    for net_name, inp in (("reconstructive", x), ("discriminative", torch.cat((x, x), 1))):
        net = getattr(host, net_name)
        order = _conv_call_order(net, inp)
        assert f"{net_name}.{order[-2]}" == host.SITES[net_name]      # second-to-last conv run
        conv = host.get_submodule(host.SITES[net_name])
        assert conv.in_channels == conv.out_channels and all(s == 1 for s in conv.stride)
    assert host.block_sites_for("sspcab") == tuple(host.SITES.values())
    assert host.block_sites_for("SSMCTB3d") == (host.SITES["discriminative"],)
    # default: one instance of either block, in the discriminative network (T L2286, L2812)
    default = cls("tiny", in_channels=x.shape[1])
    assert default.block_sites_for("sspcab") == default.block_sites_for("ssmctb") == (host.SITES["discriminative"],)
    assert default.block_sites == (host.SITES["discriminative"],)
    with pytest.raises(ValueError, match="unknown block kind"):
        host.block_sites_for("cbam")
    custom = cls("tiny", in_channels=x.shape[1], ssmctb_networks=("reconstructive",),
                 sspcab_networks="discriminative")
    assert custom.block_sites_for("ssmctb") == (custom.SITES["reconstructive"],)


def _insert(host, kind, sites):
    for site in sites:
        replace_layer(host, site, make_block(kind, host.get_submodule(site).in_channels))


@pytest.mark.parametrize("kind,sites", [(None, None), ("sspcab", "both"), ("ssmctb", "default"),
                                        ("ssmctb", "both")])
def test_trains_on_mvtec_twin_with_and_without_blocks(mvtec_batch, kind, sites):
    host = DRAEM("tiny", seed=0)
    before = [t.shape for t in host.score(mvtec_batch)]
    if kind:
        _insert(host, kind, tuple(host.SITES.values()) if sites == "both" else host.block_sites_for(kind))

    def fixed_loss():
        host.reset_rng(123)
        with torch.no_grad():
            loss, _ = host.training_loss(mvtec_batch)
            return float(loss + host.block_weight * block_loss(host))

    start = fixed_loss()
    optimizer = torch.optim.Adam(host.parameters(), lr=1e-3)
    host.reset_rng(0)
    for _ in range(2):
        loss, logs = host.training_loss(mvtec_batch)
        extra = block_loss(host)
        if kind:
            assert extra.item() > 0 and math.isfinite(extra.item())
        total = loss + host.block_weight * extra
        assert math.isfinite(total.item()) and set(logs) >= {"l2", "ssim", "focal", "loss"}
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert fixed_loss() < start
    assert [t.shape for t in host.score(mvtec_batch)] == before


def test_seeded_construction_and_synthesis(mvtec_batch):
    a, b, c = DRAEM("tiny", seed=3), DRAEM("tiny", seed=3), DRAEM("tiny", seed=4)
    wa, wb, wc = (m.discriminative.decoder.db4[3].weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert abs(wa.std().item() - 0.02) < 0.005           # official N(0, 0.02) init
    la, _ = a.training_loss(mvtec_batch)
    lb, _ = b.training_loss(mvtec_batch)
    assert la.item() == lb.item()


def test_bad_inputs_raise_value_error():
    host = DRAEM("tiny")
    with pytest.raises(ValueError, match="channels"):
        host.score(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="too small"):
        host.score(torch.rand(1, 3, 16, 64))
    with pytest.raises(ValueError, match="N×C×H×W"):
        host.score(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="floating"):
        host.score(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        host.training_loss(torch.rand(2, 3, 32, 32) * 2)
    with pytest.raises(ValueError, match="unknown size"):
        DRAEM("huge")
    with pytest.raises(ValueError, match="unknown size"):
        DRAEM.schedule("huge")
    with pytest.raises(ValueError, match="in_channels"):
        DRAEM("tiny", in_channels=4)
    with pytest.raises(ValueError, match="pretrained"):
        DRAEM("tiny", pretrained=True)
    with pytest.raises(ValueError, match="pool_size"):
        DRAEM("tiny", pool_size=20)
    with pytest.raises(ValueError, match="ssmctb_networks"):
        DRAEM("tiny", ssmctb_networks=("classifier",))
    with pytest.raises(ValueError, match="N×C×D×H×W"):
        DRAEM3d("tiny").score(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="depth"):
        DRAEM3d("tiny", depth=0)


# ---------------------------------------------------------------------------- 3D DRAEM

@pytest.mark.parametrize("kind", [None, "ssmctb3d", "sspcab3d"])
def test_draem3d_trains_and_scores_random_volumes(kind):
    host = DRAEM3d("tiny", seed=0)
    assert host.depth == 16 and host.pool_size == (5, 21, 21)
    volumes = torch.rand(2, 1, 8, 32, 32)
    before = [t.shape for t in host.score(volumes)]
    if kind:
        _insert(host, kind, host.block_sites_for(kind))
    optimizer = torch.optim.Adam(host.parameters(), lr=1e-3)
    for _ in range(2):
        loss, _ = host.training_loss(volumes)
        total = loss + host.block_weight * block_loss(host)
        assert math.isfinite(total.item())
        if kind:
            assert block_loss(host).item() > 0
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    scores, maps = host.score(volumes)
    assert [scores.shape, maps.shape] == before == [(2,), (2, 8, 32, 32)]
    slices = host.slice_scores(volumes)
    assert slices.shape == (2, 8)
    per_slice, same_maps = host.score_slices(volumes)
    assert torch.equal(per_slice, slices) and torch.equal(same_maps, maps)
    torch.testing.assert_close(slices.amax(1), scores)
    torch.testing.assert_close(slices, DRAEM3d.slice_scores_from_maps(maps))


def test_draem3d_on_brats_twin_and_block_dims(twins):
    from vadlib.data.brats import BraTSVolumes, volume_index
    chunks = volume_index(twins["brats"], depth=8)
    data = BraTSVolumes(twins["brats"], chunks, resize=32)
    normal = [i for i in range(len(data)) if chunks.label[i] == 0][:2] or [0, 1]
    volumes = torch.stack([data[i]["volume"] for i in normal])
    host = DRAEM3d("tiny", anomaly_source=data, seed=1)          # textures from other volumes
    loss, logs = host.training_loss(volumes)
    assert math.isfinite(loss.item())
    with pytest.raises(ValueError, match="3D conv|2D"):
        replace_layer(host, host.SITES["discriminative"], make_block("ssmctb", 8))
    assert DRAEM3d.schedule().lr == 1e-4 and "Paper D" in DRAEM3d.schedule().source
