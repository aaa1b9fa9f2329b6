"""Chapter 5, mixing real data: strong model collapse (Dohmatob, Feng, Subramonian and Kempe,
"Strong Model Collapse", ICLR 2025). One training set of n points in which a share p of the
labels comes from a shifted model w* + Delta (|Delta|^2 = c^2) and the rest are real; least
squares; the excess test error against n stops falling at about p^2 c^2. Two sweeps:

- n at fixed d (the paper's "more data does not help"), n up to 10^8;
- n at a fixed ratio d / n = phi (the paper's proportional regime), where the synthetic
  labels' variance p (1 - p) c^2 phi / (1 - phi) does not vanish as n grows.

The summaries (X^T X, X^T y) are drawn from their exact law (no points), and each part of the
error is compared with :func:`collapse_lib.theory.linreg.strong_collapse_split`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..families.linreg import LinearRegressionFamily, wishart_stats
from ..progress import progress
from ..runtime import generation_rng
from ..theory import linreg as lr_theory


@dataclass
class StrongResult:
    sizes: np.ndarray  # (n_sizes,) training-set sizes n
    fractions: tuple[float, ...]  # p
    quality: float  # c^2
    dim: int
    noise: float
    errors: dict[float, np.ndarray] = field(default_factory=dict)  # p -> (n_sizes, chains) excess error
    theory: dict[float, np.ndarray] = field(default_factory=dict)  # p -> (n_sizes,) exact expectation
    asymptotic: dict[float, np.ndarray] = field(default_factory=dict)  # p -> sigma^2 d/n + p^2 c^2
    floors: dict[float, float] = field(default_factory=dict)  # p -> p^2 c^2
    split: dict[float, dict] = field(default_factory=dict)  # p -> noise, bias, variance (n_sizes,) each
    # the sweep at fixed d / n = ratio, for the largest p (empty when not run)
    ratio: float = 0.0  # phi = d / n
    ratio_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # n
    ratio_dims: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # d = round(phi n)
    ratio_errors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (sizes, chains)
    ratio_theory: np.ndarray = field(default_factory=lambda: np.zeros(0))  # exact expectation
    ratio_split: dict = field(default_factory=dict)  # noise, bias, variance (sizes,) each
    ratio_limit: float = float("nan")  # the proportional limit of the exact expectation


def _errors(w, delta, n: int, p: float, noise: float, seed: int, i: int) -> np.ndarray:
    """|w_hat - w*|^2 of every chain: n points, round(p n) labelled by w* + delta."""
    C, d = delta.shape
    n2 = int(lr_theory.synthetic_count(n, p))
    rng = generation_rng(seed, i, "synthetic")
    real_w = np.broadcast_to(w, (C, d))
    data = wishart_stats(real_w, int(n) - n2, noise, rng) + wishart_stats(real_w + delta, n2, noise, rng)
    return np.sum((LinearRegressionFamily(d, noise).fit(data).weights - w) ** 2, axis=-1)


def _shifts(rng: np.random.Generator, chains: int, d: int, c2: float) -> np.ndarray:
    """Delta of every chain: a random direction of squared norm c^2."""
    delta = rng.standard_normal((chains, d))
    return delta * np.sqrt(c2) / np.linalg.norm(delta, axis=1, keepdims=True)


def strong_collapse(cfg, true_weights) -> StrongResult:
    """Both sweeps of the chapter's ``cfg`` (``true_weights(d, seed)`` gives w*)."""
    d, C = cfg.strong_dim, cfg.strong_chains
    w = true_weights(d, cfg.seed)
    sizes = np.array(cfg.strong_sizes)
    res = StrongResult(sizes, tuple(cfg.strong_fractions), float(cfg.strong_quality), d, float(cfg.strong_noise))
    delta = _shifts(generation_rng(cfg.seed, 0, "policy"), C, d, cfg.strong_quality)
    for p in progress(res.fractions, desc="strong collapse"):
        res.errors[p] = np.stack([_errors(w, delta, n, p, cfg.strong_noise, cfg.seed + 1, i)
                                  for i, n in enumerate(sizes)])
        args = (p, cfg.strong_quality, d, cfg.strong_noise)
        res.theory[p] = lr_theory.strong_collapse_error(sizes, *args)
        res.asymptotic[p] = lr_theory.strong_collapse_asymptotic(sizes, *args)
        res.floors[p] = lr_theory.strong_collapse_floor(p, cfg.strong_quality)
        res.split[p] = lr_theory.strong_collapse_split(sizes, *args)
    if cfg.ratio_sizes:
        p, phi = max(res.fractions), cfg.ratio
        res.ratio, res.ratio_sizes = phi, np.array(cfg.ratio_sizes)
        res.ratio_dims = np.rint(phi * res.ratio_sizes).astype(int)
        errs, theory, parts = [], [], []
        for i, (n, dd) in enumerate(zip(res.ratio_sizes, res.ratio_dims)):
            wd = true_weights(int(dd), cfg.seed)
            errs.append(_errors(wd, _shifts(generation_rng(cfg.seed + 2, i, "policy"), cfg.ratio_chains, int(dd), cfg.strong_quality), int(n), p,
                                cfg.strong_noise, cfg.seed + 2, i))
            theory.append(float(lr_theory.strong_collapse_error(int(n), p, cfg.strong_quality, int(dd),
                                                                cfg.strong_noise)))
            parts.append(lr_theory.strong_collapse_split(int(n), p, cfg.strong_quality, int(dd), cfg.strong_noise))
        res.ratio_errors, res.ratio_theory = np.stack(errs), np.array(theory)
        res.ratio_split = {k: np.array([float(s[k]) for s in parts]) for k in ("noise", "bias", "variance")}
        res.ratio_limit = float(lr_theory.strong_collapse_proportional(p, cfg.strong_quality, phi, cfg.strong_noise))
    return res
