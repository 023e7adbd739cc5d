"""The attention-enabled one-stage tracker of Paper A: FairMOT on HRNet-W18 with attention gates.

Madan, Nasrollahi, Moeslund, "Attention-enabled object detection to improve one-stage tracker",
IntelliSys 2021 (thesis Paper A, L1312-L1592; extraction notes ``shared/specs/paper_A_B.md``
Part 1). The tracker is FairMOT (Zhang et al., IJCV 2021; Paper A's ref [42], "losses acquired
from [42]", L1430) on an HRNet backbone (:mod:`vadlib.models.hrnet`) with the additive attention
gate of Attention U-Net (Oktay et al., 2018; Paper A's ref [41], L1393). FairMOT's code
(``ifzhang/FairMOT``, MIT; ``pose_hrnet.py``, ``trains/mot.py``, ``models/losses.py``,
``models/decode.py``, ``opts.py``) was read for the values the thesis leaves open; nothing is
copied. Targets: :mod:`vadlib.models.fairmot_targets`.

Architecture::

    image N×3×H×W in [0, 1] ─► HRNet (+ gated skip connections) ─► 4 branches (1/4 … 1/32)
        ─► upsample to 1/4, concat (270 ch for W18) ─► heads, each conv3×3 -> head_conv, ReLU,
           conv1×1:  hm 1 (logits; bias -2.19) · wh 2 (box size) · reg 2 (centre offset)
                     · id 128 (re-ID embedding)
    explicit only: gated highest-resolution tensor ─► aux_hm head (1 ch, bias -2.19)

Variants (``attention=``):

* ``"none"``: plain HRNet + FairMOT heads (the "HRNet" rows of Tables A.3-A.5).
* ``"implicit"`` (Fig. A.2, L1424, L1545-L1569): attention-gated skip connections between
  **consecutive** stages at **every** resolution: after stage t (t = 2, 3, 4) and for each
  resolution r that stage t-1 has, ``y_t^r <- y_t^r + AG(x = y_{t-1}^r, g = y_t^r)`` -- the
  lower-level features of the previous stage weighted by the current stage's (L1424). Stage 1 has
  one resolution; its features are transition1's 1/4 output (the raw ``layer1`` output has 256
  channels), so the links are 1->2 (r0), 2->3 (r0, r1), 3->4 (r0, r1, r2): 6 gates.
  ``dense=True`` (Tables A.3/A.4): every earlier stage s < t is linked to stage t at each shared
  resolution (1->2,3,4 at r0 ...): 10 gates. ``gated=False`` replaces each gate by a plain
  addition (Table A.3 row 2, "dense-connections without attention-gates").
  ``resolutions="highest"`` keeps only the 1/4-resolution links (3 consecutive, 6 dense gates):
  the ablation text (L1547, L1561) describes the dense variant at the highest resolution
  ("features from the current stage are provided to all the subsequent stages at a single
  resolution. For example, feature maps from stage-1 are provided to stage-2, stage-3, and
  stage-4 at the highest resolution"), while the final design repeats its links "for each
  resolution" (L1424); the default "all" follows the spec's reading (§1.3.4) for both.
* ``"explicit"`` (Fig. A.3, L1426, L1571-L1584): one gate at the highest resolution after stage
  ``explicit_stage`` s (Table A.5 "after stage 1, 2 and 3"; default 3, best there, the place
  ch. 2 calls "stage 4", L455): ``x̂ = AG(x = y_s^0, g = y_{s+1}^0)``, ``y_{s+1}^0 <- y_{s+1}^0 +
  x̂``; an auxiliary heat map predicted from ``x̂`` is supervised by the auxiliary loss.

Attention gate (:class:`AttentionGate`, Oktay et al. Eq. 1-2, additive):
``α = sigmoid(ψ(ReLU(W_x x + W_g g + b_g)) + b_ψ)`` with 1×1 convolutions ``W_x`` (no bias),
``W_g`` (bias b_g), ``ψ`` (to 1 channel, bias b_ψ); one coefficient per pixel shared over channels;
output ``α · x`` (same shape as x). If ``g`` is on another grid it is resampled (bilinear) to x's
grid; in Paper A's wiring the pairs are the same branch of consecutive stages, so no resampling
happens.

Losses (:meth:`HRNetTracker.training_loss`, Eq. A.1-A.5, L1428-L1463):

* ``L_hm``: CenterNet focal loss (α = 2, β = 4) on ``p = clamp(sigmoid(hm), 1e-4, 1 - 1e-4)``
  divided by the number of positives (cells equal to 1), or the negative term alone when there
  are none (:func:`focal_loss`);
* ``L_wh``, ``L_off``: L1 at the centre indices, summed and divided by the number of masked
  elements (FairMOT ``RegL1Loss``: ``sum / (mask.sum() + 1e-4)`` with the mask expanded to both
  channels);
* ``L_id``: cross-entropy over ``n_identities`` classes of ``classifier(s · normalize(e))``, e the
  128-d embedding at the centre, ``s = √2 · ln(n_identities - 1)`` (FairMOT), boxes with id -1
  ignored, 0 when the batch has no identity (FairMOT would give NaN);
* ``L_aux`` (explicit only): the focal loss of the auxiliary heat map against the same target.

Weighting (``weighting=``):

* ``"per_task"`` (default; Eq. A.4/A.5 as printed): one learnable log-variance per task (the
  thesis' ``W_x`` and ``s_x`` read as one parameter, Kendall et al.; the seed names both but
  learns "weights" only, so a separate offset s_x would be a constant and the two can only be
  one scalar): ``L = ½ Σ_t (e^{-s_t} L_t + s_t)`` over t = hm, bbox (``L_bbox = L_wh + L_off``,
  Eq. A.2), id and -- explicit with ``aux_weight > 0`` -- aux (``aux_weight · L_aux``, its own
  s_aux, Eq. A.5). Initial values are FairMOT's: s_hm = s_bbox = s_aux = -1.85 (its s_det),
  s_id = -1.05 (its s_id); the thesis gives none;
* ``"fairmot"`` (option; FairMOT ``MotLoss``): ``L_det = L_hm + 0.1 L_wh + L_off +
  aux_weight · L_aux`` and ``L = ½ (e^{-s_det} L_det + e^{-s_id} L_id + s_det + s_id)``,
  ``s_det = -1.85``, ``s_id = -1.05`` initially (the aux term exists only for
  ``attention="explicit"`` with ``aux_weight > 0``).

With ``aux_weight = 0`` or ``attention != "explicit"`` the auxiliary loss is not computed at all:
it adds exactly 0 and sends no gradient to the auxiliary head.

Decisions where the thesis is silent (the [I]/[X] entries of the spec, §1.12):

* Width W18 and FairMOT's HRNet layout; the heads read the 270-channel concatenation directly
  (FairMOT 6fa35d4; the 270->64 ``last_layer`` of the spec's table is commented out there);
  ``head_conv`` 256 (tiny: 32); embedding 128 (thesis L1416; FairMOT 2020-06 had 512).
* Box head: 2-channel size (w, h) + 2-channel offset, as Eq. A.2 (FairMOT 2020-09 moved to
  4-channel ltrb). Sizes in output-map pixels.
* Gate: no BatchNorm (the formula of the cited paper; the spec's sketch adds BN), intermediate
  width ``C_int = max(1, C_x // 2)`` (the default of Oktay et al.'s code). Gates are applied after
  the stage's last fusion, and the fused tensor flows on to the next transition, to later links
  and to the heads. Dense links into one stage all use the stage's own (un-fused) output as ``g``.
* Explicit = plain HRNet + that one gate + auxiliary head (no implicit gates, §1.3.5); the
  auxiliary head has the main heat-map head's structure and bias; ``aux_weight`` 1 (the aux loss
  has the heat-map loss's form and weight).
* The identity classifier and the uncertainty scalars are parameters of the model, so any
  optimiser built from ``model.parameters()`` (:func:`vadlib.runs.train.train`) trains them -- FairMOT's
  first public versions forgot to (spec §1.4); ``n_identities`` default 14455 (FairMOT's joint-set
  value, 2020-06 ``opts.py``; pass :attr:`vadlib.data.mot.JDEMixture.nID` for real data).
* Initialisation: HRNet as FairMOT (conv N(0, 0.001)); heads, gates and classifier PyTorch's
  default, the heads' biases 0 except the heat-map output bias -2.19 (FairMOT ``fill_fc_weights``);
  every draw from a generator seeded with ``seed``. Paper A starts from COCO-pretrained weights
  (L1515), which are not available: ``pretrained=True`` raises.
* Input: RGB in [0, 1] without mean/std normalisation (FairMOT ``jde.py`` divides by 255 only);
  sides must be multiples of 32 (the coarsest branch); training/inference size 1088×608 (W×H,
  FairMOT, :attr:`HRNetTracker.INPUT_SIZE`; not stated in the thesis).
* Decoding (:func:`decode`): FairMOT 2020-09 ``mot_decode``: sigmoid, 3×3 max-pool NMS, top
  ``k = 500``, keep ``score > conf_thres = 0.4``, box = centre + offset ± size/2, ×4 to input
  pixels, L2-normalised embeddings at the peaks. Undoing a letterbox is the caller's job.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.fairmot_targets import (
    BOX_FORMATS,
    DOWN_RATIO,
    MAX_OBJS,
    build_targets,
)
from vadlib.models.hrnet import TINY, W18, HRNet
from vadlib.models.schedule import Schedule

__all__ = ["HRNetTracker", "AttentionGate", "focal_loss", "heatmap_probs", "gather_feat",
           "reg_l1_loss", "decode", "ATTENTIONS", "RESOLUTIONS", "EXPLICIT_STAGES", "WEIGHTINGS", "SIZES"]

SIZES = ("tiny", "paper")
ATTENTIONS = ("none", "implicit", "explicit")
RESOLUTIONS = ("all", "highest")
EXPLICIT_STAGES = (1, 2, 3)
WEIGHTINGS = ("fairmot", "per_task")
HM_BIAS = -2.19


# ------------------------------------------------------------------------------ attention gate

class AttentionGate(nn.Module):
    """Additive attention gate (Oktay et al. 2018): ``forward(x, g) -> (α · x, α)``, α N×1×H×W.

    ``x``: skip features (``c_x`` channels), ``g``: gating signal (``c_g`` channels; resampled
    bilinearly to x's grid if it is on another one), ``c_int``: intermediate width
    (default ``max(1, c_x // 2)``).
    """

    def __init__(self, c_x: int, c_g: int, c_int: int | None = None):
        super().__init__()
        c_int = max(1, c_x // 2) if c_int is None else int(c_int)
        self.wx = nn.Conv2d(c_x, c_int, 1, bias=False)
        self.wg = nn.Conv2d(c_g, c_int, 1, bias=True)
        self.psi = nn.Conv2d(c_int, 1, 1, bias=True)

    def forward(self, x: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
        if g.shape[-2:] != x.shape[-2:]:
            g = F.interpolate(g, size=x.shape[-2:], mode="bilinear", align_corners=False)
        alpha = torch.sigmoid(self.psi(F.relu(self.wx(x) + self.wg(g))))
        return x * alpha, alpha


# ------------------------------------------------------------------------------------- losses

def heatmap_probs(logits: Tensor) -> Tensor:
    """FairMOT/CenterNet ``_sigmoid``: ``clamp(sigmoid(logits), 1e-4, 1 - 1e-4)``."""
    return torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)


def focal_loss(pred: Tensor, gt: Tensor, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """CenterNet's penalty-reduced focal loss (Eq. A.1): ``pred`` probabilities, ``gt`` Gaussian
    targets, same shape. ``-(Σ_pos (1-p)^α log p + Σ_neg (1-y)^β p^α log(1-p)) / N_pos``, positives
    = cells where ``gt == 1``; with no positive, the negative sum alone."""
    pos = gt.eq(1).to(pred.dtype)
    neg = 1.0 - pos
    pos_loss = (torch.log(pred) * (1 - pred).pow(alpha) * pos).sum()
    neg_loss = (torch.log(1 - pred) * pred.pow(alpha) * (1 - gt).pow(beta) * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def gather_feat(feat: Tensor, ind: Tensor) -> Tensor:
    """Values of an N×C×H×W map at flat indices ``ind`` (N×K): N×K×C."""
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1)
    return flat.gather(2, ind.unsqueeze(1).expand(n, c, ind.shape[1])).transpose(1, 2)


def reg_l1_loss(output: Tensor, mask: Tensor, ind: Tensor, target: Tensor) -> Tensor:
    """FairMOT ``RegL1Loss``: L1 between ``output`` (N×C×H×W) read at ``ind`` and ``target``
    (N×K×C) over the masked slots, divided by the number of masked elements (+1e-4)."""
    pred = gather_feat(output, ind)
    m = mask.unsqueeze(2).expand_as(pred).to(pred.dtype)
    return F.l1_loss(pred * m, target * m, reduction="sum") / (m.sum() + 1e-4)


# ------------------------------------------------------------------------------------- decode

@torch.no_grad()
def decode(outputs: Mapping[str, Tensor], k: int = 500, conf_thres: float = 0.4,
           down_ratio: int = DOWN_RATIO) -> list[dict[str, Tensor]]:
    """FairMOT ``mot_decode`` + its score filter, per image.

    ``outputs``: the dict of :meth:`HRNetTracker.forward` (``hm`` logits N×1×h×w, ``wh``, ``reg``
    N×2×h×w, ``id`` N×D×h×w). Peaks = cells equal to their 3×3 max-pooled value; the top ``k``
    (at most h·w) by score; kept when ``score > conf_thres``. Returns one dict per image:
    ``boxes`` M×4 (x1, y1, x2, y2) in input pixels, ``scores`` M, ``embeddings`` M×D
    (L2-normalised), ``centers`` M×2 (x, y) integer peak cells on the output map.
    """
    heat = torch.sigmoid(outputs["hm"].float())
    n, _, h, w = heat.shape
    keep = F.max_pool2d(heat, 3, stride=1, padding=1) == heat
    heat = (heat * keep).reshape(n, -1)
    scores, inds = heat.topk(min(int(k), h * w), dim=1)
    ys = torch.div(inds, w, rounding_mode="floor")
    xs = inds % w
    reg = gather_feat(outputs["reg"].float(), inds)
    wh = gather_feat(outputs["wh"].float(), inds)
    cx, cy = xs.float() + reg[..., 0], ys.float() + reg[..., 1]
    boxes = torch.stack([cx - wh[..., 0] / 2, cy - wh[..., 1] / 2,
                         cx + wh[..., 0] / 2, cy + wh[..., 1] / 2], dim=-1) * down_ratio
    emb = F.normalize(gather_feat(outputs["id"].float(), inds), dim=-1)
    result = []
    for b in range(n):
        sel = scores[b] > conf_thres
        result.append({"boxes": boxes[b][sel], "scores": scores[b][sel],
                       "embeddings": emb[b][sel],
                       "centers": torch.stack([xs[b][sel], ys[b][sel]], dim=-1)})
    return result


# ------------------------------------------------------------------------------------- model

def _head(c_in: int, head_conv: int, c_out: int, bias: float | None) -> nn.Sequential:
    """conv3×3 c_in -> head_conv + ReLU + conv1×1 -> c_out. ``bias``: the output bias for heat-map
    heads (-2.19); None = FairMOT's ``fill_fc_weights`` (every bias 0)."""
    head = nn.Sequential(nn.Conv2d(c_in, head_conv, 3, padding=1, bias=True), nn.ReLU(inplace=True),
                         nn.Conv2d(head_conv, c_out, 1, bias=True))
    with torch.no_grad():
        if bias is None:
            head[0].bias.zero_()
            head[2].bias.zero_()
        else:
            head[2].bias.fill_(bias)
    return head


def _choice(name: str, value, valid: Sequence) -> None:
    if isinstance(value, bool) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid values: {', '.join(map(repr, valid))}")


class HRNetTracker(nn.Module):
    """Paper A's joint detection + re-ID network (module docstring).

    ``HRNetTracker(size="tiny" | "paper", attention="none" | "implicit" | "explicit", *,
    dense=False, gated=True, resolutions="all" | "highest", explicit_stage=3,
    n_identities=14455, emb_dim=128, aux_weight=1.0, weighting="per_task" | "fairmot",
    max_objs=500, pretrained=False, seed=0)``

    * ``size``: "paper" = HRNet-W18, head_conv 256; "tiny" = widths 8/16/32/64, one block per
      branch, head_conv 32 (tests on CPU);
    * ``dense``, ``gated``, ``resolutions``: implicit only (Tables A.3/A.4; every resolution
      a stage has, or the highest only); ``explicit_stage``: explicit only,
      the stage after which the gate sits (1, 2 or 3; Table A.5);
    * ``n_identities``: classes of the identity classifier (FairMOT's ``nID``, at least 3);
    * ``aux_weight``: weight of the explicit variant's auxiliary heat-map loss (0 = off).

    Parameter names: ``backbone.*`` (FairMOT's HRNet names), ``heads.{hm,wh,reg,id}.*``,
    ``classifier.*``, ``uncertainty.*``; the variants add ``gates.*`` (keys ``s{src}_s{dst}_r{r}``)
    and, explicit, ``aux_head.*`` (and ``uncertainty.aux`` when ``weighting="per_task"``).
    ``attention="none"`` has exactly the first group, so its state
    dict loads into any variant with ``strict=False``, and with :meth:`attention_disabled` the
    variant then computes exactly what the plain model computes.

    ``forward(images)`` -> dict of ``hm`` (logits), ``wh``, ``reg``, ``id`` (raw embeddings) at
    1/4 resolution, plus ``aux_hm`` (logits) for the explicit variant. Batches for
    :meth:`training_loss` are described there.
    """

    CONFIGS = {"paper": (W18, 256), "tiny": (TINY, 32)}
    INPUT_SIZE = (608, 1088)  # (H, W): FairMOT's default input (1088×608 W×H); thesis silent
    STRIDE = HRNet.STRIDE
    down_ratio = DOWN_RATIO

    def __init__(self, size: str = "tiny", attention: str = "none", *, dense: bool = False,
                 gated: bool = True, resolutions: str = "all", explicit_stage: int = 3,
                 n_identities: int = 14455,
                 emb_dim: int = 128, aux_weight: float = 1.0, weighting: str = "per_task",
                 max_objs: int = MAX_OBJS, pretrained: bool = False, seed: int = 0):
        super().__init__()
        _choice("size", size, SIZES)
        _choice("attention", attention, ATTENTIONS)
        _choice("weighting", weighting, WEIGHTINGS)
        _choice("resolutions", resolutions, RESOLUTIONS)
        if attention == "explicit":
            _choice("explicit_stage", explicit_stage, EXPLICIT_STAGES)
        if attention != "implicit" and (dense or not gated or resolutions != "all"):
            raise ValueError("dense=True, gated=False and resolutions='highest' are options of "
                             f"attention='implicit' (Tables A.3/A.4), got attention={attention!r}")
        if isinstance(n_identities, bool) or not isinstance(n_identities, int) or n_identities < 3:
            raise ValueError(f"n_identities must be an int >= 3 (embedding scale "
                             f"sqrt(2)·ln(n_identities - 1) > 0), got {n_identities!r}")
        if not (isinstance(aux_weight, (int, float)) and math.isfinite(aux_weight) and aux_weight >= 0):
            raise ValueError(f"aux_weight must be a finite number >= 0, got {aux_weight!r}")
        if pretrained:
            raise ValueError("no pretrained weights are available (Paper A's COCO initialisation "
                             "is not published); use pretrained=False")
        self.size, self.attention, self.weighting = size, attention, weighting
        self.dense, self.gated, self.resolutions = bool(dense), bool(gated), resolutions
        self.explicit_stage = int(explicit_stage) if attention == "explicit" else None
        self.n_identities, self.emb_dim = n_identities, int(emb_dim)
        self.aux_weight = float(aux_weight)
        self.max_objs, self.seed = int(max_objs), int(seed)
        self.emb_scale = math.sqrt(2) * math.log(n_identities - 1)
        self.attention_enabled = True
        config, head_conv = self.CONFIGS[size]
        self.head_conv = head_conv
        widths = config.widths

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.backbone = HRNet(config)
            c = self.backbone.out_channels
            self.heads = nn.ModuleDict({
                "hm": _head(c, head_conv, 1, HM_BIAS),
                "wh": _head(c, head_conv, 2, None),
                "reg": _head(c, head_conv, 2, None),
                "id": _head(c, head_conv, self.emb_dim, None),
            })
            self.classifier = nn.Linear(self.emb_dim, n_identities)
            self.links = self._links()
            if self.links and (attention == "explicit" or self.gated):
                self.gates = nn.ModuleDict({self._key(s, t, r): AttentionGate(widths[r], widths[r])
                                            for s, t, r in self.links})
            else:
                self.gates = None
            self.aux_head = _head(widths[0], head_conv, 1, HM_BIAS) if attention == "explicit" else None
        if weighting == "fairmot":
            init = {"det": -1.85, "id": -1.05}
        else:
            init = {"hm": -1.85, "bbox": -1.85, "id": -1.05}
            if attention == "explicit":
                init["aux"] = -1.85
        self.uncertainty = nn.ParameterDict({k: nn.Parameter(torch.tensor(v)) for k, v in init.items()})

    # ------------------------------------------------------------------ configuration
    def _links(self) -> list[tuple[int, int, int]]:
        """(source stage, destination stage, resolution) of every skip connection."""
        if self.attention == "explicit":
            return [(self.explicit_stage, self.explicit_stage + 1, 0)]
        if self.attention == "none":
            return []
        branches = {1: 1, 2: 2, 3: 3}
        links = []
        for t in (2, 3, 4):
            sources = range(1, t) if self.dense else (t - 1,)
            for s in sources:
                shared = range(branches[s]) if self.resolutions == "all" else (0,)
                links += [(s, t, r) for r in shared]
        return links

    @staticmethod
    def _key(s: int, t: int, r: int) -> str:
        return f"s{s}_s{t}_r{r}"

    @contextlib.contextmanager
    def attention_disabled(self) -> Iterator["HRNetTracker"]:
        """Within the block the skip connections, gates and auxiliary head are skipped: the
        network is plain HRNet + heads (restored on exit)."""
        previous = self.attention_enabled
        self.attention_enabled = False
        try:
            yield self
        finally:
            self.attention_enabled = previous

    @classmethod
    def schedule(cls, size: str = "paper", attention: str = "implicit") -> Schedule:
        """Training hyperparameters: epochs and batch from the thesis (L1515: implicit 60 epochs,
        batch 16; explicit 100, batch 8; the plain baseline is not stated, implicit's used),
        the rest FairMOT's (thesis silent). Same for both sizes."""
        _choice("size", size, SIZES)
        _choice("attention", attention, ATTENTIONS)
        epochs, batch = (100, 8) if attention == "explicit" else (60, 16)
        return Schedule(
            epochs=epochs, batch_size=batch, lr=1e-4, optimizer="adam", weight_decay=0.0,
            lr_schedule="multistep", milestones=(2 / 3,), gamma=0.1,
            source=(f"Thesis Paper A L1515 (spec §1.5): {attention} model trained {epochs} epochs "
                    f"with batch {batch} on 2x 1080 Ti from COCO-pretrained weights"
                    + (" (plain HRNet: not stated, implicit's values used)" if attention == "none" else "")
                    + ". Optimizer, LR and schedule are not stated: FairMOT (ifzhang/FairMOT, MIT, "
                    "2020-09 opts.py) -- Adam, lr 1e-4, no weight decay, lr x0.1 at epoch 20 of 30, "
                    "kept here as the fraction 2/3 of training; FairMOT's input 1088x608 (W x H) "
                    "letterboxed (HRNetTracker.INPUT_SIZE) and batch 12 are FairMOT's, the batch "
                    "sizes above the thesis'."))

    # ------------------------------------------------------------------ forward
    def _check(self, images) -> Tensor:
        if not isinstance(images, Tensor):
            raise ValueError(f"images must be a torch.Tensor N×3×H×W, got {type(images).__name__}")
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be N×3×H×W (RGB), got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"images must be floating point in [0, 1], got {images.dtype}")
        if images.shape[0] == 0:
            raise ValueError("images is an empty batch")
        h, w = images.shape[-2:]
        if h % self.STRIDE or w % self.STRIDE or h == 0 or w == 0:
            raise ValueError(f"image sides must be positive multiples of {self.STRIDE} (HRNet's "
                             f"coarsest branch is at 1/32), got {h}×{w}; resize or letterbox "
                             f"first, e.g. to {self.INPUT_SIZE[0]}×{self.INPUT_SIZE[1]} (H×W)")
        return images

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        images = self._check(images)
        active = self.attention_enabled and bool(self.links)
        extras: dict[str, Tensor] = {}

        def connect(stage: int, ys: list[Tensor], history: dict[int, list[Tensor]]) -> list[Tensor]:
            out = list(ys)
            for s, t, r in self.links:
                if t != stage:
                    continue
                x = history[s][r]
                if self.gates is None:
                    added = x
                else:
                    added, alpha = self.gates[self._key(s, t, r)](x, ys[r])
                    extras[f"alpha_{self._key(s, t, r)}"] = alpha
                out[r] = out[r] + added
                if self.attention == "explicit":
                    extras["aux_features"] = added
            return out

        ys = self.backbone(images, connect if active else None)
        features = self.backbone.concat(ys)
        outputs = {name: head(features) for name, head in self.heads.items()}
        if active and self.aux_head is not None:
            outputs["aux_hm"] = self.aux_head(extras["aux_features"])
        return outputs

    def attention_maps(self, images: Tensor) -> dict[str, Tensor]:
        """The gates' coefficient maps α (N×1×h×w per link, keyed ``s{src}_s{dst}_r{r}``), eval
        mode, no gradients; empty without gates."""
        maps: dict[str, Tensor] = {}
        if self.gates is None:
            return maps
        handles = [gate.register_forward_hook(
            lambda _m, _i, out, key=key: maps.__setitem__(key, out[1].detach()))
            for key, gate in self.gates.items()]
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                self(images)
        finally:
            self.train(was_training)
            for h in handles:
                h.remove()
        return maps

    # ------------------------------------------------------------------ training
    @property
    def aux_active(self) -> bool:
        """True when the auxiliary heat-map loss is part of the objective."""
        return self.attention == "explicit" and self.aux_weight > 0 and self.attention_enabled

    def targets(self, batch: Mapping[str, Any], image_size: tuple[int, int]) -> dict[str, Tensor]:
        """The batch's ``targets`` or, from its ``boxes``/``ids``/``box_format``,
        :func:`~vadlib.models.fairmot_targets.build_targets`."""
        if "targets" in batch:
            return dict(batch["targets"])
        if "boxes" not in batch:
            raise ValueError("batch needs 'targets' (from build_targets) or 'boxes' + 'box_format' "
                             "(+ optional 'ids')")
        if "box_format" not in batch:
            raise ValueError(f"batch has 'boxes' but no 'box_format'; say which: "
                             f"{', '.join(BOX_FORMATS)} (vadlib.data.mot items are 'tlwh')")
        return build_targets(batch["boxes"], batch.get("ids"), image_size,
                             box_format=batch["box_format"], down_ratio=self.down_ratio,
                             max_objs=self.max_objs)

    def id_loss(self, embeddings: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """FairMOT's re-ID cross-entropy (module docstring); 0 (with a graph) when no box of the
        batch has an identity."""
        feats = gather_feat(embeddings, targets["ind"])
        ids = targets["ids"]
        keep = targets["reg_mask"].bool() & (ids >= 0)
        if not bool(keep.any()):
            return embeddings.sum() * 0.0
        chosen = ids[keep]
        if int(chosen.max()) >= self.n_identities:
            raise ValueError(f"identity {int(chosen.max())} >= n_identities={self.n_identities}")
        logits = self.classifier(self.emb_scale * F.normalize(feats[keep], dim=1))
        return F.cross_entropy(logits, chosen)

    def training_loss(self, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """Joint detection + re-ID loss of one batch -> (loss, logs).

        ``batch``: a dict with ``image`` (N×3×H×W float in [0, 1], sides multiples of 32) and
        either ``targets`` (the dict of :func:`~vadlib.models.fairmot_targets.build_targets`, e.g.
        built in data-loader workers) or ``boxes`` (a list of N tensors M_i×4 in input pixels),
        ``box_format`` ("tlbr" or "tlwh") and optionally ``ids`` (a list of N int tensors M_i,
        -1 = no identity; missing = all -1). :func:`vadlib.data.mot.collate_frames` batches fit
        after adding ``box_format="tlwh"``.

        Logs: ``loss``, ``hm``, ``wh``, ``off``, ``id``, ``aux`` (0 when inactive), ``det``
        (fairmot weighting) or ``bbox`` (per_task), ``s_<task>`` (the uncertainty scalars) and
        ``objects`` (boxes in the batch).
        """
        if not isinstance(batch, Mapping) or "image" not in batch:
            raise ValueError("batch must be a dict with 'image' (N×3×H×W in [0, 1]) and targets")
        images = self._check(batch["image"])
        if images.detach().amin() < 0.0 or images.detach().amax() > 1.0:
            raise ValueError("images must be in [0, 1]")
        targets = self.targets(batch, tuple(images.shape[-2:]))
        targets = {k: v.to(images.device) for k, v in targets.items()}
        out_size = (images.shape[-2] // self.down_ratio, images.shape[-1] // self.down_ratio)
        if tuple(targets["hm"].shape[-2:]) != out_size or targets["hm"].shape[0] != images.shape[0]:
            raise ValueError(f"targets['hm'] has shape {tuple(targets['hm'].shape)}, expected "
                             f"N×1×{out_size[0]}×{out_size[1]} for {images.shape[0]} images")
        outputs = self(images)
        outputs = {k: v.float() for k, v in outputs.items()}
        hm = focal_loss(heatmap_probs(outputs["hm"]), targets["hm"])
        wh = reg_l1_loss(outputs["wh"], targets["reg_mask"], targets["ind"], targets["wh"])
        off = reg_l1_loss(outputs["reg"], targets["reg_mask"], targets["ind"], targets["reg"])
        ident = self.id_loss(outputs["id"], targets)
        aux = None
        if self.aux_active:
            aux = focal_loss(heatmap_probs(outputs["aux_hm"]), targets["hm"])
        s = self.uncertainty
        logs: dict[str, float] = {}
        if self.weighting == "fairmot":
            det = hm + 0.1 * wh + off
            if aux is not None:
                det = det + self.aux_weight * aux
            loss = 0.5 * (torch.exp(-s["det"]) * det + torch.exp(-s["id"]) * ident
                          + s["det"] + s["id"])
            logs["det"] = float(det.detach())
        else:
            bbox = wh + off
            terms = [(s["hm"], hm), (s["bbox"], bbox), (s["id"], ident)]
            if aux is not None:
                terms.append((s["aux"], self.aux_weight * aux))
            loss = 0.5 * sum(torch.exp(-sv) * lv + sv for sv, lv in terms)
            logs["bbox"] = float(bbox.detach())
        logs = {"loss": float(loss.detach()), "hm": float(hm.detach()), "wh": float(wh.detach()),
                "off": float(off.detach()), "id": float(ident.detach()),
                "aux": 0.0 if aux is None else float(aux.detach()), **logs,
                **{f"s_{k}": float(v.detach()) for k, v in s.items()},
                "objects": float(targets["reg_mask"].sum())}
        return loss, logs

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, images: Tensor, k: int = 500, conf_thres: float = 0.4) -> list[dict[str, Tensor]]:
        """Eval-mode forward + :func:`decode` (boxes in input pixels); restores the mode."""
        was_training = self.training
        self.eval()
        try:
            outputs = self(images)
        finally:
            self.train(was_training)
        return decode(outputs, k=k, conf_thres=conf_thres, down_ratio=self.down_ratio)

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part: backbone, heads, gates, aux_head, classifier, uncertainty, and
        ``network`` (everything used at inference: backbone + heads + gates + aux head)."""
        def count(m) -> int:
            return 0 if m is None else sum(p.numel() for p in m.parameters())
        parts = {"backbone": count(self.backbone), "heads": count(self.heads),
                 "gates": count(self.gates), "aux_head": count(self.aux_head),
                 "classifier": count(self.classifier), "uncertainty": count(self.uncertainty)}
        parts["network"] = parts["backbone"] + parts["heads"] + parts["gates"] + parts["aux_head"]
        return parts
