"""Text: wikitext-2 (the ``gpu`` and ``paper`` profiles) and the English documentation
that ships with Python (the offline ``quick`` profile), cut into fixed-length blocks.

Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024), fine-tune OPT-125m on wikitext-2 (raw; Merity et al., 2016)
cut into 64-token blocks. :func:`load_wikitext2` fetches it once through
``datasets.load_dataset("wikitext", "wikitext-2-raw-v1")`` and keeps the raw text of
each split in ``cache_dir("text", "wikitext-2-raw-v1")``, so later loads need neither the
network nor the Hugging Face cache. Without a network it fails within seconds, naming
what could not be fetched and the ``quick`` profile: it checks its own cache first,
then ``HF_HUB_OFFLINE`` / ``COLLAPSE_OFFLINE`` (fail at once), then whether the hub
answers (a request with a short timeout), and only then imports ``datasets``.

:func:`load_pydoc` splits the topic help of ``pydoc_data.topics`` (about 465,000
characters of English prose about Python, one document per topic) into a pre-training
part (which makes the ``quick`` profile's tiny model a "pretrained" model), a
fine-tuning training part and a test part.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..validation import check_choice, check_fraction, check_int
from .pool import PoolSource
from .images import require_reachable

TEXT_DATASETS = ("pydoc", "wikitext2")

#: The server the Hugging Face loaders talk to.
HF_URL = "https://huggingface.co"
WIKITEXT = ("wikitext", "wikitext-2-raw-v1")
WIKITEXT_SPLITS = ("train", "validation", "test")


@dataclass
class TextCorpus:
    """Raw documents of a text data set, split for the chapter."""

    name: str
    train: list[str]  # documents the models are fine-tuned on
    test: list[str]  # held-out documents the test perplexity is measured on
    pretrain: list[str]  # documents that pre-train the base model (empty for real pretrained models)

    def describe(self) -> str:
        chars = lambda docs: sum(len(d) for d in docs)  # noqa: E731
        parts = [f"{chars(self.train):,} training", f"{chars(self.test):,} test"]
        if self.pretrain:
            parts.insert(0, f"{chars(self.pretrain):,} pre-training")
        return f"{self.name}: " + ", ".join(parts) + " characters"


def pydoc_documents() -> dict[str, str]:
    """The topic help of the Python documentation, ``{topic: text}`` (ships with Python)."""
    from pydoc_data.topics import topics

    return dict(topics)


def load_pydoc(pretrain_fraction: float = 0.6, test_fraction: float = 0.1, seed: int = 0) -> TextCorpus:
    """``pydoc_data.topics`` split by whole documents, in a random order fixed by ``seed``,
    into about ``pretrain_fraction`` of the characters for pre-training,
    ``test_fraction`` for testing and the rest for fine-tuning."""
    pretrain_fraction = check_fraction("pretrain_fraction", pretrain_fraction)
    test_fraction = check_fraction("test_fraction", test_fraction)
    if pretrain_fraction + test_fraction >= 1:
        raise ValueError(f"pretrain_fraction + test_fraction = {pretrain_fraction + test_fraction!r} is not allowed: "
                         "it must be below 1 so that some text is left for fine-tuning")
    docs = pydoc_documents()
    keys = sorted(docs)
    order = np.random.default_rng(seed).permutation(len(keys))
    texts = [docs[keys[i]] for i in order]
    share = np.cumsum([len(t) for t in texts]) / sum(len(t) for t in texts)
    pre = [t for t, s in zip(texts, share) if s <= pretrain_fraction]
    test = [t for t, s in zip(texts, share) if s > 1 - test_fraction]
    train = [t for t, s in zip(texts, share) if pretrain_fraction < s <= 1 - test_fraction]
    return TextCorpus("Python documentation (pydoc_data.topics)", train, test, pre)


def wikitext_cache(root: str | Path | None = None) -> Path:
    from ..runtime import cache_dir

    return Path(root) if root is not None else cache_dir("text", WIKITEXT[1])


def check_hub(what: str, timeout: float = 3.0, url: str | None = None) -> None:
    """Raise :class:`OfflineError` at once in offline mode, or within about ``timeout``
    seconds when the Hugging Face hub (``url``, default :data:`HF_URL`) does not answer;
    ``what`` says what was wanted."""
    require_reachable(what, url or HF_URL, timeout, "Python's own documentation and a tiny GPT-2")


def load_wikitext2(root: str | Path | None = None, timeout: float = 3.0) -> TextCorpus:
    """wikitext-2 (raw): the training split for fine-tuning, the test split for testing.
    Downloaded once through ``datasets``; later loads read the cached text."""
    from ..store import atomic_write_bytes

    root = wikitext_cache(root)
    files = {s: root / f"{s}.txt" for s in WIKITEXT_SPLITS}
    if not all(f.exists() for f in files.values()):
        check_hub("wikitext-2 (datasets: wikitext, wikitext-2-raw-v1)", timeout)
        try:
            import datasets
        except ImportError as err:
            raise ImportError("wikitext-2 is loaded through the 'datasets' package, which is not installed: "
                              "pip install datasets, or use the 'quick' profile (COLLAPSE_PROFILE=quick)") from err
        ds = datasets.load_dataset(*WIKITEXT)
        for split, path in files.items():
            atomic_write_bytes(path, "".join(ds[split]["text"]).encode())
    text = {s: f.read_text() for s, f in files.items()}
    return TextCorpus("wikitext-2 (raw)", [text["train"]], [text["test"]], [])


def load_text(name: str) -> TextCorpus:
    """A text data set by name: ``pydoc`` (offline) or ``wikitext2`` (downloads once)."""
    check_choice("dataset", name, TEXT_DATASETS)
    return load_pydoc() if name == "pydoc" else load_wikitext2()


def tokenize_documents(tokenizer, documents: list[str], separator: int | None = None,
                       chunk_chars: int = 100_000) -> np.ndarray:
    """All ``documents`` tokenized (no special tokens) and concatenated into one array of
    token ids, with ``separator`` (e.g. the end-of-text id) after each document. Long
    documents are tokenized in line-aligned chunks of about ``chunk_chars`` characters."""
    ids: list[int] = []
    for doc in documents:
        start = 0
        while start < len(doc):
            end = len(doc) if len(doc) - start <= chunk_chars else doc.rfind("\n", start, start + chunk_chars) + 1
            if end <= start:
                end = start + chunk_chars
            ids.extend(tokenizer(doc[start:end], add_special_tokens=False)["input_ids"])
            start = end
        if separator is not None:
            ids.append(int(separator))
    return np.asarray(ids, dtype=np.int64)


def make_blocks(ids: np.ndarray, block_size: int, max_blocks: int | None = None) -> np.ndarray:
    """Consecutive, non-overlapping blocks (n, block_size) of a token stream (the remainder
    is dropped), the first ``max_blocks`` of them if given; ``int32``."""
    block_size = check_int("block_size", block_size, minimum=2)
    ids = np.asarray(ids)
    n = len(ids) // block_size
    if n == 0:
        raise ValueError(f"block_size={block_size!r} is not allowed: the text has only {len(ids)} tokens, "
                         "fewer than one block")
    if max_blocks is not None:
        n = min(n, check_int("max_blocks", max_blocks, minimum=1))
    return ids[: n * block_size].reshape(n, block_size).astype(np.int32)


def subsample_blocks(blocks: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """``n`` blocks drawn without replacement (in their original order), or all when
    ``n`` is None or not smaller than the number of blocks."""
    if n is None or n >= len(blocks):
        return blocks
    n = check_int("blocks", n, minimum=1)
    keep = np.sort(np.random.default_rng(seed).permutation(len(blocks))[:n])
    return blocks[keep]


class BlockSource(PoolSource):
    """Real data for the engine: each chain draws ``n`` distinct token blocks
    (rows of ``block_size`` ids) of a pool."""

    noun = "blocks"