"""The training augmentation of Paper A's tracker: "rotation, scaling and color jittering randomly
... similar to JDE" (thesis L1515).

JDE (Wang et al., "Towards Real-Time Multi-Object Tracking", ECCV 2020; its ``JointDataset``)
augments every letterboxed training image with a random affine warp -- rotation in ±5°, scale in
[0.5, 1.2], translation up to 10 % of each side, shear in ±2° on both axes, borders filled with
its letterbox grey --, a random HSV change of saturation and value by a factor in [0.5, 1.5] (here: torchvision's
brightness, which scales value exactly, and saturation, a blend with the grey image), and
a horizontal flip with probability 0.5. :class:`JDEAugment` applies the same ranges with
torchvision's ``transforms.v2`` (which moves the boxes with the image: each box becomes the
bounding box of its warped corners, clipped to the canvas) and drops boxes that shrink below
``min_size`` pixels, together with their identities. Randomness comes from torch's global
generator, so a seeded run (and a resumed one, whose checkpoint restores that generator) draws
the same augmentations.
"""

from __future__ import annotations

from typing import Any

import torch

from vadlib.data.mot import LETTERBOX_FILL

#: JDE's ranges (``random_affine`` defaults and ``JointDataset``'s HSV fraction)
DEGREES = 5.0
TRANSLATE = (0.10, 0.10)
SCALE = (0.50, 1.20)
SHEAR = (-2.0, 2.0, -2.0, 2.0)
HSV_FRACTION = 0.5
FLIP = 0.5


class JDEAugment:
    """Random affine (rotation, scale, translation, shear), saturation/value jitter and
    horizontal flip of a tracker training item, boxes and identities kept in step.

    Args:
        min_size: boxes narrower or lower than this many pixels after the warp are dropped
            (JDE drops boxes under 4 px at 1088×608; smaller inputs need a smaller limit).

    Call with an item holding ``image`` (float32 3×H×W in [0, 1]), ``boxes`` (N×4 ``left, top,
    width, height`` pixels) and ``ids`` (N); other keys of the same length N (``classes``,
    ``visibility``, ``conf``, ``local_ids``) are filtered alike, the rest passed through.
    """

    def __init__(self, min_size: float = 2.0):
        from torchvision.transforms import v2

        self.min_size = float(min_size)
        self.geometry = v2.Compose([
            v2.RandomAffine(degrees=DEGREES, translate=TRANSLATE, scale=SCALE, shear=SHEAR,
                            fill=LETTERBOX_FILL),
            v2.RandomHorizontalFlip(FLIP),
        ])
        self.colour = v2.ColorJitter(brightness=HSV_FRACTION, saturation=HSV_FRACTION)

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        from torchvision import tv_tensors

        image = item["image"]
        height, width = image.shape[-2:]
        boxes = tv_tensors.BoundingBoxes(item["boxes"].reshape(-1, 4), format="XYWH",
                                         canvas_size=(height, width))
        image, boxes = self.geometry(tv_tensors.Image(image), boxes)
        image = self.colour(image).clamp(0.0, 1.0)
        boxes = boxes.as_subclass(torch.Tensor)
        keep = (boxes[:, 2] >= self.min_size) & (boxes[:, 3] >= self.min_size)
        count = len(keep)
        out = {key: value[keep] if isinstance(value, torch.Tensor) and value.ndim and len(value) == count
               and key not in ("image", "boxes") else value for key, value in item.items()}
        out.pop("boxes_normalized", None)  # no longer the boxes of the image
        out["image"] = image.as_subclass(torch.Tensor)
        out["boxes"] = boxes[keep]
        return out
