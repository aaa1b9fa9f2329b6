"""Figures of chapter 7, verification and curation."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.verification import Result
from ..experiments.verification_loops import strength
from ..theory import verification as th
from .style import spread, theory

VERIFIER_COLORS = {"none": "C3", "unbiased": "C0", "biased": "C1"}
VERIFIER_LABELS = {"none": "no verifier", "unbiased": r"verifier centred on $\theta^\star$",
                   "biased": r"verifier centred on $\theta_c \neq \theta^\star$"}


def accuracy(res: Result):
    """Accuracy on real data against the number n of kept points, one colour per generator
    error rate p: mean over training sets with their 10-90 % band, the exact expectation
    (black dashes), and the Bayes accuracy and its complement (grey)."""
    step = res.step
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    for i, p in enumerate(step.rates):
        side = "below" if p < step.breakdown else "above"
        spread(ax, step.sizes, step.accuracy[p], label=f"p = {p:g} ({side} p*)", color=f"C{i}", marker="o", ms=3)
        theory(ax, step.sizes, step.exact[p], label="exact expectation" if i == 0 else None)
    for y in (step.bayes, 1 - step.bayes):
        ax.axhline(y, color="0.6", linestyle=":", linewidth=1)
    ax.axhline(0.5, color="0.8", linewidth=0.8)
    ax.set(xscale="log", xlabel="kept points n", ylabel="accuracy on real data", ylim=(0, 1),
           title=f"Verified synthetic labels: breakdown point p* = {step.breakdown:.3g}")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def phase(res: Result):
    """The phase diagram over (p, psi/phi): the exact expected accuracy as a colour map, the
    breakdown line p* = 1/(1 + psi/phi), and the simulated mean accuracy of each cell."""
    ph = res.phase
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    ratios = np.geomspace(ph.ratios.min() / 1.5, ph.ratios.max() * 1.5, 120)
    rates = np.linspace(0.0, 1.0, 121)
    pk = th.kept_error_rate(rates[None, :], 1.0, ratios[:, None])
    grid = th.accuracy_plugin(ph.size, pk, res.cfg.step_signal, res.cfg.step_dim)
    mesh = ax.pcolormesh(rates, ratios, grid, cmap="RdBu", vmin=0, vmax=1, shading="auto")
    fig.colorbar(mesh, ax=ax, label=f"accuracy at n = {ph.size}")
    ax.plot(1 / (1 + ratios), ratios, color="k", linewidth=1.5, label=r"$p^\star = 1/(1 + \psi/\phi)$")
    mean = ph.accuracy.mean(-1)
    for i, r in enumerate(ph.ratios):
        ax.scatter(ph.rates, np.full(ph.rates.size, r), c=mean[i], cmap="RdBu", vmin=0, vmax=1,
                   edgecolors="k", s=40, zorder=3)
    ax.scatter([], [], facecolors="w", edgecolors="k", label="simulated cells")
    ax.set(yscale="log", xlabel="generator error rate p", ylabel=r"verifier $\psi/\phi$",
           title="Where verified synthetic data help (blue) or hurt (red)")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def generations(res: Result):
    """Excess test error over generations for no verifier, an unbiased and a biased one: mean
    over chains with the 10-90 % band; exact (no verifier) and first-order (verifiers) forms in
    black; the offset |theta_c - theta*|^2 in grey."""
    loop = res.loop
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.0))
    for ax, names in zip(axes, (("none", "unbiased", "biased"), ("unbiased", "biased"))):
        for name in names:
            spread(ax, loop.generations, loop.error[name], label=VERIFIER_LABELS[name], color=VERIFIER_COLORS[name])
            if name in loop.theory:
                kind = "exact" if name == "none" else "first order"
                theory(ax, loop.generations, loop.theory[name], label=f"{kind} ({name})",
                       linestyle="--" if name != "biased" else ":")
        ax.axhline(loop.offset, color="0.6", linewidth=1, label=r"$|\theta_c - \theta^\star|^2$")
        ax.set(xlabel="generation", ylabel="excess test error")
    axes[0].set(yscale="log", title="Retraining on its own labels")
    axes[1].set(title="The two verifiers, linear scale")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def curation(res: Result):
    """Per reward (rows): mean reward, variance and KL to the real distribution over rounds, one
    colour per K, solid without real data and dashed with; the closed forms (K, n infinite) in black."""
    cur, cfg = res.curation, res.cfg
    kinds = list(cfg.curation_rewards)
    fig, axes = plt.subplots(len(kinds), 3, figsize=(13.0, 3.6 * len(kinds)), squeeze=False)
    t = cur.rounds
    for row, kind in zip(axes, kinds):
        s = strength(kind, cfg)
        for j, K in enumerate(cfg.curation_candidates):
            for lam in cfg.curation_real_shares:
                style = dict(color=f"C{j}", linestyle="-" if lam == 0 else "--")
                label = f"K = {K}" + ("" if lam == 0 else f", {lam:.0%} real")
                row[0].plot(t, cur.reward(kind, lam, K, cfg).mean(1), label=label, **style)
                row[1].plot(t, cur.var[(kind, lam, K)].mean(1), **style)
                row[2].plot(t, cur.kl(kind, lam, K).mean(1), **style)
        for lam in cfg.curation_real_shares:
            m, v = cur.theory[(kind, lam)]
            ls = "-." if lam == 0 else ":"
            label = "tilt $p_0 e^{t r}$" if lam == 0 else f"K, n infinite, {lam:.0%} real"
            theory(row[0], t, th.expected_reward(m, v, kind, s, cfg.curation_target), label=label, linestyle=ls)
            theory(row[1], t, v, label=None, linestyle=ls)
            theory(row[2], t, th.kl_to_standard(m, v), label=None, linestyle=ls)
        name = r"$r(x) = \beta x$" if kind == "linear" else r"$r(x) = -\gamma (x - a)^2 / 2$"
        row[0].set(ylabel="mean reward", title=f"{name}: reward")
        row[1].set(ylabel="variance", title="diversity")
        row[2].set(ylabel="KL to the real N(0, 1)", title="distance to the real data", yscale="symlog",
                   **{"ylim": (0, None)})
        row[0].legend(fontsize=7)
        for ax in row:
            ax.set_xlabel("round")
    fig.tight_layout()
    return fig


#: The smallest mass the picture's log axis shows.
FLOOR = 1e-6


def picture(res: Result):
    """Curation of chapter 2's two-cluster mixture, one row per real share: chain 0's training
    points at the snapshot rounds, and the fitted mass left of the origin over rounds (mean over
    chains with their range; the tilt p0 e^(t r) in black dashes)."""
    pic = res.picture
    if pic is None:
        return None
    shares = list(pic.left)
    cols = len(pic.snapshots)
    fig, axes = plt.subplots(len(shares), cols + 1, figsize=(2.9 * (cols + 1), 2.8 * len(shares)), squeeze=False)
    for row, lam in zip(axes, shares):
        for ax, t in zip(row, pic.snapshots):
            x = pic.points[lam][t]
            ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="C0" if t == 0 else "C1")
            ax.axvline(0, color="0.6", linewidth=0.8)
            ax.set(xlim=(-7, 9), ylim=(-4, 4), title=f"round {t}" + (" (real)" if t == 0 else "")
                   + ("" if lam == 0 else f", {lam:.0%} real"))
            ax.set_xlabel("$x_1$", fontsize=8)
        # a log axis from FLOOR: smaller masses are drawn at FLOOR
        spread(row[-1], pic.rounds, np.maximum(pic.left[lam], FLOOR), label="curated refits", quantiles=(0.0, 1.0),
               marker="o")
        theory(row[-1], pic.rounds, np.maximum(pic.tilt_left, FLOOR), label="tilt $p_0 e^{t r}$")
        if lam:
            row[-1].axhline(lam * pic.real_left, color="0.6", linestyle=":", label="real points' own share")
        row[-1].set(xlabel="round", ylabel=f"mass with $x_1 < 0$ (at least {FLOOR:g})", yscale="log",
                    ylim=(FLOOR / 2, 1), title="the left cluster")
        row[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def neural(res: Result):
    """Chapter 4's language-model loop without original data, keeping a different beam of every
    block (None when the profile does not run it)."""
    from .lm import compare_loops

    if res.neural is None:
        return None
    runs = {res.neural.labels[s]: r for s, r in res.neural.runs.items()}
    return compare_loops(runs, res.neural.zero_shot_ppl, "which beam every block keeps")


#: Every figure of the chapter by name.
FIGURES = {"accuracy": accuracy, "phase": phase, "generations": generations, "curation": curation,
           "picture": picture, "neural": neural}
