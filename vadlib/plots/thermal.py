"""Figures of Paper B (ThermalSynth): the pipeline, the samples, the confusion matrices.

A *sample* is three consecutive frames of the warped water area, 3 × 115 × 185 uint8
(:mod:`vadlib.data.harbour`); it is shown as a colour image whose red, green and blue channels
are frames t, t+1, t+2, so whatever moves between them shows in colour.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from vadlib.plots.axes import bare


def label_name(label: int) -> str:
    """'fall' for label 1, 'no fall' for 0."""
    return "fall" if label else "no fall"


def _show_sample(ax, sample: np.ndarray, title: str) -> None:
    ax.imshow(np.asarray(sample).transpose(1, 2, 0))
    ax.set_title(title, fontsize=9)
    bare(ax)


def pipeline_strip(background: np.ndarray, frames: Sequence[np.ndarray], clip: str = ""):
    """A background (H × W grey) and the first three composited frames (H × W grey each) of a
    person on it (the whole pipeline's result; not Fig. B.3, which :func:`postprocess_strip`
    draws)."""
    import matplotlib.pyplot as plt
    if len(frames) < 3:
        raise ValueError(f"need three composited frames, got {len(frames)}")
    fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
    axes[0].imshow(background, cmap="gray")
    axes[0].set_title(f"background (median of clip {clip})" if clip else "background (median)", fontsize=9)
    for ax, k in zip(axes[1:], range(3)):
        ax.imshow(frames[k], cmap="gray")
        ax.set_title(f"composited frame t+{k}", fontsize=9)
    for ax in axes:
        bare(ax)
    fig.suptitle("ThermalSynth: background, then a person falling into the water", fontsize=10)
    return fig


def person_box(mask: np.ndarray, margin: int = 6) -> tuple[slice, slice]:
    """Row and column slices of the bounding box of ``mask`` (H × W, nonzero = person) grown by
    ``margin`` pixels and clipped to the image; the whole image when the mask is empty."""
    mask = np.asarray(mask) != 0
    if not mask.any():
        return slice(0, mask.shape[0]), slice(0, mask.shape[1])
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (slice(max(0, rows[0] - margin), min(mask.shape[0], rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(mask.shape[1], cols[-1] + 1 + margin)))


POSTPROCESS_STEPS = ("thermal shader", "Gaussian blur 3×3", "random noise", "JPEG (DCT) artefacts")


def postprocess_strip(steps: Sequence[np.ndarray], composited: np.ndarray | None = None,
                      titles: Sequence[str] = POSTPROCESS_STEPS):
    """Fig. B.3: the post-processing chain step by step, left to right (``steps``: the images
    :class:`vadlib.thermal.PostProcess` appends with ``steps=[]``, H × W, 8-bit units, all the
    same crop), then the composite on the background when given. Grey 0-255, no rescaling."""
    import matplotlib.pyplot as plt
    if len(steps) != len(titles):
        raise ValueError(f"{len(steps)} steps for {len(titles)} titles")
    panels = list(steps) + ([composited] if composited is not None else [])
    names = list(titles) + (["screen composite (Eq. B.5)"] if composited is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 3.4), squeeze=False)
    for ax, image, name in zip(axes[0], panels, names):
        ax.imshow(np.clip(np.asarray(image, float), 0, 255), cmap="gray", vmin=0, vmax=255)
        ax.set_title(name, fontsize=9)
        bare(ax)
    fig.suptitle("Post-processing pipeline (Fig. B.3 layout)", fontsize=10)
    return fig


def gain_level_grid(images: Mapping[tuple[float, float], np.ndarray]):
    """Fig. B.5: one composited crop per (gain G, level L), rows by G and columns by L
    (``images[(G, L)]``: H × W uint8), grey 0-255 without rescaling."""
    import matplotlib.pyplot as plt
    if not images:
        raise ValueError("no images to draw")
    gains = sorted({g for g, _ in images})
    levels = sorted({l for _, l in images})
    fig, axes = plt.subplots(len(gains), len(levels), figsize=(2.2 * len(levels), 2.6 * len(gains)),
                             squeeze=False)
    for r, gain in enumerate(gains):
        for c, level in enumerate(levels):
            ax = axes[r, c]
            if (gain, level) not in images:
                ax.set_axis_off()
                continue
            ax.imshow(images[gain, level], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"G = {gain:g}, L = {level:g}", fontsize=9)
            bare(ax)
    fig.suptitle("Gain and level of the thermal shader (Fig. B.5 layout)", fontsize=10)
    return fig


def sample_grid(samples: np.ndarray, labels: Sequence[int], kinds: Sequence[str] | None = None,
                rows: int = 2, columns: int = 4):
    """The first ``rows × columns`` samples (N × 3 × H × W uint8) as colour images titled with their
    label and, when given, the kind of sequence they come from; cells left over stay
    empty."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 2.1 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(labels):
            ax.set_axis_off()
            continue
        title = label_name(labels[i]) + (f" ({kinds[i]})" if kinds is not None else "")
        _show_sample(ax, samples[i], title)
    return fig


def fall_test_grid(sets: Mapping[str, object], per_class: int = 2):
    """One row per test set (``{name: set with .samples and .labels}``): its first ``per_class``
    fall samples, then its first ``per_class`` no-fall samples."""
    import matplotlib.pyplot as plt
    if not sets:
        raise ValueError("no test sets to draw")
    columns = 2 * per_class
    fig, axes = plt.subplots(len(sets), columns, figsize=(3 * columns, 2.2 * len(sets)), squeeze=False)
    for row, (name, data) in zip(axes, sets.items()):
        labels = np.asarray(data.labels)
        picked = np.concatenate([np.flatnonzero(labels == 1)[:per_class], np.flatnonzero(labels == 0)[:per_class]])
        for ax in row[len(picked):]:
            ax.set_axis_off()
        for ax, i in zip(row, picked):
            _show_sample(ax, data.samples[i], f"{name}: {label_name(labels[i])}")
    return fig


def confusion_grid(matrices: dict[tuple[str, str], np.ndarray], labels: Sequence[str] = ("fall", "no fall"),
                   title: str = ""):
    """Annotated confusion matrices on a grid: ``matrices[(row, column)]`` is a square count
    matrix (rows true class, columns predicted, classes in ``labels`` order); grid rows and
    columns follow the keys' first appearance (Fig. B.6: test sets by networks)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    if not matrices:
        raise ValueError("no confusion matrices to draw")
    rows = list(dict.fromkeys(row for row, _ in matrices))
    columns = list(dict.fromkeys(column for _, column in matrices))
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(3.6 * len(columns), 3.2 * len(rows)),
                             layout="constrained", squeeze=False)
    for (r, row), (c, column) in ((rc, cc) for rc in enumerate(rows) for cc in enumerate(columns)):
        ax = axes[r, c]
        if (row, column) not in matrices:
            ax.set_axis_off()
            continue
        sns.heatmap(np.asarray(matrices[row, column]), annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax,
                    xticklabels=labels, yticklabels=labels)
        ax.set(title=f"{column}, {row}", xlabel="predicted", ylabel="true")
        ax.grid(False)
    if title:
        fig.suptitle(title)
    return fig
