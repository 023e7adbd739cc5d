"""Synthetic twins of MOTChallenge (MOT15/16/17) and of the JDE/FairMOT training mixture.

What is drawn: pedestrians seen by a static camera over a textured street background. Each
person is a head ellipse over a torso ellipse (shirt colour) over two legs (trouser colour) that
swing while the person walks; every identity has its own shirt/trouser/skin colours and height,
so identities are distinguishable by appearance as re-ID needs. Walkers move with constant
velocity plus Gaussian jitter, enter and leave through the image borders, and are drawn far to
near (ordered by the bottom edge of their box, the nearer the lower), so they occlude each other.

Ground truth (:class:`Scene`) follows the MOTChallenge conventions (Milan et al., "MOT16: A
benchmark for multi-object tracking", 2016): integer boxes ``bb_left, bb_top, bb_width,
bb_height`` in pixels that may extend past the image border, 1-based frames, and

* ``visibility``: the fraction of the box area that is inside the image and not covered by the
  box of a nearer object (MOT16 computes it from occluders and the image border the same way);
* ``class``: 1 pedestrian for walkers; each MOT16/17 sequence also holds a standing person
  (class 7, static person) and most hold a grey mannequin (class 8, distractor), both with the
  "consider" flag ``conf = 0`` so the evaluation ignores them, as in the real ground truth.

MOT15 twins have no classes (MOT15's ``gt.txt`` has world coordinates -1 instead), hence no
static persons or distractors. ``det/det.txt`` holds noisy public detections (missed people,
jittered boxes, false positives); MOT17 ships every sequence three times, suffixed ``-DPM``,
``-FRCNN`` and ``-SDP``, with identical frames and ground truth and one detector's file each.

The JDE twins (``jde_eth``, ``jde_citypersons``, ``jde_caltech``, ``jde_cuhksysu``,
``jde_prw``) write the JDE layout (Zhongdao/Towards-Realtime-MOT ``DATASET_ZOO.md``): images, a
``labels_with_ids`` text file per image with ``class identity x_center y_center width height``
normalised by the image size, and the list file that JDE/FairMOT read (``eth.train``, ...), here
stored inside the dataset directory with paths relative to its parent (the mixture root).
ETH and CityPersons have identity -1 everywhere (detection only), as in the real sets; in
CUHK-SYSU and PRW some people have no identity (-1), as in the person-search annotations.

:func:`mot_truth` and :func:`jde_truth` return what was rendered, computed without reading the
written files, so tests compare the loaders against it.
"""

from __future__ import annotations

import colorsys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

#: Image size (width, height), frames per sequence, train / test sequences per size.
SIZES = {
    "tiny": dict(width=160, height=96, length=20, train=2, test=1),
    "smoke": dict(width=320, height=192, length=60, train=3, test=1),
    "large": dict(width=640, height=384, length=150, train=7, test=7),
}

#: Sequence names and frame rates of the real benchmarks; twins use the first few names.
MOT15_TRAIN = ["KITTI-13", "TUD-Campus", "KITTI-17", "ADL-Rundle-6", "PETS09-S2L1",
               "TUD-Stadtmitte", "ADL-Rundle-8", "ETH-Bahnhof", "ETH-Pedcross2", "ETH-Sunnyday",
               "Venice-2"]
MOT15_TEST = ["ADL-Rundle-1", "ADL-Rundle-3", "AVG-TownCentre", "ETH-Crossing", "ETH-Jelmoli",
              "ETH-Linthescher", "KITTI-16", "KITTI-19", "PETS09-S2L2", "TUD-Crossing", "Venice-1"]
MOT16_TRAIN = ["02", "04", "05", "09", "10", "11", "13"]
MOT16_TEST = ["01", "03", "06", "07", "08", "12", "14"]
MOT17_DETECTORS = ("DPM", "FRCNN", "SDP")
FRAME_RATES = {"KITTI": 10, "TUD": 25, "ETH": 14, "PETS09": 7, "ADL": 30, "Venice": 30,
               "AVG": 1, "05": 14, "06": 14, "13": 25, "14": 25}

