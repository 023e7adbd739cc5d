"""The ``vadlib`` command: ``vadlib reproduce``, ``vadlib report``, ``vadlib tables``, ``vadlib data``,
``vadlib runs``."""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Any, Sequence

from vadlib import profiles


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _seed(text: str) -> int:
    """argparse type of --seed: an integer >= 0 (numpy's generators refuse negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _one_line(error: BaseException) -> str:
    """What the command prints for an expected error: one line, whatever the message's shape."""
    from vadlib.data.errors import DatasetError
    if isinstance(error, DatasetError):
        return error.summary
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    return " ".join(str(message).split())


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return float(text)  # nan, inf, -inf: numbers the knob check then refuses by name
    except ValueError:
        return text


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    overrides = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects KNOB=VALUE, got {pair!r}; knobs: {', '.join(profiles.KNOBS)}")
        overrides[name.strip()] = _value(text.strip())
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vadlib", description="Regenerate the tables and figures of the thesis.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = commands.add_parser("reproduce", help="execute the notebooks with papermill")
    rep.add_argument("--profile", default=profiles.DEFAULT_PROFILE, choices=profiles.PROFILE_NAMES)
    rep.add_argument("--only", help="comma-separated notebooks: numbers (00,03), paper letters (C) or names")
    rep.add_argument("--jobs", type=int, default=1,
                     help="notebooks executed in parallel; with the local executor and N > 1, the planned runs "
                          "are first computed by N worker processes (with --dry-run: N processes take the "
                          "dry-run steps)")
    _add_executor_arguments(rep)
    rep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KNOB=VALUE",
                     help="override a profile knob (repeatable), e.g. --set max_steps=5")
    rep.add_argument("--force", action="store_true", help="execute even notebooks that are up to date")
    rep.add_argument("--dry-run", action="store_true",
                     help="build every planned run and take one training and one evaluation step; print the plan")
    commands.add_parser("report", help="write figures/index.html: every table and figure, reported beside reproduced")
    tables = commands.add_parser("tables", help="list the thesis's reported tables")
    tables.add_argument("--paper", choices=list("ABCDEF"), type=str.upper)
    _add_data_commands(commands)
    _add_runs_commands(commands)
    return parser


def _add_executor_arguments(parser) -> None:
    from vadlib.runs.slurm_options import EXECUTORS
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="where the planned runs execute: local (in the notebooks, or in --jobs worker "
                             "processes) or slurm (a job array through submitit; then the notebooks run on the "
                             "filled cache)")
    slurm = parser.add_argument_group("SLURM (with --executor slurm; defaults from --slurm-config or "
                                      "$VADLIB_SLURM_CONFIG, a YAML file of these options)")
    slurm.add_argument("--slurm-config", metavar="FILE", help="YAML file: partition, account, qos, constraint, "
                       "time, gpus_per_run, ranks_per_run, cpus_per_run, mem_gb, runs_per_job, array_parallelism, max_requeues, setup")
    slurm.add_argument("--slurm-partition", metavar="NAME", help="partition to submit to")
    slurm.add_argument("--account", metavar="NAME", help="account charged for the jobs")
    slurm.add_argument("--time", metavar="TIME", help="time limit per job: minutes, HH:MM:SS or D-HH:MM:SS "
                       "(default 24:00:00); a job reaching it is requeued and resumes from its checkpoint")
    slurm.add_argument("--gpus-per-run", type=int, metavar="N",
                       help="GPUs per run (default 0); N > 1 trains data-parallel over N ranks (DDP)")
    slurm.add_argument("--ranks-per-run", type=int, metavar="N",
                       help="data-parallel ranks per run (default: one per GPU); e.g. 2 CPU ranks with gloo")
    slurm.add_argument("--cpus-per-run", type=int, metavar="N", help="CPU cores per rank, its math threads (default 1)")
    slurm.add_argument("--runs-per-job", type=int, metavar="N",
                       help="runs per array task (default 1); pack many small runs (smoke, quick) into fewer jobs")


