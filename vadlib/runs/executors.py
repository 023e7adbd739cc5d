"""Where the planned runs of ``vadlib reproduce`` execute before the notebooks present them.

Three executors, one cache. Each run is an :class:`~vadlib.runs.experiment.Experiment` config, a
pure function of its fields and code versions, stored under ``$VADLIB_RUNS/<key>/`` by
:func:`~vadlib.runs.experiment.execute` under a lock that holds across processes and machines
(:mod:`vadlib.runs.locking`). So it does not matter who computes a run: the notebooks read the same
bytes whether a run was computed in their kernel, in a local worker process or in a SLURM job.

* ``local`` with ``--jobs 1``: every run is computed inside the notebook that needs it (as a
  kernel in JupyterLab does).
* ``local`` with ``--jobs N``: the uncached runs of the selected notebooks are computed first by N
  worker processes (each with its share of the free cores as math threads); then the notebooks run
  on a filled cache.
* ``slurm``: the uncached runs are submitted through `submitit <https://github.com/facebookincubator/submitit>`_
  as one job array (``runs_per_job`` runs per array task; one by default), with the partition,
  account, time, GPUs per run and setup lines of :class:`SlurmOptions`. A job that is preempted or
  reaches its time limit receives SIGUSR2; submitit then requeues it (:class:`RunJob` is
  ``Checkpointable``) and the requeued job resumes each run from the checkpoint it saved. A config
  with ``gpus_per_run > 1`` runs as that many tasks of one job, which submitit turns into a torchrun
  world (rank, world size, master address) for :mod:`vadlib.runs.distributed`. The notebooks then
  execute locally on the filled cache: cache hits only; a run computed there anyway is listed (its
  plan missed it).

Every submission is recorded in ``$VADLIB_RUNS/jobs/<time>-<executor>/submission.json`` (runs,
job ids, log paths, states); ``vadlib runs status`` shows the latest one with live states.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as _dt
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import submitit

from vadlib import paths, profiles
from vadlib.artifacts import atomic_write_text
from vadlib.runs import experiment
from vadlib.runs.experiment import Experiment, config_hash
from vadlib.runs.slurm_options import EXECUTORS, ExecutorError, SlurmOptions  # noqa: F401 - re-exported

#: states of a run on its way through an executor; the last three are final
STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = {"done", "failed", "cancelled"}


# ----------------------------------------------------------------------------------- what runs
@dataclasses.dataclass
class PlannedRun:
    """One uncached run of the plan and where it stands."""

    key: str
    kind: str
    name: str
    notebooks: tuple[str, ...]
    gpu_hours_estimate: float
    config: Experiment | None = dataclasses.field(default=None, repr=False)
    job_id: str = ""
    log: str = ""
    state: str = "queued"
    error: str = ""

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "config"}


def plan_runs(entries, settings, root: Path | None = None) -> tuple[list[PlannedRun], int]:
    """The distinct runs the notebooks ``entries`` make under ``settings`` that the cache does not
    hold yet, largest estimate first (the longest jobs start first), and the number already cached.
    Speed measurements count as runs here: timed where the runs go (a GPU node), not on the machine
    that then executes the notebooks."""
    from vadlib import catalog

    configs: dict[str, Experiment] = {}
    users: dict[str, list[str]] = {}
    for entry in entries:
        for config in catalog.planned_runs(entry, settings) + catalog.planned_measurements(entry, settings):
            key = config_hash(config)
            configs.setdefault(key, config)
            users.setdefault(key, []).append(entry.number)
    pending = [PlannedRun(key, config.kind, config.name, tuple(dict.fromkeys(users[key])), config.gpu_hours(), config)
               for key, config in configs.items() if experiment.cached_results(config, root) is None]
    pending.sort(key=lambda run: -run.gpu_hours_estimate)
    return pending, len(configs) - len(pending)


def estimate_table(runs: Sequence[PlannedRun], cached: int) -> str:
    """Runs to compute per notebook with their estimated GPU-hours (one modern GPU), before launch."""
    per_notebook: dict[str, list[PlannedRun]] = {}
    for run in runs:
        per_notebook.setdefault(run.notebooks[0], []).append(run)
    lines = [f"{'notebook':<9} {'runs to compute':>15} {'GPU-hours (estimate)':>21}"]
    for notebook, group in sorted(per_notebook.items()):
        lines.append(f"{notebook:<9} {len(group):>15} {sum(r.gpu_hours_estimate for r in group):>21.2f}")
    lines.append(f"{'total':<9} {len(runs):>15} {sum(r.gpu_hours_estimate for r in runs):>21.2f}"
                 f"   ({cached} planned runs already cached)")
    return "\n".join(lines)


def measured_hours(runs: Sequence[PlannedRun], root: Path | None = None) -> str:
    """What the finished runs took: GPU-hours (wall time × ranks) of runs that trained on a GPU,
    and hours of the runs that ran on CPUs, beside the estimate."""
    gpu = cpu = 0.0
    on_gpu = on_cpu = 0
    for run in runs:
        record = experiment.run_record(run.config, root) if run.config is not None else None
        if record is None:
            continue
        hours = record.get("wall_time_s", 0.0) / 3600
        if record.get("accelerator") == "cuda":
            gpu, on_gpu = gpu + hours * record.get("ranks", 1), on_gpu + 1
        else:
            cpu, on_cpu = cpu + hours, on_cpu + 1
    estimate = sum(r.gpu_hours_estimate for r in runs if r.state == "done")
    return (f"measured: {gpu:.2f} GPU-hours over {on_gpu} runs on GPUs, {cpu:.2f} hours over {on_cpu} runs "
            f"on CPUs (estimate for these runs on one GPU: {estimate:.2f} GPU-hours)")


# ------------------------------------------------------------------------------ the job itself
class RunJob(submitit.helpers.Checkpointable):
    """What a SLURM job executes: its runs, one after the other, into the shared cache.

    ``Checkpointable``: when SLURM preempts the job or its time runs out, submitit calls
    :meth:`checkpoint`, which resubmits this very call; the requeued job finds finished runs in the
    cache and resumes the interrupted one from its checkpoint."""

    def __call__(self, configs: Sequence[Experiment], runs_root: str, data_root: str, threads: int) -> list[str]:
        enter_worker(runs_root, data_root, threads)
        _keep_inherited_priority()
        environment = submitit.JobEnvironment()
        if environment.num_tasks > 1:  # one rank per task: RANK, WORLD_SIZE, MASTER_ADDR/PORT for torchrun's contract
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        done = []
        for config in configs:
            experiment.execute(config, Path(runs_root))
            done.append(config_hash(config))
        return done


def _keep_inherited_priority() -> None:
    """A job started at a lowered CPU priority (SLURM's ``PropagatePrioProcess`` passes on the nice
    value of the process that submitted it) keeps it against other sessions too: under the kernel's
    autogroup scheduling a nice value only orders the processes of one session, and slurmstepd
    starts each job in a session of its own, so the session's group is lowered as well."""
    niceness = os.nice(0)
    if niceness > 0:
        with contextlib.suppress(OSError):  # no autogroup (kernel option off), or not allowed
            Path("/proc/self/autogroup").write_text(str(niceness))


