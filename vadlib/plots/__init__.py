"""Every figure and widget of the companion, one module per kind of figure.

Figures are matplotlib figures built from arrays the caller gives; widgets are ipywidgets boxes
that fall back to static figures under papermill (:mod:`vadlib.plots.widgets`). The names most
notebooks use are importable from here.
"""

from vadlib.plots.maps import (
                               anomaly_map_grid,
                               f1_threshold,
                               held_out_split,
                               localization_contours,
                               map_explorer,
                               masked_footprint,
                               masked_kernel_figure,
)
from vadlib.plots.masks import (
                               curriculum_figure,
                               mask_diversity,
                               mask_viewer,
                               masked_fraction_figure,
                               masks_figure,
                               training_curves_figure,
)
from vadlib.plots.thermal import (
                               confusion_grid,
                               fall_test_grid,
                               pipeline_strip,
                               sample_grid,
)
from vadlib.plots.tracking import (
                               frame_scrubber,
                               tracked_animation,
                               tracked_frames_figure,
                               tracker_comparison_figure,
)
from vadlib.plots.trajectories import (
                               fusion_curves_figure,
                               pipeline_diagram,
                               trajectory_explorer,
                               trajectory_frames_figure,
)
from vadlib.plots.video import (
                               frame_score_curves,
                               score_axes,
                               video_explorer,
                               video_frame_view,
)
from vadlib.plots.widgets import HEADLESS_ENV, interactive, show

__all__ = ["HEADLESS_ENV", "anomaly_map_grid", "confusion_grid", "curriculum_figure", "f1_threshold", "fall_test_grid", "held_out_split",
           "frame_score_curves", "frame_scrubber", "fusion_curves_figure", "interactive", "localization_contours", "map_explorer",
           "mask_diversity", "mask_viewer", "masked_footprint", "masked_fraction_figure", "masked_kernel_figure",
           "masks_figure", "pipeline_diagram", "pipeline_strip",
           "sample_grid", "score_axes", "show", "tracked_animation", "tracked_frames_figure", "tracker_comparison_figure", "trajectory_explorer", "trajectory_frames_figure",
           "training_curves_figure", "video_explorer", "video_frame_view"]
