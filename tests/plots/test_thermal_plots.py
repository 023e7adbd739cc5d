"""Paper B's figures: the pipeline strip, the sample grids, and the bare image axes they share."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vadlib import plots  # noqa: E402
from vadlib.plots.axes import bare  # noqa: E402


def samples(n: int) -> np.ndarray:
    """n samples (3 × 4 × 5), sample i filled with the value i, so each image tells which it is."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 3, 4, 5)).copy()


def shown(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


def test_bare_removes_ticks_and_grid():
    fig, ax = plt.subplots()
    ax.grid(True)
    assert bare(ax) is ax
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
    plt.close(fig)


def test_the_pipeline_strip_shows_the_background_then_three_frames():
    background = np.zeros((6, 8), np.uint8)
    frames = [np.full((6, 8), 10 * (k + 1), np.uint8) for k in range(4)]
    fig = plots.pipeline_strip(background, frames, clip="clip_7")
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "background (median of clip clip_7)"
    assert [ax.get_title() for ax in fig.axes[1:]] == [f"composited frame t+{k}" for k in range(3)]
    assert [int(shown(ax)[0, 0]) for ax in fig.axes] == [0, 10, 20, 30]  # the fourth frame is not drawn
    assert all(list(ax.get_xticks()) == [] for ax in fig.axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="three composited frames"):
        plots.pipeline_strip(background, frames[:2])


def test_the_sample_grid_titles_each_sample_and_leaves_spare_cells_empty():
    labels = [1, 0, 1]
    fig = plots.sample_grid(samples(3), labels, kinds=["fall", "walk", "jump"], rows=2, columns=2)
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:3]] == ["fall (fall)", "no fall (walk)", "fall (jump)"]
    assert shown(axes[1]).shape == (4, 5, 3) and int(shown(axes[2])[0, 0, 0]) == 2  # channels last, in order
    assert not axes[3].axison
    plt.close(fig)


def test_the_fall_test_grid_shows_falls_first_then_no_falls_per_set():
    labels = np.array([0, 1, 0, 0, 1, 1])
    sets = {"intentional_fall": SimpleNamespace(samples=samples(6), labels=labels),
            "dummy_fall": SimpleNamespace(samples=samples(2), labels=np.array([0, 1]))}
    fig = plots.fall_test_grid(sets, per_class=2)
    rows = np.array(fig.axes).reshape(2, 4)
    assert [int(shown(ax)[0, 0, 0]) for ax in rows[0]] == [1, 4, 0, 2]  # first two falls, first two no falls
    assert [ax.get_title() for ax in rows[0]] == ["intentional_fall: fall"] * 2 + ["intentional_fall: no fall"] * 2
    assert [int(shown(ax)[0, 0, 0]) for ax in rows[1][:2]] == [1, 0]
    assert not rows[1][2].axison and not rows[1][3].axison  # only one sample of each class
    plt.close(fig)
    with pytest.raises(ValueError, match="no test sets"):
        plots.fall_test_grid({})


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


def test_postprocess_strip_and_gain_level_grid_show_what_they_are_given():
    from vadlib.plots import thermal as thermal_plots
    from vadlib.thermal import PostProcess

    shaded = np.zeros((20, 12), np.float32)
    shaded[5:15, 4:8] = 41.0
    steps = []
    PostProcess()(shaded, rng=0, steps=steps)
    assert len(steps) == len(thermal_plots.POSTPROCESS_STEPS)  # shader, blur, noise, JPEG
    box = thermal_plots.person_box(shaded, margin=2)
    assert (box[0].start, box[0].stop, box[1].start, box[1].stop) == (3, 17, 2, 10)
    fig = thermal_plots.postprocess_strip([s[box] for s in steps], np.full((14, 8), 7, np.uint8))
    axes = fig.axes
    assert len(axes) == 5 and np.array_equal(shown(axes[0]), steps[0][box])
    assert axes[1].get_title() == "Gaussian blur 3×3"
    images = {(g, l): np.full((4, 4), int(10 * g + l), np.uint8) for g in (1, 2) for l in (0, 20)}
    fig = thermal_plots.gain_level_grid(images)
    assert [ax.get_title() for ax in fig.axes] == ["G = 1, L = 0", "G = 1, L = 20", "G = 2, L = 0", "G = 2, L = 20"]
    assert int(shown(fig.axes[3])[0, 0]) == 40
    with pytest.raises(ValueError, match="steps"):
        thermal_plots.postprocess_strip(steps[:2])
    plt.close("all")
