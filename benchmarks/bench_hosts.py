"""Benchmark: inference time of the image hosts with and without SSPCAB / SSMCTB.

Tables C.6 and D.7 report milliseconds per example on an RTX 3090 and, for C.6, the relative
time expansion a block adds. Absolute times are the machine's; the relative expansion is what
compares. For each host (DRAEM, NSA, CutPaste 3-way, 3D DRAEM) the variants are built with random
weights and timed in alternation on one random batch (``vadlib.runs.image_ad.inference_times``:
median of ``--repeat`` rounds after warm-up), then printed beside the thesis's percentages.

    python benchmarks/bench_hosts.py                    # tiny hosts at 64² (3D: 16×32²), CPU
    python benchmarks/bench_hosts.py --size paper       # the papers' widths at 256² (3D: 16×64²)
    python benchmarks/bench_hosts.py --device cuda --size paper --batch 8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.profiles import resolve_device  # noqa: E402
from vadlib.runs import image_ad, timing  # noqa: E402

# The thesis's relative expansions, derived from the printed milliseconds of Tables C.6 / D.7.
THESIS = [
    ("Liu et al. (FFP)", "sspcab", 2.1, 2.4), ("Georgescu et al.", "sspcab", 1.5, 1.7),
    ("Liu et al. (FFP)", "ssmctb", 2.1, 2.5), ("Georgescu et al.", "ssmctb", 1.5, 1.8),
    ("Zavrtanik et al. (3D DRAEM)", "ssmctb 3D", 26.4, 26.6),
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "paper"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=1, help="examples per timed call (papers: per example)")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"image hosts at model size {args.size}, device {args.device}, batch {args.batch}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeat} alternating rounds")
    times = image_ad.inference_times(args.size, resolve_device(args.device), batch_size=args.batch,
                                     repeats=args.repeat)
    with pd.option_context("display.float_format", "{:.2f}".format, "display.width", 120):
        print(times.to_string(index=False))
        thesis = pd.DataFrame([{"Host (thesis, RTX 3090)": host, "Block": block, "ms without": base,
                                "ms with": with_block,
                                "Relative expansion (%)": timing.relative_expansion(with_block, base)}
                               for host, block, base, with_block in THESIS])
        print("\nthesis (Tables C.6 and D.7; video hosts, except 3D DRAEM):")
        print(thesis.to_string(index=False))


if __name__ == "__main__":
    main()
