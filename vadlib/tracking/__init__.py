"""Online multi-object tracking of thesis Paper A: JDE/FairMOT association over detections.

Paper A (an attention-gated one-stage tracker built on FairMOT) associates detections "as in JDE"
(``shared/specs/paper_A_B.md`` §1.6); this sub-package is that association, detector-agnostic:

* :mod:`vadlib.tracking.kalman` -- constant-velocity Kalman filter on ``(cx, cy, w/h, h)``
  (DeepSORT/JDE/FairMOT), squared-Mahalanobis gating and the chi-square 0.95 table.
* :mod:`vadlib.tracking.matching` -- cosine / IoU cost matrices, FairMOT's ``fuse_motion``, and
  assignment with a cost limit (SciPy, equivalent to ``lap.lapjv(..., cost_limit=...)``).
* :mod:`vadlib.tracking.tracker` -- :class:`Tracker` (FairMOT's ``JDETracker.update``: three
  association stages, track life cycle, lost-track buffer) and :func:`track_sequence`, which
  returns MOTChallenge rows accepted by :func:`vadlib.metrics.tracking.evaluate_mot`.

Example::

    from vadlib.tracking import Tracker, track_sequence
    tracker = Tracker(frame_rate=30)                       # FairMOT defaults
    for boxes_tlwh, scores, embeddings in detections:      # per frame, embeddings (N, D)
        for track_id, tlwh, score in tracker.update(boxes_tlwh, scores, embeddings):
            ...
    df = track_sequence((f, b, s, e) for f, (b, s, e) in enumerate(detections, 1))
"""

from .kalman import CHI2INV95, KalmanFilter
from .matching import box_iou, embedding_distance, fuse_motion, iou_distance, linear_assignment
from .tracker import MOT_PRED_COLUMNS, Track, TrackOutput, Tracker, TrackState, track_sequence

__all__ = [
    "CHI2INV95", "KalmanFilter",
    "box_iou", "embedding_distance", "fuse_motion", "iou_distance", "linear_assignment",
    "MOT_PRED_COLUMNS", "Track", "TrackOutput", "Tracker", "TrackState", "track_sequence",
]
