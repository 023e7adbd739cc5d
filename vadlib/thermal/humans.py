"""ThermalSynth stage 2: foreground people -- a procedural stand-in for Unity + Mixamo.

What the paper does (Paper B §3.2, thesis seed L1724-L1732; spec ``paper_A_B.md`` §2.3.2): Mixamo
3D characters with motion-captured animations (walking, running, jumping, falling) are rendered in
Unity through a camera with the LTD camera's parameters (Table B.1), behind primitive occluders,
and the Unity Perception package writes each rendered person's segmentation mask. 79,998 foreground
sequences of three consecutive frames depict jumps and falls (L1724); samples are labelled fall /
no fall "based on the location of foreground objects" relative to the masked harbour water
(ch. 3, L610).

**What is substituted, and why.** Unity, Mixamo's characters and animations and the Perception
package cannot be installed from a package registry, run headless in CI, or be redistributed, and
the paper's renders were never published. This module draws instead a *procedural articulated
human*: a head, neck, torso, upper and lower arms, hands, thighs, shanks and feet, each a capsule
(the torso a convex solid) posed by joint angles, placed on the quay plane in metres and projected
through the pinhole camera of :mod:`vadlib.data.harbour` (Table B.1's 21.7° field of view), so
that the size of a person follows from where they stand (perspective scale by position). Segments
are drawn far to near (painter's algorithm on camera depth). Each part has a material of Table
B.1 -- **skin** (face/head, neck, hands, and forearms or shanks when sleeves or trousers are
short) or **cotton** (shirt, sleeves, trousers, shoes) -- and an albedo colour (skin tone, shirt,
trousers, shoes drawn per person), which is what the shader needs (Eq. B.2-B.3). Motions are
procedural, not motion capture:

* ``walk`` (no fall): a gait along the quay near the edge (starting 0.25-1.5 m from it), turning
  back at the border of the walkable area (never closer than 0.25 m to the edge);
* ``stand`` (no fall): standing 0.25-1.0 m from the edge with sway and arm gestures, half of the
  time after walking up to that spot;
* ``fall`` (fall): walking up to the edge, toppling forward over it (an inverted pendulum about the
  toes, arms flailing), dropping to the water 1 m below the quay and bobbing chest-deep;
* ``jump`` (fall): walking up to the edge, crouching, a ballistic jump out over the water, entry
  and bobbing.

Falls start from a spot of the quay edge with open water in front (not the pier) and a water
surface inside the frame; walks keep the feet inside the frame and the walkable rows. Pixels below
the water surface are hidden while the person is over the water; a falling body that would be
already under water at a frame time is shown entering it (pelvis at the surface, phase ``entry``).
For ``fall`` / ``jump`` the frames returned are a window drawn uniformly among those that contain
the first fall frame or start at the latest at the entry (so each holds a fall frame and shows the
fall rather than long bobbing). No occluders, no
splash (water spray has the water's temperature), no other people, no clothing folds -- the paper's
future-work remark that its people "contain the same overall texture from head to toe" (L1868)
applies here too.

**Labels (our rule, after L610).** A frame is *fall* (1) when the person's pelvis, projected onto
the quay plane, lies over the water area of the view (or the person is below the quay, in the
water) *and* the person is visible in the frame; otherwise *no fall* (0). So a fall sequence turns
to 1 from the moment the body leans out over the edge (a few degrees of toppling, or right after
take-off), and a person who walks or stands on the quay is 0 however close to the edge.

**Your own renders.** :func:`sequence_from_rgba` (per frame an RGBA image, alpha ≥ threshold =
person) and :func:`sequence_from_material_maps` (per frame a material-id map: 0 = background,
k = the k-th entry of ``materials``, optional albedo) build the same :class:`ForegroundSequence`
with your per-frame fall / no-fall labels; :mod:`vadlib.thermal.dataset` accepts either.

Time: consecutive frames are ``frame_interval_s`` = 0.25 s apart by default (our choice; the paper
does not say at which rate its three rendered frames were taken, while its backgrounds are 1-fps
frames -- spec §2.9 item 8).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import cv2
import numpy as np

from vadlib.data.harbour import FALL_KINDS, FRAME_SHAPE, HARBOUR_VIEW, NO_FALL_KINDS, HarbourView

__all__ = ["FALL_KINDS", "KINDS", "MATERIALS", "NO_FALL_KINDS", "PARTS", "BodyState",
           "ForegroundFrame", "ForegroundSequence", "Outfit", "Pose", "body_segments", "render_parts",
           "render_sequence", "sequence_from_material_maps", "sequence_from_rgba"]

MATERIALS = ("skin", "cotton")  # material id 1, 2 (0 = background)
SKIN, COTTON = 1, 2
KINDS = FALL_KINDS + NO_FALL_KINDS
GRAVITY = 9.81  # m/s²
SUBPIXEL = 4  # cv2 drawing shift: coordinates in 1/16 px

#: Body parts: id -> (name, default material, colour role).
PARTS = {
    1: ("head", SKIN, "skin"), 2: ("neck", SKIN, "skin"), 3: ("torso", COTTON, "shirt"),
    4: ("upper_arm_l", COTTON, "shirt"), 5: ("forearm_l", COTTON, "shirt"), 6: ("hand_l", SKIN, "skin"),
    7: ("upper_arm_r", COTTON, "shirt"), 8: ("forearm_r", COTTON, "shirt"), 9: ("hand_r", SKIN, "skin"),
    10: ("thigh_l", COTTON, "trousers"), 11: ("shank_l", COTTON, "trousers"), 12: ("foot_l", COTTON, "shoes"),
    13: ("thigh_r", COTTON, "trousers"), 14: ("shank_r", COTTON, "trousers"), 15: ("foot_r", COTTON, "shoes"),
}


# -------------------------------------------------------------------------- data classes

@dataclass
class ForegroundFrame:
    """One rendered frame: ``material`` uint8 H × W (0 = background, k = ``materials[k - 1]`` of
    the sequence), ``albedo`` float32 H × W × 3 in [0, 1] or ``None``, the fall label (1 / 0), the
    person's box (x0, y0, x1, y1) in pixels (exclusive end) or ``None`` if nothing is visible, and
    a free-text motion phase."""

    material: np.ndarray
    albedo: np.ndarray | None
    label: int
    box: tuple[int, int, int, int] | None = None
    phase: str = ""


@dataclass
class ForegroundSequence:
    """Consecutive foreground frames of one person with their labels."""

    frames: list[ForegroundFrame]
    materials: tuple[str, ...] = MATERIALS
    kind: str = "custom"
    sequence_id: int | str = 0
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.frames:
            raise ValueError("a foreground sequence needs at least one frame")
        shape = self.frames[0].material.shape
        for number, frame in enumerate(self.frames):
            if frame.material.ndim != 2 or frame.material.shape != shape:
                raise ValueError(f"frame {number}: material map {frame.material.shape}, frame 0 "
                                 f"{shape}; need 2-D maps of one size")
            if frame.label not in (0, 1):
                raise ValueError(f"frame {number}: label must be 0 (no fall) or 1 (fall), got "
                                 f"{frame.label!r}")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def labels(self) -> np.ndarray:
        return np.array([f.label for f in self.frames], np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return self.frames[0].material.shape


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _labels(labels, n: int) -> list[int]:
    labels = [int(v) for v in np.asarray(labels).reshape(-1)]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} frames; need one fall (1) / no-fall (0) "
                         "label per frame")
    return labels


def sequence_from_rgba(frames: Sequence[np.ndarray], labels: Sequence[int], *, material: str = "cotton",
                       alpha_threshold: int = 128, kind: str = "custom",
                       sequence_id: int | str = 0) -> ForegroundSequence:
    """A sequence from your own RGBA renders (H × W × 4 uint8; alpha ≥ ``alpha_threshold`` marks
    the person, RGB is the albedo). Every person pixel gets ``material`` (Table B.1 gives skin
    and cotton the same emissivity, so the colour blend carries all variation)."""
    labels = _labels(labels, len(frames))
    out = []
    for number, (rgba, label) in enumerate(zip(frames, labels)):
        rgba = np.asarray(rgba)
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"frame {number}: need H × W × 4 uint8 RGBA, got {rgba.shape} {rgba.dtype}")
        person = rgba[..., 3] >= alpha_threshold
        out.append(ForegroundFrame(person.astype(np.uint8), rgba[..., :3].astype(np.float32) / 255.0,
                                   label, mask_box(person)))
    return ForegroundSequence(out, (material,), kind, sequence_id)


def sequence_from_material_maps(maps: Sequence[np.ndarray], labels: Sequence[int], *,
                                materials: Sequence[str] = MATERIALS,
                                albedo: Sequence[np.ndarray] | None = None, kind: str = "custom",
                                sequence_id: int | str = 0) -> ForegroundSequence:
    """A sequence from your own material-id maps (H × W integers: 0 = background, k =
    ``materials[k - 1]``), with optional per-frame albedo (H × W × 3, [0, 1] float or uint8)."""
    labels = _labels(labels, len(maps))
    if albedo is not None and len(albedo) != len(maps):
        raise ValueError(f"{len(albedo)} albedo images for {len(maps)} material maps")
    out = []
    for number, (ids, label) in enumerate(zip(maps, labels)):
        ids = np.asarray(ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"frame {number}: need a 2-D integer material map, got {ids.shape} {ids.dtype}")
        if ids.min(initial=0) < 0 or ids.max(initial=0) > len(materials):
            raise ValueError(f"frame {number}: material ids must lie in 0..{len(materials)} "
                             f"(0 = background, then {', '.join(materials)})")
        colour = None if albedo is None else np.asarray(albedo[number])
        if colour is not None and colour.dtype == np.uint8:
            colour = colour.astype(np.float32) / 255.0
        out.append(ForegroundFrame(ids.astype(np.uint8), colour, label, mask_box(ids > 0)))
    return ForegroundSequence(out, tuple(materials), kind, sequence_id)


# ------------------------------------------------------------------------------ skeleton

@dataclass(frozen=True)
class Pose:
    """Joint angles in radians (left, right). Hip and shoulder flexion swing the limb forward,
    knee and elbow flexion bend it; abduction lifts the arm sideways (π/2 horizontal, π up); lean
    tips the upper body forward about the pelvis."""

    hip: tuple[float, float] = (0.0, 0.0)
    knee: tuple[float, float] = (0.05, 0.05)
    shoulder: tuple[float, float] = (0.0, 0.0)
    abduction: tuple[float, float] = (0.1, 0.1)
    elbow: tuple[float, float] = (0.2, 0.2)
    lean: float = 0.0


# Proportions in body heights (body frame: x forward, y to the left, z up; feet on z = 0).
PELVIS_Z, HIP_Y, THIGH, SHANK = 0.53, 0.085, 0.245, 0.245
SHOULDER_Y, SHOULDER_UP, NECK_UP, HEAD_UP = 0.125, 0.265, 0.335, 0.40
UPPER_ARM, FOREARM = 0.17, 0.15
RADIUS = {"head": 0.062, "neck": 0.028, "upper_arm": 0.03, "forearm": 0.026, "hand": 0.03,
          "thigh": 0.048, "shank": 0.036, "foot": 0.026}
TOE = 0.11  # toes ahead of the ankles; the pivot of a forward topple


def _rot_y(angle: float) -> np.ndarray:
    """Rotation that tips +z towards +x by ``angle`` (forward pitch in the body frame)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _arm_direction(flexion: float, abduction: float, side: float) -> np.ndarray:
    return np.array([math.sin(flexion) * math.cos(abduction), side * math.sin(abduction),
                     -math.cos(flexion) * math.cos(abduction)])


