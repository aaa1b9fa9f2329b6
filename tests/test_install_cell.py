"""The Colab install cell and the Colab buttons derive from the one repository URL in
_config.yml."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402


def test_repository_url_comes_from_config():
    url = book_config.repository_url()
    assert url == book_config.load_config()["repository"]["url"].rstrip("/")
    assert url.startswith("https://github.com/")


def test_install_cell_text():
    url = book_config.repository_url()
    assert book_config.install_cell() == (
        "# On Colab, install the course library; elsewhere this cell does nothing.\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{url}"], check=True)'
    )


def test_install_cell_follows_the_config(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/someone/fork.git/\n")
    cell = book_config.install_cell(tmp_path)
    assert '"git+https://github.com/someone/fork"' in cell


def test_missing_url_is_a_clear_error(tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="repository: url:"):
        book_config.repository_url(tmp_path)


def test_install_cell_does_nothing_off_colab():
    code = book_config.install_cell()
    namespace: dict = {}
    exec(compile(code, "<install cell>", "exec"), namespace)  # google.colab is not imported here
    assert "subprocess" not in namespace


def test_print_install_cell_cli():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_notebooks.py"), "--print-install-cell"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out == book_config.install_cell() + "\n"
