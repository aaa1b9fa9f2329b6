"""Profiles scale every experiment without changing its code (course specification §2).

- ``quick``: CPU-only and offline; the whole book executes in minutes on two cores (CI
  and the tests).
- ``cpu``: CPU-only and offline, for a reader with a laptop and the profile the website is
  built with: a reduced version of each paper's experiment, as large as two CPU cores run in
  minutes (the authors' own settings where they fit, as in the mixture recursion); the whole
  book executes in about 30 minutes on two cores.
- ``gpu``: the default when CUDA is present; each chapter fits a free Colab T4 session.
- ``paper``: the settings of the papers, for a data-center GPU.

``COLLAPSE_PROFILE`` selects one; without it, ``gpu`` when CUDA is available and
``quick`` otherwise.

``COLLAPSE_OVERRIDES`` changes settings of a profile without touching a chapter: a JSON
object keyed by experiment (the name of its module, as in ``python -m collapse_lib run
NAME``), each value the settings to replace, for example
``{"lm": {"generations": 1, "model": "/path/to/model"}, "vae": {"epochs": 1}}``. Nested
configs take an object, tuples a list. Its values are read by the same parser as
``--set`` (:func:`collapse_lib.protocol.load`, the one way a setting comes in).
``scripts/gpu_check.sh --dry-run`` runs the ``gpu`` chapters at toy size this way; the
chapters' banner names the experiments it changes.
"""
from __future__ import annotations

import json
import os

from .validation import check_choice

PROFILES = ("quick", "cpu", "gpu", "paper")

#: Profiles that need no GPU and no network.
OFFLINE_PROFILES = ("quick", "cpu")

def resolve_profile(name: str | None = None) -> str:
    """The profile to use: ``name`` if given, else ``COLLAPSE_PROFILE``, else the fallback."""
    if name is None:
        name = os.environ.get("COLLAPSE_PROFILE") or None
    if name is None:
        from .runtime import cuda_available

        return "gpu" if cuda_available() else "quick"
    return check_choice("profile", name.strip().lower() if isinstance(name, str) else name, PROFILES)


def env_overrides() -> dict[str, dict]:
    """``COLLAPSE_OVERRIDES`` parsed: ``{experiment: {setting: value}}`` ({} when unset)."""
    raw = os.environ.get("COLLAPSE_OVERRIDES", "").strip()
    if not raw:
        return {}
    try:
        table = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"COLLAPSE_OVERRIDES={raw!r} is not allowed: it must be a JSON object ({err})") from None
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ValueError(f"COLLAPSE_OVERRIDES={raw!r} is not allowed: it must map experiment names to objects "
                         "of settings")
    return table


def banner(profile: str | None = None) -> str:
    """The line printed at the top of every chapter."""
    from .runtime import cuda_available

    name = resolve_profile(profile)
    where = "a CUDA GPU" if cuda_available() else "the CPU"
    source = "COLLAPSE_PROFILE" if os.environ.get("COLLAPSE_PROFILE") else "default for this machine"
    line = f"collapse_lib profile: {name} ({source}); running on {where}"
    if not cuda_available():
        size = {"quick": "the quick profile keeps every experiment small (seconds to a minute a chapter)",
                "cpu": ("the cpu profile runs a reduced version of each paper's experiment, the authors' own "
                        "settings where a CPU reaches them (the whole book in about 30 minutes on two cores)")}.get(
            name, f"the {name} profile is sized for a GPU and will be slow here")
        line += (f"\nNo GPU found, so this runs on the CPU: {size}. For the gpu profile, use a GPU "
                 "machine (on Colab: Runtime > Change runtime type > GPU).")
    changed = sorted(env_overrides())
    if changed:
        line += f"\nCOLLAPSE_OVERRIDES changes the settings of: {', '.join(changed)}."
    return line
