"""Synthetic twins of the frame-level video anomaly datasets: Avenue, ShanghaiTech, UCSD Ped2, and
the region/track annotations (``vad_tracks``) used by RBDC/TBDC.

Content. A static surveillance scene -- a wall with bricks and windows above a ground plane with
two walkways -- where rendered people (head, torso, swinging legs, clothes colours drawn per
person) walk along the walkways at walking speed: on the far walkway to the right, on the near one
to the left, with the perspective making near people larger. Training videos hold only such normal
walkers. Each test video also holds one (tiny) or two (smoke, large) anomalous events, drawn from

* ``running``: a person on a walkway at 3.5 × walking speed;
* ``wrong_direction``: a person walking against the walkway's direction;
* ``loitering``: a person who stops mid-walkway and wanders on the spot, then walks on (only the
  loitering part is abnormal);
* ``throwing``: a normal walker throws a small bright object (the flying object is abnormal);
* ``bike``: a larger, fast object (wheels, frame and rider) at 4.5 × walking speed.

Anomalous objects are drawn after the normal ones, so their pixel masks are exactly the pixels they
cover. Truth is derived from the rendering itself: a frame is abnormal iff some anomalous pixel is
visible in it (the Avenue convention), and each anomalous object is one track whose region in a
frame is the tight box of its visible pixels (inclusive corners, as :mod:`vadlib.metrics.rbdc_tbdc`
uses). :func:`scene_truth` and :func:`render_video` return it, computed without any loader.

Files written, in the layouts the loaders read (see each loader's docstring for the citations):

* ``avenue``: both Avenue layouts in one directory -- the official release
  (``training_videos/01.avi``, ``testing_videos/01.avi``, MJPEG AVI;
  ``ground_truth_demo/testing_label_mask/1_label.mat`` with ``volLabel``) and the frames layout of
  FFP/MNAD (``training/frames/01/0000.jpg``, ``testing/frames/01/0000.jpg``, ``avenue.mat`` with
  ``gt``); the same rendered frames go into both.
* ``shanghaitech``: ``training/videos/01_001.avi`` and the same frames extracted to
  ``training/frames/01_001/000.jpg``, ``testing/frames/01_0001/000.jpg``,
  ``testing/test_frame_mask/01_0001.npy``, ``testing/test_pixel_mask/01_0001.npy``; two camera
  scenes (``01_``, ``02_``) with different backgrounds.
* ``ucsd_ped2`` (directory ``UCSD_Anomaly_Dataset.v1p2``): grayscale 8-bit TIFF frames
  ``UCSDped2/{Train,Test}/<video>/001.tif``, masks ``UCSDped2/Test/Test001_gt/001.bmp``, frame GT
  ``UCSDped2/Test/UCSDped2.m``.
* ``vad_tracks``: ``annotations/Avenue/<video>.txt`` and ``annotations/ShanghaiTech/<video>.txt``
  (the folders of a lilygeorgescu/AED checkout) for the test videos of the avenue and
  shanghaitech twins of the same (size, seed), lines ``track_id,frame,x_min,y_min,x_max,y_max``.

Sizes: ``tiny`` 2 train + 2 test videos of ~24 frames at 64×96; ``smoke`` 4 + 4 videos of ~80
frames at 120×160; ``large`` (benchmarks) Avenue at its real 360×640 with 4 + 6 videos of ~240
frames (ShanghaiTech 240×428 and Ped2 240×360, fewer frames).

Every random choice comes from a NumPy generator seeded by (seed, dataset, split, video), files are
written with fixed encoder settings and the ``.mat`` headers carry a fixed text instead of scipy's
timestamp, so the same (size, seed) gives byte-identical files.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

EVENT_KINDS = ("running", "wrong_direction", "loitering", "throwing", "bike")
DATASETS = ("avenue", "shanghaitech", "ucsd_ped2")
_DATASET_CODE = {"avenue": 1, "shanghaitech": 2, "ucsd_ped2": 3}
_SPLIT_CODE = {"train": 1, "test": 2}
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by vadlib synthetic twin"
JPEG_QUALITY = 92
FPS = 25


@dataclass(frozen=True)
class Plan:
    train: int
    test: int
    frames: int
    height: int
    width: int
    events_per_video: int


_PLANS = {
    "tiny": {name: Plan(2, 2, 24, 64, 96, 1) for name in DATASETS},
    "smoke": {name: Plan(4, 4, 80, 120, 160, 2) for name in DATASETS},
    "large": {"avenue": Plan(4, 6, 240, 360, 640, 2),
              "shanghaitech": Plan(3, 3, 120, 240, 428, 2),
              "ucsd_ped2": Plan(3, 3, 120, 240, 360, 2)},
}


def plan(dataset: str, size: str) -> Plan:
    """The sizes of the twin of ``dataset`` at ``size``."""
    return _PLANS[size][dataset]


def video_names(dataset: str, size: str, split: str) -> list[str]:
    """Video ids of a twin split, in the dataset's naming (``01``; ``01_001``/``01_0001``;
    ``Train001``/``Test001``)."""
    p = plan(dataset, size)
    count = p.train if split == "train" else p.test
    if dataset == "avenue":
        return [f"{i + 1:02d}" for i in range(count)]
    if dataset == "shanghaitech":
        digits = 3 if split == "train" else 4
        return [f"{i % 2 + 1:02d}_{i // 2 + 1:0{digits}d}" for i in range(count)]
    prefix = "Train" if split == "train" else "Test"
    return [f"{prefix}{i + 1:03d}" for i in range(count)]


def video_length(dataset: str, size: str, index: int) -> int:
    """Frames of the ``index``-th video of a split (lengths differ a little between videos)."""
    return plan(dataset, size).frames + 2 * (index % 3)


# --------------------------------------------------------------------------------------------------
# Scene description
# --------------------------------------------------------------------------------------------------


@dataclass
class Actor:
    """One moving thing. Arrays are per frame ``t0 .. t0 + len(x) - 1``."""

    shape: str                      # "person", "bike" or "blob"
    t0: int
    x: np.ndarray                   # centre x (px)
    y: np.ndarray                   # feet y for person/bike, centre y for blob
    height: float                   # figure height (px); blob radius = 0.06 height
    colors: tuple                   # RGB tuples: (shirt, trousers) / (frame, rider) / (blob,)
    abnormal: np.ndarray            # bool per frame: is it anomalous then
    event: int = -1                 # event number in the video (-1 = normal)
    kind: str = "normal"

    def frames(self) -> range:
        return range(self.t0, self.t0 + len(self.x))


@dataclass
class VideoTruth:
    """What was rendered into one video, computed from the rendering.

    ``labels``: int8 per frame, 1 iff an anomalous pixel is visible. ``tracks``: one row per
    (anomalous object, frame where it is visible) with ``track_id, frame, x1, y1, x2, y2``
    (0-based frames, inclusive pixel corners). ``events``: ``track_id, kind, first_frame,
    last_frame`` per track.
    """

    video: str
    num_frames: int
    height: int
    width: int
    labels: np.ndarray
    tracks: pd.DataFrame
    events: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class RenderedVideo:
    frames: np.ndarray              # uint8 T×H×W×3 RGB
    masks: np.ndarray               # bool T×H×W, anomalous pixels
    truth: VideoTruth


class _Layout:
    """Scene geometry for a frame size: walkways (feet y), directions and figure heights."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.horizon = int(round(0.38 * height))
        self.path_y = (0.62 * height, 0.88 * height)
        self.direction = (1, -1)
        self.figure = (0.26 * height, 0.34 * height)
        self.walk_speed = width / 110.0


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(key)))


