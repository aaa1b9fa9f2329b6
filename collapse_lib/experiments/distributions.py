"""Chapter 1, distributions and tails: the experiments behind every figure.

Follows Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024): the discrete case and the single Gaussian of §3
(Theorem 3.1), and the three sources of error of its §2 (statistical approximation,
functional expressivity and functional approximation error; the 2023 preprint,
arXiv:2305.17493, names two); and the tail cutting of Dohmatob et al., "A Tale of Tails"
(ICML 2024). :func:`claims` computes every statement the chapter makes about its run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..claims import Claim, claim

import numpy as np

from .. import metrics
from ..decoding import decode
from ..engine import run_generations
from ..families import CategoricalFamily, CategoricalParams, CategoricalSource, GaussianFamily, GaussianSource
from ..families.gaussian import GaussianMixtureSource
from ..families.gaussian_gd import GradientDescentGaussian, fit_moments
from ..families.zipf import ZipfSource
from ..policies import Replace
from ..profiles import pick
from ..progress import progress
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


@dataclass(frozen=True)
class DistributionsConfig:
    """Sizes of the chapter's experiments (one instance per profile)."""

    seed: int = 0  # every experiment derives its random streams from this seed
    # the sandwich survey, refitted on its own answers
    sandwich_chains: int = 2000  # independent replays of the whole story
    sandwich_samples: int = 100  # M: answers collected each generation
    sandwich_generations: int = 200
    sandwich_temperature: float = 0.7  # the "likely answers" variant: temperature < 1
    sandwich_top_p: float = 0.9  # ... and nucleus sampling
    # a single Gaussian, refitted on its own samples (Theorem 3.1)
    gaussian_chains: int = 10_000
    gaussian_samples: int = 100  # M
    gaussian_generations: int = 1000
    gaussian_sample_sweep: tuple[int, ...] = ()  # further M values run side by side (the notebook's N)
    bell_samples: int = 20  # M for the "generation 0 to 9" bell curves
    bell_seeds: int = 3  # independent chains drawn side by side
    # the three sources of error: statistical, functional expressivity, functional approximation
    approx_samples: tuple[int, ...] = (30, 300, 3000)  # M values compared
    approx_chains: int = 200
    approx_generations: int = 100
    approx_gd_steps: int = 50  # the learning procedure: gradient steps per fit, from scratch
    approx_gd_lr: float = 0.05  # its step size
    approx_gd_init_std: float = 0.5  # the standard deviation every new model starts from
    # Zipf data with the tail cut at rank k (A Tale of Tails)
    zipf_outcomes: int = 100_000  # vocabulary size
    zipf_exponent: float = 2.0  # beta in p_i ~ i^-beta
    zipf_cuts: tuple[int, ...] = (10, 100, 1000)  # ranks k of the cut
    zipf_train_sizes: tuple[int, ...] = tuple(int(x) for x in np.logspace(1, 6, 11))  # T
    zipf_chains: int = 10

    def __post_init__(self):
        for name in ("sandwich_chains", "sandwich_generations", "gaussian_chains", "gaussian_generations",
                     "bell_seeds", "approx_chains", "approx_generations", "zipf_chains", "approx_gd_steps"):
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
        check_top_p("sandwich_top_p", self.sandwich_top_p)
        check_int("zipf_outcomes", self.zipf_outcomes, minimum=2)
        if not self.zipf_exponent > 1:
            raise ValueError(f"zipf_exponent={self.zipf_exponent!r} is not allowed: it must be > 1")
        for k in self.zipf_cuts:
            check_int("zipf_cuts", k, minimum=1)
        for T in self.zipf_train_sizes:
            check_int("zipf_train_sizes", T, minimum=1)


