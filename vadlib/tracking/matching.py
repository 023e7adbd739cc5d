"""Cost matrices and thresholded linear assignment of the JDE/FairMOT tracker (thesis Paper A).

The functions of FairMOT's ``src/lib/tracker/matching.py`` (ifzhang/FairMOT, MIT; the same file in
JDE, Zhongdao/Towards-Realtime-MOT), written over plain arrays instead of track objects:

* :func:`embedding_distance` -- cosine distance ``max(0, 1 - f_t . f_d)`` of unit-norm track and
  detection embeddings (FairMOT: ``np.maximum(0, cdist(track_feats, det_feats, "cosine"))``; for
  unit vectors the two are equal).
* :func:`iou_distance` -- ``1 - IoU`` of ``(x1, y1, x2, y2)`` boxes.
* :func:`fuse_motion` -- FairMOT's ``fuse_motion``: ``cost = lambda * cost + (1 - lambda) * d^2``
  with ``d^2`` the squared Mahalanobis gating distance of the Kalman filter, and ``inf`` wherever
  ``d^2 > chi2inv95[4]`` (9.4877; ``[2]`` when gating on position only). ``lambda = 0.98``.
* :func:`linear_assignment` -- minimum-cost matching in which a pair may only be matched if its
  cost is ``<= thresh``.

Decisions
---------
* **Assignment with a cost limit, exactly as ``lap.lapjv(cost, extend_cost=True,
  cost_limit=thresh)``** (what FairMOT calls), but solved with SciPy's
  ``linear_sum_assignment`` (no ``lap`` dependency). The ``n x m`` problem is embedded in an
  ``(n + m) x (n + m)`` one: the real block holds the costs, every row and every column may
  instead go "unmatched" at ``thresh / 2``, and dummy-dummy pairs cost 0. Leaving a row *and* a
  column unmatched costs ``thresh``, so an optimal solution never uses a pair dearer than
  ``thresh``, and among the admissible pairs it minimises the total cost *including* the penalty
  for what stays unmatched. This is not the same as "Hungarian on the raw matrix, then drop pairs
  above the threshold": that variant can sacrifice a cheap admissible pair to make room for an
  inadmissible one and then lose both.
* Entries that are ``inf``/NaN (gated) or ``> thresh`` are never matched; they are replaced by
  ``thresh + 1`` before solving (any value ``> thresh`` is never chosen, by the argument above), so
  all-``inf`` matrices, empty (0 x N, N x 0) matrices and rows or columns without any admissible
  entry are fine. Rows and columns without an admissible entry are removed before solving (they
  are unmatched in every optimum), which keeps the solved problem small.
* IoU in continuous coordinates (``area = (x2 - x1) * (y2 - y1)``, as TrackEval's evaluation).
  FairMOT's ``cython_bbox.bbox_overlaps`` uses the old "+1 pixel" convention
  (``area = (x2 - x1 + 1) * (y2 - y1 + 1)``); for pedestrian-sized boxes the difference in IoU is
  about 1 %.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .kalman import CHI2INV95, KalmanFilter

__all__ = ["embedding_distance", "iou_distance", "box_iou", "fuse_motion", "linear_assignment"]


def embedding_distance(track_features, det_features) -> np.ndarray:
    """Cosine distance ``max(0, 1 - <f_t, f_d>)`` between unit-norm rows -> (T, N)."""
    a = np.asarray(track_features, dtype=np.float64)
    b = np.asarray(det_features, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return np.zeros((len(a), len(b)))
    return np.maximum(0.0, 1.0 - a @ b.T)


def box_iou(a_tlbr, b_tlbr) -> np.ndarray:
    """IoU between ``(x1, y1, x2, y2)`` boxes ``a`` (T, 4) and ``b`` (N, 4) -> (T, N).

    Continuous coordinates; boxes with zero area have IoU 0 with everything.
    """
    a = np.asarray(a_tlbr, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_tlbr, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def iou_distance(a_tlbr, b_tlbr) -> np.ndarray:
    """``1 - IoU`` between ``(x1, y1, x2, y2)`` boxes -> (T, N) (FairMOT ``iou_distance``)."""
    return 1.0 - box_iou(a_tlbr, b_tlbr)


def fuse_motion(kf: KalmanFilter, cost, means, covariances, det_xyah, *,
                lambda_: float = 0.98, only_position: bool = False) -> np.ndarray:
    """Fuse an appearance cost with the Kalman motion cost and gate it (FairMOT ``fuse_motion``).

    ``out = lambda_ * cost + (1 - lambda_) * d^2`` with ``d^2`` the squared Mahalanobis distance
    of each detection ``(cx, cy, a, h)`` to each track's predicted state, and ``out = inf`` where
    ``d^2 > CHI2INV95[4]`` (``[2]`` with ``only_position``). Returns a new (T, N) array.
    """
    cost = np.array(cost, dtype=np.float64)
    if cost.size == 0:
        return cost
    d2 = kf.multi_gating_distance(means, covariances, det_xyah, only_position=only_position)
    gate = CHI2INV95[2 if only_position else 4]
    out = lambda_ * cost + (1.0 - lambda_) * d2
    out[d2 > gate] = np.inf
    return out


def linear_assignment(cost, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching with a per-pair cost limit (``lap.lapjv(..., cost_limit=thresh)``).

    Args:
        cost: (n, m) cost matrix; ``inf``/NaN entries are forbidden pairs.
        thresh: largest admissible pair cost (>= 0).
    Returns:
        ``matches`` (K, 2) int array of (row, col) pairs sorted by row, ``unmatched_rows`` and
        ``unmatched_cols`` (sorted int arrays).
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-d matrix, got shape {cost.shape}")
    thresh = float(thresh)
    if not np.isfinite(thresh) or thresh < 0:
        raise ValueError(f"thresh must be a finite number >= 0, got {thresh}")
    n, m = cost.shape
    empty = np.empty((0, 2), dtype=np.int64)
    admissible = np.isfinite(cost) & (cost <= thresh)         # NaN compares False
    rows = np.flatnonzero(admissible.any(axis=1))
    cols = np.flatnonzero(admissible.any(axis=0))
    if len(rows) == 0:
        return empty, np.arange(n), np.arange(m)
    sub = np.where(admissible[np.ix_(rows, cols)], cost[np.ix_(rows, cols)], thresh + 1.0)
    r, c = len(rows), len(cols)
    ext = np.full((r + c, r + c), thresh / 2.0)
    ext[:r, :c] = sub
    ext[r:, c:] = 0.0
    ri, ci = linear_sum_assignment(ext)
    real = (ri < r) & (ci < c)
    ri, ci = ri[real], ci[real]
    ok = admissible[rows[ri], cols[ci]]
    matches = np.stack([rows[ri[ok]], cols[ci[ok]]], axis=1).astype(np.int64)
    matches = matches[np.argsort(matches[:, 0], kind="stable")]
    un_rows = np.setdiff1d(np.arange(n), matches[:, 0])
    un_cols = np.setdiff1d(np.arange(m), matches[:, 1])
    return matches, un_rows, un_cols
