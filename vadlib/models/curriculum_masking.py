"""CM-MAE, Paper F: an MAE whose masks come from a learned masking module trained through a
curriculum (first cooperative, then adversarial with growing strength).

N. Madan, N.-C. Ristea, R. T. Ionescu, K. Nasrollahi, T. B. Moeslund, "CM-MAE: Curriculum Masking
for learning representation in Mask Autoencoders", technical report (thesis
``000_f794b37c98b9d304.txt``, T 3290–3583; Ch. 4 summary T 775–800; spec ``papers_E_F.md`` §2).
Reimplemented from the thesis text. Where the thesis is silent, the later public CL-MAE code
(``github.com/ristea/cl-mae``, MIT; a *different*, later paper, spec §2.12) was read as a reference
only and nothing was copied; choices taken from it are tagged [X], our own [I].

Architecture (Fig. F.1 = Fig. 4.1)::

    image ─► masking module (CMM): patch embedding + sin-cos position, [CLS], ViT blocks,
             LN([CLS]) ─► Linear(d → n) ─► sigmoid ─► Z ∈ (0, 1)^n, one score per patch
          ─► top-K of Z = the K visible patches ─► MAE (:mod:`vadlib.models.mae`), MSE on the rest

**The masking module** (:class:`MaskingModule`, T 3349–3351): its *own* linear patch projection
(p×p patches, the MAE's patch size) plus fixed 2-D sin-cos positions (T 3351: "projected using a
linear layer ... combined with positional encoding"), a learnable [CLS] token (no position
embedding), pre-LN ViT blocks, LayerNorm on the output [CLS], ``Linear(d, n)``, sigmoid. Depth,
width and heads are not stated (spec §2.3): ``size="paper"`` uses depth 5, 4 heads, width 768
(= the encoder width) [X: the cl-mae ``MaskingNet``]; ``size="tiny"`` depth 2, 4 heads, width 64.
``cmm_tokens="mae"`` instead feeds the MAE's own patch tokens (patch embedding + position,
*detached*, so the MAE's embedding is not trained by the CMM's loss) and forces the width to the
encoder's [X: what cl-mae does]. Weights Xavier-uniform / LN 1, 0 / [CLS] N(0, 0.02), seeded.

**What Z means** (spec §2.3, §2.11.3): the thesis says both "z = 1 if the patch must be masked"
(T 3364) and "values of 0 for masked tokens and 1 for visible tokens" (T 788) while selecting "the
top-K tokens ... as the visible tokens" (T 3349). We use **z ≈ 1 = visible**, consistent with top-K
visible and with T 788 [X: cl-mae keeps the largest]. The other reading is the same model with the
head's logits negated (σ(-a) = 1 - σ(a)): every loss below is symmetric under z ↦ 1 - z except the
KL target, which follows the reading, so no separate option is offered.

**Top-K selection** (T 3349): K = round(n·(1 - r)) with the fixed mask ratio r = 0.75 (T 3446,
3477); ties go to the lower patch index (stable sort).

**How the CMM gets gradients through the selection** (not stated, spec §2.3) [I/X]: the MAE's
step uses the hard top-K of ``Z.detach()``; the CMM's step uses a *soft* path
(:meth:`vadlib.models.mae.MAE.soft_reconstruction`): no token is dropped, each patch token is
multiplied by its z_i, the MAE encoder and decoder run on all n tokens and the reconstruction error
is averaged with weights (1 - z_i) (soft "masked-ness"): ``rec = Σ (1 - z)·mse / Σ (1 - z)``
over the batch [X: cl-mae's masking-net step; cl-mae also sorts the tokens by z, which changes
nothing because the blocks are permutation-equivariant and positions are already added].
``soft_masking="mask_token"`` also puts ``(1 - z_i)·mask_token`` into the decoder input of patch i
(closer to what the MAE sees in its hard step) [I].

**Losses of the CMM** (T 3353–3397; Eq. F.5 = Eq. 4.2; functions below)::

    L = w(e)·rec + λ_GL·L_Gauss + λ_KL·L_KL + λ_div·L_div

* ``rec`` / progressive loss (F.1 = Eq. 4.1, T 3357–3362): the MAE reconstruction MSE of the
  normalised per-patch pixels (the soft path above). F.1 flips its sign after η epochs *and*
  λ_prog is said to become -0.001 (T 3405): a literal product would be cooperative again (spec
  §2.5, §2.11.4). We apply **one effective coefficient w(e) on +MSE** (:class:`CurriculumSchedule`,
  ``sign="effective"``, default); ``sign="literal"`` runs the printed product λ_prog·(±MSE) =
  +0.001·2^k·MSE after η (it never becomes adversarial).
* ``L_Gauss`` (F.2, T 3364–3367), the binarisation loss: the element-wise normal density
  ``(1 / (σ√(2π)))·exp(-(z - μ)² / (2σ²))`` with μ = 0.5, σ = 0.12, **averaged over the B×n
  entries** (the thesis does not say how it is reduced). Peak 3.3245 at z = 0.5, 0.3795 at 0.25 /
  0.75, 5.65e-4 at 0 / 1: minimising it pushes every z to 0 or 1. ``gauss_scale="code"`` multiplies
  by σ√(2π) instead of dividing (peak σ√(2π) = 0.3008) [X: cl-mae], which changes what λ_GL = 10
  means by a factor 11.05.
* ``L_KL`` (F.3, T 3372–3377), the mask-ratio loss on the per-sample fractions: with the target
  visible fraction V = 1 - r, masked M = r, and the predicted V̂ = mean_i z_i, M̂ = 1 - V̂ (clamped to
  [1e-6, 1 - 1e-6]), printed ``M·log(M̂/M) + V·log(V̂/V)`` is -KL(target‖pred) ≤ 0 (minimising it
  would push *away* from the ratio; spec §2.4.3). Default ``kl_direction="target||pred"``: the
  Bernoulli KL with the sign fixed, ``M·log(M/M̂) + V·log(V/V̂)``; ``"pred||target"``:
  ``V̂·log(V̂/V) + M̂·log(M̂/M)`` [X: cl-mae]; ``"printed"``: the formula as printed (for the record;
  do not train with it). Averaged over the batch (cl-mae sums over the batch).
* ``L_div`` (F.4, T 3379–3390), the diversity loss: D_ij = Euclidean distance between the mask
  vectors Z_i and Z_j [I: "between two samples"], ``exp(-k·D_ij)`` with scale k = 0.1 (not stated;
  [X] cl-mae). ``div_pairs="unique"`` (default): the mean over the N(N-1)/2 pairs i < j (maximum 1;
  the normaliser N(N-1)/2 says each pair counts once) [X]; ``"ordered"``: as printed, the double
  sum over j ≠ i divided by N(N-1)/2 (= 2 × unique, maximum 2). 0 for a batch of one.
* Weights: λ_GL = 10, λ_KL = 10 (Table F.5, T 3483); λ_div: "select ... 2" then "improvements when
  setting λ_div to 5. We use the same values for all our experiments" (T 3485–3505). **Default
  λ_div = 5** (the final value; spec §2.4 [I]); ``lambda_div=2`` is the setting that probably
  produced Tables F.1–F.3 (Table F.6's row 2 = 38.1 / 60.4 = their CM-MAE row).

**The curriculum** (T 3343–3345, 3395–3399, 3405; :class:`CurriculumSchedule`): discrete, one stage
per η epochs (stage s = ⌊e/η⌋). Effective weight ``w(e) = +1`` for e < η (cooperative, "easy
masks"), then ``w(e) = -0.001·2^(s-1)`` (adversarial, "multiplied ... by a factor of 2 after
every η epochs"): η = 50, 200 epochs gives +1, -0.001, -0.002, -0.004. η ∈ {30, 50}, 50 chosen
(Table F.3; ablations T 3481). ``constant=`` fixes the weight for a whole run (Table F.5's "easy
task", λ_prog = 1.0 for 200 epochs, T 3483; Fig. F.2's factors -0.001, -0.002, -0.1, T 3405).

* **CMM trained only early in each interval** (the "updated settings" of Table F.4, T 3465:
  "restricting the training of the masking module to the initial 20 % of epochs within the total
  interval"; the introduction says 10 %, T 3314): ``train_fraction`` f — the CMM is updated in
  epoch e iff ``e - s·η < f·η`` (so at least the interval's first epoch), frozen otherwise while the
  MAE keeps training with its masks. Applied to every interval, the cooperative one included [I].
  Default f = 1 (Tables F.1–F.3); :meth:`CurriculumSchedule.updated_settings` gives f = 0.2 with a
  longer interval η = 100 [I: "augment the update interval", its value is not stated].
* **Same cycle vs alternate cycles** (Table F.1, T 3409): ``cycle="same"`` (default, chosen by the
  thesis): every training step updates the CMM (one step of its own optimiser on the batch) and the
  MAE (the returned loss) [X: cl-mae does both on each mini-batch]. ``cycle="alternate"``: "cycle"
  is not defined [I]; ``alternate_unit="iteration"`` (default) alternates steps (MAE, CMM, MAE, …),
  ``"epoch"`` alternates epochs within each interval (its first epoch the MAE's). On a CMM-only step
  the MAE is *not* updated: the returned loss is ``0·idle_anchor`` (a scalar parameter used nowhere
  else), so the MAE's parameters get no gradient (``grad is None``) and the project's optimiser
  skips them (a zero gradient would still move Adam by its momentum). Outside the CMM's active
  epochs the MAE trains every step.
* **Re-initialisation** (Table F.2, T 3411): ``reinit=True`` re-draws the CMM's weights (seed
  ``seed + 1 + 1000·s``; the first draw uses ``seed + 1``) and resets its optimiser whenever the
  stage s increases — "before increasing the weight of the adversarial loss", i.e. at every
  curriculum update, the first switch to adversarial included [I]. Default False (the thesis's choice).
* **Epochs.** The curriculum depends on the epoch: call :meth:`CMMAE.set_epoch` at every epoch
  start, or pass ``steps_per_epoch`` and the model counts its own training steps (the project's
  :func:`vadlib.runs.train.train` has no epoch hook). Epochs are integers (the schedule is discrete).

**The CMM's optimiser** (not stated) [I/X]: the CMM lives in :class:`MaskingLearner`, whose
parameters are kept at ``requires_grad=False`` outside its own update, so the project's optimiser
(built from the trainable parameters) never includes them — as the FFP host's discriminator
(:class:`vadlib.models.ffp.Adversary`). It has its own AdamW (β = 0.9, 0.95, weight decay 0.05: the
MAE recipe's; lr = the schedule's lr unless ``cmm_lr``), constant learning rate, optional
gradient-norm clipping ``cmm_clip_grad`` (the thesis tried clipping, value not given, T 3517;
default off). Its step runs in float32 outside autocast and takes gradients only for the CMM's
parameters (``torch.autograd.grad``): the MAE's parameters are untouched by it. Order in a
same-cycle step: Z from the CMM (before its update) → CMM step on the soft path → the MAE loss on
the top-K of that Z is returned and stepped by the project's loop [X: cl-mae steps the MAE first,
then the CMM, on the same batch; the difference is which MAE weights the CMM's step sees]. The
optimiser state, the update count and the curriculum position travel in ``state_dict()``.

Everything not exercised by the thesis's numbers (optimiser, lr, batch, the k of L_div, the CMM's
size, the final η) is a documented default, overridable in the constructor. Augmentation is the
data's business, not this module's: the pre-training run applies MAE's RandomResizedCrop + flip
(:class:`vadlib.runs.pretraining.PretrainRun`, ``augment``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from vadlib.models.hosts import Schedule
from vadlib.models.mae import (
    LN_EPS,
    MAE,
    SIZES,
    Masking,
    images_of,
    init_vit_weights,
    make_block,
    make_patch_embed,
    sincos_pos_embed_2d,
)

__all__ = [
    "CMMAE",
    "CurriculumSchedule",
    "MaskingModule",
    "MaskingLearner",
    "CMM_SIZES",
    "gaussian_loss",
    "kl_mask_ratio_loss",
    "diversity_loss",
    "progressive_loss",
    "curriculum_table",
]

#: masking-module sizes (module docstring)
CMM_SIZES = {"paper": dict(embed_dim=768, depth=5, num_heads=4),
             "tiny": dict(embed_dim=64, depth=2, num_heads=4)}

GAUSS_SCALES = ("pdf", "code")
KL_DIRECTIONS = ("target||pred", "pred||target", "printed")
DIV_PAIRS = ("unique", "ordered")
SOFT_MASKING = ("scale", "mask_token")
CMM_TOKENS = ("own", "mae")
CYCLES = ("same", "alternate")
ALTERNATE_UNITS = ("iteration", "epoch")
SIGNS = ("effective", "literal")


# ------------------------------------------------------------------------------------ losses

def progressive_loss(reconstruction: Tensor, weight: float) -> Tensor:
    """F.1 with the curriculum folded into one effective coefficient: ``weight · MSE``
    (``weight`` = :meth:`CurriculumSchedule.weight`: +1, then -0.001·2^k)."""
    return weight * reconstruction


def gaussian_loss(z: Tensor, mu: float = 0.5, sigma: float = 0.12, scale: str = "pdf") -> Tensor:
    """F.2, averaged over all entries: ``mean(c·exp(-(z - μ)² / (2σ²)))`` with
    ``c = 1/(σ√(2π))`` (``scale="pdf"``, the thesis) or ``c = σ√(2π)`` (``"code"``, cl-mae)."""
    if scale not in GAUSS_SCALES:
        raise ValueError(f"scale must be one of {GAUSS_SCALES}, got {scale!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    norm = sigma * math.sqrt(2.0 * math.pi)
    c = 1.0 / norm if scale == "pdf" else norm
    return (c * torch.exp(-(z - mu).pow(2) / (2.0 * sigma ** 2))).mean()


def kl_mask_ratio_loss(visibility: Tensor, mask_ratio: float, direction: str = "target||pred",
                       eps: float = 1e-6) -> Tensor:
    """F.3 on the per-sample visible fraction V̂ = mean_i z_i (B×n input, z ≈ 1 visible), target
    V = 1 - ``mask_ratio``, M = ``mask_ratio``, M̂ = 1 - V̂; averaged over the batch.

    ``"target||pred"``: M·log(M/M̂) + V·log(V/V̂) (F.3 with its sign fixed; default);
    ``"pred||target"``: V̂·log(V̂/V) + M̂·log(M̂/M) (cl-mae);
    ``"printed"``: M·log(M̂/M) + V·log(V̂/V).
    """
    if direction not in KL_DIRECTIONS:
        raise ValueError(f"direction must be one of {KL_DIRECTIONS}, got {direction!r}")
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio!r}")
    v_hat = visibility.mean(dim=1).clamp(eps, 1.0 - eps)
    m_hat = 1.0 - v_hat
    v, m = 1.0 - mask_ratio, mask_ratio
    if direction == "target||pred":
        kl = m * torch.log(m / m_hat) + v * torch.log(v / v_hat)
    elif direction == "pred||target":
        kl = v_hat * torch.log(v_hat / v) + m_hat * torch.log(m_hat / m)
    else:
        kl = m * torch.log(m_hat / m) + v * torch.log(v_hat / v)
    return kl.mean()


def diversity_loss(z: Tensor, k: float = 0.1, pairs: str = "unique") -> Tensor:
    """F.4: ``exp(-k·‖Z_i - Z_j‖₂)`` summed over the pairs i < j (``"unique"``) or over all i ≠ j
    (``"ordered"``, as printed), divided by N(N-1)/2. B×n input; 0 when B = 1."""
    if pairs not in DIV_PAIRS:
        raise ValueError(f"pairs must be one of {DIV_PAIRS}, got {pairs!r}")
    b = z.shape[0]
    if b < 2:
        return z.sum() * 0.0
    i, j = torch.triu_indices(b, b, offset=1, device=z.device)
    dist = torch.linalg.vector_norm(z[i] - z[j], dim=-1)  # gradient 0 (not NaN) at distance 0
    loss = torch.exp(-k * dist).sum() / (b * (b - 1) / 2)
    return 2.0 * loss if pairs == "ordered" else loss


# ------------------------------------------------------------------------------------ curriculum

@dataclass(frozen=True)
class CurriculumSchedule:
    """The discrete curriculum of Paper F (module docstring). Epochs count from 0."""

    eta: int = 50                    # curriculum interval η in epochs (T 3413-3415; Table F.3)
    easy_weight: float = 1.0         # λ_prog of the cooperative first interval (T 3397)
    start: float = -0.001            # first adversarial weight (T 3405)
    factor: float = 2.0              # × per later interval (T 3397, 3405)
    train_fraction: float = 1.0      # CMM trained in this first share of each interval (T 3465)
    cycle: str = "same"              # "same" | "alternate" (Table F.1)
    alternate_unit: str = "iteration"  # what a "cycle" is when alternating: "iteration" | "epoch"
    reinit: bool = False             # re-initialise the CMM at each curriculum update (Table F.2)
    sign: str = "effective"          # "effective" (w on +MSE) | "literal" (λ_prog · F.1's ±MSE)
    constant: float | None = None    # a fixed effective weight for the whole run (ablations)

    def __post_init__(self):
        if isinstance(self.eta, bool) or not isinstance(self.eta, int) or self.eta < 1:
            raise ValueError(f"eta must be a positive int (epochs), got {self.eta!r}")
        if not (0.0 < self.train_fraction <= 1.0):
            raise ValueError(f"train_fraction must be in (0, 1], got {self.train_fraction!r}")
        if not (self.factor > 0 and math.isfinite(self.factor)):
            raise ValueError(f"factor must be a finite number > 0, got {self.factor!r}")
        for name in ("easy_weight", "start"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")
        if self.constant is not None and not math.isfinite(self.constant):
            raise ValueError(f"constant must be finite or None, got {self.constant!r}")
        if self.cycle not in CYCLES:
            raise ValueError(f"cycle must be one of {CYCLES}, got {self.cycle!r}")
        if self.alternate_unit not in ALTERNATE_UNITS:
            raise ValueError(f"alternate_unit must be one of {ALTERNATE_UNITS}, got {self.alternate_unit!r}")
        if self.sign not in SIGNS:
            raise ValueError(f"sign must be one of {SIGNS}, got {self.sign!r}")

    # presets
    @classmethod
    def thesis(cls, eta: int = 50, **kw) -> "CurriculumSchedule":
        """Tables F.1–F.3 / F.6: η = 50, the CMM trained throughout, same cycle."""
        return cls(eta=eta, **kw)

    @classmethod
    def updated_settings(cls, eta: int = 100, train_fraction: float = 0.2, **kw) -> "CurriculumSchedule":
        """Table F.4: a longer interval (η not stated; 100 assumed), the CMM trained only in the
        first 20 % of each interval (T 3465; 10 % per T 3314)."""
        return cls(eta=eta, train_fraction=train_fraction, **kw)

    @classmethod
    def easy_task(cls, **kw) -> "CurriculumSchedule":
        """Table F.5: λ_prog fixed at 1.0 (cooperative) for the whole run (T 3483)."""
        return cls(constant=1.0, **kw)

    # schedule
    @staticmethod
    def _check_epoch(epoch) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        return epoch

    def stage(self, epoch: int) -> int:
        """The curriculum stage ⌊epoch/η⌋ (0 = cooperative)."""
        return self._check_epoch(epoch) // self.eta

    def lambda_prog(self, epoch: int) -> float:
        """λ_prog as the thesis prints it: ``easy_weight`` in stage 0, then ``start·factor^(s-1)``."""
        s = self.stage(epoch)
        return self.easy_weight if s == 0 else self.start * self.factor ** (s - 1)

    def prog_sign(self, epoch: int) -> int:
        """The sign F.1 puts on the MSE: +1 before η epochs, -1 after."""
        return 1 if self.stage(epoch) == 0 else -1

    def weight(self, epoch: int) -> float:
        """The coefficient on +MSE in the CMM's loss at ``epoch``."""
        self._check_epoch(epoch)
        if self.constant is not None:
            return float(self.constant)
        if self.sign == "effective":
            return float(self.lambda_prog(epoch))
        return float(self.lambda_prog(epoch) * self.prog_sign(epoch))

    def weights(self, epochs: int) -> list[float]:
        """:meth:`weight` for epochs 0 … ``epochs`` - 1."""
        return [self.weight(e) for e in range(epochs)]

    def cmm_active(self, epoch: int) -> bool:
        """Whether the CMM is trained during ``epoch``: ``epoch - s·η < train_fraction·η``."""
        return (self._check_epoch(epoch) % self.eta) < self.train_fraction * self.eta


