"""Chapter 4, language models and perplexity: the experiments behind every figure.

Follows the language-model experiment of Shumailov et al., "AI models collapse when
trained on recursively generated data" (Nature 631:755, 2024; the authors' ``main.py``):
OPT-125m is fine-tuned on wikitext-2 in 64-token blocks (generation 0); every later
generation fine-tunes a fresh copy of the base model on the previous generation's 5-beam
continuations of every training block and is scored on the real test set. Two regimes:
no original data (5 epochs a generation) and 10 % of the original blocks kept, drawn
anew each generation (10 epochs). The chapter adds per-sequence perplexity histograms of
each generation's data under generation 0's model, throughput numbers, the offline
profiles (``quick`` and ``cpu``), in which a tiny GPT-2 pre-trained here on the standard
library's docstrings plays the base model and is fine-tuned on the pydoc topics
(:mod:`collapse_lib.lm.pretrain`), and the claims the chapter makes about its run
(:mod:`collapse_lib.experiments.lm_claims`).

The chapter protocol (:mod:`collapse_lib.protocol`): :class:`Config`, :data:`PROFILES`,
:func:`run` (a :class:`Result`), :func:`summary` and :func:`claims`.
"""
from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .. import protocol
from ..data.text import TEXT_DATASETS, BlockSource, load_text, make_blocks, subsample_blocks, tokenize_documents
from ..engine import History, run_generations
from ..families.lm import LMFamily, LMParams
from ..lm.models import OPT_125M, TinyGPTConfig
from ..lm.pretrain import PretrainSettings
from ..policies import make_policy
from ..validation import check_choice, check_fraction, check_int, check_positive
from .lm_claims import (PAPER, PAPER_CLAIMS, RUN_CLAIMS, claims, paper_mix_bound,  # noqa: F401 (the protocol's names)
                        paper_relative_rise, summary)

#: The base model of the offline profiles; every other ``model`` is a pretrained causal LM.
TINY = "tiny-gpt2"
#: Short names of pretrained models.
MODEL_ALIASES = {"opt-125m": OPT_125M}
REGIMES = ("replace", "mix")
REGIME_LABELS = {"replace": "no original data", "mix": "10 % original data kept"}
#: CPU threads for the tiny base when the run sets none (one is fastest at its sizes);
#: a pretrained model uses torch's default.
TINY_THREADS = 1
#: The quantile of each generation's data perplexities that stands for their high tail.
TAIL_QUANTILE = 0.99
#: Quantiles of each generation's data perplexities that the chapter reports.
DATA_QUANTILES = (0.1, 0.5, TAIL_QUANTILE)


def regime_label(regime: str, real_fraction: float = 0.1) -> str:
    """How the chapter names a regime: "no original data" or "10 % original data kept"."""
    check_choice("regime", regime, REGIMES)
    return REGIME_LABELS["replace"] if regime == "replace" else f"{real_fraction:.0%} original data kept".replace(
        "%", " %")

#: Bumped whenever the training code changes, so that old checkpoints are not reused.
STORE_FORMAT = 2
#: Every regime's generations and models are kept in its run store; a rerun resumes.
RESUMABLE = True


