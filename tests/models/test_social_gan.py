"""Tests of Social GAN (vadlib.models.social_gan): output shapes, pooling that is permutation-
equivariant within a scene window and blind across windows, learnability on straight-line walkers
through the project's training loop (variety loss falls, ADE beats standing still), the
discriminator kept out of the generator's gradients, and its optimizer state in the state dict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vadlib.metrics.trajectory import ade
from vadlib.models.schedule import Schedule
from vadlib.models.social_gan import SIZES, SocialGAN
from vadlib.runs.train import data_loader, endless, train
from vadlib.tracking.trajectories import TrajectoryWindows, collate_windows, windows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


def _batch(sizes, obs_len=8, pred_len=8, seed=0) -> dict[str, torch.Tensor]:
    """Random walks, windows of the given numbers of people."""
    g = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    steps = torch.randn(obs_len + pred_len, n, 2, generator=g)
    positions = steps.cumsum(0) + 10 * torch.randn(n, 2, generator=g)
    ends = torch.tensor(sizes).cumsum(0)
    return {"obs": positions[:obs_len], "future": positions[obs_len:],
            "seq_start_end": torch.stack([ends - torch.tensor(sizes), ends], 1)}


@pytest.mark.parametrize("sizes", [[1], [3], [2, 1, 4], [1] * 5])
@pytest.mark.parametrize("samples", [1, 3])
def test_shapes(sizes, samples):
    model = SocialGAN("tiny", obs_len=8, pred_len=8)
    batch = _batch(sizes)
    pred = model.predict(batch, samples=samples, seed=0)
    assert pred.shape == (samples, 8, sum(sizes), 2)
    assert model.training                                      # predict restores the mode
    loss, logs = model.training_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert {"g_loss", "g_adv", "variety", "d_loss", "ade"} <= set(logs)


def test_other_lengths_and_paper_size():
    model = SocialGAN("tiny", obs_len=5, pred_len=12)
    assert model.predict(_batch([2, 3], 5, 12), samples=2, seed=0).shape == (2, 12, 5, 2)
    paper = SocialGAN("paper")
    assert paper.predict(_batch([2, 2]), seed=0).shape == (1, 8, 4, 2)
    counts = paper.parameter_counts()
    assert counts["total"] == counts["generator"] + counts["discriminator"] > 0
    assert SIZES["paper"]["noise_dim"] == 8 and SIZES["paper"]["decoder_h_dim_g"] == 128


def test_prediction_continues_from_last_observed_position_and_seed_is_reproducible():
    model = SocialGAN("tiny")
    batch = _batch([3])
    a, b = model.predict(batch, samples=2, seed=5), model.predict(batch, samples=2, seed=5)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a[0], a[1])                      # different noise per sample
    noise = torch.zeros(1, 3, 8)
    torch.testing.assert_close(model.predict(batch, noise=noise), model.predict(batch, noise=noise))


def test_pooling_is_permutation_equivariant_within_a_window():
    model = SocialGAN("tiny", seed=1)
    batch = _batch([4, 3], seed=2)
    noise = torch.randn(2, 7, 8)
    pred = model.predict(batch, samples=2, noise=noise)
    order = torch.tensor([2, 0, 3, 1, 5, 6, 4])                # people permuted inside each window
    permuted = {**batch, "obs": batch["obs"][:, order], "future": batch["future"][:, order]}
    pred_permuted = model.predict(permuted, samples=2, noise=noise[:, order])
    torch.testing.assert_close(pred_permuted, pred[:, :, order], rtol=1e-5, atol=1e-5)


def test_windows_do_not_affect_each_other():
    model = SocialGAN("tiny", seed=1)
    batch = _batch([3, 2], seed=3)
    noise = torch.randn(1, 5, 8)
    pred = model.predict(batch, noise=noise)
    # move the first window's people elsewhere
    moved = {**batch, "obs": batch["obs"].clone(), "future": batch["future"].clone()}
    moved["obs"][:, :3] += torch.tensor([50.0, -20.0]) + torch.randn(8, 3, 2)
    pred_moved = model.predict(moved, noise=noise)
    torch.testing.assert_close(pred_moved[:, :, 3:], pred[:, :, 3:])
    assert not torch.allclose(pred_moved[:, :, :3], pred[:, :, :3])
    # drop the first window altogether: the second window's people predict the same
    alone = {"obs": batch["obs"][:, 3:], "future": batch["future"][:, 3:],
             "seq_start_end": torch.tensor([[0, 2]])}
    torch.testing.assert_close(model.predict(alone, noise=noise[:, 3:]), pred[:, :, 3:])
    # while people of the same window do interact
    together = {**batch, "obs": batch["obs"].clone()}
    together["obs"][:, 4] += 5.0
    assert not torch.allclose(model.predict(together, noise=noise)[:, :, 3], pred[:, :, 3])


def test_discriminator_gets_no_gradient_from_the_generator_loss():
    model = SocialGAN("tiny", d_steps=2)
    before = [p.clone() for p in model.discriminator.parameters()]
    loss, _ = model.training_loss(_batch([2, 3]))
    loss.backward()
    assert model.discriminator.updates == 2
    for p, old in zip(model.discriminator.parameters(), before):
        assert not p.requires_grad and p.grad is None
    assert any(not torch.equal(p, old) for p, old in zip(model.discriminator.parameters(), before))
    assert all(p.grad is not None for p in model.generator.parameters())
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in model.generator.parameters()}
    model.eval()
    model.training_loss(_batch([2]))
    with torch.no_grad():
        model.train()
        model.training_loss(_batch([2]))
    assert model.discriminator.updates == 2                   # no update in eval / no_grad


def test_state_dict_round_trip_restores_discriminator_optimizer():
    model = SocialGAN("tiny")
    for seed in range(3):
        model.training_loss(_batch([2, 2], seed=seed))
    state = model.state_dict()
    restored = SocialGAN("tiny", seed=7)
    restored.load_state_dict(state)
    assert restored.discriminator.updates == model.discriminator.updates == 6
    saved = model.discriminator.optimizer.state_dict()["state"]
    loaded = restored.discriminator.optimizer.state_dict()["state"]
    assert saved.keys() == loaded.keys() and saved
    for key in saved:
        torch.testing.assert_close(loaded[key]["exp_avg"], saved[key]["exp_avg"])
        torch.testing.assert_close(loaded[key]["exp_avg_sq"], saved[key]["exp_avg_sq"])
    batch = _batch([3])
    torch.testing.assert_close(restored.predict(batch, seed=0), model.predict(batch, seed=0))


def _straight_walkers(n_people: int, n_frames: int, seed: int) -> pd.DataFrame:
    """Tracks of people walking straight at constant velocity, three at a time in the scene."""
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(n_people):
        start_frame = (person // 3) * (n_frames // 2)
        frames = np.arange(start_frame, start_frame + n_frames)
        start, velocity = rng.uniform(-5, 5, 2), rng.uniform(-1, 1, 2)
        positions = start + np.outer(frames - start_frame, velocity)
        rows.append(pd.DataFrame({"frame": frames, "id": person,
                                  "x": positions[:, 0], "y": positions[:, 1]}))
    return pd.concat(rows, ignore_index=True)


def test_learns_straight_walkers_through_the_training_loop():
    train_windows = windows(_straight_walkers(60, 40, seed=0), stride=2)
    test_windows = windows(_straight_walkers(30, 40, seed=1), stride=8)
    loader = data_loader(TrajectoryWindows(train_windows), batch_size=16, shuffle=True,
                         collate_fn=collate_windows)
    model = SocialGAN("tiny", seed=0)
    schedule = Schedule(epochs=1, batch_size=16, lr=5e-3, source="test")
    history = train(model, model.training_loss, endless(loader), schedule=schedule,
                    total_steps=300, progress=False)
    variety = [h["variety"] for h in history]
    assert np.mean(variety[-20:]) < 0.1 * np.mean(variety[:20])
    test = collate_windows(test_windows)
    stand_still = ade(test["obs"][-1:].expand(8, -1, -1), test["future"]).mean()
    model_ade = ade(model.predict(test, seed=0)[0], test["future"]).mean()
    assert model_ade < 0.25 * stand_still


def test_schedule_and_validation():
    paper = SocialGAN.schedule("paper")
    assert (paper.epochs, paper.batch_size, paper.lr, paper.optimizer) == (200, 64, 5e-4, "adam")
    assert SocialGAN.schedule("tiny").epochs < paper.epochs
    with pytest.raises(ValueError):
        SocialGAN("huge")
    model = SocialGAN("tiny")
    with pytest.raises(ValueError):
        model.predict({"obs": torch.zeros(8, 3, 2), "seq_start_end": torch.tensor([[0, 2]])})
    with pytest.raises(ValueError):
        model.predict({"obs": torch.zeros(7, 3, 2), "seq_start_end": torch.tensor([[0, 3]])})
