"""Chapter 4's numbers and claims: what the paper reports, the chapter's ``results.json``
(:func:`summary`) and what the chapter says about its own run (:func:`claims`), after
Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024, Fig. 1)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .lm_loop import chain_range, change_summary, describe_change

if TYPE_CHECKING:
    from ..claims import Claim
    from .lm import Result

#: What the paper reports (Nature 2024, Fig. 1 and text): OPT-125m on wikitext-2, 5 seeds.
PAPER = {
    "zero_shot_ppl": 115,  # the base model before fine-tuning
    "fine_tuned_ppl": 34,  # generation 0 (fine-tuned on the real data)
    # "losing some performance, from 20 to 28 perplexity points" without original data (the
    # Nature text, as quoted by a referee of this course; Fig. 1b, y-axis ~35-60)
    "no_real_worse_by": (20, 28),
    "mix_axis": (32, 42),  # Fig. 1c's y-axis with 10 % kept: "only minor degradation"
    "generations": 9,
    "seeds": 5,
    "histogram_generations": (0, 1, 2, 3, 5, 9),
    # the paper's ablation with a repetition penalty of 2.0 "causes the perplexity to double
    # compared with the original" (as quoted by a referee of this course; not checked here)
    "penalty_ablation": 2.0,
    # settings of the authors' main.py (as read by a referee of this course; not checked here)
    "lr": 2e-5, "batch_size": 128, "block_size": 64, "weight_decay": 0.01, "num_beams": 5,
    "repetition_penalty_code": 3.0,
}


def paper_relative_rise() -> tuple[float, float]:
    """The paper's rise without original data as a relative change: 20-28 points on 34."""
    lo, hi = PAPER["no_real_worse_by"]
    return lo / PAPER["fine_tuned_ppl"], hi / PAPER["fine_tuned_ppl"]


def paper_mix_bound() -> float:
    """The largest relative rise that Fig. 1c's axis (32-42) leaves room for with 10 % kept."""
    return PAPER["mix_axis"][1] / PAPER["fine_tuned_ppl"] - 1.0


def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    out = {"data": res.data, "model": res.model, "zero_shot_ppl": res.zero_shot_ppl, "paper": {
        k: list(v) if isinstance(v, tuple) else v for k, v in PAPER.items()}, "regimes": {}}
    out["regimes"] = {name: _run_summary(r) for name, r in res.regimes.items()}
    out["variants"] = {name: _run_summary(r) for name, r in res.variants.items()}
    out["versus_main"] = {name: change_summary(c) for name, c in res.versus_main.items()}
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out


def _run_summary(r) -> dict:
    mfu = r.mfu[np.isfinite(r.mfu)]
    return {
        "label": r.label,
        "epochs": r.epochs,
        "epochs_kept_by_chain": None if r.epoch is None else r.epoch.tolist(),  # the best on validation
        "test_ppl_mean": r.test_ppl_mean.tolist(),
        "test_ppl_by_chain": r.test_ppl.tolist(),
        "worse_by": r.worse_by,  # perplexity points lost, last generation vs generation 0
        "relative_rise_by_chain": r.relative_rise.tolist(),  # last / generation 0 - 1
        "data_ppl_median": r.data_ppl_median.tolist(),
        "data_ppl_quantiles": r.data_ppl_quantiles.tolist(),
        "train_tokens_per_s": float(np.mean(r.train_tokens_per_s)),
        # generation speed is measured on the generations this process computed: None
        # when the run store had them all
        "generate_tokens_per_s": r.generate_tokens_per_s if np.isfinite(r.generate_tokens_per_s) else None,
        "mfu": float(mfu.mean()) if mfu.size else None,
        "ranks": r.ranks,
    }


def _pct(a: float, b: float) -> str:
    return f"{100 * (b - a) / a:+.0f} %"


#: The claims about this run, which hold in every profile (strict builds stop on a failure).
RUN_CLAIMS = ("fine_tuning_helps", "no_real_rises", "mix_rises_less", "first_synthetic_costs", "data_pile_up_low")
#: The comparisons of the paper's choices with others (start, decoding): shown holding or not.
VARIANT_CLAIMS = ("start_paper_lower", "sample_rises_less", "beam_keeps_mode", "sample_spreads")
#: The paper's findings set against this run: shown holding or not, never an error.
PAPER_CLAIMS = ("paper_replace_size", "paper_below_base", "paper_mix_minor", "paper_high_tail",
                "tail_grows_from_first_synthetic")


def _rel(v) -> str:
    v = 100 * np.asarray(v, float)
    return f"{np.mean(v):+.0f} % ({np.min(v):+.0f} to {np.max(v):+.0f} %)"


