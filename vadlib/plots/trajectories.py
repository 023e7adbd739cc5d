"""Paper E's figures: the two-branch pipeline (Fig. E.1), tracked trajectories over test frames
coloured by their prediction error (Figs. E.2, E.3), the spatial, temporal and fused scores of one
video (Fig. E.4), and an explorer of tracked people and their scores.

``tracks`` are the rows :func:`vadlib.runs.trajectories.load_tracks` returns (MOTChallenge columns
plus ``video`` and ``error``: the person's largest window error); ``read_frame(video, frame)``
returns an RGB frame; ``curves`` are ``label -> {"frames", "scores", "labels"}`` anomaly scores
(``1 −`` normalcy) as :func:`vadlib.plots.video.score_axes` draws them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from vadlib.plots.axes import bare
from vadlib.plots.video import score_axes
from vadlib.plots.widgets import interactive

ERROR_COLOURS = "plasma"


def pipeline_diagram():
    """Fig. E.1 (= Fig. 5.4): frames feed a spatial detector and the tracker; trajectories feed
    Social GAN; the two normalised scores are fused by a learned sigmoid."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(9.5, 3.2))
    boxes = {
        "frames": (0.0, 0.40, "video frames"),
        "spatial": (0.26, 0.70, "spatial detector\nFFP | MNAD pred. | recon."),
        "psnr": (0.53, 0.70, "PSNR → min-max\nS_spatial (E.4, E.5)"),
        "tracker": (0.26, 0.10, "tracker of Paper A\nboxes + identities"),
        "sgan": (0.53, 0.10, "Social GAN: 8 observed\n→ 8 predicted steps"),
        "te": (0.53, 0.40, "ADE + FDE → min-max\nS_temporal = 1 − S_sgan\n(E.1–E.3)"),
        "fusion": (0.80, 0.40, "S_total = σ(α·S_spatial\n+ β·S_temporal)\nα, β by BCE (E.6)"),
    }
    width, height = 0.19, 0.2
    for x, y, text in boxes.values():
        ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.01", fc="#EEF3FA", ec="#3B5B92"))
        ax.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=7)
    arrows = [("frames", "spatial"), ("spatial", "psnr"), ("frames", "tracker"), ("tracker", "sgan"),
              ("sgan", "te"), ("psnr", "fusion"), ("te", "fusion")]
    for start, end in arrows:
        (x0, y0, _), (x1, y1, _) = boxes[start], boxes[end]
        same_column = abs(x0 - x1) < 1e-6
        tail = (x0 + width / 2, y0 + height) if same_column else (x0 + width + 0.01, y0 + height / 2)
        head = (x1 + width / 2, y1) if same_column else (x1 - 0.01, y1 + height / 2)
        ax.annotate("", xy=head, xytext=tail, arrowprops={"arrowstyle": "->", "color": "#3B5B92"})
    ax.set_xlim(-0.02, 1.0), ax.set_ylim(0, 1)
    ax.axis("off")
    fig.tight_layout()
    return fig


def draw_trajectories(ax, image: np.ndarray, tracks: pd.DataFrame, frame: int, history: int = 50,
                      vmax: float | None = None) -> None:
    """``image`` with the people tracked at ``frame``: each one's box, and the path of its box
    centre over the previous ``history`` frames, coloured by the person's prediction error (grey
    when never scored)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    colours = plt.get_cmap(ERROR_COLOURS)
    ax.imshow(image)
    present = tracks[tracks.frame == frame]
    scale = vmax if vmax else max(float(np.nanmax(tracks["error"])) if tracks["error"].notna().any() else 1.0, 1e-9)
    for person in present.itertuples():
        path = tracks[(tracks.id == person.id) & (tracks.frame <= frame) & (tracks.frame > frame - history)]
        path = path.sort_values("frame")
        colour = "0.6" if np.isnan(person.error) else colours(min(1.0, person.error / scale))
        ax.plot(path.bb_left + path.bb_width / 2, path.bb_top + path.bb_height / 2, color=colour, lw=1.6)
        ax.add_patch(Rectangle((person.bb_left, person.bb_top), person.bb_width, person.bb_height,
                               fill=False, edgecolor=colour, lw=1.2))
    bare(ax)


def trajectory_frames_figure(read_frame: Callable[[str, int], np.ndarray], tracks: pd.DataFrame,
                             picks: list[tuple[str, int, str]], title: str = ""):
    """Figs. E.2/E.3: one panel per ``(video, frame, caption)``, the tracked people's recent paths
    coloured by prediction error on one colour scale, with a colour bar."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    vmax = float(np.nanmax(tracks["error"])) if tracks["error"].notna().any() else 1.0
    fig, axes = plt.subplots(1, len(picks), figsize=(3.4 * len(picks) + 0.6, 2.8), squeeze=False)
    for ax, (video, frame, caption) in zip(axes[0], picks):
        draw_trajectories(ax, read_frame(video, frame), tracks[tracks.video == video], frame, vmax=vmax)
        ax.set_title(f"{caption}\nvideo {video}, frame {frame}", fontsize=8)
    fig.colorbar(ScalarMappable(Normalize(0, vmax), ERROR_COLOURS), ax=list(axes[0]), shrink=0.8,
                 label="prediction error (ADE + FDE, px)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def fusion_curves_figure(curves: dict[str, dict], title: str = ""):
    """Fig. E.4: the anomaly scores of one test video -- spatial only, temporal only and fused --
    with the ground-truth abnormal frames shaded."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    score_axes(ax, curves)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def trajectory_view(read_frame: Callable[[str, int], np.ndarray], tracks: pd.DataFrame, curves: dict[str, dict],
                    video: str, frame: int):
    """One frame of a test video with its tracked people, beside the score curves with a cursor."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 2.9))
    grid = fig.add_gridspec(1, 2, width_ratios=[1, 1.6])
    draw_trajectories(fig.add_subplot(grid[0]), read_frame(video, frame), tracks[tracks.video == video], frame)
    fig.axes[0].set_title(f"video {video}, frame {frame}", fontsize=8)
    score_axes(fig.add_subplot(grid[1]), curves, cursor=frame)
    fig.tight_layout()
    return fig


def trajectory_explorer(read_frame: Callable[[str, int], np.ndarray], tracks: pd.DataFrame,
                        curves: dict[str, dict], video: str):
    """Scrub a test video: tracked people coloured by their prediction error, and the spatial,
    temporal and fused scores with a cursor. Interactive: a slider over the scored frames.
    Headless: the frame where the last curve (the fused score) peaks."""
    last = list(curves.values())[-1]
    frames = [int(f) for f in last["frames"]]
    peak = frames[int(np.argmax(last["scores"]))]
    if not interactive():
        return trajectory_view(read_frame, tracks, curves, video, peak)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    slider = widgets.SelectionSlider(options=frames, value=peak, description="frame", continuous_update=False)
    output = widgets.Output()

    def draw(*_):
        with output:
            output.clear_output(wait=True)
            trajectory_view(read_frame, tracks, curves, video, slider.value)
            plt.show()

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, output])