def body_segments(pose: Pose, height_m: float) -> list[tuple[int, str, np.ndarray, float]]:
    """The body as drawable pieces in the body frame (metres): (part id, 'capsule' | 'disc' |
    'solid', points (k × 3), radius)."""
    h = height_m
    pelvis = np.array([0.0, 0.0, PELVIS_Z])
    lean = _rot_y(pose.lean)
    up = lean @ np.array([0.0, 0.0, 1.0])
    pieces = []
    for index, side in enumerate((1.0, -1.0)):  # left (+y), right
        hip = pelvis + [0.0, side * HIP_Y, -0.01]
        a, b = pose.hip[index], pose.knee[index]
        knee = hip + THIGH * np.array([math.sin(a), side * 0.03, -math.cos(a)])
        ankle = knee + SHANK * np.array([math.sin(a - b), 0.0, -math.cos(a - b)])
        toe = ankle + np.array([TOE * math.cos(a - b), 0.0, TOE * math.sin(a - b) - 0.02])
        base = 10 if side > 0 else 13
        pieces += [(base, "capsule", np.array([hip, knee]), RADIUS["thigh"]),
                   (base + 1, "capsule", np.array([knee, ankle]), RADIUS["shank"]),
                   (base + 2, "capsule", np.array([ankle, toe]), RADIUS["foot"])]
        shoulder = pelvis + lean @ np.array([0.0, side * SHOULDER_Y, SHOULDER_UP])
        f, ab, e = pose.shoulder[index], pose.abduction[index], pose.elbow[index]
        elbow = shoulder + UPPER_ARM * (lean @ _arm_direction(f, ab, side))
        forearm = lean @ _arm_direction(f + e, ab, side)
        wrist = elbow + FOREARM * forearm
        base = 4 if side > 0 else 7
        pieces += [(base, "capsule", np.array([shoulder, elbow]), RADIUS["upper_arm"]),
                   (base + 1, "capsule", np.array([elbow, wrist]), RADIUS["forearm"]),
                   (base + 2, "disc", np.array([wrist + 0.035 * forearm]), RADIUS["hand"])]
    torso = [pelvis + lean @ np.array([dx, dy, dz])
             for dz, half_width, half_depth in ((-0.03, 0.10, 0.06), (0.10, 0.095, 0.055),
                                                (SHOULDER_UP, 0.135, 0.055))
             for dy in (-half_width, half_width) for dx in (-half_depth, half_depth)]
    pieces.append((3, "solid", np.array(torso), 0.0))
    neck = pelvis + NECK_UP * up
    pieces.append((2, "capsule", np.array([pelvis + SHOULDER_UP * up, neck]), RADIUS["neck"]))
    pieces.append((1, "disc", np.array([pelvis + HEAD_UP * up]), RADIUS["head"]))
    return [(part, kind, points * h, radius * h) for part, kind, points, radius in pieces]


