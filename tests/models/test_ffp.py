"""Tests of the future-frame-prediction host (vadlib.models.ffp): training through the project's
loop on the synthetic Avenue twin, the discriminator kept out of the generator's optimizer, the
frozen flow network, hand-computed PSNR and gradient loss, a hand-made video whose odd frame must
score highest, the RAFT-weights error, and SSPCAB/SSMCTB at every placement."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.ffp import (
    FutureFramePrediction as FFP,
    gradient_loss,
    raft_weights_path,
)
from vadlib.models.layers import psnr
from vadlib.models.registry import host_class
from vadlib.runs.train import endless, make_optimizer, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def avenue_batch(tmp_path_factory):
    """Four 5-frame clips (64×64 RGB) of the synthetic Avenue twin's training videos."""
    from vadlib.data import avenue, synthetic
    root = synthetic.generate("avenue", size="tiny", seed=0, data_root=tmp_path_factory.mktemp("ffp"))
    ds = avenue.clips(root, "train", length=5, resize=64)
    return torch.stack([ds[i]["clip"] for i in (0, 7, 14, 21)])


def _video(n: int = 24, size: int = 64, odd: int = 15) -> torch.Tensor:
    """T×3×H×W: a Gaussian blob gliding over a drifting sine background; frame ``odd`` is noise."""
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    frames = []
    for t in range(n):
        blob = torch.exp(-((xx - 12 - 1.5 * t) ** 2 + (yy - 20 - t) ** 2) / 50.0)
        img = (0.3 + 0.1 * torch.sin((xx + 2 * t) / 6.0) + 0.6 * blob).clamp(0, 1)
        frames.append(torch.stack([img, 0.8 * img, 1 - img]))
    video = torch.stack(frames)
    video[odd] = torch.rand(video[odd].shape, generator=torch.Generator().manual_seed(1))
    return video


# ------------------------------------------------------------------------------ structure

def test_registry_sites_and_schedule():
    assert host_class("ffp", kind="video") is FFP
    host = FFP("tiny", 3, flow="none")
    assert host.window == 5 and host.block_weight == 0.1 and host.default_position == "late"
    for position in ("early", "middle", "late"):
        for site in host.sites_for(position):
            conv = host.get_submodule(site)
            assert isinstance(conv, torch.nn.Conv2d) and conv.stride == (1, 1)
            assert conv.in_channels == conv.out_channels
    # "late" is the conv right before the output conv
    assert host.block_sites == ("generator.dec.2.conv2",)
    assert host.generator.out.in_channels == host.get_submodule(host.block_sites[0]).out_channels
    paper = FFP("paper", 3, flow="none")
    widths = [paper.generator.enc[i].conv2.out_channels for i in range(4)]
    assert widths == [64, 128, 256, 512] and paper.generator.enc[0].conv1.in_channels == 12
    s = FFP.schedule("paper")
    assert (s.optimizer, s.lr, s.batch_size, s.epochs * FFP.steps_per_epoch) == ("adam", 2e-4, 4, 80_000)
    assert FFP.schedule("paper", dataset="ped2").lr == 1e-4
    assert FFP.schedule("paper", dataset="shanghaitech").milestones == (0.625,)
    assert FFP.schedule("tiny").epochs < s.epochs and "ano_pred_cvpr2018" in s.source
    assert host.discriminator.optimizer.param_groups[0]["lr"] == 2e-5
    assert FFP("tiny", 1, flow="none").discriminator.optimizer.param_groups[0]["lr"] == 1e-5
    assert "STAND-IN" in FFP("tiny", 3).flow_note and "RANDOM" in FFP("tiny", 3).flow_note


