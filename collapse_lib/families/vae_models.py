"""The networks of the VAE chapter and their training loop.

- :class:`ConvVAE` is the model of Shumailov et al., "AI models collapse when trained on
  recursively generated data" (Nature 631:755, 2024), as in the authors'
  ``VAE_experiments.ipynb``: a convolutional encoder 1 -> 64 -> 128 channels (kernel 4,
  stride 2) with two linear heads for the mean and log-variance of a 20-dimensional
  latent, and a mirrored decoder ending in a sigmoid (647,081 parameters for 28x28
  images).
- :class:`MLPVAE` is the same idea with fully connected layers, for the 8x8 digits of
  the offline ``quick`` profile.

Both are trained by :func:`train_vaes` on the negative evidence lower bound of Kingma and
Welling, "Auto-Encoding Variational Bayes" (ICLR 2014): Bernoulli cross-entropy summed
over pixels plus the KL divergence of the Gaussian posterior from N(0, I) (beta = 1),
with Adam (learning rate 1e-3, weight decay 1e-5) as in the authors' notebook. The
decoders return logits; the sigmoid is applied by :meth:`decode`, and the loss uses the
numerically stable ``binary_cross_entropy_with_logits`` (the same function of the
sigmoid output, and safe under mixed precision).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class VAE(nn.Module):
    """Shared parts: reparameterisation, decoding to pixel means, the loss."""

    latent: int

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (n, pixels) -> mu, logvar
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:  # (n, latent) -> (n, pixels)
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel means in [0, 1] (the images the next generation is trained on)."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.loss(x, eps)

    def loss(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Negative ELBO summed over the batch, with the noise ``eps`` given (so that
        training draws it from a seeded generator)."""
        mu, logvar = self.encode(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decode_logits(z)
        recon = F.binary_cross_entropy_with_logits(logits.float(), x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp())
        return recon + kl


class MLPVAE(VAE):
    """Fully connected VAE: pixels -> hidden -> (mu, logvar); latent -> hidden -> pixels."""

    def __init__(self, pixels: int = 64, hidden: int = 128, latent: int = 8):
        super().__init__()
        self.pixels, self.hidden, self.latent = pixels, hidden, latent
        self.enc = nn.Linear(pixels, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.dec = nn.Linear(latent, hidden)
        self.out = nn.Linear(hidden, pixels)

    def encode(self, x):
        h = F.relu(self.enc(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode_logits(self, z):
        return self.out(F.relu(self.dec(z)))


class ConvVAE(VAE):
    """The convolutional VAE of Shumailov et al. (2024) for side x side images
    (side divisible by 4; 28 for MNIST)."""

    def __init__(self, side: int = 28, capacity: int = 64, latent: int = 20):
        super().__init__()
        if side % 4:
            raise ValueError(f"side={side!r} is not allowed: it must be divisible by 4 (two stride-2 convolutions)")
        self.side, self.capacity, self.latent = side, capacity, latent
        c, s = capacity, side // 4
        self.flat = 2 * c * s * s
        self.conv1 = nn.Conv2d(1, c, kernel_size=4, stride=2, padding=1)  # c x side/2 x side/2
        self.conv2 = nn.Conv2d(c, 2 * c, kernel_size=4, stride=2, padding=1)  # 2c x side/4 x side/4
        self.fc_mu = nn.Linear(self.flat, latent)
        self.fc_logvar = nn.Linear(self.flat, latent)
        self.fc = nn.Linear(latent, self.flat)
        self.deconv2 = nn.ConvTranspose2d(2 * c, c, kernel_size=4, stride=2, padding=1)
        self.deconv1 = nn.ConvTranspose2d(c, 1, kernel_size=4, stride=2, padding=1)

    def encode(self, x):
        h = x.view(-1, 1, self.side, self.side)
        h = F.relu(self.conv2(F.relu(self.conv1(h))))
        h = h.flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode_logits(self, z):
        h = self.fc(z).view(-1, 2 * self.capacity, self.side // 4, self.side // 4)
        return self.deconv1(F.relu(self.deconv2(h))).flatten(1)


def build_model(arch: str, pixels: int, latent: int, hidden: int) -> VAE:
    """A fresh, untrained VAE (initialised from torch's global generator)."""
    if arch == "mlp":
        return MLPVAE(pixels, hidden, latent)
    side = math.isqrt(pixels)
    if side * side != pixels:
        raise ValueError(f"pixels={pixels!r} is not allowed: the conv VAE needs square images")
    return ConvVAE(side, hidden, latent)


def decode_8bit(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Pixel means of latents ``z`` rounded to 8 bits, as floats in [0, 1]: the images a
    generation trains on, in both schemes (a stored image is ``uint8``)."""
    return torch.round(model.decode(z).float() * 255.0) / 255.0


def train_vaes(models: list[VAE], images: torch.Tensor, seeds: list[int], *, epochs: int, batch_size: int,
               lr: float, weight_decay: float, amp_dtype=None, decoders: list[VAE] | None = None,
               fresh: int = 0, fresh_seeds: list[int] | None = None) -> list[float]:
    """Train ``models`` (one per chain) in place, chain c on ``images[c]`` (C, n, pixels)
    in [0, 1], all at once: their weights are stacked and the loss is vectorised over
    chains with ``torch.func.vmap``, so a step costs about as much as one model's step.

    With ``decoders`` (one trained VAE per chain) every epoch also holds ``fresh`` images
    per chain that are decoded from N(0, I) latents drawn anew for every batch, as in the
    authors' notebook, which replaces each batch of the MNIST loader by
    ``decoder(randn(256, 20))``: such a generation never sees the same synthetic image
    twice. An epoch then has ``n + fresh`` slots in a random order; the slots of a batch
    that point past the ``n`` kept images (the real ones of a mixed policy) are filled
    with new decoder means (rounded to 8 bits, like a stored image), their latents drawn
    from a generator seeded by ``fresh_seeds[c]``.

    Each chain's shuffling, reparameterisation noise and latents come from generators
    seeded by its own seeds, and Adam updates every weight elementwise, so chain c's
    training is a function of its initial weights, its images, its decoder and its seeds
    alone (up to the rounding of batched kernels). Returns each chain's mean negative
    ELBO per image over the last epoch.
    """
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    dev = images.device
    C, n = images.shape[:2]
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def chain_loss(p, b, x, eps):
        return functional_call(skeleton, (p, b), (x, eps))

    batched_loss = vmap(chain_loss)
    shuffles = [torch.Generator().manual_seed(s) for s in seeds]
    noises = [torch.Generator(device=dev).manual_seed(s + 1) for s in seeds]
    # the fused kernel updates every weight in one pass: the looped Adam was about a fifth
    # of a step's time for the small networks of the quick profile
    opt = torch.optim.Adam(params.values(), lr=lr, weight_decay=weight_decay, fused=dev.type in ("cpu", "cuda"))
    use_amp = amp_dtype is not None and amp_dtype != torch.float32
    scaler = torch.amp.GradScaler(dev.type) if use_amp and amp_dtype == torch.float16 else None
    rows = torch.arange(C, device=dev)[:, None]
    if decoders is None:
        fresh = 0
    elif len(decoders) != C or fresh_seeds is None or len(fresh_seeds) != C or fresh < 1:
        raise ValueError(f"decoders for {C} chains need fresh >= 1 and {C} fresh_seeds")
    latents = [torch.Generator(device=dev).manual_seed(s) for s in (fresh_seeds or [])]
    slots = n + fresh
    total = torch.zeros(C, device=dev)
    for _ in range(epochs):
        order = torch.stack([torch.randperm(slots, generator=g) for g in shuffles]).to(dev)
        total = torch.zeros(C, device=dev)
        for i in range(0, slots, batch_size):
            if fresh:
                x = torch.stack([fill_batch(images[c], order[c, i:i + batch_size], decoders[c], latents[c])
                                 for c in range(C)])
            else:
                x = images[rows, order[:, i:i + batch_size]]
            eps = torch.stack([torch.randn((x.shape[1], models[0].latent), generator=g, device=dev) for g in noises])
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                losses = batched_loss(params, buffers, x, eps)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(losses.sum()).backward()
                scaler.step(opt)
                scaler.update()
            else:
                losses.sum().backward()
                opt.step()
            total += losses.detach()
    with torch.no_grad():
        for c, m in enumerate(models):
            for name, p in m.named_parameters():
                p.copy_(params[name][c])
            m.eval()
    return (total / slots).tolist()


def fill_batch(kept: torch.Tensor, slots: torch.Tensor, decoder: VAE, latents: torch.Generator) -> torch.Tensor:
    """One chain's batch: the kept images whose slots are drawn (index < len(kept)),
    then one new decoder image for every other slot, from latents drawn now."""
    own = slots[slots < len(kept)]
    k = len(slots) - len(own)
    if k == 0:
        return kept[own]
    with torch.no_grad():
        z = torch.randn((k, decoder.latent), generator=latents, device=kept.device)
        new = decode_8bit(decoder, z)
    return torch.cat([kept[own], new]) if len(own) else new
