"""Sampling whole blocks from a language model, and training one with test losses along the way.

Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025, section 4.2)
make their synthetic stories by sampling a GPT-2 at temperature 1 and top-p 1 (plain
ancestral sampling, not greedy or beam continuation), and read their language models as
scaling laws: the test loss against the training tokens seen. :func:`sample_blocks`
samples, with :func:`collapse_lib.decoding.decode` turning each step's probabilities into
the sampled distribution; :func:`train_with_checkpoints` trains from scratch on a stream
of blocks, one pass, at a constant learning rate after a warm-up (so that a model part-way
through is a model trained on fewer tokens, not one cut short of its schedule), and scores
the model on real test blocks at given token counts.
"""
from __future__ import annotations

import numpy as np

from ..validation import check_int, check_positive


def sample_blocks(model, n: int, length: int, *, start_token: int, temperature: float = 1.0, top_p: float = 1.0,
                  seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``n`` blocks of ``length`` tokens, each ``start_token`` followed by ``length - 1``
    tokens sampled from ``model`` one at a time (key/value cache,
    :func:`collapse_lib.lm.sampling.sample_continuations`), with ``temperature`` and
    ``top_p`` applied by :func:`collapse_lib.decoding.decode`; the uniform numbers come from a
    NumPy generator seeded by ``seed``, drawn batch by batch and token by token (the same call
    gives the same blocks). ``int32`` (n, length)."""
    import torch

    from ..decoding import decode
    from .sampling import sample_continuations

    n = check_int("n", n, minimum=1)
    length = check_int("length", length, minimum=2)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    check_positive("temperature", temperature)
    rng = np.random.default_rng(seed)
    uniforms = np.empty((n, length - 1))
    for first in range(0, n, batch_size):  # the order in which one batch after another consumes them
        b = min(batch_size, n - first)
        for t in range(length - 1):
            uniforms[first:first + b, t] = rng.random(b)

    def probs_of(logits):
        probs = torch.softmax(logits.double(), -1).cpu().numpy()
        return torch.as_tensor(decode(probs, temperature=temperature, top_p=top_p), device=logits.device)

    out = np.empty((n, length), dtype=np.int32)
    out[:, 0] = start_token
    out[:, 1:] = sample_continuations(model, np.full((n, 1), int(start_token)), uniforms, batch_size=batch_size,
                                      amp=False, probs_of=probs_of)
    return out


def train_with_checkpoints(model, blocks, checkpoints, test, *, batch_size: int = 32, lr: float = 1e-3,
                           warmup: int = 50, seed: int = 0, eval_batch_size: int = 64) -> np.ndarray:
    """Train ``model`` in place on ``blocks`` (n, L) in their order, one pass, ``batch_size``
    blocks per AdamW step (no weight decay), the learning rate rising linearly over
    ``warmup`` steps to ``lr`` and constant after; score it on ``test`` blocks (mean
    next-token loss, nats) as soon as the tokens seen reach each of ``checkpoints``
    (increasing, at most n L). Returns the losses, one per checkpoint. On CUDA the steps run
    under autocast (:func:`collapse_lib.runtime.autocast_dtype`)."""
    import torch

    from ..runtime import autocast_dtype
    from .perplexity import token_nll

    blocks = np.asarray(blocks)
    n, L = blocks.shape
    checkpoints = np.asarray(checkpoints, dtype=np.int64)
    if len(checkpoints) == 0 or np.any(np.diff(checkpoints) <= 0) or checkpoints[-1] > n * L:
        raise ValueError(f"checkpoints={checkpoints.tolist()!r} are not allowed: they must increase and end at most "
                         f"at the {n * L} tokens of the blocks")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    dev = next(model.parameters()).device
    dtype = autocast_dtype(dev)
    use_amp = dev.type == "cuda" and dtype != torch.float32
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / max(1, warmup)))
    data = torch.as_tensor(blocks, dtype=torch.long, device=dev)
    losses, k, seen = [], 0, 0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(int(seed))
        model.train()
        for i in range(0, n, batch_size):
            x = data[i:i + batch_size]
            with torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
                loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += x.numel()
            while k < len(checkpoints) and seen >= checkpoints[k]:
                losses.append(float(token_nll(model, test, batch_size=eval_batch_size).mean()))
                model.train()
                k += 1
            if k == len(checkpoints):
                break
    model.eval()
    return np.asarray(losses)
