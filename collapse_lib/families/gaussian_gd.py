"""A one-dimensional Gaussian fitted by a few steps of gradient descent.

The *functional approximation error* of Shumailov et al. (Nature 631:755, 2024, §2) is
the error of the learning procedure itself: what remains even with unlimited data and a
model family that contains the truth, such as the bias of a gradient-based optimiser
stopped after a budget of steps. This family shows it in the smallest setting: the
family is the Gaussians, so it can express the data exactly, but each generation is a
*new* model that starts from the same initialisation (mean 0, standard deviation
``init_std``) and takes ``steps`` gradient steps of size ``lr`` on the average negative
log-likelihood of its training set, in the parameters (mean, log standard deviation):

    NLL(mu, l) = l + ((x - mu)^2 average) exp(-2 l) / 2 + const,

whose minimiser is the maximum-likelihood fit. Only the training set's mean ``m`` and
mean squared deviation ``v`` enter, so the fit also works on an exact distribution
(:func:`fit_moments` with the previous model's own mean and variance: unlimited data).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import check_int, check_positive
from .gaussian import GaussianFamily, GaussianParams, GaussianStats


def fit_moments(m: np.ndarray, v: np.ndarray, steps: int, lr: float, init_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance after ``steps`` gradient steps from (0, log init_std) on the
    Gaussian NLL of data with mean ``m`` and mean squared deviation ``v`` (per chain)."""
    m, v = np.asarray(m, float), np.asarray(v, float)
    mu = np.zeros_like(m)
    log_std = np.full_like(m, np.log(init_std))
    for _ in range(steps):
        precision = np.exp(-2.0 * log_std)
        second = v + (m - mu) ** 2  # average (x - mu)^2 of the training set
        grad_mu = -(m - mu) * precision
        grad_log_std = 1.0 - second * precision
        mu = mu - lr * grad_mu
        log_std = log_std - lr * grad_log_std
    return mu, np.exp(2.0 * log_std)


@dataclass
class GradientDescentGaussian(GaussianFamily):
    """One-dimensional Gaussians, each fitted from scratch by ``steps`` gradient steps."""

    steps: int = 20  # gradient steps per fit (a training budget)
    lr: float = 0.05  # step size
    init_std: float = 0.5  # standard deviation every new model starts from (mean 0)

    def __post_init__(self):
        super().__post_init__()
        if self.dim != 1:
            raise ValueError(f"dim={self.dim!r} is not allowed: GradientDescentGaussian is one-dimensional")
        check_int("steps", self.steps, minimum=0)
        check_positive("lr", self.lr)
        check_positive("init_std", self.init_std)

    def fit(self, data: GaussianStats) -> GaussianParams:
        m, v = data.mean[:, 0], data.scatter[:, 0, 0] / data.n
        mu, var = fit_moments(m, v, self.steps, self.lr, self.init_std)
        return GaussianParams(mu[:, None], var[:, None, None])
