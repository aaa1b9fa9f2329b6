"""Checks for the exercises of chapter 4, language models and perplexity."""
from __future__ import annotations

import numpy as np

from ._common import AnswerError, check_close, passed


def perplexity_of_probs(probs) -> float:
    """Perplexity of a sequence whose predicted tokens had probabilities ``probs``:
    ``exp(-mean(log p))``, the inverse geometric mean of the probabilities."""
    p = np.asarray(probs, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(p <= 0) or np.any(p > 1):
        raise ValueError(f"probs={probs!r} is not allowed: it must be a non-empty list of probabilities in (0, 1]")
    return float(np.exp(-np.mean(np.log(p))))


def check_perplexity(answer, probs) -> bool:
    """The perplexity of a sequence whose predicted tokens had probabilities ``probs``, asked
    to three significant digits: a relative tolerance of 1e-2 accepts any such rounding
    (2.74 for 2.7399...), and the two-digit 2.7 is refused (1.5 % off)."""
    expected = perplexity_of_probs(probs)
    check_close("perplexity", answer, expected, rtol=1e-2,
                hint="take the mean of -log p over the tokens, then exponentiate (not the mean of 1/p)")
    return passed(f"perplexity {expected:.4g}, the inverse geometric mean of the {len(probs)} probabilities")


def check_sequence_perplexities(answer, nll) -> bool:
    """Per-sequence perplexities from a matrix ``nll`` (sequences x predicted tokens) of
    token negative log-likelihoods in nats."""
    nll = np.asarray(nll, dtype=float)
    expected = np.exp(nll.mean(axis=1))
    if answer is None or answer is Ellipsis:
        raise AnswerError("sequence perplexities: no answer yet: return one perplexity per row of nll")
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        raise AnswerError(f"sequence perplexities: expected an array of {len(expected)} numbers, "
                          f"got {type(answer).__name__}") from None
    if got.shape != expected.shape:
        raise AnswerError(f"sequence perplexities: expected shape {expected.shape} (one number per sequence), "
                          f"got shape {got.shape}; average over axis 1, the tokens")
    bad = ~np.isclose(got, expected, rtol=1e-4)
    if bad.any():
        i = int(np.argmax(bad))
        hint = ""
        if np.allclose(got, np.exp(nll).mean(axis=1), rtol=1e-4):
            hint = " (you averaged exp(nll); exponentiate the mean instead)"
        raise AnswerError(f"sequence perplexities: {int(bad.sum())} of {len(expected)} are wrong, e.g. sequence {i}: "
                          f"got {got[i]:.6g}, expected {expected[i]:.6g}{hint}")
    return passed(f"{len(expected)} sequence perplexities, exp of each row's mean NLL")


def check_mfu(answer, n_params: int, tokens: int, seconds: float, peak_flops: float) -> bool:
    """Model FLOPs utilisation of training ``n_params`` weights on ``tokens`` tokens in
    ``seconds`` on a device of ``peak_flops`` FLOP/s, as a fraction (0.025, not 2.5 %),
    to two significant digits: a relative tolerance of 1e-2 accepts 0.025 for 0.02494."""
    expected = 6.0 * n_params * tokens / seconds / peak_flops
    try:
        value = float(answer)
    except (TypeError, ValueError):
        value = None
    if value is not None and expected < 1 and 1 <= value <= 100:
        raise AnswerError(f"model FLOPs utilisation: got {value:g}, which looks like a percentage; give it as a "
                          f"fraction between 0 and 1")
    check_close("model FLOPs utilisation", answer, expected, rtol=1e-2,
                hint="a forward pass costs 2 FLOPs per weight and token, the backward pass twice that")
    return passed(f"MFU {expected:.1%}: 6 x {int(n_params):,} weights x {int(tokens):,} tokens in {seconds:g} s")
