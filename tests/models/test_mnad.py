"""MNAD host (Park et al., CVPR 2020): memory read/update, losses, scoring, training, blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.layers import minmax
from vadlib.models.mnad import (MNAD, PUBLISHED, VARIANTS, compactness_distance,
                                compactness_loss, memory_read, memory_update, separateness_loss,
                                weighted_regular_score)
from vadlib.models.registry import HostContext, host_class

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def avenue_clips(tmp_path_factory):
    """Four 5-frame training clips of the tiny Avenue twin at 64×64 (N×T×C×H×W in [0, 1])."""
    from vadlib.data import avenue, synthetic
    root = synthetic.generate("avenue", size="tiny", seed=0, data_root=tmp_path_factory.mktemp("data"))
    ds = avenue.clips(root, "train", length=5, resize=64)
    return torch.stack([ds[i]["clip"] for i in (0, 5, 10, 30)])


def _unit(rows):
    x = torch.tensor(rows, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


# ------------------------------------------------------------------------------- memory module
def test_memory_read_is_the_softmax_weighted_sum_of_items():
    q = _unit([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    p = _unit([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.6, 0.8]])
    read, w = memory_read(q, p)
    qn, pn = q.numpy(), p.numpy()
    for k in range(2):
        sims = np.array([qn[k] @ pn[m] for m in range(3)])
        weights = np.exp(sims) / np.exp(sims).sum()
        np.testing.assert_allclose(w[k].numpy(), weights, rtol=1e-12)
        np.testing.assert_allclose(read[k].numpy(), sum(weights[m] * pn[m] for m in range(3)), rtol=1e-12)
    # first query: cosines (1, 0, 0) -> weights e/(e+2), 1/(e+2), 1/(e+2)
    e = math.e
    np.testing.assert_allclose(w[0].numpy(), [e / (e + 2), 1 / (e + 2), 1 / (e + 2)], rtol=1e-12)


def test_memory_update_follows_equations_3_to_5():
    q = _unit([[1.0, 0.1, 0.0], [0.9, 0.0, 0.2], [0.0, 1.0, 0.3], [0.8, 0.5, 0.0]])
    p = _unit([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    new = memory_update(q, p)
    qn, pn = q.numpy(), p.numpy()
    sims = qn @ pn.T                                   # K×M
    nearest = sims.argmax(1)
    v = np.exp(sims) / np.exp(sims).sum(0, keepdims=True)   # softmax over the queries
    expected = pn.copy()
    for m in range(3):
        members = [k for k in range(4) if nearest[k] == m]
        if not members:
            continue                                   # an item no query chose is unchanged
        vmax = max(v[k, m] for k in members)
        item = pn[m] + sum(v[k, m] / vmax * qn[k] for k in members)
        expected[m] = item / np.linalg.norm(item)
    np.testing.assert_allclose(new.numpy(), expected, rtol=1e-12)
    assert nearest.tolist() == [0, 0, 1, 0]
    np.testing.assert_allclose(new[2].numpy(), pn[2])   # item 2 has no query
    np.testing.assert_allclose(np.linalg.norm(new.numpy(), axis=1), 1.0)


def test_compactness_and_separateness_losses_match_their_formulas():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=torch.float64)
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    # nearest items: q0 -> p0, q1 -> p1, q2 -> p1 (0.8 > 0.6); second nearest: p1, p0, p0
    pos = torch.stack([p[0], p[1], p[1]])
    neg = torch.stack([p[1], p[0], p[0]])
    compact = ((q - pos) ** 2).sum(1).mean() / 2      # mean over queries and the 2 channels
    assert compactness_loss(q, p).item() == pytest.approx(compact.item(), rel=1e-12)
    assert compactness_loss(q, p).item() == pytest.approx(0.4 / 6, rel=1e-12)
    for margin in (1.0, 0.1):
        d_pos, d_neg = (q - pos).norm(dim=1), (q - neg).norm(dim=1)
        expected = torch.clamp(d_pos - d_neg + margin, min=0).mean()
        assert separateness_loss(q, p, margin).item() == pytest.approx(expected.item(), rel=1e-12)
    # by hand: d_pos = (0, 0, sqrt(0.4)), d_neg = (sqrt2, sqrt2, sqrt(0.8)); margin 1
    by_hand = (max(0, 1 - math.sqrt(2)) * 2 + max(0, math.sqrt(0.4) - math.sqrt(0.8) + 1)) / 3
    assert separateness_loss(q, p).item() == pytest.approx(by_hand, rel=1e-12)
    # gradients reach the queries, never the items
    qg = q.clone().requires_grad_(True)
    (compactness_loss(qg, p) + separateness_loss(qg, p)).backward()
    assert torch.isfinite(qg.grad).all() and qg.grad.abs().sum() > 0


def test_score_distance_and_weighted_regular_score():
    q = torch.tensor([[1.0, 0.0], [0.6, 0.8]]).T.reshape(1, 2, 1, 2)   # one frame, 2 positions
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = (0.0 + math.sqrt(0.36 + 0.04)) / 2                      # mean of L2 norms
    assert compactness_distance(q, p).item() == pytest.approx(expected, rel=1e-6)
    out = torch.tensor([0.0, 0.5, 1.0, 0.2]).view(1, 1, 2, 2)
    tgt = torch.tensor([0.0, 0.0, 0.0, 0.4]).view(1, 1, 2, 2)
    e = ((out - tgt) ** 2).flatten()
    w = 1 - torch.exp(-e)
    expected = (w * e).sum().item() / w.sum().item()
    assert weighted_regular_score(out, tgt).item() == pytest.approx(expected, rel=1e-6)
    assert weighted_regular_score(tgt, tgt).item() == 0.0


# ------------------------------------------------------------------------------- host
@pytest.mark.parametrize("variant", VARIANTS)
def test_training_steps_lower_the_loss(avenue_clips, variant):
    host = MNAD("tiny", 3, seed=0, variant=variant)
    assert host.window == (5 if variant == "prediction" else 1)
    optimizer = torch.optim.Adam(host.parameters(), lr=1e-3)
    items = host.items.clone()
    losses = []
    for _ in range(15):
        loss, logs = host.training_loss(avenue_clips)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert set(logs) == {"intensity", "compactness", "separateness"}
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-3:]) < 0.7 * losses[0], losses
    assert not torch.equal(host.items, items)                # the memory was updated
    torch.testing.assert_close(host.items.norm(dim=1), torch.ones(10))
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in host.parameters())


def _smooth_video(frames: int = 12, size: int = 64) -> torch.Tensor:
    """T×3×H×W: a fixed colour gradient with a bright square moving 2 px per frame."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    background = torch.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.5 - 0.3 * x * y])
    video = background.expand(frames, 3, size, size).clone()
    for t in range(frames):
        video[t, :, 20:32, 8 + 2 * t:20 + 2 * t] = 0.9
    return video


