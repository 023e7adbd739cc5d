"""Evaluation metrics of the thesis, exact and fast; one module per family.

* :mod:`vadlib.metrics.frame_auc` -- frame-level micro/macro ROC-AUC of video anomaly detection,
  with an explicit single-class policy (:data:`SINGLE_CLASS_POLICIES`).
* :mod:`vadlib.metrics.rbdc_tbdc` -- region/track-based detection criteria (Ramachandra & Jones,
  WACV 2020) and anomaly maps to scored regions.
* :mod:`vadlib.metrics.pixel` -- image AUROC, pixel AUROC and pixel AP (exact or streaming).
* :mod:`vadlib.metrics.tracking` -- HOTA/CLEAR/Identity via TrackEval (MOTChallenge files are read
  and written by :mod:`vadlib.data.mot`).
* :mod:`vadlib.metrics.classification` -- confusion matrices, accuracy, sensitivity, specificity,
  per-class and weighted precision/recall/F1 (Paper B).

Each module opens with its definitions and their sources; each public function's docstring gives
its own. Ratios are fractions in [0, 1] unless a ``percent`` argument says otherwise.
``tracking`` imports TrackEval lazily. Import the functions from here (``metrics.frame_auc(...)``):
the package attributes ``frame_auc`` and ``rbdc_tbdc`` are the functions, not their modules.
"""

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
from .frame_auc import SINGLE_CLASS_POLICIES, frame_auc, per_video_auc
from .pixel import StreamingBinaryMetrics, image_auroc, pixel_ap, pixel_auroc
from .rbdc_tbdc import rbdc_tbdc, rbdc_tbdc_curves, regions_from_maps
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
    "evaluate_mot",
    "frame_auc",
    "image_auroc",
    "labels_from_counts",
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
