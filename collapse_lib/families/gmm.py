"""Gaussian mixtures refitted on their own samples.

Shumailov et al., Nature 631:755 (2024), Fig. 2 and the authors' notebook
(``Normals_GMM_experiments.ipynb``): a two-component, full-covariance mixture is fitted
to 1,000 points by EM (scikit-learn's ``GaussianMixture``), 1,000 points are sampled from
the fit, a new mixture is fitted to them, and so on for 2,000 generations. The
components shrink until the model is a pair of points.

A mixture has no fixed-size summary of its training set, so this family keeps the
points themselves; for the *accumulate* policy the training set grows by M points a
generation. Fitting is the batched EM of :mod:`collapse_lib.families.gmm_em`, which fits
every chain at once and reproduces scikit-learn's iterations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import ArrayRecord, PointSet
from ..validation import check_choice, check_int, check_positive
from .gaussian import GaussianMixtureSource, sample_mixture


@dataclass
class GMMPoints(PointSet):
    """A training set: ``points`` (C, n, d), the same n for every chain."""

    points: np.ndarray


@dataclass
class GMMParams(ArrayRecord):
    """Fitted mixtures: ``weights`` (C, K), ``means`` (C, K, d), ``covs`` (C, K, d, d)."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    @property
    def component_std(self) -> np.ndarray:
        """The geometric-mean standard deviation of each component, det(cov)^(1/2d), (C, K)."""
        d = self.means.shape[-1]
        return np.exp(np.linalg.slogdet(self.covs)[1] / (2 * d))


@dataclass
class GMMFamily:
    """A K-component, full-covariance Gaussian mixture fitted by EM.

    The defaults are scikit-learn's (``tol=1e-3``, ``max_iter=100``); the authors'
    notebook used ``tol=1e-5`` and ``max_iter=2000``. After each fit the components are
    ordered by their mean's first coordinate, so that component k of one generation is
    comparable with component k of the next.
    """

    n_components: int = 2  # K
    dim: int = 2  # dimension d of the data
    tol: float = 1e-3  # EM stops when the mean log-likelihood changes by less
    max_iter: int = 100  # at most this many EM iterations per fit
    reg_covar: float = 1e-6  # added to every covariance's diagonal (as scikit-learn)
    device: str | None = None  # "cpu", "cuda", or None: CUDA when present
    dtype: str = "float64"  # "float64" (default, matches scikit-learn) or "float32"

    Params = GMMParams
    Data = GMMPoints

    def __post_init__(self):
        check_int("n_components", self.n_components, minimum=1)
        check_int("dim", self.dim, minimum=1)
        check_positive("tol", self.tol)
        check_int("max_iter", self.max_iter, minimum=1)
        if not (isinstance(self.reg_covar, (int, float)) and self.reg_covar >= 0):
            raise ValueError(f"reg_covar={self.reg_covar!r} is not allowed: it must be a number >= 0")
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))
        check_choice("dtype", self.dtype, ("float64", "float32"))

    @property
    def min_samples(self) -> int:
        # every component can own d+1 points: a non-degenerate covariance each
        return self.n_components * (self.dim + 1)

    def _torch(self, array):
        import torch

        from ..runtime import device

        dev = torch.device(self.device) if self.device else device()
        return torch.as_tensor(np.ascontiguousarray(array), dtype=getattr(torch, self.dtype), device=dev)

    def summarize(self, points: np.ndarray) -> GMMPoints:
        return GMMPoints(np.asarray(points, dtype=float))

    def fit(self, data: GMMPoints) -> GMMParams:
        from .gmm_em import fit_em

        res = fit_em(self._torch(data.points), self.n_components, tol=self.tol, max_iter=self.max_iter,
                     reg_covar=self.reg_covar)
        w, m, s = (t.detach().cpu().double().numpy() for t in (res.weights, res.means, res.covs))
        order = np.argsort(m[..., 0], axis=1, kind="stable")  # (C, K)
        return GMMParams(np.take_along_axis(w, order, 1), np.take_along_axis(m, order[..., None], 1),
                         np.take_along_axis(s, order[..., None, None], 1))

    def sample_points(self, params: GMMParams, n: int, rng: np.random.Generator) -> np.ndarray:
        return sample_mixture(params.weights, params.means, params.covs, n, rng)

    def sample(self, params: GMMParams, n: int, rng: np.random.Generator) -> GMMPoints:
        return GMMPoints(self.sample_points(params, n, rng))


def two_clusters(separation: float = 6.0) -> GaussianMixtureSource:
    """The chapter's real data: two equally likely, tilted Gaussian clusters in 2-D whose
    centres lie ``separation`` apart on the first axis."""
    check_positive("separation", separation)
    h = separation / 2
    covs = [[[1.0, 0.4], [0.4, 0.6]], [[0.6, -0.3], [-0.3, 1.0]]]
    return GaussianMixtureSource([0.5, 0.5], [[-h, 0.0], [h, 0.0]], covs)


def one_blob() -> GaussianMixtureSource:
    """The authors' real data: ``make_blobs(centers=[[0, 0]], cluster_std=1)``, one
    isotropic 2-D Gaussian (which the mixture still fits with two components)."""
    return GaussianMixtureSource([1.0], [[0.0, 0.0]], [np.eye(2)])


def source_params(source: GaussianMixtureSource) -> GMMParams:
    """A real mixture as a one-chain :class:`GMMParams`, for distances to the truth."""
    return GMMParams(source.weights[None], source.means[None], source.covs[None])
