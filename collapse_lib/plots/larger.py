"""Figures of chapter 6, larger models: each takes the chapter's :class:`Result` and only draws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from ..experiments.larger import Result
from ..theory.random_features import floor
from .style import spread, theory

#: marker per synthetic quality, as in the paper's Fig. 1 (best quality first)
MARKERS = ("s", "D", "*", "^", "v", "P")


def _label(p: float, c2: float) -> str:
    return "real labels only" if p == 0 else f"p = {p:g}, c² = {c2:g}"


def double_descent(res: Result, quality: float | None = None):
    """Test error against m/n for real labels and every fraction p at one quality c2
    (the largest unless given): seed mean with a 10-90 % band over seeds, the formulas
    below the threshold (dashed), the infinitely wide limit (triangles, right edge)."""
    proj = res.projections
    qualities = sorted({c2 for p, c2 in proj.label_sets if p > 0})
    quality = qualities[-1] if quality is None else quality
    fig, ax = plt.subplots(figsize=(7, 4.4))
    t = proj.theory_widths / proj.n
    for l, (p, c2) in enumerate(proj.label_sets):
        if p > 0 and c2 != quality:
            continue
        line = spread(ax, proj.ratios, proj.errors[:, l].T, label=_label(p, c2), marker="o", markersize=3)
        keep = (t >= proj.ratios[0] * 0.99) & (proj.theory[l] < 3 * proj.mean[l].max())
        theory(ax, t[keep], proj.theory[l][keep], label=None, color=line.get_color())
        ax.plot([proj.ratios[-1] * 1.6], [np.nanmean(proj.limit[:, l])], marker="<", color=line.get_color())
    ax.plot([], [], "k--", label="formula (m ≤ n - 2)")
    ax.plot([], [], "k<", linestyle="none", label="m → ∞ (min-norm in x)")
    ax.axvline(1.0, color="0.6", linewidth=0.8)
    ax.set(xscale="log", yscale="log", xlabel="model width m / n", ylabel="test error on real labels",
           title=f"Random projections, n = {proj.n}: double descent with and without synthetic labels")
    ax.legend(fontsize=7.5, loc="upper left")
    return fig


def synthetic_excess(res: Result):
    """What the synthetic labels cost: test error minus the same seed's real-only error,
    against m/n, for every (p, c2), mean over seeds with a band of two standard errors
    (on a symmetric-log axis, linear near zero, so that a band may include zero); dotted
    lines are the floors p^2 c2 of the classical linear model, dashed the exact cost below
    the threshold."""
    proj = res.projections
    fig, ax = plt.subplots(figsize=(7, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ps = sorted({p for p, _ in proj.label_sets if p > 0})
    cs = sorted({c2 for p, c2 in proj.label_sets if p > 0})
    floors = [floor(p, c2) for p, c2 in proj.label_sets if p > 0 and c2 > 0]
    linear = 10.0 ** np.floor(np.log10(min(floors))) if floors else 1e-4
    t = proj.theory_widths / proj.n
    for l, (p, c2) in enumerate(proj.label_sets):
        if p == 0:
            continue
        color = colors[ps.index(p) % len(colors)]
        marker = MARKERS[cs.index(c2) % len(MARKERS)]
        mean, se = proj.excess_mean[l], proj.excess_stderr[l]
        ax.plot(proj.ratios, mean, label=_label(p, c2), color=color, marker=marker, markersize=4)
        ax.fill_between(proj.ratios, mean - 2 * se, mean + 2 * se, color=color, alpha=0.15, linewidth=0)
        if proj.theory_cost is not None:
            keep = t >= proj.ratios[0] * 0.99
            ax.plot(t[keep], proj.theory_cost[l].mean(-1)[keep], color=color, linestyle="--", linewidth=0.8)
        ax.axhline(floor(p, c2), color=color, linestyle=":", linewidth=0.8)
    ax.axvline(1.0, color="0.6", linewidth=0.8)
    ax.axhline(0.0, color="0.3", linewidth=0.6)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=linear)
    ax.set(xlabel="model width m / n", ylabel="error(mixed) - error(real only)",
           title=f"The cost of synthetic labels at n = {proj.n} (linear below {linear:g})")
    ax.legend(fontsize=7, ncol=2)
    return fig


def pareto(res: Result):
    """The paper's Pareto picture: for every width, the test error with mixed labels
    against the error with real labels only (same n); one marker per quality c2, one
    colour per fraction p, lighter for smaller models."""
    proj = res.projections
    fig, ax = plt.subplots(figsize=(6, 5))
    mean = proj.mean
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ps = sorted({p for p, _ in proj.label_sets if p > 0})
    cs = sorted({c2 for p, c2 in proj.label_sets if p > 0})
    keep = np.abs(np.log(proj.ratios)) > 0.04  # the threshold itself is off the scale
    sizes = 12 + 60 * np.log(proj.ratios / proj.ratios.min()) / np.log(proj.ratios.max() / proj.ratios.min())
    for l, (p, c2) in enumerate(proj.label_sets):
        if p == 0:
            continue
        ax.scatter(mean[0, keep], mean[l, keep], s=sizes[keep], marker=MARKERS[cs.index(c2) % len(MARKERS)],
                   color=colors[ps.index(p) % len(colors)], alpha=0.8, label=_label(p, c2))
    lo, hi = mean[:, keep].min() * 0.8, mean[:, keep].max() * 1.2
    ax.plot([lo, hi], [lo, hi], color="0.5", linewidth=0.8, label="no cost (y = x)")
    ax.set(xscale="log", yscale="log", xlabel="test error, real labels only",
           ylabel="test error, mixed labels",
           title=f"Pareto picture, n = {proj.n} (marker size: width m)")
    ax.legend(fontsize=7)
    return fig


def network_widths(res: Result):
    """Left: test error on real labels against width, for each share p of teacher labels
    (mean over seeds and their range; the teacher's own error dashed). Right: accuracy on the
    (mixed) training labels, with the first width that fits every label marked."""
    nets = res.networks
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for j, p in enumerate(nets.fractions):
        spread(ax, nets.widths, nets.errors[:, j].T, label=f"p = {p:g} teacher labels", marker="o",
               quantiles=(0.0, 1.0))
        spread(ax2, nets.widths, nets.train_accuracy[:, j].T, label=f"p = {p:g}", marker="o", quantiles=(0.0, 1.0))
    ax.axhline(nets.teacher_error, color="k", linestyle="--", linewidth=1, label="the teacher itself")
    ax.set(xscale="log", xlabel="hidden units", ylabel="test error on real labels",
           title=f"Two-layer networks, {nets.data.split(':')[0]}")
    ax2.set(xscale="log", xlabel="hidden units", ylabel="accuracy on the training labels", title="Fitting the labels")
    if nets.fit_width is not None:
        ax2.axvline(nets.fit_width, color="0.5", linestyle=":", linewidth=1, label="first width that fits them all")
    for a in (ax, ax2):
        a.set_xticks(nets.widths, [str(w) for w in nets.widths])
        a.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    ax2.legend(fontsize=8)
    return fig


def floor_in_n(res: Result):
    """The same random-projection model as the sample size n grows. Left: the infinitely
    wide model's test error with real labels only and with each (p, c2) (exact, solid; the
    simulation, dots with two standard errors), dotted at p^2 c2. Right: the cost of the
    synthetic labels at the fixed widths and for the infinitely wide model at the worst
    quality, one colour per width, solid p the smallest and dashed the largest, dotted at
    each width's floor p^2 (c2 - res(delta)) (None where the sweep did not run)."""
    fl = res.floor
    if fl is None:
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ex, n = fl.exact, fl.sizes
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    W = len(fl.widths)
    sim_mean = fl.sim_errors.mean(0) if fl.sim_sizes.size else None
    sim_se = fl.sim_errors.std(0, ddof=1) / np.sqrt(len(fl.sim_errors)) if fl.sim_sizes.size > 0 and len(
        fl.sim_errors) > 1 else None
    for l, (p, c2) in enumerate(fl.label_sets):
        color = "k" if p == 0 else colors[l % len(colors)]
        err = ex["real"][l, W] + ex["cost"][l, W]
        ax.plot(n, err, color=color, label=_label(p, c2))
        if p > 0:
            ax.axhline(floor(p, c2), color=color, linestyle=":", linewidth=0.8)
        if sim_mean is not None and sim_se is not None:
            ax.errorbar(fl.sim_sizes, sim_mean[:, l, W], yerr=2 * sim_se[:, l, W], fmt="o", color=color, markersize=3)
    ax.set(xscale="log", yscale="log", xlabel="training points n", ylabel="test error on real labels",
           title="Infinitely wide model (least squares in x)")
    ax.legend(fontsize=7)
    worst = max(c2 for p, c2 in fl.label_sets if p > 0)
    ps = sorted({p for p, c2 in fl.label_sets if p > 0})
    names = [f"m = {m}" for m in fl.widths] + ["infinitely wide"]
    for l, (p, c2) in enumerate(fl.label_sets):
        if p == 0 or c2 != worst or p not in (ps[0], ps[-1]):
            continue
        style = "-" if p == ps[0] else "--"
        for k, name in enumerate(names):
            ax2.plot(n, ex["cost"][l, k], color=colors[k % len(colors)], linestyle=style,
                     label=f"{name}, p = {p:g}")
            ax2.axhline(fl.floor[l, k], color=colors[k % len(colors)], linestyle=":", linewidth=0.8)
    ax2.axvline(fl.n0, color="0.6", linewidth=0.8)
    ax2.set(xscale="log", yscale="log", xlabel="training points n", ylabel="error(mixed) - error(real only)",
            title=f"The cost at fixed widths, c² = {worst:g} (grey: the width sweep's n)")
    ax2.legend(fontsize=6.5, ncol=2)
    return fig


