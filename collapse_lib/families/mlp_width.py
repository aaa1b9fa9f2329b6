"""Two-layer networks of many widths, trained side by side.

The neural counterpart of the random-projection model in Dohmatob, Feng, Subramonian and
Kempe, "Strong Model Collapse" (ICLR 2025, section 4.1): fully connected networks with one
hidden ReLU layer, of growing width, trained on images whose labels come partly from
another network, and scored on real labels.

:class:`WidthSweepMLP` trains every (label set, width) pair at once. The hidden units of
all widths sit in one wide layer, split into consecutive blocks (one per width); each
block has its own output layer, so the blocks share no parameter and the summed loss
trains each network exactly as if it were alone (Adam updates every weight elementwise).
Label sets (seeds, synthetic fractions) are a leading batch axis of every weight. One
training step costs about as much as one network whose width is the sum of the widths.
"""
from __future__ import annotations

import numpy as np

from .random_features import check_widths
from ..validation import check_int, check_positive


class WidthSweepMLP:
    """One-hidden-layer ReLU classifiers of each width in ``widths``, for B label sets.

    Parameters
    ----------
    widths: increasing hidden widths.
    classes: number of classes.
    steps: full-batch Adam steps (the networks are trained to fit their training labels).
    lr: Adam learning rate.
    seed: initialisation of label set b uses seed + b.
    device: torch device name (default: CUDA if present, else CPU).
    batch_size: points per Adam step, drawn without replacement in a new random order every
        pass over the points (from ``seed``); None (or at least the number of points): full batch.

    After ``fit``: ``train_accuracy_`` (B, K), the accuracy on the training labels.
    """

    def __init__(self, widths, classes: int = 10, steps: int = 300, lr: float = 1e-2, seed: int = 0,
                 device: str | None = None, batch_size: int | None = None):
        self.widths = widths
        self.batch_size = batch_size
        self.classes = classes
        self.steps = steps
        self.lr = lr
        self.seed = seed
        self.device = device

    def _device(self):
        import torch

        from ..runtime import device

        return torch.device(self.device) if self.device else device()

    @staticmethod
    def _inputs(X, B: int, dev):
        """Inputs as a float tensor (B, N, D), shared (not copied) when X is (N, D)."""
        import torch

        x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=dev)
        return x.expand(B, -1, -1) if x.ndim == 2 else x

    def _logits(self, x):
        """Logits (B, K, N, classes) of every label set and width for inputs x (B, N, D)."""
        import torch

        h = torch.relu(torch.baddbmm(self.b1_[:, None], x, self.W1_))  # (B, N, H)
        out = [h[:, :, a:b] @ self.W2_[:, a:b] for a, b in zip(self.starts_[:-1], self.starts_[1:])]
        return torch.stack(out, 1) + self.b2_[:, :, None]

    def fit(self, X: np.ndarray, y: np.ndarray) -> "WidthSweepMLP":
        """Train on inputs X (N, D) shared by all label sets, or (B, N, D), and integer
        labels y (B, N)."""
        import torch

        from ..runtime import cpu_threads

        widths = check_widths(self.widths)
        classes = check_int("classes", self.classes, minimum=2)
        steps = check_int("steps", self.steps, minimum=1)
        lr = check_positive("lr", self.lr)
        y = np.asarray(y)
        if y.ndim != 2:
            raise ValueError(f"y.shape={y.shape!r} is not allowed: labels must be (label sets, points)")
        B, N = y.shape
        dev = self._device()
        x = self._inputs(X, B, dev)
        if x.shape[1] != N:
            raise ValueError(f"X has {x.shape[1]} points but y has {N}: they must match")
        D, H = x.shape[-1], int(widths.sum())
        self.starts_ = np.concatenate([[0], np.cumsum(widths)]).tolist()
        g = torch.Generator().manual_seed(int(self.seed))
        # PyTorch's default (Kaiming-uniform) initialisation, each block with its own fan-in
        bound1 = 1 / np.sqrt(D)
        W1 = (torch.rand(B, D, H, generator=g) * 2 - 1) * bound1
        b1 = (torch.rand(B, H, generator=g) * 2 - 1) * bound1
        fan_in = torch.as_tensor(np.repeat(widths, widths), dtype=torch.float32)
        W2 = (torch.rand(B, H, classes, generator=g) * 2 - 1) / fan_in.sqrt()[None, :, None]
        b2 = (torch.rand(B, len(widths), classes, generator=g) * 2 - 1) / torch.as_tensor(
            widths, dtype=torch.float32).sqrt()[None, :, None]
        params = [t.to(dev).requires_grad_() for t in (W1, b1, W2, b2)]
        self.W1_, self.b1_, self.W2_, self.b2_ = params
        target = torch.as_tensor(y, dtype=torch.long, device=dev)[:, None].expand(B, len(widths), N)
        opt = torch.optim.Adam(params, lr=lr)
        from ..progress import progress

        batch = N if self.batch_size is None else min(N, check_int("batch_size", self.batch_size, minimum=1))
        shuffle, order = torch.Generator().manual_seed(int(self.seed) + 1), None
        with cpu_threads(None if dev.type == "cuda" else 1):
            for step in progress(range(steps), desc="training all widths"):
                xb, tb = x, target
                if batch < N:  # a minibatch: the next points of this pass's random order
                    first = (step * batch) % (N - N % batch)
                    if first == 0:
                        order = torch.randperm(N, generator=shuffle).to(dev)
                    idx = order[first:first + batch]
                    xb, tb = x[:, idx], target[:, :, idx]
                logits = self._logits(xb)
                # mean over points, summed over label sets and widths: each network's own loss
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, classes), tb.reshape(-1),
                                                         reduction="sum") / tb.shape[-1]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        for p in params:
            p.requires_grad_(False)
        self.widths_ = widths
        self.train_accuracy_ = self.score(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted classes (B, K, N) for inputs X (N, D) or (B, N, D)."""
        import torch

        B = self.W1_.shape[0]
        with torch.no_grad():
            x = self._inputs(X, B, self.W1_.device)
            return self._logits(x).argmax(-1).cpu().numpy()

    def score(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Accuracy (B, K) on labels y (N,) or (B, N)."""
        y = np.asarray(y)
        y = y[:, None] if y.ndim == 2 else y
        return (self.predict(X) == y).mean(-1)
