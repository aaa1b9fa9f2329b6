"""Real data drawn from a fixed pool: images, token blocks, any array of rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass
class PoolSource:
    """Real data for the engine: each chain draws ``n`` distinct rows of a fixed pool
    (the real training set), without replacement, with one call on ``rng``."""

    pool: np.ndarray  # (N, ...) the rows to draw from
    noun: ClassVar[str] = "rows"  # what a row is, for error messages

    def sample(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Rows (chains, n, ...), drawn without replacement with one call on ``rng``."""
        N = len(self.pool)
        if n > N:
            raise ValueError(f"samples={n!r} is not allowed: the real data set has only {N} {self.noun}")
        idx = np.argsort(rng.random((chains, N)), axis=1)[:, :n]
        return self.pool[idx]
