"""Chapter 3, variational autoencoders: the experiments behind every figure.

Follows the VAE experiment of Shumailov et al., "AI models collapse when trained on
recursively generated data" (Nature 631:755, 2024; the authors' ``VAE_experiments``
notebook): a VAE is trained on real digits, every later generation trains a fresh VAE
on images decoded from the previous one's prior samples, and collapse is measured by
the spread of the *original* encoder's latent means on each generation's images. The
chapter adds a diversity measure (the class balance seen by a classifier trained on real
digits), sample grids, several chains, and the *mix* policy that keeps 10 % real data.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.images import DATASETS, ImageData, ImageSource, load_images
from ..engine import History, run_generations
from ..families.vae import ARCHS, VAEFamily, VAEParams
from ..policies import make_policy
from ..profiles import pick
from ..progress import progress
from ..runtime import cache_dir, generation_rng
from ..store import RunStore
from ..validation import check_choice, check_fraction, check_int, check_sample_size

#: What the paper's notebook printed: std of the generation-0 encoder's latent means on
#: 100 images of each of five generations (one run), and the range over its five runs.
PAPER = {
    "latent_std": [0.674, 0.608, 0.527, 0.468, 0.433],
    "range_first": (0.67, 0.70),
    "range_last": (0.43, 0.47),
    "images_measured": 100,
}

#: Bumped whenever the training code changes, so that old checkpoints are not reused.
CHECKPOINT_FORMAT = 2


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of the chapter's experiment (one instance per profile)."""

    seed: int = 0  # every random stream of the run derives from it
    dataset: str = "mnist"  # "mnist" (downloads once) or "digits" (ships with scikit-learn)
    arch: str = "conv"  # "conv" (the paper's model, for MNIST) or "mlp" (for 8x8 digits)
    latent: int = 20  # latent dimensions (the paper: 20)
    hidden: int = 64  # conv capacity (the paper: 64) or MLP width
    samples: int = 20_000  # M: real images of generation 0, and images of every later training set
    generations: int = 5  # generations after the first model (models 0..generations)
    chains: int = 2  # independent runs (seeds) side by side
    epochs: int = 10  # passes over each training set (the paper: 30)
    batch_size: int = 256  # (the paper: 256)
    lr: float = 1e-3  # Adam (the paper: 1e-3)
    weight_decay: float = 1e-5  # Adam (the paper: 1e-5)
    policies: tuple[str, ...] = ("replace", "mix")  # data policies compared
    real_fraction: float = 0.1  # share of real images kept by "mix" (the paper: 10 %)
    eval_samples: int = 1000  # images per generation and chain that are measured (the paper: 100)
    grid_images: int = 64  # images per generation shown in the sample grids
    classifier_epochs: int = 10  # training of the real-data classifier behind the diversity measure
    classifier_hidden: int = 256  # its width
    checkpoint: bool = True  # keep every finished generation in the run store (reruns resume)
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present): where the networks train

    def __post_init__(self):
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("arch", self.arch, ARCHS)
        for name in ("latent", "hidden", "generations", "chains", "epochs", "batch_size", "grid_images",
                     "classifier_epochs", "classifier_hidden"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_sample_size("samples", self.samples, 1, "a VAE needs at least one image")
        check_sample_size("eval_samples", self.eval_samples, 2, "a spread needs two images")
        check_fraction("real_fraction", self.real_fraction)
        if not self.policies:
            raise ValueError("policies=() is not allowed: name at least one of 'replace', 'accumulate', 'mix', 'fresh'")
        for p in self.policies:
            check_choice("policies", p, ("replace", "accumulate", "mix", "fresh"))
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))
        if self.arch == "conv" and self.dataset != "mnist":
            raise ValueError(f"arch={self.arch!r} is not allowed with dataset={self.dataset!r}: "
                             "the conv VAE needs 28x28 images (dataset='mnist'); use arch='mlp'")