PROFILE_CONFIGS = {
    "quick": DistributionsConfig(
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
    "cpu": DistributionsConfig(
        sandwich_chains=10_000, sandwich_generations=500,
        gaussian_chains=10_000, gaussian_samples=100, gaussian_generations=2000, gaussian_sample_sweep=(500, 1000, 10_000),
        approx_samples=(100, 1000, 10_000), approx_chains=200, approx_generations=150,
        zipf_outcomes=300_000, zipf_cuts=(10, 100, 1000), zipf_chains=10,
        zipf_train_sizes=tuple(int(x) for x in np.logspace(1, 7, 13)),
    ),
    "gpu": DistributionsConfig(),
    "paper": DistributionsConfig(
        sandwich_chains=10_000, sandwich_generations=1000,
        gaussian_chains=10_000, gaussian_generations=2000,
        approx_samples=(100, 1000, 10_000), approx_chains=500, approx_generations=300,
        zipf_outcomes=1_000_000, zipf_cuts=(10, 100, 1000), zipf_chains=20,
        zipf_train_sizes=tuple(int(x) for x in np.logspace(1, 7, 13)),
    ),
}


def config(profile: str | None = None, **overrides) -> DistributionsConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


# --------------------------------------------------------------------------- sandwich
@dataclass
class SandwichResult:
    names: list[str]
    true_probs: np.ndarray  # (K,)
    samples: int
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # variant -> (G+1, C, K)
    theory_survival: np.ndarray = None  # (G+1, K) P(outcome alive), plain sampling
    theory_surviving: np.ndarray = None  # (G+1,) expected number alive


def sandwich(cfg: DistributionsConfig) -> SandwichResult:
    """The sandwich distribution refitted on M answers a generation, with plain
    sampling, temperature < 1 and top-p."""
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
                            desc=f"sandwich, {label}")
        res.probs[label] = h["probs"]
    G = cfg.sandwich_generations
    res.theory_survival = np.stack([cat_theory.survival_probability(q, cfg.sandwich_samples, G) for q in p], axis=1)
    res.theory_surviving = res.theory_survival.sum(axis=1)
    return res


# --------------------------------------------------------------------------- Gaussian
@dataclass
class GaussianResult:
    samples: int
    generations: np.ndarray  # (G+1,)
    estimators: dict[str, dict[str, np.ndarray]]  # estimator -> {"mean": (G+1, C), "var": (G+1, C)}

    def w2_squared(self, estimator: str) -> np.ndarray:
        """Squared W2 distance of every chain's fit to N(0, 1), (G+1, C)."""
        e = self.estimators[estimator]
        return e["mean"] ** 2 + (np.sqrt(e["var"]) - 1.0) ** 2


def gaussian(cfg: DistributionsConfig) -> GaussianResult:
    """N(0, 1) refitted on M of its own samples, with both variance estimators."""
    out = {}
    for estimator in ("unbiased", "mle"):
        h = run_generations(GaussianFamily(1, estimator), GaussianSource(0.0, 1.0), Replace(),
                            generations=cfg.gaussian_generations, samples=cfg.gaussian_samples,
                            chains=cfg.gaussian_chains, seed=cfg.seed, desc=f"Gaussian, {estimator}")
        out[estimator] = {"mean": h["mean"][..., 0], "var": h["cov"][..., 0, 0]}
    return GaussianResult(cfg.gaussian_samples, np.arange(cfg.gaussian_generations + 1), out)


def gaussian_theory(res: GaussianResult, estimator: str) -> dict[str, np.ndarray]:
    """The closed forms of :mod:`collapse_lib.theory.gaussian` on the result's axis."""
    g, M = res.generations, res.samples
    return {
        "var": gauss_theory.expected_variance(g, M, estimator=estimator),
        "log_var": gauss_theory.expected_log_variance(g, M, estimator=estimator),
        "mean_drift": gauss_theory.mean_drift(g, M, estimator=estimator),
        "w2_squared": gauss_theory.expected_w2_squared(g, M, estimator=estimator),
    }


