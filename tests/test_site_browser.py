"""The built site, as a reader sees it: every page of the table of contents opened in
headless Chromium (Debian's ``chromium``, driven by Playwright).

On every page: no raw MyST directive or role text, every image loads, every math
element is rendered by MathJax, and on chapter pages at least one figure is shown and
the "Open in Colab" link points at the chapter's paired ``.ipynb`` in this repository.
Every page passes axe-core's WCAG 2.0 and 2.1 A and AA rules with no violation (the
theme's and extensions' markup is mended by ``_static/accessibility.js`` and
``_static/accessibility.css``), and in the theme's dark mode a chapter's figure keeps a light
background under dark axes, so that it stays legible. A screenshot of the top of each
page, one of its first figure (and that figure in dark mode), and a report
(``site-browser-report.json``: pages opened, figures, math elements, Colab link and
accessibility violations of each) are saved under ``test-artifacts/site-browser/``.

The site is the session's one strict build (fixture ``built_book``). It is served by
``http.server`` on 127.0.0.1. The pages load MathJax 3 from a CDN, which the test
machine cannot reach: requests for it are answered from the local copy that
``scripts/setup.sh`` installs with npm (``.venv/mathjax``); every other request that
leaves localhost is aborted, so the test runs offline. axe-core comes from npm the same way
(``.venv/axe``).

Without Chromium, Playwright, that MathJax copy or axe-core the test skips with the reason, except
under CI (``CI=true``), where it fails: CI installs them through ``scripts/setup.sh``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import unicodedata
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402
import book_site  # noqa: E402
from book_site import AXE, MATH_JS, PAGE_TIMEOUT_MS, missing, route, serve  # noqa: E402

#: the rules every page must pass: WCAG 2.0 and 2.1, levels A and AA
AXE_JS = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}));
}"""
#: the page has settled: Font Awesome has replaced its icons and accessibility.js has mended them
SETTLED_JS = "() => !document.querySelector('button[aria-label] svg title, button[aria-label] i.fa-solid')"
ARTIFACTS = ROOT / "test-artifacts" / "site-browser"
#: Script errors of the theme itself, not of the book: sphinx-book-theme 1.x declares
#: the Thebe launcher's ``const THEBE_JS_URL`` in two script tags on every page. They are
#: reported in the JSON report and do not fail the test; any other script error does.
KNOWN_THEME_ERRORS = (re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),)

#: Raw MyST that a reader must never see (searched in the page text outside code blocks).
RAW_MYST = {
    "directive fence": re.compile(r"(```|:::)\s*\{[\w:-]+\}"),
    "directive name": re.compile(r"\{(exercise|solution|prf:\w+|admonition|code-cell|figure|note|warning|math|bibliography)\}"),
    "role": re.compile(r"\{[\w:-]+\}`"),
    "directive option": re.compile(r"^\s*:(label|class|tags|name):\s", re.M),
    "unrendered math": re.compile(r"\$\$|\\\(|\\\[|\\(frac|mathbb|mathcal|mathrm|sum|log|sqrt|begin)\b"),
}

# Text of the page body without code (cell sources, outputs, inline code): what a reader
# reads as prose, math rendered. MathJax's assistive MathML is left out too.
TEXT_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, .cell_input, .cell_output, mjx-assistive-mml, script, style')
       .forEach(e => e.remove());
  return clone.innerText;
}"""

IMAGES_JS = """() => Array.from(document.querySelectorAll('main img')).map(img => ({
  src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth}))"""

def _unavailable(reason: str):
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI installs it with bash scripts/setup.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, or a skip (a failure under CI) saying what is missing.
    Session-scoped so that it is set up, and skips, before the session's book build."""
    reason = missing()
    if reason is None and not AXE.exists():
        reason = f"no local axe-core at {AXE}: run bash scripts/setup.sh (it installs it with npm)"
    if reason:
        _unavailable(reason)
    with book_site.browser() as b:
        yield b


@pytest.fixture(scope="module")
def site(built_book):
    """The built HTML served on a free localhost port; yields the base URL."""
    if not built_book.ok:
        pytest.fail(f"the book build failed (exit {built_book.returncode}); see test_book_builds_strictly")
    with serve(built_book.html) as base:
        yield base


