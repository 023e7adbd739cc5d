"""The shared figures: the masked-kernel footprint, localization contours, explorers."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest

from vadlib import plots
from vadlib.runs import timing

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("k, d", [(1, 0), (1, 1), (2, 1), (3, 2)])
def test_footprint_is_the_four_corner_blocks_and_nothing_else(k, d):
    footprint = plots.masked_footprint(k, d)
    side = 2 * k + 2 * d + 1
    expected = np.zeros((side, side), bool)
    for rows, cols in itertools.product((slice(0, k), slice(side - k, side)), repeat=2):
        expected[rows, cols] = True
    assert np.array_equal(footprint, expected)
    cube = plots.masked_footprint(k, d, dims=3)
    assert cube.sum() == 8 * k ** 3 and not cube[side // 2, side // 2, side // 2]


def test_masked_kernel_figure_has_a_panel_per_setting_and_two_for_3d():
    fig = plots.masked_kernel_figure([(1, 1), (2, 0)])
    assert len(fig.axes) == 4


def test_f1_threshold_separates_a_map_that_equals_the_mask():
    masks = np.zeros((2, 8, 8), bool)
    masks[0, 2:5, 2:5] = True
    maps = masks * 0.9 + 0.05
    threshold = plots.f1_threshold(maps, masks)
    assert np.array_equal(maps >= threshold, masks)


def _examples(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.zeros((3, 16, 16), bool)
    mask[1:, 4:9, 4:9] = True
    return {"image": rng.random((3, 3, 16, 16)).astype(np.float16), "mask": mask,
            "map": (mask + rng.random((3, 16, 16)) * 0.5).astype(np.float16),
            "score": rng.random(3), "label": np.array([0, 1, 1]), "index": np.array([4, 7, 9])}


def test_contours_and_grid_draw_one_panel_per_example():
    shown = {"base": _examples(0), "with block": _examples(1)}
    fig = plots.localization_contours(shown)
    assert sum(1 for ax in fig.axes if ax.images) == 2  # the two abnormal examples
    grid = plots.anomaly_map_grid(shown)
    assert len(grid.axes) == 3 * 4  # 3 examples x (image, ground truth, two maps)


def test_explorer_is_static_when_headless_and_a_widget_in_a_kernel(monkeypatch):
    loaded = []

    def load(category, model):
        loaded.append((category, model))
        return _examples(0)

    monkeypatch.setenv(plots.HEADLESS_ENV, "1")
    view = plots.map_explorer(load, ["grid", "bottle"], ["a", "b"], static_models=["a"])
    assert isinstance(view, matplotlib.figure.Figure) and loaded == [("grid", "a")]
    monkeypatch.setattr(plots.maps, "interactive", lambda: True)
    box = plots.map_explorer(load, ["grid", "bottle"], ["a", "b"])
    class_box, model_box, example_box = box.children[0].children
    model_box.value = "b"
    assert loaded[-1] == ("grid", "b") and example_box.max == 2


def test_timing_measures_per_example_and_rejects_bad_settings():
    import time

    import torch
    per_example = timing.ms_per_example(lambda batch: time.sleep(0.02), torch.zeros(4), warmup=0, repeats=3)
    assert per_example >= 4.9  # a call sleeps 20 ms and holds 4 examples (no upper bound: noisy machines)
    assert timing.relative_expansion(2.4, 2.1) == pytest.approx(14.2857, abs=1e-3)  # Table C.6
    with pytest.raises(ValueError, match="repeats"):
        timing.ms_per_example(lambda batch: None, torch.zeros(1), repeats=0)


def test_measurements_are_made_once_and_then_read_from_the_cache(monkeypatch):
    import sys
    import types

    import pandas as pd
    calls = []
    module = types.ModuleType("fake_timings")
    module.times = lambda size: (calls.append(size), pd.DataFrame({"variant": ["a", "b"], "ms": [1.5, 2.25]}))[1]
    monkeypatch.setitem(sys.modules, "fake_timings", module)
    monkeypatch.setitem(timing.MEASUREMENTS, "fake", "fake_timings:times")
    first = timing.measured("fake", size="tiny")
    again = timing.measured("fake", size="tiny")
    other = timing.measured("fake", size="paper")
    assert calls == ["tiny", "paper"] and first.equals(again) and other.ms.tolist() == [1.5, 2.25]


def test_confusion_grid_places_each_matrix_by_its_keys_and_annotates_the_counts():
    matrices = {("Synthetic", "AlexNet"): np.array([[3, 1], [2, 4]]),
                ("Synthetic", "ResNet-18"): np.array([[5, 0], [0, 5]]),
                ("Dummy", "AlexNet"): np.array([[7, 8], [9, 10]])}
    fig = plots.confusion_grid(matrices, title="t")
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_title() == "AlexNet, Synthetic" and axes[1, 0].get_title() == "AlexNet, Dummy"
    assert [t.get_text() for t in axes[1, 0].texts] == ["7", "8", "9", "10"]
    assert not axes[1, 1].axison  # no Dummy run of ResNet-18: an empty cell
    with pytest.raises(ValueError, match="no confusion matrices"):
        plots.confusion_grid({})
