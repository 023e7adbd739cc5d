"""ThermalSynth stage 1: background extraction from Seasons in Drift (LTD) clips.

Paper B §3.1 (thesis seed L1720; spec ``paper_A_B.md`` §2.3.1): the backgrounds come from the LTD
dataset (2-minute clips of one 384×288 thermal view, spread over the 24 hours of the day,
January-August). A temporal median filter is applied "as a two-step process": (1) the videos are
sampled at 1 frame per second; (2) for each pixel the median over all frames of each 2-minute
video is computed. The median is "solely applied to the harbor area" through a manually drawn
mask, so that the water, wires, ropes and masts keep moving. The extracted background frames keep
the order of the original video, and three consecutive ones are stacked and later blended with the
synthetic foreground. 69 of the 298 hours are sampled uniformly (L1720).

What this module does:

* :func:`extract_backgrounds`: for one clip (T × H × W uint8), sample every
  ``round(source_fps / fps)``-th frame (step 1 for Seasons-in-Drift frames, which the release's
  ``extract_images.py`` already writes at 1 fps), take the per-pixel median over the sampled
  frames, and return background frames = each sampled frame with the median pasted inside the
  median mask (the moving parts outside the mask stay as recorded). The median of an even number
  of frames is the mean of the two middle values rounded to the nearest integer (half to even).
* :func:`clip_backgrounds` / :func:`sid_backgrounds`: the same for clips read through the
  Seasons-in-Drift loader (:func:`vadlib.data.thermal.sid_clip_frames`, frames read as 8-bit
  grayscale); :func:`sample_clips` draws 69 h of clips (2,070 two-minute clips,
  :data:`PAPER_BACKGROUND_HOURS`) uniformly at random with a seed -- every clip equally likely
  (``method="even"``: evenly spaced in time instead). With fewer clips than that (the twin) every
  clip is used.
* Masks: the default median mask and water mask come from :data:`vadlib.data.harbour.HARBOUR_VIEW`
  (our polygons, drawn for the synthetic twin's view -- the paper publishes none; see
  :mod:`vadlib.data.harbour`). Runs pass the dataset's own view
  (:func:`vadlib.data.thermal.sid_view`, which refuses a root without one). Pass ``median_mask=`` / ``water_mask=`` (bool H×W arrays) or
  ``view=`` (a :class:`~vadlib.data.harbour.HarbourView`) to use your own.

Decisions where the paper is silent (ours):

* "Harbour area" is read as the walkable area (quay and pier), not the water: the paper keeps the
  water's motion, and real people -- whom the median must remove -- walk on the quay.
* Frames outside the median mask are the sampled frames themselves (the spec's reading [I]).
* Each clip gets its own median (the paper: "for each 2-minute video").

Bad input raises ``ValueError`` with the reason: frames that are not 2-D 8-bit grayscale images
(or a stack that is not T × H × W uint8), frames of another size than ``shape`` when one is
required, masks of the wrong shape, and empty masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from vadlib.data.harbour import HARBOUR_VIEW, HarbourView

__all__ = ["Backgrounds", "PAPER_BACKGROUND_HOURS", "check_frames", "check_mask", "clip_backgrounds",
           "extract_backgrounds", "load_clip", "sample_clips", "sid_backgrounds", "temporal_median"]

#: Hours of LTD video the paper samples for backgrounds (L1720), and the clip length in minutes.
PAPER_BACKGROUND_HOURS = 69
CLIP_MINUTES = 2


@dataclass
class Backgrounds:
    """The background frames of one clip, in clip order, with the masks used.

    ``frames``: T × H × W uint8; ``frame_ids``: the source frame numbers they came from;
    ``median``: H × W uint8 (the per-clip median inside ``median_mask``, 0 elsewhere);
    ``water_mask``: bool H × W (the water area for labels and crops).
    """

    frames: np.ndarray
    median: np.ndarray
    median_mask: np.ndarray
    water_mask: np.ndarray
    clip: str = "clip"
    frame_ids: np.ndarray = field(default=None)

    def __post_init__(self):
        self.frames = check_frames(self.frames, what=f"background frames of {self.clip}")
        if self.frame_ids is None:
            self.frame_ids = np.arange(len(self.frames))

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def shape(self) -> tuple[int, int]:
        return self.frames.shape[1:]


# ---------------------------------------------------------------------------------- checks

def check_frames(frames, shape: tuple[int, int] | None = None, what: str = "frames") -> np.ndarray:
    """A clip as a T × H × W uint8 array, or ``ValueError`` saying what is wrong.

    Accepts a 3-D uint8 array or a sequence of 2-D uint8 arrays of one size. ``shape`` (H, W),
    when given, is required (e.g. :data:`~vadlib.data.harbour.FRAME_SHAPE`, 288 × 384).
    """
    if isinstance(frames, np.ndarray):
        stack = frames
        if stack.ndim == 2:
            raise ValueError(f"{what}: got one 2-D image; pass a stack T × H × W (np.stack([...]))")
        if stack.ndim != 3:
            raise ValueError(f"{what}: need T × H × W 8-bit grayscale frames, got an array of "
                             f"shape {stack.shape} (colour frames? convert to grayscale first)")
    else:
        frames = list(frames)
        if not frames:
            raise ValueError(f"{what}: no frames")
        for number, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.ndim != 2:
                raise ValueError(f"{what}: frame {number} has shape {frame.shape}; need a 2-D "
                                 "grayscale image")
            if frame.dtype != np.uint8:
                raise ValueError(f"{what}: frame {number} is {frame.dtype}; need 8-bit (uint8)")
            if frame.shape != np.asarray(frames[0]).shape:
                raise ValueError(f"{what}: frame {number} is {frame.shape}, frame 0 is "
                                 f"{np.asarray(frames[0]).shape}; all frames of a clip must match")
        stack = np.stack([np.asarray(f) for f in frames])
    if stack.dtype != np.uint8:
        raise ValueError(f"{what}: frames are {stack.dtype}; need 8-bit grayscale (uint8)")
    if len(stack) == 0:
        raise ValueError(f"{what}: no frames")
    if shape is not None and stack.shape[1:] != tuple(shape):
        raise ValueError(f"{what}: frames are {stack.shape[1]}×{stack.shape[2]} (H×W), need "
                         f"{shape[0]}×{shape[1]}")
    return stack


def check_mask(mask, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    """A bool H × W mask of the given shape with at least one pixel set, or ``ValueError``."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{name} has shape {mask.shape}, the frames are {tuple(shape)}")
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError(f"{name} is empty (no pixel set); draw the region or use the default")
    return mask


