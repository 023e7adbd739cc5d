"""HF2-VAD host (Liu et al., ICCV 2021): shapes, MemAE addressing, block sites, the
training-statistics z-normalisation of the score, learnability on synthetic cubes, state round trip."""

from __future__ import annotations

import pytest
import torch

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.hf2vad import (BLOCK_WEIGHTS, HF2VAD, MEMORY, PAST_FRAMES, entropy_loss,
                                  gaussian_kl, memory_address)
from vadlib.models.registry import HostContext, create_host

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_batch(host: HF2VAD, n: int = 3, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    s, t = host.side, host.window
    return {"appearance": torch.rand(n, t, host.in_channels, s, s, generator=g),
            "flow": torch.randn(n, t - 1, 2, s, s, generator=g),
            "boxes": torch.tensor([[10.0, 20.0, 50.0, 90.0]]).repeat(n, 1)}


# ------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", ["tiny", "paper"])
def test_shapes_losses_and_scores(size):
    host = HF2VAD(size, in_channels=3, seed=0, stage="joint")  # "paper" would start staged, in "memae"
    s = host.side
    assert host.window == PAST_FRAMES + 1 == 5 and host.needs_flow and host.kind == "object"
    assert s == {"tiny": 16, "paper": 32}[size]
    batch = random_batch(host)
    frames, flows, target = host._inputs(batch)
    assert frames.shape == (3, 12, s, s) and flows.shape == (3, 8, s, s) and target.shape == (3, 3, s, s)
    out = host(frames, flows)
    assert out["flow"].shape == (3, 8, s, s) and out["frame"].shape == (3, 3, s, s)
    assert out["frame"].abs().max() <= 1.0
    slots = MEMORY[size]["slots"]
    assert [w.shape for w in out["weights"]] == [(3 * (s // d) ** 2, slots) for d in (2, 4, 8)]
    assert all(m.items.shape[0] == slots for m in host.memae.memories)
    loss, logs = host.training_loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert set(logs) == {"flow_recon", "entropy", "frame", "gradient", "kl"}
    loss.backward()
    host.fit_statistics([batch])
    assert host.object_scores(batch).shape == (3,)
    with pytest.raises(ValueError, match="appearance cubes"):
        host.training_loss({**batch, "appearance": batch["appearance"][:, :4]})
    with pytest.raises(ValueError, match="flow"):
        host.training_loss({**batch, "flow": batch["flow"][:, :3]})


# ------------------------------------------------------------------------------- memory
def test_memory_weights_sum_to_one_and_shrinkage_sparsifies():
    g = torch.Generator().manual_seed(0)
    queries, items = torch.randn(64, 16, generator=g), torch.randn(50, 16, generator=g)
    dense = memory_address(queries, items, 0.0)
    expected = torch.softmax(torch.nn.functional.normalize(queries, dim=1)
                             @ torch.nn.functional.normalize(items, dim=1).t(), dim=1)
    torch.testing.assert_close(dense, expected)
    assert (dense > 0).all()
    counts = [int((dense > 0).sum())]
    for shrink in (0.5 / 50, 1 / 50):              # λ_s <= 1/M: the largest weight always survives
        sparse = memory_address(queries, items, shrink)
        torch.testing.assert_close(sparse.sum(1), torch.ones(64))
        # the weights below the threshold are exactly zero; the others keep their proportions
        kept = dense > shrink
        assert torch.equal(sparse > 0, kept)
        expected = dense.where(kept, torch.zeros_like(dense))
        torch.testing.assert_close(sparse, expected / expected.sum(1, keepdim=True))
        counts.append(int(kept.sum()))
    assert counts[0] > counts[1] > counts[2] > 0
    # above 1/M a query whose weights all fall below λ_s reads nothing (all-zero row, as MemAE)
    sparse = memory_address(queries, items, 1.5 / 50)
    empty = dense.amax(1) <= 1.5 / 50
    assert empty.any() and (sparse[empty] == 0).all()
    torch.testing.assert_close(sparse[~empty].sum(1), torch.ones(int((~empty).sum())))
    # sparser addressing has lower entropy
    assert entropy_loss(memory_address(queries, items, 1.5 / 50)) < entropy_loss(dense)


def test_gaussian_kl_is_zero_for_equal_gaussians_and_matches_the_closed_form():
    mu, logvar = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    assert gaussian_kl(mu, logvar, mu, logvar).abs() < 1e-6
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(mu)),
                               torch.distributions.kl_divergence(q, p).mean())


# ------------------------------------------------------------------------------- blocks
def _fired(host: HF2VAD, batch: dict) -> list[str]:
    """Names of the convolutions and blocks of ``host`` in the order their forward hooks fire."""
    order: list[str] = []
    handles = [m.register_forward_hook(lambda *_, name=name: order.append(name))
               for name, m in host.named_modules()
               if isinstance(m, torch.nn.Conv2d) or type(m).__name__ in ("SSPCAB", "SSMCTB")]
    try:
        host.training_loss(batch)
    finally:
        for h in handles:
            h.remove()
    return order


@pytest.mark.parametrize("kind", ["sspcab", "ssmctb"])
@pytest.mark.parametrize("position", list(HF2VAD.block_positions))
def test_block_at_every_position_fires_and_sets_its_loss(kind, position):
    host = HF2VAD("tiny", in_channels=3, seed=0)
    batch = random_batch(host, n=2)
    before = _fired(host, batch)
    blocks = {}
    for site in host.sites_for(position):
        conv = host.get_submodule(site)
        assert isinstance(conv, torch.nn.Conv2d) and conv.in_channels == conv.out_channels
        assert conv.stride == (1, 1)
        blocks[site] = make_block(kind, conv.out_channels)
        replace_layer(host, site, blocks[site])
    after = _fired(host, batch)
    # the block fires exactly where the convolution it replaced did
    assert after == before
    for site, block in blocks.items():
        assert block.loss is not None and block.loss.dim() == 0 and block.loss.item() > 0
    extra = block_loss(host)
    assert torch.isfinite(extra) and extra.item() > 0
    if position == "late":
        # the penultimate conv of the CVAE decoder: followed only by its output conv
        assert after[-2:] == ["cvae.decoder.final.3", "cvae.decoder.final.6"]
        assert host.get_submodule("cvae.decoder.final.6").out_channels == 3


def test_default_site_and_lambda_of_papers_c_and_d():
    host = HF2VAD("paper", in_channels=3)
    assert host.block_sites == ("cvae.decoder.final.3",)
    late = host.get_submodule(host.block_sites[0])
    assert (late.in_channels, late.out_channels) == (32, 32)
    assert HF2VAD.block_weight == host.block_weight == BLOCK_WEIGHTS["C"] == 0.01
    assert HF2VAD("tiny", paper="D").block_weight == BLOCK_WEIGHTS["D"] == 0.001
    with pytest.raises(ValueError, match="paper"):
        HF2VAD("tiny", paper="E")
    assert HF2VAD.frame_filter == ("median", 17)


# ------------------------------------------------------------------------------- score
def test_z_normalisation_uses_the_training_statistics():
    host = HF2VAD("tiny", in_channels=3, seed=1)
    train = [random_batch(host, n=4, seed=i) for i in range(3)]
    with pytest.raises(RuntimeError, match="fit_statistics"):
        host.object_scores(train[0])
    host.fit_statistics(train)
    errors = torch.cat([torch.stack(host.object_errors(b), 1) for b in train]).double()
    torch.testing.assert_close(host.score_mean.double(), errors.mean(0), rtol=1e-5, atol=0)
    torch.testing.assert_close(host.score_std.double(), errors.std(0, unbiased=False), rtol=1e-5, atol=0)
    scores = torch.cat([host.object_scores(b) for b in train])
    assert abs(scores.mean().item()) < 1e-5               # w_r·0 + w_p·0
    # each z-normalised part has mean 0 and std 1 on the training objects
    s_r, s_p = errors[:, 0], errors[:, 1]
    z_r, z_p = (s_r - s_r.mean()) / s_r.std(unbiased=False), (s_p - s_p.mean()) / s_p.std(unbiased=False)
    torch.testing.assert_close(scores.double(), host.w_r * z_r + host.w_p * z_p, rtol=1e-4, atol=1e-5)
    # statistics of other data change the score of the same objects (they are not per-batch)
    host.fit_statistics([random_batch(host, n=4, seed=9)])
    assert not torch.allclose(torch.cat([host.object_scores(b) for b in train]), scores)
    # calibrate is the object pipeline's name for the same thing
    host.calibrate(train)
    torch.testing.assert_close(torch.cat([host.object_scores(b) for b in train]), scores)


def test_score_weights_follow_the_options():
    assert (HF2VAD("tiny").w_r, HF2VAD("tiny").w_p) == (1.0, 0.1)
    host = HF2VAD("tiny", in_channels=1, w_r=0.0, w_p=1.0)
    batch = random_batch(host, n=5)
    host.fit_statistics([batch])
    _, s_p = host.object_errors(batch)
    torch.testing.assert_close(host.object_scores(batch), (s_p - s_p.mean()) / s_p.std(unbiased=False),
                               rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------- learnability
def moving_squares(n: int, generator: torch.Generator, s: int = 16, side: int = 4, speed: int = 2,
                   consistent: bool = True) -> dict:
    """Grey cubes of a bright square moving ``speed`` px/frame in one of 8 directions; the flow is
    the square's velocity on its pixels (``consistent``) or i.i.d. N(0, speed²) noise there."""
    t = PAST_FRAMES + 1
    appearance = torch.zeros(n, t, 1, s, s)
    flow = torch.zeros(n, t - 1, 2, s, s)
    directions = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    travel = speed * (t - 1)
    for i in range(n):
        dx, dy = directions[int(torch.randint(len(directions), (1,), generator=generator))]
        x0, y0 = (int(torch.randint(max(0, -d * travel), s - side - max(0, d * travel) + 1, (1,),
                                    generator=generator)) for d in (dx, dy))
        for j in range(t):
            x, y = x0 + dx * speed * j, y0 + dy * speed * j
            appearance[i, j, 0, y:y + side, x:x + side] = 0.9
            if j < t - 1:
                if consistent:
                    flow[i, j, 0, y:y + side, x:x + side] = dx * speed
                    flow[i, j, 1, y:y + side, x:x + side] = dy * speed
                else:
                    noise = torch.randn(2, side, side, generator=generator)
                    flow[i, j, :, y:y + side, x:x + side] = speed * noise
    return {"appearance": appearance, "flow": flow, "boxes": torch.zeros(n, 4)}


def test_consistent_flow_scores_lower_than_random_flow_after_training():
    """The paper's staged recipe in miniature: ML-MemAE-SC alone, then everything jointly, on
    consistent cubes only; afterwards the flow of normal cubes is reconstructed well below the
    error of predicting zero flow, and cubes with random flow score higher."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    host = HF2VAD("tiny", in_channels=1, seed=0, stage="memae")
    optimizer = torch.optim.Adam(host.parameters(), lr=2e-3)
    host.train()
    for step in range(300):
        if step == 240:
            host.stage = "joint"
        loss, _ = host.training_loss(moving_squares(16, g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    host.fit_statistics([moving_squares(64, g)])
    consistent, random_flow = moving_squares(64, g), moving_squares(64, g, consistent=False)
    flow_error, _ = host.object_errors(consistent)
    assert flow_error.mean() < 0.5 * consistent["flow"].pow(2).mean()   # zero flow's error
    normal, abnormal = host.object_scores(consistent), host.object_scores(random_flow)
    assert abnormal.mean() > normal.mean() + 1.0
    assert (abnormal > normal.median()).float().mean() > 0.9


# ------------------------------------------------------------------------------- stages, state
def test_stages_select_the_losses_and_the_trained_parts():
    host = HF2VAD("tiny", in_channels=1, seed=0, stage="memae")
    batch = random_batch(host, n=2)
    loss, logs = host.training_loss(batch)
    assert set(logs) == {"flow_recon", "entropy"}
    loss.backward()
    assert all(p.grad is None for p in host.cvae.parameters())
    host.zero_grad(set_to_none=True)
    host.stage = "cvae"
    loss, logs = host.training_loss(batch)
    assert set(logs) == {"frame", "gradient", "kl"}
    loss.backward()
    assert all(p.grad is None for p in host.memae.parameters())
    assert any(p.grad is not None for p in host.cvae.parameters())
    with pytest.raises(ValueError, match="stage"):
        host.stage = "both"


def test_state_dict_round_trip_keeps_weights_memory_and_statistics():
    host = HF2VAD("tiny", in_channels=3, seed=0)
    batch = random_batch(host, n=4)
    optimizer = torch.optim.Adam(host.parameters(), lr=1e-3)
    for _ in range(2):
        loss, _ = host.training_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    host.fit_statistics([batch])
    state = host.state_dict()
    assert {"score_mean", "score_std", "memae.memories.0.items"} <= set(state)
    other = HF2VAD("tiny", in_channels=3, seed=5)
    assert not other.statistics_fitted
    other.load_state_dict(state)
    assert other.statistics_fitted
    torch.testing.assert_close(other.object_scores(batch), host.object_scores(batch))


def test_from_context_schedule_and_registry():
    ctx = HostContext(size="tiny", in_channels=1, seed=3, dataset="avenue", options=(("paper", "D"),))
    host = create_host("hf2vad", ctx, kind="object")
    assert isinstance(host, HF2VAD) and host.block_weight == 0.001 and host.dataset == "avenue"
    for a, b in zip(host.state_dict().values(), HF2VAD("tiny", 1, seed=3, paper="D").state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    with pytest.raises(ValueError, match="from scratch"):
        HF2VAD.from_context(HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue", pretrained=True))
    paper = HF2VAD.schedule_for(HostContext(size="paper", in_channels=3, seed=0, dataset="avenue"))
    assert (paper.epochs, paper.batch_size, paper.lr, paper.optimizer) == (80, 128, 1e-4, "adam")
    assert HF2VAD.schedule("tiny").epochs == 10


def test_staged_schedule_trains_memae_then_the_cvae_and_survives_a_checkpoint():
    """The paper's recipe (ML-MemAE-SC first, then the CVAE with it frozen) as the object run
    drives it (on_train_step before and after every step): the default at size "paper" (quick,
    full), joint training at "tiny" (smoke); a state_dict keeps the stage."""
    assert HF2VAD("paper", 3).staged and HF2VAD("paper", 3).stage == "memae"
    assert not HF2VAD("tiny", 3).staged and HF2VAD("tiny", 3).stage == "joint"

    def stages_of(host, total):
        used = []
        host.on_train_step(-1, total)
        for step in range(total):
            used.append(host.stage)
            host.on_train_step(step, total)
        return used

    assert stages_of(HF2VAD("tiny", 1, stages=(0.5, 0.5)), 10) == ["memae"] * 5 + ["cvae"] * 5
    assert stages_of(HF2VAD("tiny", 1, stages=(0.4, 0.4)), 10) == ["memae"] * 4 + ["cvae"] * 4 + ["joint"] * 2
    assert stages_of(HF2VAD("tiny", 1, stages=(0.5, 0.5)), 1) == ["memae"]  # a dry run's single step
    assert stages_of(HF2VAD("tiny", 1, stage="cvae"), 3) == ["cvae"] * 3  # not staged: the stage stays
    host = HF2VAD("tiny", 1, stages=(0.5, 0.5))
    host.on_train_step(6, 10)
    resumed = HF2VAD("tiny", 1, stages=(0.5, 0.5))
    resumed.load_state_dict(host.state_dict())
    assert host.stage == resumed.stage == "cvae"
    with pytest.raises(ValueError, match="stages"):
        HF2VAD("tiny", 1, stages=(0.7, 0.7))
