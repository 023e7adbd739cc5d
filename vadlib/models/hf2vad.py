"""HF2-VAD, the object-centric hybrid host of Papers C and D (Table C.3; Tables D.5, D.6).

Z. Liu, Y. Nie, C. Long, Q. Zhang, G. Li, "A Hybrid Video Anomaly Detection Framework via
Memory-Augmented Flow Reconstruction and Flow-Guided Frame Prediction", ICCV 2021 (Paper C's [17],
Paper D's [59]). Reimplemented from the paper; no code of the official repository
(``github.com/LiUzHiAn/hf2vad``) is used. The paper itself is not among the thesis seeds: the
structure below is our reading of it; the numbers marked **[code]** are the hyperparameters the
specs read from the official configuration and evaluation script (``paper_C.md`` §2); every value
the paper leaves open is marked *ours*.

Pipeline (the paper's Fig. 2), on one object cube (batch keys of :mod:`vadlib.models.object_hosts`)::

    flows y_1..y_t (t = 4, "flow": N×4×2×S×S, stacked on channels)
        ──► ML-MemAE-SC ──► ŷ_1..ŷ_t                         (flow reconstruction)
    frames x_1..x_t ("appearance"[:, :4]) and ŷ_1..ŷ_t
        ──► CVAE ──► x̂_{t+1}, compared with "appearance"[:, 4]  (flow-guided frame prediction)

``window`` = 5 (t = 4 past frames + the predicted one; **[code]** "4 past frames + 1 predicted"),
so a cube carries 4 flows, y_j from frame j to j + 1 (in pixels of the crop): y_4 is the motion
into the predicted frame, which is what lets the flow "guide" the prediction. The score of a cube
is about its *last* frame, and the official evaluation scores frame i with the cube i−4..i cut with
the box of the object detected in frame i (hence "first 4 frames per video dropped"): the host
says so with ``score_anchor = "last"``, and the object pipeline builds its cubes from the frames
ending at the object's frame and attributes the object score to that frame
(:func:`vadlib.models.object_pipeline.window_frames`).
Crops are S × S with S = 32 (``crop_size["paper"]``, the paper's object patch size);
``size="tiny"`` uses S = 16 (*ours*, for CPU runs).

**Memory module** (MemAE: D. Gong et al., "Memorizing Normality to Detect Anomaly: Memory-augmented
Deep Autoencoder", ICCV 2019, which HF2-VAD adopts), :func:`memory_address` / :class:`Memory`:
every feature vector z (one per spatial position of a C×h×w map) addresses M learnable items m_i
(an ``nn.Parameter`` M×C, trained by back-propagation like the rest) with

* w_i = softmax_i(cos(z, m_i))                                      (MemAE Eqs. 4-5)
* ŵ_i = max(w_i − λ_s, 0) · w_i / (|w_i − λ_s| + ε), then ŵ ← ŵ / ‖ŵ‖_1   (hard shrinkage, Eq. 7)
* ẑ = Σ_i ŵ_i m_i                                                   (read, Eq. 3)

with shrinkage threshold λ_s and ε = 1e-12 (MemAE). Items start as U(−1/√C, 1/√C) (*ours*, the
usual fan-in initialisation). The entropy loss Σ_i −ŵ_i log ŵ_i (:func:`entropy_loss`, MemAE Eq. 9)
pushes the addressing towards a few items. MNAD's memory (:mod:`vadlib.models.mnad`) is a
different module -- L2-normalised items kept as a buffer and moved by an update rule, plain
softmax without shrinkage -- so it is not reused here.

**ML-MemAE-SC** (:class:`MLMemAESC`, "Multi-Level Memory modules in an Autoencoder with Skip
Connections"): a U-Net-like auto-encoder of the 2t = 8 flow channels. Encoder: 4 levels of
[conv3×3-BN-ReLU]×2, widths b, 2b, 4b, 8b at S, S/2, S/4, S/8 (2×2 max pooling between). A memory
module sits on each of the three lower levels (1-3); the decoder starts from the memory read of
level 3 and, at levels 2 and 1, concatenates the *memory read* of that level (not the raw encoder
features: the skip connections carry memorised normal patterns only). The top level (S) has no
memory and no skip connection, so no un-memorised information reaches the output (our reading
of the paper's figure: a full-resolution skip would let the auto-encoder copy abnormal flows).
Decoder levels: 3×3 stride-2 transposed conv -BN-ReLU (×2 upsampling), [concat read], [conv3×3-
BN-ReLU]×2; output: conv3×3-BN-ReLU (b -> b) and conv3×3 b -> 2t, linear (flows are unbounded).
Loss: L_flow = mean (ŷ − y)² + λ_ent Σ_levels mean_z entropy(ŵ).

**CVAE** (:class:`FlowGuidedCVAE`; the paper builds it on the variational U-Net of Esser et al.,
CVPR 2018). Our reading of the paper's Fig. 3 (the paper gives no layer list):

* frame encoder E_θ on x_1..x_t (t·C channels, [-1, 1]): the same 4-level encoder (widths b..8b);
  its level 0-2 features are the decoder's skip connections and its bottleneck gives the prior
  p_θ(z | x_{1:t}) = N(μ_p, σ_p²) (1×1 conv -> μ, log σ²);
* flow encoder E_φ on the flows (2t channels): the same encoder; its bottleneck gives the
  posterior q_φ(z | y_{1:t}) = N(μ_q, σ_q²). The flows into the predicted frame carry what the
  past frames cannot tell (where the object goes), so they stand in for x_{t+1} in the posterior;
* decoder D_ψ: concat(E_θ bottleneck, z) -> [conv-BN-ReLU]×2 (8b) ("early"), ×2 up, concat skip 2,
  [conv-BN-ReLU]×2 (4b) ("middle"), ×2 up, concat skip 1, [conv-BN-ReLU]×2 (2b), ×2 up, concat
  skip 0, conv-BN-ReLU (2b -> b), conv-BN-ReLU (b -> b) ("late": the penultimate conv), conv
  b -> C, tanh.

z has z_c = 2b channels at S/8 × S/8 (one latent level, *ours*; the variational U-Net has latents
at several scales). In training z = μ_q + σ_q ε (reparameterisation); when scoring, z = μ_q
(*ours*: deterministic scores). The CVAE is conditioned on the **reconstructed** flows ŷ (the
paper: "conditioned on the reconstructed flows"), so a poorly reconstructed abnormal flow also
spoils the predicted frame.

Loss (``stage="joint"``, the default, the paper's end-to-end objective)::

    L = λ_recon L_flow_recon + λ_ent L_ent + λ_frame L_frame + λ_grad L_grad + λ_kl KL

* L_frame = mean (x̂_{t+1} − x_{t+1})² in [-1, 1];
* L_grad: the gradient-difference loss of Liu et al. (FFP, CVPR 2018), which HF2-VAD adopts,
  :func:`vadlib.models.ffp.gradient_loss`;
* KL = mean over latent elements of KL(q_φ ‖ p_θ) between diagonal Gaussians (a mean, not a sum,
  so that it is on the scale of the other means: *ours*);
* λ_frame = λ_kl = λ_grad = 1 **[code]**; λ_recon = 1 and λ_ent = 0.0002 (MemAE's entropy weight;
  *ours* where the paper gives no number).

* L_flow_recon = mean (ŷ − y)²; L_ent = the sum over the three memories of the mean entropy of
  their addressing weights.

The paper trains in stages: ML-MemAE-SC first, then the CVAE on its reconstructions with
ML-MemAE-SC frozen (our reading; the paper is not among the seeds). ``stage`` (constructor option
and attribute, changeable between steps, kept in the ``state_dict`` so that a resumed run goes on
in the stage it stopped in) selects what a step trains: ``"memae"`` (flow losses only),
``"cvae"`` (ML-MemAE-SC frozen: no gradients, batch norm in eval mode; CVAE losses only),
``"joint"`` (all losses; the CVAE's gradients also reach ML-MemAE-SC through ŷ). ``stages=(a, b)``
(:data:`STAGED`) is the staged schedule the object run follows
(:meth:`HF2VAD.on_train_step`): the first fraction a of the training steps in stage "memae", the
next fraction b in "cvae", the rest "joint". Default: ``(0.5, 0.5)`` at ``size="paper"`` (the
quick and full profiles: the paper's two stages, half the steps each, *ours*) and ``(0, 0)`` --
joint training from the first step -- at ``size="tiny"`` (the smoke profile keeps its recipe and
budget). Trained jointly, the CVAE's frame losses reach
ML-MemAE-SC through ŷ and its flow reconstruction error *grows* during training (on the Avenue
twin, from ≈ 5 to ≈ 30 in 150 steps with Farneback flow), ŷ becoming a feature of the CVAE rather
than a reconstruction; in stages the flow error falls. ML-MemAE-SC also learns far faster alone
than jointly: the cosine-softmax addressing over M items starts almost uniform, so the memory
reads carry little information until the items spread out.

**Score** (**[code]** official ``eval.py``; :meth:`HF2VAD.object_scores`): per object, S_r = mean
(ŷ − y)² over the flow cube and S_p = mean (x̂_{t+1} − x_{t+1})² over the predicted frame in
[0, 1]; each is z-normalised with the mean and standard deviation over the *training* objects,
and the object score is ``w_r (S_r − μ_r)/σ_r + w_p (S_p − μ_p)/σ_p``. The statistics are
recorded by :meth:`HF2VAD.fit_statistics` (= :meth:`HF2VAD.calibrate`, which the object pipeline
calls once after training with batches of normal training objects); they are buffers, so they
travel with the ``state_dict``. Scoring before they are recorded is an error. Weights:
w_r = 1.0, w_p = 0.1 -- the official configuration's values as the specs read them (its UCSD Ped2
example); the specs do not give Avenue's or ShanghaiTech's, so the same values are used for every
dataset (**assumption**; ``w_r=`` / ``w_p=`` override). The frame score is the max over the
frame's objects, median-filtered per video with kernel 17 (``frame_filter``, **[code]**), applied
by the object pipeline.

**Block** (SSPCAB / SSMCTB): "we replace the penultimate convolutional layer" (Paper C T L2082;
Paper D T 2596): ``"late"`` = ``cvae.decoder.final.3``, the conv before the CVAE decoder's output
conv (b -> b). Further positions of the same decoder: ``"early"`` = ``cvae.decoder.bottleneck.3``
(8b), ``"middle"`` = ``cvae.decoder.level2.3`` (4b); extra, not in the papers: ``"memae_late"`` =
``memae.final.0``, the penultimate conv of ML-MemAE-SC.

**λ (block_weight): a contradiction in the thesis.** Paper C: "for Liu et al. [17], we reduced λ
to 0.01" (seed T L2084). Paper D: "Following our previous work [54], we decrease λ to 0.001" for
[57, 59] = NSA and HF2-VAD (T L2599) -- "following" a paper that says 0.01. Recorded in
``paper_C.md`` §8 item 2. ``paper="C"`` (default) gives 0.01, ``paper="D"`` 0.001
(:data:`BLOCK_WEIGHTS`); the instance attribute ``block_weight`` is what the trainer reads.

**Schedule** (**[code]**, the official configuration's UCSD Ped2 example; the specs give no other
dataset's): Adam, lr 1e-4, batch 128, 80 epochs, constant learning rate (*ours*: none is stated).
``size="tiny"``: 10 epochs (*ours*).

**Sizes** (:data:`WIDTHS`, :data:`MEMORY`): ``"paper"`` -- ML-MemAE-SC base width 32 **[code]**
2000 items per memory and λ_s = 0.0005 = 1/2000 **[code]** (MemAE recommends λ_s in [1/M, 3/M]);
base widths 32 for both networks (*ours*: neither the paper's text nor the specs give layer
widths). ``"tiny"`` -- base widths 8, 100 items per memory, λ_s = 1/100.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.ffp import gradient_loss
from vadlib.models.layers import conv_bn_relu, double_conv_bn_relu
from vadlib.models.object_hosts import ObjectHost
from vadlib.models.registry import HostContext, register_host
from vadlib.models.schedule import Schedule

__all__ = [
    "HF2VAD",
    "MLMemAESC",
    "FlowGuidedCVAE",
    "Memory",
    "memory_address",
    "entropy_loss",
    "gaussian_kl",
    "SIZES",
    "WIDTHS",
    "MEMORY",
    "LOSS_WEIGHTS",
    "SCORE_WEIGHTS",
    "BLOCK_WEIGHTS",
    "STAGES",
    "STAGED",
    "PAST_FRAMES",
]

SIZES = ("tiny", "paper")
STAGES = ("joint", "memae", "cvae")
#: fractions (ML-MemAE-SC alone, then the CVAE with it frozen) of the training steps per size;
#: the rest of the steps train everything jointly (module docstring)
STAGED = {"paper": (0.5, 0.5), "tiny": (0.0, 0.0)}
#: t, the past frames of a cube (the cube has t + 1 frames and t flows)
PAST_FRAMES = 4
#: base widths b of ML-MemAE-SC and of the CVAE (levels b, 2b, 4b, 8b)
WIDTHS = {"paper": {"memae": 32, "cvae": 32}, "tiny": {"memae": 8, "cvae": 8}}
#: memory items per level and hard-shrinkage threshold λ_s
MEMORY = {"paper": {"slots": 2000, "shrink": 0.0005}, "tiny": {"slots": 100, "shrink": 0.01}}
#: loss weights (module docstring: frame, kl, grad [code]; recon, entropy ours / MemAE)
LOSS_WEIGHTS = {"recon": 1.0, "entropy": 0.0002, "frame": 1.0, "kl": 1.0, "grad": 1.0}
#: (w_r, w_p) of the score per dataset; None = every dataset (assumption: only Ped2's are known)
SCORE_WEIGHTS = {None: (1.0, 0.1), "ped2": (1.0, 0.1)}
#: λ of the block loss per thesis paper (the contradiction of the module docstring)
BLOCK_WEIGHTS = {"C": 0.01, "D": 0.001}
EPOCHS = {"paper": 80, "tiny": 10}
_EPS = 1e-12


# ------------------------------------------------------------------------------------ memory

def memory_address(queries: Tensor, items: Tensor, shrink: float) -> Tensor:
    """MemAE addressing weights ŵ (K×M) of queries (K×C) over items (M×C): softmax over the items
    of the cosine similarities, then hard shrinkage with threshold ``shrink`` and L1
    re-normalisation (``shrink=0``: the plain softmax). Each row sums to 1, except when all its
    weights are <= ``shrink`` (possible only for ``shrink`` >= 1/M): the row is then all zero and
    the query reads the zero vector, as in MemAE."""
    w = torch.softmax(F.normalize(queries, dim=1) @ F.normalize(items, dim=1).t(), dim=1)
    if shrink > 0:
        shifted = w - shrink
        w = F.relu(shifted) * w / (shifted.abs() + _EPS)
        w = w / w.sum(dim=1, keepdim=True).clamp_min(_EPS)
    return w


def entropy_loss(weights: Tensor) -> Tensor:
    """Mean over queries of the entropy Σ_i −ŵ_i log ŵ_i of the addressing weights (K×M)."""
    return -(weights * torch.log(weights + _EPS)).sum(dim=1).mean()


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """Mean over elements of KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) for diagonal Gaussians."""
    return 0.5 * (logvar_p - logvar_q
                  + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1.0).mean()


class Memory(nn.Module):
    """A MemAE memory of ``slots`` learnable items of ``dim`` channels, read position by position.

    ``forward(x)`` on N×C×h×w features returns ``(read N×C×h×w, weights (N·h·w)×slots)``."""

    def __init__(self, slots: int, dim: int, shrink: float):
        super().__init__()
        self.shrink = float(shrink)
        bound = 1.0 / math.sqrt(dim)
        self.items = nn.Parameter(torch.empty(slots, dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        queries = x.permute(0, 2, 3, 1).reshape(-1, c)
        weights = memory_address(queries, self.items, self.shrink)
        read = (weights @ self.items).view(n, h, w, c).permute(0, 3, 1, 2)
        return read, weights

    def extra_repr(self) -> str:
        return f"slots={self.items.shape[0]}, dim={self.items.shape[1]}, shrink={self.shrink:g}"


# ------------------------------------------------------------------------------------ networks

def _up(c_in: int, c_out: int) -> nn.Sequential:
    """×2 upsampling: 3×3 transposed conv, stride 2 (exactly twice the size), BN, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                         nn.BatchNorm2d(c_out), nn.ReLU())


