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
(:func:`claims`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.text import TEXT_DATASETS, BlockSource, load_text, make_blocks, subsample_blocks, tokenize_documents
from ..engine import History, run_generations
from ..families.lm import LMFamily, LMParams
from ..lm.models import OPT_125M, TinyGPTConfig
from ..policies import make_policy
from ..profiles import pick
from ..runtime import cache_dir
from ..settings import config_dict
from ..store import RunStore
from ..validation import check_choice, check_fraction, check_int, check_positive

#: What the paper reports (Nature 2024, Fig. 1 and text): OPT-125m on wikitext-2, 5 seeds.
PAPER = {
    "zero_shot_ppl": 115,  # the base model before fine-tuning
    "fine_tuned_ppl": 34,  # generation 0 (fine-tuned on the real data)
    "no_real_worse_by": (20, 28),  # perplexity points lost without original data (Fig. 1b, y-axis ~35-60)
    "mix_axis": (32, 42),  # Fig. 1c's y-axis with 10 % kept: "only minor degradation"
    "generations": 9,
    "seeds": 5,
    "histogram_generations": (0, 1, 2, 3, 5, 9),
}

#: The base model of the offline profiles; every other ``model`` is a pretrained causal LM.
TINY = "tiny-gpt2"
#: Short names of pretrained models.
MODEL_ALIASES = {"opt-125m": OPT_125M}
REGIMES = ("replace", "mix")
REGIME_LABELS = {"replace": "no original data", "mix": "10 % original data kept"}


def regime_label(regime: str, real_fraction: float = 0.1) -> str:
    """How the chapter names a regime: "no original data" or "10 % original data kept"."""
    check_choice("regime", regime, REGIMES)
    return REGIME_LABELS["replace"] if regime == "replace" else f"{real_fraction:.0%} original data kept".replace(
        "%", " %")

#: Bumped whenever the training code changes, so that old checkpoints are not reused.
CHECKPOINT_FORMAT = 2


@dataclass(frozen=True)
class LMConfig:
    """Sizes of the chapter's experiment (one instance per profile)."""

    seed: int = 0  # every random stream of the run derives from it
    dataset: str = "wikitext2"  # "wikitext2" (downloads once) or "pydoc" (ships with Python)
    model: str = OPT_125M  # a Hugging Face causal LM ("facebook/opt-125m", "EleutherAI/pythia-70m", "gpt2"; downloads
    # once), a local save_pretrained directory, or "tiny-gpt2" (pre-trained here on the pydoc text)
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
    histogram_generations: tuple[int, ...] = (0, 1, 2, 3, 5, 9)  # generations whose data are histogrammed (if run)
    # the tiny GPT-2 of the offline profiles, and its pre-training (collapse_lib.lm.pretrain)
    pretrain_text: str = "docstrings"  # "docstrings": the standard library's; "pydoc": 60 % of the pydoc topics
    pretrain_chars: int | None = None  # docstring characters read (whole files, fixed order), None: all
    vocab_size: int = 2048  # BPE vocabulary trained on the pre-training text
    tiny: TinyGPTConfig = TinyGPTConfig()  # its sizes
    pretrain_epochs: int = 4  # passes over the pre-training blocks (of twice block_size tokens)
    pretrain_blocks: int | None = None  # pre-training blocks used (the first ones), None: all
    pretrain_lr: float = 3e-3  # its peak learning rate
    cpu_threads: int | None = None  # torch threads on the CPU (1 is fastest for the tiny model)
    keep_all_models: bool = False  # keep every generation's checkpoint (else generation 0 and the latest)
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present): where the models train, sample and score

    def __post_init__(self):
        check_choice("dataset", self.dataset, TEXT_DATASETS)
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model={self.model!r} is not allowed: it must be {TINY!r}, a Hugging Face model name "
                             "or a save_pretrained directory")
        from ..lm.pretrain import PRETRAIN_TEXTS

        check_choice("pretrain_text", self.pretrain_text, PRETRAIN_TEXTS)
        if self.pretrain_chars is not None:
            check_int("pretrain_chars", self.pretrain_chars, minimum=1)
        check_int("seed", self.seed, minimum=0)
        for name in ("generations", "chains", "epochs_replace", "epochs_mix", "batch_size", "num_beams",
                     "generate_batch_size", "eval_batch_size", "pretrain_epochs"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("block_size", self.block_size, minimum=2)
        for name in ("train_blocks", "test_blocks", "micro_batch_size", "cpu_threads", "pretrain_blocks"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        check_fraction("real_fraction", self.real_fraction)
        for name in ("lr", "pretrain_lr", "repetition_penalty"):
            check_positive(name, getattr(self, name))
        if not self.regimes:
            raise ValueError("regimes=() is not allowed: name at least one of 'replace', 'mix'")
        for r in self.regimes:
            check_choice("regimes", r, REGIMES)
        for g in self.histogram_generations:
            if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 0:
                raise ValueError(f"histogram_generations={self.histogram_generations!r} is not allowed: every entry "
                                 "must be a generation >= 0 (those after the last generation are left out)")
        # a pretrained model's position limit is checked when it is loaded (its config says it)
        if self.model == TINY and 2 * self.block_size > self.tiny.n_positions:
            raise ValueError(f"block_size={self.block_size!r} is not allowed: a block and its continuation "
                             f"({2 * self.block_size} tokens) must fit the model's {self.tiny.n_positions} positions")
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))
        if self.model != TINY and self.dataset == "pydoc":
            raise ValueError(f"dataset='pydoc' is not allowed with model={self.model!r}: the pydoc text is the offline "
                             "stand-in of the quick profile; use dataset='wikitext2' or model='tiny-gpt2'")

    def epochs(self, regime: str) -> int:
        return self.epochs_replace if regime == "replace" else self.epochs_mix


