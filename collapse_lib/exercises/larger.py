"""Checks for the exercises of chapter 6, larger models (random projections of Dohmatob
et al., "Strong Model Collapse", ICLR 2025)."""
from __future__ import annotations

import numpy as np

from ..families.random_features import RandomFeatureRidge
from ..theory.random_features import floor, variance_factor
from ._common import AnswerError, check_close, check_true, passed


#: The precision the chapter's numeric questions ask for: three significant figures (half a
#: unit of the third digit, relative to the answer).
THREE_FIGURES = 5e-3


def check_variance_factor(answer, m: int, n: int, first_above_one=None) -> bool:
    """The factor m / (n - m - 1) by which least squares on m Gaussian features and n
    points multiplies the label-noise variance in the test error, to three significant
    figures; with ``first_above_one``, also the smallest width at which the factor for
    these n points exceeds 1 (m > (n - 1) / 2)."""
    if answer is Ellipsis:
        raise AnswerError("factor: no answer yet: replace the ... with the factor m/(n - m - 1) as a number")
    expected = variance_factor(m, n)
    check_close(f"variance factor for m={m}, n={n}", answer, expected, rtol=THREE_FIGURES,
                hint="E tr((Z^T Z)^-1) Sigma_z) for Z with n Gaussian rows of dimension m is m/(n - m - 1)")
    if first_above_one is None:
        return passed(f"m/(n - m - 1) = {expected:.4g} for m={m}, n={n}")
    if first_above_one is Ellipsis:
        raise AnswerError("first_width: no answer yet: replace the ... with the smallest width m whose factor is > 1")
    first = (n - 1) // 2 + 1
    check_true(float(first_above_one) == first,
               f"first_width: {first_above_one!r}, but the smallest m with m/({n} - m - 1) > 1 is {first}. Hint: "
               f"m/(n - m - 1) > 1 means m > (n - 1)/2")
    return passed(f"m/(n - m - 1) = {expected:.4g} for m={m}, n={n}; it first exceeds 1 at m = {first}")


def check_synthetic_floor(answer, p: float, c2: float) -> bool:
    """The floor p^2 c2 of the classical linear model trained on a fraction p of labels
    from a model of quality c2, to three significant figures."""
    if answer is Ellipsis:
        raise AnswerError("floor_answer: no answer yet: replace the ... with the floor as a number")
    expected = floor(p, c2)
    check_close(f"floor for p={p}, c2={c2}", answer, expected, rtol=THREE_FIGURES,
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


def check_first_bend(answer, samples, z: float | None = None) -> bool:
    """The share p2 of teacher labels whose curve of the wide network (the last width of
    the sample sweep ``samples``, a :class:`collapse_lib.experiments.larger_nets.SampleResult`)
    leaves the real-only curve first: the smallest n from which on its error stays more than
    ``z`` standard errors above real only (``SampleResult.departure``); None when no share
    leaves it. Shares that leave at the same smallest n are all right."""
    from ..experiments.larger_claims import Z_CLAIM

    if answer is Ellipsis:
        raise AnswerError("first_bend: no answer yet: replace the ... with a share p2 (or None if none leaves)")
    z = Z_CLAIM if z is None else z
    shares = np.asarray(samples.fractions[1:], float)
    dep = samples.departure(z)[1:, -1]
    first = dep.min() if dep.size else np.inf
    right = [] if not np.isfinite(first) else [float(p) for p, v in zip(shares, dep) if v == first]
    where = ", ".join(f"p2 = {p:g}: " + ("never" if not np.isfinite(v) else f"n = {int(v)}") for p, v in zip(shares, dep))
    if not right:
        check_true(answer is None, f"first_bend: {answer!r}, but no share leaves the real-only curve within "
                                   f"{z:g} standard errors in this run ({where}); the answer is None")
        return passed(f"no share leaves the real-only curve in this run ({where})")
    check_true(answer is not None and any(np.isclose(float(answer), p) for p in right),
               f"first_bend: {answer!r}, but the curve that leaves the real-only one first is p2 = "
               f"{' or '.join(f'{p:g}' for p in right)} ({where}). Hint: a larger share of wrong labels moves "
               "the error further from the real-only curve at every n, so its gap clears the noise soonest")
    return passed(f"p2 = {' or '.join(f'{p:g}' for p in right)} leaves first ({where})")
