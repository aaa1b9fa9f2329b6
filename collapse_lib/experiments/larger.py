"""Chapter 6, larger models: does a bigger model amplify or soften model collapse?

Follows Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025):

- **Random projections** (their section 2.2 and Fig. 1): models f(x) = v.(S x) of width m
  on n training points, of which a fraction p carry labels from a shifted model of quality
  c2, swept through m/n = 1 (the interpolation threshold). Test errors on clean real labels
  come from many seeds; the exact formulas (conditional on the projections) of
  :mod:`collapse_lib.theory.random_features` are drawn over the simulation below the
  threshold, and the minimum-norm limit m -> infinity is computed beside it.
- **Networks of growing width**: two-layer ReLU networks on real MNIST
  digits (the 5,000 offline ones, ``mnist5k``, in ``quick`` and ``cpu``; MNIST in ``gpu``/``paper``) whose
  training labels are, for a fraction p of the images, the predictions of a weaker teacher network trained on
  few real images, and the same networks scaling in the number of training images.
- **Language models of several sizes**: small GPT-2 models trained from scratch on real
  text mixed with text sampled from a generator, test loss against training tokens (the
  chapter-4 machinery of :mod:`collapse_lib.lm`). The paper's MNIST and GPT-2 sections are
  as secondary summaries report them; they are not checked against the paper here.
- **The same model as n grows** (:mod:`collapse_lib.experiments.larger_sweep`): the cost of
  the synthetic labels at fixed widths and for the infinitely wide model, exact formulas
  over sample sizes n and a simulation at one of them: the floor that more data does not
  remove, and the variance that it does.

The experiment is a single round of training on a mix (the paper's setting), not a loop
over generations, so it does not go through the generational engine. :func:`run` computes
the parts; the paper's numbers, :func:`summary` and :func:`claims` are in
:mod:`collapse_lib.experiments.larger_claims`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import protocol
from ..families.mlp_width import WidthSweepMLP  # noqa: F401  (tests patch its fit through this module)
from ..families.random_features import RandomFeatureRidge, blas_threads, check_widths, draw_problems, min_norm_limit
from ..progress import progress
from ..protocol import Run
from ..runtime import cpu_threads
from ..validation import _fail, check_choice, check_fraction, check_int, check_nonnegative, check_positive
from .larger_claims import claims  # noqa: F401  (the chapter protocol's names)
from .larger_summary import PAPER, comparison_rows, comparison_table, regime_table, summary  # noqa: F401
from .larger_lm import LanguageModelResult, LanguageModelsConfig, run_language_models  # noqa: F401
from .larger_nets import (NetworkResult, SampleResult, SamplesConfig, run_networks, run_samples,  # noqa: F401
                          teacher_labels)
from .larger_sweep import FloorResult, floor_widths, run_floor
from .larger_theory import theory_curves, theory_forms, theory_from_forms  # noqa: F401  (theory_curves: exported)

#: The format of the run stores' pieces; raising it keeps a rerun from reading older ones.
STORE_FORMAT = 1

#: CPU threads (BLAS for the random projections, torch for language models on the CPU)
#: unless the run names others: the batched products are many small matrices, which one
#: thread does fastest, and several threads fighting for a laptop's two cores are slower.
THREADS = 1

#: Resumable: finished chunks of seeds, trained networks and language models are stored.
RESUMABLE = True


@dataclass(frozen=True)
class Config:
    """Sizes of the chapter's experiments (one instance per profile)."""

    seed: int = 0  # every random stream derives from it
    # ---- random projections
    n: int = 500  # training points (the paper's Fig. 1: 500)
    d: int = 1500  # input dimension; d >= n so that width m = n interpolates
    spectrum: float = 1.5  # covariance eigenvalues ~ k^-spectrum (0: isotropic)
    noise: float = 0.1  # label noise variance sigma^2 (real and synthetic labels)
    signal: float = 1.0  # w^T Sigma w, the variance of the clean real label
    ridge: float = 0.0  # 0: minimum-norm least squares on the last layer
    ratios: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0,
                                 5.0, 10.0)  # model widths m / n (not m = n: there the mean error is infinite)
    fractions: tuple[float, ...] = (0.1, 0.5)  # synthetic fractions p
    qualities: tuple[float, ...] = (0.01, 0.1, 1.0)  # synthetic qualities c2 (0 is perfect)
    seeds: int = 200  # independent problems (data, model, projections)
    chunk: int = 20  # problems per batched fit (memory: chunk * m_max * d floats)
    theory_seeds: int = 50  # draws of S and w that the theory curves average over
    # ---- the same model as the sample size grows (the floor), at fixed widths
    floor_ratios: tuple[float, ...] = (0.1, 0.5, 0.9)  # fixed widths m = ratio x n, kept as the sample size grows
    floor_sizes: tuple[float, ...] = (1, 2, 5, 10, 30, 100, 300, 1000, 3000, 10_000, 100_000)  # sizes, x n (exact)
    floor_simulated: tuple[float, ...] = (5.0,)  # sizes, x n, where the sweep is also simulated (none: ())
    floor_seeds: int = 10  # problems simulated at each of those sizes
    # ---- networks of growing width
    dataset: str = "mnist"  # "mnist" (downloads once), "mnist5k" (5,000 real MNIST digits, offline) or "digits"
    widths: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)  # hidden units
    net_fractions: tuple[float, ...] = (0.0, 0.2, 0.5)  # share of training labels from the teacher
    net_seeds: int = 3  # seeds per (fraction, width)
    net_train: int = 10_000  # real training images of every network
    teacher_train: int = 500  # real images the teacher is trained on (disjoint from net_train)
    teacher_width: int = 32  # hidden units of the teacher
    steps: int = 400  # full-batch Adam steps per network
    lr: float = 1e-2  # Adam learning rate
    # ---- networks scaling in samples (the same teacher)
    samples: SamplesConfig = SamplesConfig()  # training-set sizes, shares p2 and two widths
    # ---- language models of several sizes (the gpu and paper profiles)
    language_models: LanguageModelsConfig = LanguageModelsConfig()  # the GPT-2 size sweep

    def __post_init__(self):
        for name in ("n", "d", "seeds", "chunk", "theory_seeds", "net_seeds", "net_train", "teacher_train",
                     "teacher_width", "steps", "floor_seeds"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_nonnegative("spectrum", self.spectrum)
        check_nonnegative("noise", self.noise)
        check_positive("signal", self.signal)
        check_nonnegative("ridge", self.ridge)
        check_positive("lr", self.lr)
        check_choice("dataset", self.dataset, ("digits", "mnist", "mnist5k"))
        if not self.ratios:
            _fail("ratios", self.ratios, "name at least one width ratio m/n > 0")
        for r in self.ratios:
            if not float(r) > 0:
                _fail("ratios", self.ratios, "every width ratio m/n must be > 0")
        check_widths(self.model_widths)
        if self.ridge == 0 and self.d < self.n and max(self.ratios) * self.n > self.d:
            _fail("d", self.d, f"minimum-norm fits above width d need d >= n={self.n}; raise d or set ridge > 0")
        if not self.fractions:
            _fail("fractions", self.fractions, "name at least one synthetic fraction p in [0, 1]")
        for p in self.fractions:
            check_fraction("fractions", p)
        if not self.qualities:
            _fail("qualities", self.qualities, "name at least one synthetic quality c2 >= 0")
        for c2 in self.qualities:
            check_nonnegative("qualities", c2)
        for name in ("floor_ratios", "floor_sizes"):
            values = getattr(self, name)
            if not values or any(not float(v) > 0 for v in values):
                _fail(name, values, "name at least one number > 0 (a multiple of n)")
        if max(self.floor_ratios) * self.n > self.d:
            _fail("floor_ratios", self.floor_ratios, f"the fixed widths ratio x n must be <= d={self.d}")
        for v in self.floor_simulated:
            if not float(v) * self.n >= max(self.floor_ratios) * self.n + 2:
                _fail("floor_simulated", self.floor_simulated,
                      f"every simulated size (x n) must leave n >= the largest fixed width + 2, that is be >= "
                      f"{max(self.floor_ratios) + 2 / self.n:g}")
        check_widths(self.widths)
        if not self.net_fractions:
            _fail("net_fractions", self.net_fractions, "name at least one fraction p in [0, 1]")
        for p in self.net_fractions:
            check_fraction("net_fractions", p)

    @property
    def model_widths(self) -> np.ndarray:
        """The widths m of the random-projection models (distinct, increasing)."""
        return np.unique(np.maximum(1, np.round(np.asarray(self.ratios, float) * self.n)).astype(int))

    @property
    def label_sets(self) -> list[tuple[float, float]]:
        """(p, c2) of every label set: real labels only first, then each fraction x quality."""
        return [(0.0, 0.0)] + [(float(p), float(c2)) for p in self.fractions for c2 in self.qualities]


#: The language-model sweep where it does not run: the offline text, so that no download starts.
NO_LANGUAGE_MODELS = LanguageModelsConfig(run=False, text="stdlib")

PROFILES = {
    # two CPU cores: 100 training points, 200 seeds; networks from 2 to 64 units on 500 real MNIST digits
    "quick": Config(n=100, d=300, seeds=200, chunk=50, theory_seeds=40, dataset="mnist5k",
                    widths=(2, 4, 8, 16, 32, 64), net_seeds=2, net_train=500, teacher_train=100, steps=100,
                    samples=SamplesConfig(sizes=(60, 120, 250, 500, 1000), widths=(8, 64), seeds=2, epochs=10, min_steps=100),
                    language_models=LanguageModelsConfig(
                        text="stdlib", max_chars=150_000, sizes=((1, 16), (1, 32), (2, 32)), seeds=2, tokens=8192,
                        first=1024, checkpoints=4, generator=(1, 32), generator_epochs=1, test_blocks=32,
                        block_size=32, vocab=512, lr=3e-3, warmup=5, batch=8)),
    # a laptop without GPU: random projections with the paper's n = 500 (its Fig. 1); networks from 2 to
    # 128 units on 1,000 of the 4,000 real MNIST training digits (the teacher on 100 others), 4 seeds so that
    # the seed-to-seed part of a cost's standard error has three degrees of freedom
    "cpu": Config(d=1000, ratios=(0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0),
                  seeds=50, chunk=10, theory_seeds=20, dataset="mnist5k", widths=(2, 4, 8, 16, 32, 64, 128),
                  net_seeds=4, net_train=1000, teacher_train=100, steps=150,
                  samples=SamplesConfig(sizes=(60, 120, 250, 500, 1000, 2000, 3900), widths=(8, 256)),
                  language_models=LanguageModelsConfig(
                      text="stdlib", sizes=((1, 32), (2, 64), (3, 96)), seeds=2, tokens=196_608, first=2048,
                      checkpoints=8, generator=(2, 64), generator_epochs=2, test_blocks=128, block_size=64,
                      vocab=512, lr=3e-3, warmup=20, batch=8)),
    # one GPU (a free Colab T4): the paper's n = 500 (NumPy on the CPU), MNIST networks on the GPU
    "gpu": Config(d=1000, seeds=100, chunk=10),
    # more seeds, wider networks, more images
    "paper": Config(samples=SamplesConfig(sizes=(100, 300, 1000, 3000, 10_000, 30_000, 59_000), widths=(8, 2048),
                                          seeds=5),
                    d=2000, seeds=500, theory_seeds=100, widths=(8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                    net_seeds=5, net_train=20_000, teacher_train=1000, steps=600),
}


# ------------------------------------------------------------------ random projections
@dataclass
class ProjectionResult:
    n: int
    widths: np.ndarray  # (K,) model widths m
    label_sets: list  # [(p, c2)], the first is real labels only
    errors: np.ndarray  # (seeds, L, K) test error on clean real labels
    limit: np.ndarray  # (seeds, L) the m -> infinity limit (minimum-norm least squares in x)
    theory_widths: np.ndarray  # (T,) widths m <= n - 2 where the formulas are drawn
    theory: np.ndarray  # (L, T) exact expected test error, averaged over draws of S and w
    loaded_chunks: int = 0  # chunks of seeds read from the run store instead of computed
    theory_stderr: np.ndarray | None = None  # (L, T) standard error of `theory` over its draws of S and w
    theory_cost: np.ndarray | None = None  # (L, T, D) exact cost of the synthetic labels per draw of S, w, delta
    theory_split: dict | None = None  # bias, variance, unseen: (L, T) the mean parts of that cost
    d: int = 0  # input dimension (widths m >= d span every linear function of x)

    @property
    def ratios(self) -> np.ndarray:
        return self.widths / self.n

    @cached_property
    def mean(self) -> np.ndarray:
        """(L, K): the test error, mean over seeds."""
        return self.errors.mean(0)

    @cached_property
    def stderr(self) -> np.ndarray:
        """(L, K): the standard error of :attr:`mean`."""
        return self.errors.std(0, ddof=1) / np.sqrt(len(self.errors))

    @cached_property
    def excess(self) -> np.ndarray:
        """(seeds, L, K): test error minus the same seed's real-only error (L = 0 is 0)."""
        return self.errors - self.errors[:, :1]

    @cached_property
    def excess_mean(self) -> np.ndarray:
        """(L, K): the cost of the synthetic labels, mean over seeds."""
        return self.excess.mean(0)

    @cached_property
    def excess_stderr(self) -> np.ndarray:
        """(L, K): the standard error of :attr:`excess_mean` (inf with one seed)."""
        if len(self.excess) < 2:
            return np.full_like(self.excess_mean, np.inf)
        return self.excess.std(0, ddof=1) / np.sqrt(len(self.excess))

    @cached_property
    def threshold_index(self) -> int:
        """Index of the width closest to the interpolation threshold m = n."""
        return int(np.argmin(np.abs(np.log(self.ratios))))

    @cached_property
    def below(self) -> np.ndarray:
        """Indices of the widths below the threshold (m < n), smallest first."""
        return np.flatnonzero(self.ratios < 1)

    @cached_property
    def above(self) -> np.ndarray:
        """Indices of the widths above the threshold (m > n), smallest first."""
        return np.flatnonzero(self.ratios > 1)

    @cached_property
    def limit_cost(self) -> tuple[np.ndarray, np.ndarray]:
        """(L,) twice: the infinitely wide model's cost of the synthetic labels at this n
        (error minus the same seed's real-only error), mean over seeds, and its standard error."""
        c = self.limit - self.limit[:, :1]
        se = c.std(0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else np.full(c.shape[1], np.inf)
        return c.mean(0), se

    @cached_property
    def theory_cost_at_widths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The exact cost at the simulated widths below the threshold that the formula covers:
        (indices k into :attr:`widths`, (L, len(k), D) cost per draw, (L, len(k)) its mean)."""
        if self.theory_cost is None:
            return np.array([], int), np.empty((len(self.label_sets), 0, 0)), np.empty((len(self.label_sets), 0))
        ks = [k for k, m in enumerate(self.widths) if m in self.theory_widths]
        js = [int(np.flatnonzero(self.theory_widths == self.widths[k])[0]) for k in ks]
        draws = self.theory_cost[:, js]
        return np.asarray(ks, int), draws, draws.mean(-1)

    @cached_property
    def split_rows(self) -> list[dict]:
        """For every synthetic label set and every simulated width below the threshold that
        the formula covers: the simulated cost (mean and standard error over seeds) beside
        the exact one and its parts ``bias``, ``variance`` and ``unseen`` (means over the
        theory draws; :func:`collapse_lib.theory.random_features.cost_split`)."""
        if self.theory_split is None:
            return []
        rows = []
        for l, (p, c2) in enumerate(self.label_sets):
            if p == 0:
                continue
            for k, m in enumerate(self.widths):
                hit = np.flatnonzero(self.theory_widths == m)
                if not hit.size or m >= self.n:
                    continue
                j = int(hit[0])
                parts = {key: float(self.theory_split[key][l, j]) for key in ("bias", "variance", "unseen")}
                rows.append({"p": p, "c2": c2, "ratio": float(self.ratios[k]), "cost": float(self.excess_mean[l, k]),
                             "cost_se": float(self.excess_stderr[l, k]), "exact": sum(parts.values()), **parts})
        return rows


def run_projections(cfg: Config, run: Run | None = None) -> ProjectionResult:
    """The random-projection sweep: every seed, label set and width, batched in chunks of
    seeds; each finished chunk is stored, so an interrupted sweep resumes."""
    run = run or Run()
    threads = run.threads_or(THREADS)
    widths, sets = cfg.model_widths, cfg.label_sets
    store = protocol.store(cfg, "projections", run, version=STORE_FORMAT)

    def chunk(first):
        P = draw_problems(seeds=min(cfg.chunk, cfg.seeds - first), n=cfg.n, d=cfg.d, m_max=int(widths[-1]),
                          spectrum=cfg.spectrum, noise=cfg.noise, signal=cfg.signal, seed=cfg.seed, first=first)
        Y = np.stack([P.labels(p, c2) for p, c2 in sets], 1)
        est = RandomFeatureRidge(widths, cfg.ridge, threads).fit(P.X, Y, P.S)
        out = {"errors": P.test_error(est.coef_), "limit": np.full((len(P.X), len(sets)), np.nan)}
        if cfg.d >= cfg.n:
            with blas_threads(threads):
                out["limit"] = P.test_error(min_norm_limit(P.X, Y))
        return out

    errors, limit, loaded = [], [], 0
    starts = range(0, cfg.seeds, cfg.chunk)
    for i, first in enumerate(progress(starts, total=len(starts), desc="random projections", enabled=run.progress)):
        arrays, was_loaded = protocol.cached(store, i, lambda: chunk(first))
        errors.append(arrays["errors"])
        limit.append(arrays["limit"])
        loaded += was_loaded
    t_widths = np.unique(np.concatenate([np.linspace(1, cfg.n - 2, 24).round(), widths[widths <= cfg.n - 2]]))
    t_widths = t_widths[t_widths >= 1].astype(int)
    th = theory_from_forms(cfg, sets, t_widths, theory_forms(cfg, t_widths, threads))
    return ProjectionResult(cfg.n, widths, sets, np.concatenate(errors), np.concatenate(limit), t_widths, th["mean"],
                            loaded, th["stderr"], th["cost"], {k: th[k] for k in ("bias", "variance", "unseen")},
                            cfg.d)


# ------------------------------------------------------------------ the whole chapter
@dataclass
class Result:
    """The chapter's run: its parts (the language models None where the profile does not
    run them)."""

    config: Config
    projections: ProjectionResult
    networks: NetworkResult
    language_models: LanguageModelResult | None = None
    samples: SampleResult | None = None
    floor: FloorResult | None = None


def run(cfg: Config, run: Run | None = None) -> Result:
    """The random projections, the same model as n grows, the networks of growing width and
    in samples and, where ``language_models.run``, the GPT-2 sizes (Dohmatob et al. 2025,
    sections 2.2, 4.1, 4.2)."""
    run_ = run or Run()
    proj = run_projections(cfg, run_)
    threads = run_.threads_or(THREADS)
    floor = run_floor(cfg, theory_forms(cfg, floor_widths(cfg), threads), run_, threads)
    nets = run_networks(cfg, run_)
    samples = run_samples(cfg, run_)
    lms = run_language_models(cfg, run_) if cfg.language_models.run else None
    return Result(cfg, proj, nets, lms, samples, floor)

