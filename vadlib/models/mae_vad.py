"""The masked auto-encoder as a frame-level video anomaly detector: Paper D's "He et al. [60]" host.

He, Chen, Xie, Li, Dollár, Girshick, "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022
(Paper D's [60]). Paper D adds it to the video hosts "to demonstrate the applicability of SSMCTB
to vision transformers" ("the recently proposed masked auto-encoder framework [60], which is based
on the ViT backbone", thesis ``000_f794b37c98b9d304.txt`` T 2723) and reports frame-level micro /
macro AUC only, "since the methods of He et al. [60] and Park et al. [44] are only capable of
detecting anomalies at the frame level" (T 2785): Table D.5 rows "He et al. [60]" 84.0 / 85.6
(Avenue) and 74.3 / 81.1 (ShanghaiTech), "+ SSPCAB" and "+ SSMCTB" (T 2755-2757). The block goes
"before the first transformer block" (T 2596) with λ = 0.1 (T 2599). That is all the thesis says;
``paper_D.md`` §2 and §9 list the integration and the scoring as open. Everything else below is
our choice, stated as such.

The network is :class:`vadlib.models.mae.MAE` (our reimplementation from the MAE paper, reused as
is: patch embedding, fixed sin-cos positions, visible-only ViT encoder, light decoder, random
masking); this module only adds the video-host side. The official MAE code (CC BY-NC) is not used.

* **Training**: each normal frame (``window = 1``: a clip's last frame) is masked at random with
  MAE's ratio 0.75 and its masked patches are reconstructed; loss = MAE's per-patch MSE over the
  masked patches. Pixel targets (``norm_pix_loss=False``, [I]): MAE's per-patch normalised target
  would have to be undone with the *true* mean and variance of each masked patch to give a pixel
  reconstruction, which would hand the brightness of an anomalous patch to the model; MAE's
  Table 1(c) reports plain pixel targets as a working variant. Inputs are normalised with the
  ImageNet mean / std inside the MAE (as :mod:`vadlib.models.mae` does).
* **Scoring** (:meth:`MAEVideo.frame_evidence`, [I]): a patch is only reconstructed when it is
  masked, so each frame is reconstructed under ``test_maskings`` fixed maskings that together
  mask every patch: a permutation of the n patches drawn once from ``seed`` is cut into windows
  of K = n(1 - 0.75) = n/4 consecutive patches (wrapping around), and masking j keeps window j
  visible -- the training ratio, so the encoder sees as many tokens as in training. With
  ratio 0.75, 4 maskings: every patch is visible once and masked three times. The per-pixel map is
  the squared error on [0, 1] intensities, averaged over the colour channels and over the maskings
  in which the pixel's patch is masked. ``parts["error"]`` is the frame's mean map value; the
  frame score is that error min–max normalised within each test video (the default
  :meth:`~vadlib.models.video_hosts.VideoHost.video_scores`, as :mod:`vadlib.models.plain_ae`).
  The maskings are the same for every frame, so scoring is deterministic and order-free.
* **Block placement** (``block_positions = {"before_first_block": ("after:mae.patch_embed",)}``,
  [I]). MAE's encoder drops the masked tokens before its first transformer block, so the input
  of ``mae.blocks.0`` is the [CLS] token plus K = 25 % of the patches, in random order: no grid
  a convolution could run on (:func:`vadlib.models.blocks.tokens_to_map` refuses it). The last
  point before the first transformer block at which the tokens still form the full patch grid is
  the output of the patch embedding, so the block is inserted there
  (:func:`vadlib.models.blocks.insert_after`): patch tokens B×n×D -> B×D×gh×gw (channels = the
  encoder width D) -> block -> back to B×n×D; then the position embedding is added, the tokens are
  masked and the encoder runs. Consequences: (i) the position embedding is added *after* the block
  (the block's output at a patch does not see that patch -- the masked centre -- so adding the
  positions afterwards keeps every token's position exact); (ii) the block sees every patch,
  masked ones included, so a visible token carries the features of its masked diagonal neighbours
  at distance d + 1 (for k' = 1, d = 1: 2 patches): the alternative -- zeros at the masked
  positions -- would leave each visible token with nothing of its own patch and, at 75 % masking,
  mostly nothing of its neighbours. The authors' code for this host is not known; with
  :func:`vadlib.models.blocks.place_block` another site is one string in ``block_positions``.
* **Sizes** (``size=``; every dimension can be overridden by keyword, as for :class:`MAE`):
  ``"paper"``: MAE's ViT-B/16 encoder (width 768, 12 blocks, 12 heads) and its default decoder
  (512 wide, 8 blocks, 16 heads; MAE Table 1) -- the thesis names only "the ViT backbone" --
  at 256×256 frames (16×16 patches), the frame size the other video hosts use in the paper
  profile (FFP, MNAD), instead of MAE's 224; ``"tiny"``: 64×64 frames, patch 8 (8×8 grid),
  width 64, 2 blocks, 4 heads; decoder 32 wide, 2 blocks, 4 heads. Frames of another size must
  be announced with ``img_size=`` (the sin-cos positions are built for one grid).
* **Schedule** (:meth:`MAEVideo.schedule`): Paper D keeps each host's official hyper-parameters
  (T 2594) and gives none for MAE; we use :meth:`MAE.schedule` (MAE's pre-training recipe,
  Table 8: AdamW (0.9, 0.95), wd 0.05, lr 1.5e-4 at batch 256, 40 warm-up epochs of 200, cosine;
  ``"tiny"``: Adam 1e-3, batch 16, 20 epochs), from scratch on the normal training frames.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from vadlib.models.mae import MAE, MAE_SIZES
from vadlib.models.registry import register_host
from vadlib.models.video_hosts import Schedule, VideoHost

__all__ = ["SIZES", "VAD_SIZES", "MAEVideo", "complementary_maskings"]

SIZES = ("tiny", "paper")

#: MAE dimensions per size (module docstring); keys as :data:`vadlib.models.mae.MAE_SIZES`
VAD_SIZES = {
    "paper": {**MAE_SIZES["paper"], "img_size": 256},
    "tiny": {"img_size": 64, "patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 4,
             "decoder_embed_dim": 32, "decoder_depth": 2, "decoder_num_heads": 4, "mlp_ratio": 4.0},
}


def complementary_maskings(order: Tensor, num_keep: int, count: int | None = None) -> Tensor:
    """``count``×K visible patch ids: window j of K consecutive entries of the permutation
    ``order`` (wrapping around). Default count ceil(n / K), the fewest that show (and, for K ≤ n/2,
    mask) every patch."""
    n = order.numel()
    count = math.ceil(n / num_keep) if count is None else int(count)
    if count < 1:
        raise ValueError(f"need at least one masking, got {count}")
    idx = (torch.arange(count)[:, None] * num_keep + torch.arange(num_keep)[None, :]) % n
    return order[idx]


@register_host
class MAEVideo(VideoHost):
    """MAE (He et al., CVPR 2022) as a frame-level :class:`VideoHost` (see the module docstring).

    ``MAEVideo(size="tiny" | "paper", in_channels=3, seed=0, *, mask_ratio=0.75,
    test_maskings=None, **dims)``; ``dims`` override :data:`VAD_SIZES` (img_size, patch_size,
    embed_dim, depth, num_heads, decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio).
    ``test_maskings``: number of scoring maskings (default ceil(n / K) = 4 at ratio 0.75); every
    patch must be masked in at least one. ``seed`` seeds the weights, the training masks (MAE's
    own generator) and the scoring permutation. Clips: N×T×C×H×W in [0, 1], T ≥ 1, H×W = img_size.
    """

    name = "mae"
    label = "He et al. (MAE)"
    window = 1
    block_positions = {"before_first_block": ("after:mae.patch_embed",)}
    default_position = "before_first_block"
    block_weight = 0.1  # Paper D T 2599 ("we keep λ = 0.1"); paper_D.md §2 table

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0, *,
                 mask_ratio: float = 0.75, test_maskings: int | None = None, **dims):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        self.size, self.seed = size, int(seed)
        self.mae = MAE(size, in_channels=in_channels, mask_ratio=mask_ratio, norm_pix_loss=False,
                       seed=self.seed, **{**VAD_SIZES[size], **dims})
        self.in_channels = self.mae.in_channels
        #: the patch grid; InsertedBlock reads it to reshape tokens at this host's block sites
        self.token_grid = self.mae.grid
        order = torch.randperm(self.mae.num_patches, generator=torch.Generator().manual_seed(self.seed))
        visible = complementary_maskings(order, self.mae.num_keep, test_maskings)
        masked = torch.ones(len(visible), self.mae.num_patches)
        masked.scatter_(1, visible, 0.0)
        if (masked.sum(0) == 0).any():
            raise ValueError(f"{len(visible)} scoring maskings leave some patch never masked; "
                             f"use more test_maskings")
        # MAE's ids_restore for each masking: the inverse of (visible ids, then the masked ids)
        restore = torch.stack([torch.argsort(torch.cat([v, torch.nonzero(m).flatten()]))
                               for v, m in zip(visible, masked)])
        self.register_buffer("test_visible", visible, persistent=False)
        self.register_buffer("test_masked", masked, persistent=False)
        self.register_buffer("test_restore", restore, persistent=False)

    # ---------------------------------------------------------------- frames
    def frames(self, clips: Tensor) -> Tensor:
        """The clips' last frames N×C×H×W, checked against the model's channels and size."""
        frames = self.check_clips(clips)[:, -1]
        if frames.shape[1] != self.in_channels or tuple(frames.shape[-2:]) != self.mae.img_size:
            raise ValueError(f"MAEVideo was built for {self.in_channels}×{self.mae.img_size[0]}×"
                             f"{self.mae.img_size[1]} frames (img_size=... to change), got "
                             f"{tuple(frames.shape[1:])}")
        return frames

    def to_pixels(self, pred: Tensor) -> Tensor:
        """MAE predictions B×n×(p²C) (normalised-image space) -> B×C×H×W on the [0, 1] scale."""
        img = self.mae.unpatchify(pred)
        return img * self.mae.pixel_std + self.mae.pixel_mean if self.mae.normalize else img

    # ---------------------------------------------------------------- host interface
    def training_loss(self, clips: Tensor) -> tuple[Tensor, dict[str, float]]:
        """MAE's loss on the frames under fresh random masks (ratio ``mask_ratio``)."""
        loss, _, m = self.mae(self.frames(clips))
        return loss, {"mae_loss": float(loss.detach()), "masked_fraction": float(m.mask.mean())}

    def reconstructions(self, frames: Tensor) -> Tensor:
        """M×N×C×H×W: the frames reconstructed under each of the M scoring maskings ([0, 1]
        scale; only the masked patches of each are meaningful). The patch embedding (and a block
        placed on it) runs once per frame."""
        mae = self.mae
        tokens = mae.embed(frames)
        out = []
        for ids, restore in zip(self.test_visible, self.test_restore):
            ids_keep = ids.expand(len(frames), -1)
            visible = torch.gather(tokens, 1, ids_keep[..., None].expand(-1, -1, tokens.shape[-1]))
            pred = mae.forward_decoder(mae.encode_tokens(visible), restore.expand(len(frames), -1))
            out.append(self.to_pixels(pred))
        return torch.stack(out)

    @torch.no_grad()
    def frame_evidence(self, clips: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """``({"error": N}, N×H×W maps)``: squared error per pixel, averaged over the channels and
        over the scoring maskings that mask the pixel's patch; "error" = the map's mean. Runs in
        eval mode (restored after)."""
        frames = self.frames(clips)
        was_training = self.training
        self.eval()
        try:
            recon = self.reconstructions(frames)
        finally:
            self.train(was_training)
        errors = (recon.float() - frames.float()[None]).pow(2).mean(2)          # M×N×H×W
        p, (gh, gw) = self.mae.patch_size, self.mae.grid
        weight = self.test_masked.view(-1, 1, gh, 1, gw, 1).expand(-1, 1, gh, p, gw, p)
        weight = weight.reshape(-1, 1, gh * p, gw * p).to(errors)              # M×1×H×W
        maps = (errors * weight).sum(0) / weight.sum(0)
        return {"error": maps.flatten(1).mean(1)}, maps

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """:meth:`MAE.schedule` of ``size`` (module docstring)."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        base = MAE.schedule(size)
        return dataclasses.replace(base, source=(
            "Paper D keeps each host's official hyper-parameters (T 2594) and gives none for MAE; "
            "MAE's pre-training recipe as vadlib.models.mae uses it, from scratch on the normal "
            "frames. " + base.source))
