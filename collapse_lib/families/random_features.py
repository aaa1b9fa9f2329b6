"""Random-projection regression on a mix of real and synthetic labels.

The "random projections" model of Dohmatob, Feng, Subramonian and Kempe, "Strong Model
Collapse" (ICLR 2025, section 2.2), a linear stand-in for a network of width ``m``
whose last layer alone is trained:

    f(x) = v . (S x),   S an m x d matrix with i.i.d. N(0, 1/d) entries, fixed;
    v    = argmin_v  (1/n) ||Z v - y||^2 + ridge ||v||^2,   Z = X S^T  (n x m),

with ``ridge = 0`` meaning the minimum-norm least-squares solution (the limit
ridge -> 0+). The model is linear in x, so it predicts with ``beta = S^T v``.

The data follow the paper's setting of section 2.1: inputs x ~ N(0, Sigma), real labels
``y = x . w_star + noise`` and, for a fraction ``p`` of the n training points, synthetic
labels ``y = x . (w_star + delta) + noise`` from a shifted model whose own test error is
its *quality* ``c2 = delta^T Sigma delta`` (0 is a perfect synthetic labeller). The test
error is measured on clean real labels, exactly, as ``(beta - w_star)^T Sigma (beta -
w_star)`` (no test sample is needed).

Everything is batched over independent problems (seeds): the leading axis of every
array. The widths of one fit are *nested*: the model of width m uses the first m rows
of one m_max x d matrix S, as a network grown by adding hidden units, and all widths are
fitted in one pass (cumulative Gram matrices, one batched solve per width).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from ..validation import _fail, check_fraction, check_int, check_nonnegative, check_positive


def check_widths(widths) -> np.ndarray:
    """Model widths: a non-empty, increasing sequence of integers >= 1."""
    w = np.asarray(widths)
    if w.ndim != 1 or w.size == 0:
        _fail("widths", widths, "it must be a non-empty sequence of integers >= 1")
    for m in w.tolist():
        check_int("widths", m, minimum=1)
    w = w.astype(int)
    if np.any(np.diff(w) <= 0):
        _fail("widths", widths, "it must be strictly increasing")
    return w


@contextmanager
def blas_threads(n: int | None = 1):
    """Run the block with ``n`` BLAS threads (None: unchanged). The batched products
    here are many small matrices: one thread does them fastest, and on a busy machine
    several threads fighting for two cores are many times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without threadpoolctl (a scikit-learn dependency) nothing changes
        limit = nullcontext()
    else:
        limit = threadpool_limits(n) if n is not None else nullcontext()
    with limit:
        yield


def power_law_spectrum(d: int, exponent: float) -> np.ndarray:
    """Covariance eigenvalues proportional to k^(-exponent), k = 1..d, normalised to mean
    1 (so that tr Sigma = d); exponent 0 is the isotropic Sigma = I."""
    d = check_int("d", d, minimum=1)
    exponent = check_nonnegative("spectrum", exponent)
    lam = np.arange(1, d + 1, dtype=float) ** -exponent
    return lam * (d / lam.sum())


@dataclass
class Problems:
    """``B`` independent draws of the regression problem (one per seed).

    X: (B, n, d) training inputs; noise: (B, n) label noise; w: (B, d) the real model,
    scaled so that w^T Sigma w = signal; u: (B, d) the direction of the synthetic shift,
    scaled so that u^T Sigma u = 1 (delta = sqrt(c2) u); S: (B, m_max, d) projections;
    spectrum: (d,) the eigenvalues of the diagonal Sigma.
    """

    X: np.ndarray
    noise: np.ndarray
    w: np.ndarray
    u: np.ndarray
    S: np.ndarray
    spectrum: np.ndarray

    @property
    def n(self) -> int:
        return self.X.shape[1]

    def labels(self, p: float, c2: float) -> np.ndarray:
        """Training labels (B, n): the first round(p n) points carry synthetic labels of
        quality c2 (rows are i.i.d., so which rows they are does not matter)."""
        p = check_fraction("p", p)
        c2 = check_nonnegative("c2", c2)
        n_syn = int(round(p * self.n))
        y = np.einsum("bnd,bd->bn", self.X, self.w) + self.noise
        if n_syn and c2:
            y[:, :n_syn] += np.sqrt(c2) * np.einsum("bnd,bd->bn", self.X[:, :n_syn], self.u)
        return y

    def test_error(self, beta: np.ndarray) -> np.ndarray:
        """Excess test error on clean real labels, (beta - w)^T Sigma (beta - w), for
        coefficients (B, ..., d)."""
        diff = beta - self.w.reshape(self.w.shape[0], *([1] * (beta.ndim - 2)), -1)
        return np.einsum("...d,d->...", diff**2, self.spectrum)


