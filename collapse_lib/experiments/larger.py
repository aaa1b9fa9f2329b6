"""Chapter 6, larger models: does a bigger model amplify or soften model collapse?

Follows Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025):

- **Random projections** (their section 2.2 and Fig. 1): models f(x) = v.(S x) of width m
  on n training points, of which a fraction p carry labels from a shifted model of quality
  c2, swept through m/n = 1 (the interpolation threshold). Test errors on clean real labels
  come from many seeds; the exact formulas (conditional on the projections) of
  :mod:`collapse_lib.theory.random_features` are drawn over the simulation below the
  threshold, and the minimum-norm limit m -> infinity is computed beside it.
- **Networks of growing width** (their section 4.1): two-layer ReLU networks on real MNIST
  digits (the 5,000 offline ones, ``mnist5k``, in ``quick`` and ``cpu``; MNIST in ``gpu``/``paper``) whose
  training labels are, for a fraction p of the images, the predictions of a weaker teacher network trained on
  few real images.
- **Language models of several sizes** (their section 4.2, ``gpu``/``paper`` only): small
  GPT-2 models trained on real text and on a mix with synthetic text, test loss against
  size (the chapter-4 machinery of :mod:`collapse_lib.lm`).

The experiment is a single round of training on a mix (the paper's setting), not a loop
over generations, so it does not go through the generational engine. :func:`run` computes
the three parts; the paper's numbers, :func:`summary` and :func:`claims` are in
:mod:`collapse_lib.experiments.larger_claims`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import protocol
from ..data.images import load_images
from ..data.text import load_text, make_blocks, subsample_blocks, tokenize_documents
from ..families.mlp_width import WidthSweepMLP
from ..families.random_features import RandomFeatureRidge, blas_threads, check_widths, draw_problems, min_norm_limit
from ..lm import TinyGPTConfig, count_parameters, fine_tune, generate_continuations, tiny_gpt2, token_nll, train_bpe
from ..progress import progress
from ..protocol import Run
from ..runtime import cpu_threads
from ..theory import random_features as theory
from ..validation import _fail, check_choice, check_fraction, check_int, check_nonnegative, check_positive
from .larger_claims import PAPER, claims, summary  # noqa: F401  (the chapter protocol's names)

#: The format of the run stores' pieces; raising it keeps a rerun from reading older ones.
STORE_FORMAT = 1

#: CPU threads (BLAS for the random projections, torch for language models on the CPU)
#: unless the run names others: the batched products are many small matrices, which one
#: thread does fastest, and several threads fighting for a laptop's two cores are slower.
THREADS = 1

#: Resumable: finished chunks of seeds, trained networks and language models are stored.
RESUMABLE = True


@dataclass(frozen=True)
class LanguageModelsConfig:
    """The sweep of GPT-2 sizes (Dohmatob et al. 2025, section 4.2, at a small scale)."""

    run: bool = True  # whether the language-model sweep runs in this profile
    text: str = "wikitext2"  # "wikitext2" (downloads once) or "pydoc" (ships with Python)
    sizes: tuple[tuple[int, int], ...] = ((2, 64), (4, 128), (6, 256), (8, 384))  # (layers, width) per GPT-2
    fraction: float = 0.5  # share of synthetic blocks in the mixed training set
    blocks: int = 16_000  # training blocks of every model (the generator gets as many others)
    test_blocks: int = 2000  # real test blocks
    block_size: int = 64  # tokens per block; synthetic blocks continue its first half
    vocab: int = 8192  # BPE vocabulary trained on the training text
    epochs: int = 3  # passes of every model over its training blocks
    lr: float = 1e-3  # peak learning rate (cosine schedule)
    batch: int = 64  # blocks per step

    def __post_init__(self):
        check_choice("language_models.text", self.text, ("pydoc", "wikitext2"))
        if not self.sizes:
            _fail("language_models.sizes", self.sizes, "name at least one (layers, width) pair")
        for size in self.sizes:
            if len(size) != 2 or size[1] % 16:
                _fail("language_models.sizes", self.sizes, "every size must be (layers >= 1, width a multiple of 16)")
            check_int("language_models.sizes", size[0], minimum=1)
            check_int("language_models.sizes", size[1], minimum=16)
        check_fraction("language_models.fraction", self.fraction)
        for name in ("blocks", "test_blocks", "epochs", "batch"):
            check_int(f"language_models.{name}", getattr(self, name), minimum=1)
        check_int("language_models.block_size", self.block_size, minimum=4)
        check_int("language_models.vocab", self.vocab, minimum=300)
        check_positive("language_models.lr", self.lr)


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
    # ---- language models of several sizes (the gpu and paper profiles)
    language_models: LanguageModelsConfig = LanguageModelsConfig()  # the GPT-2 size sweep

    def __post_init__(self):
        for name in ("n", "d", "seeds", "chunk", "theory_seeds", "net_seeds", "net_train", "teacher_train",
                     "teacher_width", "steps"):
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
NO_LANGUAGE_MODELS = LanguageModelsConfig(run=False, text="pydoc")

PROFILES = {
    # two CPU cores: 100 training points, 200 seeds; networks from 2 to 64 units on 500 real MNIST digits
    "quick": Config(n=100, d=300, seeds=200, chunk=50, theory_seeds=40, dataset="mnist5k",
                    widths=(2, 4, 8, 16, 32, 64), net_seeds=2, net_train=500, teacher_train=100, steps=100,
                    language_models=NO_LANGUAGE_MODELS),
    # a laptop without GPU: random projections with the paper's n = 500 (its Fig. 1); networks from 2 to
    # 128 units on 1,000 of the 4,000 real MNIST training digits (the teacher on 100 others)
    "cpu": Config(d=1000, ratios=(0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0),
                  seeds=50, chunk=10, theory_seeds=20, dataset="mnist5k", widths=(2, 4, 8, 16, 32, 64, 128),
                  net_seeds=2, net_train=1000, teacher_train=100, steps=150, language_models=NO_LANGUAGE_MODELS),
    # one GPU (a free Colab T4): the paper's n = 500 (NumPy on the CPU), MNIST networks on the GPU
    "gpu": Config(d=1000, seeds=100, chunk=10),
    # more seeds, wider networks, more images
    "paper": Config(d=2000, seeds=500, theory_seeds=100, widths=(8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
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
    def cost_ratios(self) -> tuple[np.ndarray, np.ndarray]:
        """Per label set, how the mean cost of the synthetic labels (error minus real-only
        error) changes with width: (cost just below m = n) / (cost at the smallest width), > 1
        when a larger model amplifies collapse below the threshold, and (cost at the largest
        width) / (cost just above m = n), < 1 when a larger model softens it above. A ratio
        is NaN where its denominator is not two standard errors above zero (a cost lost in
        the seed-to-seed noise)."""
        exc, se = self.excess_mean, self.excess_stderr
        below, above = np.flatnonzero(self.ratios < 1), np.flatnonzero(self.ratios > 1)
        if not below.size or not above.size:
            raise ValueError(f"ratios={self.ratios.tolist()!r} is not allowed here: it needs widths below and "
                             f"above m = n")

        def ratio(top, bottom):
            ok = exc[:, bottom] > 2 * se[:, bottom]
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(ok, exc[:, top] / exc[:, bottom], np.nan)

        return ratio(below[-1], below[0]), ratio(above[-1], above[0])


def theory_curves(cfg: Config, label_sets, widths, *, stderr: bool = False, threads: int | None = THREADS):
    """The formulas of :mod:`collapse_lib.theory.random_features` at each width m <= n-2,
    averaged over ``cfg.theory_seeds`` draws of S, w and the shift direction (with
    ``stderr``: also the standard error of that average, (mean, stderr))."""
    P = draw_problems(seeds=cfg.theory_seeds, n=1, d=cfg.d, m_max=int(max(widths)), spectrum=cfg.spectrum,
                      noise=cfg.noise, signal=cfg.signal, seed=cfg.seed + 10_000)
    V = np.stack([P.w, P.u], 1)
    out = np.empty((len(label_sets), len(widths)))
    err = np.full_like(out, np.nan)
    with blas_threads(threads):
        forms = theory.residual_forms_nested(P.S, V, P.spectrum, widths)
    for k, m in enumerate(widths):
        R = forms[k]
        for l, (p, c2) in enumerate(label_sets):
            res_w, res_u, cross = R[:, 0, 0], R[:, 1, 1], R[:, 0, 1]
            res_shift = res_w + c2 * res_u + 2 * np.sqrt(c2) * cross
            draws = theory.under_error_mixed(int(m), cfg.n, cfg.noise, p, c2, res_w, c2 * res_u, res_shift)
            out[l, k] = draws.mean()
            if len(draws) > 1:
                err[l, k] = draws.std(ddof=1) / np.sqrt(len(draws))
    return (out, err) if stderr else out


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
    curve, curve_se = theory_curves(cfg, sets, t_widths, stderr=True, threads=threads)
    return ProjectionResult(cfg.n, widths, sets, np.concatenate(errors), np.concatenate(limit), t_widths, curve,
                            loaded, curve_se)


# ------------------------------------------------------------------ networks of growing width
@dataclass
class NetworkResult:
    data: str  # description of the data set
    widths: np.ndarray  # (K,)
    fractions: np.ndarray  # (P,) share of teacher labels
    errors: np.ndarray  # (seeds, P, K) test error on real labels
    train_accuracy: np.ndarray  # (seeds, P, K) accuracy on the (mixed) training labels
    teacher_error: float  # the teacher's test error on real labels
    disagreement: float  # share of the student images whose teacher label is wrong
    pixels: int = 0  # inputs of every network
    test_images: int = 0  # real test images every network is scored on
    train_images: int = 0  # training images of every network

    @property
    def parameters(self) -> np.ndarray:
        """Parameters of each width's network, (pixels + 1) w + (w + 1) 10 for 10 classes."""
        return (self.pixels + 1) * self.widths + (self.widths + 1) * 10

    @property
    def threshold_width(self) -> float:
        """The width whose parameter count equals the number of training labels times the
        classes, n * 10: the order of the interpolation threshold of a 10-class network."""
        return (10 * self.train_images - 10) / (self.pixels + 11)

    @cached_property
    def error_mean(self) -> np.ndarray:
        """(P, K): the real-test error, mean over seeds."""
        return self.errors.mean(0)

    @cached_property
    def train_accuracy_mean(self) -> np.ndarray:
        """(P, K): the accuracy on the training labels, mean over seeds."""
        return self.train_accuracy.mean(0)


