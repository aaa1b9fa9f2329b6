"""Chapter 6, larger models: the cost of synthetic labels as the sample size n grows, at
fixed widths (the floor of strong model collapse, in the variable it is about).

Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025), say that with
a constant fraction p of synthetic labels the test error has a floor that more data does
not remove. The width sweep of :mod:`collapse_lib.experiments.larger` holds n fixed, so
the cost it measures at one n is a finite-sample cost; this module varies n instead, at
a few fixed widths m and for the infinitely wide model:

- below the threshold (n >= m + 2) the exact cost given S, w and delta is
  :func:`collapse_lib.theory.random_features.cost_split`: a bias q^2 (c2 - res(delta)),
  the floor at width m, plus variance parts that fade as m / n -> 0;
- the infinitely wide model with n >= d + 2 points is least squares in x, whose cost is
  chapter 5's B(n, round(p n); d) c2 for any input covariance
  (:func:`collapse_lib.theory.random_features.wide_error`), with the floor p^2 c2.

The formulas are averaged over the chapter's draws of S, w and the shift direction, and
checked against a simulation at ``floor_simulated`` times the chapter's n.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .. import protocol
from ..claims import Claim, claim
from ..families.random_features import RandomFeatureRidge, blas_threads, draw_problems
from ..progress import progress
from ..protocol import Run
from ..theory import random_features as theory

if TYPE_CHECKING:
    from .larger import Config

#: The format of the run store's pieces; raising it keeps a rerun from reading older ones.
STORE_FORMAT = 1

#: Standard errors a claim may be off by (a false alarm below 1e-4 each), as in larger_claims.
Z_CLAIM = 4.0

#: How close to its bias the cost must be at the largest n of the sweep (relative).
REACHED = 0.05


def floor_widths(cfg: Config) -> np.ndarray:
    """The fixed widths m of the sample sweep: ``floor_ratios`` times the chapter's n."""
    return np.unique(np.maximum(1, np.round(np.asarray(cfg.floor_ratios, float) * cfg.n))).astype(int)


def floor_sizes(cfg: Config) -> np.ndarray:
    """The sample sizes n of the exact curves: ``floor_sizes`` times the chapter's n."""
    return np.unique(np.round(np.asarray(cfg.floor_sizes, float) * cfg.n)).astype(int)


@dataclass
class FloorResult:
    n0: int  # the chapter's n (the width sweep's training-set size)
    d: int  # input dimension
    noise: float  # label-noise variance sigma^2
    sizes: np.ndarray  # (N,) sample sizes of the exact curves
    widths: np.ndarray  # (W,) fixed widths m; the infinitely wide model is the extra last column below
    label_sets: list  # [(p, c2)], the first real labels only
    forms: np.ndarray  # (W, D, 3) res(w), res(u), cross over the D theory draws (delta = sqrt(c2) u)
    sim_sizes: np.ndarray  # (M,) sizes also simulated
    sim_errors: np.ndarray  # (seeds, M, L, W + 1) simulated test error; the last column infinitely wide

    # ---- the exact curves, (L, W + 1, N) with the infinitely wide model last (NaN where a formula does not apply)
    def _parts(self, n: np.ndarray) -> dict[str, np.ndarray]:
        """Per draw: real-only error and the three parts of the cost, (D, L, W + 1, len(n))."""
        L, W, D = len(self.label_sets), len(self.widths), self.forms.shape[1]
        out = {k: np.full((D, L, W + 1, len(n)), np.nan) for k in ("real", "bias", "variance", "unseen")}
        for k, m in enumerate(self.widths.tolist()):
            ok = n >= m + 2
            rw, ru, cross = (self.forms[k, :, i][:, None] for i in range(3))
            real = rw + (self.noise + rw) * (m / (n[ok] - m - 1.0))
            for l, (p, c2) in enumerate(self.label_sets):
                out["real"][:, l, k, ok] = real
                split = theory.cost_split(m, n[ok], p, c2, rw, c2 * ru, rw + c2 * ru + 2 * np.sqrt(c2) * cross)
                for key, v in split.items():
                    out[key][:, l, k, ok] = v
        ok = n >= self.d + 2
        for l, (p, c2) in enumerate(self.label_sets):
            real, cost = theory.wide_error(n[ok], self.d, self.noise, p, c2)
            q = theory.synthetic_share(n[ok], p)
            out["real"][:, l, W, ok] = real
            out["bias"][:, l, W, ok] = q**2 * c2
            out["variance"][:, l, W, ok] = cost - q**2 * c2
            out["unseen"][:, l, W, ok] = 0.0
        return out

    @cached_property
    def exact(self) -> dict[str, np.ndarray]:
        """Mean over the theory draws of ``real`` (the real-only error), ``bias``,
        ``variance``, ``unseen`` and ``cost`` (their sum), each (L, W + 1, N); ``cost_se``
        the standard error of the cost's mean over the draws."""
        parts = self._parts(self.sizes)
        cost = parts["bias"] + parts["variance"] + parts["unseen"]
        D = cost.shape[0]
        out = {k: v.mean(0) for k, v in parts.items()}
        out["cost"] = cost.mean(0)
        out["cost_se"] = cost.std(0, ddof=1) / np.sqrt(D) if D > 1 else np.zeros_like(out["cost"])
        return out

    @cached_property
    def floor(self) -> np.ndarray:
        """(L, W + 1): the limit of the cost as n -> infinity, p^2 (c2 - res(delta)) at width m
        (mean over the draws) and p^2 c2 for the infinitely wide model."""
        out = np.empty((len(self.label_sets), len(self.widths) + 1))
        for l, (p, c2) in enumerate(self.label_sets):
            out[l, :-1] = p**2 * (c2 - c2 * self.forms[:, :, 1].mean(1))
            out[l, -1] = p**2 * c2
        return out

    @cached_property
    def unseen_share(self) -> np.ndarray:
        """(W + 1,): res(delta) / c2, the share of the shift's variance that width m cannot
        represent (mean over the draws; 0 for the infinitely wide model)."""
        return np.append(self.forms[:, :, 1].mean(1), 0.0)

    @cached_property
    def sim_exact(self) -> tuple[np.ndarray, np.ndarray]:
        """(L, W + 1, M) twice: the exact expected error (real-only error plus cost) at the
        simulated sizes, and its standard error over the theory draws."""
        parts = self._parts(self.sim_sizes)
        err = parts["real"] + parts["bias"] + parts["variance"] + parts["unseen"]
        D = err.shape[0]
        se = err.std(0, ddof=1) / np.sqrt(D) if D > 1 else np.zeros(err.shape[1:])
        return err.mean(0), se

    @cached_property
    def sim_cost(self) -> tuple[np.ndarray, np.ndarray]:
        """(M, L, W + 1) twice: the simulated cost (error minus the same problem's real-only
        error), mean over seeds, and its standard error."""
        c = self.sim_errors - self.sim_errors[:, :, :1]
        S = len(c)
        return c.mean(0), (c.std(0, ddof=1) / np.sqrt(S) if S > 1 else np.full(c.shape[1:], np.inf))


