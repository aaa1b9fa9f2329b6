"""Profiles scale every experiment without changing its code (course specification §2).

- ``quick``: CPU-only and offline; the whole book executes in minutes on two cores (CI
  and the tests).
- ``cpu``: CPU-only and offline, for a reader with a laptop and the profile the website is
  built with: the papers' own settings wherever a CPU reaches them, the closest faithful
  version elsewhere; at most 10 minutes a chapter on two cores.
- ``gpu``: the default when CUDA is present; each chapter fits a free Colab T4 session.
- ``paper``: the settings of the papers, for a data-center GPU.

``COLLAPSE_PROFILE`` selects one; without it, ``gpu`` when CUDA is available and
``quick`` otherwise.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Mapping, TypeVar

from .validation import check_choice

PROFILES = ("quick", "cpu", "gpu", "paper")

#: Profiles that need no GPU and no network.
OFFLINE_PROFILES = ("quick", "cpu")

T = TypeVar("T")


def resolve_profile(name: str | None = None) -> str:
    """The profile to use: ``name`` if given, else ``COLLAPSE_PROFILE``, else the fallback."""
    if name is None:
        name = os.environ.get("COLLAPSE_PROFILE") or None
    if name is None:
        from .runtime import cuda_available

        return "gpu" if cuda_available() else "quick"
    return check_choice("profile", name.strip().lower() if isinstance(name, str) else name, PROFILES)


def pick(configs: Mapping[str, T], profile: str | None = None, **overrides) -> T:
    """The config of ``profile`` from a ``{profile: config}`` table, with overrides."""
    name = resolve_profile(profile)
    if name not in configs:
        raise ValueError(f"profile={name!r} is not allowed here: this experiment defines {sorted(configs)}")
    cfg = configs[name]
    return replace(cfg, **overrides) if overrides else cfg


def banner(profile: str | None = None) -> str:
    """The line printed at the top of every chapter."""
    from .runtime import cuda_available

    name = resolve_profile(profile)
    where = "a CUDA GPU" if cuda_available() else "the CPU"
    source = "COLLAPSE_PROFILE" if os.environ.get("COLLAPSE_PROFILE") else "default for this machine"
    line = f"collapse_lib profile: {name} ({source}); running on {where}"
    if not cuda_available():
        size = {"quick": "the quick profile keeps every experiment small (seconds to a minute a chapter)",
                "cpu": ("the cpu profile runs the papers' settings wherever a CPU reaches them "
                        "(up to 10 minutes a chapter on two cores)")}.get(
            name, f"the {name} profile is sized for a GPU and will be slow here")
        line += (f"\nNo GPU found, so this runs on the CPU: {size}. For the gpu profile, use a GPU "
                 "machine (on Colab: Runtime > Change runtime type > GPU).")
    return line
