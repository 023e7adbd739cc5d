"""The ``vadlib`` command: ``vadlib reproduce``, ``vadlib tables``."""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Any, Sequence

from vadlib import profiles


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
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
    rep.add_argument("--jobs", type=int, default=1, help="notebooks executed in parallel")
    rep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KNOB=VALUE",
                     help="override a profile knob (repeatable), e.g. --set max_steps=5")
    rep.add_argument("--force", action="store_true", help="execute even notebooks that are up to date")
    rep.add_argument("--dry-run", action="store_true",
                     help="build every planned run and take one training and one evaluation step; print the plan")
    tables = commands.add_parser("tables", help="list the thesis's reported tables")
    tables.add_argument("--paper", choices=list("ABCDEF"), type=str.upper)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "tables":
        from vadlib import reported
        for table_id in reported.table_ids(args.paper):
            meta = reported.info(table_id)
            print(f"{table_id:<6} {meta['paper']}  {meta['caption'][:100]}")
        return 0
    from vadlib import reproduce
    try:
        if args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
        settings = profiles.resolve(args.profile, **parse_overrides(args.overrides))
        entries = reproduce.select(args.only)
    except ValueError as error:
        parser.exit(2, f"vadlib: error: {error}\n")
    if args.dry_run:
        print(reproduce.plan_summary(reproduce.plan(entries, settings), args.profile))
        return 0
    outcomes = reproduce.reproduce(entries, settings, jobs=args.jobs, force=args.force)
    print(reproduce.summary(outcomes))
    if any(o.error == "interrupted" for o in outcomes):
        return 130
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
