"""Chapter 4, language models and perplexity: the experiments behind every figure.

Follows the language-model experiment of Shumailov et al., "AI models collapse when
trained on recursively generated data" (Nature 631:755, 2024; the authors' ``main.py``):
OPT-125m is fine-tuned on wikitext-2 in 64-token blocks (generation 0); every later
generation fine-tunes a copy of generation 0's model on the previous generation's 5-beam
continuations of every training block and is scored on the real test set; every fit keeps
its epoch of lowest loss on real validation blocks (the authors' checkpointing). Two regimes:
no original data (5 epochs a generation) and 10 % of the original blocks kept, drawn
anew each generation (10 epochs). The chapter adds comparisons of the loop without original
data with a start from the base model and with sampling at temperature 1 instead of beam
search (:mod:`collapse_lib.experiments.lm_loop`), per-sequence perplexity histograms of
each generation's data under generation 0's model, throughput numbers, the offline
profiles (``quick`` and ``cpu``), in which a tiny GPT-2 pre-trained here on the standard
library's docstrings plays the base model and is fine-tuned on the pydoc topics
(:mod:`collapse_lib.lm.pretrain`), and the claims the chapter makes about its run
(:mod:`collapse_lib.experiments.lm_claims`).

The chapter protocol (:mod:`collapse_lib.protocol`): :class:`Config`, :data:`PROFILES`,
:func:`run` (a :class:`Result`), :func:`summary` and :func:`claims`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .. import protocol
from ..data.text import TEXT_DATASETS, load_text, make_blocks, split_blocks, subsample_blocks, tokenize_documents
from ..families.lm import DECODINGS, STARTS
from ..lm.models import OPT_125M, TinyGPTConfig
from ..lm.pretrain import PretrainSettings
from ..validation import check_choice, check_fraction, check_int, check_positive
from .lm_loop import (DATA_QUANTILES, REGIME_LABELS, REGIMES, STORE_FORMAT, TAIL_QUANTILE, Loop, RegimeResult, family,  # noqa: F401 (re-exported)
                      paired_log_change, regime_label, run_loop)
from .lm_claims import (PAPER, PAPER_CLAIMS, RUN_CLAIMS, VARIANT_CLAIMS, claims, paper_mix_bound,  # noqa: F401
                        paper_relative_rise, summary)

#: The base model of the offline profiles; every other ``model`` is a pretrained causal LM.
TINY = "tiny-gpt2"
#: Short names of pretrained models.
MODEL_ALIASES = {"opt-125m": OPT_125M}
#: CPU threads for the tiny base when the run sets none (one is fastest at its sizes);
#: a pretrained model uses torch's default.
TINY_THREADS = 1


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
    # what every fit after generation 0 starts from; the first is the chapter's, any other is
    # run as a comparison (without original data). "generation0": generation 0's model, the
    # paper's ("the best-performing model on the original task"); "base": the pre-trained model
    start: tuple[str, ...] = ("generation0",)
    # how continuations are made; the first is the chapter's, any other is run as a comparison
    # (without original data). "beam": num_beams-way beam search with the repetition penalty
    # (the paper's); "sample": sampling at temperature 1 from the model as it is
    decoding: tuple[str, ...] = ("beam",)
    # real blocks held out from fine-tuning on which every fit keeps its best epoch (the
    # authors' checkpointing): wikitext-2's validation split, or pydoc training blocks not
    # among the fine-tuning ones; None: the whole validation split; 0: keep the last epoch
    validation_blocks: int | None = 256
    generate_batch_size: int = 256  # blocks continued at once (x num_beams sequences)
    eval_batch_size: int = 256  # blocks scored at once
    # the tiny GPT-2 of the offline profiles, and its pre-training (collapse_lib.lm.pretrain)
    vocab_size: int = 2048  # BPE vocabulary trained on the pre-training text
    tiny: TinyGPTConfig = TinyGPTConfig()  # its sizes
    pretrain: PretrainSettings = PretrainSettings()  # its pre-training (text, blocks, epochs, learning rate)

    def __post_init__(self):
        for name, allowed in (("start", STARTS), ("decoding", DECODINGS)):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value := (value,))
            if not value:
                raise ValueError(f"{name}=() is not allowed: name at least one of {', '.join(map(repr, allowed))}")
            for v in value:
                check_choice(name, v, allowed)
            if len(set(value)) < len(value):
                raise ValueError(f"{name}={value!r} is not allowed: each choice may be named once")
        if self.validation_blocks is not None:
            check_int("validation_blocks", self.validation_blocks, minimum=0)
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
                    vocab_size=1024, pretrain=PretrainSettings(max_chars=500_000, epochs=3, blocks=2048),
                    start=("generation0", "base"), decoding=("beam", "sample"), validation_blocks=128),
    # a laptop without GPU, under ten minutes: the same loop with all the docstrings as
    # pre-training text, a larger fine-tuning set, more generations, the paper's epochs.
    # 768 fine-tuning blocks: with 512, generation 0 was 28 % below zero-shot (117 -> 85),
    # with 768 32 %, with 1,024 36 %, but 1,024 blocks cost about twice the 512's time a
    # generation (continuing every block dominates) and would pass the ten minutes
    "cpu": Config(dataset="pydoc", model=TINY, block_size=32, train_blocks=768, test_blocks=None,
                  generations=5, chains=2, epochs_replace=5, epochs_mix=10, batch_size=32, lr=1e-3, min_lr=1e-5,
                  repetition_penalty=2.0, generate_batch_size=256, eval_batch_size=256,
                  vocab_size=2048, pretrain=PretrainSettings(epochs=4), start=("generation0", "base"),
                  decoding=("beam", "sample")),
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
    validation_blocks: np.ndarray | None = None  # (N_val, block_size) real blocks that choose checkpoints, or None

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
    train, rest = split_blocks(train, cfg.train_blocks, seed=cfg.seed)
    test = subsample_blocks(test, cfg.test_blocks, seed=cfg.seed + 1)
    val = validation_blocks(cfg, corpus, tok, rest)
    dev = run.torch_device()
    base_dev = base.to(dev)
    with cpu_threads(threads(cfg, run) if dev.type == "cpu" else None):
        zero = corpus_perplexity(base_dev, test, batch_size=cfg.eval_batch_size)
    base = base_dev.to("cpu")
    data = (f"{corpus.name}: {len(train):,} of {n_train_all:,} training blocks and {len(test):,} of {n_test_all:,} "
            f"test blocks of {cfg.block_size} tokens")
    if val is not None:
        data += f", {len(val):,} validation blocks"
    return LMSetup(data, name, tok, base, train, test, zero, info, val)


def validation_blocks(cfg: Config, corpus, tok, rest: np.ndarray) -> np.ndarray | None:
    """The real blocks on which every fit keeps its best epoch: ``cfg.validation_blocks`` of
    the corpus's validation split (wikitext-2), or of the training blocks left out of
    fine-tuning (``rest``, pydoc); None when ``cfg.validation_blocks`` is 0."""
    if cfg.validation_blocks == 0:
        return None
    if corpus.validation:
        pool = make_blocks(tokenize_documents(tok, corpus.validation, tok.eos_token_id), cfg.block_size)
    elif len(rest):
        pool = rest
    else:
        raise ValueError(f"validation_blocks={cfg.validation_blocks!r} is not allowed with train_blocks="
                         f"{cfg.train_blocks!r}: {corpus.name} has no validation split and every training block is "
                         "fine-tuned on; set train_blocks below the number of training blocks, or validation_blocks=0")
    return subsample_blocks(pool, cfg.validation_blocks, seed=cfg.seed + 2)


# ------------------------------------------------------------------ the generations
@dataclass
class Result:
    """The chapter's run: its data, base model, every regime's run and the comparisons."""

    data: str  # the text used
    model: str  # the base model
    zero_shot_ppl: float  # test perplexity of the base model before fine-tuning
    regimes: dict[str, RegimeResult] = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)  # how the tiny base was pre-trained (offline profiles)
    # the loops that change one of the paper's choices, by Loop.part ("replace-start=base")
    variants: dict[str, RegimeResult] = field(default_factory=dict)

    @cached_property
    def versus_main(self) -> dict[str, tuple[float, float, np.ndarray]]:
        """By variant: :func:`~collapse_lib.experiments.lm_loop.paired_log_change` of its last
        generation's test perplexity against the main run without original data."""
        main = self.regimes.get("replace")
        return {k: paired_log_change(v, main) for k, v in self.variants.items() if main is not None}


