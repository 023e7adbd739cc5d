"""Synthetic twins of the two thermal harbour sets: Seasons in Drift (LTD) and Thermal Rare Event.

Both show one procedurally rendered scene seen by a fixed thermal camera, like the Aalborg
harbour front of the real footage: sky and a far shore with buildings at the top, a water basin
on the left with slowly moving ripples and the pier's reflection, a pier reaching into the water,
the quay edge, and the quay (walkway) on the right. Warm bodies are brighter than the background,
as a thermal camera in white-hot mode shows them. Each clip has its own conditions (date, hour,
air temperature, sun): the whole scene drifts with them (cold dark nights, sun-warmed stone by
day, warmer everything in summer; lit windows at night), which is the concept drift of the real
set. Frames are 8-bit grayscale JPEGs.

* ``seasons_in_drift`` — the LTD release after its own frame extraction
  (``extract_images.py`` of IvanNik17/Seasonal-Changes-in-Thermal-Surveillance-Imaging)::

      LTD Dataset/LTD Dataset/metadata.csv            one row per clip (the release's columns)
      LTD Dataset/LTD Dataset/harbour_view.json       the twin's geometry (HARBOUR_VIEW), in the
                                                      file a real root must provide (sid_view)
      LTD Dataset/LTD Dataset/Image Dataset/<YYYYMMDD>/clip_<n>_<HHMM>/image_0000.jpg ...

  clips spread over January-August with people walking on the quay (fewer at night).
  tiny: 3 clips × 10 frames of 96×72 px (smaller than the real 384×288, for speed);
  smoke: 8 clips × 30 frames of 384×288; large: 48 clips × 120 frames of 384×288.

* ``thermal_rare_event`` — the layout of :mod:`vadlib.data.thermal` (unconfirmed against the
  Kaggle archive; see there)::

      training/frames/<clip>/0000.jpg ...             normal clips: people walking on the quay
      testing/frames/<clip>/0000.jpg ...              normal clips and clips with a rare event
      testing/test_frame_mask/<clip>.npy              uint8, one 0/1 label per frame

  rare events (frame-level labels mark the frames in which the event is visible): ``jump`` (a
  person walks to the quay edge and jumps into the water: edge, mid-air, entry, splash),
  ``pier_run`` (a person running on the pier close to the water), ``vehicle`` (a large warm
  vehicle with a hot engine driving on the quay). Clips come from one week, at varied hours.
  tiny: 2 train + 4 test clips × 12 frames of 96×72; smoke: 6 train + 8 test × 30 frames of
  384×288; large: 29 train + 40 test × 120 frames.

:func:`seasons_truth` and :func:`rare_event_truth` return what was rendered (clip conditions,
frame counts, per-frame labels and event types), computed from the generator's own plan.

The renderer also draws a ``doll`` actor (a human-like doll thrown into the water, tilting as it
falls and lying on the surface afterwards) for the Dummy twin of :mod:`.fall_tests`.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from vadlib.data.harbour import HARBOUR_VIEW, VIEW_FILE

METADATA_COLUMNS = ("Folder name", "Clip Name", "DateTime", "Temperature", "Humidity",
                    "Precipitation", "Dew Point", "Wind Direction", "Wind Speed",
                    "Sun Radiation Intensity", "Min of sunshine latest 10 min")
EVENTS = ("jump", "pier_run", "vehicle")
JPEG_QUALITY = 92
HORIZON, SHORE = 0.30, 0.34  # normalised rows: top of the far shore, start of the water / quay
PIER = (0.58, 0.64, 0.25)  # pier rows (top, bottom) and the column of its far end


@dataclass(frozen=True)
class Conditions:
    when: dt.datetime
    temperature: float  # °C
    sun: float  # 0 (night) .. 1 (clear midday in summer)


@dataclass
class Actor:
    kind: str  # person | vehicle
    u: np.ndarray  # per frame: column of the feet (normalised), NaN when not visible
    v: np.ndarray  # per frame: row of the feet (normalised)
    lift: np.ndarray = None  # per frame: how far the body is raised (jump), in body heights
    submerged: np.ndarray = None  # per frame: fraction of the body under water
    splash: np.ndarray = None  # per frame: splash ring strength
    splash_at: tuple = None  # (u, v) of the splash
    tilt: np.ndarray = None  # per frame (doll): body angle from upright, degrees towards the water


@dataclass
class ClipPlan:
    split: str
    name: str
    n_frames: int
    conditions: Conditions
    actors: list[Actor] = field(default_factory=list)
    labels: np.ndarray = None  # uint8 per frame
    event: str = "normal"
    seed: tuple = ()
    metadata: dict = None  # the metadata.csv row (Seasons in Drift)


@dataclass(frozen=True)
class Sizes:
    width: int
    height: int
    frames: int
    clips: int = 0
    train: int = 0
    test_events: int = 0  # test clips per event type
    test_normal: int = 0


SEASONS = {"tiny": Sizes(96, 72, 10, clips=3), "smoke": Sizes(384, 288, 30, clips=8),
           "large": Sizes(384, 288, 120, clips=48)}
RARE = {"tiny": Sizes(96, 72, 12, train=2, test_events=1, test_normal=1),
        "smoke": Sizes(384, 288, 30, train=6, test_events=2, test_normal=2),
        "large": Sizes(384, 288, 120, train=29, test_events=10, test_normal=10)}


# -------------------------------------------------------------------------------- planning

def _conditions(when: dt.datetime, rng: np.random.Generator) -> Conditions:
    day = when.timetuple().tm_yday
    hour = when.hour + when.minute / 60
    seasonal = 8.0 - 10.0 * np.cos(2 * np.pi * (day - 15) / 365)
    diurnal = 4.0 * np.sin(2 * np.pi * (hour - 9) / 24)
    temperature = round(float(seasonal + diurnal + rng.normal(0, 1.0)), 1)
    daylight = max(0.0, np.sin(np.pi * (hour - 6) / 12))
    season_sun = 0.55 + 0.45 * np.sin(np.pi * (day - 80) / 365 * 2) if 0 < day < 365 else 0.5
    sun = float(np.clip(daylight * season_sun * rng.uniform(0.6, 1.0), 0, 1))
    return Conditions(when, temperature, sun)


def _metadata_row(conditions: Conditions, rng: np.random.Generator) -> dict:
    when, temperature = conditions.when, conditions.temperature
    humidity = int(np.clip(round(92 - 1.2 * (temperature - 5) + rng.normal(0, 4)), 35, 100))
    dew_point = round(temperature - (100 - humidity) / 5, 1)
    sun_radiation = int(round(850 * conditions.sun))
    return {
        "Folder name": when.strftime("%Y%m%d"),
        "Clip Name": clip_name(when),
        "DateTime": when.strftime("%d/%m/%Y %H:%M"),
        "Temperature": temperature,
        "Humidity": humidity,
        "Precipitation": round(float(rng.choice([0.0, 0.0, 0.0, 0.1, 0.4])), 1),
        "Dew Point": dew_point,
        "Wind Direction": int(rng.integers(0, 360)),
        "Wind Speed": round(float(rng.uniform(0, 8)), 1),
        "Sun Radiation Intensity": sun_radiation,
        "Min of sunshine latest 10 min": round(float(min(10.0, 12 * conditions.sun)), 1),
    }


def clip_name(when: dt.datetime) -> str:
    """``clip_<n>_<HHMM>``: LTD numbers a day's clips in order, one about every 28 minutes."""
    return f"clip_{(when.hour * 60 + when.minute) // 28}_{when:%H%M}"


