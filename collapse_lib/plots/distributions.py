"""Figures of chapter 1, distributions and tails: each draws a part of the chapter's
:class:`~collapse_lib.experiments.distributions.Result` (:data:`FIGURES`, by the name of
the file the command line writes)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import metrics
from ..experiments.distributions import BIMODAL, RARE, Result
from .style import spread, theory


def sandwich_bars(result: Result, generations=(0, 1, 5, 20, 50, None), chains=(0, 1, 2),
                  variant="plain"):
    """The fitted sandwich distribution of a few chains at a few generations."""
    res = result.sandwich
    probs = res.probs[variant]
    G = probs.shape[0] - 1
    gens = [G if g is None else g for g in generations if (g is None or g <= G)]
    fig, axes = plt.subplots(len(chains), len(gens), figsize=(2.0 * len(gens), 1.7 * len(chains)),
                             sharex=True, sharey=True)
    axes = np.atleast_2d(axes)
    x = np.arange(len(res.names))
    for r, c in enumerate(chains):
        for j, g in enumerate(gens):
            ax = axes[r, j]
            ax.bar(x, res.true_probs, color="0.85", width=0.8)
            ax.bar(x, probs[g, c], color="C0", width=0.5)
            if r == 0:
                ax.set_title(f"generation {g}")
            ax.set_ylim(0, 1)
        axes[r, 0].set_ylabel(f"chain {c}\nprobability")
    for ax in axes[-1]:
        ax.set_xticks(x, res.names, rotation=90, fontsize=8)
    fig.suptitle("Sandwich survey refitted on its own 100 answers (grey: the real distribution)")
    fig.tight_layout()
    return fig


def sandwich_collapse(result: Result):
    """Surviving answers, survival of a rare answer and its over-representation."""
    res = result.sandwich
    G = res.probs["plain"].shape[0] - 1
    g = np.arange(G + 1)
    k = res.rare
    q = res.true_probs[k]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for label, surviving in res.surviving.items():
        spread(axes[0], g, surviving, label=label)
    theory(axes[0], g, res.theory_surviving, label="theory (plain)")
    axes[0].set(xlabel="generation", ylabel="answers still given", title="Tails vanish")
    axes[0].legend()

    for label, alive in res.rare_alive.items():
        axes[1].plot(g, alive.mean(axis=1), label=label)
    theory(axes[1], g, res.theory_survival[:, k])
    axes[1].set(xlabel="generation", ylabel=f"P({RARE} still present)", yscale="log",
                title=f"A {q:.0%} answer is soon lost")
    axes[1].legend()

    cond, n_alive = res.rare_share_where_alive
    ok = n_alive >= 20  # enough surviving chains for a mean
    axes[2].plot(g[ok], cond[ok], "o", ms=3, label="simulation, chains where it survived")
    theory(axes[2], g, q / res.theory_survival[:, k], label="theory: q / P(survived)")
    axes[2].axhline(q, color="0.5", lw=0.8, label=f"real probability {q:.0%}")
    axes[2].set(xlabel="generation", ylabel=f"mean probability of {RARE}", yscale="log",
                title="...but when it survives, it is over-represented")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def gaussian_collapse(result: Result):
    """Variance, mean drift and W2 distance of refitted Gaussians against the theory."""
    res = result.gaussian
    g = res.generations
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for i, (est, e) in enumerate(res.estimators.items()):
        th = res.theory[est]
        color = f"C{i}"
        axes[0].plot(g, e["var"].mean(1), color=color, label=f"{est}: mean over chains")
        axes[0].plot(g, np.median(e["var"], 1), color=color, ls=":", label=f"{est}: median")
        theory(axes[0], g, th["var"], label=None, color=color)
        theory(axes[0], g, np.exp(th["log_var"]), label=None, color=color, linestyle="-.")
        spread(axes[1], g, e["mean"] ** 2, label=est, color=color)
        theory(axes[1], g, th["mean_drift"], label=None, color=color)
        axes[2].plot(g, res.w2_squared[est].mean(1), color=color, label=est)
        theory(axes[2], g, th["w2_squared"], label=None, color=color)
    axes[0].set(xlabel="generation", ylabel="fitted variance", yscale="log",
                title="Variance: mean stays, median collapses")
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel="generation", ylabel="(fitted mean - true mean)$^2$", title="The mean random-walks away")
    axes[1].legend(fontsize=8)
    axes[2].set(xlabel="generation", ylabel="$W_2^2$ to the real distribution", title="Distance to the truth grows")
    axes[2].legend(fontsize=8)
    chains = res.estimators["unbiased"]["var"].shape[1]
    fig.suptitle(f"N(0,1) refitted on M={res.samples} of its own samples; {chains} chains; dashed: closed forms")
    fig.tight_layout()
    return fig


def bell_curves(result: Result, every: int = 10):
    """The fitted bell curves of a few chains every ``every`` generations, one panel per
    chain, and the share of all chains wider than the truth against its exact value."""
    bell = result.bell_curves
    means, variances = bell.means, bell.variances
    G1, C = means.shape[0], bell.drawn
    gens = list(range(0, G1, every)) + ([G1 - 1] if (G1 - 1) % every else [])
    x = np.linspace(-4, 4, 400)
    fig, axes = plt.subplots(1, C + 1, figsize=(3.8 * (C + 1), 3.2))
    axes = np.atleast_1d(axes)
    colors = plt.cm.viridis(np.linspace(0, 1, len(gens)))
    for c, ax in enumerate(axes[:C]):
        ax.plot(x, metrics.gaussian_pdf_1d(x, 0.0, 1.0), "k--", lw=1.2, label="real N(0,1)")
        for color, g in zip(colors, gens):
            ax.plot(x, metrics.gaussian_pdf_1d(x, means[g, c], variances[g, c]), color=color,
                    label=f"gen {g}" if c == 0 and g in (gens[0], gens[-1]) else None)
        ax.set(title=f"chain {c}", xlabel="x", ylim=(0, 2.0))
    axes[0].set_ylabel("density")
    axes[0].legend(fontsize=8)
    g = np.arange(G1)
    axes[C].plot(g, bell.wider, label=f"{variances.shape[1]} chains")
    theory(axes[C], g, bell.theory_wider, label="exact")
    axes[C].axhline(0.5, color="0.6", lw=0.8)
    axes[C].set(xlabel="generation", ylabel="share of chains wider than the truth", ylim=(0, 0.6),
                title=f"M = {bell.samples}: wider than N(0,1)")
    axes[C].legend(fontsize=8)
    fig.tight_layout()
    return fig


def approximation_errors(result: Result):
    """The three sources of error: statistical (grows, shrinks with M), functional
    expressivity (a floor) and functional approximation (a truncated optimiser, which
    drifts even with unlimited data)."""
    res = result.approximation
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.2))
    axes = axes.ravel()
    g = res.generations
    titles = {"Gaussian": "statistical error: Gaussian data, exact fit",
              "bimodal": "+ expressivity error: bimodal data",
              "gradient descent": "+ approximation error: fit by gradient descent"}
    for ax, kind in zip(axes[[0, 1, 3]], ("Gaussian", "bimodal", "gradient descent")):
        for M, tv in res.tv[kind].items():
            if M == res.UNLIMITED:
                ax.plot(g, tv.mean(axis=1), color="k", lw=1.6, label="unlimited data")
            else:  # the same colour for the same M in every panel
                spread(ax, g, tv, label=f"M = {M}", color=f"C{res.samples.index(M)}")
        if kind in res.functional_floor:
            ax.axhline(res.functional_floor[kind], color="k", ls="--", lw=1.2, label="best Gaussian, unlimited data")
        ax.set(xlabel="generation", ylabel="total variation to the real density", ylim=(0, 1), title=titles[kind])
        ax.legend(fontsize=8)
    x = np.linspace(-5, 5, 400)
    mean, cov = BIMODAL.moments()
    axes[2].plot(x, BIMODAL.pdf_1d(x), "k", label="real (bimodal)")
    axes[2].plot(x, metrics.gaussian_pdf_1d(x, mean[0], cov[0, 0]), "C3", label="best single Gaussian")
    axes[2].set(xlabel="x", ylabel="density", title="Expressivity error: no Gaussian fits two bumps")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def zipf_tail_cut(result: Result):
    """Error of a memorising learner against training size, with the tail cut at k."""
    res = result.zipf
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    T = res.train_sizes
    for i, (key, err) in enumerate(res.errors.items()):
        color = f"C{i}"
        ax.errorbar(T, res.mean_error[key], yerr=err.std(1), fmt="o", ms=4, color=color,
                    label="real data" if key == "real" else f"tail cut at {key}")
        ax.plot(T, res.theory[key], color=color, ls="--", lw=1)
        if key in res.plateaus:
            ax.axhline(res.plateaus[key], color=color, ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="training samples T",
           ylabel="error (real mass never seen)",
           title=f"Zipf data, beta = {res.exponent:g}: a cut tail is a plateau")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: Every figure of the chapter, by the name of its file.
FIGURES = {
    "sandwich_bars": sandwich_bars,
    "sandwich_collapse": sandwich_collapse,
    "gaussian_collapse": gaussian_collapse,
    "bell_curves": bell_curves,
    "approximation_errors": approximation_errors,
    "zipf_tail_cut": zipf_tail_cut,
}
