"""Paper F's pre-training runs: MAE and CM-MAE on the ImageNet-100 subset, evaluated by k-NN.

One cached experiment per (method, curriculum, loss weights): pre-train
:class:`vadlib.models.mae.MAE` or :class:`vadlib.models.curriculum_masking.CMMAE` with
:func:`vadlib.runs.train.train`, then classify the validation images by their 5 nearest training
images in the frozen encoder's mean-pooled features (:mod:`vadlib.knn_eval`): Acc@1 by majority
vote and the thesis's "Acc@5" (any of the 5 neighbours right), the "zero-shot" accuracies of
Tables F.1–F.6 and 4.1, plus a linear probe as an extra column.

The curriculum is defined in the paper's epochs (200, η = 50 ...). A run that trains fewer steps
(smoke, quick) maps its steps onto those 200 epochs: step s of S is epoch ⌊s·200/S⌋, so every
curriculum stage happens, compressed. Along the run, ``eval_points`` k-NN evaluations on a
subsample give the accuracy curve, and the masks and reconstructions of four fixed validation
images are kept for the figures (``masks.npz`` in the run directory).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from vadlib.data import DataSource
from vadlib.profiles import resolve_device
from vadlib.runs import code
from vadlib.runs.experiment import Budget, Experiment, RunContext

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
    eval_points: int = 5
    budget: Budget = Budget()
    data: DataSource = DataSource()
    seed: int = 0
    device: str = "cpu"

    def _root(self):
        return self.data.locate("imagenet100")

    def datasets(self):
        from vadlib.data.imagenet import ImageNetFolder
        root = self._root()
        classes = None if self.data.kind == "synthetic" else "imagenet100"
        return (ImageNetFolder(root, "train", classes=_classes(root, classes), resize=self.image_size),
                ImageNetFolder(root, "val", classes=_classes(root, classes), resize=self.image_size))

    def build_model(self):
        if self.method == "mae":
            from vadlib.models.mae import MAE
            return MAE(self.budget.model_size, seed=self.seed, img_size=self.image_size)
        if self.method == "cm_mae":
            from vadlib.models.curriculum_masking import CMMAE, CurriculumSchedule
            return CMMAE(self.budget.model_size, seed=self.seed, img_size=self.image_size,
                         curriculum=CurriculumSchedule(**dict(self.curriculum)), **dict(self.model_options))
        raise ValueError(f"method must be 'mae' or 'cm_mae', got {self.method!r}")

    def schedule(self):
        from vadlib.models.mae import MAE
        return MAE.schedule(self.budget.model_size)

    def total_steps(self, n_train: int, schedule) -> int:
        return self.budget.steps(schedule.epochs, math.ceil(n_train / schedule.batch_size))

    # ------------------------------------------------------------------ the experiment
    def run(self, ctx: RunContext) -> dict[str, Any]:
        from vadlib.runs.train import endless, train
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        train_set, val_set = self.datasets()
        model = self.build_model().to(self.device)
        schedule = self.schedule()
        steps = self.total_steps(len(train_set), schedule)
        shown = torch.stack([val_set[i]["image"] for i in _spread(len(val_set), SHOWN_IMAGES)]).to(self.device)
        snapshots: dict[str, list] = {"epoch": [], "scores": [], "recon": [], "visible": []}
        checkpoints = set(np.linspace(0, steps - 1, self.eval_points).round().astype(int).tolist())

        def on_step(step: int, logs: dict) -> dict | None:
            epoch = min(PAPER_EPOCHS - 1, (step + 1) * PAPER_EPOCHS // steps)
            if hasattr(model, "set_epoch"):
                model.set_epoch(epoch)
            if step not in checkpoints:
                return None
            model.eval()
            snapshot(model, shown, snapshots, epoch)
            accuracy = knn(model, train_set, val_set, CURVE_SUBSAMPLE, self.budget.eval_limit, self.device)
            model.train()
            return {"paper_epoch": epoch, "knn_acc1": accuracy["acc@1"], "knn_acc5": accuracy["acc@5"]}

        history = train(model, lambda batch: model.training_loss(batch["image"].to(self.device)),
                        endless(_loader(train_set, schedule.batch_size, shuffle=True, seed=self.seed)),
                        schedule=schedule, total_steps=steps, ctx=ctx, device=self.device,
                        description=f"{self.method} pre-training", on_step=on_step)
        model.eval()
        final = knn(model, train_set, val_set, None, self.budget.eval_limit, self.device, probe=True)
        np.savez_compressed(ctx.dir / MASKS_FILE, images=shown.cpu().numpy().astype(np.float16),
                            **{k: np.asarray(v) for k, v in snapshots.items()})
        curve = [{k: h.get(k) for k in ("step", "paper_epoch", "loss", "mae_loss", "masked_fraction", "cmm_loss",
                                        "prog_rec", "gauss", "kl", "div", "w_prog", "z_mean", "z_binary",
                                        "knn_acc1", "knn_acc5")} for h in history]
        return {"acc1": final["acc@1"], "acc5": final["acc@5"], "linear_probe": final["linear_probe"]["acc@1"],
                "train_steps": steps, "n_train": len(train_set), "n_val": len(val_set), "history": curve,
                "schedule": schedule.source, "wall_time_s": round(time.perf_counter() - started, 2)}

    def dry_run(self, ctx: RunContext) -> dict[str, Any]:
        """One pre-training step and one k-NN evaluation at this config's sizes on the smoke twin."""
        from dataclasses import replace

        from vadlib.runs.train import endless, train
        twin = replace(self, data=DataSource())
        train_set, val_set = twin.datasets()
        model = twin.build_model()
        started = time.perf_counter()
        train(model, lambda batch: model.training_loss(batch["image"]),
              endless(_loader(train_set, 2, shuffle=True)), schedule=self.schedule(), total_steps=1, progress=False)
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


