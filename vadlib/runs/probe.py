"""A tiny experiment that checks an executor end to end: submission, checkpoints, requeue, resume.

``vadlib runs probe --executor slurm`` runs a few of them on a cluster before GPU-days are spent
there; the tests of :mod:`vadlib.runs.executors` use them to interrupt a job mid-run and watch it
resume. A probe takes ``steps`` steps of ``seconds_per_step`` each, saving a checkpoint after each
one (and fails at ``fail_at_step`` when asked to); its ``value`` depends on ``seed`` and ``steps`` only, whether or not it was interrupted, so an
interrupted probe that resumed and one that ran straight through agree.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import time
from typing import Any

from vadlib.runs.experiment import Experiment, RunContext


@dataclasses.dataclass(frozen=True)
class Probe(Experiment):
    """``steps`` checkpointed steps of ``seconds_per_step`` seconds; see the module docstring."""

    kind = "probe"
    steps: int = 3
    seconds_per_step: float = 0.0
    seed: int = 0
    fail_at_step: int | None = None  # raise there: how an executor shows a failed run

    def run(self, ctx: RunContext) -> dict[str, Any]:
        state = ctx.load_checkpoint() or {"step": 0, "value": 0.0, "starts": 0}
        resumed_from, starts, value = int(state["step"]), int(state["starts"]) + 1, float(state["value"])
        for step in range(resumed_from, self.steps):
            if step == self.fail_at_step:
                raise RuntimeError(f"probe asked to fail at step {step}")
            time.sleep(self.seconds_per_step)
            value += math.sin(self.seed + step)
            ctx.save_checkpoint({"step": step + 1, "value": value, "starts": starts})
        return {"value": value, "starts": starts, "resumed_from_step": resumed_from, "host": socket.gethostname()}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        return {"steps": 1}
