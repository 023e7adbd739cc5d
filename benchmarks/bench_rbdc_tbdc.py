"""Benchmark: vectorised RBDC/TBDC (vadlib.metrics.rbdc_tbdc) vs a per-prediction Python loop.

Synthetic case the size of the CUHK Avenue test set: 21 videos with Avenue's frame counts (15,324
frames in total), 47 ground-truth anomaly tracks, about 2 predicted regions per frame (detections
near the GT with higher scores, random boxes with lower scores). Both implementations run the same
algorithm (vadlib/metrics/rbdc_tbdc.py, ``rbdc_tbdc_curves``); the loop below is written
independently, one prediction at a time, as a straightforward reading of that algorithm. The
script asserts that both give the same RBDC and TBDC and prints both times and the speed-up.

    python benchmarks/bench_rbdc_tbdc.py           # Avenue-sized case
    python benchmarks/bench_rbdc_tbdc.py --quick   # small case (3 videos, ~1.5k frames)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import auc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.metrics import rbdc_tbdc  # noqa: E402

#: Frames of the 21 Avenue test videos (HF2-VAD metadata; paper_C.md §5.1); sum = 15,324.
AVENUE_TEST_FRAMES = [1439, 1211, 923, 947, 1007, 1283, 605, 36, 1175, 841, 472, 1271, 549, 507,
                      1001, 740, 426, 294, 248, 273, 76]


def make_case(frames=AVENUE_TEST_FRAMES, n_tracks=47, preds_per_frame=2.0, seed=0,
              width=640, height=360):
    """Synthetic (pred, gt, num_frames) with the given video lengths and number of GT tracks."""
    rng = np.random.default_rng(seed)
    frames = list(frames)
    # every video gets >= 1 track while tracks last, the rest in proportion to length
    vids = list(range(min(n_tracks, len(frames))))
    p = np.asarray(frames, dtype=float) / sum(frames)
    vids += list(rng.choice(len(frames), size=n_tracks - len(vids), p=p))
    gt_rows = []
    per_video_tid = {}
    for v in vids:
        n = frames[v]
        L = int(rng.integers(max(2, min(20, n)), max(3, min(250, n)) + 1))
        L = min(L, n)
        t0 = int(rng.integers(0, n - L + 1))
        w, h = rng.uniform(30, 120), rng.uniform(60, 200)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        vx, vy = rng.normal(0, 2), rng.normal(0, 1)
        tid = per_video_tid.get(v, 0)
        per_video_tid[v] = tid + 1
        for t in range(t0, t0 + L):
            x = float(np.clip(x + vx, 0, width - w - 1))
            y = float(np.clip(y + vy, 0, height - h - 1))
            gt_rows.append((v, tid, t, round(x), round(y), round(x + w), round(y + h)))
    gt = pd.DataFrame(gt_rows, columns=["video", "track_id", "frame", "x1", "y1", "x2", "y2"])

    pred_rows = []
    g = gt.to_numpy()
    hit = rng.random(len(g)) < 0.7  # 70 % of GT regions get a (jittered) detection
    for v, _tid, t, x1, y1, x2, y2 in g[hit]:
        j = rng.normal(0, 8, 4)
        bx1, by1 = max(0.0, x1 + j[0]), max(0.0, y1 + j[1])
        bx2, by2 = max(bx1, x2 + j[2]), max(by1, y2 + j[3])
        pred_rows.append((v, t, bx1, by1, bx2, by2, rng.normal(0.65, 0.15)))
    total_frames = sum(frames)
    n_random = max(0, int(round(preds_per_frame * total_frames)) - len(pred_rows))
    rv = rng.choice(len(frames), size=n_random, p=p)
    for v in rv:
        t = int(rng.integers(0, frames[v]))
        w, h = rng.uniform(20, 150), rng.uniform(20, 200)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        pred_rows.append((v, t, x, y, x + w, y + h, rng.normal(0.4, 0.15)))
    pred = pd.DataFrame(pred_rows, columns=["video", "frame", "x1", "y1", "x2", "y2", "score"])
    pred = pred.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pred[["video", "frame"]] = pred[["video", "frame"]].astype(np.int64)
    num_frames = dict(enumerate(frames))
    return pred, gt, num_frames


def rbdc_tbdc_loop(pred: pd.DataFrame, gt: pd.DataFrame, num_frames, alpha=0.1, beta=0.1):
    """Straightforward reference: one Python iteration per prediction, highest score first."""
    total = sum(num_frames.values()) if isinstance(num_frames, dict) else int(num_frames)
    gt_by_frame: dict = {}
    gt_boxes, gt_track = [], []
    track_len: dict = {}
    for j, r in enumerate(gt.itertuples(index=False)):
        gt_by_frame.setdefault((r.video, r.frame), []).append(j)
        gt_boxes.append((float(r.x1), float(r.y1), float(r.x2), float(r.y2)))
        key = (r.video, r.track_id)
        gt_track.append(key)
        track_len[key] = track_len.get(key, 0) + 1
    n_gt, n_tracks = len(gt_boxes), len(track_len)
    matched = [False] * n_gt
    track_matched = dict.fromkeys(track_len, 0)
    detected = {k: 0 / track_len[k] >= alpha for k in track_len}
    n_detected = sum(detected.values())

    preds = list(pred[["video", "frame", "x1", "y1", "x2", "y2", "score"]].itertuples(index=False))
    order = sorted(range(len(preds)), key=lambda i: -preds[i].score)  # stable, like the library
    tp = fp = 0
    fpr, rbdr, tbdr = [0.0], [0.0], [n_detected / n_tracks]
    for i in order:
        v, f, x1, y1, x2, y2, _s = preds[i]
        new = 0
        overlaps_any = False
        for j in gt_by_frame.get((v, f), ()):
            gx1, gy1, gx2, gy2 = gt_boxes[j]
            iw = min(x2, gx2) - max(x1, gx1) + 1.0
            ih = min(y2, gy2) - max(y1, gy1) + 1.0
            inter = max(iw, 0.0) * max(ih, 0.0)
            union = (x2 - x1 + 1.0) * (y2 - y1 + 1.0) + (gx2 - gx1 + 1.0) * (gy2 - gy1 + 1.0) - inter
            if inter / union >= beta:
                overlaps_any = True
                if matched[j]:
                    continue
                matched[j] = True
                new += 1
                k = gt_track[j]
                track_matched[k] += 1
                if not detected[k] and track_matched[k] / track_len[k] >= alpha:
                    detected[k] = True
                    n_detected += 1
        if new:
            tp += new
        elif not overlaps_any:  # overlapping only already-matched GT: neither TP nor FP
            fp += 1
        fpr.append(fp / total)
        rbdr.append(tp / n_gt)
        tbdr.append(n_detected / n_tracks)
    # truncate the curve at one false positive per frame, extend it to FPR = 1 if needed
    last = max(i for i, x in enumerate(fpr) if x <= 1.0)
    fpr, rbdr, tbdr = fpr[: last + 1], rbdr[: last + 1], tbdr[: last + 1]
    if fpr[-1] < 1.0:
        fpr.append(1.0)
        rbdr.append(rbdr[-1])
        tbdr.append(tbdr[-1])
    return float(auc(fpr, rbdr)), float(auc(fpr, tbdr))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small case (3 videos, ~1.5k frames)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="runs of the vectorised version (best)")
    args = ap.parse_args(argv)
    if args.quick:
        pred, gt, nf = make_case(frames=[700, 500, 300], n_tracks=8, seed=args.seed)
    else:
        pred, gt, nf = make_case(seed=args.seed)
    n_frames = sum(nf.values())
    n_tracks = gt.groupby(["video", "track_id"]).ngroups
    print(f"case: {len(nf)} videos, {n_frames} frames, {len(pred)} predicted regions "
          f"({len(pred) / n_frames:.2f}/frame), {len(gt)} GT regions in {n_tracks} tracks")

    rbdc_tbdc(pred, gt, nf)  # warm-up (imports, caches)
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        vec = rbdc_tbdc(pred, gt, nf)
        times.append(time.perf_counter() - t0)
    t_vec = min(times)
    loop_times = []
    for _ in range(2):
        t0 = time.perf_counter()
        ref = rbdc_tbdc_loop(pred, gt, nf)
        loop_times.append(time.perf_counter() - t0)
    t_loop = min(loop_times)

    diff = max(abs(vec[0] - ref[0]), abs(vec[1] - ref[1]))
    print(f"vectorised : RBDC={vec[0]:.6f} TBDC={vec[1]:.6f}  {t_vec:.4f} s (best of {len(times)})")
    print(f"python loop: RBDC={ref[0]:.6f} TBDC={ref[1]:.6f}  {t_loop:.4f} s (best of 2)")
    print(f"max |difference| = {diff:.3g}")
    assert diff <= 1e-12, f"implementations disagree by {diff}"
    ratio = t_loop / t_vec
    note = "target >= 20x" if not args.quick else "the 20x target is for the full case"
    print(f"speed-up: {ratio:.1f}x ({note})")
    return ratio


if __name__ == "__main__":
    main()
