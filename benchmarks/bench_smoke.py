"""Wall time of a cold `vadlib reproduce --profile smoke`, per notebook, on a quiet machine and
beside one other busy process, with the math threads the policy chose (vadlib.profiles.math_threads).

    python benchmarks/bench_smoke.py                      # quiet, then busy (two cold runs, ~15 min on 2 cores)
    python benchmarks/bench_smoke.py --scenarios quiet
    python benchmarks/bench_smoke.py --probe-only         # the thread probe alone (seconds)

Each run is fully cold: a fresh run cache, figures folder and data root (so the synthetic twins
are generated too). "busy" starts one process spinning on a core and waits until the 1-minute load
average shows it (the policy reads the load average when the run starts), then runs the same
reproduce. Before the runs, a probe times a smoke-sized convolution network's forward passes with 1
and with 2 math threads, quiet and beside the busy process: the reason for the policy, measured side
by side in one run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

SPIN = "while True: pass"


def start_busy(wait_for_load: float = 0.6, limit_s: float = 120.0) -> subprocess.Popen:
    """One process spinning on a core, returned once the load average is above ``wait_for_load``."""
    busy = subprocess.Popen([sys.executable, "-c", SPIN])
    started = time.time()
    while os.getloadavg()[0] < wait_for_load and time.time() - started < limit_s:
        time.sleep(2)
    return busy


def probe(threads: int, passes: int = 100) -> float:
    """Seconds for ``passes`` forward passes of a smoke-sized network (12 conv-BN-ReLU layers on one
    16×48×80 input: many small kernels, as in the smoke runs) at ``threads`` math threads, in a
    fresh process (torch reads its thread count at start-up)."""
    code = f"""
import time, torch
torch.set_num_threads({threads})
layers = [torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU())
          for _ in range(12)]
net = torch.nn.Sequential(*layers).eval()
x = torch.randn(1, 16, 48, 80)
with torch.no_grad():
    net(x)
    started = time.perf_counter()
    for _ in range({passes}):
        net(x)
print(time.perf_counter() - started)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return float(out.stdout.strip().splitlines()[-1])


def reproduce(extra_env: dict[str, str] | None = None) -> tuple[float, str]:
    """(total seconds, the summary `vadlib reproduce` printed) of one cold smoke run."""
    with tempfile.TemporaryDirectory(prefix="vadlib-bench-") as scratch:
        env = {**os.environ, "VADLIB_RUNS": f"{scratch}/runs", "VADLIB_FIGURES": f"{scratch}/figures",
               "VADLIB_DATA": f"{scratch}/data", **(extra_env or {})}
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if variable not in (extra_env or {}):
                env.pop(variable, None)  # let the policy choose
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "vadlib.cli", "reproduce", "--profile", "smoke"],
                                capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"reproduce failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def per_notebook(summary: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\d\d_\w+)\s+ok\s+([\d.]+)s", summary, re.M)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["quiet", "busy"], choices=["quiet", "busy"])
    parser.add_argument("--probe-only", action="store_true")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    quiet = {t: probe(t) for t in (1, 2)}
    busy = start_busy()
    try:
        loaded = {t: probe(t) for t in (1, 2)}
    finally:
        busy.kill()
    print("probe: 100 forward passes of a smoke-sized 12-layer conv net (s)")
    for label, times in (("quiet", quiet), ("busy", loaded)):
        print(f"  {label:<6}: 1 thread {times[1]:6.2f}   2 threads {times[2]:6.2f}   "
              f"(time at 2 threads / at 1: {times[2] / times[1]:.2f})")
    if args.probe_only:
        return

    results = {}
    for scenario in args.scenarios:
        if scenario == "busy":
            time.sleep(60)  # let the load average of the probe settle before measuring it again
            spinner = start_busy()
        try:
            total, summary = reproduce()
        finally:
            if scenario == "busy":
                spinner.kill()
        threads = re.search(r"math threads per notebook kernel: ([\d, ]+)", summary)
        results[scenario] = (total, per_notebook(summary), threads.group(1) if threads else "?")
        print(f"\n{scenario}: cold smoke reproduce {total / 60:.1f} min, math threads per kernel {results[scenario][2]}")
    names = sorted({name for _, times, _ in results.values() for name in times})
    print("\nnotebook                    " + "".join(f"{s:>12}" for s in results))
    for name in names:
        print(f"{name:<28}" + "".join(f"{results[s][1].get(name, float('nan')):>11.1f}s" for s in results))
    print(f"{'total (with start-up)':<28}" + "".join(f"{results[s][0]:>11.1f}s" for s in results))
    targets = {"quiet": 600, "busy": 1200}
    for scenario, (total, _, _) in results.items():
        verdict = "within" if total <= targets[scenario] else "OVER"
        print(f"{scenario}: {total / 60:.1f} min, {verdict} the {targets[scenario] // 60}-minute target")


if __name__ == "__main__":
    main()
