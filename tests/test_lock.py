"""``requirements-lock.txt`` (written by ``scripts/lock.sh``) agrees with
``requirements.txt``: every requirement is pinned, to a version its bounds allow, with
hashes; and the environment the tests run in is the lock's (unless this run is the canary, ``LOCK=latest``)."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import canary

ROOT = Path(__file__).resolve().parents[1]


def requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]


def lock() -> dict[str, list[tuple[str, Marker | None, list[str]]]]:
    """name -> [(version, marker, hashes)] (a name has several entries when versions differ
    between Pythons or platforms)."""
    pins: dict[str, list] = {}
    text = (ROOT / "requirements-lock.txt").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(?:;\s*([^\\\n]+))?", block)
        if m:
            marker = Marker(m.group(3).strip()) if m.group(3) else None
            pins.setdefault(canonicalize_name(m.group(1)), []).append(
                (m.group(2), marker, re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return pins


def test_every_requirement_is_pinned_within_its_bounds_with_hashes():
    pins = lock()
    assert len(pins) > 100
    for req in requirements():
        entries = pins.get(canonicalize_name(req.name))
        assert entries, f"requirements.txt names {req.name}, which the lock does not pin: run bash scripts/lock.sh"
        for version, _marker, hashes in entries:
            assert req.specifier.contains(version, prereleases=True), (
                f"the lock pins {req.name}=={version}, outside {req.specifier}: run bash scripts/lock.sh")
            assert hashes, f"{req.name}=={version} has no hash in the lock"
    assert all(h for entries in pins.values() for _, _, h in entries)


def test_the_tests_run_on_the_locked_versions():
    if canary():
        pytest.skip("the canary runs on the newest releases, not the lock")
    env_pins = {}
    for name, entries in lock().items():
        here = [v for v, marker, _ in entries if marker is None or marker.evaluate()]
        if here:
            env_pins[name] = here[0]
    for name in ("torch", "transformers", "tokenizers", "numpy", "scipy", "scikit-learn", "jupyter-book"):
        assert metadata.version(name) == env_pins[canonicalize_name(name)], (
            f"{name} {metadata.version(name)} is installed, the lock says {env_pins[canonicalize_name(name)]}: "
            "run bash scripts/setup.sh")


def test_pinned_numbers_fail_against_the_lock_and_are_reported_under_the_canary(monkeypatch):
    import conftest

    monkeypatch.setattr(conftest, "PINNED_MOVES", [])
    check = conftest.Pinned("a test")
    monkeypatch.setenv("COLLAPSE_LOCK", "lock")
    check.close("held", [1.0, 2.004], [1.0, 2.0], atol=0.005)
    with pytest.raises(AssertionError, match="belong to the versions of requirements-lock.txt"):
        check.close("moved", [1.0, 2.5], [1.0, 2.0], atol=0.005)
    monkeypatch.setenv("COLLAPSE_LOCK", "latest")
    check.close("moved", [1.0, 2.5], [1.0, 2.0], atol=0.005)  # the canary reports, it does not fail
    held, moved_lock, moved_canary = conftest.PINNED_MOVES
    assert held["max_abs_move"] == pytest.approx(0.004, abs=1e-15) and tuple(held["at"]) == (1,)
    for m in (moved_lock, moved_canary):
        assert (m["max_abs_move"], m["max_rel_move"], tuple(m["at"])) == (0.5, 0.25, (1,))
        assert m["actual"] == [1.0, 2.5] and m["expected"] == [1.0, 2.0]
