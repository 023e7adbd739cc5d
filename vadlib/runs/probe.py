"""A tiny experiment that checks an executor end to end: submission, checkpoints, requeue, resume.

``vadlib runs probe --executor slurm`` runs a few of them on a cluster before GPU-days are spent
there; the tests of :mod:`vadlib.runs.executors` use them to interrupt a job mid-run and watch it
resume. A probe takes ``steps`` steps of ``seconds_per_step`` each, saving a checkpoint after each
one (and fails at ``fail_at_step`` when asked to); its ``value`` depends on ``seed`` and ``steps`` only, whether or not it was interrupted, so an
interrupted probe that resumed and one that ran straight through agree.

With ``train_steps`` it then trains a tiny linear model with the library's training loop
(:func:`vadlib.runs.train.train`): under several ranks (``--ranks-per-run``) that is data-parallel
training, whose losses must equal one process's, so a probe checks a cluster's DDP set-up too.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import time
from typing import Any

import torch
from torch import nn

from vadlib.runs import distributed
from vadlib.runs.experiment import Experiment, RunContext


@dataclasses.dataclass(frozen=True)
class Probe(Experiment):
    """``steps`` checkpointed steps of ``seconds_per_step`` seconds; see the module docstring."""

    kind = "probe"
    steps: int = 3
    seconds_per_step: float = 0.0
    seed: int = 0
    fail_at_step: int | None = None  # raise there: how an executor shows a failed run
    train_steps: int = 0

    def code_units(self) -> tuple[str, ...]:
        return ("run:probe", "train")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        state = ctx.load_checkpoint() or {"step": 0, "value": 0.0, "starts": 0}
        resumed_from, starts, value = int(state["step"]), int(state["starts"]) + 1, float(state["value"])
        for step in range(resumed_from, self.steps):
            if step == self.fail_at_step:
                raise RuntimeError(f"probe asked to fail at step {step}")
            time.sleep(self.seconds_per_step)
            value += math.sin(self.seed + step)
            ctx.save_checkpoint({"step": step + 1, "value": value, "starts": starts})
        results = {"value": value, "starts": starts, "resumed_from_step": resumed_from, "host": socket.gethostname(),
                   "world_size": distributed.world()[1]}
        if self.train_steps:
            results["losses"] = self._train()
        return results

    def _train(self) -> list[float]:
        from vadlib.models.schedule import Schedule
        from vadlib.runs.train import data_loader, endless, train

        generator = torch.Generator().manual_seed(self.seed)
        inputs = torch.randn(32, 4, generator=generator)
        targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        torch.manual_seed(self.seed)
        model = nn.Linear(4, 1)
        batches = endless(data_loader(list(zip(inputs, targets)), 8, shuffle=True, seed=self.seed))
        history = train(model, lambda batch: (nn.functional.mse_loss(model(batch[0]), batch[1]), {}), batches,
                        schedule=Schedule(epochs=1, batch_size=8, lr=0.05), total_steps=self.train_steps,
                        progress=False)
        return [round(float(h["loss"]), 6) for h in history]

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        return {"steps": 1}
