"""Shared drawing helpers: the colours of every figure, and the spread over chains
(seeds) drawn around a central line."""
from __future__ import annotations

import numpy as np

#: Okabe and Ito's palette ("Color Universal Design", 2002), which stays distinguishable
#: under the common colour-vision deficiencies, ordered as matplotlib's default cycle
#: names its colours (blue, orange, green, red, purple, ...), so that a figure's
#: description can keep naming them: blue, orange, bluish green, vermillion, reddish
#: purple, sky blue, yellow, black.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def use_colour_blind_cycle() -> None:
    """Make :data:`OKABE_ITO` matplotlib's colour cycle (``C0``, ``C1``, ... and every line
    without a colour of its own)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(OKABE_ITO))


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
