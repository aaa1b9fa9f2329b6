"""Chapter 6, larger models: the scaling law L(D) = E + A D^-alpha fitted to a curve.

Dohmatob, Feng, Subramonian and Kempe, "Strong Model Collapse" (ICLR 2025), read their
MNIST and GPT-2 experiments as scaling laws: test error (or loss) against the amount of
training data D, for several shares p2 of synthetic data. A share of synthetic data
should show as a floor E that more data does not remove, or as a delay (the curve
shifted to more data). :func:`fit_law` fits the three parameters to one curve, and
:func:`tokens_to_reach` reads off how much data a curve needs to reach a level.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The exponents alpha the fit tries (log-spaced); a best alpha at either end of this grid
#: means the curve does not pin the exponent down (the fit is then not "supported").
ALPHAS = np.geomspace(0.02, 3.0, 241)


@dataclass(frozen=True)
class LawFit:
    """L(D) = E + A D^-alpha fitted by least squares (E >= 0, A >= 0) to one curve."""

    E: float  # the floor: the loss (error) the curve approaches as D grows
    A: float  # the scale of the part that more data removes
    alpha: float  # the exponent of that part
    rms: float  # root-mean-square residual of the fit
    supported: bool  # whether the data pin the law down: alpha inside the grid, A > 0, a falling curve

    def __call__(self, D):
        return self.E + self.A * np.asarray(D, float) ** -self.alpha

    def as_dict(self) -> dict:
        return {"E": self.E, "A": self.A, "alpha": self.alpha, "rms": self.rms, "supported": self.supported}


def fit_law(D, L) -> LawFit:
    """The least-squares fit of L(D) = E + A D^-alpha (E, A >= 0) to the points (D, L):
    for every alpha of :data:`ALPHAS` the best (E, A) is a non-negative linear least-squares
    problem in two unknowns, solved exactly; the alpha of the smallest residual wins.
    NaN points are left out; fewer than four points give a fit that is not supported."""
    D, L = np.asarray(D, float), np.asarray(L, float)
    keep = np.isfinite(L) & (D > 0)
    D, L = D[keep], L[keep]
    if len(D) < 4:
        return LawFit(float("nan"), float("nan"), float("nan"), float("nan"), False)
    best = (np.inf, 0.0, 0.0, 0.0)
    for alpha in ALPHAS:
        x = D ** -alpha
        candidates = []
        cov = np.cov(x, L, bias=True)
        if cov[0, 0] > 0:  # unconstrained line L = E + A x
            A = cov[0, 1] / cov[0, 0]
            candidates.append((L.mean() - A * x.mean(), A))
        candidates.append((0.0, max(0.0, float(x @ L / (x @ x)))))  # E = 0
        candidates.append((float(L.mean()), 0.0))  # A = 0
        for E, A in candidates:
            if E < 0 or A < 0:
                continue
            sse = float(np.sum((E + A * x - L) ** 2))
            if sse < best[0]:
                best = (sse, float(E), float(A), float(alpha))
    sse, E, A, alpha = best
    inside = ALPHAS[0] < alpha < ALPHAS[-1]
    return LawFit(E, A, alpha, float(np.sqrt(sse / len(D))), bool(inside and A > 0 and L[-1] < L[0]))


def fit_spread(D, curves) -> dict:
    """The law fitted to every curve (rows of ``curves``, e.g. one per seed) and to their
    mean: ``{"mean_curve": fit, "per_seed": [fits], "spread": {param: [min, max]}}``, the
    spread over the seeds whose fit is supported (None when none is)."""
    curves = np.atleast_2d(np.asarray(curves, float))
    fits = [fit_law(D, c) for c in curves]
    ok = [f for f in fits if f.supported]
    spread = {k: [float(min(getattr(f, k) for f in ok)), float(max(getattr(f, k) for f in ok))]
              for k in ("E", "A", "alpha")} if ok else None
    return {"mean_curve": fit_law(D, curves.mean(0)).as_dict(), "per_seed": [f.as_dict() for f in fits],
            "supported_seeds": len(ok), "spread": spread}


def tokens_to_reach(D, L, level: float) -> float:
    """The data D at which the curve (D, L), interpolated linearly in (log D, L), first
    reaches ``level`` or below; inf when it never does within its range."""
    D, L = np.asarray(D, float), np.asarray(L, float)
    below = np.flatnonzero(L <= level)
    if not below.size:
        return float("inf")
    i = int(below[0])
    if i == 0:
        return float(D[0])
    t = (L[i - 1] - level) / (L[i - 1] - L[i])
    return float(np.exp(np.log(D[i - 1]) + t * (np.log(D[i]) - np.log(D[i - 1]))))
