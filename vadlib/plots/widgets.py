"""Explorers are interactive in JupyterLab and fall back to a static figure where no one can
click: under papermill (``vadlib reproduce`` sets ``VADLIB_HEADLESS=1``), outside a kernel, or
without ipywidgets."""

from __future__ import annotations

import os

HEADLESS_ENV = "VADLIB_HEADLESS"


def interactive() -> bool:
    """True inside a Jupyter kernel with ipywidgets, unless ``VADLIB_HEADLESS=1`` (papermill)."""
    if os.environ.get(HEADLESS_ENV) == "1":
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(view) -> None:
    """Show what :func:`map_explorer` returned: a widget box, or a static figure."""
    from matplotlib.figure import Figure
    if isinstance(view, Figure):
        import matplotlib.pyplot as plt
        plt.show()
    else:
        from IPython.display import display
        display(view)
