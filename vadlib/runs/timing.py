"""Inference time per example, measured the way Tables C.6 and D.7 report it.

The papers give milliseconds per example on an RTX 3090 and the relative expansion a block adds
((with − without) / without). Absolute times depend on the machine; the relative expansion is the
number to compare. Measurements here: warm-up calls first, then the median of ``repeats`` timed
calls of a whole batch divided by its size, with CUDA synchronised around each call.
"""

from __future__ import annotations

import importlib
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import pandas as pd

import torch

from vadlib.runs.experiment import Experiment, execute


def ms_per_example(fn: Callable[[torch.Tensor], object], batch: torch.Tensor, *, warmup: int = 2,
                   repeats: int = 7, grad: bool = False) -> float:
    """Median wall time of ``fn(batch)``, in ms per example of ``batch``; under
    ``torch.no_grad()`` unless ``grad`` (to time training steps)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    cuda = batch.is_cuda
    times = []
    with torch.set_grad_enabled(grad):
        for i in range(warmup + repeats):
            if cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
            fn(batch)
            if cuda:
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times) / len(batch)


def ms_per_example_round_robin(fns: dict, batch: torch.Tensor, *, warmup: int = 2, repeats: int = 7,
                                grad: bool = False) -> dict:
    """:func:`ms_per_example` of several functions on one batch, timed in alternation (one call of
    each per round) so that drifts of a noisy machine hit all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(ms_per_example(fn, batch, warmup=warmup, repeats=1, grad=grad))
        warmup = 0
    return {name: statistics.median(values) for name, values in times.items()}


def relative_expansion(with_block: float, without: float) -> float:
    """(with − without) / without, in %: the "relative time expansion" of Table C.6."""
    return 100 * (with_block - without) / without


#: stable name of a measurement -> "module:function" that makes it (returns a DataFrame). The name
#: is the measurement's identity in the cache; the function may move (update this table).
MEASUREMENTS = {
    "image_inference_times": "vadlib.runs.image_ad:inference_times",
    "video_speed": "vadlib.runs.video_ad:measure_speed",
}


@dataclass(frozen=True)
class Measurement(Experiment):
    """A speed measurement made once and cached like a training run.

    Timings change from run to run; caching them makes a rerun of a notebook write the same
    tables byte for byte, like every other cached result. ``what`` names an entry of
    :data:`MEASUREMENTS`, called with the keyword ``arguments`` (canonical JSON); ``units`` are
    the code units it times. To measure again, delete the run's directory
    (``vadlib.runs.experiment.run_dir(config)``).
    """

    kind: ClassVar[str] = "measurement"

    what: str
    arguments: str
    units: tuple[str, ...] = ()

    def code_units(self) -> tuple[str, ...]:
        return ("run:measurement",) + self.units

    def run(self, ctx) -> dict[str, Any]:
        if self.what not in MEASUREMENTS:
            raise KeyError(f"unknown measurement {self.what!r}; known: {', '.join(MEASUREMENTS)}")
        module, _, name = MEASUREMENTS[self.what].partition(":")
        frame = getattr(importlib.import_module(module), name)(**json.loads(self.arguments))
        return {"rows": json.loads(frame.to_json(orient="records"))}

    def dry_run(self, ctx) -> dict[str, Any]:
        return {}


def measurement(what: str, units: tuple[str, ...] = (), **arguments) -> Measurement:
    """The cached-run config of measurement ``what`` with ``arguments`` (for the plans of an
    executor: measured on the machine the runs go to, e.g. a GPU node)."""
    return Measurement(what, json.dumps(arguments, sort_keys=True), tuple(sorted(units)))


def measured(what: str, units: tuple[str, ...] = (), **arguments) -> pd.DataFrame:
    """The DataFrame of measurement ``what`` with ``arguments``, from the cache after the first call."""
    return pd.DataFrame(execute(measurement(what, units, **arguments))["rows"])
