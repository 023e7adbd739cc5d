"""A small CNN for fall / no-fall samples: the companion's CPU-sized check, not a network of the paper.

Paper B trains AlexNet and ResNet-18 for 20 epochs on 69,000 samples (thesis L1849), a GPU job.
To show on a CPU, in about a minute, that the generated ThermalSynth samples carry the fall
signal at all, :mod:`vadlib.runs.fall_classification` also trains this network with the paper's recipe
(SGD, lr 10⁻³, batch 32) on a few hundred samples: four 3×3 convolution blocks (batch norm, ReLU,
2×2 max-pooling) of 16-32-64-64 channels, a spatial max-pool to 2×3 cells that keeps where in
the water crop the warm body is, and one linear layer to the two classes (62 k parameters).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """``forward``: N × ``in_channels`` × H × W images -> N × ``num_classes`` logits."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, widths: tuple[int, ...] = (16, 32, 64, 64),
                 cells: tuple[int, int] = (2, 3)):
        super().__init__()
        layers, previous = [], in_channels
        for number, width in enumerate(widths):
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if number < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            previous = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveMaxPool2d(cells)
        self.classifier = nn.Linear(previous * cells[0] * cells[1], num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(images)), 1))
