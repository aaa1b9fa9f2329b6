"""Checks of user settings, shared by every config and function of the library.

Every invalid setting raises a ``ValueError`` that names the setting, the value it got
and what is allowed, before any work starts (course specification, section 8).
"""
from __future__ import annotations

import math
from typing import Iterable


def _fail(name: str, value, allowed: str) -> None:
    raise ValueError(f"{name}={value!r} is not allowed: {allowed}")


def check_int(name: str, value, minimum: int = 1) -> int:
    """An integer of at least ``minimum`` (booleans and floats are refused)."""
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
        _fail(name, value, f"it must be an integer >= {minimum}")
    value = int(value)
    if value < minimum:
        _fail(name, value, f"it must be an integer >= {minimum}")
    return value


def check_fraction(name: str, value) -> float:
    """A number in the closed interval [0, 1]."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(name, value, "it must be a number in [0, 1]")
    if not (0.0 <= x <= 1.0):
        _fail(name, value, "it must be a number in [0, 1]")
    return x


def check_positive(name: str, value) -> float:
    """A finite number strictly greater than zero."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(name, value, "it must be a finite number > 0")
    if not (x > 0.0 and math.isfinite(x)):
        _fail(name, value, "it must be a finite number > 0")
    return x


def check_nonnegative(name: str, value) -> float:
    """A finite number >= 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(name, value, "it must be a finite number >= 0")
    if not (math.isfinite(x) and x >= 0):
        _fail(name, value, "it must be a finite number >= 0")
    return x


def check_top_p(name: str, value) -> float:
    """A nucleus-sampling mass in the half-open interval (0, 1]."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(name, value, "it must be a number in (0, 1]")
    if not (0.0 < x <= 1.0):
        _fail(name, value, "it must be a number in (0, 1]")
    return x


def check_choice(name: str, value, allowed: Iterable[str]) -> str:
    """One of a fixed set of names."""
    allowed = tuple(allowed)
    if value not in allowed:
        _fail(name, value, "it must be one of " + ", ".join(repr(a) for a in allowed))
    return value


def check_sample_size(name: str, value, minimum: int, why: str) -> int:
    """A sample size large enough to fit the model (``why`` says what needs it)."""
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__") or int(value) < minimum:
        _fail(name, value, f"it must be an integer >= {minimum} ({why})")
    return int(value)
