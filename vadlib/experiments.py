"""Experiments as cached pure functions of a config.

An experiment is a frozen dataclass holding its whole configuration; ``run(ctx)`` trains and
evaluates and returns a JSON-serialisable results dict. Results and checkpoints live in
``runs/<config-hash>/``::

    config.json      the config that produced this directory
    checkpoint.pkl   the last state saved with ctx.save_checkpoint (while unfinished)
    results.json     config hash, results, a checksum of both, wall time

A finished run is reused; an interrupted one resumes from its checkpoint; a corrupt results file or
checkpoint is recomputed, never trusted. Executors decide where runs execute: :class:`LocalExecutor`
runs them one after another in this process; a cluster executor implements the same
:class:`Executor` interface (``map`` over configs, yielding results in order).
"""

from __future__ import annotations

import abc
import dataclasses
import fcntl
import hashlib
import json
import logging
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from tqdm.auto import tqdm

from vadlib import paths
from vadlib.artifacts import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Experiment(abc.ABC):
    """Base class of every experiment config. Subclasses add fields and implement the methods."""

    @abc.abstractmethod
    def run(self, ctx: "RunContext") -> dict[str, Any]:
        """Train and evaluate; checkpoint through ``ctx``; return the results."""

    @abc.abstractmethod
    def dry_run(self, ctx: "RunContext") -> dict[str, Any]:
        """Build the model and data at this config's sizes on the synthetic twins and take one
        training and one evaluation step. Returns e.g. parameter count and step time."""

    def dry_run_key(self) -> str:
        """Configs with the same key build the same model on the same kind of data, so a dry run
        checks one of them (default: every config is its own)."""
        return config_hash(self)

    def gpu_hours(self) -> float:
        """Estimated GPU-hours of :meth:`run` on one modern GPU (for ``reproduce --dry-run``)."""
        return 0.0

    @property
    def name(self) -> str:
        return type(self).__name__

    def config_dict(self) -> dict[str, Any]:
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}", "fields": dataclasses.asdict(self)}


class UsesData:
    """Mixin of experiments with ``data_source`` and ``data_root`` fields: where their data are."""

    def data_settings(self):
        """Settings that locate the data of this run (the twins of seed 0, or the real sets)."""
        from vadlib import profiles
        return profiles.resolve("smoke", data_source=self.data_source, data_root=self.data_root, seed=0)

    def dataset_root(self, name: str) -> Path:
        from vadlib.data import dataset_root
        return dataset_root(name, self.data_settings())


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def config_hash(config: Experiment) -> str:
    """16 hex digits of sha256 over the config's class name and fields (canonical JSON)."""
    return hashlib.sha256(_canonical(config.config_dict())).hexdigest()[:16]


class RunContext:
    """What a running experiment may touch: its directory and its checkpoint."""

    def __init__(self, directory: Path, config: Experiment):
        self.dir = directory
        self.config = config
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.pkl"

    def save_checkpoint(self, state: Any) -> None:
        """Atomically replace the checkpoint with ``state`` (anything picklable, tensors included)."""
        atomic_write_bytes(self.checkpoint_path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def load_checkpoint(self) -> Any | None:
        """The last saved state, or ``None`` when there is none or it cannot be read."""
        if not self.checkpoint_path.exists():
            return None
        try:
            return pickle.loads(self.checkpoint_path.read_bytes())
        except Exception as error:  # a truncated or foreign file: start over rather than trust it
            log.warning("ignoring unreadable checkpoint %s (%s)", self.checkpoint_path, error)
            return None


def run_dir(config: Experiment, root: Path | None = None) -> Path:
    return (root or paths.runs_dir()) / config_hash(config)


def cached_results(config: Experiment, root: Path | None = None) -> dict[str, Any] | None:
    """The results of a finished run of ``config``, or ``None`` if absent, unfinished or corrupt."""
    path = run_dir(config, root) / "results.json"
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
        body = {"config_hash": stored["config_hash"], "results": stored["results"]}
        valid = stored["config_hash"] == config_hash(config) and stored["checksum"] == hashlib.sha256(_canonical(body)).hexdigest()
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        log.warning("cache entry %s is corrupt; recomputing", path)
        return None
    return stored["results"]


def execute(config: Experiment, root: Path | None = None) -> dict[str, Any]:
    """Results of ``config``: from the cache if finished, else run (resuming from a checkpoint)."""
    results = cached_results(config, root)
    if results is not None:
        return results
    directory = run_dir(config, root)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be running this very config
        try:
            results = cached_results(config, root)
            return results if results is not None else _run(config, directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(config: Experiment, directory: Path) -> dict[str, Any]:
    ctx = RunContext(directory, config)
    atomic_write_text(directory / "config.json", json.dumps(config.config_dict(), indent=1, default=str) + "\n")
    started = time.perf_counter()
    results = config.run(ctx)
    body = {"config_hash": config_hash(config), "results": results}
    json.dumps(results)  # results must be JSON-serialisable; fail before claiming the run finished
    stored = {**body, "checksum": hashlib.sha256(_canonical(body)).hexdigest(),
              "wall_time_s": round(time.perf_counter() - started, 3)}
    atomic_write_text(directory / "results.json", json.dumps(stored, indent=1, default=str) + "\n")
    ctx.checkpoint_path.unlink(missing_ok=True)
    return results


class Executor(abc.ABC):
    """Where runs execute. ``map`` yields one results dict per config, in order."""

    @abc.abstractmethod
    def map(self, configs: Sequence[Experiment], root: Path | None = None) -> Iterator[dict[str, Any]]:
        ...


class LocalExecutor(Executor):
    """Runs configs one after another in this process, with a progress bar."""

    def __init__(self, progress: bool = True):
        self.progress = progress

    def map(self, configs: Sequence[Experiment], root: Path | None = None) -> Iterator[dict[str, Any]]:
        for config in tqdm(configs, desc="runs", disable=not self.progress or len(configs) < 2):
            yield execute(config, root)


def run_experiments(configs: Iterable[Experiment], executor: Executor | None = None,
                    root: Path | None = None) -> list[dict[str, Any]]:
    """Results of every config (cached ones reused), in order."""
    return list((executor or LocalExecutor()).map(list(configs), root))


def dry_run(config: Experiment) -> dict[str, Any]:
    """One training and one evaluation step of ``config`` in a throw-away directory."""
    directory = Path(tempfile.mkdtemp(prefix="vadlib-dry-run-"))
    try:
        started = time.perf_counter()
        report = config.dry_run(RunContext(directory, config))
        return {"seconds": round(time.perf_counter() - started, 3), **report}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
