"""Chapter 4's generations: one loop of the language-model experiment run by the engine.

A :class:`Loop` names what one run does each generation: its data regime (the paper's
"no original data" or "10 % original data kept"), what every fit after generation 0 starts
from, how continuations are made and which of them a block keeps. The chapter's two
regimes are loops with the paper's choices (:func:`collapse_lib.experiments.lm.main_loops`);
the comparisons of chapter 4 (the start, the decoding) and the selections of chapter 7
(Feng et al., arXiv 2406.07515) are loops that change one of them. A loop's generations
and models are kept in the run store under :attr:`Loop.part`, so a rerun resumes, and
chapter 7 reuses the runs of chapter 4 that it shares.
"""
from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import protocol
from ..data.text import BlockSource
from ..engine import History, run_generations
from ..families.lm import DECODINGS, SELECTIONS, STARTS, LMFamily, LMParams
from ..policies import make_policy
from ..validation import check_choice

if TYPE_CHECKING:
    from .lm import Config, LMSetup

REGIMES = ("replace", "mix")
REGIME_LABELS = {"replace": "no original data", "mix": "10 % original data kept"}
#: Bumped whenever the training code changes, so that old checkpoints are not reused.
STORE_FORMAT = 3
#: The quantile of each generation's data perplexities that stands for their high tail.
TAIL_QUANTILE = 0.99
#: Quantiles of each generation's data perplexities that the chapter reports.
DATA_QUANTILES = (0.1, 0.5, TAIL_QUANTILE)
#: How the chapters name a loop's start, decoding and selection.
START_LABELS = {"generation0": "later generations start from generation 0",
                "base": "every generation starts from the base model"}
DECODING_LABELS = {"beam": "beam search", "sample": "sampling at temperature 1"}
SELECTION_LABELS = {"top": "the best beam", "self": "the beam the generator finds likeliest",
                    "verifier": "the beam generation 0 finds likeliest", "random": "a random beam"}


def regime_label(regime: str, real_fraction: float = 0.1) -> str:
    """How the chapter names a regime: "no original data" or "10 % original data kept"."""
    check_choice("regime", regime, REGIMES)
    return REGIME_LABELS["replace"] if regime == "replace" else f"{real_fraction:.0%} original data kept".replace(
        "%", " %")


@dataclass(frozen=True)
class Loop:
    """What one run of the loop does each generation."""

    regime: str  # "replace": no original data; "mix": a share of original blocks kept
    start: str = "generation0"  # what every fit after generation 0 starts from: "generation0" or "base"
    decoding: str = "beam"  # "beam" (the paper's) or "sample" (temperature 1)
    select: str = "top"  # which finished beam a block keeps: "top", "self", "verifier", "random"
    main: bool = True  # one of the chapter's two regimes (stored under the regime's name)

    def __post_init__(self):
        check_choice("regime", self.regime, REGIMES)
        check_choice("start", self.start, STARTS)
        check_choice("decoding", self.decoding, DECODINGS)
        check_choice("select", self.select, SELECTIONS)

    @property
    def part(self) -> str:
        """Its name in the run store and in a result: the regime, then every choice that
        is not the paper's ("replace-start=base", "replace-select=verifier")."""
        if self.main:
            return self.regime
        changed = [f"{k}={v}" for k, v in (("start", self.start), ("decoding", self.decoding),
                                             ("select", self.select)) if v != Loop.__dataclass_fields__[k].default]
        return "-".join([self.regime, *changed])


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
    epoch: np.ndarray | None = None  # (G+1, C) the epoch each fit kept (1-based; the best on validation)
    loop: Loop | None = None  # what the run did each generation

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


def family(cfg: Config, setup: LMSetup, loop: Loop | str, checkpoint_dir, run: protocol.Run | None = None) -> LMFamily:
    """The engine's model family for ``loop`` (a :class:`Loop`, or a regime's name for
    the chapter's main loop of that regime)."""
    from .lm import threads

    run = run or protocol.Run()
    loop = Loop(loop, start=cfg.start[0], decoding=cfg.decoding[0]) if isinstance(loop, str) else loop
    return LMFamily(setup.base, setup.train_blocks, checkpoint_dir, epochs=cfg.epochs(loop.regime),
                    batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size, lr=cfg.lr, min_lr=cfg.min_lr,
                    weight_decay=cfg.weight_decay, num_beams=cfg.num_beams, repetition_penalty=cfg.repetition_penalty,
                    generate_batch_size=cfg.generate_batch_size, eval_batch_size=cfg.eval_batch_size, seed=cfg.seed,
                    cpu_threads=threads(cfg, run), device=run.device, validation=setup.validation_blocks,
                    start=loop.start, decoding=loop.decoding, select=loop.select)


