"""Paper E's score-level ("late") fusion of a spatial and a temporal normalcy score.

Thesis ``000_f794b37c98b9d304.txt``, Paper E Sec. 3.1-3.3 (T 3117-3148)::

    S_sgan(t)     = (TE_t − min TE) / (max TE − min TE)               (E.2)   TE = ADE + FDE (E.1)
    S_temporal(t) = 1 − S_sgan(t)                                      (E.3)
    S_spatial(t)  = (PSNR_t − min PSNR) / (max PSNR − min PSNR)        (E.5)
    S_total(t)    = sigmoid(α·S_spatial(t) + β·S_temporal(t))          (E.6)

"we learn two parameters, one for each score vector ... we minimize the binary cross-entropy loss".
All S are *normalcy* scores (high = normal), so the BCE target is 1 for normal frames and 0 for
abnormal ones (our reading; the thesis does not state the polarity), and a frame's anomaly score is
``1 − S_total``. There is no bias term.

Which frames the fit sees: "At the testing time, we obtain the score vectors ... which are provided
as input to our parameter learning scheme ... we concatenate all the sequence and learned the
parameters for the entire dataset" (T 3167-3173) -- the printed protocol fits α, β on the labels of
the very test frames it evaluates (:func:`fit_fusion` on the test set). Two additions (spec
``papers_E_F.md`` §1.7, §1.13):

* :func:`best_mixing_weight` -- sigmoid is monotone and there is no bias, so the fused AUC depends
  only on the direction of (α, β); a grid over w in ``w·S_spatial + (1 − w)·S_temporal`` gives the
  best AUC any fit could reach (an upper bound to report beside the BCE fit).
* :func:`held_out_fusion` -- an honest variant: cross-validation over videos, each video's frames
  fused with α, β fitted on the other videos only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

__all__ = ["minmax", "fit_fusion", "fuse", "best_mixing_weight", "held_out_fusion"]


def minmax(scores) -> np.ndarray:
    """Min-max normalisation (Eqs. E.2 / E.5): ``(s − min s) / (max s − min s)`` over the given
    values (float64), ignoring NaNs (which stay NaN); all zeros when the values are constant."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = scores[~np.isnan(scores)]
    if finite.size == 0:
        return scores.copy()
    low, span = finite.min(), finite.max() - finite.min()
    return (scores - low) / span if span > 0 else np.where(np.isnan(scores), np.nan, 0.0)


def _validated(spatial, temporal, abnormal=None) -> tuple[np.ndarray, ...]:
    arrays = [np.asarray(spatial, dtype=np.float64).reshape(-1),
              np.asarray(temporal, dtype=np.float64).reshape(-1)]
    if abnormal is not None:
        arrays.append(np.asarray(abnormal).reshape(-1))
        if not np.isin(arrays[2], (0, 1)).all():
            raise ValueError("abnormal must hold 0/1 frame labels (1 = abnormal)")
        arrays[2] = arrays[2].astype(np.float64)
    if len({a.size for a in arrays}) != 1:
        raise ValueError(f"score and label vectors differ in length: {[a.size for a in arrays]}")
    if not (np.isfinite(arrays[0]).all() and np.isfinite(arrays[1]).all()):
        raise ValueError("scores must be finite (fill frames without a temporal score first)")
    return tuple(arrays)


def fit_fusion(spatial, temporal, abnormal) -> tuple[float, float]:
    """α, β of Eq. E.6 minimising the mean binary cross-entropy of
    ``sigmoid(α·S_spatial + β·S_temporal)`` against the target 1 = normal (``abnormal`` = 0), no
    bias: a two-parameter logistic regression, convex, solved deterministically by L-BFGS from
    (0, 0) with the exact gradient. The paper fits it on the evaluated test frames' labels
    (T 3167-3173; module docstring); pass other frames for a held-out fit. With perfectly
    separable data the optimum lies at infinity and the result is where the solver stops."""
    spatial, temporal, abnormal = _validated(spatial, temporal, abnormal)
    features = np.stack((spatial, temporal), axis=1)
    normal = 1.0 - abnormal

    def loss_and_gradient(params: np.ndarray) -> tuple[float, np.ndarray]:
        logits = features @ params
        loss = np.mean(np.logaddexp(0.0, logits) - normal * logits)
        return float(loss), features.T @ (expit(logits) - normal) / len(normal)

    result = minimize(loss_and_gradient, np.zeros(2), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-10})
    alpha, beta = result.x
    return float(alpha), float(beta)


def fuse(spatial, temporal, alpha: float, beta: float) -> np.ndarray:
    """Eq. E.6: ``S_total = sigmoid(α·S_spatial + β·S_temporal)``, a normalcy score per frame."""
    spatial, temporal = _validated(spatial, temporal)
    return expit(alpha * spatial + beta * temporal)


def best_mixing_weight(spatial, temporal, abnormal,
                       grid: int | Sequence[float] = 101) -> tuple[float, float]:
    """``(w, auc)``: the w in ``grid`` (a number of evenly spaced points in [0, 1], or the values
    themselves) maximising the frame-level ROC-AUC of the abnormal labels against the anomaly score
    ``−(w·S_spatial + (1 − w)·S_temporal)`` (sklearn ``roc_auc_score``); the first best w on ties.
    The AUC-optimal fusion with non-negative weights, an upper bound for :func:`fit_fusion`'s."""
    spatial, temporal, abnormal = _validated(spatial, temporal, abnormal)
    weights = np.linspace(0.0, 1.0, grid) if isinstance(grid, int) else np.asarray(grid, float)
    aucs = [roc_auc_score(abnormal, -(w * spatial + (1.0 - w) * temporal)) for w in weights]
    best = int(np.argmax(aucs))
    return float(weights[best]), float(aucs[best])


def held_out_fusion(spatial, temporal, abnormal, groups, folds: int | None = None) -> np.ndarray:
    """Fused normalcy scores (Eq. E.6) of every frame from a fit that never saw its video.

    ``groups``: the video of each frame. The videos are split by :class:`sklearn.model_selection.
    GroupKFold` into ``folds`` folds (default: one video per fold, i.e. leave-one-video-out);
    for each fold :func:`fit_fusion` runs on the other folds' frames and :func:`fuse` scores the
    fold's frames. Deterministic (GroupKFold does not shuffle)."""
    spatial, temporal, abnormal = _validated(spatial, temporal, abnormal)
    groups = np.asarray(groups).reshape(-1)
    if groups.size != spatial.size:
        raise ValueError(f"{groups.size} group labels for {spatial.size} frames")
    n_groups = len(np.unique(groups))
    folds = n_groups if folds is None else folds
    if not 2 <= folds <= n_groups:
        raise ValueError(f"need 2 <= folds <= number of videos ({n_groups}), got {folds}")
    fused = np.empty_like(spatial)
    for train, test in GroupKFold(n_splits=folds).split(spatial, groups=groups):
        alpha, beta = fit_fusion(spatial[train], temporal[train], abnormal[train])
        fused[test] = fuse(spatial[test], temporal[test], alpha, beta)
    return fused
