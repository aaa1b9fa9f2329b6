"""Data policies: what the next generation trains on.

- :class:`Replace`: only the last generation's synthetic data (the loop of Shumailov
  et al., 2024, and the "replace" of Gerstgrasser et al., 2024).
- :class:`Accumulate`: the real data and every synthetic set so far (Gerstgrasser et
  al., "Is Model Collapse Inevitable?", COLM 2024), so the training set grows by M
  samples a generation.
- :class:`Mix`: a fixed fraction of every training set drawn at random, each generation,
  from the original real data; the rest synthetic (Shumailov et al. keep 10 %).
- :class:`FreshReal`: a fixed fraction of new real samples each generation, the rest
  synthetic (the "fresh data loop" of Alemohammad et al., "Self-consuming generative
  models go MAD", ICLR 2024).
- :class:`AccumulateSubsample`: a fixed-size random subset of the real data and every
  synthetic set so far (the third workflow of Kazdan et al., "Collapse or Thrive?
  Perils and Promises of Synthetic Data in a Self-Generating World", arXiv 2410.16713):
  accumulate's data at replace's cost per generation.

Each policy says how many synthetic samples a generation needs and builds the training
set from them. Policies know nothing about the model family beyond its summaries, so
every family shares them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .arrays import PointSet
from .families.categorical import Counts
from .validation import check_choice, check_fraction, check_int

#: The policies every chapter compares (chapters 3 and 5 validate their settings against these).
POLICY_NAMES = ("replace", "accumulate", "mix", "fresh")
#: Accumulate-subsample keeps every point it has seen, so chapters run it on their own terms.
SUBSAMPLE = "accumulate-subsample"
ALL_POLICY_NAMES = POLICY_NAMES + (SUBSAMPLE,)


def subset_points(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` of each chain's points, drawn without replacement with one call on ``rng``."""
    chains, n = points.shape[:2]
    keys = rng.random((chains, n))
    idx = np.argsort(keys, axis=1)[:, :k]
    idx = idx.reshape(idx.shape + (1,) * (points.ndim - 2))
    return np.take_along_axis(points, idx, axis=1)


@dataclass(frozen=True)
class Replace:
    """Train on the last synthetic set only."""

    name = "replace"

    def n_synthetic(self, samples: int) -> int:
        return samples

    def training_set(self, step):
        return step.synthetic


@dataclass(frozen=True)
class Accumulate:
    """Train on the real data plus all synthetic sets so far."""

    name = "accumulate"

    def n_synthetic(self, samples: int) -> int:
        return samples

    def training_set(self, step):
        return step.previous_training_set + step.synthetic


def _real_count(real_fraction: float, samples: int) -> int:
    return int(round(real_fraction * samples))


@dataclass(frozen=True)
class _WithRealData:
    """A fraction ``real_fraction`` of every training set is real; the rest synthetic.
    Subclasses say where the real points come from."""

    real_fraction: float = 0.1  # share of each training set that is real data

    def __post_init__(self):
        check_fraction("real_fraction", self.real_fraction)

    def n_synthetic(self, samples: int) -> int:
        return samples - _real_count(self.real_fraction, samples)

    def real_points(self, step, k: int) -> np.ndarray:
        raise NotImplementedError

    def training_set(self, step):
        k = _real_count(self.real_fraction, step.samples)
        if k == 0:
            return step.synthetic
        real = step.family.summarize(self.real_points(step, k))
        return real + step.synthetic if k < step.samples else real


@dataclass(frozen=True)
class Mix(_WithRealData):
    """A fraction ``real_fraction`` of every training set is original real data,
    a new random subset of it each generation."""

    name = "mix"

    def real_points(self, step, k: int) -> np.ndarray:
        return subset_points(step.real_points, k, step.rng_policy)


@dataclass(frozen=True)
class FreshReal(_WithRealData):
    """A fraction ``real_fraction`` of every training set is newly drawn real data."""

    name = "fresh"

    def real_points(self, step, k: int) -> np.ndarray:
        return step.source.sample(step.chains, k, step.rng_policy)


def make_policy(name: str, real_fraction: float = 0.1):
    """A policy by name: ``replace``, ``accumulate``, ``mix``, ``fresh`` or
    ``accumulate-subsample`` (whose training sets have M points, the size of the real data)."""
    check_choice("policy", name, ALL_POLICY_NAMES)
    if name == SUBSAMPLE:
        return AccumulateSubsample()
    if name == "replace":
        return Replace()
    if name == "accumulate":
        return Accumulate()
    if name == "mix":
        return Mix(real_fraction)
    return FreshReal(real_fraction)


# ------------------------------------------------------------------ accumulate-subsample
def choose_without_replacement(rng: np.random.Generator, chains: int, n: int, k: int) -> np.ndarray:
    """Indices (chains, k): for every chain a uniformly random k-subset of ``range(n)``
    (Floyd's algorithm, k calls on ``rng``, O(chains k^2) work whatever n)."""
    if not 0 <= k <= n:
        raise ValueError(f"k={k!r} is not allowed: a subset of {n} points has between 0 and {n} of them")
    out = np.empty((chains, k), dtype=np.int64)
    for i, j in enumerate(range(n - k, n)):
        r = rng.integers(0, j + 1, size=chains)
        taken = (out[:, :i] == r[:, None]).any(axis=1)
        out[:, i] = np.where(taken, j, r)
    return out


