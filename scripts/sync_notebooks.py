#!/usr/bin/env python
"""Regenerate the paired notebooks ``book/NN_*.ipynb`` from their MyST sources.

The MyST files ``book/NN_*.md`` are the sources of the book; each has a paired
``.ipynb`` that the "Open in Colab" button opens. The paired notebook is a pure
function of its source: converted with jupytext, without outputs or execution counts,
with cell ids derived from the cell contents, so regenerating it twice gives the same
bytes.

    python scripts/sync_notebooks.py                      # rewrite the stale notebooks
    python scripts/sync_notebooks.py --check              # exit 1 and list the stale ones
    python scripts/sync_notebooks.py --print-install-cell # the first cell of every chapter
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_config import ROOT, chapter_sources, install_cell  # noqa: E402

#: Notebook-level metadata carried over from the MyST header into the paired notebook.
KEPT_METADATA = ("kernelspec", "language_info")


def paired_path(md: Path) -> Path:
    return md.with_suffix(".ipynb")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def expected_notebook(md: Path) -> nbformat.NotebookNode:
    """The paired notebook of ``md``: its cells, no outputs, deterministic ids."""
    nb = jupytext.read(md, fmt="md:myst")
    nb.metadata = nbformat.from_dict({k: nb.metadata[k] for k in KEPT_METADATA if k in nb.metadata})
    seen: dict[str, int] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def content(nb: nbformat.NotebookNode) -> dict:
    """What must agree between a paired notebook and its source (ids aside)."""
    return {
        "metadata": {k: nb.metadata.get(k) for k in KEPT_METADATA},
        "cells": [(c.cell_type, c.source, dict(c.get("metadata", {}))) for c in nb.cells],
    }


def problems(md: Path) -> list[str]:
    """Why the paired notebook of ``md`` is stale (empty when it is in sync)."""
    ipynb = paired_path(md)
    if not ipynb.exists():
        return [f"{_rel(ipynb)} is missing"]
    try:
        have = nbformat.read(ipynb, as_version=4)
    except Exception as exc:  # unreadable notebook: report, do not crash the check
        return [f"{_rel(ipynb)} cannot be read: {exc}"]
    found = []
    code = [c for c in have.cells if c.cell_type == "code"]
    if any(c.get("outputs") for c in code):
        found.append(f"{_rel(ipynb)} has outputs")
    if any(c.get("execution_count") is not None for c in code):
        found.append(f"{_rel(ipynb)} has execution counts")
    if content(have) != content(expected_notebook(md)):
        found.append(f"{_rel(ipynb)} differs from {_rel(md)}")
    return found


def sync(md: Path) -> bool:
    """Write the paired notebook of ``md``; True when the file changed."""
    text = notebook_text(expected_notebook(md))
    ipynb = paired_path(md)
    if ipynb.exists() and ipynb.read_text(encoding="utf-8") == text:
        return False
    ipynb.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path,
                        help="chapter sources (default: every book/NN_*.md)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 listing the stale paired notebooks")
    parser.add_argument("--print-install-cell", action="store_true",
                        help="print the first code cell every chapter must start with")
    args = parser.parse_args(argv)

    if args.print_install_cell:
        print(install_cell())
        return 0
    chapters = [p.resolve() for p in args.chapters] or chapter_sources()
    if args.check:
        stale = {md: problems(md) for md in chapters}
        stale = {md: why for md, why in stale.items() if why}
        for why in stale.values():
            for line in why:
                print(f"stale: {line}")
        if stale:
            print("run: python scripts/sync_notebooks.py", file=sys.stderr)
            return 1
        print(f"{len(chapters)} paired notebook(s) in sync")
        return 0
    for md in chapters:
        print(f"{'wrote' if sync(md) else 'unchanged'}: {_rel(paired_path(md))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
