"""One explicit training loop for every host: read it top to bottom.

``train`` takes a model, a function computing the host's loss on a batch, an endless supply of
batches and the host's :class:`~vadlib.models.schedule.Schedule`. Each step adds the self-supervised
losses of any SSPCAB/SSMCTB blocks in the model, weighted by the papers' λ; the learning rate follows
the schedule's milestones; mixed precision is used on CUDA (bf16 where the GPU supports it, else
float16 with a gradient scaler); the state is checkpointed through the experiment's
:class:`~vadlib.runs.experiment.RunContext`, so an interrupted run resumes where it stopped.

Under ``torchrun`` the same loop trains data-parallel (DDP): each rank takes its slice of every
batch, gradients are averaged over the ranks, and only rank 0 checkpoints and shows progress. The
seed semantics are those of :mod:`vadlib.runs.distributed`; a single process computes exactly
what it computed before.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn
from tqdm.auto import tqdm

from vadlib.models.blocks import block_loss
from vadlib.models.schedule import Schedule
from vadlib.runs import distributed

LossFn = Callable[[Any], tuple[torch.Tensor, dict[str, float]]]


def make_optimizer(model: nn.Module, schedule: Schedule, total_steps: int):
    """The schedule's optimizer, and a step-wise LR scheduler placing its milestones at the given
    fractions of ``total_steps`` (so a shortened schedule keeps the official shape)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if schedule.optimizer == "adam":
        optimizer = torch.optim.Adam(parameters, lr=schedule.lr, betas=schedule.betas,
                                     weight_decay=schedule.weight_decay)
    elif schedule.optimizer == "adamw":
        # no weight decay on biases and normalisation weights (1-d tensors), as MAE/timm do
        groups = [{"params": [p for p in parameters if p.ndim > 1], "weight_decay": schedule.weight_decay},
                  {"params": [p for p in parameters if p.ndim <= 1], "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=schedule.lr, betas=schedule.betas)
    elif schedule.optimizer == "sgd":
        optimizer = torch.optim.SGD(parameters, lr=schedule.lr, momentum=schedule.momentum,
                                    weight_decay=schedule.weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {schedule.optimizer!r}")
    warmup = min(int(round(schedule.warmup_fraction * total_steps)), max(total_steps - 1, 0))
    main_steps = max(total_steps - warmup, 1)
    if schedule.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=main_steps, eta_min=schedule.min_lr)
    elif schedule.lr_schedule == "multistep":
        milestones = sorted({max(1, math.floor(f * main_steps)) for f in schedule.milestones})
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=schedule.gamma)
    else:
        raise ValueError(f"lr_schedule must be 'multistep' or 'cosine', got {schedule.lr_schedule!r}")
    if warmup:
        # step k of the warm-up runs at (k + 1) / warmup of the rate, reaching it at the last one
        ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, total_iters=max(warmup - 1, 1))
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, scheduler], milestones=[warmup])
    return optimizer, scheduler


def scaled_steps(epochs: int, steps_per_epoch: int, epoch_fraction: float, max_steps: int | None) -> int:
    """Optimisation steps of a run: the official ``epochs`` × ``steps_per_epoch``, scaled by the
    profile's ``epoch_fraction`` (at least one step), capped by ``max_steps``."""
    steps = max(1, math.ceil(epochs * epoch_fraction * steps_per_epoch))
    return min(steps, max_steps) if max_steps else steps


def data_loader(dataset, batch_size: int, shuffle: bool = False, seed: int = 0, collate_fn=None):
    """The DataLoader of every run: a seeded shuffle when training (the same order on every rerun
    and resume) dropping the last incomplete batch, the dataset's order otherwise.

    Under torchrun a training loader gives each rank its slice of every batch of the
    single-process order, ``batch_size`` being the global batch (see :mod:`vadlib.runs.distributed`);
    an evaluation loader (``shuffle=False``) gives every rank the whole dataset."""
    generator = torch.Generator().manual_seed(seed)
    drop_last = shuffle and len(dataset) >= batch_size
    if shuffle and distributed.is_distributed():
        # the sampler and batches DataLoader(shuffle=True) builds, then this rank's part of each batch
        batches = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(dataset, generator=generator),
                                                batch_size, drop_last)
        return torch.utils.data.DataLoader(dataset, batch_sampler=distributed.shard_batches(batches),
                                           collate_fn=collate_fn, generator=generator)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn,
                                       generator=generator if shuffle else None, drop_last=drop_last)


