"""Language-model fine-tuning: tokens per second and model FLOPs utilisation.

The fine-tuning of chapter 4 (Shumailov et al., Nature 631:755, 2024: AdamW, cosine
schedule, 64-token blocks, batches of 128) through :func:`collapse_lib.lm.fine_tune`,
which on a GPU trains in bf16/fp16 autocast with TF32 and the fused AdamW, against the
plain loop a tutorial writes: float32, ``DataLoader`` batches, the default AdamW, the
same blocks, batch size and learning rate. The model FLOPs utilisation is
6 x parameters x tokens / seconds / the device's dense half-precision peak
(:data:`collapse_lib.lm.PEAK_FLOPS`); the CPU has none to report.
"""
from __future__ import annotations

import numpy as np

from .common import Result, rate, timed, torch_sync

NAME = "lm_train"
TARGET = ">= 40% MFU for OPT-125m on an H100 (block 64)"


def plain_loop(model, blocks, *, batch_size: int, lr: float, epochs: int = 1) -> float:
    """The baseline: float32 forward/backward and AdamW over DataLoader batches; mean loss."""
    import torch
    from torch.utils.data import DataLoader

    dev = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    data = torch.as_tensor(blocks, dtype=torch.long)
    model.train()
    total, count = 0.0, 0
    for _ in range(epochs):
        for x in DataLoader(data, batch_size=batch_size, shuffle=True):
            x = x.to(dev)
            loss = model(input_ids=x, labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, count = total + loss.item(), count + 1
    model.eval()
    return total / count


def run(quick: bool = False, device: str = "cpu") -> list[Result]:
    from collapse_lib.experiments.lm import PROFILES
    from collapse_lib.runtime import cpu_threads
    from collapse_lib.lm import fine_tune

    from .lm_models import setup, threads

    on_gpu = device.startswith("cuda")
    n = (2048 if quick else 8192) if on_gpu else 192
    epochs = 1 if (quick or on_gpu) else 5
    model, blocks, cfg, what = setup(device, n)
    if on_gpu:  # the paper's batches: 128 blocks, in micro-batches of the paper profile
        cfg = PROFILES["paper"]
    kw = dict(batch_size=cfg.batch_size, lr=cfg.lr)
    sync = torch_sync(device)
    with cpu_threads(threads(cfg, on_gpu)):
        fine_tune(model, blocks[: 2 * cfg.batch_size], epochs=1, micro_batch_size=cfg.micro_batch_size, **kw)  # warm-up
        plain_loop(model, blocks[: 2 * cfg.batch_size], **kw)
        repeats = 1 if quick else 2  # best of: the machine may be shared
        t_loop, _ = timed(lambda: plain_loop(model, blocks, epochs=epochs, **kw), repeats=repeats, sync=sync)
        stats = min((fine_tune(model, blocks, epochs=epochs, micro_batch_size=cfg.micro_batch_size, **kw)
                     for _ in range(repeats)), key=lambda s: s.seconds)
    tokens = epochs * blocks.size
    mfu = "" if stats.mfu is None else f", MFU {stats.mfu:.1%}"
    return [Result(
        f"LM fine-tuning, {blocks.shape[1]}-token blocks", t_loop, stats.seconds,
        rate(stats.tokens_per_s, "tokens/s") + mfu, TARGET,
        met=None if stats.mfu is None else bool(stats.mfu >= 0.40),
        notes=f"{device}; {what}, {stats.n_params / 1e6:.2f}M parameters; {n} blocks x {epochs} epoch(s), batches of "
              f"{cfg.batch_size}; {stats.dtype} autocast; plain float32 loop {rate(tokens / t_loop, 'tokens/s')}"
              + ("" if stats.mfu is not None else "; MFU: no peak to compare with on the CPU"),
        extra={"tokens_per_s": stats.tokens_per_s, "mfu": stats.mfu, "baseline_tokens_per_s": tokens / t_loop,
               "final_loss": float(np.mean(stats.losses[-1:]))},
    )]
