"""3D DRAEM, the volume host of Paper D (Table D.4, row "3D DRAEM + 3D SSMCTB", BRATS).

Paper D (Madan et al., TPAMI 2024, T 2675-2690) reports results "obtained by converting DRAEM to use
3D convolutions and integrating the 3D SSMCTB", and says nothing else about it. This module is that
conversion of :class:`vadlib.models.draem.DRAEM` (Zavrtanik et al., ICCV 2021): the same two
sub-networks, the same losses, schedule and anomaly recipe, with every 2D layer made 3D. Decisions
of ours (Paper D is silent on all of them):

* **Input**: N×1×D×H×W depth chunks from :class:`vadlib.data.brats.BraTSVolumes` (FLAIR, per-scan
  normalised to [0, 1]); ``depth`` = 16 by default, the loader's default chunk
  (``volume_index(depth=16)``) -- the attribute documents what to feed; any depth ≥ 1 works.
  H, W ≥ 32.
* **Layers**: conv 3×3×3 (padding 1), BatchNorm3d, max-pooling 2×2×2 while the depth is at least 2
  and 1×2×2 after (a 16-deep chunk: 16 -> 8 -> 4 -> 2 -> 1 -> 1 over the five poolings), trilinear
  upsampling (align_corners) to the matching encoder stage's size. Widths as 2D DRAEM: paper
  128 / 64, tiny 16 / 8.
* **Anomalies**: :mod:`vadlib.synthesis.perlin` in 3D -- a 3D Perlin mask (2^k cells per axis,
  k ~ U{0..5}, at most one cell per 8 voxels; rotated in-plane by U(-90°, 90°); threshold 0.5),
  β ~ U[0, 0.8), 50 % of the chunks left normal. **Texture source: the volume itself**, augmented
  with 3 of DRAEM's 10 augmentations (parameters drawn once per volume, applied to every slice;
  on grey data the hue/saturation one is nearly a no-op) -- like our 2D fallback, and no
  external set is needed. Pass ``anomaly_source=`` a ``Dataset`` of ``volume`` items (e.g.
  ``BraTSVolumes`` of the training chunks) to texture from *other* volumes instead; a 2D texture set
  (DTD) is accepted too and repeated along depth. The clean chunk is rotated in-plane by
  U(-90°, 90°) with probability 0.3, as DRAEM does with images.
* **Losses**: L2 + (1 - SSIM) + focal (γ = 2); SSIM is the 2D one (11×11 Gaussian window) on every
  depth slice, averaged.
* **Scores**: voxel map = softmax anomaly channel (N×D×H×W); volume score = max of the map
  average-pooled with ``pool_size`` = (5, 21, 21): the 2D rule's 21×21 in-plane window (zero
  padding counted, as official ``test_DRAEM.py``) followed by a 5-slice depth average that does not
  count padding (:func:`vadlib.models.draem.pooled_maps`); 5 slices (±2 mm on BraTS) keeps the
  per-slice scores local. BRATS is evaluated per slice (Table D.4): :meth:`DRAEM3d.score_slices`
  gives, for each slice, the max of the pooled map over that slice (N×D), with the maps. Chunks that overlap
  (the last chunk of ``volume_index``) score their shared slices twice; the image run keeps each
  slice once, from the first chunk covering it, and only the 2D rows' slices
  (:func:`vadlib.runs.image_ad.slice_owners`).
* **Block site**: the penultimate 3D conv, as in 2D: ``discriminative.decoder.db4.3`` for the 3D
  SSMCTB by default (one block, Paper D); ``block_sites_for("sspcab3d")`` follows ``sspcab_networks``
  (default the discriminative network, as 2D DRAEM; a 3D SSPCAB row is not in the papers). λ = 0.1.
* **Schedule**: 2D DRAEM's (Adam 1e-4, batch 8, 700 epochs, ×0.2 at 80 % / 90 %); Paper D
  preserves the host's hyperparameters and gives no others.
* **Cost** (paper width): 292 M parameters (3×3×3 kernels: 3× the 2D model's 97 M). Tensors
  saved for the backward pass, measured on CPU at 4×64×64 and scaled by the voxel count: about
  85 GB per 16×256×256 chunk, about 21 GB at 16×128×128, about 5 GB at 16×64×64 (float32). The
  2D recipe (256×256, batch 8) therefore does not fit one GPU in 3D; Paper D does not say what
  resolution or batch it used -- choose the in-plane ``resize`` of ``BraTSVolumes`` accordingly.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from vadlib.models.draem import DRAEM, pooled_maps
from vadlib.models.registry import register_host
from vadlib.models.schedule import Schedule
from vadlib.synthesis.perlin import AUGMENTATIONS

__all__ = ["DRAEM3d"]


@register_host
class DRAEM3d(DRAEM):
    """3D DRAEM (module docstring) as an :class:`ImageHost` over N×C×D×H×W volumes.

    ``DRAEM3d(size="tiny" | "paper", in_channels=1, pretrained=False, *, anomaly_source=None,
    seed=0, depth=16, sspcab_networks=("discriminative",),
    ssmctb_networks=("discriminative",), anomaly_probability=0.5, beta_max=0.8, rotate_p=0.3,
    n_augmentations=3, augmentations=AUGMENTATIONS, pool_size=(5, 21, 21))``

    ``score`` returns (N volume scores, N×D×H×W voxel maps); :meth:`score_slices` returns
    (N×D per-slice scores, the same maps) and :meth:`slice_scores` the N×D scores alone.
    """

    name = "draem3d"
    label = "3D DRAEM"
    dims = 3
    #: textures from the volume itself unless an ``anomaly_source`` of volumes is passed
    needs_anomaly_source = False

    def __init__(self, size: str = "tiny", in_channels: int = 1, pretrained: bool = False, *,
                 anomaly_source=None, seed: int = 0, depth: int = 16,
                 sspcab_networks: Sequence[str] = ("discriminative",),
                 ssmctb_networks: Sequence[str] = ("discriminative",),
                 anomaly_probability: float = 0.5, beta_max: float = 0.8, rotate_p: float = 0.3,
                 n_augmentations: int = 3, augmentations: Sequence[str] = AUGMENTATIONS,
                 pool_size: int | Sequence[int] = (5, 21, 21)):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, got {depth!r}")
        super().__init__(size, in_channels, pretrained, anomaly_source=anomaly_source, seed=seed,
                         sspcab_networks=sspcab_networks, ssmctb_networks=ssmctb_networks,
                         anomaly_probability=anomaly_probability, beta_max=beta_max,
                         rotate_p=rotate_p, n_augmentations=n_augmentations,
                         augmentations=augmentations, pool_size=pool_size)
        #: the chunk depth to train on (BraTSVolumes / volume_index default); not enforced
        self.depth = depth

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        base = super().schedule(size)
        return Schedule(
            epochs=base.epochs, batch_size=base.batch_size, lr=base.lr, optimizer=base.optimizer,
            milestones=base.milestones, gamma=base.gamma,
            source=("2D DRAEM's schedule, inherited: Paper D gives no hyperparameters for 3D "
                    "DRAEM and keeps each host's own. " + base.source))

    @torch.no_grad()
    def score_slices(self, volumes: Tensor) -> tuple[Tensor, Tensor]:
        """(N×D per-slice scores, N×D×H×W voxel maps): the BRATS protocol (Table D.4 is per
        slice); slice score = max over the slice of the pooled voxel map."""
        maps = self.anomaly_maps(volumes)
        return self.slice_scores_from_maps(maps, self.pool_size), maps

    @torch.no_grad()
    def slice_scores(self, volumes: Tensor) -> Tensor:
        """Per-slice scores N×D: for each depth slice, the max of the pooled voxel map
        (:func:`vadlib.models.draem.pooled_maps` with ``pool_size``) over that slice."""
        return self.slice_scores_from_maps(self.anomaly_maps(volumes), self.pool_size)

    @staticmethod
    def slice_scores_from_maps(maps: Tensor, pool_size: int | Sequence[int] = (5, 21, 21)) -> Tensor:
        """N×D×H×W voxel maps -> N×D slice scores (max of the pooled map over each slice)."""
        if maps.dim() != 4:
            raise ValueError(f"maps must be N×D×H×W, got {tuple(maps.shape)}")
        return pooled_maps(maps, pool_size).amax(dim=(-2, -1))
