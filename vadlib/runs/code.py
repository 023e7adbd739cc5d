"""The code a cached run depends on: named code units, each with an explicit version.

A run's cache key is its ``kind`` + its config fields + the versions of the code units it uses
(:meth:`vadlib.runs.experiment.Experiment.code_units`). Keys never mention a module path, so a
file can move without invalidating GPU-days of cached runs; and a change to what a run computes
changes the key of exactly the runs that use the changed unit.

The versions live in ``code_versions.json`` beside this file, each with a digest of its modules'
source (parsed, docstrings dropped, re-printed: comments, blank lines and docstrings do not
count). ``tests/runs/test_code.py`` fails when a unit's source no longer matches its digest, and
the developer says which kind of change it was::

    vadlib runs code                     # every unit: version, and whether its source changed
    vadlib runs code --bump host:draem   # results change: new version, new keys, reruns
    vadlib runs code --accept run:image_ad   # a refactor (same results): keep the version

Why explicit versions rather than hashing the source into the key: a refactor that moves code
between files (as the runs/papers/plots split did) would otherwise recompute every cached run.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Iterable, Mapping

LOCK_FILE = Path(__file__).with_name("code_versions.json")

#: what every image / video host is built on: its base class, the registry and HostContext, the
#: Schedule it returns, and the shared layers (SSIM, PSNR, min-max, conv-BN-ReLU)
HOSTS = ("vadlib.models.hosts", "vadlib.models.registry", "vadlib.models.schedule", "vadlib.models.layers")
VIDEO_HOSTS = ("vadlib.models.video_hosts", "vadlib.models.registry", "vadlib.models.schedule",
               "vadlib.models.layers")
OBJECT_HOSTS = ("vadlib.models.object_hosts", "vadlib.models.registry", "vadlib.models.schedule",
                "vadlib.models.layers")

#: the file readers behind every loader (named errors on damaged files)
DATA_FILES = ("vadlib.data.files",)

#: code unit -> the modules whose source it covers. A module may belong to several units (a base
#: class belongs to every host built on it).
UNITS: Mapping[str, tuple[str, ...]] = {
    # how one experiment runs
    "train": ("vadlib.runs.train", "vadlib.runs.distributed"),
    "run:image_ad": ("vadlib.runs.image_ad",),
    "run:video_ad": ("vadlib.runs.video_ad",),
    "run:object_vad": ("vadlib.runs.object_vad",),
    "run:tracking": ("vadlib.runs.tracking",),
    "run:pretraining": ("vadlib.runs.pretraining", "vadlib.metrics.knn"),
    "run:fall_classification": ("vadlib.runs.fall_classification",),
    "run:measurement": ("vadlib.runs.timing",),
    "run:probe": ("vadlib.runs.probe",),
    "run:trajectories": ("vadlib.runs.trajectories", "vadlib.tracking.trajectories"),
    # models
    "blocks": ("vadlib.models.blocks", "vadlib.models.layers"),
    "host:draem": HOSTS + ("vadlib.models.draem", "vadlib.synthesis.perlin"),
    "host:draem3d": HOSTS + ("vadlib.models.draem3d", "vadlib.models.draem", "vadlib.synthesis.perlin"),
    "host:nsa": HOSTS + ("vadlib.models.nsa", "vadlib.synthesis.poisson"),
    "host:cutpaste": HOSTS + ("vadlib.models.cutpaste", "vadlib.synthesis.cutpaste"),
    "host:plain_ae": VIDEO_HOSTS + ("vadlib.models.plain_ae",),
    "host:ffp": VIDEO_HOSTS + ("vadlib.models.ffp",),
    "host:mnad": VIDEO_HOSTS + ("vadlib.models.mnad",),
    "host:mae": VIDEO_HOSTS + ("vadlib.models.mae_vad", "vadlib.models.mae"),
    "host:georgescu": OBJECT_HOSTS + ("vadlib.models.georgescu",),
    "host:hf2vad": OBJECT_HOSTS + ("vadlib.models.hf2vad", "vadlib.models.ffp"),
    "host:ssmtl": OBJECT_HOSTS + ("vadlib.models.ssmtl",),
    "host:object_ae": OBJECT_HOSTS + ("vadlib.models.object_ae",),
    # detection, object cubes and flow of the object hosts (RAFT's loader is FFP's)
    "pipeline:objects": ("vadlib.models.object_pipeline", "vadlib.models.ffp"),
    "model:tracker": ("vadlib.models.hrnet", "vadlib.models.hrnet_tracker", "vadlib.models.fairmot_targets",
                      "vadlib.tracking.kalman", "vadlib.tracking.matching", "vadlib.tracking.tracker"),
    "model:mae": ("vadlib.models.mae", "vadlib.models.curriculum_masking"),
    "model:small_cnn": ("vadlib.models.small_cnn",),
    "model:social_gan": ("vadlib.models.social_gan", "vadlib.models.ffp"),
    "thermalsynth": ("vadlib.data.harbour", "vadlib.thermal.background",
                     "vadlib.thermal.humans", "vadlib.thermal.shader", "vadlib.thermal.postprocess",
                     "vadlib.thermal.dataset"),
    # metrics
    "metrics:anomaly": ("vadlib.metrics.frame_auc", "vadlib.metrics.rbdc_tbdc", "vadlib.metrics.pixel",
                        "vadlib.metrics._validate"),
    "metrics:tracking": ("vadlib.metrics.tracking",),
    "metrics:classification": ("vadlib.metrics.classification",),
    "metrics:trajectory": ("vadlib.metrics.trajectory",),
    # data: loaders of the official layouts, and the generators of their synthetic twins
    "data:mvtec_ad": DATA_FILES + ("vadlib.data.mvtec",),
    "data:dtd": DATA_FILES + ("vadlib.data.dtd",),
    "data:brats": DATA_FILES + ("vadlib.data.brats",),
    "data:video": DATA_FILES + ("vadlib.data.video", "vadlib.data.avenue", "vadlib.data.shanghaitech",
                   "vadlib.data.ucsd_ped2", "vadlib.data.vad_tracks"),
    "data:thermal": DATA_FILES + ("vadlib.data.thermal",),
    "data:mot": DATA_FILES + ("vadlib.data.mot", "vadlib.data.jde_augment"),
    "data:imagenet100": DATA_FILES + ("vadlib.data.imagenet",),
    "data:fall_tests": DATA_FILES + ("vadlib.data.fall_tests", "vadlib.data.harbour"),
    "twin:mvtec_ad": ("vadlib.data.synthetic.mvtec",),
    "twin:dtd": ("vadlib.data.synthetic.dtd",),
    "twin:brats": ("vadlib.data.synthetic.brats",),
    "twin:video": ("vadlib.data.synthetic.video_anomaly",),
    "twin:thermal": ("vadlib.data.synthetic.thermal",),
    "twin:mot": ("vadlib.data.synthetic.mot",),
    "twin:imagenet100": ("vadlib.data.synthetic.imagenet",),
    "twin:fall_tests": ("vadlib.data.synthetic.fall_tests",),
}

#: dataset -> its data unit (the twin unit has the same suffix)
DATASET_UNITS: Mapping[str, str] = {
    "mvtec_ad": "mvtec_ad", "dtd": "dtd", "brats": "brats", "avenue": "video", "shanghaitech": "video",
    "ucsd_ped2": "video", "vad_tracks": "video", "thermal_rare_event": "thermal", "seasons_in_drift": "thermal",
    "imagenet100": "imagenet100", "intentional_fall": "fall_tests", "dummy_fall": "fall_tests",
    **{name: "mot" for name in ("mot15", "mot16", "mot17", "jde_caltech", "jde_citypersons", "jde_cuhksysu",
                                "jde_eth", "jde_prw")},
}


def data_units(datasets: Iterable[str], synthetic: bool) -> tuple[str, ...]:
    """The units of the loaders of ``datasets`` and, for synthetic data, of their twins' generators."""
    units = []
    for name in datasets:
        if name not in DATASET_UNITS:
            raise KeyError(f"dataset {name!r} has no code unit; add it to vadlib.runs.code.DATASET_UNITS")
        units.append(f"data:{DATASET_UNITS[name]}")
        if synthetic:
            units.append(f"twin:{DATASET_UNITS[name]}")
    return tuple(dict.fromkeys(units))


