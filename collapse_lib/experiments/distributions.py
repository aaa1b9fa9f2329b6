"""Chapter 1, distributions and tails: the experiments behind every figure.

Follows Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024): the discrete case and the single Gaussian of §3
(Theorem 3.1), and the three sources of error of its §2 (statistical approximation,
functional expressivity and functional approximation error; the 2023 preprint,
arXiv:2305.17493, names two); and the tail cutting of Dohmatob et al., "A Tale of Tails"
(ICML 2024). :func:`run` computes the chapter once; :func:`summary` and :func:`claims`
(in :mod:`.distributions_claims`) read its :class:`Result`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .. import metrics
from ..engine import run_generations
from ..families import CategoricalFamily, CategoricalParams, CategoricalSource, GaussianFamily, GaussianSource
from ..families.gaussian import GaussianMixtureSource
from ..families.gaussian_gd import GradientDescentGaussian, fit_moments
from ..families.zipf import ZipfSource
from ..policies import Replace
from ..progress import progress as progress_bar
from ..protocol import Run
from ..runtime import generation_rng
from ..theory import categorical as cat_theory
from ..theory import gaussian as gauss_theory
from ..theory import zipf as zipf_theory
from ..validation import check_int, check_positive, check_sample_size, check_top_p

#: The sandwich survey: answers per hundred people to "what is in your sandwich?"
SANDWICH = {
    "ham": 35,
    "cheese": 35,
    "tuna": 5,
    "egg": 5,
    "marmite": 1,
    "sardine": 1,
    "peanut butter": 18,
}

#: The rare answer (q = 1 %) whose survival the chapter follows.
RARE = "marmite"

#: The real data of the expressivity error: two bumps, which no single Gaussian fits.
BIMODAL = GaussianMixtureSource([0.5, 0.5], [[-2.0], [2.0]], [[[0.5]], [[0.5]]])

#: The estimators of the Gaussian's variance: unbiased (1/(M-1)) and maximum likelihood (1/M).
ESTIMATORS = ("unbiased", "mle")


@dataclass(frozen=True)
class Config:
    """Sizes of the chapter's experiments (one instance per profile)."""

    seed: int = 0  # every experiment derives its random streams from this seed
    # the sandwich survey, refitted on its own answers
    sandwich_chains: int = 2000  # independent replays of the whole story
    sandwich_samples: int = 100  # M: answers collected each generation
    sandwich_generations: int = 200  # refits after the survey of real people
    sandwich_temperature: float = 0.7  # the "likely answers" variant: temperature < 1
    sandwich_top_p: float = 0.9  # ... and nucleus sampling
    sandwich_flat_temperature: float = 1.5  # the exercise's variant: temperature > 1 flattens the fit
    # a single Gaussian, refitted on its own samples (Theorem 3.1)
    gaussian_chains: int = 10_000  # independent chains
    gaussian_samples: int = 100  # M
    gaussian_generations: int = 1000  # refits after the fit to real data
    gaussian_sample_sweep: tuple[int, ...] = ()  # further M values run side by side (the notebook's N)
    bell_samples: int = 20  # M for the bell curves of the first generations
    bell_generations: int = 100  # refits after the fit to real data, for the bell curves
    bell_seeds: int = 3  # independent chains drawn side by side
    bell_chains: int = 4000  # chains whose share wider than the truth is counted (the first are drawn)
    # the three sources of error: statistical, functional expressivity, functional approximation
    approx_samples: tuple[int, ...] = (30, 300, 3000)  # M values compared
    approx_chains: int = 200  # independent chains per M and kind of data
    approx_generations: int = 100  # refits after the fit to real data
    approx_gd_steps: int = 50  # the learning procedure: gradient steps per fit, from scratch
    approx_gd_lr: float = 0.05  # its step size
    approx_gd_init_std: float = 0.5  # the standard deviation every new model starts from (mean 0)
    approx_real_mean: float = 1.0  # mean of the Gaussian real data: away from the optimiser's start at 0
    # Zipf data with the tail cut at rank k (A Tale of Tails)
    zipf_outcomes: int = 100_000  # vocabulary size
    zipf_exponent: float = 2.0  # beta in p_i ~ i^-beta
    zipf_cuts: tuple[int, ...] = (10, 100, 1000)  # ranks k of the cut
    zipf_train_sizes: tuple[int, ...] = tuple(int(x) for x in np.logspace(1, 6, 11))  # T
    zipf_chains: int = 10  # independent training sets per T

    def __post_init__(self):
        for name in ("sandwich_chains", "sandwich_generations", "gaussian_chains", "gaussian_generations",
                     "bell_seeds", "bell_generations", "approx_chains", "approx_generations", "zipf_chains", "approx_gd_steps"):
            check_int(name, getattr(self, name), minimum=1)
        check_sample_size("sandwich_samples", self.sandwich_samples, 1, "a survey needs an answer")
        for name in ("gaussian_samples", "bell_samples"):
            check_sample_size(name, getattr(self, name), 2, "a variance needs two samples")
        for m in self.gaussian_sample_sweep:
            check_sample_size("gaussian_sample_sweep", m, 2, "a variance needs two samples")
        for m in self.approx_samples:
            check_sample_size("approx_samples", m, 2, "a variance needs two samples")
        check_positive("approx_gd_lr", self.approx_gd_lr)
        check_positive("approx_gd_init_std", self.approx_gd_init_std)
        check_positive("sandwich_temperature", self.sandwich_temperature)
        check_positive("sandwich_flat_temperature", self.sandwich_flat_temperature)
        if self.bell_chains < self.bell_seeds:
            raise ValueError(f"bell_chains={self.bell_chains!r} is not allowed: it must be >= bell_seeds="
                             f"{self.bell_seeds} (the drawn chains are the first of them)")
        check_top_p("sandwich_top_p", self.sandwich_top_p)
        check_int("zipf_outcomes", self.zipf_outcomes, minimum=2)
        if not self.zipf_exponent > 1:
            raise ValueError(f"zipf_exponent={self.zipf_exponent!r} is not allowed: it must be > 1")
        for k in self.zipf_cuts:
            check_int("zipf_cuts", k, minimum=1)
        for T in self.zipf_train_sizes:
            check_int("zipf_train_sizes", T, minimum=1)


