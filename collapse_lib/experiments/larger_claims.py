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
    from .larger import LanguageModelResult, NetworkResult, ProjectionResult, Result, SampleResult

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
        "MNIST (two-layer networks, labels partly from another network): scaling with the number of training "
        "samples slows or plateaus as p2 grows (section 4.1, Fig. 7; widths and sizes not checked here)",
    ),
    "mnist_train": 60_000,  # MNIST training images (the paper's MNIST experiment; its sizes are not checked here)
}

#: Standard errors a claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0

#: Training accuracy above which a network counts as fitting (interpolating) its labels.
FITS = 0.99

#: Training accuracy the wide network of the sample sweep reaches at its largest n (Adam
#: on minibatches for a fixed number of passes fits all but a few of thousands of labels).
FITS_SAMPLES = 0.95

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
    gaps = [res.final_gap(j) for j in range(len(res.fractions))]
    return {"data": res.data, "sizes": [list(s) for s in res.sizes], "parameters": res.parameters.tolist(),
            "fractions": res.fractions.tolist(), "tokens": res.tokens.tolist(), "test_loss_mean": res.mean.tolist(),
            "test_loss_by_seed": res.loss.tolist(), "generator": list(res.generator),
            "generator_test_loss": res.generator_loss, "generator_train_loss": res.generator_train_loss,
            "final_gap_over_real": [g.tolist() for g, _ in gaps], "final_gap_stderr": [s.tolist() for _, s in gaps],
            "delay_factor": [[None if not np.isfinite(v) else float(v) for v in row] for row in res.delays],
            "fits": res.fits, "claims": [c.as_dict() for c in _claims_language_models(res).values()]}


def _summary_samples(res: SampleResult) -> dict:
    dep = res.departure(Z_CLAIM)
    return {"data": res.data, "sizes": res.sizes.tolist(), "fractions": res.fractions.tolist(),
            "widths": res.widths.tolist(), "threshold_widths": res.thresholds.tolist(),
            "test_error_mean": res.mean.tolist(), "test_error_stderr": res.stderr.tolist(),
            "train_accuracy_mean": res.train_accuracy.mean(0).tolist(), "teacher_error": res.teacher_error,
            "teacher_label_disagreement": res.disagreement,
            "departure_n": [[None if not np.isfinite(v) else float(v) for v in row] for row in dep],
            "fits": res.fits, "claims": [c.as_dict() for c in _claims_samples(res).values()]}


def summary(res: Result) -> dict:
    """The chapter's numbers, JSON-ready: the random projections, the networks, what the
    paper reports and, where they ran, the language models."""
    out = {"random_projections": _summary_projections(res.projections), "networks": _summary_networks(res.networks),
           "paper": {k: list(v) if isinstance(v, tuple) else v for k, v in PAPER.items()}}
    if res.samples is not None:
        out["samples"] = _summary_samples(res.samples)
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