def run_loop(cfg: Config, setup: LMSetup, loop: Loop, run: protocol.Run | None = None, *,
             callback=None) -> RegimeResult:
    """The engine's run of one loop, every generation stored (a rerun resumes)."""
    from ..distributed import shared

    run = run or protocol.Run()
    store = protocol.store(cfg, loop.part, run, version=STORE_FORMAT)
    with ExitStack() as stack:
        # the models live in the run store, or, without one, in a folder of this call
        models = store.root / "models" if store else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        fam = family(cfg, setup, loop, models, run)
        if store is not None and store.finished():  # a resumed run: generation 0 is stored
            fam.generation0 = LMParams.from_arrays(store.load(0), "params/")
        # under torchrun, the ranks of a regime share out its chains (fit, sample, scores)
        shared_fam = shared(fam)

        def record(params: LMParams, train, t: int) -> dict:
            if t == 0:
                fam.generation0 = params
            return {
                "test_ppl": shared_fam.perplexities(params, setup.test_blocks),
                "data_ppl": shared_fam.sequence_perplexities(fam.generation0, train.tokens),
                "loss": params.loss, "tokens_per_s": params.tokens_per_s, "mfu": params.mfu, "epoch": params.epoch,
                "example": train.tokens[0, -1],
            }

        def after(t: int, params: LMParams) -> None:
            keep = list(fam.generation0.key) + list(params.key)
            fam.forget(keep)
            if not run.keep_models:
                fam.prune_checkpoints(keep)
            if callback is not None:
                callback(t, params)

        label = regime_label(loop.regime, cfg.real_fraction)
        h: History = run_generations(shared_fam, BlockSource(setup.train_blocks),
                                     make_policy(loop.regime, cfg.real_fraction), generations=cfg.generations,
                                     samples=len(setup.train_blocks), chains=cfg.chains, seed=cfg.seed, record=record,
                                     store=store, callback=after, progress=run.progress,
                                     desc=f"LM generations, {label}" + ("" if loop.main else f" ({loop.part})"))
    gen_tps = [v for what, v, _ in fam.throughput_ if what == "generate"]
    return RegimeResult(loop.regime, cfg.epochs(loop.regime), h["test_ppl"], h["data_ppl"], h["loss"],
                        h["tokens_per_s"], h["mfu"], h["example"], float(np.mean(gen_tps)) if gen_tps else float("nan"),
                        h.resumed_from, label, shared_fam.ranks, h["epoch"], loop)


def paired_log_change(run: RegimeResult, reference: RegimeResult) -> tuple[float, float, np.ndarray]:
    """How much lower or higher ``run``'s last-generation test perplexity is than
    ``reference``'s, chain by chain (the same chains, the same generation 0: paired): the
    mean over chains of the difference of log perplexities (a relative change), its standard
    error over chains (NaN with one chain), and the per-chain differences."""
    d = np.log(run.test_ppl[-1]) - np.log(reference.test_ppl[-1])
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return float(d.mean()), se, d


def beyond_noise(change: tuple[float, float, np.ndarray], sign: int) -> bool:
    """Whether a :func:`paired_log_change` has the sign ``sign`` (+1, -1) in every chain and
    its mean is more than two standard errors from zero."""
    mean, se, d = change
    return bool(np.all(np.sign(d) == sign) and np.isfinite(se) and abs(mean) > 2 * se)


def describe_change(change: tuple[float, float, np.ndarray], lead: str = "") -> str:
    """A :func:`paired_log_change` as the claims print it: the mean as a relative change
    (after ``lead``), the log change with its standard error, and the change of every chain."""
    mean, se, d = change
    return (f"{lead}{100 * np.expm1(mean):+.0f} % (log change {mean:+.3f} +- {se:.3f} s.e. over {d.size} chains; "
            "by chain " + ", ".join(f"{100 * np.expm1(x):+.0f} %" for x in d) + ")")


def change_summary(change: tuple[float, float, np.ndarray]) -> dict:
    """A :func:`paired_log_change`, JSON-ready."""
    mean, se, d = change
    return {"mean_log_change": mean, "se": se, "by_chain": d.tolist()}


def chain_range(values) -> str:
    """Values over chains as "mean (min-max)"."""
    v = np.asarray(values, float)
    return f"{v.mean():.1f} ({v.min():.1f}-{v.max():.1f})"
