"""Chapter 3, variational autoencoders: the measures taken on every generation's images.

- :func:`latent_spread`: the collapse measure of Shumailov et al., "AI models collapse when
  trained on recursively generated data" (Nature 631:755, 2024): the std of the original
  encoder's latent means on a generation's images;
- :func:`class_shares` and :func:`effective_classes`: the diversity a classifier of real
  digits sees;
- :func:`active_units`: the latent coordinates a generation's own encoder uses (Burda et
  al., "Importance weighted autoencoders", 2016);
- :func:`pixel_entropy`: the binary-entropy floor of the loss;
- :func:`pixel_variance`: the parts of the pixel variance by the law of total variance,
  what training on decoder means keeps and what it drops (:class:`PixelVariance`), and
  :func:`total_variance`, the variance of a set of images as measured, with its standard
  error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Effective classes of a perfectly balanced set of digits.
CLASSES = 10

#: A latent coordinate is *active* when its encoder mean varies across images by more than
#: this (variance over images, Burda et al., "Importance weighted autoencoders", 2016).
ACTIVE_VARIANCE = 0.01


def class_shares(predictions: np.ndarray, classes: int = CLASSES) -> np.ndarray:
    """Share of each predicted class (..., classes) along the last axis of ``predictions``."""
    onehot = predictions[..., None] == np.arange(classes)
    return onehot.mean(axis=-2)


def effective_classes(shares: np.ndarray) -> np.ndarray:
    """exp(entropy) of class shares: 10 for a perfectly balanced set, 1 for one class."""
    p = np.asarray(shares, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(-1)
    return np.exp(h)


def latent_spread(mu: np.ndarray) -> float:
    """The paper's collapse measure: std over all entries of the (n, latent) means."""
    return float(np.std(mu))


def active_units(mu: np.ndarray, threshold: float = ACTIVE_VARIANCE) -> int:
    """Latent coordinates whose mean varies across the images (n, latent): Var_x mu_k(x) > threshold."""
    return int((np.var(np.asarray(mu, float), axis=0) > threshold).sum())


def _unit(images) -> np.ndarray:
    """Pixels in [0, 1] as floats (uint8 images are divided by 255)."""
    x = np.asarray(images)
    return x / 255.0 if x.dtype == np.uint8 else x.astype(float)


def pixel_entropy(images: np.ndarray) -> np.ndarray:
    """(n,) the binary-entropy floor of the loss per image, in nats: sum over pixels of
    H(x_j) = -x_j log x_j - (1 - x_j) log(1 - x_j), the cross-entropy of a perfect
    reconstruction of grey levels x_j in [0, 1] (uint8 images are divided by 255). For
    pixels drawn from Bernoulli(x_j) it is their entropy given the latent, a floor of the
    expected negative ELBO as well."""
    x = _unit(images)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(x > 0, x * np.log(x), 0.0) - np.where(x < 1, (1 - x) * np.log1p(-x), 0.0)
    return h.sum(-1)


@dataclass(frozen=True)
class PixelVariance:
    """The pixel variance of a model's images, summed over pixels, by the law of total
    variance: Var(x_j) = Var_z p_j(z) + E_z p_j(z)(1 - p_j(z)) for a pixel drawn from
    Bernoulli(p_j(z))."""

    kept: float  # sum_j Var_z p_j(z): the variance of the decoder means, all that training on means keeps
    dropped: float  # sum_j E_z p_j(z)(1 - p_j(z)): the Bernoulli variance that the means drop

    @property
    def total(self) -> float:
        """The variance of drawn pixels, summed over pixels."""
        return self.kept + self.dropped

    @property
    def dropped_share(self) -> float:
        """The share of the drawn pixels' variance that training on means drops."""
        return self.dropped / self.total if self.total > 0 else float("nan")


def pixel_variance(means) -> PixelVariance:
    """:class:`PixelVariance` of images of pixel means (n, pixels) in [0, 1] (or uint8), with
    the variance over the n images (each the decoder's means at one latent z)."""
    p = _unit(means)
    return PixelVariance(float(p.var(0).sum()), float((p * (1 - p)).mean(0).sum()))


def total_variance(images) -> tuple[float, float]:
    """The pixel variance of a set of images (n, pixels), summed over pixels: the mean of
    the squared distance of each image from the mean image, ``sum_j Var_n x_j``, and its
    standard error, the std of those n squared distances over sqrt(n) (images are
    independent draws; the pixels of one image need not be)."""
    x = _unit(images)
    d = ((x - x.mean(0)) ** 2).sum(1)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