def worker_threads(jobs: int) -> int:
    """Math threads for each of ``jobs`` worker processes: the user's OMP_NUM_THREADS, else the
    free cores shared among them (:func:`vadlib.profiles.math_threads`)."""
    return int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or profiles.math_threads(jobs)


def enter_worker(runs_root: str, data_root: str, threads: int) -> None:
    """Point a worker process at the run cache and data root, with ``threads`` math threads."""
    os.environ["VADLIB_RUNS"], os.environ["VADLIB_DATA"] = runs_root, data_root
    for variable in profiles.THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    import torch
    torch.set_num_threads(threads)


def _worker_run(config: Experiment, runs_root: str, data_root: str, threads: int, log: str) -> str:
    """One run in a local worker process, its output (progress bars, warnings) into ``log``."""
    enter_worker(runs_root, data_root, threads)
    with open(log, "a") as stream, _redirected(stream):
        started = time.perf_counter()
        print(f"run {config_hash(config)} {config.kind} {config.name} in pid {os.getpid()}", flush=True)
        try:
            experiment.execute(config, Path(runs_root))
        except BaseException:
            traceback.print_exc()
            raise
        print(f"finished in {time.perf_counter() - started:.1f} s", flush=True)
    return config_hash(config)


@contextlib.contextmanager
def _redirected(stream):
    """Point this process's file descriptors 1 and 2 (and sys.stdout/err) at ``stream``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


# ------------------------------------------------------------------------------- submissions
class Submission:
    """The record of one executor launch: its runs, their jobs and logs, kept up to date on disk."""

    def __init__(self, executor: str, runs: list[PlannedRun], root: Path | None = None,
                 options: dict[str, Any] | None = None):
        self.executor, self.runs, self.options = executor, runs, options or {}
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = (root or paths.runs_dir()) / "jobs"
        self.dir = base / f"{stamp}-{executor}"
        suffix = 1
        while self.dir.exists():
            suffix += 1
            self.dir = base / f"{stamp}-{executor}-{suffix}"
        self.dir.mkdir(parents=True)
        self.started = time.time()
        self.save()

    def save(self) -> None:
        atomic_write_text(self.dir / "submission.json", json.dumps(
            {"executor": self.executor, "options": self.options, "started": self.started,
             "runs": [run.record() for run in self.runs]}, indent=1, default=str) + "\n")


def latest_submissions(root: Path | None = None, count: int = 1) -> list[Path]:
    folder = (root or paths.runs_dir()) / "jobs"
    found = sorted(folder.glob("*/submission.json"), key=lambda p: p.stat().st_mtime) if folder.exists() else []
    return found[-count:]


# ---------------------------------------------------------------------------------- the board
class Board:
    """Live view of a submission: counts per state, then the running and failed runs with their
    job ids and logs. On a terminal it redraws in place; in a log it prints one line per change."""

    def __init__(self, runs: Sequence[PlannedRun], stream=None, interactive: bool | None = None):
        self.runs, self.stream = runs, stream or sys.stdout
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.seen: dict[str, str] = {}
        self.drawn = 0

    def counts(self) -> str:
        tally = {state: sum(r.state == state for r in self.runs) for state in STATES}
        return "  ".join(f"{state} {n}" for state, n in tally.items() if n or state in ("queued", "running", "done"))

    def rows(self, states: Iterable[str] = ("running", "failed", "cancelled")) -> list[str]:
        wanted = set(states)
        return [f"  {r.state:<9} {r.job_id or '-':<14} {r.key} {r.kind:<18} {','.join(r.notebooks):<6} {r.log}"
                + (f"\n            {r.error}" if r.error else "") for r in self.runs if r.state in wanted]

    def update(self) -> None:
        if self.interactive:
            lines = [f"runs: {self.counts()}"] + self.rows(("running",))[:20]
            if self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.stream.write("\n".join(lines) + "\n")
            self.drawn = sum(line.count("\n") + 1 for line in lines)
        else:
            for run in self.runs:
                if self.seen.get(run.key) != run.state:
                    self.seen[run.key] = run.state
                    stamp = time.strftime("%H:%M:%S")
                    self.stream.write(f"{stamp} {run.state:<9} {run.job_id or '-':<14} {run.key} {run.kind} "
                                      f"({','.join(run.notebooks)}) log: {run.log or '-'}"
                                      + (f"\n         {run.error}" if run.error else "") + "\n")
        self.stream.flush()

    def final(self) -> str:
        lines = [f"runs: {self.counts()}"] + self.rows(("failed", "cancelled"))
        return "\n".join(lines)


# ------------------------------------------------------------------------------- local workers
def run_local(runs: list[PlannedRun], jobs: int, root: Path | None = None, data_root: Path | None = None,
              board: Board | None = None) -> Submission:
    """Compute ``runs`` in ``jobs`` worker processes (spawned: a fresh interpreter each, never a
    fork of a process holding torch's threads), largest first; returns the finished submission."""
    root, data_root = root or paths.runs_dir(), data_root or paths.data_root()
    threads = worker_threads(jobs)
    submission = Submission("local", runs, root, {"jobs": jobs, "math_threads": threads})
    board = board or Board(runs)
    for run in runs:
        run.log = str(submission.dir / f"{run.key}.log")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_worker_run, run.config, str(root), str(data_root), threads, run.log): run
                   for run in runs}
        try:
            pending = set(futures)
            while pending:
                finished, pending = concurrent.futures.wait(pending, timeout=0.5)
                for future in finished:
                    run = futures[future]
                    error = future.exception()
                    run.state = "done" if error is None else "failed"
                    run.error = "" if error is None else f"{type(error).__name__}: {error}"[:300]
                for future in pending:  # which are running: the pool does not say; the log does
                    run = futures[future]
                    if run.state == "queued" and Path(run.log).exists():
                        run.state = "running"
                submission.save()
                board.update()
        except KeyboardInterrupt:
            for future, run in futures.items():
                if future.cancel() or not future.done():
                    run.state, run.error = "cancelled", "interrupted"
            submission.save()
            raise
    submission.save()
    return submission


