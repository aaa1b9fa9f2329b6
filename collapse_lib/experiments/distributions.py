"""Chapter 1, distributions and tails: the experiments behind every figure.

Follows Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024): the discrete case and the single Gaussian of §3
(Theorem 3.1), the statistical and functional approximation errors of §2; and the tail
cutting of Dohmatob et al., "A Tale of Tails" (ICML 2024).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .. import metrics
from ..decoding import decode
from ..engine import run_generations
from ..families import CategoricalFamily, CategoricalParams, CategoricalSource, GaussianFamily, GaussianSource
from ..families.gaussian import GaussianMixtureSource
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
    bell_samples: int = 20  # M for the "generation 0 to 9" bell curves
    bell_seeds: int = 3  # independent chains drawn side by side
    # statistical vs functional approximation error
    approx_samples: tuple[int, ...] = (30, 300, 3000)  # M values compared
    approx_chains: int = 200
    approx_generations: int = 100
    # Zipf data with the tail cut at rank k (A Tale of Tails)
    zipf_outcomes: int = 100_000  # vocabulary size
    zipf_exponent: float = 2.0  # beta in p_i ~ i^-beta
    zipf_cuts: tuple[int, ...] = (10, 100, 1000)  # ranks k of the cut
    zipf_train_sizes: tuple[int, ...] = tuple(int(x) for x in np.logspace(1, 6, 11))  # T
    zipf_chains: int = 10

    def __post_init__(self):
        for name in ("sandwich_chains", "sandwich_generations", "gaussian_chains", "gaussian_generations",
                     "bell_seeds", "approx_chains", "approx_generations", "zipf_chains"):
            check_int(name, getattr(self, name), minimum=1)
        check_sample_size("sandwich_samples", self.sandwich_samples, 1, "a survey needs an answer")
        for name in ("gaussian_samples", "bell_samples"):
            check_sample_size(name, getattr(self, name), 2, "a variance needs two samples")
        for m in self.approx_samples:
            check_sample_size("approx_samples", m, 2, "a variance needs two samples")
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


def bell_curves(cfg: DistributionsConfig, generations: int = 9):
    """Fitted (mean, var) of generations 0..9 for a few chains with small M."""
    h = run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), generations=generations,
                        samples=cfg.bell_samples, chains=cfg.bell_seeds, seed=cfg.seed + 1, progress=False)
    return h["mean"][..., 0], h["cov"][..., 0, 0]


# ------------------------------------------------- statistical vs functional error
@dataclass
class ApproximationResult:
    samples: tuple[int, ...]
    generations: np.ndarray
    tv: dict[str, dict[int, np.ndarray]]  # real data kind -> M -> (G+1, C) TV distance
    functional_floor: dict[str, float]  # TV of the best Gaussian with unlimited data


BIMODAL = GaussianMixtureSource([0.5, 0.5], [[-2.0], [2.0]], [[[0.5]], [[0.5]]])


def approximation_errors(cfg: DistributionsConfig) -> ApproximationResult:
    """Fit a Gaussian, generation after generation, to Gaussian real data (only the
    statistical error: the family contains the truth) and to bimodal real data (the
    functional error too: no Gaussian is bimodal). Distances are total variation to
    the real density."""
    sources = {"Gaussian": GaussianSource(0.0, 1.0), "bimodal": BIMODAL}
    truth_pdf = {
        "Gaussian": lambda x: metrics.gaussian_pdf_1d(x, 0.0, 1.0),
        "bimodal": BIMODAL.pdf_1d,
    }
    x = np.linspace(-8, 8, 801)
    dx = x[1] - x[0]
    res = ApproximationResult(tuple(cfg.approx_samples), np.arange(cfg.approx_generations + 1), {}, {})
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
        if k is not None:
            res.plateaus[key] = zipf_theory.plateau(k, cfg.zipf_exponent, cfg.zipf_outcomes)
    return res


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
            "mean_tv_final": {k: {str(M): float(v[-1].mean()) for M, v in d.items()} for k, d in approx.tv.items()},
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
    return out


def run_all(cfg: DistributionsConfig):
    """Every experiment of the chapter: (sandwich, gaussian, approximation, zipf)."""
    return sandwich(cfg), gaussian(cfg), approximation_errors(cfg), zipf_tail_cut(cfg)


def config_dict(cfg: DistributionsConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
