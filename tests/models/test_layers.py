"""The shared layers reproduce, bit for bit, the code they replaced.

``fixtures/models/layers_reference.npz`` holds inputs and outputs saved from the functions as
they were before :mod:`vadlib.models.layers` existed (commit 0b20a27): DRAEM's ``ssim`` ("same"
padding), the blocks' ``_ssim_loss`` ("valid" positions), FFP's ``psnr`` of images, MNAD's
``psnr`` of the per-frame MSE, ``video_hosts.minmax``, and the conv-BN-ReLU units of DRAEM (2D,
3D), MNAD and NSA (output of one training-mode forward under ``torch.manual_seed(0)``, and the
state after it). Cached runs were
computed with those; equality here is what lets the host code units keep their versions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vadlib.models.layers import SSIM_PADDINGS, conv_bn_relu, double_conv_bn_relu, minmax, psnr, ssim

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REFERENCE = Path(__file__).parents[1] / "fixtures" / "models" / "layers_reference.npz"


@pytest.fixture(scope="module")
def ref():
    with np.load(REFERENCE) as stored:
        return {k: stored[k] for k in stored.files}


def assert_same(actual, expected):
    """Equal to the saved outputs up to float32 rounding: convolution kernels pick their summation
    order by CPU (AVX2, AVX-512), so bitwise equality holds only on the machine that saved them."""
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-7)


def tensor(ref, key):
    return torch.from_numpy(ref[key])


def value_and_grads(fn, x, y):
    x, y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    out = fn(x, y)
    out.backward()
    return out.detach(), x.grad, y.grad


SAME = {"a": {}, "b": {}, "c": {}, "d": {"window": 7, "sigma": 1.0, "data_range": 2.0}}


@pytest.mark.parametrize("case", SAME)
def test_ssim_same_equals_draems_old_ssim_with_gradients(ref, case):
    x, y = tensor(ref, f"ssim_same/{case}/x"), tensor(ref, f"ssim_same/{case}/y")
    out, gx, gy = value_and_grads(lambda a, b: ssim(a, b, **SAME[case]), x, y)
    assert_same(out, tensor(ref, f"ssim_same/{case}/out"))
    assert_same(gx, tensor(ref, f"ssim_same/{case}/grad_x"))
    assert_same(gy, tensor(ref, f"ssim_same/{case}/grad_y"))


@pytest.mark.parametrize("case", "efghi")
def test_ssim_valid_equals_the_blocks_old_ssim_loss_with_gradients(ref, case):
    x, y = tensor(ref, f"ssim_valid/{case}/x"), tensor(ref, f"ssim_valid/{case}/y")
    out, gx, gy = value_and_grads(lambda a, b: 1.0 - ssim(a, b, padding="valid"), x, y)
    assert_same(out, tensor(ref, f"ssim_valid/{case}/loss"))
    assert_same(gx, tensor(ref, f"ssim_valid/{case}/grad_x"))
    assert_same(gy, tensor(ref, f"ssim_valid/{case}/grad_y"))


def test_ssim_forms_agree_where_they_should_and_refuse_unknown_padding():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 48, generator=g)
    for padding in SSIM_PADDINGS:
        torch.testing.assert_close(ssim(x, x, padding=padding), torch.tensor(1.0))
        assert ssim(x, torch.rand(x.shape, generator=g), padding=padding) < 0.2
        vol = torch.rand(1, 2, 3, 16, 16, generator=g)  # N×C×D×H×W: the mean over slices
        per_slice = torch.stack([ssim(vol[:, :, d], vol[:, :, d] * 0.5, padding=padding) for d in range(3)])
        torch.testing.assert_close(ssim(vol, vol * 0.5, padding=padding), per_slice.mean())
    # zero padding counts border positions the valid form leaves out
    assert ssim(x, x * 0.5) != ssim(x, x * 0.5, padding="valid")
    with pytest.raises(ValueError, match="padding"):
        ssim(x, x, padding="reflect")


def test_psnr_equals_ffps_and_mnads_old_psnr(ref):
    p, t = tensor(ref, "psnr/p"), tensor(ref, "psnr/t")
    assert_same(psnr(p, t), tensor(ref, "psnr/images"))               # FFP
    assert_same(psnr(p, t, eps=1e-3), tensor(ref, "psnr/images_eps"))
    assert_same(psnr(p, t), tensor(ref, "psnr/mnad_images"))          # MNAD: PSNR of the MSE
    assert float(psnr(p, t)[1]) == pytest.approx(100.0)                       # identical images: 1e-10 floor


@pytest.mark.parametrize("case", "abcd")
def test_minmax_equals_the_old_minmax(ref, case):
    got = minmax(ref[f"minmax/{case}/in"])
    want = ref[f"minmax/{case}/out"]
    assert got.dtype == want.dtype == np.float64 and np.array_equal(got, want)


CBR = {"draem2": (lambda: conv_bn_relu(3, 5, dims=2, inplace=True), True),
       "draem3": (lambda: conv_bn_relu(2, 4, dims=3, inplace=True), True),
       "mnad": (lambda: conv_bn_relu(3, 5), False),
       "nsa": (lambda: conv_bn_relu(3, 5, bias=False), False)}


@pytest.mark.parametrize("case", CBR)
def test_conv_bn_relu_equals_each_hosts_old_unit(ref, case):
    make, inplace = CBR[case]
    torch.manual_seed(0)
    seq = nn.Sequential(*make())
    assert repr(seq) == str(ref[f"cbr/{case}/repr"])
    assert seq[2].inplace is inplace
    assert_same(seq(tensor(ref, f"cbr/{case}/x")), tensor(ref, f"cbr/{case}/out"))
    for name, value in seq.state_dict().items():  # stored after that forward: BN statistics updated
        assert torch.equal(value, tensor(ref, f"cbr/{case}/state/{name}")), name


def test_double_conv_bn_relu_layout():
    torch.manual_seed(0)
    double = double_conv_bn_relu(3, 8, mid=5, dims=3)
    torch.manual_seed(0)
    by_hand = nn.Sequential(*conv_bn_relu(3, 5, dims=3), *conv_bn_relu(5, 8, dims=3))
    assert repr(double) == repr(by_hand)
    for (name, a), (_, b) in zip(double.state_dict().items(), by_hand.state_dict().items()):
        assert torch.equal(a, b), name
    assert double[3].in_channels == 5 and double[3].out_channels == 8 and double[3].stride == (1, 1, 1)
    with pytest.raises(ValueError, match="dims"):
        conv_bn_relu(3, 3, dims=1)
