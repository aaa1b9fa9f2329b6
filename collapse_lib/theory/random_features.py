"""Test error of random-projection regression with mixed labels: the exact formulas
the chapter draws over its simulations below the interpolation threshold.

Setting of :mod:`collapse_lib.families.random_features` (Dohmatob et al., "Strong Model
Collapse", ICLR 2025, section 2.2): x ~ N(0, Sigma), features z = S x of width m, the last
layer fitted by least squares on n points, of which a fraction p carry labels of the
shifted model w + delta (quality c2 = delta^T Sigma delta).

Under-parameterised side (m <= n - 2), given S. The best linear predictor of
x.w from z is z.a, with residual variance ``res(w) = w^T Sigma w - |proj of Sigma^(1/2) w
on the span of Sigma^(1/2) S^T|^2``. The residual is Gaussian and independent of z, so for
real labels the fit is ordinary least squares with Gaussian design z and independent
noise of variance sigma^2 + res(w), and with Sigma_z = S Sigma S^T, the covariance of z, the
classical identity E tr((Z^T Z)^(-1) Sigma_z)
= m/(n - m - 1) gives the **exact** expected test error (on clean real labels)

    E = res(w) + (sigma^2 + res(w)) * m / (n - m - 1)                   (p = 0).

With synthetic labels the fitted coefficient is a + M b + (noise term), where b is the
z-coefficient of delta (the part of the shift the projections can represent, of size
c2 - res(delta)) and M = (Z^T Z)^(-1) Z^T D Z (D selects the n_2 = round(p n) synthetic
rows). The two terms are uncorrelated, the noise of each row is independent of z, and in
whitened coordinates E|M b|^2 = B(n, n_2; m) |b|^2 with the matrix-beta moment B of
:func:`collapse_lib.theory.linreg.strong_collapse_bias` (the classical linear model of
chapter 5, with dimension m). So, again **exactly** given S, w and delta,

    E = res(w) + B(n, n_2; m) (c2 - res(delta))
        + (sigma^2 + (1 - n_2/n) res(w) + (n_2/n) res(w + delta)) * m / (n - m - 1).

Exactly, B = q^2 + q (1 - q) V(n, m) with q = n_2 / n and chapter 5's variance factor
V(n, m) (:func:`collapse_lib.theory.linreg.strong_collapse_variance_factor`, about
m / (n - m)), so the cost of the synthetic labels, the error with them minus the error
without them, splits into three parts (:func:`cost_split`):

    bias      q^2 (c2 - res(delta))                    the floor at width m: no n removes it
    variance  q (1 - q) V(n, m) (c2 - res(delta))       the fit chasing the particular synthetic rows
    unseen    q (res(w + delta) - res(w)) m / (n - m - 1)  the shift the projections cannot see,
                                                       extra label noise on the synthetic rows

As n grows at fixed m the last two vanish and the cost falls to the bias, p^2 (c2 -
res(delta)); the bias does not depend on n, and it is below p^2 c2 where the projections
miss part of delta. The variance parts grow as m approaches n: that is the amplification.

Far above the threshold (m -> infinity; the entries of S are N(0, 1/d), so S^T S -> (m/d) I,
that is (d/m) S^T S -> I, and the minimum-norm fit does not depend on the scale of S) the
model becomes minimum-norm least squares in x itself; for isotropic Sigma = I and d > n + 1 its expected test error is the
exact ``signal (1 - n/d) + sigma^2 n / (d - n - 1)`` (projection on a random n-dimensional
subspace, plus the mean of an inverse Wishart matrix). With n >= d + 2 points that limit
is ordinary least squares in x, and chapter 5's theorem holds for any Sigma once c2 =
delta^T Sigma delta (whiten x): the real-only error is sigma^2 d / (n - d - 1) and the cost
of the synthetic labels is B(n, n_2; d) c2 (:func:`wide_error`), which falls to p^2 c2.
"""
from __future__ import annotations

import numpy as np

from ..validation import _fail, check_fraction, check_int
from .linreg import (strong_collapse_bias, strong_collapse_floor, strong_collapse_variance_factor, synthetic_count,
                     synthetic_share)


