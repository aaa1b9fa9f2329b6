"""Chapter 6, larger models: GPT-2 models of several sizes scaling in tokens on mixed text.

Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025) say in their
abstract that their findings are "empirically verified through experiments on language
models". As secondary summaries report that experiment (not checked against the paper
here), it trains GPT-2 models of 12, 18 and 24 layers on BabiStories mixed with stories
sampled from a GPT-2-small at temperature 1 and top-p 1, and plots the test loss on real
stories against the training tokens for several shares p2 of synthetic stories:
synthetic data "delay the progression of the scaling laws", and with p2 = 1 the 18- and
24-layer models beat the 12-layer one below about 1e10 tokens and lose to it beyond
about 3e10.

:func:`run_language_models` does the same at a small scale: a *generator* (a small GPT-2)
trained on held-out real text samples the synthetic blocks (plain sampling,
:func:`collapse_lib.lm.scaling.sample_blocks`); GPT-2 models of each size are trained from
scratch, one pass over a stream of blocks in which a share p2 is synthetic at every prefix,
and scored on real test blocks at log-spaced token counts of that one run
(:func:`collapse_lib.lm.scaling.train_with_checkpoints`). The generator, its samples and
every run are stored as they end (a rerun resumes).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import protocol
from ..data.text import TextCorpus, load_docstrings, load_text, make_blocks, pydoc_documents, tokenize_documents
from ..lm import TinyGPTConfig, count_parameters, tiny_gpt2, token_nll, train_bpe
from ..lm.scaling import sample_blocks, train_with_checkpoints
from ..distributed import main_first, map_units
from ..protocol import Run
from ..runtime import cpu_threads
from ..validation import _fail, check_choice, check_fraction, check_int, check_positive
from .larger_scaling import fit_spread, tokens_to_reach

#: The format of the run stores' pieces; raising it keeps a rerun from reading older ones.
STORE_FORMAT = 2

#: CPU threads for the language models unless the run names others (tiny models train
#: fastest on one thread of a busy two-core machine).
THREADS = 1


@dataclass(frozen=True)
class LanguageModelsConfig:
    """GPT-2 models of several sizes scaling in tokens on mixed text (after Dohmatob et al. 2025)."""

    run: bool = True  # whether the language models run in this profile
    text: str = "wikitext2"  # "wikitext2" (downloads once) or "stdlib" (Python's docstrings and pydoc topics)
    max_chars: int | None = None  # "stdlib": docstrings up to about this many characters (None: all)
    sizes: tuple[tuple[int, int], ...] = ((2, 128), (4, 256), (8, 384))  # (layers, width) per GPT-2
    fractions: tuple[float, ...] = (0.0, 0.1, 0.5, 1.0)  # shares p2 of synthetic blocks (0: real only)
    seeds: int = 2  # seeds per (size, share): initialisation and the order of the blocks
    tokens: int = 1_048_576  # training tokens of every model (one pass, the last checkpoint)
    first: int = 16_384  # tokens at the first checkpoint; the others are log-spaced up to `tokens`
    checkpoints: int = 8  # test-loss checkpoints of every run
    generator: tuple[int, int] = (4, 256)  # (layers, width) of the generator of the synthetic text
    generator_epochs: int = 3  # passes of the generator over its held-out real text
    test_blocks: int = 512  # real test blocks every checkpoint is scored on
    block_size: int = 64  # tokens per block
    vocab: int = 8192  # BPE vocabulary trained on the real training text
    lr: float = 1e-3  # learning rate, constant after the warm-up
    warmup: int = 50  # warm-up steps
    batch: int = 32  # blocks per step

    def __post_init__(self):
        check_choice("language_models.text", self.text, ("stdlib", "wikitext2"))
        for name, sizes in (("sizes", self.sizes), ("generator", (self.generator,))):
            if not sizes:
                _fail(f"language_models.{name}", sizes, "name at least one (layers, width) pair")
            for size in sizes:
                if len(size) != 2 or size[1] % 16:
                    _fail(f"language_models.{name}", getattr(self, name),
                          "every size must be (layers >= 1, width a multiple of 16)")
                check_int(f"language_models.{name}", size[0], minimum=1)
                check_int(f"language_models.{name}", size[1], minimum=16)
        if not self.fractions or self.fractions[0] != 0:
            _fail("language_models.fractions", self.fractions, "start with 0 (real text only), then the shares p2")
        for p in self.fractions:
            check_fraction("language_models.fractions", p)
        for name in ("seeds", "tokens", "first", "checkpoints", "generator_epochs", "test_blocks", "batch"):
            check_int(f"language_models.{name}", getattr(self, name), minimum=1)
        check_int("language_models.warmup", self.warmup, minimum=0)
        if self.max_chars is not None:
            check_int("language_models.max_chars", self.max_chars, minimum=1000)
        check_int("language_models.block_size", self.block_size, minimum=4)
        check_int("language_models.vocab", self.vocab, minimum=300)
        check_positive("language_models.lr", self.lr)
        if self.first > self.tokens:
            _fail("language_models.first", self.first, f"it must be at most tokens={self.tokens}")

    @property
    def steps(self) -> np.ndarray:
        """The steps after which the models are scored (log-spaced, distinct)."""
        per = self.batch * self.block_size
        last = max(1, self.tokens // per)
        return np.unique(np.round(np.geomspace(max(1, self.first // per), last, self.checkpoints))).astype(int)


def load_corpus(lm: LanguageModelsConfig, seed: int) -> TextCorpus:
    """``stdlib``: the standard library's docstrings and the pydoc topics as documents,
    shuffled by ``seed``, split by characters into 10 % test and two halves of the rest
    (``pretrain``: the generator's held-out text; ``train``: the models' real text);
    ``wikitext2``: its test split, and its training split cut in two halves likewise."""
    if lm.text == "wikitext2":
        wiki = load_text("wikitext2")
        lines = wiki.train[0].splitlines(keepends=True)
        half = len(lines) // 2
        return TextCorpus(wiki.name, ["".join(lines[half:])], wiki.test, ["".join(lines[:half])])
    docs = load_docstrings(lm.max_chars) + [pydoc_documents()[k] for k in sorted(pydoc_documents())]
    docs = [docs[i] for i in np.random.default_rng([seed, 15]).permutation(len(docs))]
    share = np.cumsum([len(d) for d in docs]) / sum(len(d) for d in docs)
    test = [d for d, s in zip(docs, share) if s > 0.9]
    gen = [d for d, s in zip(docs, share) if s <= 0.45]
    real = [d for d, s in zip(docs, share) if 0.45 < s <= 0.9]
    return TextCorpus("Python's docstrings and pydoc topics", real, test, gen)


def _gpt2(lm: LanguageModelsConfig, tok, layers: int, width: int, seed: int):
    shape = TinyGPTConfig(n_embd=width, n_layer=layers, n_head=max(1, width // 32), n_positions=lm.block_size)
    return tiny_gpt2(len(tok), shape, eos_token_id=tok.eos_token_id, seed=seed)


def synthetic_positions(p2: float, blocks: int) -> np.ndarray:
    """(blocks,) booleans: block i of the training stream is synthetic exactly when
    floor((i + 1) p2) > floor(i p2), so that every prefix holds the share p2 up to one block.
    Every block has the same number of tokens, so this is also the share of synthetic tokens."""
    i = np.arange(blocks)
    return np.floor((i + 1) * p2) > np.floor(i * p2)


def mixed_stream(real: np.ndarray, synthetic: np.ndarray, p2: float, blocks: int, rng) -> np.ndarray:
    """``blocks`` blocks, synthetic at :func:`synthetic_positions`, real and synthetic blocks
    each taken in a random order of ``rng``."""
    syn = synthetic_positions(p2, blocks)
    need_r, need_s = int((~syn).sum()), int(syn.sum())
    if need_r > len(real) or need_s > len(synthetic):
        _fail("language_models.tokens", blocks * real.shape[1],
              f"it needs {need_r} real and {need_s} synthetic blocks; there are {len(real)} and {len(synthetic)}")
    out = np.empty((blocks, real.shape[1]), dtype=real.dtype)
    out[~syn] = real[rng.permutation(len(real))[:need_r]]
    out[syn] = synthetic[rng.permutation(len(synthetic))[:need_s]]
    return out


@dataclass
class LanguageModelResult:
    data: str  # description of the text and blocks
    sizes: list  # [(layers, width)]
    parameters: np.ndarray  # (S,) parameters of each size
    fractions: np.ndarray  # (P,) shares p2 of synthetic blocks
    tokens: np.ndarray  # (C,) training tokens seen at each checkpoint
    loss: np.ndarray  # (seeds, S, P, C) mean next-token loss (nats) on the real test blocks
    final_blocks: np.ndarray  # (seeds, S, P, T) the last checkpoint's loss per test block
    generator: tuple  # (layers, width) of the generator
    generator_loss: float  # the generator's own test loss (the synthetic text's quality)
    generator_train_loss: float  # the generator's loss on its own training text
    loaded: int = 0  # runs read from the run store
    block_size: int = 0  # tokens per block (the synthetic ones: a start token and block_size - 1 sampled)

    @property
    def synthetic_token_share(self) -> np.ndarray:
        """(P,): the share of the training tokens at the last checkpoint that come from
        synthetic blocks (whole blocks are sampled: nothing of a synthetic block is real text)."""
        blocks = int(self.tokens[-1]) // max(self.block_size, 1)
        return np.array([synthetic_positions(float(p), blocks).mean() for p in self.fractions])

    @cached_property
    def mean(self) -> np.ndarray:
        """(S, P, C): the test loss, mean over seeds."""
        return self.loss.mean(0)

    def final_gap(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(S,) twice: the last checkpoint's loss at share j minus real-only, mean over seeds,
        and its standard error: per test block the difference is averaged over seeds, and the
        error is that of the mean over test blocks (paired: both models on the same blocks),
        or the seeds' own when larger."""
        diff = self.final_blocks[:, :, j] - self.final_blocks[:, :, 0]  # (seeds, S, T)
        per_block = diff.mean(0)
        se = per_block.std(-1, ddof=1) / np.sqrt(per_block.shape[-1])
        if len(diff) > 1:
            se = np.maximum(se, diff.mean(-1).std(0, ddof=1) / np.sqrt(len(diff)))
        return per_block.mean(-1), se

    @cached_property
    def fits(self) -> list[list[dict]]:
        """[size][share]: L(D) = E + A D^-alpha fitted per seed and to the seed mean."""
        return [[fit_spread(self.tokens, self.loss[:, k, j]) for j in range(len(self.fractions))]
                for k in range(len(self.sizes))]

    @cached_property
    def delays(self) -> np.ndarray:
        """(S, P): tokens a share needs to reach the real-only model's loss at the middle
        checkpoint, divided by that checkpoint's tokens (1 for real only; inf: not reached
        within the run)."""
        c = len(self.tokens) // 2
        out = np.empty(self.mean.shape[:2])
        for k in range(len(self.sizes)):
            level = self.mean[k, 0, c]
            for j in range(len(self.fractions)):
                out[k, j] = tokens_to_reach(self.tokens, self.mean[k, j], level) / self.tokens[c]
        return out