def gaussian_sweep(cfg: DistributionsConfig) -> dict[int, GaussianResult]:
    """The Gaussian recursion for every M of ``cfg.gaussian_sample_sweep`` (the sizes of
    the authors' notebook), with the chapter's chains and generations; {} when empty."""
    return {M: gaussian(replace(cfg, gaussian_samples=M)) for M in cfg.gaussian_sample_sweep}


def bell_curves(cfg: DistributionsConfig, generations: int = 9):
    """Fitted (mean, var) of generations 0..9 for a few chains with small M."""
    h = run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), generations=generations,
                        samples=cfg.bell_samples, chains=cfg.bell_seeds, seed=cfg.seed + 1, progress=False)
    return h["mean"][..., 0], h["cov"][..., 0, 0]


# ------------------------------------------- statistical, expressivity and procedure errors
@dataclass
class ApproximationResult:
    """The three sources of error of Shumailov et al. (Nature, §2), generation after
    generation of a Gaussian fitted to its predecessor's samples.

    ``tv[kind][M]`` is the (G+1, C) total variation between each chain's fit and the real
    density: ``"Gaussian"`` real data with exact fitting (statistical approximation error
    only), ``"bimodal"`` real data (functional expressivity error too: no Gaussian has two
    bumps) and ``"gradient descent"`` (Gaussian real data fitted by a new model trained
    for a fixed budget of gradient steps: functional approximation error too); for the
    last, the key ``0`` is unlimited data (each fit sees its predecessor's exact
    distribution), so only the learning procedure's error is left."""

    samples: tuple[int, ...]
    generations: np.ndarray
    tv: dict[str, dict[int, np.ndarray]]  # real data kind -> M (0: unlimited data) -> (G+1, C) TV distance
    functional_floor: dict[str, float]  # TV of the best Gaussian with unlimited data
    gd_variance: dict[int, np.ndarray] = field(default_factory=dict)  # M -> (G+1, C) variance of the GD fits
    gd_settings: dict = field(default_factory=dict)  # steps, lr, init_std

    UNLIMITED = 0  # the key of the unlimited-data runs


BIMODAL = GaussianMixtureSource([0.5, 0.5], [[-2.0], [2.0]], [[[0.5]], [[0.5]]])


def approximation_errors(cfg: DistributionsConfig) -> ApproximationResult:
    """Fit a Gaussian, generation after generation, to Gaussian real data (only the
    statistical error: the family contains the truth), to bimodal real data (the
    expressivity error too: no Gaussian is bimodal), and to Gaussian real data with a
    truncated gradient-descent fit (the learning procedure's error too, also with
    unlimited data). Distances are total variation to the real density."""
    sources = {"Gaussian": GaussianSource(0.0, 1.0), "bimodal": BIMODAL}
    truth_pdf = {
        "Gaussian": lambda x: metrics.gaussian_pdf_1d(x, 0.0, 1.0),
        "bimodal": BIMODAL.pdf_1d,
    }
    x = np.linspace(-8, 8, 801)
    dx = x[1] - x[0]
    res = ApproximationResult(tuple(cfg.approx_samples), np.arange(cfg.approx_generations + 1), {}, {})
    res.gd_settings = {"steps": cfg.approx_gd_steps, "lr": cfg.approx_gd_lr, "init_std": cfg.approx_gd_init_std}
    for kind, source in sources.items():
        real = truth_pdf[kind](x)
        mean, cov = (0.0, 1.0) if kind == "Gaussian" else (float(BIMODAL.moments()[0][0]), float(BIMODAL.moments()[1][0, 0]))
        res.functional_floor[kind] = float(metrics.total_variation_density(metrics.gaussian_pdf_1d(x, mean, cov), real, dx))
        res.tv[kind] = {}
        for M in cfg.approx_samples:
            h = run_generations(GaussianFamily(1), source, Replace(), generations=cfg.approx_generations,
                                samples=M, chains=cfg.approx_chains, seed=cfg.seed, desc=f"{kind}, M={M}")
            pdf = metrics.gaussian_pdf_1d(x, h["mean"][..., 0], h["cov"][..., 0, 0])
            res.tv[kind][M] = metrics.total_variation_density(pdf, real, dx)
    # the learning procedure: a new model, trained for a fixed budget of gradient steps, every generation
    real = truth_pdf["Gaussian"](x)
    gd = GradientDescentGaussian(steps=cfg.approx_gd_steps, lr=cfg.approx_gd_lr, init_std=cfg.approx_gd_init_std)
    res.tv["gradient descent"] = {}
    mean, var = np.zeros(1), np.ones(1)  # unlimited data: each fit sees its predecessor's exact distribution
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
                            chains=cfg.approx_chains, seed=cfg.seed, desc=f"gradient descent, M={M}")
        res.gd_variance[M] = h["cov"][..., 0, 0]
        pdf = metrics.gaussian_pdf_1d(x, h["mean"][..., 0], h["cov"][..., 0, 0])
        res.tv["gradient descent"][M] = metrics.total_variation_density(pdf, real, dx)
    return res