def _classes(root, requested):
    return requested


def _spread(n: int, k: int) -> list[int]:
    return sorted(set(np.linspace(0, n - 1, min(k, n)).round().astype(int).tolist()))


def _loader(dataset, batch_size: int, shuffle: bool = False, seed: int = 0):
    from vadlib.runs.train import data_loader
    return data_loader(dataset, batch_size, shuffle, seed)


IN_MEMORY_BYTES = 512 * 2 ** 20  # evaluation images held decoded in memory up to this size


def _images(dataset, indices: list[int]):
    """The evaluation images as one decoded tensor (small sets, decoded once per dataset and
    reused at every evaluation point), else a loader that decodes them as it goes."""
    first = dataset[indices[0]]["image"]
    if len(indices) * first.numel() * 4 > IN_MEMORY_BYTES:
        return None
    cache = dataset.__dict__.setdefault("_decoded", {})
    key = tuple(indices)
    if key not in cache:
        items = [dataset[i] for i in indices]
        cache[key] = (torch.stack([item["image"] for item in items]), np.array([int(item["label"]) for item in items]))
    return cache[key]


def _features(model, dataset, indices: list[int], device: str) -> tuple[np.ndarray, np.ndarray]:
    decoded = _images(dataset, indices)
    features, labels = [], []
    with torch.no_grad():
        if decoded is not None:
            images, all_labels = decoded
            for start in range(0, len(images), 256):
                features.append(model.features(images[start:start + 256].to(device)).float().cpu().numpy())
            return np.concatenate(features), all_labels
        for batch in _loader(torch.utils.data.Subset(dataset, indices), 64):
            features.append(model.features(batch["image"].to(device)).float().cpu().numpy())
            labels.append(batch["label"].numpy())
    return np.concatenate(features), np.concatenate(labels)


