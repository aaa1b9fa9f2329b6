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

Each policy says how many synthetic samples a generation needs and builds the training
set from them. Policies know nothing about the model family beyond its summaries, so
every family shares them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_choice, check_fraction

POLICY_NAMES = ("replace", "accumulate", "mix", "fresh")


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
    """A policy by name: ``replace``, ``accumulate``, ``mix`` or ``fresh``."""
    check_choice("policy", name, POLICY_NAMES)
    if name == "replace":
        return Replace()
    if name == "accumulate":
        return Accumulate()
    if name == "mix":
        return Mix(real_fraction)
    return FreshReal(real_fraction)
