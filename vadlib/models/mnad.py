"""MNAD, the memory-guided normality host of Papers C and D (Table C.3; Tables D.2, D.5, D.6, D.8-D.12).

Park, Noh, Ham, "Learning Memory-guided Normality for Anomaly Detection", CVPR 2020 (thesis
[21] in Paper C, [44] in Paper D, [19] in the overview). Reimplemented from the paper; no code of
the official repository (``github.com/cvlab-yonsei/MNAD``) is used. The paper itself is not among
the thesis seeds: the equations and values below are from our reading of the paper, cross-checked
against ``paper_C.md`` / ``paper_D.md`` (specs) and against the argument defaults of public MNAD
training/evaluation scripts (hyperparameters only).

Two variants (``variant=``), as in the paper:

* ``"prediction"``: the 4 past frames, concatenated along channels, predict the 5th
  (``window = 5``); U-Net with skip connections.
* ``"reconstruction"``: one frame reconstructs itself (``window = 1``); the *same* network
  *without* skip connections ("the model may copy the input for the reconstruction").

Default ``variant="reconstruction"``: Paper D's (and Paper C's) MNAD baseline, Avenue micro AUC
82.8, is the reconstruction variant's published number (thesis Table 5.5, T 1084-1087: Park
"Reconst" 82.8 / 69.8, "Pred" 88.5 / 70.5; Paper D calls MNAD a model "classifying anomalies based
on the reconstruction error"), see ``paper_D.md`` §2 and ``paper_C.md``. This is an inference of
the specs, not stated by the thesis.

Architecture (``size="paper"``: b = 64, frames 256×256; ``size="tiny"``: b = 8, for 64×64 CPU
runs; same layers)::

    input  N×(T·C)×H×W in [-1, 1] (T = 4 past frames, or 1)
    encoder stage1 [conv3-BN-ReLU]×2  T·C -> b      (H)     -- skip1
            pool2, stage2 [conv3-BN-ReLU]×2  b -> 2b  (H/2)   -- skip2
            pool2, stage3 [conv3-BN-ReLU]×2 2b -> 4b  (H/4)   -- skip3
            pool2, stage4 conv3-BN-ReLU-conv3  4b -> 8b (H/8)  (last BN and ReLU removed)
            L2 normalisation over channels -> queries q (8b = 512 channels, 32×32 at 256 px)
    memory  M = 10 items of 8b dims: read -> p̂; decoder input concat(q, p̂) (16b channels)
    decoder stage4 [conv3-BN-ReLU]×2 16b -> 8b                     (H/8)   <- "early"
            up4 convT3 s2 8b -> 4b -BN-ReLU; [concat skip3]
            stage3 [conv3-BN-ReLU]×2 (4b|8b) -> 4b                 (H/4)   <- "middle"
            up3 convT 4b -> 2b; [concat skip2]; stage2 [conv3-BN-ReLU]×2 -> 2b (H/2)
            up2 convT 2b -> b;  [concat skip1]
            stage1 conv3 (b|2b) -> b -BN-ReLU, conv3 b -> b -BN-ReLU, conv3 b -> C, tanh  (H)
                                                  ^ "late" = stage1.3, the penultimate conv

Paper: "U-Net ... we remove the last batch normalization and ReLU layers in the encoder ... and add
an L2 normalization layer"; query maps H×W×C = 32×32×512, M = 10 items. Layer widths 64-128-256-512
and the transposed-conv upsampling are the usual U-Net ones (the spec's reading of the official
decoder, "Conv 128->64, Conv 64->64, Conv 64->3 + Tanh", agrees); frames are normalised to [-1, 1]
(our clips are [0, 1]: mapped on entry, outputs mapped back for scoring).

Memory (module functions, testable on hand-made tensors):

* **read** (:func:`memory_read`, Eqs. 1-2): with queries q_k and items p_m both L2-normalised,
  w_{k,m} = softmax_m(p_m·q_k) (cosine similarity, no temperature) and p̂_k = Σ_m w_{k,m} p_m.
* **update** (:func:`memory_update`, Eqs. 3-5): U_m = the queries whose nearest item (argmax_m
  w_{k,m}) is m; v_{k,m} = softmax over the queries (k) of p_m·q_k; v'_{k,m} = v_{k,m} /
  max_{k'∈U_m} v_{k',m}; p_m <- L2norm(p_m + Σ_{k∈U_m} v'_{k,m} q_k). Items without queries stay.
  In training the update runs once per step with every query of the batch (N·h·w queries; the
  paper writes it per frame), after the read, the losses and the decoder have used the old items.
  Items are a buffer (``items``), not parameters: the losses do not move them (the paper updates
  them only by this rule); gradients reach the encoder through q and w.
* initial items: i.i.d. U[0, 1) entries, L2-normalised, drawn from ``seed`` (the paper does not
  say; this is how the authors' training script initialises them).

Losses (:meth:`MNAD.training_loss`): ``L = L_int + λ_c L_compact + λ_s L_separate``

* L_int: mean squared error between output and target frame, in [-1, 1] (the paper's L2 loss,
  averaged instead of summed);
* L_compact (:func:`compactness_loss`): mean over queries and channels of (q_k - p_nearest)^2
  (the paper sums ‖q_k - p_p‖ per query; the mean of squares is the scale at which the published
  λ_c were tuned in the authors' code -- our choice, documented);
* L_separate (:func:`separateness_loss`): triplet loss, mean over queries of
  [‖q_k - p_p‖ - ‖q_k - p_n‖ + margin]_+ with p_p / p_n the nearest / second-nearest item,
  margin 1.0 (``margin=``).

Published values (Park et al. §4.1, grid search on UCSD Ped1's test split), per variant:

=====================  ===========  =========
                       prediction   reconstr.
=====================  ===========  =========
λ_c, λ_s               0.1, 0.1     0.01, 0.01
score weight α (λ)     0.6          0.7
test update γ          0.01         0.015
initial lr             2e-4         2e-5
=====================  ===========  =========

The specs quote the authors' code defaults as "compactness and separateness 0.01 each, alpha 0.7"
(``paper_D.md`` §2, ``paper_C.md``): these are the reconstruction values above. Public MNAD
evaluation scripts default to alpha 0.6 / th 0.01 (prediction) and alpha 0.7 / th 0.015
(reconstruction), matching the table. Every value is a constructor argument (None = published).

Scoring (:meth:`MNAD.frame_evidence`, :meth:`MNAD.video_scores`): per clip, PSNR of the output
frame (10·log10(1 / MSE) on [0, 1] intensities) and the compactness distance D = (1/K) Σ_k
‖q_k - p_nearest(k)‖_2 (the paper's feature distance; plain L2 norm, averaged over the K query
positions); per test video ``S = α (1 - minmax(PSNR)) + (1 - α) minmax(D)``, higher = more
anomalous. Maps: per-pixel squared error on [0, 1], averaged over channels.

Test-time memory update (``test_update=True``, the paper's method): after a clip is scored, its
queries update the memory if the frame looks normal, i.e. if the weighted regular score
ε = Σ_ij W_ij e_ij with W_ij = (1 - exp(-e_ij)) / Σ (1 - exp(-e)) (:func:`weighted_regular_score`)
is below γ. e_ij is the squared error per pixel and channel on [0, 1] intensities (the paper writes
‖Î_ij - I_ij‖; the published γ is on the squared scale of the authors' evaluation). The test-time
memory is separate from the trained ``items``: it starts as a copy of them at the first
:meth:`frame_evidence` after training (or after :meth:`prepare_test`, or loading a state) and
persists across calls (``updates_at_test``, True with ``test_update``),
so the frames must be fed in temporal order, video after video, as the official evaluation does
(it never resets between videos). Within one batch all clips are read
with the memory of the batch's start and the normal ones then update it one by one, in batch
order (exact for batch size 1). ``test_update=False`` scores with the trained items only
(stateless, order-independent).

Block positions (``block_positions``; Table D.8 puts SSMCTB "into different conv blocks of the
*decoder*", from the "earliest stage of the decoder (first conv block)" to "the very last one",
T 2814 / J 305): ``early`` = ``decoder.stage4.3`` (8b -> 8b, first decoder block), ``middle`` =
``decoder.stage3.3`` (4b -> 4b, second decoder block; which block is "middle" is our choice),
``late`` = ``decoder.stage1.3`` (b -> b, the penultimate conv; the default of both papers).
Extra, not in the papers: ``encoder_early`` = ``encoder.stage1.3`` and ``encoder_middle`` =
``encoder.stage3.3`` (before the memory). λ (``block_weight``) = 0.1 (Paper C T L2084; Paper D
T 2599, "we keep λ = 0.1", NSA and HF2-VAD being the exceptions).

Schedule (:meth:`MNAD.schedule`): Adam (β 0.9, 0.999), batch 4, cosine annealing of the lr to 0,
60 epochs (Ped2 and Avenue; ShanghaiTech 10: ``dataset="shanghaitech"``); lr 2e-4 (prediction) or
2e-5 (reconstruction). Paper D changed epochs and batch size for Thermal Rare Event without
giving them. ``size="tiny"``: 20 epochs, otherwise the same.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.layers import conv_bn_relu, double_conv_bn_relu, minmax, psnr
from vadlib.models.registry import HostContext, register_host
from vadlib.models.video_hosts import Schedule, VideoHost

__all__ = [
    "MNAD",
    "VARIANTS",
    "SIZES",
    "PUBLISHED",
    "memory_read",
    "memory_update",
    "nearest_items",
    "compactness_loss",
    "separateness_loss",
    "compactness_distance",
    "weighted_regular_score",
]

VARIANTS = ("reconstruction", "prediction")
SIZES = ("tiny", "paper")
#: encoder base width b (widths b, 2b, 4b, 8b; queries and memory items have 8b dims)
BASE_WIDTH = {"paper": 64, "tiny": 8}
#: past frames + target per variant
WINDOW = {"prediction": 5, "reconstruction": 1}
#: Park et al. §4.1 per variant (see the module docstring)
PUBLISHED = {
    "prediction": {"lambda_compact": 0.1, "lambda_separate": 0.1, "alpha": 0.6, "gamma": 0.01,
                   "lr": 2e-4},
    "reconstruction": {"lambda_compact": 0.01, "lambda_separate": 0.01, "alpha": 0.7,
                       "gamma": 0.015, "lr": 2e-5},
}
MEMORY_SIZE = 10
EPOCHS = {"ped2": 60, "avenue": 60, "shanghaitech": 10,
          "thermal_rare_event": 60}  # thermal: Paper D gives none; Avenue's (our choice)


# ------------------------------------------------------------------------------------ memory

def _flat(queries: Tensor) -> Tensor:
    """N×C×h×w feature maps -> (N·h·w)×C query vectors; K×C passes through."""
    return queries.permute(0, 2, 3, 1).reshape(-1, queries.shape[1]) if queries.dim() == 4 else queries


def nearest_items(queries: Tensor, items: Tensor, k: int = 1) -> Tensor:
    """Indices (K×k) of the k items most similar (dot product = cosine for unit vectors) to each
    query (K×C); items M×C."""
    return (queries @ items.t()).topk(k, dim=1).indices


def memory_read(queries: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
    """Read (Eqs. 1-2): ``(p̂, w)`` with w = softmax over items of ``queries @ items.T`` (K×M) and
    p̂ = w @ items (K×C). ``queries`` K×C, ``items`` M×C, both L2-normalised."""
    w = torch.softmax(queries @ items.t(), dim=1)
    return w @ items, w


@torch.no_grad()
def memory_update(queries: Tensor, items: Tensor) -> Tensor:
    """Update (Eqs. 3-5); returns new M×C items in at least float32 (the input is not modified).

    p_m <- L2norm(p_m + Σ_{k∈U_m} v'_{k,m} q_k), U_m = queries whose nearest item is m,
    v = softmax over the queries of ``queries @ items.T``, v' = v / max_{k∈U_m} v_{k,m}."""
    queries, items = queries.detach(), items.detach()
    with torch.autocast(queries.device.type, enabled=False):        # full precision under AMP
        dtype = torch.promote_types(torch.promote_types(queries.dtype, items.dtype), torch.float32)
        queries, items = queries.to(dtype), items.to(dtype)
        scores = queries @ items.t()                                     # K×M
        nearest = scores.argmax(dim=1)                                   # K
        assigned = F.one_hot(nearest, items.shape[0]).to(scores.dtype)   # K×M, 1 where k ∈ U_m
        v = torch.softmax(scores, dim=0) * assigned
        v = v / v.amax(dim=0, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
        return F.normalize(items + v.t() @ queries, dim=1)


def compactness_loss(queries: Tensor, items: Tensor) -> Tensor:
    """Feature compactness loss: mean over queries and channels of (q_k - p_nearest(k))^2
    (items are constants)."""
    items = items.detach()
    nearest = nearest_items(queries.detach(), items, 1)[:, 0]
    return (queries - items[nearest]).pow(2).mean()


def separateness_loss(queries: Tensor, items: Tensor, margin: float = 1.0) -> Tensor:
    """Feature separateness loss: mean over queries of [‖q - p_p‖ - ‖q - p_n‖ + margin]_+ with
    p_p, p_n the nearest and second-nearest items (items are constants; needs M >= 2)."""
    items = items.detach()
    top = nearest_items(queries.detach(), items, 2)
    d_pos = torch.linalg.vector_norm(queries - items[top[:, 0]], dim=1)
    d_neg = torch.linalg.vector_norm(queries - items[top[:, 1]], dim=1)
    return F.relu(d_pos - d_neg + margin).mean()


def compactness_distance(queries: Tensor, items: Tensor) -> Tensor:
    """The score's feature distance D per frame: (1/K) Σ_k ‖q_k - p_nearest(k)‖_2 over the K
    positions of each N×C×h×w query map; returns N values."""
    n = queries.shape[0]
    flat = _flat(queries)
    nearest = nearest_items(flat, items, 1)[:, 0]
    return torch.linalg.vector_norm(flat - items[nearest], dim=1).view(n, -1).mean(1)


def weighted_regular_score(output: Tensor, target: Tensor) -> Tensor:
    """ε per frame (N): Σ W e with W = (1 - exp(-e)) / Σ (1 - exp(-e)), e the squared error per
    pixel and channel of N×C×H×W frames in [0, 1]; 0 for a perfect frame."""
    e = (output - target).pow(2).flatten(1)
    w = 1.0 - torch.exp(-e)
    total = w.sum(1)
    return torch.where(total > 0, (w * e).sum(1) / total.clamp_min(torch.finfo(e.dtype).tiny),
                       torch.zeros_like(total))


# ------------------------------------------------------------------------------------ network

def _up(c_in: int, c_out: int) -> nn.Sequential:
    """×2 upsampling: 3×3 transposed conv, stride 2 (output exactly twice the size), BN, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=False))


class _Encoder(nn.Module):
    def __init__(self, c_in: int, b: int):
        super().__init__()
        self.stage1 = double_conv_bn_relu(c_in, b)
        self.stage2 = double_conv_bn_relu(b, 2 * b)
        self.stage3 = double_conv_bn_relu(2 * b, 4 * b)
        # last stage without its final BN and ReLU (the paper); index 3 makes the queries
        self.stage4 = nn.Sequential(*conv_bn_relu(4 * b, 8 * b), nn.Conv2d(8 * b, 8 * b, 3, padding=1))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        s1 = self.stage1(x)
        s2 = self.stage2(F.max_pool2d(s1, 2))
        s3 = self.stage3(F.max_pool2d(s2, 2))
        return self.stage4(F.max_pool2d(s3, 2)), [s1, s2, s3]


class _Decoder(nn.Module):
    def __init__(self, c_out: int, b: int, skips: bool):
        super().__init__()
        self.skips = skips
        extra = (lambda c: c) if skips else (lambda c: 0)
        self.stage4 = double_conv_bn_relu(16 * b, 8 * b)
        self.up4 = _up(8 * b, 4 * b)
        self.stage3 = double_conv_bn_relu(4 * b + extra(4 * b), 4 * b)
        self.up3 = _up(4 * b, 2 * b)
        self.stage2 = double_conv_bn_relu(2 * b + extra(2 * b), 2 * b)
        self.up2 = _up(2 * b, b)
        self.stage1 = nn.Sequential(*conv_bn_relu(b + extra(b), b), *conv_bn_relu(b, b),
                                    nn.Conv2d(b, c_out, 3, padding=1), nn.Tanh())

    def _join(self, x: Tensor, skip: Tensor) -> Tensor:
        return torch.cat((skip, x), dim=1) if self.skips else x

    def forward(self, z: Tensor, skips: list[Tensor]) -> Tensor:
        s1, s2, s3 = skips
        x = self.up4(self.stage4(z))
        x = self.up3(self.stage3(self._join(x, s3)))
        x = self.up2(self.stage2(self._join(x, s2)))
        return self.stage1(self._join(x, s1))


# -------------------------------------------------------------------------------------- host

@register_host
class MNAD(VideoHost):
    """MNAD (Park et al., CVPR 2020) as a :class:`VideoHost` (see the module docstring).

    ``MNAD(size="tiny" | "paper", in_channels=3, seed=0, variant="reconstruction" | "prediction",
    *, memory_size=10, lambda_compact=None, lambda_separate=None, alpha=None, gamma=None,
    test_update=True, margin=1.0)``; None = the published value of the variant
    (:data:`PUBLISHED`). ``seed`` seeds the weights and the initial memory (the global torch
    generator is left untouched). Clips: N×T×C×H×W in [0, 1], T >= ``window``, H and W multiples
    of 8.
    """

    name = "mnad"
    label = "MNAD"
    block_positions = {
        "early": ("decoder.stage4.3",),
        "middle": ("decoder.stage3.3",),
        "late": ("decoder.stage1.3",),
        "encoder_early": ("encoder.stage1.3",),
        "encoder_middle": ("encoder.stage3.3",),
    }
    default_position = "late"
    block_weight = 0.1  # Paper D T 2599 / Paper C T L2084

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0,
                 variant: str = "reconstruction", *, memory_size: int = MEMORY_SIZE,
                 lambda_compact: float | None = None, lambda_separate: float | None = None,
                 alpha: float | None = None, gamma: float | None = None,
                 test_update: bool = True, margin: float = 1.0):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown MNAD variant {variant!r}; variants: {', '.join(VARIANTS)}")
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
        if isinstance(memory_size, bool) or not isinstance(memory_size, int) or memory_size < 2:
            raise ValueError(f"memory_size must be an integer >= 2 (the separateness loss needs a "
                             f"second-nearest item), got {memory_size!r}")
        published = PUBLISHED[variant]
        self.size, self.in_channels, self.seed, self.variant = size, in_channels, int(seed), variant
        self.window = WINDOW[variant]
        given = {"lambda_compact": lambda_compact, "lambda_separate": lambda_separate,
                 "alpha": alpha, "gamma": gamma}
        chosen = {k: float(published[k] if v is None else v) for k, v in given.items()}
        self.lambda_compact, self.lambda_separate = chosen["lambda_compact"], chosen["lambda_separate"]
        self.alpha, self.gamma = chosen["alpha"], chosen["gamma"]
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha!r}")
        #: scoring updates the test-time memory (the paper's method); False: stateless scoring
        self.updates_at_test = bool(test_update)
        self.margin = float(margin)
        b = BASE_WIDTH[size]
        self.feature_dim = 8 * b
        inputs = (self.window - 1 if variant == "prediction" else 1) * in_channels
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.encoder = _Encoder(inputs, b)
            self.decoder = _Decoder(in_channels, b, skips=variant == "prediction")
            items = F.normalize(torch.rand(memory_size, self.feature_dim), dim=1)
        self.register_buffer("items", items)
        self._test_items: Tensor | None = None

    # ---------------------------------------------------------------- memory state
    def prepare_test(self) -> None:
        """Before the test videos: restart the test-time memory from the trained items at the
        next :meth:`frame_evidence`."""
        self._test_items = None

    @property
    def test_items(self) -> Tensor:
        """The memory :meth:`frame_evidence` reads (a copy of ``items`` until updated)."""
        if self._test_items is None or self._test_items.device != self.items.device:
            self._test_items = self.items.detach().clone()
        return self._test_items

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.prepare_test()
        return result

    # ---------------------------------------------------------------- network
    def _split(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        """(network input N×(T'·C)×H×W in [-1, 1], target frame N×C×H×W in [0, 1])."""
        clips = self.check_clips(clips)
        n, t, c, h, w = clips.shape
        if c != self.in_channels:
            raise ValueError(f"MNAD was built for {self.in_channels} channels, got clips with {c}")
        if h % 8 or w % 8 or h < 8 or w < 8:
            raise ValueError(f"frame sides must be positive multiples of 8 (three poolings), "
                             f"got {h}×{w}")
        target = clips[:, -1]
        frames = clips[:, :-1] if self.variant == "prediction" else clips[:, -1:]
        return frames.reshape(n, -1, h, w) * 2.0 - 1.0, target

    def queries(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """L2-normalised query maps N×8b×(H/8)×(W/8) and the encoder's skip features."""
        features, skips = self.encoder(x)
        return F.normalize(features, dim=1), skips

    def forward(self, x: Tensor, items: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(output N×C×H×W in [-1, 1], queries N×8b×h×w) for network input ``x`` (N×(T'·C)×H×W in
        [-1, 1]), reading ``items`` (default: the trained memory). No memory update."""
        items = self.items if items is None else items
        q, skips = self.queries(x)
        n, c, h, w = q.shape
        read, _ = memory_read(_flat(q), items.to(q.dtype))
        read = read.view(n, h, w, c).permute(0, 3, 1, 2)
        return self.decoder(torch.cat((q, read), dim=1), skips), q

    # ---------------------------------------------------------------- host interface
    def training_loss(self, clips: Tensor) -> tuple[Tensor, dict[str, float]]:
        """L_int + λ_c L_compact + λ_s L_separate on normal clips; then the memory update with the
        batch's queries (the decoder and the losses use the items before the update)."""
        x, target = self._split(clips)
        output, q = self(x)
        flat = _flat(q)
        items = self.items.to(flat.dtype)
        intensity = F.mse_loss(output, target * 2.0 - 1.0)
        compact = compactness_loss(flat, items)
        separate = separateness_loss(flat, items, self.margin)
        loss = intensity + self.lambda_compact * compact + self.lambda_separate * separate
        # a new tensor, not an in-place write: the read above still needs the old items for backward
        self.items = memory_update(flat, self.items).to(self.items.dtype)
        self._test_items = None
        return loss, {"intensity": float(intensity.detach()), "compactness": float(compact.detach()),
                      "separateness": float(separate.detach())}

    @torch.no_grad()
    def frame_evidence(self, clips: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """``({"psnr": N, "compactness": N}, N×H×W squared-error maps)`` for the clips' last frames,
        in eval mode (restored after); with ``updates_at_test`` the normal clips then update the
        test-time memory (module docstring)."""
        x, target = self._split(clips)
        was_training = self.training
        self.eval()
        try:
            items = self.test_items
            output, q = self(x, items)
        finally:
            self.train(was_training)
        output = (output.float() + 1.0) / 2.0
        target = target.float()
        errors = (output - target).pow(2)
        parts = {"psnr": psnr(output, target),
                 "compactness": compactness_distance(q.float(), items.float())}
        if self.updates_at_test:
            normal = weighted_regular_score(output, target) < self.gamma
            for i in torch.nonzero(normal).flatten().tolist():
                items = memory_update(_flat(q[i:i + 1]), items).to(self.items.dtype)
            self._test_items = items
        return parts, errors.mean(1)

    def video_scores(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """α (1 - minmax(PSNR)) + (1 - α) minmax(D) over one video's frames (higher = anomalous)."""
        values = {}
        for name in ("psnr", "compactness"):
            if name not in parts:
                raise ValueError(f"MNAD.video_scores needs parts 'psnr' and 'compactness', "
                                 f"got {sorted(parts)}")
            value = parts[name]
            values[name] = np.asarray(value.cpu() if isinstance(value, Tensor) else value, dtype=np.float64)
        psnr_term, distance_term = 1.0 - minmax(values["psnr"]), minmax(values["compactness"])
        return self.alpha * psnr_term + (1.0 - self.alpha) * distance_term

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        """:meth:`schedule` of the variant in ``ctx.options`` (default: reconstruction) and of
        ``ctx.dataset``."""
        return cls.schedule(ctx.size, variant=dict(ctx.options).get("variant", "reconstruction"),
                            dataset=ctx.dataset)

    @classmethod
    def schedule(cls, size: str = "paper", variant: str = "reconstruction",
                 dataset: str | None = None) -> Schedule:
        """Published schedule: Adam, batch 4, cosine annealing, 60 epochs (ShanghaiTech 10), lr
        2e-4 (prediction) / 2e-5 (reconstruction; the constructor's default variant).
        ``size="tiny"``: 20 epochs."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown MNAD variant {variant!r}; variants: {', '.join(VARIANTS)}")
        if dataset is not None and dataset not in EPOCHS:
            raise ValueError(f"no published MNAD epochs for {dataset!r}; known: {', '.join(EPOCHS)}")
        epochs = EPOCHS.get(dataset, 60) if size == "paper" else 20
        lr = PUBLISHED[variant]["lr"]
        return Schedule(
            epochs=epochs, batch_size=4, lr=lr, optimizer="adam", lr_schedule="cosine", min_lr=0.0,
            source=(f"Park et al., CVPR 2020, Sec. 4.1 ({variant}): Adam (0.9, 0.999), batch 4, "
                    f"initial lr {lr:g} decayed by cosine annealing, 60 epochs on Ped2/Avenue and "
                    f"10 on ShanghaiTech (values as we read the paper, which is not among the "
                    f"seeds; paper_D.md §2 gives the code defaults 256x256, batch 4, 60 epochs, "
                    f"Adam 2e-4, cosine). Paper D's thermal epochs/batch are not given."
                    + (" size='tiny': 20 epochs (ours)." if size == "tiny" else "")))
