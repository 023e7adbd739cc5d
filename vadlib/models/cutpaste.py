"""CutPaste 3-way host (and the five-model ensemble) of thesis Paper C, Table C.2 (detection only).

Li, Sohn, Yoon, Pfister, "CutPaste: Self-Supervised Learning for Anomaly Detection and
Localization", CVPR 2021 ([67] in Paper C). Reimplemented from the paper; the unofficial PyTorch
port Runinho/pytorch-cutpaste (MIT) was read for hyperparameters only. Two stages:

1. **Representation learning** -- a ResNet-18 and an MLP projection head are trained with
   cross-entropy to tell normal images from their CutPaste and CutPaste-Scar versions (3-way,
   :func:`vadlib.synthesis.cutpaste.three_way`; every normal image appears in the three versions).
2. **Gaussian density estimator (GDE)** -- :meth:`CutPaste.fit_normal` fits a Gaussian (mean and
   Ledoit-Wolf shrunk covariance, scikit-learn's ``LedoitWolf`` as the paper's code does) to the
   embeddings of the normal training images; :meth:`CutPaste.score` gives each test image the
   **Mahalanobis distance** of its embedding, sqrt((f - mu)^T Sigma^-1 (f - mu)) (higher = more
   anomalous; monotone in the GDE's negative log-density, so the AUROC is the same).

Architecture (``forward(x)`` returns ``(embedding, logits)``):

* input in [0, 1] normalised with the ImageNet mean/std (1-channel: their averages);
* ResNet-18 body (torchvision's ``BasicBlock`` layers and parameter names: conv1, bn1, layer1..4,
  global average pooling); ``size="paper"``: widths 64/128/256/512 (the standard ResNet-18,
  ImageNet weights loaded through ``ResNet18_Weights.IMAGENET1K_V1`` when ``pretrained=True``);
  ``size="tiny"``: the same layers with widths 8/16/32/64;
* **embedding** = the pooled backbone feature (512-d, tiny 64-d), L2-normalised
  (``normalize_embeddings=True``): this is what the GDE sees;
* projection head: 8 × (Linear 512 -> BatchNorm1d -> ReLU), then Linear 512 -> 128 ->
  BatchNorm1d -> ReLU (tiny: 8 × 64, then 16), as the ``head_dims 512×8`` of the authors' DROC framework (Sohn
  et al., ICLR 2021, google-research/deep_representation_one_class) and the port's
  ``ProjectionNet``; then a linear 3-way classifier.

Block site (Paper C: "we replace the penultimate convolutional layer", exact layer not given):
``backbone.layer4.1.conv1``, the 3×3, stride-1, 512 -> 512 conv of the last BasicBlock -- the
literal penultimate conv of ResNet-18 (the last one is ``layer4.1.conv2``), c -> c so
:func:`~vadlib.models.blocks.replace_layer` can swap it. A third-party Paddle port
(Lieberk/Paddle-SSPCAB) instead *inserts* a 256-channel SSPCAB between layer3 and layer4; that is
not a replacement of a conv and is not what the thesis text says, so it is not the default (pass
``block_sites`` to the runner to try it with a conv of layer3, e.g. ``backbone.layer3.1.conv2``).
λ = 0.1 (Paper C, Eq. C.3).

Scoring is detection only (``localizes = False``): Table C.2 reports only detection AUROC for
CutPaste; the paper's GradCAM and patch-level localisation are out of scope.

Ensemble (Table C.2 "CutPaste ensemble"): five 3-way models trained with different seeds (CutPaste
paper, Table 1). How the paper combines their scores is not stated in what we could verify; we
z-standardise each model's scores with the mean and standard deviation of that model's scores on
its own normal training images (stored by :meth:`fit_normal`) and average them
(:func:`ensemble_scores`), so that no model dominates by the scale of its distances.

Training details: the paper applies colour jitter (and random translation) to the normal images
before CutPaste; we apply colour jitter (0.1, as the port) to each normal image before building its
three versions, and no translation (the port found none to help). Images are expected at the size
the experiment runner resizes to (the paper: 256×256); at least 32×32.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from vadlib.models.hosts import ImageHost, Schedule
from vadlib.models.registry import register_host
from vadlib.synthesis.cutpaste import JITTER, color_jitter, three_way

__all__ = ["CutPaste", "ensemble_scores", "mahalanobis", "ENSEMBLE_SIZE", "SIZES"]

#: number of models of the "CutPaste ensemble" column of Table C.2 (CutPaste paper, Table 1)
ENSEMBLE_SIZE = 5

#: backbone stage widths and projection-head widths per size
SIZES = {
    "paper": {"widths": (64, 128, 256, 512), "head": (512,) * 8 + (128,)},
    "tiny": {"widths": (8, 16, 32, 64), "head": (64,) * 8 + (16,)},
}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_SIZE = 32  # ResNet-18 downsamples by 32


class _ResNet18Body(nn.Module):
    """ResNet-18 without the classifier, parameter names as torchvision's ``resnet18``."""

    def __init__(self, widths: Sequence[int], in_channels: int = 3):
        super().__init__()
        w0 = widths[0]
        self.conv1 = nn.Conv2d(in_channels, w0, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w0)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._in = w0
        self.layer1 = self._make_layer(widths[0], 1)
        self.layer2 = self._make_layer(widths[1], 2)
        self.layer3 = self._make_layer(widths[2], 2)
        self.layer4 = self._make_layer(widths[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_channels = widths[3]
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, stride: int) -> nn.Sequential:
        down = None
        if stride != 1 or self._in != planes:
            down = nn.Sequential(nn.Conv2d(self._in, planes, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(planes))
        layers = [BasicBlock(self._in, planes, stride, down), BasicBlock(planes, planes)]
        self._in = planes
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def _load_imagenet(body: _ResNet18Body, in_channels: int) -> None:
    from torchvision.models import ResNet18_Weights, resnet18

    state = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1).state_dict()
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    if in_channels != 3:  # grey or multi-channel input: average the RGB filters, repeat
        w = state["conv1.weight"].mean(dim=1, keepdim=True)
        state["conv1.weight"] = w.repeat(1, in_channels, 1, 1) * (3.0 / in_channels)
    body.load_state_dict(state)


def mahalanobis(x: Tensor, mean: Tensor, precision: Tensor) -> Tensor:
    """sqrt((x - mean)^T P (x - mean)) for every row of ``x`` (N×D), P the precision matrix."""
    d = x - mean
    return torch.einsum("nd,de,ne->n", d, precision, d).clamp_min(0).sqrt()


def ensemble_scores(scores: Sequence, normal_scores: Sequence | None = None) -> np.ndarray:
    """Combine the image scores of several models (e.g. the five 3-way CutPaste models).

    ``scores``: one array of N test scores per model. ``normal_scores``: per model, its scores on
    the normal training images (or a (mean, std) pair: see :attr:`CutPaste.normal_score_stats`).
    With ``normal_scores``, each model's scores are z-standardised with that model's normal mean
    and standard deviation (population std; a zero std counts as 1) and then averaged -- our
    choice, since the CutPaste paper does not say how its ensemble combines scores. Without
    ``normal_scores`` the raw scores are averaged.
    """
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1) for s in scores]
    if not arrays:
        raise ValueError("ensemble_scores needs the scores of at least one model")
    n = arrays[0].size
    if any(a.size != n for a in arrays):
        raise ValueError("every model must score the same images; got sizes "
                         f"{[a.size for a in arrays]}")
    if normal_scores is not None:
        if len(normal_scores) != len(arrays):
            raise ValueError(f"got scores of {len(arrays)} models but normal scores of "
                             f"{len(normal_scores)}")
        standardised = []
        for a, ref in zip(arrays, normal_scores):
            ref = np.asarray(ref, dtype=np.float64).reshape(-1)
            if ref.size == 0:
                raise ValueError("empty normal scores")
            mu, sd = ref.mean(), ref.std()
            standardised.append((a - mu) / (sd if sd > 0 else 1.0))
        arrays = standardised
    return np.mean(arrays, axis=0)