class _Encoder(nn.Module):
    """4 levels of [conv3×3-BN-ReLU]×2, widths b, 2b, 4b, 8b, 2×2 max pooling between them;
    ``forward`` returns the features of every level (S, S/2, S/4, S/8)."""

    def __init__(self, c_in: int, b: int):
        super().__init__()
        self.level0 = double_conv_bn_relu(c_in, b)
        self.level1 = double_conv_bn_relu(b, 2 * b)
        self.level2 = double_conv_bn_relu(2 * b, 4 * b)
        self.level3 = double_conv_bn_relu(4 * b, 8 * b)

    def forward(self, x: Tensor) -> list[Tensor]:
        f0 = self.level0(x)
        f1 = self.level1(F.max_pool2d(f0, 2))
        f2 = self.level2(F.max_pool2d(f1, 2))
        return [f0, f1, f2, self.level3(F.max_pool2d(f2, 2))]


class MLMemAESC(nn.Module):
    """ML-MemAE-SC: reconstructs N×c×S×S flows (c = 2t) through memories at levels 1-3 whose reads
    are also the skip connections (module docstring). ``forward(y)`` returns ``(ŷ, [ŵ_1, ŵ_2,
    ŵ_3])``."""

    def __init__(self, channels: int, b: int, slots: int, shrink: float):
        super().__init__()
        self.encoder = _Encoder(channels, b)
        self.memories = nn.ModuleList(Memory(slots, w, shrink) for w in (2 * b, 4 * b, 8 * b))
        self.up3 = _up(8 * b, 4 * b)
        self.dec2 = double_conv_bn_relu(8 * b, 4 * b)      # [up, read of level 2]
        self.up2 = _up(4 * b, 2 * b)
        self.dec1 = double_conv_bn_relu(4 * b, 2 * b)      # [up, read of level 1]
        self.up1 = _up(2 * b, b)
        self.final = nn.Sequential(*conv_bn_relu(b, b), nn.Conv2d(b, channels, 3, padding=1))

    def forward(self, y: Tensor) -> tuple[Tensor, list[Tensor]]:
        _, f1, f2, f3 = self.encoder(y)
        (r1, w1), (r2, w2), (r3, w3) = (m(f) for m, f in zip(self.memories, (f1, f2, f3)))
        x = self.dec2(torch.cat((self.up3(r3), r2), dim=1))
        x = self.dec1(torch.cat((self.up2(x), r1), dim=1))
        return self.final(self.up1(x)), [w1, w2, w3]