# --------------------------------------------------------------------------------- motion

@dataclass(frozen=True)
class BodyState:
    """Where a person is in one frame: feet position (X, Y) on the quay plane (m), heading
    ``yaw`` (rad, direction (cos, sin) in (X, Y)), forward ``pitch`` about the toes (rad), vertical
    offset ``z`` (m, negative below the quay), the pose and a phase name."""

    position: tuple[float, float]
    yaw: float
    pose: Pose
    pitch: float = 0.0
    z: float = 0.0
    phase: str = ""


def _to_world(points: np.ndarray, state: BodyState, height_m: float) -> np.ndarray:
    """Body-frame points (k × 3, metres) -> world (X, Y, Z)."""
    pivot = np.array([TOE * height_m, 0.0, 0.0])
    pitched = (points - pivot) @ _rot_y(state.pitch).T + pivot
    c, s = math.cos(state.yaw), math.sin(state.yaw)
    world = np.empty_like(pitched)
    world[:, 0] = state.position[0] + c * pitched[:, 0] - s * pitched[:, 1]
    world[:, 1] = state.position[1] + s * pitched[:, 0] + c * pitched[:, 1]
    world[:, 2] = state.z + pitched[:, 2]
    return world


def _walk_pose(phase: float, amount: float = 1.0) -> Pose:
    s = math.sin(phase)
    knee = (0.08 + 0.55 * max(0.0, math.sin(phase - 1.3)),
            0.08 + 0.55 * max(0.0, math.sin(phase + math.pi - 1.3)))  # the swinging leg bends
    return Pose(hip=(0.42 * s * amount, -0.42 * s * amount),
                knee=(knee[0] * amount + 0.05, knee[1] * amount + 0.05),
                shoulder=(-0.35 * s * amount, 0.35 * s * amount),
                abduction=(0.1, 0.1), elbow=(0.25 + 0.15 * amount, 0.25 + 0.15 * amount),
                lean=0.05 * amount)


