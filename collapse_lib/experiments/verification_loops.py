"""Chapter 7, the loops: verification over generations and curation by preference.

- Yi, Liu, Cheng and Xu, "Escaping Model Collapse via Synthetic Data Verification: Near-term
  Improvements and Long-term Convergence" (ICLR 2026, arXiv 2510.16657): least squares
  retrained each generation on T labels of its previous fit, kept only where a verifier
  accepts them, |y - x^T theta_c| <= r |x| + sigma_c.
- Ferbach, Bertrand, Bose and Gidel, "Self-Consuming Generative Models with Curated Data
  Provably Optimize Human Preferences" (NeurIPS 2024, arXiv 2407.09499): every training sample
  is chosen among K samples of the current model with Bradley-Terry (softmax) probabilities
  proportional to exp(r(x)), here by the Gumbel-max trick, and a Gaussian is refitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..progress import progress
from ..theory import linreg as lr_theory
from ..theory import verification as th

if TYPE_CHECKING:
    from .verification import Config

_PARTS = {"step": 1, "phase": 2, "loop": 3, "curation": 4, "picture": 5}

#: The three verifiers of the loop: none, one centred on theta*, one centred elsewhere.
VERIFIERS = ("none", "unbiased", "biased")


def stream(seed: int, part: str, *keys: int) -> np.random.Generator:
    """The random stream of one piece (``keys``) of one part of the chapter."""
    return np.random.default_rng([int(seed), _PARTS[part], *map(int, keys)])


def unit_vector(d: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(d)
    return w / np.linalg.norm(w)


def accepts(x: np.ndarray, y: np.ndarray, centre: np.ndarray, slope: float, width: float) -> np.ndarray:
    """The verifier of Yi et al.: keep (x, y) when |y - x^T theta_c| <= r |x| + sigma_c."""
    return np.abs(y - x @ centre) <= slope * np.linalg.norm(x, axis=-1) + width


def verified_fit(rng, theta: np.ndarray, T: int, noise: float, centre: np.ndarray | None, slope: float,
                 width: float) -> np.ndarray:
    """One generation: each chain labels fresh x ~ N(0, I) with its fit ``theta`` (C, d) plus
    noise, keeps its first T accepted points (every point when ``centre`` is None) and refits
    by least squares; returns the new fits (C, d)."""
    C, d = theta.shape
    xx, xy = np.zeros((C, d, d)), np.zeros((C, d))
    need = np.full(C, T)
    while need.any():
        rows = np.flatnonzero(need)
        B = int(2 * need.max() + 20)
        x = rng.standard_normal((rows.size, B, d))
        y = np.einsum("cbd,cd->cb", x, theta[rows]) + noise * rng.standard_normal((rows.size, B))
        ok = np.ones(y.shape, bool) if centre is None else accepts(x, y, centre, slope, width)
        take = ok & (np.cumsum(ok, axis=1) <= need[rows, None])
        xt = x * take[..., None]
        xx[rows] += np.swapaxes(xt, 1, 2) @ x
        xy[rows] += np.einsum("cbd,cb->cd", xt, y)
        need[rows] -= take.sum(axis=1)
    return np.linalg.solve(xx, xy[..., None])[..., 0]


@dataclass
class LoopResult:
    """Excess error |theta_g - theta*|^2 per verifier (G+1, chains), and the closed forms."""

    generations: np.ndarray
    theta_star: np.ndarray  # (d,)
    centre: np.ndarray  # (d,) theta_c of the biased verifier
    offset: float  # |theta_c - theta*|^2
    one_fit: float  # e_1 = sigma^2 d / (T - d - 1)
    error: dict = field(default_factory=dict)  # verifier -> (G+1, chains)
    final_weights: dict = field(default_factory=dict)  # verifier -> (chains, d) at the last generation
    theory: dict = field(default_factory=dict)  # verifier -> (G+1,): exact (none) or first-order
    limit: dict = field(default_factory=dict)  # verifier -> the first-order limit


def generations(cfg: Config) -> LoopResult:
    """Chapter 5's replace loop for linear regression with no verifier, an unbiased one and a
    biased one; generation 0 (the fit to T real points) is shared by the three."""
    d, T, sigma = cfg.loop_dim, cfg.loop_samples, cfg.loop_noise
    rng = stream(cfg.seed, "loop", 0)
    star = unit_vector(d, rng)
    centre = star + np.sqrt(cfg.loop_offset) * unit_vector(d, rng)
    g = np.arange(cfg.loop_generations + 1)
    res = LoopResult(g, star, centre, float(cfg.loop_offset), float(lr_theory.one_fit_error(T, d, sigma)))
    x = rng.standard_normal((cfg.loop_chains, T, d))
    y = x @ star + sigma * rng.standard_normal((cfg.loop_chains, T))
    first = np.linalg.solve(np.swapaxes(x, 1, 2) @ x, np.einsum("ctd,ct->cd", x, y)[..., None])[..., 0]
    centres = {"none": None, "unbiased": star, "biased": centre}
    for k, name in enumerate(VERIFIERS):
        theta, err = first, [np.sum((first - star) ** 2, axis=1)]
        for t in progress(range(1, g.size), desc=f"regression, verifier {name}"):
            theta = verified_fit(stream(cfg.seed, "loop", k + 1, t), theta, T, sigma, centres[name], cfg.loop_slope,
                                 cfg.loop_width)
            err.append(np.sum((theta - star) ** 2, axis=1))
        res.error[name], res.final_weights[name] = np.array(err), theta
        if name == "none":
            res.theory[name] = lr_theory.replace_error(g, T, d, sigma)
        elif cfg.loop_slope == 0:  # the first-order recursion holds for a constant width only
            off = 0.0 if name == "unbiased" else cfg.loop_offset
            res.theory[name] = th.verified_error_linearized(g, T, d, sigma, cfg.loop_width, off)
            res.limit[name] = th.verified_error_limit(T, d, sigma, cfg.loop_width, off)
    return res


# ------------------------------------------------------------------ curation
def reward(x: np.ndarray, kind: str, cfg: Config) -> np.ndarray:
    """r(x) = beta x or -gamma (x - a)^2 / 2."""
    if kind == "linear":
        return cfg.curation_beta * x
    return -cfg.curation_gamma / 2 * (x - cfg.curation_target) ** 2


def strength(kind: str, cfg: Config) -> float:
    return cfg.curation_beta if kind == "linear" else cfg.curation_gamma


def bradley_terry_choice(rewards: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The index along the last axis chosen with probabilities e^{r_k} / sum_j e^{r_j}: the
    argmax of r_k + G_k with independent standard Gumbel G_k (the Gumbel-max trick)."""
    return np.argmax(rewards + rng.gumbel(size=rewards.shape), axis=-1)


