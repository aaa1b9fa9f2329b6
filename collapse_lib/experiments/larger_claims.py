"""Chapter 6, larger models: what Dohmatob, Feng, Subramonian and Kempe, "Strong Model
Collapse" (ICLR 2025), report, the chapter's numbers (:func:`summary`) and its statements
checked on a run (:func:`claims`). The runs are in :mod:`collapse_lib.experiments.larger`,
which exports these names as well.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim
from ..theory import random_features as theory

if TYPE_CHECKING:
    from .larger import LanguageModelResult, NetworkResult, ProjectionResult, Result

#: What the paper reports (qualitative claims and the setting of its Fig. 1).
PAPER = {
    "pareto_n": 500,  # training points of the random-projection Pareto diagram (Fig. 1)
    "smallest_fraction_arxiv": 0.01,  # "as little as 1 %" of synthetic data (arXiv v2)
    "smallest_fraction_iclr": 0.001,  # "as little as 1 per 1000" (ICLR version)
    "claims": (
        "below the interpolation threshold m = n, larger models amplify model collapse",
        "beyond the threshold, larger models may mitigate collapse but do not remove it",
        "with a constant fraction p of synthetic data the test error has a floor (about p^2 c2 for the "
        "classical linear model) that more data does not remove",
    ),
}

#: Standard errors a claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0

#: Training accuracy above which a network counts as fitting (interpolating) its labels.
FITS = 0.99

#: How far from m = n (as |m/n - 1|) the width of the largest cost may be.
NEAR_THRESHOLD = 0.15


# ------------------------------------------------------------------ numbers for the comparison
def _summary_projections(res: ProjectionResult) -> dict:
    mean, se, exc = res.mean, res.stderr, res.excess_mean
    k_star = res.threshold_index
    amplify, soften = res.cost_ratios
    rows = []
    for l, (p, c2) in enumerate(res.label_sets):
        k_best = int(np.argmin(mean[l]))
        rows.append({
            "p": p, "c2": c2, "floor_p2c2": theory.floor(p, c2),
            "error_mean": mean[l].tolist(), "error_stderr": se[l].tolist(),
            "excess_over_real_mean": exc[l].tolist(),
            "best_ratio": float(res.ratios[k_best]), "best_error": float(mean[l, k_best]),
            "error_at_threshold": float(mean[l, k_star]),
            "limit_infinite_width": float(np.nanmean(res.limit[:, l])),
            "excess_at_limit": float(np.nanmean(res.limit[:, l] - res.limit[:, 0])),
            "amplification_below_threshold": float(amplify[l]) if p > 0 and np.isfinite(amplify[l]) else None,
            "softening_above_threshold": float(soften[l]) if p > 0 and np.isfinite(soften[l]) else None,
        })
    return {"n": res.n, "ratios": res.ratios.tolist(), "label_sets": rows,
            "claims": [c.as_dict() for c in _claims_projections(res).values()]}


def _summary_networks(res: NetworkResult) -> dict:
    return {"data": res.data, "widths": res.widths.tolist(), "fractions": res.fractions.tolist(),
            "test_error_mean": res.error_mean.tolist(), "test_error_by_seed": res.errors.tolist(),
            "train_accuracy_mean": res.train_accuracy_mean.tolist(), "teacher_error": res.teacher_error,
            "teacher_label_disagreement": res.disagreement, "parameters": res.parameters.tolist(),
            "threshold_width": res.threshold_width,
            "claims": [c.as_dict() for c in _claims_networks(res).values()]}


def _summary_language_models(res: LanguageModelResult) -> dict:
    return {"data": res.data, "sizes": [list(s) for s in res.sizes], "parameters": res.parameters.tolist(),
            "fractions": res.fractions.tolist(), "test_loss": res.test_loss.tolist(),
            "generator_test_loss": res.generator_loss}


def summary(res: Result) -> dict:
    """The chapter's numbers, JSON-ready: the random projections, the networks, what the
    paper reports and, where they ran, the language models."""
    out = {"random_projections": _summary_projections(res.projections), "networks": _summary_networks(res.networks),
           "paper": {k: list(v) if isinstance(v, tuple) else v for k, v in PAPER.items()}}
    if res.language_models is not None:
        out["language_models"] = _summary_language_models(res.language_models)
    return out


# ------------------------------------------------------------------ claims the page makes
def _paired(values: np.ndarray) -> tuple[float, float]:
    """Mean over seeds and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.inf


def _claims_theory(res: ProjectionResult) -> dict[str, Claim]:
    """The exact formula below the threshold against the simulation."""
    if res.theory_stderr is None:
        return {}
    worst, where = 0.0, ""
    for k, m in enumerate(res.widths):
        if m > res.n - 2 or m not in res.theory_widths:
            continue
        j = int(np.flatnonzero(res.theory_widths == m)[0])
        for l in range(len(res.label_sets)):
            se = np.hypot(res.stderr[l, k], res.theory_stderr[l, j])
            gap = abs(res.mean[l, k] - res.theory[l, j]) / se
            if gap > worst:
                worst, where = gap, f"m = {m}, (p, c^2) = {res.label_sets[l]}"
    return {"formula_agrees": claim(
        f"below the threshold the simulated mean error agrees with the exact formula (within {Z_CLAIM:g} standard "
        f"errors of both averages)", worst < Z_CLAIM, f"largest gap {worst:.1f} standard errors, at {where}")}


