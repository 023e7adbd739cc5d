"""Paper B (notebook 02): ThermalSynth's classifier tables."""

from __future__ import annotations

from vadlib import thermalsynth_runs


def plan(settings) -> list:
    return thermalsynth_runs.plan_thermalsynth(settings)
