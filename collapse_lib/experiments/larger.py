"""Chapter 6, larger models: does a bigger model amplify or soften model collapse?

Follows Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025):

- **Random projections** (their section 2.2 and Fig. 1): models f(x) = v.(S x) of width m
  on n training points, of which a fraction p carry labels from a shifted model of quality
  c2, swept through m/n = 1 (the interpolation threshold). Test errors on clean real labels
  come from many seeds; the exact formulas (conditional on the projections) of
  :mod:`collapse_lib.theory.random_features` are drawn over the simulation below the
  threshold, and the minimum-norm limit m -> infinity is computed beside it.
- **Networks of growing width** (their section 4.1): two-layer ReLU networks on real MNIST
  digits (the 5,000 offline ones, ``mnist5k``, in ``quick`` and ``cpu``; MNIST in ``gpu``/``paper``) whose training labels are, for a fraction
  p of the images, the predictions of a weaker teacher network trained on few real images.
- **Language models of several sizes** (their section 4.2, ``gpu``/``paper`` only): small
  GPT-2 models trained on real text and on a mix with synthetic text, test loss against
  size (the chapter-4 machinery of :mod:`collapse_lib.lm`).

The experiment is a single round of training on a mix (the paper's setting), not a loop
over generations, so it does not go through the generational engine.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..claims import Claim, claim
from ..families.mlp_width import WidthSweepMLP
from ..families.random_features import RandomFeatureRidge, blas_threads, check_widths, draw_problems, min_norm_limit
from ..profiles import pick
from ..progress import progress
from ..runtime import cache_dir
from ..settings import config_dict
from ..store import RunStore
from ..theory import random_features as theory
from ..validation import _fail, check_choice, check_fraction, check_int, check_nonnegative, check_positive

#: Bumped whenever the computation changes, so that stored results are not reused.
CHECKPOINT_FORMAT = 1

#: What the paper reports (qualitative claims and the setting of its Fig. 1).
PAPER = {
    "pareto_n": 500,  # training points of the random-projection Pareto diagram (Fig. 1)
    "smallest_fraction_arxiv": 0.01,  # "as little as 1 %" of synthetic data (arXiv v2)
    "smallest_fraction_iclr": 0.001,  # "as little as 1 per 1000" (ICLR version)
    "claims": (
        "below the interpolation threshold m = n, larger models amplify model collapse",
        "beyond the threshold, larger models may mitigate collapse but do not remove it",
        "with a constant fraction p of synthetic data the test error has a floor (about p^2 c2 for the "
        "classical linear model) that more data does not remove",
    ),
}


@dataclass(frozen=True)
class LargerConfig:
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
    threads: int | None = None  # BLAS threads (None: all; 1 is fastest for small matrices on 2 cores)
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
    lm_run: bool = True  # whether the language-model sweep runs in this profile
    lm_text: str = "wikitext2"  # "wikitext2" (downloads once) or "pydoc" (ships with Python)
    lm_sizes: tuple[tuple[int, int], ...] = ((2, 64), (4, 128), (6, 256), (8, 384))  # (layers, width) per GPT-2
    lm_fraction: float = 0.5  # share of synthetic blocks in the mixed training set
    lm_blocks: int = 16_000  # training blocks of every model (the generator gets as many others)
    lm_test_blocks: int = 2000  # real test blocks
    lm_block_size: int = 64  # tokens per block; synthetic blocks continue its first half
    lm_vocab: int = 8192  # BPE vocabulary trained on the training text
    lm_epochs: int = 3  # passes of every model over its training blocks
    lm_lr: float = 1e-3  # peak learning rate (cosine schedule)
    lm_batch: int = 64  # blocks per step
    checkpoint: bool = True  # keep finished pieces (seed chunks, trained models' scores) on disk; reruns resume
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present): where networks and language models train

    def __post_init__(self):
        for name in ("n", "d", "seeds", "chunk", "theory_seeds", "net_seeds", "net_train", "teacher_train",
                     "teacher_width", "steps"):
            check_int(name, getattr(self, name), minimum=1)
        if self.threads is not None:
            check_int("threads", self.threads, minimum=1)
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
        check_choice("lm_text", self.lm_text, ("pydoc", "wikitext2"))
        if not self.lm_sizes:
            _fail("lm_sizes", self.lm_sizes, "name at least one (layers, width) pair")
        for size in self.lm_sizes:
            if len(size) != 2 or size[1] % 16:
                _fail("lm_sizes", self.lm_sizes, "every size must be (layers >= 1, width a multiple of 16)")
            check_int("lm_sizes", size[0], minimum=1)
            check_int("lm_sizes", size[1], minimum=16)
        check_fraction("lm_fraction", self.lm_fraction)
        for name in ("lm_blocks", "lm_test_blocks", "lm_epochs", "lm_batch"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("lm_block_size", self.lm_block_size, minimum=4)
        check_int("lm_vocab", self.lm_vocab, minimum=300)
        check_positive("lm_lr", self.lm_lr)
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))

    @property
    def model_widths(self) -> np.ndarray:
        """The widths m of the random-projection models (distinct, increasing)."""
        return np.unique(np.maximum(1, np.round(np.asarray(self.ratios, float) * self.n)).astype(int))

    @property
    def label_sets(self) -> list[tuple[float, float]]:
        """(p, c2) of every label set: real labels only first, then each fraction x quality."""
        return [(0.0, 0.0)] + [(float(p), float(c2)) for p in self.fractions for c2 in self.qualities]


PROFILE_CONFIGS = {
    # two CPU cores: 100 training points, 200 seeds; networks from 2 to 64 units on 500 real MNIST digits
    "quick": LargerConfig(n=100, d=300, seeds=200, chunk=50, theory_seeds=40, threads=1, dataset="mnist5k",
                          widths=(2, 4, 8, 16, 32, 64), net_seeds=2, net_train=500, teacher_train=100, steps=100,
                          lm_run=False, lm_text="pydoc"),
    # a laptop without GPU: random projections with the paper's n = 500 (its Fig. 1); networks from 2 to
    # 128 units on 1,000 of the 4,000 real MNIST training digits (the teacher on 100 others)
    "cpu": LargerConfig(d=1000, ratios=(0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0),
                        seeds=50, chunk=10, theory_seeds=20, threads=1, dataset="mnist5k",
                        widths=(2, 4, 8, 16, 32, 64, 128), net_seeds=2, net_train=1000, teacher_train=100,
                        steps=150, lm_run=False, lm_text="pydoc"),
    # one GPU (a free Colab T4): the paper's n = 500 (NumPy on the CPU), MNIST networks on the GPU
    "gpu": LargerConfig(d=1000, seeds=100, chunk=10),
    # more seeds, wider networks, more images
    "paper": LargerConfig(d=2000, seeds=500, theory_seeds=100, widths=(8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                          net_seeds=5, net_train=20_000, teacher_train=1000, steps=600),
}


def config(profile: str | None = None, **overrides) -> LargerConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


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

    def mean(self) -> np.ndarray:
        return self.errors.mean(0)

    def stderr(self) -> np.ndarray:
        return self.errors.std(0, ddof=1) / np.sqrt(len(self.errors))

    def excess(self) -> np.ndarray:
        """(seeds, L, K): test error minus the same seed's real-only error (L = 0 is 0)."""
        return self.errors - self.errors[:, :1]


