"""Checks for the exercises of chapter 7, "What stops collapse: verification and curation".

The closed forms are those of :mod:`collapse_lib.theory.verification`: the breakdown point of
verified labels (Feng et al., arXiv 2406.07515), the Gaussian tilt of curated retraining
(Ferbach et al., arXiv 2407.09499) and the verifier of Yi et al. (arXiv 2510.16657).
"""
from __future__ import annotations

import numpy as np

from ..experiments.verification_loops import accepts
from ..theory import verification as th
from ._common import AnswerError, check_close, check_true, passed


def check_breakdown_point(kept_error, breakdown, p: float = 0.7, phi: float = 0.9, psi: float = 0.3) -> bool:
    """Exercise "The breakdown point": the share p' of wrong labels among the kept ones at
    error rate ``p``, and the breakdown point p*."""
    check_close(f"p' at p={p:g}, phi={phi:g}, psi={psi:g}", kept_error, float(th.kept_error_rate(p, phi, psi)),
                rtol=1e-3, hint="Bayes' rule: P(wrong | kept) = p psi / P(kept), P(kept) = p psi + (1 - p) phi")
    expected = th.breakdown_point(phi, psi)
    check_close(f"p* for phi={phi:g}, psi={psi:g}", breakdown, expected, rtol=1e-3,
                hint="set p' = 1/2 and solve for p")
    return passed(f"p' = {float(th.kept_error_rate(p, phi, psi)):.4f}; below p* = {expected:.4f} more verified "
                  "data help, above it they hurt")


def check_tilt(mean, var, rounds: int = 4, gamma: float = 0.5, target: float = 2.0) -> bool:
    """Exercise "The tilt after t rounds": mean and variance of N(0, 1) tilted ``rounds`` times
    by exp(-gamma (x - target)^2 / 2)."""
    m, v = th.tilt_after(rounds, "quadratic", gamma, target)
    check_close(f"variance after {rounds} rounds (gamma={gamma:g})", var, float(v), rtol=1e-3,
                hint="a Gaussian times exp(-gamma (x - a)^2 / 2) is Gaussian: the precisions add, once per round")
    check_close(f"mean after {rounds} rounds (gamma={gamma:g}, a={target:g})", mean, float(m), rtol=1e-3, atol=1e-9,
                hint="the new mean is the precision-weighted average of the old mean and a")
    return passed(f"N({float(m):.4f}, {float(v):.4f}): the mean moves toward a = {target:g} and the variance "
                  f"shrinks like 1/(1 + t gamma)")


def check_verifier(func) -> bool:
    """Exercise "Implement a verifier": ``func(x, y, centre, slope, width)`` returns a boolean
    array (n,) that keeps (x_i, y_i) when |y_i - x_i^T centre| <= slope |x_i| + width; compared
    with the library's verifier on random data."""
    if not callable(func):
        raise AnswerError(f"verify: expected a function, got {func!r} ({type(func).__name__})")
    rng = np.random.default_rng(11)
    for n, d, slope, width in [(200, 3, 0.0, 1.0), (100, 10, 0.3, 0.5), (1, 1, 1.0, 0.1)]:
        x = rng.standard_normal((n, d))
        centre = rng.standard_normal(d)
        y = x @ centre + 2 * rng.standard_normal(n)
        try:
            got = func(x, y, centre, slope, width)
        except Exception as exc:  # the student's code failed: say how, do not crash
            raise AnswerError(f"verify on {n} points in d={d} raised {type(exc).__name__}: {exc}") from exc
        if got is None or got is Ellipsis:
            raise AnswerError("verify: no answer yet: replace the ... with your code")
        got = np.asarray(got)
        check_true(got.shape == (n,), f"verify returned shape {got.shape}; expected one decision per point, ({n},)")
        want = accepts(x, y, centre, slope, width)
        wrong = int(np.sum(got.astype(bool) != want))
        check_true(wrong == 0, f"verify decides {wrong} of {n} points differently (d={d}, r={slope:g}, "
                               f"sigma_c={width:g}). Hint: the tolerance is r |x| + sigma_c, |x| the Euclidean norm")
    return passed("your verifier keeps exactly the points within r |x| + sigma_c of the centre's prediction")
