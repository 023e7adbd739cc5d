"""Video figures: anomaly-score curves with the ground-truth abnormal frames shaded, and the
frame-by-frame video explorer. They draw the frame scores and maps they are given (the papers
modules fetch them from the runs)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from vadlib import metrics
from vadlib.plots.widgets import interactive


def score_axes(ax, curves: dict[str, dict], cursor: int | None = None) -> None:
    """Score curves of one video for several models, ground-truth abnormal frames shaded."""
    from vadlib.data.video import intervals_from_labels
    first = next(iter(curves.values()))
    frames = np.asarray(first["frames"])
    for start, end in intervals_from_labels(first["labels"], one_based=False):
        ax.axvspan(frames[start], frames[end], color="#D55E00", alpha=0.15, lw=0)
    for label, curve in curves.items():
        ax.plot(curve["frames"], curve["scores"], label=label, lw=1.2)
    if cursor is not None:
        ax.axvline(cursor, color="black", lw=0.8)
    ax.set_xlabel("frame"), ax.set_ylabel("anomaly score"), ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper left")


def video_frame_view(curves: dict[str, dict], read_frame: Callable[[int], np.ndarray],
                     maps: dict[str, np.ndarray], position: int, title: str = ""):
    """One scored frame of a test video: the frame, each model's error map over it, and the
    score curves with a cursor at the frame (ground-truth anomaly shaded)."""
    import matplotlib.pyplot as plt

    first = next(iter(curves.values()))
    frame_number = int(first["frames"][position])
    image = read_frame(frame_number)
    fig = plt.figure(figsize=(3 + 2.4 * (1 + len(maps)), 2.8))
    grid = fig.add_gridspec(1, 2 + len(maps), width_ratios=[1] * (1 + len(maps)) + [2.2])
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image, cmap="gray")
    state = "abnormal" if first["labels"][position] else "normal"
    ax.set_title(f"frame {frame_number} ({state})", fontsize=9)
    for column, (label, video_maps) in enumerate(maps.items(), start=1):
        ax_map = fig.add_subplot(grid[0, column])
        extent = (0, image.shape[1], image.shape[0], 0)  # the map, stretched back over the frame
        ax_map.imshow(image, cmap="gray", extent=extent)
        ax_map.imshow(video_maps[position].astype(np.float32), cmap="inferno", alpha=0.6, extent=extent,
                      vmin=float(video_maps.min()), vmax=float(video_maps.max()) or 1.0)
        ax_map.set_title(f"{label}\nscore {curves[label]['scores'][position]:.2f}", fontsize=8)
    for ax_image in fig.axes:
        ax_image.set_xticks([]), ax_image.set_yticks([]), ax_image.grid(False)
    score_axes(fig.add_subplot(grid[0, -1]), curves, cursor=frame_number)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def video_explorer(curves: dict[str, dict], read_frame: Callable[[int], np.ndarray],
                   maps: dict[str, np.ndarray], title: str = ""):
    """Scrub a test video: the frame, each model's anomaly map and the score curves with ground
    truth. Interactive: a slider over the scored frames. Headless: the frame with the highest
    score of the first model (:func:`video_frame_view`)."""
    first = next(iter(curves.values()))
    peak = int(np.argmax(first["scores"]))
    if not interactive():
        return video_frame_view(curves, read_frame, maps, peak, title)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    slider = widgets.IntSlider(value=peak, min=0, max=len(first["frames"]) - 1, description="frame #",
                               continuous_update=False)
    output = widgets.Output()

    def draw(*_):
        with output:
            output.clear_output(wait=True)
            video_frame_view(curves, read_frame, maps, slider.value, title)
            plt.show()

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, output])


def video_auc(curve: dict) -> float | None:
    """Micro frame AUC of one video's curve; None when its frames are all of one class."""
    labels = np.asarray(curve["labels"])
    if labels.min() == labels.max():
        return None
    return metrics.frame_auc(np.asarray(curve["scores"]), labels, "micro")


def frame_score_curves(scores: dict[str, dict[str, dict]], dataset: str, video: str | None = None):
    """Figs. C.4, C.6–C.9 and D.6–D.9: frame scores of one test video for several models, with the
    ground-truth abnormal frames shaded and each curve's AUC on that video in the legend.

    ``scores``: model label -> a run's ``frame_scores`` (video -> frames, scores, labels).
    ``video`` defaults to the first test video with both normal and abnormal frames.
    """
    import matplotlib.pyplot as plt

    first = next(iter(scores.values()))
    video = video or next((v for v, s in first.items() if 0 < sum(s["labels"]) < len(s["labels"])), next(iter(first)))
    curves = {}
    for label, per_video in scores.items():
        auc = video_auc(per_video[video])
        curves[label + (f" (AUC {100 * auc:.1f})" if auc is not None else "")] = per_video[video]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    score_axes(ax, curves)
    ax.set_title(f"{dataset} test video {video} (shaded: ground-truth anomaly)", fontsize=10)
    fig.tight_layout()
    return fig


def explorer(scores: dict[str, dict[str, dict]], maps: dict[str, dict[str, np.ndarray]],
             read_frame: Callable[[str, int], np.ndarray], title: str = ""):
    """:func:`video_explorer` on the first test video whose maps the runs kept.

    ``scores``: model label -> a run's ``frame_scores``; ``maps``: model label -> the maps the
    run kept (video -> (frames, h, w)); ``read_frame(video, frame)``: an original test frame.
    """
    video = next(iter(next(iter(maps.values()))))
    return video_explorer({label: scores[label][video] for label in maps},
                          lambda number: read_frame(video, number),
                          {label: video_maps[video] for label, video_maps in maps.items()},
                          title=f"{title}, test video {video}" if title else f"test video {video}")