# ------------------------------------------------------------------ Zipf tail cutting
@dataclass
class ZipfResult:
    exponent: float
    outcomes: int
    train_sizes: np.ndarray  # (n_T,)
    errors: dict[str, np.ndarray]  # "real" or "k=..." -> (n_T, chains) unseen real mass
    theory: dict[str, np.ndarray]  # same keys -> (n_T,) expected error
    plateaus: dict[str, float]  # "k=..." -> sum of p_i beyond k
    sd_bound: dict[str, np.ndarray] = field(default_factory=dict)  # same keys -> (n_T,) bound on one chain's sd


def zipf_tail_cut(cfg: DistributionsConfig) -> ZipfResult:
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
        for i in progress(range(T.size), desc=f"Zipf, {key}"):
            counts = family.sample(params, int(T[i]), generation_rng(cfg.seed, i, "synthetic"))
            err[i] = metrics.unseen_mass(p, counts.counts)
        res.errors[key] = err
        res.theory[key] = zipf_theory.tail_cut_error(T, k, cfg.zipf_exponent, cfg.zipf_outcomes)
        res.sd_bound[key] = zipf_theory.tail_cut_sd_bound(T, k, cfg.zipf_exponent, cfg.zipf_outcomes)
        if k is not None:
            res.plateaus[key] = zipf_theory.plateau(k, cfg.zipf_exponent, cfg.zipf_outcomes)
    return res


# ------------------------------------------------------------------------ claims
Z = 5.0  # standard errors allowed between a simulated mean and its closed form (P(fail) < 1e-6)


def _se(values) -> float:
    values = np.asarray(values, float)
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("inf")


