"""Where and how computations run: device, dtype, seeding, the cache directory.

Torch is imported only when a device or dtype is asked for, so the chapters that run
on NumPy alone start quickly.
"""
from __future__ import annotations

import os
import random
from contextlib import contextmanager
from pathlib import Path

import numpy as np

#: Purposes of the random streams of one generation. Each generation of a run draws
#: from its own streams, so a resumed run draws exactly what an uninterrupted one would.
STREAMS = ("real", "synthetic", "policy", "eval")


def generation_rng(seed: int, generation: int, purpose: str) -> np.random.Generator:
    """The random stream of ``purpose`` at ``generation`` of a run seeded by ``seed``.

    Streams depend only on ``(seed, generation, purpose)``: they do not depend on how
    many generations ran before, which is what makes resuming exact.
    """
    if purpose not in STREAMS:
        raise ValueError(f"purpose={purpose!r} is not allowed: it must be one of {STREAMS}")
    return np.random.default_rng([int(seed), int(generation), STREAMS.index(purpose)])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's legacy and (when imported) torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def device():
    """CUDA when it is present, else the CPU (a ``torch.device``)."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: The first CUDA compute capability with bf16 tensor cores (Ampere: A100, A10, RTX 30xx).
BF16_CAPABILITY = (8, 0)


def precision_for(capability) -> str:
    """The reduced precision for a device of CUDA compute ``capability`` ``(major,
    minor)``, or None for the CPU: ``"bfloat16"`` from Ampere on (8.0), ``"float16"``
    before (the T4 is 7.5, the V100 7.0), ``"float32"`` on the CPU.

    The capability decides, not ``torch.cuda.is_bf16_supported()``, which also says yes
    where bf16 is only emulated (a T4), and emulated bf16 is slower than float32."""
    if capability is None:
        return "float32"
    major, minor = (int(v) for v in capability)
    return "bfloat16" if (major, minor) >= BF16_CAPABILITY else "float16"


def needs_grad_scaler(precision) -> bool:
    """Whether training in ``precision`` needs a gradient scaler: only float16, whose
    5 exponent bits let small gradients underflow (bf16 has float32's 8)."""
    return str(precision).replace("torch.", "") == "float16"


def autocast_dtype(dev=None):
    """The reduced precision to train in on ``dev`` (a ``torch.dtype``): bf16 on Ampere
    and later GPUs, fp16 on older ones (such as the T4), float32 on the CPU
    (:func:`precision_for`)."""
    import torch

    dev = dev or device()
    if getattr(dev, "type", str(dev)) != "cuda":
        return torch.float32
    return getattr(torch, precision_for(torch.cuda.get_device_capability(dev)))


def cuda_available() -> bool:
    """Whether a CUDA device is usable, without importing torch when it is absent."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cache_dir(*parts: str) -> Path:
    """The directory for downloaded data, checkpoints and runs (created on demand).

    ``COLLAPSE_CACHE`` overrides the default ``~/.cache/collapse_lib``.
    """
    root = Path(os.environ.get("COLLAPSE_CACHE", Path.home() / ".cache" / "collapse_lib"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def cpu_threads(n: int | None):
    """Run the block with ``n`` CPU threads of torch (None: unchanged). Networks as small as
    the 8x8-digit models train fastest on one thread: synchronising two costs more than it
    gains, and much more on a busy machine."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