def claims(res: Result) -> dict[str, Claim]:
    """What the chapter says about its own run, computed from the run's numbers
    (:mod:`collapse_lib.claims`), by key. Claims about this run, which must hold:
    ``fine_tuning_helps``, ``no_real_rises``, ``mix_rises_less``, ``first_synthetic_costs``,
    ``data_pile_up_low``. The paper's findings set against this run (the page shows them
    with :class:`collapse_lib.claims.ClaimReport`, so that a failed reproduction prints
    "does not hold"): ``paper_replace_size``, ``paper_mix_minor``, ``paper_below_base``,
    ``paper_high_tail``, ``tail_grows_from_first_synthetic``. Comparisons with the paper use
    relative changes, since perplexity points depend on the tokenizer and block length. A
    claim whose regimes or generations did not run is left out."""
    from ..claims import claim
    from .lm import DATA_QUANTILES, TAIL_QUANTILE

    out = {}
    z = res.zero_shot_ppl
    g0 = {name: r.test_ppl[0] for name, r in res.regimes.items()}
    out["fine_tuning_helps"] = claim(
        "Fine-tuning on the real training text helps generation 0: its test perplexity is below the base "
        "model's zero-shot perplexity, in every chain of every regime",
        all((v < z).all() for v in g0.values()),
        f"zero-shot {z:.1f}; generation 0 " + ", ".join(
            f"{res.regimes[n].label} {chain_range(v)} ({_pct(z, v.mean())})" for n, v in g0.items()))
    rep, mix = res.regimes.get("replace"), res.regimes.get("mix")
    if rep is None or rep.test_ppl.shape[0] <= 1:
        return out
    G = rep.test_ppl.shape[0] - 1
    first, last = rep.test_ppl[0].mean(), rep.test_ppl[-1].mean()
    out["no_real_rises"] = claim(
        "Without original data the test perplexity on real text rises: the last generation's is above "
        "generation 0's in every chain",
        (rep.test_ppl[-1] > rep.test_ppl[0]).all(),
        f"generation 0 {first:.1f}, generation {G} {last:.1f}; relative change {_rel(rep.relative_rise)}; by chain "
        + ", ".join(f"{a:.1f} -> {b:.1f}" for a, b in zip(rep.test_ppl[0], rep.test_ppl[-1])))
    lo, hi = paper_relative_rise()
    out["paper_replace_size"] = claim(
        f"The paper's size of the rise without original data: {PAPER['no_real_worse_by'][0]}-"
        f"{PAPER['no_real_worse_by'][1]} points on {PAPER['fine_tuned_ppl']}, a relative change of "
        f"+{100 * lo:.0f} to +{100 * hi:.0f} %; here the last generation's relative change lies in that range in "
        "every chain",
        np.all((rep.relative_rise >= lo) & (rep.relative_rise <= hi)),
        f"generation {G} against generation 0: {_rel(rep.relative_rise)} (the paper's is over 9 generations)")
    later = rep.test_ppl[1:]
    out["paper_below_base"] = claim(
        f"As in the paper (zero-shot {PAPER['zero_shot_ppl']}, fine-tuned models near {PAPER['fine_tuned_ppl']}-"
        f"{PAPER['fine_tuned_ppl'] + PAPER['no_real_worse_by'][1]}), later generations stay better than the base "
        "model before fine-tuning: every later generation's test perplexity is below zero-shot, in every chain "
        "of every regime",
        all((r.test_ppl[1:] < z).all() for r in res.regimes.values()),
        f"zero-shot {z:.1f}; generations 1-{G}: " + "; ".join(
            f"{r.label} {r.test_ppl[1:].min():.1f}-{r.test_ppl[1:].max():.1f}" for r in res.regimes.values())
        if later.size else "no later generation")
    if mix is not None and mix.test_ppl.shape[0] == rep.test_ppl.shape[0]:
        m0, m1 = mix.test_ppl[0].mean(), mix.test_ppl[-1].mean()
        out["mix_rises_less"] = claim(
            f"With {mix.label.replace(' kept', '')} kept the test perplexity rises less than without "
            "original data: the last generation's relative change against generation 0 is smaller in every "
            "chain with data kept than in every chain without",
            mix.relative_rise.max() < rep.relative_rise.min(),
            f"{mix.label}: {m0:.1f} -> {m1:.1f}, {_rel(mix.relative_rise)}; "
            f"{rep.label}: {first:.1f} -> {last:.1f}, {_rel(rep.relative_rise)}")
        bound = paper_mix_bound()
        out["paper_mix_minor"] = claim(
            f"The paper's \"only minor degradation\" with {mix.label.replace(' kept', '')} kept: the rise stays within "
            f"Fig. 1c's axis (up to {PAPER['mix_axis'][1]} from {PAPER['fine_tuned_ppl']}, +{100 * bound:.0f} %), "
            "in every chain",
            np.all(mix.relative_rise <= bound), f"generation {G} against generation 0: {_rel(mix.relative_rise)}")
    if mix is not None and mix.test_ppl.shape[0] > 1:
        out["first_synthetic_costs"] = claim(
            "The first synthetic generation costs both regimes: generation 1's test perplexity is above "
            "generation 0's in every chain, with and without original data",
            all((r.test_ppl[1] > r.test_ppl[0]).all() for r in (rep, mix)),
            "; ".join(f"{r.label}: {chain_range(r.test_ppl[0])} -> {chain_range(r.test_ppl[1])}" for r in (rep, mix)))
    med = [float(m) for m in rep.data_ppl_median]
    out["data_pile_up_low"] = claim(
        "Without original data, every later generation's training data pile up at lower perplexity under "
        "generation 0's model than the real data: their median block is more predictable than the real median",
        all(m < med[0] for m in med[1:]),
        "median perplexity by generation " + ", ".join(f"{m:.1f}" for m in med))
    p99 = [float(q) for q in rep.data_ppl_quantiles[DATA_QUANTILES.index(TAIL_QUANTILE)]]
    out["paper_high_tail"] = claim(
        "The paper's long high-perplexity tail without original data: the 99th percentile of the last "
        "generation's data, under generation 0's model, is above that of the real data",
        p99[-1] > p99[0], "99th percentile by generation " + ", ".join(f"{q:.1f}" for q in p99))
    if len(p99) > 2:
        out["tail_grows_from_first_synthetic"] = claim(
            "Measured from the first synthetic generation instead (the paper's histogram may call it generation "
            "0): the 99th percentile of the last generation's data is above generation 1's",
            p99[-1] > p99[1], f"generation 1 {p99[1]:.1f}, generation {len(p99) - 1} {p99[-1]:.1f}")
    out.update(variant_claims(res))
    return out


