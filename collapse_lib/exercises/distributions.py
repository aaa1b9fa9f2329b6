"""Checks for the exercises of chapter 1, "Distributions and tails".

The closed forms are those of Shumailov et al. (Nature, 2024; Theorem 3.1 and its
supplementary derivations) and of the Wright–Fisher chain of the sandwich survey,
computed by :mod:`collapse_lib.theory`.
"""
from __future__ import annotations

import math

import numpy as np

from ..theory import categorical
from ._common import AnswerError, _as_float, check_close, passed

#: The sandwich survey of the chapter, as probabilities.
SANDWICH_PROBS = (0.35, 0.35, 0.05, 0.05, 0.01, 0.01, 0.18)


def check_mle_halving_generation(answer, samples: int = 100) -> bool:
    """Exercise "The biased estimator": when the expected maximum-likelihood variance
    sigma^2 ((M-1)/M)^(g+1) has halved. Both readings of "how many generations" are
    accepted: the generation index g (67.97, or the first whole generation 68, for
    M = 100) and the number of fits g + 1 (68.97, or 69); each within half a generation."""
    value = _as_float("generation at which E[sigma_g^2] halves", answer)
    fits = math.log(2) / math.log(samples / (samples - 1))  # real number of fits g + 1
    readings = {"the generation g": fits - 1, "the number of fits g + 1": fits}
    for reading, expected in readings.items():
        if abs(value - expected) <= 0.5 or value == math.ceil(expected):
            return passed(f"as {reading}: the expected MLE variance halves at generation {fits - 1:.2f}, "
                          f"that is after {fits:.2f} fits, with M = {samples}")
    raise AnswerError(
        f"generation at which E[sigma_g^2] halves: got {value:.6g}, expected {fits - 1:.2f} (the generation g) "
        f"or {fits:.2f} (the number of fits g+1). Hint: E[sigma_g^2] = sigma^2 ((M-1)/M)^(g+1) after g+1 fits: "
        "solve for g")


def _significant(name: str, answer, expected: float, digits: int, hint: str, percent: bool = False) -> str:
    """Accept ``answer`` if it agrees with ``expected`` to ``digits`` significant figures
    (within one unit of the last digit asked for, so that either rounding passes); with
    ``percent``, a probability given as a percentage passes too. Returns the reading."""
    value = _as_float(name, answer)
    unit = 10.0 ** (math.floor(math.log10(abs(expected))) - digits + 1)
    readings = {"as a fraction": value} | ({"as a percentage": value / 100.0} if percent else {})
    for reading, v in readings.items():
        if abs(v - expected) <= unit * (1 + 1e-9):
            return reading
    shown = f"{expected:.{digits}g}" + (f" (or {100 * expected:.{digits}g} %)" if percent else "")
    raise AnswerError(f"{name}: got {value:.6g}, expected {shown} to {digits} significant figures. Hint: {hint}")


def check_first_generation_loss(answer, q: float = 0.01, samples: int = 1000) -> bool:
    """Exercise "Change the survey size and predict": the probability that an answer of
    probability ``q`` is missing from the first generation's ``samples`` draws, to two
    significant figures, as a fraction or a percentage."""
    expected = categorical.one_generation_loss(q, samples)
    reading = _significant(f"P(an answer of probability {q} is lost in generation 0, M = {samples})", answer,
                           expected, 2, "each of the M independent draws misses the answer with probability 1 - q",
                           percent=True)
    return passed(f"(1 - {q})^{samples} = {expected:.3g}, {reading}")


def check_survival_halving(answer, q: float = 0.01, samples: int = 1000) -> bool:
    """Exercise "Change the survey size and predict": the first generation g at which
    P(the answer is still present) is at or below one half, from the exact Wright-Fisher
    chain (:func:`collapse_lib.theory.categorical.survival_probability`); a whole number."""
    value = _as_float(f"first generation with P(alive) <= 1/2 (q = {q}, M = {samples})", answer)
    alive = categorical.survival_probability(q, samples, 20 * samples)
    below = np.flatnonzero(alive <= 0.5)
    if below.size == 0:
        raise ValueError(f"samples={samples!r} with q={q!r}: P(alive) stays above 1/2 for {20 * samples} generations")
    expected = int(below[0])
    if value != expected:
        raise AnswerError(f"first generation with P(alive) <= 1/2 (q = {q}, M = {samples}): got {value:.6g}, "
                          f"expected {expected}. Hint: survival_probability(q, M, G) returns P(alive) for "
                          "generations 0..G; generation 0 is the fit to the real data")
    return passed(f"P(alive) first falls to one half at generation {expected} for M = {samples} "
                  f"({alive[expected]:.3f})")


def check_selection_by_survival(p_alive, share_if_alive, q: float = 1e-6, samples: int = 10_000) -> bool:
    """Exercise "Honey and dirt": the chance that an item of probability ``q`` appears
    among ``samples`` draws, and its expected share in the samples where it does,
    q / P(alive); each to two significant figures (the first also as a percentage)."""
    expected = 1.0 - categorical.one_generation_loss(q, samples)
    _significant(f"P(an item of probability {q:g} appears among {samples:,} draws)", p_alive, expected, 2,
                 "1 minus the chance that every draw misses it", percent=True)
    share = q / expected
    _significant(f"expected share where it appears (q = {q:g}, M = {samples:,})", share_if_alive, share, 2,
                 "E[share] = q overall, and the share is 0 where it is missing: divide q by P(it appears)")
    return passed(f"P(it appears) = {expected:.3g}, and where it does its expected share is {share:.3g}, "
                  f"{share / q:.0f} times its real probability; any survivor has a share of at least 1/M = "
                  f"{1 / samples:.0e}")


def _call(func, name: str, *args):
    if not callable(func):
        raise AnswerError(f"{name}: expected a function, got {func!r} ({type(func).__name__})")
    try:
        return func(*args)
    except Exception as exc:  # the student's code failed: say how, do not crash
        raise AnswerError(f"{name}{args!r} raised {type(exc).__name__}: {exc}") from exc


def check_surviving_after_one(func) -> bool:
    """Exercise "Implement the expected number of surviving answers": ``func(probs, M)``
    returns the expected number of answers present in the first generation's M draws.
    It is tried on the sandwich survey and on other distributions and sample sizes."""
    rng = np.random.default_rng(0)
    cases = [(SANDWICH_PROBS, 100), (SANDWICH_PROBS, 10), (SANDWICH_PROBS, 1000),
             (tuple(rng.dirichlet(np.ones(12))), 30), ((1.0,), 5)]
    for probs, M in cases:
        expected = float(categorical.expected_surviving(np.asarray(probs), M, 0)[0])
        got = _call(func, "surviving_after_one", np.asarray(probs), M)
        check_close(f"surviving_after_one(probs={np.round(probs, 3).tolist()}, M={M})", got, expected,
                    rtol=1e-6, atol=1e-9,
                    hint="by linearity of expectation, sum over answers of 1 - (1 - q_k)^M")
    first = float(categorical.expected_surviving(np.asarray(SANDWICH_PROBS), 100, 0)[0])
    return passed(f"your function agrees on {len(cases)} cases (sandwich survey, M = 100: {first:.3f} answers)")
