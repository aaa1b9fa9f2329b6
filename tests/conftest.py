"""Session-wide fixtures shared by the slow tests.

The strict book build is the most expensive step of the test command, so it runs once
per session (``built_book``) and every test that needs the built HTML uses that one
build: ``test_book_build.py`` checks it, ``test_site_browser.py`` opens its pages.

``chapter_cache`` is the ``COLLAPSE_CACHE`` of that build. Chapters whose experiments
write a run store (:class:`collapse_lib.store.RunStore`) leave their finished runs
there, so a later execution of the same chapters in the same session resumes them
instead of computing them again: the gradings of the assignments
(``test_assignments.py``, which run first and fill it) and the book build. Run alone, such a test
starts from the empty directory and computes the first time.

``pinned`` checks numbers that belong to one set of package versions, those of
``requirements-lock.txt`` (fixed-seed results of the quick profile). Tests that use it carry
the marker ``pinned``. Against the lock (``COLLAPSE_LOCK`` unset or ``lock``) they must hold;
under the canary (``LOCK=latest bash scripts/test.sh``, which sets ``COLLAPSE_LOCK=latest``)
they do not fail: the end of the run lists how far each number moved, and
``test-artifacts/pinned-moves.json`` keeps the list.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Wall-clock limit of the book build (every chapter executes inside it).
BUILD_TIMEOUT_S = 1500


def quick_env(cache: Path) -> dict[str, str]:
    """The environment of a quick-profile execution: CPU, silent progress bars, the
    project on ``PYTHONPATH``, the venv's tools first on ``PATH`` and ``cache`` as the
    cache directory."""
    env = dict(os.environ)
    env.update(COLLAPSE_PROFILE="quick", CI="true", COLLAPSE_CACHE=str(cache), HF_HUB_OFFLINE="1")
    env.pop("MPLBACKEND", None)  # figures come from the notebooks' inline backend
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@dataclass
class BookBuild:
    """The outcome of one strict ``jupyter-book build``."""

    html: Path          #: the built site, ``<out>/_build/html``
    returncode: int     #: exit status of jupyter-book
    stdout: str
    stderr: str
    seconds: float      #: wall-clock time of the build

    @property
    def log(self) -> str:
        return f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and (self.html / "index.html").exists()


def jupyter_book() -> str:
    """The jupyter-book beside the running interpreter (the project's venv)."""
    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if exe is None:
        pytest.fail("jupyter-book is not installed: run bash scripts/setup.sh")
    return exe


@pytest.fixture(scope="session")
def chapter_cache(tmp_path_factory) -> Path:
    """One ``COLLAPSE_CACHE`` for every chapter execution of the session that may resume."""
    return tmp_path_factory.mktemp("collapse_cache")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, chapter_cache) -> BookBuild:
    """The book, built once per session in the quick profile, strictly
    (``-W -n --keep-going``), into a temporary folder with its own empty execution cache
    (``--path-output``), so that every chapter executes with the current library."""
    out = tmp_path_factory.mktemp("book_build")
    cmd = [jupyter_book(), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=out, env=quick_env(chapter_cache), capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S)
    build = BookBuild(html=out / "_build" / "html", returncode=proc.returncode, stdout=proc.stdout,
                      stderr=proc.stderr, seconds=time.perf_counter() - start)
    print(f"\nbook build: {build.seconds:.1f} s (quick profile, exit {build.returncode})")
    return build


# ------------------------------------------------------------------ version-bound numbers
def canary() -> bool:
    """Whether this run is the canary: the newest releases, not the lock."""
    return os.environ.get("COLLAPSE_LOCK", "lock") == "latest"


#: every number checked through ``pinned`` in this session: (test, name, largest move, allowed)
PINNED_MOVES: list[dict] = []


@dataclass
class Pinned:
    """Checks of one test's version-bound numbers (see the module's docstring)."""

    test: str

    def close(self, name: str, actual, expected, *, atol: float) -> None:
        """``actual`` equals ``expected`` within ``atol`` (every entry), against the lock;
        under the canary, only records how far it moved."""
        actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
        moved = np.abs(actual - expected)
        at = [int(i) for i in np.unravel_index(np.argmax(moved), moved.shape)] if moved.size else []
        PINNED_MOVES.append(dict(test=self.test, name=name, atol=atol, max_abs_move=float(moved.max(initial=0.0)),
                                 max_rel_move=float((moved / np.abs(expected)).max(initial=0.0)), at=at,
                                 expected=expected.tolist(), actual=actual.tolist()))
        if not canary():
            np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=(
                f"{name}: these numbers belong to the versions of requirements-lock.txt; with other "
                f"versions, run the canary (LOCK=latest bash scripts/test.sh) to see the moves"))


@pytest.fixture
def pinned(request) -> Pinned:
    if request.node.get_closest_marker("pinned") is None:
        pytest.fail("a test that checks version-bound numbers carries the marker pinned")
    return Pinned(request.node.nodeid)


def pytest_terminal_summary(terminalreporter):
    if not PINNED_MOVES:
        return
    mode = "canary: the newest releases" if canary() else "the lock"
    terminalreporter.section(f"version-bound numbers ({mode})")
    for m in PINNED_MOVES:
        held = "holds" if m["max_abs_move"] <= m["atol"] else "MOVED"
        terminalreporter.write_line(
            f"{m['test']} :: {m['name']}: largest move {m['max_abs_move']:.4g} "
            f"({100 * m['max_rel_move']:.2f} %, at {tuple(m['at'])}), allowed {m['atol']:g}: {held}")
    if canary():
        out = ROOT / "test-artifacts" / "pinned-moves.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(PINNED_MOVES, indent=1))
        terminalreporter.write_line(f"written to {out}")
