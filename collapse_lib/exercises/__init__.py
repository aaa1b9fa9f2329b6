"""Auto-check helpers for the chapters' exercises.

A student calls a ``check_...`` function on their own answer inside the notebook::

    from collapse_lib.exercises import check_gaussian_variance_after
    check_gaussian_variance_after(my_answer, generations=10, samples=50)

A right answer prints a short confirmation and returns ``True``; a wrong one raises
:class:`AnswerError` (an ``AssertionError``) whose message says what is wrong: which
quantity, the value given, what was expected and, where it helps, a hint.

Each chapter's checks live in a module of this package; every public ``check_*``
function of every module is importable from here.
"""
from __future__ import annotations

import importlib
import pkgutil

from ._common import AnswerError, check_close, check_true, passed

__all__ = ["AnswerError", "check_close", "check_true", "passed"]

for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in dir(_module):
        if _name.startswith("check_") and _name not in __all__:
            globals()[_name] = getattr(_module, _name)
            __all__.append(_name)