def sandwich_claims(sand: SandwichResult) -> list[Claim]:
    """What the chapter says about the sandwich chains, checked on their numbers."""
    plain = sand.probs["plain"]
    G, C = plain.shape[0] - 1, plain.shape[1]
    rare = sand.names.index("marmite")
    q = float(sand.true_probs[rare])
    out = []
    first = {k: float(metrics.surviving(v[0]).mean()) for k, v in sand.probs.items()}
    last = {k: float(metrics.surviving(v[-1]).mean()) for k, v in sand.probs.items()}
    out.append(claim("The number of distinct answers falls under every decoding",
                     all(last[k] < first[k] for k in first),
                     "; ".join(f"{k}: {first[k]:.2f} -> {last[k]:.2f}" for k in first)))
    checks = []
    for g in sorted({min(10, G), min(50, G), G}):
        sim, th = float((plain[g, :, rare] > 0).mean()), float(sand.theory_survival[g, rare])
        checks.append((g, sim, th, abs(sim - th) <= Z * np.sqrt(max(th * (1 - th), 1.0 / C) / C)))
    out.append(claim("The simulated survival of marmite follows the exact Wright-Fisher curve "
                     f"(within {Z:g} binomial standard errors)", all(c[3] for c in checks),
                     ", ".join(f"generation {g}: {sim:.4f} vs {th:.4f}" for g, sim, th, _ in checks)))
    g = min(10, G)
    share = plain[g, :, rare]
    alive = share > 0
    if alive.sum() > 1:
        mean_share, se = float(share[alive].mean()), _se(share[alive])
        expected = q / float(sand.theory_survival[g, rare])
        out.append(claim("Where marmite survives it is over-represented, with the share q / P(alive) predicts",
                         mean_share > q and abs(mean_share - expected) <= Z * se,
                         f"generation {g}: mean share {mean_share:.4f} +- {se:.4f} in the {alive.sum()} chains "
                         f"where it survives, q / P(alive) = {expected:.4f}, q = {q:g}"))
    g = min(10, G)
    at_g = {k: float(metrics.surviving(v[g]).mean()) for k, v in sand.probs.items()}
    others = [k for k in at_g if k != "plain"]
    out.append(claim("Decoding that favours likely answers loses them faster than plain sampling",
                     all(at_g[k] < at_g["plain"] for k in others),
                     f"answers left at generation {g}: " + ", ".join(f"{k} {v:.2f}" for k, v in at_g.items())))
    return out


