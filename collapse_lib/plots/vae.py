"""Figures of chapter 3, variational autoencoders."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.vae import PAPER, Result
from .style import spread

POLICY_LABELS = {"replace": "replace (no real data)", "mix": "mix (10 % real)", "accumulate": "accumulate",
                 "fresh": "fresh real"}


def tile(images: np.ndarray, side: int, cols: int = 8, pad: int = 1) -> np.ndarray:
    """Images (n, side*side) in a grid (rows x cols) of ink values in [0, 1] (1 = full
    ink), with ``pad`` pixels of blank paper (0) between and around them."""
    images = np.asarray(images, float).reshape(-1, side, side)
    if images.max(initial=0) > 1:
        images = images / 255.0
    n = len(images)
    rows = -(-n // cols)
    out = np.zeros((rows * (side + pad) + pad, cols * (side + pad) + pad))
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (side + pad):pad + r * (side + pad) + side, pad + c * (side + pad):pad + c * (side + pad) + side] = im
    return out


SCHEME_LABELS = {"fresh": "fresh samples every batch", "fixed": "fixed set per generation"}


PIXEL_LABELS = {"means": "decoder means", "samples": "drawn pixels"}


def _label(name: str, res: Result) -> str:
    """A run's legend entry: its policy and, where the result holds both, its scheme (and
    its pixels where they are not the main ones)."""
    p = res.policies[name]
    schemes = {q.synthetic for q in res.policies.values()}
    label = POLICY_LABELS.get(p.policy, p.policy)
    label = f"{label}, {SCHEME_LABELS.get(p.synthetic, p.synthetic)}" if len(schemes) > 1 else label
    return label if p.pixels == res.main_pixels else f"{label}, {PIXEL_LABELS.get(p.pixels, p.pixels)}"


def _style(name: str, res: Result) -> dict:
    """Solid lines for the main scheme, dashed for the others; one colour per policy."""
    p = res.policies[name]
    main = next(iter(res.policies.values())).synthetic
    policies = list(dict.fromkeys(q.policy for q in res.policies.values()))
    return {"color": f"C{policies.index(p.policy)}", "linestyle": "-" if p.synthetic == main else "--"}


def latent_spread(res: Result, show_paper: bool = True):
    """The paper's collapse measure per generation, mean and range over chains (left), and
    the same divided by generation 1's, the first synthetic generation, where the paper's
    printed values start (right): different encoders give different scales, ratios compare.
    The runs on the main pixels only (:func:`pixel_draws` compares the pixels)."""
    g = res.generations
    first = PAPER["first_generation"]
    paper_g = first + np.arange(len(PAPER["latent_std"]))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, p in res.main_runs.items():
        spread(axes[0], g, p.spread, label=_label(name, res), marker="o", quantiles=(0.0, 1.0), **_style(name, res))
        if len(g) > first:
            spread(axes[1], g[first:], p.spread[first:] / p.spread[first], label=_label(name, res), marker="o",
                   quantiles=(0.0, 1.0), **_style(name, res))
    axes[0].axhline(res.real_spread.mean(), color="0.5", linestyle="-.", label="real test images")
    if res.floor_spread is not None:
        axes[0].axhline(res.floor_spread.mean(), color="0.3", linestyle=(0, (1, 3)),
                        label="one average digit (collapsed)")
    if show_paper:
        paper = np.asarray(PAPER["latent_std"])
        axes[0].plot(paper_g, paper, "k:", marker="x", label="Shumailov et al. (MNIST, one run)")
        axes[1].plot(paper_g, paper / paper[0], "k:", marker="x", label="Shumailov et al. (MNIST, one run)")
    axes[0].set(xlabel="generation", ylabel="std of generation-0 latent means",
                title="Latent spread of each generation's images")
    axes[1].set(xlabel="generation", ylabel=f"spread / spread at generation {first}",
                title=f"Relative to generation {first}, the first synthetic one")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def class_balance(res: Result):
    """Effective number of digit classes (exp of the entropy of the predicted classes)
    and the class shares of the last generation, for the runs on the main pixels."""
    g = res.generations
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for name, p in res.main_runs.items():
        spread(axes[0], g, p.effective, label=_label(name, res), marker="o", quantiles=(0.0, 1.0),
               **_style(name, res))
    axes[0].axhline(res.real_effective, color="0.5", linestyle=":", label="real data")
    axes[0].set(xlabel="generation", ylabel="effective number of classes", title="Diversity of the digits drawn")
    axes[0].legend(fontsize=8)
    width = 0.8 / (len(res.main_runs) + 1)
    x = np.arange(10)
    axes[1].bar(x - 0.4 + width / 2, res.real_shares, width, color="0.6", label="real data")
    for i, (name, p) in enumerate(res.main_runs.items(), start=1):
        axes[1].bar(x - 0.4 + width * (i + 0.5), p.shares[-1].mean(0), width, label=f"{_label(name, res)}, gen. {g[-1]}",
                    color=f"C{i - 1}")
    axes[1].set(xlabel="predicted digit", ylabel="share of images", xticks=x, title="Class shares (mean over chains)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def sample_grids(res: Result, policy: str, generations=None, images: int = 36):
    """Images of chain 0, one panel per generation, with real images first."""
    p = res.policies[policy]
    gens = list(res.generations if generations is None else generations)
    panels = [("real", res.real_grid[:images])] + [(f"generation {t}", p.grids[t, :images]) for t in gens]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.6))
    for ax, (title, ims) in zip(np.atleast_1d(axes), panels):
        ax.imshow(tile(ims, res.side, cols=int(np.ceil(np.sqrt(len(ims))))), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"Samples, {_label(policy, res)} (chain 0)")
    fig.tight_layout()
    return fig


def samples(res: Result) -> dict:
    """:func:`sample_grids` of every run, by its name."""
    return {name: sample_grids(res, name) for name in res.policies}


def pixel_draws(res: Result):
    """Decoder means against drawn pixels (:attr:`Result.pixel_comparison`), one colour per
    scheme, solid lines and dots on means, dashed lines and open squares on drawn pixels,
    mean over chains with their range: the
    pixel variance of the images each generation makes for the next (left), the part of it
    between images, sum_j Var_z p_j(z), the model's variety (middle), and the paper's latent
    spread (right). None when the pixels were not compared."""
    cmp = res.pixel_comparison
    if cmp is None:
        return None
    g = res.generations
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = ((cmp.variance_means, cmp.variance_samples), ([r.kept for r in cmp.means], [r.kept for r in cmp.samples]),
              (cmp.spread_means, cmp.spread_samples))
    for i, scheme in enumerate(cmp.schemes):
        color = f"C{2 * i}"
        for ax, (on_means, on_draws) in zip(axes, panels):
            for values, pixels, style, marker in ((on_means[i], "means", "-", "o"), (on_draws[i], "samples", "--", "s")):
                spread(ax, g, values, label=f"{SCHEME_LABELS.get(scheme, scheme)}, {PIXEL_LABELS[pixels]}",
                       color=color, linestyle=style, marker=marker, mfc="none" if pixels == "samples" else None,
                       quantiles=(0.0, 1.0))
    if res.real_variance is not None:
        for ax in axes[:2]:
            ax.axhline(res.real_variance.kept, color="0.5", linestyle="-.", label="real training images")
    axes[2].axhline(res.real_spread.mean(), color="0.5", linestyle="-.", label="real test images")
    axes[0].set(yscale="log", xlabel="generation", ylabel="pixel variance, summed over pixels",
                title="What the next generation trains on")
    axes[1].set(yscale="log", xlabel="generation", ylabel="sum over pixels of Var_z p_j(z)",
                title="Variety between the decoder's images")
    axes[2].set(xlabel="generation", ylabel="std of generation-0 latent means", title="The paper's collapse measure")
    for ax in axes:
        ax.set_xticks(g)
        ax.legend(fontsize=7)
    fig.suptitle(f"{POLICY_LABELS.get(cmp.policy, cmp.policy)}: decoder means or drawn pixels")
    fig.tight_layout()
    return fig


#: Every figure of the chapter by name (``samples`` gives one per run: ``samples_replace``, ...).
FIGURES = {"latent_spread": latent_spread, "class_balance": class_balance, "samples": samples,
           "pixel_draws": pixel_draws}
