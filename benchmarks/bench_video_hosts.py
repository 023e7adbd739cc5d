"""Benchmark: training and test speed of the video hosts with and without SSPCAB / SSMCTB.

Tables C.6 and D.7 report test milliseconds per example on an RTX 3090 and the relative time
expansion a block adds. For each video host (plain auto-encoder, FFP, MNAD) the variants without a
block, with SSPCAB and with SSMCTB (at the papers' default placement) are built and timed in
alternation on one batch of random clips (``vadlib.runs.video_ad.speed``: median of ``--repeat``
rounds after warm-up): ms per training clip (loss, backward, Adam step) and per test frame,
clips/s and frames/s, and the test relative expansion, printed beside the thesis's percentages.

    python benchmarks/bench_video_hosts.py                 # tiny hosts at 64×64 frames, CPU
    python benchmarks/bench_video_hosts.py --size paper    # the papers' widths at 256×256
    python benchmarks/bench_video_hosts.py --hosts ffp --device cuda --size paper
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.profiles import resolve_device  # noqa: E402
from vadlib.runs import timing, video_ad  # noqa: E402

THESIS = [  # Tables C.6 and D.7 (ms per example, RTX 3090)
    ("Liu et al. (FFP)", "+SSPCAB", 2.1, 2.4), ("Liu et al. (FFP)", "+SSMCTB", 2.1, 2.5),
    ("Georgescu et al.", "+SSPCAB", 1.5, 1.7), ("Georgescu et al.", "+SSMCTB", 1.5, 1.8),
]
VARIANTS = {"baseline": video_ad.BASELINE, "+SSPCAB": video_ad.Variant("sspcab"),
            "+SSMCTB": video_ad.Variant("ssmctb")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "paper"), default="tiny")
    parser.add_argument("--hosts", nargs="+", default=["plain_ae", "ffp", "mnad"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=4, help="clips per timed call")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"video hosts at model size {args.size}, frames {video_ad.FRAME_SIZE[args.size]}², "
          f"device {args.device}, batch {args.batch}, {torch.get_num_threads()} CPU threads, "
          f"median of {args.repeat} alternating rounds")
    device = resolve_device(args.device)
    speeds = pd.concat([video_ad.speed(args.size, device, host, VARIANTS, batch_size=args.batch, repeats=args.repeat)
                        for host in args.hosts], ignore_index=True)
    with pd.option_context("display.float_format", "{:.2f}".format, "display.width", 160):
        print(speeds.to_string(index=False))
        thesis = pd.DataFrame([{"Host (thesis, RTX 3090)": host, "Variant": variant, "ms without": base,
                                "ms with": with_block,
                                "test relative expansion (%)": timing.relative_expansion(with_block, base)}
                               for host, variant, base, with_block in THESIS])
        print("\nthesis (Tables C.6 and D.7):")
        print(thesis.to_string(index=False))


if __name__ == "__main__":
    main()
