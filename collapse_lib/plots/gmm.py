"""Figures of chapter 2, Gaussian mixtures."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.gmm import (RecursionResult, ScalingResult, cluster_mass, early_theory, kept_vs_lost, lost_at,
                               lost_by)
from ..metrics_gmm import mixture_pdf
from .style import spread, theory


def _contours(ax, weights, means, covs, lims, levels=6):
    x = np.linspace(*lims[0], 160)
    y = np.linspace(*lims[1], 160)
    X, Y = np.meshgrid(x, y)
    Z = mixture_pdf(np.stack([X, Y], -1), weights, means, covs)
    if Z.max() > 0:
        ax.contour(X, Y, np.log(np.maximum(Z, Z.max() * 1e-6)), levels=levels, cmap="viridis", linewidths=0.8)


def snapshot_grid(res: RecursionResult, chain: int = 0):
    """Real data and the samples of generation t, with the fitted density's contours
    (the figure of Shumailov et al., Fig. 2)."""
    gens = list(res.snapshots)
    n = len(gens) + 1
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.1 * rows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    pts = res.real_points
    pad = 1.5
    lims = [(pts[:, i].min() - pad, pts[:, i].max() + pad) for i in range(2)]
    t = res.truth
    panels = [("real data", pts, (t.weights[0], t.means[0], t.covs[0]))]
    for g in gens:
        p = res.params
        panels.append((f"generation {g}", res.snapshots[g],
                       (p.weights[g, chain], p.means[g, chain], p.covs[g, chain])))
    for ax, (title, points, mix) in zip(axes, panels):
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="C0")
        _contours(ax, *mix, lims)
        ax.set(title=title, xlim=lims[0], ylim=lims[1])
    for ax in axes[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"A two-component mixture refitted on M={res.samples} of its own samples (chain {chain}; "
                 "points: the samples, lines: log-density contours of the fit)", fontsize=10)
    fig.tight_layout()
    return fig


def collapse_curves(res: RecursionResult):
    """Component standard deviations, L2 distance to the real mixture and the weight of
    the left cluster, over generations, with the spread over chains."""
    g = res.generations
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    std = res.std
    C, K = std.shape[1:]
    spread(axes[0], g, std.reshape(len(g), -1), label=f"median over {C} chains x {K} components", center="median")
    theory(axes[0], g, np.exp(early_theory(res)), label="single-Gaussian rate, N = wM (w = 1/2)")
    axes[0].set(xlabel="generation", ylabel="component std  det(cov)$^{1/4}$", yscale="log",
                title="Every component shrinks")
    axes[0].legend(fontsize=8)
    spread(axes[1], g, np.maximum(res.l2, 1e-12), label="median, 10-90 % band", center="median")
    axes[1].set(xlabel="generation", ylabel=r"$\|p_t - p_{\rm real}\|_2^2$", yscale="log",
                title="L2 distance to the real mixture grows")
    axes[1].legend(fontsize=8)
    mass = cluster_mass(res.params)
    for c in range(min(C, 8)):
        axes[2].plot(g, mass[:, c], lw=0.8, alpha=0.8)
    lost = lost_at(res.params).mean(1)
    axes[2].plot(g, lost, "k", lw=2, label="fraction of chains with a lost cluster")
    axes[2].set(xlabel="generation", ylabel="model weight on the left cluster", ylim=(-0.02, 1.02),
                title="Weights random-walk until a cluster is lost")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"M = {res.samples} samples a generation; dashed: closed form", fontsize=10)
    fig.tight_layout()
    return fig


def pace(res: ScalingResult):
    """Component std against generation / M for several M: the curves coincide."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, M in enumerate(res.samples):
        std = res.std[M]
        g = np.arange(std.shape[0])
        med = np.median(std.reshape(len(g), -1), axis=1)
        ax.plot(g / M, med, color=f"C{i}", label=f"M = {M} (median over chains)")
        theory(ax, g / M, np.exp(res.theory[M]), label=None, color=f"C{i}")
    ax.set(xlabel="generation / M", ylabel="component std", yscale="log",
           title="The pace of collapse scales with 1/M (dashed: closed form)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def replace_vs_accumulate(res: dict):
    """The two policies on the same axes: L2 distance and component std."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (name, d) in enumerate(res.items()):
        g = np.arange(d["l2"].shape[0])
        spread(axes[0], g, np.maximum(d["l2"], 1e-12), label=name, color=f"C{i}", center="median")
        spread(axes[1], g, d["std"].reshape(len(g), -1), label=name, color=f"C{i}", center="median")
    axes[0].set(xlabel="generation", ylabel=r"$\|p_t - p_{\rm real}\|_2^2$", yscale="log", title="L2 distance to the real mixture")
    axes[1].set(xlabel="generation", ylabel="component std", yscale="log", title="Component standard deviations")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle("Replace vs accumulate: same chains, same random streams (median, 10-90 % band)", fontsize=10)
    fig.tight_layout()
    return fig


def kept_and_lost(res: RecursionResult, reg_covar: float = 1e-6):
    """Left: median component std of the chains that kept both clusters and of those that
    lost one, with the per-component proposition (given each kept chain's weights), the
    straight line at weights 1/2 and the level where ``reg_covar`` stops the shrinking.
    Right: the two components of one chain that lost a cluster."""
    from ..theory import gmm as gmm_theory

    kl = kept_vs_lost(res)
    g = res.generations
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    ax = axes[0]
    ax.plot(g, kl.kept_median, color="C0", label="chains that kept both clusters (median)")
    theory(ax, g, kl.kept_theory, color="C0", label="proposition, given those chains' weights")
    ax.plot(g, kl.lost_median, color="C3", label="chains that lost a cluster (median)")
    theory(ax, g, kl.straight_line, label="straight line, weights 1/2")
    floor = gmm_theory.reg_covar_floor(res.samples, 0.5, 2, reg_covar)
    ax.axhline(floor, color="0.5", lw=0.8, ls=":", label=f"reg_covar level {floor:.3f}")
    ax.axvline(kl.check_generation, color="0.7", lw=0.8)
    ax.set(xlabel="generation", ylabel="component std", yscale="log",
           title="Both clusters kept: the theory holds; a cluster lost: the std stalls")
    ax.legend(fontsize=7)
    ax2 = ax.twinx()
    ax2.plot(g, kl.kept_fraction, color="C0", lw=0.6, alpha=0.5)
    ax2.plot(g, kl.lost_fraction, color="C3", lw=0.6, alpha=0.5)
    ax2.set(ylabel="share of chains (thin lines)", ylim=(0, 1))
    lost = lost_by(res.params)
    ax = axes[1]
    if lost[-1].any():
        c = int(np.argmax(lost[-1]))
        t_lost = int(np.argmax(lost[:, c]))
        for k in range(res.std.shape[2]):
            ax.plot(g, res.std[:, c, k], lw=0.9, label=f"component {k}")
        ax.axvline(t_lost, color="k", lw=0.8, ls="--", label=f"cluster lost (generation {t_lost})")
        ax.axhline(np.sqrt(reg_covar), color="0.5", lw=0.8, ls=":", label="sqrt(reg_covar)")
        ax.set(title=f"Chain {c}: the dying component, its return, the split", yscale="log",
               xlabel="generation", ylabel="component std")
        ax.legend(fontsize=7)
    else:
        ax.axis("off")
    fig.tight_layout()
    return fig