def theory_curves(cfg: LargerConfig, label_sets, widths, *, stderr: bool = False):
    """The formulas of :mod:`collapse_lib.theory.random_features` at each width m <= n-2,
    averaged over ``cfg.theory_seeds`` draws of S, w and the shift direction (with
    ``stderr``: also the standard error of that average, (mean, stderr))."""
    P = draw_problems(seeds=cfg.theory_seeds, n=1, d=cfg.d, m_max=int(max(widths)), spectrum=cfg.spectrum,
                      noise=cfg.noise, signal=cfg.signal, seed=cfg.seed + 10_000)
    V = np.stack([P.w, P.u], 1)
    out = np.empty((len(label_sets), len(widths)))
    err = np.full_like(out, np.nan)
    with blas_threads(cfg.threads):
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


def run_store(cfg: LargerConfig, part: str, root=None) -> RunStore | None:
    """The directory where the finished pieces of one part of the chapter ("projections",
    "networks", "language_models") are kept (under the cache unless ``root``); None when
    ``cfg.checkpoint`` is off. Piece i is written atomically as soon as it is finished,
    so a rerun after an interruption computes only the pieces that were missing."""
    if not cfg.checkpoint:
        return None
    ident = {"experiment": "larger", "part": part, "format": CHECKPOINT_FORMAT, **config_dict(cfg)}
    ident.pop("device")  # a run started on one device resumes on another
    key = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]
    base = cache_dir("runs", "larger") if root is None else Path(root)
    return RunStore(base / f"{part}-{key}", ident)


