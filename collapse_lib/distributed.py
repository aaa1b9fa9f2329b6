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

When the ranks outnumber the units of the language-model chapter, the ranks are dealt
to the units round-robin (:func:`unit_ranks`) and the ranks of one unit share out its
chains (:func:`chain_ranks`, :class:`ChainSplit`). Every rank of the unit runs the engine's
loop and draws every chain's random numbers, which cost nothing; only the expensive
work of a chain (fitting it, sampling from its model, scoring it) is done by the ranks
the chain is dealt to, and its results are gathered by all the unit's ranks before the
loop goes on. A chain computed by one rank gets exactly the numbers of one process. The
family knows nothing of ranks: it fits, samples and scores every chain through per-chain
operations, and :func:`shared` wraps it so that, inside a split unit, its ``fit``,
``sample`` and scores run this rank's chains and gather the others'.
Chains left over when the ranks outnumber them (two chains on four ranks, or the fifth
chain on four) run on a data-parallel :class:`Group` of ranks: they hold the same model,
split each optimizer step's micro-batches and each generation's continuations between
them, and sum the gradients and gather the continuations. Those numbers are those of
one process up to the order of floating-point sums (and the dropout masks of a model
with dropout, which come from each rank's own stream).

The VAE chapter's chains are not shared out (``map_units`` without ``chains``): they
train together in one vectorised loop, which costs about one chain's time, and a loop
over fewer chains rounds differently (the last bits of a weight at first, which training
over generations grows), so its ranks beyond its runs idle.

On CUDA every rank uses the GPU of its ``LOCAL_RANK`` and the NCCL backend; on the CPU,
gloo. Without ``torchrun`` everything here is a no-op and runs in the one process.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

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
        if self.size == 1:
            return tensor
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=self.handle)
        return tensor

    def gather(self, obj) -> list:
        """Every rank's ``obj`` (pickled), in rank order, on every rank of the group."""
        if self.size == 1:
            return [obj]
        import torch.distributed as dist

        out: list = [None] * self.size
        dist.all_gather_object(out, obj, group=self.handle)
        return out


@dataclass(frozen=True)
class ChainSplit:
    """How the ranks of one unit share out its chains (:func:`chain_ranks`)."""

    unit: Group  # all the ranks of the unit; this rank's place in it is ``unit.rank``
    ranks: tuple  # per chain, the places (in ``unit``) of the ranks that compute it
    groups: dict  # chain -> data-parallel Group, for this rank's chains computed by several ranks

    @classmethod
    def alone(cls, chains: int) -> "ChainSplit":
        """Every chain on this one rank (one process, or a unit a rank runs by itself)."""
        return cls(Group(None, 0, 1), ((0,),) * chains, {})

    @property
    def chains(self) -> int:
        return len(self.ranks)

    def check(self, chains: int) -> None:
        if chains != self.chains:
            raise ValueError(f"chains={chains!r} is not allowed here: the unit was split for {self.chains} chains")

    def mine(self) -> list[int]:
        """The chains this rank computes, in order."""
        return [c for c, r in enumerate(self.ranks) if self.unit.rank in r]

    def group(self, chain: int) -> Group | None:
        """The data-parallel group of ``chain`` (one of :meth:`mine`), or None if this rank
        computes it alone."""
        return self.groups.get(chain)

    def leads(self, chain: int) -> bool:
        """Whether this rank reports ``chain`` (the first of its ranks)."""
        return self.ranks[chain][0] == self.unit.rank

    def collect(self, part: dict) -> dict:
        """The union of every rank's ``part`` (keys must not clash), on every rank of the unit."""
        merged: dict = {}
        for p in self.unit.gather(part):
            merged.update(p)
        return merged


_SPLIT: ContextVar[ChainSplit | None] = ContextVar("chain_split", default=None)


def chain_split() -> ChainSplit | None:
    """How the unit being computed shares out its chains, or None (this rank computes them all)."""
    return _SPLIT.get()


@contextmanager
def splitting(split: ChainSplit | None):
    """Run the block with ``split`` as the unit's :func:`chain_split` (in this thread)."""
    token = _SPLIT.set(split)
    try:
        yield split
    finally:
        _SPLIT.reset(token)


