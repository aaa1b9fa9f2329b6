"""The chapter protocol: the names every chapter module exports, and how a chapter runs.

Every ``collapse_lib/experiments/<chapter>.py`` exports the same five names:

- ``Config``: a frozen dataclass of the settings that change the chapter's numbers, each
  field with a comment that says what it means (``python -m collapse_lib show CHAPTER``
  prints them), validated in its ``__post_init__``; another chapter's model is a nested
  config (``neural: vae.Config``), never copies of its fields under a prefix;
- ``PROFILES``: ``{profile: Config}`` for ``quick``, ``cpu``, ``gpu`` and ``paper``;
- ``run(cfg, run=None) -> Result``: computes the chapter; ``Result`` holds the runs and
  every analysis derived from them, computed once (cached properties);
- ``summary(res) -> dict``: the chapter's numbers, JSON-ready (``results.json``);
- ``claims(res) -> {key: Claim}``: the chapter's statements checked on the run; a page
  picks them by key.

and ``collapse_lib/plots/<chapter>.py`` exports ``FIGURES = {name: draw(res)}``, functions
that only draw (a ``draw`` returns a figure, ``None`` when its part of the chapter did not
run, or ``{suffix: figure}`` for one figure per policy or regime).

A setting has one way in, :func:`load`: the notebooks, ``COLLAPSE_OVERRIDES``, ``--set``
and ``--seed`` all go through it, and through one parser per field type
(:func:`collapse_lib.settings.parse_value`). How a run is carried out (device, threads,
where its store lives, which checkpoints it keeps, progress bars) is a :class:`Run`,
outside the config and therefore outside the run's identity: a run's store is keyed by
the hash of its config (:func:`store`), and a rerun resumes it (:func:`cached`, or the
engine's generations).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

import numpy as np

from .validation import check_choice, check_int

#: The chapters, in the book's order, by the name of their module.
CHAPTERS = ("distributions", "gmm", "vae", "lm", "mixing", "larger", "verification")

#: Where a chapter may run its torch models.
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Run:
    """How a chapter runs: none of these settings changes a number of the run, so none is
    part of its identity (a run started on one device resumes on another)."""

    device: str | None = None  # "cpu", "cuda", or None: CUDA when present
    threads: int | None = None  # CPU threads for torch and BLAS; None: the chapter's choice for its sizes
    root: str | Path | None = None  # folder of the run stores; None: the cache (COLLAPSE_CACHE)/runs
    store: bool = True  # keep finished generations and pieces, so that a rerun resumes
    keep_models: bool = False  # keep every generation's model checkpoint (else generation 0 and the latest)
    progress: bool | None = None  # progress bars; None: when the output is a terminal or a notebook

    def __post_init__(self):
        if self.device is not None:
            check_choice("device", self.device, DEVICES)
        if self.threads is not None:
            check_int("threads", self.threads, minimum=1)

    def torch_device(self):
        """The ``torch.device`` to compute on."""
        import torch

        from .runtime import device

        return torch.device(self.device) if self.device else device()

    def threads_or(self, default: int | None) -> int | None:
        """The CPU threads to use: this run's, else the chapter's ``default``."""
        return default if self.threads is None else self.threads


def _check_chapter(chapter: str) -> None:
    if chapter not in CHAPTERS:
        raise ValueError(f"experiment={chapter!r} is not allowed: it must be one of {', '.join(CHAPTERS)}")


def module(chapter: str) -> ModuleType:
    """The experiments module of ``chapter``; a ValueError names the chapters."""
    _check_chapter(chapter)
    return importlib.import_module(f"collapse_lib.experiments.{chapter}")


def figures_module(chapter: str) -> ModuleType:
    """The figures module of ``chapter``."""
    _check_chapter(chapter)
    return importlib.import_module(f"collapse_lib.plots.{chapter}")


def chapter_of(cfg) -> str:
    """The chapter a config belongs to: the name of its module (``lm``, ``vae``, ...)."""
    return type(cfg).__module__.rsplit(".", 1)[-1]


# ------------------------------------------------------------------ settings
def _flatten(changes: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"tiny": {"n_layer": 2}}`` as ``{"tiny.n_layer": 2}`` (the form of ``--set``)."""
    out = {}
    for name, value in changes.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[prefix + str(name)] = value
    return out