def _claims_samples(res: SampleResult) -> dict[str, Claim]:
    """What the chapter says about the networks scaling in samples."""
    mean, se = res.mean, res.stderr  # (P, W, N)
    gap, gap_se = res.gap
    dep = res.departure(Z_CLAIM)  # (P, W)
    top, wide, small = len(res.fractions) - 1, len(res.widths) - 1, 1
    n0, n1 = int(res.sizes[0]), int(res.sizes[-1])
    fall = mean[0, :, 0] - mean[0, :, -1]
    fall_se = np.hypot(se[0, :, 0], se[0, :, -1])
    name = lambda v: "never" if not np.isfinite(v) else f"n = {int(v)}"  # noqa: E731
    acc = res.train_accuracy.mean(0)  # (P, W, N)
    return {
        "samples_real_scales": claim(
            f"with real labels only, more samples help both widths: the error falls from n = {n0} to n = {n1} by "
            f"more than {Z_CLAIM:g} standard errors", np.all(fall > Z_CLAIM * fall_se),
            "; ".join(f"width {w}: {mean[0, k, 0]:.3f} -> {mean[0, k, -1]:.3f} (se of the fall {s:.3f})"
                      for k, (w, s) in enumerate(zip(res.widths, fall_se)))),
        "samples_widths_straddle": claim(
            f"at n = {n1} the narrow network (width {res.widths[0]}) does not fit its training labels and the wide "
            f"one (width {res.widths[wide]}) fits at least {FITS_SAMPLES:g} of them, for every share",
            np.all(acc[:, 0, -1] < FITS) and np.all(acc[:, wide, -1] >= FITS_SAMPLES),
            f"training accuracy, width {res.widths[0]}: " + ", ".join(f"{a:.3f}" for a in acc[:, 0, -1])
            + f"; width {res.widths[wide]}: " + ", ".join(f"{a:.3f}" for a in acc[:, wide, -1])
            + f" (p2 = {', '.join(f'{p:g}' for p in res.fractions)})"),
        "samples_share_raises_error": claim(
            f"at n = {n1} the largest share (p2 = {res.fractions[top]:g}) raises the wide network's error above the "
            f"real-only error by more than {Z_CLAIM:g} standard errors", gap[top, wide, -1] > Z_CLAIM * gap_se[top, wide, -1],
            "; ".join(f"width {w}: {gap[top, k, -1]:+.3f} (se {gap_se[top, k, -1]:.3f})"
                      for k, w in enumerate(res.widths))),
        "samples_largest_leaves_first": claim(
            f"the wide network's curve for the largest share leaves the real-only curve first: from its departure on "
            f"it stays more than {Z_CLAIM:g} standard errors above it, at an n no larger than any other share's",
            np.isfinite(dep[top, wide]) and np.all(dep[top, wide] <= dep[1:, wide]),
            "departure, width " + str(res.widths[wide]) + ": " + ", ".join(
                f"p2 = {p:g}: {name(v)}" for p, v in zip(res.fractions[1:], dep[1:, wide]))),
        "samples_small_share_hidden": claim(
            f"the smallest share (p2 = {res.fractions[small]:g}) stays within {Z_CLAIM:g} standard errors of the "
            f"real-only curve at every n and width: at this scale its cost is below what {res.test_images:,} test "
            f"images resolve", np.all(np.abs(gap[small]) <= Z_CLAIM * gap_se[small]),
            "largest |gap| / se: " + f"{np.max(np.abs(gap[small]) / gap_se[small]):.2f}"
            + f"; largest |gap| {np.max(np.abs(gap[small])):.4f}"),
    }