def _edge(v):
    """Column of the quay edge at row ``v`` (normalised); water is left of it."""
    return 0.60 + 0.28 * (np.asarray(v) - SHORE)


def _person_height(v):
    """Body height in image heights at feet row ``v`` (perspective: larger near the camera)."""
    return 0.05 + 0.20 * (np.asarray(v) - HORIZON) / (1 - HORIZON)


def _walker(n: int, rng: np.random.Generator, speed_scale: float = 1.0) -> Actor:
    margin = rng.uniform(0.05, 0.25)
    speed = rng.uniform(0.012, 0.02) * speed_scale * rng.choice([-1, 1])
    v0 = rng.uniform(0.40, 0.95)
    v = v0 + speed * np.arange(n)
    u = _edge(v) + margin + rng.normal(0, 0.002, n).cumsum()
    u = np.where((v > SHORE + 0.03) & (v < 1.05), u, np.nan)
    return Actor("person", u, v)


def _walkers(n: int, conditions: Conditions, rng: np.random.Generator) -> list[Actor]:
    busy = 0.5 + 2.0 * conditions.sun  # fewer people at night
    return [_walker(n, rng) for _ in range(int(rng.poisson(busy)))]


def _event(kind: str, n: int, rng: np.random.Generator) -> tuple[Actor, np.ndarray]:
    """The actor of a rare event and the frames it is visible in (its labels)."""
    labels = np.zeros(n, np.uint8)
    start = int(rng.integers(max(1, n // 4), max(2, n // 3) + 1))
    frames = np.arange(n)
    if kind == "jump":
        v_feet = rng.uniform(0.70, 0.90)  # nearer the camera than the pier
        v = np.full(n, v_feet)
        margin = np.interp(frames, [0, start], [0.22, 0.0])
        margin[start + 1:] = -0.05
        u = _edge(v) + margin
        lift = np.zeros(n)
        lift[start + 1] = 0.35
        submerged = np.zeros(n)
        submerged[start + 2] = 0.6
        splash = np.zeros(n)
        splash[start + 2:start + 4] = (1.0, 0.6)[:len(splash[start + 2:start + 4])]
        u[start + 3:] = np.nan  # under water: gone, only the splash remains
        last = min(n - 1, start + 3)
        labels[start:last + 1] = 1
        splash_at = (float(_edge(v_feet) - 0.05), float(v_feet))
        return Actor("person", u, v, lift, submerged, splash, splash_at), labels
    if kind == "pier_run":
        v_feet = (PIER[0] + PIER[1]) / 2
        length = max(3, n // 3)
        root, tip = float(_edge(v_feet)) - 0.02, PIER[2] + 0.02
        out_and_back = np.concatenate([np.linspace(root, tip, (length + 1) // 2 + 1)[1:],
                                       np.linspace(tip, root, length // 2 + 1)[1:]])
        u = np.full(n, np.nan)
        stop = min(n, start + length)
        u[start:stop] = out_and_back[:stop - start]
        labels[start:stop] = 1
        return Actor("person", u, np.full(n, v_feet)), labels
    if kind == "vehicle":
        v = 1.08 - 0.035 * (frames - start)
        u = _edge(v) + 0.18
        visible = (frames >= start) & (v > SHORE + 0.06) & (v < 1.08)
        u = np.where(visible, u, np.nan)
        labels[visible] = 1
        return Actor("vehicle", u, v), labels
    raise ValueError(kind)


def seasons_plan(size: str, seed: int) -> list[ClipPlan]:
    sizes = SEASONS[size]
    rng = np.random.default_rng([seed, 1])
    days = np.sort(rng.choice(np.arange(0, 240), sizes.clips, replace=sizes.clips <= 240))
    plans = []
    for number, day in enumerate(days):
        clip_rng = np.random.default_rng([seed, 1, number])
        minute = int(clip_rng.integers(0, 24 * 60))
        when = dt.datetime(2021, 1, 1) + dt.timedelta(days=int(day), minutes=minute)
        conditions = _conditions(when, clip_rng)
        plan = ClipPlan("all", f"{when:%Y%m%d}/{clip_name(when)}", sizes.frames, conditions,
                        _walkers(sizes.frames, conditions, clip_rng),
                        np.zeros(sizes.frames, np.uint8), seed=(seed, 1, number))
        plan.metadata = _metadata_row(conditions, clip_rng)
        plans.append(plan)
    return plans


def rare_event_plan(size: str, seed: int) -> list[ClipPlan]:
    sizes = RARE[size]
    week_start = dt.datetime(2021, 3, 8)
    kinds = ["normal"] * sizes.train
    test_kinds = [kind for kind in EVENTS for _ in range(sizes.test_events)] + ["normal"] * sizes.test_normal
    test_order = np.random.default_rng([seed, 2]).permutation(len(test_kinds))
    plans = []
    for split, kinds_of_split in (("train", kinds), ("test", [test_kinds[i] for i in test_order])):
        for number, kind in enumerate(kinds_of_split):
            rng = np.random.default_rng([seed, 2, split == "test", number])
            when = week_start + dt.timedelta(minutes=int(rng.integers(0, 7 * 24 * 60)))
            conditions = _conditions(when, rng)
            actors = _walkers(sizes.frames, conditions, rng)
            labels = np.zeros(sizes.frames, np.uint8)
            if kind != "normal":
                actor, labels = _event(kind, sizes.frames, rng)
                actors.append(actor)
            plans.append(ClipPlan(split, f"{number + 1:03d}", sizes.frames, conditions, actors,
                                  labels, kind, seed=(seed, 2, split == "test", number)))
    return plans


def seasons_truth(size: str, seed: int) -> pd.DataFrame:
    """One row per clip: ``clip`` (``<YYYYMMDD>/clip_<n>_<HHMM>``), ``n_frames``, ``datetime``,
    ``temperature``, ``sun`` and the metadata.csv row that was written."""
    rows = []
    for plan in seasons_plan(size, seed):
        rows.append({"clip": plan.name, "n_frames": plan.n_frames, "datetime": plan.conditions.when,
                     "temperature": plan.conditions.temperature, "sun": plan.conditions.sun,
                     "people": len(plan.actors), **plan.metadata})
    return pd.DataFrame(rows)


def rare_event_truth(size: str, seed: int) -> pd.DataFrame:
    """One row per frame: ``split``, ``clip``, ``frame`` (0-based), ``label`` (1 while a rare
    event is visible), ``event`` (the clip's event type or 'normal')."""
    rows = [{"split": plan.split, "clip": plan.name, "frame": frame, "label": int(plan.labels[frame]),
             "event": plan.event}
            for plan in rare_event_plan(size, seed) for frame in range(plan.n_frames)]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- rendering

def _static_scene(width: int, height: int, conditions: Conditions, rng: np.random.Generator):
    """The parts of a frame that do not move within a clip, as float32 H×W in [0, 1], and the
    water mask."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    v, u = (v + 0.5) / height, (u + 0.5) / width
    ambient = 0.30 + 0.012 * conditions.temperature
    night = conditions.sun < 0.05
    scene = np.zeros((height, width), np.float32)

    sky = v < HORIZON
    clouds = _blur(rng.normal(size=(height, width)), max(2, width // 12))
    scene[sky] = (ambient - 0.22 + 0.10 * (v[sky] / HORIZON) + 0.03 * clouds[sky] / (clouds.std() + 1e-6))

    shore = (v >= HORIZON) & (v < SHORE)
    scene[shore] = ambient - 0.02 + 0.04 * conditions.sun
    # far-shore buildings rising into the sky, sun-warmed by day, lit windows at night
    x = 0.0
    while x < 1.0:
        building_width = rng.uniform(0.05, 0.12)
        top = HORIZON - rng.uniform(0.03, 0.12)
        block = (u >= x) & (u < x + building_width * 0.9) & (v >= top) & (v < SHORE)
        scene[block] = ambient + 0.02 + 0.10 * conditions.sun + rng.uniform(-0.02, 0.02)
        if night:
            windows = block & (np.sin(u * width * 1.3) > 0.7) & (np.sin(v * height * 1.1) > 0.6)
            scene[windows] += 0.12 * (rng.uniform() > 0.3)
        x += building_width

    water = (v >= SHORE) & (u < _edge(v))
    quay = (v >= SHORE) & ~water
    paving = _blur(rng.normal(size=(height, width)), 1.0)
    scene[quay] = ambient + 0.04 + 0.14 * conditions.sun + 0.015 * paving[quay] / (paving.std() + 1e-6)
    edge_band = quay & (u < _edge(v) + 0.012)
    scene[edge_band] = ambient + 0.09 + 0.10 * conditions.sun  # the granite edge stones
    pier = (v >= PIER[0]) & (v < PIER[1]) & (u >= PIER[2]) & water
    scene[pier] = ambient + 0.03 + 0.12 * conditions.sun
    water &= ~pier
    scene[water] = ambient - 0.07 + 0.05 * (v[water] - SHORE)
    # the pier's reflection: a faint warm band under it that the ripples will distort
    reflection = water & (v >= PIER[1]) & (v < PIER[1] + 0.06) & (u >= PIER[2])
    return scene, water, reflection, (u, v)


def _blur(array: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage
    return ndimage.gaussian_filter(array.astype(np.float32), sigma)


def _soft_ellipse(u, v, cu, cv, ru, rv):
    d = np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2)
    return np.clip((1.15 - d) / 0.3, 0, 1)


def render_clip(plan: ClipPlan, width: int, height: int) -> list[np.ndarray]:
    """The frames of a clip as uint8 H×W arrays."""
    rng = np.random.default_rng([*plan.seed, 99])
    scene, water, reflection, (u, v) = _static_scene(width, height, plan.conditions, rng)
    ambient = 0.30 + 0.012 * plan.conditions.temperature
    body_level = min(0.98, ambient + 0.38)
    waves = [(rng.uniform(20, 45), rng.uniform(-0.6, 0.6), rng.uniform(0.4, 0.9), rng.uniform(0, 6.3))
             for _ in range(3)]
    frames = []
    for t in range(plan.n_frames):
        frame = scene.copy()
        ripple = sum(np.sin(k * (u * np.cos(a) + v * np.sin(a) * 3) * (1 + 2 * v) - w * t + p)
                     for k, a, w, p in waves) / 3
        frame[water] += 0.025 * ripple[water]
        frame[reflection] += 0.04 * (1 + ripple[reflection]) / 2
        for actor in plan.actors:
            frame = _draw(frame, actor, t, u, v, body_level, water)
        frame += rng.normal(0, 0.008, frame.shape).astype(np.float32)
        frames.append(np.clip(np.round(frame * 255), 0, 255).astype(np.uint8))
    return frames


def _draw(frame, actor: Actor, t: int, u, v, level, water):
    cu, cv = actor.u[t], actor.v[t]
    splash = actor.splash[t] if actor.splash is not None else 0.0
    if splash > 0:
        su, sv = actor.splash_at
        radius = 0.02 + 0.02 * (1.0 - splash)
        ring = np.exp(-((np.sqrt(((u - su) / 1.3) ** 2 + (v - sv) ** 2) - radius) / 0.006) ** 2)
        frame = frame + (0.25 * splash * ring * water).astype(np.float32)
    if not np.isfinite(cu):
        return frame
    height = float(_person_height(cv))
    if actor.kind == "doll":
        alpha = _doll_alpha(actor, t, u, v, height)
        return frame * (1 - alpha) + alpha * (level - 0.06)
    if actor.kind == "vehicle":
        vehicle_w, vehicle_h = 0.9 * height, 0.55 * height
        body = ((np.abs(u - cu) < vehicle_w / 2) & (v < cv) & (v > cv - vehicle_h)).astype(np.float32)
        engine = _soft_ellipse(u, v, cu, cv - 0.25 * vehicle_h, vehicle_w / 4, vehicle_h / 5)
        frame = frame * (1 - body) + body * (level - 0.05)
        return np.maximum(frame, engine * min(1.0, level + 0.15))
    lift = actor.lift[t] if actor.lift is not None else 0.0
    feet = cv - lift * height
    torso = _soft_ellipse(u, v, cu, feet - 0.45 * height, 0.16 * height * 0.75, 0.42 * height)
    head = _soft_ellipse(u, v, cu, feet - 0.92 * height, 0.09 * height * 0.75, 0.09 * height)
    alpha = np.maximum(torso, head)
    submerged = actor.submerged[t] if actor.submerged is not None else 0.0
    if submerged > 0:  # the body sinks below the waterline at the feet
        sunk = submerged * height
        torso = _soft_ellipse(u, v, cu, feet + sunk - 0.45 * height, 0.16 * height * 0.75, 0.42 * height)
        head = _soft_ellipse(u, v, cu, feet + sunk - 0.92 * height, 0.09 * height * 0.75, 0.09 * height)
        alpha = np.maximum(torso, head) * (v < feet)
    return frame * (1 - alpha) + alpha * level


def _doll_alpha(actor: Actor, t: int, u, v, height: float) -> np.ndarray:
    """Coverage of a doll whose feet are at (u[t], v[t]) raised by ``lift`` body heights and tilted
    by ``tilt`` degrees towards the water (90: lying on the surface); the submerged fraction only
    dims it, as a body lying in the water shows its upper side."""
    angle = np.radians(actor.tilt[t] if actor.tilt is not None else 0.0)
    lift = actor.lift[t] if actor.lift is not None else 0.0
    submerged = actor.submerged[t] if actor.submerged is not None else 0.0
    x = (u - actor.u[t]) / 0.75  # columns in row units (4:3 frames)
    y = v - (actor.v[t] - lift * height)
    along = -x * np.sin(angle) - y * np.cos(angle)  # from the feet towards the head
    across = x * np.cos(angle) - y * np.sin(angle)
    torso = np.clip((1.15 - np.hypot((along - 0.45 * height) / (0.42 * height),
                                     across / (0.12 * height))) / 0.3, 0, 1)
    head = np.clip((1.15 - np.hypot(along - 0.92 * height, across) / (0.09 * height)) / 0.3, 0, 1)
    return np.maximum(torso, head) * (1.0 - 0.6 * submerged)


def _save_jpeg(path: Path, frame: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(frame, mode="L").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    path.write_bytes(buffer.getvalue())


# ------------------------------------------------------------------------------ generators

def generate_seasons(out: Path, *, size: str, seed: int) -> None:
    out = Path(out) / "LTD Dataset" / "LTD Dataset"  # as the Kaggle archive unpacks
    sizes = SEASONS[size]
    rows = []
    for plan in seasons_plan(size, seed):
        folder = out / "Image Dataset" / plan.name
        folder.mkdir(parents=True, exist_ok=True)
        for number, frame in enumerate(render_clip(plan, sizes.width, sizes.height)):
            _save_jpeg(folder / f"image_{number:04d}.jpg", frame)
        rows.append(plan.metadata)
    pd.DataFrame(rows, columns=list(METADATA_COLUMNS)).to_csv(out / "metadata.csv", index=False)
    HARBOUR_VIEW.write(out / VIEW_FILE)  # the twin's geometry, in the file real roots must provide


def generate_rare_event(out: Path, *, size: str, seed: int) -> None:
    out = Path(out)
    sizes = RARE[size]
    for plan in rare_event_plan(size, seed):
        split_dir = out / ("training" if plan.split == "train" else "testing")
        folder = split_dir / "frames" / plan.name
        folder.mkdir(parents=True, exist_ok=True)
        for number, frame in enumerate(render_clip(plan, sizes.width, sizes.height)):
            _save_jpeg(folder / f"{number:04d}.jpg", frame)
        if plan.split == "test":
            labels_dir = split_dir / "test_frame_mask"
            labels_dir.mkdir(parents=True, exist_ok=True)
            np.save(labels_dir / f"{plan.name}.npy", plan.labels.astype(np.uint8))


TWINS = {"seasons_in_drift": generate_seasons, "thermal_rare_event": generate_rare_event}
