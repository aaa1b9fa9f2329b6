"""Every chapter executes top to bottom in the quick profile (nbmake).

nbmake runs only .ipynb files and skips paths that contain ``_build``, so each MyST
chapter is converted with jupytext into a temporary copy of ``book/`` first; the
notebook then runs from that copy's ``book/`` folder, as it does in the book build.
One test per chapter, so the log shows each chapter's time.

The cache is the session's ``chapter_cache`` (``conftest.py``): the gradings of the
assignments, which run first, compute the chapters' run stores from an empty cache, and
the chapters that have run stores (the VAE and language-model chapters) resume them
here, as a reader's second execution does. Run alone, this test computes every chapter.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402

CHAPTERS = book_config.chapter_sources()
TIMEOUT_S = 600


def quick_env(cache) -> dict[str, str]:
    """The quick profile, silent bars, and ``cache`` as the cache directory."""
    env = dict(os.environ)
    env.update(COLLAPSE_PROFILE="quick", CI="true", COLLAPSE_CACHE=str(cache))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.mark.slow
@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes(md, tmp_path, chapter_cache):
    assert "_build" not in str(tmp_path), "nbmake would skip a path containing _build"
    book = tmp_path / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns(
        "*.ipynb", "_build", ".ipynb_checkpoints", "__pycache__"))
    notebook = book / f"{md.stem}.ipynb"
    jupytext.write(jupytext.read(md, fmt="md:myst"), notebook, fmt="ipynb")

    cmd = [sys.executable, "-m", "pytest", "--nbmake", f"--nbmake-timeout={TIMEOUT_S}",
           "-p", "no:cacheprovider", "-q", str(notebook.relative_to(tmp_path))]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp_path, env=quick_env(chapter_cache), capture_output=True, text=True,
                          timeout=TIMEOUT_S + 120)
    elapsed = time.perf_counter() - start
    print(f"{md.name}: executed in {elapsed:.1f} s (quick profile)")
    assert proc.returncode == 0, (
        f"{md.name} failed to execute (exit {proc.returncode}, {elapsed:.1f} s)\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