PROFILE_CONFIGS = {
    # two CPU cores, offline, under a minute and a half: a tiny GPT-2 (2 layers, width 64)
    # pre-trained on 2,048 blocks of the standard library's docstrings, fine-tuned on 112
    # blocks of 32 tokens of the pydoc topics and tested on held-out topics; a larger
    # learning rate, since a few dozen steps a generation must do what thousands do for
    # OPT; the epochs in the paper's ratio (1:2), and the paper's ablation value of the
    # repetition penalty, 2.0
    "quick": LMConfig(dataset="pydoc", model="tiny-gpt2", block_size=32, train_blocks=112, test_blocks=128,
                      generations=3, chains=2, epochs_replace=3, epochs_mix=6, batch_size=32, lr=1.5e-3,
                      min_lr=1e-5, repetition_penalty=2.0, generate_batch_size=112, eval_batch_size=128,
                      histogram_generations=(0, 1, 2, 3), pretrain_chars=500_000, vocab_size=1024, pretrain_epochs=3,
                      pretrain_blocks=2048, cpu_threads=1),
    # a laptop without GPU, under ten minutes: the same loop with all the docstrings as
    # pre-training text, a larger fine-tuning set, more generations, the paper's epochs.
    # 768 fine-tuning blocks: with 512, generation 0 was 28 % below zero-shot (117 -> 85),
    # with 768 32 %, with 1,024 36 %, but 1,024 blocks cost about twice the 512's time a
    # generation (continuing every block dominates) and would pass the ten minutes
    "cpu": LMConfig(dataset="pydoc", model="tiny-gpt2", block_size=32, train_blocks=768, test_blocks=None,
                    generations=5, chains=2, epochs_replace=5, epochs_mix=10, batch_size=32, lr=1e-3, min_lr=1e-5,
                    repetition_penalty=2.0, generate_batch_size=256, eval_batch_size=256,
                    histogram_generations=(0, 1, 2, 3, 5), vocab_size=2048, pretrain_epochs=4, cpu_threads=1),
    # OPT-125m on a subsample of wikitext-2, sized for a free Colab T4
    "gpu": LMConfig(train_blocks=2048, test_blocks=1024, generations=4, chains=2, epochs_replace=2, epochs_mix=4,
                    lr=1e-4, batch_size=32, generate_batch_size=256, histogram_generations=(0, 1, 2, 4)),
    # the paper's settings: all ~37k training blocks, 9 generations, 5 seeds
    "paper": LMConfig(micro_batch_size=64),
}


def config(profile: str | None = None, **overrides) -> LMConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


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


def pretrain_settings(cfg: LMConfig):
    """How the offline profiles' base is built (:mod:`collapse_lib.lm.pretrain`): on
    blocks of twice the chapter's block size, so that every position of a prompt and its
    continuation has been trained."""
    from ..lm.pretrain import PretrainSettings

    return PretrainSettings(text=cfg.pretrain_text, max_chars=cfg.pretrain_chars, vocab_size=cfg.vocab_size,
                            tiny=cfg.tiny, block_size=2 * cfg.block_size, blocks=cfg.pretrain_blocks,
                            epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size, lr=cfg.pretrain_lr, seed=cfg.seed,
                            cpu_threads=cfg.cpu_threads)