def sample_scaling(res: Result):
    """Test error on real labels against the number of training samples n, one panel per
    width (narrow left, wide right), one curve per share p2 of teacher labels: mean over
    seeds with their range; dotted lines at the floors E of the fitted law where supported;
    the teacher's own error dashed."""
    sam = res.samples
    if sam is None:
        return None
    fig, axes = plt.subplots(1, len(sam.widths), figsize=(5 * len(sam.widths), 4), sharey=True, squeeze=False)
    for w, ax in zip(range(len(sam.widths)), axes[0]):
        for j, p in enumerate(sam.fractions):
            line = spread(ax, sam.sizes, sam.errors[:, j, w].T, marker="o", markersize=3, quantiles=(0.0, 1.0),
                          label="real labels only" if p == 0 else f"p2 = {p:g}")
            fit = sam.fits[j][w]["mean_curve"]
            if fit["supported"] and fit["E"] > 0:
                ax.axhline(fit["E"], color=line.get_color(), linestyle=":", linewidth=0.9)
        ax.axhline(sam.teacher_error, color="k", linestyle="--", linewidth=1, label="the teacher itself")
        ax.set(xscale="log", yscale="log", xlabel="training images n", title=f"width {sam.widths[w]}")
        ax.set_xticks(sam.sizes, [str(n) for n in sam.sizes], fontsize=7)
    axes[0, 0].set_ylabel("test error on real labels")
    axes[0, -1].legend(fontsize=7.5)
    fig.suptitle("Two-layer networks on MNIST, scaling in samples with a share p2 of teacher labels", fontsize=10)
    return fig