class Shared:
    """A family whose chains are shared out among the ranks of the unit being computed
    (:func:`shared`); every other attribute is the family's.

    The family provides per-chain operations (those of
    :class:`collapse_lib.families.lm.LMFamily`): ``fit_chain(data, c, group, save)`` and
    ``join_params(rows)``; ``draw_prompts(chains, n, rng)``, the random numbers of every
    chain drawn at once, and ``sample_chain(params, c, row)`` on a chain's row of them or a
    share of it; ``perplexity(params, c, blocks)`` and ``sequence_perplexity(params, c,
    blocks)``. Every rank draws every chain's numbers as one process does, so a chain
    computed here gets exactly one process's numbers."""

    def __init__(self, family, split: ChainSplit | None = None):
        self.family, self.split = family, split  # None: every chain on this rank

    def __getattr__(self, name):
        return getattr(self.family, name)

    @property
    def ranks(self) -> int:
        """Processes that compute the unit."""
        return 1 if self.split is None else self.split.unit.size

    def _share(self, chains: int) -> ChainSplit:
        if self.split is None:
            return ChainSplit.alone(chains)
        self.split.check(chains)
        return self.split

    def fit(self, data):
        """Every chain's parameters: this rank fits its chains (a leftover one data-parallel
        with its group), and the leaders' results are gathered."""
        split, done = self._share(data.chains), {}
        for c in split.mine():
            # the ranks of a data-parallel group hold the same weights: the first writes them
            row = self.family.fit_chain(data, c, split.group(c), save=split.leads(c))
            if split.leads(c):
                done[c] = row
        done = split.collect(done)  # after it, every chain's checkpoint is on disk
        return self.family.join_params([done[c] for c in range(data.chains)])

    def sample(self, params, n: int, rng):
        """Every chain's samples: the prompts of all chains drawn here as in one process,
        this rank's chains continued (a data-parallel chain's share of its prompts), and
        every continuation gathered."""
        idx = self.family.draw_prompts(params.chains, n, rng)
        split, parts = self._share(params.chains), {}
        for c in split.mine():
            group = split.group(c)
            share = slice(0, n) if group is None else group.shard(n)
            parts[c, share.start] = self.family.sample_chain(params, c, idx[c, share])
        parts = split.collect(parts)
        width = self.family.block_size
        return self.family.summarize(np.stack([
            np.concatenate([np.asarray(parts[k]).reshape(-1, width) for k in sorted(k for k in parts if k[0] == c)])
            for c in range(params.chains)]))

    def each(self, fn: Callable[[int], U], chains: int) -> list[U]:
        """``[fn(c) for c in range(chains)]``, each chain's ``fn`` run by the rank that leads
        it and the results gathered on every rank."""
        split = self._share(chains)
        merged = split.collect({c: fn(c) for c in split.mine() if split.leads(c)})
        return [merged[c] for c in range(chains)]

    def perplexities(self, params, blocks):
        """(C,) every chain's perplexity of ``blocks``, each computed by its leading rank."""
        return np.array(self.each(lambda c: self.family.perplexity(params, c, blocks), params.chains))

    def sequence_perplexities(self, params, tokens):
        """(C, n) every chain's per-block perplexities of ``tokens[c]``, each computed by its
        leading rank."""
        return np.stack(self.each(lambda c: self.family.sequence_perplexity(params, c, tokens[c]), params.chains))


def shared(family) -> Shared:
    """``family`` with its chains shared out among the ranks of the unit being computed
    (:func:`chain_split`, set by :func:`map_units`); outside a split unit (one process, or
    a unit on one rank) every chain runs here, through the same per-chain operations."""
    return Shared(family, chain_split())


def unit_ranks(units: int, size: int) -> list[list[int]]:
    """The ranks of each unit: unit ``i`` runs on the ranks ``r`` with ``r mod units == i``
    when the ranks outnumber the units (a group per unit), else on rank ``i mod size``."""
    if units < 1:
        return []
    if size <= units:
        return [[i % size] for i in range(units)]
    return [list(range(i, size, units)) for i in range(units)]


def chain_ranks(chains: int, size: int) -> list[list[int]]:
    """Which of a unit's ``size`` ranks compute each of its ``chains``.

    Whole rounds of chains are dealt one a rank (chain ``c`` on rank ``c mod size``);
    the ``chains mod size`` chains left over each get a data-parallel group of the ranks
    (:func:`unit_ranks`), so that no rank idles: ``chain_ranks(5, 4)`` is
    ``[[0], [1], [2], [3], [0, 1, 2, 3]]`` and ``chain_ranks(2, 4)`` is ``[[0, 2], [1, 3]]``."""
    if chains < 1 or size < 1:
        return []
    whole = chains - chains % size
    return [[c % size] for c in range(whole)] + unit_ranks(chains - whole, size)


def map_units(fn: Callable[[T], U], units: Sequence[T], *, chains: int | None = None, desc: str | None = None,
              progress: bool | None = None) -> list[U]:
    """``[fn(u) for u in units]``, unit ``i`` computed on rank ``i mod N`` and every
    result gathered on every rank (pickled objects), in the order of ``units``. With
    ``desc``, one process shows a progress bar over the units (``progress``: as
    :func:`collapse_lib.progress.progress`).

    With more ranks than units and ``chains`` given, each unit runs on a group of ranks
    (:func:`unit_ranks`) that share out its chains (:func:`chain_ranks`; ``fn`` sees how
    through :func:`chain_split`), and the group's first rank reports the unit. Without
    ``chains`` (a unit whose chains cannot be shared out), the ranks beyond the units idle."""
    rank, size = world()
    if size == 1:
        if desc is None:
            return [fn(u) for u in units]
        from .progress import progress as bar

        return [fn(u) for u in bar(units, desc=desc, enabled=progress)]
    import torch.distributed as dist

    if size > len(units) > 0 and chains is not None:
        members = unit_ranks(len(units), size)
        mine_unit = rank % len(units)
        split = None
        for i, m in enumerate(members):  # every rank takes part in creating every group
            plan = chain_ranks(chains, len(m))
            unit = Group(dist.new_group(m) if len(m) > 1 else None, m.index(rank) if rank in m else -1, len(m))
            groups = {}
            for c, places in enumerate(plan):
                if len(places) > 1:
                    handle = dist.new_group([m[j] for j in places])
                    if i == mine_unit and unit.rank in places:
                        groups[c] = Group(handle, places.index(unit.rank), len(places))
            if i == mine_unit:
                split = ChainSplit(unit, tuple(tuple(p) for p in plan), groups)
        with splitting(split):
            result = fn(units[mine_unit])
        mine = {mine_unit: result} if split.unit.rank == 0 else {}
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
