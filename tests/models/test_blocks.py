"""Tests of vadlib.models.blocks (SSPCAB, Paper C; SSMCTB, Paper D) against independent oracles:
the receptive field by autograd, a literal four/eight-branch masked conv written here from the
papers' text, hand-written losses (SSIM: scikit-image), hand-written SE and Eqs. D.1-D.6."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vadlib.models import (
    SSMCTB,
    SSPCAB,
    MaskedConv2d,
    MaskedConv3d,
    SSMCTB3d,
    SSPCAB3d,
    block_loss,
    make_block,
    replace_layer,
)
from vadlib.models.blocks import BLOCK_FAMILIES, block_family, default_options, reconstruction_loss

KD = list(itertools.product((1, 2, 3), (0, 1, 2)))
IMPLS = ("auto", "dense", "shifted", "expand")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


def expected_offsets(kp, d, m=1):
    """Visible offsets along one axis, from the paper: k' taps at distance d beyond M's border."""
    before = range(-((m - 1) // 2) - d - kp, -((m - 1) // 2) - d)
    after = range(m // 2 + d + 1, m // 2 + d + 1 + kp)
    return set(before) | set(after)


def literal_masked_conv(x, corners, bias, kp, d):
    """Paper C Sec. 3.1 / Paper D Sec. 3.1, literally: zero-pad by k'+d, one k'-conv per corner
    sub-kernel on the shifted crop of the padded input, sum, one bias. Corners in
    itertools.product((0, 1), repeat=n) order (0 = before the centre, 1 = after)."""
    n = x.dim() - 2
    conv = F.conv2d if n == 2 else F.conv3d
    p, b = kp + d, kp + 2 * d + 1
    xp = F.pad(x, (p,) * (2 * n))
    out = 0
    for w, us in zip(corners, itertools.product((0, 1), repeat=n)):
        crop = xp[(..., *(slice(b, None) if u else slice(None, -b) for u in us))]
        out = out + conv(crop, w)
    return out + bias.view(-1, *(1,) * n)


# ---------------------------------------------------------------------------------------------
# masked convolution
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", (2, 3))
@pytest.mark.parametrize("kp,d", KD)
def test_receptive_field_is_exactly_the_corners(dims, kp, d):
    """d out[centre] / d in is non-zero exactly on the 4 k'^2 (8 k'^3) corner positions."""
    size = 2 * (kp + d) + 5
    c = (MaskedConv2d if dims == 2 else MaskedConv3d)(3, kp, d)
    assert c.receptive_field == 2 * kp + 2 * d + 1
    x = torch.randn(1, 3, *(size,) * dims, requires_grad=True)
    mid = size // 2
    c(x)[(0, slice(None), *(mid,) * dims)].sum().backward()
    nz = x.grad[0].abs().sum(0).nonzero().tolist()
    got = {tuple(i - mid for i in p) for p in nz}
    off = expected_offsets(kp, d)
    want = set(itertools.product(off, repeat=dims))
    assert got == want
    assert len(got) == 2 ** dims * kp ** dims
    assert (0,) * dims not in got
    # the mask the module reports is the same set
    m = c.mask()
    r = c.pad_lo
    assert {tuple(i - r for i in p) for p in m.nonzero().tolist()} == want


@pytest.mark.parametrize("m", (2, 3))
@pytest.mark.parametrize("kp,d", [(1, 0), (1, 1), (2, 1)])
def test_receptive_field_larger_masked_region(m, kp, d):
    """Tables C.5 / D.9: an m x m masked region M, corners at distance d from M's border."""
    c = MaskedConv2d(2, kp, d, mask_size=m)
    size = 2 * (kp + d + m) + 3
    x = torch.randn(1, 2, size, size, requires_grad=True)
    y = c(x)
    assert y.shape == x.shape
    mid = size // 2
    y[0, :, mid, mid].sum().backward()
    got = {(i - mid, j - mid) for i, j in x.grad[0].abs().sum(0).nonzero().tolist()}
    assert got == set(itertools.product(expected_offsets(kp, d, m), repeat=2))
    assert c.receptive_field == 2 * kp + 2 * d + m


