"""Paper A (notebook 01): the attention-gated tracker's tables."""

from __future__ import annotations

from vadlib import mot_runs


def plan(settings) -> list:
    return mot_runs.plan_tracker(settings)
