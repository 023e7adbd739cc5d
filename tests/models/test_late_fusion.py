"""Tests of Paper E's late fusion (vadlib.models.late_fusion): min-max normalisation, recovery of
planted α*, β* by the BCE fit, fused AUC above either branch, the grid-searched mixing weight, and a
held-out fit that never uses a video's own labels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from vadlib.models.late_fusion import (
    best_mixing_weight,
    fit_fusion,
    fuse,
    held_out_fusion,
    minmax,
)


def test_minmax():
    np.testing.assert_allclose(minmax([2.0, 4.0, 3.0]), [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(minmax([7.0, 7.0, 7.0]), [0.0, 0.0, 0.0])
    out = minmax([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(out[[0, 2]], [0.0, 1.0])
    assert np.isnan(out[1])
    constant_with_nan = minmax([5.0, np.nan])
    assert constant_with_nan[0] == 0.0 and np.isnan(constant_with_nan[1])


def _planted(alpha: float, beta: float, n: int = 40_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    spatial, temporal = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    normal = rng.uniform(size=n) < expit(alpha * spatial + beta * temporal)
    return spatial, temporal, (~normal).astype(int)


@pytest.mark.parametrize("alpha, beta", [(3.0, 1.5), (2.0, -1.0)])
def test_fit_recovers_planted_parameters(alpha, beta):
    spatial, temporal, abnormal = _planted(alpha, beta)
    fitted_alpha, fitted_beta = fit_fusion(spatial, temporal, abnormal)
    assert fitted_alpha == pytest.approx(alpha, rel=0.05)
    assert fitted_beta == pytest.approx(beta, rel=0.05)
    assert fit_fusion(spatial, temporal, abnormal) == (fitted_alpha, fitted_beta)  # deterministic


def test_fuse_is_sigmoid_of_weighted_sum():
    np.testing.assert_allclose(fuse([0.0, 1.0], [1.0, 0.5], 2.0, -4.0), expit([-4.0, 0.0]))


def _independent_branches(n: int = 20_000, seed: int = 1):
    """Abnormality = either of two independent causes, each seen by one branch only."""
    rng = np.random.default_rng(seed)
    cause_a, cause_b = rng.uniform(size=n) < 0.1, rng.uniform(size=n) < 0.1
    abnormal = (cause_a | cause_b).astype(int)
    spatial = minmax(-(1.5 * cause_a) + rng.normal(size=n))    # normalcy: low when abnormal
    temporal = minmax(-(1.5 * cause_b) + rng.normal(size=n))
    return spatial, temporal, abnormal


def test_fused_auc_beats_each_branch():
    spatial, temporal, abnormal = _independent_branches()
    alpha, beta = fit_fusion(spatial, temporal, abnormal)
    fused = fuse(spatial, temporal, alpha, beta)
    auc = roc_auc_score(abnormal, 1 - fused)
    branches = max(roc_auc_score(abnormal, -spatial), roc_auc_score(abnormal, -temporal))
    assert auc > branches + 0.02
    _, best_auc = best_mixing_weight(spatial, temporal, abnormal)
    assert best_auc >= auc - 1e-9


def test_best_mixing_weight_finds_planted_optimum():
    rng = np.random.default_rng(2)
    spatial, temporal = rng.uniform(size=5000), rng.uniform(size=5000)
    abnormal = (0.3 * spatial + 0.7 * temporal < 0.35).astype(int)  # perfectly ranked at w = 0.3
    w, auc = best_mixing_weight(spatial, temporal, abnormal)
    assert w == pytest.approx(0.3, abs=1e-9)
    assert auc == pytest.approx(1.0)
    w_coarse, _ = best_mixing_weight(spatial, temporal, abnormal, grid=[0.0, 0.25, 1.0])
    assert w_coarse == 0.25


def test_held_out_fusion_never_uses_a_videos_own_labels():
    spatial, temporal, abnormal = _independent_branches(n=6000)
    groups = np.repeat(np.arange(6), 1000)
    fused = held_out_fusion(spatial, temporal, abnormal, groups)
    assert fused.shape == spatial.shape and np.all((fused > 0) & (fused < 1))
    flipped = abnormal.copy()
    flipped[groups == 2] = 1 - flipped[groups == 2]
    refused = held_out_fusion(spatial, temporal, flipped, groups)
    np.testing.assert_array_equal(refused[groups == 2], fused[groups == 2])
    assert not np.allclose(refused[groups != 2], fused[groups != 2])  # the others' fits saw it
    three_folds = held_out_fusion(spatial, temporal, abnormal, groups, folds=3)
    assert roc_auc_score(abnormal, 1 - three_folds) > 0.7
    with pytest.raises(ValueError):
        held_out_fusion(spatial, temporal, abnormal, groups, folds=7)


def test_non_finite_scores_raise():
    with pytest.raises(ValueError):
        fit_fusion([0.1, np.nan], [0.2, 0.3], [0, 1])
    with pytest.raises(ValueError):
        fit_fusion([0.1, 0.2], [0.2, 0.3], [0, 2])