def knn(model, train_set, val_set, gallery_limit: int | None, test_limit: int | None, device: str,
        probe: bool = False) -> dict[str, float]:
    """k-NN (k = 5) accuracies (%) of ``model``'s frozen features: the training images are the
    gallery, the validation images the queries (each capped, spread over the set)."""
    from vadlib import knn_eval
    gallery = _spread(len(train_set), gallery_limit or len(train_set))
    queries = _spread(len(val_set), test_limit or len(val_set))
    train_x, train_y = _features(model, train_set, gallery, device)
    test_x, test_y = _features(model, val_set, queries, device)
    result = dict(knn_eval.knn_accuracy(train_x, train_y, test_x, test_y, k=5))
    if probe:
        result["linear_probe"] = knn_eval.linear_probe_accuracy(train_x, train_y, test_x, test_y)
    return result


def snapshot(model, images: torch.Tensor, snapshots: dict[str, list], epoch: int) -> None:
    """The masks (scores or the random MAE mask) and reconstructions of ``images`` now."""
    with torch.no_grad():
        if hasattr(model, "masks"):
            scores, masking = model.masks(images)
            _, pred, _ = model.mae(images, scores=scores)
            mae = model.mae
        else:
            masking = model.random_masking(len(images))
            _, pred, _ = model(images, ids_keep=masking.ids_keep)
            scores = 1.0 - masking.mask
            mae = model
        recon = reconstruction(mae, images, pred, masking.mask)
    snapshots["epoch"].append(epoch)
    snapshots["scores"].append(scores.cpu().numpy().astype(np.float16))
    snapshots["visible"].append((1.0 - masking.mask).cpu().numpy().astype(np.uint8))
    snapshots["recon"].append(recon.clamp(0, 1).cpu().numpy().astype(np.float16))


