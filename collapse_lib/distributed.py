"""Independent runs of a chapter spread over processes with ``torch.distributed``.

    torchrun --nproc_per_node=N -m collapse_lib run lm --profile P --out DIR

The language-model and VAE chapters run several independent units (one engine run per
data regime or policy, each with its own chains, run store and random streams). Under
``torchrun`` (which sets ``RANK`` and ``WORLD_SIZE``) :func:`map_units` gives unit ``i``
to rank ``i mod N``; every rank writes its units' finished generations to their run
stores as a single process would, and the results are gathered so that rank 0 writes
``results.json`` and the figures. Each unit computes exactly what it computes in one
process, so the numbers are those of a single-process run. Work done once before the
units (building a tokenizer, pre-training a base model, which are cached on disk) runs
on rank 0 first (:func:`main_first`), and the other ranks then read it from the cache.

On CUDA every rank uses the GPU of its ``LOCAL_RANK`` and the NCCL backend; on the CPU,
gloo. Without ``torchrun`` everything here is a no-op and runs in the one process.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
U = TypeVar("U")


def world() -> tuple[int, int]:
    """``(rank, world size)`` of this process, starting the process group under torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def is_main() -> bool:
    """Whether this process writes the results (rank 0, or the only process)."""
    return world()[0] == 0


def barrier() -> None:
    if world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()


@contextmanager
def main_first():
    """Rank 0 runs the block first, then the other ranks (which find its cached files)."""
    rank, size = world()
    if size > 1 and rank != 0:
        barrier()
    yield
    if size > 1 and rank == 0:
        barrier()


def map_units(fn: Callable[[T], U], units: Sequence[T]) -> list[U]:
    """``[fn(u) for u in units]``, unit ``i`` computed on rank ``i mod N`` and every
    result gathered on every rank (pickled objects), in the order of ``units``."""
    rank, size = world()
    if size == 1:
        return [fn(u) for u in units]
    import torch.distributed as dist

    mine = {i: fn(u) for i, u in enumerate(units) if i % size == rank}
    gathered: list = [None] * size
    dist.all_gather_object(gathered, mine)
    merged = {i: r for part in gathered for i, r in part.items()}
    return [merged[i] for i in range(len(units))]


def finish() -> None:
    """End the process group, if one was started."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
