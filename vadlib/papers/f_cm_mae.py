"""Paper F (notebook 06): CM-MAE's tables."""

from __future__ import annotations

from vadlib import mae_runs


def plan(settings) -> list:
    return mae_runs.plan_cm_mae(settings)
