"""Chapter 6, larger models: the exact formulas of the random-projection model averaged over
draws of the projections S, the real model w and the shift direction u.

The formulas of :mod:`collapse_lib.theory.random_features` hold given S, w and delta =
sqrt(c2) u; the chapter draws them over ``theory_seeds`` draws (one S per draw, whose first
m rows are the model of width m, as in the simulation) and averages. :func:`theory_forms`
computes the residual forms once per width; :func:`theory_from_forms` turns them into the
expected test error and the parts of the cost of the synthetic labels at the chapter's n,
and :mod:`collapse_lib.experiments.larger_sweep` into the same at other n.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..families.random_features import blas_threads, draw_problems
from ..theory import random_features as theory

if TYPE_CHECKING:
    from .larger import Config

#: BLAS threads for the residual forms (many small matrices: one thread is fastest on two cores).
THREADS = 1


def theory_forms(cfg: Config, widths, threads: int | None = THREADS) -> np.ndarray:
    """(K, D, 3): res(w), res(u) and the cross term of the residual form (res(w + delta) =
    res(w) + c2 res(u) + 2 sqrt(c2) cross for delta = sqrt(c2) u) at each width m <= d, over
    ``cfg.theory_seeds`` draws of S, w and the shift direction u (the first m rows of one S
    per draw, so the widths are nested as in the simulation)."""
    P = draw_problems(seeds=cfg.theory_seeds, n=1, d=cfg.d, m_max=int(max(widths)), spectrum=cfg.spectrum,
                      noise=cfg.noise, signal=cfg.signal, seed=cfg.seed + 10_000)
    with blas_threads(threads):
        R = theory.residual_forms_nested(P.S, np.stack([P.w, P.u], 1), P.spectrum, widths)  # (K, D, 2, 2)
    return np.stack([R[..., 0, 0], R[..., 1, 1], R[..., 0, 1]], -1)


def theory_from_forms(cfg: Config, label_sets, widths, forms: np.ndarray) -> dict[str, np.ndarray]:
    """The exact formulas of :mod:`collapse_lib.theory.random_features` at each width m <= n - 2
    from the residual forms (:func:`theory_forms`): ``mean`` (L, T) expected test error averaged
    over the draws and ``stderr`` its standard error; ``cost`` (L, T, D) the cost of the
    synthetic labels per draw (error minus the same draw's real-only error); ``bias``,
    ``variance`` and ``unseen`` (L, T) the mean parts of that cost (:func:`theory.cost_split`)."""
    L, T, D = len(label_sets), len(widths), forms.shape[1]
    out = {"mean": np.empty((L, T)), "stderr": np.full((L, T), np.nan), "cost": np.empty((L, T, D))}
    out.update({k: np.empty((L, T)) for k in ("bias", "variance", "unseen")})
    for k, m in enumerate(np.asarray(widths).tolist()):
        res_w, res_u, cross = forms[k, :, 0], forms[k, :, 1], forms[k, :, 2]
        real = theory.under_error_real(int(m), cfg.n, cfg.noise, res_w)
        for l, (p, c2) in enumerate(label_sets):
            res_shift = res_w + c2 * res_u + 2 * np.sqrt(c2) * cross
            draws = theory.under_error_mixed(int(m), cfg.n, cfg.noise, p, c2, res_w, c2 * res_u, res_shift)
            out["mean"][l, k] = draws.mean()
            if D > 1:
                out["stderr"][l, k] = draws.std(ddof=1) / np.sqrt(D)
            out["cost"][l, k] = draws - real
            for key, v in theory.cost_split(int(m), cfg.n, p, c2, res_w, c2 * res_u, res_shift).items():
                out[key][l, k] = np.mean(v)
    return out


def theory_curves(cfg: Config, label_sets, widths, *, stderr: bool = False, threads: int | None = THREADS):
    """The formulas of :mod:`collapse_lib.theory.random_features` at each width m <= n-2,
    averaged over ``cfg.theory_seeds`` draws of S, w and the shift direction (with
    ``stderr``: also the standard error of that average, (mean, stderr))."""
    out = theory_from_forms(cfg, label_sets, widths, theory_forms(cfg, widths, threads))
    return (out["mean"], out["stderr"]) if stderr else out["mean"]