@pytest.mark.parametrize("dims", (2, 3))
@pytest.mark.parametrize("kp,d", KD)
@pytest.mark.parametrize("impl", IMPLS)
def test_fast_formulations_equal_literal_branch_sum(dims, kp, d, impl):
    shape = (2, 4, 13, 11) if dims == 2 else (1, 3, 7, 9, 8)
    cls = MaskedConv2d if dims == 2 else MaskedConv3d
    c = cls(shape[1], kp, d, impl=impl)
    with torch.no_grad():
        c.bias.normal_()
    x = torch.randn(shape, requires_grad=True)
    # branch kernels taken from the compact weight by hand (not via the module's helpers)
    corners = [c.weight[(slice(None), slice(None), *(slice(u * kp, (u + 1) * kp) for u in us))]
               .detach().clone() for us in itertools.product((0, 1), repeat=dims)]
    ref = literal_masked_conv(x, corners, c.bias.detach(), kp, d)
    y = c(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, g)
    (gref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(gx, gref, atol=1e-5, rtol=1e-5)


def test_k1_fast_path_is_one_dilated_2x2_conv():
    for d in (0, 1, 2):
        c = MaskedConv2d(4, 1, d)
        assert c.resolved_impl() == "dilated" and c.step == 2 * d + 2 and c.pad_lo == d + 1
        x = torch.randn(2, 4, 10, 10)
        torch.testing.assert_close(c(x), F.conv2d(x, c.weight, c.bias, padding=d + 1,
                                                  dilation=2 * d + 2))


def test_parameter_count():
    for kp in (1, 2, 3):
        c = MaskedConv2d(8, kp, 1)
        assert sum(p.numel() for p in c.parameters()) == 4 * kp * kp * 64 + 8
        c3 = MaskedConv3d(8, kp, 1)
        assert sum(p.numel() for p in c3.parameters()) == 8 * kp ** 3 * 64 + 8
    # SSPCAB, c = 64, r = 8: masked conv + SE (official count 17,736 has four biases, 3c more)
    assert sum(p.numel() for p in SSPCAB(64).parameters()) == 17_736 - 3 * 64


def test_dilated_baseline_sees_the_centre():
    blk = SSMCTB(4, 1, 1, conv="dilated", token_dim=8, heads=2, blocks=1)
    x = torch.randn(1, 4, 11, 11, requires_grad=True)
    blk.conv(x)[0, :, 5, 5].sum().backward()
    got = {(i - 5, j - 5) for i, j in x.grad[0].abs().sum(0).nonzero().tolist()}
    assert got == set(itertools.product((-2, 0, 2), repeat=2))


# ---------------------------------------------------------------------------------------------
# shapes over the ablation axes
# ---------------------------------------------------------------------------------------------
SSPCAB_SETTINGS = (
    [dict(loss=lo) for lo in ("mse", "mae", "huber", "ssim")]
    + [dict(attention=a) for a in ("ca", "se", "sa", "ca+sa", "none")]
    + [dict(reduction=r) for r in (4, 8, 16)]
    + [dict(kernel_size=kp, dilation=d) for kp, d in KD]
    + [dict(mask_size=m) for m in (1, 2, 3)]
    + [dict(conv="dilated", dilation=d) for d in (0, 1, 2)]
    + [dict(detach_target=True)]
)
SSMCTB_SETTINGS = (
    [dict(loss=lo) for lo in ("mse", "mae", "huber", "ssim")]
    + [dict(huber_delta=h) for h in (0.5, 1.0, 2.0)]
    + [dict(attention=a) for a in ("ca", "sa", "ca+sa", "none")]
    + [dict(kernel_size=kp, dilation=d) for kp, d in KD]
    + [dict(dilation=d) for d in (3, 4)]
    + [dict(mask_size=m) for m in (1, 2, 3)]
    + [dict(pooled_size=p) for p in (1, 2, 3, 4)]
    + [dict(token_dim=t) for t in (16, 32, 64, 128)]
    + [dict(heads=h) for h in (3, 4, 5, 6)]
    + [dict(blocks=b) for b in (1, 2, 3)]
    + [dict(conv="dilated", dilation=d) for d in (1, 2, 3)]
)


@pytest.mark.parametrize("opts", SSPCAB_SETTINGS, ids=str)
@pytest.mark.parametrize("cls,shape", [(SSPCAB, (2, 16, 13, 12)), (SSPCAB3d, (1, 16, 5, 12, 11))])
def test_sspcab_shape(cls, shape, opts):
    blk = cls(shape[1], **opts)
    x = torch.randn(shape)
    y = blk(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert blk.loss.dim() == 0 and torch.isfinite(blk.loss)


@pytest.mark.parametrize("opts", SSMCTB_SETTINGS, ids=str)
@pytest.mark.parametrize("cls,shape", [(SSMCTB, (2, 8, 13, 12)), (SSMCTB3d, (1, 8, 5, 12, 11))])
def test_ssmctb_shape(cls, shape, opts):
    if cls is SSMCTB3d and "pooled_size" in opts:
        opts = dict(pooled_size=(min(opts["pooled_size"], 2),) + (opts["pooled_size"],) * 2)
    blk = cls(shape[1], **opts)
    x = torch.randn(shape)
    y = blk(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert blk.loss.dim() == 0 and torch.isfinite(blk.loss)


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", (SSPCAB, SSMCTB, SSPCAB3d, SSMCTB3d))
@pytest.mark.parametrize("loss", ("mse", "mae", "huber"))
def test_loss_matches_formula(cls, loss):
    kw = dict(token_dim=8, heads=2) if cls in (SSMCTB, SSMCTB3d) else {}
    blk = cls(8, loss=loss, **kw)
    shape = (2, 8, 9, 9) if cls.dims == 2 else (1, 8, 4, 7, 7)
    x = 2.0 * torch.randn(shape)           # errors on both sides of delta = 1
    y = blk(x)
    e = (y - x).detach().double()
    if loss == "mse":
        want = (e ** 2).mean()
    elif loss == "mae":
        want = e.abs().mean()
    else:
        want = torch.where(e.abs() < 1, 0.5 * e ** 2, e.abs() - 0.5).mean()
        assert (e.abs() < 1).any() and (e.abs() > 1).any()
    assert blk.loss.item() == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize("delta", (0.5, 1.0, 2.0))
def test_huber_delta(delta):
    blk = SSMCTB(8, loss="huber", huber_delta=delta, token_dim=8, heads=2)
    x = 3.0 * torch.randn(2, 8, 9, 9)
    y = blk(x)
    e = (y - x).detach().double()
    quad, lin = 0.5 * e ** 2, delta * (e.abs() - 0.5 * delta)
    want = torch.where(e.abs() <= delta, quad, lin).mean()
    assert blk.loss.item() == pytest.approx(want.item(), rel=1e-5)
    assert (e.abs() < delta).any() and (e.abs() > delta).any()
    # at |e| = delta both branches give 0.5 delta^2 (continuity), and the block uses this delta
    e_at = torch.full((4,), delta, dtype=torch.float64) * torch.tensor([1.0, -1.0, 1.0, -1.0])
    got = reconstruction_loss("huber", e_at, torch.zeros_like(e_at), delta)
    assert got.item() == pytest.approx(0.5 * delta ** 2)
    other = SSMCTB(8, loss="huber", huber_delta=delta * 2, token_dim=8, heads=2)
    other.load_state_dict(blk.state_dict())
    other(x)
    assert other.loss.item() != pytest.approx(blk.loss.item())


def test_ssim_loss_matches_scikit_image():
    from skimage.metrics import structural_similarity

    blk = SSPCAB(8, loss="ssim")
    x = torch.rand(2, 8, 20, 18)
    y = blk(x)
    a, b = y.detach().double().numpy(), x.double().numpy()
    ssim = np.mean([structural_similarity(a[i], b[i], channel_axis=0, gaussian_weights=True,
                                          sigma=1.5, use_sample_covariance=False, data_range=1.0)
                    for i in range(2)])
    assert blk.loss.item() == pytest.approx(1 - ssim, abs=1e-4)


def test_detach_target():
    x = torch.randn(2, 8, 9, 9, requires_grad=True)
    blk = SSPCAB(8, detach_target=True)
    blk(x)
    (g,) = torch.autograd.grad(blk.loss, x)
    (g_ref,) = torch.autograd.grad(F.mse_loss(blk(x), x.detach()), x)
    torch.testing.assert_close(g, g_ref)
    blk.detach_target = False
    blk(x)
    (g2,) = torch.autograd.grad(blk.loss, x)
    (g2_ref,) = torch.autograd.grad(F.mse_loss(blk(x), x), x)
    torch.testing.assert_close(g2, g2_ref)
    assert not torch.allclose(g, g2)


# ---------------------------------------------------------------------------------------------
# attention gates
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", (SSPCAB, SSPCAB3d))
def test_se_gate_by_hand(cls):
    blk = cls(16, reduction=4)
    x = torch.randn(2, 16, *((5,) if cls.dims == 3 else ()), 9, 9)
    y = blk(x)
    z = F.relu(blk.conv(x))
    pooled = z.mean(dim=tuple(range(2, z.dim())))
    w1, b1 = blk.channel_gate.fc1.weight, blk.channel_gate.fc1.bias
    w2, b2 = blk.channel_gate.fc2.weight, blk.channel_gate.fc2.bias
    assert w1.shape == (4, 16) and w2.shape == (16, 4)
    s = torch.sigmoid(F.relu(pooled @ w1.T + b1) @ w2.T + b2)     # Eq. C.1
    assert ((s > 0) & (s < 1)).all()
    torch.testing.assert_close(y, z * s.view(*s.shape, *(1,) * cls.dims))


def eqs_d1_d6_by_hand(blk, z):
    """Sec. 3.2 of Paper D written out head by head from the block's weights (float64)."""
    gate = blk.channel_gate
    net = gate.net
    z = z.double()
    a = F.adaptive_avg_pool2d(z, blk.pooled_size).flatten(2) if z.dim() == 4 else \
        F.adaptive_avg_pool3d(z, blk.pooled_size).flatten(2)              # c x n
    r = a @ net.proj.weight.double().T + net.proj.bias.double() + net.pos.double()  # T*
    H, dq, dt = blk.heads, blk.head_dim, blk.token_dim
    for tb in net.blocks:
        def ln(t, m):
            return F.layer_norm(t, (dt,), m.weight.double(), m.bias.double(), m.eps)
        u = ln(r, tb.norm1)
        wqk, wv = tb.attn.qk.weight.double(), tb.attn.v.weight.double()
        y = 0
        for j in range(H):
            q = u @ wqk[j * dq:(j + 1) * dq].T                              # R W^Q_j
            k = u @ wqk[(H + j) * dq:(H + j + 1) * dq].T                    # R W^K_j
            v = u @ wv[j * dt:(j + 1) * dt].T                               # R W^V_j
            y = y + torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dq), -1) @ v  # D.3, D.4
        p = y + r                                                           # D.1 / D.5
        m = tb.mlp
        h = F.gelu(ln(p, tb.norm2) @ m[0].weight.double().T + m[0].bias.double())
        r = h @ m[2].weight.double().T + m[2].bias.double() + p             # D.2
    return torch.sigmoid(r.mean(-1))                                        # sigma(R_hat)


@pytest.mark.parametrize("cls", (SSMCTB, SSMCTB3d))
@pytest.mark.parametrize("pooled,heads,blocks", [(1, 4, 2), (2, 3, 1), (3, 5, 3)])
def test_channel_transformer_by_hand(cls, pooled, heads, blocks):
    blk = cls(8, pooled_size=pooled, token_dim=16, heads=heads, blocks=blocks)
    x = torch.randn(2, 8, *((4,) if cls.dims == 3 else ()), 9, 9)
    y = blk(x)
    z = F.relu(blk.conv(x))
    s = eqs_d1_d6_by_hand(blk, z)
    assert s.shape == (2, 8)
    assert ((s > 0) & (s < 1)).all()
    torch.testing.assert_close(y.double(), z.double() * s.view(2, 8, *(1,) * cls.dims),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cls", (SSPCAB, SSMCTB))
def test_combined_gates(cls):
    kw = dict(token_dim=8, heads=2) if cls is SSMCTB else {}
    blk = cls(8, attention="ca+sa", **kw)
    x = torch.randn(2, 8, 10, 10)
    y = blk(x)
    z = F.relu(blk.conv(x))
    cg, sg = blk.gates(z)
    assert cg.shape == (2, 8, 1, 1) and sg.shape == (2, 1, 10, 10)
    for g in (cg, sg):
        assert ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(y, z * cg * sg)
    none = cls(8, attention="none", **kw)
    torch.testing.assert_close(none(x), F.relu(none.conv(x)))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def test_replace_layer_resnet18_and_block_loss():
    from torchvision.models import resnet18

    net = resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(1, 3, 64, 64)
    assert block_loss(net).item() == 0.0 and block_loss(net).dim() == 0
    shape = net(x).shape
    old = replace_layer(net, "layer1.0.conv2", SSPCAB(64))
    assert isinstance(old, nn.Conv2d) and isinstance(net.layer1[0].conv2, SSPCAB)
    replace_layer(net, "layer2.1.conv1", make_block("ssmctb", 128))
    assert net(x).shape == shape
    b1, b2 = net.layer1[0].conv2, net.layer2[1].conv1
    assert block_loss(net).item() == pytest.approx(b1.loss.item() + b2.loss.item())
    assert block_loss(net).item() > 0


def test_replace_layer_sequential_index():
    host = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1),
                         nn.Conv2d(8, 3, 1))
    replace_layer(host, "1", SSPCAB(8))
    assert isinstance(host[1], SSPCAB)
    assert host(torch.randn(2, 3, 12, 12)).shape == (2, 3, 12, 12)


