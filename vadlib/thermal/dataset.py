"""ThermalSynth stage 5: assembling the fall / no-fall dataset (Paper B §3.5, §4.3).

What the paper does (thesis seed; spec ``paper_A_B.md`` §2.3.5, §2.4):

* Fig. B.2 (L1697): the synthetic data are "limited to three frames at t, t+1, t+2"; each is merged
  with an extracted background frame and the three are stacked to encode time.
* L1830: "pre-processed by cropping only the water area. Since this results in a trapezoidal
  image, it is further warped using warpPerspective function from OpenCV to convert it into a
  rectangular shape. Afterwards, three consecutive frames are concatenated to generate a single
  tensor of size 185 × 115 × 3."
* Ch. 3 L610: 310,788 synthetic frames -> 103,596 three-frame images, half fall and half no fall;
  labels come automatically "based on the location of foreground objects" relative to the masked
  harbour. L1830/L1849: 69,000 training images (equal classes) and 34,596 validation images
  (17,298 + 17,298). L1724 counts 79,998 foreground sequences of three frames -- inconsistent with
  103,596 (spec §2.9 item 5); :data:`PAPER_COUNTS` keeps both.

What this module does:

* :func:`compose_frames`: foreground frame -> shader (:mod:`~vadlib.thermal.shader`) ->
  post-processing (:mod:`~vadlib.thermal.postprocess`) -> screen composite onto the background
  frame with the same position in the sequence.
* :func:`warp_roi` (defined in :mod:`vadlib.data.harbour` with :class:`ThermalSynthSet` and
  :func:`split_by_sequence`, which the real fall test sets share): the water quadrilateral
  (top-left, top-right, bottom-right, bottom-left; from :meth:`HarbourView.roi_corners
  <vadlib.data.harbour.HarbourView.roi_corners>`) mapped onto a 185 × 115 (width × height)
  rectangle by ``cv2.getPerspectiveTransform`` + ``cv2.warpPerspective`` (bilinear, border
  replicated); corners go to pixel centres (0, 0) ... (184, 114).
* :func:`assemble`: every window (t, t+1, t+2) of a sequence (stride 1 by default) -> a uint8
  3 × 115 × 185 sample; channel c holds frame t + c (the channel order is not stated; time order
  is ours).
* **Triplet label rule (ours):** ``rule="any"`` (default) -- a sample is *fall* (1) if any of its
  three frames is a fall frame (frame labels: see :mod:`vadlib.thermal.humans`). A detector
  should fire as early as a fall is visible, and the paper prefers sensitivity (L1824).
  ``"majority"``, ``"all"`` and ``"last"`` are available.
* :func:`generate_samples`: ``n_sequences`` procedural people (:func:`~vadlib.thermal.humans.
  render_sequence`); a fraction ``fall_fraction`` (0.5: the paper's balance) fall or jump into the
  water, the others walk or stand on the quay; kinds alternate within each class. Each sequence
  takes ``frames_per_sequence`` consecutive background frames of one clip (clip and start drawn
  per sequence), in the clip's order: the foreground's frame t is composited on background frame
  b + t. (The paper does not say how the 1-fps background and the rendered frames are matched;
  spec §2.9 item 8.) :func:`synthesize` does the same for your own
  :class:`~vadlib.thermal.humans.ForegroundSequence` s.
* Paper size: ``frames_per_sequence=3`` gives one sample per sequence, so :func:`paper_parameters`
  (``n_sequences=103_596``, ``fall_fraction=0.5``) yields 103,596 samples from 310,788 frames,
  51,798 per class, and :func:`split_by_sequence` with its ``val_fraction`` gives 69,000 training
  and 34,596 validation samples, 17,298 of each class in validation. Longer sequences give
  ``(frames_per_sequence - 3) // stride + 1`` samples each; their fall sequences also hold no-fall
  windows (before the fall), so balance is then no longer exact. The paper-sized sample array is
  6.6 GB; ``generate_samples(..., chunk=(start, stop))`` makes any slice of the sequences exactly
  as the full run would (save chunks to disk, or run them in parallel processes).
* :func:`split_by_sequence`: whole sequences go to one side, so frames of one sequence never
  straddle the split; the split is stratified by sequence class (fall / no-fall kind).

Determinism: sequence i draws its person from ``numpy.random.default_rng([seed, i])`` and its
background clip, start frame and noise from ``default_rng([seed, i, 1])``; the kinds are a
permutation drawn from ``default_rng([seed, 0])``. So a sequence does not depend on the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from vadlib.data.harbour import (FALL_KINDS, FRAME_SHAPE, HARBOUR_VIEW, NO_FALL_KINDS, PAPER_COUNTS, SAMPLE_SIZE,
                                 TRIPLET, HarbourView, ThermalSynthSet, split_by_sequence, warp_roi)
from vadlib.thermal.background import Backgrounds, check_frames
from vadlib.thermal.humans import ForegroundSequence, render_sequence
from vadlib.thermal.postprocess import PostProcess, composite
from vadlib.thermal.shader import ThermalShader

__all__ = ["PAPER_COUNTS", "SAMPLE_SIZE", "TRIPLET_RULES", "ThermalSynthSet", "assemble",
           "compose_frames", "generate_samples", "paper_parameters", "split_by_sequence",
           "synthesize", "triplet_labels", "warp_roi"]

TRIPLET_RULES = ("any", "majority", "all", "last")
META_COLUMNS = ("sequence_id", "kind", "clip", "background_frames", "frame_ids", "frame_labels",
                "label", "box")


def paper_parameters() -> dict:
    """Arguments of :func:`generate_samples` / :func:`split_by_sequence` for the paper's sizes."""
    return {"n_sequences": PAPER_COUNTS["samples"], "frames_per_sequence": TRIPLET,
            "fall_fraction": 0.5,
            "val_fraction": PAPER_COUNTS["validation"] / PAPER_COUNTS["samples"]}


