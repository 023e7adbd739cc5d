"""``vadlib reproduce``: execute the notebooks headlessly with papermill and summarise.

Executed copies go to ``runs/notebooks/<stem>.ipynb`` (kept on failure, for inspection). A
notebook is skipped when its source, its parameters and the library (version and source digest)
are unchanged since its last successful execution and every artifact it wrote still exists.

A notebook that executes without error still fails when it did not write every table and figure
its catalog entry declares (:func:`check_outputs`; the rule is in :mod:`vadlib.catalog`).
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

import vadlib
from vadlib import artifacts, catalog, paths, profiles
from vadlib.runs import experiment
from vadlib.catalog import NOTEBOOKS, NotebookEntry, notebook_by_id

KERNEL = "python3"  # the kernel of the interpreter running vadlib: works in a fresh venv


@dataclass
class Outcome:
    notebook: str
    status: str  # ok | skipped | failed
    seconds: float = 0.0
    artifacts: int = 0
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    threads: int = 0  # math threads of its kernel (profiles.math_threads)


@dataclass(frozen=True)
class OutputCheck:
    """Declared outputs against written ones, as ``"table A.1"`` / ``"figure B.5_gain_level"``."""

    notebook: str
    missing: tuple[str, ...] = ()  # declared and required, not written: the notebook failed
    undeclared: tuple[str, ...] = ()  # written, not declared: a warning

    def error(self) -> str:
        return f"{self.notebook} did not write declared {', '.join(self.missing)}" if self.missing else ""

    def warning(self) -> str:
        return f"{self.notebook} wrote undeclared {', '.join(self.undeclared)}" if self.undeclared else ""


@dataclass
class PlanRow:
    notebook: str
    runs: int
    distinct: int
    gpu_hours: float
    checked: list[dict[str, Any]] = field(default_factory=list)


def select(only: str | None) -> list[NotebookEntry]:
    if only is None:
        return list(NOTEBOOKS)
    chosen = [notebook_by_id(token.strip()) for token in only.split(",") if token.strip()]
    if not chosen:
        raise ValueError(f"--only names no notebook; valid: {', '.join(e.number for e in NOTEBOOKS)}")
    return [e for e in NOTEBOOKS if e in chosen]


def library_digest() -> str:
    """Version plus a digest of the library's sources and transcribed tables."""
    digest = hashlib.sha256(vadlib.__version__.encode())
    for path in sorted(paths.PACKAGE_DIR.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".csv", ".yaml", ".mplstyle"}:
            digest.update(str(path.relative_to(paths.PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def notebook_parameters(settings: profiles.Settings) -> dict[str, Any]:
    base = profiles.resolve(settings.profile)
    overrides = {k: v for k, v in settings.knobs.items()
                 if k not in ("data_root", "device", "seed") and v != base.knobs[k]}
    return {"profile": settings.profile, "data_root": settings.data_root, "device": settings.device,
            "seed": settings.seed, "overrides": overrides}


def _stamp(entry: NotebookEntry, parameters: dict[str, Any]) -> str:
    digest = hashlib.sha256(entry.ipynb.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update(library_digest().encode())
    return digest.hexdigest()


def _stamp_path(entry: NotebookEntry) -> Path:
    return paths.runs_dir() / "notebooks" / f"{entry.stem}.stamp.json"


def _up_to_date(entry: NotebookEntry, stamp: str) -> bool:
    path = _stamp_path(entry)
    if not path.exists():
        return False
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return False
    if saved.get("stamp") != stamp:
        return False
    index, root = artifacts.read_index(), paths.figures_dir()
    for artifact_id, files in saved.get("artifacts", {}).items():
        record = index.get(artifact_id)
        if record is None or record.get("notebook") != entry.stem or record.get("files") != files:
            return False  # rewritten since, by someone else or with other parameters
        if any(not (root / f).exists() or artifacts.file_checksum(root / f) != digest for f, digest in files.items()):
            return False
    return True


def out_of_sync(entry: NotebookEntry) -> bool:
    """Whether the paired ``.py`` and ``.ipynb`` differ in any cell (source, type or tags)."""
    import jupytext

    if not entry.script.exists():
        return False
    def cells(notebook):
        return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]
    return cells(jupytext.read(entry.script)) != cells(jupytext.read(entry.ipynb))


def written_by(entry: NotebookEntry, since: str = "") -> dict[str, dict[str, str]]:
    """``{index id: files}`` of the artifacts ``figures/index.json`` records for ``entry``'s
    notebook, created at or after the ISO time ``since`` (all of them by default)."""
    return {a: r["files"] for a, r in sorted(artifacts.read_index().items())
            if r.get("notebook") == entry.stem and r.get("created_at", "") >= since}


def default_parameters(parameters: dict[str, Any]) -> bool:
    """Whether notebook ``parameters`` are the defaults the catalog's declarations describe."""
    return (parameters.get("profile", profiles.DEFAULT_PROFILE) == profiles.DEFAULT_PROFILE
            and not parameters.get("overrides"))


def check_outputs(entry: NotebookEntry, written, *, default: bool = True) -> OutputCheck:
    """Compare the index ids ``written`` (``table:<id>``, ``figure:<paper>/<id>``) with the tables
    and figures ``entry`` declares. ``default``: the notebook ran with the default parameters, so
    its declaration is exact; otherwise ids matching ``entry.varying`` may be missing or extra."""
    found: dict[str, set[str]] = {"table": set(), "figure": set()}
    for index_id in written:
        kind, _, name = index_id.partition(":")
        found[kind].add(name.split("/", 1)[-1] if kind == "figure" else name)  # figure ids are <paper>/<id>
    missing, undeclared = [], []
    for kind, declared in (("table", entry.tables), ("figure", entry.figures)):
        missing += [f"{kind} {i}" for i in declared
                    if i not in found[kind] and (default or not entry.varies(i))]
        undeclared += [f"{kind} {i}" for i in sorted(found[kind] - set(declared))
                       if default or not entry.varies(i)]
    return OutputCheck(entry.stem, tuple(missing), tuple(undeclared))


def run_notebook(entry: NotebookEntry, parameters: dict[str, Any], force: bool = False,
                 progress: bool = True) -> Outcome:
    import papermill

    if out_of_sync(entry):
        return Outcome(entry.stem, "failed", error=f"{entry.script.name} and {entry.ipynb.name} differ: "
                       f"run `jupytext --sync notebooks/{entry.script.name}`")
    stamp = _stamp(entry, parameters)
    if not force and _up_to_date(entry, stamp):
        return Outcome(entry.stem, "skipped")
    output = paths.runs_dir() / "notebooks" / f"{entry.stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    _stamp_path(entry).unlink(missing_ok=True)
    started_iso = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(timespec="seconds")
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(entry.ipynb), str(output), parameters=parameters, kernel_name=KERNEL,
                                   cwd=str(paths.NOTEBOOKS_DIR), progress_bar=progress, log_output=False)
    except papermill.PapermillExecutionError as error:
        message = f"cell [{error.exec_count}]: {error.ename}: {error.evalue}"
        return Outcome(entry.stem, "failed", time.perf_counter() - started,
                       len(written_by(entry, started_iso)), message.splitlines()[0][:300])
    except Exception as error:  # kernel died, notebook unreadable, ...
        return Outcome(entry.stem, "failed", time.perf_counter() - started, 0, f"{type(error).__name__}: {error}"[:300])
    seconds = time.perf_counter() - started
    written = written_by(entry, started_iso)
    check = check_outputs(entry, written, default=default_parameters(parameters))
    warnings = [check.warning()] if check.undeclared else []
    if check.missing:  # no stamp: the next reproduce runs it again
        return Outcome(entry.stem, "failed", seconds, len(written), check.error(), warnings)
    artifacts.atomic_write_text(_stamp_path(entry), json.dumps({"stamp": stamp, "artifacts": written}, indent=1) + "\n")
    return Outcome(entry.stem, "ok", seconds, len(written), warnings=warnings)


@dataclass
class Launch:
    """What an executor did before the notebooks ran (:func:`launch`)."""

    executor: str
    runs: list = field(default_factory=list)  # executors.PlannedRun
    cached: int = 0
    submission: Path | None = None

    def failed_by_notebook(self) -> dict[str, list[str]]:
        failed: dict[str, list[str]] = {}
        for run in self.runs:
            if run.state != "done":
                for number in run.notebooks:
                    failed.setdefault(number, []).append(run.key)
        return failed


def launch(entries: Sequence[NotebookEntry], settings: profiles.Settings, executor: str = "local", jobs: int = 1,
           slurm=None, board=None, out=print) -> Launch:
    """Compute the uncached planned runs of ``entries`` on ``executor`` (``local``: ``jobs``
    worker processes; ``slurm``: a job array with :class:`~vadlib.runs.executors.SlurmOptions`
    ``slurm``) before the notebooks run; print the estimated GPU-hours before and the measured
    ones after."""
    from vadlib.runs import executors

    runs, cached = executors.plan_runs(entries, settings)
    out(executors.estimate_table(runs, cached))
    if not runs:
        return Launch(executor, runs, cached)
    data_root = Path(settings.data_root) if settings.data_root else paths.data_root()
    if executor == "slurm":
        submission = executors.run_slurm(runs, slurm or executors.SlurmOptions(), data_root=data_root, board=board)
    else:
        profiles.apply_math_threads(jobs)
        submission = executors.run_local(runs, jobs, data_root=data_root, board=board)
    board = board or executors.Board(runs, interactive=False)
    out(board.final())
    out(executors.measured_hours(runs))
    out(f"jobs and logs: {submission.dir}  (vadlib runs status)")
    return Launch(executor, runs, cached, submission.dir)


def reproduce(entries: Sequence[NotebookEntry], settings: profiles.Settings, jobs: int = 1,
              force: bool = False, launched: Launch | None = None) -> list[Outcome]:
    """Execute ``entries``; on Ctrl-C, stop starting notebooks and return what finished.

    ``launched``: an executor computed the planned runs first (:func:`launch`); a notebook whose
    runs failed there is not executed (it is reported failed, naming them), and runs the notebooks
    compute anyway are listed as warnings (the plan missed them)."""
    parameters = notebook_parameters(settings)
    # kernels run in notebooks/: give them absolute output locations
    os.environ["VADLIB_FIGURES"], os.environ["VADLIB_RUNS"] = str(paths.figures_dir()), str(paths.runs_dir())
    os.environ["VADLIB_HEADLESS"] = "1"  # no one clicks in a papermill run: explorers draw static figures
    # kernels inherit the math-thread policy: the free cores shared among the parallel kernels
    threads = profiles.apply_math_threads(jobs)
    outcomes: dict[str, Outcome] = {}
    unplanned = None
    if launched is not None:
        for number, keys in launched.failed_by_notebook().items():
            entry = notebook_by_id(number)
            outcomes[entry.stem] = Outcome(entry.stem, "failed", error=f"{len(keys)} runs failed on the "
                                           f"{launched.executor} executor ({', '.join(keys[:3])}"
                                           f"{', ...' if len(keys) > 3 else ''}): vadlib runs status")
        unplanned = paths.runs_dir() / "notebooks" / "unplanned-runs.txt"
        unplanned.parent.mkdir(parents=True, exist_ok=True)
        unplanned.unlink(missing_ok=True)
        os.environ[experiment.UNPLANNED_ENV] = str(unplanned)
    order, entries = list(entries), [e for e in entries if e.stem not in outcomes]
    try:
        if jobs <= 1:
            for entry in tqdm(entries, desc="notebooks", unit="nb"):
                outcomes[entry.stem] = run_notebook(entry, parameters, force, progress=True)
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(run_notebook, e, parameters, force, False): e for e in entries}
                try:
                    for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                                       desc="notebooks", unit="nb"):
                        outcomes[futures[future].stem] = future.result()
                except KeyboardInterrupt:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    except KeyboardInterrupt:
        for entry in entries:
            outcomes.setdefault(entry.stem, Outcome(entry.stem, "failed", error="interrupted"))
    finally:
        os.environ.pop(experiment.UNPLANNED_ENV, None)
    if unplanned is not None and unplanned.exists():
        lines = unplanned.read_text().splitlines()
        first = next(iter(outcomes.values()), None)
        if first is not None:
            first.warnings.append(f"{len(lines)} runs were computed in the notebooks although the executor ran "
                                  f"the plan (the plan misses them): {'; '.join(lines[:5])}")
    return [replace(outcomes[e.stem], threads=threads) for e in order if e.stem in outcomes]


