"""Figures of chapter 2, Gaussian mixtures: each takes the chapter's
:class:`~collapse_lib.experiments.gmm.Result` and draws what it holds (:data:`FIGURES`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.gmm import RecursionResult, Result
from ..metrics_gmm import mixture_pdf
from .style import spread, theory


def _contours(ax, weights, means, covs, lims, levels=6):
    x = np.linspace(*lims[0], 160)
    y = np.linspace(*lims[1], 160)
    X, Y = np.meshgrid(x, y)
    Z = mixture_pdf(np.stack([X, Y], -1), weights, means, covs)
    if Z.max() > 0:
        ax.contour(X, Y, np.log(np.maximum(Z, Z.max() * 1e-6)), levels=levels, cmap="viridis", linewidths=0.8)


def _part(res: Result, part: str) -> RecursionResult | None:
    """The recursion ``part`` of the run: "recursion" (our two clusters) or "one_blob"."""
    if part not in ("recursion", "one_blob"):
        raise ValueError(f"part={part!r} is not allowed: it must be 'recursion' or 'one_blob'")
    return getattr(res, part)


def snapshot_grid(res: Result, chain: int = 0, part: str = "recursion"):
    """Real data and the samples of generation t, with the fitted density's contours
    (the figure of Shumailov et al., Fig. 2); ``part="one_blob"`` draws the authors' data
    (None when that recursion did not run)."""
    rec = _part(res, part)
    if rec is None:
        return None
    gens = list(rec.snapshots)
    n = len(gens) + 1
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.1 * rows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    pts = rec.real_points
    pad = 1.5
    lims = [(pts[:, i].min() - pad, pts[:, i].max() + pad) for i in range(2)]
    t = rec.truth
    panels = [("real data", pts, (t.weights[0], t.means[0], t.covs[0]))]
    for g in gens:
        p = rec.params
        panels.append((f"generation {g}", rec.snapshots[g],
                       (p.weights[g, chain], p.means[g, chain], p.covs[g, chain])))
    for ax, (title, points, mix) in zip(axes, panels):
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="C0")
        _contours(ax, *mix, lims)
        ax.set(title=title, xlim=lims[0], ylim=lims[1])
    for ax in axes[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"A two-component mixture refitted on M={rec.samples} of its own samples (chain {chain}; "
                 "points: the samples, lines: log-density contours of the fit)", fontsize=10)
    fig.tight_layout()
    return fig


def collapse_curves(res: Result, part: str = "recursion"):
    """Component standard deviations, L2 distance to the real mixture and the weight of
    the left cluster, over generations, with the spread over chains; ``part="one_blob"``
    draws the authors' data (None when that recursion did not run)."""
    rec = _part(res, part)
    if rec is None:
        return None
    g = rec.generations
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    std = rec.std
    C, K = std.shape[1:]
    spread(axes[0], g, std.reshape(len(g), -1), label=f"median over {C} chains x {K} components", center="median")
    theory(axes[0], g, np.exp(rec.early_theory), label="single-Gaussian rate, N = wM (w = 1/2)")
    axes[0].set(xlabel="generation", ylabel="component std  det(cov)$^{1/4}$", yscale="log",
                title="Every component shrinks")
    axes[0].legend(fontsize=8)
    spread(axes[1], g, np.maximum(rec.l2, 1e-12), label="median, 10-90 % band", center="median")
    axes[1].set(xlabel="generation", ylabel=r"$\|p_t - p_{\rm real}\|_2^2$", yscale="log",
                title="L2 distance to the real mixture grows")
    axes[1].legend(fontsize=8)
    for c in range(min(C, 8)):
        axes[2].plot(g, rec.mass[:, c], lw=0.8, alpha=0.8)
    lost = rec.lost_at.mean(1)
    axes[2].plot(g, lost, "k", lw=2, label="fraction of chains with a lost cluster")
    axes[2].set(xlabel="generation", ylabel="model weight on the left cluster", ylim=(-0.02, 1.02),
                title="Weights random-walk until a cluster is lost")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"M = {rec.samples} samples a generation; dashed: closed form", fontsize=10)
    fig.tight_layout()
    return fig


