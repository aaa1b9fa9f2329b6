"""Every chapter's paired notebook (opened by "Open in Colab") matches its MyST source,
starts with the Colab install cell, and every chapter is in the table of contents."""
from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402
import sync_notebooks  # noqa: E402

CHAPTERS = book_config.chapter_sources()
IDS = [p.stem for p in CHAPTERS]


def test_there_are_chapters():
    assert CHAPTERS, "no chapter book/NN_*.md found"


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_paired_notebook_matches_source(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run python scripts/sync_notebooks.py"
    have = nbformat.read(ipynb, as_version=4)
    for i, cell in enumerate(have.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{ipynb.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{ipynb.name} cell {i} has an execution count"
    converted = jupytext.read(md, fmt="md:myst")
    assert [(c.cell_type, c.source) for c in have.cells] == [
        (c.cell_type, c.source) for c in converted.cells
    ], f"{ipynb.name} differs from {md.name}: run python scripts/sync_notebooks.py"
    assert sync_notebooks.problems(md) == []


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_first_code_cell_is_the_install_cell(md):
    nb = jupytext.read(md, fmt="md:myst")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{md.name} has no code cell"
    assert code[0].source == book_config.install_cell(), (
        f"the first code cell of {md.name} must be exactly the output of "
        "python scripts/sync_notebooks.py --print-install-cell"
    )


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_chapter_is_in_the_toc(md):
    assert f"book/{md.stem}" in book_config.toc_files(), f"book/{md.stem} is not in _toc.yml"


def test_toc_entries_exist():
    for entry in book_config.toc_files():
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml names {entry}, which has no .md file"


def test_sync_is_deterministic(tmp_path):
    for md in CHAPTERS:
        a = sync_notebooks.notebook_text(sync_notebooks.expected_notebook(md))
        b = sync_notebooks.notebook_text(sync_notebooks.expected_notebook(md))
        assert a == b
        nbformat.validate(nbformat.reads(a, as_version=4))