def main_loops(cfg: Config) -> list[Loop]:
    """The chapter's regimes, with the paper's choices (the first of ``start`` and ``decoding``)."""
    return [Loop(r, start=cfg.start[0], decoding=cfg.decoding[0]) for r in cfg.regimes]


def variant_loops(cfg: Config) -> list[Loop]:
    """The comparisons: the regime without original data with each other ``start`` and
    each other ``decoding``, the rest as in the main loops (none when that regime is not run)."""
    if "replace" not in cfg.regimes:
        return []
    base = dict(start=cfg.start[0], decoding=cfg.decoding[0], main=False)
    return ([Loop("replace", **{**base, "start": s}) for s in cfg.start[1:]]
            + [Loop("replace", **{**base, "decoding": d}) for d in cfg.decoding[1:]])


def run_regime(cfg: Config, setup: LMSetup, regime: str, run: protocol.Run | None = None, *,
               callback=None) -> RegimeResult:
    """The engine's run of one of the chapter's regimes, every generation stored (a rerun resumes)."""
    check_choice("regime", regime, REGIMES)
    return run_loop(cfg, setup, Loop(regime, start=cfg.start[0], decoding=cfg.decoding[0]), run, callback=callback)


def run(cfg: Config, run: protocol.Run | None = None, *, setup: LMSetup | None = None) -> Result:
    """Both regimes of ``cfg`` (each resumable), on its data and base model (``setup``,
    built by :func:`prepare` when not given)."""
    from ..distributed import main_first, map_units

    how = run or protocol.Run()
    if setup is None:
        with main_first():  # under torchrun, rank 0 builds what is cached, the others read it
            setup = prepare(cfg, how)
    res = Result(setup.data, setup.model, setup.zero_shot_ppl, pretrain=setup.pretrain)
    # the loops are independent runs: under torchrun, each rank runs its share (with
    # more ranks than loops, a loop's ranks share out its chains)
    loops = main_loops(cfg) + variant_loops(cfg)
    runs = map_units(lambda loop: run_loop(cfg, setup, loop, how), loops, chains=cfg.chains)
    for loop, r in zip(loops, runs):
        (res.regimes if loop.main else res.variants)[loop.part] = r
    return res
