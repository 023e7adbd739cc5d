"""Tracking figures: one box and one id label per tracked row, on the frames asked for."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from vadlib import plots, profiles  # noqa: E402
from vadlib.data import dataset_root  # noqa: E402


def tracks() -> pd.DataFrame:
    return pd.DataFrame({"frame": [1, 1, 2, 3], "id": [4, 7, 4, 4], "bb_left": [10.0, 50, 12, 14],
                         "bb_top": [20.0, 20, 20, 20], "bb_width": [16.0, 16, 16, 16],
                         "bb_height": [40.0, 40, 40, 40], "conf": 1.0, "x": -1, "y": -1, "z": -1})


def test_each_frame_shows_its_tracked_boxes_labelled_by_id():
    root = dataset_root("mot17", profiles.resolve("smoke"))
    fig = plots.tracked_frames_figure(root, "MOT17-02-SDP", tracks(), [1, 2, 5], title="t")
    assert [len(ax.patches) for ax in fig.axes] == [2, 1, 0]
    assert [sorted(t.get_text() for t in ax.texts) for ax in fig.axes] == [["4", "7"], ["4"], []]
    plt.close(fig)


def test_the_static_scrubber_shows_four_frames_spread_over_the_sequence(monkeypatch):
    monkeypatch.setenv(plots.HEADLESS_ENV, "1")
    root = dataset_root("mot17", profiles.resolve("smoke"))
    fig = plots.frame_scrubber(root, "MOT17-02-SDP", tracks(), list(range(1, 11)))
    assert [ax.get_title() for ax in fig.axes] == ["frame 1", "frame 4", "frame 7", "frame 10"]
    plt.close(fig)


def test_the_comparison_puts_one_tracker_per_row_and_counts_its_boxes():
    root = dataset_root("mot17", profiles.resolve("smoke"))
    other = tracks().iloc[:1]
    fig = plots.tracker_comparison_figure(root, "MOT17-02-SDP", {"A": tracks(), "B": other}, [1, 2])
    assert [len(ax.patches) for ax in fig.axes] == [2, 1, 1, 0]  # row A: frames 1, 2; row B: frames 1, 2
    assert fig.axes[0].get_title() == "A, frame 1: 2 boxes" and fig.axes[3].get_title() == "frame 2: 0 boxes"
    plt.close(fig)
    side = plots.tracker_comparison_figure(root, "MOT17-02-SDP", {"A": tracks(), "B": other}, [2])
    assert [ax.get_title() for ax in side.axes] == ["A, frame 2: 1 boxes", "B, frame 2: 0 boxes"]
    plt.close(side)
