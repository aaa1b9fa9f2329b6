"""A byte-level BPE tokenizer trained locally with Hugging Face ``tokenizers``.

The offline ``quick`` profile cannot download GPT-2's or OPT's tokenizer, so it trains
its own on the text it uses (the byte-level BPE of Radford et al.'s GPT-2, with a much
smaller vocabulary). The result is wrapped as a ``transformers.PreTrainedTokenizerFast``,
so the rest of the library sees the same interface as for OPT's pretrained tokenizer.
"""
from __future__ import annotations

from ..validation import check_int

#: The one special token: separates documents, and serves as padding.
END_OF_TEXT = "<|endoftext|>"


def train_bpe(texts: list[str], vocab_size: int = 2048, min_frequency: int = 2):
    """A byte-level BPE with ``vocab_size`` tokens (256 bytes, the special token and the
    merges) trained on ``texts``; deterministic for the same texts."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    vocab_size = check_int("vocab_size", vocab_size, minimum=258)
    check_int("min_frequency", min_frequency, minimum=1)
    if not texts:
        raise ValueError("texts=[] is not allowed: the tokenizer needs text to learn its merges from")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[END_OF_TEXT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return wrap(tok)


def wrap(tok):
    """A ``tokenizers.Tokenizer`` as a ``PreTrainedTokenizerFast`` whose end-of-text token
    is also its beginning, end and padding token (as in GPT-2)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT,
                                   pad_token=END_OF_TEXT, unk_token=None)


def save_tokenizer(tokenizer, path) -> None:
    """Write the tokenizer's JSON atomically to ``path``."""
    from ..store import atomic_write_bytes

    atomic_write_bytes(path, tokenizer.backend_tokenizer.to_str().encode())


def load_tokenizer(path):
    """A tokenizer written by :func:`save_tokenizer`."""
    from tokenizers import Tokenizer

    return wrap(Tokenizer.from_file(str(path)))
