"""How one of Paper F's pre-training runs runs: MAE or CM-MAE on the ImageNet-100 subset, evaluated by k-NN.

One cached experiment per (method, curriculum, loss weights): pre-train
:class:`vadlib.models.mae.MAE` or :class:`vadlib.models.curriculum_masking.CMMAE` with
:func:`vadlib.runs.train.train`, then classify the validation images by their 5 nearest training
images in the frozen encoder's mean-pooled features (:mod:`vadlib.metrics.knn`): Acc@1 by majority
vote and the thesis's "Acc@5" (any of the 5 neighbours right), the "zero-shot" accuracies of
Tables F.1–F.6 and 4.1, plus a linear probe as an extra column. Which runs fill which table is
:mod:`vadlib.papers.f_cm_mae`'s business.

The curriculum is defined in the paper's epochs (200, η = 50 ...). A run that trains fewer steps
(smoke, quick) maps its steps onto those 200 epochs: step s of S is epoch ⌊s·200/S⌋, so every
curriculum stage happens, compressed (``stop_epoch`` stops after the steps of that many paper
epochs: Fig. F.2's first-epoch reconstructions). Along the run, ``eval_points`` k-NN evaluations on a
subsample give the accuracy curve, and the masks and reconstructions of four fixed validation
images are kept for the figures (``masks.npz`` in the run directory).

MAE and CM-MAE share the interface the run uses: ``set_epoch`` (a no-op for MAE), ``masks``
(scores and masking: MAE's random one, CM-MAE's top-K of its module's scores) and
``autoencoder`` (the MAE that reconstructs).

Augmentation [X: the thesis names none; CM-MAE follows MAE, so MAE's pre-training recipe]: the
images the model trains on are random-resized crops (area 20–100 %, bicubic) with a horizontal
flip (``augment="mae"``, :class:`vadlib.data.imagenet.ImageNetFolder`), drawn from the run's seeded
torch generator; every evaluation (k-NN gallery and queries, linear probe, the shown images) uses
the deterministic short-side resize + centre crop. ``augment=None`` trains on the centre crops.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch

from vadlib.data import DataSource
from vadlib.data.imagenet import ImageNetFolder
from vadlib.metrics import knn as knn_metrics
from vadlib.models.curriculum_masking import CMMAE, CurriculumSchedule
from vadlib.models.mae import MAE
from vadlib.profiles import resolve_device
from vadlib.runs import code
from vadlib.runs.experiment import Budget, Experiment, RunContext, cached_file
from vadlib.runs.train import data_loader, endless, train

IMAGE_SIZE = {"paper": 224, "tiny": 32}
PAPER_EPOCHS = 200  # the thesis's ablations and Table F.4 train 200 epochs (T 3483, 3505)
MASKS_FILE = "masks.npz"
SHOWN_IMAGES = 4
CURVE_SUBSAMPLE = 2000  # gallery images for the k-NN curve along training (the final one uses all)


@dataclass(frozen=True)
class PretrainRun(Experiment):
    """Pre-train MAE (``method="mae"``) or CM-MAE and evaluate it by k-NN."""

    kind: ClassVar[str] = "pretraining"

    def code_units(self) -> tuple[str, ...]:
        return ("run:pretraining", "train", "model:mae") + code.data_units(["imagenet100"], self.data.synthetic)

    method: str = "mae"  # mae | cm_mae
    curriculum: tuple[tuple[str, Any], ...] = ()  # CurriculumSchedule arguments
    model_options: tuple[tuple[str, Any], ...] = ()  # CMMAE arguments (loss weights ...)
    image_size: int = 32
    augment: str | None = "mae"  # pre-training augmentation (ImageNetFolder's), None: none
    stop_epoch: int | None = None  # train only the steps of the first stop_epoch paper epochs (Fig. F.2)
    eval_points: int = 5
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def _classes(self):
        return None if self.data.kind == "synthetic" else "imagenet100"

    def datasets(self) -> tuple[ImageNetFolder, ImageNetFolder]:
        """(train, val) splits as evaluated (no augmentation): every class of the synthetic twin,
        the 100-class subset of the real set."""
        root = self.data.locate("imagenet100")
        return (ImageNetFolder(root, "train", classes=self._classes(), resize=self.image_size),
                ImageNetFolder(root, "val", classes=self._classes(), resize=self.image_size))

    def pretrain_set(self) -> ImageNetFolder:
        """The training split as pre-training sees it: with the run's augmentation."""
        return ImageNetFolder(self.data.locate("imagenet100"), "train", classes=self._classes(),
                              resize=self.image_size, augment=self.augment)

    def build_model(self) -> MAE | CMMAE:
        if self.method == "mae":
            return MAE(self.budget.model_size, seed=self.seed, img_size=self.image_size)
        if self.method == "cm_mae":
            return CMMAE(self.budget.model_size, seed=self.seed, img_size=self.image_size,
                         curriculum=CurriculumSchedule(**dict(self.curriculum)), **dict(self.model_options))
        raise ValueError(f"method must be 'mae' or 'cm_mae', got {self.method!r}")

    def schedule(self):
        return MAE.schedule(self.budget.model_size)

    def total_steps(self, n_train: int, schedule) -> int:
        return self.budget.steps(schedule.epochs, math.ceil(n_train / schedule.batch_size))

    # ------------------------------------------------------------------ the experiment
    def run(self, ctx: RunContext) -> dict[str, Any]:
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        train_set, val_set = self.datasets()
        pretrain_set = self.pretrain_set()
        model = self.build_model().to(self.device)
        schedule = self.schedule()
        full_steps = self.total_steps(len(train_set), schedule)  # the steps of all PAPER_EPOCHS
        steps = full_steps if self.stop_epoch is None else max(1, math.ceil(full_steps * self.stop_epoch / PAPER_EPOCHS))
        shown = torch.stack([val_set[i]["image"] for i in spread(len(val_set), SHOWN_IMAGES)]).to(self.device)
        snapshots: dict[str, list] = {"epoch": [], "scores": [], "recon": [], "visible": []}
        checkpoints = set(np.linspace(0, steps - 1, self.eval_points).round().astype(int).tolist())

        def on_step(step: int, logs: dict) -> dict | None:
            epoch = min(PAPER_EPOCHS - 1, (step + 1) * PAPER_EPOCHS // full_steps)
            model.set_epoch(epoch)
            if step not in checkpoints:
                return None
            model.eval()
            snapshot(model, shown, snapshots, epoch)
            accuracy = knn(model, train_set, val_set, CURVE_SUBSAMPLE, self.budget.eval_limit, self.device)
            model.train()
            return {"paper_epoch": epoch, "knn_acc1": accuracy["acc@1"], "knn_acc5": accuracy["acc@5"]}

        history = train(model, lambda batch: model.training_loss(batch["image"].to(self.device)),
                        endless(data_loader(pretrain_set, schedule.batch_size, shuffle=True, seed=self.seed)),
                        schedule=schedule, total_steps=steps, ctx=ctx, device=self.device,
                        description=f"{self.method} pre-training", on_step=on_step)
        model.eval()
        final = knn(model, train_set, val_set, None, self.budget.eval_limit, self.device, probe=True)
        kept = {"images": shown.cpu().numpy().astype(np.float16), **{k: np.asarray(v) for k, v in snapshots.items()}}
        ctx.write_file(MASKS_FILE, lambda stream: np.savez_compressed(stream, **kept))
        curve = [{k: h.get(k) for k in ("step", "paper_epoch", "loss", "mae_loss", "masked_fraction", "cmm_loss",
                                        "prog_rec", "gauss", "kl", "div", "w_prog", "z_mean", "z_binary",
                                        "knn_acc1", "knn_acc5")} for h in history]
        return {"acc1": final["acc@1"], "acc5": final["acc@5"], "linear_probe": final["linear_probe"]["acc@1"],
                "train_steps": steps, "n_train": len(train_set), "n_val": len(val_set), "history": curve,
                "schedule": schedule.source, "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One pre-training step and one k-NN evaluation at this config's sizes on the smoke twin."""
        twin = replace(self, data=DataSource())
        train_set, val_set = twin.datasets()
        model = twin.build_model()
        started = time.perf_counter()
        train(model, lambda batch: model.training_loss(batch["image"]),
              endless(data_loader(twin.pretrain_set(), 2, shuffle=True)), schedule=self.schedule(), total_steps=1,
              progress=False)
        model.eval()
        knn(model, train_set, val_set, 8, 4, "cpu")
        return {"parameters": sum(p.numel() for p in model.parameters()),
                "step_time_s": round(time.perf_counter() - started, 3)}

    def dry_run_key(self) -> str:
        """One dry run per method and size: curricula and loss weights change numbers, not shapes."""
        return f"{self.method}/{self.budget.model_size}/{self.image_size}"

    def gpu_hours(self) -> float:
        """Rough: MAE ViT-B/16 pre-training runs ~1,000 images/s on one modern GPU (MAE's 1600
        epochs of ImageNet-1k take ~ a day on 64 V100s); CM-MAE's masking module adds ~30 %."""
        images = 126_689 * PAPER_EPOCHS * self.budget.epoch_fraction  # ImageNet-100 train images
        if self.budget.max_steps:
            images = min(images, self.budget.max_steps * self.schedule().batch_size)
        return images / 1000 / 3600 * (1.3 if self.method == "cm_mae" else 1.0)


def run_config(settings, spec: tuple) -> PretrainRun:
    """The run of ``spec`` = ``(method, curriculum items, model option items)`` under a profile's settings."""
    method, curriculum, options = spec
    return PretrainRun(method=method, curriculum=curriculum, model_options=options,
                       image_size=IMAGE_SIZE[settings.model_size], budget=Budget.from_settings(settings),
                       data=DataSource.from_settings(settings),
                       seed=settings.seed, device=resolve_device(settings.device))


def spread(n: int, k: int) -> list[int]:
    """Up to ``k`` distinct indices of ``0 … n-1``, evenly spread, first and last included."""
    return sorted(set(np.linspace(0, n - 1, min(k, n)).round().astype(int).tolist()))


def knn(model, train_set, val_set, gallery_limit: int | None, test_limit: int | None, device: str,
        probe: bool = False) -> dict[str, float]:
    """k-NN (k = 5) accuracies (%) of ``model``'s frozen features: the training images are the
    gallery, the validation images the queries (each capped, spread over the set); with ``probe``
    also the linear probe's (``result["linear_probe"]``)."""
    gallery = spread(len(train_set), gallery_limit or len(train_set))
    queries = spread(len(val_set), test_limit or len(val_set))
    train_x, train_y = knn_metrics.dataset_features(model, train_set, gallery, device=device)
    test_x, test_y = knn_metrics.dataset_features(model, val_set, queries, device=device)
    result = dict(knn_metrics.knn_accuracy(train_x, train_y, test_x, test_y, k=5))
    if probe:
        result["linear_probe"] = knn_metrics.linear_probe_accuracy(train_x, train_y, test_x, test_y)
    return result


def snapshot(model: MAE | CMMAE, images: torch.Tensor, snapshots: dict[str, list], epoch: int) -> None:
    """Append to ``snapshots`` the masks of ``images`` now (``scores``: the masking module's, or
    the visibility of MAE's random mask; ``visible``: 1 where a patch is visible) and the
    reconstructions (``recon``)."""
    with torch.no_grad():
        scores, masking = model.masks(images)
        mae = model.autoencoder
        _, pred, _ = mae(images, ids_keep=masking.ids_keep)
        recon = reconstruction(mae, images, pred, masking.mask)
    snapshots["epoch"].append(epoch)
    snapshots["scores"].append(scores.cpu().numpy().astype(np.float16))
    snapshots["visible"].append((1.0 - masking.mask).cpu().numpy().astype(np.uint8))
    snapshots["recon"].append(recon.clamp(0, 1).cpu().numpy().astype(np.float16))


def reconstruction(mae: MAE, images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What MAE's figures show: the visible patches of the image, and in the masked ones the
    prediction mapped back to pixels (with ``norm_pix_loss`` each predicted patch is de-normalised
    by its target patch's mean and variance, then the input normalisation is undone)."""
    target = mae.patchify(mae.preprocess(images))
    if mae.norm_pix_loss:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        pred = pred * (var + 1e-6).sqrt() + mean
    mixed = torch.where(mask.bool()[..., None], pred, target)
    pixels = mae.unpatchify(mixed)
    if mae.normalize:
        pixels = pixels * mae.pixel_std + mae.pixel_mean
    return pixels


def _load_npz(path) -> dict[str, np.ndarray]:
    with np.load(path) as stored:
        return {k: stored[k] for k in stored.files}


def load_masks(config: PretrainRun) -> dict[str, np.ndarray]:
    """The masks/reconstructions a run kept: ``images`` (4×3×H×W), per evaluation point
    ``epoch``, ``scores`` and ``visible`` (P×4×n) and ``recon`` (P×4×3×H×W)."""
    return cached_file(config, MASKS_FILE, _load_npz)


def loss_magnitudes(run: PretrainRun, n_images: int = 8) -> dict[str, float]:
    """The masking module's loss terms at initialisation, each times its weight, on ``n_images``
    training images of ``run`` (a CM-MAE run; evaluation crops, the run's seed): ``rec`` (the
    progressive loss's reconstruction MSE at w = 1), ``gauss_<scale>`` = λ_GL·L_Gauss for every
    Gaussian scale (:data:`~vadlib.models.curriculum_masking.GAUSS_SCALES`, the run's own first),
    ``kl`` = λ_KL·L_KL and ``div`` = λ_div·L_div. It measures the thesis's remark that at
    λ_GL = λ_KL = 10 "the magnitudes of the Progressive loss, Gaussian loss, and KL loss become
    nearly equal" (T 3483) against each scale."""
    from vadlib.models.curriculum_masking import GAUSS_SCALES, gaussian_loss

    if run.method != "cm_mae":
        raise ValueError("loss magnitudes are a CM-MAE run's (method='cm_mae')")
    torch.manual_seed(run.seed)
    train_set, _ = run.datasets()
    model = run.build_model().eval()
    images = torch.stack([train_set[i]["image"] for i in spread(len(train_set), n_images)])
    with torch.no_grad():
        z = model.masker(model._cmm_input(images).float())
        _, parts = model.cmm_losses(images.float(), z, 1.0)
        scales = (model.gauss_scale,) + tuple(s for s in GAUSS_SCALES if s != model.gauss_scale)
        out = {"rec": float(parts["prog_rec"])}
        for scale in scales:
            out[f"gauss_{scale}"] = model.lambda_gauss * float(gaussian_loss(z, model.gauss_mu, model.gauss_sigma, scale))
        out["kl"] = model.lambda_kl * float(parts["kl"])
        out["div"] = model.lambda_div * float(parts["div"])
    return out
