"""Tests of vadlib.metrics.rbdc_tbdc against hand-computed cases, the reference script's toy case
and an independent per-prediction loop (benchmarks/bench_rbdc_tbdc.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vadlib.metrics import rbdc_tbdc, rbdc_tbdc_curves, regions_from_maps

ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_rbdc_tbdc", ROOT / "benchmarks" / "bench_rbdc_tbdc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _load_bench()

GT_COLS = ["video", "track_id", "frame", "x1", "y1", "x2", "y2"]
PRED_COLS = ["video", "frame", "x1", "y1", "x2", "y2", "score"]


# ------------------------------------------------------------------------------------------------
# RBDC / TBDC
# ------------------------------------------------------------------------------------------------


def _df(rows, cols):
    return pd.DataFrame(rows, columns=cols)


def test_rbdc_tbdc_reference_toy_case():
    # the toy case shipped with the reference script (lilygeorgescu/AED evaluation/readme.md):
    # one GT track of box (10, 10, 20, 20) in frames 0-4, detections of the same box scored 0.5 in
    # frames 0-4 plus a larger box (0, 0, 20, 20) scored 0.1 in frame 3; 10 frames -> both = 1
    gt = _df([("v", 0, t, 10, 10, 20, 20) for t in range(5)], GT_COLS)
    pred = _df([("v", t, 10, 10, 20, 20, 0.5) for t in range(5)] + [("v", 3, 0, 0, 20, 20, 0.1)],
               PRED_COLS)
    assert rbdc_tbdc(pred, gt, 10) == (1.0, 1.0)
    curve = rbdc_tbdc_curves(pred, gt, 10)
    # the larger box overlaps the already-matched GT (IoU 121/441): neither TP nor FP
    assert curve["fpr"].iloc[-2] == 0.0 and curve["fpr"].iloc[-1] == 1.0


A, B = (0, 0, 9, 9), (20, 20, 29, 29)


def _hand_case():
    gt = _df([(0, 1, 0, *A), (0, 1, 1, *A), (0, 2, 2, *B)], GT_COLS)
    pred = _df([(0, 0, *A, .9), (0, 3, *A, .8), (0, 2, *B, .7), (0, 1, *B, .6), (0, 1, *A, .5)],
               PRED_COLS)
    return pred, gt


def test_rbdc_tbdc_hand_computed():
    pred, gt = _hand_case()
    # sweep: TP (1/3), FP (fpr .25), TP (2/3), FP (fpr .5), TP (1); extended to FPR 1
    # RBDC = .25 * 1/3 + .25 * 2/3 + .5 * 1 = .75
    # TBDC (alpha .1): track 1 detected at step 1, track 2 at step 3 -> .25 * .5 + .75 * 1 = .875
    assert rbdc_tbdc(pred, gt, 4) == pytest.approx((0.75, 0.875), abs=1e-15)
    # alpha .6: track 1 needs both regions (step 5) -> .25 * .5 + .5 * 1 = .625
    assert rbdc_tbdc(pred, gt, 4, alpha=0.6) == pytest.approx((0.75, 0.625), abs=1e-15)
    # per-video frame counts are summed
    assert rbdc_tbdc(pred, gt, {0: 4}) == pytest.approx((0.75, 0.875))
    # video column optional when absent from both
    assert rbdc_tbdc(pred.drop(columns="video"), gt.drop(columns="video"), 4) == pytest.approx(
        (0.75, 0.875))


def test_rbdc_truncation_at_one_false_positive_per_frame():
    gt = _df([(0, 0, 0, *A)], GT_COLS)
    far = (50, 50, 60, 60)
    # three FPs on 2 frames (FPR .5, 1, 1.5) before the only TP: nothing under FPR <= 1
    pred = _df([(0, 0, *far, .9), (0, 1, *far, .8), (0, 1, *far, .7), (0, 0, *A, .1)], PRED_COLS)
    assert rbdc_tbdc(pred, gt, 2) == (0.0, 0.0)
    # TP exactly at FPR = 1 is kept but adds no area
    pred = _df([(0, 0, *far, .9), (0, 1, *far, .8), (0, 0, *A, .1)], PRED_COLS)
    c = rbdc_tbdc_curves(pred, gt, 2)
    assert c["fpr"].iloc[-1] == 1.0 and c["rbdr"].iloc[-1] == 1.0
    assert rbdc_tbdc(pred, gt, 2) == (0.0, 0.0)
    # one FP then the TP: 1 - 1/4 of the area
    pred = _df([(0, 0, *far, .9), (0, 0, *A, .1)], PRED_COLS)
    assert rbdc_tbdc(pred, gt, 4) == pytest.approx((0.75, 0.75))


def test_rbdc_iou_plus_one_and_inclusive_threshold():
    gt = _df([(0, 0, 0, 0, 0, 9, 9)], GT_COLS)  # 10 x 10 pixels
    # a one-pixel-wide column (x1 == x2): 10 pixels, IoU = 10 / 100 = 0.1 exactly
    pred = _df([(0, 0, 0, 0, 0, 9, 1.0)], PRED_COLS)
    assert rbdc_tbdc(pred, gt, 1) == (1.0, 1.0)
    assert rbdc_tbdc(pred, gt, 1, beta=0.1000001) == (0.0, 0.0)


def test_one_prediction_matches_several_gt_regions():
    gt = _df([(0, 0, 0, 0, 0, 9, 9), (0, 1, 0, 10, 0, 19, 9)], GT_COLS)
    pred = _df([(0, 0, 0, 0, 19, 9, 0.5)], PRED_COLS)  # covers both (IoU 0.5 each)
    c = rbdc_tbdc_curves(pred, gt, 1)
    assert c["rbdr"].iloc[1] == 1.0 and c["tbdr"].iloc[1] == 1.0
    # a second prediction on an already matched region is neither a true nor a false positive
    # (the AED evaluation script leaves both tp and fp at 0 for it); one overlapping nothing is a FP
    pred2 = pd.concat([pred, _df([(0, 0, 0, 0, 9, 9, 0.4)], PRED_COLS)], ignore_index=True)
    assert rbdc_tbdc_curves(pred2, gt, 2)["fpr"].tolist() == [0.0, 0.0, 0.0, 1.0]  # last: appended
    assert rbdc_tbdc(pred2, gt, 2) == (1.0, 1.0)
    pred3 = pd.concat([pred2, _df([(0, 0, 50, 50, 59, 59, 0.3)], PRED_COLS)], ignore_index=True)
    assert rbdc_tbdc_curves(pred3, gt, 2)["fpr"].tolist() == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_perfect_detector_and_shuffled_scores():
    # one track per video, so GT regions never overlap (a prediction overlapping two GT regions
    # matches both, and the second region's own prediction would then count for nothing)
    pred, gt, nf = bench.make_case(frames=[300, 200, 150, 120], n_tracks=4, seed=3)
    perfect = gt.assign(score=1.0)[PRED_COLS]
    assert rbdc_tbdc(perfect, gt, nf) == (1.0, 1.0)
    # perfect detections ranked above 900 false alarms: still 1; shuffled scores lower both
    fa = pred.assign(score=np.random.default_rng(0).random(len(pred)) * 0.5)
    fa = fa.assign(x1=fa.x1 + 700, x2=fa.x2 + 700)  # outside the 640-px frame: never overlap
    both = pd.concat([perfect.assign(score=np.random.default_rng(4).uniform(0.6, 1, len(gt))), fa],
                     ignore_index=True)
    assert rbdc_tbdc(both, gt, nf) == (1.0, 1.0)
    shuffled = both.assign(score=np.random.default_rng(1).permutation(both["score"].to_numpy()))
    r, t = rbdc_tbdc(shuffled, gt, nf)
    assert r < 1.0 and t < 1.0
    # and on the realistic synthetic case, shuffling lowers RBDC
    r0, t0 = rbdc_tbdc(pred, gt, nf)
    r1, t1 = rbdc_tbdc(pred.assign(score=np.random.default_rng(2).permutation(pred.score.values)),
                       gt, nf)
    assert r1 < r0 and t1 <= t0


def test_empty_predictions_score_zero():
    _, gt = _hand_case()
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in PRED_COLS})
    assert rbdc_tbdc(empty, gt, 4) == (0.0, 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_independent_loop(seed):
    pred, gt, nf = bench.make_case(frames=[400, 250, 120, 60], n_tracks=7, seed=seed)
    for alpha, beta in ((0.1, 0.1), (0.5, 0.3)):
        assert rbdc_tbdc(pred, gt, nf, alpha, beta) == bench.rbdc_tbdc_loop(pred, gt, nf, alpha,
                                                                             beta)
    # ties in the scores (stable order) and jittered boxes on exact GT boxes
    tied = pred.assign(score=np.round(pred.score, 1))
    assert rbdc_tbdc(tied, gt, nf) == bench.rbdc_tbdc_loop(tied, gt, nf)
    # sparse, huge frame ids (binary-search path) and string video ids
    sp_gt = gt.assign(frame=gt.frame * 10**6, video="vid" + gt.video.astype(str))
    sp_pred = pred.assign(frame=pred.frame * 10**6, video="vid" + pred.video.astype(str))
    assert rbdc_tbdc(sp_pred, sp_gt, sum(nf.values())) == bench.rbdc_tbdc_loop(
        sp_pred, sp_gt, sum(nf.values()))


def test_rbdc_bad_input():
    pred, gt = _hand_case()
    with pytest.raises(ValueError, match="x2 < x1"):
        rbdc_tbdc(pred.assign(x2=pred.x1 - 1), gt, 4)
    with pytest.raises(ValueError, match="y2 < y1"):
        rbdc_tbdc(pred, gt.assign(y2=gt.y1 - 1), 4)
    with pytest.raises(ValueError, match="score.*NaN"):
        rbdc_tbdc(pred.assign(score=[0.1, np.nan, 0.2, 0.3, 0.4]), gt, 4)
    with pytest.raises(ValueError, match="unknown video ids in pred"):
        rbdc_tbdc(pred.assign(video=5), gt, {0: 4})
    with pytest.raises(ValueError, match="missing column"):
        rbdc_tbdc(pred.drop(columns="score"), gt, 4)
    with pytest.raises(ValueError, match="no regions"):
        rbdc_tbdc(pred, gt.iloc[:0], 4)
    with pytest.raises(ValueError, match="more than one region"):
        rbdc_tbdc(pred, pd.concat([gt, gt.iloc[:1]]), 4)
    with pytest.raises(ValueError, match="beyond"):
        rbdc_tbdc(pred, gt, {0: 2})
    with pytest.raises(ValueError, match="positive"):
        rbdc_tbdc(pred, gt, 0)
    with pytest.raises(ValueError, match="beta must be in"):
        rbdc_tbdc(pred, gt, 4, beta=1.5)


# ------------------------------------------------------------------------------------------------
# anomaly maps -> regions
# ------------------------------------------------------------------------------------------------


def test_regions_from_maps():
    maps = np.zeros((3, 20, 30))
    maps[0, 2:5, 3:8] = 0.9  # blob 1: rows 2-4, cols 3-7
    maps[0, 4, 5] = 0.95
    maps[0, 10:12, 20:22] = 0.6  # blob 2
    maps[1, 0, 0] = maps[1, 1, 1] = 0.7  # diagonal neighbours: one region (8-conn), two (4-conn)
    r = regions_from_maps({"v": maps}, threshold=0.5)
    f0 = r[r.frame == 0].sort_values("x1").reset_index(drop=True)
    assert f0[["x1", "y1", "x2", "y2"]].values.tolist() == [[3, 2, 7, 4], [20, 10, 21, 11]]
    assert f0.score.tolist() == [0.95, 0.6] and f0.area.tolist() == [15, 4]
    assert (r.frame == 1).sum() == 1
    assert (regions_from_maps(maps, 0.5, connectivity=1).frame == 1).sum() == 2
    assert (r.frame == 2).sum() == 0 and (r.video == "v").all()
    mean = regions_from_maps(maps, 0.5, score="mean")
    assert mean.score.iloc[0] == pytest.approx((14 * 0.9 + 0.95) / 15)
    # an iterable of frames and chunked arrays give the same regions
    it = regions_from_maps({"v": iter(list(maps))}, 0.5)
    ch = regions_from_maps({"v": maps}, 0.5, chunk_frames=1)
    pd.testing.assert_frame_equal(it, r)
    pd.testing.assert_frame_equal(ch, r)
    assert len(regions_from_maps(maps, 0.5, min_area=5)) == 1
    assert regions_from_maps(np.zeros((2, 4, 4)), 0.5).empty
    with pytest.raises(ValueError, match="NaN"):
        regions_from_maps(np.full((1, 2, 2), np.nan), 0.5)


def test_maps_to_rbdc_end_to_end():
    gt_rows, maps = [], np.zeros((6, 40, 60))
    for t in range(6):
        x, y = 5 + 3 * t, 8
        maps[t, y:y + 10, x:x + 12] = 0.8
        gt_rows.append((0, 0, t, x, y, x + 11, y + 9))
    maps[2, 30:35, 40:50] = 0.3  # a weaker false alarm
    gt = _df(gt_rows, GT_COLS)
    pred = regions_from_maps({0: maps}, threshold=0.2)
    assert len(pred) == 7
    r, t = rbdc_tbdc(pred, gt, {0: 6})
    assert (r, t) == (1.0, 1.0)
