"""Chapter 3, variational autoencoders: what a run of the chapter holds.

:class:`VAERun` is one run of the generational loop of Shumailov et al., "AI models
collapse when trained on recursively generated data" (Nature 631:755, 2024), measured
(:mod:`collapse_lib.experiments.vae` makes them); :class:`Result` holds every run of the
chapter with the real-data references and the analyses derived from them;
:func:`loss_floor` is the binary-entropy floor of a run's loss.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .vae_measures import PixelVariance, effective_classes


@dataclass
class VAERun:
    """One run of the generational loop (a policy under a scheme, on synthetic pixel means
    or drawn pixels), measured."""

    policy: str
    spread: np.ndarray  # (G+1, C) std of the generation-0 encoder's means on generation t's images
    shares: np.ndarray  # (G+1, C, 10) predicted class shares of generation t's images
    loss: np.ndarray  # (G+1, C) last-epoch negative ELBO per image
    grids: np.ndarray  # (G+1, grid_images, pixels) images of chain 0
    resumed_from: int | None = None
    synthetic: str = "fixed"  # the scheme: "fresh" (new decoder samples every batch) or "fixed"
    active: np.ndarray | None = None  # (G+1, C) active latent units of generation t's own encoder on its images
    entropy: np.ndarray | None = None  # (G+1, C) mean binary-entropy floor (nats) of generation t's images
    pixels: str = "means"  # the synthetic images: "means" (the decoder's) or "samples" (drawn pixels)
    kept: np.ndarray | None = None  # (G+1, C) sum_j Var_z p_j(z) of generation t's decoder means
    dropped: np.ndarray | None = None  # (G+1, C) sum_j E_z p_j(z)(1 - p_j(z)): what the means drop
    # (G+1, C, 2) pixel variance (summed over pixels) of the images generation t makes for the
    # next one, drawn as this run draws them, and its standard error
    train_variance: np.ndarray | None = None
    eval_images: int | None = None  # images measured per generation and chain

    @property
    def ratio(self) -> np.ndarray:
        """(C,) latent spread of the last generation over generation 0's, per chain."""
        return self.spread[-1] / self.spread[0]

    @property
    def synthetic_ratio(self) -> np.ndarray:
        """(C,) latent spread of the last generation over generation 1's (the first trained on
        synthetic images), per chain: the span the paper's notebook prints."""
        return self.spread[-1] / self.spread[1]

    @property
    def step_ratio(self) -> np.ndarray:
        """(C,) geometric mean ratio of the spread per generation from generation 1 on."""
        steps = len(self.spread) - 2
        return self.synthetic_ratio ** (1.0 / steps) if steps > 0 else np.full(self.spread.shape[1], np.nan)

    @cached_property
    def effective(self) -> np.ndarray:
        """(G+1, C) effective number of classes of every generation's images."""
        return effective_classes(self.shares)


@dataclass
class Result:
    """Every run of the chapter, by :meth:`Config.run_name`, with the real-data references."""

    data: str  # description of the data set used
    side: int
    classifier_accuracy: float  # on the real test images
    real_spread: np.ndarray  # (C,) the measure on real test images
    real_shares: np.ndarray  # (10,) class shares of the real training images
    real_grid: np.ndarray  # (grid_images, pixels)
    policies: dict[str, VAERun] = field(default_factory=dict)
    real_test_effective: float = float("nan")  # effective classes the classifier assigns to the real test images
    floor_spread: np.ndarray | None = None  # (C,) the measure on the mean real image alone (a collapsed model)
    real_entropy: float = float("nan")  # mean binary-entropy floor (nats) of the real training images
    real_variance: PixelVariance | None = None  # the pixel variance of the real training images, by its parts

    @property
    def generations(self) -> np.ndarray:
        return np.arange(next(iter(self.policies.values())).spread.shape[0])

    @cached_property
    def real_effective(self) -> float:
        """Effective number of classes of the real training digits."""
        return float(effective_classes(self.real_shares))

    @cached_property
    def main_pixels(self) -> str:
        """The synthetic pixels of the chapter's main runs (those of the first run)."""
        return next(iter(self.policies.values())).pixels

    @cached_property
    def main_runs(self) -> dict[str, VAERun]:
        """The runs on the main pixels, by name (every policy under every scheme)."""
        return {n: p for n, p in self.policies.items() if p.pixels == self.main_pixels}

    @cached_property
    def by_policy(self) -> dict[str, dict[str, VAERun]]:
        """``{policy: {scheme: run}}`` of the runs on the main pixels."""
        out: dict[str, dict[str, VAERun]] = {}
        for p in self.main_runs.values():
            out.setdefault(p.policy, {})[p.synthetic] = p
        return out

    @cached_property
    def by_pixels(self) -> dict[str, dict[str, VAERun]]:
        """``{scheme: {pixels: run}}`` of the policy run with more than one kind of
        synthetic pixels (empty when every run has the main pixels)."""
        others = [p for p in self.policies.values() if p.pixels != self.main_pixels]
        out: dict[str, dict[str, VAERun]] = {}
        for p in self.policies.values():
            if others and p.policy == others[0].policy:
                out.setdefault(p.synthetic, {})[p.pixels] = p
        return out

    @cached_property
    def pixel_comparison(self):
        """Training on decoder means against drawn pixels (:class:`.vae_draws.PixelComparison`),
        None when the pixels were not compared."""
        from .vae_draws import compare_pixels

        return compare_pixels(self)

    @cached_property
    def schemes(self) -> list[str]:
        """The schemes run, the main one first."""
        return list(dict.fromkeys(p.synthetic for p in self.policies.values()))


def loss_floor(res: Result, name: str, real_fraction: float = 0.1) -> np.ndarray:
    """(G+1,) the floor of run ``name``'s loss per image, mean over chains: the binary entropy
    of the images generation t trains on (real digits at generation 0, generation t-1's
    images after, with ``real_fraction`` real ones under mix), which a perfect
    reconstruction would still pay. On drawn pixels it is their entropy given the latent,
    sum_j E H(p_j(z)), below the entropy of the images and so below the expected loss too."""
    p = res.policies[name]
    f = real_fraction if p.policy == "mix" else 0.0
    synthetic = p.entropy.mean(1)[:-1]
    return np.r_[res.real_entropy, f * res.real_entropy + (1 - f) * synthetic]