def hypergeometric_counts(rng: np.random.Generator, counts: np.ndarray, k: int) -> np.ndarray:
    """Counts (chains, K) of k items drawn without replacement from per-chain urns holding
    ``counts[c, j]`` items of outcome j (the multivariate hypergeometric law, drawn outcome
    by outcome with one call on ``rng`` each)."""
    counts = np.asarray(counts, dtype=np.int64)
    left, rest = np.full(counts.shape[0], k, dtype=np.int64), counts.sum(axis=1)
    out = np.zeros_like(counts)
    for j in range(counts.shape[1]):
        rest = rest - counts[:, j]
        out[:, j] = rng.hypergeometric(counts[:, j], rest, left)
        left = left - out[:, j]
    return out


class _PointPool:
    """Every chain's points so far (arrays (chains, n, ...) by field), in buffers that
    grow by half when full, so that adding M points a generation costs O(M) on average."""

    def __init__(self, arrays: dict):
        self.size = next(iter(arrays.values())).shape[1]
        self.buffers = {k: np.array(v) for k, v in arrays.items()}

    def add(self, arrays: dict) -> None:
        m = next(iter(arrays.values())).shape[1]
        for k, v in arrays.items():
            buf = self.buffers[k]
            if self.size + m > buf.shape[1]:
                grown = np.empty((buf.shape[0], max(3 * buf.shape[1] // 2, self.size + m)) + buf.shape[2:], buf.dtype)
                grown[:, :self.size] = buf[:, :self.size]
                self.buffers[k] = buf = grown
            buf[:, self.size:self.size + m] = v
        self.size += m

    def take(self, idx: np.ndarray) -> dict:
        """The points ``idx`` (chains, k) of every chain, as arrays (chains, k, ...)."""
        out = {}
        for k, buf in self.buffers.items():
            chains, cap = buf.shape[:2]
            flat = (idx + cap * np.arange(chains)[:, None]).ravel()
            out[k] = buf.reshape((chains * cap,) + buf.shape[2:])[flat].reshape(idx.shape + buf.shape[2:])
        return out


def _fields(points) -> dict:
    return {f.name: getattr(points, f.name) for f in fields(points)} if isinstance(points, PointSet) \
        else {"": np.asarray(points)}


@dataclass(frozen=True)
class AccumulateSubsample:
    """Train on ``train_size`` points drawn at random, without replacement and anew each
    generation, from the real data and every synthetic set so far (Kazdan et al.,
    arXiv 2410.16713, "accumulate-subsample"): the pool grows by M points a generation
    as under :class:`Accumulate`, while every fit sees as many points as under
    :class:`Replace`.

    A subset needs the points, not a summary, so the policy keeps the pool in memory:

    - families whose training sets are their points (:class:`~collapse_lib.arrays.PointSet`:
      the GMM, the VAE, the language model) add the engine's synthetic set as it is;
    - the categorical family pools counts, which is exact because answers of the same
      outcome cannot be told apart: the subset's counts are multivariate hypergeometric;
    - families that keep only a summary (the Gaussian, linear regression) cannot split
      the engine's summary, so the policy draws the generation's M synthetic points
      itself with the family's ``sample_points``, from the fit to the previous training
      set, and the engine's summary is unused.

    Every random draw (synthetic points where needed, then the subset) comes from the
    step's "policy" stream. The pool lives in this object: a run must start at generation
    1 (a run resumed from a store at a later generation is refused), and a new run
    starting at generation 1 empties it. Memory grows like (generations + 1) x M points
    per chain.
    """

    name = SUBSAMPLE
    train_size: int | None = None  # T: points in every training set; None: M, the size of the real data
    _pool: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.train_size is not None:
            check_int("train_size", self.train_size, minimum=1)

    def n_synthetic(self, samples: int) -> int:
        return samples

    def _synthetic(self, step):
        """The generation's synthetic set as points (or counts)."""
        syn = step.synthetic
        if isinstance(syn, (PointSet, Counts)):
            return syn
        sample_points = getattr(step.family, "sample_points", None)
        if sample_points is None:
            raise ValueError(f"policy={SUBSAMPLE!r} is not allowed with {type(step.family).__name__}: its training "
                             f"set {type(syn).__name__} is a summary that cannot be subsampled and the family has no "
                             "sample_points; use a family whose training set is its points or that samples points")
        params = step.family.fit(step.previous_training_set)
        return sample_points(params, syn.n, step.rng_policy)

    def training_set(self, step):
        pool, t = self._pool, step.generation
        T = self.train_size or step.samples
        if t == 1:
            pool.clear()
            real = step.family.summarize(step.real_points)
            if isinstance(real, Counts):
                pool["counts"] = np.array(real.counts)
            else:
                pool["points"] = _PointPool(_fields(real if isinstance(real, PointSet) else step.real_points))
                pool["kind"] = type(real) if isinstance(real, PointSet) else None
        elif pool.get("generation") != t - 1:
            raise ValueError(f"policy={SUBSAMPLE!r} cannot start at generation {t}: it keeps every generation's points "
                             "in memory, so a run resumed from a store is not allowed; run it from generation 1 "
                             "(without a store, or with an empty one)")
        syn = self._synthetic(step)
        if "counts" in pool:
            pool["counts"] = pool["counts"] + syn.counts
            n = int(pool["counts"][0].sum())
        else:
            pool["points"].add(_fields(syn))
            n = pool["points"].size
        if T > n:
            raise ValueError(f"train_size={T!r} is not allowed: generation {t}'s pool holds only {n} points per "
                             "chain; choose train_size <= 2 M")
        pool["generation"] = t
        if "counts" in pool:
            return Counts(hypergeometric_counts(step.rng_policy, pool["counts"], T))
        chosen = pool["points"].take(choose_without_replacement(step.rng_policy, step.chains, n, T))
        kind = pool["kind"]
        return kind(**chosen) if kind is not None else step.family.summarize(chosen[""])