PROFILES = {
    "quick": Config(
        sandwich_chains=2000, sandwich_generations=150,
        gaussian_chains=2000, gaussian_generations=400,
        approx_samples=(30, 300, 3000), approx_chains=100, approx_generations=60,
        zipf_outcomes=30_000, zipf_cuts=(10, 100), zipf_train_sizes=tuple(int(x) for x in np.logspace(1, 5.5, 10)),
        zipf_chains=8,
    ),
    # a laptop without GPU: the sizes of Shumailov et al.'s Gaussian notebook (M = 100 and
    # 500, 1,000 and 10,000 beside it, 2,000 generations; thousands of chains where the notebook
    # runs one), the sandwich chains over 500 generations, and the Zipf law of the paper
    # profile's T up to 10^7 (300,000 outcomes)
    "cpu": Config(
        sandwich_chains=10_000, sandwich_generations=500,
        gaussian_chains=10_000, gaussian_samples=100, gaussian_generations=2000,
        gaussian_sample_sweep=(500, 1000, 10_000),
        approx_samples=(100, 1000, 10_000), approx_chains=200, approx_generations=150,
        zipf_outcomes=300_000, zipf_cuts=(10, 100, 1000), zipf_chains=10,
        zipf_train_sizes=tuple(int(x) for x in np.logspace(1, 7, 13)),
    ),
    "gpu": Config(),
    "paper": Config(
        sandwich_chains=10_000, sandwich_generations=1000,
        gaussian_chains=10_000, gaussian_generations=2000,
        approx_samples=(100, 1000, 10_000), approx_chains=500, approx_generations=300,
        zipf_outcomes=1_000_000, zipf_cuts=(10, 100, 1000), zipf_chains=20,
        zipf_train_sizes=tuple(int(x) for x in np.logspace(1, 7, 13)),
    ),
}


