"""What the book's tooling reads from the repository: the chapters, the table of
contents and the one place that holds the repository URL (``_config.yml``).

The Colab install cell that opens every chapter is derived from that URL here, so the
"Open in Colab" buttons, the install cell and the tests agree by construction.
Used by ``scripts/sync_notebooks.py`` and by the tests; it imports nothing from
``collapse_lib``.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

#: A chapter is ``book/NN_name.md`` (two digits, an underscore, a name).
CHAPTER_RE = re.compile(r"^\d\d_[A-Za-z0-9_]+\.md$")

INSTALL_CELL_TEMPLATE = '''\
# On Colab, install the course library{what}; elsewhere this cell does nothing.
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", {packages}], check=True)'''


def load_config(root: Path = ROOT) -> dict:
    """The parsed ``_config.yml`` of the book."""
    with open(root / "_config.yml", encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def repository_url(root: Path = ROOT) -> str:
    """The repository URL, from ``_config.yml`` (``repository: url:``), without a
    trailing slash or ``.git``."""
    url = (load_config(root).get("repository") or {}).get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{root / '_config.yml'} has no 'repository: url:' entry")
    url = url.strip().rstrip("/")
    return url[: -len(".git")] if url.endswith(".git") else url


def install_cell(root: Path = ROOT, extra: tuple[str, ...] = ()) -> str:
    """The exact source of the first code cell of every chapter; ``extra`` names further
    pip requirements to install beside the course library (the graded assignments add
    otter-grader)."""
    packages = [f"git+{repository_url(root)}", *extra]
    what = "".join(f" and {p.split('>')[0].split('=')[0].split('<')[0]}" for p in extra)
    return INSTALL_CELL_TEMPLATE.format(what=what, packages=", ".join(f'"{p}"' for p in packages))


def requirement(name: str, root: Path = ROOT) -> str:
    """The line of ``requirements.txt`` that names package ``name`` (with its version bound)."""
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if re.match(rf"^{re.escape(name)}\s*([<>=!~;\[]|$)", line, flags=re.IGNORECASE):
            return line.replace(" ", "")
    raise ValueError(f"requirements.txt names no package {name!r}")


def chapter_sources(root: Path = ROOT) -> list[Path]:
    """The chapters' MyST sources ``book/NN_*.md``, in order."""
    return sorted(p for p in (root / "book").glob("[0-9][0-9]_*.md") if CHAPTER_RE.match(p.name))


def toc_files(root: Path = ROOT) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (root included), without suffix."""
    with open(root / "_toc.yml", encoding="utf-8") as f:
        toc = yaml.safe_load(f) or {}
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    found.append(str(Path(node[key]).with_suffix("")))
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found