def load_corpus(cfg: LMConfig):
    """The fine-tuning and test text: wikitext-2, or the pydoc topics (all of them split
    into fine-tuning and test documents when the base is pre-trained on the docstrings;
    60 % set aside for pre-training otherwise)."""
    if cfg.dataset != "pydoc":
        return load_text(cfg.dataset)
    return load_text("pydoc", pretrain_fraction=0.0 if cfg.pretrain_text == "docstrings" else 0.6,
                     test_fraction=0.1, seed=cfg.seed)


def tiny_tokenizer(cfg: LMConfig, corpus):
    """The offline profiles' tokenizer: a BPE trained on the pre-training text, cached."""
    from ..lm.pretrain import base_tokenizer, pretraining_texts

    settings = pretrain_settings(cfg)
    return base_tokenizer(settings, pretraining_texts(settings, corpus)[0])


def tiny_base(cfg: LMConfig, corpus, tok, *, progress: bool | None = None):
    """The offline profiles' base: a tiny GPT-2 pre-trained on the pre-training text
    (:func:`collapse_lib.lm.pretrain.pretrained_base`), cached. Returns ``(model, info)``."""
    from ..lm.pretrain import pretrained_base, pretraining_texts

    settings = pretrain_settings(cfg)
    texts, what = pretraining_texts(settings, corpus)
    model, info = pretrained_base(settings, texts, tok, progress=progress)
    return model, {**info, "text": what}


def prepare(cfg: LMConfig, *, progress: bool | None = None) -> LMSetup:
    """Load (or, in the quick profile, build) the tokenizer, the base model and the
    train/test blocks, and score the base model on the test blocks (zero-shot)."""
    from ..runtime import cpu_threads
    from ..lm.models import check_fits, count_parameters, load_pretrained
    from ..lm.perplexity import corpus_perplexity

    corpus = load_corpus(cfg)
    info = {}
    if cfg.model == TINY:
        tok, base = tiny_tokenizer(cfg, corpus), None
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
        base, info = tiny_base(cfg, corpus, tok, progress=progress)
        name = (f"tiny GPT-2 ({cfg.tiny.n_layer} layers, width {cfg.tiny.n_embd}, {count_parameters(base):,} "
                f"parameters, BPE vocabulary {len(tok):,}), pre-trained here on {info['blocks']:,} blocks of "
                f"{info['block_size']} tokens ({info['epochs']} epochs) from {info['text']}")
    else:
        name = f"{MODEL_ALIASES.get(cfg.model, cfg.model)} ({count_parameters(base):,} parameters)"
    train = subsample_blocks(train, cfg.train_blocks, seed=cfg.seed)
    test = subsample_blocks(test, cfg.test_blocks, seed=cfg.seed + 1)
    import torch

    from ..runtime import device

    dev = torch.device(cfg.device) if cfg.device else device()
    base_dev = base.to(dev)
    with cpu_threads(cfg.cpu_threads if dev.type == "cpu" else None):
        zero = corpus_perplexity(base_dev, test, batch_size=cfg.eval_batch_size)
    base = base_dev.to("cpu")
    data = (f"{corpus.name}: {len(train):,} of {n_train_all:,} training blocks and {len(test):,} of {n_test_all:,} "
            f"test blocks of {cfg.block_size} tokens")
    return LMSetup(data, name, tok, base, train, test, zero, info)


# ------------------------------------------------------------------ the generations
@dataclass
class RegimeResult:
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


@dataclass
class LMResult:
    data: str
    model: str
    zero_shot_ppl: float
    regimes: dict[str, RegimeResult] = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)


def run_store(cfg: LMConfig, regime: str, root=None) -> RunStore:
    """The checkpoint directory of one regime's run (under the cache unless ``root``)."""
    ident = {"experiment": "lm", "format": CHECKPOINT_FORMAT, "regime": regime, **config_dict(cfg)}
    for setting in ("keep_all_models", "cpu_threads", "histogram_generations"):  # they change no number of the run
        ident.pop(setting)
    ident.pop("device")  # a run started on one device resumes on another
    base = cache_dir("runs", "lm") if root is None else Path(root)
    return RunStore(base / f"{regime}-{_key(ident)}", ident)


