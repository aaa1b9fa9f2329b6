"""Chapter 1, distributions and tails: the numbers the run writes and the statements the
chapter makes about them, each checked on the run (Shumailov et al., Nature 2024, §3 and
Theorem 3.1; Dohmatob et al., "A Tale of Tails", ICML 2024).

Both read a :class:`~collapse_lib.experiments.distributions.Result`; the chapter's module
imports them, so ``distributions.summary`` and ``distributions.claims`` are the names to use.
"""
from __future__ import annotations

import numpy as np

from .. import metrics
from ..claims import Claim, claim
from ..theory import categorical as cat_theory
from .distributions import ApproximationResult, BellCurves, GaussianResult, Result, SandwichResult, ZipfResult

Z = 5.0  # standard errors allowed between a simulated mean and its closed form (P(fail) < 1e-6)

#: Generations at which the sandwich claims look at young chains.
EARLY, MIDDLE = 10, 50

#: The bell curves' early generation: ten fits (generation 0 is the first).
BELL_EARLY = 9


def _binomial_ok(share: float, p: float, n: int) -> bool:
    """Whether an observed share of n chains lies within Z binomial standard errors of p."""
    return abs(share - p) <= Z * np.sqrt(max(p * (1 - p), 1.0 / n) / n)


def _se(values) -> float:
    values = np.asarray(values, float)
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("inf")


