"""Video figures (vadlib.plots.video): frame-score curves of several runs and the explorer of the
first video whose maps the runs kept, both drawn from the data they are given."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadlib import plots
from vadlib.plots import video

matplotlib.use("Agg")


def _curve(labels, scores, start: int = 2) -> dict:
    return {"frames": list(range(start, start + len(labels))), "labels": list(labels), "scores": list(scores)}


SCORES = {  # model -> video -> curve; video "01" is all normal, "02" has both classes
    "base": {"01": _curve([0, 0, 0], [0.1, 0.2, 0.3]), "02": _curve([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.5])},
    "with block": {"01": _curve([0, 0, 0], [0.3, 0.2, 0.1]), "02": _curve([0, 1, 1, 0], [0.1, 0.8, 0.9, 0.2])},
}


def test_curves_show_the_first_video_with_both_classes_and_each_models_auc():
    fig = plots.frame_score_curves(SCORES, "avenue")
    ax = fig.axes[0]
    assert ax.get_title().startswith("avenue test video 02")
    expected = [f"{label} (AUC {100 * roc_auc_score(s['02']['labels'], s['02']['scores']):.1f})"
                for label, s in SCORES.items()]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == expected
    assert [list(line.get_ydata()) for line in ax.lines] == [s["02"]["scores"] for s in SCORES.values()]


def test_a_video_of_one_class_has_no_auc_in_the_legend():
    fig = plots.frame_score_curves(SCORES, "avenue", video="01")
    assert [text.get_text() for text in fig.axes[0].get_legend().get_texts()] == ["base", "with block"]
    assert video.video_auc(SCORES["base"]["01"]) is None
    assert video.video_auc(SCORES["base"]["02"]) == pytest.approx(roc_auc_score([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.5]))


def test_the_explorer_shows_the_first_kept_video_at_its_peak_when_headless(monkeypatch):
    monkeypatch.setenv(plots.HEADLESS_ENV, "1")
    maps = {label: {"02": np.random.default_rng(0).random((4, 8, 8)).astype(np.float16)} for label in SCORES}
    read = []

    def read_frame(name, number):
        read.append((name, number))
        return np.zeros((16, 16))

    fig = video.explorer(SCORES, maps, read_frame, title="FFP on avenue")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert read == [("02", 3)]  # the base model's highest score is on frame 3 (position 1)
    assert fig._suptitle.get_text() == "FFP on avenue, test video 02"
    assert len(fig.axes) == 1 + len(maps) + 1  # the frame, one map per model, the curves
