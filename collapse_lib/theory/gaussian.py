"""Closed forms for a Gaussian refitted on its own samples.

Shumailov et al., Nature 631:755 (2024), Theorem 3.1 and SI §3.1.1. Generation 0 is
fitted to M real samples of N(mu, s); generation g >= 1 to M samples of generation
g-1. Generation g is therefore the result of n = g + 1 fits.

With the unbiased estimator each fit multiplies the variance by r = X/(M-1), with X a
chi-square variable with M-1 degrees of freedom, independent of the fitted mean (with
the maximum-likelihood estimator r = X/M). Hence, with n = g + 1:

- E[var_g] = s E[r]^n: constant for the unbiased estimator (a martingale), yet
- E[log var_g] = log s + n E[log r] with E[log r] < 0, so var_g -> 0 almost surely;
- E[(mean_g - mu)^2] = (s/M) sum_{j<n} E[r]^j: the mean random-walks, s n / M when
  unbiased, so a sample of generation g has variance s (1 + n/M);
- E[W2^2] = E[(mean_g - mu)^2] + E[var_g] - 2 sqrt(s) E[sd_g] + s grows without bound,
  although every chain's W2^2 converges almost surely (sum_g var_g < infinity, so the mean
  stops moving): the expectation is carried by ever rarer chains;
- P(var_g > s), the share of chains still wider than the truth, is exact through the
  characteristic function of log r (:func:`prob_wider`).
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import quad
from scipy.special import digamma, gammaln, loggamma

from ..validation import check_choice, check_sample_size


def _den(M: int, estimator: str) -> float:
    check_choice("estimator", estimator, ("unbiased", "mle"))
    check_sample_size("M", M, 2, "a variance needs two samples")
    return M - 1.0 if estimator == "unbiased" else float(M)


def _fits(generation) -> np.ndarray:
    return np.asarray(generation, dtype=float) + 1.0


def ratio_moments(M: int, estimator: str = "unbiased") -> dict[str, float]:
    """Moments of r, the factor one fit multiplies the variance by."""
    den = _den(M, estimator)
    k = M - 1.0
    return {
        "mean": k / den,
        "second": k * (k + 2.0) / den**2,
        "sqrt_mean": float(np.exp(0.5 * np.log(2.0 / den) + gammaln(M / 2.0) - gammaln(k / 2.0))),
        "log_mean": float(digamma(k / 2.0) + np.log(2.0) - np.log(den)),
    }


def expected_variance(generation, M: int, s: float = 1.0, estimator: str = "unbiased"):
    """E[var_g]: s for the unbiased estimator, s ((M-1)/M)^(g+1) for the MLE."""
    return s * ratio_moments(M, estimator)["mean"] ** _fits(generation)


def variance_of_variance(generation, M: int, s: float = 1.0, estimator: str = "unbiased"):
    """Var[var_g] = s^2 (E[r^2]^n - E[r]^(2n)), n = g + 1."""
    m = ratio_moments(M, estimator)
    n = _fits(generation)
    return s**2 * (m["second"] ** n - m["mean"] ** (2 * n))


def expected_log_variance(generation, M: int, s: float = 1.0, estimator: str = "unbiased"):
    """E[log var_g] = log s + (g+1) (digamma((M-1)/2) + log 2 - log(den)); it falls
    linearly, at about -(g+1)/M, which is why var_g -> 0 almost surely."""
    return np.log(s) + _fits(generation) * ratio_moments(M, estimator)["log_mean"]


def expected_std(generation, M: int, s: float = 1.0, estimator: str = "unbiased"):
    """E[sd_g] = sqrt(s) E[sqrt r]^(g+1)."""
    return np.sqrt(s) * ratio_moments(M, estimator)["sqrt_mean"] ** _fits(generation)


def mean_drift(generation, M: int, s: float = 1.0, estimator: str = "unbiased", dim_trace: float | None = None):
    """E[|mean_g - mu|^2] = (s/M) sum_{j=0}^{g} E[r]^j (s n / M when unbiased).

    In d dimensions pass ``dim_trace`` = tr(Sigma) instead of ``s``.
    """
    rho = ratio_moments(M, estimator)["mean"]
    n = _fits(generation)
    scale = s if dim_trace is None else dim_trace
    total = n if rho == 1.0 else (1.0 - rho**n) / (1.0 - rho)
    return scale / M * total


def sample_variance_of_generation(generation, M: int, s: float = 1.0, estimator: str = "unbiased"):
    """Variance of one fresh sample of generation g's model: E[var_g] + E[(mean_g-mu)^2],
    that is s (1 + (g+1)/M) for the unbiased estimator."""
    return expected_variance(generation, M, s, estimator) + mean_drift(generation, M, s, estimator)


def expected_w2_squared(generation, M: int, s: float = 1.0, estimator: str = "unbiased"):
    """E[W2^2(N(mean_g, var_g), N(mu, s))] in one dimension (Theorem 3.1: it diverges)."""
    return (
        mean_drift(generation, M, s, estimator)
        + expected_variance(generation, M, s, estimator)
        - 2.0 * np.sqrt(s) * expected_std(generation, M, s, estimator)
        + s
    )


def expected_log_det(generation, M: int, log_det_sigma: float, dim: int, estimator: str = "unbiased"):
    """E[log det Sigma_g] in d dimensions (Bartlett decomposition of the Wishart):
    log det Sigma + (g+1) sum_{i=1}^{d} (digamma((M-i)/2) + log 2 - log(den))."""
    check_sample_size("M", M, dim + 1, "a d-dimensional covariance needs d+1 samples")
    den = _den(M, estimator)
    per_fit = sum(digamma((M - i) / 2.0) + np.log(2.0) - np.log(den) for i in range(1, dim + 1))
    return log_det_sigma + _fits(generation) * per_fit


def prob_wider(generation, M: int, estimator: str = "unbiased") -> np.ndarray:
    """P(var_g > s): the chance that generation g's fit is wider than the truth.

    log(var_g / s) is the sum of n = g + 1 independent copies of log r, whose
    characteristic function is E[r^(it)] = (2/den)^(it) Gamma(k/2 + it) / Gamma(k/2) with
    k = M - 1; the Gil-Pelaez inversion gives P(sum > 0) = 1/2 + (1/pi) int_0^inf Im(phi^n)/t dt.
    """
    den, k = _den(M, estimator), M - 1.0

    def log_phi(t):
        return 1j * t * np.log(2.0 / den) + loggamma(k / 2.0 + 1j * t) - gammaln(k / 2.0)

    out = []
    for n in np.atleast_1d(_fits(generation)).ravel():
        integral, _ = quad(lambda t: np.imag(np.exp(n * log_phi(t))) / t, 0.0, np.inf, limit=400)
        out.append(0.5 + integral / np.pi)
    return np.reshape(np.clip(out, 0.0, 1.0), np.shape(generation))