# ----------------------------------------------------------------------------------- SLURM
def slurm_available() -> str | None:
    """Why SLURM cannot be used from here, or ``None`` when sbatch and squeue answer."""
    for command in ("sbatch", "squeue"):
        if shutil.which(command) is None:
            return f"{command} is not on PATH: run on a SLURM login node, or use --executor local"
    try:
        subprocess.run(["squeue", "-h", "-o", "%i"], check=True, capture_output=True, timeout=30)
    except (subprocess.SubprocessError, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        return f"squeue failed ({detail.decode(errors='replace').strip() or error}): is slurmctld reachable?"
    return None


def _chunks(runs: Sequence[PlannedRun], size: int) -> list[list[PlannedRun]]:
    """``runs`` in array tasks of at most ``size`` runs with balanced estimates: each run, longest
    first, joins the task with the least estimated work that has room (so the long runs do not all
    land in the first task)."""
    count = -(-len(runs) // size)
    chunks: list[list[PlannedRun]] = [[] for _ in range(count)]
    load = [0.0] * count
    for run in sorted(runs, key=lambda r: -r.gpu_hours_estimate):
        index = min((i for i in range(count) if len(chunks[i]) < size), key=lambda i: (load[i], len(chunks[i])))
        chunks[index].append(run)
        load[index] += run.gpu_hours_estimate
    return chunks


def squeue_states(job_ids: Iterable[str]) -> dict[str, str]:
    """SLURM state of each listed job still in the queue (array tasks one by one), by job id."""
    mains = sorted({job_id.split("_")[0] for job_id in job_ids})
    if not mains:
        return {}
    result = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T", "-j", ",".join(mains)],
                            check=False, capture_output=True, text=True, timeout=60)
    states = {}
    for line in result.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id:
            states[job_id] = state
    return states


def sacct_state(job_id: str) -> str | None:
    """SLURM's accounting state of a finished job (``COMPLETED``, ``TIMEOUT``, ``OUT_OF_MEMORY``,
    ``CANCELLED by 0``, ``NODE_FAIL``...), or ``None`` where accounting is not available."""
    if shutil.which("sacct") is None:
        return None
    try:
        result = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", job_id],
                                check=False, capture_output=True, text=True, timeout=60)
    except (subprocess.SubprocessError, OSError):
        return None
    for line in result.stdout.splitlines():
        found, _, state = line.partition("|")
        if found == job_id:
            return state.strip() or None
    return None


