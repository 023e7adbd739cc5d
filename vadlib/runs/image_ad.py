"""How one image anomaly-detection run works: one cached experiment per (host, block, dataset,
class), the runs behind Tables C.2, D.3 and D.4 (and their chapter-5 copies 5.1, 5.3).

A run trains a host (:mod:`vadlib.models.hosts`) on the normal training images of one MVTec AD
class (or the lesion-free BraTS slices), with SSPCAB or SSMCTB swapped in at the host's block sites
and weighted by the papers' λ, then scores the test images and reports

* detection AUROC: :func:`vadlib.metrics.image_auroc` of the image scores;
* localization AUROC and AP: :func:`vadlib.metrics.pixel_auroc` / :func:`~vadlib.metrics.pixel_ap`
  over every pixel of the class's test images (none for hosts that do not localise).

Schedules are the hosts' official ones, scaled by the profile's ``epoch_fraction`` and capped by
``max_steps``; the evaluation can be capped by ``eval_limit`` (both classes kept).

Which runs fill which printed table is the papers' business (:mod:`vadlib.papers.c_sspcab`,
:mod:`vadlib.papers.d_ssmctb`); they hand a :class:`TableSpec` to :func:`mvtec_table`.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from vadlib import metrics
from vadlib.data import DataSource, brats, mvtec, synthetic
from vadlib.data.dtd import DTDTextures
from vadlib.data.mvtec import MVTecAD
from vadlib.data.synthetic.mvtec import PLANS as MVTEC_TWIN_PLANS
from vadlib.models.blocks import make_block, replace_layer
from vadlib.models.cutpaste import ensemble_scores
from vadlib.models.hosts import ImageHost
from vadlib.models.registry import HostContext, create_host, host_class
from vadlib.models.schedule import Schedule
from vadlib.profiles import resolve_device
from vadlib.runs import code, experiment, timing
from vadlib.runs.experiment import Budget, Experiment, RunContext, cached_file, run_experiments
from vadlib.runs.train import data_loader, endless, train

BLOCK_KINDS = (None, "sspcab", "ssmctb")
#: where DRAEM (2D and 3D) puts SSPCAB: one instance in the discriminative network (T L2286,
#: supplementary L83; the default, one block as for SSMCTB) or "both" networks (T L2132); the
#: seed conflict is recorded in :mod:`vadlib.models.draem` and notebook 03
SSPCAB_NETWORKS = {"discriminative": ("discriminative",), "both": ("reconstructive", "discriminative")}
#: image channels of each dataset (BraTS: one MRI modality)
CHANNELS = {"mvtec_ad": 3, "brats": 1}


@dataclass(frozen=True)
class ImageAnomalyRun(Experiment):
    """Train ``host`` (± ``block``) on one class of ``dataset`` and evaluate it."""

    kind: ClassVar[str] = "image_ad"

    host: str
    block: str | None
    dataset: str  # mvtec_ad | brats
    category: str  # an MVTec AD class, or "brats"
    image_size: int = 64
    pretrained: bool = False
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"
    sspcab_networks: str = "discriminative"  # DRAEM hosts only: a key of SSPCAB_NETWORKS

    def code_units(self) -> tuple[str, ...]:
        datasets = [self.dataset] + (["dtd"] if self.uses_dtd else [])
        return ("run:image_ad", "train", f"host:{self.host}", "metrics:anomaly") + \
            (("blocks",) if self.block else ()) + code.data_units(datasets, self.data.synthetic)

    # ------------------------------------------------------------------ building blocks
    @property
    def host_type(self) -> type[ImageHost]:
        """The registered image host class ``host`` names."""
        return host_class(self.host, kind="image")

    @property
    def in_channels(self) -> int:
        """Channels of the dataset's images (:data:`CHANNELS`)."""
        if self.dataset not in CHANNELS:
            raise ValueError(f"dataset must be 'mvtec_ad' or 'brats', got {self.dataset!r}")
        return CHANNELS[self.dataset]

    @property
    def uses_dtd(self) -> bool:
        """DTD textures the synthetic anomalies of hosts that need an anomaly source, on MVTec AD
        (the RGB images DRAEM's recipe is for)."""
        return self.host_type.needs_anomaly_source and self.dataset == "mvtec_ad"

    def context(self, anomaly_source=None) -> HostContext:
        """What this run tells its host (:class:`vadlib.models.registry.HostContext`)."""
        return HostContext(size=self.budget.model_size, in_channels=self.in_channels, seed=self.seed,
                           dataset=self.dataset, category=self.category, anomaly_source=anomaly_source,
                           pretrained=self.pretrained, options=self.host_options)

    @property
    def host_options(self) -> tuple[tuple[str, Any], ...]:
        """Constructor options of the host this run sets: DRAEM's ``sspcab_networks``."""
        if self.sspcab_networks not in SSPCAB_NETWORKS:
            raise ValueError(f"sspcab_networks must be one of {tuple(SSPCAB_NETWORKS)}, got {self.sspcab_networks!r}")
        if "sspcab_networks" not in inspect.signature(self.host_type.__init__).parameters:
            if self.sspcab_networks != "discriminative":
                raise ValueError(f"sspcab_networks applies to DRAEM hosts only, not {self.host!r}")
            return ()
        return (("sspcab_networks", SSPCAB_NETWORKS[self.sspcab_networks]),)

    def _root(self):
        return self.data.locate(self.dataset)

    def _datasets(self, root):
        if self.dataset == "mvtec_ad":
            train = MVTecAD(root, self.category, "train", resize=self.image_size)
            test = MVTecAD(root, self.category, "test", resize=self.image_size)
        elif self.dataset == "brats":
            train_slices, test_slices = brats.thesis_split(root, seed=0)
            if self.host_type.dims == 3:  # lesion-free chunks of slices
                train_chunks, test_chunks = _volume_split(root, train_slices, test_slices)
                train = brats.BraTSVolumes(root, train_chunks, resize=self.image_size)
                test = brats.BraTSVolumes(root, test_chunks, resize=self.image_size)
                # scored: the 2D test population (slices with brain content), each slice once
                test.slice_owner = slice_owners(test_chunks, test_slices)
                test.slice_label = slice_labels(test_chunks, test_slices)
            else:
                train = brats.BraTSSlices(root, train_slices, resize=self.image_size)
                test = brats.BraTSSlices(root, test_slices, resize=self.image_size)
        else:
            raise ValueError(f"dataset must be 'mvtec_ad' or 'brats', got {self.dataset!r}")
        return train, test

    def build_host(self, anomaly_source=None) -> ImageHost:
        """The host built from :meth:`context`, with ``block`` (its 3D form for a 3D host) at the
        host's sites for that block."""
        if self.block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {BLOCK_KINDS}, got {self.block!r}")
        host = create_host(self.host, self.context(anomaly_source), kind="image")
        if self.block:
            kind = self.block + ("3d" if host.dims == 3 else "")
            for site in host.block_sites_for(kind):
                layer = host.get_submodule(site)
                replace_layer(host, site, make_block(kind, layer.out_channels))
        return host

    def schedule(self) -> Schedule:
        """The host's official schedule for this run (:meth:`ImageHost.schedule_for`)."""
        return self.host_type.schedule_for(self.context())

    def _anomaly_source(self):
        if not self.uses_dtd:
            return None
        return DTDTextures(self.data.locate("dtd"), resize=self.image_size)

    def total_steps(self, n_train: int, batch_size: int, epochs: int) -> int:
        """Optimisation steps: the official epochs × steps per epoch (a pass over the data, or the
        host's own ``steps_per_epoch`` as for CutPaste), scaled by ``epoch_fraction``, capped."""
        per_epoch = self.host_type.steps_per_epoch or math.ceil(n_train / batch_size)
        return self.budget.steps(epochs, per_epoch)

    # ------------------------------------------------------------------ the experiment
    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        root = self._root()
        train_set, test_set = self._datasets(root)
        host = self.build_host(self._anomaly_source())
        schedule = self.schedule()
        loader = data_loader(train_set, schedule.batch_size, shuffle=True, seed=self.seed)
        steps = self.total_steps(len(train_set), schedule.batch_size, schedule.epochs)
        history = train(host, lambda batch: host.training_loss(_images(batch, self.device)),
                        endless(loader), schedule=schedule, total_steps=steps,
                        block_weight=host.block_weight if self.block else 0.0, ctx=ctx,
                        device=self.device, description=f"{self.host} {self.block or ''} {self.category}")
        host.eval()
        host.fit_normal(_images(batch, self.device) for batch in data_loader(train_set, schedule.batch_size))
        evaluation = evaluate(host, test_set, self.budget.eval_limit, self.seed, self.device)
        save_examples(ctx, evaluation.pop("examples"))
        with torch.no_grad():  # scores of the normal training images: the reference of ensembles
            normal_scores = [float(v) for batch in data_loader(train_set, 8)
                             for v in item_scores(host, _images(batch, self.device))[0].flatten().cpu()]
        return {**evaluation, "normal_scores": normal_scores, "train_steps": steps, "n_train": len(train_set),
                "loss_first": history[0]["loss"] if history else None,
                "loss_last": history[-1]["loss"] if history else None,
                "schedule": schedule.source, "pretrained": self.pretrained,
                "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One training and one evaluation step at this config's sizes on a synthetic twin."""
        # the tiny BraTS twin has no lesion-free 16-slice chunk for 3D training: use the smoke twin
        root = synthetic.generate(self.dataset, size="smoke" if self.dataset == "brats" else "tiny", seed=0)
        twin = replace(self, data=DataSource(), category=_twin_class(self.dataset, self.category, root))
        train_set, test_set = twin._datasets(root)
        host = self.build_host()
        schedule = self.schedule()
        started = time.perf_counter()
        train(host, lambda batch: host.training_loss(_images(batch, "cpu")),
              endless(data_loader(train_set, min(schedule.batch_size, 2), shuffle=True)),
              schedule=schedule, total_steps=1, block_weight=host.block_weight if self.block else 0.0,
              progress=False)
        host.eval()
        host.fit_normal([_images(next(iter(data_loader(train_set, 4))), "cpu")])
        with torch.no_grad():
            host.score(_images(next(iter(data_loader(test_set, 2))), "cpu"))
        return {"parameters": sum(p.numel() for p in host.parameters()),
                "step_time_s": round(time.perf_counter() - started, 3)}

    def dry_run_key(self) -> str:
        """Classes and seeds change only the data and the initialisation: one dry run per model."""
        return f"{self.host}/{self.block}/{self.dataset}/{self.budget.model_size}/{self.image_size}"

    def gpu_hours(self) -> float:
        """Rough: the official number of steps at ~0.15 s per step on one modern GPU (paper size)."""
        cls = self.host_type
        schedule = cls.schedule("paper")
        n_train = {"mvtec_ad": 240, "brats": 11280}[self.dataset]  # MVTec: mean per class (3629/15)
        per_epoch = cls.steps_per_epoch or math.ceil(n_train / schedule.batch_size)
        steps = schedule.epochs * self.budget.epoch_fraction * per_epoch
        if self.budget.max_steps:
            steps = min(steps, self.budget.max_steps)
        return steps * 0.15 / 3600


def _twin_class(dataset: str, category: str, root) -> str:
    """A class of the tiny twin standing in for ``category`` (a texture for a texture)."""
    if dataset != "mvtec_ad":
        return category
    present = mvtec.categories_present(root)
    if category in present:
        return category
    same_kind = [c for c in present if (c in mvtec.TEXTURE_CATEGORIES) == (category in mvtec.TEXTURE_CATEGORIES)]
    return (same_kind or present)[0]


def _volume_split(root, train_slices, test_slices):
    train = brats.volume_index(root, sorted(train_slices.scan.unique()))
    test = brats.volume_index(root, sorted(test_slices.scan.unique()))
    return train[~train.has_lesion].reset_index(drop=True), test


def slice_owners(chunks: pd.DataFrame, population: pd.DataFrame) -> list[np.ndarray]:
    """Per chunk (row of ``chunks``: scan, start, stop), a boolean mask over its slices: True where
    the slice belongs to ``population`` (rows with scan, slice) and this chunk is the first that
    covers it. 3D DRAEM's slice scores then cover exactly the 2D rows' slices, each once, although
    :func:`vadlib.data.brats.volume_index` lets the last chunk of a scan overlap its predecessor."""
    wanted = set(zip(population.scan.astype(str), population.slice.astype(int)))
    seen: set[tuple[str, int]] = set()
    owners = []
    for chunk in chunks.sort_values(["scan", "start"]).itertuples():
        ids = [(str(chunk.scan), s) for s in range(int(chunk.start), int(chunk.stop))]
        owners.append((chunk.Index, np.array([i in wanted and i not in seen for i in ids])))
        seen.update(ids)
    return [mask for _, mask in sorted(owners, key=lambda pair: pair[0])]


def slice_labels(chunks: pd.DataFrame, population: pd.DataFrame) -> list[np.ndarray]:
    """Per chunk, the 2D detection label of each of its slices (``population.label``: a tumour
    voxel in the slice at full resolution; 0 outside the population), so that 3D and 2D rows
    score the same slices against the same labels (a resized mask can lose a small lesion)."""
    label = dict(zip(zip(population.scan.astype(str), population.slice.astype(int)), population.label.astype(int)))
    return [np.array([label.get((str(c.scan), s), 0) for s in range(int(c.start), int(c.stop))])
            for c in chunks.itertuples()]


def _slice_ids(test_set, chosen: np.ndarray) -> list[list] | None:
    """The (scan, slice) ids of the BraTS slices a run scores, in scoring order (None elsewhere)."""
    owners = getattr(test_set, "slice_owner", None)
    if owners is not None:
        chunks = test_set.chunks
        return [[str(chunks.scan[i]), int(chunks.start[i]) + int(j)] for i in chosen
                for j in np.flatnonzero(owners[i])]
    slices = getattr(test_set, "slices", None)
    if slices is not None and {"scan", "slice"} <= set(slices.columns):
        return [[str(slices.scan[i]), int(slices.slice[i])] for i in chosen]
    return None


def _images(batch, device: str) -> torch.Tensor:
    images = batch["image"] if "image" in batch else batch["volume"]
    return images.to(device)


def evaluation_subset(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most ``limit`` indices, drawn without replacement, keeping both classes."""
    everything = np.arange(len(labels))
    if limit is None or limit >= len(labels):
        return everything
    rng = np.random.default_rng(seed)
    picked = rng.permutation(everything)[:limit]
    for cls in (0, 1):  # make sure each class is represented
        if cls in labels and cls not in labels[picked]:
            picked[-1 - cls] = rng.choice(everything[labels == cls])
    return np.sort(picked)


EXAMPLES = {"abnormal": 6, "normal": 2}  # test images whose maps a run keeps for the figures


def _example_positions(labels: np.ndarray, seed: int) -> np.ndarray:
    """Positions (in evaluation order) of the test items kept as qualitative examples: up to
    ``EXAMPLES`` of each class, drawn with ``seed`` so every block variant shows the same images."""
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == value))[:EXAMPLES[name]]
              for name, value in (("abnormal", 1), ("normal", 0))]
    return np.sort(np.concatenate(picked)).astype(int)


def example_slice(image: torch.Tensor, mask: torch.Tensor | None) -> int:
    """The slice of a volume (C, D, H, W) to show: the one with the largest lesion, else the middle."""
    if mask is not None and mask.any():
        return int(mask.flatten(2).sum(-1).sum(0).argmax()) if mask.dim() == 4 else int(mask.sum((-2, -1)).argmax())
    return image.shape[1] // 2


def item_scores(host: ImageHost, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(scores, maps) of what a run evaluates: one score per image, or per slice of each volume
    for a 3D host (``dims == 3``: N×D, :meth:`ImageHost.score_slices`)."""
    return host.score_slices(images) if host.dims == 3 else host.score(images)


def evaluate(host: ImageHost, test_set, limit: int | None, seed: int, device: str = "cpu") -> dict[str, Any]:
    """Detection AUROC and localization AUROC/AP of ``host`` on ``test_set`` (per slice for a 3D
    host, whose test items are volumes: a slice is abnormal where its mask is).

    A 3D host's slices are restricted to its test set's ``slice_owner`` masks where it has them
    (:func:`slice_owners`: the 2D population, each slice once); ``slice_ids`` lists the scored
    (scan, slice) ids of BraTS runs. The result's ``examples`` holds a few test images with their ground truth and anomaly maps
    (arrays, see :data:`EXAMPLES`) for the qualitative figures; ``run`` stores them beside the results.
    """
    per_slice = host.dims == 3
    owners = getattr(test_set, "slice_owner", None) if per_slice else None
    labels_all = np.array([_label(test_set, i) for i in range(len(test_set))])
    chosen = evaluation_subset(labels_all, limit, seed)
    keep = set(_example_positions(labels_all[chosen], seed).tolist())
    subset = torch.utils.data.Subset(test_set, chosen.tolist())
    scores, labels, maps, masks = [], [], [], []
    examples: dict[str, list] = {"image": [], "mask": [], "map": [], "score": [], "label": [], "index": []}
    position = 0
    with torch.no_grad():
        for batch in data_loader(subset, 8):
            images = _images(batch, device)
            image_scores, voxel_maps = item_scores(host, images)
            if per_slice:
                owned = torch.ones(image_scores.shape, dtype=torch.bool)
                slice_label = (batch["mask"].flatten(2).amax(-1) > 0).long()
                if owners is not None:
                    items = [int(chosen[position + i]) for i in range(len(images))]
                    owned = torch.from_numpy(np.stack([owners[i] for i in items]))
                    slice_label = torch.from_numpy(np.stack([test_set.slice_label[i] for i in items])).long()
                scores.append(image_scores.cpu()[owned])
                labels.append(slice_label[owned])
            else:
                scores.append(image_scores.cpu())
                labels.append(batch["label"])
            if voxel_maps is not None:
                if per_slice:
                    maps.append(voxel_maps.cpu().float()[owned].numpy())
                    masks.append(batch["mask"][owned].numpy() > 0)
                else:
                    maps.append(voxel_maps.cpu().float().numpy())
                    masks.append(batch["mask"].numpy() > 0)
            for i in range(len(images)):
                if position + i in keep:
                    _keep_example(examples, images[i].cpu(), batch.get("mask"), voxel_maps, image_scores,
                                  i, int(batch["label"][i]), int(chosen[position + i]), per_slice)
            position += len(images)
    scores_np, labels_np = torch.cat(scores).numpy(), torch.cat(labels).numpy()
    result = {"det_auroc": metrics.image_auroc(labels_np, scores_np), "n_test": int(len(labels_np)),
              "n_abnormal": int(labels_np.sum()), "loc_auroc": None, "loc_ap": None,
              "scores": [float(v) for v in scores_np], "labels": [int(v) for v in labels_np],
              "slice_ids": _slice_ids(test_set, chosen),
              "examples": {k: np.stack(v) if k in ("image", "mask", "map") and v and v[0] is not None
                           else np.asarray(v) for k, v in examples.items()}}
    if maps:
        pixel_maps, pixel_masks = np.concatenate(maps), np.concatenate(masks)
        if pixel_masks.any():
            result["loc_auroc"] = metrics.pixel_auroc(pixel_masks, pixel_maps)
            result["loc_ap"] = metrics.pixel_ap(pixel_masks, pixel_maps)
    return result


def _keep_example(examples, image, masks, maps, scores, i, label, index, per_slice):
    """Append item ``i`` of a batch to ``examples`` (a 2D slice for volumes), as compact arrays."""
    mask = masks[i] if masks is not None else None
    voxel_map = maps[i].cpu().float() if maps is not None else None
    score = scores[i]
    if per_slice:  # (C, D, H, W): show one slice, scored as the host scores slices
        depth = example_slice(image, mask)
        image, score = image[:, depth], score[depth]
        mask = mask[..., depth, :, :] if mask is not None else None
        voxel_map = voxel_map[..., depth, :, :] if voxel_map is not None else None
        label = int(mask.any()) if mask is not None else label
    examples["image"].append(image.float().numpy().astype(np.float16))
    examples["mask"].append(None if mask is None else (mask.numpy() > 0).reshape(mask.shape[-2:]))
    examples["map"].append(None if voxel_map is None else voxel_map.numpy().reshape(voxel_map.shape[-2:]).astype(np.float16))
    examples["score"].append(float(score))
    examples["label"].append(label)
    examples["index"].append(index)


def save_examples(ctx: RunContext, examples: dict[str, np.ndarray]) -> None:
    """Store a run's qualitative examples as ``examples.npz`` in its run directory."""
    arrays = {k: v for k, v in examples.items() if v.dtype != object}
    ctx.write_file(EXAMPLES_FILE, lambda stream: np.savez_compressed(stream, **arrays))


def _read_examples(path) -> dict[str, np.ndarray]:
    with np.load(path) as stored:
        return {k: stored[k] for k in stored.files}


def load_examples(config: ImageAnomalyRun) -> dict[str, np.ndarray]:
    """The qualitative examples of ``config``'s run, running it first if it is not cached.

    Keys: ``image`` (N, C, H, W), ``mask`` and ``map`` (N, H, W; absent for hosts without maps),
    ``score``, ``label`` and ``index`` (position in the test set), in test-set order.
    """
    return cached_file(config, EXAMPLES_FILE, _read_examples)


EXAMPLES_FILE = "examples.npz"


def _label(dataset, index: int) -> int:
    """The label of one item without decoding images where the dataset keeps an index."""
    for attribute in ("frame", "table", "rows", "slices", "chunks", "index"):
        table = getattr(dataset, attribute, None)
        if table is not None and hasattr(table, "columns") and "label" in table.columns:
            return int(table["label"].iloc[index])
    return int(dataset[index]["label"])


def ensemble_auroc(members: list[ImageAnomalyRun], results: dict) -> float:
    """Detection AUROC of an ensemble: each member's test scores standardised with its own
    normal-training scores, then averaged (:func:`vadlib.models.cutpaste.ensemble_scores`)."""
    scored = [results[m] for m in members]
    labels = np.asarray(scored[0]["labels"])
    combined = ensemble_scores([np.asarray(r["scores"]) for r in scored],
                               [np.asarray(r["normal_scores"]) for r in scored])
    return metrics.image_auroc(labels, combined)


# ------------------------------------------------------------------ runs of a profile, per-class tables
ENSEMBLE_SEEDS = (0, 1, 2, 3, 4)  # CutPaste's ensemble of five 3-way models (Table C.2)
IMAGE_SIZE = {"paper": 256, "tiny": 64}  # DRAEM, NSA and CutPaste evaluate MVTec AD at 256×256
# 3D DRAEM: Paper D gives no input size; at 256² a 16-slice chunk of the paper-width network needs
# ~85 GB of activations, so volumes are resized to 64² in plane (our choice, ~5 GB per batch of 8)
IMAGE_SIZE_3D = {"paper": 64, "tiny": 32}


def image_size(host: str, model_size: str) -> int:
    """Input side of ``host`` at ``model_size`` (in plane for 3D DRAEM's volumes)."""
    return (IMAGE_SIZE_3D if host_class(host, kind="image").dims == 3 else IMAGE_SIZE)[model_size]


def class_display(category: str) -> str:
    """MVTec AD folder name → the table's class label ('metal_nut' → 'Metal Nut')."""
    return category.replace("_", " ").title()


def mvtec_classes(settings) -> list[str]:
    """The MVTec AD classes a profile runs: all 15 (or the twin's), textures and objects
    alternating, cut to ``settings.class_limit``."""
    if settings.data_source == "synthetic":
        available = sorted(MVTEC_TWIN_PLANS["smoke"].defects)
    else:
        available = list(mvtec.CATEGORIES)
    textures = [c for c in available if c in mvtec.TEXTURE_CATEGORIES]
    objects = [c for c in available if c not in mvtec.TEXTURE_CATEGORIES]
    interleaved = [c for pair in zip(textures, objects) for c in pair]
    interleaved += [c for c in available if c not in interleaved]
    return interleaved[: settings.class_limit] if settings.class_limit else interleaved


def run_config(settings, host: str, block: str | None, dataset: str, category: str,
               seed: int | None = None) -> ImageAnomalyRun:
    """The run of ``host`` ± ``block`` on one class under a profile's settings (``seed``: the
    profile's unless given, as for the members of CutPaste's ensemble)."""
    return ImageAnomalyRun(
        host=host, block=block, dataset=dataset, category=category,
        image_size=image_size(host, settings.model_size),
        budget=Budget.from_settings(settings), data=DataSource.from_settings(settings),
        seed=settings.seed if seed is None else seed, device=resolve_device(settings.device))


METRIC_LABELS = {"det_auroc": "det AUROC", "loc_auroc": "loc AUROC", "loc_ap": "loc AP"}


def model_label(host: str, block: str | None) -> str:
    """'draem', 'sspcab' → 'DRAEM + SSPCAB' (the host's ``label``; a 3D host's block is the 3D one)."""
    cls = host_class(host, kind="image")
    if not block:
        return cls.label
    return f"{cls.label} + {'3D ' if cls.dims == 3 else ''}{block.upper()}"


def run_examples(settings, host: str, block: str | None, dataset: str = "mvtec_ad",
                 category: str = "brats") -> dict[str, np.ndarray]:
    """The qualitative examples of one table run (the cached run's, or it runs now)."""
    return load_examples(run_config(settings, host, block, dataset, category))


def column_name(host: str, block: str | None, metric: str) -> str:
    """The printed column of a per-class table: 'draem', 'sspcab', 'loc_ap' → 'DRAEM+SSPCAB loc AP'."""
    name = host_class(host, kind="image").label + (f"+{block.upper()}" if block else "")
    return f"{name} {METRIC_LABELS[metric]}"


def ensemble_column(block: str | None) -> str:
    """The printed column of the CutPaste ensemble's detection AUROC (± SSPCAB)."""
    return "CutPaste ensemble" + ("+SSPCAB" if block else "") + " det AUROC"


@dataclass(frozen=True)
class TableSpec:
    """Which (host, block) pairs and metrics fill a per-class MVTec AD table."""

    table_id: str
    cells: tuple[tuple[str, str | None, str], ...]  # (host, block, metric)
    ensemble: bool = False  # add CutPaste ensemble columns


def mvtec_runs(settings, spec: TableSpec) -> list[ImageAnomalyRun]:
    """The runs of ``spec``'s cells for every class the profile runs, each once."""
    runs = []
    pairs = list(dict.fromkeys((h, b) for h, b, _ in spec.cells))
    for category in mvtec_classes(settings):
        for host, block in pairs:
            seeds = ENSEMBLE_SEEDS if (spec.ensemble and host == "cutpaste") else (None,)
            runs += [run_config(settings, host, block, "mvtec_ad", category, seed=s) for s in seeds]
    return list(dict.fromkeys(runs))


def mvtec_table(settings, spec: TableSpec) -> pd.DataFrame:
    """Reproduced cells of a per-class MVTec AD table (in %), one row per class that was run.

    The Overall row (the unweighted mean of the 15 classes, as printed) is filled only when all
    15 classes ran; a mean over fewer classes would be another quantity under the same label.
    """
    runs = mvtec_runs(settings, spec)
    results = dict(zip(runs, run_experiments(runs)))
    rows = []
    for category in mvtec_classes(settings):
        row = {"Group": "Texture" if category in mvtec.TEXTURE_CATEGORIES else "Object",
               "Class": class_display(category)}
        for host, block, metric in spec.cells:
            value = results[run_config(settings, host, block, "mvtec_ad", category)][metric]
            row[column_name(host, block, metric)] = None if value is None else 100 * value
        if spec.ensemble:
            for block in (None, "sspcab"):
                row[ensemble_column(block)] = 100 * ensemble_auroc(
                    [run_config(settings, "cutpaste", block, "mvtec_ad", category, seed=s)
                     for s in ENSEMBLE_SEEDS], results)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if set(mvtec_classes(settings)) == set(mvtec.CATEGORIES):
        overall = {"Group": None, "Class": "Overall", **frame.drop(columns=["Group", "Class"]).mean()}
        frame = pd.concat([frame, pd.DataFrame([overall])], ignore_index=True)
    return frame


def percent(value):
    """A fraction in %, None staying None (a metric the run could not compute)."""
    return None if value is None else 100 * value


# ------------------------------------------------------------------ inference time (Table D.7)
def inference_times(model_size: str, device: str, pairs=None, batch_size: int = 1, repeats: int = 7) -> pd.DataFrame:
    """Inference time per example of the image hosts with and without each block (in ms), and
    the relative expansion over the same host without a block (in %), on ``device``.

    Hosts are built at ``model_size`` and its input size with random weights (time does not
    depend on them) and timed on random inputs in alternation (:mod:`vadlib.runs.timing`). One
    example is one image, or one 16-slice chunk for 3D DRAEM.
    """
    pairs = pairs or [(h, b) for h in ("draem", "nsa", "cutpaste") for b in BLOCK_KINDS] + [
        ("draem3d", None), ("draem3d", "ssmctb")]
    by_host: dict[str, list] = {}
    for host, block in pairs:
        by_host.setdefault(host, []).append(block)
    rows = []
    for host, blocks in by_host.items():
        cls = host_class(host, kind="image")
        volumes = cls.dims == 3
        config = ImageAnomalyRun(host, None, "brats" if volumes else "mvtec_ad", "bottle",
                                 image_size=image_size(host, model_size), budget=Budget(model_size=model_size),
                                 device=device)
        size = config.image_size
        shape = (batch_size, config.in_channels) + ((16,) if volumes else ()) + (size, size)
        batch = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
        scorers = {}
        for block in blocks:
            model = replace(config, block=block).build_host().to(device).eval()
            with torch.no_grad():
                model.fit_normal([batch.repeat(2, *([1] * (batch.dim() - 1)))])
            scorers[block] = model.score_slices if volumes else model.score
        measured = timing.ms_per_example_round_robin(scorers, batch, repeats=repeats)
        for block in blocks:
            base = measured.get(None)
            rows.append({"Host": cls.label, "Block": block or "—",
                         "ms per example": measured[block],
                         "Relative expansion (%)": None if base is None or block is None
                         else timing.relative_expansion(measured[block], base)})
    return pd.DataFrame(rows)


INFERENCE_UNITS = ("blocks", "host:draem", "host:draem3d", "host:nsa", "host:cutpaste")


def measured_inference_times(settings) -> pd.DataFrame:
    """:func:`inference_times` at the profile's model size on its device, measured once and
    cached (measurement ``image_inference_times`` of :mod:`vadlib.runs.timing`), so reruns
    reproduce the same table."""
    return pd.DataFrame(experiment.execute(inference_times_measurement(settings))["rows"])


def inference_times_measurement(settings) -> timing.Measurement:
    """The cached measurement behind :func:`measured_inference_times`."""
    return timing.measurement("image_inference_times", units=INFERENCE_UNITS, model_size=settings.model_size,
                              device=resolve_device(settings.device))