def _clips(video: torch.Tensor, window: int) -> torch.Tensor:
    return torch.stack([video[t - window + 1:t + 1] for t in range(window - 1, len(video))])


@pytest.mark.parametrize("variant,odd", [("reconstruction", 6), ("prediction", 11)])
def test_a_noise_frame_gets_the_highest_score(variant, odd):
    host = MNAD("tiny", 3, seed=1, variant=variant)
    video = _smooth_video()
    train = _clips(video, host.window)
    optimizer = torch.optim.Adam(host.parameters(), lr=2e-3)
    for step in range(25):
        batch = train[torch.arange(4) + (step * 4) % (len(train) - 3)]
        loss, _ = host.training_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    host.eval()
    test = video.clone()
    test[odd] = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    clips = _clips(test, host.window)                         # clip i ends at frame i + window - 1
    collected: dict[str, list] = {"psnr": [], "compactness": []}
    for chunk in clips.split(3):                              # several calls, as a runner batches
        parts, maps = host.frame_evidence(chunk)
        assert maps.shape == (len(chunk), 64, 64) and (maps >= 0).all()
        for name in collected:
            collected[name] += parts[name].tolist()
    scores = host.video_scores({k: np.asarray(v) for k, v in collected.items()})
    ends = np.arange(len(clips)) + host.window - 1
    assert ends[np.argmax(scores)] == odd, scores
    others = np.delete(scores, np.flatnonzero(ends == odd))
    assert scores[ends == odd][0] - others.max() > 0.2
    assert np.argmin(collected["psnr"]) == np.flatnonzero(ends == odd)[0]