PROFILE_CONFIGS = {
    # 8x8 digits on two CPU cores: an MLP VAE, a few hundred Adam steps a generation
    # (hence the larger learning rate), three chains
    "quick": VAEConfig(dataset="digits", arch="mlp", latent=8, hidden=128, samples=1000, generations=5,
                       chains=3, epochs=60, batch_size=128, lr=3e-3, eval_samples=500, classifier_epochs=30,
                       classifier_hidden=128),
    # MNIST and the paper's conv VAE, sized for a free Colab T4
    "gpu": VAEConfig(),
    # the paper's settings: all 60,000 images, 30 epochs a generation, five runs
    "paper": VAEConfig(samples=60_000, chains=5, epochs=30, eval_samples=1000),
}


def config(profile: str | None = None, **overrides) -> VAEConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


def config_dict(cfg: VAEConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def family(cfg: VAEConfig, data: ImageData) -> VAEFamily:
    return VAEFamily(pixels=data.pixels, arch=cfg.arch, latent=cfg.latent, hidden=cfg.hidden, epochs=cfg.epochs,
                     batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed,
                     device=cfg.device)


# ------------------------------------------------------------------ the classifier
class DigitClassifier:
    """A one-hidden-layer network trained on real digits; ``predict`` gives labels."""

    def __init__(self, pixels: int, hidden: int = 128, epochs: int = 10, seed: int = 0, device: str | None = None):
        self.pixels, self.hidden, self.epochs, self.seed, self.device = pixels, hidden, epochs, seed, device

    def _device(self):
        import torch

        from ..runtime import device

        return torch.device(self.device) if self.device else device()

    def fit(self, images: np.ndarray, labels: np.ndarray) -> "DigitClassifier":
        import torch
        from torch import nn

        from ..families.vae_models import cpu_threads

        dev = self._device()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = nn.Sequential(nn.Linear(self.pixels, self.hidden), nn.ReLU(), nn.Linear(self.hidden, 10))
        self.net_.to(dev)
        x = torch.as_tensor(images, device=dev).float().div_(255.0)
        y = torch.as_tensor(labels, dtype=torch.long, device=dev)
        opt = torch.optim.Adam(self.net_.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(self.seed)
        with cpu_threads(1 if dev.type == "cpu" else None):
            for _ in range(self.epochs):
                for idx in torch.randperm(len(x), generator=gen).to(dev).split(128):
                    loss = nn.functional.cross_entropy(self.net_(x[idx]), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        return self

    def predict(self, images: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.as_tensor(images, device=self._device()).float().div_(255.0)
            return self.net_(x).argmax(1).cpu().numpy()

    def score(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(images) == labels))


def class_shares(predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """Share of each predicted class (..., classes) along the last axis of ``predictions``."""
    onehot = predictions[..., None] == np.arange(classes)
    return onehot.mean(axis=-2)


def effective_classes(shares: np.ndarray) -> np.ndarray:
    """exp(entropy) of class shares: 10 for a perfectly balanced set, 1 for one class."""
    p = np.asarray(shares, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(-1)
    return np.exp(h)


def latent_spread(mu: np.ndarray) -> float:
    """The paper's collapse measure: std over all entries of the (n, latent) means."""
    return float(np.std(mu))


# ------------------------------------------------------------------ the experiment
@dataclass
class PolicyResult:
    policy: str
    spread: np.ndarray  # (G+1, C) std of the generation-0 encoder's means on generation t's images
    shares: np.ndarray  # (G+1, C, 10) predicted class shares of generation t's images
    loss: np.ndarray  # (G+1, C) last-epoch negative ELBO per image
    grids: np.ndarray  # (G+1, grid_images, pixels) images of chain 0
    resumed_from: int | None = None


@dataclass
class VAEResult:
    data: str  # description of the data set used
    side: int
    classifier_accuracy: float  # on the real test images
    real_spread: np.ndarray  # (C,) the measure on real test images
    real_shares: np.ndarray  # (10,) class shares of the real training images
    real_grid: np.ndarray  # (grid_images, pixels)
    policies: dict[str, PolicyResult] = field(default_factory=dict)

    @property
    def generations(self) -> np.ndarray:
        return np.arange(next(iter(self.policies.values())).spread.shape[0])


def run_store(cfg: VAEConfig, policy: str, root=None) -> RunStore | None:
    """The checkpoint directory of one policy's run (under the cache unless ``root``)."""
    if not cfg.checkpoint:
        return None
    ident = {"experiment": "vae", "format": CHECKPOINT_FORMAT, "policy": policy, **config_dict(cfg)}
    ident.pop("device")  # a run started on one device resumes on another
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
    base = cache_dir("runs", "vae") if root is None else Path(root)
    return RunStore(base / f"{policy}-{key}", ident)


def train_generations(cfg: VAEConfig, data: ImageData, policy: str, *, root=None, callback=None) -> History:
    """The engine's run of one policy: records every generation's weights and loss."""
    fam = family(cfg, data)
    if cfg.samples > len(data.train_images):
        raise ValueError(f"samples={cfg.samples!r} is not allowed: {data.name} has {len(data.train_images)} "
                         "training images")
    record = lambda params, train, t: {"weights": params.weights, "loss": params.loss}  # noqa: E731
    return run_generations(fam, ImageSource(data.train_images), make_policy(policy, cfg.real_fraction),
                           generations=cfg.generations, samples=cfg.samples, chains=cfg.chains, seed=cfg.seed,
                           record=record, store=run_store(cfg, policy, root), callback=callback,
                           desc=f"VAE generations, {policy}")


def measure(cfg: VAEConfig, data: ImageData, history: History, clf: DigitClassifier, policy: str) -> PolicyResult:
    """Spread, class shares and a grid of every generation's images (the "eval" streams)."""
    fam = family(cfg, data)
    W, L = history["weights"], history["loss"]
    first = VAEParams(W[0], L[0])
    G1, C = W.shape[:2]
    spread, shares = np.empty((G1, C)), np.empty((G1, C, 10))
    grids = np.empty((G1, cfg.grid_images, data.pixels), np.uint8)
    for t in progress(range(G1), desc=f"measuring, {policy}"):
        images = fam.sample(VAEParams(W[t], L[t]), cfg.eval_samples, generation_rng(cfg.seed, t, "eval")).images
        for c in range(C):
            spread[t, c] = latent_spread(fam.encode_means(first, c, images[c]))
        shares[t] = class_shares(clf.predict(images.reshape(-1, data.pixels)).reshape(C, -1))
        grids[t] = np.resize(images[0], (cfg.grid_images, data.pixels))
    return PolicyResult(policy, spread, shares, L, grids, history.resumed_from)


def run_all(cfg: VAEConfig, data: ImageData | None = None, *, root=None) -> VAEResult:
    """Every policy of ``cfg`` on its data set, measured."""
    data = data if data is not None else load_images(cfg.dataset)
    clf = DigitClassifier(data.pixels, cfg.classifier_hidden, cfg.classifier_epochs, cfg.seed, cfg.device)
    clf.fit(data.train_images, data.train_labels)
    grid = np.resize(data.test_images, (cfg.grid_images, data.pixels))
    res = VAEResult(data.describe(), data.side, clf.score(data.test_images, data.test_labels), None,
                    class_shares(data.train_labels), grid)
    from ..distributed import map_units

    def one(policy):  # the policies are independent runs: under torchrun, each rank runs its share
        h = train_generations(cfg, data, policy, root=root)
        return measure(cfg, data, h, clf, policy), VAEParams(h["weights"][0], h["loss"][0])

    for policy, (measured, first) in zip(cfg.policies, map_units(one, cfg.policies)):
        res.policies[policy] = measured
        if res.real_spread is None:
            fam = family(cfg, data)
            real = data.test_images[:cfg.eval_samples]
            res.real_spread = np.array([latent_spread(fam.encode_means(first, c, real)) for c in range(cfg.chains)])
    return res


def summary(res: VAEResult) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    out = {
        "data": res.data,
        "classifier_accuracy": res.classifier_accuracy,
        "real_latent_std": res.real_spread.tolist(),
        "paper_latent_std": PAPER["latent_std"],
        "policies": {},
    }
    for name, p in res.policies.items():
        eff = effective_classes(p.shares)
        out["policies"][name] = {
            "latent_std_mean": p.spread.mean(1).tolist(),
            "latent_std_by_chain": p.spread.tolist(),
            "ratio_last_to_first": float((p.spread[-1] / p.spread[0]).mean()),
            "effective_classes_mean": eff.mean(1).tolist(),
            "loss_mean": p.loss.mean(1).tolist(),
        }
    return out
