"""MAE, the masked autoencoder that Paper F (CM-MAE) builds on.

He, Chen, Xie, Li, Dollár, Girshick, "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022
(Paper F's [24]; thesis ``000_f794b37c98b9d304.txt`` T 3403: "ViT base ... 224 × 224 ... patch size
16 × 16"; T 3357: MSE on "the normalized per-patch pixels"). Reimplemented from the MAE paper (its
Sec. 3 and Appendix A.1); the official code (``facebookresearch/mae``) is CC BY-NC 4.0 and was not
copied. Parameter *names* follow the usual ViT / timm layout (``patch_embed.proj``, ``cls_token``,
``pos_embed``, ``blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}``, ``norm``,
``decoder_embed``, ``mask_token``, ``decoder_pos_embed``, ``decoder_blocks``, ``decoder_norm``,
``decoder_pred``) so that checkpoints in that layout load and timm's blocks can be swapped in.

Architecture (MAE Sec. 3, Fig. 1)::

    image ─► patches (p×p, n = HW/p²) ─► linear patch embedding + fixed 2-D sin-cos position
          ─► keep K visible tokens ─► prepend [CLS] ─► ViT encoder (pre-LN blocks) ─► LN
          ─► Linear to decoder width ─► append n-K shared mask tokens, unshuffle to patch order,
             + decoder sin-cos position ─► light ViT decoder ─► LN ─► Linear to p²·C per patch
    loss = mean over *masked* patches of the per-patch MSE to the (per-patch normalised) pixels

* **Sizes.** ``size="paper"``: ViT-B/16 at 224 px (width 768, 12 blocks, 12 heads, MLP ratio 4;
  n = 196, K = 49 at the thesis's 75 % masking, T 3446/3477/3483); decoder 512 wide, 8 blocks,
  16 heads (MAE's default decoder, its Table 1; the thesis does not state the decoder, spec §2.3).
  ``size="tiny"``: 32×32 px, patch 4 (n = 64, K = 16), width 64, 3 blocks, 4 heads; decoder 32
  wide, 2 blocks, 4 heads. Every dimension can be overridden by keyword.
* **Blocks** (MAE A.1, "standard ViT"): pre-LayerNorm multi-head self-attention (one ``qkv``
  Linear with bias, then ``proj``) and MLP (``fc1`` - GELU - ``fc2``, ratio 4), each with a
  residual; LayerNorm ε = 1e-6 (the ViT/timm convention); no dropout, drop-path, layer scale or
  relative position (MAE A.1: "does not use relative position or layer scaling").
  They are timm's: ``timm.models.vision_transformer.Block`` (``qkv_bias=True``) and
  ``timm.layers.PatchEmbed`` (current timm; MAE's pinned timm 0.3.2 is not needed).
* **Position embeddings** (MAE A.1: "the sine-cosine version" on encoder and decoder inputs): fixed
  (buffers, not learned). Of the D channels, the first D/2 encode the patch's row, the last D/2 its
  column, each as ``[sin(pos·ω_k)]_k ++ [cos(pos·ω_k)]_k`` with ``ω_k = 10000^(-k/(D/4))``,
  k = 0 … D/4 - 1 (the Transformer's 1-D encoding per axis; D must be divisible by 4). The [CLS]
  slot gets a zero vector.
* **Class token** (MAE A.1: "we append an auxiliary dummy token to the encoder input"): learned,
  N(0, 0.02). It is carried through the decoder (its output is dropped), as in MAE.
* **Initialisation** (MAE A.1: "xavier_uniform ... all Transformer blocks"): every Linear
  Xavier-uniform with zero bias; the patch projection Xavier-uniform on its weight viewed as a
  D × (p²C) matrix (it *is* a linear layer on flattened patches); LayerNorm 1 / 0; [CLS] and mask
  token N(0, 0.02). All drawn from a ``torch.Generator`` seeded with ``seed``.
* **Random masking** (MAE Sec. 3, "Simple implementation"): per sample, i.i.d. U(0, 1) noise per
  patch; ``ids_shuffle = argsort(noise)``; the first K are kept (``ids_keep``); ``ids_restore =
  argsort(ids_shuffle)`` inverts the shuffle, so that appending mask tokens to the K encoded tokens
  and gathering with ``ids_restore`` puts every token back at its patch. K = round(n·(1 - r)) for
  mask ratio r in (0, 1) (spec §2.9; MAE's code truncates, the same for every configuration used
  here, e.g. 196·0.25 = 49, 64·0.25 = 16); 1 ≤ K ≤ n - 1 is required. The noise comes from the
  model's own seeded CPU generator (:meth:`reset_rng`; its state is saved with the model) unless a
  ``generator`` is passed.
* **External masking** (for the curriculum masking module, :mod:`vadlib.models.curriculum_masking`):
  :meth:`MAE.masking_from_scores` keeps the K patches with the *highest* score (stable order, so
  ties go to the lower patch index), :meth:`MAE.masking_from_visible` takes explicit visible ids;
  both return the same :class:`Masking` triple as random masking. :meth:`MAE.soft_reconstruction`
  is the differentiable path by which a soft visibility vector reaches the MAE (see there).
* **Loss** (MAE Sec. 3, "Reconstruction target"): target = the image's p×p patches (channel-last
  within a patch: index ``(i·p + j)·C + c``); with ``norm_pix_loss`` (default, the thesis's
  "normalized per-patch pixels", T 3357) each patch is standardised by the mean and the
  *population* standard deviation of its p²C values, ``(t - mean) / sqrt(var + 1e-6)`` (MAE: "the
  mean and standard deviation of all pixels in a patch"; MAE's code uses the unbiased variance, a
  factor sqrt(m/(m-1)) ≈ 1.0007 for m = 768). Per-patch MSE over its p²C values, then the mean over
  the masked patches of the whole batch: ``Σ mse·mask / Σ mask``.
* **Input scaling** [I]: images come in [0, 1] (as every vadlib loader gives them) and are
  normalised inside the model with the ImageNet mean / std (MAE's data pipeline; 1-channel images:
  the averages). The reconstruction target is the normalised image, as in MAE.
* **Features for k-NN** (:meth:`MAE.features`; spec §2.6 [X]: "ViT-B/16 with global average
  pooling"): eval mode, no masking (all n patches visible), encoder output after its final
  LayerNorm, mean over the n patch tokens ([CLS] excluded); ``pool="cls"`` gives the [CLS] token.

Batches: :meth:`MAE.training_loss` takes an N×C×H×W tensor in [0, 1], a dict with ``"image"`` (as
:class:`vadlib.data.imagenet.ImageNetFolder` items collate) or an ``(images, labels)`` pair.

Schedule (:meth:`MAE.schedule`): the thesis states no optimiser, learning rate, batch size or
warm-up (spec §2.6/§2.10). ``size="paper"`` follows MAE's pre-training recipe (its Table 8):
AdamW (β = 0.9, 0.95), weight decay 0.05 (not on biases and norms, as
:func:`vadlib.runs.train.make_optimizer` does for AdamW), batch 256, so lr = base lr 1.5e-4 ×
256/256, cosine decay, 40 of the 200 epochs linear warm-up; RandomResizedCrop is not applied. Epochs: 200
(the thesis's ablations, T 3483/3505; "the same amount" for baseline and CM-MAE, T 3302).
``size="tiny"`` is our CPU profile: Adam, lr 1e-3, batch 16, cosine.

The pre-training run (:mod:`vadlib.runs.pretraining`) drives MAE and CM-MAE through one interface:
``set_epoch(epoch)`` (a no-op here: random masking has no curriculum), ``masks(images)`` (the
scores and the masking the figures show) and ``autoencoder`` (the MAE that reconstructs: here the
model itself).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import torch
from torch import Tensor, nn

from vadlib.models.hosts import Schedule

__all__ = [
    "MAE",
    "Masking",
    "SIZES",
    "MAE_SIZES",
    "sincos_pos_embed_2d",
    "num_visible",
    "check_mask_ratio",
    "patch_targets",
    "masked_patch_loss",
    "images_of",
    "patchify",
    "unpatchify",
    "make_block",
    "make_patch_embed",
    "init_vit_weights",
]

SIZES = ("tiny", "paper")

#: MAE encoder/decoder dimensions per size (module docstring)
MAE_SIZES = {
    "paper": dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12,
                  decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0),
    "tiny": dict(img_size=32, patch_size=4, embed_dim=64, depth=3, num_heads=4,
                 decoder_embed_dim=32, decoder_depth=2, decoder_num_heads=4, mlp_ratio=4.0),
}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
LN_EPS = 1e-6


class Masking(NamedTuple):
    """One masking of a batch of n patches, K of them visible.

    * ``ids_keep``: B×K patch indices given to the encoder, in encoder order;
    * ``ids_restore``: B×n, the position in the shuffled list (visible first) of every patch, so
      ``gather(cat(visible, masked), 1, ids_restore)`` is in patch order;
    * ``mask``: B×n float, 1 = masked (reconstructed and counted in the loss), 0 = visible.
    """

    ids_keep: Tensor
    ids_restore: Tensor
    mask: Tensor


# ------------------------------------------------------------------------------------ helpers

def _pair(x) -> tuple[int, int]:
    if isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ValueError(f"expected an int or a pair, got {x!r}")
        return int(x[0]), int(x[1])
    return int(x), int(x)


def check_mask_ratio(mask_ratio) -> float:
    """``mask_ratio`` as a float, or ValueError unless it is a number in the open interval (0, 1)."""
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)):
        raise ValueError(f"mask_ratio must be a number in (0, 1), got {mask_ratio!r}")
    if not (0.0 < float(mask_ratio) < 1.0) or not math.isfinite(mask_ratio):
        raise ValueError(f"mask_ratio must be in the open interval (0, 1), got {mask_ratio!r}")
    return float(mask_ratio)


def num_visible(num_patches: int, mask_ratio: float) -> int:
    """K = round(n·(1 - r)) visible patches; ValueError unless 1 ≤ K ≤ n - 1."""
    r = check_mask_ratio(mask_ratio)
    k = int(round(num_patches * (1.0 - r)))
    if not 1 <= k <= num_patches - 1:
        raise ValueError(f"mask_ratio {r} leaves {k} of {num_patches} patches visible; it must "
                         f"leave at least one visible and one masked patch")
    return k


def sincos_pos_embed_2d(dim: int, grid: int | tuple[int, int], cls_token: bool = True) -> Tensor:
    """Fixed 2-D sine-cosine position embedding, (1 + gh·gw)×dim with a zero [CLS] row first when
    ``cls_token`` (module docstring: rows in the first dim/2 channels, columns in the last)."""
    gh, gw = _pair(grid)
    if dim % 4:
        raise ValueError(f"the sin-cos position embedding needs a width divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)

    def axis(pos: Tensor) -> Tensor:  # pos: (m,) -> m×(dim/2)
        angles = pos[:, None] * omega[None, :]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)

    rows = torch.arange(gh, dtype=torch.float64).repeat_interleave(gw)  # patch k = (k // gw, k % gw)
    cols = torch.arange(gw, dtype=torch.float64).repeat(gh)
    emb = torch.cat([axis(rows), axis(cols)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=torch.float64), emb], dim=0)
    return emb.float()


def patchify(imgs: Tensor, patch_size: int) -> Tensor:
    """N×C×H×W -> N×n×(p²C), patches in row-major order, channel-last inside a patch."""
    n, c, h, w = imgs.shape
    p = patch_size
    x = imgs.reshape(n, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(x: Tensor, patch_size: int, grid: tuple[int, int], channels: int) -> Tensor:
    """Inverse of :func:`patchify`: N×n×(p²C) -> N×C×H×W."""
    n = x.shape[0]
    gh, gw = grid
    p = patch_size
    x = x.reshape(n, gh, gw, p, p, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(n, channels, gh * p, gw * p)


def patch_targets(patches: Tensor, norm_pix: bool = True, eps: float = 1e-6) -> Tensor:
    """Reconstruction targets: the patches, each standardised by its own mean and population
    variance when ``norm_pix`` (``(t - mean) / sqrt(var + eps)``)."""
    if not norm_pix:
        return patches
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True, unbiased=False)
    return (patches - mean) / (var + eps).sqrt()


def masked_patch_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """MAE's loss: per-patch MSE (mean over the p²C values), averaged over the patches with
    ``mask == 1`` of the whole batch (``Σ mse·mask / Σ mask``)."""
    per_patch = (pred - target).pow(2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum()


def images_of(batch) -> Tensor:
    """The image tensor of a batch: a tensor, a dict with ``"image"``, or ``(images, labels)``."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, dict):
        if "image" not in batch:
            raise ValueError(f"a dict batch needs an 'image' entry, got keys {sorted(batch)}")
        return batch["image"]
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise ValueError(f"a batch must be an N×C×H×W tensor, a dict with 'image' or an (images, labels) "
                     f"pair, got {type(batch).__name__}")