def _blend(a: Pose, b: Pose, w: float) -> Pose:
    """Joint angles interpolated from pose ``a`` (w = 0) to pose ``b`` (w = 1)."""
    w = min(max(w, 0.0), 1.0)

    def mix(x, y):
        if isinstance(x, tuple):
            return tuple(float((1 - w) * p + w * q) for p, q in zip(x, y))
        return (1 - w) * x + w * y

    return Pose(**{name: mix(getattr(a, name), getattr(b, name)) for name in Pose.__dataclass_fields__})


def _water_pose(t: float, phase0: float) -> Pose:
    wave = math.sin(3.5 * t + phase0)
    return Pose(hip=(0.3, 0.1), knee=(0.6, 0.4), shoulder=(0.6 + 0.3 * wave, 0.6 - 0.3 * wave),
                abduction=(1.3 + 0.4 * wave, 1.3 - 0.4 * wave), elbow=(0.5, 0.5), lean=0.1)


@dataclass
class _Scene:
    view: HarbourView
    shape: tuple[int, int]
    dt: float

    def __post_init__(self):
        self.camera = self.view.camera(self.shape)
        self.water = self.view.mask("water", self.shape)
        self.edge_far, self.edge_dir, self.normal = self.view.edge_world(self.shape)

    def edge_at_row(self, v: float) -> np.ndarray:
        return self.view.edge_point(v, self.shape)

    def distance_from_edge(self, point) -> float:
        """Signed distance (m) from the quay edge, positive on the quay side."""
        return float(-(np.asarray(point) - self.edge_far) @ self.normal)

    def over_water(self, point) -> bool:
        return self.view._in_mask(self.water, self.camera, np.asarray(point, float))

    def inside(self, point, margin_px: float = 12.0) -> bool:
        """Feet inside the frame and the walkable rows."""
        x, y, _ = self.camera.project(np.array([point[0], point[1], 0.0]))
        height, width = self.shape
        rows = self.view.walk_rows
        return margin_px <= x <= width - margin_px and rows[0] * height <= y <= rows[1] * height