def _piece(store: RunStore | None, index: int, compute) -> tuple[dict, bool]:
    """Piece ``index`` of a run: loaded if stored, else computed (a dict of arrays) and
    stored. Returns (arrays, whether it was loaded)."""
    if store is not None and store.path(index).exists():
        return store.load(index), True
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    if store is not None:
        store.save(index, arrays)
    return arrays, False


def run_projections(cfg: LargerConfig, *, root=None) -> ProjectionResult:
    """The random-projection sweep: every seed, label set and width, batched in chunks of
    seeds; each finished chunk is stored, so an interrupted sweep resumes."""
    widths, sets = cfg.model_widths, cfg.label_sets
    store = run_store(cfg, "projections", root)

    def chunk(first):
        P = draw_problems(seeds=min(cfg.chunk, cfg.seeds - first), n=cfg.n, d=cfg.d, m_max=int(widths[-1]),
                          spectrum=cfg.spectrum, noise=cfg.noise, signal=cfg.signal, seed=cfg.seed, first=first)
        Y = np.stack([P.labels(p, c2) for p, c2 in sets], 1)
        est = RandomFeatureRidge(widths, cfg.ridge, cfg.threads).fit(P.X, Y, P.S)
        out = {"errors": P.test_error(est.coef_), "limit": np.full((len(P.X), len(sets)), np.nan)}
        if cfg.d >= cfg.n:
            with blas_threads(cfg.threads):
                out["limit"] = P.test_error(min_norm_limit(P.X, Y))
        return out

    errors, limit, loaded = [], [], 0
    starts = range(0, cfg.seeds, cfg.chunk)
    for i, first in enumerate(progress(starts, total=len(starts), desc="random projections")):
        arrays, was_loaded = _piece(store, i, lambda: chunk(first))
        errors.append(arrays["errors"])
        limit.append(arrays["limit"])
        loaded += was_loaded
    t_widths = np.unique(np.concatenate([np.linspace(1, cfg.n - 2, 24).round(), widths[widths <= cfg.n - 2]]))
    t_widths = t_widths[t_widths >= 1].astype(int)
    curve, curve_se = theory_curves(cfg, sets, t_widths, stderr=True)
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


def teacher_labels(cfg: LargerConfig, data):
    """Train the teacher on ``teacher_train`` real images; returns (teacher, pool), the
    indices of the training images left for the students."""
    order = np.random.default_rng([cfg.seed, 7]).permutation(len(data.train_images))
    need = cfg.teacher_train + cfg.net_train
    if need > len(order):
        _fail("net_train", cfg.net_train, f"teacher_train + net_train must be <= the {len(order)} training images "
                                          f"of {data.name}")
    t_idx = order[:cfg.teacher_train]
    teacher = WidthSweepMLP([cfg.teacher_width], steps=cfg.steps, lr=cfg.lr, seed=cfg.seed + 99, device=cfg.device)
    teacher.fit(data.train_images[t_idx] / 255.0, data.train_labels[t_idx][None])
    return teacher, order[cfg.teacher_train:]


