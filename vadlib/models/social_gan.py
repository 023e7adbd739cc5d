"""Social GAN, the trajectory predictor of Paper E's temporal branch.

Gupta, Johnson, Fei-Fei, Savarese, Alahi, "Social GAN: Socially Acceptable Trajectories with
Generative Adversarial Networks", CVPR 2018 (Paper E's [7]; thesis ``000_f794b37c98b9d304.txt``
T 3109-3123: "an LSTM based encoder-decoder, where one LSTM is used for predicting a single
trajectory ... a social pooling module ... The discriminator is a LSTM encoder network that
classifies the output trajectories as real or fake"). Reimplemented from the Social GAN paper; the
official code (``github.com/agrimgupta92/sgan``, MIT) was not copied -- only its default
hyperparameters are taken (as the spec ``papers_E_F.md`` §1.5 lists them).

Pipeline (the Social GAN paper's Fig. 2)::

    obs positions (obs_len, N, 2) ─► displacements d_t = p_t − p_{t−1} (d_1 = 0)
        ─► Linear(2 → e) ─► LSTM encoder (one LSTM shared by all people) ─► h_i
    PoolNet, once between encoder and decoder: for person i of a scene window W,
        P_i = max_{j ∈ W} MLP([Linear(2 → e)(p_j − p_i), h_j])       (p = last observed position;
                                                                      j = i included)
    context_i = MLP([h_i, P_i]) (→ decoder_h − noise_dim), decoder state h⁰_i = [context_i, z_i],
        z_i ~ N(0, I_noise_dim), c⁰_i = 0
    LSTM decoder, step by step: input Linear(2 → e)(last displacement) ─► h ─► Linear(h → 2) = d̂_t;
        d̂_t is fed back as the next input; positions = last observed position + cumsum(d̂)
    discriminator ("local"): displacements of obs + pred (obs_len + pred_len steps)
        ─► Linear(2 → e) ─► LSTM ─► last h ─► Linear(h → mlp_dim) ─ ReLU ─ Linear(→ 1): one logit
        per person

People are pooled only with the people of their own scene window (``seq_start_end``), so windows
in a batch never influence each other. The pooling and context MLPs have a ReLU after every layer;
there is no batch norm and no dropout (the reference defaults ``batch_norm=0``, ``dropout=0``).
The pre-pool MLP is ``[e + h_enc, pool_hidden_dim, bottleneck_dim]`` with ``pool_hidden_dim`` =
512 for ``size="paper"``.

**Losses** (Social GAN Sec. 3.3-3.4):

* discriminator: ``BCE(D(real), y_real) + BCE(D(fake), 0)`` with *label smoothing*: ``y_real``
  drawn per person from U(0.7, 1.2), as the reference implementation does (``label_smoothing=False``
  gives y_real = 1). ``d_steps`` discriminator updates per generator step; each draws a fresh fake
  sample of the *same* batch (the reference takes a new batch for each D step; our training loop
  hands the model one batch per step).
* generator: ``BCE(D(fake), 1) + l2_weight · L_variety``. The variety loss is best-of-k: draw
  ``best_k`` samples; per scene window take the sample with the smallest summed squared error of the
  predicted displacements over the window's people and steps (the reference's "relative" l2); that
  minimum divided by the window's person-steps, averaged over windows. The adversarial term uses the
  first of the k samples.

Defaults: ``obs_len = pred_len = 8`` (Social GAN's 3.2 s observed / 3.2 s predicted at 2.5 fps),
``best_k = 20`` with ``l2_weight = 1`` (the paper's "SGAN-20V" variety setting; the reference's
argument defaults are best_k 1, l2_loss_weight 0), Adam lr 5e-4 for G and D, ``d_steps = 2``;
``schedule`` = batch 64, 200 epochs (Paper E T 3167, equal to the reference defaults). Paper E does
not give its observation/prediction lengths, frame rate or coordinate units (spec §1.4-1.5):
coordinates are used as given (pixels from the tracker, say).

*How the discriminator is trained.* Exactly as FFP's (:class:`vadlib.models.ffp.Adversary`, whose
docstring explains it): ``vadlib.runs.train.train`` steps one optimizer over the parameters that
require gradients, so the discriminator's parameters stay at ``requires_grad=False`` outside its own
update and it has its own Adam optimizer; :meth:`SocialGAN.training_loss` (in training mode with
gradients enabled) first makes ``d_steps`` discriminator updates, then returns the generator loss,
whose adversarial term uses the updated D. The D optimizer's state travels in ``state_dict()``.

Batch (what :func:`vadlib.tracking.trajectories.collate_windows` returns): a dict with ``"obs"``
float (obs_len, N, 2) absolute positions, ``"future"`` float (pred_len, N, 2) absolute positions,
``"seq_start_end"`` long (S, 2): people ``[start, end)`` of each scene window; other keys are
ignored. Noise and label smoothing use torch's global generator (which the training loop
checkpoints), or a seed / explicit noise in :meth:`SocialGAN.predict`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vadlib.models.ffp import Adversary
from vadlib.models.schedule import Schedule

__all__ = ["SocialGAN", "TrajectoryGenerator", "TrajectoryDiscriminator", "TrajectoryAdversary",
           "SIZES", "displacements"]

#: widths per size: embedding, encoder h (G), decoder h (G), mlp, bottleneck, encoder h (D), noise,
#: pre-pool MLP hidden. "paper" = the reference code's defaults; "tiny" = CPU tests.
SIZES: dict[str, dict[str, int]] = {
    "paper": dict(embedding_dim=64, encoder_h_dim_g=64, decoder_h_dim_g=128, mlp_dim=1024,
                  bottleneck_dim=1024, encoder_h_dim_d=64, noise_dim=8, pool_hidden_dim=512),
    "tiny": dict(embedding_dim=16, encoder_h_dim_g=16, decoder_h_dim_g=32, mlp_dim=64,
                 bottleneck_dim=32, encoder_h_dim_d=16, noise_dim=8, pool_hidden_dim=32),
}


def displacements(positions: Tensor) -> Tensor:
    """Per-step displacements ``p_t − p_{t−1}`` of (T, N, 2) positions, the first step's set to 0."""
    return torch.cat((torch.zeros_like(positions[:1]), positions[1:] - positions[:-1]), dim=0)


