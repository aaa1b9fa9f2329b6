"""Closed forms for linear regression on synthetic labels.

Setting (:mod:`collapse_lib.families.linreg`): inputs x ~ N(0, I_d), label noise of
variance sigma^2, least squares on T points a generation. The *excess* test error of a
fit w is E_x[(x^T w - x^T w*)^2] = |w - w*|^2; the test error adds sigma^2.

**One fit.** w - w* = (X^T X)^-1 X^T eps, and E[(X^T X)^-1] = I / (T - d - 1) for a
Wishart matrix, so one fit's excess error is e_1 = sigma^2 d / (T - d - 1) (T >= d + 2).

**Replace** (Dohmatob, Feng and Kempe, "Model Collapse Demystified", NeurIPS 2024;
Gerstgrasser et al., "Is Model Collapse Inevitable?", COLM 2024, Theorem 2). Each
generation adds an independent error (X_t^T X_t)^-1 X_t^T eps_t to the last one's
weights, so after n fits the excess error is n e_1: it grows without bound. The course's
generation g (generation 0 is the fit to real data) is n = g + 1 fits.

**Accumulate** (Gerstgrasser et al., Theorem 2). Training on the real data and every
synthetic set so far, with A_t = X_0^T X_0 + ... + X_t^T X_t, the normal equations give
A_t e_t = A_{t-1} e_{t-1} + X_t^T X_t e_{t-1} + X_t^T eps_t, so

    e_t = e_{t-1} + A_t^-1 X_t^T eps_t,    e_g = sum_{t<=g} A_t^-1 X_t^T eps_t,

a sum of uncorrelated terms. A_t is Wishart with (t+1) T points and X_t^T X_t one of
its t+1 exchangeable blocks, so E tr(A_t^-2 X_t^T X_t) = E tr(A_t^-1) / (t+1) and

    E |e_g|^2 = sigma^2 d sum_{k=1}^{g+1} 1 / (k (k T - d - 1))
              <= e_1 sum_k 1/k^2 < (pi^2 / 6) e_1

(k T - d - 1 >= k (T - d - 1)). The paper, which relabels one fixed design, gets
e_1 sum_k 1/k^2 exactly; with fresh inputs every generation, as here, the sum above is
exact and slightly smaller.

**Accumulate-subsample** (Kazdan et al., "Collapse or Thrive?", arXiv 2410.16713): each
generation fits T points drawn from the real data and every synthetic set so far. No
closed form is given here: the same points return in many generations' subsets, so the
generations' errors are correlated through the points they share and the sum above does
not carry over. Chapter 5 measures the rate (:mod:`collapse_lib.experiments.mixing_subsample`).

**Strong model collapse** (Dohmatob, Feng, Subramonian and Kempe, "Strong Model
Collapse", ICLR 2025). One training set of n points, n_2 = round(p n) of them labelled
by a shifted model w* + Delta (its quality c^2 = |Delta|^2, the excess error of the model
that made the synthetic labels), the rest real. The least-squares error is
e = A^-1 X_2^T X_2 Delta + A^-1 X^T eps, and

    E |e|^2 = sigma^2 d / (n - d - 1) + B(n, n_2) c^2,
    B = n_2 k_1 + n_2 (n_2 - 1) (1 - n k_1) / (n (n - 1)),
    k_1 = (n - 2)(d + 2) / (n (n + 2)(n - d - 1)),

where k_1 c^2 = E[(x_1^T Delta)^2 x_1^T A^-2 x_1] (exchangeability of the n points, the
Beta(d/2, (n-d)/2) law of a leverage and the independence of a Wishart matrix's
eigenvalues from its eigenvectors). For large n, B = p^2 + p (1 - p) (d + 1) / n + O(n^-2):
the error approaches sigma^2 d / n + p^2 c^2 and the floor p^2 c^2, however much data is
added.

**Bias and variance.** With q = n_2 / n the synthetic share actually drawn, E[A^-1 X_2^T X_2]
= q I (exchangeability), so the synthetic labels' part of the error splits exactly into

    bias^2 = q^2 c^2   (the floor: it does not depend on n)
    variance = q (1 - q) V(n, d) c^2,   V = (n^2 k_1 - 1) / (n - 1),

B = q^2 + q (1 - q) V. V ~ (d + 1) / n for n >> d; in the proportional limit d / n -> phi
(< 1) V -> phi / (1 - phi), so the error tends to
sigma^2 phi / (1 - phi) + p^2 c^2 + p (1 - p) c^2 phi / (1 - phi): the synthetic labels'
variance is of first order in phi.

**Fresh real data** (each generation T points, round(f T) of them new real ones, the rest
labelled by the previous fit). The previous error is independent of the new design and the
isotropic B depends on it only through its squared norm, so E_t = B(T, T - round(f T)) E_{t-1}
+ e_1 exactly, E_g = e_1 (1 - B^(g+1)) / (1 - B) -> e_1 / (1 - B).
"""
from __future__ import annotations