def test_short_clips_and_bad_inputs_are_refused():
    host = FFP("tiny", 3, flow="none")
    with pytest.raises(ValueError, match="window"):
        host.training_loss(torch.rand(2, 4, 3, 64, 64))
    with pytest.raises(ValueError, match="window"):
        host.frame_evidence(torch.rand(2, 3, 3, 64, 64))
    with pytest.raises(ValueError, match="in_channels=3"):
        host.frame_evidence(torch.rand(2, 5, 1, 64, 64))
    with pytest.raises(ValueError, match="flow"):
        FFP("tiny", 3, flow="flownet2")
    # longer clips: the last five frames are used
    clip = torch.rand(1, 7, 3, 64, 64)
    assert torch.equal(host.predict(clip), host.predict(clip[:, 2:]))


def test_raft_without_weights_explains_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    expected = tmp_path / "torch_home" / "hub" / "checkpoints" / "raft_small_C_T_V2-01064c6d.pth"
    assert raft_weights_path() == expected
    with pytest.raises(FileNotFoundError) as info:
        FFP("tiny", 3, flow="raft")
    message = str(info.value)
    assert str(expected) in message and "Raft_Small_Weights.DEFAULT" in message
    assert "flow='random'" in message
    # once the file is in the cache, it is what the flow network holds
    from torchvision.models.optical_flow import raft_small
    donor = raft_small(weights=None)
    expected.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), expected)
    host = FFP("tiny", 3, flow="raft")
    for (name, a), b in zip(donor.state_dict().items(), host.flow_net.state_dict().values()):
        assert torch.equal(a, b), name
    assert host.flow_updates == 12 and "pretrained" in host.flow_note


# ------------------------------------------------------------------------------ losses and score

def test_psnr_and_gradient_loss_match_hand_computation():
    target = torch.full((1, 3, 8, 8), 0.5)
    assert float(psnr(target + 0.1, target)) == pytest.approx(20.0, abs=1e-4)   # MSE 0.01
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    mse = ((a - b) ** 2).reshape(2, -1).mean(1).numpy()
    np.testing.assert_allclose(psnr(a, b).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)
    # gradient loss on a 1×1×2×3 pair, by hand: horizontal |dx| (2 per row), vertical |dy| (3)
    p = torch.tensor([[[[0.0, 1.0, 1.0], [0.0, 0.0, 0.5]]]])
    t = torch.zeros_like(p)
    dx = [1.0, 0.0, 0.0, 0.5]
    dy = [0.0, 1.0, 0.5]
    assert float(gradient_loss(p, t)) == pytest.approx(np.mean(dx) + np.mean(dy))


def test_frame_evidence_psnr_equals_hand_computed(avenue_batch):
    host = FFP("tiny", 3, flow="none")
    parts, maps = host.frame_evidence(avenue_batch)
    with torch.no_grad():
        pred = host.predict(avenue_batch).numpy().astype(np.float64)
    target = avenue_batch[:, -1].numpy().astype(np.float64)
    err = (pred - target) ** 2
    np.testing.assert_allclose(parts["psnr"].numpy(),
                               [10 * math.log10(1.0 / e.mean()) for e in err], rtol=1e-4)
    assert maps.shape == (4, 64, 64)
    np.testing.assert_allclose(maps.numpy(), err.mean(1), rtol=1e-4, atol=1e-7)
    scores = host.video_scores({"psnr": np.array([30.0, 20.0, 25.0])})
    np.testing.assert_allclose(scores, [0.0, 1.0, 0.5])


def test_odd_frame_of_a_smooth_video_scores_highest():
    video = _video(odd=15)
    clips = torch.stack([video[t - 4:t + 1] for t in range(4, len(video))])  # target = frame t
    normal = torch.stack([c for t, c in zip(range(4, len(video)), clips) if not 11 <= t <= 19])
    host = FFP("tiny", 3, flow="none", lam_adv=0)
    before = host.frame_evidence(clips)[0]["psnr"]
    optimizer = torch.optim.Adam([p for p in host.parameters() if p.requires_grad], lr=1e-3)
    for step in range(25):
        batch = normal[torch.randperm(len(normal), generator=torch.Generator().manual_seed(step))[:4]]
        loss, _ = host.training_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    parts, _ = host.frame_evidence(clips)
    scores = host.video_scores({"psnr": parts["psnr"].numpy()})
    assert int(np.argmax(scores)) + 4 == 15 and scores.max() == 1.0
    assert np.sort(scores)[-2] < 0.6                      # a clear margin over every normal frame
    normal_frames = [i for i in range(len(clips)) if i + 4 != 15]
    assert (parts["psnr"][normal_frames] > before[normal_frames]).all()  # training helped


