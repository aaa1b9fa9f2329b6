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

EM adds ``reg_covar`` r to every covariance's diagonal, which stops the fall: in
expectation a maximum-likelihood fit keeps (N-1)/N of the covariance, so
E Sigma_t = (1 - 1/N) E Sigma_(t-1) + r I settles at r N I, a component std of about
sqrt(r N) (:func:`reg_covar_level`; 0.022 for N = 500 and r = 1e-6). The balance of the
*log-median* shrink against r (:func:`reg_covar_floor`) is lower, and is not what the
chains show: :func:`component_recursion` simulates the per-component recursion with the
regulariser, whose median sits near sqrt(r N).
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


def _absorbed(samples: int, start: float, generations: int | None = None) -> np.ndarray:
    """P(absorbed by t) of the Wright-Fisher chain for t = 0..generations, or, without
    ``generations``, up to the first t where it reaches 1/2."""
    from scipy.stats import binom
    from threadpoolctl import threadpool_limits

    M = int(samples)
    if M < 2:
        raise ValueError(f"samples={samples!r} is not allowed: the Wright-Fisher chain needs M >= 2")
    if not 0 < start < 1:
        raise ValueError(f"start={start!r} is not allowed: the starting weight must be in (0, 1)")
    states = np.arange(M + 1)
    T = binom.pmf(states[None, :], M, states[:, None] / M)  # T[i, j] = P(j | i)
    prob = np.zeros(M + 1)
    prob[int(round(start * M))] = 1.0
    out = []
    with threadpool_limits(1):  # many small products: one thread is fastest, above all on a busy machine
        while True:
            out.append(prob[0] + prob[-1])
            if (generations is not None and len(out) > generations) or (generations is None and out[-1] >= 0.5):
                return np.array(out)
            prob = prob @ T


def cluster_loss_cdf(samples: int, generations: int, start: float = 0.5) -> np.ndarray:
    """P(a cluster is lost by generation t), t = 0..generations, for separated clusters.

    The number of points the left cluster draws is the Wright-Fisher chain
    N_t ~ Binomial(M, N_(t-1) / M) started at N_0 = round(start * M); a cluster is lost
    when N_t hits 0 or M. The distribution is computed exactly by iterating the chain's
    transition matrix (M + 1 states), not by the diffusion approximation.
    """
    return _absorbed(samples, start, int(generations))


def cluster_loss_median(samples: int, start: float = 0.5) -> int:
    """The generation by which half of the chains have lost a cluster (exact
    Wright-Fisher; about 1.09 M for start 1/2, below the mean 2 M ln 2 ~ 1.39 M because
    the distribution has a long right tail)."""
    return len(_absorbed(samples, start)) - 1


def typical_std(generation, samples: int, weight: float, dim: int, std0: float, reg_covar: float = 0.0) -> np.ndarray:
    """The early-time straight line of :func:`expected_log_std` with the regulariser that
    EM adds to every covariance's diagonal (``reg_covar``, scikit-learn's 1e-6): per
    axis, v_t = v_(t-1) exp(m / d) + reg_covar with m = :func:`log_det_step_mean`, so the
    std levels off at :func:`reg_covar_floor` instead of falling for ever."""
    n = max(round(weight * samples), dim + 1)
    shrink = float(np.exp(log_det_step_mean(n, dim) / dim))
    g = np.asarray(generation, int)
    v = np.empty(int(g.max()) + 1)
    v[0] = std0 ** 2
    for t in range(1, len(v)):
        v[t] = v[t - 1] * shrink + reg_covar
    return np.sqrt(v[g])


def reg_covar_floor(samples: int, weight: float, dim: int, reg_covar: float) -> float:
    """The level where the log-median shrinking of a component (per axis, by exp(m / d) a
    generation) and the ``reg_covar`` added back balance: sqrt(reg_covar / (1 - exp(m / d))),
    about sqrt(reg_covar * 2 N / (d + 3)) for N = weight * samples points. It underestimates
    the level the chains reach, which the mean shrink sets (:func:`reg_covar_level`)."""
    n = max(round(weight * samples), dim + 1)
    return float(np.sqrt(reg_covar / (1.0 - np.exp(log_det_step_mean(n, dim) / dim))))


def reg_covar_level(samples: int, weight: float, reg_covar: float) -> float:
    """sqrt(reg_covar * N), N = weight * samples: the component std at which the expected
    maximum-likelihood shrink, E Sigma_new = (N - 1)/N Sigma, and the ``reg_covar`` EM adds
    back balance (the fixed point of E Sigma_t = (1 - 1/N) E Sigma_(t-1) + r I)."""
    return float(np.sqrt(reg_covar * weight * samples))


def component_recursion(samples: int, weight: float, dim: int, std0: float, reg_covar: float, generations: int,
                        chains: int, rng: np.random.Generator) -> np.ndarray:
    """The per-component recursion of the proposition with the regulariser, simulated:
    Sigma_t = W / N + reg_covar I with W ~ Wishart(N - 1, Sigma_(t-1)) (the scatter of N
    points; Bartlett decomposition), N = weight * samples, from Sigma_0 = std0^2 I.
    Returns the component std det(Sigma_t)^(1/2d), (generations + 1, chains)."""
    n = int(max(round(weight * samples), dim + 1))
    cov = np.broadcast_to(std0 ** 2 * np.eye(dim), (chains, dim, dim)).copy()
    eye = np.eye(dim)
    out = np.empty((generations + 1, chains))
    out[0] = std0
    rows, cols = np.tril_indices(dim, -1)
    for t in range(1, generations + 1):
        A = np.zeros((chains, dim, dim))
        A[:, np.arange(dim), np.arange(dim)] = np.sqrt(rng.chisquare(n - 1 - np.arange(dim), size=(chains, dim)))
        A[:, rows, cols] = rng.standard_normal((chains, rows.size))
        L = np.linalg.cholesky(cov)
        LA = L @ A
        cov = LA @ LA.transpose(0, 2, 1) / n + reg_covar * eye
        out[t] = np.exp(np.linalg.slogdet(cov)[1] / (2 * dim))
    return out
