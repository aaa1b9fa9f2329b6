"""Ancestral sampling at temperature 1, driven by given uniform numbers.

Shumailov et al. (Nature 631:755, 2024) make every generation's data with 5-way beam
search, a decoder that seeks the most likely continuation and so keeps the mode and drops
the variance of the model's distribution. The other end is plain sampling: every new token
drawn from the model's next-token distribution as it is (temperature 1, no top-k or top-p
cut, no repetition penalty), as Dohmatob et al. (2024) and Kazdan et al. (2024) sample
their synthetic text. Refitting a model on its own samples is then unbiased in
expectation, the martingale of chapter 1.

:func:`sample_continuations` draws token ``i`` of block ``s`` by the inverse of the
next-token distribution's cumulative sum at ``uniforms[s, i]``. The numbers are an input,
so a block's continuation depends on the block and its numbers only, not on the batch it
is generated in or on how a chain's blocks are shared out among processes; the
key/value cache makes it one forward pass of one token per new token.
"""
from __future__ import annotations

import numpy as np

from ..validation import check_int


def inverse_cdf(probs, uniforms):
    """Index ``j`` per row with ``cdf[j-1] <= u * total < cdf[j]`` (torch tensors (b, V)
    and (b,)): a draw from the row's distribution for ``u`` uniform on [0, 1); an outcome of
    probability zero is never drawn."""
    import torch

    cdf = torch.cumsum(probs.double(), dim=-1)
    x = uniforms.double().unsqueeze(1) * cdf[:, -1:]
    idx = torch.searchsorted(cdf, x, right=True).squeeze(1)
    return idx.clamp_(max=probs.shape[-1] - 1)


def next_token_probs(logits, eos: int | None):
    """The model's next-token distribution (float64), end-of-text removed and renormalised
    (as ``min_new_tokens`` does: every continuation has its full length)."""
    import torch

    probs = torch.softmax(logits.double(), dim=-1)
    if eos is not None:
        probs[:, eos] = 0.0
    return probs / probs.sum(dim=-1, keepdim=True)


def cache_argument(model) -> str:
    """The name under which ``model``'s forward pass takes and returns the key/value cache:
    ``cache`` in recent transformers releases, ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def sample_continuations(model, blocks, uniforms, *, batch_size: int = 64, amp: bool = True,
                         probs_of=None) -> np.ndarray:
    """The ``T`` tokens that ``model`` samples after each block (n, L), ``T`` the number of
    columns of ``uniforms`` (n, T): token ``i`` of block ``s`` is the inverse of the
    next-token distribution's cumulative sum at ``uniforms[s, i]``; (n, T) ``int32``.
    ``probs_of(logits)`` turns the last position's logits (b, V) into the distribution drawn
    from (default: :func:`next_token_probs`, the model's own without end-of-text)."""
    import torch

    from .generate import autocast_of, check_prompts

    batch_size = check_int("batch_size", batch_size, minimum=1)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    if uniforms.ndim != 2 or len(uniforms) != len(blocks) or uniforms.shape[1] < 1:
        raise ValueError(f"uniforms of shape {uniforms.shape} are not allowed: they must be ({len(blocks)}, T >= 1)")
    if not ((uniforms >= 0) & (uniforms < 1)).all():
        raise ValueError("uniforms outside [0, 1) are not allowed")
    T = uniforms.shape[1]
    blocks = check_prompts(model, blocks, T, f"{T} new tokens")
    n = len(blocks)
    dev, dtype, use_amp = autocast_of(model, amp)
    eos = model.config.eos_token_id
    probs_of = probs_of or (lambda logits: next_token_probs(logits, eos))
    cache_arg = cache_argument(model)
    out = np.empty((n, T), dtype=np.int32)
    was_training = model.training
    model.eval()
    for i in range(0, n, batch_size):
        ids = torch.as_tensor(blocks[i:i + batch_size], dtype=torch.long, device=dev)
        u = torch.as_tensor(uniforms[i:i + batch_size], device=dev)
        mask = torch.ones_like(ids)
        past, new = None, []
        with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
            step = ids
            for t in range(T):
                res = model(input_ids=step, attention_mask=mask, use_cache=True, **{cache_arg: past})
                past = getattr(res, cache_arg)
                tok = inverse_cdf(probs_of(res.logits[:, -1]), u[:, t])
                new.append(tok)
                step = tok.unsqueeze(1)
                mask = torch.cat([mask, torch.ones_like(step)], dim=1)
        out[i:i + len(ids)] = torch.stack(new, dim=1).cpu().numpy()
    model.train(was_training)
    return out
