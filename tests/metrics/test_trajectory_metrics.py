"""Tests of ADE, FDE and Paper E's TE = ADE + FDE (vadlib.metrics.trajectory) on hand-computed
values, numpy and torch inputs alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadlib.metrics.trajectory import ade, fde, trajectory_error


def _walk(pred_len: int = 8, n: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(pred_len, n, 2)).cumsum(axis=0)


def test_constant_offset_gives_equal_ade_and_fde():
    future = _walk()
    pred = future + np.array([3.0, 4.0])
    np.testing.assert_allclose(ade(pred, future), [5.0, 5.0, 5.0])
    np.testing.assert_allclose(fde(pred, future), [5.0, 5.0, 5.0])
    np.testing.assert_allclose(trajectory_error(pred, future), [10.0, 10.0, 10.0])


def test_error_only_at_last_step():
    pred_len = 8
    future = _walk(pred_len)
    pred = future.copy()
    pred[-1, :, 0] += 10.0
    np.testing.assert_allclose(ade(pred, future), np.full(3, 10.0 / pred_len))
    np.testing.assert_allclose(fde(pred, future), np.full(3, 10.0))
    np.testing.assert_allclose(trajectory_error(pred, future), np.full(3, 10.0 + 10.0 / pred_len))


def test_exact_prediction_has_zero_error():
    future = _walk()
    assert np.all(trajectory_error(future, future) == 0)


def test_per_person_values_differ():
    future = np.zeros((4, 2, 2))
    pred = np.zeros((4, 2, 2))
    pred[:, 1] = [0.0, 2.0]  # only the second person is off, by 2 at every step
    np.testing.assert_allclose(ade(pred, future), [0.0, 2.0])
    np.testing.assert_allclose(fde(pred, future), [0.0, 2.0])


def test_torch_and_numpy_agree():
    future = _walk()
    pred = future + np.random.default_rng(1).normal(size=future.shape)
    for metric in (ade, fde, trajectory_error):
        from_numpy = metric(pred, future)
        from_torch = metric(torch.tensor(pred, requires_grad=True), torch.tensor(future))
        assert isinstance(from_torch, np.ndarray)
        np.testing.assert_allclose(from_torch, from_numpy)


def test_leading_sample_dimension():
    future = _walk()
    pred = np.stack([future + [3.0, 4.0], future])            # (2 samples, pred_len, N, 2)
    np.testing.assert_allclose(ade(pred, future), [[5.0] * 3, [0.0] * 3])


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        ade(np.zeros((8, 3, 2)), np.zeros((8, 2, 2)))
