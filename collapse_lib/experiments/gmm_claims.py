"""Chapter 2, Gaussian mixtures: what the paper reported, the run's numbers and the claims
the page makes about them.

Shumailov et al., Nature 631:755 (2024), Fig. 2 and their notebook
``Normals_GMM_experiments.ipynb``; the chapter's run is a :class:`.gmm.Result`, whose
analyses (``rec.kept_vs_lost``, ``scaling.halving``, ...) are computed once and read here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import mannwhitneyu

from ..claims import Claim, claim
from ..theory import gmm as gmm_theory

if TYPE_CHECKING:
    from .gmm import RecursionResult, Result, ScalingResult

#: What the authors' notebook printed (one blob, M = 1000, tol 1e-5, one chain): the smaller
#: component's std sqrt(tr(cov)/2) at generation 0 and 2049 (the 2,050th fit; the other
#: component's was 0.0112), and the squared L2 distance from the generation-0 fit at the end.
PAPER = {"std_start": 0.89, "std_final": 0.010, "std_final_generation": 2049, "l2_final": 536.3,
         "samples": 1000}

#: Standard errors a theory-vs-run claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0

#: Level of the one-sided rank tests that compare two runs.
ALPHA = 0.01


def notebook_metrics(rec: RecursionResult, generation: int | None = None) -> dict[str, np.ndarray]:
    """The authors' notebook's metrics at ``generation`` (None: the last), one value per chain:
    the smaller component's sqrt(tr(cov)/2) and the squared L2 distance from the
    generation-0 fit."""
    t = -1 if generation is None else generation
    return {"std_smaller": rec.std_trace[t].min(-1), "l2_to_first": rec.l2_to_first[t]}


def percentile_of(value: float, values: np.ndarray) -> float:
    """The share of ``values`` below ``value``, in per cent (0: below all, 100: above all)."""
    return float(100.0 * np.mean(np.asarray(values) < value))


def paper_comparable(rec: RecursionResult) -> bool:
    """Whether a run has the notebook's M and reaches its last generation."""
    return rec.samples == PAPER["samples"] and int(rec.generations[-1]) >= PAPER["std_final_generation"]