import numpy as np

from ..validation import check_fraction, check_int


def _check_fit(T, d: int, name: str = "T") -> tuple[np.ndarray, int]:
    d = check_int("d", d, minimum=1)
    T_arr = np.asarray(T)
    if not np.issubdtype(T_arr.dtype, np.integer) and not np.all(T_arr == np.round(T_arr)):
        raise ValueError(f"{name}={T!r} is not allowed: it must be an integer (or integers) >= d + 2 = {d + 2}")
    if np.any(T_arr < d + 2):
        raise ValueError(f"{name}={T!r} is not allowed: least squares needs {name} >= d + 2 = {d + 2} "
                         f"for a finite expected error sigma^2 d / ({name} - d - 1)")
    return T_arr.astype(float), d


def _check_noise(noise) -> float:
    noise = float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise={noise!r} is not allowed: it must be a finite number >= 0 (the label noise sigma)")
    return noise


def _check_generation(generation) -> np.ndarray:
    g = np.asarray(generation)
    if np.any(g < 0) or not np.all(g == np.round(g)):
        raise ValueError(f"generation={generation!r} is not allowed: generations are integers >= 0")
    return g.astype(int)


def one_fit_error(T, d: int, noise: float = 1.0):
    """e_1 = sigma^2 d / (T - d - 1): the expected excess error of one least-squares fit."""
    T, d = _check_fit(T, d)
    return _check_noise(noise) ** 2 * d / (T - d - 1.0)


def replace_error(generation, T: int, d: int, noise: float = 1.0):
    """Replace: (g + 1) sigma^2 d / (T - d - 1) at generation g (g + 1 fits)."""
    g = _check_generation(generation)
    return (g + 1.0) * one_fit_error(T, d, noise)


def accumulate_error(generation, T: int, d: int, noise: float = 1.0):
    """Accumulate, fresh inputs every generation: sigma^2 d sum_{k=1}^{g+1} 1/(k (k T - d - 1))."""
    g = _check_generation(generation)
    T, d = _check_fit(T, d)
    k = np.arange(1, int(np.max(g)) + 2, dtype=float)
    terms = np.cumsum(1.0 / (k * (k * T - d - 1.0)))
    return _check_noise(noise) ** 2 * d * terms[g]


def accumulate_error_fixed_design(generation, T: int, d: int, noise: float = 1.0):
    """Accumulate with one fixed design relabelled every generation (Gerstgrasser et al.,
    Theorem 2): e_1 sum_{k=1}^{g+1} 1/k^2."""
    g = _check_generation(generation)
    k = np.arange(1, int(np.max(g)) + 2, dtype=float)
    return one_fit_error(T, d, noise) * np.cumsum(1.0 / k**2)[g]


def accumulate_bound(T: int, d: int, noise: float = 1.0) -> float:
    """(pi^2 / 6) e_1: no generation of accumulate exceeds it."""
    return float(np.pi**2 / 6.0 * one_fit_error(T, d, noise))


def _check_strong(n, p, c2, d, noise):
    n_arr, d = _check_fit(n, d, name="n")
    p = check_fraction("p", p)
    c2 = float(c2)
    if not (np.isfinite(c2) and c2 >= 0):
        raise ValueError(f"c2={c2!r} is not allowed: it must be a finite number >= 0 (the synthetic model's quality)")
    return n_arr, p, c2, d, _check_noise(noise)


def synthetic_count(n, p: float):
    """n_2 = round(p n): how many of the n training points carry synthetic labels."""
    return np.rint(p * np.asarray(n, dtype=float)).astype(int)


def strong_collapse_bias(n, p: float, d: int):
    """B(n, n_2): E|A^-1 X_2^T X_2 Delta|^2 / |Delta|^2 for n_2 = round(p n) synthetic points."""
    n_arr, p, _, d, _ = _check_strong(n, p, 0.0, d, 0.0)
    n2 = synthetic_count(n_arr, p).astype(float)
    k1 = (n_arr - 2.0) * (d + 2.0) / (n_arr * (n_arr + 2.0) * (n_arr - d - 1.0))
    return n2 * k1 + n2 * (n2 - 1.0) * (1.0 - n_arr * k1) / (n_arr * (n_arr - 1.0))