def family(cfg: LMConfig, setup: LMSetup, regime: str, checkpoint_dir) -> LMFamily:
    return LMFamily(setup.base, setup.train_blocks, checkpoint_dir, epochs=cfg.epochs(regime),
                    batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size, lr=cfg.lr, min_lr=cfg.min_lr,
                    weight_decay=cfg.weight_decay, num_beams=cfg.num_beams, repetition_penalty=cfg.repetition_penalty,
                    generate_batch_size=cfg.generate_batch_size, eval_batch_size=cfg.eval_batch_size, seed=cfg.seed,
                    cpu_threads=cfg.cpu_threads, device=cfg.device)


def run_regime(cfg: LMConfig, setup: LMSetup, regime: str, *, root=None, callback=None) -> RegimeResult:
    """The engine's run of one regime, every generation stored (a rerun resumes)."""
    from ..distributed import chain_share, for_each_chain

    check_choice("regime", regime, REGIMES)
    store = run_store(cfg, regime, root)
    fam = family(cfg, setup, regime, store.root / "models")
    first: dict[str, LMParams] = {}

    def gen0() -> LMParams:
        if "p" not in first:
            first["p"] = LMParams.from_arrays(store.load(0), "params/")
        return first["p"]

    def record(params: LMParams, train, t: int) -> dict:
        if t == 0:
            first["p"] = params
        # inside a split unit (torchrun), each chain is scored by the rank that leads it
        test = for_each_chain(lambda c: fam.perplexity(params, c, setup.test_blocks), params.chains)
        data = for_each_chain(lambda c: fam.sequence_perplexity(gen0(), c, train.tokens[c]), params.chains)
        return {
            "test_ppl": np.array(test),
            "data_ppl": np.stack(data),
            "loss": params.loss, "tokens_per_s": params.tokens_per_s, "mfu": params.mfu,
            "example": train.tokens[0, -1],
        }

    def after(t: int, params: LMParams) -> None:
        keep = list(gen0().key) + list(params.key)
        fam.forget(keep)
        if not cfg.keep_all_models:
            fam.prune_checkpoints(keep)
        if callback is not None:
            callback(t, params)

    h: History = run_generations(fam, BlockSource(setup.train_blocks), make_policy(regime, cfg.real_fraction),
                                 generations=cfg.generations, samples=len(setup.train_blocks), chains=cfg.chains,
                                 seed=cfg.seed, record=record, store=store, callback=after,
                                 desc=f"LM generations, {regime_label(regime, cfg.real_fraction)}")
    gen_tps = [v for what, v, _ in fam.throughput_ if what == "generate"]
    ranks = chain_share(cfg.chains).unit.size
    return RegimeResult(regime, cfg.epochs(regime), h["test_ppl"], h["data_ppl"], h["loss"], h["tokens_per_s"],
                        h["mfu"], h["example"], float(np.mean(gen_tps)) if gen_tps else float("nan"),
                        h.resumed_from, regime_label(regime, cfg.real_fraction), ranks)


def run_all(cfg: LMConfig, setup: LMSetup | None = None, *, root=None) -> LMResult:
    """Both regimes of ``cfg`` (each resumable), on its data and base model."""
    from ..distributed import main_first, map_units

    if setup is None:
        with main_first():  # under torchrun, rank 0 builds what is cached, the others read it
            setup = prepare(cfg)
    res = LMResult(setup.data, setup.model, setup.zero_shot_ppl, pretrain=setup.pretrain)
    # the regimes are independent runs: under torchrun, each rank runs its share (with
    # more ranks than regimes, a regime's ranks share out its chains)
    runs = map_units(lambda regime: run_regime(cfg, setup, regime, root=root), cfg.regimes, chains=cfg.chains)
    res.regimes.update(zip(cfg.regimes, runs))
    return res


def summary(res: LMResult) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    out = {"data": res.data, "model": res.model, "zero_shot_ppl": res.zero_shot_ppl, "paper": {
        k: list(v) if isinstance(v, tuple) else v for k, v in PAPER.items()}, "regimes": {}}
    for name, r in res.regimes.items():
        ppl = r.test_ppl
        mfu = r.mfu[np.isfinite(r.mfu)]
        out["regimes"][name] = {
            "label": r.label,
            "epochs": r.epochs,
            "test_ppl_mean": ppl.mean(1).tolist(),
            "test_ppl_by_chain": ppl.tolist(),
            "worse_by": float((ppl[-1] - ppl[0]).mean()),  # perplexity points lost, last generation vs generation 0
            "data_ppl_median": np.median(r.data_ppl, axis=(1, 2)).tolist(),
            "train_tokens_per_s": float(np.mean(r.train_tokens_per_s)),
            # generation speed is measured on the generations this process computed: None
            # when the run store had them all
            "generate_tokens_per_s": r.generate_tokens_per_s if np.isfinite(r.generate_tokens_per_s) else None,
            "mfu": float(mfu.mean()) if mfu.size else None,
            "ranks": r.ranks,
        }
    out["claims"] = [c.as_dict() for c in claims(res)]
    return out