# ------------------------------------------------------------------------------ labels

def triplet_labels(frame_labels: Sequence[int], rule: str = "any", stride: int = 1):
    """Window starts t (every ``stride`` frames) and the label of each window (t, t+1, t+2)."""
    labels = np.asarray(frame_labels, np.int64)
    if rule not in TRIPLET_RULES:
        raise ValueError(f"unknown triplet rule {rule!r}; known: {', '.join(TRIPLET_RULES)}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if len(labels) < TRIPLET:
        raise ValueError(f"a sample needs {TRIPLET} frames, the sequence has {len(labels)}")
    starts = np.arange(0, len(labels) - TRIPLET + 1, stride)
    windows = labels[starts[:, None] + np.arange(TRIPLET)]
    if rule == "any":
        out = windows.max(axis=1)
    elif rule == "all":
        out = windows.min(axis=1)
    elif rule == "majority":
        out = (windows.sum(axis=1) * 2 > TRIPLET).astype(np.int64)
    else:
        out = windows[:, -1]
    return starts, out


# --------------------------------------------------------------------------- composition

def compose_frames(sequence: ForegroundSequence, background_frames: np.ndarray,
                   shader: ThermalShader | None = None, post: PostProcess | None = None,
                   rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Composited frames (T × H × W uint8) of a foreground sequence on T background frames."""
    shader, post = shader or ThermalShader(), post or PostProcess()
    background_frames = check_frames(background_frames, sequence.shape, what="background frames")
    if len(background_frames) != len(sequence):
        raise ValueError(f"{len(background_frames)} background frames for {len(sequence)} "
                         "foreground frames")
    rng = np.random.default_rng(rng)
    out = np.empty_like(background_frames)
    for t, (frame, background) in enumerate(zip(sequence.frames, background_frames)):
        if not frame.material.any():  # nothing to shade: F = 0 everywhere, C = B
            out[t] = background
            continue
        foreground = post(shader.shade(frame.material, frame.albedo, sequence.materials), rng)
        out[t] = composite(foreground, background)
    return out


def assemble(frames: np.ndarray, frame_labels: Sequence[int], corners: np.ndarray, *,
             rule: str = "any", stride: int = 1, size: tuple[int, int] = SAMPLE_SIZE):
    """Samples (n × 3 × height × width uint8), their labels and window starts from composited
    frames (T × H × W uint8) and one label per frame."""
    frames = check_frames(frames, what="composited frames")
    if len(frame_labels) != len(frames):
        raise ValueError(f"{len(frame_labels)} labels for {len(frames)} frames")
    starts, labels = triplet_labels(frame_labels, rule, stride)
    warped = np.stack([warp_roi(frame, corners, size) for frame in frames])
    samples = warped[starts[:, None] + np.arange(TRIPLET)]
    return samples, labels, starts


# ------------------------------------------------------------------------------ datasets

def _clips(backgrounds, frame_shape) -> list[tuple[str, np.ndarray]]:
    """Normalise ``backgrounds`` to [(clip id, T × H × W uint8)] and check sizes."""
    if isinstance(backgrounds, (Backgrounds, np.ndarray)):
        backgrounds = [backgrounds]
    items = list(backgrounds)
    if not items:
        raise ValueError("no background clips given")
    if all(isinstance(b, np.ndarray) and b.ndim == 2 for b in items):  # frames of one clip
        items = [check_frames(items, frame_shape, what="background clip 0")]
    clips = []
    for number, item in enumerate(items):
        if isinstance(item, Backgrounds):
            frames = check_frames(item.frames, frame_shape, what=f"backgrounds of {item.clip}")
            clips.append((item.clip, frames))
            continue
        array = np.asarray(item)
        if array.ndim == 2:
            raise ValueError(f"background {number} is a single 2-D frame among clips; pass clips as "
                             "T × H × W arrays (or Backgrounds), or a list of 2-D frames of one clip")
        clips.append((f"clip{number}", check_frames(array, frame_shape, what=f"background clip {number}")))
    shapes = {frames.shape[1:] for _, frames in clips}
    if len(shapes) > 1:
        raise ValueError(f"background clips differ in size: {sorted(shapes)}")
    return clips


@dataclass
class _SequenceResult:
    sequence: ForegroundSequence
    clip: str
    background_start: int
    frames: np.ndarray


def _compose_all(sequences: Iterable[ForegroundSequence], clips, seed: int, shader, post,
                 numbers: Iterable[int] | None = None) -> Iterator[_SequenceResult]:
    """Composite each sequence; sequence ``number`` draws from ``default_rng([seed, number, 1])``."""
    numbers = numbers if numbers is not None else range(1 << 62)
    for number, sequence in zip(numbers, sequences):
        rng = np.random.default_rng([seed, number, 1])
        clip_index = int(rng.integers(len(clips)))
        clip, frames = clips[clip_index]
        if sequence.shape != frames.shape[1:]:
            raise ValueError(f"sequence {sequence.sequence_id} is {sequence.shape}, backgrounds "
                             f"are {frames.shape[1:]}")
        if len(frames) < len(sequence):
            raise ValueError(f"background clip {clip} has {len(frames)} frames; sequences of "
                             f"{len(sequence)} frames need at least as many")
        start = int(rng.integers(0, len(frames) - len(sequence) + 1))
        composited = compose_frames(sequence, frames[start:start + len(sequence)], shader, post, rng)
        yield _SequenceResult(sequence, clip, start, composited)


def _union(boxes) -> tuple[int, int, int, int] | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def _collect(results: Iterable[_SequenceResult], corners, rule, stride, keep_frames,
             expected: int | None = None) -> ThermalSynthSet:
    """Assemble every sequence's samples; ``expected``: the known total, filled in place (no
    second copy of a paper-sized array)."""
    width, height = SAMPLE_SIZE
    chunks, labels, rows, kept, seen = [], [], [], {}, set()
    samples = None if expected is None else np.empty((expected, TRIPLET, height, width), np.uint8)
    filled = 0
    for result in results:
        sequence = result.sequence
        if sequence.sequence_id in seen:
            raise ValueError(f"sequence id {sequence.sequence_id!r} occurs twice; ids must be unique "
                             "(the split is by sequence)")
        seen.add(sequence.sequence_id)
        x, y, starts = assemble(result.frames, sequence.labels, corners, rule=rule, stride=stride)
        if samples is None:
            chunks.append(x)
        else:
            samples[filled:filled + len(x)] = x
        filled += len(x)
        labels.append(y)
        for t, label in zip(starts, y):
            ids = tuple(int(i) for i in range(t, t + TRIPLET))
            rows.append({"sequence_id": sequence.sequence_id, "kind": sequence.kind, "clip": result.clip,
                         "background_frames": tuple(result.background_start + i for i in ids),
                         "frame_ids": ids, "frame_labels": tuple(int(sequence.labels[i]) for i in ids),
                         "label": int(label), "box": _union(sequence.frames[i].box for i in ids)})
        if keep_frames:
            kept[sequence.sequence_id] = result.frames
    if samples is None:
        samples = np.concatenate(chunks) if chunks else np.empty((0, TRIPLET, height, width), np.uint8)
    assert len(samples) == filled, (len(samples), filled)
    labels = np.concatenate(labels) if labels else np.empty(0, np.int64)
    return ThermalSynthSet(samples, labels, pd.DataFrame(rows, columns=list(META_COLUMNS)), kept)


def synthesize(sequences: Iterable[ForegroundSequence], backgrounds, seed: int = 0, *,
               view: HarbourView = HARBOUR_VIEW, corners: np.ndarray | None = None,
               shader: ThermalShader | None = None, post: PostProcess | None = None,
               rule: str = "any", stride: int = 1, frame_shape: tuple[int, int] | None = FRAME_SHAPE,
               keep_frames: bool = False) -> ThermalSynthSet:
    """Composite your own foreground sequences onto backgrounds and assemble the samples.

    ``backgrounds``: :class:`~vadlib.thermal.background.Backgrounds`, a T × H × W uint8 clip, or
    a list of those (or a list of 2-D uint8 frames of one clip). ``frame_shape`` is required of
    them (the LTD 288 × 384 by default; ``None`` accepts any one size). ``corners``: the crop
    quadrilateral in pixels (default ``view.roi_corners``).
    """
    clips = _clips(backgrounds, frame_shape)
    shape = clips[0][1].shape[1:]
    corners = view.roi_corners(shape) if corners is None else np.asarray(corners, np.float32)
    return _collect(_compose_all(sequences, clips, seed, shader, post), corners, rule, stride, keep_frames)


def _kinds(n_sequences: int, fall_fraction: float, seed: int) -> list[str]:
    n_fall = int(round(fall_fraction * n_sequences))
    kinds = ([FALL_KINDS[i % len(FALL_KINDS)] for i in range(n_fall)]
             + [NO_FALL_KINDS[i % len(NO_FALL_KINDS)] for i in range(n_sequences - n_fall)])
    order = np.random.default_rng([seed, 0]).permutation(n_sequences)
    return [kinds[i] for i in order]


def generate_samples(backgrounds, n_sequences: int, seed: int = 0, *, frames_per_sequence: int = TRIPLET,
                     fall_fraction: float = 0.5, view: HarbourView = HARBOUR_VIEW,
                     shader: ThermalShader | None = None, post: PostProcess | None = None,
                     rule: str = "any", stride: int = 1, frame_interval_s: float = 0.25,
                     frame_shape: tuple[int, int] | None = FRAME_SHAPE,
                     keep_frames: bool = False, chunk: tuple[int, int] | None = None) -> ThermalSynthSet:
    """Procedural ThermalSynth samples: ``n_sequences`` people (``fall_fraction`` of them falling
    or jumping into the water), composited onto ``backgrounds`` and assembled into 3-frame
    samples (see the module docstring; :func:`paper_parameters` for the paper's size).

    ``chunk=(start, stop)``: only sequences ``start .. stop - 1`` of the ``n_sequences``, exactly
    as the full run makes them -- for paper-sized sets, whose samples take 6.6 GB
    (103,596 × 3 × 115 × 185 bytes), generated and saved piece by piece or in parallel processes.
    """
    if n_sequences < 0:
        raise ValueError(f"n_sequences must be non-negative, got {n_sequences}")
    if not 0.0 <= fall_fraction <= 1.0:
        raise ValueError(f"fall_fraction must lie in [0, 1], got {fall_fraction}")
    if frames_per_sequence < TRIPLET:
        raise ValueError(f"frames_per_sequence must be at least {TRIPLET}, got {frames_per_sequence}")
    triplet_labels(np.zeros(frames_per_sequence), rule, stride)  # check rule and stride early
    clips = _clips(backgrounds, frame_shape)
    shape = clips[0][1].shape[1:]
    start, stop = (0, n_sequences) if chunk is None else chunk
    if not 0 <= start <= stop <= n_sequences:
        raise ValueError(f"chunk {chunk} must satisfy 0 <= start <= stop <= n_sequences ({n_sequences})")
    kinds = _kinds(n_sequences, fall_fraction, seed)
    numbers = range(start, stop)
    sequences = (render_sequence(kinds[number], n_frames=frames_per_sequence,
                                 rng=np.random.default_rng([seed, number]), view=view, shape=shape,
                                 frame_interval_s=frame_interval_s, sequence_id=number)
                 for number in numbers)
    per_sequence = (frames_per_sequence - TRIPLET) // stride + 1
    return _collect(_compose_all(sequences, clips, seed, shader, post, numbers), view.roi_corners(shape),
                    rule, stride, keep_frames, expected=len(numbers) * per_sequence)
