"""NSA host (Schlüter et al., ECCV 2022) and its Poisson-blended patch synthesis."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from scipy import ndimage
from scipy.special import expit
from torch import nn

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.registry import host_class
from vadlib.models.nsa import NSA
from vadlib.synthesis.poisson import (NSASynthesizer, logistic_label, nsa_settings,
                                      seamless_clone, synthesize_batch)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def twin_images(tmp_path_factory):
    """Training images of the tiny MVTec AD twin (64 px): bottle (object) and grid (texture)."""
    from vadlib.data.mvtec import MVTecAD
    from vadlib.data.synthetic import generate
    root = generate("mvtec_ad", size="tiny", seed=0, data_root=tmp_path_factory.mktemp("data"))
    return {c: torch.stack([item["image"] for item in MVTecAD(root, c, "train", resize=64)])
            for c in ("bottle", "grid")}


# ------------------------------------------------------------------------------------------------
# Independent oracle: the discrete Poisson problem OpenCV's seamlessClone solves, by sparse LU
# ------------------------------------------------------------------------------------------------
def _gx(a):
    g = np.zeros_like(a)
    g[:, :-1] = a[:, 1:] - a[:, :-1]
    return g


def _gy(a):
    g = np.zeros_like(a)
    g[:-1] = a[1:] - a[:-1]
    return g


def poisson_oracle(src, dst, mask, mixed=False):
    """Solve Δf = div v on the interior of the mask's bounding box R, f = dst on R's outer ring;
    v = forward differences of src on the mask eroded 3x by a 3x3 square, of dst elsewhere;
    mixed: per pixel/channel, src's (gx, gy) where |gx_s - gy_s| > |gx_d - gy_d|."""
    src, dst = src.astype(float), dst.astype(float)
    sx, sy, dx, dy = _gx(src), _gy(src), _gx(dst), _gy(dst)
    if mixed:
        use = np.abs(sx - sy) > np.abs(dx - dy)
        sx, sy = np.where(use, sx, dx), np.where(use, sy, dy)
    e = ndimage.binary_erosion(mask, np.ones((3, 3)), iterations=3,
                               border_value=0).astype(float)[..., None]
    vx, vy = e * sx + (1 - e) * dx, e * sy + (1 - e) * dy
    ys, xs = np.nonzero(mask)
    r0, r1, c0, c1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    vx, vy, d = vx[r0:r1, c0:c1], vy[r0:r1, c0:c1], dst[r0:r1, c0:c1]
    div = np.zeros_like(d)
    div[:, 1:] += vx[:, 1:] - vx[:, :-1]
    div[1:] += vy[1:] - vy[:-1]
    h, w = r1 - r0 - 2, c1 - c0 - 2

    def second_diff(k):
        return sp.diags([np.ones(k - 1), -2 * np.ones(k), np.ones(k - 1)], [-1, 0, 1])
    lap = (sp.kron(sp.identity(h), second_diff(w)) + sp.kron(second_diff(h), sp.identity(w)))
    lap = lap.tocsc()
    out = dst.copy()
    for c in range(dst.shape[2]):
        b = div[1:-1, 1:-1, c].copy()
        b[0] -= d[0, 1:-1, c]
        b[-1] -= d[-1, 1:-1, c]
        b[:, 0] -= d[1:-1, 0, c]
        b[:, -1] -= d[1:-1, -1, c]
        out[r0 + 1:r1 - 1, c0 + 1:c1 - 1, c] = spla.spsolve(lap, b.ravel()).reshape(h, w)
    out = np.clip(out, 0, 255)
    return np.where(mask[..., None], out, dst)  # pixels outside the mask are never changed


def _smooth_random(rng, shape):
    return ndimage.uniform_filter(rng.random(shape) * 255, (3, 3, 1)).astype(np.uint8)


