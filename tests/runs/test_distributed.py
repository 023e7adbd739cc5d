"""Data-parallel training: two gloo processes on the CPU compute what one process computes.

The two ranks are spawned once for the whole file (starting a process that imports torch is the
slow part); each runs every scenario and saves what it saw, and the tests compare that with one
process doing the same work.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from vadlib.models.schedule import Schedule
from vadlib.runs import distributed
from vadlib.runs.experiment import Experiment, execute, run_dir
from vadlib.runs.train import data_loader, endless, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WORLD_SIZE = 2
ROOT = Path(__file__).resolve().parents[2]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(8, 3, generator=generator, dtype=torch.float64),
            torch.randn(8, 1, generator=generator, dtype=torch.float64))


def _dataset() -> torch.utils.data.TensorDataset:
    generator = torch.Generator().manual_seed(2)
    return torch.utils.data.TensorDataset(torch.randn(18, 3, generator=generator, dtype=torch.float64),
                                          torch.randn(18, 1, generator=generator, dtype=torch.float64))


def _gradients() -> list[torch.Tensor]:
    """The gradient of the model's mean squared error on this rank's part of the fixed batch
    (the whole batch in a single process), through DDP when distributed."""
    model = _model()
    wrapped = distributed.wrap(model)
    rank, world_size, _ = distributed.world()
    inputs, targets = (part.chunk(world_size)[rank] for part in _batch())
    nn.functional.mse_loss(wrapped(inputs), targets).backward()
    return [p.grad for p in model.parameters()]


def _epochs(count: int = 2) -> list[list[list[int]]]:
    """The indices of every batch of a seeded training loader over ``count`` epochs."""
    loader = data_loader(list(range(11)), 4, shuffle=True, seed=3)
    return [[batch.tolist() for batch in loader] for _ in range(count)]


class _Recorder:
    """A run context that has no checkpoint and counts the ones it is asked to save."""

    def __init__(self):
        self.saved = []

    def load_checkpoint(self):
        return None

    def save_checkpoint(self, state):
        self.saved.append(state["step"])


def _train() -> dict:
    """Five steps of the training loop on 4-example batches, checkpointing every 2 steps."""
    model = _model()
    ctx = _Recorder()
    batches = endless(data_loader(_dataset(), 4, shuffle=True, seed=0))
    history = train(model, lambda batch: (nn.functional.mse_loss(model(batch[0]), batch[1]), {}), batches,
                    schedule=Schedule(epochs=1, batch_size=4, lr=0.05), total_steps=5, ctx=ctx,
                    checkpoint_every=2, progress=False)
    return {"parameters": [p.detach().clone() for p in model.parameters()], "saved": ctx.saved,
            "losses": [h["loss"] for h in history]}


@dataclass(frozen=True)
class _TinyRun(Experiment):
    """A cached experiment that trains the small model a few steps, checkpointing every 2."""

    kind: ClassVar[str] = "test_ddp"
    steps: int = 5

    def code_units(self) -> tuple[str, ...]:
        return ("train",)

    def run(self, ctx) -> dict:
        model = _model()
        batches = endless(data_loader(_dataset(), 4, shuffle=True, seed=0))
        history = train(model, lambda batch: (nn.functional.mse_loss(model(batch[0]), batch[1]), {}), batches,
                        schedule=Schedule(epochs=1, batch_size=4, lr=0.05), total_steps=self.steps, ctx=ctx,
                        checkpoint_every=2, progress=False)
        return {"losses": [h["loss"] for h in history], "weight": float(next(model.parameters()).sum())}

    def dry_run(self, ctx) -> dict:
        return {}


def _worker(rank: int, port: int, out: str) -> None:
    import os
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    assert distributed.init_process_group_if_needed("cpu")
    try:
        os.environ["VADLIB_RUNS"] = str(Path(out) / "runs")
        torch.save({"world": distributed.world(), "gradients": _gradients(), "epochs": _epochs(),
                    "train": _train(), "executed": execute(_TinyRun())}, Path(out) / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    """What each of the two gloo ranks saw."""
    out = tmp_path_factory.mktemp("ranks")
    with pytest.MonkeyPatch.context() as patch:
        # spawned children import this file by its module name, found from the repository root
        patch.syspath_prepend(str(ROOT))
        mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD_SIZE, join=True)
    return [{**torch.load(out / f"rank{rank}.pt"), "out": out} for rank in range(WORLD_SIZE)]


@pytest.fixture
def single_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


def test_a_plain_process_is_rank_0_of_1(single_process):
    assert distributed.world() == (0, 1, 0)
    assert distributed.is_main() and not distributed.is_distributed()
    assert not distributed.init_process_group_if_needed("cpu")
    model = nn.Linear(2, 2)
    assert distributed.wrap(model) is model


def test_ddp_averages_the_gradients_of_the_halves_into_the_whole_batchs(ranks, single_process):
    expected = _gradients()
    for seen in ranks:
        assert len(seen["gradients"]) == len(expected)
        for got, want in zip(seen["gradients"], expected):
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    assert [seen["world"] for seen in ranks] == [(0, 2, 0), (1, 2, 1)]


def test_the_ranks_split_every_batch_of_the_single_process_order(ranks, single_process):
    """Disjoint halves of each step's batch, whose union is that step's single-process batch,
    epoch after epoch (11 examples in batches of 4: the last 3 of each epoch are dropped)."""
    first, second = (seen["epochs"] for seen in ranks)
    for epoch, (mine, theirs, whole) in enumerate(zip(first, second, _epochs())):
        assert len(mine) == len(theirs) == len(whole) == 2, epoch
        for a, b, batch in zip(mine, theirs, whole):
            assert len(a) == len(b) == 2 and not set(a) & set(b)
            assert sorted(a + b) == sorted(batch)
    assert _epochs()[0] != _epochs()[1]  # a reshuffle per epoch, which the ranks follow


def test_training_on_two_ranks_matches_one_process_and_only_rank_0_checkpoints(ranks, single_process):
    first, second = (seen["train"] for seen in ranks)
    for a, b in zip(first["parameters"], second["parameters"]):
        assert torch.equal(a, b)
    assert first["saved"] == [2, 4] and second["saved"] == []
    alone = _train()
    assert alone["saved"] == [2, 4]
    for got, want in zip(first["parameters"], alone["parameters"]):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert first["losses"] == second["losses"] == pytest.approx(alone["losses"], rel=1e-10)


def test_a_global_batch_must_divide_among_the_ranks():
    batches = torch.utils.data.BatchSampler(range(10), 3, drop_last=True)
    with pytest.raises(ValueError, match="does not divide among 2 ranks"):
        distributed.ShardedBatchSampler(batches, 0, 2)
    short_last = torch.utils.data.BatchSampler(range(7), 4, drop_last=False)
    assert [list(distributed.ShardedBatchSampler(short_last, rank, 2)) for rank in (0, 1)] == [
        [[0, 1], [4, 5]], [[2, 3], [6]]]


def test_cuda_trains_in_bf16_where_the_gpu_has_it_else_float16(monkeypatch):
    from vadlib.runs.train import autocast_dtype
    assert autocast_dtype("cpu") is None
    for hardware, expected in ((True, torch.bfloat16), (False, torch.float16)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: hardware)
        assert autocast_dtype("cuda") is expected and autocast_dtype("cuda:1") is expected


def test_an_experiment_run_under_torchrun_is_stored_once_by_rank_0(ranks, single_process):
    """Every rank executes the run (no lock wait between them); rank 0 alone writes its directory,
    and both return the same results."""
    first, second = (seen["executed"] for seen in ranks)
    assert first == second and len(first["losses"]) == 5
    runs = ranks[0]["out"] / "runs"
    assert [p.name for p in runs.iterdir()] == [run_dir(_TinyRun(), runs).name]
    assert (run_dir(_TinyRun(), runs) / "results.json").exists()
    assert not (run_dir(_TinyRun(), runs) / "checkpoint.pt").exists()
