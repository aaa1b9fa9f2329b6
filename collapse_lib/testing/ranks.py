"""Ranks of :mod:`collapse_lib.distributed` played by threads of one process.

The tests check what a split unit or a data-parallel group computes without starting
processes: each rank is a thread, and the collectives (``sum_``, ``gather``) go through
shared memory, in rank order on every member, as ``all_reduce`` and
``all_gather_object`` do. Processes under ``torchrun`` are tested in
``tests/test_distributed.py``.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from ..distributed import ChainSplit, chain_ranks, splitting


class ThreadGroup:
    """A group of ``size`` ranks played by threads: :meth:`member` is rank ``rank``'s
    stand-in for :class:`collapse_lib.distributed.Group`. ``calls[r]`` counts rank r's
    collectives."""

    def __init__(self, size: int, timeout: float = 60):
        self.size, self.slots = size, [None] * size
        self.barrier = threading.Barrier(size, timeout=timeout)
        self.calls = [0] * size

    def _exchange(self, rank: int, value) -> list:
        self.calls[rank] += 1
        self.slots[rank] = value
        self.barrier.wait()
        values = list(self.slots)
        self.barrier.wait()  # every member has read the slots before any is reused
        return values

    def member(self, rank: int) -> "ThreadMember":
        return ThreadMember(self, rank)


class ThreadMember:
    """One rank of a :class:`ThreadGroup` (what a unit's code sees as its Group)."""

    def __init__(self, group: ThreadGroup, rank: int):
        self.group, self.rank, self.size = group, rank, group.size

    def shard(self, n: int) -> slice:
        from ..distributed import Group

        return Group(None, self.rank, self.size).shard(n)

    def sum_(self, tensor):
        values = self.group._exchange(self.rank, tensor.detach().clone())
        total = values[0].clone()
        for t in values[1:]:
            total += t
        tensor.copy_(total)
        return tensor

    def gather(self, obj) -> list:
        return self.group._exchange(self.rank, obj)


def thread_splits(chains: int, size: int) -> list[ChainSplit]:
    """The :class:`ChainSplit` of each of ``size`` thread-played ranks of one unit, as
    :func:`collapse_lib.distributed.map_units` builds them for processes."""
    plan = chain_ranks(chains, size)
    unit = ThreadGroup(size)
    chain_groups = {c: ThreadGroup(len(p)) for c, p in enumerate(plan) if len(p) > 1}
    return [ChainSplit(unit.member(r), tuple(tuple(p) for p in plan),
                       {c: g.member(plan[c].index(r)) for c, g in chain_groups.items() if r in plan[c]})
            for r in range(size)]


def run_ranks(fn: Callable[[int], Any], splits: list[ChainSplit]) -> list:
    """``fn(rank)`` on one thread per rank, each inside its split (:func:`splitting`);
    returns the results in rank order and raises the first error of any rank."""
    results, errors = [None] * len(splits), []

    def rank(r):
        try:
            with splitting(splits[r]):
                results[r] = fn(r)
        except BaseException as e:  # raised below, in the caller's thread
            errors.append(e)
            for s in splits:  # the other ranks stop waiting for this one
                for member in (s.unit, *s.groups.values()):
                    member.group.barrier.abort()

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(len(splits))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
