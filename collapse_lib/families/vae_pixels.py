"""What a VAE's synthetic image is: the decoder's pixel means, or pixels drawn from them.

A VAE's decoder gives, for a latent z, the mean p_j(z) of a Bernoulli distribution for
every pixel j. The authors' notebook of Shumailov et al., "AI models collapse when trained
on recursively generated data" (Nature 631:755, 2024), hands the next generation these
means, ``decoder(randn(256, 20))``: grey images that are the model's expected image for
each z, not draws from the model. Drawing every pixel from Bernoulli(p_j(z)) instead
gives images that the model itself would generate. By the law of total variance a drawn
pixel has variance Var_z p_j(z) + E_z p_j(z)(1 - p_j(z)); the means keep the first term
and drop the second (chapter 3 measures both, generation by generation).

``PIXELS`` names the two choices; :func:`draw_pixels` draws pixels from means held by
NumPy (the fixed scheme's synthetic sets and the chapter's measurements), and
:class:`SampledDecoder` wraps a trained VAE so that the fresh scheme's batches, decoded
while training, are drawn pixels too.
"""
from __future__ import annotations

import hashlib

import numpy as np

#: What a later generation trains on: the decoder's pixel means (the paper's notebook) or
#: pixels drawn from Bernoulli(mean), 0 or 255.
PIXELS = ("means", "samples")


def draw_pixels(means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pixels drawn from Bernoulli(``means``), as ``uint8`` 0 (black) or 255 (white), with one
    call on ``rng``. ``means`` are probabilities in [0, 1], or ``uint8`` images read as /255."""
    m = np.asarray(means)
    p = m.astype(np.float32) / 255.0 if m.dtype == np.uint8 else m.astype(np.float32, copy=False)
    return np.where(rng.random(p.shape, dtype=np.float32) < p, 255, 0).astype(np.uint8)


def pixel_seed(latent_seed: int) -> int:
    """The seed of the pixel draws of a fresh-scheme generation, from the seed of its latents
    (a hash, so the two streams are unrelated)."""
    h = hashlib.blake2b(np.array([latent_seed], np.int64).tobytes(), digest_size=8, person=b"vae-pixels")
    return int.from_bytes(h.digest(), "little") & (2**62 - 1)


class SampledDecoder:
    """A trained VAE whose ``decode`` draws every pixel from Bernoulli(its mean), from a
    generator of its own seeded with ``seed``: the fresh scheme's decoder under
    ``synthetic_pixels="samples"`` (the latents are drawn as under "means", so the two
    settings decode the same latents and differ only in the draw)."""

    def __init__(self, model, seed: int):
        import torch

        self.model, self.latent = model, model.latent
        device = next(model.parameters()).device
        self.generator = torch.Generator(device=device).manual_seed(int(seed))

    def decode(self, z):
        import torch

        return torch.bernoulli(self.model.decode(z).float().clamp_(0.0, 1.0), generator=self.generator)
