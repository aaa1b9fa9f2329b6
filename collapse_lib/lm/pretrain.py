"""The offline profiles' base model: a tiny GPT-2 pre-trained here on one English text.

Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024), start from OPT-125m, pre-trained by its authors on a large
corpus, and fine-tune it on wikitext-2, a text it was not trained on: fine-tuning takes
its test perplexity from 115 (zero-shot) to 34. Without a download the offline profiles
build the same situation from two texts that ship with Python: a byte-level BPE and a
tiny GPT-2 are trained on the standard library's docstrings
(:func:`collapse_lib.data.text.load_docstrings`), and the chapter fine-tunes that model
on the pydoc topics (:func:`collapse_lib.data.text.load_pydoc`). Both are English about
Python, in different registers (terse API notes against the language reference's prose
and grammar), as wikitext-2 is a kind of English OPT saw little of.

The tokenizer is trained on the pre-training text alone, as OPT's was on its own
pre-training data. The model is pre-trained on blocks of twice the fine-tuning block
size, so that every position a continuation uses (prompt and new tokens) has been
trained. Tokenizer and model are cached in the cache directory under a hash of the text
and of every setting, so they are built once (the first run of the chapter pays for it).
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

from ..protocol import config_key
from ..validation import check_choice, check_int, check_positive
from .models import TinyGPTConfig

#: Texts the tiny base can be pre-trained on: the standard library's docstrings, or the
#: pre-training part of the pydoc topics (the same kind of text as the fine-tuning set).
PRETRAIN_TEXTS = ("docstrings", "pydoc")

#: Bumped whenever the pre-training code changes, so that cached base models are not reused.
PRETRAIN_FORMAT = 2


@dataclass(frozen=True)
class PretrainSettings:
    """How the tiny base model is pre-trained (the chapter's ``pretrain`` settings); the
    model's sizes, its vocabulary, block size, batch size and seed come from the chapter
    (:func:`pretrained_base`)."""

    text: str = "docstrings"  # "docstrings" (the standard library's) or "pydoc" (60 % of the topics)
    max_chars: int | None = None  # docstring characters read (whole files, in a fixed order), None: all
    blocks: int | None = None  # pre-training blocks used (the first ones), None: all
    epochs: int = 4  # passes over the pre-training blocks
    lr: float = 3e-3  # peak learning rate, cosine-annealed to a tenth of it

    def __post_init__(self):
        check_choice("pretrain.text", self.text, PRETRAIN_TEXTS)
        for name in ("max_chars", "blocks"):
            if getattr(self, name) is not None:
                check_int(f"pretrain.{name}", getattr(self, name), minimum=1)
        check_int("pretrain.epochs", self.epochs, minimum=1)
        check_positive("pretrain.lr", self.lr)


def text_key(texts: list[str]) -> str:
    """A short hash of a list of documents (their text and boundaries)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def pretraining_texts(settings: PretrainSettings, corpus=None) -> tuple[list[str], str]:
    """The documents the base is pre-trained on and how to name them: the standard
    library's docstrings, or ``corpus.pretrain`` (the pydoc split's pre-training part)."""
    if settings.text == "docstrings":
        from ..data.text import load_docstrings

        docs = load_docstrings(settings.max_chars)
        return docs, f"{len(docs):,} docstrings of the standard library ({sum(map(len, docs)):,} characters)"
    if corpus is None or not corpus.pretrain:
        raise ValueError("pretrain_text='pydoc' needs the pydoc split with a pre-training part "
                         "(load_pydoc(pretrain_fraction > 0))")
    return corpus.pretrain, f"{sum(map(len, corpus.pretrain)):,} characters of the pydoc topics"


def base_tokenizer(texts: list[str], vocab_size: int = 2048):
    """The BPE of the base model, ``vocab_size`` tokens trained on ``texts``, cached by
    their hash and the vocabulary size."""
    from ..runtime import cache_dir
    from .tokenizer import load_tokenizer, save_tokenizer, train_bpe

    vocab_size = check_int("vocab_size", vocab_size, minimum=258)
    ident = {"format": PRETRAIN_FORMAT, "text": text_key(texts), "vocab": vocab_size}
    path = cache_dir("lm", f"bpe-{config_key(ident)}") / "tokenizer.json"
    if path.exists():
        return load_tokenizer(path)
    tok = train_bpe(texts, vocab_size)
    save_tokenizer(tok, path)
    return tok


def pretrained_base(settings: PretrainSettings, texts: list[str], tok, *, tiny: TinyGPTConfig = TinyGPTConfig(),
                    block_size: int = 64, batch_size: int = 32, seed: int = 0, threads: int | None = None,
                    progress: bool | None = None):
    """A tiny GPT-2 of sizes ``tiny`` pre-trained on ``texts`` (tokenized by ``tok``, whose
    vocabulary it takes) in blocks of ``block_size`` tokens, ``batch_size`` blocks a step,
    from ``seed`` (initial weights and shuffling), on ``threads`` CPU threads; cached by the
    text's hash and every setting but the threads, which change no weight. Returns ``(model, info)``; ``info`` says what
    was trained, the final loss and how long it took when it was built."""
    import torch

    from ..data.text import make_blocks, tokenize_documents
    from ..runtime import cpu_threads
    from ..runtime import cache_dir
    from ..store import atomic_write_bytes, atomic_write_json
    from .models import count_parameters, tiny_gpt2
    from .train import fine_tune

    check_int("pretrain block_size", block_size, minimum=2)
    check_int("pretrain batch_size", batch_size, minimum=1)
    if block_size > tiny.n_positions:
        raise ValueError(f"block_size={block_size!r} is not allowed for pre-training: the tiny model has "
                         f"{tiny.n_positions} positions")
    ident = {"format": PRETRAIN_FORMAT, "text": text_key(texts), "vocab": len(tok), **asdict(settings),
             "vocab_size": len(tok), "tiny": asdict(tiny), "block_size": block_size, "batch_size": batch_size,
             "seed": seed}
    where = cache_dir("lm", f"tiny-base-{config_key(ident)}")
    model_path, info_path = where / "model.pt", where / "info.json"
    model = tiny_gpt2(len(tok), tiny, eos_token_id=tok.eos_token_id, seed=seed)
    if model_path.exists() and info_path.exists():
        model.load_state_dict(torch.load(model_path, weights_only=True))
        return model.eval(), {**json.loads(info_path.read_text()), "cached": True}
    blocks = make_blocks(tokenize_documents(tok, texts, tok.eos_token_id), block_size, max_blocks=settings.blocks)
    with cpu_threads(threads):
        stats = fine_tune(model, blocks, epochs=settings.epochs, batch_size=batch_size, lr=settings.lr,
                          min_lr=settings.lr / 10, seed=seed, progress=progress,
                          desc="pre-training the base")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(model_path, buf.getvalue())
    info = {"blocks": int(len(blocks)), "block_size": block_size, "tokens_per_epoch": int(blocks.size),
            "epochs": settings.epochs, "final_loss": stats.losses[-1], "seconds": stats.seconds,
            "parameters": count_parameters(model)}
    atomic_write_json(info_path, info)
    return model.eval(), {**info, "cached": False}
