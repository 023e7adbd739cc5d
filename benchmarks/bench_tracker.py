"""Benchmark: Paper A's tracker -- size, FLOPs and tracking speed of each attention variant.

For plain HRNet-W18, the implicit (consecutive), dense and explicit (after stage 3) variants:

* parameters of the inference network (backbone + heads + gates + auxiliary head; the identity
  classifier used only in training is left out) and FLOPs of one forward pass, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add = 2 FLOPs);
* tracking frames per second of the whole online pipeline: ``model.predict`` (network, heat-map
  peak picking, box and embedding read-out) then ``vadlib.tracking.Tracker.update``, timed over
  ``--frames`` frames after one warm-up frame, the variants in alternation.

Sizes: ``paper`` = W18 widths at FairMOT's 1088×608 input; ``tiny`` = the smoke profile's network
at 160×96. The thesis reports neither parameters, FLOPs nor speed for Paper A (ch. 2 names
"tracking speed" as a metric without a number), so there is nothing printed to compare with.
Frames are the first ones of the MOT17 synthetic twin (so the tracker sees real-looking input;
an untrained network finds few people, so association time is small here -- see
``bench_association.py`` for association under load).

    python benchmarks/bench_tracker.py                  # tiny and paper size, 3 frames each
    python benchmarks/bench_tracker.py --sizes tiny --frames 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.models.hrnet_tracker import HRNetTracker  # noqa: E402
from vadlib.tracking import Tracker  # noqa: E402

VARIANTS = {"plain HRNet": {"attention": "none"}, "implicit (consecutive)": {"attention": "implicit"},
            "implicit (dense)": {"attention": "implicit", "dense": True},
            "explicit (after stage 3)": {"attention": "explicit", "explicit_stage": 3}}
SIZES = {"paper": (608, 1088), "tiny": (96, 160)}


def frames(size: tuple[int, int], count: int) -> list[torch.Tensor]:
    from vadlib.data import mot, synthetic
    root = synthetic.generate("mot17", size="smoke", seed=0)
    data = mot.MOTFrames(root, "train", ["MOT17-02-SDP"], resize=size, kind=None)
    return [data[i]["image"][None] for i in range(count + 1)]


def flops(model, image: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(image)
    return counter.get_total_flops()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "paper"], choices=list(SIZES))
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for size in args.sizes:
        images = frames(SIZES[size], args.frames)
        models = {name: HRNetTracker(size=size, **options, n_identities=500).eval() for name, options in VARIANTS.items()}
        trackers = {name: Tracker(frame_rate=30) for name in models}
        times: dict[str, list[float]] = {name: [] for name in models}
        for i, image in enumerate(images):
            for name, model in models.items():
                started = time.perf_counter()
                found = model.predict(image)[0]
                boxes = found["boxes"].numpy()
                tlwh = boxes.copy()
                tlwh[:, 2:] -= tlwh[:, :2]
                trackers[name].update(tlwh, found["scores"].numpy(), found["embeddings"].numpy())
                if i > 0:  # the first frame warms up
                    times[name].append(time.perf_counter() - started)
        for name, model in models.items():
            rows.append({"size": f"{size} {SIZES[size][1]}×{SIZES[size][0]}", "variant": name,
                         "parameters (M)": model.parameter_counts()["network"] / 1e6,
                         "GFLOPs / frame": flops(model, images[0]) / 1e9,
                         "tracking FPS": 1 / statistics.median(times[name])})
    print(f"{torch.get_num_threads()} CPU threads, median over {args.frames} frames after warm-up")
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