def pace(res: Result):
    """Component std against generation / M for several M: the curves coincide."""
    scaling = res.scaling
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, M in enumerate(scaling.samples):
        std = scaling.std[M]
        g = np.arange(std.shape[0])
        med = np.median(std.reshape(len(g), -1), axis=1)
        ax.plot(g / M, med, color=f"C{i}", label=f"M = {M} (median over chains)")
        theory(ax, g / M, np.exp(scaling.theory[M]), label=None, color=f"C{i}")
    ax.set(xlabel="generation / M", ylabel="component std", yscale="log",
           title="The pace of collapse scales with 1/M (dashed: closed form)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def replace_vs_accumulate(res: Result):
    """The two policies on the same axes: L2 distance and component std."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (name, d) in enumerate(res.policies.items()):
        g = np.arange(d["l2"].shape[0])
        spread(axes[0], g, np.maximum(d["l2"], 1e-12), label=name, color=f"C{i}", center="median")
        spread(axes[1], g, d["std"].reshape(len(g), -1), label=name, color=f"C{i}", center="median")
    axes[0].set(xlabel="generation", ylabel=r"$\|p_t - p_{\rm real}\|_2^2$", yscale="log",
                title="L2 distance to the real mixture")
    axes[1].set(xlabel="generation", ylabel="component std", yscale="log",
                title="Component standard deviations")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle("Replace vs accumulate: same chains, same random streams (median, 10-90 % band)", fontsize=10)
    fig.tight_layout()
    return fig


def kept_and_lost(res: Result):
    """Left: median component std of the chains that kept both clusters and of those that
    lost one, with the per-component proposition (given each kept chain's weights), the
    straight line at weights 1/2, the per-component recursion with ``reg_covar`` (simulated),
    the rerun with a negligible ``reg_covar`` and the level sqrt(reg_covar N); the vertical
    line marks the generation of the proposition's check. Right: the two components of one
    chain that lost a cluster."""
    rec = res.recursion
    kl = rec.kept_vs_lost
    g = rec.generations
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    ax = axes[0]
    ax.plot(g, kl.kept_median, color="C0", label="chains that kept both clusters (median)")
    theory(ax, g, kl.kept_theory, color="C0", label="proposition, given those chains' weights")
    ax.plot(g, kl.lost_median, color="C3", label="chains that lost a cluster (median)")
    theory(ax, g, kl.straight_line, label="straight line, weights 1/2")
    if res.component_theory is not None:
        sim = res.component_theory[rec.reg_covar]
        ax.plot(g, np.median(sim, axis=1), color="C2", ls=":", lw=1.4,
                label="per-component recursion with reg_covar (simulated median)")
    if res.control is not None:
        ctl = res.control
        ax.plot(ctl.generations, np.median(ctl.std.reshape(len(ctl.generations), -1), axis=1), color="0.4", lw=1.0,
                label=f"rerun with reg_covar = {ctl.reg_covar:g} (median)")
    ax.axhline(kl.reg_covar_level, color="0.5", lw=0.8, ls=":", label=f"sqrt(reg_covar N) = {kl.reg_covar_level:.3f}")
    ax.axvline(kl.check_generation, color="0.7", lw=0.8)
    ax.set(xlabel="generation", ylabel="component std", yscale="log",
           title="Kept chains follow the proposition; the late floor is reg_covar's")
    ax.legend(fontsize=7)
    ax2 = ax.twinx()
    ax2.plot(g, kl.kept_fraction, color="C0", lw=0.6, alpha=0.5)
    ax2.plot(g, kl.lost_fraction, color="C3", lw=0.6, alpha=0.5)
    ax2.set(ylabel="share of chains (thin lines)", ylim=(0, 1))
    lost = rec.lost_by
    ax = axes[1]
    if lost[-1].any():
        c = int(np.argmax(lost[-1]))
        t_lost = int(np.argmax(lost[:, c]))
        for k in range(rec.std.shape[2]):
            ax.plot(g, rec.std[:, c, k], lw=0.9, label=f"component {k}")
        ax.axvline(t_lost, color="k", lw=0.8, ls="--", label=f"cluster lost (generation {t_lost})")
        ax.axhline(np.sqrt(rec.reg_covar), color="0.5", lw=0.8, ls=":", label="sqrt(reg_covar), its own scale")
        ax.set(title=f"Chain {c}: the dying component, its return, the split", yscale="log",
               xlabel="generation", ylabel="component std")
        ax.legend(fontsize=7)
    else:
        ax.axis("off")
    fig.tight_layout()
    return fig


def one_blob(res: Result):
    """The collapse curves of the authors' one blob (None when it did not run)."""
    return collapse_curves(res, part="one_blob")


#: Every figure the command line writes, by the name of its file.
FIGURES = {
    "gmm_snapshots": snapshot_grid,
    "gmm_collapse": collapse_curves,
    "gmm_kept_and_lost": kept_and_lost,
    "gmm_pace": pace,
    "gmm_replace_vs_accumulate": replace_vs_accumulate,
    "gmm_one_blob": one_blob,
}
