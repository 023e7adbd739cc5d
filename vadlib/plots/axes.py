"""Small helpers every figure module shares."""

from __future__ import annotations


def bare(ax):
    """``ax`` without ticks and grid lines, for an image; returns ``ax``."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    return ax
