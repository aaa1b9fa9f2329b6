"""Checks for the exercises of chapter 6, larger models (random projections of Dohmatob
et al., "Strong Model Collapse", ICLR 2025)."""
from __future__ import annotations

import numpy as np

from ..families.random_features import RandomFeatureRidge
from ..theory.random_features import floor, variance_factor
from ._common import AnswerError, check_close, check_true, passed


def check_variance_factor(answer, m: int, n: int) -> bool:
    """The factor m / (n - m - 1) by which least squares on m Gaussian features and n
    points multiplies the label-noise variance in the test error."""
    expected = variance_factor(m, n)
    check_close(f"variance factor for m={m}, n={n}", answer, expected, rtol=1e-6,
                hint="E tr((Z^T Z)^-1) Sigma_z) for Z with n Gaussian rows of dimension m is m/(n - m - 1)")
    return passed(f"m/(n - m - 1) = {expected:.4g} for m={m}, n={n}")


def check_synthetic_floor(answer, p: float, c2: float) -> bool:
    """The floor p^2 c2 of the classical linear model trained on a fraction p of labels
    from a model of quality c2."""
    expected = floor(p, c2)
    check_close(f"floor for p={p}, c2={c2}", answer, expected, rtol=1e-6,
                hint="with many samples the fit converges to w + p delta; its test error is |p delta|^2_Sigma")
    return passed(f"p^2 c2 = {expected:.4g}")


def check_random_feature_fit(coef, X, y, S, m: int, ridge: float = 0.0) -> bool:
    """A student's predictor beta = S_m^T v (shape (d,)) for one problem: inputs X (n, d),
    labels y (n,), projections S (m_max, d), width m, compared with the library's fit."""
    check_true(coef is not None and coef is not Ellipsis,
               "coef: no answer yet: fit_width must return beta = S_m^T v, an array of shape (d,)")
    coef = np.asarray(coef, dtype=float)
    X, y, S = (np.asarray(a, dtype=float) for a in (X, y, S))
    check_true(coef.shape == (X.shape[1],), f"coef: expected shape ({X.shape[1]},) (beta = S_m^T v in input space), "
                                            f"got {coef.shape}")
    est = RandomFeatureRidge([m], ridge).fit(X[None], y[None], S[None])
    expected = est.coef_[0, 0]
    gap = np.linalg.norm(coef - expected) / max(np.linalg.norm(expected), 1e-12)
    if not gap < 1e-6:
        raise AnswerError(f"coef: relative distance {gap:.3g} from the library's fit of width {m}. Hint: use the "
                          "first m rows of S, Z = X S_m^T, the minimum-norm v = lstsq(Z, y) (or ridge), "
                          "then beta = S_m^T v")
    return passed(f"your width-{m} fit matches the library's (relative distance {gap:.1e})")
