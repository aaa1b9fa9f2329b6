"""The classifier that reads generated digits: a one-hidden-layer network trained on the
real digits of the data set, whose predictions on a generation's samples give the shares
of the ten classes (chapters 3 and 5: whether a collapsing VAE keeps every digit, the
class-balance measure the course reports beside the latent spread that Shumailov et al.,
Nature 2024, track for their VAE)."""
from __future__ import annotations

import numpy as np


class DigitClassifier:
    """A one-hidden-layer network trained on real digits; ``predict`` gives labels."""

    def __init__(self, pixels: int, hidden: int = 128, epochs: int = 10, seed: int = 0, device: str | None = None):
        self.pixels, self.hidden, self.epochs, self.seed, self.device = pixels, hidden, epochs, seed, device

    def _device(self):
        import torch

        from .runtime import device

        return torch.device(self.device) if self.device else device()

    def fit(self, images: np.ndarray, labels: np.ndarray) -> "DigitClassifier":
        import torch
        from torch import nn

        from .runtime import cpu_threads

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
