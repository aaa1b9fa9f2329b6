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

When the ranks outnumber the units, the ranks are dealt to the units round-robin and the
ranks of one unit form a data-parallel :class:`Group`: they hold the same models, split
each optimizer step's micro-batches and each generation's continuations between them,
and sum the gradients and gather the continuations (:func:`data_parallel` tells the
code inside a unit which group it runs in). The numbers are then those of one process
up to the order of floating-point sums (and the dropout masks of a model with dropout,
which come from each rank's own stream); only the group's first rank reports the unit.

On CUDA every rank uses the GPU of its ``LOCAL_RANK`` and the NCCL backend; on the CPU,
gloo. Without ``torchrun`` everything here is a no-op and runs in the one process.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

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


@dataclass(frozen=True)
class Group:
    """The ranks that run one unit together, data-parallel."""

    handle: Any  # the torch.distributed process group
    rank: int  # this process's place in the group, 0..size-1
    size: int  # ranks in the group

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` items (the first ``n % size`` ranks take
        one more)."""
        q, r = divmod(int(n), self.size)
        start = self.rank * q + min(self.rank, r)
        return slice(start, start + q + (self.rank < r))

    def sum_(self, tensor):
        """Sum ``tensor`` over the group, in place on every rank; returns it."""
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=self.handle)
        return tensor

    def gather(self, obj) -> list:
        """Every rank's ``obj`` (pickled), in rank order, on every rank of the group."""
        import torch.distributed as dist

        out: list = [None] * self.size
        dist.all_gather_object(out, obj, group=self.handle)
        return out


_GROUP: Group | None = None


def data_parallel() -> Group | None:
    """The data-parallel group of the unit being computed, or None (a unit of its own)."""
    return _GROUP


def unit_ranks(units: int, size: int) -> list[list[int]]:
    """The ranks of each unit: unit ``i`` runs on the ranks ``r`` with ``r mod units == i``
    when the ranks outnumber the units (a group per unit), else on rank ``i mod size``."""
    if units < 1:
        return []
    if size <= units:
        return [[i % size] for i in range(units)]
    return [list(range(i, size, units)) for i in range(units)]


def map_units(fn: Callable[[T], U], units: Sequence[T]) -> list[U]:
    """``[fn(u) for u in units]``, unit ``i`` computed on rank ``i mod N`` and every
    result gathered on every rank (pickled objects), in the order of ``units``. With more
    ranks than units, each unit runs on a data-parallel :class:`Group` of ranks
    (:func:`unit_ranks`) and the group's first rank reports it."""
    global _GROUP
    rank, size = world()
    if size == 1:
        return [fn(u) for u in units]
    import torch.distributed as dist

    if size > len(units) > 0:
        members = unit_ranks(len(units), size)
        handles = [dist.new_group(m) for m in members]  # every rank takes part in creating every group
        i = rank % len(units)
        group = Group(handles[i], members[i].index(rank), len(members[i]))
        _GROUP = group
        try:
            result = fn(units[i])
        finally:
            _GROUP = None
        mine = {i: result} if group.rank == 0 else {}
    else:
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
