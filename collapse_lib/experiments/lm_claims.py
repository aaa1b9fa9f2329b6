"""Chapter 4's numbers and claims: what the paper reports, the chapter's ``results.json``
(:func:`summary`) and what the chapter says about its own run (:func:`claims`), after
Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024, Fig. 1)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..claims import Claim
    from .lm import Result

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


def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    out = {"data": res.data, "model": res.model, "zero_shot_ppl": res.zero_shot_ppl, "paper": {
        k: list(v) if isinstance(v, tuple) else v for k, v in PAPER.items()}, "regimes": {}}
    for name, r in res.regimes.items():
        mfu = r.mfu[np.isfinite(r.mfu)]
        out["regimes"][name] = {
            "label": r.label,
            "epochs": r.epochs,
            "test_ppl_mean": r.test_ppl_mean.tolist(),
            "test_ppl_by_chain": r.test_ppl.tolist(),
            "worse_by": r.worse_by,  # perplexity points lost, last generation vs generation 0
            "data_ppl_median": r.data_ppl_median.tolist(),
            "train_tokens_per_s": float(np.mean(r.train_tokens_per_s)),
            # generation speed is measured on the generations this process computed: None
            # when the run store had them all
            "generate_tokens_per_s": r.generate_tokens_per_s if np.isfinite(r.generate_tokens_per_s) else None,
            "mfu": float(mfu.mean()) if mfu.size else None,
            "ranks": r.ranks,
        }
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out


def _pct(a: float, b: float) -> str:
    return f"{100 * (b - a) / a:+.0f} %"


def claims(res: Result) -> dict[str, Claim]:
    """What the chapter says about its own run, computed from the run's numbers
    (:mod:`collapse_lib.claims`), by key: fine-tuning helps (``fine_tuning_helps``);
    without original data the test perplexity rises (``no_real_rises``); with original
    data kept it rises less (``mix_rises_less``); the first synthetic generation costs both
    regimes (``first_synthetic_costs``); the generated data pile up at low perplexity under
    generation 0 (``data_pile_up_low``); and whether they grow a high-perplexity tail
    (``no_high_tail``). A claim whose regimes or generations did not run is left out."""
    from ..claims import claim
    from .lm import DATA_QUANTILES, TAIL_QUANTILE

    out = {}
    z = res.zero_shot_ppl
    g0 = {name: r.test_ppl[0] for name, r in res.regimes.items()}
    out["fine_tuning_helps"] = claim(
        "Fine-tuning on the real training text helps: generation 0's test perplexity is below the base model's "
        "zero-shot perplexity, in every chain of every regime",
        all((v < z).all() for v in g0.values()),
        f"zero-shot {z:.1f}; generation 0 " + ", ".join(
            f"{res.regimes[n].label} {v.mean():.1f} ({_pct(z, v.mean())})" for n, v in g0.items()))
    rep, mix = res.regimes.get("replace"), res.regimes.get("mix")
    if rep is None or rep.test_ppl.shape[0] <= 1:
        return out
    G = rep.test_ppl.shape[0] - 1
    first, last = rep.test_ppl[0].mean(), rep.test_ppl[-1].mean()
    out["no_real_rises"] = claim(
        "Without original data the test perplexity on real text rises: the last generation's is above "
        "generation 0's in every chain",
        (rep.test_ppl[-1] > rep.test_ppl[0]).all(),
        f"generation 0 {first:.1f}, generation {G} {last:.1f} ({_pct(first, last)}); by chain "
        + ", ".join(f"{a:.1f} -> {b:.1f}" for a, b in zip(rep.test_ppl[0], rep.test_ppl[-1])))
    if mix is not None and mix.test_ppl.shape[0] == rep.test_ppl.shape[0]:
        m0, m1 = mix.test_ppl[0].mean(), mix.test_ppl[-1].mean()
        out["mix_rises_less"] = claim(
            f"With {mix.label.replace(' kept', '')} kept the test perplexity rises less than without "
            "original data (last generation against generation 0, mean over chains)",
            mix.rise < rep.rise,
            f"{mix.label}: {m0:.1f} -> {m1:.1f} ({mix.rise:+.1f} points, {_pct(m0, m1)}); "
            f"{rep.label}: {first:.1f} -> {last:.1f} ({rep.rise:+.1f} points, {_pct(first, last)})")
    if mix is not None and mix.test_ppl.shape[0] > 1:
        out["first_synthetic_costs"] = claim(
            "The first synthetic generation costs both regimes: generation 1's test perplexity is above "
            "generation 0's with and without original data (mean over chains)",
            all(r.test_ppl[1].mean() > r.test_ppl[0].mean() for r in (rep, mix)),
            "; ".join(f"{r.label}: {r.test_ppl[0].mean():.1f} -> {r.test_ppl[1].mean():.1f}" for r in (rep, mix)))
    med = [float(m) for m in rep.data_ppl_median]
    out["data_pile_up_low"] = claim(
        "Without original data, every later generation's training data pile up at lower perplexity under "
        "generation 0's model than the real data: their median block is more predictable than the real median",
        all(m < med[0] for m in med[1:]),
        "median perplexity by generation " + ", ".join(f"{m:.1f}" for m in med))
    p99 = [float(q) for q in rep.data_ppl_quantiles[DATA_QUANTILES.index(TAIL_QUANTILE)]]
    out["no_high_tail"] = claim(
        "The paper's long high-perplexity tail does not appear without original data: the 99th percentile of "
        "every later generation's data, under generation 0's model, stays below that of the real data",
        all(q < p99[0] for q in p99[1:]),
        "99th percentile by generation " + ", ".join(f"{q:.1f}" for q in p99))
    return out
