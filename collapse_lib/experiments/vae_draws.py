"""Chapter 3, variational autoencoders: training on decoder means against drawn pixels.

The authors' notebook of Shumailov et al., "AI models collapse when trained on recursively
generated data" (Nature 631:755, 2024) trains every later VAE on its predecessor's pixel
means, ``decoder(randn(256, 20))``, not on images drawn from the model. The chapter runs
the first policy (replace) under every scheme on drawn pixels as well
(``synthetic_pixels=("means", "samples")``) and compares, chain by chain, with the run on
means: the two share generation 0 and every chain's seeds (under the fresh scheme even the
latents of every batch), so they differ in the pixel draws alone.

:func:`compare_pixels` measures the mechanism, "decoding keeps the centre and drops the
variance" (each mean image is the expected image for its latent), and its consequence: the pixel variance of the images each generation makes for
the next (the means keep sum_j Var_z p_j(z); drawn pixels add the Bernoulli term
sum_j E_z p_j(1 - p_j), the law of total variance, checked on the drawn images), and the
paper's collapse measure at the last generation, compared by a paired t test over the
(scheme, chain) pairs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from .vae_result import Result, VAERun

#: Two-sided level of the paired test on the pace of collapse.
LEVEL = 0.05

#: Standard errors allowed between the measured variance of drawn pixels and the law of
#: total variance: |z| > 4 has probability 6e-5 per comparison under normality, about
#: 1e-3 over the 20 (generation, chain, scheme) comparisons of the quick and cpu profiles.
Z = 4.0


@dataclass(frozen=True)
class PixelComparison:
    """Runs of one policy on decoder means and on drawn pixels, scheme by scheme."""

    policy: str
    schemes: tuple[str, ...]  # the schemes compared, the main one first
    means: tuple  # the runs on means, one per scheme (VAERun)
    samples: tuple  # the runs on drawn pixels, one per scheme (VAERun)

    # ------------------------------------------------------------------ the mechanism
    @property
    def variance_means(self) -> np.ndarray:
        """(S, G+1, C) pixel variance of the images each generation makes for the next, on means."""
        return np.stack([r.train_variance[..., 0] for r in self.means])

    @property
    def variance_samples(self) -> np.ndarray:
        """(S, G+1, C) the same on drawn pixels (measured on the drawn images)."""
        return np.stack([r.train_variance[..., 0] for r in self.samples])

    @property
    def dropped_share(self) -> np.ndarray:
        """(S, G+1, C) share of the drawn pixels' variance that the means of the run on means drop."""
        kept = np.stack([r.kept for r in self.means])
        dropped = np.stack([r.dropped for r in self.means])
        return dropped / (kept + dropped)

    @property
    def law_z(self) -> np.ndarray:
        """(S, G+1, C) the measured variance of the drawn pixels minus the law of total
        variance's kept + (1 - 1/n) dropped of the same decoder means (the expectation of
        the measured variance given the means, for n images), in standard errors."""
        out = []
        for r in self.samples:
            n = _images(r)
            out.append((r.train_variance[..., 0] - r.kept - (1 - 1 / n) * r.dropped) / r.train_variance[..., 1])
        return np.stack(out)

    # ------------------------------------------------------------------ the consequence
    @property
    def spread_means(self) -> np.ndarray:
        """(S, G+1, C) the paper's collapse measure of the runs on means."""
        return np.stack([r.spread for r in self.means])

    @property
    def spread_samples(self) -> np.ndarray:
        """(S, G+1, C) the same for the runs on drawn pixels."""
        return np.stack([r.spread for r in self.samples])

    @property
    def log_ratio(self) -> np.ndarray:
        """(S, C) log of the last generation's spread on drawn pixels over that on means,
        chain by chain: both runs share generation 0, so this is the difference of their
        log(last / first), the pace of collapse."""
        return np.log(self.spread_samples[:, -1] / self.spread_means[:, -1])

    @property
    def pairs(self) -> int:
        """The (scheme, chain) pairs of the paired test."""
        return self.log_ratio.size

    @property
    def mean_log_ratio(self) -> float:
        return float(self.log_ratio.mean())

    @property
    def se_log_ratio(self) -> float:
        """Standard error of :attr:`mean_log_ratio` from the pairs (NaN for one pair)."""
        d = self.log_ratio.ravel()
        return float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")

    @property
    def critical(self) -> float:
        """The two-sided critical value of Student's t at :data:`LEVEL` with pairs - 1 degrees of freedom."""
        return float(stats.t.ppf(1 - LEVEL / 2, self.pairs - 1)) if self.pairs > 1 else float("nan")

    @property
    def t(self) -> float:
        return self.mean_log_ratio / self.se_log_ratio if self.se_log_ratio > 0 else float("nan")

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the paired t test of no difference in pace."""
        return float(2 * stats.t.sf(abs(self.t), self.pairs - 1)) if np.isfinite(self.t) else float("nan")


def _cell(v: np.ndarray, digits: int) -> str:
    """Mean (min-max) of the chains' values."""
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def pixel_table(res: "Result") -> str:
    """The comparison of means and drawn pixels as text: the real training images' pixel
    variance, then one block per scheme and one row per generation with the pixel variance
    of the images that generation makes for the next (summed over pixels) on means and on
    drawn pixels, the share of a drawn pixel's variance that the means drop, and the latent
    spread of either run, each as mean (min-max) over the chains; last, the paired test of
    the pace. A line saying so when the run drew no pixels."""
    cmp = res.pixel_comparison
    if cmp is None:
        return ("no run on drawn pixels in this profile: synthetic_pixels=('means', 'samples') adds them "
                "(as the quick and cpu profiles do)")
    lines = []
    if res.real_variance is not None:
        lines.append(f"real training images: pixel variance {res.real_variance.kept:.1f}, summed over pixels "
                     f"(the Bernoulli term of their grey levels {res.real_variance.dropped:.1f})")
    cols = ("variance, means", "variance, drawn", "share dropped %", "spread, means", "spread, drawn")
    for i, scheme in enumerate(cmp.schemes):
        lines.append(f"{cmp.policy}, {scheme} scheme (mean, min-max over {cmp.spread_means.shape[-1]} chains):")
        lines.append(f"{'generation':>10s} | " + " | ".join(f"{c:>20s}" for c in cols))
        for t in range(cmp.spread_means.shape[1]):
            cells = (_cell(cmp.variance_means[i, t], 2), _cell(cmp.variance_samples[i, t], 1),
                     _cell(100 * cmp.dropped_share[i, t], 0), _cell(cmp.spread_means[i, t], 3),
                     _cell(cmp.spread_samples[i, t], 3))
            lines.append(f"{t:>10d} | " + " | ".join(f"{c:>20s}" for c in cells))
    lines.append("pace: log(last generation's spread on drawn pixels / on means), by scheme and chain: "
                 + "; ".join(f"{s} " + ", ".join(f"{v:+.3f}" for v in cmp.log_ratio[i])
                             for i, s in enumerate(cmp.schemes))
                 + f"; mean {cmp.mean_log_ratio:+.3f}, standard error {cmp.se_log_ratio:.3f} over {cmp.pairs} "
                 f"pairs, t = {cmp.t:.2f} ({LEVEL:.0%} critical value {cmp.critical:.2f}), p = {cmp.p_value:.2f}")
    return "\n".join(lines)


