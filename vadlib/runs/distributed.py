"""Data-parallel training under ``torchrun``: the few facts :mod:`vadlib.runs.train` needs.

``torchrun --nproc_per_node N`` starts N copies of a program and tells each its place through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Without
those variables every helper here answers for a single process (rank 0 of 1) and changes nothing,
so a run outside torchrun computes exactly what it computed before.

Seed semantics. Every rank runs the same program with the same seeds, so models start identical
(DDP also broadcasts rank 0's weights) and every rank draws the same random numbers. A training
loader (:func:`vadlib.runs.train.data_loader` with ``shuffle=True``) draws the single-process
order from the same seeded generator on every rank, and each rank takes its own slice of every
batch (:class:`ShardedBatchSampler`): the ``batch_size`` a run asks for is the *global* batch,
each rank gets ``batch_size / world_size`` examples of it, and the global batch of a step is the
very set of examples the single-process run uses at that step, epoch after epoch. With losses
averaged over a batch, DDP's averaged gradient is then the single-process gradient (up to
floating-point summation order) exactly when the global batch divides evenly: ``batch_size`` is a
multiple of the world size and batches are full (training loaders drop the last incomplete one).
Evaluation loaders (``shuffle=False``) are not split: every rank sees the whole set.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, Sampler


def world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` of this process as torchrun set them; ``(0, 1, 0)``
    outside torchrun."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def is_distributed() -> bool:
    """Whether this process is one of several data-parallel ranks."""
    return world()[1] > 1


def is_main() -> bool:
    """Whether this process is rank 0: the one that writes checkpoints and shows progress."""
    return world()[0] == 0


def init_process_group_if_needed(device: str = "cpu") -> bool:
    """Join the process group of a torchrun launch (NCCL on CUDA, gloo on CPU) unless joined
    already; on CUDA, make this rank's GPU (``LOCAL_RANK``) the current one, so that ``"cuda"``
    means it. Returns whether the process is distributed; a single process does nothing."""
    if not is_distributed():
        return False
    _, _, local_rank = world()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # rank, world size and the rendezvous address come from the environment (init_method env://)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return True


def device_for(device: str) -> str:
    """``device`` pinned to this rank's GPU (``"cuda"`` -> ``"cuda:<LOCAL_RANK>"``) when
    distributed; unchanged otherwise."""
    if device == "cuda" and is_distributed():
        return f"cuda:{world()[2]}"
    return device


def wrap(module: nn.Module, device: str = "cpu", **ddp_options) -> nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` when distributed, else
    ``module`` itself. DDP averages gradients over the ranks during ``backward``, but only for the
    forward passes that go through the returned wrapper."""
    if not is_distributed():
        return module
    device_ids = [world()[2]] if device.startswith("cuda") else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, **ddp_options)


class ShardedBatchSampler(Sampler[list[int]]):
    """This rank's slice of every batch of ``batches``: rank r of W takes the r-th of W equal
    contiguous parts of each batch (see the module's seed semantics)."""

    def __init__(self, batches: BatchSampler, rank: int, world_size: int):
        if batches.batch_size % world_size:
            raise ValueError(f"batch size {batches.batch_size} does not divide among {world_size} ranks")
        self.batches, self.rank, self.world_size = batches, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            yield self.shard(batch)

    def __len__(self) -> int:
        return len(self.batches)

    def shard(self, batch: Sequence[int]) -> list[int]:
        size, extra = divmod(len(batch), self.world_size)
        if size == 0:
            raise ValueError(f"a batch of {len(batch)} examples cannot feed {self.world_size} ranks")
        # a short last batch (kept only when the data are smaller than a batch) splits as evenly as it can
        start = self.rank * size + min(self.rank, extra)
        return list(batch[start:start + size + (self.rank < extra)])


def shard_batches(batches: BatchSampler) -> BatchSampler | ShardedBatchSampler:
    """``batches`` sharded among the ranks when distributed, else ``batches`` itself."""
    rank, world_size, _ = world()
    return ShardedBatchSampler(batches, rank, world_size) if world_size > 1 else batches


def mean_over_ranks(values: Sequence[torch.Tensor]) -> list[float]:
    """The scalar ``values`` averaged over the ranks (one all-reduce), as floats; in a single
    process simply their floats."""
    if not is_distributed():
        return [float(v.detach()) for v in values]
    stacked = torch.stack([v.detach().double().reshape(()) for v in values])
    dist.all_reduce(stacked)
    return (stacked / world()[1]).tolist()
