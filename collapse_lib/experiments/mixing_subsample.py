"""Chapter 5, mixing real data: accumulate-subsample, the third workflow of Kazdan et al.,
"Collapse or Thrive? Perils and Promises of Synthetic Data in a Self-Generating World"
(arXiv 2410.16713). Every generation trains on M points drawn at random from the real data
and every synthetic set so far (:class:`collapse_lib.policies.AccumulateSubsample`): the
data of accumulate at the cost per generation of replace. It runs the chapter's Gaussian
and linear regression (same M, T, d, sigma and generations) on chains of its own, since
the policy keeps every point; the chapter compares it with replace and accumulate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import run_generations
from ..families import GaussianFamily, GaussianSource
from ..families.linreg import LinearRegressionFamily, LinearSource
from ..policies import SUBSAMPLE, make_policy
from ..theory import linreg as lr_theory


def w2_and_variance(h) -> tuple[np.ndarray, np.ndarray]:
    """Squared W2 distance of every fit of a 1-d Gaussian run to N(0, 1), and the fitted
    variance, (G+1, chains) each."""
    mean, var = h["mean"][..., 0], h["cov"][..., 0, 0]
    return mean**2 + (np.sqrt(var) - 1.0) ** 2, var


#: Largest pool (bytes) one engine run of accumulate-subsample keeps; more chains run in batches.
SUBSAMPLE_POOL_BYTES = 2**28


@dataclass
class SubsampleResult:
    """Accumulate-subsample on chains of its own: arrays (G+1, chains), None where skipped."""

    generations: np.ndarray  # (G+1,)
    gaussian: np.ndarray | None  # squared W2 distance to N(0, 1)
    gaussian_variance: np.ndarray | None  # fitted variance
    linreg: np.ndarray | None  # excess test error |w - w*|^2
    one_fit_error: float  # e_1 = sigma^2 d / (T - d - 1), the regression's unit


def batch_seeds(seed: int, chains: int, per_batch: int) -> list[tuple[int, int]]:
    """(seed, chains) of every batch: the first batch keeps ``seed`` (the real data of the
    other policies' first chains), the others derive theirs from (seed, batch)."""
    sizes = [min(per_batch, chains - i) for i in range(0, chains, per_batch)]
    return [(seed if b == 0 else int(np.random.SeedSequence([seed, 5, b]).generate_state(1)[0]), n)
            for b, n in enumerate(sizes)]


def _run_subsample(family, source, cfg, samples: int, chains: int, width: int, metric, desc: str):
    """``metric(history)`` of accumulate-subsample's chains, run in batches whose pools
    ((G+1) M points of ``width`` numbers per chain) stay under SUBSAMPLE_POOL_BYTES."""
    per_batch = max(1, SUBSAMPLE_POOL_BYTES // (8 * width * samples * (cfg.generations + 1)))
    parts = [metric(run_generations(family, source, make_policy(SUBSAMPLE), generations=cfg.generations,
                                    samples=samples, chains=n, seed=seed, desc=desc))
             for seed, n in batch_seeds(cfg.seed, chains, per_batch)]
    return [np.concatenate(arrays, axis=1) for arrays in zip(*parts)]


def accumulate_subsample(cfg, weights: np.ndarray) -> SubsampleResult | None:
    """The Gaussian and the regression of the policy comparison under accumulate-subsample
    (the same M, T, d, sigma, w* = ``weights`` and generations as the other policies, of
    the chapter's ``cfg``); None when both are skipped."""
    if not (cfg.subsample_gaussian_chains or cfg.subsample_linreg_chains):
        return None
    e1 = float(lr_theory.one_fit_error(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise))
    res = SubsampleResult(np.arange(cfg.generations + 1), None, None, None, e1)
    if cfg.subsample_gaussian_chains:
        res.gaussian, res.gaussian_variance = _run_subsample(
            GaussianFamily(1), GaussianSource(0.0, 1.0), cfg, cfg.gaussian_samples, cfg.subsample_gaussian_chains, 1,
            w2_and_variance, f"Gaussian, {SUBSAMPLE}")
    if cfg.subsample_linreg_chains:
        w = np.asarray(weights, dtype=float)
        family = LinearRegressionFamily(cfg.linreg_dim, cfg.linreg_noise, sampler=cfg.linreg_sampler)
        (res.linreg,) = _run_subsample(family, LinearSource(w, cfg.linreg_noise), cfg, cfg.linreg_samples,
                                       cfg.subsample_linreg_chains, cfg.linreg_dim + 1,
                                       lambda h: (np.sum((h["weights"] - w) ** 2, axis=-1),),
                                       f"regression, {SUBSAMPLE}")
    return res
