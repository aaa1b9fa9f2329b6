"""Chapter 6, larger models: the chapter's statements checked on a run (:func:`claims`).

The runs are in :mod:`collapse_lib.experiments.larger` (and :mod:`.larger_sweep`,
:mod:`.larger_nets`, :mod:`.larger_lm`); what Dohmatob, Feng, Subramonian and Kempe,
"Strong Model Collapse" (ICLR 2025), report and the chapter's numbers beside it are in
:mod:`collapse_lib.experiments.larger_summary`. Claims that compare runs use a paired
difference and its standard error (:data:`Z_CLAIM` of them); statements about the exact
formulas are checked on the formulas averaged over the theory draws of S, w and delta,
with the standard error of that average.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim
from ..theory import linreg
from ..theory import random_features as theory
from .larger_nets import FITS
from .larger_sweep import claims_floor

if TYPE_CHECKING:
    from .larger import LanguageModelResult, NetworkResult, ProjectionResult, Result, SampleResult

#: Standard errors a claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0

#: Training accuracy the wide network of the sample sweep reaches at its largest n (Adam
#: on minibatches for a fixed number of passes fits all but a few of thousands of labels).
FITS_SAMPLES = 0.95

#: How far from m = n (as |m/n - 1|) the width of the largest cost may be.
NEAR_THRESHOLD = 0.15

#: How close (relative) the infinitely wide model's real-only error must be to the best width's.
CLOSE_TO_BEST = 0.10


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


def _claims_split(res: ProjectionResult) -> dict[str, Claim]:
    """The simulated cost (paired on each seed) against bias + variance + unseen below the threshold."""
    ks, draws, mean = res.theory_cost_at_widths
    if not ks.size or draws.shape[-1] < 2:
        return {}
    se_th = draws.std(-1, ddof=1) / np.sqrt(draws.shape[-1])
    worst, where = 0.0, ""
    for i, k in enumerate(ks):
        for l, (p, c2) in enumerate(res.label_sets):
            if p == 0:
                continue
            gap = abs(res.excess_mean[l, k] - mean[l, i]) / np.hypot(res.excess_stderr[l, k], se_th[l, i])
            if gap > worst:
                worst, where = gap, f"m = {res.widths[k]}, (p, c^2) = {res.label_sets[l]}"
    return {"cost_split_agrees": claim(
        f"below the threshold the simulated cost (paired on each seed) agrees with bias + variance + unseen of the "
        f"formula at every width (within {Z_CLAIM:g} standard errors of both averages)", worst < Z_CLAIM,
        f"largest gap {worst:.1f} standard errors, at {where}")}


def _claims_projections(res: ProjectionResult) -> dict[str, Claim]:
    """What the chapter says about the random-projection sweep at its one n, checked on its numbers."""
    excess = res.excess
    below, above = res.below, res.above
    soften, cost_inf, wide_more, ratios = [], [], [], []
    lim_mean, lim_se = res.limit_cost
    for l, (p, c2) in enumerate(res.label_sets):
        if p == 0:
            continue
        name = f"p={p:g}, c2={c2:g}"
        soften.append((name, *_paired(excess[:, l, above[0]] - excess[:, l, above[-1]])))
        cost_inf.append((name, float(lim_mean[l]), float(lim_se[l]), theory.floor(p, c2)))
        wide_more.append((name, *_paired((res.limit[:, l] - res.limit[:, 0]) - excess[:, l, 0])))
        ratios.append((name, float(lim_mean[l] / res.excess_mean[l, 0])))
    fmt = lambda rows: "; ".join(f"{n}: {m:+.3g} (se {s:.2g})" for n, m, s, *_ in rows)  # noqa: E731
    worst = max(c2 for p, c2 in res.label_sets if p > 0)
    peaks = [(p, c2, res.ratios[int(np.argmax(res.excess_mean[l]))]) for l, (p, c2) in enumerate(res.label_sets)
             if p > 0]

    def clear(rows):  # clear for the worst synthetic data, nowhere contradicted beyond the noise
        return all(m > -Z_CLAIM * s for _, m, s, *_ in rows) and all(
            m > Z_CLAIM * s for (n, m, s, *_) in rows if n.endswith(f"c2={worst:g}"))
    out = {**_claims_theory(res), **_claims_split(res)}
    # amplification on the exact formula, paired over the draws of S, w and delta (no seed noise)
    ks, draws, mean = res.theory_cost_at_widths
    below_k = [i for i, k in enumerate(ks) if res.ratios[k] < 1]
    if len(below_k) >= 2 and draws.shape[-1] > 1:
        a, b = below_k[0], below_k[-1]
        ja, jb = (int(np.flatnonzero(res.theory_widths == res.widths[ks[i]])[0]) for i in (a, b))
        grow, steps_up, bias_share = [], True, 0.0
        for l, (p, c2) in enumerate(res.label_sets):
            if p == 0:
                continue
            inc = draws[l, b] - draws[l, a]
            grow.append((f"p={p:g}, c2={c2:g}", float(inc.mean()), float(inc.std(ddof=1) / np.sqrt(len(inc)))))
            steps_up &= bool(np.all(np.diff(mean[l, below_k]) > 0))
            bias = res.theory_split["bias"][l]
            bias_share = max(bias_share, float((bias[jb] - bias[ja]) / inc.mean()))
        out["amplified_below"] = claim(
            f"below the threshold a larger model amplifies the cost of the synthetic labels, for every p and c^2: in "
            f"the exact formula (paired over {draws.shape[-1]} draws of S, w and delta, so no seed noise) the cost "
            f"grows at every width of the run from m/n = {res.ratios[ks[a]]:g} to m/n = {res.ratios[ks[b]]:g}, in all "
            f"by more than {Z_CLAIM:g} standard errors of the draws; the variance parts grow, the bias contributes "
            f"less than a tenth of the increase",
            steps_up and all(m > Z_CLAIM * s for _, m, s in grow) and bias_share < 0.1,
            "increase of the exact cost: " + fmt(grow) + f"; largest share of the increase from the bias: "
            f"{bias_share:.3f}")
        lo_p = min(p for p, _ in res.label_sets if p > 0)
        hi_p = max(p for p, _ in res.label_sets if p > 0)
        rows, ok = [], lo_p < hi_p
        for l, (p, c2) in enumerate(res.label_sets):
            if p in (lo_p, hi_p) and c2 > 0:
                f, e = theory.floor(p, c2), float(mean[l, a])
                ok &= (e > f) if p == lo_p else (e < f)
                rows.append(f"({p:g}, {c2:g}): {e:.3g} vs {f:.3g}")
        out["smallest_width_split"] = claim(
            f"at the smallest width (m/n = {res.ratios[ks[a]]:g}), where no model interpolates, the exact cost is "
            f"above p^2 c^2 for p = {lo_p:g} (its variance part is of the size of the bias) and below it for "
            f"p = {hi_p:g} (the model cannot represent part of the shift), at every c^2", ok,
            "exact cost vs p^2 c^2: " + "; ".join(rows))
    out.update({
        "softened_above": claim(
            f"above the threshold a larger model softens it: the simulated cost falls from just above m = n "
            f"(m/n = {res.ratios[above[0]]:g}) to the widest model (m/n = {res.ratios[above[-1]]:g}), by more than "
            f"{Z_CLAIM:g} standard errors for the worst synthetic data (c^2 = {worst:g}) and for no p or c^2 does it "
            f"rise beyond the seed noise", clear(soften), "decrease of the cost, mean over seeds: " + fmt(soften)),
        "largest_near_threshold": claim(
            f"for every p and c^2 the simulated cost is largest for a model next to the threshold "
            f"({1 - NEAR_THRESHOLD:g} <= m/n <= {1 + NEAR_THRESHOLD:g})",
            all(abs(r - 1) <= NEAR_THRESHOLD for _, _, r in peaks),
            "largest cost at m/n = " + ", ".join(f"{r:g} ({p:g}, {c2:g})" for p, c2, r in peaks)),
        "cost_at_n_positive": claim(
            f"at n = {res.n} the infinitely wide model still pays for the synthetic labels: its cost is above zero for "
            f"every p and c^2 (by more than {Z_CLAIM:g} standard errors)",
            all(m > Z_CLAIM * s for _, m, s, _ in cost_inf), "cost at infinite width: " + fmt(cost_inf)),
        "finite_n_above_floor": claim(
            f"at n = {res.n} that cost is above p^2 c^2 for every p and c^2: the finite-n variance of the synthetic "
            f"labels, on top of the bias p^2 c^2 that the sample sweep shows to be its limit",
            all(m > f for _, m, _, f in cost_inf), "; ".join(f"{n}: {m:.3g} vs {f:.3g}" for n, m, _, f in cost_inf)),
        "wide_pays_more": claim(
            f"at n = {res.n} the infinitely wide model pays more for the synthetic labels than the smallest model "
            f"(m/n = {res.ratios[0]:g}): paired on each seed, by more than {Z_CLAIM:g} standard errors for the worst "
            f"synthetic data (c^2 = {worst:g}), and for no p or c^2 less beyond the seed noise",
            below.size > 0 and clear(wide_more),
            "cost at infinite width minus cost at the smallest width: " + fmt(wide_more) + "; ratio of the two costs: "
            + ", ".join(f"{n}: x{r:.1f}" for n, r in ratios)),
    })
    real_best = float(res.mean[0].min())
    real_inf = float(np.nanmean(res.limit[:, 0]))
    out["wide_real_close_to_best"] = claim(
        f"with real labels only the infinitely wide model's error is within {CLOSE_TO_BEST:.0%} of the best width's "
        f"(or below it)", real_inf <= (1 + CLOSE_TO_BEST) * real_best,
        f"best width m/n = {res.ratios[int(np.argmin(res.mean[0]))]:g}: {real_best:.4f}; infinitely wide: "
        f"{real_inf:.4f}")
    return out


def _claims_networks(res: NetworkResult) -> dict[str, Claim]:
    """What the chapter says about the networks of growing width."""
    acc = res.train_accuracy_mean  # (P, K)
    err = res.error_mean
    cost, cost_se = res.cost
    hi = int(np.argmax(res.fractions))
    narrow = max(1, len(res.widths) if res.fit_width is None else int(np.flatnonzero(res.widths == res.fit_width)[0]))
    out = {
        "widest_fit_every_label": claim(
            f"the widest networks fit every training label, wrong ones included (training accuracy at least "
            f"{FITS:g} for every share)", np.all(acc[:, -1] >= FITS),
            "width " + str(int(res.widths[-1])) + ": " + ", ".join(
                f"p = {p:g}: {a:.3f}" for p, a in zip(res.fractions, acc[:, -1]))),
        "narrowest_do_not": claim(
            "the narrowest networks do not fit theirs", np.all(acc[:, 0] < FITS),
            "width " + str(int(res.widths[0])) + ": " + ", ".join(
                f"p = {p:g}: {a:.3f}" for p, a in zip(res.fractions, acc[:, 0]))),
        "narrowest_noisy": claim(
            f"at every width narrower than the first that fits every label, the test error of some share varies "
            f"between its {res.errors.shape[0]} seeds by more than the shares' means differ: the order of the shares "
            f"there is optimisation noise", res.errors.shape[0] > 1 and all(
                np.ptp(res.errors[:, :, k], axis=0).max() > np.ptp(err[:, k]) for k in range(narrow)),
            "; ".join(f"width {int(res.widths[k])}: means differ by {np.ptp(err[:, k]):.3f}, largest range over seeds "
                      f"{np.ptp(res.errors[:, :, k], axis=0).max():.3f}" for k in range(narrow))),
        "teacher_share_raises_error": claim(
            f"the real-test error of the widest networks rises with the share of teacher labels (paired on the same "
            f"seeds and test images, by more than {Z_CLAIM:g} standard errors)", cost[hi, -1] > Z_CLAIM * cost_se[hi, -1],
            f"width {int(res.widths[-1])}: p = 0: {err[0, -1]:.3f}, p = {res.fractions[hi]:g}: {err[hi, -1]:.3f} "
            f"(difference {cost[hi, -1]:+.3f}, standard error {cost_se[hi, -1]:.3f})"),
    }
    # one claim whatever the run: with fewer than two widths that fit every label it cannot hold
    start = res.fit_width
    k0 = len(res.widths) if start is None else int(np.flatnonzero(res.widths == start)[0])
    changes = [(int(res.widths[a]), int(res.widths[b]), *res.cost_change(hi, a, b))
               for a in range(k0, len(res.widths)) for b in range(a + 1, len(res.widths))]
    big = max(changes, key=lambda c: abs(c[2]) / max(c[3], 1e-300)) if changes else None
    out["width_cost_flat"] = claim(
        f"from the first width that fits every label (width {start if start is not None else 'none here'}) on, the "
        f"cost of the teacher labels (p = {res.fractions[hi]:g}) does not change with width beyond the noise: no two "
        f"widths differ by more than {Z_CLAIM:g} standard errors (paired), so no peak and no softening that this sweep "
        f"resolves", bool(changes) and all(abs(m) <= Z_CLAIM * se for _, _, m, se in changes),
        "cost by width: " + (", ".join(f"{w}: {c:.3f}" for w, c in zip(res.widths[k0:], cost[hi, k0:])) or "none")
        + (f"; largest change {big[0]} -> {big[1]}: {big[2]:+.3f} (se {big[3]:.3f})" if big else ""))
    return out


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
            f"for the wide network (width {res.widths[wide]}) the smallest share (p2 = {res.fractions[small]:g}) stays "
            f"within {Z_CLAIM:g} standard errors of the real-only curve at every n: at this scale its cost is below "
            f"what {res.test_images:,} test images and {len(res.errors)} seeds resolve",
            np.all(np.abs(gap[small, wide]) <= Z_CLAIM * gap_se[small, wide]),
            f"largest |gap| / se: {np.max(np.abs(gap[small, wide]) / gap_se[small, wide]):.2f}; largest |gap| "
            f"{np.max(np.abs(gap[small, wide])):.4f}; the narrow network (not tested): gaps "
            + ", ".join(f"{g:+.3f}" for g in gap[small, 0]) + " at n = " + ", ".join(str(n) for n in res.sizes)),
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


def _claims_regime(psi: float = 0.01, big: float = 0.1, small: float = 0.01) -> dict[str, Claim]:
    """The proportional limit p^2 c2 + p (1 - p) c2 psi / (1 - psi) (a model that sees the whole
    shift; chapter 5's limit with phi = psi and no label noise) far below the threshold."""
    def ratio(p):
        return (float(linreg.strong_collapse_proportional(p, 1.0, psi, noise=0.0)) - p**2) / p**2
    return {"regime_small_psi": claim(
        f"far below the threshold, at psi = m/n = {psi:g} (a hundred training points per parameter), the variance "
        f"part of the cost is below a tenth of the floor p^2 c^2 for p >= {big:g}, yet about equal to it for "
        f"p = {small:g}: (1 - p)/p psi/(1 - psi)",
        ratio(big) < 0.1 and 0.5 < ratio(small) < 2,
        f"variance / floor at psi = {psi:g}: p = {big:g}: {ratio(big):.3f}; p = {small:g}: {ratio(small):.3f}")}


def claims(res: Result) -> dict[str, Claim]:
    """Every claim the chapter makes about its own run, by key: the random projections at one n
    (``formula_agrees``, ``cost_split_agrees``, ``amplified_below``, ``softened_above``,
    ``largest_near_threshold``, ``cost_at_n_positive``, ``finite_n_above_floor``, ``wide_pays_more``,
    ``wide_real_close_to_best``, ``regime_small_psi``), the same model as n grows (``floor_*``, ``narrow_floor_lower``), the
    networks (``widest_fit_every_label``, ``narrowest_do_not``, ``narrowest_noisy``, ``teacher_share_raises_error``,
    ``width_cost_flat``), the sample sweep (``samples_*``) and the language models (``lm_*``;
    ``paper_lm_*`` are the paper's statements tested at this scale, which the page shows holding or not)."""
    out = {**_claims_projections(res.projections), **_claims_regime()}
    if res.floor is not None:
        out.update(claims_floor(res.floor))
    out.update(_claims_networks(res.networks))
    if res.samples is not None:
        out.update(_claims_samples(res.samples))
    if res.language_models is not None:
        out.update(_claims_language_models(res.language_models))
    return out
