"""Closed forms of chapter 7: verification and curation of synthetic data.

- Verification in one step (Feng, Dohmatob, Yang, Charton and Kempe, "Beyond Model
  Collapse: Scaling Up with Synthesized Data Requires Verification", arXiv 2406.07515):
  labels written with error rate p and kept by a verifier with probability phi (right)
  or psi (wrong) are wrong at rate p' = p psi / (p psi + (1 - p) phi); the breakdown point
  is p* = 1 / (1 + psi / phi). The mean-difference classifier of two Gaussian classes
  x | y ~ N(y mu, I_d) trained on n kept points has an exact law, hence an accuracy that
  a three-fold quadrature computes (:func:`accuracy_exact`).
- Verification over generations (Yi, Liu, Cheng and Xu, "Escaping Model Collapse via
  Synthetic Data Verification", arXiv 2510.16657): a verifier that keeps a synthetic
  label within sigma_c of the prediction of its centre theta_c contracts the error
  around theta_c; :func:`verified_error_linearized` is the first-order recursion.
- Curation by preference (Ferbach, Bertrand, Bose and Gidel, NeurIPS 2024, arXiv
  2407.09499): as the number K of candidates grows, Bradley-Terry choice tilts the model
  by exp(r(x)); for a Gaussian and a linear or quadratic reward the tilt is Gaussian
  (:func:`tilt_map`), and with a share of real data the moment-matched refit is
  :func:`tilt_map` followed by a mixture with the real distribution.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr, roots_genlaguerre, roots_hermitenorm
from scipy.stats import binom

REWARDS = ("linear", "quadratic")


# ------------------------------------------------------------------ one step
def kept_error_rate(p, phi: float, psi: float):
    """p' = p psi / (p psi + (1 - p) phi): the share of wrong labels among the kept ones."""
    p = np.asarray(p, float)
    return p * psi / (p * psi + (1 - p) * phi)


def breakdown_point(phi: float, psi: float) -> float:
    """p* = 1 / (1 + psi / phi): the generator error rate at which p' = 1/2."""
    return 1.0 / (1.0 + psi / phi)


def acceptance_rate(p, phi: float, psi: float):
    """The share of generated points the verifier keeps, p psi + (1 - p) phi."""
    p = np.asarray(p, float)
    return p * psi + (1 - p) * phi


def bayes_accuracy(mu_norm: float) -> float:
    """Accuracy of sign(mu^T x) on x | y ~ N(y mu, I): Phi(|mu|)."""
    return float(ndtr(mu_norm))


def accuracy_limit(p_kept, mu_norm: float):
    """Accuracy of the mean-difference classifier as n -> infinity: Phi(|mu|) below
    p' = 1/2, 1 - Phi(|mu|) above, 1/2 at it."""
    s = np.sign(1 - 2 * np.asarray(p_kept, float))
    return 0.5 + s * (bayes_accuracy(mu_norm) - 0.5)


def accuracy_plugin(n, p_kept, mu_norm: float, d: int):
    """The deterministic approximation: w = (1 - 2p') mu + N(0, I/n) with |N|^2 replaced by
    d/n, so accuracy = Phi(m |mu|^2 / sqrt(m^2 |mu|^2 + d/n)), m = 1 - 2p'."""
    n, m = np.asarray(n, float), 1 - 2 * np.asarray(p_kept, float)
    return ndtr(m * mu_norm**2 / np.sqrt(m**2 * mu_norm**2 + d / n))


def accuracy_exact(n: int, p_kept: float, mu_norm: float, d: int, nodes: int = 48) -> float:
    """Expected real-data accuracy of w = (1/n) sum_i y~_i x_i on n kept points.

    With s_i = y~_i y_i (= -1 for a wrong label) and z_i the noise of x_i, y~_i x_i = s_i mu
    + y~_i z_i, so w = (S/n) mu + g / sqrt(n) exactly, S = n - 2K, K ~ Bin(n, p'), g ~ N(0, I_d)
    independent of K. Writing g = a mu/|mu| + g_perp (a ~ N(0,1), |g_perp|^2 = q ~ chi2_{d-1}),
    the accuracy Phi(w^T mu / |w|) is Phi(|mu| u / sqrt(u^2 + q/n)) with u = (S/n)|mu| + a/sqrt(n):
    a sum over K, Gauss-Hermite nodes in a and generalized Gauss-Laguerre nodes in q/2."""
    if d < 2:
        raise ValueError(f"d={d!r} is not allowed: the quadrature needs d >= 2")
    k = np.arange(n + 1)
    pmf = binom.pmf(k, n, p_kept)
    keep = pmf > 1e-16 * pmf.max()
    k, pmf = k[keep], pmf[keep]
    a, wa = roots_hermitenorm(nodes)
    wa = wa / wa.sum()
    alpha = (d - 1) / 2 - 1
    t, wt = roots_genlaguerre(nodes, alpha)
    wt = wt / wt.sum()
    q = 2 * t  # chi2_{d-1} = 2 Gamma((d-1)/2, 1)
    u = ((n - 2 * k) / n * mu_norm)[:, None, None] + (a / np.sqrt(n))[None, :, None]
    acc = ndtr(mu_norm * u / np.sqrt(u**2 + (q / n)[None, None, :]))
    return float(np.einsum("k,a,q,kaq->", pmf, wa, wt, acc))