def teacher_labels(cfg: Config, data, device: str | None = None):
    """Train the teacher on ``teacher_train`` real images; returns (teacher, pool), the
    indices of the training images left for the students."""
    order = np.random.default_rng([cfg.seed, 7]).permutation(len(data.train_images))
    need = cfg.teacher_train + cfg.net_train
    if need > len(order):
        _fail("net_train", cfg.net_train, f"teacher_train + net_train must be <= the {len(order)} training images "
                                          f"of {data.name}")
    t_idx = order[:cfg.teacher_train]
    teacher = WidthSweepMLP([cfg.teacher_width], steps=cfg.steps, lr=cfg.lr, seed=cfg.seed + 99, device=device)
    teacher.fit(data.train_images[t_idx] / 255.0, data.train_labels[t_idx][None])
    return teacher, order[cfg.teacher_train:]


def run_networks(cfg: Config, run: Run | None = None, data=None) -> NetworkResult:
    """Train every (seed, fraction, width) network on mixed labels; score on real labels.
    All networks train in one batched run, stored when finished (a rerun only loads it)."""
    run = run or Run()
    data = data if data is not None else load_images(cfg.dataset)
    shape = (cfg.net_seeds, len(cfg.net_fractions), len(cfg.widths))

    def compute():
        teacher, pool = teacher_labels(cfg, data, run.device)
        images, labels, disagree = [], [], []
        for s in range(cfg.net_seeds):
            rng = np.random.default_rng([cfg.seed, 8, s])
            idx = rng.choice(pool, cfg.net_train, replace=False)
            x = data.train_images[idx] / 255.0
            fake = teacher.predict(x)[0, 0]
            disagree.append(np.mean(fake != data.train_labels[idx]))
            order = rng.permutation(cfg.net_train)
            for p in cfg.net_fractions:
                y = data.train_labels[idx].copy()
                chosen = order[:int(round(p * cfg.net_train))]
                y[chosen] = fake[chosen]
                images.append(x)
                labels.append(y)
        net = WidthSweepMLP(cfg.widths, steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, device=run.device)
        net.fit(np.stack(images), np.stack(labels))
        return {"errors": 1 - net.score(data.test_images / 255.0, data.test_labels).reshape(shape),
                "train_accuracy": net.train_accuracy_.reshape(shape),
                "teacher_error": 1 - teacher.score(data.test_images / 255.0, data.test_labels)[0, 0],
                "disagreement": np.mean(disagree)}

    with cpu_threads(run.threads):
        a, _ = protocol.cached(protocol.store(cfg, "networks", run, version=STORE_FORMAT), 0, compute)
    return NetworkResult(data.describe(), np.asarray(cfg.widths), np.asarray(cfg.net_fractions, float), a["errors"],
                         a["train_accuracy"], float(a["teacher_error"]), float(a["disagreement"]), data.pixels,
                         len(data.test_images), cfg.net_train)