# ------------------------------------------------------------------------------------ layers

def make_block(dim: int, num_heads: int, mlp_ratio: float = 4.0) -> nn.Module:
    """A pre-LN ViT block (timm's, qkv bias, LayerNorm ε = 1e-6)."""
    from timm.models.vision_transformer import Block
    return Block(dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=LN_EPS))


def make_patch_embed(img_size, patch_size, in_chans: int, embed_dim: int) -> nn.Module:
    """Non-overlapping p×p patches -> width-D tokens (timm's ``PatchEmbed``)."""
    from timm.layers import PatchEmbed
    return PatchEmbed(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim)


def init_vit_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Xavier-uniform Linear weights (bias 0), LayerNorm 1 / 0, patch projections Xavier on the
    weight viewed as out × (in·p·p) (bias 0); drawn from ``generator``."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                if m.weight is not None:
                    m.weight.fill_(1.0)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Conv2d):
                w = torch.empty(m.weight.shape[0], m.weight[0].numel())
                nn.init.xavier_uniform_(w, generator=generator)
                m.weight.copy_(w.view_as(m.weight))
                if m.bias is not None:
                    m.bias.zero_()


# ------------------------------------------------------------------------------------ MAE

class MAE(nn.Module):
    """Masked autoencoder with a ViT encoder and a light ViT decoder (module docstring).

    ``MAE(size="tiny" | "paper", *, in_channels=3, mask_ratio=0.75, norm_pix_loss=True, seed=0,
    normalize=True, **dims)``, ``dims`` overriding :data:`MAE_SIZES` (img_size,
    patch_size, embed_dim, depth, num_heads, decoder_embed_dim, decoder_depth, decoder_num_heads,
    mlp_ratio).
    """

    #: no SSPCAB/SSMCTB block sites (the project's loop adds no block loss)
    block_sites: tuple[str, ...] = ()
    block_weight = 0.0

    def __init__(self, size: str = "tiny", *, in_channels: int = 3, mask_ratio: float = 0.75,
                 norm_pix_loss: bool = True, seed: int = 0,
                 normalize: bool = True, **dims):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        unknown = set(dims) - set(MAE_SIZES[size])
        if unknown:
            raise TypeError(f"unknown MAE dimension(s): {', '.join(sorted(unknown))}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
        cfg = {**MAE_SIZES[size], **dims}
        img_size, patch_size = _pair(cfg["img_size"]), _pair(cfg["patch_size"])
        if patch_size[0] != patch_size[1] or patch_size[0] < 1:
            raise ValueError(f"patches must be square with a positive side, got {cfg['patch_size']!r}")
        if img_size[0] % patch_size[0] or img_size[1] % patch_size[1] or min(img_size) < 1:
            raise ValueError(f"image size {img_size} is not divisible by the patch size {patch_size[0]}")
        for name in ("embed_dim", "decoder_embed_dim"):
            if cfg[name] % 4:
                raise ValueError(f"{name} must be divisible by 4 (sin-cos positions), got {cfg[name]}")
        for width, heads in (("embed_dim", "num_heads"), ("decoder_embed_dim", "decoder_num_heads")):
            if cfg[width] % cfg[heads]:
                raise ValueError(f"{width}={cfg[width]} is not divisible by {heads}={cfg[heads]}")
        self.size, self.in_channels, self.seed = size, in_channels, int(seed)
        self.config = {**cfg, "img_size": img_size, "patch_size": patch_size[0]}
        self.img_size, self.patch_size = img_size, patch_size[0]
        self.grid = (img_size[0] // self.patch_size, img_size[1] // self.patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.mask_ratio = check_mask_ratio(mask_ratio)
        self.num_keep = num_visible(self.num_patches, self.mask_ratio)
        self.norm_pix_loss = bool(norm_pix_loss)
        self.normalize = bool(normalize)
        d, dd = cfg["embed_dim"], cfg["decoder_embed_dim"]
        self.embed_dim, self.decoder_embed_dim = d, dd

        # encoder
        self.patch_embed = make_patch_embed(img_size, self.patch_size, in_channels, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_buffer("pos_embed", sincos_pos_embed_2d(d, self.grid)[None])
        self.blocks = nn.ModuleList(make_block(d, cfg["num_heads"], cfg["mlp_ratio"])
                                    for _ in range(cfg["depth"]))
        self.norm = nn.LayerNorm(d, eps=LN_EPS)
        # decoder
        self.decoder_embed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.register_buffer("decoder_pos_embed", sincos_pos_embed_2d(dd, self.grid)[None])
        self.decoder_blocks = nn.ModuleList(
            make_block(dd, cfg["decoder_num_heads"], cfg["mlp_ratio"])
            for _ in range(cfg["decoder_depth"]))
        self.decoder_norm = nn.LayerNorm(dd, eps=LN_EPS)
        self.decoder_pred = nn.Linear(dd, self.patch_size ** 2 * in_channels)

        mean = _IMAGENET_MEAN if in_channels == 3 else (sum(_IMAGENET_MEAN) / 3,) * in_channels
        std = _IMAGENET_STD if in_channels == 3 else (sum(_IMAGENET_STD) / 3,) * in_channels
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

        generator = torch.Generator().manual_seed(self.seed)
        init_vit_weights(self, generator)
        with torch.no_grad():
            self.cls_token.normal_(0.0, 0.02, generator=generator)
            self.mask_token.normal_(0.0, 0.02, generator=generator)
        self.reset_rng()

    # ---------------------------------------------------------------- rng / state
    def reset_rng(self, seed: int | None = None) -> None:
        """Re-seed the generator of the random masks (default: the constructor's seed)."""
        self.rng = torch.Generator().manual_seed(self.seed if seed is None else int(seed))

    def get_extra_state(self):
        return {"mask_rng": self.rng.get_state()}

    def set_extra_state(self, state) -> None:
        self.rng.set_state(state["mask_rng"])

    # ---------------------------------------------------------------- checks
    def check_images(self, images, what: str = "images") -> Tensor:
        """``images`` if it is a non-empty float N×C×H×W tensor of this model's size, else ValueError."""
        if not isinstance(images, Tensor):
            raise ValueError(f"{what} must be a torch.Tensor N×C×H×W, got {type(images).__name__}")
        if images.dim() != 4:
            raise ValueError(f"{what} must be N×C×H×W, got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"{what} must be floating point in [0, 1], got {images.dtype}")
        if images.shape[0] == 0:
            raise ValueError(f"{what} is an empty batch")
        if images.shape[1] != self.in_channels:
            raise ValueError(f"{what} have {images.shape[1]} channels; this model was built for "
                             f"in_channels={self.in_channels}")
        h, w = images.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"image size {h}×{w} is not divisible by the patch size {self.patch_size}")
        if (h, w) != self.img_size:
            raise ValueError(f"{what} are {h}×{w}; this model was built for "
                             f"{self.img_size[0]}×{self.img_size[1]} (fixed position embeddings)")
        return images

    # ---------------------------------------------------------------- patches
    def patchify(self, imgs: Tensor) -> Tensor:
        """N×C×H×W -> N×n×(p²C) (row-major patches, channel-last inside a patch)."""
        return patchify(imgs, self.patch_size)

    def unpatchify(self, x: Tensor) -> Tensor:
        """N×n×(p²C) -> N×C×H×W."""
        return unpatchify(x, self.patch_size, self.grid, self.in_channels)

    def preprocess(self, imgs: Tensor) -> Tensor:
        """[0, 1] images -> the normalised images the network sees (module docstring)."""
        imgs = self.check_images(imgs)
        return (imgs - self.pixel_mean) / self.pixel_std if self.normalize else imgs

    def targets(self, imgs: Tensor) -> Tensor:
        """N×n×(p²C) reconstruction targets of [0, 1] images (normalised per patch if
        ``norm_pix_loss``)."""
        return patch_targets(self.patchify(self.preprocess(imgs)), self.norm_pix_loss)

    # ---------------------------------------------------------------- masking
    def _num_keep(self, mask_ratio) -> int:
        return self.num_keep if mask_ratio is None else num_visible(self.num_patches, mask_ratio)

    def _from_shuffle(self, ids_shuffle: Tensor, keep: int) -> Masking:
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        mask = torch.ones(ids_shuffle.shape, device=ids_shuffle.device)
        mask[:, :keep] = 0.0
        return Masking(ids_shuffle[:, :keep], ids_restore, torch.gather(mask, 1, ids_restore))

    def random_masking(self, batch_size: int, *, mask_ratio: float | None = None,
                       generator: torch.Generator | None = None, device=None) -> Masking:
        """Per-sample uniform random masking: argsort of i.i.d. U(0, 1) noise, the first K kept."""
        keep = self._num_keep(mask_ratio)
        noise = torch.rand(batch_size, self.num_patches, generator=generator or self.rng)
        device = device if device is not None else self.pos_embed.device
        return self._from_shuffle(torch.argsort(noise.to(device), dim=1), keep)

    def masking_from_scores(self, scores: Tensor, *, mask_ratio: float | None = None,
                            num_keep: int | None = None) -> Masking:
        """Keep the K patches with the highest ``scores`` (B×n; stable: ties to the lower index)."""
        if scores.dim() != 2 or scores.shape[1] != self.num_patches:
            raise ValueError(f"scores must be B×{self.num_patches}, got shape {tuple(scores.shape)}")
        keep = self._num_keep(mask_ratio) if num_keep is None else int(num_keep)
        if not 1 <= keep <= self.num_patches - 1:
            raise ValueError(f"num_keep must be in [1, {self.num_patches - 1}], got {keep}")
        ids_shuffle = torch.argsort(scores.detach(), dim=1, descending=True, stable=True)
        return self._from_shuffle(ids_shuffle, keep)

    def masking_from_visible(self, ids_keep: Tensor) -> Masking:
        """The masking whose visible patches are ``ids_keep`` (B×K distinct indices, kept in the
        given order; the masked patches follow in increasing index order)."""
        if ids_keep.dim() != 2 or not 1 <= ids_keep.shape[1] <= self.num_patches - 1:
            raise ValueError(f"ids_keep must be B×K with 1 ≤ K ≤ {self.num_patches - 1}, "
                             f"got shape {tuple(ids_keep.shape)}")
        ids_keep = ids_keep.long()
        if ids_keep.min() < 0 or ids_keep.max() >= self.num_patches:
            raise ValueError(f"ids_keep must index patches 0 … {self.num_patches - 1}")
        b, keep = ids_keep.shape
        rank = torch.arange(self.num_patches, device=ids_keep.device).repeat(b, 1) + self.num_patches
        rank.scatter_(1, ids_keep, torch.arange(keep, device=ids_keep.device).repeat(b, 1))
        if int((rank < self.num_patches).sum()) != b * keep:
            raise ValueError("ids_keep has a repeated patch index in some row")
        return self._from_shuffle(torch.argsort(rank, dim=1), keep)

    # ---------------------------------------------------------------- network
    def embed(self, imgs: Tensor) -> Tensor:
        """N×n×D patch tokens with their position embedding (no [CLS]) of [0, 1] images."""
        return self.patch_embed(self.preprocess(imgs)) + self.pos_embed[:, 1:]

    def encode_tokens(self, x: Tensor) -> Tensor:
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_encoder(self, imgs: Tensor, ids_keep: Tensor) -> Tensor:
        """Encoder on the visible patches ``ids_keep`` (B×K): B×(1+K)×D, [CLS] first."""
        x = self.embed(imgs)
        x = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, x.shape[-1]))
        return self.encode_tokens(x)

    def _decode_tokens(self, x: Tensor) -> Tensor:
        """Decoder on B×(1+n)×Dd tokens in patch order: B×n×(p²C) predictions."""
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        """B×(1+K)×D encoded tokens -> B×n×(p²C): mask tokens appended, list unshuffled."""
        x = self.decoder_embed(latent)
        b, k1, dd = x.shape
        fill = self.mask_token.expand(b, self.num_patches + 1 - k1, dd)
        seq = torch.cat([x[:, 1:], fill], dim=1)
        seq = torch.gather(seq, 1, ids_restore[..., None].expand(-1, -1, dd))
        return self._decode_tokens(torch.cat([x[:, :1], seq], dim=1))

    def reconstruction_loss(self, imgs: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        """MAE's loss of predictions ``pred`` (B×n×p²C) on the masked patches (``mask`` 1)."""
        return masked_patch_loss(pred, self.targets(imgs), mask)

    def masking(self, imgs: Tensor, *, scores: Tensor | None = None, ids_keep: Tensor | None = None,
                mask_ratio: float | None = None, generator: torch.Generator | None = None) -> Masking:
        """The masking of a batch: explicit ``ids_keep``, top-K of ``scores``, or random."""
        if ids_keep is not None and scores is not None:
            raise ValueError("give scores or ids_keep, not both")
        if ids_keep is not None:
            return self.masking_from_visible(ids_keep.to(imgs.device))
        if scores is not None:
            return self.masking_from_scores(scores.to(imgs.device), mask_ratio=mask_ratio)
        return self.random_masking(imgs.shape[0], mask_ratio=mask_ratio, generator=generator,
                                   device=imgs.device)

    def forward(self, imgs: Tensor, *, scores: Tensor | None = None, ids_keep: Tensor | None = None,
                mask_ratio: float | None = None, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Masking]:
        """``(loss, pred B×n×p²C, masking)`` on [0, 1] images; random masking unless ``scores``
        (top-K kept) or ``ids_keep`` are given."""
        self.check_images(imgs)
        m = self.masking(imgs, scores=scores, ids_keep=ids_keep, mask_ratio=mask_ratio,
                         generator=generator)
        pred = self.forward_decoder(self.forward_encoder(imgs, m.ids_keep), m.ids_restore)
        return self.reconstruction_loss(imgs, pred, m.mask), pred, m

    def soft_reconstruction(self, imgs: Tensor, visibility: Tensor, *, mask_token_mix: bool = False
                            ) -> tuple[Tensor, Tensor]:
        """Differentiable reconstruction under a soft visibility v ∈ [0, 1]^(B×n) (used to train
        the curriculum masking module; :mod:`vadlib.models.curriculum_masking`).

        No token is dropped: every patch token is scaled by its v_i, the encoder runs on all n
        (+ [CLS]), the decoder reconstructs every patch from the n encoded tokens; with
        ``mask_token_mix`` the decoder input of patch i is ``v_i·token_i + (1 - v_i)·mask_token``
        instead. Returns ``(loss, per-patch MSE B×n)`` with ``loss = Σ (1 - v)·mse / Σ (1 - v)``,
        the soft counterpart of the masked-patch mean.
        """
        if visibility.shape != (imgs.shape[0], self.num_patches):
            raise ValueError(f"visibility must be {imgs.shape[0]}×{self.num_patches}, "
                             f"got shape {tuple(visibility.shape)}")
        v = visibility.to(self.pos_embed.dtype)
        latent = self.encode_tokens(self.embed(imgs) * v[..., None])
        x = self.decoder_embed(latent)
        if mask_token_mix:
            x = torch.cat([x[:, :1], v[..., None] * x[:, 1:] + (1 - v[..., None]) * self.mask_token],
                          dim=1)
        pred = self._decode_tokens(x)
        per_patch = (pred - self.targets(imgs)).pow(2).mean(dim=-1)
        weight = 1.0 - v
        return (per_patch * weight).sum() / weight.sum().clamp_min(1e-12), per_patch

    # ---------------------------------------------------------------- the pre-training run's interface
    @property
    def autoencoder(self) -> MAE:
        """The MAE that encodes and reconstructs: the model itself (CM-MAE's is its ``mae``)."""
        return self

    def set_epoch(self, epoch: int) -> None:
        """Nothing to do: random masking has no curriculum (CM-MAE moves its curriculum here)."""

    def masks(self, imgs: Tensor) -> tuple[Tensor, Masking]:
        """``(scores, masking)``: a fresh random masking from the model's own generator, and as
        scores its visibility (1 visible, 0 masked), whose top-K is that masking, as for
        :meth:`vadlib.models.curriculum_masking.CMMAE.masks`."""
        masking = self.random_masking(len(imgs))
        return 1.0 - masking.mask, masking

    # ---------------------------------------------------------------- training / features
    def training_loss(self, batch) -> tuple[Tensor, dict[str, float]]:
        """MAE loss with fresh random masks (the project's ``vadlib.runs.train.train`` contract)."""
        loss, _, m = self(images_of(batch))
        return loss, {"mae_loss": float(loss.detach()), "masked_fraction": float(m.mask.mean())}

    @torch.no_grad()
    def features(self, images, pool: str = "mean", batch_size: int = 256) -> Tensor:
        """Frozen encoder features N×D of [0, 1] images with every patch visible: the final-LN
        tokens mean-pooled over the patches (``pool="mean"``) or the [CLS] token (``"cls"``).
        Runs in eval mode and restores the previous mode."""
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {pool!r}")
        images = self.check_images(images_of(images))
        was_training = self.training
        self.eval()
        try:
            out = []
            for chunk in images.split(batch_size):
                chunk = chunk.to(self.pos_embed.device)
                tokens = self.encode_tokens(self.embed(chunk))
                out.append(tokens[:, 1:].mean(dim=1) if pool == "mean" else tokens[:, 0])
            return torch.cat(out)
        finally:
            self.train(was_training)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if size == "tiny":
            return Schedule(epochs=20, batch_size=16, lr=1e-3, optimizer="adam",
                            lr_schedule="cosine", min_lr=0.0,
                            source=("tiny CPU profile (ours): Adam lr 1e-3, batch 16, 20 epochs, "
                                    "cosine; see size='paper' for the MAE recipe"))
        return Schedule(
            epochs=200, batch_size=256, lr=1.5e-4, optimizer="adamw", betas=(0.9, 0.95), weight_decay=0.05,
            lr_schedule="cosine", min_lr=0.0, warmup_fraction=40 / 200,
            source=("thesis: no optimiser/lr/batch stated (spec papers_E_F.md §2.6, §2.10); 200 "
                    "epochs as its ablations (T 3483, 3505). MAE paper Table 8: AdamW β=(0.9, 0.95), "
                    "wd 0.05 (not on biases and norms), base lr 1.5e-4 × batch/256, cosine, 40 "
                    "warm-up epochs; batch 256 here (the cl-mae code's per-GPU batch)"))

