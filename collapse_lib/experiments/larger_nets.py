"""Chapter 6, larger models: two-layer networks on MNIST with labels partly from a teacher.

Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025) also run
networks on MNIST whose labels are, for a share p2 of the images, the predictions of
another network; secondary summaries report that scaling with the number of training
samples slows or plateaus as p2 grows (that section of the paper is not checked here).
Two experiments share one teacher (a small network trained on a few real images,
:func:`teacher_labels`):

- **networks of growing width** (:func:`run_networks`): one training-set size, widths from
  networks that do not fit their training labels to networks that fit all of them (the
  width where they start to, :attr:`NetworkResult.fit_width`, is read off the training
  accuracy);
- **scaling in samples** (:func:`run_samples`): one narrow width that does not fit its
  labels at the largest n and one wide width that does, training-set sizes n on a log
  scale, each size on nested subsets of the same images, so that each (width, p2) gives a
  curve of real-test error against n.

Every network's mistakes on the real test images are kept image by image, so that the
cost of the teacher labels is a paired difference on the same images (:func:`paired_gap`).

Both train every network of a sweep at once (:class:`WidthSweepMLP`) and store what they
trained in the run store (a rerun loads it; the sample sweep stores each size as it ends).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import protocol
from ..distributed import map_units
from ..data.images import load_images
from ..families.mlp_width import WidthSweepMLP
from ..families.random_features import check_widths
from ..protocol import Run
from ..runtime import cpu_threads
from ..validation import _fail, check_fraction, check_int, check_positive
from .larger_scaling import fit_spread

#: The format of the run stores' pieces; raising it keeps a rerun from reading older ones.
STORE_FORMAT = 2

#: Training accuracy above which a network counts as fitting (interpolating) its labels.
FITS = 0.99


def paired_mean(diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A difference of mistakes ``diff`` (seeds, ..., T) on the same T test images: its mean
    over seeds and images, (...), and the standard error of that mean, which adds the test
    set's noise (the seed-averaged difference per image, over images) and the seeds' (the
    image-averaged difference per seed, over seeds; not estimable from one seed)."""
    diff = np.asarray(diff, float)
    per_image = diff.mean(0)
    se = per_image.std(-1, ddof=1) / np.sqrt(per_image.shape[-1])
    if len(diff) > 1:
        se = np.hypot(se, diff.mean(-1).std(0, ddof=1) / np.sqrt(len(diff)))
    return per_image.mean(-1), se