def test_replace_layer_errors():
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    with pytest.raises(ValueError, match=r"layer1\.0\.conv9.*layer1\.0\.conv1"):
        replace_layer(net, "layer1.0.conv9", SSPCAB(64))
    with pytest.raises(ValueError, match="nope"):
        replace_layer(net, "nope", SSPCAB(64))
    with pytest.raises(ValueError, match=r"layer1\.0\.conv2.*64.*32"):
        replace_layer(net, "layer1.0.conv2", SSPCAB(32))
    with pytest.raises(ValueError, match=r"64 -> 128"):
        replace_layer(net, "layer2.0.conv1", SSPCAB(64))
    with pytest.raises(ValueError, match="stride"):
        replace_layer(nn.Sequential(nn.Conv2d(8, 8, 3, stride=2)), "0", SSPCAB(8))
    with pytest.raises(ValueError, match="2D conv"):
        replace_layer(nn.Sequential(nn.Conv2d(8, 8, 3)), "0", SSPCAB3d(8))
    assert isinstance(net.layer1[0].conv2, nn.Conv2d)  # nothing was replaced


def test_make_block():
    assert type(make_block("sspcab", 8)) is SSPCAB
    assert type(make_block("SSMCTB3d", 8, token_dim=16)) is SSMCTB3d
    b = make_block("ssmctb", 8, dilation=3, heads=5, loss="mse")
    assert (b.conv.dilation, b.heads, b.loss_type) == (3, 5, "mse")
    assert type(make_block("sspcab3d", 8)) is SSPCAB3d
    with pytest.raises(ValueError, match="kind.*sspcab"):
        make_block("cbam", 8)