@register_host
class CutPaste(ImageHost):
    """CutPaste 3-way (ResNet-18 + MLP head + 3-way classifier; GDE scoring). See module doc.

    Constructor: ``size`` "paper" (ResNet-18, head 512×8 -> 128) or "tiny" (widths 8/16/32/64,
    head 64×8 -> 16); ``in_channels`` (1 or 3 for the colour jitter; conv1 adapted otherwise);
    ``pretrained`` ImageNet weights for the backbone (``size="paper"`` only; the Table C.2 /
    CutPaste Table 1 numbers are from ResNet-18 trained *from scratch*, the default);
    ``seed`` seeds the weight initialisation and the host's numpy generator for the anomalies;
    ``jitter`` colour jitter of the pasted patches; ``pre_jitter`` colour jitter of the normal
    images before CutPaste (0 disables); ``normalize_embeddings`` L2-normalise before the GDE.
    """

    name = "cutpaste"
    label = "CutPaste 3-way"
    block_sites = ("backbone.layer4.1.conv1",)
    block_weight = 0.1
    localizes = False
    #: CutPaste defines one "epoch" as 256 parameter updates (not a pass over the data)
    steps_per_epoch = 256
    num_classes = 3

    def __init__(self, size: str = "tiny", in_channels: int = 3, pretrained: bool = False, *,
                 seed: int = 0, jitter: float = JITTER, pre_jitter: float = JITTER,
                 normalize_embeddings: bool = True):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
        if pretrained and size != "paper":
            raise ValueError("pretrained=True needs size='paper' (ImageNet weights exist only for "
                             "the full-width ResNet-18)")
        if jitter < 0 or pre_jitter < 0:
            raise ValueError(f"jitter strengths must be >= 0, got {jitter}, {pre_jitter}")
        self.size, self.in_channels = size, in_channels
        self.pretrained, self.seed = pretrained, seed
        self.jitter, self.pre_jitter = float(jitter), float(pre_jitter)
        self.normalize_embeddings = normalize_embeddings
        widths, head = SIZES[size]["widths"], SIZES[size]["head"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.backbone = _ResNet18Body(widths, in_channels)
            layers, last = [], widths[-1]
            for dim in head:
                layers += [nn.Linear(last, dim), nn.BatchNorm1d(dim), nn.ReLU(inplace=True)]
                last = dim
            self.head = nn.Sequential(*layers)
            self.classifier = nn.Linear(last, self.num_classes)
        if pretrained:
            _load_imagenet(self.backbone, in_channels)
        mean = _IMAGENET_MEAN if in_channels == 3 else (sum(_IMAGENET_MEAN) / 3,) * in_channels
        std = _IMAGENET_STD if in_channels == 3 else (sum(_IMAGENET_STD) / 3,) * in_channels
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        # GDE, filled by fit_normal (empty until then)
        self.register_buffer("gde_mean", torch.zeros(0))
        self.register_buffer("gde_precision", torch.zeros(0, 0))
        self.register_buffer("normal_score_stats", torch.zeros(0))  # (mean, std) of train scores
        self._rng = np.random.default_rng(seed)

    # -- helpers ----------------------------------------------------------------------------
    def _check(self, images) -> Tensor:
        if not isinstance(images, Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"expected images as an N×C×H×W tensor, got {shape}")
        if images.shape[0] == 0:
            raise ValueError("empty batch of images")
        if images.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} channels, got {images.shape[1]} "
                             f"(images of shape {tuple(images.shape)})")
        if min(images.shape[2:]) < MIN_SIZE:
            raise ValueError(f"images must be at least {MIN_SIZE}×{MIN_SIZE} px (ResNet-18 "
                             f"downsamples by 32), got {images.shape[2]}×{images.shape[3]}")
        if not images.is_floating_point():
            raise ValueError(f"images must be float in [0, 1], got dtype {images.dtype}")
        return images

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("gde_mean", "gde_precision", "normal_score_stats"):
            if prefix + name in state_dict:  # buffers change shape once fitted
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(embedding N×D -- pooled backbone feature, L2-normalised if set --, logits N×3)."""
        feats = self.backbone((images - self.pixel_mean) / self.pixel_std)
        logits = self.classifier(self.head(feats))
        if self.normalize_embeddings:
            feats = F.normalize(feats, dim=1)
        return feats, logits

    # -- ImageHost --------------------------------------------------------------------------
    def training_loss(self, images: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Cross-entropy of the 3-way classifier on the [normal, CutPaste, scar] versions."""
        images = self._check(images)
        if self.pre_jitter > 0 and self.in_channels in (1, 3):
            images = torch.stack([color_jitter(im, self._rng, self.pre_jitter) for im in images])
        if self.in_channels in (1, 3):
            inputs, labels = three_way(images, self._rng, jitter=self.jitter)
        else:  # colour jitter is defined for 1 or 3 channels only
            inputs, labels = three_way(images, self._rng, jitter=0.0)
        _, logits = self(inputs)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean()
        return loss, {"ce": float(loss.detach()), "accuracy": float(acc)}

    @torch.no_grad()
    def embed(self, images: Tensor) -> Tensor:
        """Embeddings (eval mode) of a batch, as the GDE sees them."""
        images = self._check(images)
        was = self.training
        self.eval()
        try:
            return self(images)[0].float()
        finally:
            self.train(was)

    @torch.no_grad()
    def fit_normal(self, batches: Iterable[Tensor]) -> None:
        """Fit the GDE (mean, Ledoit-Wolf precision) to the embeddings of the normal images."""
        from sklearn.covariance import LedoitWolf

        feats = []
        for batch in batches:
            if isinstance(batch, dict):
                batch = batch["image"]
            elif isinstance(batch, (tuple, list)):
                batch = batch[0]
            feats.append(self.embed(batch.to(self.gde_mean.device)).cpu())
        if not feats:
            raise ValueError("fit_normal got no batches of normal images")
        x = torch.cat(feats).double().numpy()
        if x.shape[0] < 2:
            raise ValueError(f"fit_normal needs at least 2 normal images, got {x.shape[0]}")
        lw = LedoitWolf().fit(x)
        device = self.gde_mean.device
        self.gde_mean = torch.as_tensor(lw.location_, dtype=torch.float64, device=device)
        self.gde_precision = torch.as_tensor(lw.precision_, dtype=torch.float64, device=device)
        train = mahalanobis(torch.as_tensor(x, device=device), self.gde_mean, self.gde_precision)
        self.normal_score_stats = torch.stack([train.mean(), train.std(unbiased=False)])

    @property
    def fitted(self) -> bool:
        return self.gde_mean.numel() > 0

    @torch.no_grad()
    def score(self, images: Tensor) -> tuple[Tensor, None]:
        """(Mahalanobis distance of each image's embedding to the GDE, None)."""
        if not self.fitted:
            raise RuntimeError("CutPaste.score needs the Gaussian density: call fit_normal first")
        feats = self.embed(images).double()
        return mahalanobis(feats, self.gde_mean, self.gde_precision).float(), None

    def standardize(self, scores) -> np.ndarray:
        """Scores z-standardised with this model's normal training scores (for ensembles)."""
        if not self.fitted:
            raise RuntimeError("call fit_normal first")
        mu, sd = (float(v) for v in self.normal_score_stats)
        s = scores.detach().cpu().numpy() if isinstance(scores, Tensor) else np.asarray(scores)
        return (s.astype(np.float64) - mu) / (sd if sd > 0 else 1.0)

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """CutPaste's training hyperparameters (``batch_size`` counts the normal images; the
        network sees 3× as many). One CutPaste "epoch" is :attr:`steps_per_epoch` = 256 updates,
        so 256 epochs = 65,536 updates; the lr follows a cosine decay to 0 over the run."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        return Schedule(
            epochs=256, batch_size=32, lr=0.03, optimizer="sgd", momentum=0.9,
            weight_decay=3e-5, lr_schedule="cosine",
            source=("CutPaste (Li et al., CVPR 2021), Sec. 4 / App. A as quoted by the unofficial "
                    "port Runinho/pytorch-cutpaste (README: one epoch = 256 parameter updates, "
                    "batch 64, 96 for 3-way = 32 normal images x 3); SGD lr 0.03, momentum 0.9, "
                    "cosine decay over 256 epochs, weight decay 3e-5: run_training.py defaults of "
                    "that port. One epoch = CutPaste.steps_per_epoch = 256 updates."),
        )