def slurm_options(args):
    """The SLURM options of a command line: the config file (flag or environment), then the flags."""
    import os
    from pathlib import Path

    from vadlib.runs.slurm_options import SlurmOptions
    source = args.slurm_config or os.environ.get("VADLIB_SLURM_CONFIG")
    options = SlurmOptions.from_file(Path(source).expanduser()) if source else SlurmOptions()
    return options.with_overrides(
        _source="command line", partition=args.slurm_partition, account=args.account, time=args.time,
        gpus_per_run=args.gpus_per_run, ranks_per_run=args.ranks_per_run, cpus_per_run=args.cpus_per_run, runs_per_job=args.runs_per_job)


def slurm_device(settings, profile: str, overrides: dict, options):
    """The device of runs sent to SLURM: decided for the compute nodes, not the login node that
    plans them (a run's device is part of its key). ``auto`` becomes ``cuda`` when the jobs get
    GPUs and ``cpu`` when they do not; an explicit CUDA device without GPUs is refused."""
    from vadlib.runs.slurm_options import ExecutorError
    device = settings.device
    if device == "auto":
        return profiles.resolve(profile, **{**overrides, "device": "cuda" if options.gpus_per_run else "cpu"})
    if device.startswith("cuda") and not options.gpus_per_run:
        raise ExecutorError(f"--set device={device} needs GPUs in the jobs: add --gpus-per-run N")
    return settings


def _add_runs_commands(commands) -> None:
    runs = commands.add_parser("runs", help="the cache of experiment runs and the code versions in its keys")
    actions = runs.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for action, text in (("list", "every cached run: kind, state, size, which profile's plan uses it"),
                         ("gc", "remove cached runs that no current plan uses (preview unless --yes)")):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("--profile", action="append", choices=profiles.PROFILE_NAMES,
                         help="plans to keep (repeatable; default: all three profiles)")
        sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KNOB=VALUE",
                         help="knob overrides the kept plans were run with, as for reproduce")
        if action == "gc":
            sub.add_argument("--yes", action="store_true", help="delete; without it, only list what would go")
    status = actions.add_parser("status", help="the runs of the latest executor submissions: state, job id, log")
    status.add_argument("--last", type=int, default=1, metavar="N", help="show the last N submissions")
    probe = actions.add_parser("probe", help="check an executor with a few tiny checkpointed runs "
                               "(e.g. a SLURM setup, before GPU-days are spent there)")
    probe.add_argument("--count", type=int, default=2, help="probe runs (default 2)")
    probe.add_argument("--seconds", type=float, default=2.0, help="seconds each probe takes (default 2)")
    probe.add_argument("--jobs", type=int, default=2, help="local worker processes (local executor)")
    _add_executor_arguments(probe)
    code = actions.add_parser("code", help="code units and versions; record a change as a bump or a refactor")
    code.add_argument("--bump", nargs="+", default=[], metavar="UNIT",
                      help="results of these units change: new version, their runs are recomputed")
    code.add_argument("--accept", nargs="+", default=[], metavar="UNIT",
                      help="a behaviour-preserving edit (refactor): record the source, keep the version")


