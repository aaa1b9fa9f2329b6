"""Closed forms of "A Tale of Tails" (Dohmatob et al., ICML 2024) for Zipf data.

A memorising learner (Hutter, 2021) trained on T samples of a distribution q errs on
the real mass of everything it has not seen: E[error] = sum_i p_i (1 - q_i)^T. With
q = p (real data) and p_i proportional to i^-beta, the error falls like T^-(1 - 1/beta).
If the training data come from a model whose tail is cut at rank k (top-k decoding),
the items beyond k are never seen and the error stops at a plateau equal to their mass,
sum_{i>k} p_i, which is about k^-(beta-1) / ((beta-1) zeta(beta)): more data no longer
help. "Loss of scaling" is the paper's name for it.
"""
from __future__ import annotations

import numpy as np
from scipy.special import zeta

from ..decoding import top_k_filter
from ..families.zipf import zipf_probs


def unseen_probability(train_probs, T) -> np.ndarray:
    """(1 - q_i)^T, the chance that outcome i is missing from T samples of q, as an
    array (len(T), len(q)); 0^0 = 1: before any sample every outcome is unseen, even a
    certain one. Computed as exp(T log1p(-q)), accurate for the tiny q of a long tail."""
    q = np.asarray(train_probs)
    T = np.atleast_1d(np.asarray(T, float))  # float: a T past 2^63 given as a Python int is still a number
    with np.errstate(divide="ignore", invalid="ignore"):  # log1p(-1) = -inf, and 0 * -inf at T = 0
        log_unseen = np.where(T[:, None] > 0, T[:, None] * np.log1p(-q), 0.0)
    return np.exp(log_unseen)


def memoriser_error(true_probs, train_probs, T) -> np.ndarray:
    """E[real mass unseen in T samples of ``train_probs``], for each T of an array."""
    return unseen_probability(train_probs, T) @ np.asarray(true_probs)


def memoriser_error_sd_bound(true_probs, train_probs, T) -> np.ndarray:
    """An upper bound on the standard deviation of one learner's error: the indicators
    "outcome i unseen" are negatively correlated under multinomial sampling
    ((1-q_i-q_j)^T <= (1-q_i)^T (1-q_j)^T), so Var(error) <= sum_i p_i^2 m_i (1 - m_i)
    with m_i = (1 - q_i)^T."""
    miss = unseen_probability(train_probs, T)
    return np.sqrt((miss * (1.0 - miss)) @ np.asarray(true_probs) ** 2)


def tail_cut_sd_bound(T, k: int | None, exponent: float, n_outcomes: int) -> np.ndarray:
    """:func:`memoriser_error_sd_bound` for the Zipf law cut at rank k."""
    p = zipf_probs(n_outcomes, exponent)
    q = p if k is None else top_k_filter(p, k)
    return memoriser_error_sd_bound(p, q, T)


def tail_cut_error(T, k: int | None, exponent: float, n_outcomes: int) -> np.ndarray:
    """Expected error after training on T samples of the Zipf law cut at rank k
    (``k=None``: real data, no cut)."""
    p = zipf_probs(n_outcomes, exponent)
    q = p if k is None else top_k_filter(p, k)
    return memoriser_error(p, q, T)


def plateau(k: int, exponent: float, n_outcomes: int) -> float:
    """The exact floor of the error under a cut at rank k: sum_{i>k} p_i."""
    return float(zipf_probs(n_outcomes, exponent)[k:].sum())


def plateau_asymptotic(k, exponent: float):
    """k^-(beta-1) / ((beta-1) zeta(beta)), the large-k form of the floor."""
    return np.asarray(k) ** (1.0 - exponent) / ((exponent - 1.0) * zeta(exponent))


def scaling_exponent(exponent: float) -> float:
    """c = 1 - 1/beta: without a cut the error falls like T^-c."""
    return 1.0 - 1.0 / exponent
