"""Trajectory-prediction errors: ADE, FDE and Paper E's total error TE = ADE + FDE (Eq. E.1).

Definitions as in Social GAN (Gupta et al., CVPR 2018, Sec. 4) and Paper E (thesis
``000_f794b37c98b9d304.txt`` T 3115-3119: "ADE is computed as l2 distance between the predicted and
actual points in the future trajectory, FDE is the deviation in the final position"). Every function
takes a prediction and the actual future shaped (pred_len, N, 2) -- or (..., pred_len, N, 2) for
several samples -- as numpy arrays or torch tensors, and returns one float64 numpy value per person
(shape (..., N)), in the units of the positions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ade", "fde", "trajectory_error"]


def _distances(pred, future) -> np.ndarray:
    """Euclidean distance per step and person, (..., pred_len, N)."""
    def as_array(x) -> np.ndarray:
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        return np.asarray(x, dtype=np.float64)

    pred, future = as_array(pred), as_array(future)
    if future.ndim < 3 or future.shape[-1] != 2 or pred.shape[-3:] != future.shape[-3:]:
        raise ValueError(f"pred and future must be (..., pred_len, N, 2) with the same last three "
                         f"dimensions, got {pred.shape} and {future.shape}")
    return np.linalg.norm(pred - future, axis=-1)


def ade(pred, future) -> np.ndarray:
    """Average displacement error per person: ``ADE = (1/T_pred) Σ_t ‖p̂_t − p_t‖₂``, the mean over
    the predicted steps of the Euclidean distance between predicted and actual position."""
    return _distances(pred, future).mean(axis=-2)


def fde(pred, future) -> np.ndarray:
    """Final displacement error per person: ``FDE = ‖p̂_T − p_T‖₂``, the Euclidean distance at the
    last predicted step."""
    return _distances(pred, future)[..., -1, :]


def trajectory_error(pred, future) -> np.ndarray:
    """Paper E's total error per person (Eq. E.1): ``TE = ADE + FDE``."""
    distances = _distances(pred, future)
    return distances.mean(axis=-2) + distances[..., -1, :]