@dataclass(frozen=True)
class Config:
    """Sizes of the chapter's experiment (one instance per profile). ``model`` is a Hugging
    Face causal LM such as "facebook/opt-125m", "EleutherAI/pythia-70m" or "gpt2" (downloads
    once), a local ``save_pretrained`` folder, or "tiny-gpt2", pre-trained here (``tiny``,
    ``vocab_size``, ``pretrain``)."""

    seed: int = 0  # every random stream of the run derives from it
    dataset: str = "wikitext2"  # "wikitext2" (downloads once) or "pydoc" (ships with Python)
    model: str = OPT_125M  # a Hugging Face causal LM (downloads once), a save_pretrained folder, or "tiny-gpt2"
    block_size: int = 64  # tokens per training block, and new tokens per continuation (the paper: 64)
    train_blocks: int | None = None  # real training blocks used (a random subset), None: all (~37k)
    test_blocks: int | None = None  # real test blocks scored, None: all
    generations: int = 9  # generations after the first model (the paper: 9)
    chains: int = 5  # independent runs (seeds) side by side (the paper: 5)
    regimes: tuple[str, ...] = REGIMES  # "replace": no original data; "mix": real_fraction kept
    real_fraction: float = 0.1  # share of original blocks kept by "mix" (the paper: 10 %)
    epochs_replace: int = 5  # epochs a generation without original data (the paper: 5)
    epochs_mix: int = 10  # epochs a generation with original data kept (the paper: 10)
    batch_size: int = 128  # blocks per optimizer step (the paper: 128)
    micro_batch_size: int | None = None  # blocks per forward pass, gradients accumulate; None: all
    lr: float = 2e-5  # AdamW peak learning rate, cosine-annealed (the paper: 2e-5)
    min_lr: float = 1e-6  # end of the cosine schedule (the paper: 1e-6)
    weight_decay: float = 0.0  # AdamW
    num_beams: int = 5  # beam width of the continuations (the paper: 5)
    repetition_penalty: float = 3.0  # the authors' code: 3.0 (the paper's ablation: 2.0)
    generate_batch_size: int = 256  # blocks continued at once (x num_beams sequences)
    eval_batch_size: int = 256  # blocks scored at once
    # the tiny GPT-2 of the offline profiles, and its pre-training (collapse_lib.lm.pretrain)
    vocab_size: int = 2048  # BPE vocabulary trained on the pre-training text
    tiny: TinyGPTConfig = TinyGPTConfig()  # its sizes
    pretrain: PretrainSettings = PretrainSettings()  # its pre-training (text, blocks, epochs, learning rate)

    def __post_init__(self):
        check_choice("dataset", self.dataset, TEXT_DATASETS)
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model={self.model!r} is not allowed: it must be {TINY!r}, a Hugging Face model name "
                             "or a save_pretrained directory")
        check_int("seed", self.seed, minimum=0)
        for name in ("generations", "chains", "epochs_replace", "epochs_mix", "batch_size", "num_beams",
                     "generate_batch_size", "eval_batch_size"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("block_size", self.block_size, minimum=2)
        check_int("vocab_size", self.vocab_size, minimum=258)
        for name in ("train_blocks", "test_blocks", "micro_batch_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        check_fraction("real_fraction", self.real_fraction)
        for name in ("lr", "repetition_penalty"):
            check_positive(name, getattr(self, name))
        if not self.regimes:
            raise ValueError("regimes=() is not allowed: name at least one of 'replace', 'mix'")
        for r in self.regimes:
            check_choice("regimes", r, REGIMES)
        # a pretrained model's position limit is checked when it is loaded (its config says it)
        if self.model == TINY and 2 * self.block_size > self.tiny.n_positions:
            raise ValueError(f"block_size={self.block_size!r} is not allowed: a block and its continuation "
                             f"({2 * self.block_size} tokens) must fit the model's {self.tiny.n_positions} positions")
        if self.model != TINY and self.dataset == "pydoc":
            raise ValueError(f"dataset='pydoc' is not allowed with model={self.model!r}: the pydoc text is the offline "
                             "stand-in of the quick profile; use dataset='wikitext2' or model='tiny-gpt2'")

    def epochs(self, regime: str) -> int:
        return self.epochs_replace if regime == "replace" else self.epochs_mix


PROFILES = {
    # two CPU cores, offline, under a minute and a half: a tiny GPT-2 (2 layers, width 64)
    # pre-trained on 2,048 blocks of the standard library's docstrings, fine-tuned on 112
    # blocks of 32 tokens of the pydoc topics and tested on held-out topics; a larger
    # learning rate, since a few dozen steps a generation must do what thousands do for
    # OPT; the epochs in the paper's ratio (1:2), and the paper's ablation value of the
    # repetition penalty, 2.0
    "quick": Config(dataset="pydoc", model=TINY, block_size=32, train_blocks=112, test_blocks=128,
                    generations=3, chains=2, epochs_replace=3, epochs_mix=6, batch_size=32, lr=1.5e-3,
                    min_lr=1e-5, repetition_penalty=2.0, generate_batch_size=112, eval_batch_size=128,
                    vocab_size=1024, pretrain=PretrainSettings(max_chars=500_000, epochs=3, blocks=2048)),
    # a laptop without GPU, under ten minutes: the same loop with all the docstrings as
    # pre-training text, a larger fine-tuning set, more generations, the paper's epochs.
    # 768 fine-tuning blocks: with 512, generation 0 was 28 % below zero-shot (117 -> 85),
    # with 768 32 %, with 1,024 36 %, but 1,024 blocks cost about twice the 512's time a
    # generation (continuing every block dominates) and would pass the ten minutes
    "cpu": Config(dataset="pydoc", model=TINY, block_size=32, train_blocks=768, test_blocks=None,
                  generations=5, chains=2, epochs_replace=5, epochs_mix=10, batch_size=32, lr=1e-3, min_lr=1e-5,
                  repetition_penalty=2.0, generate_batch_size=256, eval_batch_size=256,
                  vocab_size=2048, pretrain=PretrainSettings(epochs=4)),
    # OPT-125m on a subsample of wikitext-2, sized for a free Colab T4
    "gpu": Config(train_blocks=2048, test_blocks=1024, generations=4, chains=2, epochs_replace=2, epochs_mix=4,
                  lr=1e-4, batch_size=32, generate_batch_size=256),
    # the paper's settings: all ~37k training blocks, 9 generations, 5 seeds
    "paper": Config(micro_batch_size=64),
}


def threads(cfg: Config, run: protocol.Run) -> int | None:
    """The CPU threads of the run: the run's, else :data:`TINY_THREADS` for the tiny base."""
    return run.threads_or(TINY_THREADS if cfg.model == TINY else None)


# ------------------------------------------------------------------ data and base model
@dataclass
class LMSetup:
    """Everything a run needs before generation 0: tokenizer, base model, blocks."""

    data: str  # description of the text used
    model: str  # description of the base model
    tokenizer: Any
    base: Any  # the pretrained model, on the CPU, eval mode
    train_blocks: np.ndarray  # (N, block_size) real training blocks
    test_blocks: np.ndarray  # (N_test, block_size) real test blocks
    zero_shot_ppl: float  # test perplexity of the base model before fine-tuning
    pretrain: dict = field(default_factory=dict)  # how the tiny base was pre-trained (quick profile)

    def decode(self, tokens) -> str:
        return self.tokenizer.decode(np.asarray(tokens).tolist())


def chars_per_token(setup: LMSetup, blocks: int = 256) -> float:
    """Characters of text per token of the first ``blocks`` real test blocks: divides a
    log-perplexity (nats per token) into nats per character, a unit that does not depend on
    the tokenizer."""
    sample = setup.test_blocks[:blocks]
    return sum(len(setup.decode(b)) for b in sample) / sample.size


def load_corpus(cfg: Config):
    """The fine-tuning and test text: wikitext-2, or the pydoc topics (all of them split
    into fine-tuning and test documents when the base is pre-trained on the docstrings;
    60 % set aside for pre-training otherwise)."""
    if cfg.dataset != "pydoc":
        return load_text(cfg.dataset)
    return load_text("pydoc", pretrain_fraction=0.0 if cfg.pretrain.text == "docstrings" else 0.6,
                     test_fraction=0.1, seed=cfg.seed)


def tiny_base(cfg: Config, corpus, run: protocol.Run | None = None):
    """The offline profiles' tokenizer and base: a BPE and a tiny GPT-2 trained on the
    pre-training text (:mod:`collapse_lib.lm.pretrain`), both cached; the model on blocks
    of twice the chapter's block size, so that every position of a prompt and its
    continuation has been trained. Returns ``(tokenizer, model, info)``."""
    from ..lm.pretrain import base_tokenizer, pretrained_base, pretraining_texts

    run = run or protocol.Run()
    texts, what = pretraining_texts(cfg.pretrain, corpus)
    tok = base_tokenizer(texts, cfg.vocab_size)
    model, info = pretrained_base(cfg.pretrain, texts, tok, tiny=cfg.tiny, block_size=2 * cfg.block_size,
                                  batch_size=cfg.batch_size, seed=cfg.seed, threads=threads(cfg, run),
                                  progress=run.progress)
    return tok, model, {**info, "text": what}


def prepare(cfg: Config, run: protocol.Run | None = None) -> LMSetup:
    """Load (or, in the quick profile, build) the tokenizer, the base model and the
    train/test blocks, and score the base model on the test blocks (zero-shot)."""
    from ..lm.models import check_fits, count_parameters, load_pretrained
    from ..lm.perplexity import corpus_perplexity
    from ..runtime import cpu_threads

    run = run or protocol.Run()
    corpus = load_corpus(cfg)
    info = {}
    if cfg.model == TINY:
        tok, base, info = tiny_base(cfg, corpus, run)
    else:
        base, tok = load_pretrained(MODEL_ALIASES.get(cfg.model, cfg.model))
        check_fits(base, cfg.block_size, f"model {cfg.model!r}")
    sep = tok.eos_token_id
    train = make_blocks(tokenize_documents(tok, corpus.train, sep), cfg.block_size)
    test = make_blocks(tokenize_documents(tok, corpus.test, sep), cfg.block_size)
    n_train_all, n_test_all = len(train), len(test)
    if cfg.train_blocks is not None and cfg.train_blocks > n_train_all:
        raise ValueError(f"train_blocks={cfg.train_blocks!r} is not allowed: {corpus.name} has only {n_train_all} "
                         f"training blocks of {cfg.block_size} tokens")
    if cfg.model == TINY:
        name = (f"tiny GPT-2 ({cfg.tiny.n_layer} layers, width {cfg.tiny.n_embd}, {count_parameters(base):,} "
                f"parameters, BPE vocabulary {len(tok):,}), pre-trained here on {info['blocks']:,} blocks of "
                f"{info['block_size']} tokens ({info['epochs']} epochs) from {info['text']}")
    else:
        name = f"{MODEL_ALIASES.get(cfg.model, cfg.model)} ({count_parameters(base):,} parameters)"
    train = subsample_blocks(train, cfg.train_blocks, seed=cfg.seed)
    test = subsample_blocks(test, cfg.test_blocks, seed=cfg.seed + 1)
    dev = run.torch_device()
    base_dev = base.to(dev)
    with cpu_threads(threads(cfg, run) if dev.type == "cpu" else None):
        zero = corpus_perplexity(base_dev, test, batch_size=cfg.eval_batch_size)
    base = base_dev.to("cpu")
    data = (f"{corpus.name}: {len(train):,} of {n_train_all:,} training blocks and {len(test):,} of {n_test_all:,} "
            f"test blocks of {cfg.block_size} tokens")
    return LMSetup(data, name, tok, base, train, test, zero, info)


# ------------------------------------------------------------------ the generations
@dataclass
class RegimeResult:
    """One regime's run, and what the chapter derives from it (computed once)."""

    regime: str
    epochs: int
    test_ppl: np.ndarray  # (G+1, C) perplexity of generation t's model on the real test blocks
    data_ppl: np.ndarray  # (G+1, C, N) perplexity of each of generation t's training blocks under generation 0
    loss: np.ndarray  # (G+1, C) last-epoch training loss (nats per token)
    train_tokens_per_s: np.ndarray  # (G+1, C)
    mfu: np.ndarray  # (G+1, C) model FLOPs utilisation (NaN on the CPU)
    examples: np.ndarray  # (G+1, block_size) a synthetic training block of chain 0 (generation 0: a real one)
    generate_tokens_per_s: float  # mean over the generations computed by this process (NaN if none)
    resumed_from: int | None = None
    label: str = ""  # how figures and tables name the regime
    ranks: int = 1  # processes that ran it (more than one: its chains shared out, under torchrun)

    @property
    def generations(self) -> np.ndarray:
        return np.arange(self.test_ppl.shape[0])

    @cached_property
    def test_ppl_mean(self) -> np.ndarray:
        """(G+1,) the test perplexity of every generation, mean over chains."""
        return self.test_ppl.mean(1)

    @cached_property
    def worse_by(self) -> float:
        """Perplexity points lost, last generation against generation 0 (mean over chains of the differences)."""
        return float((self.test_ppl[-1] - self.test_ppl[0]).mean())

    @cached_property
    def rise(self) -> float:
        """The rise of the mean test perplexity, last generation against generation 0."""
        return self.test_ppl[-1].mean() - self.test_ppl[0].mean()

    @cached_property
    def relative_rise(self) -> np.ndarray:
        """(C,) last generation's test perplexity over generation 0's, minus 1, per chain: a change
        that, unlike perplexity points, can be set beside a run with another tokenizer."""
        return self.test_ppl[-1] / self.test_ppl[0] - 1.0

    @cached_property
    def data_ppl_median(self) -> np.ndarray:
        """(G+1,) the median perplexity of every generation's data under generation 0 (chains pooled)."""
        return np.median(self.data_ppl, axis=(1, 2))

    @cached_property
    def data_ppl_quantiles(self) -> np.ndarray:
        """(len(DATA_QUANTILES), G+1) quantiles of every generation's data perplexities (chains pooled)."""
        return np.quantile(self.data_ppl.reshape(self.data_ppl.shape[0], -1), DATA_QUANTILES, axis=1)


@dataclass
class Result:
    """The chapter's run: its data, base model and every regime's run."""

    data: str  # the text used
    model: str  # the base model
    zero_shot_ppl: float  # test perplexity of the base model before fine-tuning
    regimes: dict[str, RegimeResult] = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)  # how the tiny base was pre-trained (offline profiles)


def family(cfg: Config, setup: LMSetup, regime: str, checkpoint_dir, run: protocol.Run | None = None) -> LMFamily:
    run = run or protocol.Run()
    return LMFamily(setup.base, setup.train_blocks, checkpoint_dir, epochs=cfg.epochs(regime),
                    batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size, lr=cfg.lr, min_lr=cfg.min_lr,
                    weight_decay=cfg.weight_decay, num_beams=cfg.num_beams, repetition_penalty=cfg.repetition_penalty,
                    generate_batch_size=cfg.generate_batch_size, eval_batch_size=cfg.eval_batch_size, seed=cfg.seed,
                    cpu_threads=threads(cfg, run), device=run.device)


def run_regime(cfg: Config, setup: LMSetup, regime: str, run: protocol.Run | None = None, *,
               callback=None) -> RegimeResult:
    """The engine's run of one regime, every generation stored (a rerun resumes)."""
    from ..distributed import shared

    check_choice("regime", regime, REGIMES)
    run = run or protocol.Run()
    store = protocol.store(cfg, regime, run, version=STORE_FORMAT)
    with ExitStack() as stack:
        # the models live in the run store, or, without one, in a folder of this call
        models = store.root / "models" if store else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        # under torchrun, the ranks of a regime share out its chains (fit, sample, scores)
        fam = shared(family(cfg, setup, regime, models, run))
        first: dict[str, LMParams] = {}

        def gen0() -> LMParams:
            if "p" not in first:
                first["p"] = LMParams.from_arrays(store.load(0), "params/")
            return first["p"]

        def record(params: LMParams, train, t: int) -> dict:
            if t == 0:
                first["p"] = params
            return {
                "test_ppl": fam.perplexities(params, setup.test_blocks),
                "data_ppl": fam.sequence_perplexities(gen0(), train.tokens),
                "loss": params.loss, "tokens_per_s": params.tokens_per_s, "mfu": params.mfu,
                "example": train.tokens[0, -1],
            }

        def after(t: int, params: LMParams) -> None:
            keep = list(gen0().key) + list(params.key)
            fam.forget(keep)
            if not run.keep_models:
                fam.prune_checkpoints(keep)
            if callback is not None:
                callback(t, params)

        h: History = run_generations(fam, BlockSource(setup.train_blocks), make_policy(regime, cfg.real_fraction),
                                     generations=cfg.generations, samples=len(setup.train_blocks), chains=cfg.chains,
                                     seed=cfg.seed, record=record, store=store, callback=after, progress=run.progress,
                                     desc=f"LM generations, {regime_label(regime, cfg.real_fraction)}")
    gen_tps = [v for what, v, _ in fam.throughput_ if what == "generate"]
    return RegimeResult(regime, cfg.epochs(regime), h["test_ppl"], h["data_ppl"], h["loss"], h["tokens_per_s"],
                        h["mfu"], h["example"], float(np.mean(gen_tps)) if gen_tps else float("nan"),
                        h.resumed_from, regime_label(regime, cfg.real_fraction), fam.ranks)


def run(cfg: Config, run: protocol.Run | None = None, *, setup: LMSetup | None = None) -> Result:
    """Both regimes of ``cfg`` (each resumable), on its data and base model (``setup``,
    built by :func:`prepare` when not given)."""
    from ..distributed import main_first, map_units

    how = run or protocol.Run()
    if setup is None:
        with main_first():  # under torchrun, rank 0 builds what is cached, the others read it
            setup = prepare(cfg, how)
    res = Result(setup.data, setup.model, setup.zero_shot_ppl, pretrain=setup.pretrain)
    # the regimes are independent runs: under torchrun, each rank runs its share (with
    # more ranks than regimes, a regime's ranks share out its chains)
    runs = map_units(lambda regime: run_regime(cfg, setup, regime, how), cfg.regimes, chains=cfg.chains)
    res.regimes.update(zip(cfg.regimes, runs))
    return res