# ------------------------------------------------------------------------------------ modules

class MaskingModule(nn.Module):
    """The CMM network: tokens + [CLS] → ViT blocks → LN([CLS]) → Linear(d, n) → sigmoid.

    ``tokens="own"``: ``forward`` takes (normalised) images N×C×H×W and embeds them with its own
    patch projection and sin-cos positions; ``tokens="mae"``: it takes N×n×d tokens."""

    def __init__(self, num_patches: int, *, embed_dim: int, depth: int, num_heads: int,
                 mlp_ratio: float = 4.0, tokens: str = "own", img_size=None, patch_size=None,
                 in_channels: int = 3, seed: int = 0):
        super().__init__()
        if tokens not in CMM_TOKENS:
            raise ValueError(f"tokens must be one of {CMM_TOKENS}, got {tokens!r}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth!r}")
        self.tokens, self.num_patches, self.embed_dim = tokens, int(num_patches), int(embed_dim)
        if tokens == "own":
            self.patch_embed = make_patch_embed(img_size, patch_size, in_channels, embed_dim)
            if self.patch_embed.num_patches != num_patches:
                raise ValueError("img_size / patch_size do not give num_patches patches")
            self.register_buffer("pos_embed", sincos_pos_embed_2d(
                embed_dim, tuple(self.patch_embed.grid_size), cls_token=False)[None])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.blocks = nn.ModuleList(make_block(embed_dim, num_heads, mlp_ratio)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS)
        self.head = nn.Linear(embed_dim, num_patches)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int) -> None:
        generator = torch.Generator().manual_seed(int(seed))
        init_vit_weights(self, generator)
        with torch.no_grad():
            self.cls_token.normal_(0.0, 0.02, generator=generator)

    def logits(self, x: Tensor) -> Tensor:
        if self.tokens == "own":
            x = self.patch_embed(x) + self.pos_embed
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, 0]))

    def forward(self, x: Tensor) -> Tensor:
        """Z ∈ (0, 1)^(N×n), z ≈ 1 = visible."""
        return torch.sigmoid(self.logits(x))


