"""From tracker rows to Social-GAN scene windows, and from per-person errors back to frames.

Paper E (thesis ``000_f794b37c98b9d304.txt`` T 3162): the tracker "results contain the coordinates
of the bounding box along with the object (Identification) ID. The obtained results are converted to
a trajectory dataset by converting bounding box coordinates to the center location. Each center
position along with the associated ID represents a single tracklet. Object positions associated
with the same ID are joined together to form a single trajectory."

* :func:`centres` -- MOTChallenge rows (``frame, id, bb_left, bb_top, bb_width, bb_height``, as
  :func:`vadlib.tracking.track_sequence` and :func:`vadlib.data.mot.read_mot` give them) to box
  centres ``c = ((x1 + x2)/2, (y1 + y2)/2)`` (Paper A T 1432) with x2 = bb_left + bb_width.
* :func:`windows` -- scene windows as Social GAN builds its data sets: every ``stride`` frames a
  window of ``obs_len + pred_len`` steps ``frame_step`` frames apart; only the people present at
  every step are kept (a fragmented track is left out of that window, not interpolated).
* :class:`TrajectoryWindows` and :func:`collate_windows` -- a torch Dataset and the batch of
  :class:`vadlib.models.social_gan.SocialGAN`.
* :func:`prediction_spans` and :func:`frame_scores` -- per-person window errors to per-frame values
  (the mapping Paper E leaves open, spec ``papers_E_F.md`` §1.7; see :func:`frame_scores`).

Not stated by Paper E and left to the caller (spec §1.4): pixel or normalised coordinates (here:
whatever the rows hold), frame subsampling (``frame_step``; Social GAN's data are at 2.5 fps, the
VAD videos at 25-30 fps), minimum track length (implied: one whole window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["Window", "centres", "windows", "TrajectoryWindows", "collate_windows",
           "prediction_spans", "frame_scores"]


@dataclass(frozen=True)
class Window:
    """One scene window: ``frames`` (obs_len + pred_len,) frame numbers of its steps (``start`` is
    the first), ``ids`` (n,) of the people present at every step, their positions ``obs``
    (obs_len, n, 2) and ``future`` (pred_len, n, 2)."""

    start: int
    frames: np.ndarray
    ids: np.ndarray
    obs: np.ndarray
    future: np.ndarray

    @property
    def predicted_frames(self) -> np.ndarray:
        """Frame numbers of the predicted steps."""
        return self.frames[self.obs.shape[0]:]


def centres(rows: pd.DataFrame) -> pd.DataFrame:
    """Box centres of MOTChallenge rows: DataFrame ``frame, id, x, y`` with
    ``x = bb_left + bb_width / 2`` and ``y = bb_top + bb_height / 2`` (Paper A's
    ``((x1 + x2)/2, (y1 + y2)/2)`` with ``x2 = bb_left + bb_width``), sorted by id then frame."""
    missing = {"frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack the MOTChallenge columns {sorted(missing)}")
    out = pd.DataFrame({
        "frame": rows["frame"].astype(np.int64).to_numpy(),
        "id": rows["id"].astype(np.int64).to_numpy(),
        "x": (rows["bb_left"] + rows["bb_width"] / 2.0).astype(np.float64).to_numpy(),
        "y": (rows["bb_top"] + rows["bb_height"] / 2.0).astype(np.float64).to_numpy(),
    })
    return out.sort_values(["id", "frame"], kind="stable").reset_index(drop=True)


def windows(centres: pd.DataFrame, obs_len: int = 8, pred_len: int = 8, frame_step: int = 1,
            stride: int = 1) -> list[Window]:
    """Social-GAN scene windows of one video's centres (DataFrame ``frame, id, x, y``).

    For each start frame f = first frame, first + stride, ... the window's steps are the frames
    ``f, f + frame_step, ..., f + (obs_len + pred_len − 1)·frame_step``; a person is kept when
    present at every step (people missing at any step are skipped for that window); windows with
    nobody complete are dropped, and so are windows running past the last frame. People are in
    ascending id order.
    """
    if obs_len < 1 or pred_len < 1 or frame_step < 1 or stride < 1:
        raise ValueError("obs_len, pred_len, frame_step and stride must all be >= 1")
    if centres.empty:
        return []
    if centres.duplicated(["frame", "id"]).any():
        raise ValueError("centres hold two positions for the same (frame, id)")
    first, last = int(centres["frame"].min()), int(centres["frame"].max())
    ids = np.sort(centres["id"].unique())
    # positions as an (id, frame) grid, NaN where a person is absent
    grid = np.full((len(ids), last - first + 1, 2), np.nan)
    rows = np.searchsorted(ids, centres["id"].to_numpy())
    cols = centres["frame"].to_numpy() - first
    grid[rows, cols] = centres[["x", "y"]].to_numpy(dtype=np.float64)
    present = ~np.isnan(grid[..., 0])
    span = (obs_len + pred_len - 1) * frame_step
    out: list[Window] = []
    for start in range(first, last - span + 1, stride):
        steps = start - first + frame_step * np.arange(obs_len + pred_len)
        complete = present[:, steps].all(axis=1)
        if not complete.any():
            continue
        positions = grid[complete][:, steps].transpose(1, 0, 2)          # (T, n, 2)
        out.append(Window(start=start, frames=steps + first, ids=ids[complete],
                          obs=positions[:obs_len], future=positions[obs_len:]))
    return out


class TrajectoryWindows(Dataset):
    """A torch Dataset of :class:`Window` s (batch them with :func:`collate_windows`)."""

    def __init__(self, items: Sequence[Window]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Window:
        return self.items[index]


def collate_windows(items: Sequence[Window]) -> dict[str, Tensor]:
    """The Social-GAN batch of a list of windows: ``obs`` float32 (obs_len, N, 2), ``future``
    float32 (pred_len, N, 2), ``seq_start_end`` long (S, 2) (people ``[start, end)`` of each
    window, in order), plus ``ids`` long (N,) and ``frames`` long (S, obs_len + pred_len)."""
    if not items:
        raise ValueError("no windows to collate")
    counts = np.array([len(w.ids) for w in items])
    ends = np.cumsum(counts)
    return {
        "obs": torch.as_tensor(np.concatenate([w.obs for w in items], axis=1), dtype=torch.float32),
        "future": torch.as_tensor(np.concatenate([w.future for w in items], axis=1),
                                  dtype=torch.float32),
        "seq_start_end": torch.as_tensor(np.stack([ends - counts, ends], axis=1), dtype=torch.long),
        "ids": torch.as_tensor(np.concatenate([w.ids for w in items]), dtype=torch.long),
        "frames": torch.as_tensor(np.stack([w.frames for w in items]), dtype=torch.long),
    }


def prediction_spans(items: Sequence[Window], errors) -> pd.DataFrame:
    """One row per person and window: ``first_frame, last_frame`` (the frame numbers of the window's
    first and last *predicted* step), ``id`` and ``error`` (``errors``: one value per person in
    :func:`collate_windows` order, e.g. :func:`vadlib.metrics.trajectory.trajectory_error`)."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    counts = [len(w.ids) for w in items]
    if errors.size != sum(counts):
        raise ValueError(f"{errors.size} errors for {sum(counts)} people in {len(items)} windows")
    return pd.DataFrame({
        "first_frame": np.repeat([int(w.predicted_frames[0]) for w in items], counts),
        "last_frame": np.repeat([int(w.predicted_frames[-1]) for w in items], counts),
        "id": np.concatenate([w.ids for w in items]) if items else np.zeros(0, np.int64),
        "error": errors,
    })