_SLURM_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED",
                 "RESV_DEL_HOLD", "RESIZING", "STOPPED", "SIGNALING", "SPECIAL_EXIT", "PREEMPTED"}


def _job_outcome(job) -> tuple[str, str] | None:
    """``("done", "")`` or ``("failed", why)`` from submitit's result file; ``None`` without one."""
    path = job.paths.result_pickle
    if not path.exists():
        return None
    try:
        outcome, value = submitit.core.utils.pickle_load(path)
    except Exception as error:  # noqa: BLE001 - a half-written result: look again later
        return None if time.time() - path.stat().st_mtime < 30 else ("failed", f"unreadable result: {error}")
    if outcome == "success":
        return "done", ""
    last = [line for line in str(value).strip().splitlines() if line.strip()]
    return "failed", (last[-1] if last else "failed")[:300]


def run_slurm(runs: list[PlannedRun], options: SlurmOptions, root: Path | None = None,
              data_root: Path | None = None, board: Board | None = None, poll_s: float = 5.0,
              vanish_grace_s: float = 90.0, on_submitted: Callable[[list], None] | None = None) -> Submission:
    """Submit ``runs`` as one SLURM job array and wait for every job; returns the submission.

    A job that leaves the queue without a result file (cancelled, killed with its node) counts as
    failed after ``vanish_grace_s``. Ctrl-C stops the waiting, not the jobs: they keep running on
    the cluster and fill the cache; ``vadlib runs status`` follows them."""
    problem = slurm_available()
    if problem:
        raise ExecutorError(f"--executor slurm: {problem}")
    root, data_root = root or paths.runs_dir(), data_root or paths.data_root()
    # runs still queued or running in an earlier submission (a reproduce stopped with Ctrl-C, or
    # started twice) are followed there, not submitted again
    earlier = _still_in_queue(runs, root)
    fresh = [run for run in runs if run.key not in earlier]
    submission = Submission("slurm", runs, root, dataclasses.asdict(options))
    jobs: list = []
    chunks: list[list[PlannedRun]] = []
    if fresh:
        executor = submitit.AutoExecutor(folder=submission.dir / "%j", cluster="slurm",
                                         slurm_max_num_timeout=options.max_requeues)
        executor.update_parameters(**options.submitit_parameters())
        chunks = _chunks(fresh, options.runs_per_job)
        n = len(chunks)
        jobs = executor.map_array(RunJob(), [[run.config for run in chunk] for chunk in chunks], [str(root)] * n,
                                  [str(data_root)] * n, [options.cpus_per_run] * n)
        for job, chunk in zip(jobs, chunks):
            for run in chunk:
                run.job_id, run.log = job.job_id, str(job.paths.stdout)
    by_job: dict[str, list[PlannedRun]] = {}
    for run in runs:
        if run.key in earlier:
            run.job_id, run.log, folder = earlier[run.key]
            by_job.setdefault(run.job_id, []).append(run)
    for job_id, chunk in by_job.items():
        jobs.append(submitit.SlurmJob(folder=Path(earlier[chunk[0].key][2]), job_id=job_id))
        chunks.append(chunk)
    if by_job:
        print(f"following {len(by_job)} jobs of earlier submissions that still run "
              f"{sum(map(len, by_job.values()))} of these runs", file=sys.stderr)
    submission.save()
    if on_submitted is not None:
        on_submitted(jobs)
    board = board or Board(runs)
    board.update()
    vanished: dict[str, float] = {}
    try:
        while any(run.state not in FINAL for run in runs):
            states = squeue_states(job.job_id for job in jobs)
            for job, chunk in zip(jobs, chunks):
                _follow(job, chunk, states.get(job.job_id), vanished, vanish_grace_s, root)
            submission.save()
            board.update()
            if any(run.state not in FINAL for run in runs):
                time.sleep(poll_s)
    except KeyboardInterrupt:
        submission.save()
        print(f"\nstopped waiting; the jobs keep running on the cluster. Follow them: vadlib runs status "
              f"(submission {submission.dir})", file=sys.stderr)
        raise
    return submission


