"""Checks for the exercises of chapter 2, "Gaussian mixtures".

The per-component collapse rate is the proposition of the chapter (Bartlett
decomposition of the Wishart matrix behind a maximum-likelihood fit), computed by
:mod:`collapse_lib.theory.gmm`; the overlap integral is the building block of the L2
distance between mixtures that Shumailov et al. (Nature, 2024, Fig. 2) track, computed
by :mod:`collapse_lib.metrics_gmm`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import metrics_gmm
from ..theory import gmm as gmm_theory
from ._common import check_close, passed
from .distributions import _call


def check_gmm_predicted_std(answer, samples: int, start: float = 0.8, dim: int = 2) -> bool:
    """Exercise "Predict the std after T generations": the component standard deviation
    after T = 2M generations from ``start``, with N = M/2 points per component.

    Both the first-order rate d(d+3)/(2N) and the exact digamma form are right; the
    tolerance is the gap between them (it shrinks like 1/M) plus 2 %.
    """
    generations = 2 * samples
    exact = float(np.exp(gmm_theory.expected_log_std(generations, samples, 0.5, dim, math.log(start))))
    first_order = start * math.exp(-generations * dim * (dim + 3) / (2 * (samples / 2)) / (2 * dim))
    rtol = abs(first_order - exact) / exact + 0.02
    check_close(f"component std after {generations} generations (M = {samples})", answer, exact, rtol=rtol,
                hint="log std = (1/4) log det falls by about d(d+3)/(2N)/(2d) per generation, with N = M/2")
    return passed(f"about {exact:.4g} (first order {first_order:.4g}) for M = {samples}")


def check_gmm_cluster_loss_time(answer, samples: int) -> bool:
    """Exercise "How fast is a cluster lost?": the expected number of generations until
    a Wright–Fisher weight started at 1/2 with M samples hits 0 or 1 (diffusion
    approximation, 2 M ln 2)."""
    expected = 2 * samples * math.log(2)
    check_close(f"expected generations to lose a cluster (M = {samples})", answer, expected, rtol=0.02,
                hint="mean absorption time from p: -2M (p ln p + (1-p) ln(1-p)); here p = 1/2")
    return passed(f"2 M ln 2 = {expected:.1f} generations for M = {samples}")


def check_gmm_cluster_loss_median(answer, samples: int, chains: int = 10_000) -> bool:
    """Exercise "How fast is a cluster lost?", part (b): the generation by which half of
    ``chains`` simulated Wright–Fisher chains (M samples, started at M/2) have hit 0 or
    M, against the exact median of :func:`collapse_lib.theory.gmm.cluster_loss_median`
    (about 1.09 M).

    The tolerance is four standard errors of a sample median, 4 / (2 f sqrt(chains)) with
    f the exact density of the absorption time at its median, plus one generation for
    the rounding of a discrete median.
    """
    median = gmm_theory.cluster_loss_median(samples)
    lo, hi = max(median - samples // 10, 1), median + max(samples // 10, 1)
    cdf = gmm_theory.cluster_loss_cdf(samples, hi)
    density = (cdf[hi] - cdf[lo]) / (hi - lo)
    tol = 4 / (2 * density * math.sqrt(chains)) + 1
    mean = 2 * samples * math.log(2)
    check_close(f"median generation of cluster loss (M = {samples}, {chains:,} chains)", answer, median, rtol=0,
                atol=tol, hint=f"the mean 2 M ln 2 = {mean:.0f} is not the median; simulate N_t ~ Binomial(M, "
                               "N_(t-1)/M) from N_0 = M/2, record when N_t hits 0 or M, and take the median")
    return passed(f"the exact Wright–Fisher median is {median} generations = {median / samples:.2f} M "
                  f"(the mean is 2 M ln 2 = {mean:.0f})")


def check_gaussian_overlap(func) -> bool:
    """Exercise "Implement the overlap integral": ``func(m1, S1, m2, S2)`` returns
    integral N(x; m1, S1) N(x; m2, S2) dx for means of shape (d,) and covariances (d, d).
    It is tried on 1-D and 2-D cases, equal and distant means, round and elongated
    covariances."""
    rng = np.random.default_rng(1)

    def spd(d):
        a = rng.normal(size=(d, d))
        return a @ a.T + 0.1 * np.eye(d)

    cases = [(np.zeros(1), np.eye(1), np.zeros(1), np.eye(1)),
             (np.zeros(2), np.eye(2), np.array([3.0, 0.0]), 0.5 * np.eye(2)),
             (rng.normal(size=2), spd(2), rng.normal(size=2), spd(2)),
             (np.array([-2.0, 0.0]), np.diag([0.01, 0.04]), np.array([-1.9, 0.1]), np.diag([0.02, 0.01]))]
    for m1, S1, m2, S2 in cases:
        expected = float(metrics_gmm.gaussian_overlap(m1, S1, m2, S2))
        got = _call(func, "gaussian_overlap", m1, S1, m2, S2)
        check_close(f"gaussian_overlap(m1={m1.round(3).tolist()}, S1={S1.round(3).tolist()}, "
                    f"m2={m2.round(3).tolist()}, S2={S2.round(3).tolist()})", got, expected, rtol=1e-6,
                    hint="the product integrates to the density N(m1; m2, S1 + S2): mind the "
                         "(2 pi)^(d/2) and the square root of the determinant")
    return passed(f"your overlap integral agrees on {len(cases)} cases")