@pytest.mark.parametrize("build,arg", [
    (lambda: MaskedConv2d(8, 0), "kernel_size"),
    (lambda: MaskedConv3d(8, 1, -1), "dilation"),
    (lambda: SSPCAB(8, kernel_size=0), "kernel_size"),
    (lambda: SSPCAB(8, dilation=-1), "dilation"),
    (lambda: SSPCAB(8, reduction=16), "reduction"),
    (lambda: SSPCAB(8, loss="l2"), "loss.*'mse'"),
    (lambda: SSPCAB(8, attention="cbam"), "attention.*'ca'"),
    (lambda: SSMCTB(8, loss="bce"), "loss.*'huber'"),
    (lambda: SSMCTB(8, attention="x"), "attention.*'sa'"),
    (lambda: SSMCTB(8, conv="deformable"), "conv.*'masked'"),
    (lambda: SSMCTB(8, heads=0), "heads"),
    (lambda: SSMCTB(8, huber_delta=0), "huber_delta"),
    (lambda: SSMCTB(8, pooled_size=0), "pooled_size"),
    (lambda: MaskedConv2d(8, 2, impl="dilated"), "impl"),
])
def test_bad_arguments(build, arg):
    with pytest.raises(ValueError, match=arg):
        build()


def test_wrong_input_shape():
    with pytest.raises(ValueError, match="expects"):
        SSPCAB(8)(torch.randn(1, 4, 8, 8))
    with pytest.raises(ValueError, match="expects"):
        SSMCTB3d(8, token_dim=8)(torch.randn(1, 8, 8, 8))


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,shape", [("sspcab", (4, 3, 16, 16)), ("ssmctb", (4, 3, 16, 16)),
                                        ("ssmctb3d", (2, 3, 4, 12, 12))])