PEDESTRIAN, STATIC_PERSON, DISTRACTOR = 1, 7, 8
JPEG_QUALITY = 90


# --------------------------------------------------------------------------------------------
# people and scenes


@dataclass(frozen=True)
class Person:
    """One identity: its appearance (RGB uint8 colours) and box size in pixels."""

    id: int
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    height: int
    width: int


@dataclass
class Scene:
    """A rendered sequence: the people, their per-frame boxes and how to draw each frame.

    ``gt`` has one row per (frame, object) whose box intersects the image, with MOTChallenge
    columns ``frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility`` (see the
    module docstring); ``phase`` (leg swing) is a drawing detail kept beside it.
    """

    name: str
    width: int
    height: int
    length: int
    frame_rate: int
    people: dict[int, Person]
    gt: pd.DataFrame
    background: np.ndarray = field(repr=False)

    def render(self, frame: int) -> np.ndarray:
        """The H×W×3 uint8 image of 1-based ``frame``, objects drawn far to near."""
        image = self.background.copy()
        rows = self.gt[self.gt["frame"] == frame]
        ids, lefts, tops = (rows[c].to_numpy() for c in ("id", "bb_left", "bb_top"))
        bottoms = tops + rows["bb_height"].to_numpy()
        classes, phases = rows["class"].to_numpy(), rows["phase"].to_numpy()
        for i in np.lexsort((ids, bottoms)):
            _draw_person(image, self.people[int(ids[i])], int(lefts[i]), int(tops[i]),
                         float(phases[i]), still=int(classes[i]) != PEDESTRIAN)
        return image


def _rng(seed: int, *names: object) -> np.random.Generator:
    """An independent stream per (seed, names): a change in one sequence leaves the others."""
    key = [int(seed)] + [zlib.crc32(str(name).encode()) for name in names]
    return np.random.default_rng(key)


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue % 1.0, saturation, value))


_SKINS = [(241, 194, 160), (224, 172, 125), (198, 134, 90), (141, 85, 54), (96, 60, 40)]