def _claims_language_models(res: LanguageModelResult) -> dict[str, Claim]:
    """What the chapter says about the language models scaling in tokens; the ``paper_lm_*``
    claims are the paper's statements tested at this scale (shown holding or not)."""
    top, S = len(res.fractions) - 1, len(res.sizes)
    real = res.final_blocks[:, :, 0]  # (seeds, S, T)
    se_final = real.mean(0).std(-1, ddof=1) / np.sqrt(real.shape[-1])  # (S,) over test blocks
    fall = res.mean[:, 0, 0] - res.mean[:, 0, -1]
    gap, gap_se = res.final_gap(top)
    size = lambda k: f"{res.sizes[k][0]} x {res.sizes[k][1]}"  # noqa: E731
    delays = res.delays
    fmt_delay = lambda v: "not reached" if not np.isfinite(v) else f"x{v:.2f}"  # noqa: E731
    c = len(res.tokens) // 2
    E = [[res.fits[k][j]["spread"]["E"] if res.fits[k][j]["spread"] else None for j in (0, top)] for k in range(S)]
    floor_ok = all(e0 is not None and e1 is not None and e1[0] > e0[1] for e0, e1 in E)
    first, last = res.mean[:, top, 0], res.mean[:, top, -1]
    ahead_early = first[-1] < first[0]
    behind_late = last[-1] > last[0]
    real_behind = res.mean[-1, 0, -1] > res.mean[0, 0, -1]  # with real text only: then it is slow training, not p2
    return {
        "lm_real_scales": claim(
            f"with real text only every size learns: its test loss falls from {res.tokens[0]:,} to "
            f"{res.tokens[-1]:,} tokens by more than {Z_CLAIM:g} standard errors of the final loss over test blocks",
            np.all(fall > Z_CLAIM * se_final),
            "; ".join(f"{size(k)}: {res.mean[k, 0, 0]:.3f} -> {res.mean[k, 0, -1]:.3f} (se {se_final[k]:.3f})"
                      for k in range(S))),
        "paper_lm_synthetic_costs": claim(
            f"at the last checkpoint the all-synthetic stream (p2 = {res.fractions[top]:g}) leaves every size's loss "
            f"on real text above the real-only loss by more than {Z_CLAIM:g} standard errors (paired over test blocks)",
            np.all(gap > Z_CLAIM * gap_se),
            "; ".join(f"{size(k)}: {gap[k]:+.3f} (se {gap_se[k]:.3f})" for k in range(S))),
        "paper_lm_delay": claim(
            f"synthetic data delay the progression: for every size the shares p2 >= 0.5 need more tokens than real "
            f"text alone to reach the real-only loss at {res.tokens[c]:,} tokens (the paper: GPT-2 of 12-24 layers on "
            f"BabiStories; here up to {res.tokens[-1]:,} tokens)",
            np.all(delays[:, res.fractions >= 0.5] > 1),
            "tokens needed / tokens of real only: " + "; ".join(
                f"{size(k)}: " + ", ".join(f"p2 = {p:g} {fmt_delay(delays[k, j])}" for j, p in enumerate(res.fractions)
                                           if p > 0) for k in range(S))),
        "paper_lm_floor": claim(
            f"the all-synthetic curves approach a floor: the fitted E of L(D) = E + A D^-alpha at p2 = "
            f"{res.fractions[top]:g} is above the real-only one for every size, the ranges over seeds apart",
            floor_ok, "E over seeds (real only | all synthetic): " + "; ".join(
                f"{size(k)}: " + " | ".join("no supported fit" if e is None else f"{e[0]:.2f}-{e[1]:.2f}" for e in row)
                for k, row in enumerate(E))),
        "paper_lm_size_order": claim(
            f"at p2 = {res.fractions[top]:g} the order of the sizes changes as tokens grow: the largest model is ahead "
            f"of the smallest at the first checkpoint and behind it at the last, while with real text only it is not "
            f"behind at the last (the paper: 18 and 24 layers beat 12 below about 1e10 tokens and lose beyond about "
            f"3e10; here {res.tokens[0]:,} to {res.tokens[-1]:,})",
            ahead_early and behind_late and not real_behind,
            f"{size(S - 1)} minus {size(0)}: {first[-1] - first[0]:+.3f} at the first checkpoint, "
            f"{last[-1] - last[0]:+.3f} at the last (real only: {res.mean[-1, 0, -1] - res.mean[0, 0, -1]:+.3f})"),
    }


def claims(res: Result) -> dict[str, Claim]:
    """Every claim the chapter makes about its own run, by key: the random projections
    (``formula_agrees``, ``amplified_below``, ``softened_above``, ``not_removed``,
    ``largest_near_threshold``, ``floor_above_classical``), then the networks
    (``widest_fit_every_label``, ``narrowest_do_not``, ``teacher_share_raises_error``), the sample
    sweep (``samples_*``) and the language models (``lm_*``; ``paper_lm_*`` are the paper's
    statements tested at this scale, which the page shows holding or not)."""
    out = {**_claims_projections(res.projections), **_claims_networks(res.networks)}
    if res.samples is not None:
        out.update(_claims_samples(res.samples))
    if res.language_models is not None:
        out.update(_claims_language_models(res.language_models))
    return out
