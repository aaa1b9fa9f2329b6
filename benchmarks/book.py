"""The whole book, chapter by chapter: seconds of execution against the budgets.

Every chapter ``book/NN_*.md`` is converted with jupytext and executed top to bottom
with nbclient, in a fresh kernel, from a temporary copy of ``book/``, with an empty
cache (``COLLAPSE_CACHE``), so that every run computes everything, as the tests and
the book build do. The time includes the kernel's start.

- ``--quick``: only chapter 1 (the smallest), in the ``quick`` profile, to check the
  route; the line says so.
- full: every chapter in the ``quick`` profile (budget 90 s each on two CPU cores);
  on a GPU also in the ``gpu`` profile (budget 5 minutes each on an H100).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .common import Result

NAME = "book"
ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = {"quick": 90.0, "gpu": 300.0}
QUICK_CHAPTER = "01_"  # the chapter --quick executes


def chapters() -> list[Path]:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import book_config
    finally:
        sys.path.pop(0)
    return book_config.chapter_sources(ROOT)


def execute(md: Path, profile: str, timeout_s: float = 1800) -> float:
    """Execute chapter ``md`` in ``profile`` in a fresh kernel; its wall-clock seconds."""
    import jupytext
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="bench_book_") as tmp:
        book = Path(tmp) / "book"
        shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns(
            "*.ipynb", "_build", ".ipynb_checkpoints", "__pycache__"))
        env = dict(os.environ, COLLAPSE_PROFILE=profile, CI="true", COLLAPSE_CACHE=str(Path(tmp) / "cache"),
                   HF_HUB_OFFLINE="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        nb = jupytext.read(md, fmt="md:myst")
        client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                                resources={"metadata": {"path": str(book)}})
        start = time.perf_counter()
        client.execute(env=env)
        return time.perf_counter() - start


def run(quick: bool = False, device: str = "cpu") -> list[Result]:
    found = chapters()
    if quick:
        found = [p for p in found if p.name.startswith(QUICK_CHAPTER)]
    profiles = ["quick"] + (["gpu"] if device.startswith("cuda") and not quick else [])
    results = []
    for profile in profiles:
        budget = BUDGET_S[profile]
        for md in found:
            name = f"book: {md.stem} ({profile})"
            target = f"<= {budget:.0f} s ({profile} budget)"
            try:
                seconds = execute(md, profile)
            except Exception as exc:  # a failing chapter is a line with its error, not a crash
                results.append(Result(name, target=target, error=f"{type(exc).__name__}: {str(exc)[-300:]}"))
                continue
            note = "--quick runs chapter 1 only" if quick else ""
            results.append(Result(name, None, seconds, f"{seconds:.1f} s", target, met=bool(seconds <= budget),
                                  notes=note))
    return results
