"""The figures' colours stay distinguishable for readers with a colour-vision deficiency.

Each colour of the cycle is passed through the simulation of protanopia, deuteranopia and
tritanopia of Machado, Oliveira and Fernandes (IEEE TVCG 15(6), 2009, severity 1) and
compared in CIELAB. Two lines of a figure must differ by a colour difference (CIE76
Delta E) of at least :data:`DISTINCT`, several times the just-noticeable difference of about
2.3 (Sharma, "Digital Color Imaging Handbook", 2003): matplotlib's default cycle fails
this (under protanopia two of its first six colours are 4.6 apart).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

#: Machado et al. (2009), Table 1 at severity 1.0: linear-RGB matrices.
DEFICIENCIES = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
#: the smallest colour difference allowed between two of the first lines of a figure
DISTINCT = 10.0
#: the lines a figure of the course draws at most in one colour cycle (policies, shares, sizes)
LINES = 6


def _linear(c):
    c = np.asarray(c, float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb):
    """CIELAB (D65) of a linear sRGB colour."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear_rgb
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def smallest_difference(colours, deficiency: str) -> float:
    """The smallest Delta E between two of ``colours`` as a reader with ``deficiency`` sees them."""
    from matplotlib.colors import to_rgb

    m = np.array(DEFICIENCIES[deficiency])
    seen = [_lab(np.clip(m @ _linear(to_rgb(c)), 0, 1)) for c in colours]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(seen, 2))


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
def test_the_figures_colour_cycle_is_colour_blind_safe(deficiency):
    import matplotlib as mpl

    import collapse_lib.plots  # noqa: F401  (sets the cycle)

    cycle = mpl.rcParams["axes.prop_cycle"].by_key()["color"][:LINES]
    assert smallest_difference(cycle, deficiency) >= DISTINCT
    # the check can fail: matplotlib's default cycle does
    default = mpl.rcParamsDefault["axes.prop_cycle"].by_key()["color"][:LINES]
    assert min(smallest_difference(default, d) for d in DEFICIENCIES) < DISTINCT