def _runs_command(args) -> int:
    from vadlib.runs import code as code_units, executors, experiment
    if args.action == "status":
        print(executors.status_report(count=args.last))
        return 0
    if args.action == "probe":
        return _probe(args)
    if args.action == "code":
        if args.bump or args.accept:
            code_units.update(bump=args.bump, accept=args.accept)
        rows = code_units.status()
        width = max(len(row["unit"]) for row in rows)
        for row in rows:
            state = "changed: --bump (results change) or --accept (refactor)" if row["changed"] else "ok"
            print(f"{row['unit']:<{width}}  v{row['version']}  {state}")
        return 1 if any(row["changed"] for row in rows) else 0
    from vadlib import catalog
    overrides = parse_overrides(args.overrides)
    planned: dict[str, list[str]] = {}
    for profile in args.profile or profiles.PROFILE_NAMES:
        settings = profiles.resolve(profile, **overrides)
        for entry in catalog.NOTEBOOKS:
            for config in catalog.planned_runs(entry, settings):
                planned.setdefault(experiment.config_hash(config), []).append(f"{profile}:{entry.number}")
    entries = list(experiment.entries())
    if args.action == "list":
        for entry in entries:
            users = sorted(set(planned.get(entry["key"], [])))
            used = ("planned " + ",".join(users)) if users else "unplanned"
            stale = f"  stale code: {', '.join(entry['stale_code'])}" if entry["stale_code"] else ""
            print(f"{entry['key']}  {entry['kind'] or '?':<20} {entry['state']:<10} "
                  f"{entry['bytes'] / 2**20:8.1f} MiB  {used}{stale}")
        print(f"{len(entries)} runs, {sum(e['bytes'] for e in entries) / 2**20:.1f} MiB; "
              f"{sum(e['key'] in planned for e in entries)} used by the plans of "
              f"{', '.join(args.profile or profiles.PROFILE_NAMES)}")
        return 0
    # speed measurements are made by the notebooks, outside the plans: kept unless their code changed
    doomed = [e for e in experiment.unused(set(planned)) if e["kind"] != "measurement" or e["stale_code"]]
    for entry in doomed:
        print(f"{'removing' if args.yes else 'would remove'} {entry['key']}  {entry['kind'] or '?'}  {entry['state']}")
    if args.yes:
        freed = experiment.remove(doomed)
        print(f"removed {len(doomed)} runs, {freed / 2**20:.1f} MiB")
    else:
        print(f"{len(doomed)} runs no plan uses; `vadlib runs gc --yes` removes them")
    return 0


def _probe(args) -> int:
    import time

    from vadlib.runs import executors, experiment
    from vadlib.runs.probe import Probe
    steps = 4
    configs = [Probe(steps=steps, seconds_per_step=args.seconds / steps, seed=int(time.time()) * 100 + i,
                     train_steps=4) for i in range(args.count)]  # fresh seeds: new keys, so the probes really run
    runs = [executors.PlannedRun(experiment.config_hash(c), c.kind, c.name, ("probe",), 0.0, c) for c in configs]
    if args.executor == "slurm":
        submission = executors.run_slurm(runs, slurm_options(args), poll_s=1.0)
    else:
        submission = executors.run_local(runs, args.jobs)
    board = executors.Board(runs, interactive=False)
    print(board.final())
    ok = True
    for run in runs:
        if run.state == "done":
            results = experiment.cached_results(run.config)
            alone = run.config._train()  # the same training in this one process
            same = all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(results["losses"], alone))
            print(f"  probe {run.key}: ran on {results['host']} over {results['world_size']} rank(s); "
                  f"training losses {'equal' if same else 'DIFFER from'} one process's")
            ok = ok and same
    print(f"jobs and logs: {submission.dir}")
    return 0 if ok and all(run.state == "done" for run in runs) else 1


def _add_data_commands(commands) -> None:
    data = commands.add_parser("data", help="list, check, download or synthesise datasets")
    actions = data.add_subparsers(dest="action", required=True, parser_class=_Parser)
    actions.add_parser("list", help="every dataset with its access type and the papers using it")
    for action, text in (("status", "present / incomplete / missing / corrupt, per dataset"),
                         ("verify", "check the layout and every recorded sha256 of one dataset"),
                         ("fetch", "download a direct-access dataset, or print how to obtain it"),
                         ("synth", "write a synthetic twin in the official layout")):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", nargs="?" if action == "status" else None,
                         help="dataset name ('all' for synth)" if action == "synth" else "dataset name")
        sub.add_argument("--root", help="data root (default: $VADLIB_DATA or ~/.cache/vadlib/data)")
        if action == "fetch":
            sub.add_argument("--keep-archives", action="store_true",
                             help="keep the downloaded archives under <root>/downloads/")
        if action == "synth":
            from vadlib.data.synthetic import SIZES
            sub.add_argument("--size", default="smoke", choices=SIZES)
            sub.add_argument("--seed", type=_seed, default=0, help="seed of the twin (>= 0)")
            sub.add_argument("--force", action="store_true", help="regenerate even if present")


