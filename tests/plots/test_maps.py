"""Image figures (vadlib.plots.maps): the masked-kernel footprint, localization contours, the map
explorer."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest

from vadlib import plots

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
    assert sum(1 for ax in fig.axes if ax.images) == 1  # every other abnormal example; the rest choose the threshold
    grid = plots.anomaly_map_grid(shown)
    assert len(grid.axes) == 3 * 4  # 3 examples x (image, ground truth, two maps)


def test_contour_thresholds_come_from_held_out_examples_never_the_shown_ones():
    examples = _examples(0)
    shown, held_out = plots.held_out_split(examples["label"])
    assert shown == [1] and held_out == [0, 2]
    fig = plots.localization_contours({"base": examples})
    expected = plots.f1_threshold(examples["map"][held_out].astype(np.float32), examples["mask"][held_out])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"base (map > {expected:.3g}, best F1 on 2 held-out)" in legend
    changed = {**examples, "map": examples["map"].copy()}
    changed["map"][1] = 0  # what the shown image's map looks like does not move the threshold
    again = [t.get_text() for t in plots.localization_contours({"base": changed}).legends[0].get_texts()]
    assert again == legend
    with pytest.raises(ValueError, match="also shown"):
        plots.localization_contours({"base": examples}, rows=[1, 2], threshold_rows=[2])
    blind = plots.localization_contours({"base": examples}, rows=[1, 2])  # only a normal image held out
    assert [t.get_text() for t in blind.legends[0].get_texts()][1] == "base (no held-out ground truth: no contour)"


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
