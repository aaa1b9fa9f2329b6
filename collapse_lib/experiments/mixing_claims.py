"""Chapter 5, mixing real data: what the papers reported, the chapter's numbers and the
statements the chapter makes about its run (:func:`summary`, :func:`claims`).

The papers are Gerstgrasser et al., "Is Model Collapse Inevitable?" (COLM 2024), Dohmatob,
Feng and Kempe, "Model Collapse Demystified" (NeurIPS 2024), Dohmatob, Feng, Subramonian
and Kempe, "Strong Model Collapse" (ICLR 2025), Shumailov et al. (Nature 631:755, 2024),
and Kazdan et al., "Collapse or Thrive?" (arXiv 2410.16713) for accumulate-subsample.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim
from ..theory import linreg as lr_theory

if TYPE_CHECKING:
    from .mixing import Config, FamilyPolicies, NeuralResult, Result, StrongResult
    from .mixing_subsample import SubsampleResult

#: What the papers reported (for the chapter's comparison table).
PAPER = {
    # Gerstgrasser et al., Theorem 2, with d = 10, T = 111, sigma^2 = 1: e_1 = 0.1
    "replace_per_fit": 0.1,
    "accumulate_bound": float(np.pi**2 / 6 * 0.1),
    # Dohmatob et al., Strong Model Collapse: the floor p^2 c^2; "as little as 1 %"
    # (arXiv v2) or "1 per 1000" (ICLR version) of synthetic data shows it
    "strong_smallest_fraction": 0.01,
}


def standard_error(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean over chains (the last axis)."""
    values = np.asarray(values, float)
    return values.std(axis=-1, ddof=1) / np.sqrt(values.shape[-1])


def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    cfg, lin, strong, neural = res.cfg, res.linreg, res.strong, res.neural
    e1 = float(lr_theory.one_fit_error(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise))
    out = {
        "generations": cfg.generations,
        "gaussian": res.tables["gaussian"],
        "sandwich": res.tables["sandwich"],
        "linreg": {
            **res.tables["linreg"],
            "one_fit_error": e1,
            "accumulate_bound": lr_theory.accumulate_bound(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise),
        },
        "strong": {"sizes": strong.sizes.tolist(), "quality": strong.quality},
    }
    if "replace" in lin.metric:
        out["linreg"]["replace_growth_per_generation"] = float(
            np.polyfit(lin.generations, lin.metric["replace"].mean(axis=1), 1)[0])
    for p in strong.fractions:
        out["strong"][f"p={p:g}"] = {
            "mean_error": strong.errors[p].mean(axis=1).tolist(),
            "se": standard_error(strong.errors[p]).tolist(),
            "theory": strong.theory[p].tolist(),
            "floor": strong.floors[p],
            "error_at_largest_n": float(strong.errors[p][-1].mean()),
        }
    if neural is not None:
        out["neural"] = {"data": neural.data, "real_latent_std": neural.real_spread.tolist()}
        for f, r in neural.runs.items():
            out["neural"][f"real share {f:g}"] = {
                "latent_std_mean": r.spread.mean(1).tolist(),
                "ratio_last_to_first": float(r.ratio.mean()),
                "effective_classes_mean": r.effective.mean(1).tolist(),
            }
    if res.subsample is not None:
        out["subsample"] = subsample_summary(res.subsample)
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out


# ------------------------------------------------------------------------ claims
Z = 5.0  # standard errors allowed between a simulated mean and its closed form (P(fail) < 1e-6)


def _closer(res: FamilyPolicies, a: str, b: str) -> bool:
    """Whether policy ``a`` ends closer to the truth than ``b`` (more answers for the sandwich)
    by more than Z standard errors of the difference of the final means."""
    fa, fb = res.metric[a][-1], res.metric[b][-1]
    gap = fa.mean() - fb.mean() if res.metric_name == "answers still given" else fb.mean() - fa.mean()
    return bool(gap > Z * np.hypot(standard_error(fa), standard_error(fb)))


