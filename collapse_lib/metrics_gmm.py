"""The L2 distance between two Gaussian mixtures, in closed form.

The product of two Gaussian densities integrates to a Gaussian density evaluated at one
of the means,

    integral N(x; a, A) N(x; b, B) dx = N(a; b, A + B),

so for mixtures p = sum_i w_i N(m_i, S_i) and q = sum_j v_j N(n_j, T_j)

    ||p - q||^2 = sum_ij w_i w_j N(m_i; m_j, S_i + S_j)
                - 2 sum_ij w_i v_j N(m_i; n_j, S_i + T_j)
                + sum_ij v_i v_j N(n_i; n_j, T_i + T_j).

This is the distance Shumailov et al. (Nature, 2024, Fig. 2) track between the original
mixture and the mixture of generation m (``L2_of_gmms`` in the authors' notebook, a sum
of such overlap integrals). As a model collapses its density becomes a few sharp peaks,
whose squared norm grows like 1/variance: the distance grows without bound.
"""
from __future__ import annotations

import numpy as np


def gaussian_overlap(m1, S1, m2, S2) -> np.ndarray:
    """integral N(x; m1, S1) N(x; m2, S2) dx = N(m1; m2, S1 + S2), batched on the
    leading axes (means (..., d), covariances (..., d, d))."""
    m1, m2, S1, S2 = (np.asarray(a, float) for a in (m1, m2, S1, S2))
    d = m1.shape[-1]
    S = S1 + S2
    diff = m1 - m2
    sign, log_det = np.linalg.slogdet(S)
    maha = np.einsum("...i,...i->...", diff, np.linalg.solve(S, diff[..., None])[..., 0])
    return np.exp(-0.5 * (d * np.log(2 * np.pi) + log_det + maha))


def _cross(w1, m1, S1, w2, m2, S2) -> np.ndarray:
    """sum_ij w1_i w2_j N(m1_i; m2_j, S1_i + S2_j), batched over leading axes."""
    o = gaussian_overlap(m1[..., :, None, :], S1[..., :, None, :, :], m2[..., None, :, :], S2[..., None, :, :, :])
    return np.einsum("...i,...j,...ij->...", w1, w2, o)


def l2_squared(weights1, means1, covs1, weights2, means2, covs2) -> np.ndarray:
    """Squared L2 distance integral (p - q)^2 dx between mixtures, batched.

    Weights (..., K), means (..., K, d), covariances (..., K, d, d); the two mixtures
    may have different numbers of components and broadcast on the leading axes.
    """
    a = [np.asarray(v, float) for v in (weights1, means1, covs1)]
    b = [np.asarray(v, float) for v in (weights2, means2, covs2)]
    total = _cross(*a, *a) - 2 * _cross(*a, *b) + _cross(*b, *b)
    return np.clip(total, 0.0, None)


def l2_to(params, reference) -> np.ndarray:
    """Squared L2 distance of every mixture in ``params`` (leading axes ..., K) to a
    one-chain ``reference`` (both with ``weights``, ``means``, ``covs``)."""
    return l2_squared(params.weights, params.means, params.covs,
                      reference.weights[0], reference.means[0], reference.covs[0])


def mixture_pdf(points, weights, means, covs) -> np.ndarray:
    """Density of one mixture (K components) at ``points`` (..., d)."""
    points = np.asarray(points, float)
    out = np.zeros(points.shape[:-1])
    for w, m, S in zip(np.asarray(weights, float), np.asarray(means, float), np.asarray(covs, float)):
        out = out + w * gaussian_overlap(points, np.zeros_like(S), m, S)
    return out
