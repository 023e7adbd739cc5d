"""Tracking figures (Paper A, Figs. A.5/A.6): frames of a MOTChallenge sequence with tracked boxes,
coloured and labelled by identity, as a strip of frames, an animation, or a frame scrubber.

``rows`` are MOTChallenge tracker rows (``frame, id, bb_left, bb_top, bb_width, bb_height, ...``
in the sequence's original pixels), e.g. from :func:`vadlib.runs.tracking.track_sequence` or
:func:`vadlib.tracking.track_sequence`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.plots.axes import bare
from vadlib.plots.widgets import interactive


def _frame_paths(root: Path, sequence: str) -> pd.Series:
    """frame number -> image path of ``sequence`` (in whichever split holds it, either layout)."""
    from vadlib.data import mot
    from vadlib.runs.tracking import split_of
    split = split_of(Path(root), sequence)
    return mot.frames(root, split, [sequence]).set_index("frame").path


def _draw_boxes(ax, rows: pd.DataFrame, frame: int, colours) -> list:
    """The boxes and id labels of one frame's rows on ``ax``; returns the artists added."""
    from matplotlib.patches import Rectangle
    artists = []
    for row in rows[rows.frame == frame].itertuples():
        colour = colours(int(row.id) % 20)
        artists.append(ax.add_patch(Rectangle((row.bb_left, row.bb_top), row.bb_width, row.bb_height,
                                              fill=False, edgecolor=colour, lw=1.5)))
        artists.append(ax.text(row.bb_left, row.bb_top - 2, str(int(row.id)), color=colour, fontsize=7,
                               va="bottom"))
    return artists


def tracked_frames_figure(root: Path, sequence: str, rows: pd.DataFrame, frames: list[int], title: str = ""):
    """Fig. A.5 style: frames of a sequence with the tracked boxes, coloured and labelled by id."""
    import matplotlib.pyplot as plt

    from vadlib.data.video import read_image
    paths = _frame_paths(root, sequence)
    fig, axes = plt.subplots(1, len(frames), figsize=(3.4 * len(frames), 2.6), squeeze=False)
    colours = plt.get_cmap("tab20")
    for ax, frame in zip(axes[0], frames):
        ax.imshow(read_image(paths[frame]))
        _draw_boxes(ax, rows, frame, colours)
        ax.set_title(f"frame {frame}", fontsize=9)
        bare(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tracker_comparison_figure(root: Path, sequence: str, tracks: dict[str, pd.DataFrame], frames: list[int],
                              title: str = ""):
    """Figs. A.5/A.6 style: the same frames tracked by several trackers, one row per tracker
    (``tracks``: label -> MOTChallenge rows), one column per frame; a single frame puts the
    trackers side by side. Each panel's title counts the boxes the tracker kept there."""
    import matplotlib.pyplot as plt

    from vadlib.data.video import read_image
    paths = _frame_paths(root, sequence)
    colours = plt.get_cmap("tab20")
    labels = list(tracks)
    side_by_side = len(frames) == 1
    rows, columns = (1, len(labels)) if side_by_side else (len(labels), len(frames))
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.6 * rows), squeeze=False)
    for i, label in enumerate(labels):
        for j, frame in enumerate(frames):
            ax = axes[0, i] if side_by_side else axes[i, j]
            ax.imshow(read_image(paths[frame]))
            shown = tracks[label]
            _draw_boxes(ax, shown, frame, colours)
            count = int((shown.frame == frame).sum()) if len(shown) else 0
            ax.set_title(f"{label}, frame {frame}: {count} boxes" if side_by_side or j == 0
                         else f"frame {frame}: {count} boxes", fontsize=8)
            bare(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tracked_animation(root: Path, sequence: str, rows: pd.DataFrame, frames: list[int], fps: int = 8):
    """An animation of the tracked sequence (matplotlib ``FuncAnimation``; ``.to_jshtml()`` in
    a notebook, ``.save(path, writer="pillow")`` for a GIF)."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    from vadlib.data.video import read_image
    paths = _frame_paths(root, sequence)
    colours = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    image = ax.imshow(read_image(paths[frames[0]]))
    bare(ax)
    artists: list = []

    def draw(frame):
        for artist in artists:
            artist.remove()
        artists.clear()
        image.set_data(read_image(paths[frame]))
        artists.extend(_draw_boxes(ax, rows, frame, colours))
        ax.set_title(f"{sequence} frame {frame}", fontsize=9)
        return [image, *artists]

    animation = FuncAnimation(fig, draw, frames=frames, interval=1000 / fps, blit=False)
    plt.close(fig)
    return animation


def frame_scrubber(root: Path, sequence: str, rows: pd.DataFrame, frames: list[int]):
    """An ipywidgets slider over the tracked frames (a static strip of four frames when headless)."""
    if not interactive():
        chosen = [frames[i] for i in np.linspace(0, len(frames) - 1, 4).round().astype(int)]
        return tracked_frames_figure(root, sequence, rows, chosen, title=f"{sequence} (static view)")
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    slider = widgets.SelectionSlider(options=frames, description="frame", continuous_update=False)
    output = widgets.Output()

    def draw(*_):
        with output:
            output.clear_output(wait=True)
            tracked_frames_figure(root, sequence, rows, [slider.value])
            plt.show()

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, output])
