"""A reference object host: a small convolutional auto-encoder of object cubes.

**A test fixture, not a thesis row.** It exists to exercise the object pipeline
(:mod:`vadlib.models.object_pipeline`) and the object run (:mod:`vadlib.runs.object_vad`) end to
end with the smallest host that follows the :class:`~vadlib.models.object_hosts.ObjectHost`
contract; no paper reports it.

Input: the appearance cube of an object, T = ``window`` = 3 crops (the scored frame and one frame
on each side, the centre frame's box in all three) stacked on channels (T·C × S × S). A single
centre crop would not do: a runner looks like a walker in any one frame; across three frames the
same box holds a person that has moved 3.5 times as far.

Network (b = 16 tiny, 32 paper; z = 8 bottleneck channels)::

    encoder: conv3×3 TC→b, ReLU, conv3×3 b→b ("early"), ReLU, conv4×4/2 b→2b, ReLU,
             conv4×4/2 2b→4b, ReLU, conv3×3 4b→4b ("middle"), ReLU, conv1×1 4b→z
    decoder: conv1×1 z→4b, ReLU, convT4×4/2 4b→2b, ReLU, convT4×4/2 2b→b, ReLU,
             conv3×3 b→b ("late", the penultimate convolution), ReLU, conv3×3 b→TC, sigmoid

Loss: mean squared error of the reconstructed cube on normal objects. Object score: the mean
squared error of that object's cube (higher = more anomalous). Schedule: Adam, lr 1e-3, batch 32,
10 epochs over the training objects (our choice; there is no official recipe).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vadlib.models.object_hosts import ObjectHost, Schedule
from vadlib.models.registry import register_host

__all__ = ["ObjectAE"]

WIDTHS = {"tiny": 16, "paper": 32}
BOTTLENECK = 8


@register_host
class ObjectAE(ObjectHost):
    """Convolutional auto-encoder of 3-frame object cubes (module docstring); a test fixture."""

    name = "object_ae"
    label = "Object auto-encoder (test fixture)"
    window = 3
    needs_flow = False
    block_positions = {"early": ("encoder.early",), "middle": ("encoder.middle",), "late": ("decoder.late",)}
    default_position = "late"
    block_weight = 0.1

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0):
        super().__init__(size=size, in_channels=in_channels, seed=seed)
        b, channels = WIDTHS[size], self.window * self.in_channels
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.encoder = nn.Sequential(OrderedDict([
                ("stem", nn.Conv2d(channels, b, 3, padding=1)), ("relu0", nn.ReLU()),
                ("early", nn.Conv2d(b, b, 3, padding=1)), ("relu1", nn.ReLU()),
                ("down1", nn.Conv2d(b, 2 * b, 4, stride=2, padding=1)), ("relu2", nn.ReLU()),
                ("down2", nn.Conv2d(2 * b, 4 * b, 4, stride=2, padding=1)), ("relu3", nn.ReLU()),
                ("middle", nn.Conv2d(4 * b, 4 * b, 3, padding=1)), ("relu4", nn.ReLU()),
                ("code", nn.Conv2d(4 * b, BOTTLENECK, 1)),
            ]))
            self.decoder = nn.Sequential(OrderedDict([
                ("expand", nn.Conv2d(BOTTLENECK, 4 * b, 1)), ("relu0", nn.ReLU()),
                ("up1", nn.ConvTranspose2d(4 * b, 2 * b, 4, stride=2, padding=1)), ("relu1", nn.ReLU()),
                ("up2", nn.ConvTranspose2d(2 * b, b, 4, stride=2, padding=1)), ("relu2", nn.ReLU()),
                ("late", nn.Conv2d(b, b, 3, padding=1)), ("relu3", nn.ReLU()),
                ("out", nn.Conv2d(b, channels, 3, padding=1)), ("sigmoid", nn.Sigmoid()),
            ]))

    def forward(self, appearance: torch.Tensor) -> torch.Tensor:
        """Reconstructed cubes N×T×C×S×S from cubes of the same shape."""
        n, t, c, h, w = appearance.shape
        if h % 4 or w % 4:
            raise ValueError(f"{type(self).__name__} needs crop sides that are multiples of 4, got {h}×{w}")
        return self.decoder(self.encoder(appearance.reshape(n, t * c, h, w))).reshape(n, t, c, h, w)

    def _errors(self, batch: dict) -> torch.Tensor:
        cubes = self.check_batch(batch)["appearance"]
        return (self(cubes) - cubes).pow(2).flatten(1).mean(1)

    def training_loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self._errors(batch).mean()
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def object_scores(self, batch: dict) -> torch.Tensor:
        return self._errors(batch)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        return Schedule(epochs=10, batch_size=32, lr=1e-3, source="vadlib test fixture (no official recipe)")
