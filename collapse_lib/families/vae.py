"""Variational autoencoders retrained, generation after generation, on their own images.

Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024), train a VAE on MNIST, then a fresh VAE on images decoded from
the first one's prior samples, and so on; the images lose their variety and the
original encoder's latent means on them shrink towards the origin. The networks and
their training are in :mod:`collapse_lib.families.vae_models`.

As a model family of the engine (:mod:`collapse_lib.engine`):

- a training set is an :class:`ImageSet`, the images of every chain as ``uint8``
  pixels (C, n, pixels); two sets pool by concatenation, so every data policy applies;
- the parameters are an :class:`VAEParams`, one flat weight vector per chain
  (``torch.nn.utils.parameters_to_vector``), so the run store can save them;
- ``sample`` draws N(0, I) latents with one call on the generation's NumPy stream and
  decodes them to pixel means (as the authors' notebook does), rounded to 8 bits;
- ``synthetic`` chooses how a later generation sees its predecessor's images.
  ``"fixed"``: one synthetic set of M images per generation, trained on for every epoch
  (a set like any other, so every data policy applies). ``"fresh"``: the paper's scheme,
  in which the authors' notebook replaces each batch of the MNIST loader by
  ``decoder(randn(256, 20))``; ``sample`` then returns a :class:`FreshImages`, the
  previous decoder and the seeds of its latents, and ``fit`` decodes new images for every
  batch, M per epoch, so that no synthetic image is seen twice. Real images that a policy
  mixes in (``mix``, ``fresh``) are kept and shuffled among the new ones; ``accumulate``
  would need every earlier decoder and is refused;
- ``synthetic_pixels`` chooses what a synthetic image is: the decoder's pixel means
  (``"means"``, the authors' notebook) or pixels drawn from Bernoulli(mean)
  (``"samples"``, :mod:`collapse_lib.families.vae_pixels`), under either scheme;
- ``fit`` trains a fresh VAE per chain (all chains in one vectorised loop). The engine
  gives ``fit`` no random stream, so the seed of a chain's initial weights, shuffling
  and noise is a hash of the family's seed, the chain index and the training images
  themselves: training is a
  deterministic function of its data, and a resumed run retrains exactly what an
  uninterrupted one would.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..arrays import ArrayRecord, PointSet
from ..validation import check_choice, check_int, check_positive
from .vae_pixels import PIXELS, SampledDecoder, draw_pixels, pixel_seed

ARCHS = ("mlp", "conv")

#: How a later generation sees its predecessor's images (see the module docstring).
SCHEMES = ("fixed", "fresh")


@dataclass
class ImageSet(PointSet):
    """Images of every chain: ``images`` (C, n, pixels), ``uint8``, 0 = black, 255 = white."""

    images: np.ndarray

    def floats(self) -> np.ndarray:
        """Pixels in [0, 1] as float32."""
        return self.images.astype(np.float32) / 255.0

    def __add__(self, other):
        if isinstance(other, FreshImages):  # real images kept among fresh decoder samples
            return other.keep(self.images)
        return super().__add__(other)

    @classmethod
    def from_arrays(cls, arrays, prefix: str = ""):
        """A stored training set: an :class:`ImageSet`, or a :class:`FreshImages` where
        the store holds a decoder (the later generations of the fresh scheme)."""
        if cls is ImageSet and prefix + "decoder" in arrays:
            return FreshImages.from_arrays(arrays, prefix)
        return super().from_arrays(arrays, prefix)


@dataclass
class FreshImages(ArrayRecord):
    """A training set of the paper's scheme: each epoch, ``fresh`` images per chain that
    the previous generation's decoder makes anew for every batch, from N(0, I) latents
    drawn with the chain's seed, shuffled among the ``kept`` images (real images of a
    mixed policy; none under replace)."""

    kept: np.ndarray  # (C, k, pixels) uint8 images seen in every epoch
    decoder: np.ndarray  # (C, P) flat weights of the VAE whose decoder makes the rest
    fresh: int  # decoded images per chain and epoch
    seeds: np.ndarray  # (C,) seeds of the latents drawn while training

    @property
    def n(self) -> int:
        """Images per chain and epoch."""
        return self.kept.shape[1] + int(self.fresh)

    def keep(self, images: np.ndarray) -> "FreshImages":
        return FreshImages(np.concatenate([images, self.kept], axis=1), self.decoder, self.fresh, self.seeds)

    def __add__(self, other):
        if isinstance(other, ImageSet):
            return self.keep(other.images)
        raise ValueError("policy='accumulate' is not allowed with synthetic='fresh': a generation would have to "
                         "keep every earlier decoder; use synthetic='fixed'")


@dataclass
class VAEParams(ArrayRecord):
    """Flat weights (C, P) of every chain's VAE and its last-epoch loss (C,) per image."""

    weights: np.ndarray
    loss: np.ndarray