# ------------------------------------------------------------------ language models of several sizes
@dataclass
class LanguageModelResult:
    data: str  # description of the text and blocks
    sizes: list  # [(layers, width)]
    parameters: np.ndarray  # (S,) parameters of each size
    fractions: np.ndarray  # (2,) share of synthetic blocks: 0 and language_models.fraction
    test_loss: np.ndarray  # (2, S) mean next-token loss (nats) on real test blocks
    generator_loss: float  # the generator's own test loss


def _gpt2(lm: LanguageModelsConfig, tok, layers: int, width: int, seed: int):
    shape = TinyGPTConfig(n_embd=width, n_layer=layers, n_head=max(1, width // 32), n_positions=lm.block_size)
    return tiny_gpt2(len(tok), shape, eos_token_id=tok.eos_token_id, seed=seed)


def run_language_models(cfg: Config, run: Run | None = None) -> LanguageModelResult:
    """GPT-2 models of each size in ``language_models.sizes``, trained from scratch on real
    blocks only and on a mix with a share ``language_models.fraction`` of synthetic blocks,
    scored on real test blocks (Dohmatob et al. 2025, section 4.2, at a small scale). The
    synthetic blocks are the first half of real blocks continued greedily (repetition
    penalty 1.2) by a generator: the smallest GPT-2, trained on other real blocks. The
    synthetic blocks and every trained model's score are stored as they are finished
    (reruns resume)."""
    run = run or Run()
    lm = cfg.language_models
    corpus = load_text(lm.text)
    tok = train_bpe(corpus.pretrain + corpus.train, lm.vocab)
    L = lm.block_size
    pool = make_blocks(tokenize_documents(tok, corpus.pretrain + corpus.train, tok.eos_token_id), L)
    test = subsample_blocks(make_blocks(tokenize_documents(tok, corpus.test, tok.eos_token_id), L), lm.test_blocks,
                            seed=cfg.seed + 1)
    if 2 * lm.blocks > len(pool):
        _fail("language_models.blocks", lm.blocks,
              f"twice it must be <= the {len(pool)} training blocks of {corpus.name}")
    order = np.random.default_rng([cfg.seed, 9]).permutation(len(pool))
    real, held = pool[order[:lm.blocks]], pool[order[lm.blocks:2 * lm.blocks]]
    dev = run.torch_device()
    fit = dict(epochs=lm.epochs, batch_size=lm.batch, lr=lm.lr, min_lr=lm.lr / 10, seed=cfg.seed)
    store = protocol.store(cfg, "language_models", run, version=STORE_FORMAT)
    n_syn = int(round(lm.fraction * lm.blocks))

    def synthetic():
        gen = _gpt2(lm, tok, *lm.sizes[0], seed=cfg.seed + 1).to(dev)
        fine_tune(gen, held, progress=run.progress, desc="training the generator", **fit)
        prompts = real[:n_syn, : L // 2]
        cont = generate_continuations(gen, prompts, num_beams=1, max_new_tokens=L - L // 2, repetition_penalty=1.2,
                                      progress=run.progress, desc="generating synthetic blocks")
        mixed = real.copy()
        mixed[:n_syn] = np.concatenate([prompts, cont], axis=1)  # the same prompts, synthetic continuations
        return {"mixed": mixed, "generator_loss": token_nll(gen, test).mean()}

    def train(j, k):
        model = _gpt2(lm, tok, *lm.sizes[k], seed=cfg.seed + 2 + k).to(dev)
        fine_tune(model, real if j == 0 else mixed, progress=False, **fit)
        return {"loss": token_nll(model, test).mean(), "parameters": count_parameters(model)}

    with cpu_threads(run.threads_or(None if dev.type == "cuda" else THREADS)):
        first, _ = protocol.cached(store, 0, synthetic)
        mixed = first["mixed"]
        losses = np.empty((2, len(lm.sizes)))
        params = np.empty(len(lm.sizes), dtype=np.int64)
        runs = [(j, k) for k in range(len(lm.sizes)) for j in range(2)]
        for i, (j, k) in enumerate(progress(runs, desc="language models", enabled=run.progress)):
            a, _ = protocol.cached(store, 1 + i, lambda: train(j, k))
            losses[j, k], params[k] = float(a["loss"]), int(a["parameters"])
    gen_loss = float(first["generator_loss"])
    data = (f"{corpus.name}: {lm.blocks:,} training blocks of {L} tokens per model, {len(test):,} test blocks, "
            f"BPE vocabulary {len(tok):,}")
    return LanguageModelResult(data, [tuple(s) for s in lm.sizes], params,
                               np.array([0.0, n_syn / lm.blocks]), losses, gen_loss)


# ------------------------------------------------------------------ the whole chapter
@dataclass
class Result:
    """The chapter's run: its three parts (the language models None where the profile does
    not run them)."""

    config: Config
    projections: ProjectionResult
    networks: NetworkResult
    language_models: LanguageModelResult | None = None


def run(cfg: Config, run: Run | None = None) -> Result:
    """The random projections, the networks of growing width and, where
    ``language_models.run``, the GPT-2 sizes (Dohmatob et al. 2025, sections 2.2, 4.1, 4.2)."""
    run_ = run or Run()
    proj = run_projections(cfg, run_)
    nets = run_networks(cfg, run_)
    lms = run_language_models(cfg, run_) if cfg.language_models.run else None
    return Result(cfg, proj, nets, lms)

