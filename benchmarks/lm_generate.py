"""Data-set generation: the library's batched beam search against ``generate`` one
prompt at a time.

Each generation of chapter 4 (Shumailov et al., Nature 631:755, 2024; the authors'
``main.py``) continues every training block with 5-beam search, a block's length of new
tokens, repetition penalty 3.0. :func:`collapse_lib.lm.generate_continuations` does so
in large batches with the key/value cache (and autocast on a GPU); the baseline calls
Hugging Face ``model.generate`` on one prompt at a time with the same settings. The
loop's cost is the same for every prompt, so it runs on a subset of the blocks; tokens
per second need no scaling. Blocks all have the same length, so batching needs no
padding and must give the same tokens: the line reports the share of identical
continuations.
"""
from __future__ import annotations

import time

import numpy as np

from .common import Result, rate, torch_sync

NAME = "lm_generate"
TARGET = ">= 10x the tokens/s of one prompt at a time on a GPU"


def one_at_a_time(model, blocks, *, num_beams, max_new_tokens, repetition_penalty) -> np.ndarray:
    """The baseline: ``model.generate`` on each block alone (same settings and precision)."""
    import torch

    from collapse_lib.runtime import autocast_dtype

    dev = next(model.parameters()).device
    dtype = autocast_dtype(dev)
    use_amp = dev.type == "cuda" and dtype != torch.float32
    eos = model.config.eos_token_id
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else eos
    out = []
    for block in blocks:
        ids = torch.as_tensor(block[None], dtype=torch.long, device=dev)
        with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
            seqs = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=num_beams,
                                  max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                                  repetition_penalty=float(repetition_penalty), length_penalty=1.0,
                                  early_stopping=True, use_cache=True, eos_token_id=eos, pad_token_id=pad)
        out.append(seqs[0, ids.shape[1]:].cpu().numpy())
    return np.stack(out)


def run(quick: bool = False, device: str = "cpu") -> list[Result]:
    import torch

    from collapse_lib.runtime import cpu_threads
    from collapse_lib.lm import generate_continuations

    from .lm_models import setup, threads

    on_gpu = device.startswith("cuda")
    n, n_loop = (256, 16) if on_gpu and quick else (1024, 32) if on_gpu else (64, 8) if quick else (192, 24)
    model, blocks, cfg, what = setup(device, n)
    settings = dict(num_beams=cfg.num_beams, max_new_tokens=cfg.block_size, repetition_penalty=cfg.repetition_penalty)
    sync = torch_sync(device)
    with cpu_threads(threads(cfg, on_gpu)):
        # warm-up (kernels, allocator, lazy initialisation): not timed
        generate_continuations(model, blocks[:2], batch_size=2, **settings)
        one_at_a_time(model, blocks[:1], **settings)
        start = time.perf_counter()
        loop_out = one_at_a_time(model, blocks[:n_loop], **settings)
        if sync:
            sync()
        t_loop = time.perf_counter() - start
        ours, stats = generate_continuations(model, blocks, batch_size=cfg.generate_batch_size, return_stats=True,
                                             **settings)
    same = float(np.mean(np.all(ours[:n_loop] == loop_out, axis=1)))
    loop_rate = n_loop * cfg.block_size / t_loop
    return [Result(
        f"LM generation, {cfg.num_beams}-beam, {n} blocks", t_loop * n / n_loop, stats.seconds,
        rate(stats.tokens_per_s, "tokens/s"), TARGET,
        met=bool(stats.tokens_per_s >= 10 * loop_rate) if on_gpu else None,
        notes=f"{device}; {what}; {cfg.block_size}-token prompts, {cfg.block_size} new tokens, batches of "
              f"{cfg.generate_batch_size}; one at a time {rate(loop_rate, 'tokens/s')} on {n_loop} prompts "
              f"(scaled to {n}); identical continuations {same:.0%}",
        extra={"tokens_per_s": stats.tokens_per_s, "baseline_tokens_per_s": loop_rate, "identical": same,
               "torch_threads": torch.get_num_threads()},
    )]
