"""Figures of Paper F (CM-MAE): the curriculum, the training curves, and the masks and
reconstructions a pre-training run kept.

``kept`` below is what :func:`vadlib.runs.pretraining.load_masks` returns: ``images`` (S×3×H×W,
the S shown validation images), and per evaluation point ``epoch`` (P), ``visible`` (P×S×n, 1 where
a patch is visible), ``scores`` (P×S×n) and ``recon`` (P×S×3×H×W). A ``history`` is the long table
of :func:`vadlib.papers.f_cm_mae.curves`: one row per training step and run (``run`` column).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from vadlib.plots.axes import bare
from vadlib.plots.widgets import interactive


def curriculum_figure(schedules: Mapping[str, object], epochs: int):
    """The masking module's weight on the reconstruction loss per epoch, one step curve per
    schedule (a :class:`vadlib.models.curriculum_masking.CurriculumSchedule`), drawn only in the
    epochs where the module trains; symmetric-log scale so +1 and −0.001·2^k show together."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 2.6))
    epoch = list(range(epochs))
    for label, schedule in schedules.items():
        weight = [schedule.weight(e) if schedule.cmm_active(e) else np.nan for e in epoch]
        ax.step(epoch, weight, where="post", label=label)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set(xlabel="epoch", ylabel="weight on the reconstruction loss", title="Curriculum of the masking module")
    ax.legend(fontsize=8)
    return fig


def training_curves_figure(history: pd.DataFrame):
    """Four panels per step, one line per run: the MAE's loss, the share of patches the scores
    mask (1 − the mean score; for MAE the random mask's masked fraction), the curriculum weight
    and the k-NN Acc@1 at the evaluation points."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
    for run, rows in history.groupby("run", sort=False):
        axes[0].plot(rows.step, rows.mae_loss.fillna(rows.loss), label=run)
        axes[1].plot(rows.step, 1 - rows.z_mean if rows.z_mean.notna().any() else rows.masked_fraction, label=run)
        axes[2].plot(rows.step, rows.w_prog, label=run)
        probe = rows.dropna(subset=["knn_acc1"])
        axes[3].plot(probe.step, probe.knn_acc1, marker="o", label=run)
    for ax, title in zip(axes, ("MAE loss", "share masked by the scores", "curriculum weight", "k-NN Acc@1 (%)")):
        ax.set(title=title, xlabel="step")
    axes[2].set_yscale("symlog", linthresh=1e-3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def masked_fraction_figure(history: pd.DataFrame, target: float = 0.75):
    """Per step and run, the share of patches the masking module masks (1 − the mean score),
    against the fixed mask ratio ``target`` (dashed)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 2.8))
    for run, rows in history.groupby("run", sort=False):
        ax.plot(rows.step, 1 - rows.z_mean, label=run)
    ax.axhline(target, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="step", ylabel="1 − mean score", title="Share the masking module masks, without the mask-ratio KL")
    ax.legend(fontsize=7)
    return fig


def masked_image(image: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(3, H, W) image with its masked patches grey (0.5), as (H, W, 3) for imshow; ``visible``
    holds one 0/1 per square patch, row-major."""
    h = image.shape[1]
    side = int(round(math.sqrt(len(visible))))
    p = h // side
    keep = np.kron(visible.reshape(side, side), np.ones((p, p)))[None].astype(bool)
    shown = np.where(keep, image.astype(np.float32), 0.5)
    return np.clip(shown.transpose(1, 2, 0), 0, 1)


def _reconstruction_grid(images: np.ndarray, columns: list[tuple[str, np.ndarray, np.ndarray]], title: str):
    """One row per image: the image, then per column (heading, visible patches of every image,
    reconstructions of every image) a masked view and a reconstruction."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(images), 1 + 2 * len(columns),
                             figsize=(1.5 * (1 + 2 * len(columns)), 1.6 * len(images) + 0.4), squeeze=False)
    for r, image in enumerate(images):
        axes[r, 0].imshow(np.clip(image.astype(np.float32).transpose(1, 2, 0), 0, 1))
        for c, (heading, visible, recon) in enumerate(columns):
            axes[r, 1 + 2 * c].imshow(masked_image(image, visible[r]))
            axes[r, 2 + 2 * c].imshow(np.clip(recon[r].astype(np.float32).transpose(1, 2, 0), 0, 1))
            if r == 0:
                axes[0, 1 + 2 * c].set_title(f"{heading}\nvisible", fontsize=8)
                axes[0, 2 + 2 * c].set_title("reconstruction", fontsize=8)
    axes[0, 0].set_title("image", fontsize=8)
    for ax in axes.flat:
        bare(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def masks_figure(kept: dict[str, np.ndarray], points: list[int] | None = None, title: str = ""):
    """Figs. F.2/F.4/F.5 style: for each shown image and evaluation point, the visible patches the
    masking (module or random) chose and the MAE's reconstruction."""
    points = list(range(len(kept["epoch"]))) if points is None else list(points)
    columns = [(f"epoch {kept['epoch'][point]}", kept["visible"][point], kept["recon"][point]) for point in points]
    return _reconstruction_grid(kept["images"], columns, title)


def first_epoch_figure(kept_by_label: Mapping[str, dict[str, np.ndarray]], point: int = -1, title: str = ""):
    """Fig. F.2 style: one pair of columns (visible patches, reconstruction) per run, at one
    evaluation point of each (default its last), for the shown images (taken from the first run)."""
    labels = list(kept_by_label)
    columns = [(label, kept_by_label[label]["visible"][point], kept_by_label[label]["recon"][point])
               for label in labels]
    return _reconstruction_grid(kept_by_label[labels[0]]["images"], columns, title)


def mask_diversity(kept: dict[str, np.ndarray], point: int = -1) -> float:
    """Mean pairwise Hamming distance (fraction of patches) between the shown images' masks at an
    evaluation point: 0 when the module gives every image the same mask (Fig. F.3's failure)."""
    visible = kept["visible"][point].astype(bool)
    pairs = [(i, j) for i in range(len(visible)) for j in range(i + 1, len(visible))]
    return float(np.mean([(visible[i] != visible[j]).mean() for i, j in pairs])) if pairs else 0.0


def mask_viewer(kept: dict[str, np.ndarray]):
    """Pick an image and an evaluation point: image, visible patches, reconstruction. A static
    figure of every point when headless."""
    if not interactive():
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
