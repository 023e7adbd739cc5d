"""Measured timings (vadlib.runs.timing): ms per example, the relative expansion, and measurements
made once and then read from the cache."""

from __future__ import annotations

import sys
import time
import types

import pandas as pd
import pytest
import torch

from vadlib.runs import timing


def test_timing_measures_per_example_and_rejects_bad_settings():
    per_example = timing.ms_per_example(lambda batch: time.sleep(0.02), torch.zeros(4), warmup=0, repeats=3)
    assert per_example >= 4.9  # a call sleeps 20 ms and holds 4 examples (no upper bound: noisy machines)
    assert timing.relative_expansion(2.4, 2.1) == pytest.approx(14.2857, abs=1e-3)  # Table C.6
    with pytest.raises(ValueError, match="repeats"):
        timing.ms_per_example(lambda batch: None, torch.zeros(1), repeats=0)


def test_measurements_are_made_once_and_then_read_from_the_cache(monkeypatch):
    calls = []
    module = types.ModuleType("fake_timings")
    module.times = lambda size: (calls.append(size), pd.DataFrame({"variant": ["a", "b"], "ms": [1.5, 2.25]}))[1]
    monkeypatch.setitem(sys.modules, "fake_timings", module)
    monkeypatch.setitem(timing.MEASUREMENTS, "fake", "fake_timings:times")
    first = timing.measured("fake", size="tiny")
    again = timing.measured("fake", size="tiny")
    other = timing.measured("fake", size="paper")
    assert calls == ["tiny", "paper"] and first.equals(again) and other.ms.tolist() == [1.5, 2.25]