def summary(outcomes: Sequence[Outcome]) -> str:
    header = f"{'notebook':<26} {'status':<8} {'wall time':>9} {'artifacts':>9}  error"
    lines = [header, "-" * len(header)]
    threads = {o.threads for o in outcomes if o.threads}
    if threads:
        lines.insert(0, f"math threads per notebook kernel: {', '.join(map(str, sorted(threads)))} "
                        f"({os.cpu_count()} cores; profiles.math_threads)")
    for o in outcomes:
        lines.append(f"{o.notebook:<26} {o.status:<8} {o.seconds:>8.1f}s {o.artifacts:>9}  {o.error}")
    lines += [f"warning: {w}" for o in outcomes for w in o.warnings]
    failed = [o for o in outcomes if o.status == "failed"]
    lines.append(f"{len(outcomes) - len(failed)} of {len(outcomes)} notebooks ok"
                 + (f"; failed copies kept in {paths.runs_dir() / 'notebooks'}" if failed else ""))
    return "\n".join(lines)


def plan(entries: Sequence[NotebookEntry], settings: profiles.Settings, jobs: int = 1) -> list[PlanRow]:
    """Every planned run of every notebook; one dry-run step per distinct model configuration, in
    ``jobs`` worker processes when more than one."""
    rows, checks = [], []
    checked: set[str] = set()  # a model already checked for an earlier notebook is not rebuilt
    for entry in entries:
        configs = catalog.planned_runs(entry, settings)
        distinct = {c.dry_run_key(): c for c in configs}
        distinct = {key: c for key, c in distinct.items() if key not in checked}
        checked |= set(distinct)
        row = PlanRow(entry.stem, len(configs), len(distinct), sum(c.gpu_hours() for c in configs))
        rows.append(row)
        checks += [(row, entry.number, config) for config in distinct.values()]
    if jobs > 1 and len(checks) > 1:
        reports = _dry_runs_in_workers([config for _, _, config in checks], jobs)
    else:
        reports, bar = [], tqdm(checks, desc="dry run", leave=False, disable=not checks)
        for _, number, config in bar:
            bar.set_description(f"dry run {number}")
            reports.append(experiment.dry_run(config))
    for (row, _, config), report in zip(checks, reports):
        row.checked.append({"run": config.name, **report})
    return rows