def _pct(a: float, b: float) -> str:
    return f"{100 * (b - a) / a:+.0f} %"


def claims(res: LMResult) -> list:
    """What the chapter says about its own run, computed from the run's numbers
    (:mod:`collapse_lib.claims`): fine-tuning helps; without original data the test
    perplexity rises; with original data kept it rises less; the first synthetic
    generation costs both regimes; the generated data pile up at low perplexity under
    generation 0; and whether they grow a high-perplexity tail."""
    from ..claims import claim

    out = []
    z = res.zero_shot_ppl
    g0 = {name: r.test_ppl[0] for name, r in res.regimes.items()}
    out.append(claim(
        "Fine-tuning on the real training text helps: generation 0's test perplexity is below the base model's "
        "zero-shot perplexity, in every chain of every regime",
        all((v < z).all() for v in g0.values()),
        f"zero-shot {z:.1f}; generation 0 " + ", ".join(
            f"{res.regimes[n].label} {v.mean():.1f} ({_pct(z, v.mean())})" for n, v in g0.items())))
    rep, mix = res.regimes.get("replace"), res.regimes.get("mix")
    rise = {}
    for name, r in res.regimes.items():
        first, last = r.test_ppl[0].mean(), r.test_ppl[-1].mean()
        rise[name] = last - first
    if rep is not None and rep.test_ppl.shape[0] > 1:
        G = rep.test_ppl.shape[0] - 1
        first, last = rep.test_ppl[0].mean(), rep.test_ppl[-1].mean()
        out.append(claim(
            "Without original data the test perplexity on real text rises: the last generation's is above "
            "generation 0's in every chain",
            (rep.test_ppl[-1] > rep.test_ppl[0]).all(),
            f"generation 0 {first:.1f}, generation {G} {last:.1f} ({_pct(first, last)}); by chain "
            + ", ".join(f"{a:.1f} -> {b:.1f}" for a, b in zip(rep.test_ppl[0], rep.test_ppl[-1]))))
        if mix is not None and mix.test_ppl.shape[0] == rep.test_ppl.shape[0]:
            m0, m1 = mix.test_ppl[0].mean(), mix.test_ppl[-1].mean()
            out.append(claim(
                f"With {mix.label.replace(' kept', '')} kept the test perplexity rises less than without "
                "original data (last generation against generation 0, mean over chains)",
                rise["mix"] < rise["replace"],
                f"{mix.label}: {m0:.1f} -> {m1:.1f} ({rise['mix']:+.1f} points, {_pct(m0, m1)}); "
                f"{rep.label}: {first:.1f} -> {last:.1f} ({rise['replace']:+.1f} points, {_pct(first, last)})"))
        if mix is not None and mix.test_ppl.shape[0] > 1:
            out.append(claim(
                "The first synthetic generation costs both regimes: generation 1's test perplexity is above "
                "generation 0's with and without original data (mean over chains)",
                all(r.test_ppl[1].mean() > r.test_ppl[0].mean() for r in (rep, mix)),
                "; ".join(f"{r.label}: {r.test_ppl[0].mean():.1f} -> {r.test_ppl[1].mean():.1f}" for r in (rep, mix))))
        med = [float(np.median(rep.data_ppl[t])) for t in range(G + 1)]
        out.append(claim(
            "Without original data, every later generation's training data pile up at lower perplexity under "
            "generation 0's model than the real data: their median block is more predictable than the real median",
            all(m < med[0] for m in med[1:]),
            "median perplexity by generation " + ", ".join(f"{m:.1f}" for m in med)))
        p99 = [float(np.quantile(rep.data_ppl[t], 0.99)) for t in range(G + 1)]
        out.append(claim(
            "The paper's long high-perplexity tail does not appear without original data: the 99th percentile of "
            "every later generation's data, under generation 0's model, stays below that of the real data",
            all(q < p99[0] for q in p99[1:]),
            "99th percentile by generation " + ", ".join(f"{q:.1f}" for q in p99)))
    return out
