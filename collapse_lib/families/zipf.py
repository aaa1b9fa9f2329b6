"""Zipf-distributed data, the setting of "A Tale of Tails" (Dohmatob, Feng, Yang,
Charton and Kempe, ICML 2024, arXiv 2402.07043).

Outcomes (tokens, facts) have probabilities p_i proportional to i^(-beta), beta > 1.
A model that memorises what it has seen (Hutter's model of learning) errs on the
real mass it never saw; trained on T real samples that error falls like T^-(1-1/beta).
Synthetic data produced with top-k (or top-p) decoding has its tail cut at a rank k,
and the error then stops falling at a plateau of about the cut-off mass.

A Zipf model is a :class:`~collapse_lib.families.categorical.CategoricalFamily`
(``top_k`` is the tail cut); this module holds the data source.
"""
from __future__ import annotations

import numpy as np

from ..validation import check_int, check_positive
from .categorical import CategoricalSource


def zipf_probs(n_outcomes: int, exponent: float) -> np.ndarray:
    """p_i proportional to i^(-exponent) for ranks i = 1..n_outcomes."""
    check_int("n_outcomes", n_outcomes, minimum=2)
    exponent = check_positive("exponent", exponent)
    w = np.arange(1, n_outcomes + 1, dtype=float) ** (-exponent)
    return w / w.sum()


class ZipfSource(CategoricalSource):
    """Real data from a Zipf law over ``n_outcomes`` ranks."""

    def __init__(self, n_outcomes: int, exponent: float):
        if not float(exponent) > 1.0:
            raise ValueError(f"exponent={exponent!r} is not allowed: a Zipf law here needs exponent > 1")
        self.exponent = float(exponent)
        super().__init__(zipf_probs(n_outcomes, exponent))