def _claims_sandwich(sand: SandwichResult) -> dict[str, Claim]:
    """What the chapter says about the sandwich chains, checked on their numbers."""
    plain = sand.probs["plain"]
    G, C = plain.shape[0] - 1, plain.shape[1]
    rare, surviving = sand.rare, sand.surviving
    q = float(sand.true_probs[rare])
    out = {}
    first = {k: float(v[0].mean()) for k, v in surviving.items()}
    last = {k: float(v[-1].mean()) for k, v in surviving.items()}
    out["answers_fall"] = claim("The number of distinct answers falls under every decoding",
                                all(last[k] < first[k] for k in first),
                                "; ".join(f"{k}: {first[k]:.2f} -> {last[k]:.2f}" for k in first))
    checks = []
    for g in sorted({min(EARLY, G), min(MIDDLE, G), G}):
        sim, th = float(sand.rare_alive["plain"][g].mean()), float(sand.theory_survival[g, rare])
        checks.append((g, sim, th, abs(sim - th) <= Z * np.sqrt(max(th * (1 - th), 1.0 / C) / C)))
    out["rare_survival"] = claim("The simulated survival of marmite follows the exact Wright-Fisher curve "
                                 f"(within {Z:g} binomial standard errors)", all(c[3] for c in checks),
                                 ", ".join(f"generation {g}: {sim:.4f} vs {th:.4f}" for g, sim, th, _ in checks))
    g = min(EARLY, G)
    share = plain[g, :, rare]
    alive = sand.rare_alive["plain"][g]
    if alive.sum() > 1:
        mean_share, se = float(share[alive].mean()), _se(share[alive])
        expected = q / float(sand.theory_survival[g, rare])
        out["survivor_over_represented"] = claim(
            "Where marmite survives it is over-represented, with the share q / P(alive) predicts",
            mean_share > q and abs(mean_share - expected) <= Z * se,
            f"generation {g}: mean share {mean_share:.4f} +- {se:.4f} in the {alive.sum()} chains "
            f"where it survives, q / P(alive) = {expected:.4f}, q = {q:g}")
    at_g = {k: float(v[g].mean()) for k, v in surviving.items()}
    others = [k for k in at_g if k != "plain"]
    out["decoding_speeds_loss"] = claim(
        "Decoding that favours likely answers loses them faster than plain sampling",
        all(at_g[k] < at_g["plain"] for k in others),
        f"answers left at generation {g}: " + ", ".join(f"{k} {v:.2f}" for k, v in at_g.items()))
    # the winner is random: marmite takes over (K_G = M) as often as the exact chain says
    taken = float((plain[G, :, rare] >= 1.0 - 1e-12).mean())
    p_taken = float(cat_theory.wright_fisher(q, sand.samples, G)[G, -1])
    alive_G, p_alive_G = float(sand.rare_alive["plain"][G].mean()), float(sand.theory_survival[G, rare])
    out["rare_fixation"] = claim(
        f"Marmite's survival tends to q = {q:.0%}, the chance that it takes over: the chains where it has taken "
        f"over match the exact Wright-Fisher probability (within {Z:g} binomial standard errors)",
        _binomial_ok(taken, p_taken, C) and _binomial_ok(alive_G, p_alive_G, C),
        f"generation {G}: alive in {alive_G:.4f} of chains (exact {p_alive_G:.4f}), taken over in {taken:.4f} "
        f"(exact {p_taken:.4f})")
    # no march toward the mode under plain sampling; a march under temperature < 1
    head = int(np.argmax(sand.true_probs))
    q_head = float(sand.true_probs[head])
    gens = sorted({min(1, G), min(2, G), min(EARLY, G)})
    plain_share = {t: plain[t, :, head] for t in gens}
    sharp = next(k for k in sand.probs if k.startswith("temperature"))
    sharp_share = sand.probs[sharp][min(1, G), :, head]
    out["plain_no_march"] = claim(
        f"Plain refitting has no pull toward the mode: the mean share of {sand.names[head]} stays at its real "
        f"{q_head:.0%} (within {Z:g} standard errors), while {sharp} raises it at the first synthetic step",
        all(abs(v.mean() - q_head) <= Z * _se(v) for v in plain_share.values())
        and sharp_share.mean() > q_head + Z * _se(sharp_share),
        "plain: " + ", ".join(f"generation {t} {v.mean():.4f} +- {_se(v):.4f}" for t, v in plain_share.items())
        + f"; {sharp}, generation {min(1, G)}: {sharp_share.mean():.4f}")
    top = next(k for k in sand.probs if k.startswith("top-p"))
    g1 = min(1, G)
    top_alive = float(sand.rare_alive[top][g1].mean())
    out["top_p_truncates"] = claim(
        "Top-p cuts the tail at the first synthetic step: marmite is gone at generation 1 in all but under 1 % "
        "of the chains, against about a half under plain sampling",
        top_alive < 0.01 and float(sand.rare_alive["plain"][g1].mean()) > 0.25,
        f"generation {g1}: marmite alive in {top_alive:.4f} of chains under {top}, "
        f"{sand.rare_alive['plain'][g1].mean():.4f} under plain sampling")
    if sand.flat is not None:
        flat_alive = metrics.surviving(sand.flat)
        K = plain.shape[2]
        lost0, lostG = K - float(flat_alive[0].mean()), K - float(flat_alive[G].mean())
        largest = float(sand.flat[G].max(-1).mean())
        out["flat_temperature"] = claim(
            f"At temperature {sand.flat_temperature:g} losses almost stop after the real data's own sample: most "
            "of the answers lost by the last generation were already missing at generation 0, and the largest "
            f"share falls below the real {q_head:.0%} (the distribution flattens)",
            lost0 > 0.5 * lostG and largest < q_head,
            f"answers left: {K - lost0:.2f} at generation 0, {flat_alive[min(1, G)].mean():.2f} at generation "
            f"{min(1, G)}, {K - lostG:.2f} at generation {G}; mean largest share at generation {G}: {largest:.3f}")
    return out


def _claims_bell(bell: BellCurves) -> dict[str, Claim]:
    """The bell curves of the first generations: a typical chain's fit wanders before it shrinks."""
    G, C = bell.variances.shape[0] - 1, bell.variances.shape[1]
    early = min(BELL_EARLY, G)
    at = sorted({early, G})
    ok = all(_binomial_ok(float(bell.wider[t]), float(bell.theory_wider[t]), C) for t in at)
    med = float(np.median(bell.variances[G]))
    return {"bell_wanders": claim(
        f"With M = {bell.samples} a fit wanders before it shrinks: after ten fits a sizeable share of chains "
        f"is still wider than the truth, and only after {G + 1} fits are most chains narrower, with the "
        f"exact probabilities (within {Z:g} binomial standard errors)",
        ok and bell.wider[early] > 0.2 and bell.wider[G] < 0.5 * bell.wider[early] and med < 0.1,
        "; ".join(f"generation {t}: wider than the truth in {bell.wider[t]:.3f} of {C} chains (exact "
                  f"{bell.theory_wider[t]:.3f})" for t in at) + f"; median variance at generation {G}: {med:.3g}")}