def _recursion_numbers(rec: RecursionResult) -> dict:
    std = rec.std
    nb = notebook_metrics(rec)
    return {
        "notebook_std_smaller_final_median": float(np.median(nb["std_smaller"])),
        "notebook_std_smaller_final_quantiles_10_90": [float(q) for q in np.quantile(nb["std_smaller"], [0.1, 0.9])],
        "notebook_l2_to_first_final_median": float(np.median(nb["l2_to_first"])),
        "notebook_l2_to_first_final_quantiles_10_90": [float(q) for q in np.quantile(nb["l2_to_first"], [0.1, 0.9])],
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
    extra = {}
    if res.control is not None:
        extra["control"] = {"reg_covar": res.control.reg_covar, "chains": int(res.control.std.shape[1]),
                            "median_std_final": float(np.median(res.control.std[-1]))}
    if res.component_theory is not None:
        extra["component_theory_median_std_final"] = {str(r): float(np.median(v[-1]))
                                                      for r, v in res.component_theory.items()}
    if blob is not None and paper_comparable(blob):
        nb = notebook_metrics(blob, PAPER["std_final_generation"])
        extra["paper_percentiles"] = {"std_final": percentile_of(PAPER["std_final"], nb["std_smaller"]),
                                      "l2_final": percentile_of(PAPER["l2_final"], nb["l2_to_first"])}
    return {
        **extra,
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
            "in chains that kept both clusters the component std follows the per-component proposition, "
            f"given their weights, at a generation <= M where reg_covar adds little (mean gap within {Z_CLAIM:g} "
            "standard errors)",
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
    return out


def _claims_floor(res: Result) -> dict[str, Claim]:
    """The late floor is the regulariser's: the control run without it, and the simulated
    per-component recursion with it."""
    rec, ctl, th = res.recursion, res.control, res.component_theory
    G = int(rec.generations[-1])
    out = {}
    log_main = np.log(rec.std[-1]).ravel()
    if ctl is not None:
        log_ctl = np.log(ctl.std[-1]).ravel()
        p = float(mannwhitneyu(log_ctl, log_main, alternative="less").pvalue)
        out["reg_covar_sets_floor"] = claim(
            f"the late stall is the regulariser's: rerun with reg_covar = {ctl.reg_covar:g} the components end "
            f"lower (one-sided rank test, p < {ALPHA:g})", p < ALPHA,
            f"generation {G}: median std {np.exp(np.median(log_main)):.4f} with reg_covar = {rec.reg_covar:g} "
            f"({log_main.size} components), {np.exp(np.median(log_ctl)):.4f} with {ctl.reg_covar:g} "
            f"({log_ctl.size} components); p = {p:.2g}")
    if th is not None:
        sim = np.log(th[rec.reg_covar][-1])
        sd = float(sim.std(ddof=1))
        se = 1.2533 * sd * np.sqrt(1.0 / log_main.size + 1.0 / sim.size)  # standard error of a difference of medians
        gap = float(np.median(log_main) - np.median(sim))
        out["floor_matches_recursion"] = claim(
            "at the end the median component std lies where the per-component recursion with reg_covar ends "
            f"(simulated; median log std within {Z_CLAIM:g} standard errors), near sqrt(reg_covar N)",
            abs(gap) <= Z_CLAIM * se,
            f"generation {G}: run {np.exp(np.median(log_main)):.4f}, recursion {np.exp(np.median(sim)):.4f} "
            f"(10-90 %: {np.exp(np.quantile(sim, 0.1)):.4f} to {np.exp(np.quantile(sim, 0.9)):.4f}; "
            f"{sim.size} chains), sqrt(reg_covar N) = {rec.kept_vs_lost.reg_covar_level:.4f}; gap in log "
            f"{gap:+.3f}, standard error {se:.3f}")
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
    """The authors' one-blob data collapse too; at the notebook's M and generation, its numbers
    on the notebook's metrics placed among our chains."""
    std, l2 = blob.std, blob.l2
    out = {}
    if paper_comparable(blob):
        t = PAPER["std_final_generation"]
        nb = notebook_metrics(blob, t)
        for key, metric, label in (("std", "std_smaller", "smaller component's std sqrt(tr(cov)/2)"),
                                   ("l2", "l2_to_first", "squared L2 distance from the generation-0 fit")):
            value = PAPER["std_final" if key == "std" else "l2_final"]
            pct = percentile_of(value, nb[metric])
            out[f"paper_{key}_within_chains"] = claim(
                f"the authors' single chain is one of ours: their {label} at generation {t} ({value:g}) lies "
                f"within the range of our {nb[metric].size} one-blob chains on the same metric",
                0 < pct < 100,
                f"percentile {pct:.0f}; ours: median {np.median(nb[metric]):.4g}, range "
                f"{nb[metric].min():.4g} to {nb[metric].max():.4g}")
    out["one_blob_collapses"] = claim(
        "on the authors' one blob the components collapse as well (median std below a twentieth of "
        "its start) and the L2 distance grows by orders of magnitude",
        np.median(std[-1]) < np.median(std[0]) / 20 and np.median(l2[-1]) > 100 * np.median(l2[0]),
        f"median std {np.median(std[0]):.3f} -> {np.median(std[-1]):.4f}, "
        f"squared L2 {np.median(l2[0]):.3g} -> {np.median(l2[-1]):.3g}")
    return out


def claims(res: Result) -> dict[str, Claim]:
    """Every claim the chapter makes about its own run, by key (the page picks them by key):
    the recursion's, the one blob's (when it ran), the pace's and the policies'."""
    out = _claims_recursion(res.recursion)
    out.update(_claims_floor(res))
    if res.one_blob is not None:
        out.update(_claims_one_blob(res.one_blob))
    out.update(_claims_pace(res.scaling))
    out.update(_claims_policies(res.policies))
    return out
