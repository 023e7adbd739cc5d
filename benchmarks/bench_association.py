"""Benchmark: JDE/FairMOT online association (vadlib.tracking.Tracker.update), per frame, CPU.

Case: association alone (no detector) at a crowded-scene size, 50 confirmed tracks and 50
detections per frame with 128-d embeddings (FairMOT's ``reid_dim`` since 2020-09). 50 pedestrian
boxes (w 30-60 px, h 80-160 px) move with constant random velocities in a 1920x1080 frame (so boxes
overlap and cross); detections are the true boxes + N(0, 2 px) noise, scores U(0.5, 1),
embeddings a fixed unit vector per object + noise (norm ~0.1), re-normalised. The first frames
start and confirm the 50 tracks (not timed); then every frame's ``Tracker.update`` is timed with
``time.perf_counter``: Kalman prediction of all tracks, stage 1 (50 x 50 cosine distances, 50 x 50
Mahalanobis gating, fusion, thresholded assignment), stages 2/3 on what is left, Kalman and
embedding updates, bookkeeping, output. Reported: median and 90th percentile ms per frame, and
the median of the two main pieces timed alone on the same matrices (stage-1 cost matrix;
``linear_assignment`` of a 50 x 50 cost matrix, which SciPy solves as a 100 x 100 problem with
the cost limit). A sanity line reports how many tracks were output per frame and how many ids
were used (50 expected when association works).

    python benchmarks/bench_association.py           # 1000 timed frames
    python benchmarks/bench_association.py --quick   # 100 timed frames

Single-threaded NumPy/SciPy (``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``) gives steadier numbers
on a shared machine; the matrices are far too small to gain from BLAS threads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.tracking import KalmanFilter, Tracker  # noqa: E402
from vadlib.tracking.matching import (  # noqa: E402
    embedding_distance,
    fuse_motion,
    linear_assignment,
)


def make_scene(n_objects=50, dim=128, seed=0, width=1920, height=1080):
    """A function ``frame -> (boxes tlwh, scores, embeddings)`` for a synthetic scene."""
    rng = np.random.default_rng(seed)
    wh = np.c_[rng.uniform(30, 60, n_objects), rng.uniform(80, 160, n_objects)]
    xy0 = np.c_[rng.uniform(0, width - 60, n_objects), rng.uniform(0, height - 160, n_objects)]
    vel = rng.normal(0, 2.0, (n_objects, 2))
    protos = rng.normal(size=(n_objects, dim))
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)

    def frame(t: int):
        boxes = np.c_[xy0 + vel * t, wh] + rng.normal(0, 2.0, (n_objects, 4)) * [1, 1, 0.5, 0.5]
        scores = rng.uniform(0.5, 1.0, n_objects)
        emb = protos + rng.normal(0, 0.1 / np.sqrt(dim), (n_objects, dim))
        return boxes, scores, emb / np.linalg.norm(emb, axis=1, keepdims=True)

    return frame


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 timed frames instead of 1000")
    ap.add_argument("--frames", type=int, default=None, help="timed frames (overrides --quick)")
    ap.add_argument("--tracks", type=int, default=50, help="objects = tracks = detections")
    ap.add_argument("--dim", type=int, default=128, help="embedding dimension")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n_timed = args.frames or (100 if args.quick else 1000)
    warmup = 5
    scene = make_scene(args.tracks, args.dim, args.seed)
    tracker = Tracker(frame_rate=30)
    print(f"case: {args.tracks} tracks x {args.tracks} detections per frame, embedding dim "
          f"{args.dim}, {n_timed} timed frames (after {warmup} warm-up frames); FairMOT defaults")

    for t in range(1, warmup + 1):
        tracker.update(*scene(t))
    times, n_out, ids = [], [], set()
    for t in range(warmup + 1, warmup + n_timed + 1):
        boxes, scores, emb = scene(t)
        t0 = time.perf_counter()
        out = tracker.update(boxes, scores, emb)
        times.append(time.perf_counter() - t0)
        n_out.append(len(out))
        ids.update(o.track_id for o in out)
    ms = np.asarray(times) * 1e3
    print(f"Tracker.update : median {np.median(ms):.3f} ms/frame, p90 {np.percentile(ms, 90):.3f} "
          f"ms, min {ms.min():.3f} ms  (~{1e3 / np.median(ms):.0f} frames/s)")

    # the two main pieces alone, on the tracker's current state
    kf = KalmanFilter()
    pool = tracker.tracked_tracks + tracker.lost_tracks
    feats = np.stack([tr.feature for tr in pool])
    means = np.stack([tr.mean for tr in pool])
    covs = np.stack([tr.covariance for tr in pool])
    boxes, scores, emb = scene(warmup + n_timed + 1)
    xyah = KalmanFilter.tlwh_to_xyah(boxes)
    reps = max(50, n_timed // 2)
    t_cost, t_lsa = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        cost = fuse_motion(kf, embedding_distance(feats, emb), means, covs, xyah)
        t1 = time.perf_counter()
        matches, _, _ = linear_assignment(cost, 0.4)
        t2 = time.perf_counter()
        t_cost.append(t1 - t0)
        t_lsa.append(t2 - t1)
    print(f"  stage-1 cost matrix ({len(pool)} x {len(emb)}, cosine + gating + fusion): median "
          f"{np.median(t_cost) * 1e3:.3f} ms")
    print(f"  linear_assignment with cost limit ({len(pool)} x {len(emb)}): median "
          f"{np.median(t_lsa) * 1e3:.3f} ms, {len(matches)} matches")
    print(f"sanity: {int(np.median(n_out))} tracks output per frame (median, min {min(n_out)}), "
          f"{len(ids)} distinct ids over the timed frames (expected {args.tracks})")
    return float(np.median(ms))


if __name__ == "__main__":
    main()
