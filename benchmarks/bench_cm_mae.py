"""Benchmark: pre-training speed of MAE vs CM-MAE, and the memory of one ViT-B/16 step on CPU.

1. Images per second of a pre-training step (loss, backward, optimizer step; CM-MAE's own masking
   module step included when the curriculum has it active) at the smoke size (tiny ViT, 32×32,
   batch 16), MAE and CM-MAE timed in alternation, median of ``--repeat`` rounds; the ratio is the
   masking module's overhead.
2. Peak memory per image of one ViT-B/16 MAE training step at 224×224 on the CPU: the rise of the
   process's peak resident set size (``resource.getrusage``) over one step, measured in fresh
   subprocesses with batch 1 and batch 1 + ``--memory-batch``; the difference divided by
   ``--memory-batch`` is the per-image part (activations), the rest of the batch-1 rise is
   AdamW's state and gradients. The thesis states no speed or memory figure.

    python benchmarks/bench_cm_mae.py
    python benchmarks/bench_cm_mae.py --skip-memory --repeat 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MEMORY_PROBE = """
import json, resource, sys, torch
sys.path.insert(0, {root!r})
from vadlib.models.mae import MAE
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model = MAE("paper")
optimizer = torch.optim.AdamW(model.parameters(), lr=1.5e-4)
built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
images = torch.rand({batch}, 3, 224, 224)
loss, _ = model.training_loss(images)
loss.backward()
optimizer.step()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"model_mb": (built - before) / 1024, "step_mb": (after - built) / 1024}}))
"""


def speed(repeat: int, batch: int) -> dict[str, float]:
    from vadlib.models.curriculum_masking import CMMAE, CurriculumSchedule
    from vadlib.models.mae import MAE
    models = {"MAE": MAE("tiny"), "CM-MAE": CMMAE("tiny", curriculum=CurriculumSchedule.thesis())}
    optimizers = {name: torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3)
                  for name, m in models.items()}
    images = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range(repeat + 1):
        for name, model in models.items():
            started = time.perf_counter()
            loss, _ = model.training_loss(images)
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            if round_:  # the first round warms up
                times[name].append(time.perf_counter() - started)
    return {name: batch / statistics.median(values) for name, values in times.items()}


def memory(batch: int) -> dict[str, float]:
    code = MEMORY_PROBE.format(root=str(Path(__file__).resolve().parents[1]), batch=batch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16, help="images per step at the smoke size")
    parser.add_argument("--memory-batch", type=int, default=2, help="extra images of the second ViT-B/16 step")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    rates = speed(args.repeat, args.batch)
    print(f"pre-training at the smoke size (tiny ViT, 32×32, batch {args.batch}, {torch.get_num_threads()} threads, "
          f"median of {args.repeat} alternating rounds)")
    for name, rate in rates.items():
        print(f"  {name:7s} {rate:8.1f} images/s")
    print(f"  CM-MAE / MAE time per image: {rates['MAE'] / rates['CM-MAE']:.2f}x (the masking module's overhead)")
    if not args.skip_memory:
        one, more = memory(1), memory(1 + args.memory_batch)
        per_image = (more["step_mb"] - one["step_mb"]) / args.memory_batch
        print(f"ViT-B/16 MAE at 224×224 on CPU: model {one['model_mb']:.0f} MB; one training step adds "
              f"{one['step_mb'] - per_image:.0f} MB (gradients, AdamW state) + {per_image:.0f} MB per image")


if __name__ == "__main__":
    main()
