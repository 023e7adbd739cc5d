"""Paper F's figures (vadlib.plots.masks): the curriculum, the training curves, masks and
reconstructions, the mask-diversity measure and the mask viewer."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from vadlib import plots
from vadlib.models.curriculum_masking import CurriculumSchedule
from vadlib.plots.masks import masked_image

matplotlib.use("Agg")


def _kept(points: int = 2, shown: int = 3, side: int = 4, patch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """What load_masks returns, for ``shown`` random images of side·patch pixels."""
    rng = np.random.default_rng(seed)
    n = side * side
    visible = np.zeros((points, shown, n), np.uint8)
    for p in range(points):
        for s in range(shown):
            visible[p, s, rng.choice(n, n // 4, replace=False)] = 1
    size = side * patch
    return {"images": rng.random((shown, 3, size, size)).astype(np.float16), "epoch": np.arange(points) * 50,
            "visible": visible, "scores": visible.astype(np.float16),
            "recon": rng.random((points, shown, 3, size, size)).astype(np.float16)}


def test_mask_diversity_is_the_mean_pairwise_hamming_distance():
    same = {"visible": np.array([[[1, 0, 0, 1]] * 3])}
    assert plots.mask_diversity(same) == 0.0
    flipped = {"visible": np.array([[[1, 0, 0, 1], [0, 1, 1, 0]]])}
    assert plots.mask_diversity(flipped) == 1.0
    # pairs (0,1): 1 of 4 patches differ, (0,2): 3, (1,2): 2 -> mean of 0.25, 0.75, 0.5
    three = {"visible": np.array([[[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]])}
    assert plots.mask_diversity(three) == pytest.approx(0.5)
    # the last evaluation point by default; one image has no pair
    two_points = {"visible": np.array([[[1, 0], [0, 1]], [[1, 0], [1, 0]]])}
    assert plots.mask_diversity(two_points) == 0.0 and plots.mask_diversity(two_points, 0) == 1.0
    assert plots.mask_diversity({"visible": np.array([[[1, 0]]])}) == 0.0


def test_masked_image_greys_exactly_the_masked_patches():
    image = np.zeros((3, 4, 4), np.float16)
    image[0] = 1.0
    shown = masked_image(image, np.array([1, 0, 0, 1]))  # 2×2 patches of 2×2 pixels
    assert shown.shape == (4, 4, 3)
    assert np.array_equal(shown[:2, :2], np.broadcast_to([1.0, 0.0, 0.0], (2, 2, 3)))  # visible
    assert np.array_equal(shown[:2, 2:], np.full((2, 2, 3), 0.5))                     # masked
    assert np.array_equal(shown[2:, :2], np.full((2, 2, 3), 0.5))
    assert np.array_equal(shown[2:, 2:], np.broadcast_to([1.0, 0.0, 0.0], (2, 2, 3)))


def test_masks_figure_has_an_image_column_and_two_per_point():
    kept = _kept(points=3, shown=2)
    assert len(plots.masks_figure(kept).axes) == 2 * (1 + 2 * 3)
    fig = plots.masks_figure(kept, [2], title="last")
    assert len(fig.axes) == 2 * 3 and fig.axes[1].get_title() == "epoch 100\nvisible"


def test_the_viewer_is_a_static_figure_of_every_point_when_headless(monkeypatch):
    monkeypatch.setenv(plots.HEADLESS_ENV, "1")
    view = plots.mask_viewer(_kept(points=2, shown=3))
    assert isinstance(view, Figure) and len(view.axes) == 3 * 5


def test_curriculum_figure_draws_the_weight_where_the_module_trains():
    schedule = CurriculumSchedule.updated_settings()
    fig = plots.curriculum_figure({"updated": schedule, "thesis": CurriculumSchedule.thesis()}, 200)
    updated, thesis = fig.axes[0].get_lines()
    weight = np.asarray(updated.get_ydata(), float)
    assert np.array_equal(np.isnan(weight), [not schedule.cmm_active(e) for e in range(200)])
    assert weight[0] == 1.0 and weight[100] == pytest.approx(-0.001)
    assert np.asarray(thesis.get_ydata(), float).tolist() == CurriculumSchedule.thesis().weights(200)
    assert fig.axes[0].get_yscale() == "symlog"


def _history() -> pd.DataFrame:
    steps = np.arange(4)
    mae = pd.DataFrame({"step": steps, "loss": [4.0, 3, 2, 1], "mae_loss": [4.0, 3, 2, 1], "masked_fraction": 0.75,
                        "w_prog": np.nan, "z_mean": np.nan, "knn_acc1": [np.nan, 10, np.nan, 20], "run": "MAE"})
    cm = pd.DataFrame({"step": steps, "loss": [5.0, 4, 3, 2], "mae_loss": [5.0, 4, 3, 2], "masked_fraction": 0.75,
                       "w_prog": [1, 1, -0.001, -0.001], "z_mean": [0.5, 0.4, 0.3, 0.2],
                       "knn_acc1": [np.nan, 15, np.nan, 25], "run": "CM-MAE"})
    return pd.concat([mae, cm], ignore_index=True)


def test_training_curves_have_four_panels_one_line_per_run():
    fig = plots.training_curves_figure(_history())
    _, masked, _, knn = fig.axes
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2, 2, 2]
    assert list(masked.get_lines()[0].get_ydata()) == [0.75] * 4  # MAE: its random mask's fraction
    assert np.allclose(masked.get_lines()[1].get_ydata(), [0.5, 0.6, 0.7, 0.8])  # CM-MAE: 1 - mean score
    assert list(knn.get_lines()[1].get_xdata()) == [1, 3]  # evaluation points only


def test_masked_fraction_figure_marks_the_mask_ratio():
    history = _history()
    fig = plots.masked_fraction_figure(history[history.run == "CM-MAE"])
    lines = fig.axes[0].get_lines()
    assert np.allclose(lines[0].get_ydata(), [0.5, 0.6, 0.7, 0.8])
    assert list(lines[1].get_ydata()) == [0.75, 0.75]


def test_first_epoch_figure_shows_each_runs_last_point():
    from vadlib.plots.masks import first_epoch_figure
    runs = {"λ = 1": _kept(points=2, shown=2), "λ = -0.1": _kept(points=3, shown=2)}
    runs["λ = -0.1"]["visible"][-1][0][:] = 0  # image 0 fully masked at the last point of the second run
    fig = first_epoch_figure(runs, title="F.2")
    assert len(fig.axes) == 2 * (1 + 2 * 2)
    assert fig.axes[3].get_title() == "λ = -0.1\nvisible"
    shown = fig.axes[3].get_images()[0].get_array()
    assert np.allclose(shown, 0.5)  # every patch greyed
