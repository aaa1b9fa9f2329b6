"""Fine-tuning a causal language model on token blocks, written for throughput.

The recipe of Shumailov et al., "AI models collapse when trained on recursively
generated data" (Nature 631:755, 2024; the authors' ``plt_model.py``): AdamW with a
cosine-annealed learning rate (``eta_min`` 1e-6), next-token cross-entropy on 64-token
blocks, batches of 128 blocks. Here the cosine runs per optimizer step rather than per
epoch, and a batch can be split into micro-batches whose gradients accumulate (so a
batch of 128 fits a small GPU).

On a GPU the loop runs in mixed precision (bf16 where supported, fp16 with a gradient
scaler on older GPUs such as the T4; :func:`collapse_lib.runtime.autocast_dtype`), with
TF32 matrix products and the fused AdamW kernel. :class:`FineTuneStats` reports tokens
per second and the model FLOPs utilisation, 6 x parameters x tokens / seconds / peak
FLOPs of the device (Kaplan et al., 2020; Chowdhery et al., 2022), with peaks from
:data:`PEAK_FLOPS`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..validation import check_choice, check_int, check_positive

#: Dense bf16/fp16 tensor-core peak FLOP/s by CUDA device model, from the vendors' data
#: sheets. A key matches a device name when its words appear, whole and in order, among
#: the name's words (split at spaces and dashes): "L4" matches "NVIDIA L4" but not
#: "NVIDIA L40" or "NVIDIA L40S"; the longest matching key wins, so "H100 PCIe" wins
#: over "H100".
PEAK_FLOPS = {
    "H100 PCIe": 756e12,
    "H100 NVL": 835e12,
    "H100": 989e12,  # SXM
    "H200": 989e12,
    "GH200": 989e12,
    "B200": 2250e12,
    "A100": 312e12,
    "A10G": 70e12,
    "L40S": 362e12,
    "L40": 181e12,
    "L4": 121e12,
    "A10": 125e12,
    "V100": 125e12,
    "T4": 65e12,
}


def _words(name: str) -> list[str]:
    return name.replace("-", " ").lower().split()


def peak_flops_of_name(name: str) -> float | None:
    """The :data:`PEAK_FLOPS` entry of a device called ``name`` (as CUDA reports it), or None."""
    words = _words(name)
    best, best_len = None, 0
    for key, flops in PEAK_FLOPS.items():
        k = _words(key)
        if len(k) > best_len and any(words[i:i + len(k)] == k for i in range(len(words) - len(k) + 1)):
            best, best_len = flops, len(k)
    return best


def peak_flops(dev=None) -> float | None:
    """The dense half-precision peak of a CUDA device, or None (the CPU, unknown GPUs)."""
    import torch

    dev = torch.device(dev) if dev is not None else None
    if dev is None or dev.type != "cuda" or not torch.cuda.is_available():
        return None
    return peak_flops_of_name(torch.cuda.get_device_name(dev))


def model_flops_utilisation(n_params: int, tokens: int, seconds: float, peak: float | None) -> float | None:
    """6 N T / (seconds x peak): the share of the device's peak spent on the model's
    forward and backward matrix products (None without a known peak)."""
    if peak is None or seconds <= 0:
        return None
    return 6.0 * n_params * tokens / seconds / peak


def enable_fast_matmul() -> None:
    """TF32 for float32 matrix products and convolutions on CUDA (Ampere and later)."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


@dataclass
class FineTuneStats:
    """What one call of :func:`fine_tune` did and how fast."""

    losses: list[float] = field(default_factory=list)  # mean token cross-entropy of each epoch (nats)
    steps: int = 0  # optimizer steps
    tokens: int = 0  # tokens trained on (blocks x block size x epochs)
    seconds: float = 0.0  # wall-clock time of the loop
    n_params: int = 0
    device: str = "cpu"
    dtype: str = "float32"  # the autocast precision
    mfu: float | None = None  # model FLOPs utilisation (None on the CPU)
    val_losses: list[float] = field(default_factory=list)  # mean token NLL on the validation blocks after each epoch
    best_epoch: int | None = None  # the epoch (1-based) whose weights were kept; None: no validation, the last

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class TrainingPlan:
    """How :func:`fine_tune` runs on a kind of device: the choices that differ between a
    GPU and the CPU, made in one place (:func:`training_plan`) so they can be checked for
    every kind of device without one."""

    dtype: str  # the autocast precision: "bfloat16", "float16" or "float32"
    autocast: bool  # whether forward passes run under torch.autocast (any dtype but float32)
    grad_scaler: bool  # fp16's gradient scaling (its 5 exponent bits let small gradients underflow)
    fused_adamw: bool  # the fused AdamW kernel (CUDA only)
    fast_matmul: bool  # TF32 matrix products (CUDA only)


