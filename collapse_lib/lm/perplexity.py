"""Perplexity of a language model on token blocks: per token, per sequence, per corpus.

The perplexity of a sequence x_1..x_L under a model p is the exponential of the mean
negative log-likelihood of its predicted tokens,
``exp(-(1/(L-1)) sum_{i=2..L} log p(x_i | x_<i))``: the number of equally likely tokens
the model is, on average, choosing between. Shumailov et al. (Nature 631:755, 2024)
report the test perplexity of each generation (one number per model) and histograms
of the perplexity of every generated training sequence under the generation-0 model,
which needs per-sequence losses (``reduction='none'``), not the per-batch means of the
authors' code.
"""
from __future__ import annotations

import numpy as np

from ..validation import check_int


def token_nll(model, blocks, *, batch_size: int = 64, amp: bool = True) -> np.ndarray:
    """Negative log-likelihood (nats) of every predicted token, (n, L-1): entry
    ``[s, i]`` is ``-log p(x_{i+1} | x_0..x_i)`` for block ``s``."""
    import torch
    import torch.nn.functional as F

    from ..runtime import autocast_dtype

    batch_size = check_int("batch_size", batch_size, minimum=1)
    blocks = np.asarray(blocks)
    if blocks.ndim != 2 or blocks.shape[1] < 2:
        raise ValueError(f"blocks of shape {blocks.shape} are not allowed: they must be (n, block_size >= 2)")
    dev = next(model.parameters()).device
    dtype = autocast_dtype(dev) if amp else torch.float32
    use_amp = dev.type == "cuda" and dtype != torch.float32
    was_training = model.training
    model.eval()
    out = np.empty((len(blocks), blocks.shape[1] - 1), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(blocks), batch_size):
            x = torch.as_tensor(blocks[i:i + batch_size], dtype=torch.long, device=dev)
            with torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
                logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
            nll = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), x[:, 1:], reduction="none")
            out[i:i + len(x)] = nll.cpu().numpy()
    model.train(was_training)
    return out


def sequence_perplexity(model, blocks, *, batch_size: int = 64, amp: bool = True) -> np.ndarray:
    """Perplexity of every block, (n,): exp of the mean token NLL of that block."""
    return np.exp(token_nll(model, blocks, batch_size=batch_size, amp=amp).astype(np.float64).mean(axis=1))


def corpus_perplexity(model, blocks, *, batch_size: int = 64, amp: bool = True) -> float:
    """Perplexity of a whole set of blocks: exp of the mean NLL over all its predicted
    tokens (the test perplexity of the paper)."""
    return float(np.exp(token_nll(model, blocks, batch_size=batch_size, amp=amp).astype(np.float64).mean()))
