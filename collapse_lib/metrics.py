"""Distances and summaries used to measure collapse, vectorised over chains.

Shumailov et al. (2024) measure the Gaussian case by the Wasserstein-2 distance to the
original distribution and the discrete case by lost outcomes; entropy, KL divergence and
total variation make the loss of tails visible for any categorical model, and the
"unseen mass" is the test error of a memorising learner ("A Tale of Tails").
"""
from __future__ import annotations

import numpy as np


def w2_squared_gaussian(mean1, cov1, mean2, cov2) -> np.ndarray:
    """Squared Wasserstein-2 distance between Gaussians, batched on the leading axes.

    W2^2 = |m1 - m2|^2 + tr(S1 + S2 - 2 (S2^1/2 S1 S2^1/2)^1/2). Means have shape
    (..., d) and covariances (..., d, d).
    """
    from .families.gaussian import psd_sqrt

    mean1, mean2 = np.asarray(mean1, float), np.asarray(mean2, float)
    cov1, cov2 = np.asarray(cov1, float), np.asarray(cov2, float)
    shape = np.broadcast_shapes(cov1.shape, cov2.shape)
    c1 = np.broadcast_to(cov1, shape).reshape(-1, shape[-2], shape[-1])
    c2 = np.broadcast_to(cov2, shape).reshape(-1, shape[-2], shape[-1])
    r2 = psd_sqrt(c2)
    cross = psd_sqrt(r2 @ c1 @ r2)
    bures = np.trace(c1 + c2 - 2 * cross, axis1=1, axis2=2).reshape(shape[:-2])
    return np.sum((mean1 - mean2) ** 2, axis=-1) + np.clip(bures, 0.0, None)


def surviving(counts_or_probs) -> np.ndarray:
    """Number of outcomes with non-zero count or probability, per chain."""
    return np.count_nonzero(np.asarray(counts_or_probs) > 0, axis=-1)


def tail_mass(probs, tail) -> np.ndarray:
    """Probability the model gives to the outcomes ``tail`` (indices or a mask)."""
    probs = np.asarray(probs, dtype=float)
    return probs[..., tail].sum(axis=-1)


def entropy(probs, base: float = 2.0) -> np.ndarray:
    """Shannon entropy of the last axis (bits by default); 0 log 0 = 0."""
    p = np.asarray(probs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=-1) / np.log(base)


def kl_divergence(p, q) -> np.ndarray:
    """KL(p || q) in nats; infinite where q lost an outcome that p has."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=-1)


def total_variation(p, q) -> np.ndarray:
    """Total variation distance, half the L1 distance of the last axis."""
    return 0.5 * np.abs(np.asarray(p, float) - np.asarray(q, float)).sum(axis=-1)


def unseen_mass(true_probs, counts) -> np.ndarray:
    """Real probability mass of the outcomes a learner never saw in training.

    The test error of Hutter's memorising learner (used by "A Tale of Tails").
    """
    return np.where(np.asarray(counts) == 0, np.asarray(true_probs, float), 0.0).sum(axis=-1)


def gaussian_pdf_1d(x, mean, var) -> np.ndarray:
    """Densities of N(mean, var) on a grid ``x``; ``mean``/``var`` broadcast on the left."""
    mean = np.asarray(mean, float)[..., None]
    var = np.clip(np.asarray(var, float)[..., None], 1e-300, None)
    return np.exp(-0.5 * (np.asarray(x) - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)


def total_variation_density(pdf_a, pdf_b, dx: float) -> np.ndarray:
    """Total variation between two densities sampled on a uniform grid of step dx."""
    return 0.5 * np.abs(np.asarray(pdf_a) - np.asarray(pdf_b)).sum(axis=-1) * dx
