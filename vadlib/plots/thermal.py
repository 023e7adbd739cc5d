"""Figures of Paper B (ThermalSynth): confusion matrices."""

from __future__ import annotations

from typing import Sequence

import numpy as np


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
