"""collapse_lib: the shared library of the course "Model Collapse, executed".

One generational engine (:func:`run_generations`), model families that fit and sample,
data policies that decide what each generation trains on, closed-form theory, metrics,
a resumable run store and profiles that scale every experiment. Every chapter follows one
protocol (:mod:`collapse_lib.protocol`): ``cfg = load(chapter)``, ``res = run(cfg)``.
"""
from .engine import History, run_generations
from .policies import Accumulate, FreshReal, Mix, Replace, make_policy
from .profiles import PROFILES, banner, resolve_profile
from .protocol import Run, load
from .store import RunStore

__all__ = [
    "Accumulate",
    "FreshReal",
    "History",
    "Mix",
    "PROFILES",
    "Replace",
    "Run",
    "RunStore",
    "banner",
    "load",
    "make_policy",
    "resolve_profile",
    "run_generations",
]

__version__ = "0.1.0"
