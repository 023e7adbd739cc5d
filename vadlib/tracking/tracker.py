"""Online multi-object association of JDE/FairMOT, independent of any detector (thesis Paper A).

Paper A tracks with "the standard online tracking algorithm as in JDE" and gives no thresholds
(``shared/specs/paper_A_B.md`` §1.6). This module is that algorithm as FairMOT implements it
(Zhang et al., "FairMOT", IJCV 2021; ``ifzhang/FairMOT``, MIT: ``JDETracker.update`` and
``STrack`` in ``src/lib/tracker/multitracker.py``, ``matching.py``, ``basetrack.py``, output
filter in ``src/track.py``; JDE: Wang et al., ECCV 2020), re-written over arrays:
a detector gives per frame boxes, scores and L2-normalised embeddings, :class:`Tracker` returns
the active tracks.

One frame of :meth:`Tracker.update`
-----------------------------------
0. Detections with ``score > conf_thres`` (0.4) and positive width and height are kept;
   embeddings are re-normalised to unit length.
1. **Predict.** Every live track's Kalman state (:mod:`vadlib.tracking.kalman`) is predicted to
   the current frame (once per elapsed frame, see "missing frames"). For lost tracks the height
   velocity is zeroed first (FairMOT ``STrack.multi_predict``).
2. **Stage 1 -- appearance + motion**, confirmed tracked tracks *and* lost tracks vs all
   detections: cosine distance of the track's smoothed embedding to the detection's embedding,
   ``inf`` where the squared Mahalanobis distance exceeds ``chi2inv95[4] = 9.4877``, fused
   ``0.98 * cosine + 0.02 * d^2`` (:func:`~vadlib.tracking.matching.fuse_motion`), thresholded
   assignment at ``embedding_thres = 0.4``. A matched lost track is "re-found" with its old id.
3. **Stage 2 -- IoU**, confirmed tracks still unmatched that were tracked (not lost) in the previous
   frame vs the remaining detections: ``1 - IoU`` of predicted and detected boxes, threshold
   ``iou_thres = 0.5``. Tracked tracks still unmatched become **lost**.
4. **Stage 3 -- unconfirmed tracks** (started in the previous frame) vs the remaining detections:
   ``1 - IoU``, threshold ``unconfirmed_iou_thres = 0.7``. Matched ones are confirmed (state
   ``TRACKED``); unmatched ones are **removed** (a one-frame track never becomes lost).
5. **New tracks** from remaining detections with ``score >= new_track_thres`` (= ``conf_thres``
   by default, FairMOT's ``det_thresh``): state ``NEW`` (unconfirmed), except in the first frame
   the tracker sees, where they are ``TRACKED`` at once (FairMOT: ``is_activated`` iff
   ``frame_id == 1``). Ids are assigned at creation (so ids of never-confirmed tracks are skipped
   in the output, as in FairMOT).
6. **Bookkeeping.** Lost tracks whose last match is more than ``max_time_lost =
   int(frame_rate / 30 * track_buffer)`` frames ago (``track_buffer = 30``) are removed.
   Duplicates: a tracked/new track and a lost track whose boxes have ``1 - IoU < 0.15`` are the
   same object twice; the one with the shorter history (``last matched frame - start frame``) is
   dropped, the tracked/new one on a tie (FairMOT ``remove_duplicate_stracks``).
7. **Output**: confirmed tracks matched in this frame (state ``TRACKED``), box = Kalman posterior
   ``(left, top, w, h)``, score = score of the matched detection; only boxes with
   ``w * h > min_box_area`` (100) and ``w / h <= max_aspect_ratio`` (1.6) -- FairMOT applies this
   filter when writing results in ``track.py`` (it is output only; the tracks live on).

Matched tracks (all stages) get a Kalman update with the detection box and the appearance update
``f <- 0.9 f + 0.1 f_det``, re-normalised (``feature_momentum = 0.9``, FairMOT ``alpha``).

Track states (FairMOT ``TrackState``): ``NEW`` -- started, not yet confirmed (FairMOT: state
Tracked with ``is_activated = False``); ``TRACKED`` -- confirmed and matched in the latest frame;
``LOST`` -- confirmed, unmatched for 1..max_time_lost frames, still matchable in stage 1;
``REMOVED`` -- finished.

Values and their provenance
---------------------------
FairMOT master (2020-09 onward; ``opts.py``, ``multitracker.py``, ``track.py``):
``conf_thres = 0.4`` (0.6 in the 2020-06 version 7464c6c), stage-1 threshold 0.4 (0.7 in
7464c6c, as ``paper_A_B.md`` §1.6 lists for that commit), stage 2 0.5, stage 3 0.7,
``lambda = 0.98``, ``alpha = 0.9``, ``track_buffer = 30``, duplicate ``1 - IoU < 0.15``,
``min_box_area = 100`` (200 in 7464c6c), aspect ``w / h <= 1.6``. All are constructor arguments.

Decisions and deviations
------------------------
* **Boxes in** ``tlwh`` = MOTChallenge ``(bb_left, bb_top, bb_width, bb_height)`` by default, or
  ``box_format="tlbr"`` for ``(x1, y1, x2, y2)`` (what a FairMOT-style decoder produces).
  Output boxes are always ``tlwh``.
* **Missing frames.** :meth:`Tracker.update` takes an optional ``frame`` number (default: previous
  + 1). When frames are skipped, every live track is predicted once per elapsed frame (the Kalman
  filter's repeated one-frame step), then associated as usual; skipped frames are *not* treated
  as frames without detections, so tracks do not turn lost during the gap. The lost-track buffer
  counts frame numbers, so a lost track expires by the frame numbers that passed. Frames must
  increase strictly.
* **Unconfirmed tracks are predicted too** (``predict_unconfirmed=True``). FairMOT predicts only
  the stage-1 pool; a one-frame track is matched at, and updated from, its initiation state. A new
  track has zero velocity, so the predicted box (and therefore stage 3) is identical either way;
  only the covariance differs, and predicting lets the update learn the velocity from the second
  detection (without it the position-velocity covariance is zero and the velocity stays 0).
  ``predict_unconfirmed=False`` reproduces FairMOT.
* **Removal takes effect at once.** FairMOT subtracts the lost tracks it removes in a frame from
  its lost list only in the *next* frame, so they stay matchable one frame longer than
  ``max_time_lost``; here a track is matchable while ``frame - last_match <= max_time_lost``.
* A re-found track takes the new detection's score (FairMOT keeps the old score; ByteTrack
  updates it). Scores only feed the output ``conf`` column.
* Ids are per tracker (FairMOT uses a class-global counter shared by all trackers in a process),
  starting at 1. Removed tracks are not kept (FairMOT keeps a growing list); those removed in the
  latest frame are in :attr:`Tracker.removed_tracks`.
* IoU in continuous coordinates (see :mod:`vadlib.tracking.matching`).

Bad input: zero detections are fine; boxes with width or height <= 0 (after conversion) are
dropped; mismatched lengths of boxes / scores / embeddings, wrong shapes, NaN or infinite values,
zero-norm embeddings, an embedding dimension that changes, and non-increasing frame numbers raise
``ValueError``; a rejected frame leaves the tracker unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from .kalman import KalmanFilter
from .matching import embedding_distance, fuse_motion, iou_distance, linear_assignment

__all__ = ["Tracker", "Track", "TrackState", "TrackOutput", "track_sequence", "MOT_PRED_COLUMNS"]

#: Columns of :func:`track_sequence`'s DataFrame: the 10-column MOTChallenge tracker layout.
MOT_PRED_COLUMNS = ["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf",
                    "x", "y", "z"]


class TrackState(enum.IntEnum):
    """Life cycle of a track (FairMOT ``TrackState``; ``NEW`` = not yet confirmed)."""

    NEW = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


@dataclass(eq=False)
class Track:
    """One tracklet: Kalman state, smoothed embedding and history."""

    track_id: int
    mean: np.ndarray              # (8,) Kalman state (cx, cy, a, h, vcx, vcy, va, vh)
    covariance: np.ndarray        # (8, 8)
    feature: np.ndarray           # (D,) smoothed unit-norm embedding
    score: float                  # score of the last matched detection
    state: TrackState
    start_frame: int
    last_frame: int               # frame of the last matched detection (FairMOT frame_id)
    tracklet_len: int = field(default=0)

    @property
    def tlwh(self) -> np.ndarray:
        """Current box ``(left, top, w, h)`` from the Kalman mean."""
        return KalmanFilter.xyah_to_tlwh(self.mean)

    @property
    def tlbr(self) -> np.ndarray:
        """Current box ``(x1, y1, x2, y2)``."""
        b = self.tlwh
        b[2:] += b[:2]
        return b


class TrackOutput(NamedTuple):
    """One active track in one frame: ``(track_id, tlwh, score)``."""

    track_id: int
    tlwh: np.ndarray
    score: float


def _tlwh_to_tlbr(b: np.ndarray) -> np.ndarray:
    out = b.copy()
    out[:, 2:] += out[:, :2]
    return out


class Tracker:
    """FairMOT/JDE online tracker over per-frame detections; see the module docstring.

    Args:
        frame_rate: frames per second of the sequence; scales the lost-track buffer
            ``max_time_lost = int(frame_rate / 30 * track_buffer)``.
        conf_thres: detections with ``score <= conf_thres`` are discarded (FairMOT 0.4).
        new_track_thres: minimum score to start a track (default ``conf_thres``).
        track_buffer: lost-track buffer in frames at 30 fps (FairMOT 30).
        embedding_thres: stage-1 cost limit on the fused appearance/motion cost (0.4).
        iou_thres: stage-2 limit on ``1 - IoU`` (0.5).
        unconfirmed_iou_thres: stage-3 limit on ``1 - IoU`` (0.7).
        motion_lambda: weight of the appearance cost in the fusion (0.98).
        only_position_gating: gate on ``(cx, cy)`` (chi2 2 dof) instead of all 4 dimensions.
        feature_momentum: EMA weight of the old embedding (0.9).
        duplicate_iou_dist: tracked/lost pairs with ``1 - IoU`` below this are duplicates (0.15).
        min_box_area: output only boxes with ``w * h > min_box_area`` (100; 0 disables).
        max_aspect_ratio: output only boxes with ``w / h <= max_aspect_ratio`` (1.6; ``inf``
            disables).
        box_format: ``"tlwh"`` (default) or ``"tlbr"`` for the input boxes.
        predict_unconfirmed: Kalman-predict unconfirmed tracks (True) or not (False, FairMOT).
    """

    def __init__(self, frame_rate: float = 30, *, conf_thres: float = 0.4,
                 new_track_thres: float | None = None, track_buffer: int = 30,
                 embedding_thres: float = 0.4, iou_thres: float = 0.5,
                 unconfirmed_iou_thres: float = 0.7, motion_lambda: float = 0.98,
                 only_position_gating: bool = False, feature_momentum: float = 0.9,
                 duplicate_iou_dist: float = 0.15, min_box_area: float = 100.0,
                 max_aspect_ratio: float = 1.6, box_format: str = "tlwh",
                 predict_unconfirmed: bool = True):
        if not (np.isfinite(frame_rate) and frame_rate > 0):
            raise ValueError(f"frame_rate must be a positive number, got {frame_rate}")
        if box_format not in ("tlwh", "tlbr"):
            raise ValueError(f"box_format must be 'tlwh' or 'tlbr', got {box_format!r}")
        if int(track_buffer) < 0:
            raise ValueError(f"track_buffer must be >= 0, got {track_buffer}")
        for name, v in (("motion_lambda", motion_lambda), ("feature_momentum", feature_momentum)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        for name, v in (("embedding_thres", embedding_thres), ("iou_thres", iou_thres),
                        ("unconfirmed_iou_thres", unconfirmed_iou_thres)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        self.frame_rate = float(frame_rate)
        self.conf_thres = float(conf_thres)
        self.new_track_thres = float(conf_thres if new_track_thres is None else new_track_thres)
        self.track_buffer = int(track_buffer)
        self.max_time_lost = int(self.frame_rate / 30.0 * self.track_buffer)
        self.embedding_thres = float(embedding_thres)
        self.iou_thres = float(iou_thres)
        self.unconfirmed_iou_thres = float(unconfirmed_iou_thres)
        self.motion_lambda = float(motion_lambda)
        self.only_position_gating = bool(only_position_gating)
        self.feature_momentum = float(feature_momentum)
        self.duplicate_iou_dist = float(duplicate_iou_dist)
        self.min_box_area = float(min_box_area)
        self.max_aspect_ratio = float(max_aspect_ratio)
        self.box_format = box_format
        self.predict_unconfirmed = bool(predict_unconfirmed)
        self.kalman = KalmanFilter()
        self.reset()

    def reset(self) -> None:
        """Forget all tracks, the frame counter and the id counter."""
        self.frame: int | None = None
        self.tracked_tracks: list[Track] = []    # NEW and TRACKED
        self.lost_tracks: list[Track] = []
        self.removed_tracks: list[Track] = []    # removed in the latest frame only
        self.embedding_dim: int | None = None
        self._next_id = 1

    # -- input ------------------------------------------------------------------------------------
    def _validate(self, boxes, scores, embeddings):
        b = np.asarray(boxes, dtype=np.float64)
        s = np.asarray(scores, dtype=np.float64)
        e = None if embeddings is None else np.asarray(embeddings, dtype=np.float64)
        if b.size == 0 and b.ndim <= 2:
            b = b.reshape(0, 4)
        if s.size == 0:
            s = s.reshape(0)
        shapes = (f"boxes {b.shape}, scores {s.shape}, embeddings "
                  f"{None if e is None else e.shape}")
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"boxes must have shape (N, 4); got {shapes}")
        if s.ndim != 1:
            raise ValueError(f"scores must have shape (N,); got {shapes}")
        n = len(b)
        if e is None or (e.size == 0 and n == 0):
            if n:
                raise ValueError(f"embeddings are required for N = {n} detections; got {shapes}")
            e = np.zeros((0, self.embedding_dim or 0))
        if e.ndim != 2:
            raise ValueError(f"embeddings must have shape (N, D); got {shapes}")
        if not (len(s) == n == len(e)):
            raise ValueError(f"boxes, scores and embeddings must have the same length N; "
                             f"got {shapes}")
        for name, arr in (("boxes", b), ("scores", s), ("embeddings", e)):
            if np.isnan(arr).any():
                raise ValueError(f"{name} contain NaN (first at index "
                                 f"{tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])})")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} contain infinite values")
        if n and self.embedding_dim is not None and e.shape[1] != self.embedding_dim:
            raise ValueError(f"embedding dimension changed: tracker has D = {self.embedding_dim}, "
                             f"got embeddings {e.shape}")
        return b, s, e

    def _resolve_frame(self, frame) -> int:
        if frame is None:
            return 1 if self.frame is None else self.frame + 1
        if int(frame) != frame:
            raise ValueError(f"frame must be an integer, got {frame!r}")
        frame = int(frame)
        if self.frame is not None and frame <= self.frame:
            raise ValueError(f"frame numbers must increase: got frame {frame} after {self.frame}")
        return frame

    # -- one frame --------------------------------------------------------------------------------
    def update(self, boxes, scores, embeddings, frame: int | None = None) -> list[TrackOutput]:
        """Associate one frame of detections and return its active tracks.

        Args:
            boxes: (N, 4) boxes in ``box_format`` (pixels).
            scores: (N,) detection confidences.
            embeddings: (N, D) appearance embeddings (re-normalised here); may be ``None`` or
                empty when N = 0.
            frame: frame number (default previous + 1, 1 for the first call); may skip frames.

        Returns:
            ``[TrackOutput(track_id, tlwh, score), ...]`` for the confirmed tracks matched in this
            frame that pass the output filter (``min_box_area``, ``max_aspect_ratio``), in track
            order.
        """
        b, s, e = self._validate(boxes, scores, embeddings)
        frame = self._resolve_frame(frame)

        # 0. detections: confidence and box sanity, unit-norm embeddings
        tlwh = b.copy()
        if self.box_format == "tlbr":
            tlwh[:, 2:] -= tlwh[:, :2]
        keep = (s > self.conf_thres) & (tlwh[:, 2] > 0) & (tlwh[:, 3] > 0)
        tlwh, s, e = tlwh[keep], s[keep], e[keep]
        if len(e):
            norms = np.linalg.norm(e, axis=1)
            if (norms == 0).any():
                bad = int(np.flatnonzero(keep)[norms == 0][0])
                raise ValueError(f"embedding of detection {bad} has zero norm")
            e = e / norms[:, None]
            if self.embedding_dim is None:
                self.embedding_dim = e.shape[1]
        det_tlbr = _tlwh_to_tlbr(tlwh)
        det_xyah = KalmanFilter.tlwh_to_xyah(tlwh)
        n_det = len(tlwh)
        # the input is valid: from here on the tracker state changes
        first = self.frame is None
        steps = 0 if first else frame - self.frame
        self.frame = frame
        self.removed_tracks = []

        unconfirmed = [t for t in self.tracked_tracks if t.state == TrackState.NEW]
        confirmed = [t for t in self.tracked_tracks if t.state == TrackState.TRACKED]
        pool = confirmed + self.lost_tracks

        # 1. predict to this frame
        if steps:
            self._predict(pool + (unconfirmed if self.predict_unconfirmed else []), steps)

        matched: list[tuple[Track, int]] = []     # (track, detection index), all stages
        refound: list[Track] = []

        # 2. stage 1: appearance + gated motion, tracked and lost tracks
        cost = np.zeros((len(pool), n_det))
        if pool and n_det:
            feats = np.stack([t.feature for t in pool])
            cost = embedding_distance(feats, e)
            cost = fuse_motion(self.kalman, cost, np.stack([t.mean for t in pool]),
                               np.stack([t.covariance for t in pool]), det_xyah,
                               lambda_=self.motion_lambda, only_position=self.only_position_gating)
        m1, u_track, u_det = linear_assignment(cost, self.embedding_thres)
        for ti, di in m1:
            track = pool[ti]
            if track.state == TrackState.LOST:
                refound.append(track)
            matched.append((track, int(di)))

        # 3. stage 2: IoU, remaining tracks that were tracked (not lost)
        r_tracked = [pool[i] for i in u_track if pool[i].state == TrackState.TRACKED]
        cost = iou_distance(self._boxes_tlbr(r_tracked), det_tlbr[u_det])
        m2, u_r, u_det2 = linear_assignment(cost, self.iou_thres)
        matched += [(r_tracked[ti], int(u_det[di])) for ti, di in m2]
        newly_lost = [r_tracked[i] for i in u_r]
        u_det = u_det[u_det2]

        # 4. stage 3: unconfirmed tracks, IoU
        cost = iou_distance(self._boxes_tlbr(unconfirmed), det_tlbr[u_det])
        m3, u_unc, u_det3 = linear_assignment(cost, self.unconfirmed_iou_thres)
        matched += [(unconfirmed[ti], int(u_det[di])) for ti, di in m3]
        for i in u_unc:
            unconfirmed[i].state = TrackState.REMOVED
            self.removed_tracks.append(unconfirmed[i])
        u_det = u_det[u_det3]

        self._apply_matches(matched, det_xyah, s, e, frame)
        for track in refound:
            track.tracklet_len = 0               # FairMOT re_activate
        for track in newly_lost:
            track.state = TrackState.LOST

        # 5. new tracks
        new_tracks = []
        for di in u_det:
            if s[di] < self.new_track_thres:
                continue
            mean, cov = self.kalman.initiate(det_xyah[di])
            new_tracks.append(Track(
                track_id=self._next_id, mean=mean, covariance=cov, feature=e[di].copy(),
                score=float(s[di]), state=TrackState.TRACKED if first else TrackState.NEW,
                start_frame=frame, last_frame=frame))
            self._next_id += 1

        # 6. bookkeeping: lists, expiry of lost tracks, duplicates
        self.tracked_tracks = ([t for t in self.tracked_tracks
                                if t.state in (TrackState.NEW, TrackState.TRACKED)]
                               + new_tracks + refound)
        lost = [t for t in self.lost_tracks if t.state == TrackState.LOST] + newly_lost
        for track in lost:
            if frame - track.last_frame > self.max_time_lost:
                track.state = TrackState.REMOVED
                self.removed_tracks.append(track)
        self.lost_tracks = [t for t in lost if t.state == TrackState.LOST]
        self._remove_duplicates()

        # 7. output
        active = [t for t in self.tracked_tracks if t.state == TrackState.TRACKED]
        if not active:
            return []
        boxes = KalmanFilter.xyah_to_tlwh(np.stack([t.mean for t in active]))
        w, h = boxes[:, 2], boxes[:, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            show = (h > 0) & (w * h > self.min_box_area) & (w / h <= self.max_aspect_ratio)
        return [TrackOutput(t.track_id, boxes[k], t.score)
                for k, t in enumerate(active) if show[k]]

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _boxes_tlbr(tracks: list[Track]) -> np.ndarray:
        if not tracks:
            return np.zeros((0, 4))
        return _tlwh_to_tlbr(KalmanFilter.xyah_to_tlwh(np.stack([t.mean for t in tracks])))

    def _predict(self, tracks: list[Track], steps: int) -> None:
        if not tracks:
            return
        means = np.stack([t.mean for t in tracks])
        covs = np.stack([t.covariance for t in tracks])
        lost = np.array([t.state == TrackState.LOST for t in tracks])
        means[lost, 7] = 0.0                     # FairMOT: no height velocity while lost
        means, covs = self.kalman.multi_predict(means, covs, steps)
        for t, m, c in zip(tracks, means, covs):
            t.mean, t.covariance = m, c

    def _apply_matches(self, matched, det_xyah, scores, embeddings, frame) -> None:
        """Kalman update, embedding EMA and state of every matched track (one batch)."""
        if not matched:
            return
        tracks = [t for t, _ in matched]
        di = np.array([d for _, d in matched])
        means, covs = self.kalman.multi_update(np.stack([t.mean for t in tracks]),
                                               np.stack([t.covariance for t in tracks]),
                                               det_xyah[di])
        a = self.feature_momentum
        feats = a * np.stack([t.feature for t in tracks]) + (1 - a) * embeddings[di]
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        feats = np.where(norms > 0, feats / np.where(norms > 0, norms, 1), embeddings[di])
        for k, t in enumerate(tracks):
            t.mean, t.covariance, t.feature = means[k], covs[k], feats[k]
            t.score = float(scores[di[k]])
            t.state = TrackState.TRACKED
            t.last_frame = frame
            t.tracklet_len += 1

    def _remove_duplicates(self) -> None:
        """FairMOT ``remove_duplicate_stracks`` between tracked/new and lost tracks."""
        if not self.tracked_tracks or not self.lost_tracks:
            return
        dist = iou_distance(self._boxes_tlbr(self.tracked_tracks),
                            self._boxes_tlbr(self.lost_tracks))
        drop_a, drop_b = set(), set()
        for p, q in zip(*np.nonzero(dist < self.duplicate_iou_dist)):
            ta, tb = self.tracked_tracks[p], self.lost_tracks[q]
            if ta.last_frame - ta.start_frame > tb.last_frame - tb.start_frame:
                drop_b.add(q)
            else:
                drop_a.add(p)
        for i in drop_a:
            self.tracked_tracks[i].state = TrackState.REMOVED
            self.removed_tracks.append(self.tracked_tracks[i])
        for i in drop_b:
            self.lost_tracks[i].state = TrackState.REMOVED
            self.removed_tracks.append(self.lost_tracks[i])
        self.tracked_tracks = [t for i, t in enumerate(self.tracked_tracks) if i not in drop_a]
        self.lost_tracks = [t for i, t in enumerate(self.lost_tracks) if i not in drop_b]


def _frame_parts(item, k: int):
    if isinstance(item, Mapping):
        try:
            return (item["frame"], item["boxes"], item["scores"], item.get("embeddings"))
        except KeyError as err:
            raise ValueError(f"frame item {k}: missing key {err}; expected 'frame', 'boxes', "
                             "'scores', 'embeddings'") from None
    try:
        frame, boxes, scores, embeddings = item
    except (TypeError, ValueError):
        raise ValueError(f"frame item {k}: expected (frame, boxes, scores, embeddings) or a "
                         "mapping with those keys") from None
    return frame, boxes, scores, embeddings


def track_sequence(frames: Iterable, tracker: Tracker | None = None,
                   **tracker_kwargs) -> pd.DataFrame:
    """Run a tracker over a sequence and return MOTChallenge tracker rows.

    Args:
        frames: iterable of ``(frame, boxes, scores, embeddings)`` tuples or mappings with those
            keys, frame numbers strictly increasing (gaps allowed: see "missing frames"); use
            1-based frames for :func:`vadlib.metrics.tracking.evaluate_mot`.
        tracker: a :class:`Tracker` to use (continues its state); default a new
            ``Tracker(**tracker_kwargs)``.
        **tracker_kwargs: :class:`Tracker` arguments (``frame_rate``, thresholds, ``box_format``);
            only without ``tracker``.

    Returns:
        DataFrame with :data:`MOT_PRED_COLUMNS` (``frame, id, bb_left, bb_top, bb_width,
        bb_height, conf, x, y, z``; ``conf`` = score of the track's last detection,
        ``x = y = z = -1``), one row per output track and frame, sorted by (frame, id).
    """
    if tracker is not None and tracker_kwargs:
        raise ValueError(f"pass either a tracker or tracker arguments, not both "
                         f"(got {sorted(tracker_kwargs)})")
    tracker = tracker if tracker is not None else Tracker(**tracker_kwargs)
    rows = []
    for k, item in enumerate(frames):
        frame, boxes, scores, embeddings = _frame_parts(item, k)
        for out in tracker.update(boxes, scores, embeddings, frame=frame):
            rows.append((tracker.frame, out.track_id, *map(float, out.tlwh), out.score))
    df = pd.DataFrame(rows, columns=MOT_PRED_COLUMNS[:7])
    df = df.astype({"frame": np.int64, "id": np.int64, "bb_left": np.float64,
                    "bb_top": np.float64, "bb_width": np.float64, "bb_height": np.float64,
                    "conf": np.float64})
    for c in ("x", "y", "z"):
        df[c] = -1.0
    return df.sort_values(["frame", "id"], kind="stable").reset_index(drop=True)