@functools.lru_cache(maxsize=16)
def _scene(view: HarbourView, shape: tuple[int, int], dt: float) -> _Scene:
    """The scene geometry (masks, camera, edge) is the same for every sequence of a view."""
    return _Scene(view, shape, dt)


def _heading(vector) -> float:
    return math.atan2(vector[1], vector[0])


def _walk_states(scene: _Scene, rng, n: int) -> list[BodyState]:
    for _ in range(100):
        v = rng.uniform(*scene.view.walk_rows)
        start = scene.edge_at_row(v) - scene.normal * rng.uniform(0.25, 1.5)
        if scene.inside(start):
            break
    along = scene.edge_dir * rng.choice([-1.0, 1.0])
    yaw = _heading(along) + rng.normal(0.0, 0.35)
    speed, period = rng.uniform(1.0, 1.6), rng.uniform(0.95, 1.2)
    phase0 = rng.uniform(0, 2 * math.pi)
    position, states = start.copy(), []
    for i in range(n):
        t = i * scene.dt
        pose = _walk_pose(phase0 + 2 * math.pi * t / period)
        states.append(BodyState(tuple(position), yaw, pose, phase="walk"))
        step = speed * scene.dt * np.array([math.cos(yaw), math.sin(yaw)])
        if not scene.inside(position + step) or scene.distance_from_edge(position + step) < 0.25:
            yaw += math.pi + rng.normal(0.0, 0.3)  # turn back at the border of the walkable area
            step = speed * scene.dt * np.array([math.cos(yaw), math.sin(yaw)])
            if not scene.inside(position + step) or scene.distance_from_edge(position + step) < 0.25:
                step = np.zeros(2)
        position = position + step
    return states


def _stand_states(scene: _Scene, rng, n: int) -> list[BodyState]:
    v = rng.uniform(*scene.view.walk_rows)
    spot = scene.edge_at_row(v) - scene.normal * rng.uniform(0.25, 1.0)
    towards_water = rng.random() < 0.6
    yaw = _heading(scene.normal) + rng.normal(0, 0.4) if towards_water else rng.uniform(-math.pi, math.pi)
    approach = rng.random() < 0.5
    walk_frames = int(rng.integers(1, n + 1)) if approach else 0
    speed, period = rng.uniform(1.0, 1.4), rng.uniform(0.95, 1.2)
    gesture_rate, phase0 = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * math.pi)
    direction = np.array([math.cos(yaw), math.sin(yaw)])
    states = []
    for i in range(n):
        t = i * scene.dt
        if i < walk_frames:  # walking up to the spot, arriving at frame walk_frames
            position = spot - direction * speed * scene.dt * (walk_frames - i)
            if not scene.inside(position) or scene.distance_from_edge(position) < 0.25:
                position = spot  # would start off the walkable area: already there
            pose = _walk_pose(phase0 + 2 * math.pi * t / period)
            states.append(BodyState(tuple(position), yaw, pose, phase="approach"))
            continue
        g = 0.5 + 0.5 * math.sin(gesture_rate * t + phase0)
        pose = Pose(hip=(0.02, -0.02), knee=(0.05, 0.05), shoulder=(0.1 + 0.5 * g, 0.05),
                    abduction=(0.12, 0.1 + 0.1 * g), elbow=(0.3 + 0.9 * g, 0.25), lean=0.03)
        pitch = 0.02 * math.sin(0.8 * t + phase0)
        states.append(BodyState(tuple(spot), yaw, pose, pitch, phase="stand"))
    return states


