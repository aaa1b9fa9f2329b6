"""Linear regression refitted on labels made by its own predecessor.

The setting of Dohmatob, Feng and Kempe, "Model Collapse Demystified: The Case of
Regression" (NeurIPS 2024) and of Gerstgrasser et al., "Is Model Collapse Inevitable?
Breaking the Curse of Recursion by Accumulating Real and Synthetic Data" (COLM 2024,
Theorem 2): inputs x ~ N(0, I_d), real labels y = x^T w* + noise, and every later
generation labels fresh inputs with the previous fitted model plus noise of the same
variance sigma^2. Each generation is fitted by ordinary least squares (or ridge).

A least-squares fit sees a training set only through its size and the sums
X^T X and X^T y; these pool by addition, so the *accumulate* policy keeps every
generation's data in constant memory, and every fit is one batched ``solve`` over
thousands of chains.

Two ways of drawing a synthetic training set are offered (``sampler``):

- ``"points"`` draws the n inputs and labels themselves, O(n d^2) per chain;
- ``"wishart"`` draws (X^T X, X^T y) directly from their exact joint law: X^T X is
  Wishart(I_d, n), drawn by the Bartlett decomposition X^T X = L L^T, and given it
  X^T noise ~ N(0, sigma^2 X^T X) = sigma L z. That is O(d^3) per chain whatever n,
  which is what lets the strong-collapse experiment sweep n up to millions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import ArrayRecord
from ..validation import check_choice, check_int

SAMPLERS = ("points", "wishart")


@dataclass
class LinRegStats(ArrayRecord):
    """Size ``n``, per-chain Gram matrix ``xx`` = X^T X (C, d, d) and ``xy`` = X^T y (C, d)."""

    n: int
    xx: np.ndarray
    xy: np.ndarray

    def __add__(self, other: "LinRegStats") -> "LinRegStats":
        return LinRegStats(self.n + other.n, self.xx + other.xx, self.xy + other.xy)


@dataclass
class LinRegParams(ArrayRecord):
    """Fitted ``weights`` (C, d)."""

    weights: np.ndarray


def points_to_stats(points: np.ndarray) -> LinRegStats:
    """Summary of points (C, n, d+1): the inputs in the first d columns, the label last."""
    points = np.asarray(points, dtype=float)
    # one batched matrix product gives [X y]^T [X y]; X^T X and X^T y are its blocks
    gram = np.swapaxes(points, -1, -2) @ points
    return LinRegStats(points.shape[1], gram[:, :-1, :-1].copy(), gram[:, :-1, -1].copy())


def labelled_points(weights: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Points (C, n, d+1): x ~ N(0, I_d), y = x^T w_c + noise * N(0, 1), one call on ``rng``."""
    weights = np.asarray(weights, dtype=float)
    chains, d = weights.shape
    z = rng.standard_normal((chains, n, d + 1))
    z[..., d] = (z[..., :d] @ weights[:, :, None])[..., 0] + noise * z[..., d]
    return z


def bartlett_factor(normals: np.ndarray, chi2: np.ndarray) -> np.ndarray:
    """Lower-triangular L (C, d, d) with L L^T ~ Wishart(I_d, n) (Bartlett, 1933): standard
    normals below the diagonal (taken from ``normals``, (C, d, d)) and sqrt(chi^2_{n-i})
    on the diagonal, i = 0..d-1 (``chi2``, (C, d))."""
    d = normals.shape[-1]
    L = np.tril(normals, k=-1)
    idx = np.arange(d)
    L[:, idx, idx] = np.sqrt(chi2)
    return L


