"""The built site in a headless browser, offline: shared by the browser test
(``tests/test_site_browser.py``) and the PDF of the book (``scripts/book_pdf.py``).

The site is served by ``http.server`` on 127.0.0.1 and opened in Debian's ``chromium``
through Playwright. The pages load MathJax 3 from a CDN, which machines without a network
cannot reach: requests for it are answered from the local copy that ``scripts/setup.sh``
installs with npm (``.venv/mathjax``); every other request that leaves localhost is aborted.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import mimetypes
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("COLLAPSE_CHROMIUM", "/usr/bin/chromium"))
#: the copies scripts/setup.sh installs into the active environment (.venv, or .venv-latest for the canary)
VENV = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv"))
MATHJAX = VENV / "mathjax" / "node_modules" / "mathjax"
AXE = VENV / "axe" / "node_modules" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGE_TIMEOUT_MS = 60_000

#: waits for MathJax to finish, then counts the page's math elements and those rendered
MATH_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const math = Array.from(document.querySelectorAll('main .math'));
  return {
    mathjax: !!(window.MathJax && MathJax.version), version: window.MathJax ? (MathJax.version || null) : null,
    elements: math.length,
    rendered: math.filter(e => e.querySelector('mjx-container')).length,
    errors: document.querySelectorAll('main mjx-merror').length,
  };
}"""


def missing() -> str | None:
    """What the browser needs and this machine lacks (None when nothing is missing)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run bash scripts/setup.sh as root to install Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed: run bash scripts/setup.sh"
    if not (MATHJAX / "es5" / "tex-mml-chtml.js").exists():
        return f"no local MathJax 3 at {MATHJAX}: run bash scripts/setup.sh (it installs it with npm)"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep logs readable
        pass


@contextlib.contextmanager
def serve(html: Path):
    """The folder ``html`` served on a free localhost port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def route(request_route):
    """Serve MathJax 3 from the local copy; abort anything else that leaves localhost."""
    url = urlparse(request_route.request.url)
    if url.hostname in ("127.0.0.1", "localhost"):
        return request_route.continue_()
    m = re.search(r"/mathjax@3[^/]*/(.*)$", url.path)
    if m:
        path = (MATHJAX / unquote(m.group(1))).resolve()
        if path.is_file() and MATHJAX.resolve() in path.parents:
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return request_route.fulfill(status=200, body=path.read_bytes(), content_type=ctype)
        return request_route.fulfill(status=404, body=b"")
    return request_route.abort()


@contextlib.contextmanager
def browser():
    """Headless Chromium through Playwright (a RuntimeError says what is missing)."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