def _at_surface(state: BodyState, height_m: float, quay: float) -> BodyState:
    """A falling body whose pelvis would be under water is shown entering it instead: moved up
    so that the pelvis is at the surface (phase ``entry``). At 4 frames a second a fall from
    the quay takes about two frames, and the frame that would show the body already under water
    shows the entry."""
    below = _pelvis_world(state, height_m)[2] + quay
    if below > 0:
        return state
    return replace(state, z=state.z - below, phase="entry")


def _fall_states(scene: _Scene, rng, kind: str, n: int, height_m: float) -> tuple[list[BodyState], int]:
    """Approach, then a topple (``fall``) or a jump (``jump``), entry and bobbing. Returns the
    states and the index of the first frame in the water."""
    dt, quay = scene.dt, scene.view.quay_height_m
    for _ in range(100):  # a spot of the edge with open water in front (not the pier) whose
        v = rng.uniform(*scene.view.walk_rows)  # water surface is in the frame
        edge = scene.edge_at_row(v)
        surface = scene.camera.project(np.array([*(edge + scene.normal), -quay]))[1]
        if (surface < scene.shape[0] - 3
                and all(scene.over_water(edge + scene.normal * d) for d in (0.3, 1.0, 2.0, 3.0))):
            break
    yaw = _heading(scene.normal) + rng.uniform(-0.6, 0.6) * (1.0 if kind == "fall" else 0.6)
    heading = np.array([math.cos(yaw), math.sin(yaw)])
    feet_end = edge - heading * (TOE * height_m + 0.02) / max(float(heading @ scene.normal), 0.5)
    speed, period = rng.uniform(1.0, 1.6), rng.uniform(0.95, 1.2)
    phase0 = rng.uniform(0, 2 * math.pi)
    # walk up to the edge from inside the frame; wait standing first if the frame is too narrow
    approach_frames = int(round(rng.uniform(0.5, 2.5) / dt)) + n
    walked = 0
    while walked < approach_frames and scene.inside(feet_end - heading * speed * dt * (walked + 1)):
        walked += 1
    states: list[BodyState] = []
    for i in range(approach_frames):
        steps_left = min(walked, approach_frames - i)
        position = feet_end - heading * speed * dt * steps_left
        moving = approach_frames - i <= walked
        pose = _walk_pose(phase0 + 2 * math.pi * i * dt / period) if moving else Pose()
        states.append(BodyState(tuple(position), yaw, pose, phase="approach" if moving else "stand"))
    flail = rng.uniform(0, 2 * math.pi)
    if kind == "fall":
        # inverted pendulum about the toes: theta'' = (g / l) sin(theta)
        length = 0.55 * height_m
        theta, omega, tau, clock = 0.06, rng.uniform(0.4, 0.9), 0.0, 0.0
        detach, sub = rng.uniform(1.0, 1.25), 0.005
        while theta < detach:
            while clock < dt and theta < detach:
                omega += GRAVITY / length * math.sin(theta) * sub
                theta += omega * sub
                clock += sub
            if clock >= dt:
                clock -= dt
                tau += dt
                wave = math.sin(9.0 * tau + flail)
                pose = Pose(hip=(0.2, 0.1), knee=(0.2, 0.15), shoulder=(1.0 + 0.5 * wave, 1.2 - 0.5 * wave),
                            abduction=(1.2 + 0.3 * wave, 1.2 - 0.3 * wave), elbow=(0.4, 0.6), lean=0.15)
                states.append(BodyState(tuple(feet_end), yaw, pose, theta, phase="topple"))
        # free fall from the edge, still rotating, drifting out over the water
        drift = heading * rng.uniform(0.5, 1.0)
        fall_t, pitch0 = 0.0, theta
        while True:
            fall_t += dt
            z = -0.5 * GRAVITY * fall_t ** 2
            pitch = min(pitch0 + omega * fall_t, 1.7)
            pose = Pose(hip=(0.3, 0.1), knee=(0.3, 0.2), shoulder=(1.8, 2.2), abduction=(1.0, 1.1),
                        elbow=(0.3, 0.3), lean=0.1)
            position = feet_end + drift * fall_t
            state = _at_surface(BodyState(tuple(position), yaw, pose, pitch, z, phase="falling"),
                                height_m, quay)
            states.append(state)
            if state.phase == "entry":
                break
        entry_pitch = pitch
    else:
        crouch = Pose(hip=(0.9, 0.9), knee=(1.1, 1.1), shoulder=(-0.7, -0.7), abduction=(0.1, 0.1),
                      elbow=(0.2, 0.2), lean=0.45)
        crouch_s = rng.uniform(0.25, 0.5)
        tau = dt
        while tau <= crouch_s + 1e-9:
            pose = _blend(Pose(), crouch, tau / crouch_s)
            states.append(BodyState(tuple(feet_end), yaw, pose, phase="crouch"))
            tau += dt
        v_out, v_up = rng.uniform(1.5, 3.0), rng.uniform(1.5, 3.0)
        arms_up = rng.random() < 0.5
        flight = Pose(hip=(0.35, 0.2), knee=(0.15, 0.3), shoulder=(2.7, 2.7) if arms_up else (1.2, 1.2),
                      abduction=(0.2, 0.2) if arms_up else (1.4, 1.4), elbow=(0.2, 0.2), lean=0.0)
        fly_t = 0.0
        while True:
            fly_t += dt
            z = v_up * fly_t - 0.5 * GRAVITY * fly_t ** 2
            position = feet_end + heading * v_out * fly_t
            state = _at_surface(BodyState(tuple(position), yaw, flight, min(0.25 * fly_t, 0.4), z,
                                          phase="airborne"), height_m, quay)
            states.append(state)
            if state.phase == "entry":
                break
        entry_pitch = states[-1].pitch
    entry = len(states)
    position = np.asarray(states[-1].position)
    bob_phase = rng.uniform(0, 2 * math.pi)
    water_s = max(2.0, n * dt + 0.5)
    tau = dt
    while tau <= water_s + 1e-9:
        sink = max(0.0, 1.0 - tau / 0.75)  # down to the top of the head, then up to chest-deep
        depth = (0.74 + 0.12 * sink + 0.03 * math.sin(2 * math.pi * tau / 1.6 + bob_phase)) * height_m
        pitch = 0.1 + (entry_pitch - 0.1) * max(0.0, 1.0 - tau / 0.3)
        states.append(BodyState(tuple(position), yaw, _water_pose(tau, bob_phase), pitch, -quay - depth,
                                phase="in_water"))
        tau += dt
    return states, entry


