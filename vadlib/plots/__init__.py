"""Every figure and widget of the companion, one module per kind of figure.

Figures are matplotlib figures built from arrays the caller gives; widgets are ipywidgets boxes
that fall back to static figures under papermill (:mod:`vadlib.plots.widgets`). The names most
notebooks use are importable from here.
"""

from vadlib.plots.maps import (anomaly_map_grid, f1_threshold, localization_contours, map_explorer,
                               masked_footprint, masked_kernel_figure)
from vadlib.plots.thermal import confusion_grid
from vadlib.plots.video import score_axes, video_explorer, video_frame_view
from vadlib.plots.widgets import HEADLESS_ENV, interactive, show

__all__ = ["HEADLESS_ENV", "anomaly_map_grid", "confusion_grid", "f1_threshold", "interactive",
           "localization_contours", "map_explorer", "masked_footprint", "masked_kernel_figure", "score_axes",
           "show", "video_explorer", "video_frame_view"]
