"""The language models of chapter 4: OPT-125m (or any causal LM) and a tiny GPT-2.

- :func:`load_pretrained` loads a pretrained causal language model with its tokenizer
  through ``transformers``: by default ``facebook/opt-125m`` (Zhang et al., 2022), the
  model Shumailov et al. (Nature 631:755, 2024) fine-tune, but any Hugging Face model
  name (``EleutherAI/pythia-70m``, ``gpt2``, ...) or a local directory written by
  ``save_pretrained`` (model and tokenizer side by side). A hub model comes from the
  local Hugging Face cache when it is there; otherwise the loader fails within seconds
  when the hub cannot be reached (``HF_HUB_OFFLINE`` is honoured at once), naming the
  ``quick`` profile. Padding, the end-of-text token and the position limit are read from
  the model's own config and tokenizer (:func:`special_tokens`, :func:`max_positions`).
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
    """The longest sequence ``model`` accepts (its config's ``n_positions`` or
    ``max_position_embeddings``)."""
    cfg = model.config
    for name in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length"):
        if getattr(cfg, name, None):
            return int(getattr(cfg, name))
    raise ValueError(f"the model's config ({type(cfg).__name__}) names no maximum length")


def check_fits(model, block_size: int, what: str = "model") -> None:
    """Raise a ``ValueError`` naming both numbers unless ``model``'s positions hold a
    block of ``block_size`` tokens and its continuation of as many."""
    limit = max_positions(model)
    if 2 * block_size > limit:
        raise ValueError(f"block_size={block_size!r} is not allowed with the {what}: a block and its continuation "
                         f"take {2 * block_size} tokens, and the model has {limit} positions")


def special_tokens(model, tok) -> tuple[int, int]:
    """``(pad, eos)`` token ids of a model and its tokenizer, set on both.

    The end-of-text token separates documents and stops nothing (continuations have a
    fixed length); it is the tokenizer's ``eos_token`` or else the model config's
    ``eos_token_id``. Padding is the tokenizer's ``pad_token`` (OPT has ``<pad>``), or the
    end-of-text token for models without one (GPT-2, Pythia). A model with neither is
    rejected: its documents could not be separated."""
    eos = tok.eos_token_id if tok.eos_token_id is not None else getattr(model.config, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    if eos is None:
        raise ValueError(f"model={getattr(model.config, '_name_or_path', '?')!r} is not allowed: neither its "
                         "tokenizer nor its config names an end-of-text token")
    if tok.eos_token_id is None:
        tok.eos_token = tok.convert_ids_to_tokens(int(eos))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    model.config.eos_token_id = int(eos)
    gen = getattr(model, "generation_config", None)
    if gen is not None:
        gen.pad_token_id, gen.eos_token_id = tok.pad_token_id, int(eos)
    return int(tok.pad_token_id), int(eos)


def count_parameters(model) -> int:
    """Number of distinct weights (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def _from_cache(name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(name, local_files_only=True)
    return model, tok


def is_local_model(name: str) -> bool:
    """Whether ``name`` is a directory (a ``save_pretrained`` layout), not a hub name."""
    from pathlib import Path

    return Path(name).expanduser().is_dir()


def load_pretrained(name: str = OPT_125M, timeout: float = 3.0):
    """``(model, tokenizer)`` of a pretrained causal language model, the model in float32
    and eval mode, its padding and end-of-text tokens set (:func:`special_tokens`).

    ``name`` is a Hugging Face model name (downloaded once, then read from the Hugging
    Face cache) or a local directory holding a causal LM and its tokenizer as
    ``save_pretrained`` writes them (read without any network)."""
    from pathlib import Path

    from ..data.text import check_hub

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model={name!r} is not allowed: it must be a Hugging Face model name or a directory")
    if is_local_model(name):
        path = str(Path(name).expanduser())
        try:
            model, tok = _from_cache(path)
        except (OSError, ValueError) as err:
            raise ValueError(f"model={name!r} is not allowed: the directory holds no causal language model and "
                             f"tokenizer in the save_pretrained layout ({err})") from err
    else:
        try:
            model, tok = _from_cache(name)
        except (OSError, ValueError):  # not in the local cache
            check_hub(f"the model {name!r} (transformers)", timeout)
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(name)
            model = AutoModelForCausalLM.from_pretrained(name)
    special_tokens(model, tok)
    return model.float().eval(), tok
