"""Chapter 7's picture of curation in two dimensions, with chapter 2's mixture family.

Ferbach, Bertrand, Bose and Gidel, "Self-Consuming Generative Models with Curated Data
Provably Optimize Human Preferences" (arXiv 2407.09499): every round keeps, of K samples of
the current model, one chosen with Bradley-Terry probabilities proportional to exp(r(x)), and
refits. Here the model is chapter 2's two-component Gaussian mixture fitted by EM, the real
data are chapter 2's two tilted clusters (:func:`collapse_lib.families.gmm.two_clusters`), and
the reward r(x) = beta x_1 prefers the right. As K and n grow a round tilts the model by
exp(r), so t rounds give p_0(x) exp(t beta x_1): a mixture again, whose component k has mean
m_k + t beta S_k e_1, the same covariance S_k, and a weight proportional to
w_k exp(t beta m_k1 + t^2 beta^2 (S_k)_11 / 2). The left cluster's mass therefore falls by a
factor near exp(beta (m_R1 - m_L1)) a round: curation does not only narrow a model, it can
remove a whole mode. A share of real data each round keeps it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from ..families.gmm import GMMFamily, GMMParams, source_params, two_clusters
from ..progress import progress
from .verification_loops import bradley_terry_choice, stream

if TYPE_CHECKING:
    from .verification import Config


def left_mass(params: GMMParams) -> np.ndarray:
    """(C,) the mixture's probability of x_1 < 0, exactly: sum_k w_k Phi(-m_k1 / sqrt(S_k11))."""
    return np.sum(params.weights * ndtr(-params.means[..., 0] / np.sqrt(params.covs[..., 0, 0])), axis=-1)


def tilted(params: GMMParams, beta: float, t: float) -> GMMParams:
    """The mixture p(x) exp(t beta x_1), normalised: every component's mean moves by
    t beta S_k e_1 and its weight is multiplied by exp(t beta m_k1 + (t beta)^2 (S_k)_11 / 2)."""
    b = t * beta
    logw = np.log(params.weights) + b * params.means[..., 0] + b**2 * params.covs[..., 0, 0] / 2
    w = np.exp(logw - logw.max(axis=-1, keepdims=True))
    return GMMParams(w / w.sum(axis=-1, keepdims=True), params.means + b * params.covs[..., :, 0], params.covs)


@dataclass
class MixtureCuration:
    """Curated refits of a two-component mixture, by real share: the points of chain 0 at the
    snapshot rounds, and the left mass of every chain's fit at every round."""

    rounds: np.ndarray  # (R+1,)
    snapshots: tuple[int, ...]  # rounds whose training points are kept (chain 0)
    points: dict = field(default_factory=dict)  # share -> {round: (n, 2)}
    left: dict = field(default_factory=dict)  # share -> (R+1, C) mass of x_1 < 0 of the fit
    tilt_left: np.ndarray | None = None  # (R+1,) the same for the real mixture tilted t rounds (K, n infinite)
    real_left: float = 0.5  # the real mixture's


def mixture_curation(cfg: Config) -> MixtureCuration:
    """Rounds of curation of a two-component mixture fitted by EM to ``curation_picture_samples``
    real points, for every real share of the chapter, with K = ``curation_picture_candidates``."""
    n, K, C = cfg.curation_picture_samples, cfg.curation_picture_candidates, cfg.curation_picture_chains
    R, beta = cfg.curation_picture_rounds, cfg.curation_beta
    rounds = np.arange(R + 1)
    snaps = tuple(sorted({0, R // 3, 2 * R // 3, R}))
    real = two_clusters()
    fam = GMMFamily(n_components=2, dim=2, device="cpu")
    truth = source_params(real)
    res = MixtureCuration(rounds, snaps, real_left=float(left_mass(truth)[0]),
                          tilt_left=np.array([left_mass(tilted(truth, beta, t))[0] for t in rounds]))
    x0 = real.sample(C, n, stream(cfg.seed, "picture", 0))
    first = fam.fit(fam.summarize(x0))
    for i, lam in enumerate(progress(cfg.curation_real_shares, desc="curation in two dimensions")):
        n_real = int(round(lam * n))
        params, left, pts = first, [left_mass(first)], {0: x0[0]}
        for t in rounds[1:]:
            rng = stream(cfg.seed, "picture", i + 1, t)
            cand = fam.sample_points(params, (n - n_real) * K, rng).reshape(C, n - n_real, K, 2)
            pick = bradley_terry_choice(beta * cand[..., 0], rng)
            x = np.take_along_axis(cand, pick[..., None, None], axis=2)[:, :, 0]
            if n_real:
                x = np.concatenate([x, real.sample(C, n_real, rng)], axis=1)
            params = fam.fit(fam.summarize(x))
            left.append(left_mass(params))
            if t in snaps:
                pts[int(t)] = x[0]
        res.points[lam], res.left[lam] = pts, np.array(left)
    return res
