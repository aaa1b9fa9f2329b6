"""Gaussians refitted on their own samples, in one or d dimensions.

Shumailov et al., Nature 631:755 (2024), Theorem 3.1: if every generation fits the
unbiased mean and covariance to M samples of the previous one, the covariance tends to
zero almost surely while the expected squared Wasserstein-2 distance to the original
grows without bound. The authors' notebook fits ``np.std`` (the maximum-likelihood,
ddof=0, estimator); both are offered here (``variance="unbiased"`` or ``"mle"``).

A Gaussian sees a training set only through its size, mean and scatter matrix; these
summaries pool exactly (Chan, Golub and LeVeque's parallel update), which is what lets
the *accumulate* policy keep every generation's data in constant memory.

Because only the summary matters, a synthetic set is drawn as its summary, exactly in
distribution, without drawing its points (``sampling="stats"``, the default). For n
points from N(mu, Sigma) the sample mean is N(mu, Sigma/n), the scatter matrix is
Wishart(n-1, Sigma), and the two are independent (Cochran's theorem); the Wishart draw
uses Bartlett's decomposition. A generation then costs O(d^2) random numbers per chain
instead of O(n d), which is what lets 10,000 chains run 1,000 generations in about a
second. ``sampling="points"`` draws the n points and summarises them, as the authors'
notebook does; both give the same distribution of every fitted parameter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import ArrayRecord
from ..validation import check_choice, check_int


@dataclass
class GaussianStats(ArrayRecord):
    """Size ``n``, per-chain ``mean`` (C, d) and centred ``scatter`` (C, d, d)."""

    n: int
    mean: np.ndarray
    scatter: np.ndarray

    def __add__(self, other: "GaussianStats") -> "GaussianStats":
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        scatter = self.scatter + other.scatter + np.einsum("ci,cj->cij", delta, delta) * (self.n * other.n / n)
        return GaussianStats(n, mean, scatter)


@dataclass
class GaussianParams(ArrayRecord):
    """Fitted ``mean`` (C, d) and covariance ``cov`` (C, d, d)."""

    mean: np.ndarray
    cov: np.ndarray

    @property
    def variance(self) -> np.ndarray:
        """Per-chain variance in one dimension, total variance (trace) otherwise."""
        return np.trace(self.cov, axis1=1, axis2=2)


def points_to_stats(points: np.ndarray) -> GaussianStats:
    """Summary of points (C, n, d)."""
    points = np.asarray(points, dtype=float)
    C, n, d = points.shape
    if n == 0:
        return GaussianStats(0, np.zeros((C, d)), np.zeros((C, d, d)))
    mean = points.mean(axis=1)
    centred = points - mean[:, None, :]
    return GaussianStats(n, mean, np.einsum("cni,cnj->cij", centred, centred))


def psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric square roots of covariance matrices (C, d, d); robust when singular."""
    if cov.shape[-1] == 1:
        return np.sqrt(np.clip(cov, 0.0, None))
    w, v = np.linalg.eigh(cov)
    return (v * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(v, -1, -2)


def sample_stats(mean: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator) -> GaussianStats:
    """The summary of n points from N(mean[c], cov[c]) per chain, drawn without the points.

    Exact in distribution for n > d: the sample mean is ``mean + root z / sqrt(n)``
    with z standard normal, and the scatter matrix is ``root A A^T root`` with Bartlett's
    lower-triangular A (``A_ii^2 ~ chi2_{n-1-i}`` for i = 0..d-1, standard normals below
    the diagonal), where ``root`` is the symmetric square root of ``cov``. Draws two
    blocks from ``rng``: standard normals (C, d + d(d-1)/2), then chi-squares (C, d); chain
    c's draws are row c of each block.
    """
    mean, cov = np.asarray(mean, dtype=float), np.asarray(cov, dtype=float)
    C, d = mean.shape
    if n <= d:
        raise ValueError(f"n={n!r} is not allowed: drawing the summary needs n > d = {d} points")
    z = rng.standard_normal((C, d + d * (d - 1) // 2))
    chi2 = rng.chisquare(n - 1 - np.arange(d), size=(C, d))
    if d == 1:  # the common case, without matrix products
        return GaussianStats(n, mean + np.sqrt(cov[:, 0] / n) * z[:, :1], cov * chi2[:, :, None])
    root = psd_sqrt(cov)
    a = np.zeros((C, d, d))
    a[:, np.arange(d), np.arange(d)] = np.sqrt(chi2)
    below = np.tril_indices(d, -1)
    a[:, below[0], below[1]] = z[:, d:]
    ra = root @ a
    scatter = ra @ np.swapaxes(ra, -1, -2)
    return GaussianStats(n, mean + np.einsum("ci,cij->cj", z[:, :d], root) / np.sqrt(n), scatter)


SAMPLING = ("stats", "points")


@dataclass
class GaussianFamily:
    """A d-dimensional Gaussian fitted by its sample mean and covariance."""

    dim: int = 1  # dimension d of the data
    variance: str = "unbiased"  # "unbiased" (divide by n-1, Theorem 3.1) or "mle" (by n)
    sampling: str = "stats"  # "stats": draw a synthetic set's summary exactly; "points": draw its points

    Params = GaussianParams
    Data = GaussianStats

    def __post_init__(self):
        check_int("dim", self.dim, minimum=1)
        check_choice("variance", self.variance, ("unbiased", "mle"))
        check_choice("sampling", self.sampling, SAMPLING)

    @property
    def min_samples(self) -> int:
        # n-1 >= d makes the fitted covariance non-singular (and n >= 2 the variance defined)
        return self.dim + 1

    def summarize(self, points: np.ndarray) -> GaussianStats:
        return points_to_stats(points)

    def fit(self, data: GaussianStats) -> GaussianParams:
        dof = data.n - 1 if self.variance == "unbiased" else data.n
        return GaussianParams(data.mean.copy(), data.scatter / dof)

    def sample_points(self, params: GaussianParams, n: int, rng: np.random.Generator) -> np.ndarray:
        """Points (C, n, d), drawn with one call on ``rng``."""
        chains = params.mean.shape[0]
        z = rng.standard_normal((chains, n, self.dim))
        return params.mean[:, None, :] + z @ psd_sqrt(params.cov)

    def sample(self, params: GaussianParams, n: int, rng: np.random.Generator) -> GaussianStats:
        """The summary of n samples of every chain's fit (see the module docstring).

        With ``sampling="stats"`` and n > d, :func:`sample_stats` draws it directly;
        otherwise (including the singular n <= d, whose scatter is rank-deficient) the
        points are drawn and summarised.
        """
        if self.sampling == "stats" and n > self.dim:
            return sample_stats(params.mean, params.cov, n, rng)
        return points_to_stats(self.sample_points(params, n, rng))


@dataclass
class GaussianSource:
    """The real distribution N(mean, cov), the same for every chain."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        self.mean = np.atleast_1d(np.asarray(self.mean, dtype=float))
        self.cov = np.atleast_2d(np.asarray(self.cov, dtype=float))
        d = self.mean.size
        if self.cov.shape != (d, d) or np.any(np.linalg.eigvalsh(self.cov) <= 0):
            raise ValueError(
                f"cov={self.cov.tolist()!r} is not allowed: it must be a positive-definite "
                f"{d}x{d} matrix matching mean of dimension {d}"
            )

    @property
    def params(self) -> GaussianParams:
        return GaussianParams(self.mean[None], self.cov[None])

    def sample(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((chains, n, self.mean.size))
        return self.mean + z @ psd_sqrt(self.cov[None])[0]


@dataclass
class GaussianMixtureSource:
    """Real data from a mixture of Gaussians (the same for every chain).

    In one dimension a single Gaussian cannot represent it: fitting one shows the
    *functional expressivity* error of Shumailov et al. (2024, §2), which no amount of
    data removes.
    """

    weights: np.ndarray  # (k,) mixing weights, summing to 1
    means: np.ndarray  # (k, d) component means
    covs: np.ndarray  # (k, d, d) component covariances

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        self.means = np.asarray(self.means, dtype=float).reshape(self.weights.size, -1)
        d = self.means.shape[1]
        self.covs = np.asarray(self.covs, dtype=float).reshape(self.weights.size, d, d)
        if np.any(self.weights < 0) or not np.isclose(self.weights.sum(), 1.0):
            raise ValueError(f"weights={self.weights.tolist()!r} is not allowed: they must be >= 0 and sum to 1")

    def sample(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Points (chains, n, d), drawn with one call on ``rng``."""
        k, d = self.means.shape
        return sample_mixture(np.broadcast_to(self.weights, (chains, k)), np.broadcast_to(self.means, (chains, k, d)),
                              np.broadcast_to(self.covs, (chains, k, d, d)), n, rng)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the mixture: the best single Gaussian fit with
        unlimited data."""
        mean = self.weights @ self.means
        centred = self.means - mean
        cov = np.einsum("k,kij->ij", self.weights, self.covs) + np.einsum("k,ki,kj->ij", self.weights, centred, centred)
        return mean, cov

    def pdf_1d(self, x: np.ndarray) -> np.ndarray:
        """Density on a grid, for one-dimensional mixtures."""
        sd = np.sqrt(self.covs[:, 0, 0])
        z = (np.asarray(x)[..., None] - self.means[:, 0]) / sd
        return (self.weights * np.exp(-0.5 * z**2) / (sd * np.sqrt(2 * np.pi))).sum(-1)


def sample_mixture(weights, means, covs, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points (C, n, d) from per-chain mixtures, drawn with one call on ``rng``.

    Each point takes d+1 standard normals: the first, through the normal CDF, picks the
    component; the others are placed by the component's Cholesky factor.
    """
    from scipy.special import ndtr

    weights, means, covs = (np.asarray(a, float) for a in (weights, means, covs))
    C, K, d = means.shape
    noise = rng.standard_normal((C, n, d + 1))
    u = ndtr(noise[..., 0])
    edges = np.cumsum(weights, axis=1)[:, :-1]  # (C, K-1)
    comp = (u[..., None] > edges[:, None, :]).sum(-1)  # (C, n)
    chol = np.linalg.cholesky(covs)  # (C, K, d, d)
    points = np.zeros((C, n, d))
    for k in range(K):
        placed = means[:, k, None, :] + np.einsum("cnj,cij->cni", noise[..., 1:], chol[:, k])
        points = np.where((comp == k)[..., None], placed, points)
    return points
