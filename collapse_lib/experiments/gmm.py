"""Chapter 2, Gaussian mixtures: the experiments behind every figure.

Follows Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024), Fig. 2 and the notebook ``Normals_GMM_experiments.ipynb``
of their repository: a two-component, full-covariance mixture refitted by EM on 1,000 of
its own samples for 2,000 generations, with snapshots at generations 0, 50, 100, 150, 200,
350 and 2000 and the closed-form L2 distance to the original mixture. Our real data are
two clusters (the notebook used one isotropic blob, ``real_data="one_blob"`` here); the
*accumulate* policy is the one of Gerstgrasser et al. (COLM 2024).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..claims import Claim, claim
from ..engine import run_generations
from ..families.gmm import GMMFamily, GMMParams, one_blob, source_params, two_clusters
from ..metrics_gmm import l2_to
from ..policies import Accumulate, Replace
from ..profiles import pick
from ..runtime import generation_rng
from ..theory import gmm as gmm_theory
from ..validation import check_choice, check_int, check_positive, check_sample_size

#: What the authors' notebook printed (one blob, M = 1000, tol 1e-5): component standard
#: deviations at generation 0 and 2049, and the final L2 distance.
PAPER = {"std_start": 0.89, "std_final": 0.010, "std_final_generation": 2049, "l2_final": 536.3,
         "samples": 1000}

MIN_SAMPLES = GMMFamily().min_samples


@dataclass(frozen=True)
class GMMConfig:
    """Sizes of the chapter's experiments (one instance per profile)."""

    seed: int = 0  # every experiment derives its random streams from this seed
    real_data: str = "two_clusters"  # or "one_blob", the authors' make_blobs(centers=[[0, 0]])
    separation: float = 6.0  # distance between the centres of the two real clusters
    # the recursion of Shumailov et al., Fig. 2
    samples: int = 1000  # M: points sampled (and fitted) each generation, as in the paper
    generations: int = 2000
    chains: int = 32  # independent runs, each with its own random streams
    snapshots: tuple[int, ...] = (0, 50, 100, 150, 200, 350, 2000)  # generations drawn
    tol: float = 1e-5  # EM tolerance of the authors' notebook (scikit-learn's default: 1e-3)
    max_iter: int = 2000  # EM iterations at most, as in the notebook
    # the pace of collapse against M
    scaling_samples: tuple[int, ...] = (250, 500, 1000)  # M values compared
    scaling_horizon: float = 1.0  # each M runs horizon * M generations
    scaling_chains: int = 16
    # replace vs accumulate (the training set grows by M points a generation)
    accumulate_generations: int = 200  # fewer than `generations`: EM cost grows with the set
    accumulate_chains: int = 16  # the first chains of the replace run
    # M of the comparison; None: the main run's M (and its first chains as the replace side). A smaller
    # M runs both policies anew, for accumulate_generations = several M at a CPU's cost
    accumulate_samples: int | None = None
    # the authors' real data beside ours: the same recursion on one blob (0: not run)
    one_blob_chains: int = 16
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present)

    def __post_init__(self):
        check_choice("real_data", self.real_data, ("two_clusters", "one_blob"))
        check_positive("separation", self.separation)
        for name in ("generations", "chains", "scaling_chains", "accumulate_generations", "accumulate_chains",
                     "max_iter"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("one_blob_chains", self.one_blob_chains, minimum=0)
        check_sample_size("samples", self.samples, MIN_SAMPLES, "two 2-D components need 3 points each")
        for m in self.scaling_samples:
            check_sample_size("scaling_samples", m, MIN_SAMPLES, "two 2-D components need 3 points each")
        check_positive("scaling_horizon", self.scaling_horizon)
        check_positive("tol", self.tol)
        for t in self.snapshots:
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= self.generations:
                raise ValueError(f"snapshots={self.snapshots!r} is not allowed: every snapshot must be an "
                                 f"integer generation in [0, generations={self.generations}]")
        if self.accumulate_generations > self.generations:
            raise ValueError(f"accumulate_generations={self.accumulate_generations!r} is not allowed: it must be "
                             f"<= generations={self.generations} (it is drawn against the replace run)")
        if self.accumulate_samples is not None:
            check_sample_size("accumulate_samples", self.accumulate_samples, MIN_SAMPLES,
                              "two 2-D components need 3 points each")
        if self.accumulate_chains > self.chains:
            raise ValueError(f"accumulate_chains={self.accumulate_chains!r} is not allowed: it must be "
                             f"<= chains={self.chains} (it reuses the replace run's first chains)")
        if self.device is not None:
            check_choice("device", self.device, ("cpu", "cuda"))

    def family(self) -> GMMFamily:
        return GMMFamily(2, 2, tol=self.tol, max_iter=self.max_iter, device=self.device)

    def source(self):
        return two_clusters(self.separation) if self.real_data == "two_clusters" else one_blob()


PROFILE_CONFIGS = {
    # M = 100: ten times fewer samples, so ten times fewer generations show the same story
    "quick": GMMConfig(samples=100, generations=200, chains=16, snapshots=(0, 5, 10, 15, 20, 35, 200),
                       scaling_samples=(50, 100, 200), scaling_chains=8, accumulate_generations=60,
                       accumulate_chains=8, device="cpu"),
    # the authors' recursion (M = 1000, 2,000 generations, their snapshots) on 32 chains and, beside
    # it, on their one-blob data; the pace on fewer chains; replace vs accumulate at M = 100 for 1.5 M
    # generations (at M = 1000 the growing training set would cost more than the rest of the chapter)
    "cpu": GMMConfig(scaling_chains=8, accumulate_samples=100, accumulate_generations=150, accumulate_chains=8,
                     one_blob_chains=16, device="cpu"),
    "gpu": GMMConfig(),
    "paper": GMMConfig(generations=2050, chains=64, scaling_samples=(250, 500, 1000, 2000), scaling_chains=32,
                       accumulate_generations=400, accumulate_chains=32),
}


def config(profile: str | None = None, **overrides) -> GMMConfig:
    """The chapter's config for ``profile`` (``COLLAPSE_PROFILE`` or the fallback)."""
    return pick(PROFILE_CONFIGS, profile, **overrides)


def cluster_mass(params: GMMParams) -> np.ndarray:
    """Weight the model gives to the left real cluster (components whose mean has a
    negative first coordinate), (..., ): 1/2 at the start, 0 or 1 once a cluster is lost."""
    return (params.weights * (params.means[..., 0] < 0)).sum(-1)


@dataclass
class RecursionResult:
    samples: int
    generations: np.ndarray  # (G+1,)
    params: GMMParams  # arrays (G+1, C, ...)
    l2: np.ndarray  # (G+1, C) squared L2 distance to the real mixture
    truth: GMMParams  # the real mixture (one chain)
    real_points: np.ndarray  # (M, 2) the real data of chain 0
    snapshots: dict[int, np.ndarray]  # generation -> (M, 2) samples of chain 0's model

    @property
    def std(self) -> np.ndarray:
        """Component standard deviations det(cov)^(1/4), (G+1, C, K)."""
        return self.params.component_std


def _run(cfg: GMMConfig, policy, generations: int, samples: int, chains: int, desc: str):
    h = run_generations(cfg.family(), cfg.source(), policy, generations=generations, samples=samples,
                        chains=chains, seed=cfg.seed, desc=desc)
    return GMMParams(h["weights"], h["means"], h["covs"])


def recursion(cfg: GMMConfig) -> RecursionResult:
    """The mixture refitted on M of its own samples, ``cfg.chains`` chains at once."""
    source = cfg.source()
    params = _run(cfg, Replace(), cfg.generations, cfg.samples, cfg.chains, "mixture, replace")
    truth = source_params(source)
    real = source.sample(cfg.chains, cfg.samples, generation_rng(cfg.seed, 0, "real"))[0]
    family = cfg.family()
    snaps = {}
    for t in cfg.snapshots:
        # the very points generation t+1 was fitted on (chain 0 of the engine's draw)
        at = GMMParams(params.weights[t], params.means[t], params.covs[t])
        snaps[t] = family.sample_points(at, cfg.samples, generation_rng(cfg.seed, t + 1, "synthetic"))[0]
    return RecursionResult(cfg.samples, np.arange(cfg.generations + 1), params, l2_to(params, truth), truth, real,
                           snaps)


def early_theory(res: RecursionResult) -> np.ndarray:
    """Median log component std predicted while the weights stay near 1/2 (G+1,)."""
    w0 = float(np.median(res.params.weights[0]))
    log_std0 = float(np.median(np.log(res.std[0])))
    return gmm_theory.expected_log_std(res.generations, res.samples, w0, 2, log_std0)


#: A chain "keeps both clusters" up to generation t while each component has drawn at
#: least this many points at every generation so far: the separated regime of the
#: per-component proposition, where every fit is a single-Gaussian fit to its points.
KEPT_MIN_POINTS = 10

#: A cluster is "lost" once the model's weight on it is below this (no point drawn).
LOST_MASS = 1e-3


def lost_at(params: GMMParams) -> np.ndarray:
    """(G+1, C): whether generation t's model puts less than ``LOST_MASS`` on a cluster."""
    mass = cluster_mass(params)
    return (mass < LOST_MASS) | (mass > 1 - LOST_MASS)


def lost_by(params: GMMParams) -> np.ndarray:
    """(G+1, C): whether the chain has lost a whole cluster at or before generation t."""
    return np.logical_or.accumulate(lost_at(params), axis=0)


def kept_both(rec: RecursionResult) -> np.ndarray:
    """(G+1, C): whether every component drew at least :data:`KEPT_MIN_POINTS` points at
    every generation up to t (and so no cluster was lost)."""
    counts = np.rint(rec.params.weights * rec.samples)  # (G+1, C, K)
    return np.logical_and.accumulate((counts >= KEPT_MIN_POINTS).all(-1), axis=0) & ~lost_by(rec.params)


def conditional_theory(rec: RecursionResult, reg_covar: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Predicted log component std given each chain's fitted weights, (G+1, C, K), and the
    variance of the observed value around it; valid for a chain while it keeps both
    clusters (:func:`kept_both`), NaN where a component drew fewer than d + 1 points.

    Each generation multiplies a component's squared std by exp(m / d), m the mean step
    of the proposition for the points it drew, and EM adds ``reg_covar`` back (as in
    :func:`collapse_lib.theory.gmm.typical_std`); without the regulariser this is the
    sum of the proposition's steps exactly."""
    d = rec.params.means.shape[-1]
    w = rec.params.weights[1:]
    ok = np.rint(w * rec.samples) >= d + 1
    n = np.where(ok, w, 1.0)  # a placeholder weight where the formula does not apply
    steps = gmm_theory.log_det_step_mean(np.rint(n * rec.samples), d) / d  # per generation, log of a variance
    _, var = gmm_theory.conditional_log_det_drift(n, rec.samples, d)
    v = np.empty((len(w) + 1,) + w.shape[1:])
    v[0] = rec.std[0] ** 2
    for t in range(len(w)):
        v[t + 1] = v[t] * np.exp(steps[t]) + reg_covar
    bad = np.concatenate([np.zeros_like(ok[:1]), np.logical_or.accumulate(~ok, axis=0)])
    pred = np.where(bad, np.nan, 0.5 * np.log(v))
    var = np.concatenate([np.zeros_like(rec.std[:1]), var / (2 * d) ** 2])
    return pred, np.where(bad, np.nan, var)


@dataclass
class KeptLost:
    """The chains split by generation t into those that kept both clusters and those that
    lost one: median component std of each group, the theory for the first, (G+1,)."""

    generations: np.ndarray
    kept_fraction: np.ndarray  # share of chains that kept both clusters
    lost_fraction: np.ndarray  # share of chains that lost one
    kept_median: np.ndarray  # NaN where the group is empty
    kept_theory: np.ndarray  # median of the conditional prediction over the same chains
    lost_median: np.ndarray
    straight_line: np.ndarray  # early-time closed form (weights 1/2)
    check_generation: int  # the latest generation at which at least a quarter kept both
    check_chains: int  # how many chains kept both there
    check_error: float  # mean (observed - predicted) log std there, over those chains' components
    check_stderr: float  # its standard error from the proposition's variance


def kept_vs_lost(rec: RecursionResult, reg_covar: float = 1e-6) -> KeptLost:
    """Chains that kept both clusters against chains that lost one, with the theory."""
    kept, lost = kept_both(rec), lost_by(rec.params)
    pred, var = conditional_theory(rec, reg_covar)
    log_std = np.log(rec.std)
    G1, C = kept.shape

    def group_median(values, mask):
        out = np.full(G1, np.nan)
        for t in range(G1):
            if mask[t].any():
                out[t] = np.exp(np.median(values[t, mask[t]]))
        return out

    enough = np.flatnonzero(kept.sum(1) >= max(2, C / 4))
    t = int(enough[-1])
    sel = kept[t]
    diff = (log_std[t, sel] - pred[t, sel]).ravel()
    se = float(np.sqrt(np.mean(var[t, sel]) / diff.size))
    return KeptLost(rec.generations, kept.mean(1), lost.mean(1), group_median(log_std, kept),
                    group_median(pred, kept), group_median(log_std, lost), np.exp(early_theory(rec)), t,
                    int(sel.sum()), float(diff.mean()), se)


def reset_at_loss(rec: RecursionResult, reg_covar: float = 1e-6) -> np.ndarray:
    """For every chain that lost a cluster (at generation t >= 1): whether its smallest
    component std was below 3 sqrt(reg_covar) at t - 1 (the dying component at the
    regulariser's level) and at least three times larger at t (re-spawned on the
    surviving cluster). Returns a boolean per such chain."""
    lost = lost_by(rec.params)
    out = []
    for c in np.flatnonzero(lost[-1]):
        t = int(np.argmax(lost[:, c]))
        if t == 0:
            continue
        before, after = rec.std[t - 1, c].min(), rec.std[t, c].min()
        out.append(before < 3 * np.sqrt(reg_covar) and after > 3 * before)
    return np.asarray(out, bool)


def one_blob_recursion(cfg: GMMConfig) -> RecursionResult | None:
    """The same recursion on the authors' real data (one isotropic blob), with
    ``cfg.one_blob_chains`` chains; None when that is 0."""
    if cfg.one_blob_chains == 0:
        return None
    return recursion(replace(cfg, real_data="one_blob", chains=cfg.one_blob_chains,
                             accumulate_chains=min(cfg.accumulate_chains, cfg.one_blob_chains)))


@dataclass
class ScalingResult:
    samples: tuple[int, ...]
    std: dict[int, np.ndarray]  # M -> (G_M+1, C, K) component standard deviations
    theory: dict[int, np.ndarray]  # M -> (G_M+1,) early-time log std prediction


def sample_size_scaling(cfg: GMMConfig) -> ScalingResult:
    """The recursion for several M, each for ``scaling_horizon * M`` generations."""
    res = ScalingResult(tuple(cfg.scaling_samples), {}, {})
    for M in cfg.scaling_samples:
        G = max(1, int(round(cfg.scaling_horizon * M)))
        p = _run(cfg, Replace(), G, M, cfg.scaling_chains, f"mixture, M={M}")
        res.std[M] = p.component_std
        res.theory[M] = gmm_theory.expected_log_std(np.arange(G + 1), M, 0.5, 2,
                                                    float(np.median(np.log(res.std[M][0]))))
    return res


def halving_generation(std: np.ndarray) -> int:
    """First generation where the median (over chains and components) std is below half
    its starting value (-1 if never)."""
    med = np.median(std.reshape(std.shape[0], -1), axis=1)
    below = np.nonzero(med < 0.5 * med[0])[0]
    return int(below[0]) if below.size else -1


def replace_vs_accumulate(cfg: GMMConfig, rec: RecursionResult) -> dict[str, dict[str, np.ndarray]]:
    """Accumulate (real data and every synthetic set kept) against replace, on the same
    chains and random streams; replace is the start of the main run."""
    G, C = cfg.accumulate_generations, cfg.accumulate_chains
    M = cfg.samples if cfg.accumulate_samples is None else cfg.accumulate_samples
    acc = _run(cfg, Accumulate(), G, M, C, "mixture, accumulate")
    if M == rec.samples:
        rep = GMMParams(*(a[: G + 1, :C] for a in (rec.params.weights, rec.params.means, rec.params.covs)))
    else:  # the same seed and streams at this M
        rep = _run(cfg, Replace(), G, M, C, "mixture, replace")
    return {
        name: {"l2": l2_to(p, rec.truth), "std": p.component_std, "mass": cluster_mass(p)}
        for name, p in (("replace", rep), ("accumulate", acc))
    }


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


def summary(rec: RecursionResult, scaling: ScalingResult, policies: dict, blob: RecursionResult | None = None,
            profile: str | None = None) -> dict:
    """The chapter's numbers, as JSON-ready values (what the command line writes)."""
    lost = lost_at(rec.params)[-1]
    kl = kept_vs_lost(rec)
    return {
        "profile": profile,
        "claims": [c.as_dict() for c in claims(rec, scaling, policies, blob)],
        "one_blob": _recursion_numbers(blob) if blob is not None else None,
        "kept_vs_lost": {"generation": kl.check_generation, "kept_chains": kl.check_chains,
                         "log_std_gap": kl.check_error, "log_std_gap_stderr": kl.check_stderr,
                         "final_median_std_lost": float(kl.lost_median[-1]),
                         "reg_covar_level": gmm_theory.reg_covar_floor(rec.samples, 0.5, 2, 1e-6),
                         "final_straight_line": float(kl.straight_line[-1])},
        "paper": PAPER,
        "recursion": {
            **_recursion_numbers(rec),
            "fraction_chains_cluster_lost": float(lost.mean()),
            "theory_median_std_final_early_rate": float(np.exp(early_theory(rec)[-1])),
        },
        "scaling": {
            str(M): {"generations": int(s.shape[0] - 1), "halving_generation": halving_generation(s),
                     "halving_generation_over_M": halving_generation(s) / M}
            for M, s in scaling.std.items()
        },
        "policies": {
            name: {"generations": int(d["l2"].shape[0] - 1), "median_l2_final": float(np.median(d["l2"][-1])),
                   "median_std_final": float(np.median(d["std"][-1]))}
            for name, d in policies.items()
        },
    }


# ------------------------------------------------------------------ claims the page makes
#: Standard errors a theory-vs-run claim may be off by (a false alarm below 1e-4 each).
Z_CLAIM = 4.0


def claims_recursion(rec: RecursionResult) -> list[Claim]:
    """What the chapter says about the main recursion, checked on its numbers."""
    std, l2, M = rec.std, rec.l2, rec.samples
    G = int(rec.generations[-1])
    kl = kept_vs_lost(rec)
    out = [
        claim("the squared L2 distance to the real mixture grows by orders of magnitude",
              np.median(l2[-1]) > 100 * np.median(l2[0]),
              f"median {np.median(l2[0]):.3g} at generation 0, {np.median(l2[-1]):.3g} at generation {G}"),
        claim("every component shrinks: the median component std falls below a twentieth of its start",
              np.median(std[-1]) < np.median(std[0]) / 20,
              f"median {np.median(std[0]):.3f} -> {np.median(std[-1]):.4f}"),
        claim("in chains that kept both clusters the component std follows the per-component proposition "
              f"(mean gap within {Z_CLAIM:g} standard errors)",
              abs(kl.check_error) < Z_CLAIM * kl.check_stderr,
              f"generation {kl.check_generation}, {kl.check_chains} chains: observed minus predicted log std "
              f"{kl.check_error:+.3f}, standard error {kl.check_stderr:.3f}"),
    ]
    t_med = gmm_theory.cluster_loss_median(M)
    if t_med <= G:
        C = rec.std.shape[1]
        band = 3 * 0.5 / np.sqrt(C)  # three binomial standard errors of the share
        out.append(claim("a whole cluster is lost at the pace of the Wright-Fisher chain: about half of the "
                         "chains have lost one by its median time",
                         abs(kl.lost_fraction[t_med] - 0.5) < band,
                         f"{kl.lost_fraction[t_med]:.0%} of {C} chains by generation {t_med} = {t_med / M:.2f} M "
                         f"(allowed: 50 % +/- {band:.0%})"))
    reset = reset_at_loss(rec)
    out.append(claim("in most chains that lost a cluster, the dying component had shrunk to the reg_covar level "
                     "(std below 3 sqrt(reg_covar)) and the split of the surviving cluster set it back up "
                     "(at least threefold)", reset.size > 0 and reset.mean() >= 0.5,
                     f"{reset.sum()} of {reset.size} chains that lost a cluster" if reset.size else "no chain lost one"))
    lost_end = kl.lost_fraction[-1] > 0
    out.append(claim("at the end the median std, over all chains and over those that lost a cluster, sits above "
                     "the closed form's straight line",
                     lost_end and kl.lost_median[-1] > kl.straight_line[-1]
                     and np.median(std[-1]) > kl.straight_line[-1],
                     f"median std {np.median(std[-1]):.4f}, of the chains that lost a cluster "
                     f"{kl.lost_median[-1]:.4f} ({kl.lost_fraction[-1]:.0%} of chains), against "
                     f"{kl.straight_line[-1]:.4f} at generation {G}" if lost_end else "no chain lost one"))
    return out


def pace_stderr(std: np.ndarray, samples: int, generation: int) -> float:
    """Standard error of :func:`halving_generation` / M from the proposition: the median
    log std of n components at generation t has standard error 1.2533 sqrt(t v / n)
    (v the per-generation variance), and the line falls by m per generation."""
    d = 2
    n_pts = max(round(samples / 2), d + 1)
    m = abs(gmm_theory.log_det_step_mean(n_pts, d)) / (2 * d)
    v = gmm_theory.log_det_step_var(n_pts, d) / (2 * d) ** 2
    n = std[0].size
    return float(1.2533 * np.sqrt(max(generation, 1) * v / n) / m / samples)


def claims_pace(scaling: ScalingResult) -> list[Claim]:
    """The pace of collapse scales with 1/M."""
    pace = {M: halving_generation(s) for M, s in scaling.std.items()}
    ok = all(g > 0 for g in pace.values())
    se = {M: pace_stderr(scaling.std[M], M, g) for M, g in pace.items()}
    worst = max(abs(pace[a] / a - pace[b] / b) / np.hypot(se[a], se[b]) for a in pace for b in pace if a < b) \
        if ok and len(pace) > 1 else np.inf
    return [claim("the median component std halves after the same multiple of M generations for every M",
                  ok and worst < Z_CLAIM,
                  ", ".join(f"M = {M}: {g / M:.2f} M" for M, g in pace.items())
                  + f" (largest gap {worst:.1f} standard errors; allowed {Z_CLAIM:g})")]


def claims_policies(policies: dict) -> list[Claim]:
    """Accumulate against replace on the same chains."""
    rep, acc = policies["replace"], policies["accumulate"]
    G = acc["l2"].shape[0] - 1
    s0, s1 = np.median(acc["std"][0]), np.median(acc["std"][-1])
    return [
        claim("with accumulation the mixture stays close to the real one: its L2 distance ends far below "
              "replace's (under a tenth)",
              np.median(acc["l2"][-1]) < np.median(rep["l2"][-1]) / 10,
              f"median squared L2 at generation {G}: accumulate {np.median(acc['l2'][-1]):.3g}, "
              f"replace {np.median(rep['l2'][-1]):.3g}"),
        claim("with accumulation the component std stays within 20 % of its start, while replace's collapses",
              abs(s1 / s0 - 1) < 0.2 and np.median(rep["std"][-1]) < 0.8 * s0,
              f"median std accumulate {s0:.3f} -> {s1:.3f}, replace -> {np.median(rep['std'][-1]):.3f}"),
    ]


def claims_one_blob(blob: RecursionResult) -> list[Claim]:
    """The authors' one-blob data collapse too."""
    std, l2 = blob.std, blob.l2
    return [
        claim("on the authors' one blob the components collapse as well (median std below a twentieth of "
              "its start) and the L2 distance grows by orders of magnitude",
              np.median(std[-1]) < np.median(std[0]) / 20 and np.median(l2[-1]) > 100 * np.median(l2[0]),
              f"median std {np.median(std[0]):.3f} -> {np.median(std[-1]):.4f}, "
              f"squared L2 {np.median(l2[0]):.3g} -> {np.median(l2[-1]):.3g}"),
    ]


def claims(rec: RecursionResult, scaling: ScalingResult | None = None, policies: dict | None = None,
           blob: RecursionResult | None = None) -> list[Claim]:
    """Every claim the chapter makes about its own run (those of the parts given)."""
    out = claims_recursion(rec)
    if blob is not None:
        out += claims_one_blob(blob)
    if scaling is not None:
        out += claims_pace(scaling)
    if policies is not None:
        out += claims_policies(policies)
    return out


def run_all(cfg: GMMConfig):
    """Every experiment of the chapter: (recursion, scaling, policies)."""
    rec = recursion(cfg)
    return rec, sample_size_scaling(cfg), replace_vs_accumulate(cfg, rec)


