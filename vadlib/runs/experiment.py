"""Experiments as cached pure functions of a config.

An experiment is a frozen dataclass holding its whole configuration; ``run(ctx)`` trains and
evaluates and returns a JSON-serialisable results dict. Results and checkpoints live in
``runs/<key>/``::

    config.json      kind, fields and code versions that produced this directory
    checkpoint.pt    the last state saved with ctx.save_checkpoint (while unfinished)
    <files>          what the run keeps for figures (examples.npz, masks.npz, model.pt, ...)
    results.json     key, results, size and sha256 of each kept file, a checksum of all three,
                     wall time; written last, it marks the run finished

The key (16 hex digits) hashes three things: the experiment's stable ``kind`` (a name such as
``image_ad``, never its module path, so code can move), its fields, and the versions of the code
units it runs (:mod:`vadlib.runs.code`: a change to a host's code, versioned, changes the keys of
the runs that use that host and no other). A finished run is reused; an interrupted one resumes
from its checkpoint; a corrupt results file or checkpoint is recomputed, never trusted. Every file
is written atomically (:func:`vadlib.artifacts.atomic_write`), and :func:`cached_file` checks a kept
file against its recorded size and sha256 before loading it: a truncated or altered file makes the
run recompute once. Runs finished before files were recorded carry no record; their files are
loaded unverified (and recomputed when loading fails).
Checkpoints hold tensors and plain containers only and are read with ``weights_only=True``:
whoever can write the runs directory cannot make a reader execute code.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, ClassVar, Iterable, Iterator, Mapping, TypeVar

import torch
from tqdm.auto import tqdm

from vadlib import paths
from vadlib.artifacts import atomic_write, atomic_write_text
from vadlib.runs import code, distributed, locking
from vadlib.runs.train import scaled_steps

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much of a paper's protocol a run spends: model size, schedule fraction and caps.

    Built once from a profile's settings (:meth:`from_settings`); every training run carries one.
    """

    model_size: str = "tiny"  # tiny | paper
    epoch_fraction: float = 0.01  # of the paper's epochs or iterations
    max_steps: int | None = 20  # hard cap on optimisation steps; None = no cap
    eval_limit: int | None = 64  # largest number of test items evaluated; None = all

    @classmethod
    def from_settings(cls, settings) -> "Budget":
        return cls(settings.model_size, settings.epoch_fraction, settings.max_steps, settings.eval_limit)

    def steps(self, epochs: float, steps_per_epoch: int) -> int:
        """Optimisation steps of ``epochs`` × ``steps_per_epoch`` scaled by ``epoch_fraction``,
        capped by ``max_steps``; at least one."""
        return scaled_steps(epochs, steps_per_epoch, self.epoch_fraction, self.max_steps)


@dataclasses.dataclass(frozen=True)
class Experiment(abc.ABC):
    """Base class of every experiment config. Subclasses set ``kind``, add fields and implement
    the methods."""

    #: stable name of the experiment family in the cache key; never rename one with cached runs
    kind: ClassVar[str]

    @abc.abstractmethod
    def run(self, ctx: "RunContext") -> dict[str, Any]:
        """Train and evaluate; checkpoint through ``ctx``; return the results."""

    @abc.abstractmethod
    def dry_run(self, ctx: "RunContext") -> dict[str, Any]:
        """Build the model and data at this config's sizes on the synthetic twins and take one
        training and one evaluation step. Returns e.g. parameter count and step time."""

    def code_units(self) -> tuple[str, ...]:
        """The code units (:data:`vadlib.runs.code.UNITS`) whose versions join this run's key."""
        return (f"run:{self.kind}",)

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
        return {"kind": self.kind, "fields": dataclasses.asdict(self), "code": code.versions(self.code_units())}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def config_hash(config: Experiment) -> str:
    """16 hex digits of sha256 over the config's kind, fields and code versions (canonical JSON)."""
    return hashlib.sha256(_canonical(config.config_dict())).hexdigest()[:16]


