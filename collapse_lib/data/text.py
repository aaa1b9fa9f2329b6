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
part, a fine-tuning training part and a test part.

:func:`load_docstrings` reads the docstrings of the standard library's own modules,
classes and functions (about 1.5 million characters of English prose, also shipped with
Python) with :mod:`ast`, deterministically: the same files, filters and order on every
machine with the same Python version. The offline profiles pre-train their tiny model on
these docstrings and fine-tune it on the pydoc topics, so that, as for OPT-125m and
wikitext-2 in the paper, the fine-tuning text is a kind of English the base model was
not trained on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
    validation: list[str] = field(default_factory=list)  # held-out documents for choosing checkpoints (if any)

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


#: Folders of the standard library whose files are not read for docstrings: tests, the
#: IDLE and turtle demos, installed third-party packages, and pydoc_data (the topics).
STDLIB_SKIP = ("__pycache__", "dist-packages", "ensurepip", "idlelib", "lib2to3", "pydoc_data", "site-packages",
               "test", "tests", "tkinter", "turtledemo", "venv")
#: Docstrings shorter than this (characters, after ``inspect.cleandoc``) are left out.
DOCSTRING_MIN_CHARS = 40
#: Bumped whenever the reading below changes, so that cached corpora are not reused.
DOCSTRINGS_FORMAT = 1


def stdlib_files(root: str | Path | None = None) -> list[Path]:
    """The standard library's ``.py`` files outside :data:`STDLIB_SKIP`, in a fixed order:
    sorted by a hash of the path relative to ``root`` (so that any prefix of the list
    samples the whole library rather than its first packages alphabetically)."""
    import hashlib
    import sysconfig

    root = Path(root) if root is not None else Path(sysconfig.get_paths()["stdlib"])
    skip = set(STDLIB_SKIP)
    files = [p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts[:-1])]
    key = lambda p: hashlib.blake2b(p.relative_to(root).as_posix().encode(), digest_size=8).digest()  # noqa: E731
    return sorted(files, key=lambda p: (key(p), p.relative_to(root).as_posix()))


def file_docstrings(path: str | Path, min_chars: int = DOCSTRING_MIN_CHARS) -> list[str]:
    """The docstrings of a Python file's module, classes and functions (``ast``, cleaned as
    by ``inspect.cleandoc``), those of at least ``min_chars`` characters, in the order of
    ``ast.walk``; a file that does not parse gives none."""
    import ast

    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc and len(doc) >= min_chars:
                out.append(doc)
    return out


def load_docstrings(max_chars: int | None = None, root: str | Path | None = None) -> list[str]:
    """The standard library's docstrings (:func:`file_docstrings` of every file of
    :func:`stdlib_files`, in that order), one document each, stopping after the file
    that brings the total to ``max_chars`` characters (None: all, about 1.5 million in
    Python 3.11). The result is cached by the Python version, the reading's format and
    ``max_chars``, since parsing the whole library takes seconds."""
    import json
    import sys

    from ..runtime import cache_dir
    from ..store import atomic_write_bytes

    if max_chars is not None:
        max_chars = check_int("max_chars", max_chars, minimum=1)
    path = None
    if root is None:
        version = "{}.{}.{}".format(*sys.version_info[:3])
        path = cache_dir("text", "docstrings") / f"py{version}-f{DOCSTRINGS_FORMAT}-{max_chars or 'all'}.json"
        if path.exists():
            return json.loads(path.read_text())
    docs: list[str] = []
    total = 0
    for f in stdlib_files(root):
        if max_chars is not None and total >= max_chars:
            break
        for d in file_docstrings(f):
            docs.append(d)
            total += len(d)
    if not docs:
        raise ValueError(f"no docstrings were found under {root or 'the standard library'}")
    if path is not None:
        atomic_write_bytes(path, json.dumps(docs).encode())
    return docs


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
    return TextCorpus("wikitext-2 (raw)", [text["train"]], [text["test"]], [], [text["validation"]])


def load_text(name: str, **kwargs) -> TextCorpus:
    """A text data set by name: ``pydoc`` (offline; ``kwargs`` go to :func:`load_pydoc`)
    or ``wikitext2`` (downloads once)."""
    check_choice("dataset", name, TEXT_DATASETS)
    return load_pydoc(**kwargs) if name == "pydoc" else load_wikitext2()


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
    return split_blocks(blocks, n, seed)[0]


def split_blocks(blocks: np.ndarray, n: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(chosen, rest)``: the blocks of :func:`subsample_blocks` and the others, each in
    their original order."""
    if n is None or n >= len(blocks):
        return blocks, blocks[:0]
    n = check_int("blocks", n, minimum=1)
    order = np.random.default_rng(seed).permutation(len(blocks))
    return blocks[np.sort(order[:n])], blocks[np.sort(order[n:])]


class BlockSource(PoolSource):
    """Real data for the engine: each chain draws ``n`` distinct token blocks
    (rows of ``block_size`` ids) of a pool."""

    noun = "blocks"