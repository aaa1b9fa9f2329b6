"""Expectation-maximisation for many Gaussian mixtures at once, in torch.

Each chain (the leading axis) holds its own data set of ``n`` points in ``d`` dimensions
and its own mixture of ``K`` full-covariance Gaussians. One EM step is a handful of
batched tensor operations over all chains, on the CPU or a GPU.

The iteration is the one of scikit-learn's ``GaussianMixture`` (Dempster, Laird and
Rubin, 1977), step for step, so that the same initial parameters give the same fit:

- the lower bound of an iteration is the mean log-likelihood of the parameters
  *before* its M-step; a chain stops when the bound changes by less than ``tol``
  (each chain stops at its own iteration; the others go on);
- the M-step adds ``10 * eps`` to every component's soft count and ``reg_covar`` to
  the diagonal of every covariance, so an empty component stays well defined.

The initial parameters come from a deterministic, batched k-means (Lloyd's algorithm
started from the quantiles of each chain's first principal axis), followed by one
M-step on the hard labels, as scikit-learn does from its k-means labels.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch


#: Below this many point-components per thread, torch's intra-op threads cost more than
#: they save (and on a shared machine they wait for each other): run on one thread.
SMALL_PROBLEM = 200_000


@contextmanager
def threads_for(x: torch.Tensor, k: int):
    """One CPU thread for small problems, torch's setting otherwise (restored on exit)."""
    before = torch.get_num_threads()
    small = x.device.type == "cpu" and x.numel() // x.shape[-1] * k < SMALL_PROBLEM * before
    if small and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@dataclass
class EMResult:
    """Fitted mixtures: ``weights`` (C, K), ``means`` (C, K, d), ``covs`` (C, K, d, d);
    ``n_iter`` (C,) EM iterations run, ``converged`` (C,) whether the bound settled."""

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor
    n_iter: torch.Tensor
    converged: torch.Tensor


def log_component_densities(x: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """log N(x_n | means_k, covs_k) for points (C, n, d): shape (C, K, n)."""
    d = x.shape[-1]
    chol = torch.linalg.cholesky(covs)  # (C, K, d, d)
    diff = (x[:, None, :, :] - means[:, :, None, :]).transpose(-1, -2)  # (C, K, d, n)
    sol = torch.linalg.solve_triangular(chol, diff, upper=False)
    maha = (sol * sol).sum(-2)
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (C, K)
    return -0.5 * (d * math.log(2.0 * math.pi) + log_det[..., None] + maha)


def e_step(x, weights, means, covs):
    """Mean log-likelihood per chain (C,) and log-responsibilities (C, K, n)."""
    weighted = log_component_densities(x, means, covs) + torch.log(weights)[..., None]
    log_norm = torch.logsumexp(weighted, dim=1)  # (C, n)
    return log_norm.mean(-1), weighted - log_norm[:, None, :]


def m_step(x, resp, reg_covar: float):
    """Weights, means and covariances from responsibilities (C, K, n)."""
    eps = torch.finfo(x.dtype).eps
    nk = resp.sum(-1) + 10.0 * eps  # (C, K)
    means = torch.einsum("ckn,cnd->ckd", resp, x) / nk[..., None]
    diff = x[:, None, :, :] - means[:, :, None, :]  # (C, K, n, d)
    covs = torch.einsum("ckn,ckni,cknj->ckij", resp, diff, diff) / nk[..., None, None]
    covs = covs + reg_covar * torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    return nk / nk.sum(-1, keepdim=True), means, covs


def mean_log_likelihood(x, weights, means, covs) -> torch.Tensor:
    """Mean log-likelihood of each chain's points under its mixture, (C,)."""
    return e_step(x, weights, means, covs)[0]


def kmeans_labels(x: torch.Tensor, k: int, iters: int = 30) -> torch.Tensor:
    """Hard labels (C, n) from Lloyd's algorithm, batched and deterministic.

    Each chain starts from k groups of equal size along its first principal axis; an
    emptied cluster keeps its last centre.
    """
    C, n, d = x.shape
    centred = x - x.mean(1, keepdim=True)
    axis = torch.linalg.eigh(centred.transpose(1, 2) @ centred)[1][..., -1]  # (C, d)
    rank = torch.argsort(torch.argsort(centred @ axis[..., None], dim=1), dim=1)[..., 0]
    labels = torch.div(rank * k, n, rounding_mode="floor")
    centres = torch.zeros(C, k, d, dtype=x.dtype, device=x.device)
    for _ in range(iters):
        onehot = torch.nn.functional.one_hot(labels, k).to(x.dtype)  # (C, n, k)
        counts = onehot.sum(1)  # (C, k)
        sums = onehot.transpose(1, 2) @ x  # (C, k, d)
        centres = torch.where(counts[..., None] > 0, sums / counts.clamp_min(1)[..., None], centres)
        new = torch.cdist(x, centres).argmin(-1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


def initial_parameters(x: torch.Tensor, k: int, reg_covar: float = 1e-6, kmeans_iter: int = 30):
    """Weights, means and covariances of one M-step on k-means labels."""
    resp = torch.nn.functional.one_hot(kmeans_labels(x, k, kmeans_iter), k).to(x.dtype).transpose(1, 2)
    return m_step(x, resp, reg_covar)


def fit_em(x, n_components: int = 2, *, init=None, tol: float = 1e-3, max_iter: int = 100,
           reg_covar: float = 1e-6, kmeans_iter: int = 30) -> EMResult:
    """Fit a mixture to every chain's points ``x`` (C, n, d) by EM.

    ``init`` is ``(weights, means, covs)`` to start from (tensors or arrays); without it
    the start is :func:`initial_parameters`. Arguments as in scikit-learn's
    ``GaussianMixture`` (whose defaults they share).
    """
    x = torch.as_tensor(x)
    with threads_for(x, n_components):
        return _fit_em(x, n_components, init, tol, max_iter, reg_covar, kmeans_iter)


def _fit_em(x, n_components, init, tol, max_iter, reg_covar, kmeans_iter) -> EMResult:
    if init is None:
        weights, means, covs = initial_parameters(x, n_components, reg_covar, kmeans_iter)
    else:
        weights, means, covs = (torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a,
                                                dtype=x.dtype).to(x.device).clone() for a in init)
    C = x.shape[0]
    bound = torch.full((C,), -math.inf, dtype=x.dtype, device=x.device)
    n_iter = torch.zeros(C, dtype=torch.long, device=x.device)
    converged = torch.zeros(C, dtype=torch.bool, device=x.device)
    active = torch.arange(C, device=x.device)  # chains still iterating
    for _ in range(max_iter):
        xa = x[active]
        new_bound, log_resp = e_step(xa, weights[active], means[active], covs[active])
        w, m, s = m_step(xa, torch.exp(log_resp), reg_covar)
        weights[active], means[active], covs[active] = w, m, s
        done = torch.abs(new_bound - bound[active]) < tol
        bound[active] = new_bound
        n_iter[active] += 1
        converged[active] = done
        active = active[~done]
        if active.numel() == 0:
            break
    return EMResult(weights, means, covs, n_iter, converged)