def synthetic_share(n, p: float):
    """q = n_2 / n = round(p n) / n: the share of synthetic labels actually drawn."""
    return synthetic_count(n, p) / np.asarray(n, dtype=float)


def strong_collapse_variance_factor(n, d: int):
    """V(n, d) = (n^2 k_1 - 1) / (n - 1): the synthetic labels' variance is q (1 - q) V c^2
    (about (d + 1) / n for n >> d, phi / (1 - phi) for d / n -> phi)."""
    n_arr, d = _check_fit(n, d, name="n")
    a = (n_arr - 2.0) * (d + 2.0) / ((n_arr + 2.0) * (n_arr - d - 1.0))  # n k_1
    return (n_arr * a - 1.0) / (n_arr - 1.0)


def strong_collapse_split(n, p: float, c2: float, d: int, noise: float = 1.0) -> dict:
    """The exact expected excess error in its three parts: ``noise`` sigma^2 d/(n-d-1), ``bias``
    q^2 c^2 (the floor) and ``variance`` q (1 - q) V(n, d) c^2 of the synthetic labels."""
    n_arr, p, c2, d, noise = _check_strong(n, p, c2, d, noise)
    q = synthetic_share(n_arr, p)
    return {"noise": noise**2 * d / (n_arr - d - 1.0), "bias": q**2 * c2,
            "variance": q * (1.0 - q) * strong_collapse_variance_factor(n_arr, d) * c2}


def strong_collapse_proportional(p: float, c2: float, phi, noise: float = 1.0):
    """The limit of the exact error as n, d -> infinity with d / n -> phi < 1:
    sigma^2 phi / (1 - phi) + p^2 c^2 + p (1 - p) c^2 phi / (1 - phi)."""
    p = check_fraction("p", p)
    phi = np.asarray(phi, dtype=float)
    if np.any(phi < 0) or np.any(phi >= 1):
        raise ValueError(f"phi={phi!r} is not allowed: the ratio d / n must lie in [0, 1)")
    c2, noise = float(c2), _check_noise(noise)
    g = phi / (1.0 - phi)
    return noise**2 * g + p**2 * c2 + p * (1.0 - p) * c2 * g


def fresh_error(generation, T: int, d: int, real_fraction: float, noise: float = 1.0):
    """Fresh real data (round(f T) new real points a generation, the rest labelled by the
    previous fit): e_1 (1 - B^(g+1)) / (1 - B) with B = B(T, T - round(f T))."""
    g = _check_generation(generation)
    f = check_fraction("real_fraction", real_fraction)
    T_arr, d = _check_fit(T, d)
    b = float(strong_collapse_bias(T, 1.0 - np.rint(f * T_arr) / T_arr, d))
    e1 = one_fit_error(T, d, noise)
    return e1 * (g + 1.0) if b == 1.0 else e1 * (1.0 - b ** (g + 1.0)) / (1.0 - b)


def strong_collapse_error(n, p: float, c2: float, d: int, noise: float = 1.0):
    """Exact expected excess test error of least squares on n points, a fraction p of them
    labelled by a model of quality c^2: sigma^2 d/(n-d-1) + B(n, round(p n)) c^2."""
    n_arr, p, c2, d, noise = _check_strong(n, p, c2, d, noise)
    return noise**2 * d / (n_arr - d - 1.0) + strong_collapse_bias(n, p, d) * c2


def strong_collapse_asymptotic(n, p: float, c2: float, d: int, noise: float = 1.0):
    """The paper's isotropic approximation (Corollary 1, ridgeless): sigma^2 d / n + p^2 c^2."""
    n_arr, p, c2, d, noise = _check_strong(n, p, c2, d, noise)
    return noise**2 * d / n_arr + p**2 * c2


def strong_collapse_floor(p: float, c2: float) -> float:
    """p^2 c^2: the error no amount of data removes when a fraction p of labels is synthetic."""
    p = check_fraction("p", p)
    c2 = float(c2)
    if not (np.isfinite(c2) and c2 >= 0):
        raise ValueError(f"c2={c2!r} is not allowed: it must be a finite number >= 0 (the synthetic model's quality)")
    return p**2 * c2