def residual_form(S: np.ndarray, V: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    """The quadratic form R with res(sum_l a_l v_l) = a^T R a: for vectors V (B, L, d),
    ``R[b] = V Sigma V^T - (S Sigma V^T)^T (S Sigma S^T)^(-1) (S Sigma V^T)``, where
    res(v) is the variance of x.v that no linear function of z = S x explains. S (B, m, d)
    with m <= d, spectrum (d,) the diagonal of Sigma; returns (B, L, L)."""
    SL = S * spectrum  # S Sigma
    gram = SL @ S.transpose(0, 2, 1)  # S Sigma S^T
    cross = SL @ V.transpose(0, 2, 1)  # (B, m, L)
    full = (V * spectrum) @ V.transpose(0, 2, 1)
    return full - cross.transpose(0, 2, 1) @ np.linalg.solve(gram, cross)


def residual_forms_nested(S: np.ndarray, V: np.ndarray, spectrum: np.ndarray, widths) -> np.ndarray:
    """:func:`residual_form` for the nested models S[:, :m] of every width m in
    ``widths`` (each <= d), from one Gram matrix: S Sigma S^T of the first m rows is the
    leading m x m block of the full one. Returns (K, B, L, L)."""
    SL = S * spectrum
    gram = SL @ S.transpose(0, 2, 1)
    cross = SL @ V.transpose(0, 2, 1)
    full = (V * spectrum) @ V.transpose(0, 2, 1)
    out = []
    for m in np.asarray(widths, int).tolist():
        c = cross[:, :m]
        out.append(full - c.transpose(0, 2, 1) @ np.linalg.solve(gram[:, :m, :m], c))
    return np.stack(out)


def residual_variance(S: np.ndarray, v: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    """res(v) = v^T Sigma v - (S Sigma v)^T (S Sigma S^T)^(-1) (S Sigma v) for v (B, d);
    returns (B,)."""
    return residual_form(S, v[:, None], spectrum)[:, 0, 0]


def _check_under(m, n) -> tuple[int, int]:
    m = check_int("m", m, minimum=1)
    n = check_int("n", n, minimum=1)
    if m > n - 2:
        _fail("m", m, f"the under-parameterised formula needs m <= n - 2 = {n - 2}")
    return m, n


def variance_factor(m: int, n: int) -> float:
    """m / (n - m - 1): how much least squares with m Gaussian features on n points
    multiplies the label noise in the test error (exact for m <= n - 2)."""
    m, n = _check_under(m, n)
    return m / (n - m - 1)


def under_error_real(m: int, n: int, noise: float, res_w) -> np.ndarray:
    """Exact E[test error | S, w] for real labels only (p = 0), m <= n - 2."""
    res_w = np.asarray(res_w, float)
    return res_w + (noise + res_w) * variance_factor(m, n)


def under_error_mixed(m: int, n: int, noise: float, p: float, c2: float, res_w, res_delta, res_shifted) -> np.ndarray:
    """Exact E[test error | S, w, delta] with n_2 = round(p n) synthetic labels of quality
    c2, m <= n - 2 (see the module docstring); equals :func:`under_error_real` at p = 0.
    ``res_delta`` and ``res_shifted`` are res(delta) and res(w + delta)."""
    p = check_fraction("p", p)
    factor = variance_factor(m, n)
    res_w, res_delta, res_shifted = (np.asarray(a, float) for a in (res_w, res_delta, res_shifted))
    share = strong_collapse_bias(n, p, m)  # exactly 0 at p = 0 (no synthetic row)
    q = synthetic_count(n, p) / n
    seen = c2 - res_delta  # the part of delta the projections can represent
    return res_w + share * seen + (noise + (1 - q) * res_w + q * res_shifted) * factor


def cost_split(m: int, n, p: float, c2: float, res_w, res_delta, res_shifted) -> dict:
    """The exact expected cost of the synthetic labels at width m <= n - 2 (the error of
    :func:`under_error_mixed` minus that of :func:`under_error_real`, given S, w and delta)
    in its three parts, ``bias`` q^2 (c2 - res(delta)), ``variance`` q (1 - q) V(n, m)
    (c2 - res(delta)) and ``unseen`` q (res(w + delta) - res(w)) m / (n - m - 1), with
    q = round(p n) / n. ``n`` may be an array of sizes (each >= m + 2); ``res_*`` arrays
    over draws broadcast against it."""
    m = check_int("m", m, minimum=1)
    p = check_fraction("p", p)
    n_arr = np.asarray(n)
    if np.any(n_arr < m + 2):
        _fail("n", n, f"the under-parameterised formula needs n >= m + 2 = {m + 2}")
    q = synthetic_share(n_arr, p)
    seen = c2 - np.asarray(res_delta, float)
    factor = m / (n_arr - m - 1.0)
    return {"bias": q**2 * seen, "variance": q * (1 - q) * strong_collapse_variance_factor(n_arr, m) * seen,
            "unseen": q * (np.asarray(res_shifted, float) - np.asarray(res_w, float)) * factor}


def wide_error(n, d: int, noise: float, p: float, c2: float) -> tuple[np.ndarray, np.ndarray]:
    """The infinitely wide model with n >= d + 2 points (ordinary least squares in x, any
    Sigma, c2 = delta^T Sigma delta): exact expected test error with real labels only,
    ``noise d / (n - d - 1)`` (noise the label-noise variance), and the cost of a fraction p
    of synthetic labels, ``B(n, round(p n); d) c2`` (chapter 5's theorem). Returns (real, cost)."""
    d = check_int("d", d, minimum=1)
    p = check_fraction("p", p)
    n_arr = np.asarray(n)
    if np.any(n_arr < d + 2):
        _fail("n", n, f"least squares in x needs n >= d + 2 = {d + 2}")
    return float(noise) * d / (n_arr - d - 1.0), strong_collapse_bias(n_arr, p, d) * float(c2)


def wide_limit_isotropic(n: int, d: int, noise: float, signal: float = 1.0) -> float:
    """Exact expected test error of minimum-norm least squares in x (the m -> infinity
    limit of the random-projection model) for Sigma = I, real labels, d >= n + 2."""
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    if d < n + 2:
        _fail("d", d, f"the formula needs d >= n + 2 = {n + 2}")
    return signal * (1 - n / d) + noise * n / (d - n - 1)


#: The strong-model-collapse floor p^2 c2 of the classical linear model (Dohmatob et al.
#: 2025, Corollary 1): the error that more data does not remove (shared with chapter 5).
floor = strong_collapse_floor