def draw_problems(*, seeds: int, n: int, d: int, m_max: int, spectrum: float = 0.0, noise: float = 0.1,
                  signal: float = 1.0, seed: int = 0, first: int = 0) -> Problems:
    """Draw problems ``first .. first + seeds - 1`` of the run seeded by ``seed``: n
    training inputs of dimension d, label noise of variance ``noise``, a real model of
    signal variance ``signal`` drawn isotropically, a shift direction, and m_max x d
    projections with N(0, 1/d) entries. Problem b draws from its own stream, so a run
    split into chunks of problems gives the same numbers as one call."""
    seeds = check_int("seeds", seeds, minimum=1)
    n = check_int("n", n, minimum=1)
    m_max = check_int("m_max", m_max, minimum=1)
    first = check_int("first", first, minimum=0)
    lam = power_law_spectrum(d, spectrum)
    noise = check_nonnegative("noise", noise)
    signal = check_positive("signal", signal)
    X, eps, w, u, S = (np.empty(shape) for shape in ((seeds, n, d), (seeds, n), (seeds, d), (seeds, d),
                                                       (seeds, m_max, d)))
    for i in range(seeds):
        rng = np.random.default_rng([int(seed), 6, first + i])
        X[i] = rng.standard_normal((n, d)) * np.sqrt(lam)
        eps[i] = rng.standard_normal(n) * np.sqrt(noise)
        w[i] = rng.standard_normal(d)
        u[i] = rng.standard_normal(d)
        S[i] = rng.standard_normal((m_max, d)) / np.sqrt(d)
    w *= np.sqrt(signal / np.einsum("bd,d->b", w**2, lam))[:, None]
    u /= np.sqrt(np.einsum("bd,d->b", u**2, lam))[:, None]
    return Problems(X, eps, w, u, S, lam)


class RandomFeatureRidge:
    """Ridge (or minimum-norm, ``ridge=0``) regression on nested random projections.

    Parameters
    ----------
    widths: increasing model widths m (the first m rows of S are the model of width m).
    ridge: lambda >= 0 in (1/n)||Z v - y||^2 + lambda ||v||^2; 0 gives the
        minimum-norm least-squares fit.
    threads: BLAS threads for the fit (None: the library default). One is fastest for
        the small matrices of the ``quick`` profile, above all on a busy machine.

    After ``fit``: ``coef_`` (B, K, d), or (B, L, K, d) for L label sets, the linear
    predictor beta = S_m^T v of each problem and width; ``weights_``: the trained last
    layers v, one array (B, m) or (B, L, m) per width.
    """

    def __init__(self, widths, ridge: float = 0.0, threads: int | None = 1):
        self.widths = widths
        self.ridge = ridge
        self.threads = threads

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "RandomFeatureRidge":
        """Fit every width to inputs X (B, n, d) and labels y (B, n), or (B, L, n) for L
        label sets that share the inputs, with projections S (B, m_max, d)."""
        widths = check_widths(self.widths)
        lam = check_nonnegative("ridge", self.ridge)
        B, n, d = X.shape
        if widths[-1] > S.shape[1]:
            _fail("widths", self.widths, f"the largest width must be <= the {S.shape[1]} rows of S")
        if lam == 0 and d < n and np.any(widths > d):
            _fail("ridge", self.ridge, f"minimum-norm fits of widths above d={d} need d >= n={n}; use ridge > 0")
        if self.threads is not None:
            check_int("threads", self.threads, minimum=1)
        with blas_threads(self.threads):
            return self._fit(X, y, S, widths, lam)

    def _fit(self, X, y, S, widths, lam):
        B, n, d = X.shape
        single = y.ndim == 2
        Y = (y[:, None] if single else y).transpose(0, 2, 1)  # (B, n, L)
        Z = X @ S[:, : widths[-1]].transpose(0, 2, 1)  # (B, n, m_max)
        reg = lam * n
        weights = []
        small = widths[widths <= n]
        if small.size:  # under-parameterised: solve in weight space (m x m)
            top = small[-1]
            Zt = Z[:, :, :top].transpose(0, 2, 1)
            G, ZY = Zt @ Z[:, :, :top], Zt @ Y
            for m in small:
                weights.append(np.linalg.solve(G[:, :m, :m] + reg * np.eye(m), ZY[:, :m]))  # (B, m, L)
        K = np.zeros((B, n, n))
        done = 0
        for m in widths[widths > n]:  # over-parameterised: solve in sample space (n x n)
            block = Z[:, :, done:m]
            K += block @ block.transpose(0, 2, 1)
            done = m
            alpha = np.linalg.solve(K + reg * np.eye(n), Y)  # (B, n, L)
            weights.append(Z[:, :, :m].transpose(0, 2, 1) @ alpha)
        coef = np.stack([(S[:, :m].transpose(0, 2, 1) @ v).transpose(0, 2, 1) for m, v in zip(widths, weights)],
                        axis=2)  # (B, L, K, d)
        self.weights_ = [v[..., 0] if single else v.transpose(0, 2, 1) for v in weights]
        self.coef_ = coef[:, 0] if single else coef
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (B, [L,] K, N) of every width for inputs X (B, N, d)."""
        return np.einsum("b...d,bnd->b...n", self.coef_, X)


def min_norm_limit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The m -> infinity limit of the random-projection model: with N(0, 1/d) entries,
    (d/m) S^T S -> I, and since the minimum-norm fit does not depend on the scale of S it
    becomes minimum-norm least squares in x itself, beta = X^T (X X^T)^(-1) y for d >= n. X (B, n, d), y (B, n)
    or (B, L, n); returns (B, d) or (B, L, d)."""
    B, n, d = X.shape
    if d < n:
        _fail("d", d, f"the minimum-norm interpolator needs d >= n={n}")
    single = y.ndim == 2
    Y = (y[:, None] if single else y).transpose(0, 2, 1)
    beta = (X.transpose(0, 2, 1) @ np.linalg.solve(X @ X.transpose(0, 2, 1), Y)).transpose(0, 2, 1)
    return beta[:, 0] if single else beta