def frame_scores(spans: pd.DataFrame, frames, first_frame_number: int = 1) -> np.ndarray:
    """Per-frame values of per-person window errors (our choice where Paper E is silent, §1.7).

    ``spans``: DataFrame ``first_frame, last_frame, error`` (:func:`prediction_spans`), one row per
    person and window, the frame numbers of its first and last predicted step. A row *covers* the
    frames ``first_frame .. last_frame`` inclusive -- frames between two predicted steps (when
    ``frame_step > 1``) belong to the interval they fall in. The value of a frame is the MAXIMUM
    error over the rows covering it (the least normal person decides), NaN where no row covers it
    (no complete track, or only observed steps there: the caller decides, e.g. the spec's "normal").

    ``frames``: which frames to score, either

    * an int n: the video's frames numbered ``first_frame_number .. first_frame_number + n − 1``
      (``first_frame_number`` 1 for MOTChallenge numbering, 0 for 0-based frame labels); a row
      reaching outside them raises ValueError; or
    * an array of frame numbers (e.g. those of the frame labels), scored in that order; rows
      covering other frames are simply not looked at (``first_frame_number`` is unused).

    Returns float64, one value per scored frame.
    """
    first = spans["first_frame"].to_numpy(dtype=np.int64)
    last = spans["last_frame"].to_numpy(dtype=np.int64)
    error = spans["error"].to_numpy(dtype=np.float64)
    if (last < first).any():
        raise ValueError("spans must have first_frame <= last_frame")
    if np.ndim(frames) == 0:
        n_frames = int(frames)
        wanted = first_frame_number + np.arange(n_frames)
        if first.size and (first.min() < first_frame_number
                           or last.max() >= first_frame_number + n_frames):
            raise ValueError(f"spans must lie within frames {first_frame_number}.."
                             f"{first_frame_number + n_frames - 1}")
    else:
        wanted = np.asarray(frames, dtype=np.int64).reshape(-1)
    if not first.size or not wanted.size:
        return np.full(wanted.size, np.nan)
    low = min(first.min(), wanted.min())
    dense = np.full(max(last.max(), wanted.max()) - low + 1, -np.inf)
    lengths = last - first + 1
    covered = np.repeat(first - low - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    np.maximum.at(dense, covered, np.repeat(error, lengths))
    out = dense[wanted - low]
    out[np.isneginf(out)] = np.nan
    return out
