"""Chapter 2, Gaussian mixtures: what the paper reported, the run's numbers and the claims
the page makes about them.

Shumailov et al., Nature 631:755 (2024), Fig. 2 and their notebook
``Normals_GMM_experiments.ipynb``; the chapter's run is a :class:`.gmm.Result`, whose
analyses (``rec.kept_vs_lost``, ``scaling.halving``, ...) are computed once and read here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim
from ..theory import gmm as gmm_theory

if TYPE_CHECKING:
    from .gmm import RecursionResult, Result, ScalingResult

#: What the authors' notebook printed (one blob, M = 1000, tol 1e-5): component standard
#: deviations at generation 0 and 2049, and the final L2 distance.
PAPER = {"std_start": 0.89, "std_final": 0.010, "std_final_generation": 2049, "l2_final": 536.3,
         "samples": 1000}

#: Standard errors a theory-vs-run claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0


def _recursion_numbers(rec: RecursionResult) -> dict:
    std = rec.std
    return {
        "real_data": "two_clusters" if rec.truth.weights.shape[-1] == 2 else "one_blob",
        "samples": rec.samples,
        "generations": int(rec.generations[-1]),
        "chains": int(std.shape[1]),
        "median_std_start": float(np.median(std[0])),
        "median_std_final": float(np.median(std[-1])),
        "std_final_quantiles_10_90": [float(q) for q in np.quantile(std[-1], [0.1, 0.9])],
        "median_l2_start": float(np.median(rec.l2[0])),
        "median_l2_final": float(np.median(rec.l2[-1])),
        "l2_final_quantiles_10_90": [float(q) for q in np.quantile(rec.l2[-1], [0.1, 0.9])],
    }


def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the command line writes)."""
    rec, blob = res.recursion, res.one_blob
    kl = rec.kept_vs_lost
    return {
        "claims": [c.as_dict() for c in claims(res).values()],
        "one_blob": _recursion_numbers(blob) if blob is not None else None,
        "kept_vs_lost": {"generation": kl.check_generation, "kept_chains": kl.check_chains,
                         "log_std_gap": kl.check_error, "log_std_gap_stderr": kl.check_stderr,
                         "final_median_std_lost": float(kl.lost_median[-1]),
                         "reg_covar_level": kl.reg_covar_level,
                         "final_straight_line": float(kl.straight_line[-1])},
        "paper": PAPER,
        "recursion": {
            **_recursion_numbers(rec),
            "fraction_chains_cluster_lost": float(rec.lost_at[-1].mean()),
            "theory_median_std_final_early_rate": float(np.exp(rec.early_theory[-1])),
        },
        "scaling": {
            str(M): {"generations": int(s.shape[0] - 1), "halving_generation": res.scaling.halving[M],
                     "halving_generation_over_M": res.scaling.halving[M] / M}
            for M, s in res.scaling.std.items()
        },
        "policies": {
            name: {"generations": int(d["l2"].shape[0] - 1), "median_l2_final": float(np.median(d["l2"][-1])),
                   "median_std_final": float(np.median(d["std"][-1]))}
            for name, d in res.policies.items()
        },
    }


# ------------------------------------------------------------------ claims the page makes
def _claims_recursion(rec: RecursionResult) -> dict[str, Claim]:
    """What the chapter says about the main recursion, checked on its numbers."""
    std, l2, M = rec.std, rec.l2, rec.samples
    G = int(rec.generations[-1])
    kl = rec.kept_vs_lost
    out = {
        "l2_grows": claim("the squared L2 distance to the real mixture grows by orders of magnitude",
                          np.median(l2[-1]) > 100 * np.median(l2[0]),
                          f"median {np.median(l2[0]):.3g} at generation 0, {np.median(l2[-1]):.3g} at generation {G}"),
        "std_shrinks": claim("every component shrinks: the median component std falls below a twentieth of its start",
                             np.median(std[-1]) < np.median(std[0]) / 20,
                             f"median {np.median(std[0]):.3f} -> {np.median(std[-1]):.4f}"),
        "kept_follow_theory": claim(
            "in chains that kept both clusters the component std follows the per-component proposition "
            f"(mean gap within {Z_CLAIM:g} standard errors)",
            abs(kl.check_error) < Z_CLAIM * kl.check_stderr,
            f"generation {kl.check_generation}, {kl.check_chains} chains: observed minus predicted log std "
            f"{kl.check_error:+.3f}, standard error {kl.check_stderr:.3f}"),
    }
    t_med = gmm_theory.cluster_loss_median(M)
    if t_med <= G:
        C = rec.std.shape[1]
        band = 3 * 0.5 / np.sqrt(C)  # three binomial standard errors of the share
        out["cluster_loss_pace"] = claim(
            "a whole cluster is lost at the pace of the Wright-Fisher chain: about half of the chains have lost one "
            "by its median time", abs(kl.lost_fraction[t_med] - 0.5) < band,
            f"{kl.lost_fraction[t_med]:.0%} of {C} chains by generation {t_med} = {t_med / M:.2f} M "
            f"(allowed: 50 % +/- {band:.0%})")
    reset = rec.reset_at_loss
    out["reset_at_loss"] = claim(
        "in most chains that lost a cluster, the dying component had shrunk to the reg_covar level "
        "(std below 3 sqrt(reg_covar)) and the split of the surviving cluster set it back up "
        "(at least threefold)", reset.size > 0 and reset.mean() >= 0.5,
        f"{reset.sum()} of {reset.size} chains that lost a cluster" if reset.size else "no chain lost one")
    lost_end = kl.lost_fraction[-1] > 0
    out["lost_above_line"] = claim(
        "at the end the median std, over all chains and over those that lost a cluster, sits above "
        "the closed form's straight line",
        lost_end and kl.lost_median[-1] > kl.straight_line[-1] and np.median(std[-1]) > kl.straight_line[-1],
        f"median std {np.median(std[-1]):.4f}, of the chains that lost a cluster "
        f"{kl.lost_median[-1]:.4f} ({kl.lost_fraction[-1]:.0%} of chains), against "
        f"{kl.straight_line[-1]:.4f} at generation {G}" if lost_end else "no chain lost one")
    return out