def reconstruction(mae, images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What MAE's figures show: the visible patches of the image, and in the masked ones the
    prediction mapped back to pixels (with ``norm_pix_loss`` each predicted patch is de-normalised
    by its target patch's mean and variance, then the input normalisation is undone)."""
    target = mae.patchify(mae.preprocess(images))
    if getattr(mae, "norm_pix_loss", False):
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        pred = pred * (var + 1e-6).sqrt() + mean
    mixed = torch.where(mask.bool()[..., None], pred, target)
    pixels = mae.unpatchify(mixed)
    if getattr(mae, "normalize", False):
        pixels = pixels * mae.pixel_std + mae.pixel_mean
    return pixels


def load_masks(config: PretrainRun) -> dict[str, np.ndarray]:
    """The masks/reconstructions a run kept: ``images`` (4×3×H×W), per evaluation point
    ``epoch``, ``scores`` and ``visible`` (P×4×n) and ``recon`` (P×4×3×H×W)."""
    from vadlib.runs.experiment import execute, run_dir
    execute(config)
    path = run_dir(config) / MASKS_FILE
    if not path.exists():
        (run_dir(config) / "results.json").unlink(missing_ok=True)
        execute(config)
    with np.load(path) as stored:
        return {k: stored[k] for k in stored.files}


# ---------------------------------------------------------------------------------------- plans
MAE_BASELINE = ("mae", (), ())
#: Tables F.1–F.3 and F.6: the thesis's curriculum (η = 50, CMM trained throughout, same cycle);
#: λ_div = 2 there, since F.6's λ_div = 2 row prints the same 38.1 / 60.4 as their CM-MAE rows
THESIS_CM = {"eta": 50}
THESIS_WEIGHTS = {"lambda_div": 2.0}


def _cm(curriculum: dict, **weights) -> tuple:
    return ("cm_mae", tuple(sorted({**THESIS_CM, **curriculum}.items())),
            tuple(sorted({**THESIS_WEIGHTS, **weights}.items())))


SAME_CYCLE = _cm({})
#: printed row label -> (method, curriculum, model options), per table
TABLE_ROWS = {
    "F.1": (("MAE (Baseline)", MAE_BASELINE), ("CM-MAE (Same Cycle)", SAME_CYCLE),
            ("CM-MAE (Alternate Cycles)", _cm({"cycle": "alternate"}))),
    "F.2": (("MAE (Baseline)", MAE_BASELINE), ("CM-MAE (w/o re-initialized parameters)", SAME_CYCLE),
            ("CM-MAE (w/ re-initialized parameters)", _cm({"reinit": True}))),
    "F.3": (("MAE (Baseline)", MAE_BASELINE), ("CM-MAE (Curriculum Update - 30 epochs)", _cm({"eta": 30})),
            ("CM-MAE (Curriculum Update - 50 epochs)", SAME_CYCLE)),
    # the final method (T 3465, 3485-3505): η assumed 100, CMM trained in the first 20 % of each
    # interval, λ_div = 5
    "F.4": (("MAE (Baseline)", MAE_BASELINE),
            ("CM-MAE (Updated Settings)", _cm({"eta": 100, "train_fraction": 0.2}, lambda_div=5.0))),
}
TABLE_ROWS["4.1"] = (("MAE (Baseline)", MAE_BASELINE), ("Ours (MAE w/ Curriculum Masking)", TABLE_ROWS["F.4"][1][1]))
#: Table F.5: the easy task (λ_prog fixed at 1) with L_GL and L_KL switched and weighted per row
EASY = {"constant": 1.0}
TABLE_ROWS["F.5"] = tuple(
    (label, _cm(EASY, lambda_gauss=gl, lambda_kl=kl))
    for label, gl, kl in (("CM-MAE (w/ Easy Task)", 1.0, 0.0), ("", 2.0, 0.0), ("", 5.0, 0.0), ("", 10.0, 0.0),
                          ("", 10.0, 1.0), ("", 10.0, 2.0), ("", 10.0, 5.0), ("", 10.0, 10.0)))
TABLE_ROWS["F.6"] = tuple((label, _cm({}, lambda_div=d)) for label, d in
                          (("CM-MAE (w/ Curriculum Masking)", 1.0), ("", 2.0), ("", 5.0), ("", 10.0)))
ABLATIONS = ("F.5", "F.6")  # cut to ablation_limit rows under smoke
#: runs behind Figs. F.3–F.5 only: no diversity loss; the hard (adversarial) task without L_KL
FIGURE_RUNS = {"no_div": _cm({}, lambda_div=0.0), "hard_no_kl": _cm({"constant": -0.001}, lambda_kl=0.0),
               "easy_no_kl": TABLE_ROWS["F.5"][3][1], "easy_kl": TABLE_ROWS["F.5"][7][1]}


def run_config(settings, spec: tuple) -> PretrainRun:
    method, curriculum, options = spec
    return PretrainRun(method=method, curriculum=curriculum, model_options=options,
                       image_size=IMAGE_SIZE[settings.model_size], budget=Budget.from_settings(settings),
                       data=DataSource.from_settings(settings),
                       seed=settings.seed, device=resolve_device(settings.device))


def _rows(settings, table_id: str):
    rows = TABLE_ROWS[table_id]
    if table_id in ABLATIONS and settings.ablation_limit:
        rows = rows[: settings.ablation_limit]
    return rows


def table_runs(settings, table_id: str) -> list[PretrainRun]:
    return list(dict.fromkeys(run_config(settings, spec) for _, spec in _rows(settings, table_id)))


def table(settings, table_id: str) -> pd.DataFrame:
    """Reproduced k-NN accuracies (%) of a Paper F table, keyed like the printed one."""
    from vadlib import reported
    from vadlib.runs.experiment import run_experiments
    printed = reported.load_table(table_id)
    keys = reported.info(table_id)["key_columns"]
    rows = _rows(settings, table_id)
    runs = [run_config(settings, spec) for _, spec in rows]
    results = dict(zip(runs, run_experiments(list(dict.fromkeys(runs)))))
    out = []
    for position, run in enumerate(runs):
        label_cells = {k: printed.iloc[position][k] for k in keys}
        result = results[run]
        out.append({**label_cells, "Zero-shot Acc@1": result["acc1"], "Zero-shot Acc@5": result["acc5"]})
    return pd.DataFrame(out, columns=keys + ["Zero-shot Acc@1", "Zero-shot Acc@5"])


def curves(settings, specs: dict[str, tuple]) -> pd.DataFrame:
    """Per training step of each run: losses, masked fraction, curriculum weight and (at the
    evaluation points) k-NN accuracy, in one long table with a ``run`` column."""
    from vadlib.runs.experiment import run_experiments
    runs = {label: run_config(settings, spec) for label, spec in specs.items()}
    results = run_experiments(list(runs.values()))
    return pd.concat([pd.DataFrame(r["history"]).assign(run=label) for label, r in zip(runs, results)],
                     ignore_index=True)


def _masked(image: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(3, H, W) image with its masked patches greyed out, as (H, W, 3) for imshow."""
    c, h, w = image.shape
    n = len(visible)
    side = int(round(math.sqrt(n)))
    p = h // side
    keep = np.kron(visible.reshape(side, side), np.ones((p, p)))[None].astype(bool)
    shown = np.where(keep, image.astype(np.float32), 0.5)
    return np.clip(shown.transpose(1, 2, 0), 0, 1)


def masks_figure(kept: dict[str, np.ndarray], points: list[int] | None = None, title: str = ""):
    """Figs. F.2/F.4/F.5 style: for each shown image and evaluation point, the visible patches the
    masking (module or random) chose and the MAE's reconstruction."""
    import matplotlib.pyplot as plt
    points = list(range(len(kept["epoch"]))) if points is None else list(points)
    images = kept["images"]
    fig, axes = plt.subplots(len(images), 1 + 2 * len(points), figsize=(1.5 * (1 + 2 * len(points)), 1.6 * len(images) + 0.4),
                             squeeze=False)
    for r, image in enumerate(images):
        axes[r, 0].imshow(np.clip(image.astype(np.float32).transpose(1, 2, 0), 0, 1))
        for c, point in enumerate(points):
            axes[r, 1 + 2 * c].imshow(_masked(image, kept["visible"][point][r]))
            axes[r, 2 + 2 * c].imshow(np.clip(kept["recon"][point][r].astype(np.float32).transpose(1, 2, 0), 0, 1))
            if r == 0:
                axes[0, 1 + 2 * c].set_title(f"epoch {kept['epoch'][point]}\nvisible", fontsize=8)
                axes[0, 2 + 2 * c].set_title("reconstruction", fontsize=8)
    axes[0, 0].set_title("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def mask_diversity(kept: dict[str, np.ndarray], point: int = -1) -> float:
    """Mean pairwise Hamming distance (fraction of patches) between the shown images' masks at an
    evaluation point: 0 when the module gives every image the same mask (Fig. F.3's failure)."""
    visible = kept["visible"][point].astype(bool)
    pairs = [(i, j) for i in range(len(visible)) for j in range(i + 1, len(visible))]
    return float(np.mean([(visible[i] != visible[j]).mean() for i, j in pairs])) if pairs else 0.0


def mask_viewer(kept: dict[str, np.ndarray]):
    """Pick an image and an evaluation point: image, visible patches, reconstruction. A static
    figure of every point when headless."""
    from vadlib import plots
    if not plots.interactive():
        return masks_figure(kept, title="masks and reconstructions along training (static view)")
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    image_box = widgets.IntSlider(min=0, max=len(kept["images"]) - 1, description="image")
    point_box = widgets.SelectionSlider(options=[(str(e), i) for i, e in enumerate(kept["epoch"])], description="epoch")
    output = widgets.Output()

    def draw(*_):
        with output:
            output.clear_output(wait=True)
            single = {**kept, "images": kept["images"][[image_box.value]],
                      "visible": kept["visible"][:, [image_box.value]], "recon": kept["recon"][:, [image_box.value]]}
            masks_figure(single, [point_box.value])
            plt.show()

    for box in (image_box, point_box):
        box.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([image_box, point_box]), output])




def plan_cm_mae(settings) -> list[PretrainRun]:
    runs = [run for table_id in TABLE_ROWS for run in table_runs(settings, table_id)]
    runs += [run_config(settings, spec) for spec in FIGURE_RUNS.values()]
    return list(dict.fromkeys(runs))
