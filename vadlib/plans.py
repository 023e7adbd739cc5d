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
_PLANNERS: dict[str, Planner] = {}
# modules whose planners register on import
PLANNER_MODULES = ("vadlib.image_ad",)


def register(notebook_id: str) -> Callable[[Planner], Planner]:
    def decorate(planner: Planner) -> Planner:
        _PLANNERS[notebook_id] = planner
        return planner
    return decorate


def planned_runs(notebook_id: str, settings: Settings) -> list[Experiment]:
    for module in PLANNER_MODULES:
        importlib.import_module(module)
    planner = _PLANNERS.get(notebook_id)
    return list(planner(settings)) if planner else []