def pace_stderr(std: np.ndarray, samples: int, generation: int) -> float:
    """Standard error of the halving generation / M from the proposition: the median
    log std of n components at generation t has standard error 1.2533 sqrt(t v / n)
    (v the per-generation variance), and the line falls by m per generation."""
    d = 2
    n_pts = max(round(samples / 2), d + 1)
    m = abs(gmm_theory.log_det_step_mean(n_pts, d)) / (2 * d)
    v = gmm_theory.log_det_step_var(n_pts, d) / (2 * d) ** 2
    n = std[0].size
    return float(1.2533 * np.sqrt(max(generation, 1) * v / n) / m / samples)


def _claims_pace(scaling: ScalingResult) -> dict[str, Claim]:
    """The pace of collapse scales with 1/M."""
    pace = scaling.halving
    ok = all(g > 0 for g in pace.values())
    se = {M: pace_stderr(scaling.std[M], M, g) for M, g in pace.items()}
    worst = max(abs(pace[a] / a - pace[b] / b) / np.hypot(se[a], se[b]) for a in pace for b in pace if a < b) \
        if ok and len(pace) > 1 else np.inf
    return {"pace_scales_with_m": claim(
        "the median component std halves after the same multiple of M generations for every M", ok and worst < Z_CLAIM,
        ", ".join(f"M = {M}: {g / M:.2f} M" for M, g in pace.items())
        + f" (largest gap {worst:.1f} standard errors; allowed {Z_CLAIM:g})")}


def _claims_policies(policies: dict) -> dict[str, Claim]:
    """Accumulate against replace on the same chains."""
    rep, acc = policies["replace"], policies["accumulate"]
    G = acc["l2"].shape[0] - 1
    s0, s1 = np.median(acc["std"][0]), np.median(acc["std"][-1])
    return {
        "accumulate_stays_close": claim(
            "with accumulation the mixture stays close to the real one: its L2 distance ends far below "
            "replace's (under a tenth)",
            np.median(acc["l2"][-1]) < np.median(rep["l2"][-1]) / 10,
            f"median squared L2 at generation {G}: accumulate {np.median(acc['l2'][-1]):.3g}, "
            f"replace {np.median(rep['l2'][-1]):.3g}"),
        "accumulate_keeps_std": claim(
            "with accumulation the component std stays within 20 % of its start, while replace's collapses",
            abs(s1 / s0 - 1) < 0.2 and np.median(rep["std"][-1]) < 0.8 * s0,
            f"median std accumulate {s0:.3f} -> {s1:.3f}, replace -> {np.median(rep['std'][-1]):.3f}"),
    }


def _claims_one_blob(blob: RecursionResult) -> dict[str, Claim]:
    """The authors' one-blob data collapse too."""
    std, l2 = blob.std, blob.l2
    return {"one_blob_collapses": claim(
        "on the authors' one blob the components collapse as well (median std below a twentieth of "
        "its start) and the L2 distance grows by orders of magnitude",
        np.median(std[-1]) < np.median(std[0]) / 20 and np.median(l2[-1]) > 100 * np.median(l2[0]),
        f"median std {np.median(std[0]):.3f} -> {np.median(std[-1]):.4f}, "
        f"squared L2 {np.median(l2[0]):.3g} -> {np.median(l2[-1]):.3g}")}


def claims(res: Result) -> dict[str, Claim]:
    """Every claim the chapter makes about its own run, by key (the page picks them by key):
    the recursion's, the one blob's (when it ran), the pace's and the policies'."""
    out = _claims_recursion(res.recursion)
    if res.one_blob is not None:
        out.update(_claims_one_blob(res.one_blob))
    out.update(_claims_pace(res.scaling))
    out.update(_claims_policies(res.policies))
    return out