def training_plan(device_type: str, *, amp: bool = True, precision: str | None = None,
                  device_precision: str = "float32") -> TrainingPlan:
    """The :class:`TrainingPlan` of a device of type ``device_type`` ("cuda", "cpu", ...)
    whose own reduced precision is ``device_precision``
    (:func:`collapse_lib.runtime.precision_for`): ``precision`` when given, else the
    device's with ``amp`` and float32 without."""
    from ..runtime import needs_grad_scaler

    if precision is not None:
        dtype = check_choice("precision", precision, ("bfloat16", "float16", "float32"))
    else:
        dtype = device_precision if amp else "float32"
    cuda = device_type == "cuda"
    autocast = dtype != "float32"
    return TrainingPlan(dtype=dtype, autocast=autocast, grad_scaler=autocast and needs_grad_scaler(dtype),
                        fused_adamw=cuda, fast_matmul=cuda)


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def sum_gradients(model, group) -> None:
    """Sum the gradients of ``model``'s trainable weights over ``group`` (one
    all-reduce of a flat buffer); a weight without a gradient on a rank counts as zero."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    group.sum_(flat)
    start = 0
    for p in params:
        p.grad = flat[start:start + p.numel()].view_as(p).clone()
        start += p.numel()


def fine_tune(model, blocks, *, epochs: int = 5, batch_size: int = 128, micro_batch_size: int | None = None,
              lr: float = 2e-5, min_lr: float = 1e-6, weight_decay: float = 0.0, seed: int = 0,
              amp: bool = True, precision: str | None = None, progress: bool | None = False,
              desc: str = "fine-tuning", group=None, validation=None) -> FineTuneStats:
    """Train ``model`` in place on ``blocks`` (n, block_size) of token ids, every block a
    training sequence (next-token loss on all its positions), for ``epochs`` passes in a
    random order drawn from ``seed``; the model is left in eval mode.

    Parameters
    ----------
    batch_size: blocks per optimizer step (the paper: 128).
    micro_batch_size: blocks per forward/backward pass; gradients of the micro-batches of
        a batch accumulate (default: the whole batch at once).
    lr, min_lr: the cosine schedule starts at ``lr`` and ends at ``min_lr`` after the last step.
    amp: mixed precision on CUDA (bf16, or fp16 with a gradient scaler); ignored on the CPU.
    precision: the autocast dtype, ``"bfloat16"``, ``"float16"`` or ``"float32"``, instead
        of the device's choice (:func:`collapse_lib.runtime.autocast_dtype`); bf16 also
        runs on the CPU (as the tests do, to check the mixed-precision path without a GPU).
    group: a :class:`collapse_lib.distributed.Group` of ranks that hold the same model
        and train it data-parallel: the micro-batches of every step are dealt to the
        ranks in turn (a batch is cut into at least one micro-batch per rank), the
        gradients are summed over the group before the step, and every rank ends with
        the same model, that of one process up to the order of the sums.
    validation: real blocks (m, block_size) scored after every epoch; the model ends with
        the weights of the epoch with the lowest mean token loss on them (the first on a
        tie), as the authors' ``ModelCheckpoint(monitor="val_loss")`` keeps the best
        checkpoint. None: the weights of the last epoch.

    Dropout and shuffling draw from generators seeded by ``seed`` (torch's global state is
    restored afterwards), so the same call on the same device gives the same model.
    """
    import torch

    from ..progress import progress as bar
    from ..runtime import autocast_dtype

    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    micro = batch_size if micro_batch_size is None else check_int("micro_batch_size", micro_batch_size, minimum=1)
    micro = min(micro, batch_size)
    if group is not None:
        micro = min(micro, -(-batch_size // group.size))
    lr = check_positive("lr", lr)
    if not (0 <= min_lr <= lr):
        raise ValueError(f"min_lr={min_lr!r} is not allowed: it must be between 0 and lr={lr!r}")
    if not (weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r} is not allowed: it must be a number >= 0")
    blocks = np.asarray(blocks)
    if blocks.ndim != 2 or len(blocks) == 0 or blocks.shape[1] < 2:
        raise ValueError(f"blocks of shape {blocks.shape} are not allowed: they must be (n >= 1, block_size >= 2)")
    from .models import count_parameters, max_positions

    if blocks.shape[1] > max_positions(model):
        raise ValueError(f"block_size={blocks.shape[1]!r} is not allowed: the model takes at most "
                         f"{max_positions(model)} tokens")
    if validation is not None:
        validation = np.asarray(validation)
        if validation.ndim != 2 or len(validation) == 0 or validation.shape[1] < 2:
            raise ValueError(f"validation blocks of shape {validation.shape} are not allowed: they must be "
                             "(m >= 1, block_size >= 2)")

    dev = next(model.parameters()).device
    plan = training_plan(dev.type, amp=amp, precision=precision,
                         device_precision=str(autocast_dtype(dev)).replace("torch.", ""))
    dtype, use_amp = getattr(torch, plan.dtype), plan.autocast
    if plan.fast_matmul:
        enable_fast_matmul()
    scaler = torch.amp.GradScaler(dev.type) if plan.grad_scaler else None
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                            **({"fused": True} if plan.fused_adamw else {}))
    n, L = blocks.shape
    steps_per_epoch = -(-n // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch, eta_min=min_lr)
    data = torch.as_tensor(blocks, dtype=torch.long, device=dev)
    shuffle = torch.Generator().manual_seed(int(seed))
    stats = FineTuneStats(n_params=count_parameters(model), device=str(dev), dtype=plan.dtype)

    best = None  # the weights of the best epoch so far (on the CPU), with validation
    model.train()
    _sync(dev)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(int(seed))
        for _ in bar(range(epochs), total=epochs, desc=desc, enabled=progress):
            order = torch.randperm(n, generator=shuffle).to(dev)
            total = torch.zeros((), device=dev)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                opt.zero_grad(set_to_none=True)
                for k, j in enumerate(range(0, len(idx), micro)):
                    if group is not None and k % group.size != group.rank:
                        continue
                    x = data[idx[j:j + micro]]
                    with torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
                        loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=x).loss
                    # the mean over the batch's tokens, accumulated over its micro-batches
                    part = loss * (len(x) / len(idx))
                    (scaler.scale(part) if scaler is not None else part).backward()
                    total += loss.detach().float() * len(x)
                if group is not None:
                    sum_gradients(model, group)
                if scaler is not None:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                sched.step()
                stats.steps += 1
            if group is not None:
                group.sum_(total)
            stats.losses.append(float(total) / n)
            if validation is not None:
                best = _keep_if_best(model, validation, stats, best)
                model.train()
    _sync(dev)
    stats.seconds = time.perf_counter() - start
    stats.tokens = epochs * n * L
    peak = peak_flops(dev)
    if peak is not None and group is not None:
        peak *= group.size  # the group's devices trained the tokens together
    stats.mfu = model_flops_utilisation(stats.n_params, stats.tokens, stats.seconds, peak)
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    return stats


def _keep_if_best(model, validation, stats: FineTuneStats, best):
    """Score ``model`` on ``validation`` after an epoch; returns the weights to keep (a CPU
    copy of the model's when this epoch is the best so far)."""
    from .perplexity import token_nll

    loss = float(token_nll(model, validation, batch_size=256).astype(np.float64).mean())
    stats.val_losses.append(loss)
    if stats.best_epoch is None or loss < stats.val_losses[stats.best_epoch - 1]:
        stats.best_epoch = len(stats.val_losses)
        return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return best