# --------------------------------------------------------------------------- sandwich
@dataclass
class SandwichResult:
    """The sandwich survey refitted on its own answers (Shumailov et al., §3.1, discrete case)."""

    names: list[str]
    true_probs: np.ndarray  # (K,)
    samples: int
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # variant -> (G+1, C, K)
    flat: np.ndarray = None  # (G+1, C, K) the exercise's temperature > 1 (not drawn in the figures)
    flat_temperature: float = 1.5
    theory_survival: np.ndarray = None  # (G+1, K) P(outcome alive), plain sampling
    theory_surviving: np.ndarray = None  # (G+1,) expected number alive

    @cached_property
    def surviving(self) -> dict[str, np.ndarray]:
        """variant -> (G+1, C) number of answers each chain still gives."""
        return {k: metrics.surviving(v) for k, v in self.probs.items()}

    @cached_property
    def rare(self) -> int:
        """The index of the rare answer :data:`RARE`."""
        return self.names.index(RARE)

    @cached_property
    def rare_alive(self) -> dict[str, np.ndarray]:
        """variant -> (G+1, C) whether the rare answer is still given."""
        return {k: v[:, :, self.rare] > 0 for k, v in self.probs.items()}

    @cached_property
    def rare_share_where_alive(self) -> tuple[np.ndarray, np.ndarray]:
        """Plain sampling: ``(share, chains)``, the mean share of the rare answer over the
        chains where it survives (NaN where none does) and the number of those chains, (G+1,)."""
        share, alive = self.probs["plain"][:, :, self.rare], self.rare_alive["plain"]
        with np.errstate(invalid="ignore"):
            cond = np.where(alive.sum(1) > 0, (share * alive).sum(1) / alive.sum(1), np.nan)
        return cond, alive.sum(1)


def sandwich(cfg: Config, progress: bool | None = None) -> SandwichResult:
    """The sandwich distribution refitted on M answers a generation, with plain
    sampling, temperature < 1 and top-p, and (for the exercise) a temperature > 1."""
    names = list(SANDWICH)
    p = np.array([SANDWICH[n] for n in names], float) / 100.0
    source = CategoricalSource(p)
    variants = {
        "plain": CategoricalFamily(len(p)),
        f"temperature {cfg.sandwich_temperature:g}": CategoricalFamily(len(p), temperature=cfg.sandwich_temperature),
        f"top-p {cfg.sandwich_top_p:g}": CategoricalFamily(len(p), top_p=cfg.sandwich_top_p),
    }
    res = SandwichResult(names, p, cfg.sandwich_samples)
    for label, family in variants.items():
        h = run_generations(family, source, Replace(), generations=cfg.sandwich_generations,
                            samples=cfg.sandwich_samples, chains=cfg.sandwich_chains, seed=cfg.seed,
                            desc=f"sandwich, {label}", progress=progress)
        res.probs[label] = h["probs"]
    res.flat_temperature = cfg.sandwich_flat_temperature
    res.flat = run_generations(CategoricalFamily(len(p), temperature=cfg.sandwich_flat_temperature), source, Replace(),
                               generations=cfg.sandwich_generations, samples=cfg.sandwich_samples,
                               chains=cfg.sandwich_chains, seed=cfg.seed,
                               desc=f"sandwich, temperature {cfg.sandwich_flat_temperature:g}", progress=progress)["probs"]
    G = cfg.sandwich_generations
    res.theory_survival = np.stack([cat_theory.survival_probability(q, cfg.sandwich_samples, G) for q in p], axis=1)
    res.theory_surviving = res.theory_survival.sum(axis=1)
    return res