def _claims_projections(res: ProjectionResult) -> dict[str, Claim]:
    """What the chapter says about the random-projection sweep, checked on its numbers."""
    excess = res.excess
    below, above = np.flatnonzero(res.ratios < 1), np.flatnonzero(res.ratios > 1)
    grow, soften, floor_pos, floor_above = [], [], [], []
    for l, (p, c2) in enumerate(res.label_sets):
        if p == 0:
            continue
        name = f"p={p:g}, c2={c2:g}"
        grow.append((name, *_paired(excess[:, l, below[-1]] - excess[:, l, below[0]])))
        soften.append((name, *_paired(excess[:, l, above[0]] - excess[:, l, above[-1]])))
        lim = res.limit[:, l] - res.limit[:, 0]
        floor_pos.append((name, *_paired(lim)))
        floor_above.append((name, float(np.mean(lim)), theory.floor(p, c2)))
    fmt = lambda rows: "; ".join(f"{n}: {m:+.3g} (se {s:.2g})" for n, m, s in rows)  # noqa: E731
    worst = max(c2 for p, c2 in res.label_sets if p > 0)
    names = [f"p={p:g}, c2={c2:g}" for p, c2 in res.label_sets if p > 0]
    peaks = [(p, c2, res.ratios[int(np.argmax(res.excess_mean[l]))]) for l, (p, c2) in enumerate(res.label_sets)
             if p > 0]

    def clear(rows):  # clear for the worst synthetic data, nowhere contradicted beyond the noise
        return all(m > -Z_CLAIM * s for _, m, s in rows) and all(
            m > Z_CLAIM * s for (n, m, s) in rows if n.endswith(f"c2={worst:g}"))

    assert len(names) == len(grow)
    return {**_claims_theory(res),
            "amplified_below": claim(
                f"below the threshold a larger model amplifies collapse: the cost of the synthetic labels grows from "
                f"the smallest width (m/n = {res.ratios[below[0]]:g}) to just below m = n "
                f"(m/n = {res.ratios[below[-1]]:g}), by more than {Z_CLAIM:g} standard errors for the worst "
                f"synthetic data (c^2 = {worst:g}), and for no p or c^2 does it fall beyond the seed noise",
                clear(grow), "increase of the cost, mean over seeds: " + fmt(grow)),
            "softened_above": claim(
                f"above the threshold a larger model softens it: the cost falls from just above m = n "
                f"(m/n = {res.ratios[above[0]]:g}) to the widest model (m/n = {res.ratios[above[-1]]:g}), in the "
                f"same sense", clear(soften), "decrease of the cost: " + fmt(soften)),
            "not_removed": claim(
                f"it does not remove it: the cost of the infinitely wide model is above zero for every p and c^2 "
                f"(by more than {Z_CLAIM:g} standard errors)",
                all(m > Z_CLAIM * s for _, m, s in floor_pos), "cost at infinite width: " + fmt(floor_pos)),
            "largest_near_threshold": claim(
                f"for every p and c^2 the cost is largest for a model next to the threshold "
                f"({1 - NEAR_THRESHOLD:g} <= m/n <= {1 + NEAR_THRESHOLD:g})",
                all(abs(r - 1) <= NEAR_THRESHOLD for _, _, r in peaks),
                "widest gap at m/n = " + ", ".join(f"{r:g} ({p:g}, {c2:g})" for p, c2, r in peaks)),
            "floor_above_classical": claim(
                "the floor of the interpolating model is higher than the classical p^2 c^2",
                all(m > f for _, m, f in floor_above),
                "; ".join(f"{n}: {m:.3g} vs {f:.3g}" for n, m, f in floor_above)),
            }


def _claims_networks(res: NetworkResult) -> dict[str, Claim]:
    """What the chapter says about the networks of growing width."""
    acc = res.train_accuracy_mean  # (P, K)
    err = res.error_mean
    seeds = res.errors.shape[0]
    se = np.sqrt(err * (1 - err) / (max(res.test_images, 1) * seeds))  # binomial noise of the test set, per mean
    lo, hi = 0, int(np.argmax(res.fractions))
    gap = err[hi, -1] - err[lo, -1]
    gap_se = float(np.hypot(se[hi, -1], se[lo, -1]))
    return {
        "widest_fit_every_label": claim(
            f"the widest networks fit every training label, wrong ones included (training accuracy at least "
            f"{FITS:g} for every share)", np.all(acc[:, -1] >= FITS),
            "width " + str(int(res.widths[-1])) + ": " + ", ".join(
                f"p = {p:g}: {a:.3f}" for p, a in zip(res.fractions, acc[:, -1]))),
        "narrowest_do_not": claim(
            "the narrowest networks do not (the sweep starts below the interpolation threshold)",
            np.all(acc[:, 0] < FITS),
            "width " + str(int(res.widths[0])) + ": " + ", ".join(
                f"p = {p:g}: {a:.3f}" for p, a in zip(res.fractions, acc[:, 0]))),
        "teacher_share_raises_error": claim(
            f"the real-test error the widest networks settle at rises with the share of teacher labels (by more "
            f"than {Z_CLAIM:g} standard errors of the test set)", gap > Z_CLAIM * gap_se,
            f"width {int(res.widths[-1])}: p = {res.fractions[lo]:g}: {err[lo, -1]:.3f}, "
            f"p = {res.fractions[hi]:g}: {err[hi, -1]:.3f} (standard error of the gap {gap_se:.3f})"),
    }


def claims(res: Result) -> dict[str, Claim]:
    """Every claim the chapter makes about its own run, by key: the random projections
    (``formula_agrees``, ``amplified_below``, ``softened_above``, ``not_removed``,
    ``largest_near_threshold``, ``floor_above_classical``), then the networks
    (``widest_fit_every_label``, ``narrowest_do_not``, ``teacher_share_raises_error``)."""
    return {**_claims_projections(res.projections), **_claims_networks(res.networks)}
