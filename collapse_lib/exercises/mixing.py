"""Checks for the exercises of chapter 5, "Mixing real data".

The closed forms are those of :mod:`collapse_lib.theory.linreg`: replace and accumulate
for linear regression (Gerstgrasser et al., COLM 2024, Theorem 2; Dohmatob, Feng and
Kempe, NeurIPS 2024) and the strong-collapse floor (Dohmatob, Feng, Subramonian and
Kempe, ICLR 2025).
"""
from __future__ import annotations

import numpy as np

from ..theory import linreg
from ._common import AnswerError, check_close, check_true, passed


def check_replace_error(answer, generation: int = 9, T: int = 111, d: int = 10, noise: float = 1.0) -> bool:
    """Exercise "Replace, derived": the expected excess test error of generation
    ``generation`` under replace (generation 0 is the fit to real data)."""
    expected = float(linreg.replace_error(generation, T, d, noise))
    check_close(f"E[excess error] of generation {generation} (T={T}, d={d}, sigma^2={noise**2:g})", answer, expected,
                rtol=1e-3, hint="each fit adds an independent error of expected size sigma^2 d / (T - d - 1), "
                                "and generation g is the result of g + 1 fits")
    return passed(f"{generation + 1} fits x {expected / (generation + 1):.4g} = {expected:.4g}")


def check_accumulate_bound(answer, T: int = 111, d: int = 10, noise: float = 1.0) -> bool:
    """Exercise "Replace, derived", second part: a bound that no generation of accumulate
    exceeds. Accepted: the paper's (pi^2/6) sigma^2 d / (T - d - 1), the least upper bound with
    fresh inputs (the limit of the exact sum, sigma^2 d sum_k 1/(k (k T - d - 1))) or any value
    between, to three significant figures (relative 5e-3)."""
    hi = linreg.accumulate_bound(T, d, noise)
    k = np.arange(1, 10**6 + 1, dtype=float)
    tail = noise**2 * d / (T * 10**6)  # sum_{k > K} 1/(k (k T - d - 1)) ~ 1/(T K)
    lo = float(noise**2 * d * np.sum(1.0 / (k * (k * T - d - 1.0))) + tail)
    value = check_close(f"bound on accumulate's excess error (T={T}, d={d}, sigma^2={noise**2:g})", answer,
                        (lo + hi) / 2, rtol=0.0, atol=(hi - lo) / 2 + 5e-3 * hi,
                        hint="the k-th synthetic set enters with weight 1/k, so its error counts 1/k^2 times; "
                             "sum over k")
    return passed(f"{value:.4g}: accumulate's exact sum tends to {lo:.4g}, below (pi^2/6) x "
                  f"{hi / (np.pi**2 / 6):.4g} = {hi:.4g}")


def check_crossover_size(answer, p: float = 0.01, c2: float = 1.0, d: int = 10, noise: float = 1.0) -> bool:
    """Exercise "Where the floor takes over": the training-set size n at which the
    variance term sigma^2 d / n of strong collapse equals the floor p^2 c^2."""
    if p == 0 or c2 == 0:
        raise AnswerError(f"with p={p} and c2={c2} there is no floor, so no crossover: pick p > 0 and c2 > 0")
    expected = noise**2 * d / linreg.strong_collapse_floor(p, c2)
    check_close(f"n where sigma^2 d / n = p^2 c^2 (p={p:g}, c^2={c2:g}, d={d})", answer, expected, rtol=0.01,
                hint="set sigma^2 d / n equal to p^2 c^2 and solve for n")
    return passed(f"beyond n = {expected:,.0f} more data no longer helps much: the floor {p**2 * c2:.3g} dominates")


def check_batched_ols(func) -> bool:
    """Exercise "Implement the batched fit": ``func(xx, xy)`` takes X^T X (C, d, d) and
    X^T y (C, d) of C chains and returns the least-squares weights (C, d). It is compared
    with ``np.linalg.lstsq`` chain by chain on random data."""
    if not callable(func):
        raise AnswerError(f"batched_ols: expected a function, got {func!r} ({type(func).__name__})")
    rng = np.random.default_rng(5)
    for C, n, d in [(7, 40, 3), (3, 12, 10), (1, 5, 1)]:
        x = rng.standard_normal((C, n, d))
        y = x @ rng.standard_normal((C, d, 1)) + rng.standard_normal((C, n, 1))
        xx, xy = np.swapaxes(x, 1, 2) @ x, (np.swapaxes(x, 1, 2) @ y)[..., 0]
        try:
            got = func(xx, xy)
        except Exception as exc:  # the student's code failed: say how, do not crash
            raise AnswerError(f"batched_ols on {C} chains of {n} points in d={d} raised "
                              f"{type(exc).__name__}: {exc}") from exc
        if got is None or got is Ellipsis:
            raise AnswerError("batched_ols: no answer yet: replace the ... with your code")
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise AnswerError(f"batched_ols returned {got!r}; expected an array of shape (chains, d)") from None
        check_true(got.shape == (C, d), f"batched_ols returned shape {got.shape}; expected (chains, d) = {(C, d)}")
        want = np.stack([np.linalg.lstsq(x[c], y[c, :, 0], rcond=None)[0] for c in range(C)])
        worst = float(np.max(np.abs(got - want)))
        check_true(worst <= 1e-8 * (1 + np.max(np.abs(want))),
                   f"batched_ols differs from np.linalg.lstsq by up to {worst:.3g} on {C} chains of {n} points "
                   f"in d={d}. Hint: solve (X^T X) w = X^T y for every chain at once")
    return passed("your batched fit agrees with np.linalg.lstsq on every chain")