# --------------------------------------------------------------------------- Gaussian
@dataclass
class GaussianResult:
    """N(0, 1) refitted on M of its own samples (Shumailov et al., Theorem 3.1)."""

    samples: int
    generations: np.ndarray  # (G+1,)
    estimators: dict[str, dict[str, np.ndarray]]  # estimator -> {"mean": (G+1, C), "var": (G+1, C)}

    @cached_property
    def w2_squared(self) -> dict[str, np.ndarray]:
        """estimator -> squared W2 distance of every chain's fit to N(0, 1), (G+1, C)."""
        return {k: e["mean"] ** 2 + (np.sqrt(e["var"]) - 1.0) ** 2 for k, e in self.estimators.items()}

    @cached_property
    def theory(self) -> dict[str, dict[str, np.ndarray]]:
        """estimator -> the closed forms of :mod:`collapse_lib.theory.gaussian` on the
        result's axis: ``var``, ``log_var``, ``mean_drift`` and ``w2_squared``, (G+1,)."""
        g, M = self.generations, self.samples
        return {est: {
            "var": gauss_theory.expected_variance(g, M, estimator=est),
            "log_var": gauss_theory.expected_log_variance(g, M, estimator=est),
            "mean_drift": gauss_theory.mean_drift(g, M, estimator=est),
            "w2_squared": gauss_theory.expected_w2_squared(g, M, estimator=est),
        } for est in self.estimators}


def gaussian(cfg: Config, progress: bool | None = None) -> GaussianResult:
    """N(0, 1) refitted on M of its own samples, with both variance estimators."""
    out = {}
    for estimator in ESTIMATORS:
        h = run_generations(GaussianFamily(1, estimator), GaussianSource(0.0, 1.0), Replace(),
                            generations=cfg.gaussian_generations, samples=cfg.gaussian_samples,
                            chains=cfg.gaussian_chains, seed=cfg.seed, desc=f"Gaussian, {estimator}",
                            progress=progress)
        out[estimator] = {"mean": h["mean"][..., 0], "var": h["cov"][..., 0, 0]}
    return GaussianResult(cfg.gaussian_samples, np.arange(cfg.gaussian_generations + 1), out)


def gaussian_sweep(cfg: Config, progress: bool | None = None) -> dict[int, GaussianResult] | None:
    """The Gaussian recursion for every M of ``cfg.gaussian_sample_sweep`` (the sizes of
    the authors' notebook), with the chapter's chains and generations; None when empty."""
    if not cfg.gaussian_sample_sweep:
        return None
    return {M: gaussian(replace(cfg, gaussian_samples=M), progress) for M in cfg.gaussian_sample_sweep}


@dataclass
class BellCurves:
    """Fitted (mean, variance) of generations 0 to ``bell_generations`` with small M: the
    first ``drawn`` chains are drawn, all of them say how often a fit is wider than the truth."""

    samples: int
    drawn: int
    means: np.ndarray  # (G+1, chains)
    variances: np.ndarray  # (G+1, chains)

    @cached_property
    def wider(self) -> np.ndarray:
        """(G+1,) share of the chains whose fitted variance is above the real one."""
        return (self.variances > 1.0).mean(axis=1)

    @cached_property
    def theory_wider(self) -> np.ndarray:
        """(G+1,) the exact P(sigma_g^2 > 1) (:func:`collapse_lib.theory.gaussian.prob_wider`)."""
        return gauss_theory.prob_wider(np.arange(self.variances.shape[0]), self.samples)


def bell_curves(cfg: Config) -> BellCurves:
    """The bell curves of the first generations: ``cfg.bell_chains`` chains of ``cfg.bell_samples``
    points each, of which the first ``cfg.bell_seeds`` are drawn."""
    h = run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), generations=cfg.bell_generations,
                        samples=cfg.bell_samples, chains=cfg.bell_chains, seed=cfg.seed + 1, progress=False)
    return BellCurves(cfg.bell_samples, cfg.bell_seeds, h["mean"][..., 0], h["cov"][..., 0, 0])