def endless(loader: Iterable) -> Iterator:
    """Batches of ``loader`` epoch after epoch."""
    for _ in itertools.count():
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training data are empty")


def autocast_dtype(device: str) -> torch.dtype | None:
    """The mixed-precision type of training on ``device``: bfloat16 on a CUDA GPU that supports it,
    float16 (with a gradient scaler) on an older one, none on the CPU."""
    if not device.startswith("cuda"):
        return None
    # bf16 in hardware (Ampere on); emulated bf16 on an older GPU would be slower than float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


class _Step(nn.Module):
    """The loss of one step as the forward pass of a module holding the model: DDP averages the
    gradients of forward passes through its wrapper only, and a host's loss calls its own methods
    (``host.training_loss``), not ``forward``."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, block_weight: float):
        super().__init__()
        self.model, self.loss_fn, self.block_weight = model, loss_fn, block_weight

    def forward(self, batch):
        loss, logs = self.loss_fn(batch)
        blocks = block_loss(self.model) if self.block_weight else torch.zeros((), device=loss.device)
        return loss + self.block_weight * blocks, loss, blocks, logs


def train(model: nn.Module, loss_fn: LossFn, batches: Iterator, *, schedule: Schedule,
          total_steps: int, block_weight: float = 0.0, ctx=None, device: str = "cpu",
          checkpoint_every: int = 200, progress: bool = True, description: str = "train",
          on_step: Callable[[int, dict], dict | None] | None = None) -> list[dict]:
    """Optimise ``model`` for ``total_steps`` steps; returns one log dict per step.

    The loss of a step is ``loss_fn(batch)`` plus ``block_weight`` times the summed block losses
    of that forward pass (Eq. C.3 of Paper C: L = L_host + λ·L_block). ``on_step(step, logs)``
    runs after each step (e.g. an evaluation every few steps); a dict it returns joins that step's
    log.

    Under torchrun every rank calls ``train`` with its own loader (``data_loader`` gives it its
    slice of each batch); all ranks resume from the checkpoint, rank 0 alone writes it and shows
    progress, and each step's logged losses are averaged over the ranks (``logs`` from
    ``loss_fn`` and ``on_step`` stay the rank's own).
    """
    distributed.init_process_group_if_needed(device)
    device = distributed.device_for(device)
    model.to(device).train()
    optimizer, scheduler = make_optimizer(model, schedule, total_steps)
    amp_dtype = autocast_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)  # bf16 needs no scaling
    history: list[dict] = []
    start = 0
    state = ctx.load_checkpoint() if ctx is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start = state["history"], state["step"]
        for _ in range(start):  # keep the data order of an uninterrupted run
            next(batches)
        # and its random numbers (augmentations, masks, dropout) from the checkpointed step on
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    # DDP starts every rank from rank 0's weights, and averages the gradients of each backward
    # (some hosts leave a parameter out of a step's loss, hence find_unused_parameters)
    step_loss = distributed.wrap(_Step(model, loss_fn, block_weight), device, find_unused_parameters=True)
    for step in tqdm(range(start, total_steps), desc=description, disable=not progress or not distributed.is_main(),
                     initial=start, total=total_steps, leave=False):
        batch = next(batches)
        with torch.autocast(device_type="cuda", dtype=amp_dtype or torch.float16, enabled=amp_dtype is not None):
            total, loss, blocks, logs = step_loss(batch)
        # one all-reduce: every rank sees the same values, so a non-finite loss stops all of them
        total_value, loss_value, blocks_value = distributed.mean_over_ranks([total, loss, blocks])
        if not math.isfinite(total_value):
            raise FloatingPointError(f"non-finite loss at step {step}: {logs}")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        record = {"step": step, "loss": total_value, "host_loss": loss_value, "block_loss": blocks_value, **logs}
        if on_step is not None:
            record.update(on_step(step, record) or {})
        history.append(record)
        if (ctx is not None and distributed.is_main() and (step + 1) % checkpoint_every == 0
                and step + 1 < total_steps):
            ctx.save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                 "scheduler": scheduler.state_dict(), "history": history,
                                 "step": step + 1, "rng": _rng_state()})
    return history


def _rng_state() -> dict:
    """torch's CPU and CUDA generator states (tensors, so a weights-only checkpoint holds them)."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