def test_video_scores_mix_normalised_psnr_and_distance():
    psnr = np.array([30.0, 25.0, 35.0, 20.0])
    dist = np.array([0.1, 0.4, 0.2, 0.3])
    for variant in VARIANTS:
        host = MNAD("tiny", 3, variant=variant)
        alpha = PUBLISHED[variant]["alpha"]
        assert host.alpha == alpha
        expected = alpha * (1 - minmax(psnr)) + (1 - alpha) * minmax(dist)
        np.testing.assert_allclose(host.video_scores({"psnr": psnr, "compactness": dist}), expected)
    host = MNAD("tiny", 3, alpha=1.0)
    np.testing.assert_allclose(host.video_scores({"psnr": psnr, "compactness": dist}),
                               [1 / 3, 2 / 3, 0.0, 1.0])
    np.testing.assert_allclose(host.video_scores({"psnr": torch.tensor(psnr), "compactness": dist}),
                               [1 / 3, 2 / 3, 0.0, 1.0])
    with pytest.raises(ValueError, match="compactness"):
        host.video_scores({"psnr": psnr})


def test_test_time_update_is_switchable_and_leaves_the_trained_memory_alone():
    clips = torch.rand(3, 1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    trained = MNAD("tiny", 3, seed=0).items.clone()
    always = MNAD("tiny", 3, seed=0, gamma=float("inf"))      # every frame judged normal
    always.frame_evidence(clips)
    assert torch.equal(always.items, trained)
    assert not torch.allclose(always.test_items, trained)
    second, _ = always.frame_evidence(clips)                   # state persists across calls
    always.prepare_test()
    assert torch.equal(always.test_items, trained)
    for host in (MNAD("tiny", 3, seed=0, gamma=0.0), MNAD("tiny", 3, seed=0, gamma=float("inf"),
                                                           test_update=False)):
        first, _ = host.frame_evidence(clips)
        again, _ = host.frame_evidence(clips)
        assert torch.equal(host.test_items, trained)
        torch.testing.assert_close(first, again)
    # training invalidates the test memory; loading a state resets it
    always.frame_evidence(clips)
    always.training_loss(clips)
    assert torch.equal(always.test_items, always.items)
    always.frame_evidence(clips)
    always.load_state_dict(always.state_dict())
    assert torch.equal(always.test_items, always.items)


def test_frame_evidence_runs_in_eval_mode_and_restores_it():
    host = MNAD("tiny", 3, variant="prediction")
    host.train()
    clips = torch.rand(2, 5, 3, 32, 32)
    a, maps = host.frame_evidence(clips)
    b, _ = host.frame_evidence(clips)
    assert host.training
    assert a["psnr"].shape == (2,) and a["compactness"].shape == (2,) and maps.shape == (2, 32, 32)
    torch.testing.assert_close(a["psnr"], b["psnr"])           # BN running statistics untouched
    assert torch.isfinite(a["psnr"]).all() and (a["compactness"] >= 0).all()


# ------------------------------------------------------------------------------- validation
def test_clips_shorter_than_the_window_are_refused():
    with pytest.raises(ValueError, match="at least 5 frames"):
        MNAD("tiny", 3, variant="prediction").training_loss(torch.rand(2, 4, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 5 frames"):
        MNAD("tiny", 3, variant="prediction").frame_evidence(torch.rand(2, 3, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 1 frames"):
        MNAD("tiny", 3, variant="reconstruction").frame_evidence(torch.rand(2, 0, 3, 32, 32))
    # longer clips are fine: the last `window` frames are used
    parts, _ = MNAD("tiny", 3, variant="reconstruction").frame_evidence(torch.rand(2, 5, 3, 32, 32))
    assert parts["psnr"].shape == (2,)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="variants: reconstruction, prediction"):
        MNAD("tiny", 3, variant="pred")
    with pytest.raises(ValueError, match="sizes: tiny, paper"):
        MNAD("huge", 3)
    with pytest.raises(ValueError, match="multiples of 8"):
        MNAD("tiny", 3).training_loss(torch.rand(2, 1, 3, 36, 36))
    with pytest.raises(ValueError, match="3 channels"):
        MNAD("tiny", 3).training_loss(torch.rand(2, 1, 1, 32, 32))
    with pytest.raises(ValueError, match="memory_size"):
        MNAD("tiny", 3, memory_size=1)
    with pytest.raises(ValueError, match="unknown block position"):
        MNAD("tiny", 3).sites_for("bottom")


# ------------------------------------------------------------------------------- blocks
@pytest.mark.parametrize("kind", ["sspcab", "ssmctb"])
@pytest.mark.parametrize("position", list(MNAD.block_positions))
def test_blocks_fit_every_position(kind, position):
    host = MNAD("tiny", 3, variant="prediction" if position != "late" else "reconstruction")
    clips = torch.rand(2, 5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x, _ = host._split(clips)
    for site in host.sites_for(position):
        conv = host.get_submodule(site)
        assert isinstance(conv, torch.nn.Conv2d) and conv.in_channels == conv.out_channels
        replace_layer(host, site, make_block(kind, conv.out_channels))
    out, q = host(x)
    assert out.shape == (2, 3, 32, 32) and q.shape == (2, 64, 4, 4)
    loss, _ = host.training_loss(clips)
    extra = block_loss(host)
    assert extra.dim() == 0 and torch.isfinite(extra) and extra.item() > 0
    (loss + host.block_weight * extra).backward()


def test_all_three_decoder_blocks_and_the_train_loop():
    from vadlib.runs.train import train
    host = MNAD("tiny", 3, variant="prediction")
    sites = host.sites_for("early+middle+late")
    assert sites == ("decoder.stage4.3", "decoder.stage3.3", "decoder.stage1.3")
    for site, d in zip(sites, (4, 3, 1)):                     # Table D.8's "all" row
        replace_layer(host, site, make_block("ssmctb", host.get_submodule(site).out_channels, dilation=d))
    clips = torch.rand(3, 4, 5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    history = train(host, host.training_loss, iter(clips), schedule=MNAD.schedule("tiny", variant=host.variant),
                    total_steps=3, block_weight=host.block_weight, progress=False)
    assert len(history) == 3 and all(h["block_loss"] > 0 for h in history)


# ------------------------------------------------------------------------------- configuration
def test_paper_size_schedule_and_registry():
    assert host_class("mnad", kind="video") is MNAD
    host = MNAD("paper", 3, variant="prediction")
    assert host.items.shape == (10, 512) and host.feature_dim == 512
    assert host.encoder.stage1[0].in_channels == 12           # 4 past RGB frames
    late = host.get_submodule(host.block_sites[0])
    assert (late.in_channels, late.out_channels) == (64, 64)  # the spec's "Conv 64->64"
    assert host.decoder.stage4[0].in_channels == 1024         # concat(query, read)
    with torch.no_grad():
        out, q = host(torch.rand(1, 12, 32, 32) * 2 - 1)
    assert out.shape == (1, 3, 32, 32) and q.shape == (1, 512, 4, 4)
    assert MNAD("paper", 1).encoder.stage1[0].in_channels == 1
    assert MNAD.block_weight == 0.1

    pred = MNAD.schedule("paper", variant="prediction")
    assert (pred.epochs, pred.batch_size, pred.lr, pred.optimizer, pred.lr_schedule) == \
        (60, 4, 2e-4, "adam", "cosine")
    assert MNAD.schedule("paper", variant="reconstruction").lr == 2e-5
    run = HostContext(size="paper", in_channels=3, seed=0, dataset="avenue", options=(("variant", "prediction"),))
    assert MNAD.schedule_for(run).lr == 2e-4                   # follows the run's variant
    assert MNAD.schedule_for(HostContext(size="paper", in_channels=3, seed=0, dataset="avenue")).lr == 2e-5
    assert MNAD.schedule("paper", dataset="shanghaitech").epochs == 10
    assert MNAD.schedule("tiny").epochs < 60 and "Park" in MNAD.schedule("tiny").source
    with pytest.raises(ValueError):
        MNAD.schedule("medium")
    for variant, values in PUBLISHED.items():
        h = MNAD("tiny", 3, variant=variant)
        assert (h.lambda_compact, h.lambda_separate, h.alpha, h.gamma) == (
            values["lambda_compact"], values["lambda_separate"], values["alpha"], values["gamma"])
    assert MNAD("tiny", 3, alpha=0.5, lambda_compact=0.2).alpha == 0.5


def test_seed_makes_construction_reproducible_without_touching_global_rng():
    state = torch.random.get_rng_state()
    a, b, c = MNAD("tiny", 3, seed=3), MNAD("tiny", 3, seed=3), MNAD("tiny", 3, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.items, b.items) and not torch.equal(a.items, c.items)
    assert all(torch.equal(p, r) for p, r in zip(a.parameters(), b.parameters()))