def _policy_claims(gauss: FamilyPolicies, sand: FamilyPolicies, lin: FamilyPolicies,
                   cfg: Config) -> dict[str, Claim]:
    """What the chapter says about the four policies, checked on the run."""
    out = {}
    fams = (gauss, sand, lin)
    fin = lambda r, k: float(r.metric[k][-1].mean())  # noqa: E731
    first = lambda r, k: float(r.metric[k][0].mean())  # noqa: E731
    if "replace" in lin.metric:
        out["replace_drifts"] = claim(
            "Under replace every family drifts away from the truth: the Gaussian's distance grows, "
            "the survey loses answers, the regression error grows",
            fin(gauss, "replace") > first(gauss, "replace") and fin(sand, "replace") < first(sand, "replace")
            and fin(lin, "replace") > first(lin, "replace"),
            "; ".join(f"{r.family}: {first(r, 'replace'):.3g} -> {fin(r, 'replace'):.3g}" for r in fams))
        m, th = lin.metric["replace"][-1], lin.theory["replace"][-1]
        se = float(standard_error(m))
        out["replace_follows_theory"] = claim(
            f"The regression error under replace follows (g+1) e_1 (within {Z:g} standard errors)",
            abs(m.mean() - th) <= Z * se,
            f"generation {cfg.generations}: {m.mean():.4f} +- {se:.4f} vs {th:.4f}")
        kept = [k for k in ("accumulate", "mix", "fresh") if k in lin.metric]
        out["real_data_closer"] = claim(
            f"Every policy that keeps real data ends closer to the truth than replace, in every family (mean over "
            f"chains, by more than {Z:g} standard errors)",
            all(_closer(r, k, "replace") for r in fams for k in kept),
            "; ".join(f"{r.family}: " + ", ".join(f"{k} {fin(r, k):.3g}" for k in ("replace", *kept))
                      for r in fams))
    if "accumulate" in lin.metric:
        bound = lr_theory.accumulate_bound(cfg.linreg_samples, cfg.linreg_dim, cfg.linreg_noise)
        means = lin.metric["accumulate"].mean(axis=1)
        m, th = lin.metric["accumulate"][-1], lin.theory["accumulate"][-1]
        out["accumulate_bounded"] = claim(
            "Accumulate stays below pi^2/6 of one fit's error at every generation, and on its exact "
            f"closed form (within {Z:g} standard errors)",
            means.max() < bound and abs(m.mean() - th) <= Z * standard_error(m),
            f"largest mean {means.max():.4f} (generation {int(means.argmax())}) < pi^2/6 e_1 = {bound:.4f}; "
            f"final {m.mean():.4f} +- {standard_error(m):.4f} vs {th:.4f}")
    if {"accumulate", "replace"} <= set(lin.metric) and {"mix", "fresh"} & set(lin.metric):
        between = [k for k in ("mix", "fresh") if k in lin.metric]
        out["fixed_share_between"] = claim(
            f"A fixed real share ({cfg.real_fraction:.0%}) ends at a level between accumulate and replace "
            f"(Gaussian and regression; means over chains, each gap more than {Z:g} standard errors)",
            all(_closer(r, "accumulate", k) and _closer(r, k, "replace") for r in (gauss, lin) for k in between),
            "; ".join(f"{r.family}: " + ", ".join(f"{k} {fin(r, k):.3g}" for k in ("accumulate", *between, "replace"))
                      for r in (gauss, lin)))
    if "fresh" in lin.metric and "fresh" in lin.theory:
        m, th = lin.metric["fresh"].mean(axis=1), lin.theory["fresh"]
        se = standard_error(lin.metric["fresh"])
        worst = int(np.argmax(np.abs(m - th) / se))
        out["fresh_follows_exact"] = claim(
            f"The regression error under fresh follows the exact recursion E_t = B E_(t-1) + e_1 at every generation "
            f"(within {Z:g} standard errors) and settles at e_1 / (1 - B)",
            bool(np.all(np.abs(m - th) <= Z * se)),
            f"generation {cfg.generations}: {m[-1]:.4f} +- {se[-1]:.4f} vs {th[-1]:.4f}; largest gap at generation "
            f"{worst}: {m[worst]:.4f} vs {th[worst]:.4f}")
        if "mix" in lin.metric:
            mix, fr = lin.metric["mix"][-1], lin.metric["fresh"][-1]
            gap = mix.mean() / fr.mean() - 1
            out["mix_above_fresh"] = claim(
                f"Under mix the regression error ends about {gap:.0%} above fresh (more than {Z:g} standard errors)",
                mix.mean() - fr.mean() > Z * np.hypot(standard_error(mix), standard_error(fr)),
                f"mix {mix.mean():.4f} +- {standard_error(mix):.4f}, fresh {fr.mean():.4f} +- {standard_error(fr):.4f}")
    return out


