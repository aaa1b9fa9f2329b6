"""VAE training throughput: the library's pipeline against a plain DataLoader loop.

Chapter 3 (Shumailov et al., Nature 631:755, 2024, the VAE experiment) trains a fresh
VAE per chain every generation. The library (:meth:`collapse_lib.families.vae.VAEFamily.fit`)
keeps every chain's images on the device as one tensor, draws each chain's shuffling
as index permutations, and trains all chains' networks in one vectorised step
(``torch.func.vmap`` over stacked weights). The baseline is the loop a PyTorch
tutorial writes: one chain after another, a ``DataLoader(TensorDataset(images),
shuffle=True)`` and a training step per batch, with the same network, loss, optimiser,
batch size, epochs, precision and CPU threads.

Throughput is training images per second: chains x images x epochs / seconds.
- CPU (and ``--quick``): the quick profile's MLP VAE on its digits (offline).
- GPU: the paper's convolutional VAE on 28x28 images, at the ``gpu`` profile's sizes;
  the images are random binary pixels (the cost of a step does not depend on them),
  so that no download is needed.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .common import Result, rate, timed, torch_sync

NAME = "vae"
TARGET = "(no target: faster than the plain loop)"


def dataloader_loop(family, images: np.ndarray) -> list[float]:
    """Train one VAE per chain with a plain DataLoader loop; last-epoch loss per image."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from collapse_lib.runtime import cpu_threads
    from collapse_lib.runtime import autocast_dtype

    dev = family.torch_device()
    amp = autocast_dtype(dev)
    use_amp = amp != torch.float32
    scaler = torch.amp.GradScaler(dev.type) if use_amp and amp == torch.float16 else None
    losses = []
    with cpu_threads(1 if dev.type == "cpu" and family.arch == "mlp" else None):
        for c in range(images.shape[0]):
            torch.manual_seed(c)
            model = family.new_model().to(dev)
            opt = torch.optim.Adam(model.parameters(), lr=family.lr, weight_decay=family.weight_decay)
            data = TensorDataset(torch.as_tensor(images[c]).float().div_(255.0))
            loader = DataLoader(data, batch_size=family.batch_size, shuffle=True)
            for _ in range(family.epochs):
                total = 0.0
                for (x,) in loader:
                    x = x.to(dev, non_blocking=True)
                    eps = torch.randn(x.shape[0], family.latent, device=dev)
                    with torch.autocast(dev.type, dtype=amp, enabled=use_amp):
                        loss = model.loss(x, eps)
                    opt.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(loss).backward()
                        scaler.step(opt)
                        scaler.update()
                    else:
                        loss.backward()
                        opt.step()
                    total += loss.item()
            losses.append(total / images.shape[1])
    return losses


def setup(quick: bool, device: str):
    """The family and the images (C, n, pixels) of the measurement."""
    from collapse_lib.experiments.vae import PROFILES
    from collapse_lib.families.vae import VAEFamily

    if device.startswith("cuda"):
        cfg = PROFILES["gpu"]
        n, epochs = (4096, 1) if quick else (cfg.samples, 2)
        fam = VAEFamily(pixels=784, arch=cfg.arch, latent=cfg.latent, hidden=cfg.hidden, epochs=epochs,
                        batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, device="cuda")
        images = (np.random.default_rng(0).random((cfg.chains, n, 784)) < 0.13).astype(np.uint8) * 255
        return fam, images, f"cuda; conv VAE (gpu profile), {cfg.chains} chains x {n} random 28x28 images"
    from collapse_lib.data.images import ImageSource, load_images

    cfg = PROFILES["quick"]
    data = load_images(cfg.dataset)
    epochs = 3 if quick else 20
    fam = VAEFamily(pixels=data.pixels, arch=cfg.arch, latent=cfg.latent, hidden=cfg.hidden, epochs=epochs,
                    batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, device="cpu")
    images = ImageSource(data.train_images).sample(cfg.chains, cfg.samples, np.random.default_rng(0))
    return fam, images, (f"cpu; MLP VAE (quick profile), {cfg.chains} chains x {cfg.samples} "
                         f"{data.side}x{data.side} {cfg.dataset} digits")


def run(quick: bool = False, device: str = "cpu") -> list[Result]:
    from collapse_lib.families.vae import ImageSet

    fam, images, what = setup(quick, device)
    sync = torch_sync(fam.torch_device())
    C, n = images.shape[:2]
    seen = C * n * fam.epochs
    warm = replace(fam, epochs=1)  # first calls pay for torch's lazy initialisation: not timed
    dataloader_loop(warm, images[:1, : 2 * fam.batch_size])
    warm.fit(ImageSet(images[:, : 2 * fam.batch_size]))
    repeats = 1 if quick else 2  # best of: the machine may be shared
    t_loop, loop_losses = timed(lambda: dataloader_loop(fam, images), repeats=repeats, sync=sync)
    t_ours, params = timed(lambda: fam.fit(ImageSet(images)), repeats=repeats, sync=sync)
    return [Result(
        f"VAE training, {fam.arch}", t_loop, t_ours, rate(seen / t_ours, "images/s"), TARGET,
        met=bool(t_ours < t_loop),
        notes=f"{what}, {fam.epochs} epochs, batch {fam.batch_size}; the loop: {rate(seen / t_loop, 'images/s')}; "
              f"last-epoch loss/image ours {np.mean(params.loss):.1f}, loop {np.mean(loop_losses):.1f}",
        extra={"images_per_s": seen / t_ours, "baseline_images_per_s": seen / t_loop},
    )]