def _colab_target(href: str) -> str:
    """The repository path an "Open in Colab" URL opens (``.../blob/<branch>/<path>``)."""
    repo = urlparse(book_config.repository_url()).path.strip("/")
    m = re.match(rf"https://colab\.research\.google\.com/github/{re.escape(repo)}/blob/[^/]+/(.+)$", href)
    assert m, f"the Colab link {href!r} does not open a file of {book_config.repository_url()}"
    return m.group(1)


@pytest.mark.slow
def test_every_page_as_a_reader_sees_it(browser, site):
    chapters = {f"book/{md.stem}" for md in book_config.chapter_sources()}
    pages = book_config.toc_files()
    assert chapters <= set(pages), "every chapter is in the table of contents"
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", route)
    report, problems = [], []
    try:
        for entry in pages:
            page = context.new_page()
            failed: list[str] = []
            script_errors: list[str] = []
            page.on("response", lambda r, failed=failed: failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 and urlparse(r.url).hostname == "127.0.0.1" else None)
            page.on("pageerror", lambda e, errors=script_errors: errors.append(str(e)))
            page.goto(site + f"{entry}.html", wait_until="load", timeout=PAGE_TIMEOUT_MS)
            math = page.evaluate(MATH_JS)
            images = page.evaluate(IMAGES_JS)
            text = page.evaluate(TEXT_JS)
            colab = [a.get_attribute("href") for a in page.query_selector_all('a[href*="colab.research.google.com"]')]
            page.wait_for_function(SETTLED_JS, timeout=PAGE_TIMEOUT_MS)
            page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
            violations = page.evaluate(AXE_JS)
            shot = ARTIFACTS / f"{entry.replace('/', '_')}.png"
            page.screenshot(path=str(shot))
            figure = page.locator('main img[src*="_images/"]')
            if figure.count():
                figure.first.scroll_into_view_if_needed()
                page.screenshot(path=str(shot.with_name(shot.stem + "-figure.png")))
            page.close()

            figures = [i for i in images if "_images/" in (i["src"] or "")]
            row = {"page": entry, "figures": len(figures), "images": len(images),
                   "math_elements": math["elements"], "math_rendered": math["rendered"],
                   "mathjax": math["version"], "colab": colab, "script_errors": script_errors,
                   "accessibility_violations": violations,
                   "screenshot": str(shot.relative_to(ROOT))}
            report.append(row)
            where = f"{entry}.html"
            problems += [f"{where}: {f}" for f in failed]
            problems += [f"{where}: accessibility ({v['impact']}) {v['id']}: {v['help']}, {v['count']} elements, "
                         f"e.g. {v['nodes']}" for v in violations]
            problems += [f"{where}: script error: {e}" for e in script_errors
                         if not any(k.search(e) for k in KNOWN_THEME_ERRORS)]
            for kind, pattern in RAW_MYST.items():
                for hit in list(pattern.finditer(text))[:3]:
                    around = text[max(0, hit.start() - 40): hit.end() + 40].replace("\n", " ")
                    problems.append(f"{where}: raw MyST ({kind}) on the page: ...{around}...")
            problems += [f"{where}: image {i['src']} did not load" for i in images
                         if not (i["complete"] and i["width"] > 0)]
            if math["elements"]:
                if not math["mathjax"]:
                    problems.append(f"{where}: MathJax did not load ({math['elements']} math elements unrendered)")
                elif math["rendered"] < math["elements"] or math["errors"]:
                    problems.append(f"{where}: {math['elements'] - math['rendered']} of {math['elements']} math "
                                    f"elements unrendered, {math['errors']} MathJax errors")
            if entry in chapters:
                if not figures:
                    problems.append(f"{where}: no figure")
                if not math["elements"]:
                    problems.append(f"{where}: no math (a chapter states its theory)")
                targets = {_colab_target(h) for h in colab}
                want = f"{entry}.ipynb"
                if targets != {want}:
                    problems.append(f"{where}: the Colab link opens {sorted(targets) or 'nothing'}, not {want}")
                elif not (ROOT / want).is_file():
                    problems.append(f"{where}: the Colab link opens {want}, which is not in the repository")
        problems += _dark_mode_problems(context, site)
    finally:
        context.close()
        (ARTIFACTS / "site-browser-report.json").write_text(json.dumps(report, indent=2) + "\n")

    print("\npages opened in Chromium:")
    for row in report:
        print(f"  {row['page']:34s} figures {row['figures']:2d}, math {row['math_rendered']:3d}/"
              f"{row['math_elements']:<3d} rendered, accessibility violations "
              f"{sum(v['count'] for v in row['accessibility_violations'])}, "
              f"colab: {', '.join(_short(h) for h in row['colab']) or '-'}")
    print(f"screenshots and report: {ARTIFACTS}")
    assert len(report) == len(pages)
    assert not problems, "\n".join(problems)