def language_model_scaling(res: Result):
    """Test loss on real text against training tokens, one panel per GPT-2 size, one curve
    per share p2 of synthetic blocks (mean over seeds, band: their range); dotted: the
    fitted law E + A D^-alpha of the seed mean where supported; dashed: the generator's own
    test loss (None where the language models did not run)."""
    lms = res.language_models
    if lms is None:
        return None
    S = len(lms.sizes)
    fig, axes = plt.subplots(1, S, figsize=(4.2 * S, 3.8), sharey=True, squeeze=False)
    grid = np.geomspace(lms.tokens[0], lms.tokens[-1], 60)
    for k, ax in enumerate(axes[0]):
        for j, p in enumerate(lms.fractions):
            line = spread(ax, lms.tokens, lms.loss[:, k, j].T, marker="o", markersize=3, quantiles=(0.0, 1.0),
                          label="real text only" if p == 0 else f"p2 = {p:g}")
            fit = lms.fits[k][j]["mean_curve"]
            if fit["supported"]:
                law = fit["E"] + fit["A"] * grid ** -fit["alpha"]
                ax.plot(grid, law, color=line.get_color(), linestyle=":", linewidth=0.9)
        ax.axhline(lms.generator_loss, color="k", linestyle="--", linewidth=1, label="the generator itself")
        layers, width = lms.sizes[k]
        ax.set(xscale="log", xlabel="training tokens", title=f"{layers} x {width} ({lms.parameters[k]:,} parameters)")
    axes[0, 0].set_ylabel("test loss on real text (nats per token)")
    axes[0, -1].legend(fontsize=7.5)
    return fig


def language_model_sizes(res: Result):
    """Test loss on real text against training tokens, one curve per GPT-2 size, real text
    only (left) and synthetic text only (right): mean over seeds with their range (None
    where the language models did not run, or p2 = 1 is not among its shares)."""
    lms = res.language_models
    if lms is None or 1.0 not in lms.fractions:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, p in zip(axes, (0.0, 1.0)):
        j = int(np.flatnonzero(lms.fractions == p)[0])
        for k, (layers, width) in enumerate(lms.sizes):
            spread(ax, lms.tokens, lms.loss[:, k, j].T, marker="o", markersize=3, quantiles=(0.0, 1.0),
                   label=f"{layers} x {width}")
        ax.set(xscale="log", xlabel="training tokens", title="real text only" if p == 0 else "synthetic text only")
    axes[0].set_ylabel("test loss on real text (nats per token)")
    axes[1].legend(fontsize=8, title="layers x width", title_fontsize=8)
    return fig


#: Every figure of the chapter, by name (``figures/<name>.png``).
FIGURES = {"double_descent": double_descent, "synthetic_excess": synthetic_excess, "pareto": pareto,
           "floor_in_n": floor_in_n, "network_widths": network_widths, "sample_scaling": sample_scaling,
           "language_model_scaling": language_model_scaling, "language_model_sizes": language_model_sizes}
