"""Tests of Paper A's tracker network (vadlib.models.hrnet, vadlib.models.hrnet_tracker,
vadlib.models.fairmot_targets): shapes of every variant, the attention gate against its formula,
plain HRNet recovered exactly with the attention off, hand-computed targets and focal loss, the
uncertainty weighting, decoding a perfect prediction, learning on a synthetic batch, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vadlib.models.fairmot_targets import build_targets, draw_umich_gaussian, gaussian_radius
from vadlib.models.hrnet import TINY, W18, HRNet
from vadlib.models.hrnet_tracker import (
    AttentionGate,
    HRNetTracker,
    decode,
    focal_loss,
    gather_feat,
    heatmap_probs,
    reg_l1_loss,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 64, 128  # input; output map 16×32
VARIANTS = {
    "none": dict(attention="none"),
    "implicit": dict(attention="implicit"),
    "implicit_dense": dict(attention="implicit", dense=True),
    "implicit_dense_ungated": dict(attention="implicit", dense=True, gated=False),
    "implicit_highest": dict(attention="implicit", resolutions="highest"),
    "implicit_dense_highest": dict(attention="implicit", dense=True, resolutions="highest"),
    "explicit_s1": dict(attention="explicit", explicit_stage=1),
    "explicit_s2": dict(attention="explicit", explicit_stage=2),
    "explicit_s3": dict(attention="explicit", explicit_stage=3),
}
N_GATES = {"none": 0, "implicit": 6, "implicit_dense": 10, "implicit_dense_ungated": 0,
           "implicit_highest": 3, "implicit_dense_highest": 6,
           "explicit_s1": 1, "explicit_s2": 1, "explicit_s3": 1}


def _tiny(name: str, seed: int = 0, **kw) -> HRNetTracker:
    return HRNetTracker("tiny", n_identities=10, seed=seed, **{**VARIANTS[name], **kw})


def _synthetic_batch():
    """Two 64×128 images, grey background with bright rectangles at the boxes (tlbr pixels)."""
    boxes = [torch.tensor([[10.0, 8.0, 34.0, 56.0], [70.0, 12.0, 94.0, 60.0]]),
             torch.tensor([[40.0, 4.0, 60.0, 44.0], [96.0, 20.0, 120.0, 62.0], [8.0, 30.0, 26.0, 62.0]])]
    ids = [torch.tensor([0, 1]), torch.tensor([2, 3, -1])]
    g = torch.Generator().manual_seed(0)
    images = 0.3 + 0.05 * torch.rand(2, 3, H, W, generator=g)
    for b, bb in enumerate(boxes):
        for k, (x1, y1, x2, y2) in enumerate(bb.long().tolist()):
            images[b, :, y1:y2, x1:x2] = torch.tensor([0.9, 0.6 + 0.1 * k, 0.2])[:, None, None]
    return {"image": images.clamp(0, 1), "boxes": boxes, "ids": ids, "box_format": "tlbr"}


# ------------------------------------------------------------------------------------ shapes

@pytest.mark.parametrize("name", list(VARIANTS))
def test_output_shapes_of_every_variant(name):
    model = _tiny(name)
    out = model(torch.rand(2, 3, H, W))
    assert out["hm"].shape == (2, 1, 16, 32)
    assert out["wh"].shape == out["reg"].shape == (2, 2, 16, 32)
    assert out["id"].shape == (2, 128, 16, 32)
    assert ("aux_hm" in out) == name.startswith("explicit")
    if "aux_hm" in out:
        assert out["aux_hm"].shape == (2, 1, 16, 32)
    n_gates = 0 if model.gates is None else len(model.gates)
    assert n_gates == N_GATES[name]
    # the gates' coefficient maps are one channel on the grid of the branch they gate
    maps = model.attention_maps(torch.rand(1, 3, H, W))
    assert len(maps) == n_gates
    for key, alpha in maps.items():
        r = int(key[-1])
        assert alpha.shape == (1, 1, 16 >> r, 32 >> r)
        assert float(alpha.min()) > 0 and float(alpha.max()) < 1


def test_attention_gate_formula_and_shapes():
    torch.manual_seed(0)
    gate = AttentionGate(c_x=6, c_g=10)
    assert gate.wx.out_channels == 3  # C_int = C_x // 2
    x, g = torch.randn(2, 6, 8, 12), torch.randn(2, 10, 8, 12)
    out, alpha = gate(x, g)
    assert out.shape == x.shape and alpha.shape == (2, 1, 8, 12)
    # Oktay et al.: α = σ(ψᵀ ReLU(W_xᵀ x + W_gᵀ g + b_g) + b_ψ), output α·x
    wx, wg = gate.wx.weight[:, :, 0, 0], gate.wg.weight[:, :, 0, 0]
    psi = gate.psi.weight[0, :, 0, 0]
    q = torch.einsum("ic,nchw->nihw", wx, x) + torch.einsum("ic,nchw->nihw", wg, g) \
        + gate.wg.bias[None, :, None, None]
    a = torch.sigmoid(torch.einsum("i,nihw->nhw", psi, F.relu(q)) + gate.psi.bias)[:, None]
    torch.testing.assert_close(alpha, a)
    torch.testing.assert_close(out, a * x)
    # a gating signal on a coarser grid is resampled to x's grid; the output keeps x's shape
    out2, alpha2 = gate(x, torch.randn(2, 10, 4, 6))
    assert out2.shape == x.shape and alpha2.shape == (2, 1, 8, 12)


def test_gates_inside_the_model_keep_shapes():
    model = _tiny("implicit_dense")
    seen = []
    hooks = [gate.register_forward_hook(lambda _m, inp, out: seen.append((inp[0].shape, out[0].shape)))
             for gate in model.gates.values()]
    model(torch.rand(1, 3, H, W))
    for h in hooks:
        h.remove()
    assert len(seen) == 10 and all(a == b for a, b in seen)


# ------------------------------------------------------------------ attention off = plain HRNet

@pytest.mark.parametrize("name", ["implicit", "implicit_dense", "implicit_dense_ungated",
                                  "implicit_dense_highest", "explicit_s1", "explicit_s3"])
def test_attention_off_recovers_plain_hrnet_exactly(name):
    plain = _tiny("none", seed=1).eval()
    variant = _tiny(name, seed=2).eval()
    plain_keys, variant_keys = set(plain.state_dict()), set(variant.state_dict())
    assert plain_keys <= variant_keys
    # the explicit variant's own s_aux (Eq. A.5) is the one extra uncertainty
    assert all(k.startswith(("gates.", "aux_head.")) or k == "uncertainty.aux" for k in variant_keys - plain_keys)
    missing, unexpected = variant.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and set(missing) == variant_keys - plain_keys
    x = torch.rand(2, 3, H, W)
    # eval mode (running BN statistics) and train mode (batch statistics)
    for train in (False, True):
        plain.train(train)
        variant.train(train)
        with torch.no_grad():
            reference = plain(x)
            with variant.attention_disabled():
                off = variant(x)
            on = variant(x)
        assert set(off) == set(reference)
        for key in reference:
            assert torch.equal(off[key], reference[key]), (train, key)
    # with batch statistics the (initially tiny) features are O(1): the connections show
    assert not torch.equal(on["id"], reference["id"])
    assert variant.attention_enabled
    # and the other way: a variant's weights load into the plain model, extra keys only
    _, unexpected = plain.load_state_dict(variant.state_dict(), strict=False)
    assert set(unexpected) == variant_keys - plain_keys


def test_plain_parameter_names_follow_fairmot_hrnet():
    names = set(HRNetTracker("tiny", n_identities=10).state_dict())
    for key in ("backbone.conv1.weight", "backbone.layer1.0.downsample.0.weight",
                "backbone.transition1.1.0.0.weight", "backbone.stage2.0.branches.1.0.conv2.weight",
                "backbone.stage4.0.fuse_layers.3.0.2.0.weight", "heads.hm.2.bias",
                "heads.id.2.weight", "classifier.weight", "uncertainty.hm", "uncertainty.bbox",
                "uncertainty.id"):
        assert key in names, key
    assert not any(k.startswith(("gates", "aux_head")) for k in names)


# ------------------------------------------------------------------------------- paper size

def test_paper_size_parameter_counts(capsys):
    counts = {name: HRNetTracker("paper", **VARIANTS[name]).parameter_counts()
              for name in ("none", "implicit", "implicit_dense", "explicit_s3")}
    with capsys.disabled():
        print("\nPaper A tracker, paper size (HRNet-W18, head_conv 256), parameters:")
        for name, c in counts.items():
            print(f"  {name:15s} network {c['network']:>10,d}  (backbone {c['backbone']:,d}, heads "
                  f"{c['heads']:,d}, gates {c['gates']:,d}, aux {c['aux_head']:,d}); "
                  f"+ classifier {c['classifier']:,d} for 14455 ids")
    plain = counts["none"]
    # HRNetV2-W18 without a classification head: about 9.6 M parameters
    assert 9.4e6 < plain["backbone"] < 9.8e6
    # four heads on the 270-channel concatenation: conv3×3 270->256 (+bias), conv1×1 256->out
    assert plain["heads"] == 4 * (270 * 9 * 256 + 256) + 256 * (1 + 2 + 2 + 128) + (1 + 2 + 2 + 128)
    assert plain["classifier"] == 128 * 14455 + 14455
    assert plain["gates"] == plain["aux_head"] == 0
    # one gate per (link, resolution): widths 18/36/72, C_int = C/2, no BN
    gate = {c: c * (c // 2) + c * (c // 2) + c // 2 + c // 2 + 1 for c in (18, 36, 72)}
    assert counts["implicit"]["gates"] == 3 * gate[18] + 2 * gate[36] + gate[72]
    assert counts["implicit_dense"]["gates"] == 6 * gate[18] + 3 * gate[36] + gate[72]
    assert counts["explicit_s3"]["gates"] == gate[18]
    assert counts["explicit_s3"]["aux_head"] == 18 * 9 * 256 + 256 + 256 + 1


def test_hrnet_configs():
    assert W18.widths == (18, 36, 72, 144) and W18.modules == (1, 4, 3) and W18.blocks == (4, 4, 4)
    net = HRNet(W18)
    assert len(net.stage2) == 1 and len(net.stage3) == 4 and len(net.stage4) == 3
    assert len(net.layer1) == 4 and net.out_channels == 270
    assert all(len(branch) == 4 for branch in net.stage3[0].branches)
    tiny = HRNet(TINY)
    ys = tiny(torch.rand(1, 3, 64, 64))
    assert [tuple(y.shape[1:]) for y in ys] == [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]
    assert tiny.concat(ys).shape == (1, 120, 16, 16)


# ------------------------------------------------------------------------------------ targets

def test_gaussian_radius_against_a_hand_computed_value():
    # 10×10 box, min_overlap 0.7: the three CenterNet radii are
    # r1 = (20 + sqrt(400 - 4·30/1.7)) / 2, r2 = (40 + sqrt(1600 - 16·30)) / 2,
    # r3 = (-28 + sqrt(784 + 4·2.8·30)) / 2 = (-28 + sqrt(1120)) / 2 ≈ 2.733 (the smallest)
    r3 = (-28 + math.sqrt(1120)) / 2
    assert gaussian_radius((10, 10), 0.7) == pytest.approx(r3, abs=1e-12)
    assert r3 == pytest.approx(2.7332, abs=1e-4)
    assert gaussian_radius((10, 10)) < (20 + math.sqrt(400 - 120 / 1.7)) / 2
    assert gaussian_radius((8, 20)) == pytest.approx(
        min((28 + math.sqrt(28 ** 2 - 4 * 160 * 0.3 / 1.7)) / 2,
            (56 + math.sqrt(56 ** 2 - 16 * 0.3 * 160)) / 2,
            (-1.4 * 28 + math.sqrt((1.4 * 28) ** 2 + 4 * 2.8 * 0.3 * 160)) / 2))


def test_targets_on_hand_made_boxes():
    boxes = [torch.tensor([[10.0, 6.0, 50.0, 46.0],      # centre (30, 26) -> (7.5, 6.5)
                           [21.0, 33.0, 41.0, 57.0],     # centre (31, 45) -> (7.75, 11.25)
                           [5.0, 5.0, 5.0, 20.0]])]      # zero width: skipped
    t = build_targets(boxes, [torch.tensor([4, -1, 7])], (H, W), box_format="tlbr", max_objs=8)
    hm = t["hm"][0, 0]
    assert t["hm"].shape == (1, 1, 16, 32) and t["wh"].shape == (1, 8, 2)
    assert t["reg_mask"][0].tolist() == [True, True] + [False] * 6
    assert t["ind"][0, :2].tolist() == [6 * 32 + 7, 11 * 32 + 7]
    torch.testing.assert_close(t["reg"][0, :2], torch.tensor([[0.5, 0.5], [0.75, 0.25]]))
    torch.testing.assert_close(t["wh"][0, :2], torch.tensor([[10.0, 10.0], [5.0, 6.0]]))
    assert t["ids"][0].tolist() == [4, -1] + [-1] * 6
    # peaks exactly 1 at the centre cells, nowhere else
    assert hm[6, 7] == 1 and hm[11, 7] == 1 and int((hm == 1).sum()) == 2
    # first box: radius int(2.733) = 2, σ = 5/6 -> neighbour exp(-1/(2σ²)) = exp(-0.72)
    assert float(hm[6, 8]) == pytest.approx(math.exp(-0.72), rel=1e-6)
    assert float(hm[4, 5]) == pytest.approx(math.exp(-8 * 0.72), rel=1e-6)  # corner (-2, -2)
    assert hm[6, 10] == 0 and hm[3, 7] == 0  # outside the 5×5 window
    # overlapping Gaussians combine by max, not sum
    single = [np.zeros((16, 32), np.float32) for _ in range(2)]
    for m, (centre, box_hw) in zip(single, (((7, 6), (10, 10)), ((7, 11), (6, 5)))):
        draw_umich_gaussian(m, centre, int(gaussian_radius(box_hw)))
    np.testing.assert_array_equal(hm.numpy(), np.maximum(*single))
    # tlwh gives the same targets
    tlwh = [torch.cat([boxes[0][:, :2], boxes[0][:, 2:] - boxes[0][:, :2]], dim=1)]
    t2 = build_targets(tlwh, [torch.tensor([4, -1, 7])], (H, W), box_format="tlwh", max_objs=8)
    for key in t:
        assert torch.equal(t[key], t2[key]), key


def test_targets_clip_centres_and_cap_objects():
    boxes = [np.array([[-30.0, -10.0, 10.0, 30.0]] + [[40.0, 20.0, 60.0, 40.0]] * 3)]
    with pytest.warns(UserWarning, match="max_objs=2"):
        t = build_targets(boxes, None, (H, W), box_format="tlbr", max_objs=2)
    # centre (-10, 10)/4 = (-2.5, 2.5) is clipped to x = 0: cell (0, 2), offset (0, 0.5)
    assert t["ind"][0, 0] == 2 * 32 + 0
    torch.testing.assert_close(t["reg"][0, 0], torch.tensor([0.0, 0.5]))
    assert t["reg_mask"][0].all() and (t["ids"] == -1).all()


# ------------------------------------------------------------------------------------- losses

def test_focal_loss_against_its_formula():
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    pred = torch.tensor([[[[0.9, 0.3], [0.2, 0.1]]]])
    expected = -((0.1 ** 2) * math.log(0.9)
                 + (0.5 ** 4) * (0.3 ** 2) * math.log(0.7)
                 + (0.2 ** 2) * math.log(0.8)
                 + (0.1 ** 2) * math.log(0.9)) / 1
    assert float(focal_loss(pred, gt)) == pytest.approx(expected, rel=1e-6)
    # two positives: divided by 2; no positive: the negative sum alone
    gt2 = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    e2 = -((0.1 ** 2) * math.log(0.9) + (0.7 ** 2) * math.log(0.3)
           + (0.2 ** 2) * math.log(0.8) + (0.1 ** 2) * math.log(0.9)) / 2
    assert float(focal_loss(pred, gt2)) == pytest.approx(e2, rel=1e-6)
    gt0 = torch.zeros_like(gt)
    e0 = -sum(p ** 2 * math.log(1 - p) for p in (0.9, 0.3, 0.2, 0.1))
    assert float(focal_loss(pred, gt0)) == pytest.approx(e0, rel=1e-6)
    # probabilities are clamped to [1e-4, 1 - 1e-4] (CenterNet's _sigmoid)
    p = heatmap_probs(torch.tensor([-50.0, 0.0, 50.0]))
    torch.testing.assert_close(p, torch.tensor([1e-4, 0.5, 1 - 1e-4]))


def test_reg_l1_loss_and_gather():
    feat = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).reshape(2, 2, 3, 4)
    ind = torch.tensor([[5, 0], [11, 3]])
    g = gather_feat(feat, ind)
    assert g.shape == (2, 2, 2)
    assert g[0, 0].tolist() == [5.0, 17.0] and g[1, 0].tolist() == [35.0, 47.0]
    mask = torch.tensor([[True, False], [True, False]])
    target = torch.zeros(2, 2, 2)
    expected = (5 + 17 + 35 + 47) / (4 + 1e-4)
    assert float(reg_l1_loss(feat, mask, ind, target)) == pytest.approx(expected, rel=1e-6)


def test_uncertainty_weighting_and_stationary_point():
    batch = _synthetic_batch()
    model = _tiny("implicit", weighting="fairmot")
    loss, logs = model.training_loss(batch)
    det = logs["hm"] + 0.1 * logs["wh"] + logs["off"]
    assert logs["det"] == pytest.approx(det, rel=1e-5)
    assert logs["s_det"] == pytest.approx(-1.85) and logs["s_id"] == pytest.approx(-1.05)
    expected = 0.5 * (math.exp(1.85) * det + math.exp(1.05) * logs["id"] - 1.85 - 1.05)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # ∂L/∂s = ½ (1 - e^{-s} L_task) vanishes at s = ln L_task
    model.eval()  # frozen BN statistics: the same task losses on every pass
    _, logs = model.training_loss(batch)
    with torch.no_grad():
        model.uncertainty["det"].fill_(math.log(logs["det"]))
        model.uncertainty["id"].fill_(math.log(logs["id"]))
    model.zero_grad()
    loss, _ = model.training_loss(batch)
    loss.backward()
    assert abs(float(model.uncertainty["det"].grad)) < 1e-4
    assert abs(float(model.uncertainty["id"].grad)) < 1e-4
    # per-task weighting (Eq. A.4): one scalar per task, L_bbox = L_wh + L_off
    per_task = _tiny("implicit", weighting="per_task")
    loss, logs = per_task.training_loss(batch)
    assert set(per_task.uncertainty) == {"hm", "bbox", "id"}
    expected = 0.5 * (math.exp(1.85) * logs["hm"] + math.exp(1.85) * (logs["wh"] + logs["off"])
                      + math.exp(1.05) * logs["id"] - 1.85 - 1.85 - 1.05)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["implicit", "explicit_s2"])
def test_per_task_weighting_is_the_default_and_follows_eq_a4_a5(name):
    """Eq. A.4 (implicit) / A.5 (explicit): L = ½ Σ_t (e^{-s_t} L_t + s_t), every s_t a learnable
    parameter; checked on set values of s against the logged task losses, and by autograd
    against the closed form ∂L/∂s_t = ½ (1 - e^{-s_t} L_t)."""
    batch = _synthetic_batch()
    model = _tiny(name)
    assert model.weighting == "per_task"
    tasks = {"hm", "bbox", "id"} | ({"aux"} if name.startswith("explicit") else set())
    assert set(model.uncertainty) == tasks
    names = {n for n, _ in model.named_parameters()}
    assert {f"uncertainty.{t}" for t in tasks} <= names
    model.eval()  # frozen BN statistics: the same task losses on every pass
    chosen = {"hm": 0.3, "bbox": -0.7, "id": 1.2, "aux": 0.5}
    with torch.no_grad():
        for t in tasks:
            model.uncertainty[t].fill_(chosen[t])
    model.zero_grad()
    loss, logs = model.training_loss(batch)
    task_loss = {"hm": logs["hm"], "bbox": logs["wh"] + logs["off"], "id": logs["id"], "aux": logs["aux"]}
    expected = 0.5 * sum(math.exp(-chosen[t]) * task_loss[t] + chosen[t] for t in tasks)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    for t in tasks:
        grad = model.uncertainty[t].grad
        assert grad is not None and float(grad) != 0.0
        assert float(grad) == pytest.approx(0.5 * (1 - math.exp(-chosen[t]) * task_loss[t]), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("weighting", ["fairmot", "per_task"])
def test_aux_loss_zero_weighted_when_disabled(weighting):
    batch = _synthetic_batch()
    on = _tiny("explicit_s3", weighting=weighting)
    off = _tiny("explicit_s3", weighting=weighting, aux_weight=0.0)
    loss_on, logs_on = on.training_loss(batch)
    loss_off, logs_off = off.training_loss(batch)
    assert logs_off["aux"] == 0.0 and logs_on["aux"] > 0
    # same weights, same forward: the aux term is exactly the difference
    aux_term = 0.5 * (math.exp(1.85) * logs_on["aux"] + (-1.85 if weighting == "per_task" else 0.0))
    assert (loss_on - loss_off).item() == pytest.approx(aux_term, rel=1e-5)
    for key in ("hm", "wh", "off", "id"):
        assert logs_on[key] == logs_off[key]
    # without the aux weight, the aux head gets no gradient at all
    loss_off.backward()
    assert all(p.grad is None for p in off.aux_head.parameters())
    assert off.heads["hm"][2].weight.grad is not None
    loss_on.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in on.aux_head.parameters())
    # attention != explicit: no aux head, aux logged as 0
    implicit = _tiny("implicit", weighting=weighting)
    assert implicit.aux_head is None and implicit.training_loss(batch)[1]["aux"] == 0.0
    # explicit with the attention switched off: no aux term either
    with on.attention_disabled():
        assert on.training_loss(batch)[1]["aux"] == 0.0


def test_id_loss_edge_cases():
    model = _tiny("none")
    batch = _synthetic_batch()
    batch["ids"] = [torch.full((2,), -1), torch.full((3,), -1)]
    loss, logs = model.training_loss(batch)
    assert logs["id"] == 0.0 and torch.isfinite(loss)
    batch["ids"] = [torch.tensor([0, 10]), torch.tensor([1, 2, 3])]
    with pytest.raises(ValueError, match="n_identities"):
        model.training_loss(batch)
    assert model.emb_scale == pytest.approx(math.sqrt(2) * math.log(9))


# ------------------------------------------------------------------------------------ training

@pytest.mark.parametrize("name", ["implicit", "explicit_s3"])
def test_a_few_training_steps_lower_the_loss(name):
    torch.manual_seed(0)
    model = _tiny(name)
    batch = _synthetic_batch()
    batch = {"image": batch["image"],
             "targets": build_targets(batch["boxes"], batch["ids"], (H, W), box_format="tlbr")}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss, logs = model.training_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert math.isfinite(losses[-1])
    assert losses[-1] < 0.7 * losses[0], losses
    assert logs["hm"] < 2.0


def test_fits_the_project_training_loop():
    from vadlib.runs.train import train

    model = _tiny("explicit_s3")
    batch = _synthetic_batch()
    schedule = HRNetTracker.schedule("tiny", "explicit")
    history = train(model, model.training_loss, iter([batch] * 3), schedule=schedule,
                    total_steps=3, progress=False)
    assert len(history) == 3 and all(math.isfinite(h["loss"]) for h in history)
    assert {"hm", "aux", "id", "s_hm", "s_bbox", "s_id", "s_aux"} <= set(history[-1])
    # the uncertainty scalars and the classifier are trained by the loop
    assert all(history[-1][f"s_{k}"] != pytest.approx(-1.85, abs=1e-6) for k in ("hm", "bbox", "aux"))


# ------------------------------------------------------------------------------------ decoding

def test_decode_recovers_boxes_of_a_perfect_prediction():
    boxes = [torch.tensor([[10.0, 6.0, 50.0, 46.0], [70.0, 12.0, 95.0, 61.0]]),
             torch.tensor([[33.0, 9.0, 57.0, 43.0]])]
    t = build_targets(boxes, [torch.tensor([0, 1]), torch.tensor([2])], (H, W), box_format="tlbr")
    n, k = 2, t["ind"].shape[1]
    wh, reg = torch.zeros(n, 2, 16 * 32), torch.zeros(n, 2, 16 * 32)
    for b in range(n):
        m = t["reg_mask"][b]
        wh[b][:, t["ind"][b][m]] = t["wh"][b][m].T
        reg[b][:, t["ind"][b][m]] = t["reg"][b][m].T
    emb = torch.randn(n, 128, 16, 32)
    outputs = {"hm": torch.logit(t["hm"].clamp(1e-6, 1 - 1e-6)),
               "wh": wh.reshape(n, 2, 16, 32), "reg": reg.reshape(n, 2, 16, 32), "id": emb}
    dets = decode(outputs, k=500, conf_thres=0.5)
    for b in range(n):
        order = torch.argsort(dets[b]["boxes"][:, 0])
        torch.testing.assert_close(dets[b]["boxes"][order], boxes[b], atol=1e-4, rtol=0)
        assert torch.all(dets[b]["scores"] > 0.99)
        cx, cy = dets[b]["centers"][:, 0], dets[b]["centers"][:, 1]
        torch.testing.assert_close(dets[b]["embeddings"], F.normalize(emb[b][:, cy, cx].T, dim=1))
        assert torch.allclose(dets[b]["embeddings"].norm(dim=1), torch.ones(len(cx)))
    assert k == 500
    # k larger than the map is fine; a high threshold keeps nothing
    assert len(decode(outputs, k=10_000, conf_thres=0.5)[1]["boxes"]) == 1
    assert all(len(d["boxes"]) == 0 for d in decode(outputs, conf_thres=1.0))


def test_predict_runs_in_eval_mode_and_restores_it():
    model = _tiny("implicit").train()
    dets = model.predict(torch.rand(1, 3, H, W), conf_thres=0.0, k=7)
    assert model.training
    assert dets[0]["boxes"].shape == (7, 4) and dets[0]["embeddings"].shape == (7, 128)


# ------------------------------------------------------------------------------------ schedule

def test_schedule_follows_the_thesis_and_fairmot():
    imp, exp = HRNetTracker.schedule("paper", "implicit"), HRNetTracker.schedule("paper", "explicit")
    assert (imp.epochs, imp.batch_size, exp.epochs, exp.batch_size) == (60, 16, 100, 8)
    for s in (imp, exp, HRNetTracker.schedule("tiny", "none")):
        assert s.optimizer == "adam" and s.lr == 1e-4 and s.gamma == 0.1
        assert s.milestones == pytest.approx((2 / 3,))
        assert "L1515" in s.source and "FairMOT" in s.source
    assert HRNetTracker.INPUT_SIZE == (608, 1088)


# ------------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("shape", [(1, 3, 65, 128), (1, 3, 64, 100), (1, 3, 48, 128)])
def test_image_sides_must_be_multiples_of_32(shape):
    model = _tiny("none")
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(*shape))
    with pytest.raises(ValueError, match="multiples of 32"):
        model.training_loss({"image": torch.rand(*shape), "boxes": [torch.zeros(0, 4)],
                             "box_format": "tlbr"})


def test_bad_configuration_and_batches():
    with pytest.raises(ValueError, match="'none', 'implicit', 'explicit'"):
        HRNetTracker("tiny", attention="gated")
    with pytest.raises(ValueError, match="explicit_stage.*1, 2, 3"):
        HRNetTracker("tiny", attention="explicit", explicit_stage=4)
    with pytest.raises(ValueError, match="'tiny', 'paper'"):
        HRNetTracker("huge")
    with pytest.raises(ValueError, match="'fairmot', 'per_task'"):
        HRNetTracker("tiny", weighting="sum")
    with pytest.raises(ValueError, match="implicit"):
        HRNetTracker("tiny", attention="explicit", dense=True)
    with pytest.raises(ValueError, match="implicit"):
        HRNetTracker("tiny", attention="none", resolutions="highest")
    with pytest.raises(ValueError, match="'all', 'highest'"):
        HRNetTracker("tiny", attention="implicit", resolutions="low")
    with pytest.raises(ValueError, match="n_identities"):
        HRNetTracker("tiny", n_identities=2)
    with pytest.raises(ValueError, match="pretrained"):
        HRNetTracker("tiny", pretrained=True)
    model = _tiny("none")
    batch = _synthetic_batch()
    with pytest.raises(ValueError, match="box_format"):
        model.training_loss({k: v for k, v in batch.items() if k != "box_format"})
    with pytest.raises(ValueError, match="tlbr, tlwh"):
        model.training_loss({**batch, "box_format": "xywh"})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.training_loss({**batch, "image": batch["image"] * 255})
    with pytest.raises(ValueError, match="N×3×H×W"):
        model(torch.rand(3, H, W))