def _still_in_queue(runs: Sequence[PlannedRun], root: Path, submissions: int = 10) -> dict[str, tuple[str, str, str]]:
    """``{key: (job id, log, submitit folder)}`` of ``runs`` that a recent SLURM submission under
    ``root`` holds in a job still queued or running."""
    wanted = {run.key for run in runs}
    found: dict[str, tuple[str, str, str]] = {}
    for path in latest_submissions(root, submissions):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if record.get("executor") != "slurm":
            continue
        candidates = [r for r in record["runs"] if r["key"] in wanted and r.get("job_id")]
        if not candidates:
            continue
        live = squeue_states(r["job_id"] for r in candidates)
        for r in candidates:
            if r["job_id"] in live:
                found[r["key"]] = (r["job_id"], r["log"], str(path.parent / "%j"))
    return found


def _follow(job, chunk: list[PlannedRun], slurm_state: str | None, vanished: dict[str, float],
            grace_s: float, root: Path) -> None:
    """Update the states of ``chunk``'s runs from their job's SLURM state, its result and the cache."""
    finished = {run.key for run in chunk if experiment.cached_results(run.config, root) is not None}
    if slurm_state is not None:
        vanished.pop(job.job_id, None)
        state = "queued" if slurm_state in _SLURM_QUEUED else "running"
        for run in chunk:
            run.state = "done" if run.key in finished else state
        return
    outcome = _job_outcome(job)
    if outcome is None:  # between squeue and its result file, or gone without one
        since = vanished.setdefault(job.job_id, time.time())
        if time.time() - since < grace_s:
            return
        state = sacct_state(job.job_id)
        ended = f"ended {state}" if state else "left the queue (cancelled? killed?)"
        outcome = ("failed", f"job {job.job_id} {ended} without a result; see its log")
    for run in chunk:
        if run.key in finished:
            run.state, run.error = "done", ""
        elif outcome[0] == "done":
            run.state, run.error = "failed", f"job {job.job_id} finished but the run is not in the cache"
        else:
            run.state, run.error = "failed", outcome[1]


