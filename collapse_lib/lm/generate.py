"""Batched beam-search continuation of a whole data set of token blocks.

Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024), make each generation's training set by letting the previous
model continue every training block with 5-way beam search, 64 new tokens, keeping only
the new tokens (the authors' ``main.py``: ``model.generate(input_ids, num_beams=5,
max_new_tokens=64, min_new_tokens=64, repetition_penalty=3.0)``). All blocks have the
same length, so a batch needs no padding and batched generation gives what one prompt
at a time would; batches are large and the key/value cache is used, so a GPU generates
many thousand tokens per second. On CUDA the forward passes run under autocast.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..validation import check_int, check_positive


@dataclass
class GenerationStats:
    """What one call of :func:`generate_continuations` produced and how fast."""

    sequences: int = 0
    new_tokens: int = 0  # tokens generated (sequences x max_new_tokens; beams not counted)
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else float("nan")


def check_generation_settings(*, num_beams, max_new_tokens, repetition_penalty, batch_size) -> None:
    check_int("num_beams", num_beams, minimum=1)
    check_int("max_new_tokens", max_new_tokens, minimum=1)
    check_positive("repetition_penalty", repetition_penalty)
    check_int("batch_size", batch_size, minimum=1)


@contextmanager
def _mask_given():
    """Silence transformers' warning that no attention mask was passed, for a call that passes
    one: its ``generate`` (5.x) drops the all-ones mask it is given before the first forward
    pass, and a model whose padding token is its end-of-text token then warns about blocks
    that start or end with that token, which here are real document boundaries, not padding."""
    log = logging.getLogger("transformers.modeling_utils")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def check_prompts(model, blocks, new_tokens: int, what: str) -> np.ndarray:
    """``blocks`` as an array (n, L >= 1), refused with a message naming ``what`` when a block
    and ``new_tokens`` more do not fit the model's positions."""
    from .models import max_positions

    blocks = np.asarray(blocks)
    if blocks.ndim != 2 or blocks.shape[1] < 1:
        raise ValueError(f"blocks of shape {blocks.shape} are not allowed: they must be (n, block_size >= 1)")
    L = blocks.shape[1]
    if L + new_tokens > max_positions(model):
        raise ValueError(f"block_size={L!r} is not allowed with {what}: the model takes at most "
                         f"{max_positions(model)} tokens, prompt and continuation together")
    return blocks


def autocast_of(model, amp: bool):
    """``(device, dtype, enabled)`` of the autocast a decoding loop of ``model`` runs under:
    the device's reduced precision on CUDA with ``amp``, none on the CPU."""
    import torch

    from ..runtime import autocast_dtype

    dev = next(model.parameters()).device
    dtype = autocast_dtype(dev) if amp else torch.float32
    return dev, dtype, dev.type == "cuda" and dtype != torch.float32


def generate_continuations(model, blocks, *, num_beams: int = 5, max_new_tokens: int = 64,
                           repetition_penalty: float = 3.0, batch_size: int = 64, amp: bool = True,
                           progress: bool | None = False, desc: str = "generating", return_stats: bool = False,
                           candidates: int | None = None):
    """The ``max_new_tokens`` tokens that ``model`` appends to each block (n, L) by beam
    search with ``num_beams`` beams (1: greedy), as an array (n, max_new_tokens).

    Exactly ``max_new_tokens`` tokens are generated for every block (the end-of-text token
    is suppressed until then, as ``min_new_tokens`` does in the paper's code). The
    repetition penalty of Keskar et al. (2019) acts on every token already in the sequence,
    prompt included: under beam search Hugging Face applies it to the log-probabilities,
    ``log p -> theta log p`` (``p -> p**theta``); with one beam, to the raw logits (a positive
    logit divided by theta, a negative one multiplied; :mod:`collapse_lib.decoding`). 1
    switches it off. ``batch_size`` blocks are continued at once (times ``num_beams`` sequences).
    With ``return_stats`` the result is ``(tokens, GenerationStats)``. With ``candidates``
    (at most ``num_beams``), the best ``candidates`` finished beams of every block are
    returned, best first, as an array (n, candidates, max_new_tokens); the first is the
    continuation that ``candidates=None`` returns.
    """
    import torch

    from ..progress import progress as bar

    check_generation_settings(num_beams=num_beams, max_new_tokens=max_new_tokens,
                              repetition_penalty=repetition_penalty, batch_size=batch_size)
    blocks = check_prompts(model, blocks, max_new_tokens, f"max_new_tokens={max_new_tokens!r}")
    n, L = blocks.shape
    k = 1 if candidates is None else check_int("candidates", candidates, minimum=1)
    if k > num_beams:
        raise ValueError(f"candidates={candidates!r} is not allowed: beam search returns at most num_beams="
                         f"{num_beams} continuations")
    dev, dtype, use_amp = autocast_of(model, amp)
    eos = model.config.eos_token_id
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else eos
    out = np.empty((n, k, max_new_tokens), dtype=np.int32)
    was_training = model.training
    model.eval()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    batches = range(0, n, batch_size)
    for i in bar(batches, total=len(batches), desc=desc, enabled=progress):
        ids = torch.as_tensor(blocks[i:i + batch_size], dtype=torch.long, device=dev)
        with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype, enabled=use_amp), _mask_given():
            seqs = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=num_beams,
                                  max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                                  repetition_penalty=float(repetition_penalty), length_penalty=1.0,
                                  early_stopping=True, use_cache=True, eos_token_id=eos, pad_token_id=pad,
                                  num_return_sequences=k)
        new = seqs[:, L:]
        if new.shape[1] != max_new_tokens:  # cannot happen with min_new_tokens, but never pass a ragged set on
            raise RuntimeError(f"generation returned {new.shape[1]} new tokens instead of {max_new_tokens}")
        out[i:i + len(ids)] = new.cpu().numpy().reshape(len(ids), k, max_new_tokens)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    stats = GenerationStats(n, n * max_new_tokens, time.perf_counter() - start)
    model.train(was_training)
    out = out[:, 0] if candidates is None else out
    return (out, stats) if return_stats else out
