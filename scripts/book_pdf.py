#!/usr/bin/env python
"""The PDF of the whole book, from the executed site: every page of the table of contents
printed by headless Chromium (its figures as built, its mathematics rendered by MathJax),
after a contents page, merged into one file with a bookmark per page (pypdf).

    python scripts/book_pdf.py                                # _build/html -> _build/book.pdf
    python scripts/book_pdf.py --html DIR --out FILE.pdf

``bash scripts/build_pdf.sh`` builds the site first when there is none. The browser and its
offline MathJax come from ``scripts/setup.sh`` (see :mod:`book_site`).
"""
from __future__ import annotations

import argparse
import html
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_config  # noqa: E402
import book_site  # noqa: E402

#: the page's title as the reader sees it (the first heading of the page's body)
TITLE_JS = """() => { const h = document.querySelector('main h1');
  return (h ? h.innerText : document.title).replace(/[#\\u00b6]\\s*$/, '').trim(); }"""
#: print the page as its reader sees it, without the site's navigation
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer-article,
.prev-next-area, .bd-footer, .bd-footer-content, footer, .headerlink, #pst-back-to-top { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
details.hide > summary ~ * { display: block; }
img { break-inside: avoid; }
"""
MARGIN = {"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}


@dataclass
class Section:
    """One page of the site in the PDF."""

    entry: str  # its file in the table of contents, e.g. book/02_gaussian_mixtures
    title: str
    first_page: int  # 0-based index of its first page in the PDF
    pages: int


def _print_page(context, url: str) -> tuple[str, bytes]:
    page = context.new_page()
    try:
        page.goto(url, wait_until="load", timeout=book_site.PAGE_TIMEOUT_MS)
        page.evaluate(book_site.MATH_JS)  # waits for MathJax to finish
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        title = page.evaluate(TITLE_JS)
        return title, page.pdf(format="A4", print_background=True, margin=MARGIN)
    finally:
        page.close()


def _contents(context, book_title: str, rows: list[tuple[str, int]]) -> bytes:
    """A contents page: each page's title and the PDF page it starts on."""
    items = "".join(f"<tr><td>{html.escape(t)}</td><td style='text-align:right'>{p}</td></tr>" for t, p in rows)
    doc = (f"<html><head><meta charset='utf-8'><title>{html.escape(book_title)}</title></head>"
           f"<body style='font-family: sans-serif'><h1>{html.escape(book_title)}</h1><h2>Contents</h2>"
           f"<table style='width:100%; font-size: 13pt'>{items}</table></body></html>")
    page = context.new_page()
    try:
        page.set_content(doc)
        return page.pdf(format="A4", margin=MARGIN)
    finally:
        page.close()


def write_pdf(browser, base_url: str, entries: list[str], out: Path, book_title: str) -> list[Section]:
    """Print every page of ``entries`` (table-of-contents files) served at ``base_url``
    into ``out``, after a contents page; returns where each page landed."""
    from pypdf import PdfReader, PdfWriter

    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    context.route("**/*", book_site.route)
    try:
        printed = [(entry, *_print_page(context, f"{base_url}{entry}.html")) for entry in entries]
        readers = [(entry, title, PdfReader(io.BytesIO(data))) for entry, title, data in printed]
        # the contents page numbers count the contents itself (one page for a book this size)
        first, rows = 1, []
        for entry, title, reader in readers:
            rows.append((title, first + 1))
            first += len(reader.pages)
        contents = PdfReader(io.BytesIO(_contents(context, book_title, rows)))
    finally:
        context.close()
    if len(contents.pages) != 1:
        raise RuntimeError(f"the contents take {len(contents.pages)} pages; the page numbers assume one")
    writer = PdfWriter()
    writer.append(contents)
    sections = []
    for entry, title, reader in readers:
        start = len(writer.pages)
        writer.append(reader)
        writer.add_outline_item(title=title, page_number=start)
        sections.append(Section(entry, title, start, len(reader.pages)))
    writer.add_metadata({"/Title": book_title})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".pdf.tmp")
    with open(tmp, "wb") as f:
        writer.write(f)
    tmp.replace(out)
    return sections


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--html", type=Path, default=book_config.ROOT / "_build" / "html", help="the built site")
    p.add_argument("--out", type=Path, default=book_config.ROOT / "_build" / "book.pdf", help="the PDF to write")
    args = p.parse_args(argv)
    if not (args.html / "index.html").exists():
        print(f"error: no built site at {args.html}: run bash scripts/build_book.sh first", file=sys.stderr)
        return 2
    start = time.perf_counter()
    title = book_config.load_config().get("title", "book")
    with book_site.browser() as b, book_site.serve(args.html) as base:
        sections = write_pdf(b, base, book_config.toc_files(), args.out, title)
    pages = 1 + sum(s.pages for s in sections)
    print(f"book_pdf.py: wrote {args.out} ({pages} pages, {args.out.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