def paired_gap(wrong: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Error at share j minus error at share 0 from per-image mistakes ``wrong`` (seeds, P,
    ..., T), paired on the same seeds and test images (:func:`paired_mean`)."""
    return paired_mean(wrong[:, j].astype(float) - wrong[:, 0])


@dataclass(frozen=True)
class SamplesConfig:
    """MNIST networks scaling in samples (after Dohmatob et al. 2025; their MNIST section is not checked here)."""

    sizes: tuple[int, ...] = (100, 300, 1000, 3000, 10_000, 30_000, 59_000)  # training-set sizes n (log-spaced)
    fractions: tuple[float, ...] = (0.0, 0.01, 0.1, 0.5)  # shares p2 of teacher labels (0: real only)
    widths: tuple[int, ...] = (8, 1024)  # hidden units: one that does not fit its labels at the largest n, one that does
    seeds: int = 3  # seeds per (size, share): each its own images, mix and initialisation
    epochs: int = 15  # passes over the training images (Adam on minibatches)
    min_steps: int = 200  # Adam steps at least, for sizes where the epochs give fewer
    batch: int = 128  # images per Adam step
    lr: float = 3e-3  # Adam learning rate

    def __post_init__(self):
        if not self.sizes or any(b <= a for a, b in zip(self.sizes, self.sizes[1:])):
            _fail("samples.sizes", self.sizes, "name increasing training-set sizes")
        for n in self.sizes:
            check_int("samples.sizes", n, minimum=10)
        if not self.fractions or self.fractions[0] != 0:
            _fail("samples.fractions", self.fractions, "start with 0 (real labels only), then the shares p2")
        for p in self.fractions:
            check_fraction("samples.fractions", p)
        check_widths(self.widths)
        for name in ("seeds", "epochs", "min_steps", "batch"):
            check_int(f"samples.{name}", getattr(self, name), minimum=1)
        check_positive("samples.lr", self.lr)


# ------------------------------------------------------------------ the teacher
def _teacher(cfg, data, need: int, what: str, device: str | None = None):
    order = np.random.default_rng([cfg.seed, 7]).permutation(len(data.train_images))
    if cfg.teacher_train + need > len(order):
        _fail(what, need, f"teacher_train + {need} must be <= the {len(order)} training images of {data.name}")
    t_idx = order[:cfg.teacher_train]
    teacher = WidthSweepMLP([cfg.teacher_width], steps=cfg.steps, lr=cfg.lr, seed=cfg.seed + 99, device=device)
    teacher.fit(data.train_images[t_idx] / 255.0, data.train_labels[t_idx][None])
    return teacher, order[cfg.teacher_train:]


def teacher_labels(cfg, data, device: str | None = None):
    """Train the teacher on ``teacher_train`` real images; returns (teacher, pool), the
    indices of the training images left for the students."""
    if cfg.teacher_train + cfg.net_train > len(data.train_images):
        _fail("net_train", cfg.net_train, f"teacher_train + net_train must be <= the {len(data.train_images)} "
                                          f"training images of {data.name}")
    return _teacher(cfg, data, cfg.net_train, "net_train", device)


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
    test_wrong: np.ndarray | None = None  # (seeds, P, K, T) 1 where a network misclassifies test image t

    @property
    def parameters(self) -> np.ndarray:
        """Parameters of each width's network, (pixels + 1) w + (w + 1) 10 for 10 classes."""
        return (self.pixels + 1) * self.widths + (self.widths + 1) * 10

    @property
    def fit_width(self) -> int | None:
        """The smallest width whose networks fit their training labels (mean training
        accuracy at least :data:`FITS`) for every share: where this sweep crosses the
        interpolation threshold, located from the training accuracy (None: no width fits)."""
        fits = np.all(self.train_accuracy_mean >= FITS, axis=0)
        return int(self.widths[np.argmax(fits)]) if fits.any() else None

    @cached_property
    def cost(self) -> tuple[np.ndarray, np.ndarray]:
        """(P, K) twice: the real-test error at each share minus the real-only error, paired on
        the same seeds and test images, and its standard error (:func:`paired_gap`)."""
        if self.test_wrong is None:
            raise ValueError("test_wrong=None is not allowed here: the paired cost needs each network's mistakes "
                             "per test image")
        out = [paired_gap(self.test_wrong, j) for j in range(len(self.fractions))]
        return np.stack([m for m, _ in out]), np.stack([s for _, s in out])

    def cost_change(self, j: int, a: int, b: int) -> tuple[float, float]:
        """The cost of share j at width index b minus its cost at width index a, paired on the
        same seeds and test images, and its standard error (:func:`paired_mean`)."""
        w = self.test_wrong.astype(float)
        m, se = paired_mean((w[:, j, b] - w[:, 0, b]) - (w[:, j, a] - w[:, 0, a]))
        return float(m), float(se)

    @cached_property
    def error_mean(self) -> np.ndarray:
        """(P, K): the real-test error, mean over seeds."""
        return self.errors.mean(0)

    @cached_property
    def train_accuracy_mean(self) -> np.ndarray:
        """(P, K): the accuracy on the training labels, mean over seeds."""
        return self.train_accuracy.mean(0)


def run_networks(cfg, run: Run | None = None, data=None) -> NetworkResult:
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
        wrong = net.predict(data.test_images / 255.0) != data.test_labels
        return {"test_wrong": wrong.reshape(shape + (len(data.test_labels),)).astype(np.uint8),
                "train_accuracy": net.train_accuracy_.reshape(shape),
                "teacher_error": 1 - teacher.score(data.test_images / 255.0, data.test_labels)[0, 0],
                "disagreement": np.mean(disagree)}

    with cpu_threads(run.threads):
        a, _ = protocol.cached(protocol.store(cfg, "networks", run, version=STORE_FORMAT), 0, compute)
    wrong = a["test_wrong"]
    return NetworkResult(data.describe(), np.asarray(cfg.widths), np.asarray(cfg.net_fractions, float),
                         wrong.mean(-1), a["train_accuracy"], float(a["teacher_error"]), float(a["disagreement"]),
                         data.pixels, len(data.test_images), cfg.net_train, wrong)


# ------------------------------------------------------------------ scaling in samples
@dataclass
class SampleResult:
    data: str  # description of the data set
    sizes: np.ndarray  # (N,) training-set sizes n
    fractions: np.ndarray  # (P,) shares p2 of teacher labels, the first 0
    widths: np.ndarray  # (W,) hidden units
    errors: np.ndarray  # (seeds, P, W, N) test error on real labels
    train_accuracy: np.ndarray  # (seeds, P, W, N) accuracy on the (mixed) training labels
    teacher_error: float  # the teacher's test error on real labels
    disagreement: float  # share of the students' images whose teacher label is wrong
    pixels: int = 0  # inputs of every network
    test_images: int = 0  # real test images every network is scored on
    loaded: int = 0  # sizes read from the run store instead of trained
    test_wrong: np.ndarray | None = None  # (seeds, P, W, N, T) 1 where a network misclassifies test image t

    @cached_property
    def mean(self) -> np.ndarray:
        """(P, W, N): the real-test error, mean over seeds."""
        return self.errors.mean(0)

    @cached_property
    def stderr(self) -> np.ndarray:
        """(P, W, N): the standard error of :attr:`mean`: the binomial noise of the one test
        set that every seed is scored on (it does not average out over seeds) added to the
        seed-to-seed standard error (which needs two seeds)."""
        seeds = len(self.errors)
        m = self.mean
        binom = np.sqrt(m * (1 - m) / max(self.test_images, 1))
        if seeds < 2:
            return binom
        return np.hypot(binom, self.errors.std(0, ddof=1) / np.sqrt(seeds))

    @cached_property
    def gap(self) -> tuple[np.ndarray, np.ndarray]:
        """(P, W, N) twice: the mean over seeds of error(p2) - error(real only) on the same
        images, and its standard error, paired per test image (:func:`paired_gap`)."""
        if self.test_wrong is None:
            raise ValueError("test_wrong=None is not allowed here: the paired gap needs each network's mistakes "
                             "per test image")
        out = [paired_gap(self.test_wrong, j) for j in range(len(self.fractions))]
        return np.stack([m for m, _ in out]), np.stack([s for _, s in out])

    def departure(self, z: float) -> np.ndarray:
        """(P, W): the smallest n from which on, at every larger n too, the mix's error is
        above the real-only error by more than ``z`` standard errors; inf where it never is."""
        mean, se = self.gap
        out = np.full(mean.shape[:2], np.inf)
        above = mean > z * se
        for j in range(mean.shape[0]):
            for w in range(mean.shape[1]):
                k = len(self.sizes)
                while k > 0 and above[j, w, k - 1]:
                    k -= 1
                if k < len(self.sizes):
                    out[j, w] = self.sizes[k]
        return out

    @cached_property
    def fits(self) -> list[list[dict]]:
        """[p2][width]: the law error = E + A n^-alpha fitted to every seed's curve and to
        the mean curve (:func:`collapse_lib.experiments.larger_scaling.fit_spread`)."""
        return [[fit_spread(self.sizes, self.errors[:, j, w]) for w in range(len(self.widths))]
                for j in range(len(self.fractions))]



def run_samples(cfg, run: Run | None = None, data=None) -> SampleResult:
    """Train every (seed, share, width) network at each training-set size of
    ``cfg.samples`` and score it on the real test images. Seed s draws one order of the
    students' images and takes its first n at size n (nested sets), and labels the share p2
    of them with the lowest of its fixed uniform draws by the teacher. Each size is stored
    as it ends (an interrupted sweep resumes)."""
    run = run or Run()
    sc = cfg.samples
    data = data if data is not None else load_images(cfg.dataset)
    teacher, pool = _teacher(cfg, data, max(sc.sizes), "samples.sizes", run.device)
    fake_all = teacher.predict(data.train_images[pool] / 255.0)[0, 0]
    orders = [np.random.default_rng([cfg.seed, 11, s]).permutation(len(pool)) for s in range(sc.seeds)]
    draws = [np.random.default_rng([cfg.seed, 12, s]).random(len(pool)) for s in range(sc.seeds)]
    shape = (sc.seeds, len(sc.fractions), len(sc.widths))
    store = protocol.store(cfg, "samples", run, version=STORE_FORMAT)

    def size(k, n):
        images, labels = [], []
        for s in range(sc.seeds):
            idx = orders[s][:n]
            x = data.train_images[pool[idx]] / 255.0
            rank = np.argsort(draws[s][idx], kind="stable")
            for p in sc.fractions:
                y = data.train_labels[pool[idx]].copy()
                chosen = rank[:int(round(p * n))]
                y[chosen] = fake_all[idx[chosen]]
                images.append(x)
                labels.append(y)
        steps = max(sc.min_steps, sc.epochs * max(1, n // sc.batch))
        net = WidthSweepMLP(sc.widths, steps=steps, lr=sc.lr, seed=cfg.seed + 1000 * (k + 1), device=run.device,
                            batch_size=sc.batch)
        net.fit(np.stack(images), np.stack(labels))
        wrong = net.predict(data.test_images / 255.0) != data.test_labels
        return {"test_wrong": wrong.reshape(shape + (len(data.test_labels),)).astype(np.uint8),
                "train_accuracy": net.train_accuracy_.reshape(shape)}

    with cpu_threads(run.threads):
        # the sizes are independent: under torchrun each process trains its share of them
        done = map_units(lambda k: protocol.cached(store, k, lambda: size(k, int(sc.sizes[k]))),
                         list(range(len(sc.sizes))), desc="MNIST sample sizes", progress=run.progress)
    wrong, acc = [a["test_wrong"] for a, _ in done], [a["train_accuracy"] for a, _ in done]
    loaded = sum(was for _, was in done)
    wrong = np.stack(wrong, 3)  # (seeds, P, W, N, T)
    used = np.unique(np.concatenate([o[:max(sc.sizes)] for o in orders]))
    disagree = float(np.mean(fake_all[used] != data.train_labels[pool[used]]))
    return SampleResult(data.describe(), np.asarray(sc.sizes), np.asarray(sc.fractions, float), np.asarray(sc.widths),
                        wrong.mean(-1), np.stack(acc, -1),
                        float(1 - teacher.score(data.test_images / 255.0, data.test_labels)[0, 0]), disagree,
                        data.pixels, len(data.test_images), loaded, wrong)
