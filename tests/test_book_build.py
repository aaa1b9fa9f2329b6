"""The strict book build succeeds in the quick profile: every chapter executes, there
is no warning, no cell raises, and every chapter's page has its figures.

This is the test that every chapter executes top to bottom (a cell that raises fails the
build: ``allow_errors: false``, ``-W``), that every reference answer passes its check cell
(a check that rejects raises ``AnswerError``), and it prints each chapter's execution time.
The chapters run from the MyST sources, which ``test_notebooks_paired.py`` checks are the
Colab notebooks' sources, so the notebooks a reader opens are the ones executed here.

The build itself is the session fixture ``built_book`` (``tests/conftest.py``), shared
with the browser test of the site, so the book is built once per test run."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402

FAILURE_MARKERS = ("Traceback", "Exception", "CellExecutionError")


@pytest.mark.slow
def test_book_builds_strictly(built_book):
    print(f"book build: {built_book.seconds:.1f} s (quick profile)")
    executed = re.findall(r"([\w.-]+\.md): Executed notebook in ([\d.]+) seconds",
                          built_book.stdout + built_book.stderr)
    for name, seconds in executed:
        print(f"  {name}: executed in {float(seconds):.1f} s")
    log = built_book.log
    assert built_book.returncode == 0, f"the book build failed (exit {built_book.returncode})\n{log}"
    for marker in FAILURE_MARKERS:
        assert marker not in built_book.stdout + built_book.stderr, f"{marker!r} in the build output\n{log}"

    html = built_book.html
    assert (html / "index.html").exists(), f"no index.html in {html}\n{log}"
    chapters = book_config.chapter_sources()
    assert chapters, "no chapter book/NN_*.md found"
    for md in chapters:
        page = html / "book" / f"{md.stem}.html"
        assert page.exists(), f"{page} was not built\n{log}"
        # A figure made by a cell is an <img> into _images/ (the Colab logo does not count).
        figures = re.findall(r'<img[^>]*\bsrc="[^"]*_images/', page.read_text(encoding="utf-8"))
        assert figures, f"{page.name} has no figure"


@pytest.mark.slow
def test_every_toc_page_is_built(built_book):
    if not built_book.ok:
        pytest.fail(f"the book build failed (exit {built_book.returncode}); see test_book_builds_strictly")
    for entry in book_config.toc_files():
        page = built_book.html / f"{entry}.html"
        assert page.exists(), f"_toc.yml names {entry}, but {page} was not built"


@pytest.mark.slow
def test_every_figure_has_alt_text_and_a_caption(built_book):
    """Every figure a chapter draws is described for screen readers and captioned: its
    ``<img>`` has alt text that is neither empty nor a file name, and it sits in a numbered
    ``<figure>`` with a ``<figcaption>`` (myst-nb's ``mystnb.image.alt`` and
    ``mystnb.figure`` cell metadata)."""
    if not built_book.ok:
        pytest.fail(f"the book build failed (exit {built_book.returncode}); see test_book_builds_strictly")
    problems = []
    for md in book_config.chapter_sources():
        page = (built_book.html / "book" / f"{md.stem}.html").read_text(encoding="utf-8")
        figures = re.findall(r"<figure\b.*?</figure>", page, flags=re.S)
        captioned = {img for fig in figures if "<figcaption" in fig
                     for img in re.findall(r'<img[^>]*\bsrc="[^"]*_images/[^"]*"[^>]*>', fig)}
        for img in re.findall(r'<img[^>]*\bsrc="[^"]*_images/[^"]*"[^>]*>', page):
            alt = re.search(r'\balt="([^"]*)"', img)
            alt = alt.group(1).strip() if alt else ""
            if not alt or re.search(r"\.(png|jpe?g|svg)\b|_images/|^[\w./-]+$", alt):
                problems.append(f"{md.name}: a figure without alt text that describes it (alt={alt!r})")
            if img not in captioned:
                problems.append(f"{md.name}: a figure without a caption ({img[:80]}...)")
    assert not problems, "\n".join(problems)
