"""Chapter 2, Gaussian mixtures: the experiments behind every figure.

Follows Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024), Fig. 2 and the notebook ``Normals_GMM_experiments.ipynb``
of their repository: a two-component, full-covariance mixture refitted by EM on 1,000 of
its own samples for 2,000 generations, with snapshots at generations 0, 50, 100, 150, 200,
350 and 2000 and the closed-form L2 distance to the original mixture. Our real data are
two clusters (the notebook used one isotropic blob, ``real_data="one_blob"`` here); the
*accumulate* policy is the one of Gerstgrasser et al. (COLM 2024).

The chapter follows the protocol of :mod:`collapse_lib.protocol`: ``Config`` and
``PROFILES``, ``run(cfg, run) -> Result``, and (from :mod:`.gmm_claims`) ``summary`` and
``claims``. Every analysis of a recursion is a cached property of its
:class:`RecursionResult`, computed once for the figures, the page, the summary and the
claims.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..engine import run_generations
from ..families.gmm import GMMFamily, GMMParams, one_blob, source_params, two_clusters
from ..metrics_gmm import l2_squared, l2_to
from ..policies import Accumulate, Replace
from ..protocol import Run
from ..runtime import cpu_threads, generation_rng
from ..theory import gmm as gmm_theory
from ..validation import check_choice, check_int, check_positive, check_sample_size
from .gmm_claims import PAPER, claims, summary

__all__ = ["PAPER", "PROFILES", "Config", "Result", "claims", "run", "summary"]

MIN_SAMPLES = GMMFamily().min_samples


@dataclass(frozen=True)
class Config:
    """Sizes of the chapter's experiments (one instance per profile)."""

    seed: int = 0  # every experiment derives its random streams from this seed
    real_data: str = "two_clusters"  # or "one_blob", the authors' make_blobs(centers=[[0, 0]])
    separation: float = 6.0  # distance between the centres of the two real clusters
    # the recursion of Shumailov et al., Fig. 2
    samples: int = 1000  # M: points sampled (and fitted) each generation, as in the paper
    generations: int = 2000  # G: generations after the fit to the real data (2,000 in the paper)
    chains: int = 32  # independent runs, each with its own random streams
    snapshots: tuple[int, ...] = (0, 50, 100, 150, 200, 350, 2000)  # generations drawn
    tol: float = 1e-5  # EM tolerance of the authors' notebook (scikit-learn's default: 1e-3)
    max_iter: int = 2000  # EM iterations at most, as in the notebook
    reg_covar: float = 1e-6  # added to every covariance's diagonal by EM (scikit-learn's default, the notebook's)
    # the regulariser's floor: the recursion rerun with a negligible reg_covar, and the per-component theory
    control_reg_covar: float = 1e-12  # reg_covar of the control run
    control_chains: int = 8  # chains of the control run (0: not run)
    theory_chains: int = 1000  # chains of the simulated per-component recursion with reg_covar
    # the pace of collapse against M
    scaling_samples: tuple[int, ...] = (250, 500, 1000)  # M values compared
    scaling_horizon: float = 1.0  # each M runs horizon * M generations
    scaling_chains: int = 16  # chains of each M
    # replace vs accumulate (the training set grows by M points a generation)
    accumulate_generations: int = 200  # fewer than `generations`: EM cost grows with the set
    accumulate_chains: int = 16  # the first chains of the replace run
    accumulate_samples: int | None = None  # M of both; None: the main run's M and chains, else both run anew
    # the authors' real data beside ours: the same recursion on one blob (0: not run)
    one_blob_chains: int = 16  # chains of the one-blob recursion

    def __post_init__(self):
        check_choice("real_data", self.real_data, ("two_clusters", "one_blob"))
        check_positive("separation", self.separation)
        for name in ("generations", "chains", "scaling_chains", "accumulate_generations", "accumulate_chains",
                     "max_iter"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("one_blob_chains", self.one_blob_chains, minimum=0)
        check_int("control_chains", self.control_chains, minimum=0)
        check_int("theory_chains", self.theory_chains, minimum=2)
        for name in ("reg_covar", "control_reg_covar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name}={value!r} is not allowed: it must be a number >= 0")
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

    def family(self, device: str | None = None) -> GMMFamily:
        """The fitted model: two full-covariance components in 2-D, EM with this config's
        ``tol``, ``max_iter`` and ``reg_covar``, on ``device`` (None: CUDA when present)."""
        return GMMFamily(2, 2, tol=self.tol, max_iter=self.max_iter, reg_covar=self.reg_covar, device=device)

    def source(self):
        return two_clusters(self.separation) if self.real_data == "two_clusters" else one_blob()


PROFILES = {
    # M = 100: ten times fewer samples, so ten times fewer generations show the same story
    "quick": Config(samples=100, generations=200, chains=16, snapshots=(0, 5, 10, 15, 20, 35, 200),
                    scaling_samples=(50, 100, 200), scaling_chains=8, accumulate_generations=60, accumulate_chains=8,
                    control_chains=16),
    # the authors' recursion (M = 1000, 2,000 generations, their snapshots) on 32 chains and, beside
    # it, on their one-blob data; the pace on fewer chains; replace vs accumulate at M = 100 for 1.5 M
    # generations (at M = 1000 the growing training set would cost more than the rest of the chapter)
    # (2,049 generations: the notebook's 2,050 fits, the last one it reports)
    "cpu": Config(generations=2049, scaling_chains=8, accumulate_samples=100, accumulate_generations=150, accumulate_chains=8,
                  one_blob_chains=16),
    "gpu": Config(),
    "paper": Config(generations=2050, chains=64, scaling_samples=(250, 500, 1000, 2000), scaling_chains=32,
                    accumulate_generations=400, accumulate_chains=32),
}

#: A chain "keeps both clusters" up to generation t while each component has drawn at
#: least this many points at every generation so far: the separated regime of the
#: per-component proposition, where every fit is a single-Gaussian fit to its points.
KEPT_MIN_POINTS = 10

#: A cluster is "lost" once the model's weight on it is below this (no point drawn).
LOST_MASS = 1e-3


def cluster_mass(params: GMMParams) -> np.ndarray:
    """Weight the model gives to the left real cluster (components whose mean has a
    negative first coordinate), (..., ): 1/2 at the start, 0 or 1 once a cluster is lost."""
    return (params.weights * (params.means[..., 0] < 0)).sum(-1)


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
    check_generation: int  # the latest generation <= M at which at least a quarter kept both
    check_chains: int  # how many chains kept both there
    check_error: float  # mean (observed - predicted) log std there, over those chains' components
    check_stderr: float  # its standard error from the proposition's variance
    reg_covar_level: float  # sqrt(reg_covar N), N = M/2: where EM's reg_covar balances the mean shrink


@dataclass
class RecursionResult:
    """The mixture refitted on M of its own samples, chain by chain, and every analysis
    the chapter draws and checks on it (cached: each computed once)."""

    samples: int
    generations: np.ndarray  # (G+1,)
    params: GMMParams  # arrays (G+1, C, ...)
    l2: np.ndarray  # (G+1, C) squared L2 distance to the real mixture
    truth: GMMParams  # the real mixture (one chain)
    real_points: np.ndarray  # (M, 2) the real data of chain 0
    snapshots: dict[int, np.ndarray]  # generation -> (M, 2) samples of chain 0's model
    reg_covar: float  # what EM added to every covariance's diagonal (the family's)

    @cached_property
    def std(self) -> np.ndarray:
        """Component standard deviations det(cov)^(1/4), (G+1, C, K)."""
        return self.params.component_std

    @cached_property
    def std_trace(self) -> np.ndarray:
        """The authors' notebook's component std, sqrt(tr(cov) / d), (G+1, C, K): at least
        det(cov)^(1/2d), equal for a round component."""
        return np.sqrt(np.trace(self.params.covs, axis1=-2, axis2=-1) / self.params.means.shape[-1])

    @cached_property
    def l2_to_first(self) -> np.ndarray:
        """(G+1, C) the notebook's distance: squared L2 from each chain's generation-0 fit (not
        the real mixture) to its generation t."""
        p = self.params
        return l2_squared(p.weights, p.means, p.covs, p.weights[0], p.means[0], p.covs[0])

    @cached_property
    def mass(self) -> np.ndarray:
        """(G+1, C): the weight on the left real cluster (:func:`cluster_mass`)."""
        return cluster_mass(self.params)

    @cached_property
    def lost_at(self) -> np.ndarray:
        """(G+1, C): whether generation t's model puts less than :data:`LOST_MASS` on a cluster."""
        return (self.mass < LOST_MASS) | (self.mass > 1 - LOST_MASS)

    @cached_property
    def lost_by(self) -> np.ndarray:
        """(G+1, C): whether the chain has lost a whole cluster at or before generation t."""
        return np.logical_or.accumulate(self.lost_at, axis=0)

    @cached_property
    def kept_both(self) -> np.ndarray:
        """(G+1, C): whether every component drew at least :data:`KEPT_MIN_POINTS` points at
        every generation up to t (and so no cluster was lost)."""
        counts = np.rint(self.params.weights * self.samples)  # (G+1, C, K)
        return np.logical_and.accumulate((counts >= KEPT_MIN_POINTS).all(-1), axis=0) & ~self.lost_by

    @cached_property
    def early_theory(self) -> np.ndarray:
        """Median log component std predicted while the weights stay near 1/2 (G+1,)."""
        w0 = float(np.median(self.params.weights[0]))
        log_std0 = float(np.median(np.log(self.std[0])))
        return gmm_theory.expected_log_std(self.generations, self.samples, w0, 2, log_std0)

    @cached_property
    def conditional_theory(self) -> tuple[np.ndarray, np.ndarray]:
        """Predicted log component std given each chain's fitted weights, (G+1, C, K), and the
        variance of the observed value around it; valid for a chain while it keeps both
        clusters (:attr:`kept_both`), NaN where a component drew fewer than d + 1 points.

        Each generation multiplies a component's squared std by exp(m / d), m the mean step
        of the proposition for the points it drew: the proposition alone, without the
        ``reg_covar`` EM adds (compare it with the run at generations <= M, where the
        regulariser adds a few per cent of a variance or less)."""
        d = self.params.means.shape[-1]
        w = self.params.weights[1:]
        ok = np.rint(w * self.samples) >= d + 1
        n = np.where(ok, w, 1.0)  # a placeholder weight where the formula does not apply
        steps = gmm_theory.log_det_step_mean(np.rint(n * self.samples), d) / d  # per generation, log of a variance
        _, var = gmm_theory.conditional_log_det_drift(n, self.samples, d)
        v = np.empty((len(w) + 1,) + w.shape[1:])
        v[0] = self.std[0] ** 2
        for t in range(len(w)):
            v[t + 1] = v[t] * np.exp(steps[t])
        bad = np.concatenate([np.zeros_like(ok[:1]), np.logical_or.accumulate(~ok, axis=0)])
        pred = np.where(bad, np.nan, 0.5 * np.log(v))
        var = np.concatenate([np.zeros_like(self.std[:1]), var / (2 * d) ** 2])
        return pred, np.where(bad, np.nan, var)

    @cached_property
    def kept_vs_lost(self) -> KeptLost:
        """Chains that kept both clusters against chains that lost one, with the theory."""
        kept, lost = self.kept_both, self.lost_by
        pred, var = self.conditional_theory
        log_std = np.log(self.std)
        G1, C = kept.shape

        def group_median(values, mask):
            out = np.full(G1, np.nan)
            for t in range(G1):
                if mask[t].any():
                    out[t] = np.exp(np.median(values[t, mask[t]]))
            return out

        enough = np.flatnonzero(kept[: self.samples + 1].sum(1) >= max(2, C / 4))
        t = int(enough[-1])
        sel = kept[t]
        diff = (log_std[t, sel] - pred[t, sel]).ravel()
        se = float(np.sqrt(np.mean(var[t, sel]) / diff.size))
        return KeptLost(self.generations, kept.mean(1), lost.mean(1), group_median(log_std, kept),
                        group_median(pred, kept), group_median(log_std, lost), np.exp(self.early_theory), t,
                        int(sel.sum()), float(diff.mean()), se,
                        gmm_theory.reg_covar_level(self.samples, 0.5, self.reg_covar))

    @cached_property
    def reset_at_loss(self) -> np.ndarray:
        """For every chain that lost a cluster (at generation t >= 1): whether its smallest
        component std was below 3 sqrt(reg_covar) at t - 1 (a dying component with a handful
        of points, held by the regulariser: sqrt(reg_covar N) for N of a few points) and at
        least three times larger at t (re-spawned on the surviving cluster). Returns a
        boolean per such chain."""
        lost = self.lost_by
        out = []
        for c in np.flatnonzero(lost[-1]):
            t = int(np.argmax(lost[:, c]))
            if t == 0:
                continue
            before, after = self.std[t - 1, c].min(), self.std[t, c].min()
            out.append(before < 3 * np.sqrt(self.reg_covar) and after > 3 * before)
        return np.asarray(out, bool)


def halving_generation(std: np.ndarray) -> int:
    """First generation where the median (over chains and components) std is below half
    its starting value (-1 if never)."""
    med = np.median(std.reshape(std.shape[0], -1), axis=1)
    below = np.nonzero(med < 0.5 * med[0])[0]
    return int(below[0]) if below.size else -1


@dataclass
class ScalingResult:
    samples: tuple[int, ...]
    std: dict[int, np.ndarray]  # M -> (G_M+1, C, K) component standard deviations
    theory: dict[int, np.ndarray]  # M -> (G_M+1,) early-time log std prediction

    @cached_property
    def halving(self) -> dict[int, int]:
        """M -> the generation where the median component std halves (:func:`halving_generation`)."""
        return {M: halving_generation(s) for M, s in self.std.items()}


@dataclass
class Result:
    """The chapter's run: the recursion of Fig. 2, its pace against M, replace against
    accumulate (``{policy: {"l2", "std", "mass"}}``, arrays (G+1, C, ...)), the recursion
    on the authors' one blob (None when ``one_blob_chains`` is 0), the control run with a
    negligible ``reg_covar`` (None when ``control_chains`` is 0) and the per-component
    recursion with and without the regulariser, simulated (``{reg_covar: (G+1, chains)}``)."""

    recursion: RecursionResult
    scaling: ScalingResult
    policies: dict[str, dict[str, np.ndarray]]
    one_blob: RecursionResult | None
    control: RecursionResult | None = None
    component_theory: dict[float, np.ndarray] | None = None


def _run(cfg: Config, run: Run, policy, generations: int, samples: int, chains: int, desc: str):
    h = run_generations(cfg.family(run.device), cfg.source(), policy, generations=generations, samples=samples,
                        chains=chains, seed=cfg.seed, progress=run.progress, desc=desc)
    return GMMParams(h["weights"], h["means"], h["covs"])


def recursion(cfg: Config, run: Run | None = None) -> RecursionResult:
    """The mixture refitted on M of its own samples, ``cfg.chains`` chains at once."""
    run = run or Run()
    source = cfg.source()
    params = _run(cfg, run, Replace(), cfg.generations, cfg.samples, cfg.chains, "mixture, replace")
    truth = source_params(source)
    real = source.sample(cfg.chains, cfg.samples, generation_rng(cfg.seed, 0, "real"))[0]
    family = cfg.family(run.device)
    snaps = {}
    for t in cfg.snapshots:
        # the very points generation t+1 was fitted on (chain 0 of the engine's draw)
        at = GMMParams(params.weights[t], params.means[t], params.covs[t])
        snaps[t] = family.sample_points(at, cfg.samples, generation_rng(cfg.seed, t + 1, "synthetic"))[0]
    return RecursionResult(cfg.samples, np.arange(cfg.generations + 1), params, l2_to(params, truth), truth, real,
                           snaps, family.reg_covar)


def one_blob_recursion(cfg: Config, run: Run | None = None) -> RecursionResult | None:
    """The same recursion on the authors' real data (one isotropic blob), with
    ``cfg.one_blob_chains`` chains; None when that is 0."""
    if cfg.one_blob_chains == 0:
        return None
    return recursion(replace(cfg, real_data="one_blob", chains=cfg.one_blob_chains,
                             accumulate_chains=min(cfg.accumulate_chains, cfg.one_blob_chains)), run)


def control_recursion(cfg: Config, run: Run | None = None) -> RecursionResult | None:
    """The main recursion with ``reg_covar = cfg.control_reg_covar`` on ``cfg.control_chains``
    chains (None when that is 0): what the components do without the regulariser."""
    if cfg.control_chains == 0:
        return None
    return recursion(replace(cfg, reg_covar=cfg.control_reg_covar, chains=cfg.control_chains,
                             accumulate_chains=min(cfg.accumulate_chains, cfg.control_chains)), run)


def component_theory(cfg: Config, std0: float) -> dict[float, np.ndarray]:
    """The per-component recursion (N = M/2 points, from ``std0``) simulated with the run's
    ``reg_covar`` and with the control's: ``{reg_covar: (G+1, cfg.theory_chains)}``."""
    return {r: gmm_theory.component_recursion(cfg.samples, 0.5, 2, std0, r, cfg.generations, cfg.theory_chains,
                                              generation_rng(cfg.seed, 0, "eval"))
            for r in (cfg.reg_covar, cfg.control_reg_covar)}


def sample_size_scaling(cfg: Config, run: Run | None = None) -> ScalingResult:
    """The recursion for several M, each for ``scaling_horizon * M`` generations."""
    run = run or Run()
    res = ScalingResult(tuple(cfg.scaling_samples), {}, {})
    for M in cfg.scaling_samples:
        G = max(1, int(round(cfg.scaling_horizon * M)))
        p = _run(cfg, run, Replace(), G, M, cfg.scaling_chains, f"mixture, M={M}")
        res.std[M] = p.component_std
        res.theory[M] = gmm_theory.expected_log_std(np.arange(G + 1), M, 0.5, 2,
                                                    float(np.median(np.log(res.std[M][0]))))
    return res


def replace_vs_accumulate(cfg: Config, rec: RecursionResult,
                          run: Run | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Accumulate (real data and every synthetic set kept) against replace, on the same
    chains and random streams; replace is the start of the main run."""
    run = run or Run()
    G, C = cfg.accumulate_generations, cfg.accumulate_chains
    M = cfg.samples if cfg.accumulate_samples is None else cfg.accumulate_samples
    acc = _run(cfg, run, Accumulate(), G, M, C, "mixture, accumulate")
    if M == rec.samples:
        rep = GMMParams(*(a[: G + 1, :C] for a in (rec.params.weights, rec.params.means, rec.params.covs)))
    else:  # the same seed and streams at this M
        rep = _run(cfg, run, Replace(), G, M, C, "mixture, replace")
    return {
        name: {"l2": l2_to(p, rec.truth), "std": p.component_std, "mass": cluster_mass(p)}
        for name, p in (("replace", rep), ("accumulate", acc))
    }


def run(cfg: Config, run: Run | None = None) -> Result:
    """Every experiment of the chapter. ``run`` says where it computes (device, threads,
    progress bars); the chapter keeps no run store: a rerun computes it again."""
    run = run or Run()
    with cpu_threads(run.threads_or(None)):
        rec = recursion(cfg, run)
        return Result(rec, sample_size_scaling(cfg, run), replace_vs_accumulate(cfg, rec, run),
                      one_blob_recursion(cfg, run), control_recursion(cfg, run),
                      component_theory(cfg, float(np.median(rec.std[0]))))