def curated_samples(rng, mean: np.ndarray, std: np.ndarray, n: int, K: int, kind: str, cfg: Config,
                    block: int = 2_000_000) -> np.ndarray:
    """n samples per chain, each chosen among K draws of N(mean, std^2) with probabilities
    proportional to exp(r(x)) (Gumbel-max: argmax of r(x) + Gumbel noise): (C, n)."""
    C = mean.size
    out = np.empty((C, n))
    step = max(1, block // max(1, n * K))
    for lo in range(0, C, step):
        hi = min(C, lo + step)
        x = mean[lo:hi, None, None] + std[lo:hi, None, None] * rng.standard_normal((hi - lo, n, K))
        pick = bradley_terry_choice(reward(x, kind, cfg), rng)
        out[lo:hi] = np.take_along_axis(x, pick[..., None], axis=-1)[..., 0]
    return out


@dataclass
class CurationResult:
    """Fitted means and variances per round, (R+1, chains), by (reward, real share, K); the
    closed forms (K and n infinite) by (reward, real share)."""

    rounds: np.ndarray
    mean: dict = field(default_factory=dict)
    var: dict = field(default_factory=dict)
    theory: dict = field(default_factory=dict)  # (reward, share) -> (means, variances), (R+1,) each

    def reward(self, kind: str, share: float, K: int, cfg: Config) -> np.ndarray:
        """Expected reward of every chain's fit, (R+1, chains)."""
        key = (kind, share, K)
        return th.expected_reward(self.mean[key], self.var[key], kind, strength(kind, cfg), cfg.curation_target)

    def kl(self, kind: str, share: float, K: int) -> np.ndarray:
        """KL(fit || N(0, 1)) of every chain, (R+1, chains)."""
        return th.kl_to_standard(self.mean[(kind, share, K)], self.var[(kind, share, K)])


def curation(cfg: Config) -> CurationResult:
    """Rounds of curated retraining of N(0, 1) for each reward, real share and K. Round 0 is the
    fit to n real points, the same for every setting."""
    n, C = cfg.curation_samples, cfg.curation_chains
    rounds = np.arange(cfg.curation_rounds + 1)
    res = CurationResult(rounds)
    real0 = stream(cfg.seed, "curation", 0).standard_normal((C, n))
    m0, v0 = real0.mean(axis=1), real0.var(axis=1, ddof=1)
    settings = [(kind, lam, K) for kind in cfg.curation_rewards for lam in cfg.curation_real_shares
                for K in cfg.curation_candidates]
    for i, (kind, lam, K) in enumerate(progress(settings, desc="curation")):
        n_real = int(round(lam * n))
        means, vars_ = [m0], [v0]
        for t in rounds[1:]:
            rng = stream(cfg.seed, "curation", i + 1, t)
            x = curated_samples(rng, means[-1], np.sqrt(vars_[-1]), n - n_real, K, kind, cfg)
            if n_real:
                x = np.concatenate([x, rng.standard_normal((C, n_real))], axis=1)
            means.append(x.mean(axis=1))
            vars_.append(x.var(axis=1, ddof=1))
        res.mean[(kind, lam, K)], res.var[(kind, lam, K)] = np.array(means), np.array(vars_)
    for kind in cfg.curation_rewards:
        for lam in cfg.curation_real_shares:
            s = strength(kind, cfg)
            if lam == 0:
                res.theory[(kind, lam)] = th.tilt_after(rounds, kind, s, cfg.curation_target)
            else:
                res.theory[(kind, lam)] = th.curation_path(cfg.curation_rounds, kind, s, cfg.curation_target, lam)
    return res
