"""What a SLURM job of a run asks for, and the names of the executors: light to import (the
command line builds its parser from them without loading torch)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

EXECUTORS = ("local", "slurm")


class ExecutorError(RuntimeError):
    """An executor cannot start: a missing scheduler, a bad option, an unreadable config file."""


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
    """What a SLURM job of a run asks for. Read from a YAML file (``--slurm-config``, or
    ``$VADLIB_SLURM_CONFIG``) whose keys are these field names; command-line flags win."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    time: str = "24:00:00"  # per job: minutes, HH:MM:SS or D-HH:MM:SS
    gpus_per_run: int = 0
    ranks_per_run: int | None = None  # data-parallel ranks (tasks) per run; default: one per GPU, or one
    cpus_per_run: int = 1  # per task (rank)
    mem_gb: float | None = None
    runs_per_job: int = 1
    array_parallelism: int = 256  # array tasks running at once
    max_requeues: int = 3  # time-outs survived by requeueing (preemptions always requeue)
    setup: tuple[str, ...] = ()  # shell lines run before each job, e.g. "module load cuda"

    @classmethod
    def from_file(cls, path: Path) -> "SlurmOptions":
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ExecutorError(f"SLURM config {path}: {error}") from None
        if not isinstance(data, dict):
            raise ExecutorError(f"SLURM config {path}: expected a mapping of options, got {type(data).__name__}")
        return cls().with_overrides(**data, _source=str(path))

    def with_overrides(self, _source: str = "options", **values: Any) -> "SlurmOptions":
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ExecutorError(f"{_source}: unknown SLURM option(s) {', '.join(unknown)}; "
                                f"known: {', '.join(fields)}")
        values = {k: v for k, v in values.items() if v is not None}
        if "setup" in values:
            setup = values["setup"]
            values["setup"] = (setup,) if isinstance(setup, str) else tuple(setup)
        options = dataclasses.replace(self, **values)
        options.validate(_source)
        return options

    def validate(self, source: str = "options") -> None:
        time_minutes(self.time)
        for name in ("gpus_per_run", "ranks_per_run", "cpus_per_run", "runs_per_job", "array_parallelism",
                     "max_requeues"):
            value = getattr(self, name)
            if name == "ranks_per_run" and value is None:
                continue
            low = 0 if name in ("gpus_per_run", "max_requeues") else 1
            if not isinstance(value, int) or value < low:
                raise ExecutorError(f"{source}: {name} must be an integer >= {low}, got {value!r}")

    @property
    def tasks(self) -> int:
        """Tasks (ranks) per job: one per GPU, one without GPUs."""
        return self.ranks_per_run or max(1, self.gpus_per_run)

    def submitit_parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "name": "vadlib", "timeout_min": time_minutes(self.time), "nodes": 1,
            "tasks_per_node": self.tasks, "cpus_per_task": self.cpus_per_run,
            "slurm_array_parallelism": self.array_parallelism,
            "stderr_to_stdout": True,  # one log per job: tracebacks beside the progress
        }
        if self.gpus_per_run:
            parameters["gpus_per_node"] = self.gpus_per_run
        if self.mem_gb:
            parameters["mem_gb"] = self.mem_gb
        for name in ("partition", "account", "qos", "constraint"):
            if getattr(self, name):
                parameters[f"slurm_{name}"] = getattr(self, name)
        if self.setup:
            parameters["slurm_setup"] = list(self.setup)
        return parameters


def time_minutes(text: str | int) -> int:
    """SLURM's time formats as minutes: ``90``, ``1:30:00``, ``2-00:00:00``, ``45:00`` (MM:SS)."""
    if isinstance(text, int) and text > 0:
        return text
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if not match:
        raise ExecutorError(f"--time: expected minutes, HH:MM:SS or D-HH:MM:SS, got {text!r}")
    days, first, second, third = match.groups()
    if third is not None:  # [D-]HH:MM:SS
        minutes = int(first) * 60 + int(second) + (int(third) > 0)
    elif second is not None:  # D-HH:MM or MM:SS
        minutes = int(first) * 60 + int(second) if days else int(first) + (int(second) > 0)
    else:  # D-HH or minutes
        minutes = int(first) * 60 if days else int(first)
    minutes += int(days or 0) * 24 * 60
    if minutes < 1:
        raise ExecutorError(f"--time must be at least one minute, got {text!r}")
    return minutes
