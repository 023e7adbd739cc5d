"""One explicit training loop for every host: read it top to bottom.

``train`` takes a model, a function computing the host's loss on a batch, an endless supply of
batches and the host's :class:`~vadlib.models.schedule.Schedule`. Each step adds the self-supervised
losses of any SSPCAB/SSMCTB blocks in the model, weighted by the papers' λ; the learning rate follows
the schedule's milestones; mixed precision is used on CUDA; the state is checkpointed through the
experiment's :class:`~vadlib.runs.experiment.RunContext`, so an interrupted run resumes where it stopped.
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
    and resume) dropping the last incomplete batch, the dataset's order otherwise."""
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn,
                                       generator=generator if shuffle else None,
                                       drop_last=shuffle and len(dataset) >= batch_size)


def endless(loader: Iterable) -> Iterator:
    """Batches of ``loader`` epoch after epoch."""
    for _ in itertools.count():
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training data are empty")


def train(model: nn.Module, loss_fn: LossFn, batches: Iterator, *, schedule: Schedule,
          total_steps: int, block_weight: float = 0.0, ctx=None, device: str = "cpu",
          checkpoint_every: int = 200, progress: bool = True, description: str = "train",
          on_step: Callable[[int, dict], dict | None] | None = None) -> list[dict]:
    """Optimise ``model`` for ``total_steps`` steps; returns one log dict per step.

    The loss of a step is ``loss_fn(batch)`` plus ``block_weight`` times the summed block losses
    of that forward pass (Eq. C.3 of Paper C: L = L_host + λ·L_block). ``on_step(step, logs)``
    runs after each step (e.g. an evaluation every few steps); a dict it returns joins that step's
    log.
    """
    model.to(device).train()
    optimizer, scheduler = make_optimizer(model, schedule, total_steps)
    use_amp = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
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
    for step in tqdm(range(start, total_steps), desc=description, disable=not progress,
                     initial=start, total=total_steps, leave=False):
        batch = next(batches)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
            loss, logs = loss_fn(batch)
            blocks = block_loss(model) if block_weight else torch.zeros((), device=loss.device)
            total = loss + block_weight * blocks
        if not torch.isfinite(total):
            raise FloatingPointError(f"non-finite loss at step {step}: {logs}")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        record = {"step": step, "loss": float(total.detach()), "host_loss": float(loss.detach()),
                  "block_loss": float(blocks.detach()), **logs}
        if on_step is not None:
            record.update(on_step(step, record) or {})
        history.append(record)
        if ctx is not None and (step + 1) % checkpoint_every == 0 and step + 1 < total_steps:
            ctx.save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                 "scheduler": scheduler.state_dict(), "history": history,
                                 "step": step + 1, "rng": _rng_state()})
    return history


def _rng_state() -> dict:
    """torch's CPU and CUDA generator states (tensors, so a weights-only checkpoint holds them)."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
