"""Which experiment runs each notebook makes, per profile.

A notebook asks ``planned_runs(notebook_id, settings)`` for its configs and runs them through
``vadlib.experiments``; ``vadlib reproduce --dry-run`` asks the same function, so the plan it prints
and checks is exactly what the notebook will execute. Papers register a planner with
:func:`register`; a notebook without one only presents reported tables.
"""

from __future__ import annotations

import importlib
from typing import Callable

from vadlib.experiments import Experiment
from vadlib.profiles import Settings

Planner = Callable[[Settings], list[Experiment]]
_PLANNERS: dict[str, dict[str, Planner]] = {}  # notebook -> planner name -> planner
# modules whose planners register on import
PLANNER_MODULES = ("vadlib.image_ad", "vadlib.video_ad", "vadlib.mot_runs", "vadlib.mae_runs",
                   "vadlib.thermalsynth_runs")


def register(notebook_id: str) -> Callable[[Planner], Planner]:
    def decorate(planner: Planner) -> Planner:
        # a notebook may have several planners (e.g. image and video runs); re-registering one
        # (a module reloaded in a notebook) replaces it
        _PLANNERS.setdefault(notebook_id, {})[f"{planner.__module__}.{planner.__qualname__}"] = planner
        return planner
    return decorate


def planned_runs(notebook_id: str, settings: Settings) -> list[Experiment]:
    for module in PLANNER_MODULES:
        importlib.import_module(module)
    planners = _PLANNERS.get(notebook_id, {})
    return [run for planner in planners.values() for run in planner(settings)]