# ------------------------------------------- statistical, expressivity and procedure errors
@dataclass
class ApproximationResult:
    """The three sources of error of Shumailov et al. (Nature, §2), generation after
    generation of a Gaussian fitted to its predecessor's samples.

    ``tv[kind][M]`` is the (G+1, C) total variation between each chain's fit and the real
    density: ``"Gaussian"`` real data with exact fitting (statistical approximation error
    only), ``"bimodal"`` real data (functional expressivity error too: no Gaussian has two
    bumps) and ``"gradient descent"`` (Gaussian real data fitted by a new model trained
    for a fixed budget of gradient steps from mean 0, away from the real mean
    ``approx_real_mean``: functional approximation error too); for the
    last, the key ``0`` is unlimited data (each fit sees its predecessor's exact
    distribution), so only the learning procedure's error is left."""

    samples: tuple[int, ...]
    generations: np.ndarray
    tv: dict[str, dict[int, np.ndarray]]  # real data kind -> M (0: unlimited data) -> (G+1, C) TV distance
    functional_floor: dict[str, float]  # TV of the best Gaussian with unlimited data
    gd_variance: dict[int, np.ndarray] = field(default_factory=dict)  # M -> (G+1, C) variance of the GD fits
    gd_settings: dict = field(default_factory=dict)  # steps, lr, init_std

    UNLIMITED = 0  # the key of the unlimited-data runs


def approximation_errors(cfg: Config, progress: bool | None = None) -> ApproximationResult:
    """Fit a Gaussian, generation after generation, to Gaussian real data (only the
    statistical error: the family contains the truth), to bimodal real data (the
    expressivity error too: no Gaussian is bimodal), and to Gaussian real data with a
    truncated gradient-descent fit (the learning procedure's error too, also with
    unlimited data). Distances are total variation to the real density."""
    mu = cfg.approx_real_mean
    sources = {"Gaussian": GaussianSource(mu, 1.0), "bimodal": BIMODAL}
    truth_pdf = {
        "Gaussian": lambda x: metrics.gaussian_pdf_1d(x, mu, 1.0),
        "bimodal": BIMODAL.pdf_1d,
    }
    x = np.linspace(-8, 8, 801)
    dx = x[1] - x[0]
    res = ApproximationResult(tuple(cfg.approx_samples), np.arange(cfg.approx_generations + 1), {}, {})
    res.gd_settings = {"steps": cfg.approx_gd_steps, "lr": cfg.approx_gd_lr, "init_std": cfg.approx_gd_init_std,
                       "real_mean": mu}
    for kind, source in sources.items():
        real = truth_pdf[kind](x)
        mean, cov = (mu, 1.0) if kind == "Gaussian" else (float(BIMODAL.moments()[0][0]),
                                                          float(BIMODAL.moments()[1][0, 0]))
        res.functional_floor[kind] = float(metrics.total_variation_density(metrics.gaussian_pdf_1d(x, mean, cov),
                                                                           real, dx))
        res.tv[kind] = {}
        for M in cfg.approx_samples:
            h = run_generations(GaussianFamily(1), source, Replace(), generations=cfg.approx_generations,
                                samples=M, chains=cfg.approx_chains, seed=cfg.seed, desc=f"{kind}, M={M}",
                                progress=progress)
            pdf = metrics.gaussian_pdf_1d(x, h["mean"][..., 0], h["cov"][..., 0, 0])
            res.tv[kind][M] = metrics.total_variation_density(pdf, real, dx)
    # the learning procedure: a new model, trained for a fixed budget of gradient steps, every generation
    real = truth_pdf["Gaussian"](x)
    gd = GradientDescentGaussian(steps=cfg.approx_gd_steps, lr=cfg.approx_gd_lr, init_std=cfg.approx_gd_init_std)
    res.tv["gradient descent"] = {}
    mean, var = np.full(1, mu), np.ones(1)  # unlimited data: each fit sees its predecessor's exact distribution
    means, variances = [], []
    for _ in range(cfg.approx_generations + 1):
        mean, var = fit_moments(mean, var, gd.steps, gd.lr, gd.init_std)
        means.append(mean)
        variances.append(var)
    means, variances = np.array(means), np.array(variances)  # (G+1, 1)
    res.gd_variance[res.UNLIMITED] = variances
    res.tv["gradient descent"][res.UNLIMITED] = metrics.total_variation_density(
        metrics.gaussian_pdf_1d(x, means, variances), real, dx)
    for M in cfg.approx_samples:
        h = run_generations(gd, sources["Gaussian"], Replace(), generations=cfg.approx_generations, samples=M,
                            chains=cfg.approx_chains, seed=cfg.seed, desc=f"gradient descent, M={M}",
                            progress=progress)
        res.gd_variance[M] = h["cov"][..., 0, 0]
        pdf = metrics.gaussian_pdf_1d(x, h["mean"][..., 0], h["cov"][..., 0, 0])
        res.tv["gradient descent"][M] = metrics.total_variation_density(pdf, real, dx)
    return res


