"""A look at a dataset: a few samples with their annotations, read through the dataset's loader.

``gallery(name, root)`` returns a matplotlib figure: frames with boxes and identities for MOT,
abnormal frames with their pixel masks for the video sets, defects with their masks for MVTec AD,
tumour slices with their segmentation for BraTS, one image per class for the class folders. It is
what the notebooks show first, so a reader sees what the profile's data look like (under smoke:
the synthetic twins) before any number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

Sample = tuple[np.ndarray, np.ndarray | None, str, pd.DataFrame | None]  # image, mask, title, boxes


def _frame(path: str, frame: int) -> np.ndarray:
    from vadlib.data import video
    if video.is_video_file(path):
        return video.read_video_frames(path, start=frame, count=1)[0]
    return video.read_image(path)


def _spread(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    if len(rows) <= n:
        return rows
    return rows.iloc[np.linspace(0, len(rows) - 1, n).round().astype(int)]


def _video_samples(module, root: Path, n: int) -> list[Sample]:
    frames = module.index(root, "test")
    abnormal = frames[frames.label == 1].groupby("video", sort=False).head(1)
    normal = frames[frames.label == 0].groupby("video", sort=False).head(1)
    chosen = pd.concat([_spread(abnormal, n - 1), normal.head(1)]).head(n)
    samples = []
    for row in chosen.itertuples():
        mask = None
        if hasattr(module, "pixel_masks") and row.label == 1:
            mask = module.pixel_masks(root, row.video)[row.frame]
        state = "abnormal" if row.label == 1 else "normal"
        samples.append((_frame(row.path, row.frame), mask, f"{row.video} #{row.frame} ({state})", None))
    return samples


def _mot_samples(root: Path, n: int) -> list[Sample]:
    from vadlib.data import mot
    boxes = mot.index(root, "train", kind="gt")
    boxes = boxes[boxes.conf != 0].rename(columns={"bb_left": "x", "bb_top": "y", "bb_width": "w",
                                                   "bb_height": "h"})
    copies = boxes.sequence.str.endswith("-FRCNN")  # MOT17 ships each video three times
    if copies.any():
        boxes = boxes[copies]
    frames = boxes.drop_duplicates(["sequence", "frame"])
    samples = []
    for row in _spread(frames, n).itertuples():
        shown = boxes[boxes.path == row.path]
        samples.append((_frame(row.path, 0), None, f"{row.sequence} frame {row.frame}", shown))
    return samples


def _mvtec_samples(root: Path, n: int) -> list[Sample]:
    from vadlib.data import mvtec
    rows = mvtec.index(root, split="test")
    rows = rows[rows.label == 1].groupby(["category", "defect"]).head(1)
    samples = []
    for row in _spread(rows, n).itertuples():
        image = mvtec.read_image(row.path)
        samples.append((image, mvtec.read_mask(row.mask_path, image.shape[:2]),
                        f"{row.category}: {row.defect}", None))
    return samples


def _brats_samples(root: Path, n: int) -> list[Sample]:
    from vadlib.data import brats
    slices = brats.slice_index(root)
    chosen = _spread(slices[slices.has_lesion].groupby("scan").head(1), n)
    dataset = brats.BraTSSlices(root, chosen)
    return [(item["image"][0].numpy(), item["mask"].numpy(), f"{item['scan']} slice {item['slice']}", None)
            for item in (dataset[i] for i in range(len(dataset)))]


def _class_samples(rows: pd.DataFrame, key: str, n: int) -> list[Sample]:
    from vadlib.data import video
    chosen = _spread(rows.groupby(key).head(1), n)
    return [(video.read_image(row.path), None, str(getattr(row, key)), None) for row in chosen.itertuples()]


def _sid_samples(root: Path, n: int) -> list[Sample]:
    from vadlib.data import thermal
    clips = _spread(thermal.sid_clips(root), n)
    frames = thermal.sid_index(root, clips).groupby("video").head(1)
    titles = {row.clip: f"{row.date} {row.time}" for row in clips.itertuples()}
    return [(_frame(row.path, row.frame), None, titles.get(row.video, row.video), None)
            for row in frames.itertuples()]


def _samplers() -> dict[str, Callable[[Path, int], list[Sample]]]:
    from vadlib.data import avenue, dtd, imagenet, shanghaitech, thermal, ucsd_ped2
    return {
        "mot15": _mot_samples, "mot16": _mot_samples, "mot17": _mot_samples,
        "avenue": lambda root, n: _video_samples(avenue, root, n),
        "shanghaitech": lambda root, n: _video_samples(shanghaitech, root, n),
        "ucsd_ped2": lambda root, n: _video_samples(ucsd_ped2, root, n),
        "thermal_rare_event": lambda root, n: _video_samples(thermal, root, n),
        "seasons_in_drift": _sid_samples,
        "mvtec_ad": _mvtec_samples,
        "brats": _brats_samples,
        "imagenet100": lambda root, n: _class_samples(imagenet.index(root, "train"), "wnid", n),
        "dtd": lambda root, n: _class_samples(dtd.index(root), "category", n),
    }


def previewable() -> list[str]:
    return sorted(_samplers())


def gallery(name: str, root: str | Path, n: int = 4, title: str | None = None):
    """A row of ``n`` samples of dataset ``name`` read from ``root``, annotations overlaid."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    samplers = _samplers()
    if name not in samplers:
        raise ValueError(f"no preview for {name!r}; previews exist for: {', '.join(sorted(samplers))}")
    samples = samplers[name](Path(root), n)
    fig, axes = plt.subplots(1, max(len(samples), 1), figsize=(3.2 * max(len(samples), 1), 3.0),
                             squeeze=False)
    for ax, (image, mask, caption, boxes) in zip(axes[0], samples):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        if mask is not None and mask.any():
            ax.contour(mask.astype(float), levels=[0.5], colors="red", linewidths=1.0)
        if boxes is not None:
            colours = plt.get_cmap("tab20")
            for box in boxes.itertuples():
                ax.add_patch(Rectangle((box.x, box.y), box.w, box.h, fill=False, linewidth=1.0,
                                       edgecolor=colours(int(box.id) % 20)))
        ax.set_title(caption, fontsize=8)
        ax.axis("off")
    fig.suptitle(title or name, fontsize=10)
    fig.tight_layout()
    return fig