def variant_claims(res: Result) -> dict[str, Claim]:
    """The comparisons of chapter 4 (:data:`VARIANT_CLAIMS`): what later generations start
    from, and beam search against sampling at temperature 1, each the loop without original
    data with one choice changed, set against the main loop on the same chains. Shown with
    :class:`collapse_lib.claims.ClaimReport`: two chains give a rough standard error."""
    from ..claims import claim
    from .lm_loop import DECODING_LABELS, START_LABELS, beyond_noise

    out = {}
    rep = res.regimes.get("replace")
    if rep is None or rep.loop is None or rep.test_ppl.shape[0] <= 1:
        return out
    G = rep.test_ppl.shape[0] - 1
    for name, v in res.variants.items():
        change = res.versus_main[name]
        if v.loop.start != rep.loop.start and "start_paper_lower" not in out:
            paper_first = rep.loop.start == "generation0"
            out["start_paper_lower"] = claim(
                f"Without original data, the paper's start (later generations fine-tune generation 0's model) gives a "
                f"lower test perplexity at generation {G} than starting every generation from the base model: lower in "
                "every chain, by more than two standard errors of the paired difference",
                beyond_noise(change, +1 if paper_first else -1),
                f"{START_LABELS[v.loop.start]}: {chain_range(v.test_ppl[-1])} against {chain_range(rep.test_ppl[-1])}; "
                + describe_change(change, "last generation "))
        if v.loop.decoding != rep.loop.decoding and "sample_rises_less" not in out:
            sample_is_variant = v.loop.decoding == "sample"
            samp, beam = (v, rep) if sample_is_variant else (rep, v)
            out["sample_rises_less"] = claim(
                f"Without original data, {DECODING_LABELS['sample']} instead of {DECODING_LABELS['beam']} makes the "
                f"test perplexity rise less: lower at generation {G} in every chain, by more than two standard errors "
                "of the paired difference",
                beyond_noise(change, -1 if sample_is_variant else +1),
                f"sampled {chain_range(samp.test_ppl[-1])}, beam {chain_range(beam.test_ppl[-1])}; generation 0 "
                f"{chain_range(rep.test_ppl[0])}; " + describe_change(change, "last generation "))
            mb, ms = beam.data_ppl_median, samp.data_ppl_median
            out["beam_keeps_mode"] = claim(
                "Beam search keeps the mode: at every later generation the median block of beam-search data is more "
                "predictable under generation 0 than the median real block, and the median sampled block is less "
                "predictable than the median real block",
                bool(np.all(mb[1:] < mb[0]) and np.all(ms[1:] > mb[0])),
                "median perplexity by generation: real " + f"{mb[0]:.1f}; beam " + ", ".join(f"{m:.1f}" for m in mb[1:])
                + "; sampled " + ", ".join(f"{m:.1f}" for m in ms[1:]))
            if ms.size < 3:  # a trend needs two later generations
                continue
            out["sample_spreads"] = claim(
                "Sampling is not free of drift: the median sampled block grows less predictable under generation 0 "
                "from each generation to the next",
                bool(np.all(np.diff(ms[1:]) > 0)), "median perplexity of sampled data by generation "
                + ", ".join(f"{m:.1f}" for m in ms[1:]))
    return out