def _data_command(args) -> int:
    from pathlib import Path

    from vadlib.data import data_commands
    root = Path(args.root).expanduser() if getattr(args, "root", None) else None
    if args.action == "list":
        print(data_commands.list_datasets())
        return 0
    if args.action == "status":
        text, ok = data_commands.status_report(args.name, root)
        print(text)
        return 0 if ok else 1
    if args.action == "verify":
        text, ok = data_commands.verify(args.name, root)
        print(text)
        return 0 if ok else 1
    if args.action == "fetch":
        text, ok = data_commands.fetch(args.name, root, keep_archives=args.keep_archives)
        print(text)
        return 0 if ok else 1
    for path in data_commands.synth(args.name, root, size=args.size, seed=args.seed, force=args.force):
        print(path)
    return 0


def _write_report() -> None:
    """The web report at the end of ``reproduce``: a failure here is one warning, never a failed run."""
    try:
        from vadlib import report
        print(f"report: {report.build()}")
    except Exception as error:  # noqa: BLE001 - the artifacts are written; the report is a view of them
        print(f"warning: report not written: {type(error).__name__}: {_one_line(error)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "report":
        from vadlib import report
        try:
            print(report.build())
        except Exception as error:  # noqa: BLE001 - one line, as for every other command
            parser.exit(1, f"vadlib: error: report: {type(error).__name__}: {_one_line(error)}\n")
        return 0
    if args.command == "tables":
        from vadlib import reported
        for table_id in reported.table_ids(args.paper):
            meta = reported.info(table_id)
            print(f"{table_id:<6} {meta['paper']}  {meta['caption'][:100]}")
        return 0
    if args.command in ("data", "runs"):
        from vadlib.data.errors import DatasetError
        from vadlib.runs.slurm_options import ExecutorError
        try:
            return _data_command(args) if args.command == "data" else _runs_command(args)
        except (DatasetError, ExecutorError) as error:  # a damaged dataset, a failed download, no scheduler: exit 1
            parser.exit(1, f"vadlib: error: {_one_line(error)}\n")
        except (KeyError, ValueError, OSError) as error:  # a bad name or argument, an unwritable root
            parser.exit(2, f"vadlib: error: {_one_line(error)}\n")
    from vadlib import reproduce
    from vadlib.runs.slurm_options import ExecutorError
    try:
        if args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
        settings = profiles.resolve(args.profile, **parse_overrides(args.overrides))
        entries = reproduce.select(args.only)
        options = slurm_options(args) if args.executor == "slurm" else None
        if options is not None:
            settings = slurm_device(settings, args.profile, parse_overrides(args.overrides), options)
    except (ValueError, ExecutorError) as error:
        parser.exit(2, f"vadlib: error: {_one_line(error)}\n")
    if args.dry_run:
        print(reproduce.plan_summary(reproduce.plan(entries, settings, jobs=args.jobs), args.profile))
        return 0
    launched = None
    if args.executor == "slurm" or args.jobs > 1:
        try:
            launched = reproduce.launch(entries, settings, args.executor, args.jobs, options)
        except ExecutorError as error:
            parser.exit(1, f"vadlib: error: {_one_line(error)}\n")
        except KeyboardInterrupt:
            return 130
    outcomes = reproduce.reproduce(entries, settings, jobs=args.jobs, force=args.force, launched=launched)
    print(reproduce.summary(outcomes))
    if any(o.error == "interrupted" for o in outcomes):
        return 130
    _write_report()
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
