"""Session-wide fixtures shared by the slow tests.

The strict book build is the most expensive step of the test command, so it runs once
per session (``built_book``) and every test that needs the built HTML uses that one
build: ``test_book_build.py`` checks it, ``test_site_browser.py`` opens its pages.

``chapter_cache`` is the ``COLLAPSE_CACHE`` of that build. Chapters whose experiments
write a run store (:class:`collapse_lib.store.RunStore`) leave their finished runs
there, so a later execution of the same chapters in the same session resumes them
instead of computing them again: the gradings of the assignments
(``test_assignments.py``, which run first and fill it), the book build and the nbmake
executions of the chapters (``test_notebooks_execute.py``). Run alone, such a test
starts from the empty directory and computes the first time.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