def make_people(rng: np.random.Generator, count: int, image_height: int,
                first_id: int = 1) -> list[Person]:
    """``count`` identities with well-separated shirt hues (golden-ratio spacing)."""
    offset = rng.random()
    people = []
    for k in range(count):
        hue = offset + 0.618034 * k
        shirt = _colour(hue, rng.uniform(0.55, 0.95), rng.uniform(0.55, 0.95))
        trousers = _colour(hue + rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.8),
                           rng.uniform(0.15, 0.45))
        height = int(round(image_height * rng.uniform(0.28, 0.5)))
        width = max(4, int(round(height * rng.uniform(0.36, 0.44))))
        people.append(Person(first_id + k, shirt, trousers, _SKINS[int(rng.integers(len(_SKINS)))],
                             height, width))
    return people


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A wall over a paved ground: smooth noise plus a tile grid, so the texture is not flat."""
    rows = np.arange(height, dtype=np.float64)[:, None, None]
    horizon = int(height * rng.uniform(0.3, 0.42))
    wall = np.array(_colour(rng.random(), rng.uniform(0.1, 0.3), rng.uniform(0.55, 0.8)), float)
    ground = np.array(_colour(rng.uniform(0.05, 0.15), rng.uniform(0.1, 0.25),
                              rng.uniform(0.35, 0.55)), float)
    image = np.where(rows < horizon, wall, ground * (0.8 + 0.3 * rows / height))
    image = np.broadcast_to(image, (height, width, 3)).copy()
    coarse = rng.normal(0, 1, (height // 8 + 2, width // 8 + 2))
    smooth = np.kron(coarse, np.ones((8, 8)))[:height, :width]
    image += 10 * smooth[..., None] + rng.normal(0, 4, (height, width, 1))
    tile = max(6, width // 16)
    cols = np.arange(width)
    image[horizon:, cols % tile == 0] *= 0.75
    image[(np.arange(height) % tile == 0) & (np.arange(height) >= horizon)] *= 0.75
    for _ in range(3):  # windows / doors on the wall
        x0 = int(rng.integers(0, max(1, width - width // 8)))
        y0 = int(rng.integers(0, max(1, horizon - horizon // 2)))
        image[y0:y0 + horizon // 2, x0:x0 + width // 10] *= 0.55
    return np.clip(image, 0, 255).astype(np.uint8)


def _draw_person(image: np.ndarray, person: Person, left: int, top: int, phase: float,
                 still: bool = False) -> None:
    """Draw ``person`` with its box's top-left corner at (left, top), clipped to the image."""
    h, w = person.height, person.width
    H, W = image.shape[:2]
    y0, y1, x0, x1 = max(top, 0), min(top + h, H), max(left, 0), min(left + w, W)
    if y0 >= y1 or x0 >= x1:
        return
    v = (np.arange(y0, y1)[:, None] + 0.5 - top) / h
    u = (np.arange(x0, x1)[None, :] + 0.5 - left) / w
    patch = image[y0:y1, x0:x1].astype(np.float64)
    swing = 0.0 if still else 0.07 * np.sin(phase)
    legs_v = (v > 0.5) & (v <= 1.0)
    left_leg = legs_v & (np.abs(u - (0.34 + swing * (v - 0.5) * 2)) < 0.13)
    right_leg = legs_v & (np.abs(u - (0.66 - swing * (v - 0.5) * 2)) < 0.13)
    torso = ((u - 0.5) / 0.46) ** 2 + ((v - 0.36) / 0.2) ** 2 <= 1
    head = ((u - 0.5) / 0.2) ** 2 + ((v - 0.1) / 0.1) ** 2 <= 1
    hair = head & (v < 0.06)
    shade = 0.8 + 0.35 * np.sin(np.pi * np.clip(u, 0, 1))  # a little roundness
    for mask, colour in ((left_leg | right_leg, person.trousers), (torso, person.shirt),
                         (head, person.skin), (hair, (40, 30, 25))):
        mask = np.broadcast_to(mask, patch.shape[:2])
        patch[mask] = (np.array(colour, float) * np.broadcast_to(shade, patch.shape[:2])[mask, None])
    image[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def visibility(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Visible fraction of each integer box ``(left, top, w, h)`` of one frame.

    A box is covered by the boxes of nearer objects (larger bottom edge; ties: larger row index
    is nearer, the drawing order) and cut by the image border.
    """
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    bottoms = boxes[:, 1] + boxes[:, 3]
    out = np.zeros(len(boxes))
    for i, (left, top, w, h) in enumerate(boxes):
        mask = np.zeros((h, w), dtype=bool)
        mask[max(0, -top):max(0, min(h, height - top)), max(0, -left):max(0, min(w, width - left))] = True
        for j, (l2, t2, w2, h2) in enumerate(boxes):
            if j == i or bottoms[j] < bottoms[i] or (bottoms[j] == bottoms[i] and j < i):
                continue
            mask[max(0, t2 - top):max(0, t2 + h2 - top), max(0, l2 - left):max(0, l2 + w2 - left)] = False
        out[i] = mask.sum() / float(w * h)
    return np.round(out, 6)


def scene(seed: int, size: str = "tiny", *, name: str = "seq", frame_rate: int = 30,
          walkers: int | None = None, extras: bool = True, people: list[Person] | None = None,
          width: int | None = None, height: int | None = None,
          length: int | None = None) -> Scene:
    """The sequence ``name`` of a twin: trajectories, ground truth and background.

    Args:
        seed, name: the random stream (same pair, same scene).
        size: a key of :data:`SIZES` giving the default image size and length.
        walkers: number of walking pedestrians (default: about 0.3 per frame, at least 4).
        extras: add a static person (class 7) and, with probability 0.7, a distractor (class 8),
            both flagged ``conf = 0``.
        people: identities to draw the walkers from (re-used across sequences or images, as
            for the person-search sets); default: fresh identities 1, 2, ...
        width, height, length: override the size's defaults.
    """
    spec = SIZES[size]
    W, H = width or spec["width"], height or spec["height"]
    L = length or spec["length"]
    rng = _rng(seed, "scene", name)
    count = walkers if walkers is not None else max(5, int(round(0.25 * L)))
    if people is None:
        cast = make_people(rng, count + 2 * extras, H)
    else:
        picks = rng.choice(len(people), size=min(len(people), count + 2 * extras), replace=False)
        cast = [people[int(k)] for k in sorted(picks)]
    walking, standing = cast[:count], cast[count:]
    rows = []
    for k, person in enumerate(walking):
        h, w = person.height, person.width
        bottom = rng.uniform(0.55 * H, 1.0 * H) if H > h else float(H)
        speed = rng.uniform(0.01, 0.025) * W * (-1 if rng.random() < 0.5 else 1)
        # half the walkers are in view from the first frame, the others arrive later
        start = 1 if 2 * k < count else int(rng.integers(1, max(2, L - 3)))
        if start == 1 or rng.random() < 0.3:  # already in view
            x = rng.uniform(0, W - w)
        else:  # enter through the border it walks away from
            x = -w + 1.0 if speed > 0 else W - 1.0
        vy = rng.normal(0, 0.05 * abs(speed))
        phase = rng.uniform(0, 2 * np.pi)
        for frame in range(start, L + 1):
            t = frame - start
            left = int(round(x + speed * t + rng.normal(0, 0.4)))
            top = int(round(bottom - h + vy * t + rng.normal(0, 0.3)))
            if left + w <= 0 or left >= W or top + h <= 0 or top >= H:
                if t > 0:
                    break  # left the image: gone for good
                continue
            rows.append((frame, person.id, left, top, w, h, 1, PEDESTRIAN, phase + 0.9 * t))
    if extras and standing:
        for k, person in enumerate(standing):
            cls = STATIC_PERSON if k == 0 else DISTRACTOR
            if cls == DISTRACTOR:
                if rng.random() > 0.7:
                    continue
                person = Person(person.id, (150, 150, 150), (110, 110, 110), (200, 200, 200),
                                person.height, person.width)
                standing[k] = person
            left = int(rng.integers(0, max(1, W - person.width)))
            top = int(round(rng.uniform(0.5 * H, H) - person.height))
            for frame in range(1, L + 1):
                rows.append((frame, person.id, left, top, person.width, person.height, 0, cls, 0.0))
    gt = pd.DataFrame(rows, columns=["frame", "id", "bb_left", "bb_top", "bb_width",
                                     "bb_height", "conf", "class", "phase"])
    gt = gt.sort_values(["frame", "id"], kind="stable").reset_index(drop=True)
    gt["visibility"] = 0.0
    for frame, group in gt.groupby("frame", sort=True):
        gt.loc[group.index, "visibility"] = visibility(
            group[["bb_left", "bb_top", "bb_width", "bb_height"]].to_numpy(), W, H)
    gt = gt[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "class",
             "visibility", "phase"]]
    gt = gt.astype({c: np.int64 for c in gt.columns[:8]})
    cast_by_id = {p.id: p for p in walking + standing}
    return Scene(name, W, H, L, frame_rate, cast_by_id, gt, _background(rng, H, W))


def detections(scn: Scene, seed: int, detector: str = "DPM") -> pd.DataFrame:
    """Noisy public detections of a scene in ``det.txt`` columns (``id`` = -1, ``conf`` = score).

    Each object with visibility >= 0.3 is found with the detector's recall, its box jittered by
    ~5 % of its size; false positives are added at random. DPM scores are unbounded SVM margins
    (as in MOT16/17's DPM files), FRCNN/SDP scores are probabilities.
    """
    recall = {"DPM": 0.7, "FRCNN": 0.85, "SDP": 0.92}.get(detector, 0.8)
    rng = _rng(seed, "det", scn.name, detector)
    out = []
    for row in scn.gt.itertuples(index=False):
        if row.visibility < 0.3 or rng.random() > recall:
            continue
        w, h = row.bb_width, row.bb_height
        jitter = rng.normal(0, 0.05, 4) * np.array([w, h, w, h])
        score = rng.normal(1.0, 0.6) if detector == "DPM" else rng.uniform(0.5, 1.0)
        out.append((row.frame, -1, row.bb_left + jitter[0], row.bb_top + jitter[1],
                    max(2.0, w + jitter[2]), max(2.0, h + jitter[3]), score))
    for frame in range(1, scn.length + 1):
        for _ in range(rng.poisson(0.3)):
            h = rng.uniform(0.2, 0.45) * scn.height
            score = rng.normal(-0.3, 0.3) if detector == "DPM" else rng.uniform(0.0, 0.6)
            out.append((frame, -1, rng.uniform(0, scn.width - 0.4 * h),
                        rng.uniform(0, scn.height - h), 0.4 * h, h, score))
    det = pd.DataFrame(out, columns=["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height",
                                     "conf"])
    det[["bb_left", "bb_top", "bb_width", "bb_height"]] = det[
        ["bb_left", "bb_top", "bb_width", "bb_height"]].round(2)
    det["conf"] = det["conf"].round(3)
    return det.sort_values(["frame", "bb_left"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# MOTChallenge twins


def _frame_rate(name: str) -> int:
    for key, rate in FRAME_RATES.items():
        if name.startswith(key) or name.split("-")[1:2] == [key]:
            return rate
    return 30


def mot_sequences(benchmark: str, size: str) -> dict[str, list[str]]:
    """{"train": [...], "test": [...]} video names of a twin (MOT17: without detector suffix)."""
    spec = SIZES[size]
    if benchmark == "mot15":
        train, test = MOT15_TRAIN, MOT15_TEST
    else:
        prefix = "MOT16" if benchmark == "mot16" else "MOT17"
        train = [f"{prefix}-{n}" for n in MOT16_TRAIN]
        test = [f"{prefix}-{n}" for n in MOT16_TEST]
    return {"train": train[:spec["train"]], "test": test[:spec["test"]]}


def mot_truth(benchmark: str, *, size: str = "tiny", seed: int = 0) -> dict[str, Scene]:
    """The scenes of a MOTChallenge twin by video name (MOT17: one scene per video, shared by
    its -DPM/-FRCNN/-SDP copies); train and test videos alike (test ground truth is not written).
    """
    scenes = {}
    for split, names in mot_sequences(benchmark, size).items():
        for name in names:
            scenes[name] = scene(seed, size, name=f"{benchmark}/{name}",
                                 frame_rate=_frame_rate(name), extras=benchmark != "mot15")
            scenes[name].name = name
    return scenes


def _seqinfo(name: str, scn: Scene) -> str:
    return ("[Sequence]\n"
            f"name={name}\nimDir=img1\nframeRate={scn.frame_rate}\nseqLength={scn.length}\n"
            f"imWidth={scn.width}\nimHeight={scn.height}\nimExt=.jpg\n\n")


def _jpeg_bytes(image: np.ndarray) -> bytes:
    import io
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=False,
                                subsampling=2)
    return buffer.getvalue()


def _write_mot_twin(out: Path, benchmark: str, size: str, seed: int) -> None:
    from vadlib.data.mot import write_mot

    truth = mot_truth(benchmark, size=size, seed=seed)
    splits = mot_sequences(benchmark, size)
    for split, names in splits.items():
        for name in names:
            scn = truth[name]
            frames = [_jpeg_bytes(scn.render(f)) for f in range(1, scn.length + 1)]
            copies = ([(f"{name}-{d}", d) for d in MOT17_DETECTORS] if benchmark == "mot17"
                      else [(name, "DPM" if benchmark == "mot16" else "ACF")])
            for seq_name, detector in copies:
                seq_dir = out / split / seq_name
                (seq_dir / "img1").mkdir(parents=True)
                for frame, data in enumerate(frames, start=1):
                    (seq_dir / "img1" / f"{frame:06d}.jpg").write_bytes(data)
                (seq_dir / "seqinfo.ini").write_text(_seqinfo(seq_name, scn))
                write_mot(detections(scn, seed, detector), seq_dir / "det" / "det.txt",
                          kind="pred")
                if split == "train":
                    _write_gt(scn.gt, seq_dir / "gt" / "gt.txt", mot15=benchmark == "mot15")


def _write_gt(gt: pd.DataFrame, path: Path, mot15: bool) -> None:
    """``gt.txt`` sorted by track id, then frame, as the released files are. MOT15 rows end in
    the world coordinates -1,-1,-1; MOT16/17 rows in class and visibility."""
    lines = []
    for row in gt.sort_values(["id", "frame"], kind="stable").itertuples(index=False):
        head = (f"{row.frame},{row.id},{row.bb_left},{row.bb_top},{row.bb_width},"
                f"{row.bb_height},{row.conf}")
        tail = ",-1,-1,-1" if mot15 else f",{row[7]},{row.visibility:g}"
        lines.append(head + tail + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


def _mot_generator(benchmark: str):
    def generate(out: Path, *, size: str, seed: int) -> None:
        _write_mot_twin(Path(out), benchmark, size, seed)
    generate.__name__ = f"generate_{benchmark}"
    generate.__doc__ = f"Write the {benchmark.upper()} twin (MOTChallenge layout) into ``out``."
    return generate


# --------------------------------------------------------------------------------------------
# JDE / FairMOT mixture twins

#: name -> (dataset directory, list file name, identities annotated, kind of images)
JDE_SOURCES = {
    "jde_eth": ("ETHZ", "eth.train", False, "video"),
    "jde_citypersons": ("Cityscapes", "citypersons.train", False, "stills"),
    "jde_caltech": ("Caltech", "caltech.train", True, "video"),
    "jde_cuhksysu": ("CUHK-SYSU", "cuhksysu.train", True, "stills"),
    "jde_prw": ("PRW", "prw.train", True, "video"),
}
_JDE_SIZES = {"tiny": dict(groups=2, images=5, width=128, height=96),
              "smoke": dict(groups=3, images=20, width=256, height=192),
              "large": dict(groups=5, images=100, width=640, height=480)}


def _jde_image_name(name: str, group: int, k: int) -> str:
    """Image path relative to the dataset directory, in each source's own naming."""
    if name == "jde_eth":
        return f"eth{group + 1:02d}/images/image_{k + 1:08d}_0.png"
    if name == "jde_citypersons":
        city = ["aachen", "bochum", "bremen", "cologne", "darmstadt"][group % 5]
        return f"images/train/{city}/{city}_{k:06d}_000019_leftImg8bit.png"
    if name == "jde_caltech":
        return f"data/images/set{group:02d}_V000_{30 * k + 29}.png"
    if name == "jde_cuhksysu":
        return f"images/s{group * 1000 + k + 1}.jpg"
    return f"images/c{group + 1}s1_{25 * (k + 1):06d}.jpg"  # PRW


def jde_truth(name: str, *, size: str = "tiny", seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """What a JDE twin shows: (boxes, scenes).

    ``boxes`` has one row per annotated person with ``image`` (path relative to the dataset
    directory), ``identity`` (dataset-local, 0..n-1 in order of first appearance, or -1),
    ``bb_left, bb_top, bb_width, bb_height`` in pixels and ``image_width, image_height``; every
    person with visibility > 0 is annotated. ``scenes`` maps ``image`` to (Scene, frame) so the
    image can be re-rendered.
    """
    directory, _, with_ids, kind = JDE_SOURCES[name]
    spec = _JDE_SIZES[size]
    W, H = spec["width"], spec["height"]
    pool_rng = _rng(seed, name, "people")
    pool = make_people(pool_rng, 4 * spec["groups"] + 4, H)
    unlabelled = {p.id for p in pool if pool_rng.random() < 0.2}  # persons without an identity
    images: dict[str, tuple[Scene, int]] = {}
    for group in range(spec["groups"]):
        if kind == "video":
            people = pool if name == "jde_prw" else None  # PRW: the same people in every camera
            scn = scene(seed, size, name=f"{name}/{group}", people=people, extras=False,
                        width=W, height=H, length=spec["images"],
                        walkers=max(3, spec["images"] // 3))
            for k in range(spec["images"]):
                images[_jde_image_name(name, group, k)] = (scn, k + 1)
        else:
            for k in range(spec["images"]):
                scn = scene(seed, size, name=f"{name}/{group}/{k}", length=1, extras=False,
                            people=pool if name == "jde_cuhksysu" else None,
                            walkers=int(_rng(seed, name, group, k).integers(2, 5)),
                            width=W, height=H)
                images[_jde_image_name(name, group, k)] = (scn, 1)
    rows, dense = [], {}
    for image, (scn, frame) in images.items():
        gt = scn.gt[(scn.gt["frame"] == frame) & (scn.gt["visibility"] > 0)]
        for row in gt.itertuples(index=False):
            key = row.id if name in ("jde_prw", "jde_cuhksysu") else (scn.name, row.id)
            if not with_ids or (name in ("jde_prw", "jde_cuhksysu") and row.id in unlabelled):
                identity = -1
            else:
                identity = dense.setdefault(key, len(dense))
            rows.append((image, identity, row.bb_left, row.bb_top, row.bb_width, row.bb_height,
                         W, H))
    boxes = pd.DataFrame(rows, columns=["image", "identity", "bb_left", "bb_top", "bb_width",
                                        "bb_height", "image_width", "image_height"])
    return boxes, images


def jde_label_line(identity: int, left: float, top: float, w: float, h: float,
                   image_width: int, image_height: int) -> str:
    """One ``labels_with_ids`` line: class 0 (pedestrian), identity, normalised centre and size."""
    return (f"0 {identity:d} {(left + w / 2) / image_width:.6f} {(top + h / 2) / image_height:.6f} "
            f"{w / image_width:.6f} {h / image_height:.6f}\n")


def _label_relpath(image: str) -> str:
    parts = image.split("/")
    parts[parts.index("images")] = "labels_with_ids"
    return "/".join(parts).rsplit(".", 1)[0] + ".txt"


def _write_jde_twin(out: Path, name: str, size: str, seed: int) -> None:
    import io
    directory, list_name, _, _ = JDE_SOURCES[name]
    boxes, images = jde_truth(name, size=size, seed=seed)
    by_image = {image: group for image, group in boxes.groupby("image", sort=False)}
    lines = []
    for image, (scn, frame) in images.items():
        path = out / image
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        pixels = Image.fromarray(scn.render(frame))
        if image.endswith(".png"):
            pixels.save(buffer, format="PNG", compress_level=6)
        else:
            pixels.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=2)
        path.write_bytes(buffer.getvalue())
        label = out / _label_relpath(image)
        label.parent.mkdir(parents=True, exist_ok=True)
        group = by_image.get(image)
        text = "" if group is None else "".join(
            jde_label_line(int(r.identity), r.bb_left, r.bb_top, r.bb_width, r.bb_height,
                           r.image_width, r.image_height) for r in group.itertuples(index=False))
        label.write_text(text)
        # JDE's own list names the CUHK-SYSU folder CUHKSYSU; the loader maps it
        lines.append(f"{'CUHKSYSU' if directory == 'CUHK-SYSU' else directory}/{image}\n")
    (out / list_name).write_text("".join(lines))


def _jde_generator(name: str):
    def generate(out: Path, *, size: str, seed: int) -> None:
        _write_jde_twin(Path(out), name, size, seed)
    generate.__name__ = f"generate_{name}"
    generate.__doc__ = f"Write the {name} twin (JDE layout) into ``out``."
    return generate


TWINS = {"mot15": _mot_generator("mot15"), "mot16": _mot_generator("mot16"),
         "mot17": _mot_generator("mot17"),
         **{name: _jde_generator(name) for name in JDE_SOURCES}}
