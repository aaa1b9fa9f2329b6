"""Checks for the exercises of chapter 3, "Variational autoencoders".

The KL term is that of the evidence lower bound of Kingma and Welling (2014) for a
diagonal Gaussian posterior against a standard normal prior; the effective number of
classes is the diversity measure of the chapter
(:func:`collapse_lib.experiments.vae.effective_classes`), beside the latent-spread
statistic of Shumailov et al. (Nature, 2024).
"""
from __future__ import annotations

import math

import numpy as np

from ._common import check_close, passed
from .distributions import _call


def check_vae_kl(answer, mu: float = 0.0, sigma: float = 0.1) -> bool:
    """Exercise "The KL term of one latent coordinate": KL(N(mu, sigma^2) || N(0, 1)) in nats."""
    expected = 0.5 * (mu ** 2 + sigma ** 2 - math.log(sigma ** 2) - 1)
    check_close(f"KL(N({mu}, {sigma}^2) || N(0, 1))", answer, expected, rtol=1e-3,
                hint="KL = (mu^2 + sigma^2 - log sigma^2 - 1) / 2, with the natural logarithm")
    return passed(f"KL = {expected:.4f} nats for mu = {mu}, sigma = {sigma}")


def check_effective_classes(func) -> bool:
    """Exercise "Implement the effective number of classes": ``func(shares)`` returns
    exp(entropy) of a vector of class shares (0 log 0 counts as 0)."""
    from ..experiments.vae import effective_classes

    rng = np.random.default_rng(2)
    cases = [np.full(10, 0.1), np.eye(10)[3], np.array([0.5, 0.5] + [0.0] * 8), rng.dirichlet(np.ones(10))]
    for shares in cases:
        expected = float(effective_classes(shares))
        got = _call(func, "effective_classes", shares.copy())
        check_close(f"effective_classes({np.round(shares, 3).tolist()})", got, expected, rtol=1e-6,
                    hint="exp(-sum_k p_k log p_k), skipping the classes with p_k = 0 "
                         "(10 for a balanced set, 1 for a single class)")
    return passed(f"your function agrees on {len(cases)} cases (balanced: 10, one class: 1)")
