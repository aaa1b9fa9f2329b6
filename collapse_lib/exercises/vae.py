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

from ._common import AnswerError, check_close, passed
from .distributions import _call


def check_vae_kl(answer, mu: float = 0.0, sigma: float = 0.1) -> bool:
    """Exercise "The KL term of one latent coordinate": KL(N(mu, sigma^2) || N(0, 1)) in nats."""
    expected = 0.5 * (mu ** 2 + sigma ** 2 - math.log(sigma ** 2) - 1)
    check_close(f"KL(N({mu}, {sigma}^2) || N(0, 1))", answer, expected, rtol=1e-2,
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


def dropped_variance_share(images) -> float:
    """Share of the summed pixel variance that training on decoder means drops (law of total
    variance): sum_j mean p_j (1 - p_j) over sum_j (Var p_j + mean p_j (1 - p_j)), images (n, pixels)
    of means p_j in [0, 1] (uint8 images are divided by 255)."""
    p = np.asarray(images, float)
    if np.asarray(images).dtype == np.uint8:
        p = p / 255.0
    within = (p * (1 - p)).mean(0).sum()
    return float(within / (p.var(0).sum() + within))


def check_dropped_variance(answer, images) -> bool:
    """Exercise "What training on decoder means drops": the share, as a fraction in [0, 1].

    The exercise asks for a fraction; a percentage (above 1) is refused with that hint. The
    tolerance, 1e-2 relative, accepts an answer given to two or three significant digits."""
    expected = dropped_variance_share(images)
    if isinstance(answer, (int, float, np.floating)) and 1 < answer <= 100:
        raise AnswerError(f"share of the variance dropped: got {answer:g}, which looks like a percentage; "
                          "give it as a fraction between 0 and 1")
    check_close("share of the variance dropped", answer, expected, rtol=1e-2,
                hint="E[p(1-p)] over Var(p) + E[p(1-p)], each summed over pixels, with Var over the images")
    return passed(f"training on means drops {expected:.1%} of the pixel variance of these images")