def _dry_runs_in_workers(configs: Sequence[experiment.Experiment], jobs: int) -> list[dict[str, Any]]:
    """The dry runs of ``configs`` in ``jobs`` spawned worker processes (each with its share of the
    free cores as math threads), the largest GPU-hour estimates first; returned in the order of
    ``configs``."""
    import multiprocessing

    from vadlib.runs import executors
    threads = executors.worker_threads(jobs)
    context = multiprocessing.get_context("spawn")
    largest_first = sorted(range(len(configs)), key=lambda i: -configs[i].gpu_hours())
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {i: pool.submit(_dry_run_in_worker, configs[i], str(paths.runs_dir()), str(paths.data_root()),
                                  threads) for i in largest_first}
        for _ in tqdm(concurrent.futures.as_completed(futures.values()), total=len(futures), leave=False,
                      desc=f"dry run ({jobs} workers, {threads} math thread{'s' * (threads > 1)} each)"):
            pass
        return [futures[i].result() for i in range(len(configs))]


def _dry_run_in_worker(config: experiment.Experiment, runs_root: str, data_root: str, threads: int) -> dict[str, Any]:
    from vadlib.runs import executors
    executors.enter_worker(runs_root, data_root, threads)
    return experiment.dry_run(config)


def plan_summary(rows: Sequence[PlanRow], profile: str) -> str:
    header = f"{'notebook':<26} {'runs':>5} {'distinct':>8} {'dry-run steps':>13} {'GPU-hours':>10}"
    lines = [f"plan for profile {profile!r}", header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r.notebook:<26} {r.runs:>5} {r.distinct:>8} {len(r.checked):>13} {r.gpu_hours:>10.1f}")
        if not r.runs:
            lines.append(f"{'':<26} (presents reported tables only; no experiments registered yet)")
        for note in dict.fromkeys(c["note"] for c in r.checked if c.get("note")):
            lines.append(f"{'':<26} needs: {note}")
    lines.append(f"total GPU-hours (estimate): {sum(r.gpu_hours for r in rows):.1f}")
    return "\n".join(lines)