# -------------------------------------------------------------------------------- median

def temporal_median(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-pixel median over the frames (T × H × W uint8) inside ``mask``; 0 outside."""
    frames = check_frames(frames)
    mask = check_mask(mask, frames.shape[1:], "median mask")
    median = np.zeros(frames.shape[1:], np.uint8)
    values = np.median(frames[:, mask], axis=0)
    median[mask] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return median


def extract_backgrounds(frames, *, median_mask: np.ndarray | None = None,
                        water_mask: np.ndarray | None = None, view: HarbourView | None = None,
                        fps: float = 1.0, source_fps: float = 1.0, clip: str = "clip",
                        frame_ids: Sequence[int] | None = None,
                        shape: tuple[int, int] | None = None) -> Backgrounds:
    """Background frames of one clip (see the module docstring).

    ``frames``: T × H × W uint8 (or a list of 2-D uint8 frames) recorded at ``source_fps``; every
    ``round(source_fps / fps)``-th frame is kept. Masks default to ``view`` (default
    :data:`~vadlib.data.harbour.HARBOUR_VIEW`) drawn at the frames' size. ``shape``: require
    this (H, W).
    """
    frames = check_frames(frames, shape, what=f"frames of {clip}")
    if fps <= 0 or source_fps <= 0:
        raise ValueError(f"fps and source_fps must be positive, got {fps} and {source_fps}")
    step = max(1, int(round(source_fps / fps)))
    ids = np.arange(len(frames)) if frame_ids is None else np.asarray(frame_ids)
    if len(ids) != len(frames):
        raise ValueError(f"{len(ids)} frame ids for {len(frames)} frames")
    frames, ids = frames[::step], ids[::step]
    view = view or HARBOUR_VIEW
    size = frames.shape[1:]
    median_mask = check_mask(view.mask("median", size) if median_mask is None else median_mask,
                             size, "median mask")
    water_mask = check_mask(view.mask("water", size) if water_mask is None else water_mask,
                            size, "water mask")
    median = temporal_median(frames, median_mask)
    backgrounds = frames.copy()
    backgrounds[:, median_mask] = median[median_mask]
    return Backgrounds(backgrounds, median, median_mask, water_mask, clip, ids)


# ------------------------------------------------------------------------ Seasons in Drift

def load_clip(root: str | Path, clip: str, *, shape: tuple[int, int] | None = None):
    """The frames of one Seasons-in-Drift clip as T × H × W uint8 (8-bit grayscale) and their
    frame numbers, read through :func:`vadlib.data.thermal.sid_clip_frames`."""
    from PIL import Image

    from vadlib.data.thermal import sid_clip_frames

    index = sid_clip_frames(root, clip)
    frames = []
    for path in index["path"]:
        with Image.open(path) as image:
            frames.append(np.asarray(image.convert("L"), dtype=np.uint8))
    return check_frames(frames, shape, what=f"clip {clip}"), index["frame"].to_numpy()


def clip_backgrounds(root: str | Path, clip: str, **options) -> Backgrounds:
    """:func:`extract_backgrounds` of one Seasons-in-Drift clip (``<YYYYMMDD>/clip_<n>_<HHMM>``).
    Options as :func:`extract_backgrounds` (``source_fps`` defaults to 1: the release's frames)."""
    frames, ids = load_clip(root, clip, shape=options.pop("shape", None))
    return extract_backgrounds(frames, clip=clip, frame_ids=ids, **options)


SAMPLING = ("random", "even")


def sample_clips(clips: pd.DataFrame | Sequence[str], hours: float = PAPER_BACKGROUND_HOURS,
                 clip_minutes: float = CLIP_MINUTES, *, seed: int = 0,
                 method: str = "random") -> list[str]:
    """``hours`` of clips (``hours · 60 / clip_minutes`` of them: 2,070 for the paper's 69 h)
    sampled uniformly from the dataset, in time order; all clips when there are fewer.

    ``method="random"`` (default; L1720 "69 hours ... sampled uniformly"): a simple random sample
    without replacement drawn with ``seed``, so every clip is picked with the same probability
    ``wanted / len(clips)``; ``"even"``: no randomness, evenly spaced positions in the time-sorted
    list (each the middle of its share). ``clips``: a :func:`vadlib.data.thermal.sid_clips` table
    or clip ids (``<YYYYMMDD>/clip_<n>_<HHMM>`` sort in time order)."""
    if method not in SAMPLING:
        raise ValueError(f"method must be one of {SAMPLING}, got {method!r}")
    ids = (list(clips.sort_values("datetime", kind="stable")["clip"]) if isinstance(clips, pd.DataFrame)
           else sorted(clips))
    wanted = int(round(hours * 60 / clip_minutes))
    if wanted <= 0:
        raise ValueError(f"hours must give at least one clip, got {hours}")
    if wanted >= len(ids):
        return ids
    if method == "even":
        positions = np.floor((np.arange(wanted) + 0.5) * len(ids) / wanted).astype(int)  # centred
    else:
        positions = np.sort(np.random.default_rng([seed, 1720]).choice(len(ids), wanted, replace=False))
    return [ids[p] for p in positions]


def sid_backgrounds(root: str | Path, clips: Sequence[str] | None = None, *,
                    hours: float | None = None, seed: int = 0, method: str = "random",
                    **options) -> Iterator[Backgrounds]:
    """Backgrounds of several Seasons-in-Drift clips, one clip at a time (all clips, the given
    ids, or ``hours`` of clips sampled by :func:`sample_clips` with ``seed`` and ``method``).
    Pass ``view=`` (e.g. :func:`vadlib.data.thermal.sid_view` of the root) for the dataset's own
    geometry."""
    from vadlib.data.thermal import sid_clips

    if clips is None:
        table = sid_clips(root)
        clips = (sample_clips(table, hours, seed=seed, method=method) if hours is not None
                 else list(table["clip"]))
    for clip in clips:
        yield clip_backgrounds(root, clip, **options)
