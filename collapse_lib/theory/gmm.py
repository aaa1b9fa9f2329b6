"""Why a refitted Gaussian mixture collapses, and at what pace.

When the components of a mixture are well separated, EM assigns every sample to the
component that drew it, and generation t's fit is, component by component, a
maximum-likelihood Gaussian fitted to the N_k points that component k drew, with
N_k ~ Binomial(M, w_k). Two things follow (Shumailov et al., Nature 2024, §3, applied
per component):

- the weights perform a Wright-Fisher random walk: a cluster is lost for good once
  it draws no point, on a time scale proportional to M;
- each component's log-determinant falls like a single refitted Gaussian's: given
  N_k = N, one fit adds log(X_1 ... X_d / N^d) with independent X_i ~ chi2_{N-i}
  (the Bartlett decomposition of the Wishart scatter matrix), whose mean is
  sum_i (digamma((N-i)/2) + log 2 - log N) ~ -d(d+3)/(2N) and whose variance is
  sum_i trigamma((N-i)/2).

Both paces are proportional to 1/M: M times fewer samples, M times fewer generations.
"""
from __future__ import annotations

import numpy as np
from scipy.special import digamma, polygamma


def _counts(n, dim: int) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    if np.any(n < dim + 1):
        raise ValueError(f"n={n.min()!r} is not allowed: a {dim}-dimensional covariance needs at least {dim + 1} points")
    return n


def log_det_step_mean(n, dim: int) -> np.ndarray:
    """E[log det S_new - log det S_old] for one maximum-likelihood fit to n points."""
    n = _counts(n, dim)
    return sum(digamma((n - i) / 2.0) + np.log(2.0) - np.log(n) for i in range(1, dim + 1))


def log_det_step_var(n, dim: int) -> np.ndarray:
    """Var[log det S_new - log det S_old] for one maximum-likelihood fit to n points."""
    n = _counts(n, dim)
    return sum(polygamma(1, (n - i) / 2.0) for i in range(1, dim + 1))


def expected_log_std(generation, samples: int, weight: float, dim: int, log_std0: float = 0.0) -> np.ndarray:
    """E[log det(S_g)^(1/2d)] of a component of weight ``weight`` that keeps drawing
    about ``weight * samples`` points a generation: the early-time (weights near their
    start) prediction, a straight line of slope ~ -(d+3)/(4 w M) per generation."""
    n = max(round(weight * samples), dim + 1)
    return log_std0 + np.asarray(generation, float) * log_det_step_mean(n, dim) / (2 * dim)


def conditional_log_det_drift(weights: np.ndarray, samples: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted change of a component's log det since generation 0, given the fitted
    weights of generations 1..G, (G, ...), with N_k = weight * samples points.

    Returns the cumulative mean and variance (G, ...): under separation, the observed
    log det S_g - log det S_0 minus the mean is a sum of independent zero-mean steps.
    """
    n = np.rint(np.asarray(weights, float) * samples)
    return np.cumsum(log_det_step_mean(n, dim), axis=0), np.cumsum(log_det_step_var(n, dim), axis=0)
