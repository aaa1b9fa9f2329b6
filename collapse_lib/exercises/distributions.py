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


def check_first_generation_loss(answer, q: float = 0.01, samples: int = 1000) -> bool:
    """Exercise "Change the survey size and predict": the probability that an answer of
    probability ``q`` is missing from the first generation's ``samples`` draws."""
    expected = categorical.one_generation_loss(q, samples)
    check_close(f"P(an answer of probability {q} is lost in generation 0, M = {samples})", answer,
                expected, rtol=1e-3,
                hint="each of the M independent draws misses the answer with probability 1 - q")
    return passed(f"(1 - {q})^{samples} = {expected:.3g}")


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
