"""The language models of chapter 4: OPT-125m and a tiny GPT-2.

- :func:`load_pretrained` loads ``facebook/opt-125m`` (Zhang et al., 2022), the model
  Shumailov et al. (Nature 631:755, 2024) fine-tune, with its tokenizer, through
  ``transformers``. It uses the local Hugging Face cache when the model is there and
  otherwise fails within seconds when the hub cannot be reached (``HF_HUB_OFFLINE`` is
  honoured at once), naming the ``quick`` profile.
- :func:`tiny_gpt2` builds a small GPT-2 (Radford et al., 2019) from a ``GPT2Config``,
  the model of the offline ``quick`` profile, which first pre-trains it on Python's own
  documentation so that it plays the pretrained model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..validation import check_fraction, check_int

#: The model of the paper.
OPT_125M = "facebook/opt-125m"


@dataclass(frozen=True)
class TinyGPTConfig:
    """Sizes of the tiny GPT-2 of the ``quick`` profile."""

    n_embd: int = 64  # width of the residual stream
    n_layer: int = 2  # transformer blocks
    n_head: int = 2  # attention heads per block
    n_positions: int = 128  # longest sequence (prompt + continuation)
    dropout: float = 0.0  # residual, embedding and attention dropout

    def __post_init__(self):
        for name in ("n_embd", "n_layer", "n_head", "n_positions"):
            check_int(name, getattr(self, name), minimum=1)
        check_fraction("dropout", self.dropout)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head={self.n_head!r} is not allowed: it must divide n_embd={self.n_embd}")


def tiny_gpt2(vocab_size: int, config: TinyGPTConfig = TinyGPTConfig(), *, eos_token_id: int = 0, seed: int = 0):
    """A freshly initialised GPT-2 language model (weights drawn from a generator seeded
    by ``seed``, leaving torch's global generator as it was)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    c = asdict(config)
    p = c.pop("dropout")
    cfg = GPT2Config(vocab_size=vocab_size, resid_pdrop=p, embd_pdrop=p, attn_pdrop=p, bos_token_id=eos_token_id,
                     eos_token_id=eos_token_id, pad_token_id=eos_token_id, **c)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(cfg)
    model.loss_type = "ForCausalLM"  # next-token cross-entropy (and no warning about a missing loss type)
    return model.eval()


def max_positions(model) -> int:
    """The longest sequence ``model`` accepts."""
    cfg = model.config
    for name in ("n_positions", "max_position_embeddings"):
        if getattr(cfg, name, None):
            return int(getattr(cfg, name))
    raise ValueError(f"the model's config ({type(cfg).__name__}) names no maximum length")


def count_parameters(model) -> int:
    """Number of distinct weights (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def _from_cache(name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(name, local_files_only=True)
    return model, tok


def load_pretrained(name: str = OPT_125M, timeout: float = 3.0):
    """``(model, tokenizer)`` of a pretrained causal language model from the Hugging Face
    hub (cached after the first load), the model in float32 and eval mode. OPT's tokenizer
    pads with its ``<pad>`` token; a tokenizer without one pads with its end token."""
    from ..data.text import check_hub

    try:
        model, tok = _from_cache(name)
    except (OSError, ValueError):  # not in the local cache
        check_hub(f"the model {name!r} (transformers)", timeout)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    return model.float().eval(), tok
