"""The one training loop: optimizers, warm-up, per-step hook."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vadlib.models.hosts import Schedule
from vadlib.runs.experiment import RunContext
from vadlib.runs.train import make_optimizer, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _lrs(schedule: Schedule, steps: int) -> list[float]:
    model = nn.Linear(2, 2)
    optimizer, scheduler = make_optimizer(model, schedule, steps)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_warmup_ramps_linearly_then_follows_the_cosine():
    lrs = _lrs(Schedule(epochs=1, batch_size=1, lr=1.0, lr_schedule="cosine", warmup_fraction=0.2), 10)
    assert lrs[:2] == pytest.approx([0.5, 1.0])  # 2 warm-up steps: 1/2, then the full rate
    cosine = [0.5 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    assert lrs[2:] == pytest.approx(cosine)
    assert _lrs(Schedule(epochs=1, batch_size=1, lr=1.0, lr_schedule="cosine"), 4) == pytest.approx(
        [0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)])  # no warm-up: unchanged


def test_adamw_decays_weights_but_not_biases():
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    optimizer, _ = make_optimizer(model, Schedule(epochs=1, batch_size=1, lr=1e-3, optimizer="adamw",
                                                  betas=(0.9, 0.95), weight_decay=0.05), 10)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    assert [p.ndim for p in decayed["params"]] == [2] and all(p.ndim == 1 for p in plain["params"])
    assert decayed["betas"] == (0.9, 0.95)
    with pytest.raises(ValueError, match="'adam', 'adamw' or 'sgd'"):
        make_optimizer(model, Schedule(epochs=1, batch_size=1, lr=1e-3, optimizer="lamb"), 10)


def test_on_step_sees_every_step_and_adds_to_its_log():
    model = nn.Linear(2, 1)
    data = iter([torch.ones(4, 2)] * 5)
    seen = []

    def evaluate(step, logs):
        seen.append(step)
        return {"probe": step * 10} if step % 2 == 0 else None

    history = train(model, lambda x: (model(x).pow(2).mean(), {}), data,
                    schedule=Schedule(epochs=1, batch_size=4, lr=0.1), total_steps=5, progress=False, on_step=evaluate)
    assert seen == [0, 1, 2, 3, 4]
    assert [h.get("probe") for h in history] == [0, None, 20, None, 40]


class Stop(Exception):
    pass


def test_a_resumed_run_draws_the_same_random_numbers_as_an_uninterrupted_one(tmp_path):
    """Dropout (like augmentations and masks) draws from torch's generator: a run stopped after
    its checkpoint and resumed must end with the weights of a run never stopped."""
    def run(ctx=None, stop_at=None):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        data = iter([torch.ones(2, 4)] * 8)

        def maybe_stop(step, logs):
            if step == stop_at:
                raise Stop
        history = train(model, lambda x: (model(x).pow(2).mean(), {}), data, schedule=Schedule(1, 2, lr=0.1),
                        total_steps=6, ctx=ctx, checkpoint_every=2, progress=False, on_step=maybe_stop)
        return model, history

    expected, expected_history = run()
    ctx = RunContext(tmp_path / "run", config=None)
    with pytest.raises(Stop):
        run(ctx, stop_at=3)
    torch.manual_seed(123)  # the process that resumes is in another random state
    resumed, history = run(ctx)
    assert [h["loss"] for h in history] == [h["loss"] for h in expected_history]
    for a, b in zip(resumed.parameters(), expected.parameters()):
        assert torch.equal(a, b)
