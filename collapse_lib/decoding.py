"""How a model turns its probabilities into samples: temperature, top-p, top-k.

Shumailov et al. (Nature 2024) note that sampling which favours likely outputs speeds
up the loss of tails; "A Tale of Tails" (Dohmatob et al., 2024) models top-k/top-p
decoding as cutting the distribution at a rank k. These functions act on the last axis
of probability arrays, so they work for one distribution or for many chains at once.

Two decoders of chapter 4 are not here. The temperature-0 limit of :func:`apply_temperature`
is greedy decoding; beam search is a different mode-seeker, which approximates the most
likely whole continuation. The repetition penalty of Keskar et al. (2019), as Hugging Face
applies it inside beam search, acts on log-probabilities (all negative) of every token
already in the sequence, prompt included: ``log p -> theta * log p``, i.e. ``p -> p**theta``
in the beam score, once however often the token appeared; with one beam it acts on raw
logits instead (a positive logit divided by theta, a negative one multiplied).
"""
from __future__ import annotations

import numpy as np

from .validation import check_int, check_positive, check_top_p


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Renormalised ``probs ** (1 / temperature)``; below 1 sharpens, above 1 flattens."""
    temperature = check_positive("temperature", temperature)
    probs = np.asarray(probs, dtype=float)
    if temperature == 1.0:
        return probs
    # work in logs so that tiny probabilities at low temperature do not underflow
    with np.errstate(divide="ignore"):
        logits = np.log(probs) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=-1, keepdims=True)


def top_p_filter(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Keep the fewest most likely outcomes whose mass reaches ``top_p``, renormalised.

    The outcome that crosses ``top_p`` is kept; ties are broken by index.
    """
    top_p = check_top_p("top_p", top_p)
    probs = np.asarray(probs, dtype=float)
    if top_p == 1.0:
        return probs
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_p, axis=-1) - sorted_p
    keep_sorted = (mass_before < top_p * sorted_p.sum(axis=-1, keepdims=True)) & (sorted_p > 0)
    keep = np.empty_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    out = np.where(keep, probs, 0.0)
    return out / out.sum(axis=-1, keepdims=True)


def top_k_filter(probs: np.ndarray, top_k: int) -> np.ndarray:
    """Keep the ``top_k`` most likely outcomes (the tail cut at rank k), renormalised."""
    top_k = check_int("top_k", top_k, minimum=1)
    probs = np.asarray(probs, dtype=float)
    if top_k >= probs.shape[-1]:
        return probs
    order = np.argsort(-probs, axis=-1, kind="stable")
    keep = np.zeros(probs.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :top_k], True, axis=-1)
    out = np.where(keep, probs, 0.0)
    return out / out.sum(axis=-1, keepdims=True)


def decode(probs, temperature: float = 1.0, top_p: float = 1.0, top_k: int | None = None):
    """Temperature first, then top-k, then top-p: the order of common LM samplers."""
    out = apply_temperature(probs, temperature)
    if top_k is not None:
        out = top_k_filter(out, top_k)
    return top_p_filter(out, top_p)