def _simulate(cfg: Config, n: int, widths: np.ndarray, sets, seeds: int, first: int, threads) -> np.ndarray:
    """Test errors (seeds, L, W + 1) of the fixed widths and of least squares in x (the
    infinitely wide model; NaN when n < d + 2) on fresh problems of n points."""
    P = draw_problems(seeds=seeds, n=n, d=cfg.d, m_max=int(widths[-1]), spectrum=cfg.spectrum, noise=cfg.noise,
                      signal=cfg.signal, seed=cfg.seed + 20_000 + n, first=first)
    Y = np.stack([P.labels(p, c2) for p, c2 in sets], 1)
    out = np.full((seeds, len(sets), len(widths) + 1), np.nan)
    est = RandomFeatureRidge(widths, 0.0, threads).fit(P.X, Y, P.S)
    out[:, :, :-1] = P.test_error(est.coef_)  # (seeds, L, W)
    if n >= cfg.d + 2:
        with blas_threads(threads):
            Xt = P.X.transpose(0, 2, 1)
            beta = np.linalg.solve(Xt @ P.X, Xt @ Y.transpose(0, 2, 1)).transpose(0, 2, 1)
        out[:, :, -1] = P.test_error(beta)
    return out


def run_floor(cfg: Config, forms: np.ndarray, run: Run | None = None, threads: int | None = 1) -> FloorResult:
    """The sample sweep at the fixed widths: exact curves from ``forms`` (the residual forms of
    :func:`floor_widths` over the theory draws, (W, D, 3)) and the simulation at
    ``floor_simulated`` times n, ``floor_seeds`` problems each (stored per size)."""
    run = run or Run()
    widths, sets = floor_widths(cfg), cfg.label_sets
    sim_sizes = np.unique(np.round(np.asarray(cfg.floor_simulated, float) * cfg.n)).astype(int)
    store = protocol.store(cfg, "floor", run, version=STORE_FORMAT)
    sims = []
    for i, n in enumerate(progress(sim_sizes.tolist(), total=len(sim_sizes), desc="sample sweep",
                                   enabled=run.progress)):
        step = max(1, cfg.chunk * cfg.n // int(n))  # problems per batch: the memory of the chapter's chunks

        def compute(n=int(n), step=step):
            return {"errors": np.concatenate([_simulate(cfg, n, widths, sets, min(step, cfg.floor_seeds - first), first,
                                                        threads) for first in range(0, cfg.floor_seeds, step)])}

        arrays, _ = protocol.cached(store, i, compute)
        sims.append(arrays["errors"])
    sim = np.stack(sims, 1) if sims else np.empty((cfg.floor_seeds, 0, len(sets), len(widths) + 1))
    return FloorResult(cfg.n, cfg.d, cfg.noise, floor_sizes(cfg), widths, sets, forms, sim_sizes, sim)


# ------------------------------------------------------------------ claims and numbers
def claims_floor(res: FloorResult) -> dict[str, Claim]:
    """What the page says about the sample sweep, checked on its numbers."""
    ex, floor = res.exact, res.floor
    names = [f"m = {m}" for m in res.widths] + ["infinitely wide"]
    out = {}
    if res.sim_sizes.size:
        mean, se = res.sim_errors.mean(0), res.sim_errors.std(0, ddof=1) / np.sqrt(len(res.sim_errors))
        th, th_se = res.sim_exact
        gap = np.abs(mean - th.transpose(2, 0, 1)) / np.hypot(se, th_se.transpose(2, 0, 1))
        ok = np.isfinite(gap)
        worst = np.unravel_index(np.nanargmax(np.where(ok, gap, -1)), gap.shape)
        out["floor_sim_agrees"] = claim(
            f"the simulation at n = {', '.join(str(n) for n in res.sim_sizes)} agrees with the exact formulas at every "
            f"fixed width and for the infinitely wide model (within {Z_CLAIM:g} standard errors of both averages)",
            bool(np.all(gap[ok] < Z_CLAIM)),
            f"largest gap {gap[worst]:.1f} standard errors, at n = {res.sim_sizes[worst[0]]}, "
            f"(p, c^2) = {res.label_sets[worst[1]]}, {names[worst[2]]}")
    rows, falls, above, reached = [], True, True, True
    for l, (p, c2) in enumerate(res.label_sets):
        if p == 0:
            continue
        for k, name in enumerate(names):
            c = ex["cost"][l, k]
            ok = np.isfinite(c)
            if not ok.any():
                continue
            cc, bias = c[ok], ex["bias"][l, k, ok]
            falls &= bool(np.all(np.diff(cc) < 0))
            above &= bool(np.all(cc >= bias))
            gap = cc[-1] / floor[l, k] - 1
            reached &= bool(abs(gap) < REACHED)
            rows.append(f"({p:g}, {c2:g}) {name}: {cc[0]:.3g} -> {cc[-1]:.3g} (floor {floor[l, k]:.3g}, {gap:+.1%})")
    out["floor_is_bias"] = claim(
        f"more data removes the variance, not the bias: at every width and every (p, c^2) the exact cost falls at "
        f"every step of n and stays above its bias q^2 (c^2 - res(delta)); at n = {res.sizes[-1]:,} it is within "
        f"{REACHED:.0%} of the floor p^2 (c^2 - res(delta)) (p^2 c^2 for the infinitely wide model)",
        falls and above and reached, "cost from the first n with a formula to the last: " + "; ".join(rows))
    share = res.unseen_share
    lower = all(floor[l, 0] < floor[l, -1] for l, (p, c2) in enumerate(res.label_sets) if p > 0 and c2 > 0)
    out["narrow_floor_lower"] = claim(
        f"the narrowest model's floor is below p^2 c^2 because it cannot represent part of the shift (nor of w*): at "
        f"m = {res.widths[0]} a share res(delta)/c^2 = {share[0]:.2f} of the shift is out of its reach, and its "
        f"real-only error tends to res(w*) rather than 0", lower and share[0] > 0,
        "unseen share of the shift by width: " + ", ".join(f"{n}: {s:.3f}" for n, s in zip(names, share))
        + "; real-only error at the largest n: " + ", ".join(
            f"{n}: {r:.3g}" for n, r in zip(names, ex["real"][0, :, -1])))
    return out


def summary_floor(res: FloorResult) -> dict:
    """The sample sweep's numbers, JSON-ready (NaN where a formula does not apply)."""
    ex = res.exact
    clean = lambda a: [[None if not np.isfinite(v) else float(v) for v in row] for row in a]  # noqa: E731
    return {"sizes": res.sizes.tolist(), "widths": res.widths.tolist() + ["infinite"],
            "label_sets": [list(s) for s in res.label_sets], "unseen_share": res.unseen_share.tolist(),
            "floor": res.floor.tolist(),
            "cost_exact": [clean(ex["cost"][l]) for l in range(len(res.label_sets))],
            "bias_exact": [clean(ex["bias"][l]) for l in range(len(res.label_sets))],
            "real_exact": clean(ex["real"][0]), "simulated_sizes": res.sim_sizes.tolist(),
            "simulated_error_mean": [clean(m) for m in res.sim_errors.mean(0)] if res.sim_sizes.size else [], "claims": [c.as_dict() for c in claims_floor(res).values()]}
