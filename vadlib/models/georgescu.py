"""The background-agnostic framework of Georgescu et al., an object-centric host of Papers C and D.

M.-I. Georgescu, R. T. Ionescu, F. S. Khan, M. Popescu, M. Shah, "A Background-Agnostic
Framework with Adversarial Training for Abnormal Event Detection in Video", IEEE TPAMI 44(9),
2022 (thesis [12] in Paper C, [58] in Paper D). Reimplemented from the papers; the authors' code
is only given on request and is not used (``paper_C.md`` §2). The TPAMI paper is not among the
thesis seeds: what the seeds say is marked [seed]; what we take from our recollection of the
TPAMI paper (its abstract and method outline; not verifiable against the seeds) is marked [TPAMI];
every choice where neither says enough is marked [ours].

What the framework is:

* object-centric [seed T L2721, "object-centric appearance and motion auto-encoders"]: objects are
  detected in each frame, and each object is analysed on its own crops (the pipeline,
  :mod:`vadlib.models.object_pipeline`, detects, crops and computes flow);
* an **appearance auto-encoder** on the centre crop and **motion auto-encoders** on the object's
  motion [seed T L2721]; the components of its appearance auto-encoder are listed in Paper C
  (T L2094): "optical flow, skip connections, adversarial training, mask reconstruction and binary
  classifiers";
* **adversarial training** [seed T L1984, L2148, L2458]: gradient descent on the normal objects and
  gradient ascent on out-of-domain pseudo-abnormal examples ("flowers, animals, cartoons, and
  textures", Paper D T 2458), so that the auto-encoders learn *not* to reconstruct what is not
  normal; [TPAMI] gradient ascent is applied to pseudo-abnormal examples the auto-encoders still
  reconstruct correctly;
* **binary classifiers** [seed T L2094; TPAMI]: an appearance and a motion classifier that
  discriminate normal from pseudo-abnormal examples on the auto-encoders' latent features and
  reconstructions.

Our implementation (``Georgescu(size, in_channels, seed, *, motion="flow", ...)``):

* **Cube** (``window = 3``): frames t − 1, t, t + 1 of the object box of frame t. [ours] The
  motion of an object is taken between the scored frame and its immediate neighbours, so the two
  motion inputs are exactly the pipeline's consecutive flows (TPAMI's frame offset is not in the
  seeds).
* **Motion input** (``motion=``): ``"flow"`` (default) -- the optical flow t − 1 → t ("previous")
  and t → t + 1 ("next"), 2 channels each, in pixels of the crop, divided by ``flow_scale``; Paper
  C (T L2094) names optical flow among [12]'s components, so this is the default and the class
  says ``needs_flow = True``. ``"gradients"`` -- the temporal image gradients x_t − x_{t−1} and
  x_{t+1} − x_t of the crops (C channels each; the motion input of the framework's predecessor,
  Ionescu et al., CVPR 2019), for runs without a flow network (the instance then has
  ``needs_flow = False``). One motion auto-encoder per direction (previous, next) [TPAMI].
* **Auto-encoders** (:class:`ObjectAutoEncoder`; widths as :mod:`vadlib.models.plain_ae`, which
  Paper C derives from [12]'s appearance auto-encoder): encoder three 3×3 convs (w, w, z
  channels; ``paper`` w = 32, z = 16; ``tiny`` w = 16, z = 8), each followed by ReLU and 2×2
  max-pooling, latent z × S/8 × S/8; decoder: ×2 nearest upsampling + conv 3×3 z → w, one U-Net
  skip connection (the encoder's S/4 features, concatenated; [ours] the seeds say only that [12]
  has skip connections -- one skip at the coarsest level keeps the latent code necessary),
  upsampling + conv (w + z) → w, upsampling + conv w → w, **conv w → w (the penultimate conv)**,
  conv w → C_out. Appearance output: sigmoid (crops in [0, 1]); motion output: linear. No batch
  norm [ours].
* **Mask reconstruction** (T L2094) is *not* implemented: it needs object segmentation masks the
  object pipeline does not provide.
* **Pseudo-anomalies** (:meth:`Georgescu.pseudo_anomalies`; the auxiliary image sets of the paper
  -- flowers, animals, cartoons, textures -- are not available): generated from each batch, one per
  object, seeded by ``seed`` and the step count. [ours] Appearance: synthetic textures, a smooth
  random colour field plus either a sinusoidal grating of random frequency and orientation (half)
  or pixel noise (half) -- out-of-domain like the paper's texture set. Transformed normal crops
  (e.g. flipped objects) are not used: they are locally like normal objects, so gradient ascent on
  them undoes the descent on the normal ones (a flipped symmetric object *is* a normal one).
  Motion: half are the batch's motion inputs amplified by a factor drawn from [3, 6] (objects
  moving far faster than normal), half are smooth random motion fields six times the batch's
  standard deviation (no coherent object motion).
* **Adversarial loss** per auto-encoder (e = per-example mean squared error, E = per-example
  mean squared input, the signal energy): ``L_AE = mean_normal(e) − β · mean_pseudo(m · ẽ)`` with
  ``ẽ = e · mean_normal(E) / E`` (a pseudo-abnormal error rescaled to the normal inputs' energy)
  and ``m = 1[ẽ < ascent_ratio · mean_normal(e)]`` (m, E detached). [ours] The TPAMI paper's bound
  on gradient ascent is not in the seeds: ascent acts only on the pseudo-abnormal examples the
  auto-encoder still reconstructs nearly as well as the normal ones (the [TPAMI] "correctly
  reconstructed" examples), which keeps the maximised term bounded; the energy rescaling keeps an
  amplified motion field from counting as badly reconstructed merely for being larger.
  β = ``ascent_weight`` = 0.1, ``ascent_ratio`` = 4 [ours]: at initialisation pseudo-abnormal
  examples are reconstructed as well as normal ones, and with β = 1 the ascent then dominates and
  collapses the auto-encoder to a constant output (seen on synthetic objects); with β = 0.1 the
  normal reconstruction leads and the ascent pushes the pseudo-abnormal errors above it.
* **Classifiers** (:class:`LatentClassifier`): appearance classifier on [latent code, |x − x̂|
  average-pooled to the latent size]; motion classifier on both motion auto-encoders' [latent,
  pooled error]; conv 3×3 → ReLU → 2×2 max-pool → linear → 2 logits; cross-entropy, normal = 0,
  pseudo-abnormal = 1. Their inputs are **detached** [ours]: the classifiers learn on the
  auto-encoders' outputs without shaping them (the paper trains them after the auto-encoders).
  ``L = Σ_AE L_AE + Σ_classifiers CE``; the block loss is added by the runner (λ · block loss).
* **Object score** (:meth:`Georgescu.object_scores`, ``score=``): ``"classifiers"`` (default) --
  the mean over the appearance and motion classifiers of p(pseudo-abnormal) [TPAMI, our reading:
  the classifiers give the abnormality score]; ``"reconstruction"`` -- the sum of the three
  auto-encoders' mean squared errors (an ablation). Frame scores: maximum over a frame's objects,
  then the temporal filter (:attr:`ObjectHost.frame_filter`, done by the runner).

Block placement [seed]: "for Georgescu et al. [12], we integrate SSPCAB into the auto-encoders,
not in the binary classifiers" (Paper C T L2148); "integrated into the penultimate convolutional
layer of the decoder" (Paper D T 2596). ``late`` = the penultimate conv of all three decoders
(``appearance_ae.decoder.out.0``, ``motion_prev_ae...``, ``motion_next_ae...``; w → w, stride 1);
``late_appearance`` / ``late_motion`` place it in the appearance or the motion decoders only
(extra, not in the papers). 2D blocks only ("sspcab" / "ssmctb"). λ (``block_weight``) = 0.1
(Paper C T L2084; Paper D T 2599: λ = 0.1 for every host but NSA and HF2-VAD).

Schedule: not in the seeds [ours]: Adam, lr 1e-3, batch 64, 50 epochs (``paper``), 10 (``tiny``).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.object_hosts import HostContext, ObjectHost, Schedule
from vadlib.models.registry import register_host

__all__ = [
    "MOTIONS",
    "SCORES",
    "SIZES",
    "WIDTHS",
    "Georgescu",
    "LatentClassifier",
    "ObjectAutoEncoder",
]

SIZES = ("tiny", "paper")
#: (conv width w, latent channels z) of every auto-encoder (as vadlib.models.plain_ae)
WIDTHS = {"paper": (32, 16), "tiny": (16, 8)}
MOTIONS = ("flow", "gradients")
SCORES = ("classifiers", "reconstruction")
EPOCHS = {"paper": 50, "tiny": 10}


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class _Decoder(nn.Module):
    def __init__(self, w: int, z: int, c_out: int, sigmoid: bool):
        super().__init__()
        self.up3 = nn.Sequential(_conv(z, w), nn.ReLU())
        self.up2 = nn.Sequential(_conv(w + z, w), nn.ReLU())
        self.up1 = nn.Sequential(_conv(w, w), nn.ReLU())
        # index 0: the penultimate conv (w -> w), where the papers put the block
        self.out = nn.Sequential(_conv(w, w), nn.ReLU(), _conv(w, c_out),
                                 *([nn.Sigmoid()] if sigmoid else []))

    def forward(self, latent: Tensor, skip: Tensor) -> Tensor:
        x = self.up3(F.interpolate(latent, scale_factor=2.0, mode="nearest"))
        x = self.up2(F.interpolate(torch.cat((x, skip), dim=1), scale_factor=2.0, mode="nearest"))
        x = self.up1(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.out(x)


class ObjectAutoEncoder(nn.Module):
    """Convolutional auto-encoder of one object input (C_in × S × S, S a multiple of 8); see the
    module docstring. ``forward(x) -> (reconstruction, latent z × S/8 × S/8)``."""

    def __init__(self, c_in: int, w: int, z: int, *, sigmoid: bool):
        super().__init__()
        self.encoder = nn.ModuleDict({"conv1": _conv(c_in, w), "conv2": _conv(w, w), "conv3": _conv(w, z)})
        self.decoder = _Decoder(w, z, c_in, sigmoid)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        e = F.max_pool2d(F.relu(self.encoder["conv1"](x)), 2)
        e = F.max_pool2d(F.relu(self.encoder["conv2"](e)), 2)
        skip = F.relu(self.encoder["conv3"](e))                      # z × S/4
        latent = F.max_pool2d(skip, 2)
        return self.decoder(latent, skip), latent


class LatentClassifier(nn.Module):
    """Binary classifier (2 logits: normal, pseudo-abnormal) on c_in × s × s feature maps
    (s even): conv 3×3 -> ReLU -> 2×2 max-pool -> linear."""

    def __init__(self, c_in: int, width: int, side: int):
        super().__init__()
        self.conv = _conv(c_in, width)
        self.fc = nn.Linear(width * (side // 2) ** 2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(F.max_pool2d(F.relu(self.conv(x)), 2).flatten(1))


def _per_example_mse(output: Tensor, target: Tensor) -> Tensor:
    return (output - target).pow(2).flatten(1).mean(1)


@register_host
class Georgescu(ObjectHost):
    """Georgescu et al., TPAMI 2021/2022, as an :class:`ObjectHost` (see the module docstring).

    ``Georgescu(size="tiny" | "paper", in_channels=3, seed=0, *, motion="flow" | "gradients",
    score="classifiers" | "reconstruction", ascent_weight=0.1, ascent_ratio=4.0, flow_scale=1.0,
    adversarial=True)``. ``adversarial=False`` drops the gradient-ascent term (pseudo-anomalies
    still train the classifiers). ``seed`` seeds the weights and the pseudo-anomaly draws (the
    global torch generator is left untouched).
    """

    name = "georgescu"
    label = "Georgescu et al."
    window = 3
    needs_flow = True  # the default motion="flow"; an instance with motion="gradients" sets False
    block_positions: ClassVar[dict[str, tuple[str, ...]]] = {
        "late": ("appearance_ae.decoder.out.0", "motion_prev_ae.decoder.out.0",
                 "motion_next_ae.decoder.out.0"),
        "late_appearance": ("appearance_ae.decoder.out.0",),
        "late_motion": ("motion_prev_ae.decoder.out.0", "motion_next_ae.decoder.out.0"),
    }
    default_position = "late"
    block_weight = 0.1  # Paper C T L2084; Paper D T 2599
    #: block kinds this host takes (its convolutions are 2D)
    block_kinds = ("sspcab", "ssmctb")

    def __init__(self, size: str = "tiny", in_channels: int = 3, seed: int = 0, *,
                 motion: str = "flow", score: str = "classifiers", ascent_weight: float = 0.1,
                 ascent_ratio: float = 4.0, flow_scale: float = 1.0, adversarial: bool = True):
        super().__init__(size, in_channels, seed)
        if motion not in MOTIONS:
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
        if score not in SCORES:
            raise ValueError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
        if not (flow_scale > 0 and ascent_ratio > 0 and ascent_weight >= 0):
            raise ValueError("flow_scale and ascent_ratio must be > 0, ascent_weight >= 0")
        self.motion, self.score = motion, score
        self.needs_flow = motion == "flow"
        self.ascent_weight, self.ascent_ratio = float(ascent_weight), float(ascent_ratio)
        self.flow_scale, self.adversarial = float(flow_scale), bool(adversarial)
        side = self.side
        if side % 16:
            raise ValueError(f"crop side must be a multiple of 16, got {side}")
        w, z = WIDTHS[size]
        c_motion = 2 if motion == "flow" else in_channels
        latent_side = side // 8
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.appearance_ae = ObjectAutoEncoder(in_channels, w, z, sigmoid=True)
            self.motion_prev_ae = ObjectAutoEncoder(c_motion, w, z, sigmoid=False)
            self.motion_next_ae = ObjectAutoEncoder(c_motion, w, z, sigmoid=False)
            self.appearance_classifier = LatentClassifier(z + in_channels, w, latent_side)
            self.motion_classifier = LatentClassifier(2 * (z + c_motion), w, latent_side)
        self._draws = 0  # pseudo-anomaly draws so far (each uses its own seeded generator)

    def block_sites_for(self, block: str) -> tuple[str, ...]:
        if block.lower().endswith("3d"):
            raise ValueError(f"{type(self).__name__} has 2D convolutions; use 'sspcab' or 'ssmctb', "
                             f"not {block!r}")
        return super().block_sites_for(block)

    @property
    def autoencoders(self) -> dict[str, ObjectAutoEncoder]:
        return {"appearance": self.appearance_ae, "motion_prev": self.motion_prev_ae,
                "motion_next": self.motion_next_ae}

    # ---------------------------------------------------------------- inputs
    def inputs(self, batch: dict) -> dict[str, Tensor]:
        """The three auto-encoder inputs of a batch: ``appearance`` (centre crop, N×C×S×S),
        ``motion_prev`` / ``motion_next`` (flow / C×S×S temporal gradients)."""
        self.check_batch(batch)
        cube = batch["appearance"]
        if self.motion == "flow":
            flow = batch["flow"] / self.flow_scale
            prev, nxt = flow[:, 0], flow[:, 1]
        else:
            prev, nxt = cube[:, 1] - cube[:, 0], cube[:, 2] - cube[:, 1]
        return {"appearance": cube[:, 1], "motion_prev": prev, "motion_next": nxt}

    def _generator(self) -> torch.Generator:
        self._draws += 1
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self._draws)

    @torch.no_grad()
    def pseudo_anomalies(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """One synthetic out-of-domain example per object and input (module docstring)."""
        g = self._generator()
        app = inputs["appearance"]
        n, c, s, _ = app.shape
        half = n // 2

        def cpu_rand(*shape):
            return torch.rand(*shape, generator=g)

        # textures: a smooth colour field plus a sinusoidal grating of random frequency and
        # orientation (first half) or plus pixel noise (second half)
        field = F.interpolate(cpu_rand(n, c, 4, 4), size=(s, s), mode="bilinear", align_corners=False)
        yy, xx = torch.meshgrid(torch.linspace(0, 1, s), torch.linspace(0, 1, s), indexing="ij")
        angle = cpu_rand(half, 1, 1, 1) * math.pi
        freq = 2.0 + cpu_rand(half, 1, 1, 1) * 10.0
        grating = 0.5 + 0.5 * torch.sin(2 * math.pi * freq * (xx * torch.cos(angle) + yy * torch.sin(angle)))
        detail = torch.cat((grating.expand(half, c, s, s), cpu_rand(n - half, c, s, s)))
        pseudo = {"appearance": (0.5 * field + 0.5 * detail).to(app)}
        for key in ("motion_prev", "motion_next"):
            m = inputs[key]
            factor = (3.0 + 3.0 * cpu_rand(half, 1, 1, 1)).to(m)
            scale = m.detach().flatten(1).std(1).mean().clamp_min(1e-3)
            smooth = F.interpolate(cpu_rand(n - half, m.shape[1], 4, 4) * 2 - 1, size=(s, s),
                                   mode="bilinear", align_corners=False).to(m)
            pseudo[key] = torch.cat((m[:half] * factor, smooth * 6.0 * scale))
        return pseudo

    # ---------------------------------------------------------------- network
    def _classifier_inputs(self, outputs: dict, inputs: dict) -> tuple[Tensor, Tensor]:
        """Detached [latent, pooled |error|] for the appearance and motion classifiers."""
        parts = {}
        for key, (recon, latent) in outputs.items():
            error = (recon - inputs[key]).abs()
            parts[key] = torch.cat((latent, F.adaptive_avg_pool2d(error, latent.shape[-1])), 1).detach()
        return parts["appearance"], torch.cat((parts["motion_prev"], parts["motion_next"]), 1)

    def _run(self, inputs: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        return {key: ae(inputs[key]) for key, ae in self.autoencoders.items()}

    # ---------------------------------------------------------------- host interface
    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """Σ over the auto-encoders of (MSE on normal objects − β · MSE on the pseudo-abnormal
        ones still reconstructed correctly) + the classifiers' cross-entropy (module docstring)."""
        normal = self.inputs(batch)
        pseudo = self.pseudo_anomalies(normal)
        n = normal["appearance"].shape[0]
        joint = {k: torch.cat((normal[k], pseudo[k])) for k in normal}
        outputs = self._run(joint)
        loss = joint["appearance"].new_zeros(())
        logs: dict[str, float] = {}
        for key, (recon, _) in outputs.items():
            e = _per_example_mse(recon, joint[key])
            e_normal, e_pseudo = e[:n], e[n:]
            loss = loss + e_normal.mean()
            if self.adversarial and self.ascent_weight > 0:
                energy = joint[key].detach().pow(2).flatten(1).mean(1).clamp_min(1e-8)
                rescaled = e_pseudo * (energy[:n].mean() / energy[n:])
                selected = (rescaled.detach() < self.ascent_ratio * e_normal.detach().mean()).to(e.dtype)
                loss = loss - self.ascent_weight * (selected * rescaled).mean()
                logs[f"{key}_ascent_fraction"] = float(selected.mean())
            logs[f"{key}_normal"] = float(e_normal.detach().mean())
            logs[f"{key}_pseudo"] = float(e_pseudo.detach().mean())
        labels = torch.cat((torch.zeros(n), torch.ones(n))).long().to(joint["appearance"].device)
        app_in, mot_in = self._classifier_inputs(outputs, joint)
        ce_app = F.cross_entropy(self.appearance_classifier(app_in), labels)
        ce_mot = F.cross_entropy(self.motion_classifier(mot_in), labels)
        loss = loss + ce_app + ce_mot
        logs.update(classifier_appearance=float(ce_app.detach()), classifier_motion=float(ce_mot.detach()))
        return loss, logs

    @torch.no_grad()
    def reconstruction_errors(self, batch: dict) -> dict[str, Tensor]:
        """Per-object mean squared error of each auto-encoder (N each), in eval mode."""
        inputs = self.inputs(batch)
        was_training = self.training
        self.eval()
        try:
            outputs = self._run(inputs)
        finally:
            self.train(was_training)
        return {k: _per_example_mse(r, inputs[k]) for k, (r, _) in outputs.items()}

    @torch.no_grad()
    def object_scores(self, batch: dict) -> Tensor:
        """``score="classifiers"``: mean of the appearance and motion classifiers' p(abnormal);
        ``"reconstruction"``: sum of the auto-encoders' mean squared errors. N values."""
        inputs = self.inputs(batch)
        was_training = self.training
        self.eval()
        try:
            outputs = self._run(inputs)
            if self.score == "reconstruction":
                return sum(_per_example_mse(r, inputs[k]) for k, (r, _) in outputs.items())
            app_in, mot_in = self._classifier_inputs(outputs, inputs)
            p_app = torch.softmax(self.appearance_classifier(app_in), 1)[:, 1]
            p_mot = torch.softmax(self.motion_classifier(mot_in), 1)[:, 1]
        finally:
            self.train(was_training)
        return (p_app + p_mot) / 2.0

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """Adam 1e-3, batch 64, 50 epochs (``tiny``: 10); not given by the seeds (ours)."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        return Schedule(epochs=EPOCHS[size], batch_size=64, lr=1e-3, optimizer="adam",
                        lr_schedule="multistep",
                        source="Georgescu et al., TPAMI 2021: hyperparameters not in the thesis "
                               "seeds; Adam 1e-3, batch 64, 50 epochs are our choice"
                               + (" (size='tiny': 10 epochs)" if size == "tiny" else ""))

    @classmethod
    def schedule_for(cls, ctx: HostContext) -> Schedule:
        return cls.schedule(ctx.size)
