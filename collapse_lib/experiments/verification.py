"""Chapter 7, what stops collapse: verification and curation. The experiments behind every figure.

- Verification in one step (Feng, Dohmatob, Yang, Charton and Kempe, arXiv 2406.07515): a
  generator labels fresh points x | y ~ N(y mu, I_d) with error rate p, a verifier keeps a
  right label with probability phi and a wrong one with psi, and the mean-difference
  classifier is trained on the first n kept points; its accuracy on the real distribution
  against n, for p on both sides of the breakdown point p* = 1/(1 + psi/phi), and over (p, psi/phi).
- Verification over generations (Yi, Liu, Cheng and Xu, arXiv 2510.16657): least squares
  retrained on its own labels (chapter 5's replace loop) with no verifier, a verifier centred on
  theta*, and one centred elsewhere, which keep (x, y) when |y - x^T theta_c| <= r |x| + sigma_c.
- Curation by preference (Ferbach, Bertrand, Bose and Gidel, arXiv 2407.09499): a Gaussian
  refitted each round on samples each chosen among K candidates with Bradley-Terry
  probabilities proportional to exp(r(x)), with and without a share of real data.
- Selection in chapter 4's language-model loop (:mod:`.verification_lm`): of the beams of
  every block, the best, the one the generator finds likeliest, the one generation 0's model
  finds likeliest (a verifier fine-tuned on real text), or one at random.

:func:`claims` (in :mod:`.verification_claims`) computes every statement the chapter makes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .. import protocol

#: The language-model loop keeps every generation in the run store; a rerun resumes.
RESUMABLE = True
from ..progress import progress
from ..theory import verification as th
from ..validation import check_choice, check_fraction, check_int, check_nonnegative, check_positive
from .lm import PROFILES as LM_PROFILES
from .lm import Config as LMConfig
from .verification_claims import claims, summary  # noqa: F401  (the protocol's names)
from .verification_lm import NEURAL_SELECTIONS, NeuralResult, run_neural
from .verification_mixture import MixtureCuration, mixture_curation
from .verification_loops import CurationResult, LoopResult, curation, generations
from .verification_loops import stream as _rng


@dataclass(frozen=True)
class Config:
    """The settings that change the chapter's numbers (one instance per profile)."""

    seed: int = 0  # every experiment derives its random streams from this seed
    # verification in one step (Feng et al.)
    step_dim: int = 20  # d: dimension of x | y ~ N(y mu, I_d)
    step_signal: float = 1.0  # |mu|: the Bayes accuracy is Phi(|mu|)
    step_keep_right: float = 0.9  # phi: probability that the verifier keeps a right label
    step_keep_wrong: float = 0.3  # psi: probability that it keeps a wrong one (p* = 1/(1 + psi/phi))
    step_error_rates: tuple[float, ...] = (0.2, 0.6, 0.7, 0.8, 0.9)  # p: the generator's error rates
    step_sizes: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000)  # n: kept points the classifier trains on
    step_chains: int = 1000  # independent training sets per (p, n)
    step_phase_rates: tuple[float, ...] = tuple(np.round(np.linspace(0.05, 0.95, 10), 3))  # p of the phase diagram
    step_phase_ratios: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)  # psi/phi of the phase diagram (1: no verifier)
    step_phase_size: int = 300  # n of every cell of the phase diagram
    step_phase_chains: int = 200  # training sets per cell
    # verification over generations (Yi et al.)
    loop_dim: int = 10  # d
    loop_samples: int = 111  # T: kept points per generation (T >= d + 2)
    loop_noise: float = 1.0  # sigma: label noise of real and synthetic labels
    loop_width: float = 1.0  # sigma_c: the verifier keeps |y - x^T theta_c| <= loop_slope |x| + sigma_c
    loop_slope: float = 0.0  # r: the verifier's tolerance growing with |x|
    loop_offset: float = 0.05  # |theta_c - theta*|^2 of the biased verifier
    loop_generations: int = 30  # generations after the fit to real data
    loop_chains: int = 2000
    # curation by preference (Ferbach et al.)
    curation_rewards: tuple[str, ...] = th.REWARDS  # r(x) = beta x, or -gamma (x - a)^2 / 2
    curation_beta: float = 0.3  # beta of the linear reward
    curation_gamma: float = 0.5  # gamma of the quadratic reward
    curation_target: float = 2.0  # a: the maximiser of the quadratic reward
    curation_candidates: tuple[int, ...] = (2, 8, 32)  # K: samples shown for each choice
    curation_samples: int = 200  # n: training-set size of every round
    curation_rounds: int = 10  # rounds of curation after the fit to real data N(0, 1)
    curation_chains: int = 200
    curation_real_shares: tuple[float, ...] = (0.0, 0.25)  # share of fresh real data in each training set
    # the picture in two dimensions: chapter 2's two-component mixture, reward curation_beta x_1
    curation_picture_samples: int = 1000  # n: training points of every round
    curation_picture_candidates: int = 16  # K: samples shown for each choice
    curation_picture_rounds: int = 8  # rounds after the fit to real data
    curation_picture_chains: int = 20  # independent chains (the picture shows chain 0)
    # selection in chapter 4's language-model loop, run once per selection (() skips it):
    # which beam of every block is kept, "top", "self", "verifier" or "random"
    neural_selections: tuple[str, ...] = NEURAL_SELECTIONS
    neural: LMConfig = LM_PROFILES["quick"]  # chapter 4's configuration of the loop

    def __post_init__(self):
        for name in ("step_dim", "step_chains", "step_phase_chains", "loop_dim", "loop_generations", "loop_chains",
                     "curation_rounds", "curation_chains"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        if self.step_dim < 2:
            raise ValueError(f"step_dim={self.step_dim!r} is not allowed: it must be an integer >= 2")
        check_positive("step_signal", self.step_signal)
        for name in ("step_keep_right", "step_keep_wrong"):
            if not 0 < check_fraction(name, getattr(self, name)):
                raise ValueError(f"{name}=0 is not allowed: it must be a number in (0, 1]")
        for name in ("step_error_rates", "step_phase_rates", "curation_real_shares"):
            if not getattr(self, name):
                raise ValueError(f"{name}=() is not allowed: give at least one number in [0, 1]")
            for p in getattr(self, name):
                check_fraction(name, p)
        for name in ("step_sizes", "curation_candidates"):
            if not getattr(self, name):
                raise ValueError(f"{name}=() is not allowed: give at least one integer >= 1")
            for n in getattr(self, name):
                check_int(name, n, minimum=1)
        if list(self.step_sizes) != sorted(set(self.step_sizes)):
            raise ValueError(f"step_sizes={self.step_sizes!r} is not allowed: give increasing sizes")
        if not self.step_phase_ratios:
            raise ValueError("step_phase_ratios=() is not allowed: give at least one ratio psi/phi > 0")
        for r in self.step_phase_ratios:
            check_positive("step_phase_ratios", r)
        check_int("step_phase_size", self.step_phase_size, minimum=1)
        if isinstance(self.loop_samples, bool) or not isinstance(self.loop_samples, int) or \
                self.loop_samples < self.loop_dim + 2:
            raise ValueError(f"loop_samples={self.loop_samples!r} is not allowed: it must be an integer >= "
                             f"{self.loop_dim + 2} (least squares needs T >= d + 2 for a finite expected error)")
        for name in ("loop_noise", "loop_width", "curation_beta", "curation_gamma"):
            check_positive(name, getattr(self, name))
        for name in ("loop_slope", "loop_offset"):
            check_nonnegative(name, getattr(self, name))
        if not np.isfinite(self.curation_target):
            raise ValueError(f"curation_target={self.curation_target!r} is not allowed: it must be a finite number")
        if not self.curation_rewards:
            raise ValueError(f"curation_rewards=() is not allowed: name at least one of {th.REWARDS}")
        for r in self.curation_rewards:
            check_choice("curation_rewards", r, th.REWARDS)
        check_int("curation_samples", self.curation_samples, minimum=2)
        for name in ("curation_picture_candidates", "curation_picture_rounds", "curation_picture_chains"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("curation_picture_samples", self.curation_picture_samples, minimum=6)
        if isinstance(self.neural_selections, str):
            object.__setattr__(self, "neural_selections", (self.neural_selections,))
        for s in self.neural_selections:
            check_choice("neural_selections", s, NEURAL_SELECTIONS)
        if len(set(self.neural_selections)) < len(self.neural_selections):
            raise ValueError(f"neural_selections={self.neural_selections!r} is not allowed: each may be named once")
        for lam in self.curation_real_shares:
            if round(lam * self.curation_samples) > self.curation_samples - 1:
                raise ValueError(f"curation_real_shares={lam!r} is not allowed: it leaves no curated sample; "
                                 "give shares below 1")


PROFILES = {
    # seconds on two cores: fewer chains and sizes up to 1,000
    "quick": Config(step_sizes=(10, 30, 100, 300, 1000), step_chains=400, step_phase_size=200,
                    step_phase_chains=100, loop_chains=1000, loop_generations=20, curation_chains=100,
                    curation_samples=200, curation_rounds=8, curation_picture_samples=400, curation_picture_chains=8,
                    curation_picture_rounds=6, neural=LM_PROFILES["quick"]),
    # a laptop: every claim at thousands of chains, curation with K up to 64, and chapter 4's
    # cpu loop with selection (the tiny GPT-2)
    "cpu": Config(step_chains=2000, step_phase_chains=300, loop_chains=4000, curation_candidates=(2, 4, 16, 64),
                  curation_chains=300, curation_samples=400, curation_rounds=12, neural=LM_PROFILES["cpu"]),
    # the same NumPy experiments (a GPU changes nothing there) and chapter 4's gpu loop, OPT-125m
    "gpu": Config(step_chains=2000, step_phase_chains=300, loop_chains=4000, curation_candidates=(2, 4, 16, 64),
                  curation_chains=300, curation_samples=400, curation_rounds=12, neural=LM_PROFILES["gpu"]),
    "paper": Config(step_sizes=(10, 30, 100, 300, 1000, 3000, 10_000), step_chains=5000, step_phase_chains=1000,
                    loop_chains=10_000, loop_generations=50, curation_candidates=(2, 4, 16, 64, 256),
                    curation_chains=1000, curation_samples=1000, curation_rounds=20, neural=LM_PROFILES["gpu"]),
}


# ------------------------------------------------------------------ one step
def verified_training_sets(rng, mu: np.ndarray, p: float, phi: float, psi: float, sizes, chains: int,
                           chunk: int = 25):
    """Mean-difference classifiers w_n = (1/n) sum of y~ x over the first n kept points, for every
    n of ``sizes``: (len(sizes), chains, d); and the share of wrong labels among the first
    max(sizes) kept points of every chain, (chains,). The points, the generator's errors and the
    verifier's choices are drawn one by one."""
    d, n_max = mu.size, int(max(sizes))
    a = float(th.acceptance_rate(p, phi, psi))
    N = int(n_max / a + 8 * np.sqrt(n_max) / a + 50)  # candidates: every chain keeps n_max with P > 1 - 1e-15
    w = np.empty((len(sizes), chains, d))
    wrong_share = np.empty(chains)
    for lo in range(0, chains, chunk):
        c = min(chunk, chains - lo)
        y = rng.choice([-1.0, 1.0], size=(c, N))
        x = y[..., None] * mu + rng.standard_normal((c, N, d))
        wrong = rng.random((c, N)) < p
        label = np.where(wrong, -y, y)
        keep = rng.random((c, N)) < np.where(wrong, psi, phi)
        count = np.cumsum(keep, axis=1)
        if np.any(count[:, -1] < n_max):
            raise RuntimeError(f"fewer than {n_max} of {N} candidates kept: raise the candidate margin")
        sums = np.cumsum(label[..., None] * x * keep[..., None], axis=1)
        rows = np.arange(c)
        for i, n in enumerate(sizes):
            at = np.argmax(count >= n, axis=1)
            w[i, lo:lo + c] = sums[rows, at] / n
        at = np.argmax(count >= n_max, axis=1)
        wrong_share[lo:lo + c] = np.cumsum(keep & wrong, axis=1)[rows, at] / n_max
    return w, wrong_share


def real_accuracy(w: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Accuracy of sign(w^T x) on the real distribution, exactly: Phi(w^T mu / |w|)."""
    return ndtr(w @ mu / np.linalg.norm(w, axis=-1))


@dataclass
class StepResult:
    """Accuracy against n for each generator error rate p, with the closed forms."""

    sizes: np.ndarray  # (S,) kept points n
    rates: tuple[float, ...]  # p
    breakdown: float  # p*
    bayes: float  # Phi(|mu|)
    accuracy: dict  # p -> (S, chains)
    wrong_share: dict  # p -> (chains,) share of wrong labels among the first max(n) kept
    kept_error: dict  # p -> p'
    exact: dict  # p -> (S,) expected accuracy (quadrature)
    plugin: dict  # p -> (S,) accuracy with w = (1 - 2p') mu + N(0, I/n), |N|^2 = d/n


def one_step(cfg: Config) -> StepResult:
    """The classifier trained on verified synthetic labels, for each p, against n."""
    d, phi, psi = cfg.step_dim, cfg.step_keep_right, cfg.step_keep_wrong
    mu = np.zeros(d)
    mu[0] = cfg.step_signal
    sizes = np.array(cfg.step_sizes)
    res = StepResult(sizes, tuple(cfg.step_error_rates), th.breakdown_point(phi, psi),
                     th.bayes_accuracy(cfg.step_signal), {}, {}, {}, {}, {})
    for i, p in enumerate(progress(res.rates, desc="verification, one step")):
        w, share = verified_training_sets(_rng(cfg.seed, "step", i), mu, p, phi, psi, sizes, cfg.step_chains)
        res.accuracy[p], res.wrong_share[p] = real_accuracy(w, mu), share
        pk = float(th.kept_error_rate(p, phi, psi))
        res.kept_error[p] = pk
        res.exact[p] = np.array([th.accuracy_exact(int(n), pk, cfg.step_signal, d, nodes=32) for n in sizes])
        res.plugin[p] = th.accuracy_plugin(sizes, pk, cfg.step_signal, d)
    return res


def ratio_probabilities(ratio: float) -> tuple[float, float]:
    """(phi, psi) with psi/phi = ``ratio`` and the larger of the two equal to 1."""
    return (1.0, ratio) if ratio <= 1 else (1.0 / ratio, 1.0)


@dataclass
class PhaseResult:
    """Accuracy at n = ``size`` over the grid (ratio psi/phi, p)."""

    size: int
    rates: np.ndarray  # (P,) p
    ratios: np.ndarray  # (R,) psi/phi
    accuracy: np.ndarray  # (R, P, chains)
    exact: np.ndarray  # (R, P) expected accuracy


def phase_diagram(cfg: Config) -> PhaseResult:
    """The mean accuracy at n = step_phase_size over (p, psi/phi), simulated and exact."""
    d, n = cfg.step_dim, cfg.step_phase_size
    mu = np.zeros(d)
    mu[0] = cfg.step_signal
    rates, ratios = np.array(cfg.step_phase_rates), np.array(cfg.step_phase_ratios)
    acc = np.empty((ratios.size, rates.size, cfg.step_phase_chains))
    exact = np.empty((ratios.size, rates.size))
    for i, ratio in enumerate(progress(ratios, desc="verification, phase diagram")):
        phi, psi = ratio_probabilities(float(ratio))
        for j, p in enumerate(rates):
            w, _ = verified_training_sets(_rng(cfg.seed, "phase", i, j), mu, float(p), phi, psi, (n,),
                                          cfg.step_phase_chains)
            acc[i, j] = real_accuracy(w[0], mu)
            exact[i, j] = th.accuracy_exact(n, float(th.kept_error_rate(p, phi, psi)), cfg.step_signal, d, nodes=32)
    return PhaseResult(n, rates, ratios, acc, exact)


# ------------------------------------------------------------------ the whole chapter
@dataclass
class Result:
    """Every part of the chapter."""

    cfg: Config
    step: StepResult
    phase: PhaseResult
    loop: LoopResult
    curation: CurationResult
    picture: MixtureCuration | None = None  # curation of a two-dimensional mixture
    neural: NeuralResult | None = None  # the language-model loop with selection (None: not run)


def run(cfg: Config, run: protocol.Run | None = None) -> Result:
    """Every experiment of the chapter; ``run`` (device, threads, run store) matters only to
    the language-model loop, whose runs are stored and resumed like chapter 4's."""
    neural = run_neural(cfg.neural, cfg.neural_selections, run) if cfg.neural_selections else None
    return Result(cfg, one_step(cfg), phase_diagram(cfg), generations(cfg), curation(cfg), mixture_curation(cfg),
                  neural)