def gaussian_claims(gauss: GaussianResult) -> list[Claim]:
    """What the chapter says about the refitted Gaussian, checked on its numbers."""
    e = gauss.estimators["unbiased"]
    th = gaussian_theory(gauss, "unbiased")
    G, M = int(gauss.generations[-1]), gauss.samples
    var = e["var"]
    out = []
    below = float((var[-1] < 1.0).mean())
    out.append(claim("Almost every chain's variance collapses: the median falls below a tenth of the real "
                     "variance and most chains end below it",
                     np.median(var[-1]) < 0.1 and below > 0.75,
                     f"median variance {np.median(var[-1]):.3g} at generation {G}; {below:.1%} of the chains "
                     "below the real variance 1"))
    logv = np.log(var[-1])
    out.append(claim(f"The mean of log sigma^2 follows its closed form (within {Z:g} standard errors)",
                     abs(logv.mean() - th["log_var"][-1]) <= Z * _se(logv),
                     f"{logv.mean():.3f} +- {_se(logv):.3f} vs {th['log_var'][-1]:.3f} at generation {G}"))
    early = min(G, max(1, M // 2 - 1))  # n = g + 1 = M/2 fits: the spread of sigma_g^2 is still moderate
    checks = {
        "variance": (var[early], th["var"][early]),
        "mean drift": (e["mean"][early] ** 2, th["mean_drift"][early]),
        "W2^2": (gauss.w2_squared("unbiased")[early], th["w2_squared"][early]),
    }
    out.append(claim(f"While the chains are few generations old, the averages over the chains agree with the "
                     f"closed forms (within {Z:g} standard errors)",
                     all(abs(v.mean() - t) <= Z * _se(v) for v, t in checks.values()),
                     f"generation {early}: " + "; ".join(f"{k} {v.mean():.3f} +- {_se(v):.3f} vs {t:.3f}"
                                                         for k, (v, t) in checks.items())))
    late = {
        "variance": (var[-1].mean(), th["var"][-1]),
        "mean drift": ((e["mean"][-1] ** 2).mean(), th["mean_drift"][-1]),
        "W2^2": (gauss.w2_squared("unbiased")[-1].mean(), th["w2_squared"][-1]),
    }
    out.append(claim("At the last generation the averages of the variance, the drift of the mean and W2^2 "
                     "lie below their expectations, which rare wide chains carry",
                     all(v < t for v, t in late.values()),
                     f"generation {G}: " + "; ".join(f"{k} {v:.3g} vs {t:.3g}" for k, (v, t) in late.items())))
    w2 = gauss.w2_squared("unbiased").mean(axis=1)
    out.append(claim("The mean W2^2 distance to the truth grows to many times one fit's",
                     w2[G // 2] > 10 * w2[0] and w2[-1] > 10 * w2[0],
                     f"generations 0, {G // 2}, {G}: {w2[0]:.3f}, {w2[G // 2]:.3f}, {w2[-1]:.3f}"))
    med = {k: float(np.median(v["var"][-1])) for k, v in gauss.estimators.items()}
    out.append(claim("The maximum-likelihood estimator collapses faster than the unbiased one",
                     med["mle"] < med["unbiased"],
                     f"median variance at generation {G}: mle {med['mle']:.3g}, unbiased {med['unbiased']:.3g}"))
    return out


def approximation_claims(approx: ApproximationResult) -> list[Claim]:
    """What the chapter says about the three sources of error, checked on the run."""
    Ms = sorted(approx.samples)
    G = int(approx.generations[-1])
    gauss, bim, gd = approx.tv["Gaussian"], approx.tv["bimodal"], approx.tv["gradient descent"]
    fin = {M: float(gauss[M][-1].mean()) for M in Ms}
    start = {M: float(gauss[M][0].mean()) for M in Ms}
    out = [
        claim("Statistical error: on Gaussian data the error grows with the generations, more slowly for larger M",
              all(fin[M] > start[M] for M in Ms) and all(fin[a] > fin[b] for a, b in zip(Ms, Ms[1:])),
              "mean TV at generation 0 -> " + f"{G}: " + ", ".join(f"M={M}: {start[M]:.3f} -> {fin[M]:.3f}" for M in Ms)),
    ]
    floor = approx.functional_floor["bimodal"]
    first = {M: float(bim[M][0].mean()) for M in Ms}
    out.append(claim("Expressivity error: on bimodal data the first fit already lands at the floor of the best "
                     "single Gaussian, for the largest M within 0.02, and far above the Gaussian-data error for "
                     "every M",
                     abs(first[Ms[-1]] - floor) < 0.02 and all(first[M] > 2 * start[M] for M in Ms),
                     f"floor {floor:.3f}; first fit " + ", ".join(f"M={M}: {first[M]:.3f}" for M in Ms)))
    unl = gd[approx.UNLIMITED].mean(axis=1)
    out.append(claim("Functional approximation error: with unlimited data the gradient-descent fit starts almost "
                     "exact, and its error grows generation after generation",
                     unl[0] < 0.01 and unl[-1] > 10 * unl[0] and np.all(np.diff(unl) >= -1e-12),
                     f"TV with unlimited data {unl[0]:.4f} at generation 0 -> {unl[-1]:.4f} at generation {G}"))
    M = Ms[-1]
    out.append(claim("With finite data the learning procedure's error adds to the statistical error",
                     gd[M][-1].mean() > gauss[M][-1].mean(),
                     f"M={M}, generation {G}: gradient descent {gd[M][-1].mean():.3f}, exact fit {gauss[M][-1].mean():.3f}"))
    return out


def zipf_claims(zipf: ZipfResult) -> list[Claim]:
    """What the chapter says about the cut Zipf tails, checked on the run."""
    real = zipf.errors["real"].mean(axis=1)
    out = [claim("With real data the error keeps falling as a power law",
                 bool(np.all(np.diff(real) < 0)) and real[-1] < 0.1 * real[0],
                 f"{real[0]:.2e} at T={zipf.train_sizes[0]:,} -> {real[-1]:.2e} at T={zipf.train_sizes[-1]:,}")]
    for key, plateau in zipf.plateaus.items():
        err = zipf.errors[key].mean(axis=1)
        reached = zipf.theory[key][-1] < 1.02 * plateau
        if not reached:  # the cut-off mass does not dominate yet at the largest T: nothing to claim
            continue
        out.append(claim(f"With the tail cut at {key} the error stops at the plateau, above the real-data error",
                         abs(err[-1] / plateau - 1) < 0.05 and err[-1] > 2 * real[-1],
                         f"{err[-1]:.3e} at T={zipf.train_sizes[-1]:,}, plateau {plateau:.3e}, real data {real[-1]:.2e}"))
    checks = []
    for key, err in zipf.errors.items():  # tolerance: Z times a bound on the standard error over the chains
        m, th = err.mean(axis=1), zipf.theory[key]
        checks.append(bool(np.all(np.abs(m - th) <= Z * zipf.sd_bound[key] / np.sqrt(err.shape[1]) + 1e-12)))
    out.append(claim(f"The simulated errors follow the exact expectation at every T (within {Z:g} standard errors)",
                     all(checks), f"{len(zipf.errors)} curves x {zipf.train_sizes.size} sizes, {zipf.errors['real'].shape[1]} chains"))
    return out


def claims(sand: SandwichResult, gauss: GaussianResult, approx: ApproximationResult, zipf: ZipfResult) -> list[Claim]:
    """Every statement the chapter makes about its run, with the numbers behind it."""
    return sandwich_claims(sand) + gaussian_claims(gauss) + approximation_claims(approx) + zipf_claims(zipf)


# ---------------------------------------------------------------------- whole chapter
def summary(sand: SandwichResult, gauss: GaussianResult, approx: ApproximationResult, zipf: ZipfResult) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    G = sand.probs["plain"].shape[0] - 1
    rare = sand.names.index("marmite")
    plain = sand.probs["plain"]
    alive = plain[:, :, rare] > 0
    out = {
        "sandwich": {
            "generations": G,
            "samples": sand.samples,
            "mean_surviving_final": {k: float(metrics.surviving(v[-1]).mean()) for k, v in sand.probs.items()},
            "theory_surviving_final": float(sand.theory_surviving[-1]),
            "rare_alive_fraction_final": float(alive[-1].mean()),
            "theory_rare_alive_final": float(sand.theory_survival[-1, rare]),
            "entropy_bits_final": {k: float(metrics.entropy(v[-1]).mean()) for k, v in sand.probs.items()},
        },
        "gaussian": {},
        "approximation": {
            "functional_floor_tv": approx.functional_floor,
            "mean_tv_final": {k: {str(M): float(v[-1].mean()) for M, v in d.items()}
                              for k, d in approx.tv.items() if k != "gradient descent"},
        },
        "gradient_descent": {
            "settings": approx.gd_settings,
            "mean_tv_final": {("unlimited" if M == approx.UNLIMITED else str(M)): float(v[-1].mean())
                              for M, v in approx.tv["gradient descent"].items()},
        },
        "zipf": {
            "train_sizes": zipf.train_sizes.tolist(),
            "mean_error": {k: v.mean(axis=1).tolist() for k, v in zipf.errors.items()},
            "theory_error": {k: v.tolist() for k, v in zipf.theory.items()},
            "plateaus": zipf.plateaus,
        },
    }
    for est, e in gauss.estimators.items():
        th = gaussian_theory(gauss, est)
        out["gaussian"][est] = {
            "generations": int(gauss.generations[-1]),
            "samples": gauss.samples,
            "mean_var_final": float(e["var"][-1].mean()),
            "median_var_final": float(np.median(e["var"][-1])),
            "theory_var_final": float(th["var"][-1]),
            "theory_median_var_final_approx": float(np.exp(th["log_var"][-1])),
            "mean_w2_squared_final": float(gauss.w2_squared(est)[-1].mean()),
            "theory_w2_squared_final": float(th["w2_squared"][-1]),
        }
    out["claims"] = [c.as_dict() for c in claims(sand, gauss, approx, zipf)]
    return out


def run_all(cfg: DistributionsConfig):
    """Every experiment of the chapter: (sandwich, gaussian, approximation, zipf)."""
    return sandwich(cfg), gaussian(cfg), approximation_errors(cfg), zipf_tail_cut(cfg)