class RunContext:
    """What a running experiment may touch: its directory and its checkpoint."""

    def __init__(self, directory: Path, config: Experiment):
        self.dir = directory
        self.config = config
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def write_file(self, name: str, writer: Callable[[BinaryIO], Any]) -> Path:
        """Keep the file ``name`` in the run directory, written atomically by ``writer(stream)``
        (e.g. ``lambda f: np.savez_compressed(f, **arrays)``). Its size and sha256 are recorded
        when the run finishes; read it back with :func:`cached_file`."""
        path = self.dir / name
        atomic_write(path, writer)
        return path

    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Atomically replace the checkpoint with ``state``: tensors, numbers, strings and
        (nested) dicts, lists and tuples of them, nothing else."""
        atomic_write(self.checkpoint_path, lambda stream: torch.save(state, stream))

    def load_checkpoint(self) -> Any | None:
        """The last saved state, or ``None`` when there is none or it cannot be read safely."""
        if not self.checkpoint_path.exists():
            return None
        try:
            return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, foreign, or holding objects: start over, never trust it
            log.warning("ignoring unreadable checkpoint %s (%s)", self.checkpoint_path, error)
            return None


class FollowerContext(RunContext):
    """A run as a non-main rank of a torchrun job sees it: it resumes from rank 0's checkpoint in
    the run directory, saves none, and writes its files to a scratch directory that is discarded
    (rank 0 writes the run's files and results)."""

    def __init__(self, directory: Path, config: Experiment, scratch: Path):
        super().__init__(scratch, config)
        self.shared = directory

    @property
    def checkpoint_path(self) -> Path:
        return self.shared / "checkpoint.pt"

    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        return None


def run_dir(config: Experiment, root: Path | None = None) -> Path:
    return (root or paths.runs_dir()) / config_hash(config)


#: files of a run directory that are the cache's own bookkeeping, not what the run keeps
_BOOKKEEPING = {"config.json", "results.json", "checkpoint.pt", ".lock"}


def _checksum(stored: Mapping[str, Any]) -> str:
    """sha256 of a results file's key, results and (when recorded) files. Runs finished before
    files were recorded have no ``files`` entry, and their checksum covers key and results only."""
    body = {"config_hash": stored["config_hash"], "results": stored["results"]}
    if "files" in stored:
        body["files"] = stored["files"]
    return hashlib.sha256(_canonical(body)).hexdigest()


def _read_results(directory: Path) -> dict[str, Any] | None:
    """The intact results file of the run in ``directory`` (key, results, files, checksum), or
    ``None`` when it is absent, unreadable, fails its checksum or belongs to another key."""
    path = directory / "results.json"
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
        valid = stored["config_hash"] == directory.name and stored["checksum"] == _checksum(stored)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        log.warning("cache entry %s is corrupt; recomputing", path)
        return None
    return stored


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _record_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file the run kept in ``directory`` (not the bookkeeping, nor
    hidden temporary files)."""
    return {path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            for path in sorted(directory.iterdir())
            if path.is_file() and path.name not in _BOOKKEEPING and not path.name.startswith(".")}


def _file_problem(path: Path, recorded: Mapping[str, Any] | None) -> str | None:
    """How ``path`` differs from its record; ``None`` when it matches, or when there is no record
    (a run cached before files were recorded: loaded unverified)."""
    if recorded is None:
        return None
    size = path.stat().st_size
    if size != recorded["bytes"]:
        return f"has {size} bytes, {recorded['bytes']} recorded"
    if _sha256(path) != recorded["sha256"]:
        return "differs from its recorded sha256"
    return None


def cached_results(config: Experiment, root: Path | None = None) -> dict[str, Any] | None:
    """The results of a finished run of ``config``, or ``None`` if absent, unfinished or corrupt."""
    stored = _read_results(run_dir(config, root))
    return None if stored is None else stored["results"]


def execute(config: Experiment, root: Path | None = None) -> dict[str, Any]:
    """Results of ``config``: from the cache if finished, else run (resuming from a checkpoint).

    Under torchrun every rank calls this; rank 0 locks, runs and stores the run, the other ranks
    run alongside it (the training loop's collectives keep them in step) in a
    :class:`FollowerContext` and return their own copy of the results."""
    results = cached_results(config, root)
    if results is not None:
        return results
    if distributed.is_distributed() and not distributed.is_main():
        with tempfile.TemporaryDirectory(prefix="vadlib-rank-") as scratch:
            return config.run(FollowerContext(run_dir(config, root), config, Path(scratch)))
    directory = run_dir(config, root)
    with locking.exclusive(directory / ".lock"):  # another process or job may be running this very config
        results = cached_results(config, root)
        if results is not None:
            return results
        _note_unplanned(config, directory)
        return _run(config, directory)


#: set by ``reproduce`` for notebook kernels after an executor ran the plan: every run should then
#: be a cache hit, and a run computed anyway is listed in the file this variable names
UNPLANNED_ENV = "VADLIB_UNPLANNED_RUNS"


def _note_unplanned(config: Experiment, directory: Path) -> None:
    target = os.environ.get(UNPLANNED_ENV)
    if not target:
        return
    log.warning("run %s (%s) was not computed by the executor; computing it in this process",
                directory.name, config.kind)
    with open(target, "a") as stream:
        stream.write(f"{directory.name} {config.kind} {config.name}\n")


def _run(config: Experiment, directory: Path) -> dict[str, Any]:
    ctx = RunContext(directory, config)
    atomic_write_text(directory / "config.json", json.dumps(config.config_dict(), indent=1, default=str) + "\n")
    started = time.perf_counter()
    results = config.run(ctx)
    json.dumps(results)  # results must be JSON-serialisable; fail before claiming the run finished
    stored = {"config_hash": config_hash(config), "results": results, "files": _record_files(directory)}
    stored.update(checksum=_checksum(stored), wall_time_s=round(time.perf_counter() - started, 3),
                  ranks=distributed.world()[1], accelerator=_accelerator())
    atomic_write_text(directory / "results.json", json.dumps(stored, indent=1, default=str) + "\n")
    ctx.checkpoint_path.unlink(missing_ok=True)
    return results


def _accelerator() -> str:
    """What the run trained on, for the measured GPU-hours: ``cuda`` when a GPU was in use."""
    return "cuda" if torch.cuda.is_available() and torch.cuda.is_initialized() else "cpu"


def run_record(config: Experiment, root: Path | None = None) -> dict[str, Any] | None:
    """The bookkeeping of a finished run (wall time, ranks, accelerator; no results), or ``None``."""
    stored = _read_results(run_dir(config, root))
    return None if stored is None else {k: v for k, v in stored.items() if k not in ("results", "files")}


def run_experiments(configs: Iterable[Experiment], root: Path | None = None,
                    progress: bool = True) -> list[dict[str, Any]]:
    """Results of every config (cached ones reused), in order, with a progress bar."""
    configs = list(configs)
    return [execute(config, root) for config in tqdm(configs, desc="runs", disable=not progress or len(configs) < 2)]


class CorruptRunFile(RuntimeError):
    """A file a run keeps is still corrupt or unreadable after the run was recomputed."""


def cached_file(config: Experiment, name: str, load: Callable[[Path], T], root: Path | None = None) -> T:
    """``load(path)`` of the file ``name`` that a finished run of ``config`` wrote in its directory.

    The run is executed first if it is not cached. The file is checked against the size and
    sha256 recorded when the run finished (runs cached before files were recorded are not
    checked). When it is missing (a run cached before the file was kept), does not match its
    record (truncated, altered) or ``load`` fails on it, the run is recomputed once, with a
    warning naming the file; a second failure raises :class:`CorruptRunFile` (or
    ``FileNotFoundError``) naming the run and the file.
    """
    directory = run_dir(config, root)
    for attempt in (1, 2):
        execute(config, root)
        path = directory / name
        if not path.exists():
            if attempt == 2:
                raise FileNotFoundError(f"run {directory.name} ({config.kind}) finished without writing {name}")
            problem = "is missing"
        else:
            stored = _read_results(directory) or {}
            problem = _file_problem(path, stored.get("files", {}).get(name))
            if problem is None:
                try:
                    return load(path)
                except Exception as error:
                    if attempt == 2:
                        raise CorruptRunFile(f"run {directory.name} ({config.kind}): {name} is unreadable "
                                             f"after recomputing the run ({error})") from error
                    problem = f"is unreadable ({error})"
            elif attempt == 2:
                raise CorruptRunFile(f"run {directory.name} ({config.kind}): {name} {problem} "
                                     f"after recomputing the run")
        log.warning("%s %s; recomputing run %s (%s)", path, problem, directory.name, config.kind)
        (directory / "results.json").unlink(missing_ok=True)
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------ the cache as a whole
def entries(root: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every run directory of the cache: key, kind, state (finished / unfinished / corrupt /
    unknown), size in bytes, and the code units whose versions have changed since it ran."""
    root = root or paths.runs_dir()
    if not root.is_dir():
        return
    current: dict[str, int] = {}
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and len(p.name) == 16):
        try:
            stored = json.loads((directory / "config.json").read_text())
            kind, versions = stored["kind"], stored.get("code", {})
        except (OSError, ValueError, KeyError, TypeError):
            kind, versions = None, {}
        results = directory / "results.json"
        if kind is None:
            state = "unknown"
        elif results.exists():
            try:
                body = json.loads(results.read_text())
                ok = body["config_hash"] == directory.name and body["checksum"] == _checksum(body)
            except (ValueError, KeyError, TypeError):
                ok = False
            state = "finished" if ok else "corrupt"
        else:
            state = "unfinished"
        stale = []
        for unit, version in versions.items():
            if unit not in current:
                try:
                    current.update(code.versions([unit]))
                except KeyError:
                    current[unit] = -1
            if current[unit] != version:
                stale.append(unit)
        size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        yield {"key": directory.name, "kind": kind, "state": state, "bytes": size, "stale_code": stale,
               "path": directory}


def unused(planned_keys: set[str], root: Path | None = None) -> list[dict[str, Any]]:
    """Cache entries that no planned config uses: candidates for :func:`remove`."""
    return [entry for entry in entries(root) if entry["key"] not in planned_keys]


def remove(selected: Iterable[dict[str, Any]]) -> int:
    """Delete the given cache entries (under their lock, so a running job is waited for); bytes freed."""
    freed = 0
    for entry in selected:
        directory = entry["path"]
        with locking.exclusive(directory / ".lock"):
            freed += entry["bytes"]
            shutil.rmtree(directory, ignore_errors=True)
    return freed


def dry_run(config: Experiment) -> dict[str, Any]:
    """One training and one evaluation step of ``config`` in a throw-away directory."""
    directory = Path(tempfile.mkdtemp(prefix="vadlib-dry-run-"))
    try:
        started = time.perf_counter()
        report = config.dry_run(RunContext(directory, config))
        return {"seconds": round(time.perf_counter() - started, 3), **report}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