# ------------------------------------------------------------------------------ runs status
def status_report(root: Path | None = None, count: int = 1) -> str:
    """The latest ``count`` submissions: each run's state (SLURM's live state for jobs still in
    the queue, the cache's for the others), job id and log."""
    found = latest_submissions(root, count)
    if not found:
        return f"no submissions under {(root or paths.runs_dir()) / 'jobs'}: runs so far were computed in the notebooks"
    out = []
    for path in found:
        record = json.loads(path.read_text())
        runs = [PlannedRun(**{**r, "notebooks": tuple(r["notebooks"])}) for r in record["runs"]]
        live: dict[str, str] = {}
        if record["executor"] == "slurm" and shutil.which("squeue"):
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                live = squeue_states(r.job_id for r in runs if r.job_id and r.state not in FINAL)
        run_root = root or paths.runs_dir()
        for run in runs:
            if (run_root / run.key / "results.json").exists():
                run.state, run.error = "done", ""
            elif run.job_id in live:
                run.state = "queued" if live[run.job_id] in _SLURM_QUEUED else "running"
            elif run.state not in FINAL:
                partial = (run_root / run.key / "checkpoint.pt").exists()
                run.state = "failed"
                run.error = "no longer running" + (" (a checkpoint is kept: the next reproduce resumes it)"
                                                   if partial else "")
        started = _dt.datetime.fromtimestamp(record["started"]).isoformat(timespec="seconds")
        board = Board(runs, interactive=False)
        out.append(f"submission {path.parent.name} ({record['executor']}, started {started}): {board.counts()}")
        out += board.rows(STATES)
    return "\n".join(out)