def _module_path(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"code unit module {module!r} not found; update vadlib.runs.code.UNITS")
    return Path(spec.origin)


def normalised_source(path: Path) -> str:
    """The module's code with comments, docstrings and layout removed (``ast.unparse``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def digest(unit: str) -> str:
    """sha256 over the normalised source of the unit's modules, in their listed order."""
    if unit not in UNITS:
        raise KeyError(f"unknown code unit {unit!r}; units: {', '.join(UNITS)}")
    h = hashlib.sha256()
    for module in UNITS[unit]:
        h.update(normalised_source(_module_path(module)).encode())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def load_lock(path: Path | None = None) -> dict[str, dict]:
    path = path or LOCK_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def save_lock(lock: Mapping[str, dict], path: Path | None = None) -> None:
    (path or LOCK_FILE).write_text(json.dumps(dict(sorted(lock.items())), indent=1) + "\n")


_VERSIONS: dict[str, int] | None = None


def versions(units: Iterable[str]) -> dict[str, int]:
    """{unit: version} of ``units``, from the lock file (read once per process; :func:`update`
    and :func:`reload` read it again)."""
    global _VERSIONS
    if _VERSIONS is None:
        _VERSIONS = {unit: entry["version"] for unit, entry in load_lock().items()}
    out = {}
    for unit in sorted(set(units)):
        if unit not in _VERSIONS:
            raise KeyError(f"code unit {unit!r} has no version in {LOCK_FILE.name}; "
                           f"run `vadlib runs code --bump {unit}`")
        out[unit] = _VERSIONS[unit]
    return out


def reload() -> None:
    """Forget the versions read so far (after the lock file changed)."""
    global _VERSIONS
    _VERSIONS = None


def status(path: Path | None = None) -> list[dict]:
    """Per unit: version, locked digest, current digest and whether they differ."""
    lock = load_lock(path)
    rows = []
    for unit in UNITS:
        entry = lock.get(unit, {})
        current = digest(unit)
        rows.append({"unit": unit, "version": entry.get("version"), "changed": entry.get("digest") != current,
                     "digest": current})
    return rows


def update(bump: Iterable[str] = (), accept: Iterable[str] = (), path: Path | None = None) -> dict[str, dict]:
    """Record the current digest of units: ``bump`` with version + 1 (their runs are recomputed),
    ``accept`` with the same version (a behaviour-preserving edit). New units start at version 1.
    Units that no longer exist are dropped."""
    global _VERSIONS
    lock = {unit: entry for unit, entry in load_lock(path).items() if unit in UNITS}
    for unit in list(bump) + list(accept):
        if unit not in UNITS:
            raise KeyError(f"unknown code unit {unit!r}; units: {', '.join(UNITS)}")
    for unit in bump:
        lock[unit] = {"version": lock.get(unit, {}).get("version", 0) + 1, "digest": digest(unit)}
    for unit in accept:
        lock[unit] = {"version": lock.get(unit, {}).get("version", 1), "digest": digest(unit)}
    save_lock(lock, path)
    _VERSIONS = None
    return lock