def test_tiny_training_loop(kind, shape):
    conv = nn.Conv2d if len(shape) == 4 else nn.Conv3d
    model = nn.Sequential(conv(3, 16, 3, padding=1), nn.ReLU(), make_block(kind, 16),
                          conv(16, 3, 3, padding=1))
    x = torch.rand(shape)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    totals = []
    for _ in range(25):
        opt.zero_grad()
        total = F.mse_loss(model(x), x) + 0.1 * block_loss(model)
        total.backward()
        opt.step()
        totals.append(total.item())
    assert all(math.isfinite(t) for t in totals)
    assert totals[-1] < 0.5 * totals[0]
    assert torch.isfinite(block_loss(model)) and block_loss(model).item() > 0


def test_block_families():
    assert BLOCK_FAMILIES == ("sspcab", "ssmctb")
    assert [block_family(k) for k in ("sspcab", "SSPCAB3d", "ssmctb3d", "SSMCTB")] == \
        ["sspcab", "sspcab", "ssmctb", "ssmctb"]
    for bad in ("cbam", "3d", None):
        with pytest.raises(ValueError, match="unknown block kind"):
            block_family(bad)


def test_default_options_are_what_make_block_uses():
    for kind in ("sspcab", "SSMCTB", "sspcab3d", "ssmctb3d"):
        defaults = default_options(kind)
        block = make_block(kind, 8)
        assert "channels" not in defaults and defaults["kernel_size"] == defaults["dilation"] == 1
        assert (defaults["loss"], defaults["attention"]) == (block.loss_type, block.attention)
    assert default_options("sspcab")["reduction"] == make_block("sspcab", 8).reduction == 8
    assert default_options("ssmctb")["heads"] == make_block("ssmctb", 8).heads == 4
    with pytest.raises(ValueError, match="kind"):
        default_options("cbam")