class _Decoder(nn.Module):
    def __init__(self, c_out: int, b: int, z_channels: int):
        super().__init__()
        self.bottleneck = double_conv_bn_relu(8 * b + z_channels, 8 * b)
        self.up = nn.ModuleList([_up(8 * b, 4 * b), _up(4 * b, 2 * b), _up(2 * b, b)])
        self.level2 = double_conv_bn_relu(8 * b, 4 * b)    # [up, skip 2]
        self.level1 = double_conv_bn_relu(4 * b, 2 * b)    # [up, skip 1]
        self.final = nn.Sequential(*conv_bn_relu(2 * b, b), *conv_bn_relu(b, b),   # [up, skip 0]
                                   nn.Conv2d(b, c_out, 3, padding=1), nn.Tanh())

    def forward(self, h: Tensor, z: Tensor, skips: list[Tensor]) -> Tensor:
        s0, s1, s2 = skips
        x = self.bottleneck(torch.cat((h, z), dim=1))
        x = self.level2(torch.cat((self.up[0](x), s2), dim=1))
        x = self.level1(torch.cat((self.up[1](x), s1), dim=1))
        return self.final(torch.cat((self.up[2](x), s0), dim=1))


class FlowGuidedCVAE(nn.Module):
    """The CVAE predicting x_{t+1} from x_{1:t} (prior and skip connections) and the flows
    (posterior); module docstring. ``forward(frames, flows)`` with frames N×(t·C)×S×S in [-1, 1]
    returns ``(x̂ in [-1, 1], (μ_q, log σ_q², μ_p, log σ_p²))``."""

    def __init__(self, frame_channels: int, flow_channels: int, c_out: int, b: int):
        super().__init__()
        self.z_channels = 2 * b
        self.frame_encoder = _Encoder(frame_channels, b)
        self.flow_encoder = _Encoder(flow_channels, b)
        self.prior = nn.Conv2d(8 * b, 2 * self.z_channels, 1)
        self.posterior = nn.Conv2d(8 * b, 2 * self.z_channels, 1)
        self.decoder = _Decoder(c_out, b, self.z_channels)

    def forward(self, frames: Tensor, flows: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        *skips, h = self.frame_encoder(frames)
        mu_p, logvar_p = self.prior(h).chunk(2, dim=1)
        mu_q, logvar_q = self.posterior(self.flow_encoder(flows)[-1]).chunk(2, dim=1)
        z = mu_q + torch.randn_like(mu_q) * (0.5 * logvar_q).exp() if self.training else mu_q
        return self.decoder(h, z, skips), (mu_q, logvar_q, mu_p, logvar_p)


# ------------------------------------------------------------------------------------ host

@register_host
class HF2VAD(ObjectHost):
    """HF2-VAD (Liu et al., ICCV 2021) as an :class:`ObjectHost` (see the module docstring).

    ``HF2VAD(size="tiny" | "paper", in_channels=3, seed=0, *, paper="C" | "D", dataset=None,
    w_r=None, w_p=None, stage=None, stages=None, memory_slots=None, shrink=None)``; None = the
    published or documented default (:data:`SCORE_WEIGHTS` of ``dataset``, :data:`MEMORY` and
    :data:`STAGED` of ``size``; the first stage of the staged schedule, else "joint").
    ``seed`` seeds the weights and memory items (the global generator is left untouched).
    Batches: ``appearance`` N×5×C×S×S in [0, 1], ``flow`` N×4×2×S×S (S a multiple of 8).
    """

    name = "hf2vad"
    label = "Liu et al. (HF2-VAD)"
    window = PAST_FRAMES + 1
    #: the cube of frame i is frames i − 4 .. i: the score is about the predicted last frame
    score_anchor = "last"
    needs_flow = True
    crop_size: ClassVar[dict[str, int]] = {"paper": 32, "tiny": 16}
    block_positions: ClassVar[dict[str, tuple[str, ...]]] = {
        "early": ("cvae.decoder.bottleneck.3",),
        "middle": ("cvae.decoder.level2.3",),
        "late": ("cvae.decoder.final.3",),
        "memae_late": ("memae.final.0",),
    }
    default_position = "late"
    block_weight = BLOCK_WEIGHTS["C"]
    frame_filter = ("median", 17)  # official eval.py [code]: median filter, kernel 17, per video

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0, *, paper: str = "C",
                 dataset: str | None = None, w_r: float | None = None, w_p: float | None = None,
                 stage: str | None = None, stages: tuple[float, float] | None = None,
                 memory_slots: int | None = None, shrink: float | None = None):
        super().__init__(size=size, in_channels=in_channels, seed=seed)
        if paper not in BLOCK_WEIGHTS:
            raise ValueError(f"paper must be one of {', '.join(BLOCK_WEIGHTS)}, got {paper!r}")
        if self.in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
        self.paper, self.dataset = paper, dataset
        self.block_weight = BLOCK_WEIGHTS[paper]
        default_r, default_p = SCORE_WEIGHTS.get(dataset, SCORE_WEIGHTS[None])
        self.w_r = float(default_r if w_r is None else w_r)
        self.w_p = float(default_p if w_p is None else w_p)
        stages = STAGED[size] if stages is None else tuple(float(f) for f in stages)
        if len(stages) != 2 or min(stages) < 0 or sum(stages) > 1:
            raise ValueError(f"stages must be two fractions >= 0 summing to at most 1, got {stages!r}")
        self.stages = stages
        #: STAGES index of the current stage (a buffer: checkpoints keep it)
        self.register_buffer("stage_index", torch.zeros((), dtype=torch.long))
        self.stage = stage if stage is not None else ("memae" if self.staged else "joint")
        memory = MEMORY[size]
        slots = memory["slots"] if memory_slots is None else int(memory_slots)
        if shrink is None:  # MemAE's λ_s = 1/M when only the number of items is changed
            shrink = memory["shrink"] if memory_slots is None else 1.0 / slots
        self.shrink = float(shrink)
        if slots < 1 or not 0.0 <= self.shrink < 1.0:
            raise ValueError(f"need memory_slots >= 1 and 0 <= shrink < 1, got {slots}, {self.shrink}")
        flows = 2 * PAST_FRAMES
        widths = WIDTHS[size]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.memae = MLMemAESC(flows, widths["memae"], slots, self.shrink)
            self.cvae = FlowGuidedCVAE(PAST_FRAMES * self.in_channels, flows, self.in_channels,
                                       widths["cvae"])
        #: training means and standard deviations of S_r and S_p (NaN until fit_statistics)
        self.register_buffer("score_mean", torch.full((2,), float("nan")))
        self.register_buffer("score_std", torch.full((2,), float("nan")))

    @property
    def stage(self) -> str:
        return STAGES[int(self.stage_index)]

    @stage.setter
    def stage(self, value: str) -> None:
        if value not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {value!r}")
        self.stage_index.fill_(STAGES.index(value))

    @property
    def staged(self) -> bool:
        """Whether training follows the staged schedule ``stages`` (else the stage stays put)."""
        return sum(self.stages) > 0

    def on_train_step(self, step: int, total_steps: int) -> None:
        """The object run's hook after step ``step`` (0-based; −1 before the first) of
        ``total_steps``: under ``stages=(a, b)`` the next step's stage is "memae" for the first
        round(a · total) steps, "cvae" for the next ones up to round((a + b) · total), "joint"
        after (halves rounded up). Without stages: nothing."""
        if not self.staged:
            return
        following = step + 1
        memae_end = int(self.stages[0] * total_steps + 0.5)
        cvae_end = int((self.stages[0] + self.stages[1]) * total_steps + 0.5)
        self.stage = "memae" if following < memae_end else "cvae" if following < cvae_end else "joint"

    @classmethod
    def from_context(cls, ctx: HostContext) -> HF2VAD:
        """The host of ``ctx`` (its options are constructor options; ``ctx.dataset`` picks the score
        weights unless the options give ``dataset``)."""
        if ctx.pretrained:
            raise ValueError(f"{cls.__name__} trains from scratch; use pretrained=False")
        options = {"dataset": ctx.dataset, **dict(ctx.options)}
        return cls(size=ctx.size, in_channels=ctx.in_channels, seed=ctx.seed, **options)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """Adam, lr 1e-4, batch 128, 80 epochs, constant lr ([code]); tiny: 10 epochs."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        return Schedule(
            epochs=EPOCHS[size], batch_size=128, lr=1e-4, optimizer="adam", lr_schedule="multistep",
            milestones=(),
            source=("Liu et al., ICCV 2021, official configuration as read by paper_C.md §2 (UCSD Ped2 "
                    "example; no other dataset's is given): Adam, lr 1e-4, batch 128, 80 epochs; "
                    "constant lr (ours)." + (" size='tiny': 10 epochs (ours)." if size == "tiny" else "")))

    # ---------------------------------------------------------------- network
    def _inputs(self, batch: dict) -> tuple[Tensor, Tensor, Tensor]:
        """(past frames N×(t·C)×S×S in [-1, 1], flows N×2t×S×S, target frame N×C×S×S in [0, 1])."""
        self.check_batch(batch)
        appearance, flow = batch["appearance"], batch["flow"]
        n, _, _, s, _ = appearance.shape
        if s % 8:
            raise ValueError(f"crop side must be a multiple of 8 (three poolings), got {s}")
        frames = appearance[:, :PAST_FRAMES].reshape(n, -1, s, s) * 2.0 - 1.0
        return frames, flow.reshape(n, -1, s, s), appearance[:, PAST_FRAMES]

    def forward(self, frames: Tensor, flows: Tensor) -> dict[str, Tensor | list[Tensor] | tuple]:
        """``{"flow": ŷ, "weights": [ŵ per memory], "frame": x̂ in [-1, 1], "gaussians": (μ_q, log
        σ_q², μ_p, log σ_p²)}`` for past frames (N×(t·C)×S×S in [-1, 1]) and flows (N×2t×S×S)."""
        if self.stage == "cvae":  # ML-MemAE-SC frozen: no gradients, no batch-norm updates
            was_training = self.memae.training
            self.memae.eval()
            try:
                with torch.no_grad():
                    recon, weights = self.memae(flows)
            finally:
                self.memae.train(was_training)
        else:
            recon, weights = self.memae(flows)
        condition = recon.detach() if self.stage == "cvae" else recon
        out = {"flow": recon, "weights": weights}
        if self.stage != "memae":
            out["frame"], out["gaussians"] = self.cvae(frames, condition)
        return out

    # ---------------------------------------------------------------- host interface
    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """The stage's losses (module docstring) on a batch of normal objects. The block loss is
        not included: the trainer adds ``block_weight * block_loss(host)``."""
        frames, flows, target = self._inputs(batch)
        out = self(frames, flows)
        w = LOSS_WEIGHTS
        logs: dict[str, float] = {}
        loss = flows.new_zeros(())
        if self.stage != "cvae":
            recon = F.mse_loss(out["flow"], flows)
            entropy = torch.stack([entropy_loss(v) for v in out["weights"]]).sum()
            loss = loss + w["recon"] * recon + w["entropy"] * entropy
            logs.update(flow_recon=float(recon.detach()), entropy=float(entropy.detach()))
        if self.stage != "memae":
            target = target * 2.0 - 1.0
            frame = F.mse_loss(out["frame"], target)
            grad = gradient_loss(out["frame"], target)
            kl = gaussian_kl(*out["gaussians"])
            loss = loss + w["frame"] * frame + w["grad"] * grad + w["kl"] * kl
            logs.update(frame=float(frame.detach()), gradient=float(grad.detach()), kl=float(kl.detach()))
        return loss, logs

    @torch.no_grad()
    def object_errors(self, batch: dict) -> tuple[Tensor, Tensor]:
        """Raw per-object errors ``(S_r, S_p)`` (N each): the mean squared flow-reconstruction
        error and the mean squared error of the predicted frame in [0, 1], in eval mode (restored
        after) with the CVAE conditioned on the reconstructed flows, whatever the stage."""
        frames, flows, target = self._inputs(batch)
        was_training, stage = self.training, self.stage
        self.eval()
        self.stage = "joint"
        try:
            out = self(frames, flows)
        finally:
            self.train(was_training)
            self.stage = stage
        n = flows.shape[0]
        s_r = (out["flow"].float() - flows.float()).pow(2).reshape(n, -1).mean(1)
        prediction = (out["frame"].float() + 1.0) / 2.0
        s_p = (prediction - target.float()).pow(2).reshape(n, -1).mean(1)
        return s_r, s_p

    @torch.no_grad()
    def fit_statistics(self, batches: Iterable[dict]) -> None:
        """Record the mean and standard deviation of S_r and S_p over the objects of ``batches``
        (normal *training* objects; population std, floored at 1e-12). Call once after training,
        before :meth:`object_scores` (:meth:`calibrate` does, for the object pipeline)."""
        errors = [torch.stack(self.object_errors(batch), dim=1) for batch in batches]
        if not errors:
            raise ValueError("fit_statistics needs at least one batch of training objects")
        values = torch.cat(errors).double()
        self.score_mean.copy_(values.mean(0))
        self.score_std.copy_(values.std(0, unbiased=False).clamp_min(_EPS))

    def calibrate(self, batches: Iterable[dict]) -> None:
        """The object pipeline's hook after training: :meth:`fit_statistics`."""
        self.fit_statistics(batches)

    @property
    def statistics_fitted(self) -> bool:
        return bool(torch.isfinite(self.score_mean).all() and torch.isfinite(self.score_std).all())

    @torch.no_grad()
    def object_scores(self, batch: dict) -> Tensor:
        """``w_r (S_r − μ_r)/σ_r + w_p (S_p − μ_p)/σ_p`` per object (N,), higher = more anomalous,
        with the training statistics of :meth:`fit_statistics`."""
        if not self.statistics_fitted:
            raise RuntimeError("HF2VAD.object_scores needs the training statistics: call "
                               "fit_statistics (or calibrate) with the training objects first")
        s_r, s_p = self.object_errors(batch)
        mean, std = self.score_mean.to(s_r), self.score_std.to(s_r)
        return self.w_r * (s_r - mean[0]) / std[0] + self.w_p * (s_p - mean[1]) / std[1]