def run_networks(cfg: LargerConfig, data=None, *, root=None) -> NetworkResult:
    """Train every (seed, fraction, width) network on mixed labels; score on real labels.
    All networks train in one batched run, stored when finished (a rerun only loads it)."""
    from ..data.images import load_images

    data = data if data is not None else load_images(cfg.dataset)
    shape = (cfg.net_seeds, len(cfg.net_fractions), len(cfg.widths))

    def compute():
        teacher, pool = teacher_labels(cfg, data)
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
        net = WidthSweepMLP(cfg.widths, steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, device=cfg.device)
        net.fit(np.stack(images), np.stack(labels))
        return {"errors": 1 - net.score(data.test_images / 255.0, data.test_labels).reshape(shape),
                "train_accuracy": net.train_accuracy_.reshape(shape),
                "teacher_error": 1 - teacher.score(data.test_images / 255.0, data.test_labels)[0, 0],
                "disagreement": np.mean(disagree)}

    a, _ = _piece(run_store(cfg, "networks", root), 0, compute)
    return NetworkResult(data.describe(), np.asarray(cfg.widths), np.asarray(cfg.net_fractions, float), a["errors"],
                         a["train_accuracy"], float(a["teacher_error"]), float(a["disagreement"]), data.pixels,
                         len(data.test_images), cfg.net_train)


# ------------------------------------------------------------------ language models of several sizes
@dataclass
class LanguageModelResult:
    data: str  # description of the text and blocks
    sizes: list  # [(layers, width)]
    parameters: np.ndarray  # (S,) parameters of each size
    fractions: np.ndarray  # (2,) share of synthetic blocks: 0 and cfg.lm_fraction
    test_loss: np.ndarray  # (2, S) mean next-token loss (nats) on real test blocks
    generator_loss: float  # the generator's own test loss