def run_language_models(cfg, run: Run | None = None) -> LanguageModelResult:
    """The generator, its synthetic blocks, and a curve of test loss against tokens for
    every (seed, size, share) of ``cfg.language_models``."""
    run = run or Run()
    lm = cfg.language_models
    corpus = load_corpus(lm, cfg.seed)
    tok = train_bpe(corpus.train + corpus.pretrain, lm.vocab)
    L, eos = lm.block_size, tok.eos_token_id
    blocks = lambda docs: make_blocks(tokenize_documents(tok, docs, eos), L)  # noqa: E731
    real, held, test = blocks(corpus.train), blocks(corpus.pretrain), blocks(corpus.test)
    test = test[np.sort(np.random.default_rng([cfg.seed, 16]).permutation(len(test))[:lm.test_blocks])]
    per = lm.batch * L
    steps = lm.steps
    n_blocks = int(steps[-1]) * lm.batch
    dev = run.torch_device()
    store = protocol.store(cfg, "language_models", run, version=STORE_FORMAT)

    def generator():
        gen = _gpt2(lm, tok, *lm.generator, seed=cfg.seed + 1).to(dev)
        order = np.concatenate([np.random.default_rng([cfg.seed, 17, e]).permutation(len(held))
                                for e in range(lm.generator_epochs)])
        stream = held[order]
        train_with_checkpoints(gen, stream, [stream.size], test[:1], batch_size=lm.batch, lr=lm.lr,
                               warmup=lm.warmup, seed=cfg.seed + 1)
        need = int(np.ceil(max(lm.fractions) * n_blocks)) + 1
        syn = sample_blocks(gen, need, L, start_token=eos, temperature=1.0, top_p=1.0, seed=cfg.seed + 2)
        return {"synthetic": syn, "generator_loss": token_nll(gen, test).mean(),
                "generator_train_loss": token_nll(gen, held[:lm.test_blocks]).mean()}

    def one(s, k, j):
        rng = np.random.default_rng([cfg.seed, 18, s, j])
        stream = mixed_stream(real, synthetic, lm.fractions[j], n_blocks, rng)
        model = _gpt2(lm, tok, *lm.sizes[k], seed=cfg.seed + 100 * s + k).to(dev)
        loss = train_with_checkpoints(model, stream, steps * per, test, batch_size=lm.batch, lr=lm.lr,
                                      warmup=lm.warmup, seed=cfg.seed + s)
        return {"loss": loss, "final_blocks": token_nll(model, test).mean(1), "parameters": count_parameters(model)}

    runs = [(s, k, j) for s in range(lm.seeds) for k in range(len(lm.sizes)) for j in range(len(lm.fractions))]
    shape = (lm.seeds, len(lm.sizes), len(lm.fractions))
    loss, final = np.empty(shape + (len(steps),)), np.empty(shape + (len(test),))
    params, loaded = np.zeros(len(lm.sizes), dtype=np.int64), 0
    with cpu_threads(run.threads_or(None if dev.type == "cuda" else THREADS)):
        with main_first():  # under torchrun, one process trains the generator; the others read it
            first, _ = protocol.cached(store, 0, generator)
        synthetic = first["synthetic"]
        # the runs are independent: under torchrun each process trains its share of them
        done = map_units(lambda i: protocol.cached(store, 1 + i, lambda: one(*runs[i])), list(range(len(runs))),
                         desc="language models", progress=run.progress)
    for (s, k, j), (a, was) in zip(runs, done):
        loss[s, k, j], final[s, k, j], params[k] = a["loss"], a["final_blocks"], int(a["parameters"])
        loaded += was
    data = (f"{corpus.name}: {len(real) * L:,} real training tokens for the models, {len(held) * L:,} held out for "
            f"the generator, {len(test) * L:,} test tokens; BPE vocabulary {len(tok):,}, blocks of {L} tokens")
    return LanguageModelResult(data, [tuple(x) for x in lm.sizes], params, np.asarray(lm.fractions, float),
                               steps * per, loss, final, tuple(lm.generator), float(first["generator_loss"]),
                               float(first["generator_train_loss"]), loaded, L)