# ------------------------------------------------------------------ over generations
def truncated_variance_ratio(width: float, noise: float = 1.0) -> float:
    """kappa = Var(e | |e| <= width) / sigma^2 for e ~ N(0, sigma^2): the factor by which a
    verifier of half-width sigma_c = ``width`` shrinks a small offset of the labels (the
    derivative at 0 of the truncated mean of N(m, sigma^2) with respect to m)."""
    b = width / noise
    mass = 2 * ndtr(b) - 1
    return float(1 - 2 * b * np.exp(-b * b / 2) / np.sqrt(2 * np.pi) / mass)


def verified_error_linearized(generations, T: int, d: int, noise: float, width: float, offset2: float):
    """First-order expected excess error |theta_g - theta*|^2 of least squares retrained on its
    own labels kept by the verifier |y - x^T theta_c| <= sigma_c, |theta_c - theta*|^2 = offset2.

    To first order in delta = theta - theta_c the kept labels have mean x^T(theta_c + kappa delta)
    and variance kappa sigma^2, so delta_g = kappa delta_{g-1} + noise of size kappa e_1,
    e_1 = sigma^2 d/(T-d-1). With D_g = E|delta_g|^2: D_0 = e_1 + c^2, D_g = kappa^2 D_{g-1} +
    kappa e_1, and E_g = c^2 + D_g - 2 kappa^g c^2. Limit: c^2 + kappa e_1 / (1 - kappa^2)."""
    g = np.asarray(generations, int)
    kappa = truncated_variance_ratio(width, noise)
    e1 = noise**2 * d / (T - d - 1)
    out, D = [], e1 + offset2
    for t in range(int(g.max()) + 1):
        if t:
            D = kappa**2 * D + kappa * e1
        out.append(offset2 + D - 2 * kappa**t * offset2)
    return np.asarray(out)[g]


def verified_error_limit(T: int, d: int, noise: float, width: float, offset2: float) -> float:
    """The limit of :func:`verified_error_linearized`: c^2 + kappa e_1 / (1 - kappa^2)."""
    kappa = truncated_variance_ratio(width, noise)
    return offset2 + kappa * noise**2 * d / (T - d - 1) / (1 - kappa**2)


# ------------------------------------------------------------------ curation
def tilt_map(mean: float, var: float, reward: str, strength: float, target: float = 0.0) -> tuple[float, float]:
    """N(mean, var) tilted by exp(r(x)): r = strength x (linear) moves the mean by var
    strength; r = -strength (x - target)^2 / 2 (quadratic) adds strength to the precision."""
    if reward == "linear":
        return mean + var * strength, var
    if reward == "quadratic":
        prec = 1 / var + strength
        return (mean / var + strength * target) / prec, 1 / prec
    raise ValueError(f"reward={reward!r} is not allowed: it must be one of {REWARDS}")


def curation_map(mean: float, var: float, reward: str, strength: float, target: float, real_share: float,
                 real_mean: float = 0.0, real_var: float = 1.0) -> tuple[float, float]:
    """One round as K -> infinity and n -> infinity: the tilt, then a Gaussian moment-matched to
    the mixture real_share N(real) + (1 - real_share) tilt."""
    m, v = tilt_map(mean, var, reward, strength, target)
    lam = real_share
    mix_m = lam * real_mean + (1 - lam) * m
    mix_v = lam * real_var + (1 - lam) * v + lam * (1 - lam) * (m - real_mean) ** 2
    return mix_m, mix_v


def curation_path(rounds: int, reward: str, strength: float, target: float, real_share: float,
                  mean0: float = 0.0, var0: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Means and variances of rounds 0..``rounds`` under :func:`curation_map`. Without real
    data and a quadratic reward round t is N((t strength target)/(1/var0 + t strength) + ...,
    1/(1/var0 + t strength)); with a linear reward the mean is mean0 + t var0 strength."""
    means, vars_ = [mean0], [var0]
    for _ in range(rounds):
        m, v = curation_map(means[-1], vars_[-1], reward, strength, target, real_share, mean0, var0)
        means.append(m)
        vars_.append(v)
    return np.array(means), np.array(vars_)


def tilt_after(rounds, reward: str, strength: float, target: float = 0.0, mean0: float = 0.0,
               var0: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """p_0 exp(t r) in closed form (no real data): the mean and variance after t rounds."""
    t = np.asarray(rounds, float)
    if reward == "linear":
        return mean0 + t * var0 * strength, np.full_like(t, var0)
    if reward == "quadratic":
        prec = 1 / var0 + t * strength
        return (mean0 / var0 + t * strength * target) / prec, 1 / prec
    raise ValueError(f"reward={reward!r} is not allowed: it must be one of {REWARDS}")


def expected_reward(mean, var, reward: str, strength: float, target: float = 0.0):
    """E r(X) for X ~ N(mean, var)."""
    mean, var = np.asarray(mean, float), np.asarray(var, float)
    if reward == "linear":
        return strength * mean
    return -strength / 2 * ((mean - target) ** 2 + var)


def kl_to_standard(mean, var):
    """KL(N(mean, var) || N(0, 1)): the distance of a fit to the real distribution."""
    mean, var = np.asarray(mean, float), np.asarray(var, float)
    return 0.5 * (var + mean**2 - 1 - np.log(var))
