"""Evaluation metrics of the thesis, exact and fast.

* :mod:`vadlib.metrics.anomaly` -- frame-level micro/macro AUC (with an explicit single-class
  policy), score post-processing, RBDC/TBDC, anomaly maps to regions, image/pixel AUROC and
  pixel AP (exact or streaming).
* :mod:`vadlib.metrics.tracking` -- HOTA/CLEAR/Identity via TrackEval, MOTChallenge read/write.
* :mod:`vadlib.metrics.classification` -- confusion matrices, accuracy, sensitivity, specificity,
  per-class and weighted precision/recall/F1 (Paper B).

Each public function's docstring gives its definition and source. Ratios are fractions in [0, 1]
unless a ``percent`` argument says otherwise. ``tracking`` imports TrackEval lazily.
"""

from .anomaly import (
    SINGLE_CLASS_POLICIES,
    StreamingBinaryMetrics,
    drop_first_frames,
    frame_auc,
    gaussian_smooth,
    image_auroc,
    minmax_normalize,
    per_video_auc,
    pixel_ap,
    pixel_auroc,
    rbdc_tbdc,
    rbdc_tbdc_curves,
    regions_from_maps,
)
from .classification import (
    accuracy,
    binary_counts,
    binary_report,
    classification_report,
    confusion_matrix,
    counts_consistent_with,
    labels_from_counts,
    sensitivity,
    specificity,
)
from .tracking import evaluate_mot, read_mot, write_mot

__all__ = [
    "SINGLE_CLASS_POLICIES",
    "StreamingBinaryMetrics",
    "accuracy",
    "binary_counts",
    "binary_report",
    "classification_report",
    "confusion_matrix",
    "counts_consistent_with",
    "drop_first_frames",
    "evaluate_mot",
    "frame_auc",
    "gaussian_smooth",
    "image_auroc",
    "labels_from_counts",
    "minmax_normalize",
    "per_video_auc",
    "pixel_ap",
    "pixel_auroc",
    "rbdc_tbdc",
    "rbdc_tbdc_curves",
    "read_mot",
    "regions_from_maps",
    "sensitivity",
    "specificity",
    "write_mot",
]