# ------------------------------------------------------------------------------ rendering

@dataclass(frozen=True)
class Outfit:
    skin: tuple[float, float, float]
    shirt: tuple[float, float, float]
    trousers: tuple[float, float, float]
    shoes: tuple[float, float, float]
    short_sleeves: bool
    shorts: bool

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Outfit":
        tone = rng.uniform(0.25, 1.0)
        skin = np.clip(tone * np.array([0.95, 0.75, 0.62]) + rng.normal(0, 0.02, 3), 0, 1)
        skin = tuple(float(c) for c in skin)
        colour = lambda: tuple(float(c) for c in rng.uniform(0.0, 1.0, 3))  # noqa: E731
        shoes = tuple(float(c) for c in rng.uniform(0.0, 0.35) * np.ones(3))
        return cls(skin, colour(), colour(), shoes, bool(rng.random() < 0.3), bool(rng.random() < 0.15))

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Lookup tables part id -> material id and part id -> albedo RGB."""
        material = np.zeros(len(PARTS) + 1, np.uint8)
        albedo = np.zeros((len(PARTS) + 1, 3), np.float32)
        for part, (name, default, role) in PARTS.items():
            bare = ((self.short_sleeves and name.startswith("forearm"))
                    or (self.shorts and name.startswith("shank")))
            material[part] = SKIN if bare else default
            albedo[part] = self.skin if bare else getattr(self, role)
        return material, albedo


def render_parts(state: BodyState, height_m: float, camera, shape: tuple[int, int],
                 water_z: float | None) -> np.ndarray:
    """Part-id map (uint8 H × W) of one body state; pixels below the water surface row are
    cleared when ``water_z`` is given (the person is over the water)."""
    parts = np.zeros(shape, np.uint8)
    scale = 1 << SUBPIXEL
    items = []
    for part, kind, points, radius in body_segments(state.pose, height_m):
        world = _to_world(points, state, height_m)
        x, y, depth = camera.project(world)
        pixels = np.stack([x - 0.5, y - 0.5], axis=1)  # pixel centres at integer + 0.5
        items.append((float(depth.mean()), part, kind, pixels, radius * camera.focal / float(depth.mean())))
    for _, part, kind, pixels, radius_px in sorted(items, key=lambda item: -item[0]):
        fixed = np.round(pixels * scale).astype(np.int32)
        if kind == "capsule":
            thickness = max(1, int(round(2 * radius_px)))
            cv2.line(parts, tuple(fixed[0]), tuple(fixed[1]), int(part), thickness, cv2.LINE_8, SUBPIXEL)
        elif kind == "disc":
            cv2.circle(parts, tuple(fixed[0]), max(scale // 2, int(round(radius_px * scale))), int(part),
                       -1, cv2.LINE_8, SUBPIXEL)
        else:
            hull = cv2.convexHull(fixed.reshape(-1, 1, 2))
            cv2.fillConvexPoly(parts, hull, int(part), cv2.LINE_8, SUBPIXEL)
    if water_z is not None:
        pelvis = _pelvis_world(state, height_m)
        _, row, _ = camera.project(np.array([pelvis[0], pelvis[1], water_z]))
        parts[max(0, int(math.ceil(row - 0.5))):] = 0
    return parts


def _pelvis_world(state: BodyState, height_m: float) -> np.ndarray:
    return _to_world(np.array([[0.0, 0.0, PELVIS_Z * height_m]]), state, height_m)[0]


def _pelvis_ground(state: BodyState, height_m: float) -> np.ndarray:
    return _pelvis_world(state, height_m)[:2]


def render_sequence(kind: str, *, n_frames: int = 3, rng: np.random.Generator | int | None = None,
                    view: HarbourView = HARBOUR_VIEW, shape: tuple[int, int] = FRAME_SHAPE,
                    frame_interval_s: float = 0.25, sequence_id: int | str = 0) -> ForegroundSequence:
    """``n_frames`` consecutive frames of one procedural person doing ``kind`` (one of
    :data:`KINDS`), labelled by the rule of the module docstring.

    For ``fall`` / ``jump`` the window of ``n_frames`` is drawn uniformly among the windows that
    contain the first fall frame or start at the latest at the entry into the water, so every fall
    sequence holds at least one fall frame and shows the fall itself rather than long bobbing.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown motion {kind!r}; known: {', '.join(KINDS)}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    rng = np.random.default_rng(rng)
    scene = _scene(view, tuple(shape[:2]), frame_interval_s)
    height_m = rng.uniform(1.55, 1.95)
    outfit = Outfit.random(rng)
    material_lut, albedo_lut = outfit.tables()
    quay = view.quay_height_m

    def located(state: BodyState) -> int:
        return int(state.z < -0.5 * quay or scene.over_water(_pelvis_ground(state, height_m)))

    if kind in FALL_KINDS:
        states, entry = _fall_states(scene, rng, kind, n_frames, height_m)
        located_labels = [located(s) for s in states]
        onset = located_labels.index(1)
        first = max(0, onset - n_frames + 1)
        last = max(first, min(entry, len(states) - n_frames))
        start = int(rng.integers(first, last + 1))
        states = states[start:start + n_frames]
    else:
        start = 0
        for _ in range(20):  # re-plan in the rare case the pelvis leans out over the water
            states = (_walk_states if kind == "walk" else _stand_states)(scene, rng, n_frames)
            if not any(located(s) for s in states):
                break
        else:  # pragma: no cover - the walkable area keeps people 0.25 m from the edge
            raise RuntimeError(f"could not plan a {kind} sequence that stays on the quay")
    frames = []
    for state in states:
        over = located(state)
        parts = render_parts(state, height_m, scene.camera, scene.shape, -quay if over else None)
        box = mask_box(parts > 0)
        material = np.zeros(scene.shape, np.uint8)
        albedo = np.zeros((*scene.shape, 3), np.float32)
        if box is not None:  # look-ups inside the person's box only
            window = (slice(box[1], box[3]), slice(box[0], box[2]))
            material[window] = material_lut[parts[window]]
            albedo[window] = albedo_lut[parts[window]]
        frames.append(ForegroundFrame(material, albedo, int(over and box is not None), box, state.phase))
    info = {"height_m": height_m, "outfit": outfit, "window_start": start,
            "frame_interval_s": frame_interval_s}
    return ForegroundSequence(frames, MATERIALS, kind, sequence_id, info)