def wishart_stats(weights: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> LinRegStats:
    """(X^T X, X^T y) of n points labelled by ``weights`` (C, d), drawn from their exact
    joint law without drawing the points when n >= d (two calls on ``rng``); with
    n < d the Wishart matrix is singular and the n points are drawn instead."""
    weights = np.asarray(weights, dtype=float)
    chains, d = weights.shape
    if n < d:
        return points_to_stats(labelled_points(weights, n, noise, rng))
    z = rng.standard_normal((chains, d, d + 1))
    chi2 = rng.chisquare(n - np.arange(d), size=(chains, d))
    L = bartlett_factor(z[..., :d], chi2)
    xx = L @ np.swapaxes(L, -1, -2)
    # given X^T X = L L^T, X^T noise ~ N(0, sigma^2 L L^T) = sigma L eps
    xy = np.einsum("cij,cj->ci", xx, weights) + noise * np.einsum("cij,cj->ci", L, z[..., d])
    return LinRegStats(n, xx, xy)


@dataclass
class LinearRegressionFamily:
    """Least squares (``ridge`` = 0) or ridge regression on inputs x ~ N(0, I_d); the
    fitted model labels fresh inputs with its own prediction plus N(0, noise^2) noise.

    Ridge minimises (1/n) |y - X w|^2 + ridge |w|^2, i.e. w = (X^T X + n ridge I)^-1 X^T y.
    """

    dim: int = 10  # d, the number of inputs
    noise: float = 1.0  # sigma, the label noise of real and synthetic labels alike
    ridge: float = 0.0  # lambda >= 0; 0 is ordinary least squares (the papers' closed forms)
    sampler: str = "points"  # "points" or "wishart" (exact law of the summary, O(d^3) per chain)

    Params = LinRegParams
    Data = LinRegStats

    def __post_init__(self):
        check_int("dim", self.dim, minimum=1)
        for name in ("noise", "ridge"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                    or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name}={value!r} is not allowed: it must be a finite number >= 0")
        check_choice("sampler", self.sampler, SAMPLERS)

    @property
    def min_samples(self) -> int:
        # least squares: T >= d + 2 keeps the expected error sigma^2 d / (T - d - 1) finite
        return self.dim + 2 if self.ridge == 0 else 1

    def summarize(self, points: np.ndarray) -> LinRegStats:
        points = np.asarray(points, dtype=float)
        if points.ndim != 3 or points.shape[-1] != self.dim + 1:
            raise ValueError(f"points of shape {points.shape} are not allowed: they must be (chains, n, dim+1) "
                             f"= (chains, n, {self.dim + 1}), inputs first and the label last")
        return points_to_stats(points)

    def fit(self, data: LinRegStats) -> LinRegParams:
        """One batched solve over all chains."""
        a = data.xx
        if self.ridge:
            a = a + (data.n * self.ridge) * np.eye(self.dim)
        return LinRegParams(np.linalg.solve(a, data.xy[..., None])[..., 0])

    def sample_points(self, params: LinRegParams, n: int, rng: np.random.Generator) -> np.ndarray:
        """Points (C, n, d+1) labelled by the fitted model; one call on ``rng``."""
        return labelled_points(params.weights, n, self.noise, rng)

    def sample(self, params: LinRegParams, n: int, rng: np.random.Generator) -> LinRegStats:
        if self.sampler == "wishart":
            return wishart_stats(params.weights, n, self.noise, rng)
        return points_to_stats(self.sample_points(params, n, rng))


@dataclass
class LinearSource:
    """Real data: x ~ N(0, I_d), y = x^T w* + N(0, noise^2), the same w* for every chain."""

    weights: np.ndarray  # w*, shape (d,)
    noise: float = 1.0  # sigma

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=float)
        if self.weights.ndim != 1 or self.weights.size < 1 or not np.all(np.isfinite(self.weights)):
            raise ValueError(f"weights={self.weights.tolist()!r} is not allowed: it must be a 1-D array of finite numbers")
        if not (np.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise={self.noise!r} is not allowed: it must be a finite number >= 0")

    def sample(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Points (chains, n, d+1), drawn with one call on ``rng``."""
        w = np.broadcast_to(self.weights, (chains, self.weights.size))
        return labelled_points(w, n, self.noise, rng)

    def excess_error(self, params: LinRegParams) -> np.ndarray:
        """Per-chain excess test error E_x[(x^T w - x^T w*)^2] = |w - w*|^2 (x ~ N(0, I))."""
        return np.sum((params.weights - self.weights) ** 2, axis=-1)
