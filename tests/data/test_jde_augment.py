"""Paper A's training augmentation: JDE's random affine, colour jitter and flip, boxes moved with
the picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadlib.data.jde_augment import JDEAugment


def _item(boxes):
    """A black 96×160 image with a white filled rectangle per box (tlwh)."""
    image = torch.zeros(3, 96, 160)
    for left, top, width, height in boxes:
        image[:, top:top + height, left:left + width] = 1.0
    n = len(boxes)
    return {"image": image, "boxes": torch.tensor(boxes, dtype=torch.float32),
            "ids": torch.arange(n), "classes": torch.zeros(n, dtype=torch.int64), "path": "x.jpg"}


def test_the_boxes_follow_the_picture():
    """Oracle: the white pixels of the warped image. Each warped box is the bounding box of the
    rectangle's warped corners, so the bright pixels lie inside it and reach near its sides."""
    augment = JDEAugment(min_size=2)
    augment.colour = lambda image: image  # keep white white; the warp and flip are what is tested
    for seed in range(20):
        torch.manual_seed(seed)
        out = augment(_item([[60, 30, 30, 40]]))
        if not len(out["boxes"]):
            continue
        bright = np.argwhere(out["image"][0].numpy() > 0.9)
        if len(bright) < 20:
            continue
        left, top, width, height = out["boxes"][0].tolist()
        (y0, x0), (y1, x1) = bright.min(0), bright.max(0)
        assert left - 1.5 <= x0 and x1 <= left + width + 1.5 and top - 1.5 <= y0 and y1 <= top + height + 1.5
        # rotation ≤ 5° and shear ≤ 2° inflate the enclosing box by a few pixels only
        assert x0 - left < 6 and left + width - x1 < 6 and y0 - top < 6 and top + height - y1 < 6


def test_boxes_pushed_off_the_canvas_are_dropped_with_their_identities():
    augment = JDEAugment(min_size=2)
    kept = []
    for seed in range(30):
        torch.manual_seed(seed)
        out = augment(_item([[0, 0, 3, 3], [60, 30, 30, 40], [157, 93, 3, 3]]))
        assert len(out["boxes"]) == len(out["ids"]) == len(out["classes"])
        assert (out["boxes"][:, 2:] >= 2).all() and out["path"] == "x.jpg"
        kept.append(tuple(out["ids"].tolist()))
    assert (1,) in kept or any(1 in ids and len(ids) < 3 for ids in kept)  # corner boxes leave the canvas
    assert all(1 in ids for ids in kept)  # the central box stays on the canvas at every draw


def test_seeded_draws_repeat_and_vary():
    augment = JDEAugment()
    torch.manual_seed(3)
    first = augment(_item([[60, 30, 30, 40]]))
    torch.manual_seed(3)
    again = augment(_item([[60, 30, 30, 40]]))
    other = augment(_item([[60, 30, 30, 40]]))
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["boxes"], again["boxes"])
    assert not torch.equal(first["image"], other["image"])
    assert first["image"].min() >= 0 and first["image"].max() <= 1


def test_the_ranges_are_jde_s():
    from vadlib.data import jde_augment
    assert jde_augment.DEGREES == 5 and jde_augment.SCALE == (0.5, 1.2) and jde_augment.TRANSLATE == (0.1, 0.1)
    assert jde_augment.SHEAR == (-2, 2, -2, 2) and jde_augment.HSV_FRACTION == 0.5
    with pytest.raises(KeyError):
        JDEAugment()({"image": torch.zeros(3, 8, 8)})
