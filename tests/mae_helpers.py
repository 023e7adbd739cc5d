"""Helpers shared by the tests of Paper F's models and k-NN evaluation (tests/models/test_mae.py,
tests/models/test_curriculum_masking.py, tests/metrics/test_knn.py)."""

from __future__ import annotations

import math

import torch


def structured(n: int = 16, size: int = 32, seed: int = 0) -> torch.Tensor:
    """n×3×size×size images in [0, 1]: an oriented low-frequency grating plus a bright disc."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    images = []
    for _ in range(n):
        theta, freq, phase = torch.rand(3, generator=g) * torch.tensor([math.pi, 0.3, 6.28])
        freq = freq + 0.1
        wave = torch.sin(freq * (xx * torch.cos(theta) + yy * torch.sin(theta)) + phase)
        cx, cy = (torch.rand(2, generator=g) * (size - 12) + 6).tolist()
        disc = (((xx - cx) ** 2 + (yy - cy) ** 2) < 25).float()
        colour = torch.rand(3, 1, 1, generator=g)
        img = 0.5 + 0.25 * wave[None] * torch.tensor([1.0, 0.6, -0.8])[:, None, None]
        img = img * (1 - disc) + colour * disc
        images.append(img.clamp(0, 1))
    return torch.stack(images)


def fixed_mask_loss(mae, imgs: torch.Tensor) -> float:
    """The MAE's loss on ``imgs`` under one fixed random masking (seed 123), without gradients."""
    with torch.no_grad():
        return float(mae(imgs, generator=torch.Generator().manual_seed(123))[0])
