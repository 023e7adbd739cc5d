"""Tests of vadlib.tracking: Kalman filter against hand-written formulas, thresholded assignment
against brute force, and the FairMOT-style tracker on synthetic sequences scored with
vadlib.metrics.tracking.evaluate_mot (TrackEval)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from vadlib.metrics.tracking import evaluate_mot
from vadlib.tracking import (
    CHI2INV95,
    MOT_PRED_COLUMNS,
    KalmanFilter,
    Tracker,
    TrackState,
    box_iou,
    fuse_motion,
    linear_assignment,
    track_sequence,
)

SP, SV = 1.0 / 20, 1.0 / 160   # DeepSORT/JDE/FairMOT std weights


# -- Kalman filter --------------------------------------------------------------------------------

def _F():
    F = np.eye(8)
    F[0, 4] = F[1, 5] = F[2, 6] = F[3, 7] = 1.0
    return F


def _H():
    return np.hstack([np.eye(4), np.zeros((4, 4))])


def test_kalman_initiate_predict_update_by_hand():
    kf = KalmanFilter()
    z0 = np.array([100.0, 200.0, 0.5, 80.0])
    mean0, cov0 = kf.initiate(z0)
    h = 80.0
    P0 = np.diag([(2 * SP * h) ** 2, (2 * SP * h) ** 2, 1e-4, (2 * SP * h) ** 2,
                  (10 * SV * h) ** 2, (10 * SV * h) ** 2, 1e-10, (10 * SV * h) ** 2])
    np.testing.assert_allclose(mean0, [100, 200, 0.5, 80, 0, 0, 0, 0])
    np.testing.assert_allclose(cov0, P0, rtol=1e-12)

    # one predict step: x- = F x, P- = F P F^T + Q(h)
    F = _F()
    Q = np.diag([(SP * h) ** 2, (SP * h) ** 2, 1e-4, (SP * h) ** 2,
                 (SV * h) ** 2, (SV * h) ** 2, 1e-10, (SV * h) ** 2])
    mean_p, cov_p = kf.predict(mean0, cov0)
    np.testing.assert_allclose(mean_p, F @ mean0)
    np.testing.assert_allclose(cov_p, F @ P0 @ F.T + Q, rtol=1e-12)
    # h = 80: P0 position var (2 * 4)^2 = 64, velocity var (10 * 0.5)^2 = 25, Q position 4^2 = 16
    assert cov_p[0, 0] == pytest.approx(64.0 + 25.0 + 16.0)
    assert cov_p[0, 4] == pytest.approx(25.0)

    # update with a measurement: K = P H^T S^-1, x+ = x + K (z - H x), P+ = (I - K H) P
    z1 = np.array([104.0, 203.0, 0.52, 82.0])
    H = _H()
    R = np.diag([(SP * h) ** 2, (SP * h) ** 2, 1e-2, (SP * h) ** 2])
    S = H @ cov_p @ H.T + R
    K = cov_p @ H.T @ np.linalg.inv(S)
    exp_mean = mean_p + K @ (z1 - H @ mean_p)
    exp_cov = (np.eye(8) - K @ H) @ cov_p
    mean_u, cov_u = kf.update(mean_p, cov_p, z1)
    np.testing.assert_allclose(mean_u, exp_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov_u, exp_cov, rtol=1e-8, atol=1e-12)
    # the velocity learnt from one innovation: K[4, 0] * 4 px
    assert mean_u[4] == pytest.approx(K[4, 0] * 4.0) and mean_u[4] > 0
    # project = (H x, S)
    pm, ps = kf.project(mean_p, cov_p)
    np.testing.assert_allclose(pm, H @ mean_p)
    np.testing.assert_allclose(ps, S, rtol=1e-12)


def test_kalman_multi_predict_and_steps():
    kf = KalmanFilter()
    rng = np.random.default_rng(0)
    means, covs = [], []
    for _ in range(5):
        m, c = kf.initiate([rng.uniform(0, 500), rng.uniform(0, 500), 0.4, rng.uniform(50, 150)])
        m[4:] = rng.normal(0, 2, 4)
        means.append(m)
        covs.append(c)
    means, covs = np.stack(means), np.stack(covs)
    m_copy, c_copy = means.copy(), covs.copy()
    mm, cc = kf.multi_predict(means, covs, steps=3)
    np.testing.assert_array_equal(means, m_copy)      # inputs untouched
    np.testing.assert_array_equal(covs, c_copy)
    for i in range(5):
        m, c = means[i], covs[i]
        for _ in range(3):
            m, c = kf.predict(m, c)
        np.testing.assert_allclose(mm[i], m, rtol=1e-12)
        np.testing.assert_allclose(cc[i], c, rtol=1e-12)
    m0, c0 = kf.multi_predict(means, covs, steps=0)
    np.testing.assert_array_equal(m0, means)
    # batched update equals one-at-a-time update
    z = mm[:, :4] + rng.normal(0, 2, (5, 4))
    um, uc = kf.multi_update(mm, cc, z)
    for i in range(5):
        m, c = kf.update(mm[i], cc[i], z[i])
        np.testing.assert_allclose(um[i], m, rtol=1e-10)
        np.testing.assert_allclose(uc[i], c, rtol=1e-8, atol=1e-12)


def test_gating_distance_is_mahalanobis():
    kf = KalmanFilter()
    mean, cov = kf.initiate([300.0, 150.0, 0.45, 120.0])
    mean[4:6] = [3.0, -1.0]
    mean, cov = kf.predict(mean, cov)
    H = _H()
    R = np.diag([(SP * mean[3]) ** 2, (SP * mean[3]) ** 2, 1e-2, (SP * mean[3]) ** 2])
    S = H @ cov @ H.T + R
    zs = np.array([[303.0, 149.0, 0.45, 120.0], [320.0, 160.0, 0.5, 130.0],
                   [400.0, 150.0, 0.45, 120.0]])
    d = zs - H @ mean
    expected = np.einsum("ni,ij,nj->n", d, np.linalg.inv(S), d)
    got = kf.gating_distance(mean, cov, zs)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    exp_pos = np.einsum("ni,ij,nj->n", d[:, :2], np.linalg.inv(S[:2, :2]), d[:, :2])
    np.testing.assert_allclose(kf.gating_distance(mean, cov, zs, only_position=True), exp_pos,
                               rtol=1e-9)
    # the table: 0.95 quantiles of chi2 (scipy), 4 decimals as DeepSORT
    from scipy.stats import chi2
    for k, v in CHI2INV95.items():
        assert v == pytest.approx(chi2.ppf(0.95, k), abs=6e-4)
    # multi version: (T, N)
    md = kf.multi_gating_distance(np.stack([mean, mean]), np.stack([cov, cov]), zs)
    np.testing.assert_allclose(md, np.stack([expected, expected]), rtol=1e-9)
    assert kf.multi_gating_distance(np.zeros((0, 8)), np.zeros((0, 8, 8)), zs).shape == (0, 3)


def test_fuse_motion_gates_and_mixes():
    kf = KalmanFilter()
    mean, cov = kf.initiate([100.0, 100.0, 0.5, 100.0])
    zs = np.array([[101.0, 100.0, 0.5, 100.0], [400.0, 100.0, 0.5, 100.0]])
    d2 = kf.gating_distance(mean, cov, zs)
    assert d2[0] < CHI2INV95[4] < d2[1]
    cost = fuse_motion(kf, np.array([[0.1, 0.0]]), mean[None], cov[None], zs)
    assert cost[0, 0] == pytest.approx(0.98 * 0.1 + 0.02 * d2[0])
    assert cost[0, 1] == np.inf


# -- assignment ------------------------------------------------------------------------------------

def _brute_force_total(cost, thresh):
    """Minimum over all partial matchings of: matched costs + thresh/2 per unmatched row/col."""
    n, m = cost.shape
    best = (n + m) * thresh / 2
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                c = cost[list(rows), list(cols)]
                if np.all(c <= thresh):
                    best = min(best, c.sum() + (n + m - 2 * k) * thresh / 2)
    return best


def test_linear_assignment_matches_brute_force_with_cost_limit():
    rng = np.random.default_rng(1)
    for trial in range(40):
        n, m = rng.integers(1, 5, size=2)
        cost = rng.uniform(0, 1, (n, m))
        cost[rng.random((n, m)) < 0.2] = np.inf
        thresh = 0.5
        matches, ur, uc = linear_assignment(cost, thresh)
        total = cost[matches[:, 0], matches[:, 1]].sum() + (n + m - 2 * len(matches)) * thresh / 2
        assert total == pytest.approx(_brute_force_total(cost, thresh)), trial
        assert np.all(cost[matches[:, 0], matches[:, 1]] <= thresh)
        assert sorted(list(matches[:, 0]) + list(ur)) == list(range(n))
        assert sorted(list(matches[:, 1]) + list(uc)) == list(range(m))


def test_linear_assignment_cost_limit_is_not_hungarian_then_filter():
    # Hungarian on the raw matrix takes (0,1) + (1,0) = 1.25 < 2.3, and filtering at 0.4 then
    # keeps (0,1) alone. With the cost limit each unmatched row/column costs 0.2: (0,0) alone
    # costs 0.3 + 0.4 = 0.7 < (0,1) alone 0.35 + 0.4 = 0.75 < nothing matched 0.8.
    cost = np.array([[0.3, 0.35], [0.9, 2.0]])
    matches, ur, uc = linear_assignment(cost, 0.4)
    assert matches.tolist() == [[0, 0]]
    assert ur.tolist() == [1] and uc.tolist() == [1]


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (4, 0)])
def test_linear_assignment_empty(shape):
    matches, ur, uc = linear_assignment(np.zeros(shape), 0.4)
    assert matches.shape == (0, 2)
    assert len(ur) == shape[0] and len(uc) == shape[1]


def test_linear_assignment_all_gated_and_nan():
    for fill in (np.inf, np.nan, 5.0):
        matches, ur, uc = linear_assignment(np.full((3, 4), fill), 0.4)
        assert matches.shape == (0, 2) and ur.tolist() == [0, 1, 2] and uc.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        linear_assignment(np.zeros(3), 0.4)


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 5]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0], [0, 0]])


# -- tracker on synthetic sequences ----------------------------------------------------------------

#: (x0, y0, vx, vy, w, h, first frame): two head-on crossings (objects 1/2 and 3/4 meet around
#: frame 50 with overlapping boxes), four free movers, one object entering at frame 30.
OBJECTS = [(100, 200, 10, 0, 50, 130, 1), (1100, 205, -10, 0, 50, 130, 1),
           (200, 450, 8, 1, 45, 120, 1), (1000, 470, -8, -1, 48, 125, 1),
           (600, 100, 0, 3, 40, 110, 1), (300, 600, 3, -2, 55, 140, 1),
           (900, 300, -2, 2, 60, 150, 1), (50, 350, 5, 0, 42, 115, 30)]


def synthetic_sequence(n_frames=100, dim=64, drop=0.1, box_noise=2.0, emb_noise=0.1,
                       identity=True, seed=0):
    """Frames ``(frame, tlwh boxes, scores, embeddings)`` and the GT DataFrame.

    Detections = GT boxes + N(0, box_noise) on the corner (half on the size), a fraction ``drop``
    removed at random, scores U(0.5, 1). Embeddings: ``identity=True`` -> a fixed random unit
    vector per object plus noise of norm ~``emb_noise``, re-normalised; ``identity=False`` -> a
    fresh random unit vector for every detection (no identity signal).
    """
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(len(OBJECTS), dim))
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    gt, frames = [], []
    for f in range(1, n_frames + 1):
        boxes, scores, embs = [], [], []
        for i, (x0, y0, vx, vy, w, h, f0) in enumerate(OBJECTS):
            if f < f0:
                continue
            t = f - f0
            box = np.array([x0 + vx * t, y0 + vy * t, w, h], float)
            gt.append((f, i + 1, *box))
            if rng.random() < drop:
                continue
            boxes.append(box + rng.normal(0, box_noise, 4) * [1, 1, 0.5, 0.5])
            scores.append(rng.uniform(0.5, 1.0))
            v = protos[i] if identity else rng.normal(size=dim)
            v = v / np.linalg.norm(v) + rng.normal(0, emb_noise / np.sqrt(dim), dim)
            embs.append(v / np.linalg.norm(v))
        frames.append((f, np.array(boxes).reshape(-1, 4), np.array(scores),
                       np.array(embs).reshape(-1, dim)))
    gt = pd.DataFrame(gt, columns=["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"])
    return frames, gt


def _score(frames, gt, **kw):
    pred = track_sequence(frames, **kw)
    return pred, evaluate_mot(gt, pred, benchmark="MOT15").loc["COMBINED"]


def test_tracker_synthetic_identity_embeddings():
    frames, gt = synthetic_sequence(identity=True, seed=0)
    pred, res = _score(frames, gt)
    assert list(pred.columns) == MOT_PRED_COLUMNS
    assert (pred[["x", "y", "z"]] == -1).all().all()
    assert res["IDF1"] >= 0.9
    assert res["IDSW"] <= 2
    assert res["MOTA"] >= 0.85          # ~10 % of the boxes are missing from the input
    assert res["FP"] <= 5
    assert pred["id"].nunique() <= 10   # 8 objects, crossings and gaps do not split them


def test_tracker_synthetic_random_embeddings_control():
    # Without identity signal, stage 1 (cosine < ~0.4) never matches, so association is stage 2
    # (IoU with the Kalman-predicted box) alone.
    # (a) No dropped detections: IoU + constant-velocity prediction keeps every identity, even
    #     through the two head-on crossings.
    frames, gt = synthetic_sequence(identity=False, drop=0.0, seed=0)
    _, res = _score(frames, gt)
    assert res["IDF1"] >= 0.95 and res["IDSW"] <= 2 and res["MOTA"] >= 0.95
    # (b) 10 % dropped: in FairMOT's scheme a lost track can only come back through stage 1
    #     (appearance), so every missed detection fragments the track (the re-detection starts a
    #     new id, or is suppressed as a duplicate of the still-predicted lost track). Detection
    #     stays reasonable, identity collapses -- far below the identity-embedding run.
    frames, gt = synthetic_sequence(identity=False, drop=0.1, seed=0)
    _, res_rand = _score(frames, gt)
    frames, gt = synthetic_sequence(identity=True, drop=0.1, seed=0)
    _, res_id = _score(frames, gt)
    assert res_rand["MOTA"] >= 0.35
    assert res_rand["IDF1"] <= res_id["IDF1"] - 0.3
    assert res_rand["IDSW"] > 10 * max(1, res_id["IDSW"])


def _one_object(frame, x0=100.0, vx=4.0, dim=16, seed=0):
    e = np.random.default_rng(seed).normal(size=dim)
    box = np.array([[x0 + vx * frame, 100.0, 40.0, 100.0]])
    return box, np.array([0.9]), (e / np.linalg.norm(e))[None]


def test_track_survives_gap_then_expires():
    tr = Tracker(track_buffer=10)              # frame_rate 30 -> max_time_lost = 10
    assert tr.max_time_lost == 10
    empty = (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 16)))
    ids = []
    for f in range(1, 11):
        out = tr.update(*_one_object(f))
        ids += [o.track_id for o in out]
    assert set(ids) == {1} and len(ids) == 10
    for f in range(11, 16):                     # 5 frames without detections
        assert tr.update(*empty) == []
    assert [t.track_id for t in tr.lost_tracks] == [1]
    assert tr.lost_tracks[0].state == TrackState.LOST
    out = tr.update(*_one_object(16))           # re-found (stage 1) with the same id
    assert [o.track_id for o in out] == [1]
    assert tr.lost_tracks == [] and tr.tracked_tracks[0].state == TrackState.TRACKED
    # now the buffer: last match at frame 16, kept while frame - 16 <= 10
    for f in range(17, 27):
        tr.update(*empty)
    assert [t.track_id for t in tr.lost_tracks] == [1]
    tr.update(*empty)                           # frame 27: 27 - 16 > 10
    assert tr.lost_tracks == [] and [t.track_id for t in tr.removed_tracks] == [1]
    assert tr.removed_tracks[0].state == TrackState.REMOVED
    tr.update(*_one_object(28))                 # same object again: a new (unconfirmed) track
    assert [t.track_id for t in tr.tracked_tracks] == [2]
    assert tr.tracked_tracks[0].state == TrackState.NEW


def test_missing_frame_numbers_predict_once_per_frame():
    tr = Tracker()
    for f in range(1, 6):
        tr.update(*_one_object(f), frame=f)
    t = tr.tracked_tracks[0]
    mean, cov = t.mean.copy(), t.covariance.copy()
    kf = KalmanFilter()
    for _ in range(4):                          # frames 6, 7, 8 missing -> 4 steps to frame 9
        mean, cov = kf.predict(mean, cov)
    boxes, scores, emb = _one_object(9)
    out = tr.update(boxes, scores, emb, frame=9)
    assert [o.track_id for o in out] == [1]     # never lost during the skipped frames
    mean, cov = kf.update(mean, cov, KalmanFilter.tlwh_to_xyah(boxes[0]))
    np.testing.assert_allclose(t.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(t.covariance, cov, rtol=1e-8)
    with pytest.raises(ValueError, match="increase"):
        tr.update(boxes, scores, emb, frame=9)
    # track_sequence with non-consecutive frames, evaluated by TrackEval
    frames, gt = synthetic_sequence(identity=True, drop=0.0, seed=3)
    kept = [fr for fr in frames if fr[0] % 5 != 0]      # every 5th frame missing from the input
    pred, res = _score(kept, gt)
    assert set(pred["frame"]) <= {fr[0] for fr in kept}
    assert res["IDSW"] == 0 and pred["id"].nunique() == 8


def test_unconfirmed_tracks_and_first_frame():
    tr = Tracker()
    b, s, e = _one_object(1)
    assert [o.track_id for o in tr.update(b, s, e)] == [1]          # frame 1: activated at once
    b2, s2, e2 = _one_object(2, x0=600.0, seed=1)                   # a second object appears
    out = tr.update(np.vstack([_one_object(2)[0], b2]), np.r_[0.9, 0.9],
                    np.vstack([e, e2]))
    assert [o.track_id for o in out] == [1]                         # id 2 is unconfirmed
    assert [t.state for t in tr.tracked_tracks] == [TrackState.TRACKED, TrackState.NEW]
    out = tr.update(np.vstack([_one_object(3)[0], _one_object(3, x0=600.0)[0]]),
                    np.r_[0.9, 0.9], np.vstack([e, e2]))
    assert [o.track_id for o in out] == [1, 2]                      # confirmed by stage 3
    # an unconfirmed track that is not matched again is removed, never lost
    tr.update(np.vstack([_one_object(4)[0], _one_object(4)[0] + [0, 500, 0, 0]]),
              np.r_[0.9, 0.9], np.vstack([e, e2]))
    out = tr.update(_one_object(5)[0], [0.9], e)
    assert 3 in [t.track_id for t in tr.removed_tracks]
    assert all(t.track_id != 3 for t in tr.lost_tracks)


def test_embedding_ema():
    tr = Tracker()
    b, s, e = _one_object(1)
    tr.update(b, s, e)
    e2 = np.random.default_rng(5).normal(size=(1, 16))
    tr.update(_one_object(2)[0], s, e2 / np.linalg.norm(e2) * 0.2 + e * 0.98)
    t = tr.tracked_tracks[0]
    new = e2 / np.linalg.norm(e2) * 0.2 + e * 0.98
    new = new[0] / np.linalg.norm(new)
    exp = 0.9 * e[0] + 0.1 * new
    np.testing.assert_allclose(t.feature, exp / np.linalg.norm(exp), rtol=1e-12)


def test_output_filter_and_box_formats():
    tall = np.array([[10.0, 10.0, 40.0, 100.0]])
    wide = np.array([[200.0, 10.0, 100.0, 50.0]])     # w/h = 2 > 1.6
    tiny = np.array([[400.0, 10.0, 8.0, 12.0]])       # area 96 <= 100
    boxes = np.vstack([tall, wide, tiny])
    emb = np.eye(3, 8)
    tr = Tracker()
    out = tr.update(boxes, [0.9, 0.9, 0.9], emb)
    assert [o.track_id for o in out] == [1] and len(tr.tracked_tracks) == 3
    np.testing.assert_allclose(out[0].tlwh, tall[0])
    assert out[0].score == pytest.approx(0.9)
    tr = Tracker(min_box_area=0, max_aspect_ratio=np.inf)
    assert len(tr.update(boxes, [0.9, 0.9, 0.9], emb)) == 3
    tlbr = boxes.copy()
    tlbr[:, 2:] += tlbr[:, :2]
    tr = Tracker(box_format="tlbr", min_box_area=0, max_aspect_ratio=np.inf)
    out = tr.update(tlbr, [0.9, 0.9, 0.9], emb)
    np.testing.assert_allclose(np.stack([o.tlwh for o in out]), boxes)
    # low scores: dropped at conf_thres (strictly greater kept), new tracks at new_track_thres
    tr = Tracker(min_box_area=0, max_aspect_ratio=np.inf, new_track_thres=0.6)
    out = tr.update(boxes, [0.4, 0.5, 0.7], emb)
    assert [o.track_id for o in out] == [1] and out[0].tlwh[0] == 400.0


def test_tlbr_sequence_equals_tlwh():
    frames, gt = synthetic_sequence(n_frames=30, seed=2)
    tlbr_frames = [(f, np.c_[b[:, :2], b[:, :2] + b[:, 2:]], s, e) for f, b, s, e in frames]
    a = track_sequence(frames)
    b = track_sequence(tlbr_frames, box_format="tlbr")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    # dict items, and an existing tracker
    c = track_sequence([dict(frame=f, boxes=bx, scores=s, embeddings=e) for f, bx, s, e in frames],
                       tracker=Tracker())
    pd.testing.assert_frame_equal(a, c)
    with pytest.raises(ValueError, match="either"):
        track_sequence(frames, tracker=Tracker(), frame_rate=25)


# -- bad input -------------------------------------------------------------------------------------

def test_empty_frames():
    tr = Tracker()
    assert tr.update(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 16))) == []
    assert tr.update([], [], None) == []
    out = tr.update(*_one_object(3))
    assert len(tr.tracked_tracks) == 1 and out == []          # not the first frame: unconfirmed
    assert tr.update(np.zeros((0, 4)), [], np.zeros((0,))) == []
    df = track_sequence([(1, np.zeros((0, 4)), np.zeros(0), None)])
    assert list(df.columns) == MOT_PRED_COLUMNS and len(df) == 0


def test_zero_size_and_negative_boxes_dropped():
    tr = Tracker(min_box_area=0)
    boxes = np.array([[0, 0, 0, 10], [0, 0, 10, 0], [5, 5, -3, 10], [50, 50, 20, 40]], float)
    out = tr.update(boxes, np.full(4, 0.9), np.eye(4))
    assert len(out) == 1 and len(tr.tracked_tracks) == 1
    np.testing.assert_allclose(out[0].tlwh, [50, 50, 20, 40])
    tr = Tracker(box_format="tlbr")
    assert tr.update([[10, 10, 5, 50]], [0.9], np.eye(1, 4)) == []   # x2 < x1


def test_mismatched_lengths_and_shapes():
    tr = Tracker()
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2,\).*\(3, 8\)"):
        tr.update(np.zeros((3, 4)) + 1, np.ones(2), np.ones((3, 8)))
    with pytest.raises(ValueError, match=r"\(2, 8\)"):
        tr.update(np.ones((3, 4)), np.ones(3), np.ones((2, 8)))
    with pytest.raises(ValueError, match="N, 4"):
        tr.update(np.ones((3, 5)), np.ones(3), np.ones((3, 8)))
    with pytest.raises(ValueError, match="embeddings are required"):
        tr.update(np.ones((3, 4)), np.ones(3), None)
    tr.update(*_one_object(1))
    with pytest.raises(ValueError, match="dimension"):
        tr.update(_one_object(2)[0], [0.9], np.ones((1, 8)))
    with pytest.raises(ValueError, match="zero norm"):
        tr.update(_one_object(2)[0], [0.9], np.zeros((1, 16)))
    assert tr.frame == 1                        # rejected frames leave the tracker unchanged
    assert [o.track_id for o in tr.update(*_one_object(2))] == [1]


@pytest.mark.parametrize("which", ["boxes", "scores", "embeddings"])
def test_nan_raises(which):
    b, s, e = _one_object(1)
    arrs = {"boxes": b.copy(), "scores": s.copy(), "embeddings": e.copy()}
    arrs[which].flat[0] = np.nan
    with pytest.raises(ValueError, match=f"{which} contain NaN"):
        Tracker().update(arrs["boxes"], arrs["scores"], arrs["embeddings"])
    arrs[which].flat[0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        Tracker().update(arrs["boxes"], arrs["scores"], arrs["embeddings"])


def test_duplicate_of_lost_track_is_dropped():
    # FairMOT remove_duplicate_stracks: a new track on top of a lost track (1 - IoU < 0.15) is
    # dropped when its history is not longer than the lost track's.
    for dup, expect_new in ((0.15, False), (0.0, True)):
        tr = Tracker(duplicate_iou_dist=dup)
        for f in range(1, 6):
            tr.update(*_one_object(f))
        tr.update(np.zeros((0, 4)), [], None)                  # frame 6: track 1 lost
        b, s, _ = _one_object(7)
        other = np.eye(1, 16, 3)                               # orthogonal embedding: no stage 1
        assert tr.update(b, s, other) == []
        assert [t.track_id for t in tr.lost_tracks] == [1]
        assert [t.track_id for t in tr.tracked_tracks] == ([2] if expect_new else [])
        assert (2 in [t.track_id for t in tr.removed_tracks]) != expect_new


def test_all_gated_frame_does_not_crash():
    tr = Tracker()
    b, s, e = _one_object(1)
    tr.update(b, s, e)
    tr.update(*_one_object(2))
    # same embedding, but 600 px away: Mahalanobis gate -> inf everywhere in stage 1, IoU 0
    far = _one_object(3)[0] + [600, 400, 0, 0]
    out = tr.update(far, s, e)
    assert out == []
    assert [t.track_id for t in tr.lost_tracks] == [1]
    assert [(t.track_id, t.state) for t in tr.tracked_tracks] == [(2, TrackState.NEW)]
    # many tracks, every pair gated
    tr = Tracker()
    grid = np.array([[100.0 * i, 0, 30, 80] for i in range(6)])
    tr.update(grid, np.full(6, 0.9), np.eye(6))
    out = tr.update(grid + [0, 1000, 0, 0], np.full(6, 0.9), np.eye(6))
    assert out == [] and len(tr.lost_tracks) == 6


def test_tracker_arguments_validated():
    with pytest.raises(ValueError):
        Tracker(frame_rate=0)
    with pytest.raises(ValueError):
        Tracker(box_format="xyxy")
    with pytest.raises(ValueError):
        Tracker(motion_lambda=1.5)
    assert Tracker(frame_rate=14, track_buffer=30).max_time_lost == 14
    # FairMOT mode (no prediction of unconfirmed tracks) runs and tracks
    frames, gt = synthetic_sequence(n_frames=40, seed=4)
    _, res = _score(frames, gt, predict_unconfirmed=False)
    assert res["IDF1"] >= 0.9
