"""Benchmark: ThermalSynth (vadlib.thermal, thesis Paper B) frames per second on this CPU.

Case: 384×288 background clips (the LTD frame size; in-memory stand-ins by default: a static
harbour-like gradient with per-frame noise, 30 frames per clip, 4 clips; ``--twin`` uses the smoke
Seasons-in-Drift twin instead, read through the loader and median-filtered), and procedural people
in the paper's proportions: half fall or jump into the water, half walk or stand on the quay,
three frames per sequence (one sample per sequence, as for the paper's 103,596 samples).

Method: the full per-frame pipeline -- procedural human render (material + albedo maps) ->
thermal shader (Eq. B.1-B.4) -> post-processing (3×3 Gaussian blur, uniform noise, JPEG quality 5,
figure mask) -> screen composite (Eq. B.5) -- is timed stage by stage over the same sequences
(each stage on one core, single process), then end to end with ``generate_samples`` (which adds
the water-area warp to 185×115 and the 3-frame stacking). The script prints frames per second
per stage and in total, samples per second, and the extrapolated single-process time for the
paper's 310,788 frames / 103,596 samples (and for the background extraction of 2,070 clips of
120 frames, the paper's 69 hours at 1 fps). Timings depend on the machine and its load.

    python benchmarks/bench_thermalsynth.py           # 600 sequences (1,800 frames), ~20 s
    python benchmarks/bench_thermalsynth.py --quick   # 60 sequences (180 frames), seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.thermal import (HARBOUR_VIEW, PAPER_COUNTS, PAPER_BACKGROUND_HOURS,  # noqa: E402
                            PostProcess, ThermalShader, composite, extract_backgrounds,
                            generate_samples, render_sequence)
from vadlib.thermal.dataset import _kinds  # noqa: E402

SHAPE = (288, 384)


def stand_in_clips(n_clips: int = 4, n_frames: int = 30, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    clips = []
    for _ in range(n_clips):
        base = 70 + 0.25 * rows + 0.08 * cols + rng.uniform(-20, 20)
        base = np.where(HARBOUR_VIEW.mask("water", SHAPE), base - 25, base)
        clip = base[None] + rng.normal(0, 2, (n_frames, *SHAPE))
        clips.append(np.clip(np.rint(clip), 0, 255).astype(np.uint8))
    return clips


def twin_clips() -> list[np.ndarray]:
    from vadlib.data import synthetic
    from vadlib.thermal import sid_backgrounds
    root = synthetic.generate("seasons_in_drift", size="smoke", seed=0)
    return [b.frames for b in sid_backgrounds(root, shape=SHAPE)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 sequences (180 frames)")
    ap.add_argument("--sequences", type=int, default=None, help="number of sequences (default 600)")
    ap.add_argument("--twin", action="store_true", help="backgrounds from the smoke Seasons-in-Drift twin")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n_seq = args.sequences or (60 if args.quick else 600)
    clips = twin_clips() if args.twin else stand_in_clips(seed=args.seed)
    print(f"case: {n_seq} sequences × 3 frames of {SHAPE[1]}×{SHAPE[0]} on {len(clips)} background "
          f"clips ({'smoke twin' if args.twin else 'in-memory stand-ins'}), half falls")

    shader, post = ThermalShader(), PostProcess()
    kinds = _kinds(n_seq, 0.5, args.seed)
    render_sequence("walk", n_frames=3, rng=0)  # warm-up (imports, caches)

    t0 = time.perf_counter()
    sequences = [render_sequence(kind, n_frames=3, rng=np.random.default_rng([args.seed, i]), sequence_id=i)
                 for i, kind in enumerate(kinds)]
    t_render = time.perf_counter() - t0
    frames = [(f, seq.materials) for seq in sequences for f in seq.frames]
    n_frames = len(frames)

    t0 = time.perf_counter()
    shaded = [shader.shade(f.material, f.albedo, materials) for f, materials in frames]
    t_shade = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    processed = [post(s, rng) for s in shaded]
    t_post = time.perf_counter() - t0
    backgrounds = [clips[i % len(clips)][i % len(clips[0])] for i in range(n_frames)]
    t0 = time.perf_counter()
    for fg, bg in zip(processed, backgrounds):
        composite(fg, bg)
    t_screen = time.perf_counter() - t0
    t_stages = t_render + t_shade + t_post + t_screen

    t0 = time.perf_counter()
    data = generate_samples(clips, n_seq, seed=args.seed)
    t_e2e = time.perf_counter() - t0
    assert data.samples.shape == (n_seq, 3, 115, 185) and int(data.labels.sum()) == n_seq // 2

    clip120 = np.concatenate([clips[0]] * (120 // len(clips[0]) + 1))[:120]
    t0 = time.perf_counter()
    extract_backgrounds(clip120)
    t_bg = time.perf_counter() - t0

    print(f"{'stage':<34}{'seconds':>9}{'frames/s':>11}")
    for name, seconds in (("render (procedural human)", t_render), ("thermal shader", t_shade),
                          ("post-processing (blur/noise/JPEG)", t_post),
                          ("screen composite (Eq. B.5)", t_screen),
                          ("sum of stages", t_stages)):
        print(f"{name:<34}{seconds:>9.3f}{n_frames / seconds:>11.1f}")
    fps_e2e = n_frames / t_e2e
    print(f"{'generate_samples (+ warp, stack)':<34}{t_e2e:>9.3f}{fps_e2e:>11.1f}   "
          f"= {n_seq / t_e2e:.1f} samples/s")
    paper_frames, paper_samples = PAPER_COUNTS["frames"], PAPER_COUNTS["samples"]
    n_bg_clips = PAPER_BACKGROUND_HOURS * 60 // 2
    print(f"extrapolated, one process: {paper_frames:,} frames / {paper_samples:,} samples in "
          f"{paper_frames / fps_e2e / 60:.1f} min "
          f"(stages only: {paper_frames / (n_frames / t_stages) / 60:.1f} min)")
    print(f"background median of one 120-frame clip: {t_bg * 1000:.1f} ms -> {n_bg_clips:,} clips "
          f"({PAPER_BACKGROUND_HOURS} h) in {n_bg_clips * t_bg / 60:.1f} min "
          "(decoding the frames not included)")
    return fps_e2e


if __name__ == "__main__":
    main()
