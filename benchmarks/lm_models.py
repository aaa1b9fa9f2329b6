"""The language models the LM benchmarks time, built offline.

- CPU: the ``quick`` profile's tiny GPT-2 (:func:`collapse_lib.lm.tiny_gpt2`) with the
  chapter's vocabulary and block size.
- GPU: OPT-125m's architecture (``transformers.OPTConfig()``'s defaults are those of
  ``facebook/opt-125m``: 12 layers, width 768, 50,272 tokens) with freshly initialised
  weights, so that no download is needed; the cost of a step does not depend on the
  weights (beam search always generates the full ``min_new_tokens``).

Token blocks are drawn uniformly from the vocabulary; the cost does not depend on them.
"""
from __future__ import annotations

import os

import numpy as np


def setup(device: str, n_blocks: int, seed: int = 0):
    """``(model, blocks, config, what)`` for ``device``: the model on the device, ``n_blocks``
    token blocks (n, block_size), the chapter's LM config of the matching profile (CPU
    threads: :func:`threads`)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from collapse_lib.experiments.lm import PROFILES
    from collapse_lib.lm import tiny_gpt2

    if device.startswith("cuda"):
        from transformers import OPTConfig, OPTForCausalLM

        cfg = PROFILES["gpu"]
        config = OPTConfig()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = OPTForCausalLM(config)
        model = model.float().to(device).eval()
        vocab, what = config.vocab_size, "OPT-125m architecture, random weights"
    else:
        cfg = PROFILES["quick"]
        model = tiny_gpt2(cfg.vocab_size, cfg.tiny, seed=seed)
        vocab, what = cfg.vocab_size, f"tiny GPT-2 ({cfg.tiny.n_layer} layers, width {cfg.tiny.n_embd})"
    blocks = np.random.default_rng(seed).integers(2, vocab, (n_blocks, cfg.block_size))
    return model, blocks, cfg, what


def threads(cfg, on_gpu: bool) -> int | None:
    """The CPU threads the chapter uses for ``cfg``'s model (None on a GPU: torch's default)."""
    from collapse_lib import protocol
    from collapse_lib.experiments import lm

    return None if on_gpu else lm.threads(cfg, protocol.Run())