class MaskingLearner(nn.Module):
    """The CMM with its own AdamW, trained only through :meth:`step` (module docstring).

    Parameters stay at ``requires_grad=False`` outside :meth:`step`; optimiser state and update
    count travel in ``state_dict()``."""

    def __init__(self, net: MaskingModule, lr: float, betas: tuple[float, float] = (0.9, 0.95),
                 weight_decay: float = 0.05, clip_grad: float | None = None):
        super().__init__()
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"the masking module's lr must be > 0, got {lr!r}")
        if clip_grad is not None and not clip_grad > 0:
            raise ValueError(f"clip_grad must be > 0 or None, got {clip_grad!r}")
        self.net = net
        self.net.requires_grad_(False)
        self.lr, self.betas = float(lr), tuple(betas)
        self.weight_decay, self.clip_grad = float(weight_decay), clip_grad
        self.optimizer = self._make_optimizer()
        self.updates = 0

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.net.parameters(), lr=self.lr, betas=self.betas,
                                 weight_decay=self.weight_decay)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def step(self, closure) -> tuple[Tensor, dict]:
        """One optimiser step on ``loss, aux = closure()`` (float32, no autocast); gradients are
        taken for the CMM's parameters only. Returns ``(loss.detach(), aux)``."""
        params = list(self.net.parameters())
        try:
            self.net.requires_grad_(True)
            device_type = params[0].device.type
            with torch.enable_grad(), torch.autocast(device_type=device_type, enabled=False):
                loss, aux = closure()
                grads = torch.autograd.grad(loss, params, allow_unused=True)
            for p, g in zip(params, grads):
                p.grad = torch.zeros_like(p) if g is None else g
            if self.clip_grad is not None:
                aux["cmm_grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, self.clip_grad))
            self.optimizer.step()
        finally:
            for p in params:
                p.grad = None
            self.net.requires_grad_(False)
        self.updates += 1
        return loss.detach(), aux

    def reinit(self, seed: int) -> None:
        """Re-draw the weights (seeded) and start a fresh optimiser."""
        self.net.reset_parameters(seed)
        self.optimizer = self._make_optimizer()

    def get_extra_state(self):
        return {"optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def set_extra_state(self, state) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])


class CMMAE(nn.Module):
    """MAE + curriculum masking module (module docstring).

    ``loss, logs = model.training_loss(batch)`` returns the MAE's loss on the CMM's top-K masks
    (for the project's optimiser) after training the CMM on the same batch when the curriculum
    says so; call :meth:`set_epoch` each epoch (or pass ``steps_per_epoch``). ``set_epoch``,
    ``masks`` and ``autoencoder`` are the interface it shares with :class:`vadlib.models.mae.MAE`.
    """

    block_sites: tuple[str, ...] = ()
    block_weight = 0.0

    def __init__(self, size: str = "tiny", *, in_channels: int = 3, mask_ratio: float = 0.75,
                 norm_pix_loss: bool = True, seed: int = 0,
                 curriculum: CurriculumSchedule | None = None,
                 lambda_gauss: float = 10.0, lambda_kl: float = 10.0, lambda_div: float = 5.0,
                 div_scale: float = 0.1, gauss_mu: float = 0.5, gauss_sigma: float = 0.12,
                 gauss_scale: str = "pdf", kl_direction: str = "target||pred",
                 div_pairs: str = "unique", soft_masking: str = "scale", cmm_tokens: str = "own",
                 cmm_dim: int | None = None, cmm_depth: int | None = None,
                 cmm_heads: int | None = None, cmm_lr: float | None = None,
                 cmm_betas: tuple[float, float] = (0.9, 0.95), cmm_weight_decay: float = 0.05,
                 cmm_clip_grad: float | None = None, steps_per_epoch: int | None = None,
                 **mae_dims):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        for name, value, options in (("gauss_scale", gauss_scale, GAUSS_SCALES),
                                     ("kl_direction", kl_direction, KL_DIRECTIONS),
                                     ("div_pairs", div_pairs, DIV_PAIRS),
                                     ("soft_masking", soft_masking, SOFT_MASKING),
                                     ("cmm_tokens", cmm_tokens, CMM_TOKENS)):
            if value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}")
        for name, value in (("lambda_gauss", lambda_gauss), ("lambda_kl", lambda_kl),
                            ("lambda_div", lambda_div), ("div_scale", div_scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool)
                                            or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1):
            raise ValueError(f"steps_per_epoch must be a positive int or None, got {steps_per_epoch!r}")
        self.size, self.seed = size, int(seed)
        self.mae = MAE(size, in_channels=in_channels, mask_ratio=mask_ratio,
                       norm_pix_loss=norm_pix_loss, seed=seed, **mae_dims)
        self.curriculum = curriculum if curriculum is not None else CurriculumSchedule()
        if not isinstance(self.curriculum, CurriculumSchedule):
            raise ValueError(f"curriculum must be a CurriculumSchedule, got {type(curriculum).__name__}")
        self.lambda_gauss, self.lambda_kl = float(lambda_gauss), float(lambda_kl)
        self.lambda_div, self.div_scale = float(lambda_div), float(div_scale)
        self.gauss_mu, self.gauss_sigma, self.gauss_scale = float(gauss_mu), float(gauss_sigma), gauss_scale
        self.kl_direction, self.div_pairs = kl_direction, div_pairs
        self.soft_masking, self.cmm_tokens = soft_masking, cmm_tokens
        self.steps_per_epoch = steps_per_epoch

        cmm = dict(CMM_SIZES[size])
        if cmm_tokens == "mae":
            if cmm_dim is not None and cmm_dim != self.mae.embed_dim:
                raise ValueError(f"cmm_tokens='mae' needs cmm_dim = the encoder width {self.mae.embed_dim}")
            cmm["embed_dim"] = self.mae.embed_dim
        for key, value in (("embed_dim", cmm_dim), ("depth", cmm_depth), ("num_heads", cmm_heads)):
            if value is not None:
                cmm[key] = int(value)
        net = MaskingModule(self.mae.num_patches, **cmm, mlp_ratio=self.mae.config["mlp_ratio"],
                            tokens=cmm_tokens, img_size=self.mae.img_size,
                            patch_size=self.mae.patch_size, in_channels=in_channels,
                            seed=self.seed + 1)
        lr = self.schedule(size).lr if cmm_lr is None else float(cmm_lr)
        self.masker = MaskingLearner(net, lr, cmm_betas, cmm_weight_decay, cmm_clip_grad)
        #: receives the (zero) gradient of a step on which the MAE is not updated (alternate cycles)
        self.idle_anchor = nn.Parameter(torch.zeros(()))
        self._epoch, self._stage, self._steps, self._turns = 0, 0, 0, 0

    # ---------------------------------------------------------------- curriculum position
    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def stage(self) -> int:
        return self._stage

    @property
    def curriculum_weight(self) -> float:
        """The effective weight w(e) on +MSE at the current epoch."""
        return self.curriculum.weight(self._epoch)

    @property
    def cmm_active(self) -> bool:
        return self.curriculum.cmm_active(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Move the curriculum to ``epoch`` (re-initialises the CMM when the stage increases and
        the curriculum says ``reinit``); with ``steps_per_epoch`` the step count moves to the
        epoch's first step."""
        self._move_to(epoch)
        if self.steps_per_epoch is not None:
            self._steps = epoch * self.steps_per_epoch

    def _move_to(self, epoch: int) -> None:
        stage = self.curriculum.stage(epoch)  # validates epoch
        if stage > self._stage and self.curriculum.reinit:
            self.masker.reinit(self.seed + 1 + 1000 * stage)
        self._epoch, self._stage = epoch, stage

    def get_extra_state(self):
        return {"epoch": self._epoch, "stage": self._stage, "steps": self._steps, "turns": self._turns}

    def set_extra_state(self, state) -> None:
        self._epoch, self._stage = int(state["epoch"]), int(state["stage"])
        self._steps, self._turns = int(state["steps"]), int(state["turns"])

    # ---------------------------------------------------------------- masks
    @property
    def autoencoder(self) -> MAE:
        """The MAE that encodes and reconstructs (:attr:`vadlib.models.mae.MAE.autoencoder`)."""
        return self.mae

    def _cmm_input(self, imgs: Tensor) -> Tensor:
        if self.cmm_tokens == "mae":
            return self.mae.embed(imgs).detach()
        return self.mae.preprocess(imgs)

    def scores(self, imgs: Tensor) -> Tensor:
        """The CMM's Z (B×n, z ≈ 1 visible) of [0, 1] images, without gradients."""
        with torch.no_grad():
            return self.masker(self._cmm_input(self.mae.check_images(images_of(imgs))))

    def masks(self, imgs: Tensor) -> tuple[Tensor, Masking]:
        """``(Z, masking)``: the CMM's scores and the top-K masking they give."""
        z = self.scores(imgs)
        return z, self.mae.masking_from_scores(z)

    def cmm_losses(self, imgs: Tensor, z: Tensor, weight: float) -> tuple[Tensor, dict[str, Tensor]]:
        """The CMM's total loss (Eq. F.5) of scores ``z`` with progressive weight ``weight``."""
        rec, _ = self.mae.soft_reconstruction(imgs, z, mask_token_mix=self.soft_masking == "mask_token")
        gauss = gaussian_loss(z, self.gauss_mu, self.gauss_sigma, self.gauss_scale)
        kl = kl_mask_ratio_loss(z, self.mae.mask_ratio, self.kl_direction)
        div = diversity_loss(z, self.div_scale, self.div_pairs)
        total = (progressive_loss(rec, weight) + self.lambda_gauss * gauss + self.lambda_kl * kl
                 + self.lambda_div * div)
        return total, {"prog_rec": rec, "gauss": gauss, "kl": kl, "div": div}

    def _cmm_step(self, imgs: Tensor) -> tuple[Tensor, dict[str, float]]:
        weight = self.curriculum_weight

        def closure():
            z = self.masker(self._cmm_input(imgs).float())
            total, parts = self.cmm_losses(imgs.float(), z, weight)
            return total, {"z": z.detach(), **{k: v.detach() for k, v in parts.items()}}

        total, aux = self.masker.step(closure)
        z = aux.pop("z")
        logs = {k: float(v) if isinstance(v, Tensor) else v for k, v in aux.items()}
        return z, {"cmm_loss": float(total), **logs}

    def _turn(self) -> tuple[bool, bool]:
        """(update the CMM, update the MAE) on this training step."""
        cur = self.curriculum
        if not cur.cmm_active(self._epoch):
            return False, True
        if cur.cycle == "same":
            return True, True
        if cur.alternate_unit == "iteration":
            cmm_turn = self._turns % 2 == 1
            self._turns += 1
        else:
            cmm_turn = (self._epoch % cur.eta) % 2 == 1
        return cmm_turn, not cmm_turn

    # ---------------------------------------------------------------- training
    def forward(self, imgs: Tensor) -> tuple[Tensor, Tensor, Masking, Tensor]:
        """``(MAE loss, pred, masking, Z)`` with the CMM's current top-K masks; no update."""
        imgs = self.mae.check_images(images_of(imgs))
        z = self.scores(imgs)
        loss, pred, m = self.mae(imgs, scores=z)
        return loss, pred, m, z

    def training_loss(self, batch) -> tuple[Tensor, dict[str, float]]:
        """One training step's MAE loss (module docstring); trains the CMM on the batch first when
        in training mode with gradients enabled and the curriculum has it active."""
        imgs = self.mae.check_images(images_of(batch))
        training = self.training and torch.is_grad_enabled()
        if training and self.steps_per_epoch is not None:
            epoch = self._steps // self.steps_per_epoch
            if epoch != self._epoch:
                self._move_to(epoch)
        logs: dict[str, float] = {"epoch": float(self._epoch), "stage": float(self._stage),
                                  "w_prog": self.curriculum_weight}
        cmm_turn, mae_turn = self._turn() if training else (False, True)
        if cmm_turn:
            z, cmm_logs = self._cmm_step(imgs)
            logs.update(cmm_logs)
        else:
            z = self.scores(imgs)
        if mae_turn:
            loss, _, m = self.mae(imgs, scores=z)
            logs["mae_loss"] = float(loss.detach())
            logs["masked_fraction"] = float(m.mask.mean())
        else:
            loss = self.idle_anchor * 0.0
        if training:
            self._steps += 1
        logs.update({"cmm_step": float(cmm_turn), "mae_step": float(mae_turn),
                     "z_mean": float(z.mean()),
                     "z_binary": float(((z - 0.5).abs() > 0.4).float().mean())})
        return loss, logs

    @torch.no_grad()
    def features(self, images, pool: str = "mean", batch_size: int = 256) -> Tensor:
        """The MAE encoder's frozen features (:meth:`vadlib.models.mae.MAE.features`)."""
        return self.mae.features(images, pool=pool, batch_size=batch_size)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """The MAE's schedule (the thesis trains baseline and CM-MAE "by the same amount",
        T 3302); the CMM's optimiser is owned by the model (module docstring)."""
        base = MAE.schedule(size)
        return replace(base, source=base.source + "; the masking module has its own AdamW inside "
                       "the model (vadlib.models.curriculum_masking), outside this schedule")


def curriculum_table(schedule: CurriculumSchedule, epochs: int) -> list[dict]:
    """One row per epoch: epoch, stage, λ_prog (printed), F.1 sign, effective weight, CMM active."""
    return [{"epoch": e, "stage": schedule.stage(e), "lambda_prog": schedule.lambda_prog(e),
             "sign": schedule.prog_sign(e), "weight": schedule.weight(e),
             "cmm_active": schedule.cmm_active(e)} for e in range(epochs)]

