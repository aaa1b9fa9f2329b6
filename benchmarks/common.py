"""What every benchmark returns, and how it times things.

A benchmark module has ``NAME`` (its ``--only`` name) and ``run(quick, device)``,
which returns a list of :class:`Result`, one per line of the table. A line compares
the obvious baseline with the library's way, both timed in the same process one after
the other, and gives the absolute throughput beside the ratio.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class Result:
    """One line of the table."""

    benchmark: str  # what is measured
    baseline_s: float | None = None  # seconds of the baseline (None: no baseline)
    ours_s: float | None = None  # seconds of the library's way
    throughput: str = ""  # the absolute rate, with its unit
    target: str = ""  # the target of the course specification
    met: bool | None = None  # whether the target is met (None: not judged in this mode)
    notes: str = ""  # sizes, scaling, what bounds the number
    error: str | None = None  # the exception, when the benchmark failed
    extra: dict = field(default_factory=dict)  # further numbers for the JSON output

    @property
    def ratio(self) -> float | None:
        if self.baseline_s is None or self.ours_s is None or self.ours_s <= 0:
            return None
        return self.baseline_s / self.ours_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def timed(fn: Callable[[], object], repeats: int = 1, sync: Callable[[], None] | None = None) -> tuple[float, object]:
    """The best wall-clock time of ``repeats`` calls of ``fn`` and the last call's value.

    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before the clock stops, so that
    asynchronous GPU work is counted.
    """
    best, value = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        value = fn()
        if sync is not None:
            sync()
        best = min(best, time.perf_counter() - start)
    return best, value


def torch_sync(device) -> Callable[[], None] | None:
    """``torch.cuda.synchronize`` for a CUDA device, else None."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return None


def default_device() -> str:
    """"cuda" when a GPU is present, else "cpu"."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def machine() -> str:
    """The CPU cores, torch threads and GPU of this machine, in words."""
    words = [f"{os.cpu_count()} CPU cores"]
    try:
        import torch

        words.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
        if torch.cuda.is_available():
            words.append(torch.cuda.get_device_name(0))
    except ImportError:
        pass
    return ", ".join(words)


def rate(value: float, unit: str) -> str:
    """A throughput with three significant digits and a k/M suffix."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix} {unit}"
    return f"{value:.3g} {unit}"
