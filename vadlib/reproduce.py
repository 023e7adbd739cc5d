"""``vadlib reproduce``: execute the notebooks headlessly with papermill and summarise.

Executed copies go to ``runs/notebooks/<stem>.ipynb`` (kept on failure, for inspection). A
notebook is skipped when its source, its parameters and the library (version and source digest)
are unchanged since its last successful execution and every artifact it wrote still exists.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

import vadlib
from vadlib import artifacts, experiments, paths, plans, profiles
from vadlib.catalog import NOTEBOOKS, NotebookEntry, notebook_by_id

KERNEL = "python3"  # the kernel of the interpreter running vadlib: works in a fresh venv


@dataclass
class Outcome:
    notebook: str
    status: str  # ok | skipped | failed
    seconds: float = 0.0
    artifacts: int = 0
    error: str = ""


@dataclass
class PlanRow:
    notebook: str
    runs: int
    distinct: int
    gpu_hours: float
    checked: list[dict[str, Any]] = field(default_factory=list)


def select(only: str | None) -> list[NotebookEntry]:
    if not only:
        return list(NOTEBOOKS)
    chosen = [notebook_by_id(token.strip()) for token in only.split(",") if token.strip()]
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
    for artifact_id in saved.get("artifacts", []):
        record = index.get(artifact_id)
        if record is None or not all((root / f).exists() for f in record["files"]):
            return False
    return True


def _artifacts_since(entry: NotebookEntry, started_iso: str) -> list[str]:
    return sorted(a for a, r in artifacts.read_index().items()
                  if r.get("notebook") == entry.stem and r.get("created_at", "") >= started_iso)


def run_notebook(entry: NotebookEntry, parameters: dict[str, Any], force: bool = False,
                 progress: bool = True) -> Outcome:
    import papermill

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
                       len(_artifacts_since(entry, started_iso)), message.splitlines()[0][:300])
    except Exception as error:  # kernel died, notebook unreadable, ...
        return Outcome(entry.stem, "failed", time.perf_counter() - started, 0, f"{type(error).__name__}: {error}"[:300])
    written = _artifacts_since(entry, started_iso)
    artifacts.atomic_write_text(_stamp_path(entry), json.dumps({"stamp": stamp, "artifacts": written}, indent=1) + "\n")
    return Outcome(entry.stem, "ok", time.perf_counter() - started, len(written))


def reproduce(entries: Sequence[NotebookEntry], settings: profiles.Settings, jobs: int = 1,
              force: bool = False) -> list[Outcome]:
    parameters = notebook_parameters(settings)
    if jobs <= 1:
        outcomes = []
        for entry in tqdm(entries, desc="notebooks", unit="nb"):
            outcomes.append(run_notebook(entry, parameters, force, progress=True))
        return outcomes
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_notebook, e, parameters, force, False): e for e in entries}
        for _ in tqdm(concurrent.futures.as_completed(futures), total=len(futures), desc="notebooks", unit="nb"):
            pass
        return [future.result() for future in futures]


def summary(outcomes: Sequence[Outcome]) -> str:
    header = f"{'notebook':<26} {'status':<8} {'wall time':>9} {'artifacts':>9}  error"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        lines.append(f"{o.notebook:<26} {o.status:<8} {o.seconds:>8.1f}s {o.artifacts:>9}  {o.error}")
    failed = [o for o in outcomes if o.status == "failed"]
    lines.append(f"{len(outcomes) - len(failed)} of {len(outcomes)} notebooks ok"
                 + (f"; failed copies kept in {paths.runs_dir() / 'notebooks'}" if failed else ""))
    return "\n".join(lines)


def plan(entries: Sequence[NotebookEntry], settings: profiles.Settings) -> list[PlanRow]:
    """Every planned run of every notebook; one dry-run step per distinct model configuration."""
    rows = []
    for entry in entries:
        configs = plans.planned_runs(entry.stem, settings)
        distinct = {experiments.config_hash(c): c for c in configs}
        row = PlanRow(entry.stem, len(configs), len(distinct), sum(c.gpu_hours() for c in configs))
        for config in tqdm(list(distinct.values()), desc=f"dry run {entry.number}", leave=False, disable=not distinct):
            row.checked.append({"run": config.name, **experiments.dry_run(config)})
        rows.append(row)
    return rows


def plan_summary(rows: Sequence[PlanRow], profile: str) -> str:
    header = f"{'notebook':<26} {'runs':>5} {'distinct':>8} {'dry-run steps':>13} {'GPU-hours':>10}"
    lines = [f"plan for profile {profile!r}", header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r.notebook:<26} {r.runs:>5} {r.distinct:>8} {len(r.checked):>13} {r.gpu_hours:>10.1f}")
        if not r.runs:
            lines.append(f"{'':<26} (presents reported tables only; no experiments registered yet)")
    lines.append(f"total GPU-hours (estimate): {sum(r.gpu_hours for r in rows):.1f}")
    return "\n".join(lines)
