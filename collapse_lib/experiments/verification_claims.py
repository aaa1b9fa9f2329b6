"""Chapter 7, verification and curation: the chapter's numbers and the statements it makes
about its run (:func:`summary`, :func:`claims`).

The papers are Feng et al. (arXiv 2406.07515), Yi et al. (arXiv 2510.16657) and Ferbach et
al. (arXiv 2407.09499); see :mod:`collapse_lib.experiments.verification`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim

if TYPE_CHECKING:
    from .verification import Result

Z = 5.0  # standard errors allowed between a simulated mean and its closed form (P(fail) < 1e-6)


def standard_error(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean over chains (the last axis)."""
    values = np.asarray(values, float)
    return values.std(axis=-1, ddof=1) / np.sqrt(values.shape[-1])


def _diff_se(a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of mean(a) - mean(b) for the same chains (paired)."""
    return float(standard_error(np.asarray(a) - np.asarray(b)))


# ------------------------------------------------------------------ summary
def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    step, phase, loop, cur, cfg = res.step, res.phase, res.loop, res.curation, res.cfg
    out = {"step": {"breakdown_point": step.breakdown, "bayes_accuracy": step.bayes, "sizes": step.sizes.tolist()}}
    for p in step.rates:
        out["step"][f"p={p:g}"] = {
            "kept_error_rate": step.kept_error[p], "measured_wrong_share": float(step.wrong_share[p].mean()),
            "mean_accuracy": step.accuracy[p].mean(axis=1).tolist(),
            "median_accuracy": np.median(step.accuracy[p], axis=1).tolist(),
            "se": standard_error(step.accuracy[p]).tolist(), "exact": step.exact[p].tolist()}
    out["phase"] = {"size": phase.size, "rates": phase.rates.tolist(), "ratios": phase.ratios.tolist(),
                    "mean_accuracy": phase.accuracy.mean(axis=-1).tolist(), "exact": phase.exact.tolist()}
    out["loop"] = {"one_fit_error": loop.one_fit, "offset": loop.offset}
    for name, err in loop.error.items():
        row = {"mean_error": err.mean(axis=1).tolist(), "median_error": np.median(err, axis=1).tolist(),
               "se": standard_error(err).tolist()}
        if name in loop.theory:
            row["theory"] = np.asarray(loop.theory[name]).tolist()
        if name in loop.limit:
            row["first_order_limit"] = loop.limit[name]
        out["loop"][name] = row
    out["curation"] = {}
    for (kind, lam, K) in cur.mean:
        r, kl = cur.reward(kind, lam, K, cfg), cur.kl(kind, lam, K)
        out["curation"][f"{kind}, real share {lam:g}, K={K}"] = {
            "mean_reward": r.mean(axis=1).tolist(), "mean_variance": cur.var[(kind, lam, K)].mean(axis=1).tolist(),
            "mean_kl_to_real": kl.mean(axis=1).tolist()}
    if res.picture is not None:
        out["picture"] = {"real_left_mass": res.picture.real_left, "tilt_left_mass": res.picture.tilt_left.tolist(),
                          "left_mass_mean": {f"{lam:g}": v.mean(axis=1).tolist() for lam, v in res.picture.left.items()}}
    if res.neural is not None:
        from .verification_lm import neural_summary

        out["neural"] = neural_summary(res.neural)
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out


# ------------------------------------------------------------------ claims
def _step_claims(res: Result) -> dict[str, Claim]:
    step, cfg = res.step, res.cfg
    out = {}
    n_max = int(step.sizes[-1])
    dev = {p: (step.wrong_share[p].mean() - step.kept_error[p]) /
           np.sqrt(step.kept_error[p] * (1 - step.kept_error[p]) / (n_max * cfg.step_chains)) for p in step.rates}
    out["kept_error_rate"] = claim(
        f"Among the kept points the share of wrong labels is p' = p psi / (p psi + (1 - p) phi) at every p "
        f"(within {Z:g} standard errors)",
        all(abs(v) <= Z for v in dev.values()),
        "; ".join(f"p = {p:g}: {step.wrong_share[p].mean():.4f} vs p' = {step.kept_error[p]:.4f}" for p in step.rates))
    worst = max(float(np.max(np.abs(step.accuracy[p].mean(1) - step.exact[p]) / standard_error(step.accuracy[p])))
                for p in step.rates)
    out["step_follows_exact"] = claim(
        f"The mean accuracy follows its exact expectation at every p and n (within {Z:g} standard errors)",
        worst <= Z, f"{len(step.rates)} rates x {step.sizes.size} sizes, {cfg.step_chains} training sets each; "
                    f"largest deviation {worst:.2f} standard errors")
    below = [p for p in step.rates if step.kept_error[p] < 0.5]
    above = [p for p in step.rates if step.kept_error[p] > 0.5]

    def change(p):
        a = step.accuracy[p]
        return float(a[-1].mean() - a[0].mean()), float(np.hypot(standard_error(a[-1]), standard_error(a[0])))
    if below:
        out["below_breakdown_improves"] = claim(
            f"Below the breakdown point p* = {step.breakdown:.3g} more verified data raise the accuracy toward the "
            f"Bayes accuracy {step.bayes:.3f}, for every p below it",
            all(change(p)[0] > Z * change(p)[1] for p in below),
            "; ".join(f"p = {p:g}: {step.accuracy[p][0].mean():.3f} at n = {step.sizes[0]} -> "
                      f"{step.accuracy[p][-1].mean():.3f} at n = {n_max}" for p in below))
    if above:
        out["above_breakdown_degrades"] = claim(
            f"Above p* more verified data drive the accuracy down, below 1/2, toward 1 - Bayes = {1 - step.bayes:.3f}",
            all(change(p)[0] < -Z * change(p)[1] and step.accuracy[p][-1].mean() < 0.5 for p in above),
            "; ".join(f"p = {p:g}: {step.accuracy[p][0].mean():.3f} -> {step.accuracy[p][-1].mean():.3f}"
                      for p in above))
    return out


def _phase_claims(res: Result) -> dict[str, Claim]:
    from ..theory.verification import breakdown_point

    from .verification import ratio_probabilities

    ph = res.phase
    mean, se = ph.accuracy.mean(-1), standard_error(ph.accuracy)
    star = np.array([breakdown_point(*ratio_probabilities(float(r))) for r in ph.ratios])
    predicted = ph.rates[None, :] < star[:, None]
    clear = np.abs(ph.exact - 0.5) > Z * se
    agree = (mean > 0.5) == predicted
    out = {"phase_sides": claim(
        f"In the phase diagram (n = {ph.size}) the classifier beats chance exactly where p < p* = 1/(1 + psi/phi), "
        f"at every cell whose expected accuracy is more than {Z:g} standard errors from 1/2",
        bool(np.all(agree[clear])),
        f"{int(clear.sum())} of {clear.size} cells clear of 1/2; {int((agree & clear).sum())} on the predicted side")}
    if 1.0 in ph.ratios and ph.ratios.min() < 1:
        i1, i0 = list(ph.ratios).index(1.0), int(np.argmin(ph.ratios))
        mid = (ph.rates > 0.5) & (ph.rates < star[i0])
        if mid.any():
            j = np.flatnonzero(mid)
            out["verifier_rescues"] = claim(
                f"Where the generator is wrong more often than right (0.5 < p < {star[i0]:.3g}), training on its "
                f"labels unverified is worse than chance and a verifier with psi/phi = {ph.ratios[i0]:g} turns it "
                "better than chance",
                bool(np.all(mean[i1, j] + Z * se[i1, j] < 0.5) and np.all(mean[i0, j] - Z * se[i0, j] > 0.5)),
                "; ".join(f"p = {ph.rates[k]:g}: {mean[i1, k]:.3f} unverified, {mean[i0, k]:.3f} verified" for k in j))
    return out


def _loop_claims(res: Result) -> dict[str, Claim]:
    loop = res.loop
    out = {}
    if "none" in loop.error:
        e, th = loop.error["none"], loop.theory["none"]
        dev = np.abs(e.mean(1) - th) / standard_error(e)
        out["loop_none_grows"] = claim(
            f"Without a verifier the error grows like (g+1) e_1 at every generation (within {Z:g} standard errors)",
            bool(np.all(dev <= Z)),
            f"generation {loop.generations[-1]}: {e[-1].mean():.4f} +- {standard_error(e[-1]):.4f} vs {th[-1]:.4f}")
    e = loop.error["unbiased"]
    m = e.mean(1)
    out["loop_unbiased_bounded"] = claim(
        "With a verifier centred on theta* the error never rises above that of the fit to real data and ends "
        "well below it",
        bool(np.all(m <= m[0] + Z * standard_error(e)) and m[-1] < m[0] - Z * _diff_se(e[-1], e[0])),
        f"{m[0]:.4f} at generation 0, largest later mean {m[1:].max():.4f}, {m[-1]:.4f} at the last "
        f"(first-order limit {loop.limit.get('unbiased', float('nan')):.4f})")
    w = loop.final_weights["biased"]
    dev = np.abs(w.mean(0) - loop.centre) / standard_error(w.T)
    out["loop_biased_to_centre"] = claim(
        f"With a biased verifier the estimate drifts to the verifier's centre theta_c: the mean over chains of the "
        f"last generation's estimate equals theta_c in every coordinate (within {Z:g} standard errors)",
        bool(np.all(dev <= Z)),
        f"largest deviation {dev.max():.2f} standard errors over {w.shape[1]} coordinates; |theta_c - theta*|^2 = "
        f"{loop.offset:g}")
    e = loop.error["biased"]
    m = e.mean(1)
    k = int(np.argmin(m))
    out["loop_biased_gain_then_reversal"] = claim(
        "The biased verifier first improves on the fit to real data, then the error rises again to a plateau above "
        "|theta_c - theta*|^2",
        bool(m[k] < m[0] - Z * _diff_se(e[k], e[0]) and m[k] < m[-1] - Z * _diff_se(e[-1], e[k])
             and m[-1] > loop.offset + Z * standard_error(e[-1])),
        f"{m[0]:.4f} at generation 0, lowest {m[k]:.4f} at generation {k}, {m[-1]:.4f} at the last; "
        f"|theta_c - theta*|^2 = {loop.offset:g}, first-order limit {loop.limit.get('biased', float('nan')):.4f}")
    return out


def _curation_claims(res: Result) -> dict[str, Claim]:
    cur, cfg = res.curation, res.cfg
    out = {}
    Ks = sorted(cfg.curation_candidates)
    rises, ordered, var_falls, anchored = [], [], [], []
    ev_rise, ev_order, ev_var, ev_anchor = [], [], [], []
    for kind in cfg.curation_rewards:
        tilt_m, tilt_v = cur.theory[(kind, 0.0)] if (kind, 0.0) in cur.theory else (None, None)
        finals = []
        for K in Ks:
            if (kind, 0.0, K) not in cur.mean:
                continue
            r = cur.reward(kind, 0.0, K, cfg)
            rises.append(r[-1].mean() > r[0].mean() + Z * _diff_se(r[-1], r[0]))
            finals.append((K, r[-1]))
        if finals and tilt_m is not None:
            from ..theory.verification import expected_reward
            from .verification_loops import strength

            tilt_r = float(expected_reward(tilt_m[-1], tilt_v[-1], kind, strength(kind, cfg), cfg.curation_target))
            means = [f.mean() for _, f in finals]
            lo, hi = finals[0][1], finals[-1][1]
            ok = len(finals) > 1 and hi.mean() > lo.mean() + Z * np.hypot(standard_error(lo), standard_error(hi))
            ok = ok and all(f.mean() < tilt_r + Z * standard_error(f) for _, f in finals)
            ordered.append(ok)
            ev_order.append(f"{kind}: " + ", ".join(f"K={K} {m:.3f}" for (K, _), m in zip(finals, means))
                            + f", tilt {tilt_r:.3f}")
            ev_rise.append(f"{kind}: {cur.reward(kind, 0.0, Ks[0], cfg)[0].mean():.3f} -> "
                           + ", ".join(f"{m:.3f}" for m in means))
        if kind == "quadratic" and tilt_v is not None:
            for K in Ks:
                v = cur.var[(kind, 0.0, K)]
                var_falls.append(v[-1].mean() < v[0].mean() - Z * _diff_se(v[-1], v[0])
                                 and v[-1].mean() > tilt_v[-1] - Z * standard_error(v[-1]))
            ev_var.append(", ".join(f"K={K} {cur.var[(kind, 0.0, K)][-1].mean():.3f}" for K in Ks)
                          + f"; tilt {tilt_v[-1]:.3f}")
        for lam in cfg.curation_real_shares:
            if lam == 0 or 0.0 not in cfg.curation_real_shares:
                continue
            for K in Ks:
                a, b = cur.kl(kind, lam, K)[-1], cur.kl(kind, 0.0, K)[-1]
                anchored.append(a.mean() < b.mean() - Z * np.hypot(standard_error(a), standard_error(b)))
            ev_anchor.append(f"{kind}, K={Ks[-1]}: {cur.kl(kind, lam, Ks[-1])[-1].mean():.3f} with {lam:.0%} real vs "
                             f"{cur.kl(kind, 0.0, Ks[-1])[-1].mean():.3f} without")
    if rises:
        out["curation_reward_rises"] = claim(
            "Without real data curation raises the mean reward, for every reward and every K",
            all(rises), "; ".join(ev_rise))
    if ordered:
        out["curation_tilt_is_the_limit"] = claim(
            f"The largest K reaches a higher reward after the last round than the smallest (by more than {Z:g} "
            "standard errors), and no K exceeds the closed-form tilt p_0 exp(t r) (within as many)",
            all(ordered), "; ".join(ev_order))
    if var_falls:
        out["curation_diversity_falls"] = claim(
            "With the quadratic reward the variance falls round after round for every K, toward the tilt's "
            "1/(1/var_0 + t gamma) but not below it",
            all(var_falls), "; ".join(ev_var))
    if anchored:
        out["curation_real_data_anchor"] = claim(
            "A share of real data in every round keeps the model closer to the real distribution (lower KL) "
            "than curation alone, for every reward and K",
            all(anchored), "; ".join(ev_anchor))
    return out


def claims(res: Result) -> dict[str, Claim]:
    """Every statement the chapter makes about its run, by key."""
    from .verification_lm import neural_claims

    neural = neural_claims(res.neural) if res.neural is not None else {}
    return {**_step_claims(res), **_phase_claims(res), **_loop_claims(res), **_curation_claims(res),
            **_picture_claims(res), **neural}


LOST = 0.01  # the left mass below which the picture's left cluster counts as gone


def _picture_claims(res: Result) -> dict[str, Claim]:
    """The two-dimensional picture: curation without real data removes the left cluster; a
    share of real data keeps at least the real points' own share of it."""
    pic, cfg = res.picture, res.cfg
    out = {}
    if pic is None:
        return out
    if 0.0 in pic.left:
        last = pic.left[0.0][-1]
        out["picture_mode_lost"] = claim(
            f"Without real data, curation removes a whole cluster: the fitted mixture's mass left of the origin "
            f"falls from the real {pic.real_left:.2f} to below {LOST:.0%} by round {pic.rounds[-1]}, in every chain",
            bool(np.all(last < LOST)),
            f"{last.size} chains, largest {last.max():.2g}; the tilt p0 e^(t r) gives {pic.tilt_left[-1]:.2g}; "
            f"round-by-round mean " + ", ".join(f"{v:.3g}" for v in pic.left[0.0].mean(axis=1)))
        mean, tilt = pic.left[0.0].mean(axis=1)[1:], pic.tilt_left[1:]
        large = tilt > LOST
        out["picture_tilt_then_faster"] = claim(
            f"Without real data the refits keep more of the left cluster than the tilt while the tilt keeps more than "
            f"{LOST:.0%} of it (a choice among K = {cfg.curation_picture_candidates} is a weaker preference), and less "
            "at every round after (a finite sample loses a rare cluster): the mean over chains against the tilt",
            bool(large.any() and np.all(mean[large] > tilt[large]) and np.all(mean[~large] < tilt[~large])),
            "rounds 1-" + f"{len(tilt)}: mean " + ", ".join(f"{m:.2g}" for m in mean) + "; tilt "
            + ", ".join(f"{t:.2g}" for t in tilt))
    for lam, left in pic.left.items():
        if lam == 0:
            continue
        floor = lam * pic.real_left
        n_real = round(lam * cfg.curation_picture_samples)
        se = lam * np.sqrt(pic.real_left * (1 - pic.real_left) / n_real)  # the real points' left share
        out[f"picture_real_keeps_{round(100 * lam)}"] = claim(
            f"With {lam:.0%} real data each round the cluster stays: at every round the mass left of the origin is "
            f"at least the real points' own share, {lam:g} x {pic.real_left:.2f} = {floor:.3f}, less {Z:g} standard "
            "errors of that share, in every chain",
            bool(np.all(left >= floor - Z * se)),
            f"smallest over rounds and chains {left.min():.3f}, bound {floor - Z * se:.3f} (s.e. {se:.4f} from "
            f"{n_real} real points); mean at the last round {left[-1].mean():.3f}")
    return out