def _replace(cfg, values: Mapping[str, Any]):
    """``cfg`` with ``values`` (names as ``outer.inner`` for nested configs); the config's
    own ``__post_init__`` validates the result."""
    flat, nested = {}, {}
    for name, value in values.items():
        outer, _, inner = name.partition(".")
        if inner:
            nested.setdefault(outer, {})[inner] = value
        else:
            flat[name] = value
    for outer, inner in nested.items():
        base = flat.get(outer, getattr(cfg, outer))
        flat[outer] = _replace(base, inner)
    return dataclasses.replace(cfg, **flat) if flat else cfg


def load(chapter: str, profile: str | None = None, overrides: Mapping[str, Any] | None = None):
    """The config of ``chapter`` at ``profile``: its ``PROFILES`` entry, then the chapter's
    part of ``COLLAPSE_OVERRIDES``, then ``overrides``.

    ``overrides`` maps setting names (``outer.inner`` for a nested config's field) to
    values: text as written after ``--set NAME=`` or values of the field's type (JSON lists
    for tuples). Every value is read by the one parser of its field's type; an unknown name
    is refused with the known ones and the closest match."""
    from .profiles import env_overrides, resolve_profile
    from .settings import read

    mod = module(chapter)
    name = resolve_profile(profile)
    if name not in mod.PROFILES:
        raise ValueError(f"profile={name!r} is not allowed here: {chapter} defines {sorted(mod.PROFILES)}")
    base = mod.PROFILES[name]
    what = f"the {chapter} experiment"
    values = read(type(base), _flatten(env_overrides().get(chapter, {})), what, "COLLAPSE_OVERRIDES")
    values.update(read(type(base), dict(overrides or {}), what))
    return _replace(base, values)


# ------------------------------------------------------------------ run identity and resuming
def config_key(ident: Mapping) -> str:
    """The 12-hex-digit hash of a run's identity (its config as JSON, with its part)."""
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]


def store(cfg, part: str, run: Run | None = None, *, version: int = 1):
    """The run store of one ``part`` of a chapter's run at ``cfg`` (None when ``run.store``
    is off): ``<root>/<chapter>/<part>-<hash of cfg>``. ``version`` is the format of what
    the part stores; raising it keeps a rerun from reading files of an older format."""
    from .runtime import cache_dir
    from .settings import config_dict
    from .store import RunStore

    run = run or Run()
    if not run.store:
        return None
    chapter = chapter_of(cfg)
    ident = {"experiment": chapter, "part": part, "format": version, **config_dict(cfg)}
    base = cache_dir("runs", chapter) if run.root is None else Path(run.root) / chapter
    return RunStore(base / f"{part}-{config_key(ident)}", ident)


def cached(store, index: int, compute: Callable[[], Mapping[str, Any]]) -> tuple[dict[str, np.ndarray], bool]:
    """Piece ``index`` of a run: loaded if ``store`` holds it, else computed (a dict of
    arrays) and written at once, atomically. Returns ``(arrays, whether it was loaded)``;
    a rerun after an interruption computes only the pieces that were missing."""
    if store is not None and store.path(index).exists():
        return store.load(index), True
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    if store is not None:
        store.save(index, arrays)
    return arrays, False


# ------------------------------------------------------------------ running a chapter
def draw(chapter: str, res) -> dict:
    """Every figure of ``chapter`` for its result ``res``, by name (figures whose part did
    not run are left out; a figure per policy is named ``<name>_<policy>``)."""
    out = {}
    for name, fn in figures_module(chapter).FIGURES.items():
        fig = fn(res)
        if isinstance(fig, Mapping):
            out.update({f"{name}_{sub}": f for sub, f in fig.items()})
        elif fig is not None:
            out[name] = fig
    return out


def run_chapter(chapter: str, profile: str | None = None, overrides: Mapping[str, Any] | None = None,
                run: Run | None = None) -> tuple[Any, dict, dict]:
    """``(config, results, figures)`` of ``chapter``: its config (:func:`load`), its
    ``summary`` and its figures by name."""
    mod = module(chapter)
    cfg = load(chapter, profile, overrides)
    res = mod.run(cfg, run)
    return cfg, mod.summary(res), draw(chapter, res)