def _colour(rng: np.random.Generator, low=30, high=230) -> tuple:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def _background(layout: _Layout, rng: np.random.Generator) -> np.ndarray:
    import cv2
    H, W, horizon = layout.height, layout.width, layout.horizon
    img = np.zeros((H, W, 3), np.float32)
    wall = np.array(_colour(rng, 90, 170), np.float32)
    img[:horizon] = wall
    brick_h = max(3, H // 20)
    brick_w = max(6, W // 12)
    rows = np.arange(horizon)
    img[:horizon][rows % brick_h == 0] *= 0.75
    for r0 in range(0, horizon, brick_h):
        offset = (r0 // brick_h % 2) * brick_w // 2
        img[r0:r0 + brick_h, offset::brick_w] *= 0.8
    for _ in range(2):  # windows
        wx, ww = int(rng.uniform(0.05, 0.75) * W), int(0.12 * W)
        img[int(0.08 * H):int(0.26 * H), wx:wx + ww] = np.array(_colour(rng, 20, 80))
    ground = np.array(_colour(rng, 70, 130), np.float32)
    texture = cv2.resize(rng.normal(0, 10, (max(2, H // 8), max(2, W // 8))).astype(np.float32),
                         (W, H - horizon), interpolation=cv2.INTER_LINEAR)
    img[horizon:] = ground + texture[:, :, None]
    path_colour = np.array(_colour(rng, 150, 210), np.float32)
    for feet, figure in zip(layout.path_y, layout.figure):
        top, bottom = int(feet - 0.14 * figure), int(min(H, feet + 0.10 * figure))
        img[top:bottom] = 0.3 * img[top:bottom] + 0.7 * path_colour
    pole = int(rng.uniform(0.1, 0.9) * W)  # a lamp post
    img[int(0.15 * H):int(layout.path_y[0] - 0.1 * layout.figure[0]),
        pole:pole + max(1, W // 80)] = 40
    return np.clip(img, 0, 255)


def _walker(layout, rng, path, t0, T, x_start=None, direction=None, speed_factor=1.0):
    direction = layout.direction[path] if direction is None else direction
    height = layout.figure[path] * rng.uniform(0.92, 1.08)
    speed = layout.walk_speed * rng.uniform(0.85, 1.15) * speed_factor * height / layout.figure[path]
    half = 0.3 * height
    if x_start is None:
        x_start = -half + 1.0 if direction > 0 else layout.width - 1.0 + half
    n = T - t0
    x = x_start + direction * speed * np.arange(n)
    inside = (x + half >= 0) & (x - half <= layout.width - 1)
    last = int(np.flatnonzero(inside)[-1]) + 1 if inside.any() else 1
    x = x[:last]
    y = np.full(len(x), layout.path_y[path] + rng.uniform(-0.02, 0.02) * layout.height)
    return Actor("person", t0, x, y, height, (_colour(rng), _colour(rng, 10, 90)),
                 np.zeros(len(x), bool))


def _normal_walkers(layout, rng, T) -> list[Actor]:
    actors = []
    crossing = layout.width / layout.walk_speed
    rate = 1.3 / crossing  # new walkers per frame per walkway: ~1.3 people on each walkway
    for path in (0, 1):
        for _ in range(int(rng.integers(0, 2)) + 1):  # people already in view at frame 0
            actors.append(_walker(layout, rng, path, 0, T,
                                  x_start=rng.uniform(0.05, 0.95) * layout.width))
        for t in range(1, T):
            if rng.random() < rate:
                actors.append(_walker(layout, rng, path, t, T))
    return actors


def _event(kind: str, number: int, layout: _Layout, rng, start: int, T: int) -> list[Actor]:
    """Actors of one anomalous event starting at frame ``start`` (the first abnormal frame)."""
    path = int(rng.integers(0, 2))
    if kind in ("running", "wrong_direction", "bike"):
        direction = layout.direction[path] * (-1 if kind == "wrong_direction" else 1)
        factor = {"running": 3.5, "wrong_direction": 1.0, "bike": 4.5}[kind]
        actor = _walker(layout, rng, path, start, T, direction=direction, speed_factor=factor)
        if kind == "bike":
            actor.shape, actor.height = "bike", actor.height * 1.1
            actor.colors = (_colour(rng, 0, 255), _colour(rng))
        actor.abnormal[:] = True
        actor.event, actor.kind = number, kind
        return [actor]
    direction = layout.direction[path]
    height = layout.figure[path]
    speed = layout.walk_speed
    spot = rng.uniform(0.35, 0.65) * layout.width  # where the loiterer stops / the throw happens
    lead = int(np.ceil(rng.uniform(0.25, 0.6) * layout.width / speed))  # frames walked before
    t0 = max(0, start - lead)
    x_before = spot - direction * speed * (start - np.arange(t0, start))
    if kind == "loitering":
        duration = max(4, int(rng.uniform(0.3, 0.45) * T))
        k = np.arange(duration)
        wander = 0.05 * layout.width * np.sin(2 * np.pi * k / max(8, duration / 1.5))
        x_loiter = spot + wander
        after = spot + wander[-1] + direction * speed * np.arange(1, T - start - duration + 1)
        x = np.concatenate([x_before, x_loiter, after])[: T - t0]
        abnormal = np.zeros(len(x), bool)
        abnormal[start - t0: start - t0 + duration] = True
        y = np.full(len(x), layout.path_y[path])
        actor = Actor("person", t0, x, y, height, (_colour(rng), _colour(rng, 10, 90)), abnormal,
                      number, kind)
        half = 0.3 * height
        inside = (x + half >= 0) & (x - half <= layout.width - 1)
        keep = int(np.flatnonzero(inside)[-1]) + 1
        actor.x, actor.y, actor.abnormal = x[:keep], y[:keep], abnormal[:keep]
        return [actor]
    # throwing: a normal walker reaches `spot` at `start` and throws a small object
    walker = _walker(layout, rng, path, t0, T, x_start=float(x_before[0]) if len(x_before) else spot)
    walker.event = -1
    flight = max(5, int(rng.uniform(0.3, 0.45) * T))
    k = np.arange(flight, dtype=float)
    hand_y = layout.path_y[path] - 0.6 * height
    vx = direction * rng.uniform(1.5, 2.5) * speed
    vy = rng.uniform(0.9, 1.3) * height / (flight / 2)
    gravity = 2 * vy / flight
    bx = spot + vx * k
    by = hand_y - vy * k + 0.5 * gravity * k ** 2
    blob = Actor("blob", start, bx, by, height, ((235, 235, 90),), np.ones(flight, bool), number,
                 kind)
    return [walker, blob]


def _scene(dataset: str, size: str, seed: int, split: str, index: int):
    p = plan(dataset, size)
    layout = _Layout(p.height, p.width)
    T = video_length(dataset, size, index)
    rng = _rng(seed, _DATASET_CODE[dataset], _SPLIT_CODE[split], index)
    name = video_names(dataset, size, split)[index]
    scene_number = int(name[:2]) if dataset == "shanghaitech" else 1
    background = _background(layout, _rng(seed, _DATASET_CODE[dataset], 99, scene_number))
    actors = _normal_walkers(layout, rng, T)
    events = []
    if split == "test":
        for number in range(p.events_per_video):
            kind = EVENT_KINDS[(index + 2 * number) % len(EVENT_KINDS)]
            low, high = (0.25, 0.4) if number == 0 else (0.55, 0.7)
            start = int(rng.uniform(low, high) * T)
            events += _event(kind, number, layout, rng, start, T)
    return name, layout, T, background, actors, events, rng


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------


def _window(cx, cy_top, cy_bottom, half_w, H, W):
    x0, x1 = max(0, int(np.floor(cx - half_w)) - 1), min(W, int(np.ceil(cx + half_w)) + 2)
    y0, y1 = max(0, int(np.floor(cy_top)) - 1), min(H, int(np.ceil(cy_bottom)) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    return (slice(y0, y1), slice(x0, x1)), yy, xx


def _person_parts(cx, feet, h, phase, yy, xx):
    r = max(1.0, 0.11 * h)
    head = (xx - cx) ** 2 + (yy - (feet - h + r)) ** 2 <= r * r
    torso = (np.abs(xx - cx) <= 0.15 * h) & (yy >= feet - h + 1.8 * r) & (yy <= feet - 0.45 * h)
    swing = 0.08 * h * np.sin(phase)
    leg_w = max(0.6, 0.05 * h)
    legs_y = (yy > feet - 0.45 * h) & (yy <= feet)
    leg1 = legs_y & (np.abs(xx - (cx - 0.06 * h + swing)) <= leg_w)
    leg2 = legs_y & (np.abs(xx - (cx + 0.06 * h - swing)) <= leg_w)
    return head, torso, leg1 | leg2


def _draw(actor: Actor, i: int, canvas: np.ndarray):
    """Paint frame ``i`` of ``actor`` on ``canvas``; returns (slices, bool mask) or None."""
    H, W = canvas.shape[:2]
    cx, cy, h = float(actor.x[i]), float(actor.y[i]), actor.height
    if actor.shape == "blob":
        r = max(1.3, 0.06 * h)
        win = _window(cx, cy - r, cy + r, r, H, W)
        if win is None:
            return None
        sl, yy, xx = win
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        canvas[sl][mask] = actor.colors[0]
        return sl, mask
    phase = cx / max(1.0, 0.25 * h)
    if actor.shape == "person":
        win = _window(cx, cy - h, cy, 0.3 * h, H, W)
        if win is None:
            return None
        sl, yy, xx = win
        head, torso, legs = _person_parts(cx, cy, h, phase, yy, xx)
        patch = canvas[sl]
        patch[legs] = actor.colors[1]
        patch[torso] = actor.colors[0]
        patch[head] = (224, 172, 140)
        return sl, head | torso | legs
    # bike: two wheels, a frame bar and a rider without legs
    win = _window(cx, cy - 1.05 * h, cy, 0.5 * h, H, W)
    if win is None:
        return None
    sl, yy, xx = win
    rw = 0.14 * h
    wheels = np.zeros(yy.shape, bool)
    for wx in (cx - 0.3 * h, cx + 0.3 * h):
        d = np.sqrt((xx - wx) ** 2 + (yy - (cy - rw)) ** 2)
        wheels |= np.abs(d - rw) <= max(0.6, 0.04 * h)
    bar = (np.abs(yy - (cy - 1.6 * rw)) <= max(0.6, 0.03 * h)) & (np.abs(xx - cx) <= 0.3 * h)
    head, torso, _ = _person_parts(cx, cy - 0.3 * h, 0.75 * h, 0.0, yy, xx)
    patch = canvas[sl]
    patch[wheels | bar] = actor.colors[0]
    patch[torso] = actor.colors[1]
    patch[head] = (224, 172, 140)
    return sl, wheels | bar | torso | head


def _render(dataset: str, size: str, seed: int, split: str, index: int) -> RenderedVideo:
    name, layout, T, background, actors, events, rng = _scene(dataset, size, seed, split, index)
    H, W = layout.height, layout.width
    frames = np.empty((T, H, W, 3), np.uint8)
    masks = np.zeros((T, H, W), bool)
    owner = np.empty((H, W), np.int16)
    track_rows = []
    ordered = actors + events  # anomalous objects last: nothing normal covers them
    noise_rng = _rng(seed, _DATASET_CODE[dataset], _SPLIT_CODE[split], index, 7)
    for t in range(T):
        canvas = background.copy()
        owner.fill(-1)
        for actor in ordered:
            i = t - actor.t0
            if i < 0 or i >= len(actor.x):
                continue
            drawn = _draw(actor, i, canvas)
            if drawn is None:
                continue
            sl, mask = drawn
            region = owner[sl]
            region[mask] = actor.event if actor.abnormal[i] else -1
        canvas += noise_rng.integers(-3, 4, (H, W, 1)).astype(np.float32)
        frames[t] = np.clip(canvas, 0, 255).astype(np.uint8)
        masks[t] = owner >= 0
        for event in np.unique(owner[owner >= 0]):
            ys, xs = np.nonzero(owner == event)
            track_rows.append((int(event), t, int(xs.min()), int(ys.min()), int(xs.max()),
                               int(ys.max())))
    columns = ["track_id", "frame", "x1", "y1", "x2", "y2"]
    tracks = pd.DataFrame(track_rows, columns=columns).sort_values(["track_id", "frame"])
    # renumber tracks 0..n-1 in order of event number (AED's reader needs contiguous ids)
    kinds = {a.event: a.kind for a in events if a.event >= 0}
    renumber = {old: new for new, old in enumerate(sorted(tracks["track_id"].unique()))}
    event_rows = [(renumber[old], kinds[old], int(g["frame"].min()), int(g["frame"].max()))
                  for old, g in tracks.groupby("track_id")]
    tracks["track_id"] = tracks["track_id"].map(renumber)
    tracks = tracks.reset_index(drop=True).astype(np.int64)
    labels = masks.any(axis=(1, 2)).astype(np.int8)
    truth = VideoTruth(name, T, H, W, labels, tracks,
                       pd.DataFrame(event_rows, columns=["track_id", "kind", "first_frame",
                                                         "last_frame"]))
    return RenderedVideo(frames, masks, truth)


@functools.lru_cache(maxsize=64)
def render_cached(dataset, size, seed, split, index) -> RenderedVideo:
    return _render(dataset, size, seed, split, index)


def render_video(dataset: str, size: str, seed: int, split: str, video: str) -> RenderedVideo:
    """Frames (uint8 T×H×W×3 RGB), anomaly masks (bool T×H×W) and truth of one twin video."""
    names = video_names(dataset, size, split)
    if video not in names:
        raise KeyError(f"{dataset} {size} {split} twin has videos {names}, not {video!r}")
    rendered = render_cached(dataset, size, int(seed), split, names.index(video))
    return rendered


def scene_truth(dataset: str, size: str = "tiny", seed: int = 0,
                split: str = "test") -> dict[str, VideoTruth]:
    """The rendered truth (frame labels, tracks, events) of every video of a twin split."""
    return {video: render_video(dataset, size, seed, split, video).truth
            for video in video_names(dataset, size, split)}


def people(dataset: str, size: str = "smoke", seed: int = 0, split: str = "test", video: str | None = None
           ) -> pd.DataFrame:
    """Where every person (and cyclist) of a twin video is, frame by frame: the oracle detector of
    Paper E's smoke runs, which real data do not have.

    Columns ``frame`` (0-based), ``person`` (actor number in the video), ``bb_left, bb_top,
    bb_width, bb_height`` (pixels: the figure's extent, feet to head, clipped to the frame; rows
    where the figure is off the frame are dropped), ``kind`` (``normal`` or the event kind) and
    ``abnormal`` (whether the person is anomalous in that frame). Thrown objects are not people.
    Computed from the scene, without rendering.
    """
    names = video_names(dataset, size, split)
    if video not in names:
        raise KeyError(f"{dataset} {size} {split} twin has videos {names}, not {video!r}")
    _, layout, _, _, actors, events, _ = _scene(dataset, size, int(seed), split, names.index(video))
    rows = []
    for number, actor in enumerate(actors + events):
        if actor.shape == "blob":
            continue
        half, top = (0.2, 1.0) if actor.shape == "person" else (0.45, 1.05)
        for i, t in enumerate(actor.frames()):
            x0, x1 = actor.x[i] - half * actor.height, actor.x[i] + half * actor.height
            y0, y1 = actor.y[i] - top * actor.height, actor.y[i]
            x0, x1 = max(0.0, x0), min(float(layout.width), x1)
            y0, y1 = max(0.0, y0), min(float(layout.height), y1)
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            rows.append((t, number, x0, y0, x1 - x0, y1 - y0, actor.kind, bool(actor.abnormal[i])))
    columns = ["frame", "person", "bb_left", "bb_top", "bb_width", "bb_height", "kind", "abnormal"]
    return pd.DataFrame(rows, columns=columns).sort_values(["frame", "person"], ignore_index=True)


OBJECT_COLUMNS = ["frame", "object", "x1", "y1", "x2", "y2", "shape", "kind", "abnormal"]


def objects(dataset: str, size: str = "smoke", seed: int = 0, split: str = "test", video: str | None = None
            ) -> pd.DataFrame:
    """Every rendered object of a twin video, frame by frame: people, cyclists and thrown objects
    (the oracle detector of the object-centric hosts' smoke runs, :mod:`vadlib.models.object_pipeline`).

    Each actor is drawn alone on a blank canvas of the frame's size with the renderer's own
    drawing code, so a box is the tight box of the pixels the actor paints in that frame (clipped
    to the frame, before any other actor covers it): columns ``frame`` (0-based), ``object``
    (actor number in the video, the numbering of :func:`people`), ``x1, y1, x2, y2`` (inclusive
    integer pixel corners, the convention of the ``vad_tracks`` regions), ``shape`` (``person``,
    ``bike`` or ``blob``), ``kind`` (``normal`` or the event kind) and ``abnormal`` (whether the
    object is anomalous in that frame). Frames where the actor paints no pixel have no row. An
    anomalous object that nothing anomalous covers has the box of its ``vad_tracks`` region.
    """
    names = video_names(dataset, size, split)
    if video not in names:
        raise KeyError(f"{dataset} {size} {split} twin has videos {names}, not {video!r}")
    _, layout, _, _, actors, events, _ = _scene(dataset, size, int(seed), split, names.index(video))
    canvas = np.zeros((layout.height, layout.width, 3), np.float32)
    rows = []
    for number, actor in enumerate(actors + events):
        for i, t in enumerate(actor.frames()):
            drawn = _draw(actor, i, canvas)
            if drawn is None:
                continue
            (rows_slice, cols_slice), mask = drawn
            ys, xs = np.nonzero(mask)
            if len(ys) == 0:
                continue
            rows.append((t, number, cols_slice.start + int(xs.min()), rows_slice.start + int(ys.min()),
                         cols_slice.start + int(xs.max()), rows_slice.start + int(ys.max()), actor.shape,
                         actor.kind, bool(actor.abnormal[i])))
    return pd.DataFrame(rows, columns=OBJECT_COLUMNS).sort_values(["frame", "object"], ignore_index=True)


# --------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------


def _write_jpeg(path: Path, rgb: np.ndarray):
    import cv2
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    path.write_bytes(data.tobytes())


def _write_avi(path: Path, frames: np.ndarray):
    """MJPEG AVI at 25 fps (intra-only: exact seeking, deterministic bytes)."""
    import cv2
    path.parent.mkdir(parents=True, exist_ok=True)
    T, H, W = frames.shape[:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPEG AVI {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def write_mat(path: Path, variables: dict):
    """``scipy.io.savemat`` (v5, compressed) with a fixed header text instead of a timestamp."""
    from scipy.io import savemat
    buffer = io.BytesIO()
    savemat(buffer, variables, do_compression=True)
    data = bytearray(buffer.getvalue())
    data[:116] = MAT_HEADER.ljust(116, b" ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def cell_row(items) -> np.ndarray:
    """A MATLAB 1×N cell array for ``savemat``: an object array of shape (1, N)."""
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _gray(frames: np.ndarray) -> np.ndarray:
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.rint(frames.astype(np.float32) @ weights), 0, 255).astype(np.uint8)


def _videos(dataset, size, seed, split):
    for video in video_names(dataset, size, split):
        yield video, render_video(dataset, size, seed, split, video)


def _uncached(fn):
    """Rendering is cached for tests; a twin written for a benchmark should not stay in memory."""
    def wrapped(out: Path, *, size: str, seed: int) -> None:
        try:
            fn(Path(out), size=size, seed=seed)
        finally:
            if size == "large":
                render_cached.cache_clear()
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


@_uncached
def generate_avenue(out: Path, *, size: str, seed: int) -> None:
    """Avenue twin: official videos layout and FFP/MNAD frames layout, same frames in both."""
    gt = []
    for split, video_dir, frame_dir in (("train", "training_videos", "training/frames"),
                                        ("test", "testing_videos", "testing/frames")):
        for video, rendered in _videos("avenue", size, seed, split):
            _write_avi(out / video_dir / f"{video}.avi", rendered.frames)
            for t, frame in enumerate(rendered.frames):
                _write_jpeg(out / frame_dir / video / f"{t:04d}.jpg", frame)
            if split == "test":
                masks = [m.astype(np.uint8) for m in rendered.masks]
                write_mat(out / "ground_truth_demo" / "testing_label_mask" / f"{int(video)}_label.mat",
                          {"volLabel": cell_row(masks)})
                from vadlib.data.video import intervals_from_labels
                runs = intervals_from_labels(rendered.truth.labels, one_based=True)
                gt.append(np.array(runs, dtype=np.float64).reshape(-1, 2).T)  # 2×K, 1-based
    write_mat(out / "avenue.mat", {"gt": cell_row(gt)})


@_uncached
def generate_shanghaitech(out: Path, *, size: str, seed: int) -> None:
    """ShanghaiTech Campus twin: training videos, test frames, frame and pixel masks (.npy)."""
    for video, rendered in _videos("shanghaitech", size, seed, "train"):
        _write_avi(out / "training" / "videos" / f"{video}.avi", rendered.frames)
        for t, frame in enumerate(rendered.frames):  # the frames most hosts extract from them
            _write_jpeg(out / "training" / "frames" / video / f"{t:03d}.jpg", frame)
    for video, rendered in _videos("shanghaitech", size, seed, "test"):
        for t, frame in enumerate(rendered.frames):
            _write_jpeg(out / "testing" / "frames" / video / f"{t:03d}.jpg", frame)
        for folder, array in (("test_frame_mask", rendered.truth.labels.astype(np.int64)),
                              ("test_pixel_mask", rendered.masks.astype(np.uint8))):
            path = out / "testing" / folder / f"{video}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, array)


def _ucsd_ranges(labels: np.ndarray) -> str:
    from vadlib.data.video import intervals_from_labels
    return ", ".join(f"{a}:{b}" for a, b in intervals_from_labels(labels, one_based=True))


@_uncached
def generate_ucsd_ped2(out: Path, *, size: str, seed: int) -> None:
    """UCSD Ped2 twin in the official tarball's folder: grayscale TIFF frames, BMP masks, .m GT."""
    from PIL import Image
    base = out / "UCSDped2"
    lines = ["% UCSD Ped2 frame-level ground truth (synthetic twin)", "TestVideoFile = {};", ""]
    for split, folder in (("train", "Train"), ("test", "Test")):
        for video, rendered in _videos("ucsd_ped2", size, seed, split):
            gray = _gray(rendered.frames)
            (base / folder / video).mkdir(parents=True, exist_ok=True)
            for t, frame in enumerate(gray):
                Image.fromarray(frame, mode="L").save(base / folder / video / f"{t + 1:03d}.tif")
            if split == "test":
                (base / folder / f"{video}_gt").mkdir(parents=True, exist_ok=True)
                for t, mask in enumerate(rendered.masks):
                    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(
                        base / folder / f"{video}_gt" / f"{t + 1:03d}.bmp")
                lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{_ucsd_ranges(rendered.truth.labels)}];")
    (base / "Test" / "UCSDped2.m").write_text("\n".join(lines) + "\n")


@_uncached
def generate_vad_tracks(out: Path, *, size: str, seed: int) -> None:
    """Track annotations of the avenue and shanghaitech twins' test videos (same size and seed)."""
    from vadlib.data.vad_tracks import write_track_file
    for dataset, folder in (("avenue", "Avenue"), ("shanghaitech", "ShanghaiTech")):
        for video, truth in scene_truth(dataset, size, seed, "test").items():
            write_track_file(out / "annotations" / folder / f"{video}.txt", truth.tracks)


TWINS = {
    "avenue": generate_avenue,
    "shanghaitech": generate_shanghaitech,
    "ucsd_ped2": generate_ucsd_ped2,
    "vad_tracks": generate_vad_tracks,
}