def to_uint8(images) -> np.ndarray:
    """Images in [0, 1] (or already ``uint8``) as 8-bit pixels."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def fit_seed(seed: int, chain: int, images: np.ndarray, *more: np.ndarray) -> int:
    """The training seed of one chain: a hash of the family seed, the chain and the images
    (and of ``more``: the decoder and latent seed of a fresh-scheme generation)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(np.array([seed, chain, *images.shape], dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(images).tobytes())
    for a in more:
        h.update(np.ascontiguousarray(a).tobytes())
    return int.from_bytes(h.digest(), "little") & (2**62 - 1)


@dataclass
class VAEFamily:
    """A VAE per chain, trained from scratch on each generation's images."""

    pixels: int = 64  # image size, flattened (64 for 8x8 digits, 784 for MNIST)
    arch: str = "mlp"  # "mlp" (8x8 digits) or "conv" (the paper's MNIST model)
    latent: int = 8  # latent dimensions (the paper: 20)
    hidden: int = 128  # MLP width, or the conv capacity (the paper: 64 channels)
    epochs: int = 40  # passes over each generation's training set (the paper: 30)
    batch_size: int = 128  # (the paper: 256)
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 1e-5  # Adam weight decay
    seed: int = 0  # mixed into every chain's training seed
    device: str | None = None  # "cpu", "cuda", or None for the runtime's choice
    threads: int | None = None  # CPU threads for training (None: 1 for the MLP, fastest for 8x8 digits)
    decode_batch: int = 4096  # latents decoded at once when sampling
    synthetic: str = "fixed"  # "fixed" (one synthetic set a generation) or "fresh" (new decoder images every batch)
    synthetic_pixels: str = "means"  # synthetic images: "means" (the decoder's, as the paper) or "samples" (drawn)

    Params = VAEParams
    Data = ImageSet
    min_samples = 1  # a VAE can be trained on a single image

    def __post_init__(self):
        check_choice("arch", self.arch, ARCHS)
        check_choice("synthetic", self.synthetic, SCHEMES)
        check_choice("synthetic_pixels", self.synthetic_pixels, PIXELS)
        for name in ("pixels", "latent", "hidden", "epochs", "batch_size", "decode_batch"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_positive("lr", self.lr)
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < float("inf")):
            raise ValueError(f"weight_decay={self.weight_decay!r} is not allowed: it must be a finite number >= 0")
        if self.arch == "conv":
            side = int(round(self.pixels**0.5))
            if side * side != self.pixels or side % 4:
                raise ValueError(f"pixels={self.pixels!r} is not allowed: the conv VAE needs square images "
                                 "whose side is divisible by 4 (784 for MNIST)")
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))

    # ------------------------------------------------------------------ torch helpers
    def torch_device(self):
        import torch

        from ..runtime import device

        return torch.device(self.device) if self.device else device()

    def new_model(self):
        """An untrained network of this family (on the CPU)."""
        from .vae_models import build_model

        return build_model(self.arch, self.pixels, self.latent, self.hidden)

    @property
    def n_weights(self) -> int:
        return sum(p.numel() for p in self.new_model().parameters())

    def model(self, params: VAEParams, chain: int):
        """Chain ``chain``'s trained VAE, on the family's device, in eval mode."""
        import torch
        from torch.nn.utils import vector_to_parameters

        m = self.new_model()
        vector_to_parameters(torch.as_tensor(params.weights[chain], dtype=torch.float32), m.parameters())
        return m.to(self.torch_device()).eval()

    # ----------------------------------------------------------------- the family API
    def summarize(self, points) -> ImageSet:
        points = to_uint8(points)
        if points.ndim != 3 or points.shape[2] != self.pixels:
            raise ValueError(f"images of shape {points.shape} are not allowed: they must be (chains, n, {self.pixels})")
        return ImageSet(points)

    def fit(self, data: ImageSet | FreshImages) -> VAEParams:
        """A fresh VAE per chain, trained on that chain's images (all chains at once);
        for :class:`FreshImages`, on new images of the previous decoder every batch."""
        import torch
        from torch.nn.utils import parameters_to_vector

        from ..runtime import autocast_dtype, cpu_threads
        from .vae_models import train_vaes

        dev = self.torch_device()
        fresh = isinstance(data, FreshImages)
        kept = data.kept if fresh else data.images
        seeds, models = [], []
        for c in range(data.chains):
            extra = (data.decoder[c], np.asarray([data.fresh, data.seeds[c]], np.int64)) if fresh else ()
            seeds.append(fit_seed(self.seed, c, kept[c], *extra))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seeds[-1])
                models.append(self.new_model().to(dev))
        x = torch.as_tensor(kept, device=dev).float().div_(255.0)
        stream = {}
        if fresh:
            previous = VAEParams(data.decoder, np.zeros(data.chains))
            decoders = [self.model(previous, c) for c in range(data.chains)]
            if self.synthetic_pixels == "samples":
                decoders = [SampledDecoder(d, pixel_seed(s)) for d, s in zip(decoders, data.seeds)]
            stream = dict(decoders=decoders, fresh=int(data.fresh), fresh_seeds=[int(s) for s in data.seeds])
        default = 1 if self.arch == "mlp" else None
        with cpu_threads((default if self.threads is None else self.threads) if dev.type == "cpu" else None):
            losses = train_vaes(models, x, seeds, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                                weight_decay=self.weight_decay, amp_dtype=autocast_dtype(dev), **stream)
        weights = [parameters_to_vector(m.parameters()).detach().float().cpu().numpy() for m in models]
        return VAEParams(np.stack(weights), np.asarray(losses))

    def decode(self, params: VAEParams, z: np.ndarray) -> np.ndarray:
        """Pixel means (C, n, pixels) in [0, 1] of latents ``z`` (C, n, latent)."""
        import torch

        out = np.empty(z.shape[:2] + (self.pixels,), dtype=np.float32)
        dev = self.torch_device()
        for c in range(z.shape[0]):
            model = self.model(params, c)
            with torch.no_grad():
                for i in range(0, z.shape[1], self.decode_batch):
                    zc = torch.as_tensor(z[c, i:i + self.decode_batch], dtype=torch.float32, device=dev)
                    out[c, i:i + self.decode_batch] = model.decode(zc).float().cpu().numpy()
        return out

    def sample_images(self, params: VAEParams, n: int, rng: np.random.Generator) -> ImageSet:
        """``n`` images per chain: N(0, I) latents (one call on ``rng``), decoded."""
        z = rng.standard_normal((params.chains, n, self.latent))
        return ImageSet(to_uint8(self.decode(params, z)))

    def sample(self, params: VAEParams, n: int, rng: np.random.Generator) -> ImageSet | FreshImages:
        """The next generation's synthetic data: ``n`` decoded images per chain
        (``synthetic="fixed"``; under ``synthetic_pixels="samples"`` their pixels are then
        drawn from Bernoulli(mean) with a second call on ``rng``), or the decoder itself with
        a seed per chain for its latents (one call on ``rng``), to draw ``n`` new images
        every epoch (``"fresh"``)."""
        if self.synthetic == "fixed":
            if self.synthetic_pixels == "samples":
                z = rng.standard_normal((params.chains, n, self.latent))
                return ImageSet(draw_pixels(self.decode(params, z), rng))
            return self.sample_images(params, n, rng)
        seeds = rng.integers(0, 2**62, size=params.chains, dtype=np.int64)
        return FreshImages(np.empty((params.chains, 0, self.pixels), np.uint8), params.weights, int(n), seeds)

    def encode_means(self, params: VAEParams, chain: int, images) -> np.ndarray:
        """Latent means (n, latent) of ``images`` (n, pixels; uint8 or [0, 1]) under
        chain ``chain``'s encoder."""
        import torch

        images = to_uint8(images)
        model, dev = self.model(params, chain), self.torch_device()
        out = []
        with torch.no_grad():
            for i in range(0, len(images), self.decode_batch):
                x = torch.as_tensor(images[i:i + self.decode_batch], device=dev).float().div_(255.0)
                out.append(model.encode(x)[0].float().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, self.latent), np.float32)
