"""Constant-velocity Kalman filter in image space, as DeepSORT, JDE and FairMOT (thesis Paper A).

Wojke, Bewley, Paulus, "Simple online and realtime tracking with a deep association metric"
(DeepSORT), ICIP 2017 (``nwojke/deep_sort``, GPL-3 -- not copied); Wang et al., "Towards real-time
multi-object tracking" (JDE), ECCV 2020; Zhang et al., "FairMOT", IJCV 2021
(``ifzhang/FairMOT``, MIT: ``src/lib/tracking_utils/kalman_filter.py``). Paper A says only
"motion updated with a Kalman filter" (``shared/specs/paper_A_B.md`` §1.6); the filter below is
the one FairMOT ships, re-derived and written out (and vectorised over tracks).

State and model
---------------
State ``x = (cx, cy, a, h, vcx, vcy, va, vh)``: box centre, aspect ratio ``a = w / h``, height,
and their velocities in units per frame. Measurement ``z = (cx, cy, a, h)``. With ``dt = 1``
frame and ``I`` the 4x4 identity::

    F = [[I, dt I],        H = [I, 0]            (4 x 8)
         [0,    I]]        (8 x 8)

Noise is proportional to the box height ``h`` (of the current mean), with
``sp = std_weight_position = 1/20`` and ``sv = std_weight_velocity = 1/160`` (DeepSORT/JDE/FairMOT
values); the aspect ratio gets small constant standard deviations::

    initiate:  x0 = (z, 0, 0, 0, 0)
               P0 = diag(2 sp h, 2 sp h, 1e-2, 2 sp h, 10 sv h, 10 sv h, 1e-5, 10 sv h)^2
    predict:   Q  = diag(sp h, sp h, 1e-2, sp h, sv h, sv h, 1e-5, sv h)^2     (h of the prior)
               x- = F x,   P- = F P F^T + Q
    project:   R  = diag(sp h, sp h, 1e-1, sp h)^2
               z^ = H x,   S = H P H^T + R
    update:    K  = P H^T S^-1,   x+ = x + K (z - z^),   P+ = P - K S K^T

``P+ = P - K S K^T`` equals the textbook ``(I - K H) P`` (since ``K S = P H^T``); it is the form
DeepSORT uses and the one implemented here. ``K`` is obtained from a linear solve with ``S``
(symmetric positive definite), never an explicit inverse.

Gating distance (DeepSORT "motion metric"): the squared Mahalanobis distance of a measurement to
the projected state, ``d^2 = (z - z^)^T S^-1 (z - z^)`` over all four measurement dimensions, or
over ``(cx, cy)`` only (``only_position=True``). Under the model ``d^2`` is chi-square distributed
with 4 (or 2) degrees of freedom; a measurement is admissible when ``d^2 <= chi2inv95[dof]``, the
0.95 quantile (:data:`CHI2INV95`, the DeepSORT table; e.g. 9.4877 for 4 dof, 5.9915 for 2).

Decisions
---------
* Exactly FairMOT's numbers (weights, the 1e-2 / 1e-5 / 1e-1 aspect-ratio terms, the factors 2
  and 10 at initiation); the process noise of :meth:`KalmanFilter.predict` uses the height of the
  mean *before* the step, as FairMOT.
* :meth:`KalmanFilter.predict` and :meth:`KalmanFilter.multi_predict` take an optional number of
  ``steps`` (repeated one-frame predictions; the tracker uses it for frames missing from the
  input). Repeating the one-frame step, rather than one step with ``dt = steps``, keeps the
  height-dependent process noise of every skipped frame, i.e. exactly what calling ``predict``
  once per frame gives.
* Pure NumPy (batched ``numpy.linalg`` routines); no SciPy needed. All functions return new
  arrays and never modify their inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KalmanFilter", "CHI2INV95"]

#: 0.95 quantile of the chi-square distribution with N degrees of freedom (N = 1..9), the table
#: of DeepSORT / JDE / FairMOT (``scipy.stats.chi2.ppf(0.95, N)`` rounded as there).
CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067,
             8: 15.507, 9: 16.919}


class KalmanFilter:
    """Constant-velocity Kalman filter on ``(cx, cy, a, h)`` boxes; see the module docstring.

    Means are 8-vectors, covariances 8x8; the ``multi_*`` methods take stacks ``(T, 8)`` and
    ``(T, 8, 8)``. Measurements are ``(cx, cy, a, h)`` rows (:meth:`tlwh_to_xyah`).
    """

    ndim = 4
    dt = 1.0

    def __init__(self, std_weight_position: float = 1.0 / 20,
                 std_weight_velocity: float = 1.0 / 160):
        self.std_weight_position = float(std_weight_position)
        self.std_weight_velocity = float(std_weight_velocity)
        n = self.ndim
        self.motion_mat = np.eye(2 * n)                    # F
        self.motion_mat[:n, n:] = self.dt * np.eye(n)
        self.update_mat = np.eye(n, 2 * n)                  # H

    # -- box conversions ------------------------------------------------------------------------
    @staticmethod
    def tlwh_to_xyah(tlwh) -> np.ndarray:
        """``(left, top, w, h)`` rows -> ``(cx, cy, w / h, h)`` rows (any leading shape)."""
        b = np.asarray(tlwh, dtype=np.float64)
        out = b.copy()
        out[..., :2] += b[..., 2:] / 2
        out[..., 2] = b[..., 2] / b[..., 3]
        return out

    @staticmethod
    def xyah_to_tlwh(xyah) -> np.ndarray:
        """``(cx, cy, a, h)`` rows (or 8-d states, first 4 used) -> ``(left, top, w, h)`` rows."""
        s = np.asarray(xyah, dtype=np.float64)[..., :4]
        out = s.copy()
        out[..., 2] = s[..., 2] * s[..., 3]
        out[..., :2] -= out[..., 2:] / 2
        return out

    # -- noise ------------------------------------------------------------------------------------
    def _process_std(self, h: np.ndarray) -> np.ndarray:
        """Per-state standard deviations of Q for heights ``h`` (shape (T,)) -> (T, 8)."""
        sp, sv = self.std_weight_position * h, self.std_weight_velocity * h
        return np.stack([sp, sp, np.full_like(h, 1e-2), sp,
                         sv, sv, np.full_like(h, 1e-5), sv], axis=-1)

    def _measurement_std(self, h: np.ndarray) -> np.ndarray:
        """Per-measurement standard deviations of R for heights ``h`` (shape (T,)) -> (T, 4)."""
        sp = self.std_weight_position * h
        return np.stack([sp, sp, np.full_like(h, 1e-1), sp], axis=-1)

    # -- filter steps -----------------------------------------------------------------------------
    def initiate(self, measurement) -> tuple[np.ndarray, np.ndarray]:
        """Track from an unassociated measurement ``(cx, cy, a, h)``: mean (8,), covariance (8, 8).

        Velocities start at zero with a large uncertainty (``10 sv h``), positions with ``2 sp h``.
        """
        z = np.asarray(measurement, dtype=np.float64).reshape(self.ndim)
        h = z[3]
        sp, sv = self.std_weight_position * h, self.std_weight_velocity * h
        std = np.array([2 * sp, 2 * sp, 1e-2, 2 * sp, 10 * sv, 10 * sv, 1e-5, 10 * sv])
        return np.r_[z, np.zeros(self.ndim)], np.diag(std ** 2)

    def multi_predict(self, means, covariances, steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Predict ``T`` tracks ``steps`` frames ahead: ``x <- F x``, ``P <- F P F^T + Q(h)``.

        Args:
            means: (T, 8). covariances: (T, 8, 8). steps: number of one-frame steps (>= 0).
        Returns:
            new (T, 8) means and (T, 8, 8) covariances.
        """
        mean = np.array(means, dtype=np.float64).reshape(-1, 2 * self.ndim)
        cov = np.array(covariances, dtype=np.float64).reshape(-1, 2 * self.ndim, 2 * self.ndim)
        if int(steps) < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        F = self.motion_mat
        for _ in range(int(steps)):
            q = self._process_std(mean[:, 3]) ** 2          # (T, 8), from the prior height
            mean = mean @ F.T
            cov = F @ cov @ F.T
            cov[:, np.arange(8), np.arange(8)] += q
        return mean, cov

    def predict(self, mean, covariance, steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """One track: :meth:`multi_predict` for a single (8,) mean and (8, 8) covariance."""
        m, c = self.multi_predict(np.asarray(mean)[None], np.asarray(covariance)[None], steps)
        return m[0], c[0]

    def multi_project(self, means, covariances) -> tuple[np.ndarray, np.ndarray]:
        """Measurement space of ``T`` states: ``z^ = H x`` (T, 4), ``S = H P H^T + R`` (T, 4, 4)."""
        mean = np.asarray(means, dtype=np.float64).reshape(-1, 2 * self.ndim)
        cov = np.asarray(covariances, dtype=np.float64).reshape(-1, 2 * self.ndim, 2 * self.ndim)
        H = self.update_mat
        S = H @ cov @ H.T
        S[:, np.arange(4), np.arange(4)] += self._measurement_std(mean[:, 3]) ** 2
        return mean @ H.T, S

    def project(self, mean, covariance) -> tuple[np.ndarray, np.ndarray]:
        """One state: projected mean (4,) and innovation covariance ``S`` (4, 4)."""
        m, s = self.multi_project(np.asarray(mean)[None], np.asarray(covariance)[None])
        return m[0], s[0]

    def multi_update(self, means, covariances, measurements) -> tuple[np.ndarray, np.ndarray]:
        """Correct ``T`` states with one measurement each (``measurements`` (T, 4)).

        ``K = P H^T S^-1`` (solved, not inverted), ``x+ = x + K (z - H x)``, ``P+ = P - K S K^T``.
        """
        mean = np.asarray(means, dtype=np.float64).reshape(-1, 2 * self.ndim)
        cov = np.asarray(covariances, dtype=np.float64).reshape(-1, 2 * self.ndim, 2 * self.ndim)
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, self.ndim)
        if not (len(mean) == len(cov) == len(z)):
            raise ValueError(f"means {mean.shape}, covariances {cov.shape} and measurements "
                             f"{z.shape} must have the same number of rows")
        if len(mean) == 0:
            return mean.copy(), cov.copy()
        z_hat, S = self.multi_project(mean, cov)
        PHt = cov @ self.update_mat.T                               # (T, 8, 4)
        # K S = P H^T  <=>  S K^T = H P^T = (P H^T)^T  (S symmetric)
        K = np.linalg.solve(S, np.swapaxes(PHt, 1, 2)).swapaxes(1, 2)   # (T, 8, 4)
        innovation = z - z_hat
        new_mean = mean + np.einsum("tij,tj->ti", K, innovation)
        new_cov = cov - K @ S @ np.swapaxes(K, 1, 2)
        return new_mean, new_cov

    def update(self, mean, covariance, measurement) -> tuple[np.ndarray, np.ndarray]:
        """One track: :meth:`multi_update` for a single state and measurement ``(cx, cy, a, h)``."""
        m, c = self.multi_update(np.asarray(mean)[None], np.asarray(covariance)[None],
                                 np.asarray(measurement)[None])
        return m[0], c[0]

    # -- gating -----------------------------------------------------------------------------------
    def multi_gating_distance(self, means, covariances, measurements,
                              only_position: bool = False) -> np.ndarray:
        """Squared Mahalanobis distances between ``T`` states and ``N`` measurements -> (T, N).

        ``d^2[t, n] = (z_n - z^_t)^T S_t^-1 (z_n - z^_t)`` on all 4 measurement dimensions, or on
        ``(cx, cy)`` only with ``only_position=True``. Compare with ``CHI2INV95[4]`` (or ``[2]``).
        """
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, self.ndim)
        mean = np.asarray(means, dtype=np.float64).reshape(-1, 2 * self.ndim)
        if len(mean) == 0 or len(z) == 0:
            return np.zeros((len(mean), len(z)))
        z_hat, S = self.multi_project(mean, covariances)
        k = 2 if only_position else 4
        z_hat, S, z = z_hat[:, :k], S[:, :k, :k], z[:, :k]
        d = z[None, :, :] - z_hat[:, None, :]                          # (T, N, k)
        # S_t^-1 d_tn for all n at once: solve S_t X = D_t^T with D_t^T (k, N)
        sol = np.linalg.solve(S, np.swapaxes(d, 1, 2))                 # (T, k, N)
        return np.einsum("tnk,tkn->tn", d, sol)

    def gating_distance(self, mean, covariance, measurements,
                        only_position: bool = False) -> np.ndarray:
        """One state against ``N`` measurements (N, 4) -> (N,) squared Mahalanobis distances."""
        return self.multi_gating_distance(np.asarray(mean)[None], np.asarray(covariance)[None],
                                          measurements, only_position)[0]