def _mlp(dims: list[int], last_activation: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if last_activation or i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _check_windows(seq_start_end: Tensor, n_people: int) -> None:
    if seq_start_end.ndim != 2 or seq_start_end.shape[1] != 2:
        raise ValueError(f"seq_start_end must be (S, 2), got {tuple(seq_start_end.shape)}")
    bounds = seq_start_end.tolist()
    expected = 0
    for start, end in bounds:
        if start != expected or end <= start:
            raise ValueError(f"seq_start_end must tile people 0..N-1 in order with non-empty "
                             f"windows, got {bounds}")
        expected = end
    if expected != n_people:
        raise ValueError(f"seq_start_end covers {expected} people but the batch has {n_people}")


def _same_window_pairs(seq_start_end: Tensor) -> tuple[Tensor, Tensor]:
    """Indices (i, j) of every ordered pair of people in the same window, i = j included."""
    firsts, seconds = [], []
    for start, end in seq_start_end.tolist():
        people = torch.arange(start, end, device=seq_start_end.device)
        firsts.append(people.repeat_interleave(end - start))
        seconds.append(people.repeat(end - start))
    return torch.cat(firsts), torch.cat(seconds)


class PoolNet(nn.Module):
    """Social GAN's pooling module: for each person the element-wise max, over the people of its
    window, of an MLP of [embedded relative last position, their encoder state]."""

    def __init__(self, embedding_dim: int, h_dim: int, hidden_dim: int, bottleneck_dim: int):
        super().__init__()
        self.position_embedding = nn.Linear(2, embedding_dim)
        self.mlp = _mlp([embedding_dim + h_dim, hidden_dim, bottleneck_dim])
        self.bottleneck_dim = bottleneck_dim

    def forward(self, hidden: Tensor, last_positions: Tensor, seq_start_end: Tensor) -> Tensor:
        i, j = _same_window_pairs(seq_start_end)
        relative = last_positions[j] - last_positions[i]
        features = self.mlp(torch.cat((self.position_embedding(relative), hidden[j]), dim=1))
        pooled = features.new_zeros(hidden.shape[0], self.bottleneck_dim)
        index = i.unsqueeze(1).expand(-1, self.bottleneck_dim)
        return pooled.scatter_reduce(0, index, features, reduce="amax", include_self=False)


class TrajectoryGenerator(nn.Module):
    """Social GAN's generator (module docstring): encoder, PoolNet, noise, decoder."""

    def __init__(self, pred_len: int, embedding_dim: int, encoder_h_dim_g: int,
                 decoder_h_dim_g: int, mlp_dim: int, bottleneck_dim: int, noise_dim: int,
                 pool_hidden_dim: int, **_: int):
        super().__init__()
        if decoder_h_dim_g <= noise_dim:
            raise ValueError("decoder_h_dim_g must exceed noise_dim")
        self.pred_len, self.noise_dim = pred_len, noise_dim
        self.encoder_embedding = nn.Linear(2, embedding_dim)
        self.encoder = nn.LSTM(embedding_dim, encoder_h_dim_g)
        self.pool = PoolNet(embedding_dim, encoder_h_dim_g, pool_hidden_dim, bottleneck_dim)
        self.context = _mlp([encoder_h_dim_g + bottleneck_dim, mlp_dim, decoder_h_dim_g - noise_dim])
        self.decoder_embedding = nn.Linear(2, embedding_dim)
        self.decoder = nn.LSTMCell(embedding_dim, decoder_h_dim_g)
        self.to_displacement = nn.Linear(decoder_h_dim_g, 2)

    def encode(self, obs: Tensor, seq_start_end: Tensor) -> Tensor:
        """Deterministic part: the decoder context (N, decoder_h − noise_dim) of each person."""
        _, (hidden, _) = self.encoder(self.encoder_embedding(displacements(obs)))
        hidden = hidden[-1]
        pooled = self.pool(hidden, obs[-1], seq_start_end)
        return self.context(torch.cat((hidden, pooled), dim=1))

    def decode(self, context: Tensor, noise: Tensor, obs: Tensor) -> Tensor:
        """Absolute future positions (k, pred_len, N, 2) for noise (k, N, noise_dim)."""
        k, n = noise.shape[:2]
        h = torch.cat((context.expand(k, -1, -1), noise.to(context.dtype)), dim=2).reshape(k * n, -1)
        c = torch.zeros_like(h)
        step = (obs[-1] - obs[-2]).expand(k, -1, -1).reshape(k * n, 2)
        steps = []
        for _ in range(self.pred_len):
            h, c = self.decoder(self.decoder_embedding(step), (h, c))
            step = self.to_displacement(h)
            steps.append(step)
        moves = torch.stack(steps).reshape(self.pred_len, k, n, 2).transpose(0, 1)
        return obs[-1] + moves.cumsum(dim=1)

    def forward(self, obs: Tensor, seq_start_end: Tensor, noise: Tensor) -> Tensor:
        return self.decode(self.encode(obs, seq_start_end), noise, obs)


class TrajectoryDiscriminator(nn.Module):
    """Social GAN's local discriminator: one logit per person from its whole (T, N, 2) trajectory
    (absolute positions; it sees their displacements)."""

    def __init__(self, embedding_dim: int, encoder_h_dim_d: int, mlp_dim: int, **_: int):
        super().__init__()
        self.embedding = nn.Linear(2, embedding_dim)
        self.encoder = nn.LSTM(embedding_dim, encoder_h_dim_d)
        self.classifier = _mlp([encoder_h_dim_d, mlp_dim, 1], last_activation=False)

    def forward(self, trajectories: Tensor) -> Tensor:
        _, (hidden, _) = self.encoder(self.embedding(displacements(trajectories)))
        return self.classifier(hidden[-1]).squeeze(1)


class TrajectoryAdversary(Adversary):
    """:class:`~vadlib.models.ffp.Adversary` with Social GAN's binary cross-entropy loss: real
    targets U(0.7, 1.2) per person when ``label_smoothing`` (the reference's smoothing), else 1;
    fake targets 0."""

    def __init__(self, net: nn.Module, lr: float, label_smoothing: bool = True):
        super().__init__(net, lr)
        self.label_smoothing = label_smoothing

    def loss(self, real: Tensor, fake: Tensor) -> Tensor:
        real_logits, fake_logits = self.net(real), self.net(fake)
        if self.label_smoothing:
            targets = 0.7 + 0.5 * torch.rand(real_logits.shape, device=real_logits.device)
        else:
            targets = torch.ones_like(real_logits)
        return (F.binary_cross_entropy_with_logits(real_logits, targets)
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


class SocialGAN(nn.Module):
    """Social GAN (Gupta et al., CVPR 2018) for Paper E's temporal branch (module docstring).

    ``SocialGAN(size="paper", obs_len=8, pred_len=8, best_k=20, l2_weight=1.0, d_steps=2, lr=5e-4,
    seed=0, label_smoothing=True)``; ``lr`` is the discriminator's (the generator's is the
    :meth:`schedule`'s, the same 5e-4). Weights: PyTorch's default initialisation drawn under
    ``seed``.
    """

    name = "social_gan"
    label = "Social GAN"

    def __init__(self, size: str = "paper", obs_len: int = 8, pred_len: int = 8, best_k: int = 20,
                 l2_weight: float = 1.0, d_steps: int = 2, lr: float = 5e-4, seed: int = 0,
                 label_smoothing: bool = True):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        if obs_len < 2 or pred_len < 1:
            raise ValueError(f"need obs_len >= 2 and pred_len >= 1, got {obs_len}, {pred_len}")
        if best_k < 1 or d_steps < 0:
            raise ValueError(f"need best_k >= 1 and d_steps >= 0, got {best_k}, {d_steps}")
        if not (math.isfinite(l2_weight) and l2_weight >= 0):
            raise ValueError(f"l2_weight must be a finite number >= 0, got {l2_weight!r}")
        self.size, self.obs_len, self.pred_len = size, int(obs_len), int(pred_len)
        self.best_k, self.l2_weight, self.d_steps = int(best_k), float(l2_weight), int(d_steps)
        self.seed = int(seed)
        self.dims = dict(SIZES[size])
        self.noise_dim = self.dims["noise_dim"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.generator = TrajectoryGenerator(self.pred_len, **self.dims)
            discriminator = TrajectoryDiscriminator(**self.dims)
        self.discriminator = TrajectoryAdversary(discriminator, lr, label_smoothing)

    # ---------------------------------------------------------------- helpers
    def _inputs(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor, Tensor | None]:
        device = next(self.generator.parameters()).device
        obs = torch.as_tensor(batch["obs"], dtype=torch.float32, device=device)
        if obs.ndim != 3 or obs.shape[0] != self.obs_len or obs.shape[2] != 2:
            raise ValueError(f"obs must be ({self.obs_len}, N, 2), got {tuple(obs.shape)}")
        seq_start_end = torch.as_tensor(batch["seq_start_end"], dtype=torch.long)
        _check_windows(seq_start_end, obs.shape[1])
        future = batch.get("future")
        if future is not None:
            future = torch.as_tensor(future, dtype=torch.float32, device=device)
            if future.shape != (self.pred_len, obs.shape[1], 2):
                raise ValueError(f"future must be ({self.pred_len}, {obs.shape[1]}, 2), "
                                 f"got {tuple(future.shape)}")
        return obs, seq_start_end.to(device), future

    def sample(self, batch: Mapping[str, Any], samples: int = 1, noise: Tensor | None = None,
               seed: int | None = None) -> Tensor:
        """``samples`` predicted futures (samples, pred_len, N, 2), absolute positions, with
        gradients; ``noise`` (samples, N, noise_dim) fixes z, ``seed`` draws it reproducibly
        (otherwise torch's global generator)."""
        obs, seq_start_end, _ = self._inputs(batch)
        n = obs.shape[1]
        if noise is None:
            generator = torch.Generator().manual_seed(seed) if seed is not None else None
            noise = torch.randn((samples, n, self.noise_dim), generator=generator)
        elif noise.shape != (samples, n, self.noise_dim):
            raise ValueError(f"noise must be ({samples}, {n}, {self.noise_dim}), "
                             f"got {tuple(noise.shape)}")
        return self.generator(obs, seq_start_end, noise.to(obs.device))

    @torch.no_grad()
    def predict(self, batch: Mapping[str, Any], samples: int = 1, noise: Tensor | None = None,
                seed: int | None = None) -> Tensor:
        """Predicted futures (samples, pred_len, N, 2), absolute positions, in eval mode without
        gradients (the previous mode is restored); ``noise``/``seed`` as in :meth:`sample`."""
        was_training = self.training
        self.eval()
        try:
            return self.sample(batch, samples, noise, seed)
        finally:
            self.train(was_training)

    def variety_loss(self, predictions: Tensor, obs: Tensor, future: Tensor,
                     seq_start_end: Tensor) -> Tensor:
        """Best-of-k l2 loss (module docstring) of predictions (k, pred_len, N, 2)."""
        last = obs[-1:].expand(predictions.shape[0], 1, -1, -1)
        predicted = torch.diff(torch.cat((last, predictions), dim=1), dim=1)
        actual = torch.diff(torch.cat((obs[-1:], future), dim=0), dim=0)
        person_errors = (predicted - actual).pow(2).sum(dim=(1, 3))            # (k, N)
        window_losses = []
        for start, end in seq_start_end.tolist():
            best = person_errors[:, start:end].sum(dim=1).min()
            window_losses.append(best / ((end - start) * self.pred_len))
        return torch.stack(window_losses).mean()

    # ---------------------------------------------------------------- training
    def training_loss(self, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """Generator loss ``BCE(D(fake), 1) + l2_weight · L_variety`` after ``d_steps``
        discriminator updates when training with gradients enabled; returns (loss, logs)."""
        obs, seq_start_end, future = self._inputs(batch)
        if future is None:
            raise ValueError("training needs the batch's 'future'")
        real = torch.cat((obs, future), dim=0)
        logs: dict[str, float] = {}
        if self.training and torch.is_grad_enabled() and self.d_steps:
            d_losses = []
            for _ in range(self.d_steps):
                with torch.no_grad():
                    fake_future = self.generator(obs, seq_start_end,
                                                 torch.randn(1, obs.shape[1], self.noise_dim,
                                                             device=obs.device))[0]
                d_losses.append(self.discriminator.update(real, torch.cat((obs, fake_future))))
            logs["d_loss"] = sum(d_losses) / len(d_losses)
        noise = torch.randn(self.best_k, obs.shape[1], self.noise_dim, device=obs.device)
        predictions = self.generator(obs, seq_start_end, noise)
        fake_logits = self.discriminator(torch.cat((obs, predictions[0]), dim=0))
        adversarial = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        variety = self.variety_loss(predictions, obs, future, seq_start_end)
        loss = adversarial + self.l2_weight * variety
        with torch.no_grad():
            ade = (predictions[0] - future).norm(dim=-1).mean()
        logs = {"g_loss": float(loss.detach()), "g_adv": float(adversarial.detach()),
                "variety": float(variety.detach()), **logs, "ade": float(ade)}
        return loss, logs

    # ---------------------------------------------------------------- bookkeeping
    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the generator, the discriminator and both."""
        generator = sum(p.numel() for p in self.generator.parameters())
        discriminator = sum(p.numel() for p in self.discriminator.parameters())
        return {"generator": generator, "discriminator": discriminator,
                "total": generator + discriminator}

    @classmethod
    def schedule(cls, size: str = "paper") -> Schedule:
        """The generator's schedule: Adam lr 5e-4, batch 64, 200 epochs (Paper E T 3167: "200
        epochs ... batch size of 64"; lr: the Social GAN reference default); ``size="tiny"``: 20
        epochs (ours). The discriminator's Adam (lr 5e-4) is the model's own."""
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
        epochs = 200 if size == "paper" else 20
        return Schedule(
            epochs=epochs, batch_size=64, lr=5e-4, optimizer="adam", lr_schedule="multistep",
            source=("Paper E T 3167 (200 epochs, batch 64, per data set) and the Social GAN "
                    "reference defaults (github.com/agrimgupta92/sgan scripts/train.py: Adam lr "
                    "5e-4 for G and D, d_steps 2); batch = 64 scene windows"
                    + ("; size='tiny': 20 epochs (ours)" if size == "tiny" else "")))