# ------------------------------------------------------------------ Zipf tail cutting
@dataclass
class ZipfResult:
    """A memorising learner on Zipf data, real or with the tail cut at rank k (A Tale of Tails)."""

    exponent: float
    outcomes: int
    train_sizes: np.ndarray  # (n_T,)
    errors: dict[str, np.ndarray]  # "real" or "k=..." -> (n_T, chains) unseen real mass
    theory: dict[str, np.ndarray]  # same keys -> (n_T,) expected error
    plateaus: dict[str, float]  # "k=..." -> sum of p_i beyond k
    sd_bound: dict[str, np.ndarray] = field(default_factory=dict)  # same keys -> (n_T,) bound on one chain's sd

    @cached_property
    def mean_error(self) -> dict[str, np.ndarray]:
        """Same keys -> (n_T,) error averaged over the chains."""
        return {k: v.mean(axis=1) for k, v in self.errors.items()}


def zipf_tail_cut(cfg: Config, progress: bool | None = None) -> ZipfResult:
    """A memorising learner trained on T samples of Zipf data, real or with the tail
    cut at rank k: its error (unseen real mass) against T, with the closed forms."""
    source = ZipfSource(cfg.zipf_outcomes, cfg.zipf_exponent)
    p = source.probs
    T = np.array(cfg.zipf_train_sizes)
    res = ZipfResult(cfg.zipf_exponent, cfg.zipf_outcomes, T, {}, {}, {})
    params = CategoricalParams(np.broadcast_to(p, (cfg.zipf_chains, p.size)))
    for k in (None, *cfg.zipf_cuts):
        key = "real" if k is None else f"k={k}"
        family = CategoricalFamily(p.size, top_k=k)
        err = np.empty((T.size, cfg.zipf_chains))
        for i in progress_bar(range(T.size), desc=f"Zipf, {key}", enabled=progress):
            counts = family.sample(params, int(T[i]), generation_rng(cfg.seed, i, "synthetic"))
            err[i] = metrics.unseen_mass(p, counts.counts)
        res.errors[key] = err
        res.theory[key] = zipf_theory.tail_cut_error(T, k, cfg.zipf_exponent, cfg.zipf_outcomes)
        res.sd_bound[key] = zipf_theory.tail_cut_sd_bound(T, k, cfg.zipf_exponent, cfg.zipf_outcomes)
        if k is not None:
            res.plateaus[key] = zipf_theory.plateau(k, cfg.zipf_exponent, cfg.zipf_outcomes)
    return res


# ---------------------------------------------------------------------- whole chapter
@dataclass
class Result:
    """The chapter's run: every experiment at one config."""

    config: Config
    sandwich: SandwichResult
    gaussian: GaussianResult  # at M = gaussian_samples
    gaussian_sweep: dict[int, GaussianResult] | None  # M of gaussian_sample_sweep -> its run; None when empty
    bell_curves: BellCurves
    approximation: ApproximationResult
    zipf: ZipfResult

    @cached_property
    def gaussians(self) -> dict[int, GaussianResult]:
        """M -> the Gaussian recursion at M: the chapter's M first, then the sweep's."""
        return {self.gaussian.samples: self.gaussian, **(self.gaussian_sweep or {})}


def run(cfg: Config, run: Run | None = None) -> Result:
    """Every experiment of the chapter at ``cfg`` (numpy on the CPU; nothing is stored)."""
    shown = (run or Run()).progress
    return Result(cfg, sandwich(cfg, shown), gaussian(cfg, shown), gaussian_sweep(cfg, shown), bell_curves(cfg),
                  approximation_errors(cfg, shown), zipf_tail_cut(cfg, shown))


from .distributions_claims import claims, summary  # noqa: E402,F401  (they read the Result above)
