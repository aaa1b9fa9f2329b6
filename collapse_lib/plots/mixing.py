"""Figures of chapter 5, mixing real data."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.mixing import NeuralResult, PolicyResult, StrongResult
from .style import spread, theory

#: one colour per policy, the same in every panel
POLICY_COLORS = {"replace": "C3", "accumulate": "C0", "mix": "C2", "fresh": "C1"}
POLICY_LABELS = {"replace": "replace", "accumulate": "accumulate", "mix": "mix (fixed real fraction)",
                 "fresh": "fresh real data"}


def policy_comparison(results: list[PolicyResult], log_scale=("Gaussian", "linear regression")):
    """One panel per family, the four policies on the same axes: mean over chains with the
    10-90 % band of the chains, and the closed forms (black dashes) where there are some."""
    fig, axes = plt.subplots(1, len(results), figsize=(5.0 * len(results), 3.9))
    axes = np.atleast_1d(axes)
    for ax, res in zip(axes, results):
        for name, values in res.metric.items():
            spread(ax, res.generations, values, label=POLICY_LABELS.get(name, name), color=POLICY_COLORS.get(name))
        for i, (name, y) in enumerate(res.theory.items()):
            theory(ax, res.generations, y, label=f"theory ({name})", linestyle="--" if i == 0 else ":")
        ax.set(xlabel="generation", ylabel=res.metric_name, title=res.family)
        if res.family in log_scale:
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    if len(results) > 1 and any(r.theory for r in results):
        axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def strong_collapse(res: StrongResult):
    """Excess test error against the training-set size n for each synthetic fraction p:
    simulation (markers: mean over chains, bars: 10-90 % of chains), the exact expectation
    (lines), and the floors p^2 c^2 (dotted)."""
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    n = res.sizes
    for i, p in enumerate(res.fractions):
        color = f"C{i}"
        err = res.errors[p]
        mean = err.mean(axis=1)
        lo, hi = np.quantile(err, [0.1, 0.9], axis=1)
        ax.errorbar(n, mean, yerr=[mean - lo, hi - mean], fmt="o", ms=4, color=color, capsize=2,
                    label=f"p = {p:g} (simulation)")
        ax.plot(n, res.theory[p], color=color, linewidth=1.2)
        if res.floors[p] > 0:
            ax.axhline(res.floors[p], color=color, linestyle=":", linewidth=1.0)
    ax.plot([], [], color="k", linewidth=1.2, label="exact expectation")
    ax.plot([], [], color="k", linestyle=":", label=r"floor $p^2 c^2$")
    ax.set(xscale="log", yscale="log", xlabel="training-set size n", ylabel="excess test error",
           title=f"Strong model collapse (d = {res.dim}, $c^2$ = {res.quality:g})")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def neural_mixing(res: NeuralResult):
    """The VAE of chapter 3 with a share of real images kept in every training set: the
    latent spread of the paper (left, grey band: real test images) and the effective
    number of digit classes (right), mean over chains with the chains' range."""
    from ..experiments.vae import effective_classes

    g = res.generations
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 3.9))
    for i, (f, run) in enumerate(res.runs.items()):
        color = f"C{i}"
        label = "replace (no real images)" if f == 0 else f"{f:.0%} real images"
        spread(axes[0], g, run.spread, label=label, color=color, quantiles=(0.0, 1.0), marker="o")
        spread(axes[1], g, effective_classes(run.shares), label=label, color=color, quantiles=(0.0, 1.0), marker="o")
    axes[0].axhspan(res.real_spread.min(), res.real_spread.max(), color="0.85", zorder=0, label="real test images")
    for ax in axes:
        ax.set_xticks(g)
    axes[0].set(xlabel="generation", ylabel="std of generation-0 latent means", title="Latent spread")
    axes[1].set(xlabel="generation", ylabel="effective number of classes", title="Diversity", ylim=(0, 10.5))
    axes[0].legend(fontsize=8)
    fig.suptitle(f"VAE on {res.data.split(':')[0]}: how much real data each generation keeps")
    fig.tight_layout()
    return fig
