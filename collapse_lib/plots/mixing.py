"""Figures of chapter 5, mixing real data."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.mixing import Result
from .style import spread, theory

#: one colour per policy, the same in every panel
POLICY_COLORS = {"replace": "C3", "accumulate": "C0", "mix": "C2", "fresh": "C1", "accumulate-subsample": "C4"}
POLICY_LABELS = {"replace": "replace", "accumulate": "accumulate", "mix": "mix (fixed real fraction)",
                 "fresh": "fresh real data", "accumulate-subsample": "accumulate-subsample (M of the pool)"}


def policies(res: Result, log_scale=("Gaussian", "linear regression")):
    """One panel per family, the four policies on the same axes: mean over chains with the
    10-90 % band of the chains, and the closed forms (black dashes) where there are some."""
    results = list(res.families.values())
    fig, axes = plt.subplots(1, len(results), figsize=(5.0 * len(results), 3.9))
    axes = np.atleast_1d(axes)
    for ax, part in zip(axes, results):
        for name, values in part.metric.items():
            spread(ax, part.generations, values, label=POLICY_LABELS.get(name, name), color=POLICY_COLORS.get(name))
        for i, (name, y) in enumerate(part.theory.items()):
            theory(ax, part.generations, y, label=f"theory ({name})", linestyle="--" if i == 0 else ":")
        ax.set(xlabel="generation", ylabel=part.metric_name, title=part.family)
        if part.family in log_scale:
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    if len(results) > 1 and any(r.theory for r in results):
        axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def strong_collapse(res: Result):
    """Excess test error against the training-set size n for each synthetic fraction p:
    simulation (markers: mean over chains, bars: 10-90 % of chains), the exact expectation
    (lines), and the floors p^2 c^2 (dotted)."""
    strong = res.strong
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    n = strong.sizes
    for i, p in enumerate(strong.fractions):
        color = f"C{i}"
        err = strong.errors[p]
        mean = err.mean(axis=1)
        lo, hi = np.quantile(err, [0.1, 0.9], axis=1)
        ax.errorbar(n, mean, yerr=[mean - lo, hi - mean], fmt="o", ms=4, color=color, capsize=2,
                    label=f"p = {p:g} (simulation)")
        ax.plot(n, strong.theory[p], color=color, linewidth=1.2)
        if strong.floors[p] > 0:
            ax.axhline(strong.floors[p], color=color, linestyle=":", linewidth=1.0)
    ax.plot([], [], color="k", linewidth=1.2, label="exact expectation")
    ax.plot([], [], color="k", linestyle=":", label=r"floor $p^2 c^2$")
    ax.set(xscale="log", yscale="log", xlabel="training-set size n", ylabel="excess test error",
           title=f"Strong model collapse (d = {strong.dim}, $c^2$ = {strong.quality:g})")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def neural(res: Result):
    """The VAE of chapter 3 with a share of real images kept in every training set: the
    latent spread of the paper (left, grey band: real test images) and the effective
    number of digit classes (right), mean over chains with the chains' range; None when
    no share was run."""
    vaes = res.neural
    if vaes is None:
        return None
    g = vaes.generations
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 3.9))
    for i, (f, run) in enumerate(vaes.runs.items()):
        color = f"C{i}"
        label = "replace (no real images)" if f == 0 else f"{f:.0%} real images"
        spread(axes[0], g, run.spread, label=label, color=color, quantiles=(0.0, 1.0), marker="o")
        spread(axes[1], g, run.effective, label=label, color=color, quantiles=(0.0, 1.0), marker="o")
    axes[0].axhspan(vaes.real_spread.min(), vaes.real_spread.max(), color="0.85", zorder=0, label="real test images")
    for ax in axes:
        ax.set_xticks(g)
    axes[0].set(xlabel="generation", ylabel="std of generation-0 latent means", title="Latent spread")
    axes[1].set(xlabel="generation", ylabel="effective number of classes", title="Diversity", ylim=(0, 10.5))
    axes[0].legend(fontsize=8)
    fig.suptitle(f"VAE on {vaes.data.split(':')[0]}: how much real data each generation keeps")
    fig.tight_layout()
    return fig


def _mean_band(ax, x, values, z: float, color, label):
    """The mean over chains with a band of z standard errors of the mean, and the median (thin dashes)."""
    mean = values.mean(axis=1)
    se = values.std(axis=1, ddof=1) / np.sqrt(values.shape[1])
    ax.plot(x, mean, color=color, label=f"{label}: mean")
    ax.fill_between(x, mean - z * se, mean + z * se, color=color, alpha=0.25, linewidth=0)
    ax.plot(x, np.median(values, axis=1), color=color, linewidth=0.8, linestyle="--", label=f"{label}: median")


def subsample(res: Result):
    """Accumulate-subsample beside accumulate and replace. Left: the Gaussian's fitted
    variance, mean over chains with a band of Z standard errors of the mean and the median
    (dashes). Right: the regression's excess error in units of one fit's error e_1, mean
    with the chains' 10-90 % band, and the closed forms of replace and accumulate (black).
    None when accumulate-subsample was not run."""
    from ..experiments.mixing_claims import Z

    sub = res.subsample
    if sub is None:
        return None
    panels = [p for p in ("gaussian", "linreg") if getattr(sub, p) is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.9))
    axes = dict(zip(panels, np.atleast_1d(axes)))
    g = sub.generations
    if "gaussian" in axes:
        ax = axes["gaussian"]
        if "accumulate" in res.gaussian.variance:
            _mean_band(ax, g, res.gaussian.variance["accumulate"], Z, POLICY_COLORS["accumulate"], "accumulate")
        _mean_band(ax, g, sub.gaussian_variance, Z, POLICY_COLORS["accumulate-subsample"], "accumulate-subsample")
        ax.axhline(1.0, color="k", linewidth=0.8, linestyle=":")
        ax.set(xlabel="generation", ylabel="fitted variance (real: 1)",
               title=f"Gaussian (band: {Z:g} s.e. of the mean)")
        ax.legend(fontsize=8)
    if "linreg" in axes:
        ax, e1 = axes["linreg"], sub.one_fit_error
        for name in ("replace", "accumulate"):
            if name in res.linreg.metric:
                spread(ax, g, res.linreg.metric[name] / e1, label=POLICY_LABELS[name], color=POLICY_COLORS[name])
        spread(ax, g, sub.linreg / e1, label=POLICY_LABELS["accumulate-subsample"],
               color=POLICY_COLORS["accumulate-subsample"])
        for i, (name, y) in enumerate((k, v) for k, v in res.linreg.theory.items() if k in ("replace", "accumulate")):
            theory(ax, g, y / e1, label=f"theory ({name})", linestyle="--" if i == 0 else ":")
        ax.set(xlabel="generation", ylabel="excess test error / $e_1$", title="linear regression", yscale="log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: Every figure of the chapter by name.
FIGURES = {"policies": policies, "strong_collapse": strong_collapse, "neural": neural, "subsample": subsample}
