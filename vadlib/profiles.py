"""The three profiles: one code path, three sizes.

``smoke``  (default) synthetic twins of every dataset, tiny models, CPU, the whole suite in minutes.
``quick``  the real datasets, the papers' architectures, shortened schedules, one GPU.
``full``   the papers' protocols, a GPU cluster.

A profile only changes numbers (sizes, schedules, where data comes from), never which code runs.
This module is the one place where profiles are defined: every knob is listed in :data:`KNOBS` with
its value per profile, and every knob can be overridden, e.g. by a papermill parameter::

    settings = resolve("smoke", max_steps=5)
    settings.max_steps  # -> 5
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

PROFILE_NAMES = ("smoke", "quick", "full")
DEFAULT_PROFILE = "smoke"


@dataclass(frozen=True)
class Knob:
    description: str
    smoke: Any
    quick: Any
    full: Any
    choices: tuple = ()
    kind: type = str  # the type of a value; None is allowed where a profile uses None
    minimum: float | None = None


KNOBS: Mapping[str, Knob] = MappingProxyType({
    "data_source": Knob(
        "where datasets come from: generated synthetic twins, or the real sets under data_root",
        "synthetic", "real", "real", choices=("synthetic", "real")),
    "data_root": Knob(
        "dataset root directory; None means vadlib.paths.data_root() (env VADLIB_DATA)",
        None, None, None),
    "model_size": Knob(
        "'tiny' models sized for a CPU, or the 'paper' architectures",
        "tiny", "paper", "paper", choices=("tiny", "paper")),
    "epoch_fraction": Knob(
        "fraction of each paper's training schedule (epochs or iterations) that is run",
        0.01, 0.1, 1.0, kind=float, minimum=0.0),
    "max_steps": Knob(
        "hard cap on optimisation steps per run; None means no cap",
        20, None, None, kind=int, minimum=1),
    "eval_limit": Knob(
        "largest number of test items (frames, images, sequences) evaluated per run; None = all",
        64, None, None, kind=int, minimum=1),
    "class_limit": Knob(
        "largest number of classes run per per-class table (MVTec AD: textures and objects "
        "alternate); None = all", 2, None, None, kind=int, minimum=1),
    "ablation_limit": Knob(
        "largest number of rows run per ablation table (the printed order, baseline first); "
        "None = all", 4, None, None, kind=int, minimum=1),
    "num_workers": Knob("data-loader worker processes", 0, 8, 8, kind=int, minimum=0),
    "device": Knob(
        "'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'", "auto", "auto", "auto"),
    "seed": Knob("seed for every random number generator of a run", 0, 0, 0, kind=int, minimum=0),
})


@dataclass(frozen=True)
class Settings:
    """The resolved knobs of one profile plus overrides; read them as attributes."""

    profile: str
    knobs: Mapping[str, Any] = field(default_factory=dict)
    overridden: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        knobs = object.__getattribute__(self, "knobs")
        if name in knobs:
            return knobs[name]
        raise AttributeError(f"no knob named {name!r}; knobs: {', '.join(sorted(knobs))}")

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, **dict(self.knobs)}


def check_profile(name: str) -> str:
    if name not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return name


def _check_value(name: str, knob: Knob, value: Any) -> Any:
    if knob.choices and value not in knob.choices:
        raise ValueError(f"knob {name!r} must be one of {', '.join(map(str, knob.choices))}; got {value!r}")
    nullable = None in (knob.smoke, knob.quick, knob.full)
    if value is None:
        if not nullable:
            raise ValueError(f"knob {name!r} cannot be None")
        return None
    if knob.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, knob.kind):
        raise ValueError(f"knob {name!r} expects {knob.kind.__name__}{' or None' if nullable else ''}; got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"knob {name!r} must be a finite number; got {value!r}")
    if knob.minimum is not None and value < knob.minimum:
        raise ValueError(f"knob {name!r} must be at least {knob.minimum}; got {value!r}")
    if name == "device" and not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", value):
        raise ValueError(f"knob 'device' must be auto, cpu, cuda, cuda:N or mps; got {value!r}")
    return value


def resolve(profile: str = DEFAULT_PROFILE, **overrides: Any) -> Settings:
    """Knob values of ``profile`` with ``overrides`` applied.

    Unknown profiles or knob names and values of the wrong type raise ``ValueError`` naming the
    valid choices. An override of ``None`` is taken literally (e.g. ``max_steps=None``: no cap).
    """
    check_profile(profile)
    unknown = sorted(set(overrides) - set(KNOBS))
    if unknown:
        raise ValueError(f"unknown knob(s) {', '.join(unknown)}; valid knobs: {', '.join(KNOBS)}")
    values = {}
    for name, knob in KNOBS.items():
        default = getattr(knob, profile)
        values[name] = _check_value(name, knob, overrides[name]) if name in overrides else default
    return Settings(profile, MappingProxyType(values), tuple(sorted(overrides)))


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when PyTorch sees a GPU, else ``cpu``; anything else is returned as given."""
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


#: environment variables that set the math threads of a process (torch reads them at start-up)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def math_threads(jobs: int = 1, cores: int | None = None, load: float | None = None) -> int:
    """Math threads (torch intra-op, OpenMP, MKL) for each of ``jobs`` processes running at once.

    A math thread that has to wait for a core held by another process stalls the whole parallel
    kernel it belongs to: on a 2-core machine with one other busy process, two threads per kernel
    ran the tracker at under 1 frame/s against ~90 with one (``benchmarks/README.md``). So the
    threads are the cores not already busy -- ``cores`` minus the 1-minute load average (read
    when the work starts), rounded, keeping at least one -- shared evenly among the jobs, at least
    one each. ``OMP_NUM_THREADS`` set by the user overrides this (:func:`apply_math_threads`).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    cores = cores or os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):  # no load average on this platform
            load = 0.0
    busy = min(cores - 1, max(0, round(load)))
    return max(1, (cores - busy) // jobs)


def apply_math_threads(jobs: int = 1) -> int:
    """Set this process's math threads -- and its children's, through :data:`THREAD_VARIABLES` --
    to :func:`math_threads` unless ``OMP_NUM_THREADS`` is already set; returns the number used."""
    chosen = os.environ.get("OMP_NUM_THREADS", "")
    threads = int(chosen) if chosen.isdigit() and int(chosen) > 0 else math_threads(jobs)
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    torch = sys.modules.get("torch")  # imported later, torch reads OMP_NUM_THREADS itself
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


def describe() -> str:
    """A Markdown table of every knob and its value per profile (used in the README)."""
    lines = ["| knob | smoke | quick | full | meaning |", "|---|---|---|---|---|"]
    for name, knob in KNOBS.items():
        lines.append(f"| `{name}` | {knob.smoke!r} | {knob.quick!r} | {knob.full!r} | {knob.description} |")
    return "\n".join(lines)
