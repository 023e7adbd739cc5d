"""Paper E's figures: the pipeline, trajectories coloured by error, score curves, the explorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from vadlib import plots  # noqa: E402


def tracks() -> pd.DataFrame:
    """Two people over frames 0..9: one scored (error 4), one never scored."""
    rows = [(f, pid, 10.0 + 3 * f + 40 * pid, 20.0, 8.0, 20.0, err) for f in range(10)
            for pid, err in ((1, 4.0), (2, np.nan))]
    return pd.DataFrame(rows, columns=["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "error"]).assign(video="01")


def read(video, frame):
    return np.zeros((60, 120, 3), np.uint8)


def test_the_pipeline_has_both_branches_and_the_fusion():
    fig = plots.pipeline_diagram()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert len(fig.axes[0].patches) == 7 and "Social GAN" in texts and "σ(α·S_spatial" in texts
    plt.close(fig)


def test_each_person_present_gets_a_path_and_a_box_coloured_by_error():
    fig = plots.trajectory_frames_figure(read, tracks(), [("01", 5, "a"), ("01", 9, "b")])
    panels = fig.axes[:2]
    assert [len(ax.lines) for ax in panels] == [2, 2] and [len(ax.patches) for ax in panels] == [2, 2]
    path = panels[0].lines[0]
    assert len(path.get_xdata()) == 6  # frames 0..5 of person 1
    assert panels[0].lines[1].get_color() == "0.6"  # never scored: grey
    plt.close(fig)


def test_the_headless_explorer_shows_the_frame_where_the_fused_score_peaks(monkeypatch):
    monkeypatch.setenv(plots.HEADLESS_ENV, "1")
    curves = {name: {"frames": list(range(10)), "scores": list(values), "labels": [0] * 5 + [1] * 5}
              for name, values in (("spatial", np.linspace(0, 1, 10)), ("fused", [0.1] * 7 + [0.9, 0.2, 0.1]))}
    fig = plots.trajectory_explorer(read, tracks(), curves, "01")
    assert fig.axes[0].get_title() == "video 01, frame 7"
    plt.close(fig)
