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

from dataclasses import asdict, dataclass

import numpy as np

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
    device: str | None = None  # "cpu", "cuda" or None (CUDA when present)

    def __post_init__(self):
        check_choice("real_data", self.real_data, ("two_clusters", "one_blob"))
        check_positive("separation", self.separation)
        for name in ("generations", "chains", "scaling_chains", "accumulate_generations", "accumulate_chains",
                     "max_iter"):
            check_int(name, getattr(self, name), minimum=1)
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
    acc = _run(cfg, Accumulate(), G, cfg.samples, C, "mixture, accumulate")
    rep = GMMParams(*(a[: G + 1, :C] for a in (rec.params.weights, rec.params.means, rec.params.covs)))
    return {
        name: {"l2": l2_to(p, rec.truth), "std": p.component_std, "mass": cluster_mass(p)}
        for name, p in (("replace", rep), ("accumulate", acc))
    }


def summary(rec: RecursionResult, scaling: ScalingResult, policies: dict) -> dict:
    """The chapter's numbers, as JSON-ready values (what the command line writes)."""
    std = rec.std
    mass = cluster_mass(rec.params)
    lost = (mass[-1] < 1e-3) | (mass[-1] > 1 - 1e-3)
    return {
        "paper": PAPER,
        "recursion": {
            "samples": rec.samples,
            "generations": int(rec.generations[-1]),
            "chains": int(std.shape[1]),
            "median_std_start": float(np.median(std[0])),
            "median_std_final": float(np.median(std[-1])),
            "std_final_quantiles_10_90": [float(q) for q in np.quantile(std[-1], [0.1, 0.9])],
            "median_l2_start": float(np.median(rec.l2[0])),
            "median_l2_final": float(np.median(rec.l2[-1])),
            "l2_final_quantiles_10_90": [float(q) for q in np.quantile(rec.l2[-1], [0.1, 0.9])],
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


def run_all(cfg: GMMConfig):
    """Every experiment of the chapter: (recursion, scaling, policies)."""
    rec = recursion(cfg)
    return rec, sample_size_scaling(cfg), replace_vs_accumulate(cfg, rec)


def config_dict(cfg: GMMConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
