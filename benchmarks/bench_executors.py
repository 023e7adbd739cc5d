"""Wall time of a cold smoke `vadlib reproduce` of some notebooks on each executor, side by side in
one run: runs inside the notebook kernels (`--jobs 1`), in two local worker processes (`--jobs 2`),
and through a SLURM cluster (`--executor slurm`, when `squeue` answers; `scripts/ci/slurm.sh start`
starts a single-node one).

    python benchmarks/bench_executors.py                    # notebooks 01 and 02 (12 runs, minutes)
    python benchmarks/bench_executors.py --only 03 --runs-per-job 6

Every variant starts cold (a fresh run cache and figures folder; the synthetic twins are generated
once, before the timed runs, into a shared data root) and the script checks that all variants write
byte-identical tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def reproduce(only: str, extra: list[str], base: Path, name: str, data: Path) -> tuple[float, Path]:
    figures = base / name / "figures"
    env = {**os.environ, "VADLIB_FIGURES": str(figures), "VADLIB_RUNS": str(base / name / "runs"),
           "VADLIB_DATA": str(data), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "vadlib.cli", "reproduce", "--only", only, *extra],
                            capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds, figures / "tables"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="01,02")
    parser.add_argument("--runs-per-job", default="4")
    args = parser.parse_args()
    from vadlib.runs import executors

    variants = {"in the notebooks (--jobs 1)": [], "2 worker processes (--jobs 2)": ["--jobs", "2"]}
    problem = executors.slurm_available()
    if problem is None:
        variants["SLURM job array (--executor slurm)"] = ["--executor", "slurm", "--runs-per-job", args.runs_per_job]
    else:
        print(f"SLURM variant skipped: {problem}")
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as scratch:
        base = Path(scratch)
        data = base / "data"
        reproduce(args.only, [], base, "warm-up", data)  # generates the twins once, untimed
        times, tables = {}, {}
        for name, extra in variants.items():
            times[name], tables[name] = reproduce(args.only, extra, base, name.split(" (")[0].replace(" ", "-"), data)
            print(f"{name:<38} {times[name]:7.1f} s", flush=True)
        reference = next(iter(tables.values()))
        for name, folder in tables.items():
            for csv in sorted(reference.glob("*.csv")):
                if (folder / csv.name).read_bytes() != csv.read_bytes():
                    sys.exit(f"{name}: {csv.name} differs from the first variant's")
        print(f"tables byte-identical across the {len(tables)} variants")
        first = next(iter(times.values()))
        for name, seconds in list(times.items())[1:]:
            print(f"{name}: {first / seconds:.2f}x the speed of runs in the notebooks")


if __name__ == "__main__":
    main()
