"""The strict book build succeeds in the quick profile: every chapter executes, there
is no warning, no cell raises, and every chapter's page has its figures."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402

TIMEOUT_S = 1200
FAILURE_MARKERS = ("Traceback", "Exception", "CellExecutionError")


def jupyter_book() -> str:
    """The jupyter-book beside the running interpreter (the project's venv)."""
    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if exe is None:
        pytest.fail("jupyter-book is not installed: run bash scripts/setup.sh")
    return exe


@pytest.mark.slow
def test_book_builds_strictly(tmp_path):
    env = dict(os.environ)
    env.update(COLLAPSE_PROFILE="quick", CI="true", COLLAPSE_CACHE=str(tmp_path / "cache"))
    env.pop("MPLBACKEND", None)  # figures come from the notebooks' inline backend
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    cmd = [jupyter_book(), "build", str(ROOT), "--path-output", str(tmp_path),
           "-W", "-n", "--keep-going"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - start
    print(f"book build: {elapsed:.1f} s (quick profile)")
    log = f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert proc.returncode == 0, f"the book build failed (exit {proc.returncode})\n{log}"
    for marker in FAILURE_MARKERS:
        assert marker not in proc.stdout + proc.stderr, f"{marker!r} in the build output\n{log}"

    html = tmp_path / "_build" / "html"
    assert (html / "index.html").exists(), f"no index.html in {html}\n{log}"
    chapters = book_config.chapter_sources()
    assert chapters, "no chapter book/NN_*.md found"
    for md in chapters:
        page = html / "book" / f"{md.stem}.html"
        assert page.exists(), f"{page} was not built\n{log}"
        # A figure made by a cell is an <img> into _images/ (the Colab logo does not count).
        figures = re.findall(r'<img[^>]*\bsrc="[^"]*_images/', page.read_text(encoding="utf-8"))
        assert figures, f"{page.name} has no figure"
