"""Closed forms for a categorical model refitted on M of its own samples.

Shumailov et al. (2024, §3.1, discrete distributions): with plain sampling and exact
fitting, the count of one outcome of probability q follows a Wright-Fisher chain:
generation 0 sees K_0 ~ Binomial(M, q) real samples and generation g sees
K_g ~ Binomial(M, K_{g-1}/M). The only absorbing states are 0 (lost) and M (taken over);
E[K_g/M] = q for every g, so an outcome that survives to generation g has, on average,
probability q / P(survived): the rare item that survives by chance is over-represented.

Valid for plain sampling (temperature 1, no top-p/top-k) and the *replace* policy.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binom

from ..validation import check_fraction, check_int


def wright_fisher(q: float, M: int, generations: int) -> np.ndarray:
    """P(K_g = j) for g = 0..generations and j = 0..M, an array (generations+1, M+1)."""
    q = check_fraction("q", q)
    M = check_int("M", M, minimum=1)
    generations = check_int("generations", generations, minimum=0)
    j = np.arange(M + 1)
    transition = binom.pmf(j[None, :], M, j[:, None] / M)  # rows: from, columns: to
    dist = np.empty((generations + 1, M + 1))
    dist[0] = binom.pmf(j, M, q)
    for g in range(1, generations + 1):
        dist[g] = dist[g - 1] @ transition
    return dist


def survival_probability(q: float, M: int, generations: int) -> np.ndarray:
    """P(the outcome is still present at generation g), g = 0..generations."""
    return 1.0 - wright_fisher(q, M, generations)[:, 0]


def one_generation_loss(q: float, M: int) -> float:
    """(1 - q)^M: the chance that M samples miss an outcome of probability q."""
    return float((1.0 - check_fraction("q", q)) ** M)


def conditional_mean_probability(q: float, M: int, generations: int) -> np.ndarray:
    """E[p_g | outcome alive at g] = q / P(alive at g)."""
    return q / survival_probability(q, M, generations)


def expected_surviving(probs, M: int, generations: int) -> np.ndarray:
    """Expected number of outcomes still present at each generation."""
    return sum(survival_probability(float(q), M, generations) for q in np.asarray(probs) if q > 0)
