"""Synthetic twins of Paper B's two real fall test sets: Intentional Fall and Dummy.

Neither set is public (access by request to the VAP lab, Aalborg University), and their on-disk
layouts are unknown, so both twins are written in the companion layout that
:mod:`vadlib.data.fall_tests` reads::

    frames/<clip>/0000.jpg ...      full thermal frames of the harbour (8-bit grey), in time order
    samples.csv                     one row per 3-frame sample: clip,start,label (1 = fall)
    roi.json                        the water quadrilateral: HARBOUR_VIEW's crop, drawn for this view

The frames come from the harbour renderer of :mod:`.thermal` (the Seasons-in-Drift scene: people
walk on the quay; :data:`vadlib.data.harbour.HARBOUR_VIEW` is drawn for this view, and the twin
writes its crop to ``roi.json``, which the loader requires of every set). Each set has event clips and walking-only clips:

* ``intentional_fall`` (Bonderup et al., ISVC 2016; volunteers jumping into the water, spring
  2016): the event is the renderer's ``jump`` (a person walks to the quay edge and jumps in).
* ``dummy_fall`` (Nikolov, Liu & Moeslund, Sensors 2022; a human-like doll thrown into the water,
  September-October 2021): a doll appears in the air at the quay edge, tilts as it falls, enters
  the water in front of the pier and drifts against the pier ("sticking to the pier", thesis
  L627) for 2-6 frames before it goes under; a thrower stands at the edge the whole clip.

Samples follow the "any" rule of :func:`vadlib.thermal.dataset.triplet_labels`: a window (t, t+1,
t+2) is *fall* if any of its frames shows the event (the renderer's per-frame labels). Fall
samples are drawn from the event clips, no-fall samples from walking-only clips and from event
clips before the event begins; each is a seeded draw without replacement from all candidate
windows (stride 1, so samples may overlap), in clip and time order in samples.csv.

Sizes (samples fall + no fall; frames of 384×288 unless said otherwise):

* ``intentional_fall``: smoke and large hold the thesis's 77 samples, 18 + 59 (L1818); smoke from
  4 jump + 3 walking clips of 24 frames, large from 8 + 8 clips of 40 frames. tiny: 3 + 5 samples
  from 1 + 1 clips of 12 frames of 96×72.
* ``dummy_fall``: large holds the thesis's 1,626 samples, 580 + 1,046 (L1820), from 84 doll + 34
  walking clips of 24 frames; smoke one tenth of that, 58 + 105 = 163, from 9 + 4 clips; tiny
  3 + 5 from 1 + 1 clips of 12 frames of 96×72.

:func:`fall_plan` returns the rendered clips (with per-frame labels) and :func:`truth` the samples
with the labels of their three frames, both computed from the generator's own plan.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.harbour import HARBOUR_VIEW
from vadlib.data.synthetic.thermal import (PIER, Actor, ClipPlan, _conditions, _edge, _event, _save_jpeg,
                                           _walkers, render_clip)

TRIPLET = 3
SAMPLE_COLUMNS = ("clip", "start", "label")
ROI_FILE = "roi.json"  # as vadlib.data.fall_tests reads it


@dataclass(frozen=True)
class FallSizes:
    width: int
    height: int
    frames: int  # per clip
    event_clips: int
    walk_clips: int
    fall: int  # samples
    no_fall: int


@dataclass(frozen=True)
class FallTwin:
    event: str  # jump | doll
    stream: int  # first entry of every seed sequence, keeping this twin's draws apart
    first_day: dt.date
    days: int  # clips are spread over first_day .. first_day + days
    sizes: dict


# The guaranteed candidate windows bound the clip counts: a jump clip of 24 frames offers 6 fall
# and at least 4 pre-event no-fall windows, a doll clip at least 7 and 4, a walking clip 22.
TWIN_SPECS = {
    "intentional_fall": FallTwin("jump", 3, dt.date(2016, 3, 20), 70, {
        "tiny": FallSizes(96, 72, 12, 1, 1, 3, 5),
        "smoke": FallSizes(384, 288, 24, 4, 3, 18, 59),
        "large": FallSizes(384, 288, 40, 8, 8, 18, 59)}),
    "dummy_fall": FallTwin("doll", 4, dt.date(2021, 9, 1), 60, {
        "tiny": FallSizes(96, 72, 12, 1, 1, 3, 5),
        "smoke": FallSizes(384, 288, 24, 9, 4, 58, 105),
        "large": FallSizes(384, 288, 24, 84, 34, 580, 1046)}),
}


# -------------------------------------------------------------------------------- planning

def doll_event(n: int, rng: np.random.Generator) -> tuple[list[Actor], np.ndarray]:
    """The thrower and the doll of one Dummy clip, and the frames the doll is visible in."""
    start = int(rng.integers(max(1, n // 4), max(2, n // 3) + 1))
    floating = int(rng.integers(2, 7))
    v_feet = rng.uniform(0.66, 0.74)  # in front of the pier (rows 0.58-0.64)
    edge = float(_edge(v_feet))
    u, v = np.full(n, np.nan), np.full(n, v_feet)
    lift, tilt, submerged, splash = (np.zeros(n) for _ in range(4))
    falling = slice(start, min(n, start + 3))  # at the edge, mid-air, entry
    u[falling] = (edge - 0.005, edge - 0.03, edge - 0.05)[:len(u[falling])]
    lift[falling] = (0.45, 0.2, 0.0)[:len(u[falling])]
    tilt[falling] = (25.0, 60.0, 90.0)[:len(u[falling])]
    drift = slice(min(n, start + 3), min(n, start + 3 + floating))
    steps = np.arange(1, drift.stop - drift.start + 1)
    u[drift] = edge - 0.05 - rng.uniform(0.003, 0.008) * steps
    v[drift] = np.maximum(PIER[1] + 0.01, v_feet - 0.02 * steps)  # drawn against the pier
    tilt[drift] = 90.0
    submerged[start + 2:drift.stop] = 0.6
    splash[start + 2:start + 4] = (1.0, 0.6)[:len(splash[start + 2:start + 4])]
    labels = np.zeros(n, np.uint8)
    labels[start:drift.stop] = 1
    doll = Actor("doll", u, v, lift, submerged, splash, (edge - 0.06, float(v_feet)), tilt)
    thrower = Actor("person", np.full(n, edge + 0.04), np.full(n, v_feet + 0.01))
    return [thrower, doll], labels


def fall_plan(name: str, size: str, seed: int) -> list[ClipPlan]:
    """The clips of a twin in order (``event`` is 'jump', 'doll' or 'normal'), named clip_001 ..."""
    spec, sizes = TWIN_SPECS[name], TWIN_SPECS[name].sizes[size]
    kinds = [spec.event] * sizes.event_clips + ["normal"] * sizes.walk_clips
    order = np.random.default_rng([seed, spec.stream, 0]).permutation(len(kinds))
    plans = []
    for number, kind in enumerate(kinds[i] for i in order):
        rng = np.random.default_rng([seed, spec.stream, 1, number])
        when = dt.datetime.combine(spec.first_day, dt.time()) + dt.timedelta(
            days=int(rng.integers(0, spec.days)), minutes=int(rng.integers(8 * 60, 20 * 60)))
        conditions = _conditions(when, rng)
        actors = _walkers(sizes.frames, conditions, rng)
        labels = np.zeros(sizes.frames, np.uint8)
        if kind == "jump":
            actor, labels = _event("jump", sizes.frames, rng)
            actors.append(actor)
        elif kind == "doll":
            extra, labels = doll_event(sizes.frames, rng)
            actors.extend(extra)
        plans.append(ClipPlan("test", f"clip_{number + 1:03d}", sizes.frames, conditions, actors,
                              labels, kind, seed=(seed, spec.stream, 1, number)))
    return plans


def _candidates(plans: list[ClipPlan]) -> pd.DataFrame:
    """Every window (stride 1) that may become a sample, with its 'any' label; windows of an
    event clip after the event are left out."""
    rows = []
    for plan in plans:
        event_frames = np.flatnonzero(plan.labels)
        for start in range(plan.n_frames - TRIPLET + 1):
            frame_labels = tuple(int(x) for x in plan.labels[start:start + TRIPLET])
            if len(event_frames) and start > event_frames[-1]:
                continue
            rows.append({"clip": plan.name, "start": start, "label": max(frame_labels),
                         "frame_labels": frame_labels, "event": plan.event})
    return pd.DataFrame(rows)


def truth(name: str, size: str, seed: int) -> pd.DataFrame:
    """One row per sample, as samples.csv lists them: ``clip``, ``start``, ``label`` and the
    renderer's ``frame_labels`` of frames start .. start+2 and the clip's ``event``."""
    sizes = TWIN_SPECS[name].sizes[size]
    candidates = _candidates(fall_plan(name, size, seed))
    rng = np.random.default_rng([seed, TWIN_SPECS[name].stream, 2])
    chosen = []
    for label, wanted in ((1, sizes.fall), (0, sizes.no_fall)):
        pool = np.flatnonzero(candidates["label"].to_numpy() == label)
        if len(pool) < wanted:  # the clip counts of TWIN_SPECS guarantee enough windows
            raise RuntimeError(f"{name} {size}: {len(pool)} candidate windows of label {label}, "
                               f"{wanted} wanted")
        chosen.extend(rng.choice(pool, wanted, replace=False))
    return candidates.iloc[sorted(chosen)].reset_index(drop=True)


# ------------------------------------------------------------------------------ generators

def _generator(name: str):
    def generate(out: Path, *, size: str, seed: int) -> None:
        out = Path(out)
        sizes = TWIN_SPECS[name].sizes[size]
        for plan in fall_plan(name, size, seed):
            folder = out / "frames" / plan.name
            folder.mkdir(parents=True, exist_ok=True)
            for number, frame in enumerate(render_clip(plan, sizes.width, sizes.height)):
                _save_jpeg(folder / f"{number:04d}.jpg", frame)
        truth(name, size, seed).loc[:, list(SAMPLE_COLUMNS)].to_csv(out / "samples.csv", index=False)
        corners = HARBOUR_VIEW.roi_corners((sizes.height, sizes.width))
        (out / ROI_FILE).write_text(json.dumps({"corners": corners.astype(float).tolist()}) + "\n")
    generate.__name__ = f"generate_{name}"
    generate.__doc__ = f"Write the synthetic twin of {name} (see the module docstring)."
    return generate


TWINS = {name: _generator(name) for name in TWIN_SPECS}