@pytest.mark.parametrize("mode", ["normal", "mixed"])
@pytest.mark.parametrize("shape", ["rectangle", "notched"])
def test_seamless_clone_matches_sparse_poisson_oracle(mode, shape):
    rng = np.random.default_rng(3)
    src, dst = _smooth_random(rng, (40, 40, 3)), _smooth_random(rng, (40, 40, 3))
    mask = np.zeros((40, 40), bool)
    mask[4:31, 5:34] = True
    if shape == "notched":
        mask[4:10, 5:12] = False
    mask_copy = mask.copy()
    out = seamless_clone(src, dst, mask, mode)
    ref = poisson_oracle(src, dst, mask, mixed=mode == "mixed")
    assert np.array_equal(mask, mask_copy)                      # the caller's mask is untouched
    assert np.abs(out - ref).max() <= 1.0 + 1e-6                # uint8 rounding only
    assert np.array_equal(out[~mask], dst[~mask])               # outside: bitwise the target
    assert (out != dst).any(axis=2)[mask].mean() > 0.5          # and it did blend


def test_constant_target_blend_has_source_laplacian():
    """With a constant target the blended patch's Laplacian equals the source's wherever the
    5-point stencil only sees source gradients, and the target's (0) near the patch border."""
    yy, xx = np.mgrid[0:48, 0:48]
    tex = 110 + 40 * np.sin(xx / 1.5) * np.cos(yy / 2.0)
    src = np.repeat(tex[..., None], 3, 2).round().astype(np.uint8)
    dst = np.full((48, 48, 3), 120, np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[6:40, 8:42] = True
    out = seamless_clone(src, dst, mask, "normal").astype(float)[..., 0]
    lap = ndimage.laplace(out)
    lap_src = ndimage.laplace(src[..., 0].astype(float))
    inner = ndimage.binary_erosion(mask, np.ones((3, 3)), iterations=4, border_value=0)
    err = np.abs(lap - lap_src)[inner]
    # only the rounding of the 5 stencil pixels to uint8 remains: |err| <= 4 * 0.5 + 4 * 0.5,
    # mean about 1 (std of a sum of 5 weighted uniform errors)
    assert err.mean() < 1.5 and err.max() <= 4.0 + 1e-9
    assert np.abs(lap_src[inner]).mean() > 5                    # a non-trivial source
    assert np.array_equal(out[~mask], dst[..., 0][~mask])


def test_seamless_clone_rejects_border_and_skips_tiny():
    img = np.zeros((16, 16, 3), np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[0:5, 3:8] = True
    with pytest.raises(ValueError, match="border"):
        seamless_clone(img, img, mask)
    tiny = np.zeros((16, 16), bool)
    tiny[5, 5] = True                                            # OpenCV crashes on this
    assert np.array_equal(seamless_clone(img + 9, img, tiny), img)


# ------------------------------------------------------------------------------------------------
# Labels
# ------------------------------------------------------------------------------------------------
def test_logistic_label_known_values_monotone_and_zero_outside():
    k, x0 = 1 / 6, 20
    orig = np.full((30, 64, 3), 100, np.uint8)
    blended = orig.copy()
    diffs = np.arange(64, dtype=np.uint8)                        # column c differs by c
    blended[:, :, :] = (100 + diffs)[None, :, None]
    mask = np.zeros((30, 64), bool)
    mask[5:25, 2:60] = True                                      # outside the mask: differs too
    raw = logistic_label(orig, blended, mask, logistic_params=(k, x0), smooth=False)
    assert raw.dtype == np.float32 and raw.shape == (30, 64)
    assert np.all(raw[~mask] == 0)
    assert np.all((raw >= 0) & (raw <= 1))
    row = raw[10, 2:60]
    d = diffs[2:60].astype(float)
    np.testing.assert_allclose(row, np.where(d > 1, expit(k * (d - x0)), 0), rtol=1e-6)
    assert np.all(np.diff(row) >= 0)                             # monotone in the difference
    # smoothed: a patch of uniform difference 30 gets sigmoid(k (30 - x0)) away from its edges
    blended2 = orig.copy()
    blended2[5:25, 10:50] = 130
    lab = logistic_label(orig, blended2, mask, logistic_params=(k, x0))
    np.testing.assert_allclose(lab[15, 20:40], expit(k * 10), rtol=1e-6)
    assert np.all(lab[~mask] == 0) and lab.max() <= 1
    binary = logistic_label(orig, blended2, mask, label_mode="binary")
    assert set(np.unique(binary)) <= {0.0, 1.0} and binary[15, 30] == 1


# ------------------------------------------------------------------------------------------------
# Synthesis
# ------------------------------------------------------------------------------------------------
def test_synthesis_changes_only_inside_the_mask(twin_images):
    for category, images in twin_images.items():
        synth = NSASynthesizer(**{**nsa_settings(category), "background": None})
        x = images[:5]
        out, label, mask = synthesize_batch(x, np.random.default_rng(0), synth)
        assert out.shape == x.shape and out.dtype == torch.float32
        assert label.shape == mask.shape == (5, 1, 64, 64) and mask.dtype == torch.bool
        changed = (out != x).any(dim=1, keepdim=True)
        assert changed.any()
        assert not (changed & ~mask).any()                      # nothing changes outside
        assert torch.equal(out[~mask.expand_as(out)], x[~mask.expand_as(x)])
        assert (label[~mask] == 0).all()                        # label 0 outside the mask
        assert ((label >= 0) & (label <= 1)).all() and label.max() > 0.5
        assert ((out >= 0) & (out <= 1)).all()


def test_grayscale_and_sources_from_other_images():
    rng = np.random.default_rng(1)
    a = torch.zeros(1, 1, 64, 64)
    b = torch.ones(1, 1, 64, 64) * 0.8
    b[..., ::2, :] = 0.2                                         # textured source
    out, label, mask = synthesize_batch(torch.cat([a, b]), rng, NSASynthesizer(num_patches=1))
    assert out.shape == (2, 1, 64, 64)
    assert (out[0][mask[0]] > 0).any()                           # image 0 received b's texture


def test_synthesis_is_deterministic_per_seed(twin_images):
    x = twin_images["grid"][:4]
    runs = [synthesize_batch(x, np.random.default_rng(s), NSASynthesizer()) for s in (5, 5, 6)]
    for t1, t2 in zip(runs[0], runs[1]):
        assert torch.equal(t1, t2)
    assert not torch.equal(runs[0][2], runs[2][2])
    h1, h2 = NSA("tiny", seed=7), NSA("tiny", seed=7)
    for t1, t2 in zip(h1.synthesize(x), h2.synthesize(x)):
        assert torch.equal(t1, t2)


def test_foreground_constraint():
    rng = np.random.default_rng(0)
    img = _smooth_random(rng, (64, 64, 3))
    src = _smooth_random(rng, (64, 64, 3))
    synth = NSASynthesizer(min_object_pct=0.5, attempts=20)
    none = np.zeros((64, 64), bool)
    out, label, mask = synth(img, src, np.random.default_rng(1), target_foreground=none,
                             source_foreground=none)
    assert not mask.any() and np.array_equal(out, img) and not label.any()
    full = np.ones((64, 64), bool)
    with_fg = synth(img, src, np.random.default_rng(1), target_foreground=full,
                    source_foreground=full)
    without = synth(img, src, np.random.default_rng(1))
    for a, b in zip(with_fg, without):
        assert np.array_equal(a, b)                               # all-foreground = no constraint
    # the foreground rule (NSA's "skip_background"): dark background at 20 with threshold 20
    dark = np.full((64, 64, 3), 5, np.uint8)
    dark[16:48, 16:48] = 150
    fg_synth = NSASynthesizer(background=(20, 20), min_object_pct=0.5)
    _, _, m = fg_synth(dark, dark, np.random.default_rng(2))
    assert m.any() and m[16:48, 16:48].sum() > 0.5 * m.sum()


def test_category_settings():
    assert nsa_settings("carpet")["mode"] == "mixed" and nsa_settings("bottle")["mode"] == "normal"
    assert nsa_settings("screw")["logistic_params"] == (1, 3)
    assert nsa_settings("bottle")["background"] == (200, 60)
    with pytest.raises(ValueError, match="unknown MVTec AD category"):
        nsa_settings("banana")
    with pytest.raises(ValueError, match="mode"):
        NSASynthesizer(mode="swap")


# ------------------------------------------------------------------------------------------------
# Host
# ------------------------------------------------------------------------------------------------
def test_registry_block_site_and_weight():
    assert host_class("nsa") is NSA
    host = NSA("tiny")
    assert NSA.block_weight == 0.001
    for site in NSA.block_sites:
        conv = host.get_submodule(site)
        assert isinstance(conv, nn.Conv2d) and conv.stride == (1, 1)
        assert conv.in_channels == conv.out_channels
        # it is the penultimate conv of the network: only the 1x1 logits conv comes after it
        convs = [n for n, m in host.named_modules() if isinstance(m, nn.Conv2d)]
        assert convs[-2:] == [site, "head.3"]
    paper = NSA("paper")
    assert paper.get_submodule("head.0").in_channels == 32
    assert NSA.schedule("paper").lr == 1e-3 and NSA.schedule("paper").batch_size == 64
    assert NSA.schedule("paper", category="screw").epochs == 560
    assert "train_mvtec.py" in NSA.schedule("tiny").source


@pytest.mark.parametrize("kind", [None, "sspcab", "ssmctb"])
def test_trains_on_mvtec_twin_with_and_without_block(twin_images, kind):
    torch.manual_seed(0)
    host = NSA("tiny", seed=0, category="bottle", background=None)
    x = twin_images["bottle"][:4]
    before = host(x).shape
    if kind:
        for site in host.block_sites:
            replace_layer(host, site, make_block(kind, host.get_submodule(site).in_channels))
    assert host(x).shape == before == (4, 1, 64, 64)
    opt = torch.optim.Adam(host.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        host.rng = np.random.default_rng(0)                     # same synthetic batch each step
        loss, logs = host.training_loss(x)
        total = loss + host.block_weight * block_loss(host)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
        assert np.isfinite(total.item()) and 0 < logs["anomalous_fraction"] < 1
    assert losses[-1] < losses[0]
    if kind:
        assert float(block_loss(host).detach()) > 0
    scores, maps = host.score(x)
    assert scores.shape == (4,) and maps.shape == (4, 64, 64)
    assert host.training                                         # score() restored the mode


def test_score_rule_known_answer():
    host = NSA("tiny")
    host.train()
    logits = torch.full((2, 1, 64, 64), -4.0)
    logits[1, :, 10:26, 10:26] = 3.0                             # image 1 has an anomaly
    host.forward = lambda images: logits                         # the network's output, fixed
    scores, maps = host.score(torch.rand(2, 3, 64, 64))
    torch.testing.assert_close(maps, torch.sigmoid(logits[:, 0]))
    expected = torch.sigmoid(logits[:, 0]).flatten(1).mean(1)
    torch.testing.assert_close(scores, expected)
    assert scores[1] > scores[0] and host.training
    host_max = NSA("tiny", image_score="max")
    host_max.forward = lambda images: logits
    torch.testing.assert_close(host_max.score(torch.rand(2, 3, 64, 64))[0],
                               torch.sigmoid(torch.tensor([-4.0, 3.0])))


def test_grayscale_host_and_odd_sizes():
    host = NSA("tiny", in_channels=1)
    x = torch.rand(2, 1, 48, 40)
    loss, _ = host.training_loss(x)
    assert torch.isfinite(loss)
    scores, maps = host.score(x)
    assert maps.shape == (2, 48, 40)


def test_bad_input_raises():
    host = NSA("tiny")
    with pytest.raises(ValueError, match="size"):
        NSA("huge")
    with pytest.raises(ValueError, match="in_channels"):
        NSA("tiny", in_channels=2)
    with pytest.raises(ValueError, match="image_score"):
        NSA("tiny", image_score="median")
    with pytest.raises(ValueError, match="unknown MVTec AD category"):
        NSA("tiny", category="banana")
    with pytest.raises(ValueError, match="channels"):
        host.score(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="too small"):
        host.training_loss(torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="N×C×H×W"):
        host.score(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        host.training_loss(torch.rand(2, 3, 64, 64) * 2)
    with pytest.raises(ValueError, match="size"):
        NSA.schedule("huge")
