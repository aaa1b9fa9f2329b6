"""Chapter 7's neural experiment: chapter 4's language-model loop with selection.

Feng, Dohmatob, Yang, Charton and Kempe, "Beyond Model Collapse: Scaling Up with
Synthesized Data Requires Verification" (arXiv 2406.07515), pick one of many beams of a
transformer by an oracle, by the generator's own perplexity, or take the greedy answer, and
find the generator's own judgement weak. Here chapter 4's loop without original data
(:mod:`collapse_lib.experiments.lm`) keeps, of the ``num_beams`` finished beams of every
block, the best beam (chapter 4's run itself), the one the generator finds likeliest
(``"self"``), the one the chain's generation-0 model, fine-tuned on real text, finds
likeliest (``"verifier"``), or one at random, and scores every generation on real test text.
Each selection is a :class:`collapse_lib.experiments.lm_loop.Loop` of chapter 4's
configuration, stored like chapter 4's runs (the best-beam run is chapter 4's).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .. import protocol
from ..families.lm import SELECTIONS
from .lm_loop import SELECTION_LABELS, Loop, RegimeResult, change_summary, paired_log_change

#: The selections of the chapter, the paper's (no selection: the best beam) first.
NEURAL_SELECTIONS = SELECTIONS


@dataclass
class NeuralResult:
    """Chapter 4's loop without original data, one run per selection."""

    data: str  # the text used
    model: str  # the base model
    zero_shot_ppl: float  # test perplexity of the base model before fine-tuning
    runs: dict[str, RegimeResult] = field(default_factory=dict)  # selection -> its run

    @cached_property
    def labels(self) -> dict[str, str]:
        return {s: SELECTION_LABELS[s] for s in self.runs}

    @cached_property
    def last(self) -> dict[str, np.ndarray]:
        """(C,) the last generation's test perplexity per chain, by selection."""
        return {s: r.test_ppl[-1] for s, r in self.runs.items()}

    @cached_property
    def versus_top(self) -> dict[str, tuple[float, float, np.ndarray]]:
        """By selection other than "top": :func:`paired_log_change` of its run against the
        best-beam run (mean log difference over chains, its standard error, per chain)."""
        top = self.runs.get("top")
        return {s: paired_log_change(r, top) for s, r in self.runs.items() if s != "top" and top is not None}


def loops(cfg, selections) -> list[Loop]:
    """One loop without original data per selection, with chapter 4's start and decoding."""
    return [Loop("replace", start=cfg.start[0], decoding="beam", select=s, main=s == "top") for s in selections]


def run_neural(cfg, selections, run: protocol.Run | None = None) -> NeuralResult:
    """Every selection's run of chapter 4's loop (configuration ``cfg``, a
    :class:`collapse_lib.experiments.lm.Config`), each resumable; chapter 4's best-beam run
    is reused when its store holds it."""
    from ..distributed import main_first, map_units
    from . import lm

    how = run or protocol.Run()
    with main_first():  # under torchrun, rank 0 builds what is cached, the others read it
        setup = lm.prepare(cfg, how)
    todo = loops(cfg, selections)
    runs = map_units(lambda loop: lm.run_loop(cfg, setup, loop, how), todo, chains=cfg.chains)
    return NeuralResult(setup.data, setup.model, setup.zero_shot_ppl, {lp.select: r for lp, r in zip(todo, runs)})


#: What Feng et al. report for selection among beams (eigenvalue prediction with a transformer,
#: best of 50 beams), as a summary of the paper gives it: not checked against the paper's text.
PAPER_SELECTION = {"oracle": 60.4, "own_perplexity": 19.2, "greedy": 20.2}  # % of answers correct


def neural_summary(res: NeuralResult) -> dict:
    """The neural experiment's numbers, JSON-ready."""
    return {"data": res.data, "model": res.model, "zero_shot_ppl": res.zero_shot_ppl,
            "test_ppl_by_chain": {s: r.test_ppl.tolist() for s, r in res.runs.items()},
            "data_ppl_median": {s: r.data_ppl_median.tolist() for s, r in res.runs.items()},
            "versus_top": {s: change_summary(c) for s, c in res.versus_top.items()}}


def neural_claims(res: NeuralResult):
    """The neural experiment's statements, by key. ``neural_all_rise`` is about this run and
    must hold; the comparisons with the best beam (``paper_self_weak``,
    ``verifier_beats_top``, ``random_beats_top``) are shown holding or not: two chains give a
    rough standard error."""
    from ..claims import claim
    from .lm_loop import beyond_noise, chain_range, describe_change

    out = {}
    if not res.runs or next(iter(res.runs.values())).test_ppl.shape[0] <= 1:
        return out
    G = next(iter(res.runs.values())).test_ppl.shape[0] - 1
    out["neural_all_rise"] = claim(
        "Without original data the test perplexity rises under every selection: the last generation's is above "
        "generation 0's in every chain",
        all((r.test_ppl[-1] > r.test_ppl[0]).all() for r in res.runs.values()),
        "; ".join(f"{s}: {chain_range(r.test_ppl[0])} -> {chain_range(r.test_ppl[-1])}" for s, r in res.runs.items()))
    vs = res.versus_top
    if "self" in vs:
        out["paper_self_weak"] = claim(
            f"Feng et al.: selection by the generator's own perplexity is weak (best of 50 beams: "
            f"{PAPER_SELECTION['own_perplexity']} % correct, against {PAPER_SELECTION['greedy']} % greedy and "
            f"{PAPER_SELECTION['oracle']} % with an oracle, from a summary, not checked here); here, keeping the beam the generator finds likeliest "
            f"does not lower generation {G}'s test perplexity below the best beam's by more than two standard errors",
            not beyond_noise(vs["self"], -1), describe_change(vs["self"], "against the best beam: "))
    if "verifier" in vs:
        out["verifier_beats_top"] = claim(
            f"Keeping the beam that generation 0's model (fine-tuned on real text) finds likeliest lowers generation "
            f"{G}'s test perplexity below the best beam's: lower in every chain, by more than two standard errors",
            beyond_noise(vs["verifier"], -1), describe_change(vs["verifier"], "against the best beam: "))
    if "random" in vs:
        out["random_beats_top"] = claim(
            f"Keeping a random beam lowers generation {G}'s test perplexity below the best beam's: lower in every "
            "chain, by more than two standard errors",
            beyond_noise(vs["random"], -1), describe_change(vs["random"], "against the best beam: "))
    return out
