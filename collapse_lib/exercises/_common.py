"""What every exercise check shares: the error a wrong answer raises and the
comparisons that build its message."""
from __future__ import annotations

import math

import numpy as np


class AnswerError(AssertionError):
    """A student's answer is wrong; the message says what and, where it helps, why."""


def passed(message: str) -> bool:
    """Report a right answer and return ``True``."""
    print(f"Correct: {message}")
    return True


def _as_float(name: str, value) -> float:
    if value is None or value is Ellipsis:
        raise AnswerError(f"{name}: no answer yet: replace the ... with your value")
    try:
        out = float(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise AnswerError(f"{name}: expected a number, got {value!r} ({type(value).__name__})") from None
    if not math.isfinite(out):
        raise AnswerError(f"{name}: expected a finite number, got {out}")
    return out


def check_close(name: str, got, expected: float, *, rtol: float = 1e-6, atol: float = 0.0,
                hint: str = "") -> float:
    """Raise :class:`AnswerError` unless ``got`` is within ``atol + rtol*|expected|`` of
    ``expected``; return ``got`` as a float. The message names the quantity, both values
    and the relative error."""
    value = _as_float(name, got)
    if abs(value - expected) > atol + rtol * abs(expected):
        rel = abs(value - expected) / abs(expected) if expected else float("inf")
        msg = f"{name}: got {value:.6g}, expected {expected:.6g} (off by {rel:.1%})"
        raise AnswerError(msg + (f". Hint: {hint}" if hint else ""))
    return value


def check_true(condition: bool, message: str) -> None:
    """Raise :class:`AnswerError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AnswerError(message)
