"""HRNet backbone as FairMOT uses it: the feature extractor of the thesis' Paper A tracker.

Wang et al., "Deep high-resolution representation learning for visual recognition", TPAMI 2020
(Paper A's ref [13]); used as in FairMOT (Zhang et al., "FairMOT: On the fairness of detection
and re-identification in multiple object tracking", IJCV 2021; ``ifzhang/FairMOT``, MIT,
``src/lib/models/networks/pose_hrnet.py`` and ``config/hrnet_w18.yaml`` at commit 6fa35d4,
2020-09, read for the layer layout only; this file is written anew). Paper A names only "HRNet,
four stages, a new lower resolution after each stage, multi-resolution fusion" (thesis
L1398/L1408, ``shared/specs/paper_A_B.md`` §1.3.2); width W18 is FairMOT's HRNet option and our
choice (§1.12).

Layout (:data:`W18`, ``size="paper"``; input H×W with H, W multiples of 32)::

    stem        conv3×3 s2 3->64 +BN+ReLU, conv3×3 s2 64->64 +BN+ReLU            1/4
    layer1      4 Bottlenecks (planes 64, expansion 4)                            1/4, 256 ch
    transition1 conv3×3 256->18 (1/4);  conv3×3 s2 256->36 (1/8)      (+BN+ReLU each)
    stage2      1 module,  2 branches × 4 BasicBlocks, fusion                     18, 36
    transition2 new branch: conv3×3 s2 36->72 (1/16)
    stage3      4 modules, 3 branches × 4 BasicBlocks, fusion                     18, 36, 72
    transition3 new branch: conv3×3 s2 72->144 (1/32)
    stage4      3 modules, 4 branches × 4 BasicBlocks, fusion, all outputs kept   18, 36, 72, 144

A *module* (:class:`HighResolutionModule`) runs its branches in parallel, then fuses: output
``i`` is ``ReLU(Σ_j f_ij(x_j))`` with ``f_ii`` the identity, ``f_ij`` (j > i, lower resolution)
= conv1×1 c_j->c_i + BN + nearest upsampling ×2^(j-i), and ``f_ij`` (j < i) = (i - j) strided
conv3×3 + BN (ReLU between them, none after the last; the intermediate ones keep c_j channels).
:meth:`HRNet.concat` upsamples the four stage-4 outputs to 1/4 (bilinear, ``align_corners=False``,
as FairMOT's ``F.upsample(..., mode='bilinear')``) and concatenates them: 18 + 36 + 72 + 144 =
270 channels, which FairMOT 6fa35d4 feeds straight into its heads (its 270->64 ``last_layer`` is
commented out there).

Parameter names follow FairMOT's ``PoseHighResolutionNet`` (``conv1``, ``bn1``, ``layer1``,
``transition1``, ``stage2.0.branches.0.0.conv1``, ``stage2.0.fuse_layers.1.0.0.0``...), so HRNet
checkpoints that use those names load into :class:`HRNet` unchanged (none is shipped here; Paper
A's COCO initialisation is not available, §1.5).

``size="tiny"`` (:data:`TINY`): the same layout with stem 16, one Bottleneck of planes 8
(32 channels), widths 8/16/32/64, one module per stage and one BasicBlock per branch -- for CPU
tests only.

Initialisation (FairMOT): every conv N(0, 0.001) with zero bias, BatchNorm weight 1 and bias 0;
BN momentum 0.1 (FairMOT's ``BN_MOMENTUM``, PyTorch's default).

Hooks for Paper A's attention (:mod:`vadlib.models.hrnet_tracker`): :meth:`HRNet.forward` accepts a
``connect`` callback, called after stages 2, 3 and 4 with the stage's outputs and the outputs of
the earlier stages, which may return modified outputs (the gated skip connections). Without a
callback the forward is plain HRNet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["HRNetConfig", "W18", "TINY", "BasicBlock", "Bottleneck", "HighResolutionModule",
           "HRNet", "Connect"]

BN_MOMENTUM = 0.1

#: ``connect(stage, outputs, history) -> outputs``: ``stage`` in (2, 3, 4); ``outputs`` the stage's
#: branch outputs (highest resolution first); ``history[s]`` the outputs of stage s < ``stage``
#: (``history[1]`` = [transition1's highest-resolution output], stage 1 having one resolution).
Connect = Callable[[int, list[Tensor], dict[int, list[Tensor]]], list[Tensor]]


@dataclass(frozen=True)
class HRNetConfig:
    """Widths and depths of an HRNet (stages 2-4 listed in order)."""

    stem: int = 64                                   # stem conv channels
    stage1_planes: int = 64                          # Bottleneck planes (output = 4 × planes)
    stage1_blocks: int = 4
    widths: tuple[int, int, int, int] = (18, 36, 72, 144)
    modules: tuple[int, int, int] = (1, 4, 3)        # HighResolutionModules in stages 2, 3, 4
    blocks: tuple[int, int, int] = (4, 4, 4)         # BasicBlocks per branch in stages 2, 3, 4


#: HRNet-W18 as FairMOT's ``hrnet_w18.yaml``
W18 = HRNetConfig()
#: a narrow, shallow HRNet for CPU tests (same layout)
TINY = HRNetConfig(stem=16, stage1_planes=8, stage1_blocks=1, widths=(8, 16, 32, 64),
                   modules=(1, 1, 1), blocks=(1, 1, 1))


def _conv3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    """conv3-BN-ReLU-conv3-BN + identity (or ``downsample``), ReLU."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1, self.bn1 = _conv3(c_in, planes, stride), _bn(planes)
        self.conv2, self.bn2 = _conv3(planes, planes), _bn(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    """conv1-BN-ReLU-conv3-BN-ReLU-conv1 (×4 channels)-BN + identity (or ``downsample``), ReLU."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, planes, 1, bias=False), _bn(planes)
        self.conv2, self.bn2 = _conv3(planes, planes, stride), _bn(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = _bn(planes * self.expansion)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def _make_layer(block, c_in: int, planes: int, n_blocks: int) -> nn.Sequential:
    """``n_blocks`` blocks, a 1×1 conv + BN projection on the first when channels change."""
    downsample = None
    if c_in != planes * block.expansion:
        downsample = nn.Sequential(nn.Conv2d(c_in, planes * block.expansion, 1, bias=False),
                                   _bn(planes * block.expansion))
    layers = [block(c_in, planes, 1, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, n_blocks)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by multi-resolution fusion (module docstring)."""

    def __init__(self, widths: Sequence[int], n_blocks: int):
        super().__init__()
        widths = list(widths)
        n = len(widths)
        self.branches = nn.ModuleList(_make_layer(BasicBlock, c, c, n_blocks) for c in widths)
        fuse = []
        for i in range(n):
            row: list[nn.Module | None] = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(widths[j], widths[i], 1, bias=False),
                                             _bn(widths[i]),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    convs = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        c_out = widths[i] if last else widths[j]
                        layer = [_conv3(widths[j], c_out, 2), _bn(c_out)]
                        if not last:
                            layer.append(nn.ReLU(inplace=True))
                        convs.append(nn.Sequential(*layer))
                    row.append(nn.Sequential(*convs))
            fuse.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = None
            for j, f in enumerate(row):
                term = xs[j] if f is None else f(xs[j])
                y = term if y is None else y + term
            out.append(F.relu(y))
        return out


def _transition(c_pre: Sequence[int], c_cur: Sequence[int]) -> nn.ModuleList:
    """FairMOT's ``_make_transition_layer``: existing branches get a conv3×3 only when their width
    changes (else None, passed through); each new branch is strided conv3×3s from the lowest one."""
    layers: list[nn.Module | None] = []
    for i, c in enumerate(c_cur):
        if i < len(c_pre):
            layers.append(None if c == c_pre[i] else
                          nn.Sequential(_conv3(c_pre[i], c), _bn(c), nn.ReLU(inplace=True)))
        else:
            convs = []
            for k in range(i + 1 - len(c_pre)):
                c_out = c if k == i - len(c_pre) else c_pre[-1]
                convs.append(nn.Sequential(_conv3(c_pre[-1], c_out, 2), _bn(c_out),
                                           nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*convs))
    return nn.ModuleList(layers)


def _apply_transition(transition: nn.ModuleList, ys: list[Tensor]) -> list[Tensor]:
    return [(ys[i] if t is None else t(ys[i])) if i < len(ys) else t(ys[-1])
            for i, t in enumerate(transition)]


class HRNet(nn.Module):
    """HRNet with four stages and four output resolutions (module docstring).

    ``forward(x, connect=None)`` -> the four stage-4 outputs (1/4, 1/8, 1/16, 1/32; channels
    ``config.widths``); :meth:`concat` -> their 1/4-resolution concatenation
    (``out_channels`` = sum of the widths; 270 for W18).
    """

    STRIDE = 32  # coarsest branch: input sides must be multiples of it

    def __init__(self, config: HRNetConfig = W18):
        super().__init__()
        self.config = config
        w = list(config.widths)
        self.conv1, self.bn1 = _conv3(3, config.stem, 2), _bn(config.stem)
        self.conv2, self.bn2 = _conv3(config.stem, config.stem, 2), _bn(config.stem)
        self.layer1 = _make_layer(Bottleneck, config.stem, config.stage1_planes, config.stage1_blocks)
        c1 = config.stage1_planes * Bottleneck.expansion
        self.transition1 = _transition([c1], w[:2])
        self.stage2 = nn.Sequential(*(HighResolutionModule(w[:2], config.blocks[0])
                                      for _ in range(config.modules[0])))
        self.transition2 = _transition(w[:2], w[:3])
        self.stage3 = nn.Sequential(*(HighResolutionModule(w[:3], config.blocks[1])
                                      for _ in range(config.modules[1])))
        self.transition3 = _transition(w[:3], w)
        self.stage4 = nn.Sequential(*(HighResolutionModule(w, config.blocks[2])
                                      for _ in range(config.modules[2])))
        self.out_channels = sum(w)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """FairMOT's initialisation: conv N(0, 0.001), zero bias; BN weight 1, bias 0 (uses the
        global torch generator; the tracker seeds it)."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, std=0.001)
                    if m.bias is not None:
                        m.bias.zero_()
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight.fill_(1.0)
                    m.bias.zero_()

    def forward(self, x: Tensor, connect: Connect | None = None) -> list[Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        xs = [t(x) for t in self.transition1]
        history: dict[int, list[Tensor]] = {1: [xs[0]]}
        for stage, module, transition in ((2, self.stage2, self.transition2),
                                          (3, self.stage3, self.transition3),
                                          (4, self.stage4, None)):
            ys = module(xs)
            if connect is not None:
                ys = connect(stage, ys, history)
            history[stage] = ys
            if transition is not None:
                xs = _apply_transition(transition, ys)
        return ys

    @staticmethod
    def concat(ys: Sequence[Tensor]) -> Tensor:
        """Upsample every branch to the first one's size (bilinear) and concatenate channels."""
        size = ys[0].shape[-2:]
        ups = [ys[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=False)
                         for y in ys[1:]]
        return torch.cat(ups, dim=1)