def _strong_claims(strong: StrongResult) -> dict[str, Claim]:
    """What the chapter says about strong model collapse, checked on the run."""
    out = {}
    n = strong.sizes
    ok = []
    for p in strong.fractions:
        m, th, se = strong.errors[p].mean(axis=1), strong.theory[p], standard_error(strong.errors[p])
        ok.append(bool(np.all(np.abs(m - th) <= Z * se)))
    out["strong_follows_exact"] = claim(
        f"The simulation follows the exact expectation at every n and p (within {Z:g} standard errors)",
        all(ok),
        f"{len(strong.fractions)} fractions x {n.size} sizes, {strong.errors[strong.fractions[0]].shape[1]} chains")
    if 0.0 in strong.errors:
        e0 = strong.errors[0.0].mean(axis=1)
        out["strong_real_labels_keep_falling"] = claim(
            "With real labels only the error keeps falling like sigma^2 d / n",
            bool(np.all(np.diff(e0) < 0)) and e0[-1] < 1e-3 * e0[0],
            f"{e0[0]:.2e} at n = {n[0]:,} -> {e0[-1]:.2e} at n = {n[-1]:,}")
    for p in strong.fractions:
        floor = strong.floors[p]
        if p == 0 or strong.noise**2 * strong.dim / n[-1] > floor / 5:
            continue  # the floor is not reached within the sizes run
        e = strong.errors[p].mean(axis=1)
        se = standard_error(strong.errors[p][-1])
        out[f"strong_floor_{p:g}".replace(".", "_")] = claim(
            f"With p = {p:g} the error approaches the floor p^2 c^2 and does not go below it: at the largest n it is "
            f"within 25 % of the floor, above it by the shrinking variance terms",
            abs(e[-1] / floor - 1) < 0.25 and e[-1] > floor - Z * se,
            f"{e[-2]:.3g} at n = {n[-2]:,}, {e[-1]:.3g} +- {se:.1g} at n = {n[-1]:,}; floor {floor:.3g}; "
            f"exact {strong.theory[p][-1]:.3g}")
    i = int(np.argmin(np.abs(np.log(n / 1000.0))))
    big = max(strong.fractions)
    if big > 0 and 0.5 < n[i] / 1000 < 2:
        m, se = float(strong.errors[big][i].mean()), float(standard_error(strong.errors[big][i]))
        exact, first = float(strong.theory[big][i]), float(strong.asymptotic[big][i])
        out["strong_first_order_term"] = claim(
            f"At n = {n[i]:,} the error with p = {big:g} is measurably above sigma^2 d/n + p^2 c^2: "
            "the term p(1-p)(d+1) c^2/n counts",
            abs(m - exact) < abs(m - first) and abs(m - first) > 3 * se,
            f"simulation {m:.5f} +- {se:.5f}; exact {exact:.5f}; sigma^2 d/n + p^2 c^2 = {first:.5f}")
    if strong.ratio_sizes.size:
        p, phi = max(strong.fractions), strong.ratio
        m, se, th = strong.ratio_errors.mean(axis=1), standard_error(strong.ratio_errors), strong.ratio_theory
        var, bias = strong.ratio_split["variance"], strong.ratio_split["bias"]
        out["strong_proportional"] = claim(
            f"At fixed d/n = {phi:g} (p = {p:g}) the simulation follows the exact expectation at every n (within "
            f"{Z:g} standard errors), which tends to the proportional limit; there the synthetic labels' variance "
            f"p(1-p) c^2 phi/(1-phi) does not vanish and exceeds the floor p^2 c^2",
            bool(np.all(np.abs(m - th) <= Z * se)) and abs(th[-1] / strong.ratio_limit - 1) < 0.05
            and var[-1] > bias[-1],
            "; ".join(f"n = {n_}: {a:.4f} +- {b:.4f} vs {c:.4f}" for n_, a, b, c in zip(strong.ratio_sizes, m, se, th))
            + f"; limit {strong.ratio_limit:.4f}; at n = {strong.ratio_sizes[-1]}: variance {var[-1]:.4f}, "
            f"bias {bias[-1]:.4f}")
    return out