def _gpt2(cfg: LargerConfig, tok, layers: int, width: int, seed: int):
    from ..lm.models import TinyGPTConfig, tiny_gpt2

    shape = TinyGPTConfig(n_embd=width, n_layer=layers, n_head=max(1, width // 32), n_positions=cfg.lm_block_size)
    return tiny_gpt2(len(tok), shape, eos_token_id=tok.eos_token_id, seed=seed)


def run_language_models(cfg: LargerConfig, *, root=None, progress_bar: bool | None = None) -> LanguageModelResult:
    """GPT-2 models of each size in ``lm_sizes``, trained from scratch on real blocks only
    and on a mix with a share ``lm_fraction`` of synthetic blocks, scored on real test
    blocks (Dohmatob et al. 2025, section 4.2, at a small scale). The synthetic blocks are
    the first half of real blocks continued greedily (repetition penalty 1.2) by a
    generator: the smallest GPT-2, trained on other real blocks. The synthetic blocks and
    every trained model's score are stored as they are finished (reruns resume)."""
    from ..data.text import load_text, make_blocks, subsample_blocks, tokenize_documents
    from ..runtime import cpu_threads
    from ..lm.generate import generate_continuations
    from ..lm.models import count_parameters
    from ..lm.perplexity import token_nll
    from ..lm.tokenizer import train_bpe
    from ..lm.train import fine_tune
    from ..runtime import device

    import torch

    corpus = load_text(cfg.lm_text)
    tok = train_bpe(corpus.pretrain + corpus.train, cfg.lm_vocab)
    L = cfg.lm_block_size
    pool = make_blocks(tokenize_documents(tok, corpus.pretrain + corpus.train, tok.eos_token_id), L)
    test = subsample_blocks(make_blocks(tokenize_documents(tok, corpus.test, tok.eos_token_id), L), cfg.lm_test_blocks,
                            seed=cfg.seed + 1)
    if 2 * cfg.lm_blocks > len(pool):
        _fail("lm_blocks", cfg.lm_blocks, f"twice it must be <= the {len(pool)} training blocks of {corpus.name}")
    order = np.random.default_rng([cfg.seed, 9]).permutation(len(pool))
    real, held = pool[order[:cfg.lm_blocks]], pool[order[cfg.lm_blocks:2 * cfg.lm_blocks]]
    dev = torch.device(cfg.device) if cfg.device else device()
    threads = None if dev.type == "cuda" else 1
    fit = dict(epochs=cfg.lm_epochs, batch_size=cfg.lm_batch, lr=cfg.lm_lr, min_lr=cfg.lm_lr / 10, seed=cfg.seed)
    store = run_store(cfg, "language_models", root)
    n_syn = int(round(cfg.lm_fraction * cfg.lm_blocks))

    def synthetic():
        gen = _gpt2(cfg, tok, *cfg.lm_sizes[0], seed=cfg.seed + 1).to(dev)
        fine_tune(gen, held, progress=progress_bar, desc="training the generator", **fit)
        prompts = real[:n_syn, : L // 2]
        cont = generate_continuations(gen, prompts, num_beams=1, max_new_tokens=L - L // 2, repetition_penalty=1.2,
                                      progress=progress_bar, desc="generating synthetic blocks")
        mixed = real.copy()
        mixed[:n_syn] = np.concatenate([prompts, cont], axis=1)  # the same prompts, synthetic continuations
        return {"mixed": mixed, "generator_loss": token_nll(gen, test).mean()}

    def train(j, k):
        model = _gpt2(cfg, tok, *cfg.lm_sizes[k], seed=cfg.seed + 2 + k).to(dev)
        fine_tune(model, real if j == 0 else mixed, progress=False, **fit)
        return {"loss": token_nll(model, test).mean(), "parameters": count_parameters(model)}

    with cpu_threads(threads):
        first, _ = _piece(store, 0, synthetic)
        mixed = first["mixed"]
        losses = np.empty((2, len(cfg.lm_sizes)))
        params = np.empty(len(cfg.lm_sizes), dtype=np.int64)
        runs = [(j, k) for k in range(len(cfg.lm_sizes)) for j in range(2)]
        for i, (j, k) in enumerate(progress(runs, desc="language models")):
            a, _ = _piece(store, 1 + i, lambda: train(j, k))
            losses[j, k], params[k] = float(a["loss"]), int(a["parameters"])
    gen_loss = float(first["generator_loss"])
    data = (f"{corpus.name}: {cfg.lm_blocks:,} training blocks of {L} tokens per model, {len(test):,} test blocks, "
            f"BPE vocabulary {len(tok):,}")
    return LanguageModelResult(data, [tuple(s) for s in cfg.lm_sizes], params,
                               np.array([0.0, n_syn / cfg.lm_blocks]), losses, gen_loss)


def summary_language_models(res: LanguageModelResult) -> dict:
    return {"data": res.data, "sizes": [list(s) for s in res.sizes], "parameters": res.parameters.tolist(),
            "fractions": res.fractions.tolist(), "test_loss": res.test_loss.tolist(),
            "generator_test_loss": res.generator_loss}


# ------------------------------------------------------------------ numbers for the comparison
def threshold_index(res: ProjectionResult) -> int:
    """Index of the width closest to the interpolation threshold m = n."""
    return int(np.argmin(np.abs(np.log(res.ratios))))


def cost_ratios(res: ProjectionResult) -> tuple[np.ndarray, np.ndarray]:
    """Per label set, how the mean cost of the synthetic labels (error minus real-only
    error) changes with width: (cost just below m = n) / (cost at the smallest width), > 1
    when a larger model amplifies collapse below the threshold, and (cost at the largest
    width) / (cost just above m = n), < 1 when a larger model softens it above. A ratio
    is NaN where its denominator is not two standard errors above zero (a cost lost in
    the seed-to-seed noise)."""
    excess = res.excess()
    exc = excess.mean(0)
    se = excess.std(0, ddof=1) / np.sqrt(len(excess)) if len(excess) > 1 else np.full_like(exc, np.inf)
    below, above = np.flatnonzero(res.ratios < 1), np.flatnonzero(res.ratios > 1)
    if not below.size or not above.size:
        raise ValueError(f"ratios={res.ratios.tolist()!r} is not allowed here: it needs widths below and above m = n")

    def ratio(top, bottom):
        ok = exc[:, bottom] > 2 * se[:, bottom]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok, exc[:, top] / exc[:, bottom], np.nan)

    return ratio(below[-1], below[0]), ratio(above[-1], above[0])


def summary_projections(res: ProjectionResult) -> dict:
    mean, se, exc = res.mean(), res.stderr(), res.excess().mean(0)
    k_star = threshold_index(res)
    amplify, soften = cost_ratios(res)
    rows = []
    for l, (p, c2) in enumerate(res.label_sets):
        k_best = int(np.argmin(mean[l]))
        rows.append({
            "p": p, "c2": c2, "floor_p2c2": theory.floor(p, c2),
            "error_mean": mean[l].tolist(), "error_stderr": se[l].tolist(),
            "excess_over_real_mean": exc[l].tolist(),
            "best_ratio": float(res.ratios[k_best]), "best_error": float(mean[l, k_best]),
            "error_at_threshold": float(mean[l, k_star]),
            "limit_infinite_width": float(np.nanmean(res.limit[:, l])),
            "excess_at_limit": float(np.nanmean(res.limit[:, l] - res.limit[:, 0])),
            "amplification_below_threshold": float(amplify[l]) if p > 0 and np.isfinite(amplify[l]) else None,
            "softening_above_threshold": float(soften[l]) if p > 0 and np.isfinite(soften[l]) else None,
        })
    return {"n": res.n, "ratios": res.ratios.tolist(), "label_sets": rows,
            "claims": [c.as_dict() for c in claims_projections(res)]}


def summary_networks(res: NetworkResult) -> dict:
    m = res.errors.mean(0)
    return {"data": res.data, "widths": res.widths.tolist(), "fractions": res.fractions.tolist(),
            "test_error_mean": m.tolist(), "test_error_by_seed": res.errors.tolist(),
            "train_accuracy_mean": res.train_accuracy.mean(0).tolist(), "teacher_error": res.teacher_error,
            "teacher_label_disagreement": res.disagreement, "parameters": res.parameters.tolist(),
            "threshold_width": res.threshold_width, "claims": [c.as_dict() for c in claims_networks(res)]}


# ------------------------------------------------------------------ claims the page makes
#: Standard errors a claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0

#: Training accuracy above which a network counts as fitting (interpolating) its labels.
FITS = 0.99


def _paired(values: np.ndarray) -> tuple[float, float]:
    """Mean over seeds and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.inf


def claims_theory(res: ProjectionResult) -> list[Claim]:
    """The exact formula below the threshold against the simulation."""
    if res.theory_stderr is None:
        return []
    worst, where = 0.0, ""
    for k, m in enumerate(res.widths):
        if m > res.n - 2 or m not in res.theory_widths:
            continue
        j = int(np.flatnonzero(res.theory_widths == m)[0])
        for l in range(len(res.label_sets)):
            se = np.hypot(res.stderr()[l, k], res.theory_stderr[l, j])
            gap = abs(res.mean()[l, k] - res.theory[l, j]) / se
            if gap > worst:
                worst, where = gap, f"m = {m}, (p, c^2) = {res.label_sets[l]}"
    return [claim(f"below the threshold the simulated mean error agrees with the exact formula (within "
                  f"{Z_CLAIM:g} standard errors of both averages)", worst < Z_CLAIM,
                  f"largest gap {worst:.1f} standard errors, at {where}")]


def claims_projections(res: ProjectionResult) -> list[Claim]:
    """What the chapter says about the random-projection sweep, checked on its numbers."""
    excess = res.excess()
    below, above = np.flatnonzero(res.ratios < 1), np.flatnonzero(res.ratios > 1)
    grow, soften, floor_pos, floor_above = [], [], [], []
    for l, (p, c2) in enumerate(res.label_sets):
        if p == 0:
            continue
        name = f"p={p:g}, c2={c2:g}"
        grow.append((name, *_paired(excess[:, l, below[-1]] - excess[:, l, below[0]])))
        soften.append((name, *_paired(excess[:, l, above[0]] - excess[:, l, above[-1]])))
        lim = res.limit[:, l] - res.limit[:, 0]
        floor_pos.append((name, *_paired(lim)))
        floor_above.append((name, float(np.mean(lim)), theory.floor(p, c2)))
    fmt = lambda rows: "; ".join(f"{n}: {m:+.3g} (se {s:.2g})" for n, m, s in rows)  # noqa: E731
    worst = max(c2 for p, c2 in res.label_sets if p > 0)
    names = [f"p={p:g}, c2={c2:g}" for p, c2 in res.label_sets if p > 0]

    def clear(rows):  # clear for the worst synthetic data, nowhere contradicted beyond the noise
        return all(m > -Z_CLAIM * s for _, m, s in rows) and all(
            m > Z_CLAIM * s for (n, m, s) in rows if n.endswith(f"c2={worst:g}"))

    assert len(names) == len(grow)
    return claims_theory(res) + [
        claim(f"below the threshold a larger model amplifies collapse: the cost of the synthetic labels grows from "
              f"the smallest width (m/n = {res.ratios[below[0]]:g}) to just below m = n "
              f"(m/n = {res.ratios[below[-1]]:g}), by more than {Z_CLAIM:g} standard errors for the worst "
              f"synthetic data (c^2 = {worst:g}), and for no p or c^2 does it fall beyond the seed noise",
              clear(grow), "increase of the cost, mean over seeds: " + fmt(grow)),
        claim(f"above the threshold a larger model softens it: the cost falls from just above m = n "
              f"(m/n = {res.ratios[above[0]]:g}) to the widest model (m/n = {res.ratios[above[-1]]:g}), in the "
              f"same sense", clear(soften), "decrease of the cost: " + fmt(soften)),
        claim(f"it does not remove it: the cost of the infinitely wide model is above zero for every p and c^2 "
              f"(by more than {Z_CLAIM:g} standard errors)",
              all(m > Z_CLAIM * s for _, m, s in floor_pos), "cost at infinite width: " + fmt(floor_pos)),
        claim("for every p and c^2 the cost is largest for a model next to the threshold (0.85 <= m/n <= 1.15)",
              all(abs(res.ratios[int(np.argmax(excess[:, l].mean(0)))] - 1) <= 0.15
                  for l, (p, _) in enumerate(res.label_sets) if p > 0),
              "widest gap at m/n = " + ", ".join(
                  f"{res.ratios[int(np.argmax(excess[:, l].mean(0)))]:g} ({p:g}, {c2:g})"
                  for l, (p, c2) in enumerate(res.label_sets) if p > 0)),
        claim("the floor of the interpolating model is higher than the classical p^2 c^2",
              all(m > f for _, m, f in floor_above),
              "; ".join(f"{n}: {m:.3g} vs {f:.3g}" for n, m, f in floor_above)),
    ]


def claims_networks(res: NetworkResult) -> list[Claim]:
    """What the chapter says about the networks of growing width."""
    acc = res.train_accuracy.mean(0)  # (P, K)
    err = res.errors.mean(0)
    seeds = res.errors.shape[0]
    se = np.sqrt(err * (1 - err) / (max(res.test_images, 1) * seeds))  # binomial noise of the test set, per mean
    lo, hi = 0, int(np.argmax(res.fractions))
    gap = err[hi, -1] - err[lo, -1]
    gap_se = float(np.hypot(se[hi, -1], se[lo, -1]))
    return [
        claim(f"the widest networks fit every training label, wrong ones included (training accuracy at least "
              f"{FITS:g} for every share)", np.all(acc[:, -1] >= FITS),
              "width " + str(int(res.widths[-1])) + ": " + ", ".join(
                  f"p = {p:g}: {a:.3f}" for p, a in zip(res.fractions, acc[:, -1]))),
        claim("the narrowest networks do not (the sweep starts below the interpolation threshold)",
              np.all(acc[:, 0] < FITS),
              "width " + str(int(res.widths[0])) + ": " + ", ".join(
                  f"p = {p:g}: {a:.3f}" for p, a in zip(res.fractions, acc[:, 0]))),
        claim(f"the real-test error the widest networks settle at rises with the share of teacher labels (by more "
              f"than {Z_CLAIM:g} standard errors of the test set)", gap > Z_CLAIM * gap_se,
              f"width {int(res.widths[-1])}: p = {res.fractions[lo]:g}: {err[lo, -1]:.3f}, "
              f"p = {res.fractions[hi]:g}: {err[hi, -1]:.3f} (standard error of the gap {gap_se:.3f})"),
    ]


def claims(proj: ProjectionResult, nets: NetworkResult | None = None) -> list[Claim]:
    """Every claim the chapter makes about its own run."""
    return claims_projections(proj) + (claims_networks(nets) if nets is not None else [])