def _claims_gaussian(gauss: GaussianResult) -> dict[str, Claim]:
    """What the chapter says about the refitted Gaussian, checked on its numbers."""
    e, w2 = gauss.estimators["unbiased"], gauss.w2_squared["unbiased"]
    th = gauss.theory["unbiased"]
    G, M = int(gauss.generations[-1]), gauss.samples
    var = e["var"]
    out = {}
    below = float((var[-1] < 1.0).mean())
    out["variance_collapses"] = claim(
        "Almost every chain's variance collapses: the median falls below a tenth of the real "
        "variance and most chains end below it",
        np.median(var[-1]) < 0.1 and below > 0.75,
        f"median variance {np.median(var[-1]):.3g} at generation {G}; {below:.1%} of the chains "
        "below the real variance 1")
    logv = np.log(var[-1])
    out["log_variance_follows_theory"] = claim(
        f"The mean of log sigma^2 follows its closed form (within {Z:g} standard errors)",
        abs(logv.mean() - th["log_var"][-1]) <= Z * _se(logv),
        f"{logv.mean():.3f} +- {_se(logv):.3f} vs {th['log_var'][-1]:.3f} at generation {G}")
    early = min(G, max(1, M // 2 - 1))  # n = g + 1 = M/2 fits: the spread of sigma_g^2 is still moderate
    checks = {
        "variance": (var[early], th["var"][early]),
        "mean drift": (e["mean"][early] ** 2, th["mean_drift"][early]),
        "W2^2": (w2[early], th["w2_squared"][early]),
    }
    out["young_chains_follow_theory"] = claim(
        f"While the chains are few generations old, the averages over the chains agree with the "
        f"closed forms (within {Z:g} standard errors)",
        all(abs(v.mean() - t) <= Z * _se(v) for v, t in checks.values()),
        f"generation {early}: " + "; ".join(f"{k} {v.mean():.3f} +- {_se(v):.3f} vs {t:.3f}"
                                            for k, (v, t) in checks.items()))
    late = {
        "variance": (var[-1].mean(), th["var"][-1]),
        "mean drift": ((e["mean"][-1] ** 2).mean(), th["mean_drift"][-1]),
        "W2^2": (w2[-1].mean(), th["w2_squared"][-1]),
    }
    out["late_averages_below_theory"] = claim(
        "At the last generation the averages of the variance, the drift of the mean and W2^2 "
        "lie below their expectations, which rare wide chains carry",
        all(v < t for v, t in late.values()),
        f"generation {G}: " + "; ".join(f"{k} {v:.3g} vs {t:.3g}" for k, (v, t) in late.items()))
    w2_mean = w2.mean(axis=1)
    out["w2_grows"] = claim("The mean W2^2 distance to the truth (over the chains) grows to many times one fit's",
                            w2_mean[G // 2] > 10 * w2_mean[0] and w2_mean[-1] > 10 * w2_mean[0],
                            f"generations 0, {G // 2}, {G}: {w2_mean[0]:.3f}, {w2_mean[G // 2]:.3f}, "
                            f"{w2_mean[-1]:.3f}")
    w2_med = np.median(w2, axis=1)
    first, second = w2_med[G // 2] - w2_med[0], w2_med[G] - w2_med[G // 2]
    th_first, th_second = th["w2_squared"][G // 2] - th["w2_squared"][0], th["w2_squared"][G] - th["w2_squared"][G // 2]
    out["w2_typical_settles"] = claim(
        "The typical chain's W2^2 settles while its expectation keeps growing: the median rises less than half "
        "as much over the second half of the run as over the first, while the closed-form expectation rises "
        "nearly as much (at least 80 %)",
        second < 0.5 * first and th_second >= 0.8 * th_first,
        f"median W2^2 at generations 0, {G // 2}, {G}: {w2_med[0]:.3f}, {w2_med[G // 2]:.3f}, {w2_med[G]:.3f}; "
        f"expectation {th['w2_squared'][0]:.3f}, {th['w2_squared'][G // 2]:.3f}, {th['w2_squared'][G]:.3f}")
    med = {k: float(np.median(v["var"][-1])) for k, v in gauss.estimators.items()}
    out["mle_collapses_faster"] = claim(
        "The maximum-likelihood estimator collapses faster than the unbiased one", med["mle"] < med["unbiased"],
        f"median variance at generation {G}: mle {med['mle']:.3g}, unbiased {med['unbiased']:.3g}")
    return out


def _claims_approximation(approx: ApproximationResult) -> dict[str, Claim]:
    """What the chapter says about the three sources of error, checked on the run."""
    Ms = sorted(approx.samples)
    G = int(approx.generations[-1])
    gauss, bim, gd = approx.tv["Gaussian"], approx.tv["bimodal"], approx.tv["gradient descent"]
    fin = {M: float(gauss[M][-1].mean()) for M in Ms}
    start = {M: float(gauss[M][0].mean()) for M in Ms}
    out = {"statistical_error": claim(
        "Statistical error: on Gaussian data the error grows with the generations, more slowly for larger M",
        all(fin[M] > start[M] for M in Ms) and all(fin[a] > fin[b] for a, b in zip(Ms, Ms[1:])),
        "mean TV at generation 0 -> " + f"{G}: " + ", ".join(f"M={M}: {start[M]:.3f} -> {fin[M]:.3f}" for M in Ms))}
    floor = approx.functional_floor["bimodal"]
    first = {M: float(bim[M][0].mean()) for M in Ms}
    out["expressivity_error"] = claim(
        "Expressivity error: on bimodal data the first fit already lands at the floor of the best "
        "single Gaussian, for the largest M within 0.02, and far above the Gaussian-data error for every M",
        abs(first[Ms[-1]] - floor) < 0.02 and all(first[M] > 2 * start[M] for M in Ms),
        f"floor {floor:.3f}; first fit " + ", ".join(f"M={M}: {first[M]:.3f}" for M in Ms))
    unl = gd[approx.UNLIMITED].mean(axis=1)
    out["approximation_error"] = claim(
        "Functional approximation error: with unlimited data the gradient-descent fit starts close (TV below "
        "0.05), and its error grows generation after generation, more than tenfold",
        unl[0] < 0.05 and unl[-1] > 10 * unl[0] and np.all(np.diff(unl) >= -1e-12),
        f"TV with unlimited data {unl[0]:.4f} at generation 0 -> {unl[-1]:.4f} at generation {G}")
    diff = {M: (float(gd[M][-1].mean() - gauss[M][-1].mean()), float(np.hypot(_se(gd[M][-1]), _se(gauss[M][-1]))))
            for M in Ms}
    evidence = f"generation {G}, gradient descent minus exact fit (mean TV +- standard error): " + ", ".join(
        f"M={M}: {gd[M][-1].mean():.3f} - {gauss[M][-1].mean():.3f} = {d:+.3f} +- {se:.3f}"
        for M, (d, se) in diff.items())
    out["procedure_adds_to_statistical"] = claim(
        "With finite data the learning procedure's error adds to the statistical error: at every M gradient "
        f"descent is not below the exact fit, and at every M but the smallest it is above by more than {Z:g} "
        "standard errors",
        all(d >= -Z * se for d, se in diff.values()) and all(diff[M][0] > Z * diff[M][1] for M in Ms[1:]),
        evidence)
    d, se = diff[Ms[0]]
    out["statistical_dominates_small_m"] = claim(
        f"At the smallest M (M = {Ms[0]}) the statistical error dominates: the two fits are within {Z:g} "
        "standard errors of each other", abs(d) <= Z * se, evidence)
    return out


def _claims_zipf(zipf: ZipfResult) -> dict[str, Claim]:
    """What the chapter says about the cut Zipf tails, checked on the run: keys ``zipf_...``,
    with one ``zipf_plateau_k<k>`` for every cut whose plateau the largest T reaches."""
    real = zipf.mean_error["real"]
    out = {"zipf_power_law": claim(
        "With real data the error keeps falling as a power law",
        bool(np.all(np.diff(real) < 0)) and real[-1] < 0.1 * real[0],
        f"{real[0]:.2e} at T={zipf.train_sizes[0]:,} -> {real[-1]:.2e} at T={zipf.train_sizes[-1]:,}")}
    for key, plateau in zipf.plateaus.items():
        err = zipf.mean_error[key]
        reached = zipf.theory[key][-1] < 1.02 * plateau
        if not reached:  # the cut-off mass does not dominate yet at the largest T: nothing to claim
            continue
        out[f"zipf_plateau_{key.replace('=', '')}"] = claim(
            f"With the tail cut at {key} the error stops at the plateau, above the real-data error",
            abs(err[-1] / plateau - 1) < 0.05 and err[-1] > 2 * real[-1],
            f"{err[-1]:.3e} at T={zipf.train_sizes[-1]:,}, plateau {plateau:.3e}, real data {real[-1]:.2e}")
    checks = []
    for key, err in zipf.errors.items():  # tolerance: Z times a bound on the standard error over the chains
        m, th = zipf.mean_error[key], zipf.theory[key]
        checks.append(bool(np.all(np.abs(m - th) <= Z * zipf.sd_bound[key] / np.sqrt(err.shape[1]) + 1e-12)))
    out["zipf_follows_expectation"] = claim(
        f"The simulated errors follow the exact expectation at every T (within {Z:g} standard errors)",
        all(checks),
        f"{len(zipf.errors)} curves x {zipf.train_sizes.size} sizes, {zipf.errors['real'].shape[1]} chains")
    return out


def claims(res: Result) -> dict[str, Claim]:
    """Every statement the chapter makes about its run, with the numbers behind it, by key."""
    return {**_claims_sandwich(res.sandwich), **_claims_gaussian(res.gaussian), **_claims_bell(res.bell_curves),
            **_claims_approximation(res.approximation), **_claims_zipf(res.zipf)}


def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    sand, gauss, approx, zipf = res.sandwich, res.gaussian, res.approximation, res.zipf
    G = sand.probs["plain"].shape[0] - 1
    out = {
        "sandwich": {
            "generations": G,
            "samples": sand.samples,
            "mean_surviving_final": {k: float(v[-1].mean()) for k, v in sand.surviving.items()},
            "theory_surviving_final": float(sand.theory_surviving[-1]),
            "rare_alive_fraction_final": float(sand.rare_alive["plain"][-1].mean()),
            "theory_rare_alive_final": float(sand.theory_survival[-1, sand.rare]),
            "entropy_bits_final": {k: float(metrics.entropy(v[-1]).mean()) for k, v in sand.probs.items()},
        },
        "gaussian": {},
        "approximation": {
            "functional_floor_tv": approx.functional_floor,
            "mean_tv_final": {k: {str(M): float(v[-1].mean()) for M, v in d.items()}
                              for k, d in approx.tv.items() if k != "gradient descent"},
        },
        "gradient_descent": {
            "settings": approx.gd_settings,
            "mean_tv_final": {("unlimited" if M == approx.UNLIMITED else str(M)): float(v[-1].mean())
                              for M, v in approx.tv["gradient descent"].items()},
        },
        "zipf": {
            "train_sizes": zipf.train_sizes.tolist(),
            "mean_error": {k: v.tolist() for k, v in zipf.mean_error.items()},
            "theory_error": {k: v.tolist() for k, v in zipf.theory.items()},
            "plateaus": zipf.plateaus,
        },
    }
    for est, e in gauss.estimators.items():
        th = gauss.theory[est]
        out["gaussian"][est] = {
            "generations": int(gauss.generations[-1]),
            "samples": gauss.samples,
            "mean_var_final": float(e["var"][-1].mean()),
            "median_var_final": float(np.median(e["var"][-1])),
            "theory_var_final": float(th["var"][-1]),
            "theory_median_var_final_approx": float(np.exp(th["log_var"][-1])),
            "mean_w2_squared_final": float(gauss.w2_squared[est][-1].mean()),
            "median_w2_squared_final": float(np.median(gauss.w2_squared[est][-1])),
            "theory_w2_squared_final": float(th["w2_squared"][-1]),
        }
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out
