"""FFP, the future-frame-prediction video host of Papers C and D (Table C.3, Table D.5).

Liu, Luo, Lian, Gao, "Future Frame Prediction for Anomaly Detection -- A New Baseline", CVPR 2018
(Paper C's [35], Paper D's [42]). Reimplemented from the paper; where the paper is silent the
hyperparameters were read (not copied) from the official TensorFlow code
(``github.com/StevenLiuWen/ano_pred_cvpr2018``: ``unet.py``, ``pix2pix.py``, ``train.py``,
``loss_functions.py``, ``utils.py``, ``training_hyper_params/hyper_params.ini``, ``README.md``).

Pipeline (the paper's Fig. 2)::

    I_1 .. I_t (t = 4 past frames, stacked on channels) ──► U-Net G ──► Î_{t+1}
    L_G = λ_int·L_int + λ_gd·L_gd + λ_op·L_op + λ_adv·L_adv^G      (generator, Eq. 8)
    L_D = L_adv^D                                                  (discriminator, Eq. 9)
    score: PSNR(Î_{t+1}, I_{t+1}), min-max normalised per video, anomaly score = 1 - that

Clips are N×T×C×H×W in [0, 1] with T >= ``window`` = 5 (the last five frames are used: four
inputs and the target). Inside the host frames are mapped to [-1, 1] (the official code's range,
``utils.np_load_frame``) and the generator ends in tanh; every loss is computed in that range,
PSNR and the error maps in [0, 1] (the official ``psnr_error`` maps back to [0, 1] first).

**Generator** (``size="paper"``; the paper: "U-Net", 3×3 convolutions, 2×2 max pooling; widths
of its Fig. 3 and the official ``unet(layers=4, features_root=64)``): 4 encoder stages of
[conv3×3-ReLU] × 2 with widths b, 2b, 4b, 8b (b = 64; tiny: b = 8), 2×2 max pooling between
them; 3 decoder stages "2×2 stride-2 transposed conv (-> half the width) - ReLU, concatenate the
encoder skip, [conv3×3-ReLU] × 2"; output conv3×3 b -> C, tanh. No normalisation layers (as the
official code). Weights Glorot-uniform, biases zero (TensorFlow's defaults), drawn from a
generator seeded with ``seed``. Inputs whose sides are not multiples of 8 are replicate-padded
and the prediction cropped back.

**Losses** (Sec. 3.2-3.4 of the paper):

* intensity ``L_int = mean((Î - I)²)`` (the official ``intensity_loss`` with l_num = 2);
* gradient ``L_gd = mean| |∂x Î| - |∂x I| | + mean| |∂y Î| - |∂y I| |`` with one-pixel forward
  differences over valid positions (the official code pads with zeros, "SAME", which adds the
  border pixel itself as a difference; we keep the paper's Eq. 3);
* optical flow ``L_op = mean|f(I_t, Î_{t+1}) - f(I_t, I_{t+1})|`` between the flow from the
  last input frame to the prediction and to the real next frame (order as the official
  ``train.py``), with a *frozen* flow network f: gradients reach Î through f's input, f's
  weights never change. See "Flow network" below;
* adversarial, least-squares GAN (Mao et al. 2017) with a pix2pix patch discriminator D:
  ``L_adv^G = mean((D(Î) - 1)²) / 2`` and ``L_adv^D = mean((D(I) - 1)²) / 2 + mean(D(Î)²) / 2``
  over every patch (D ends in a sigmoid, as the official ``pix2pix_discriminator``).

Weights (``lam_int, lam_gd, lam_op, lam_adv``) = 1, 1, 2, 0.05: the paper's "λ_int, λ_gd, λ_op
and λ_adv are 1.0, 1.0, 2.0 and 0.05" and the official ``hyper_params.ini`` for ShanghaiTech;
the official Avenue section sets ``LAM_LP = 0.001`` instead of 1 (comment there: "LAM_LP = 1 is
84.9, LAM_LP = 0.001 may arrive to 85.1"; Paper C's baseline is 85.1) -- pass ``lam_int=0.001``
to follow it.

**Discriminator** (official ``discriminator(num_filers=(128, 256, 512, 512))``; tiny: 16, 32,
64, 64): reflect-pad 2 then conv4×4 at every layer; strides 2, 2, 2, 1; LeakyReLU 0.2; instance
norm (affine, ε = 1e-5) on all but the first layer; a final conv4×4 to one channel, stride 1,
sigmoid -> a map of patch scores. Weights N(0, 0.02), biases zero.

*How the discriminator is trained.* ``vadlib.runs.train.train`` calls ``loss, logs =
host.training_loss(batch)`` and then steps one optimizer built from the parameters that require
gradients. The discriminator therefore lives in :class:`Adversary`, a submodule whose parameters
are kept at ``requires_grad=False``: the project's optimizer never includes them (and an
optimizer built from all of ``host.parameters()`` never sees a gradient on them), the
generator's loss flows *through* D into Î without touching D, and D has its own Adam optimizer,
owned by the host. Each call of :meth:`FutureFramePrediction.training_loss` in training mode with
gradients enabled (1) predicts Î once, (2) takes one D step on ``L_adv^D(I, Î.detach())``, then
(3) returns the generator loss, whose ``L_adv^G`` uses the updated D -- the official order (D,
then G, on the same batch, every iteration). In eval mode or under ``torch.no_grad()`` D is not
updated. D's optimizer state is part of ``host.state_dict()`` (``Adversary.get_extra_state``), so
the project's checkpoints resume it too. D's step runs in float32 outside autocast. D's learning
rate stays constant (official: ×0.1 at the same iteration as G's; with our 80,000 iterations that
boundary is never reached on Avenue).

**Flow network** (``flow=``): the paper uses a pretrained FlowNet2-SD (TensorFlow). Here:

* ``"raft"``: torchvision's RAFT-small (Teed & Deng, ECCV 2020) with the pretrained weights
  ``Raft_Small_Weights.DEFAULT`` (C_T_V2), read from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints/raft_small_C_T_V2-01064c6d.pth``) or from ``flow_weights``;
  nothing is downloaded -- when the file is missing a :class:`FileNotFoundError` says how to
  fetch it. 12 refinement iterations (torchvision's default).
* ``"random"`` (smoke runs): the same RAFT-small architecture with *frozen random* weights
  (seeded with ``seed``) standing in for a flow network; 2 refinement iterations by default. The
  flow loss is then a fixed, differentiable random-feature matching term, not an optical-flow
  constraint; :attr:`flow_note` says so.
* ``"none"``: no flow loss (λ_op term dropped).

The flow network is frozen (``requires_grad=False``, always in eval mode, even after
``host.train()``), never a block site, and receives frames in [-1, 1] (RAFT's range; grey frames
repeated to three channels). RAFT needs sides that are multiples of 8 and at least 128 px
(torchvision's correlation pyramid), so frames are resized bilinearly to
``max(128, ceil8(side))`` when needed and the flows are compared at that resolution (the official
code also resizes to the flow network's input size).

**Score** (official ``evaluate.py``): per frame PSNR = 10·log10(1 / MSE) over C×H×W in [0, 1]
(MSE floored at 1e-10; :func:`vadlib.models.layers.psnr`); per test video the PSNRs are min-max
normalised and the frame anomaly score is 1 - normalised PSNR (:meth:`video_scores`; the official
code scores the normalised PSNR as "normality" with ``pos_label=0``, the same ranking). A video's first four frames have no clip
(no four past frames) and get no score, as officially. Error maps: per-pixel squared error in
[0, 1], averaged over channels.

**Block sites** (``block_positions``; all stride-1 c -> c convolutions of the generator):

* ``"early"``: ``generator.enc.0.conv2`` -- second conv of the first encoder stage (b -> b);
* ``"middle"``: ``generator.enc.3.conv2`` -- second conv of the bottleneck stage (8b -> 8b);
* ``"late"`` (default, the papers' "penultimate conv"): ``generator.dec.2.conv2`` -- the conv
  right before the output conv (b -> b).

λ (``block_weight``) = 0.1 (Paper C T L2084; Paper D T 2599).

**Schedule** (:meth:`schedule`): Adam (β = 0.9, 0.999), batch 4; generator lr 2e-4 on colour
datasets (Avenue, ShanghaiTech), 1e-4 on grey ones (Ped1, Ped2); discriminator lr a tenth of
that (``d_lr``; the paper's Sec. 4.1 and ``hyper_params.ini``). The official code counts
iterations, not epochs: one "epoch" here is :attr:`steps_per_epoch` = 1,000 iterations and the
paper schedule is 80 of them (80,000 iterations: the README's example training command; the
paper gives no number). The ×0.1 drop of ``hyper_params.ini`` (Avenue at 100k, ShanghaiTech at
50k, Ped1 at 40k, Ped2 at 7k iterations) becomes a milestone at that fraction of 80k when it
falls inside it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.layers import minmax, psnr
from vadlib.models.registry import HostContext, register_host
from vadlib.models.video_hosts import Schedule, VideoHost

__all__ = [
    "FutureFramePrediction",
    "UNetGenerator",
    "PatchDiscriminator",
    "Adversary",
    "gradient_loss",
    "raft_weights_path",
    "load_flow_network",
    "FLOWS",
]

SIZES = ("tiny", "paper")
FLOWS = ("raft", "random", "none")
#: generator base width b and discriminator widths per size
WIDTHS = {"paper": (64, (128, 256, 512, 512)), "tiny": (8, (16, 32, 64, 64))}
#: past frames the generator sees (the paper's t = 4)
PAST_FRAMES = 4
#: RAFT refinement iterations by flow kind (torchvision's default 12 for the real network)
FLOW_UPDATES = {"raft": 12, "random": 2}
#: official iterations (README example command), expressed as epochs of ``steps_per_epoch``
ITERATIONS = 80_000
#: official (colour?, lr drop boundary in iterations) per dataset, ``hyper_params.ini``
DATASETS = {"avenue": (True, 100_000), "shanghaitech": (True, 50_000),
            "ped1": (False, 40_000), "ped2": (False, 7_000)}
_RAFT_MIN = 128  # torchvision RAFT's smallest input side (16 feature cells at 1/8 resolution)


# ------------------------------------------------------------------------------------ losses

def gradient_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """The paper's gradient-difference loss (Eq. 3): mean L1 distance between the absolute
    horizontal (and vertical) one-pixel differences of prediction and target, summed over the two
    directions; N×C×H×W."""
    def grads(x: Tensor) -> tuple[Tensor, Tensor]:
        return (x[..., :, 1:] - x[..., :, :-1]).abs(), (x[..., 1:, :] - x[..., :-1, :]).abs()

    pdx, pdy = grads(prediction)
    tdx, tdy = grads(target)
    return (pdx - tdx).abs().mean() + (pdy - tdy).abs().mean()


# ------------------------------------------------------------------------------------ generator

class _DoubleConv(nn.Module):
    """[conv3×3 - ReLU] × 2 (``conv1``: c_in -> c_out, ``conv2``: c_out -> c_out)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class UNetGenerator(nn.Module):
    """FFP's U-Net (module docstring): ``in_channels`` = t·C stacked past frames, output C
    channels in [-1, 1] (tanh); ``base`` = b (64 paper, 8 tiny); four resolution levels."""

    LEVELS = 4

    def __init__(self, in_channels: int, out_channels: int, base: int = 64):
        super().__init__()
        widths = [base * 2 ** i for i in range(self.LEVELS)]
        self.enc = nn.ModuleList()
        c = in_channels
        for w in widths:
            self.enc.append(_DoubleConv(c, w))
            c = w
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w in reversed(widths[:-1]):                       # 4b, 2b, b
            self.up.append(nn.ConvTranspose2d(2 * w, w, 2, stride=2))
            self.dec.append(_DoubleConv(2 * w, w))
        self.out = nn.Conv2d(base, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2 ** (self.LEVELS - 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, stage in enumerate(self.enc):
            x = stage(x)
            if i < self.LEVELS - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat((skip, F.relu(up(x))), dim=1))
        return torch.tanh(self.out(x))[..., :h, :w]


# ------------------------------------------------------------------------------------ discriminator

class PatchDiscriminator(nn.Module):
    """pix2pix patch discriminator as FFP's (module docstring): per-patch probabilities N×1×h×w."""

    def __init__(self, in_channels: int, widths: Sequence[int] = (128, 256, 512, 512),
                 padding: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            stride = 1 if i == len(widths) - 1 else 2
            layers += [nn.ReflectionPad2d(padding), nn.Conv2d(c, w, 4, stride=stride, bias=i == 0)]
            if i > 0:
                layers.append(nn.InstanceNorm2d(w, affine=True, eps=1e-5))
            layers.append(nn.LeakyReLU(0.2))
            c = w
        layers += [nn.ReflectionPad2d(padding), nn.Conv2d(c, 1, 4, stride=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.net(x))


class Adversary(nn.Module):
    """The discriminator with its own Adam optimizer, trained only through :meth:`update`.

    Its parameters are kept at ``requires_grad=False`` outside :meth:`update`, so an optimizer
    built from the host's trainable parameters never includes them and the generator's backward
    pass flows through D without leaving gradients on it. The optimizer state and the number of
    updates travel in ``state_dict()`` as extra state.
    """

    def __init__(self, net: nn.Module, lr: float, betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__()
        self.net = net
        self.net.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas, eps=1e-8)
        self.updates = 0

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """Least-squares discriminator loss ``mean((D(real) - 1)²)/2 + mean(D(fake)²)/2``."""
        return 0.5 * (self.net(real) - 1.0).pow(2).mean() + 0.5 * self.net(fake).pow(2).mean()

    def update(self, real: Tensor, fake: Tensor) -> float:
        """One Adam step of D on (real, detached fake); returns the loss before the step."""
        params = list(self.net.parameters())
        real, fake = real.detach().float(), fake.detach().float()
        try:
            self.net.requires_grad_(True)
            with torch.enable_grad(), torch.autocast(device_type=real.device.type, enabled=False):
                loss = self.loss(real, fake)
                grads = torch.autograd.grad(loss, params)
            for p, g in zip(params, grads):
                p.grad = g
            self.optimizer.step()
        finally:
            for p in params:
                p.grad = None
            self.net.requires_grad_(False)
        self.updates += 1
        return float(loss.detach())

    def get_extra_state(self):
        return {"optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def set_extra_state(self, state) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])


# ------------------------------------------------------------------------------------ flow

def raft_weights_path() -> Path:
    """Where torchvision keeps ``Raft_Small_Weights.DEFAULT`` once downloaded (the torch hub cache,
    ``$TORCH_HOME/hub/checkpoints``, read at call time)."""
    from torchvision.models.optical_flow import Raft_Small_Weights
    name = os.path.basename(Raft_Small_Weights.DEFAULT.url)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def load_flow_network(flow: str, seed: int = 0, weights: str | os.PathLike | None = None) -> nn.Module | None:
    """A frozen, eval-mode RAFT-small (``"raft"``: pretrained weights from ``weights`` or the hub
    cache; ``"random"``: seeded random weights), or None for ``"none"``."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {', '.join(map(repr, FLOWS))}, got {flow!r}")
    if flow == "none":
        return None
    from torchvision.models.optical_flow import raft_small
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = raft_small(weights=None)
    if flow == "raft":
        path = Path(weights) if weights is not None else raft_weights_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"FFP's flow loss (flow='raft') needs the pretrained RAFT-small weights at {path}, "
                f"which do not exist (nothing is downloaded here). On a machine with internet run\n"
                f"    python -c \"from torchvision.models.optical_flow import raft_small, "
                f"Raft_Small_Weights; raft_small(weights=Raft_Small_Weights.DEFAULT)\"\n"
                f"and copy ~/.cache/torch/hub/checkpoints/{path.name} (or "
                f"$TORCH_HOME/hub/checkpoints/{path.name}) to {path}, or pass flow_weights=<file>; "
                f"use flow='random' (smoke stand-in) or flow='none' to run without it.")
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.eval()
    net.requires_grad_(False)
    return net


# ------------------------------------------------------------------------------------ host

@register_host
class FutureFramePrediction(VideoHost):
    """FFP (Liu et al., CVPR 2018) as a :class:`VideoHost` (see the module docstring).

    ``FutureFramePrediction(size="tiny" | "paper", in_channels=3, pretrained=False, *, seed=0,
    flow=None, flow_weights=None, flow_updates=None, lam_int=1.0, lam_gd=1.0, lam_op=2.0,
    lam_adv=0.05, d_lr=None)``

    * ``flow``: "raft" | "random" | "none"; default "raft" for ``size="paper"``, "random" for
      "tiny" (pass it explicitly from a runner); ``flow_weights``: a RAFT-small state-dict file
      instead of the hub cache; ``flow_updates``: RAFT iterations (default 12 raft, 2 random);
    * ``lam_adv=0`` drops the discriminator altogether;
    * ``d_lr``: discriminator learning rate, default 2e-5 for colour (C = 3) and 1e-5 for grey;
    * ``pretrained`` must be False (the generator trains from scratch; the flow network's
      weights are chosen with ``flow``).
    """

    name = "ffp"
    label = "FFP"
    window = PAST_FRAMES + 1
    block_positions = {"early": ("generator.enc.0.conv2",),
                       "middle": ("generator.enc.3.conv2",),
                       "late": ("generator.dec.2.conv2",)}
    default_position = "late"
    block_weight = 0.1
    #: one schedule "epoch" = this many iterations (the official code counts iterations)
    steps_per_epoch = 1000

    def __init__(self, size: str = "tiny", in_channels: int = 3, pretrained: bool = False, *,
                 seed: int = 0, flow: str | None = None, flow_weights: str | os.PathLike | None = None,
                 flow_updates: int | None = None, lam_int: float = 1.0, lam_gd: float = 1.0,
                 lam_op: float = 2.0, lam_adv: float = 0.05, d_lr: float | None = None):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey) or 3 (RGB), got {in_channels!r}")
        if pretrained:
            raise ValueError("FFP's generator trains from scratch; use pretrained=False (the flow "
                             "network's weights are chosen with flow='raft' | 'random' | 'none')")
        flow = ("raft" if size == "paper" else "random") if flow is None else flow
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {', '.join(map(repr, FLOWS))}, got {flow!r}")
        for name, value in (("lam_int", lam_int), ("lam_gd", lam_gd), ("lam_op", lam_op),
                            ("lam_adv", lam_adv)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.size, self.in_channels, self.seed = size, in_channels, int(seed)
        self.lam_int, self.lam_gd = float(lam_int), float(lam_gd)
        self.lam_op = float(lam_op) if flow != "none" else 0.0
        self.lam_adv = float(lam_adv)
        base, d_widths = WIDTHS[size]
        self.generator = UNetGenerator(PAST_FRAMES * in_channels, in_channels, base)
        generator = torch.Generator().manual_seed(self.seed)
        _init_generator(self.generator, generator)
        if self.lam_adv > 0:
            disc = PatchDiscriminator(in_channels, d_widths)
            _init_discriminator(disc, generator)
            lr = d_lr if d_lr is not None else (2e-5 if in_channels == 3 else 1e-5)
            self.discriminator: Adversary | None = Adversary(disc, lr)
        else:
            self.discriminator = None
        self.flow = flow
        self.flow_updates = int(flow_updates) if flow_updates is not None else FLOW_UPDATES.get(flow, 0)
        if flow != "none" and self.flow_updates < 1:
            raise ValueError(f"flow_updates must be >= 1, got {flow_updates!r}")
        self.flow_net = load_flow_network(flow, self.seed, flow_weights)
        self.flow_note = {
            "raft": (f"flow: torchvision RAFT-small with pretrained weights "
                     f"({Path(flow_weights) if flow_weights else raft_weights_path()}), frozen, "
                     f"{self.flow_updates} iterations, standing in for the paper's FlowNet2-SD"),
            "random": (f"flow: STAND-IN -- torchvision RAFT-small architecture with frozen RANDOM "
                       f"weights (seed {self.seed}, {self.flow_updates} iterations), not a trained "
                       f"flow network; the flow loss is a fixed random-feature matching term, not "
                       f"the paper's optical-flow constraint (FlowNet2-SD)"),
            "none": "flow: none -- no optical-flow loss (the paper's λ_op term is dropped)",
        }[flow]

    # ---------------------------------------------------------------- modes
    def train(self, mode: bool = True):
        super().train(mode)
        if self.flow_net is not None:
            self.flow_net.eval()  # frozen: always in eval mode
        return self

    # ---------------------------------------------------------------- helpers
    def _split(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        """(past frames N×(4C)×H×W, target N×C×H×W), both in [-1, 1]."""
        clips = self.check_clips(clips)
        if not clips.is_floating_point():
            raise ValueError(f"clips must be floating point in [0, 1], got {clips.dtype}")
        if clips.shape[0] == 0:
            raise ValueError("clips is an empty batch")
        if clips.shape[2] != self.in_channels:
            raise ValueError(f"clips have {clips.shape[2]} channels; this {type(self).__name__} "
                             f"was built for in_channels={self.in_channels}")
        x = clips * 2.0 - 1.0
        past = x[:, :PAST_FRAMES].flatten(1, 2)
        return past, x[:, PAST_FRAMES]

    def flow_between(self, first: Tensor, second: Tensor) -> Tensor:
        """Flow N×2×h×w from ``first`` to ``second`` (N×C×H×W in [-1, 1]) by the frozen flow
        network, at ``max(128, ceil8(side))`` resolution; differentiable in its inputs."""
        if self.flow_net is None:
            raise RuntimeError("this host was built with flow='none'")
        h, w = first.shape[-2:]
        size = (max(_RAFT_MIN, -(-h // 8) * 8), max(_RAFT_MIN, -(-w // 8) * 8))
        if size != (h, w):
            first = F.interpolate(first, size=size, mode="bilinear", align_corners=False)
            second = F.interpolate(second, size=size, mode="bilinear", align_corners=False)
        if first.shape[1] == 1:
            first, second = first.expand(-1, 3, -1, -1), second.expand(-1, 3, -1, -1)
        return self.flow_net(first.contiguous(), second.contiguous(),
                             num_flow_updates=self.flow_updates)[-1]

    def forward(self, clips: Tensor) -> Tensor:
        """Predicted next frame N×C×H×W in [0, 1] from the last ``window`` frames' four past ones."""
        past, _ = self._split(clips)
        return (self.generator(past) + 1.0) / 2.0

    predict = forward

    # ---------------------------------------------------------------- training
    def training_loss(self, clips: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Generator loss λ_int·L_int + λ_gd·L_gd + λ_op·L_op + λ_adv·L_adv^G on normal clips,
        after one discriminator step when training (module docstring); returns (loss, logs)."""
        past, target = self._split(clips)
        pred = self.generator(past)
        zero = pred.new_zeros(())
        l_int = (pred - target).pow(2).mean()
        l_gd = gradient_loss(pred, target)
        logs: dict[str, float] = {}
        if self.flow_net is not None and self.lam_op > 0:
            last = past[:, -self.in_channels:]
            with torch.no_grad():
                flow_real = self.flow_between(last, target)
            l_op = (self.flow_between(last, pred) - flow_real).abs().mean()
        else:
            l_op = zero
        if self.discriminator is not None:
            if self.training and torch.is_grad_enabled():
                logs["d_loss"] = self.discriminator.update(target, pred)
            l_adv = 0.5 * (self.discriminator(pred) - 1.0).pow(2).mean()
        else:
            l_adv = zero
        loss = self.lam_int * l_int + self.lam_gd * l_gd + self.lam_op * l_op + self.lam_adv * l_adv
        with torch.no_grad():
            train_psnr = psnr((pred + 1) / 2, (target + 1) / 2).mean()
        logs = {"g_loss": float(loss.detach()), "int": float(l_int.detach()),
                "gd": float(l_gd.detach()), "op": float(l_op.detach()),
                "adv": float(l_adv.detach()), **logs, "psnr": float(train_psnr)}
        return loss, logs

    # ---------------------------------------------------------------- scoring
    @torch.no_grad()
    def frame_evidence(self, clips: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """``({"psnr": N PSNRs in dB of the predicted last frames}, N×H×W squared errors)``,
        both in [0, 1] intensity units; runs in eval mode and restores the previous mode."""
        was_training = self.training
        self.eval()
        try:
            past, target = self._split(clips)
            pred = (self.generator(past) + 1.0) / 2.0
        finally:
            self.train(was_training)
        target = (target + 1.0) / 2.0
        return {"psnr": psnr(pred, target)}, (pred - target).pow(2).mean(1)

    def video_scores(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """1 - min-max normalised PSNR within one video (official ``evaluate.py``): higher = more
        anomalous."""
        values = parts["psnr"]
        if isinstance(values, Tensor):
            values = values.detach().cpu().numpy()
        return 1.0 - minmax(np.asarray(values, dtype=np.float64))

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        """:meth:`schedule` for ``ctx.dataset`` (colour or grey learning rate, lr drop)."""
        return cls.schedule(ctx.size, dataset=ctx.dataset)

    @classmethod
    def schedule(cls, size: str = "paper", dataset: str = "avenue") -> Schedule:
        """Generator schedule (the discriminator's Adam is the host's, lr ``d_lr``); see the
        module docstring. ``dataset``: avenue | shanghaitech (colour) | ped1 | ped2 (grey)."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; datasets: {', '.join(DATASETS)}")
        colour, boundary = DATASETS[dataset]
        iterations = ITERATIONS if size == "paper" else 5 * cls.steps_per_epoch
        fraction = boundary / ITERATIONS
        milestones = (fraction,) if fraction < 1 else ()
        lr = 2e-4 if colour else 1e-4
        return Schedule(
            epochs=iterations // cls.steps_per_epoch, batch_size=4, lr=lr, optimizer="adam",
            milestones=milestones, gamma=0.1,
            source=(f"FFP (Liu et al., CVPR 2018) Sec. 4.1 and the official code "
                    f"(github.com/StevenLiuWen/ano_pred_cvpr2018): Adam, batch 4, generator lr "
                    f"{lr:g} ({'colour' if colour else 'grey'} data; discriminator lr {lr / 10:g} "
                    f"in the host's own optimizer); lr x0.1 at iteration {boundary} "
                    f"(hyper_params.ini [{dataset}]); {ITERATIONS} iterations = the README's "
                    f"example command (the paper gives none), as {ITERATIONS // cls.steps_per_epoch} "
                    f"epochs of steps_per_epoch={cls.steps_per_epoch} iterations"
                    + ("" if size == "paper" else
                       f"; size='tiny': ours, {iterations} iterations with the same milestone "
                       f"fraction")))


def _init_generator(module: nn.Module, generator: torch.Generator) -> None:
    """TensorFlow's defaults of the official code: Glorot-uniform weights, zero biases."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()


def _init_discriminator(module: nn.Module, generator: torch.Generator) -> None:
    """pix2pix's ``random_normal_initializer(0, 0.02)`` weights, zero biases; instance-norm
    scale 1, shift 0."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0.0, 0.02, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.InstanceNorm2d) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