# ------------------------------------------------------------------------------ training

def test_project_loop_lowers_the_loss_and_leaves_the_discriminator_to_its_own_optimizer(avenue_batch):
    host = FFP("tiny", 3, flow="random")
    schedule = dataclasses.replace(FFP.schedule("tiny"), lr=1e-3)
    optimizer, _ = make_optimizer(host, schedule, 15)
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in host.generator.parameters()}   # no D, no flow weights
    d_before = [p.detach().clone() for p in host.discriminator.parameters()]
    flow_before = [p.detach().clone() for p in host.flow_net.parameters()]
    history = train(host, host.training_loss, endless([avenue_batch]), schedule=schedule,
                    total_steps=15, progress=False)
    losses = [h["host_loss"] for h in history]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert all(math.isfinite(h["d_loss"]) and math.isfinite(h["op"]) for h in history)
    assert host.discriminator.updates == 15                          # one D step per G step
    assert any(not torch.equal(a, b) for a, b in zip(d_before, host.discriminator.parameters()))
    assert all(not p.requires_grad and p.grad is None for p in host.discriminator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(flow_before, host.flow_net.parameters()))
    assert not host.flow_net.training and host.training
    # D's optimizer state travels with the state dict (resumed runs continue it)
    clone = FFP("tiny", 3, flow="random")
    clone.load_state_dict(host.state_dict())
    assert clone.discriminator.updates == 15
    state = clone.discriminator.optimizer.state_dict()["state"]
    assert len(state) == len(list(host.discriminator.parameters()))
    # no D update outside training
    with torch.no_grad():
        host.training_loss(avenue_batch)
    host.eval()
    host.training_loss(avenue_batch)
    assert host.discriminator.updates == 15


def test_flow_loss_reaches_the_generator_through_the_frozen_flow_network(avenue_batch):
    host = FFP("tiny", 3, flow="random", lam_int=0, lam_gd=0, lam_adv=0)
    loss, logs = host.training_loss(avenue_batch)
    assert logs["op"] > 0 and float(loss.detach()) == pytest.approx(2.0 * logs["op"], rel=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in host.generator.parameters())
    assert sum(float(p.grad.abs().sum()) for p in host.generator.parameters()) > 0
    assert all(p.grad is None for p in host.flow_net.parameters())
    grey = FFP("tiny", 1, flow="random", lam_adv=0)                  # grey frames repeated to RGB
    loss, logs = grey.training_loss(avenue_batch[:2, :, :1])
    assert math.isfinite(float(loss.detach())) and logs["op"] > 0


# ------------------------------------------------------------------------------ blocks

@pytest.mark.parametrize("kind", ["sspcab", "ssmctb"])
def test_blocks_at_every_position_keep_the_prediction(kind, avenue_batch):
    clips = avenue_batch[:2]
    for position in ("early", "middle", "late"):
        host = FFP("tiny", 3, flow="none")
        for site in host.sites_for(position):
            replace_layer(host, site, make_block(kind, host.get_submodule(site).out_channels))
        assert host.predict(clips).shape == (2, 3, 64, 64)
        loss, _ = host.training_loss(clips)
        blocks = block_loss(host)
        assert torch.isfinite(loss) and torch.isfinite(blocks) and float(blocks.detach()) > 0, position
        (loss + host.block_weight * blocks).backward()
        parts, maps = host.frame_evidence(clips)
        assert parts["psnr"].shape == (2,) and maps.shape == (2, 64, 64)