def _short(href: str) -> str:
    try:
        return _colab_target(href)
    except AssertionError:
        return href


def _dark_mode_problems(context, site) -> list[str]:
    """The first chapter's first figure in the theme's dark mode: its background must stay
    light (the 90th percentile of its pixels' brightness at least 150 of 255) and its axes
    and labels dark (the 1st percentile at most 90). A figure drawn on a transparent
    background would show dark axes on the dark page: both percentiles low."""
    import io

    import numpy as np
    from PIL import Image

    entry = f"book/{book_config.chapter_sources()[0].stem}"
    page = context.new_page()
    page.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark')")
    page.goto(site + f"{entry}.html", wait_until="load", timeout=PAGE_TIMEOUT_MS)
    try:
        if page.evaluate("() => document.documentElement.dataset.theme") != "dark":
            return [f"{entry}.html: the dark mode could not be switched on"]
        figure = page.locator('main img[src*="_images/"]').first
        figure.scroll_into_view_if_needed()
        shot = figure.screenshot(path=str(ARTIFACTS / f"{entry.replace('/', '_')}-figure-dark.png"))
    finally:
        page.close()
    grey = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=float)
    light, dark = np.percentile(grey, 90), np.percentile(grey, 1)
    if light < 150 or dark > 90:
        return [f"{entry}.html: in dark mode the first figure is not legible (90th percentile of brightness "
                f"{light:.0f}, 1st percentile {dark:.0f}; wanted >= 150 and <= 90)"]
    return []


@pytest.mark.slow
def test_the_book_prints_to_one_pdf(browser, site, tmp_path):
    """``scripts/book_pdf.py`` on the session's site: a contents page, then every page of the
    table of contents with its title, a bookmark each; every chapter with a figure and no
    raw TeX (MathJax rendered before printing)."""
    import book_pdf
    from pypdf import PdfReader

    out = tmp_path / "book.pdf"
    start = time.perf_counter()
    sections = book_pdf.write_pdf(browser, site, book_config.toc_files(), out, "Model Collapse, executed")
    seconds = time.perf_counter() - start
    reader = PdfReader(out)
    # ligatures as letters; a title wrapped over two lines as one
    text = [" ".join(unicodedata.normalize("NFKC", p.extract_text() or "").split()) for p in reader.pages]
    print(f"\nbook.pdf: {len(reader.pages)} pages, {out.stat().st_size / 1e6:.1f} MB, printed in {seconds:.1f} s")
    assert [s.entry for s in sections] == book_config.toc_files()
    assert len(reader.pages) == 1 + sum(s.pages for s in sections)
    assert [o.title for o in reader.outline] == [s.title for s in sections]
    contents = text[0]
    chapters = {f"book/{md.stem}" for md in book_config.chapter_sources()}
    problems = []
    for s in sections:
        title = " ".join(unicodedata.normalize("NFKC", s.title).split())
        body = " ".join(text[s.first_page: s.first_page + s.pages])
        if not title or title not in text[s.first_page]:
            problems.append(f"{s.entry}: its title {title!r} is not on its first page")
        if f"{title} {s.first_page + 1}" not in contents:
            problems.append(f"{s.entry}: the contents do not give {title!r} on page {s.first_page + 1}")
        if s.entry in chapters:
            if not sum(len(reader.pages[i].images) for i in range(s.first_page, s.first_page + s.pages)):
                problems.append(f"{s.entry}: no figure in the PDF")
            raw_tex = (re.compile(r"\$[^$]{1,80}\$"), RAW_MYST["unrendered math"])
            for raw in (hit for pattern in raw_tex for hit in pattern.finditer(body)):
                problems.append(f"{s.entry}: raw TeX in the PDF: {raw.group(0)!r}")
    assert not problems, "\n".join(problems)
