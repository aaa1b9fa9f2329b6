"""Figures of chapter 4, language models and perplexity (after Shumailov et al.,
Nature 631:755, 2024, Fig. 1)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.lm import PAPER, Result
from .style import spread


def test_perplexity(res: Result, show_paper: bool = True):
    """Test perplexity of every generation's model on the real test blocks, one panel per
    regime: mean over chains with the range over chains; the base model's zero-shot
    perplexity dotted; the paper's reported levels as a grey band."""
    regimes = list(res.regimes)
    fig, axes = plt.subplots(1, len(regimes), figsize=(5.2 * len(regimes), 3.8), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], regimes):
        r = res.regimes[name]
        spread(ax, r.generations, r.test_ppl, label=f"measured ({r.test_ppl.shape[1]} chains)", marker="o",
               quantiles=(0.0, 1.0))
        ax.axhline(res.zero_shot_ppl, color="0.5", linestyle=":", label="base model, zero-shot")
        ax.set(xlabel="generation (0: fine-tuned on real data)", ylabel="test perplexity",
               title=f"{r.label} ({r.epochs} epochs a generation)")
        ax.set_xticks(r.generations)
        ax.legend(fontsize=8)
    if show_paper:
        fig.text(0.01, 0.01, f"Paper (OPT-125m, wikitext-2): {PAPER['zero_shot_ppl']} zero-shot, "
                 f"{PAPER['fine_tuned_ppl']} after fine-tuning; no original data ends "
                 f"{PAPER['no_real_worse_by'][0]}-{PAPER['no_real_worse_by'][1]} points worse, "
                 "10 % kept degrades only a little.", fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.04 if show_paper else 0, 1, 1))
    return fig


def histogram_generations(last: int) -> list[int]:
    """The generations a data histogram shows by default, of a run that ends at generation
    ``last``: the first three, the later ones of the paper's figure (3, 5, 9) that come at
    least two before the last (a neighbour of the last one would hide it), and the last."""
    return sorted({g for g in PAPER["histogram_generations"] if g <= min(2, last) or g < last - 1} | {last})


def data_perplexity(res: Result, regime: str = "replace", generations=None, bins: int = 40):
    """Histograms (log x-axis) of the perplexity of every training block of the chosen
    generations (:func:`histogram_generations` when None), scored by generation 0's model
    (all chains pooled): generation 0's data are real, later ones the previous model's
    continuations."""
    r = res.regimes[regime]
    G = r.test_ppl.shape[0] - 1
    gens = [g for g in (histogram_generations(G) if generations is None else generations) if g <= G]
    values = [r.data_ppl[g].ravel() for g in gens]
    lo = max(min(float(v.min()) for v in values), 1.0)
    hi = max(float(v.max()) for v in values)
    edges = np.geomspace(lo, hi * 1.0001, bins + 1)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(gens)))
    for g, v, col in zip(gens, values, colors):
        label = f"generation {g}" + (" (real data)" if g == 0 else "")
        ax.hist(v, bins=edges, weights=np.full(len(v), 1.0 / len(v)), histtype="step", linewidth=1.6, color=col,
                label=label)
    ax.set_xscale("log")
    ax.set(xlabel="perplexity of a training block under generation 0's model",
           ylabel="share of the blocks",
           title=f"Each generation's training data, {r.label}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def data_perplexity_by_regime(res: Result) -> dict:
    """:func:`data_perplexity` of every regime that ran, by regime."""
    return {name: data_perplexity(res, name) for name in res.regimes}


#: Every figure of the chapter, by the name the command line writes it under.
def compare_loops(runs: dict, zero_shot: float, title: str):
    """Loops set side by side (``runs``: label -> run of
    :class:`~collapse_lib.experiments.lm_loop.RegimeResult`): the test perplexity on real text
    of every generation (mean over chains, band: the range over chains), and the median
    perplexity of every generation's training data under generation 0's model (chains pooled;
    generation 0: the real data). Shared by chapter 4's comparisons and chapter 7's selections."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10.4, 3.8))
    for label, r in runs.items():
        line = spread(a, r.generations, r.test_ppl, label=f"{label} ({r.test_ppl.shape[1]} chains)", marker="o",
                      quantiles=(0.0, 1.0))
        b.plot(r.generations, r.data_ppl_median, marker="o", color=line.get_color(), label=label)
    a.axhline(zero_shot, color="0.5", linestyle=":", label="base model, zero-shot")
    a.set(xlabel="generation (0: fine-tuned on real data)", ylabel="test perplexity on real text", title=title)
    b.set(xlabel="generation (0: the real data)", ylabel="median perplexity under generation 0", yscale="log",
          title="each generation's training data")
    for ax in (a, b):
        ax.set_xticks(next(iter(runs.values())).generations)
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def variants(res: Result):
    """Chapter 4's comparisons: the loop without original data with the paper's choices, and
    with each other start and decoding (None when the profile runs none)."""
    from ..experiments.lm_loop import DECODING_LABELS, START_LABELS

    main = res.regimes.get("replace")
    if not res.variants or main is None:
        return None
    runs = {f"{START_LABELS[main.loop.start]}, {DECODING_LABELS[main.loop.decoding]} (the paper's)": main}
    for v in res.variants.values():
        runs[START_LABELS[v.loop.start] if v.loop.start != main.loop.start else DECODING_LABELS[v.loop.decoding]] = v
    return compare_loops(runs, res.zero_shot_ppl, "no original data: the paper's choices and others")


FIGURES = {"test_perplexity": test_perplexity, "data_perplexity": data_perplexity_by_regime, "variants": variants}