def _rank_level(chains_a: int, chains_b: int) -> float:
    """Level of the one-sided rank test "every chain of one run above every chain of the other":
    1 / C(a + b, a) (its chance when both runs have the same law)."""
    from math import comb
    return 1.0 / comb(chains_a + chains_b, chains_a)


def _neural_claims(neural: NeuralResult | None) -> dict[str, Claim]:
    """What the chapter says about the VAE with real images kept, checked on the run."""
    if neural is None or 0.0 not in neural.runs:
        return {}
    out = {}
    rep = neural.runs[0.0]
    ratio = rep.ratio
    eff0 = rep.effective.mean(1)
    out["neural_replace_falls"] = claim(
        "Without real data the latent spread falls in every chain and the classes thin out",
        bool(np.all(ratio < 1)) and eff0[-1] < eff0[0],
        f"latent std ratio last/first {np.round(ratio, 3).tolist()}; effective classes "
        f"{eff0[0]:.2f} -> {eff0[-1]:.2f}")
    G = rep.spread.shape[0] - 1
    for f in neural.fractions:
        if f == 0:
            continue
        run = neural.runs[f]
        level = _rank_level(run.ratio.size, ratio.size)
        key = "neural_real_share_helps" if f == max(neural.fractions) else f"neural_share_{f:g}".replace(".", "_")
        if f == max(neural.fractions):
            out[key] = claim(
                f"With {f:.0%} real images the latent spread falls less than without: every chain's ratio "
                f"last/first is above every chain's without real data (a rank test at level {level:.2g})",
                bool(run.ratio.min() > ratio.max()),
                f"latent std ratio {np.round(run.ratio, 3).tolist()} vs {np.round(ratio, 3).tolist()}; effective "
                f"classes {run.effective.mean(1)[-1]:.2f} vs {eff0[-1]:.2f} at generation {G} (means)")
        else:
            out[key] = claim(
                f"With {f:.0%} real images the latent spread still falls in every chain within {G} generations: "
                "the share slows the loss at most, it does not stop it",
                bool(np.all(run.ratio < 1)) and run.effective.mean(1)[-1] < run.effective.mean(1)[0],
                f"latent std ratio {np.round(run.ratio, 3).tolist()} (without real data "
                f"{np.round(ratio, 3).tolist()}); effective classes {run.effective.mean(1)[0]:.2f} -> "
                f"{run.effective.mean(1)[-1]:.2f}")
    return out


# ------------------------------------------------------------ accumulate-subsample
SUBSAMPLE = "accumulate-subsample"
#: The bound the chapter states on the regression's late rate: this share of replace's e_1 a generation.
LEVEL_OFF_SHARE = 0.01


def late_slopes(values: np.ndarray) -> np.ndarray:
    """Per-chain least-squares slope (per generation) of ``values`` (G+1, chains) over the
    last half of the run, generations G/2 to G."""
    values = np.asarray(values, float)
    g0 = (values.shape[0] - 1) // 2
    return np.polyfit(np.arange(g0, values.shape[0]), values[g0:], 1)[0]


def _rate(values: np.ndarray, scale: float = 1.0) -> dict:
    slopes = late_slopes(values) / scale
    return {"late_slope": float(slopes.mean()), "late_slope_se": float(standard_error(slopes))}


