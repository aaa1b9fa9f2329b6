"""Categorical distributions refitted on their own samples.

The discrete case of Shumailov et al., "AI models collapse when trained on recursively
generated data" (Nature 631:755, 2024; arXiv 2305.17493, §3.1): a categorical model fitted
exactly (by counting) to M samples of the previous generation. The recursion is a Markov
chain whose only absorbing states are point masses; an outcome of probability q <= 1/M
expects fewer than one sample a generation and is soon lost.

The model samples with optional temperature, top-p and top-k decoding
(:mod:`collapse_lib.decoding`), which favour likely outcomes and speed collapse up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import ArrayRecord
from ..decoding import decode
from ..validation import check_int, check_positive, check_top_p


@dataclass
class Counts(ArrayRecord):
    """A training set seen through its counts: ``counts[c, k]`` for chain c, outcome k."""

    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts[0].sum())

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.counts + other.counts)


@dataclass
class CategoricalParams(ArrayRecord):
    """Fitted probabilities ``probs[c, k]``."""

    probs: np.ndarray


def labels_to_counts(labels: np.ndarray, n_outcomes: int) -> np.ndarray:
    """Per-chain counts of integer labels ``labels[c, i]`` in ``range(n_outcomes)``."""
    labels = np.asarray(labels)
    chains = labels.shape[0]
    flat = labels + n_outcomes * np.arange(chains)[:, None]
    return np.bincount(flat.ravel(), minlength=chains * n_outcomes).reshape(chains, n_outcomes)


@dataclass
class CategoricalFamily:
    """A categorical model over ``n_outcomes`` outcomes, fitted by counting (MLE).

    Sampling applies ``temperature``, ``top_k`` and ``top_p`` to the fitted
    probabilities before drawing (plain sampling is 1.0, None, 1.0).
    """

    n_outcomes: int
    temperature: float = 1.0  # < 1 favours likely outcomes
    top_p: float = 1.0  # nucleus mass kept, in (0, 1]
    top_k: int | None = None  # keep only the k most likely outcomes (tail cut at rank k)

    min_samples = 1
    Params = CategoricalParams
    Data = Counts

    def __post_init__(self):
        check_int("n_outcomes", self.n_outcomes, minimum=2)
        check_positive("temperature", self.temperature)
        check_top_p("top_p", self.top_p)
        if self.top_k is not None:
            check_int("top_k", self.top_k, minimum=1)

    def summarize(self, labels: np.ndarray) -> Counts:
        return Counts(labels_to_counts(labels, self.n_outcomes))

    def fit(self, data: Counts) -> CategoricalParams:
        counts = np.asarray(data.counts)  # integer counts divide into float64 without a copy first
        # einsum sums the short last axis several times faster than .sum(axis=1)
        return CategoricalParams(counts / np.einsum("ck->c", counts)[:, None])

    def sampling_probs(self, params: CategoricalParams) -> np.ndarray:
        """The distribution the model actually samples from, after decoding."""
        return decode(params.probs, self.temperature, self.top_p, self.top_k)

    def sample(self, params: CategoricalParams, n: int, rng: np.random.Generator) -> Counts:
        """The counts of n samples of every chain's decoded distribution, drawn directly
        (one multinomial per chain, with one call on ``rng``), never the samples themselves."""
        q = self.sampling_probs(params)
        if n == 0:
            return Counts(np.zeros_like(q, dtype=np.int64))
        return Counts(rng.multinomial(n, q))


@dataclass
class CategoricalSource:
    """The real distribution: the same ``probs`` for every chain, sampled plainly."""

    probs: np.ndarray

    def __post_init__(self):
        p = np.asarray(self.probs, dtype=float)
        if p.ndim != 1 or p.size < 2 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise ValueError(
                f"probs={self.probs!r} is not allowed: it must be a 1-D array of at least "
                "two non-negative probabilities that sum to 1"
            )
        self.probs = p

    def sample(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Labels (chains, n), drawn with one call on ``rng``."""
        u = rng.random((chains, n))
        cdf = np.cumsum(self.probs)
        cdf /= cdf[-1]  # ends at exactly 1 > u, so every label is below the number of outcomes
        return np.searchsorted(cdf, u, side="right")
