"""Shared drawing helpers: the spread over chains (seeds) drawn around a central line."""
from __future__ import annotations

import numpy as np


def spread(ax, x, values, label=None, color=None, center="mean", quantiles=(0.1, 0.9), **kw):
    """Draw the mean (or median) over chains of ``values`` (len(x), chains) and a band
    between two quantiles: the seed-to-seed spread."""
    values = np.asarray(values, float)
    mid = values.mean(axis=1) if center == "mean" else np.median(values, axis=1)
    (line,) = ax.plot(x, mid, label=label, color=color, **kw)
    lo, hi = np.quantile(values, quantiles, axis=1)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
    return line


def theory(ax, x, y, label="theory", color="k", **kw):
    """A closed form drawn over a simulation: black dashes by convention."""
    kw.setdefault("linestyle", "--")
    kw.setdefault("linewidth", 1.2)
    return ax.plot(x, y, color=color, label=label, **kw)[0]