def subsample_summary(sub: SubsampleResult) -> dict:
    """Final mean, its standard error, median, and the late rate (slope over the last half
    of the run, mean over chains with its standard error) of every family run."""
    out = {"late_from_generation": int((sub.generations.size - 1) // 2)}
    for key, v in (("gaussian", sub.gaussian), ("gaussian_variance", sub.gaussian_variance), ("linreg", sub.linreg)):
        if v is not None:
            out[key] = {"chains": int(v.shape[1]), "mean_final": float(v[-1].mean()),
                        "se_final": float(standard_error(v[-1])), "median_final": float(np.median(v[-1])), **_rate(v)}
    if sub.linreg is not None:
        r = _rate(sub.linreg, sub.one_fit_error)
        out["linreg"].update(late_slope_in_e1=r["late_slope"], late_slope_in_e1_se=r["late_slope_se"])
    return out


def _subsample_claims(res: Result) -> dict[str, Claim]:
    """What the chapter says about accumulate-subsample, checked on the run."""
    sub = res.subsample
    if sub is None:
        return {}
    out = {}
    parts = [(fam, v) for fam, v in ((res.gaussian, sub.gaussian), (res.linreg, sub.linreg))
             if v is not None and {"replace", "accumulate"} <= set(fam.metric)]
    if parts:
        ok, ev = True, []
        for fam, v in parts:
            m, se = v[-1].mean(), standard_error(v[-1])
            acc, rep = fam.metric["accumulate"][-1], fam.metric["replace"][-1]
            ok &= bool(m - acc.mean() > Z * np.hypot(se, standard_error(acc))
                       and rep.mean() - m > Z * np.hypot(se, standard_error(rep)))
            ev.append(f"{fam.family}: accumulate {acc.mean():.4g}, accumulate-subsample {m:.4g} +- {se:.2g} "
                      f"(median {np.median(v[-1]):.4g}), replace {rep.mean():.4g}")
        out["subsample_between"] = claim(
            f"At the last generation accumulate-subsample's mean lies between accumulate and replace, each more "
            f"than {Z:g} standard errors away, in the Gaussian and the regression", ok, "; ".join(ev))
    g0 = (sub.generations.size - 1) // 2
    if sub.linreg is not None:
        r = _rate(sub.linreg, sub.one_fit_error)
        upper = r["late_slope"] + Z * r["late_slope_se"]
        out["subsample_linreg_rate"] = claim(
            f"Under accumulate-subsample the regression error grows slowly if at all: from generation {g0} on it "
            f"rises by less than {LEVEL_OFF_SHARE:.0%} of replace's rate (e_1 a generation), {Z:g} standard errors "
            "included",
            upper < LEVEL_OFF_SHARE,
            f"mean slope {r['late_slope']:.4f} +- {r['late_slope_se']:.4f} e_1 a generation over {sub.linreg.shape[1]} "
            f"chains (upper bound {upper:.4f}); last generation {sub.linreg[-1].mean() / sub.one_fit_error:.3f} e_1")
    if sub.gaussian_variance is not None:
        r = _rate(sub.gaussian_variance)
        v = sub.gaussian_variance
        out["subsample_gaussian_variance_rises"] = claim(
            f"Under accumulate-subsample the Gaussian's mean fitted variance is still rising from generation {g0} on: "
            f"slow growth, not a level (slope above {Z:g} standard errors)",
            r["late_slope"] > Z * r["late_slope_se"],
            f"mean slope {r['late_slope']:.2e} +- {r['late_slope_se']:.1e} a generation over {v.shape[1]} chains; "
            f"mean variance {v[g0].mean():.4f} at generation {g0}, {v[-1].mean():.4f} at {v.shape[0] - 1} "
            f"(medians {np.median(v[g0]):.4f}, {np.median(v[-1]):.4f})")
    return out


def claims(res: Result) -> dict[str, Claim]:
    """Every statement the chapter makes about its run, with the numbers behind it, by key
    (the keys of strong collapse start with ``strong_``, those of the VAE with ``neural_``,
    those of accumulate-subsample with ``subsample_``)."""
    return {**_policy_claims(res.gaussian, res.sandwich, res.linreg, res.cfg), **_strong_claims(res.strong),
            **_neural_claims(res.neural), **_subsample_claims(res)}