def _images(run: "VAERun") -> int:
    """Images measured per generation and chain."""
    if not run.eval_images:
        raise ValueError(f"the run {run.policy!r} does not say how many images it measured")
    return int(run.eval_images)


def compare_pixels(res: "Result") -> PixelComparison | None:
    """:class:`PixelComparison` of the runs of ``res`` on means and on drawn pixels (the
    schemes that ran both), None when no run drew its pixels."""
    schemes = [s for s, runs in res.by_pixels.items() if {"means", "samples"} <= set(runs)]
    if not schemes:
        return None
    pick = res.by_pixels
    policy = pick[schemes[0]]["means"].policy
    return PixelComparison(policy, tuple(schemes), tuple(pick[s]["means"] for s in schemes),
                           tuple(pick[s]["samples"] for s in schemes))


def _range(v: np.ndarray, digits: int = 3) -> str:
    v = np.asarray(v, float).ravel()
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def _by_generation(v: np.ndarray, digits: int = 1) -> str:
    """(G+1, C) values as 'mean over chains' per generation."""
    return " -> ".join(f"{x:.{digits}f}" for x in np.asarray(v, float).mean(-1))


def pixel_claims(res: "Result") -> dict:
    """The statements of the chapter's section on means and drawn pixels, by key (none when
    the pixels were not compared): ``pixels_variance_<scheme>`` (the means drop variance, the
    drawn pixels keep it), ``pixels_dropped_share`` (the means drop most of it, more as the images grey),
    ``pixels_total_variance`` (the law of total variance on the drawn images),
    ``pixels_collapse_<scheme>`` (drawn pixels collapse too) and ``pixels_pace``
    (the paired test: no measurable change of the pace at the run's number of pairs)."""
    from ..claims import claim

    cmp = res.pixel_comparison
    if cmp is None:
        return {}
    out = {}
    G = cmp.spread_means.shape[1] - 1
    for i, scheme in enumerate(cmp.schemes):
        m, s, share = cmp.variance_means[i], cmp.variance_samples[i], cmp.dropped_share[i]
        out[f"pixels_variance_{scheme}"] = claim(
            f"Training on decoder means drops variance ({scheme} scheme, {cmp.policy}): at every generation and in "
            "every chain the pixel variance of the images the run on drawn pixels trains on is above that of the "
            "run on means",
            np.all(s > m),
            f"pixel variance summed over pixels, mean over chains by generation: means {_by_generation(m)}, drawn "
            f"pixels {_by_generation(s)}; share of a drawn pixel's variance that the means drop "
            f"{_by_generation(100 * share, 0)} %")
        ks, km = cmp.samples[i].kept, cmp.means[i].kept
        out[f"pixels_collapse_{scheme}"] = claim(
            f"Drawn pixels collapse too ({scheme} scheme, {cmp.policy}): generation {G} is below generation 0 in "
            "every chain, both in the paper's latent spread and in the variance between the decoder's images "
            "(sum_j Var_z p_j), which falls on means as well",
            np.all(cmp.spread_samples[i, -1] < cmp.spread_samples[i, 0]) and np.all(ks[-1] < ks[0])
            and np.all(km[-1] < km[0]),
            f"latent spread, generation 0 {_range(cmp.spread_samples[i, 0])}, generation {G} "
            f"{_range(cmp.spread_samples[i, -1])} (on means {_range(cmp.spread_means[i, -1])}); variance between "
            f"images {_by_generation(ks)} (on means {_by_generation(km)})")
    share = cmp.dropped_share
    out["pixels_dropped_share"] = claim(
        f"The means drop most of a drawn pixel's variance, and a larger share as the images grey: more than half "
        f"at every generation, and more at generation {G} than at generation 0, in every chain and scheme",
        np.all(share > 0.5) and np.all(share[:, -1] > share[:, 0]),
        f"generation 0 {_range(100 * share[:, 0], 1)} %, generation {G} {_range(100 * share[:, -1], 1)} % "
        f"(mean (min-max) over {share[:, 0].size} chains and schemes)")
    z = cmp.law_z
    out["pixels_total_variance"] = claim(
        "The drawn pixels keep what the means drop: their measured variance is the law of total variance's "
        f"Var_z p + E_z p(1 - p) of the same decoder means, within {Z:g} standard errors at every generation, in "
        "every chain and scheme",
        np.all(np.abs(z) < Z),
        f"deviation in standard errors: {_range(z, 2)}, largest |z| {np.abs(z).max():.2f} over {z.size} "
        "comparisons")
    d = cmp.log_ratio
    within = bool(abs(cmp.t) < cmp.critical) if np.isfinite(cmp.t) else False
    out["pixels_pace"] = claim(
        f"Drawing the pixels does not change the pace of collapse measurably at this run's size: the log ratio of "
        f"the last generation's latent spread on drawn pixels over that on means is within noise (a two-sided "
        f"paired t test at the {LEVEL:.0%} level over the {cmp.pairs} (scheme, chain) pairs does not reject no "
        "change)",
        within,
        f"log ratio {cmp.mean_log_ratio:+.3f} +- {cmp.se_log_ratio:.3f} (standard error), t = {cmp.t:.2f}, "
        f"critical {cmp.critical:.2f}, p = {cmp.p_value:.2f}; by scheme and chain "
        + "; ".join(f"{s} " + ", ".join(f"{v:+.3f}" for v in d[i]) for i, s in enumerate(cmp.schemes))
        + f"; a change smaller than a factor {np.exp(cmp.critical * cmp.se_log_ratio):.2f} in either direction "
        "cannot be told from noise here")
    return out
