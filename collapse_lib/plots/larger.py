"""Figures of chapter 6, larger models: each takes the chapter's :class:`Result` and only draws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

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
    against m/n, for every (p, c2), mean over seeds with a band of two standard errors;
    dotted lines are the floors p^2 c2 of the classical linear model."""
    proj = res.projections
    fig, ax = plt.subplots(figsize=(7, 4.4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ps = sorted({p for p, _ in proj.label_sets if p > 0})
    cs = sorted({c2 for p, c2 in proj.label_sets if p > 0})
    for l, (p, c2) in enumerate(proj.label_sets):
        if p == 0:
            continue
        color = colors[ps.index(p) % len(colors)]
        marker = MARKERS[cs.index(c2) % len(MARKERS)]
        mean, se = proj.excess_mean[l], proj.excess_stderr[l]
        ax.plot(proj.ratios, mean, label=_label(p, c2), color=color, marker=marker, markersize=4)
        ax.fill_between(proj.ratios, np.maximum(mean - 2 * se, mean / 10), mean + 2 * se, color=color, alpha=0.15,
                        linewidth=0)
        ax.axhline(floor(p, c2), color=color, linestyle=":", linewidth=0.8)
    ax.axvline(1.0, color="0.6", linewidth=0.8)
    ax.set(xscale="log", yscale="log", xlabel="model width m / n",
           ylabel="error(mixed) - error(real only)",
           title="The cost of synthetic labels grows up to m = n, then shrinks")
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
    """Test error on real labels against width, for each share p of teacher labels:
    mean over seeds and their range; the teacher's own error dashed."""
    nets = res.networks
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for j, p in enumerate(nets.fractions):
        spread(ax, nets.widths, nets.errors[:, j].T, label=f"p = {p:g} teacher labels", marker="o",
               quantiles=(0.0, 1.0))
    ax.axhline(nets.teacher_error, color="k", linestyle="--", linewidth=1, label="the teacher itself")
    ax.set(xscale="log", xlabel="hidden units", ylabel="test error on real labels",
           title=f"Two-layer networks, {nets.data.split(':')[0]}")
    ax.set_xticks(nets.widths, [str(w) for w in nets.widths])
    ax.legend(fontsize=8)
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
           "network_widths": network_widths, "sample_scaling": sample_scaling,
           "language_model_scaling": language_model_scaling, "language_model_sizes": language_model_sizes}
