"""The run store under injected failures: a write that dies at any point leaves the
previous state readable, the rerun resumes after the last whole generation, and a gap
in the stored generations is never read past.

Failures are injected with ``monkeypatch`` into the system calls the store relies on
(``os.fsync``, ``os.replace``, the file's ``write``), so each test states what the
store promises when that call fails, not how the store is written.
"""
import os

import numpy as np
import pytest

from collapse_lib import Replace, RunStore, run_generations
from collapse_lib import store as store_mod
from collapse_lib.families import GaussianFamily, GaussianSource


class Crash(Exception):
    """Stands for the process dying inside a system call."""


def test_a_write_that_dies_before_the_move_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    store_mod.atomic_write_json(path, {"v": 1})
    old = path.read_bytes()

    def dying_replace(src, dst):
        raise Crash

    monkeypatch.setattr(store_mod.os, "replace", dying_replace)
    with pytest.raises(Crash):
        store_mod.atomic_write_json(path, {"v": 2})
    assert path.read_bytes() == old  # a reader sees the whole old file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # the temporary file is cleaned up


def test_a_write_that_dies_halfway_never_touches_the_target(tmp_path, monkeypatch):
    """The new bytes go to another file: the target is untouched until it is replaced
    by a complete file (a write in place would leave half a file behind)."""
    path = tmp_path / "a.bin"
    store_mod.atomic_write_bytes(path, b"old contents")
    real_fdopen = os.fdopen

    class HalfFile:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise Crash

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(store_mod.os, "fdopen", lambda fd, mode: HalfFile(real_fdopen(fd, mode)))
    with pytest.raises(Crash):
        store_mod.atomic_write_bytes(path, b"new contents, twice as long as the old ones")
    monkeypatch.undo()
    assert path.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_data_reach_the_disk_before_the_file_is_moved_into_place(tmp_path, monkeypatch):
    """fsync of the temporary file, with all its bytes written, then os.replace onto the
    target: the order that makes a power loss leave the old or the whole new file."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.fstat(fd).st_size))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.dirname(src) == os.path.dirname(dst), os.path.getsize(src)))
        real_replace(src, dst)

    monkeypatch.setattr(store_mod.os, "fsync", fsync)
    monkeypatch.setattr(store_mod.os, "replace", replace)
    data = b"z" * 1000
    store_mod.atomic_write_bytes(tmp_path / "sub" / "f.bin", data)
    # fsync saw the whole file; the move is within one directory (so it is atomic)
    assert events == [("fsync", 1000), ("replace", True, 1000)]
    assert (tmp_path / "sub" / "f.bin").read_bytes() == data


def test_an_fsync_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "gen.npz"
    store_mod.atomic_save_npz(path, {"a": np.arange(3)})
    monkeypatch.setattr(store_mod.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        store_mod.atomic_save_npz(path, {"a": np.arange(5)})
    with np.load(path) as f:
        np.testing.assert_array_equal(f["a"], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.npz"]


KW = dict(generations=8, samples=12, chains=30, seed=11, progress=False)


def gaussian_run(store=None, **kw):
    return run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), store=store, **{**KW, **kw})


def test_a_run_killed_while_saving_a_generation_resumes_exactly(tmp_path, monkeypatch):
    """The save of generation 5 dies in os.replace: generations 0..4 stay readable, and
    the rerun computes 5..8 again and gives the numbers of an uninterrupted run."""
    full = gaussian_run()
    store = RunStore(tmp_path, KW)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("gen_000005.npz"):
            raise Crash
        real_replace(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", replace)
    with pytest.raises(Crash):
        gaussian_run(store)
    monkeypatch.undo()
    assert store.finished() == [0, 1, 2, 3, 4]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    np.testing.assert_array_equal(store.load(4)["record/cov"], full["cov"][4])
    resumed = gaussian_run(RunStore(tmp_path, KW))
    assert resumed.resumed_from == 4
    np.testing.assert_array_equal(resumed["cov"], full["cov"])
    np.testing.assert_array_equal(resumed["mean"], full["mean"])


def test_finished_generations_stop_at_the_first_gap(tmp_path):
    store = RunStore(tmp_path, {"k": 1})
    for g in (0, 1, 2, 4, 5):
        store.save(g, {"x": np.array([g])})
    assert store.finished() == [0, 1, 2]
    (tmp_path / "gen_000000.npz").unlink()
    assert store.finished() == []  # without generation 0 nothing can be resumed
    # temporary files of an unfinished save are not generations
    (tmp_path / ".gen_000000.npz.abc.tmp").write_bytes(b"partial")
    assert store.finished() == []


def test_the_engine_resumes_before_a_gap_and_ignores_what_lies_beyond(tmp_path):
    """A generation missing in the middle (deleted, or never finished) is refused as a
    resume point: the run restarts after the last generation before the gap and
    overwrites the stale ones beyond it."""
    full = gaussian_run()
    store = RunStore(tmp_path, KW)
    gaussian_run(store)
    stale = store.load(6)
    stale["record/cov"] = stale["record/cov"] + 100.0  # a generation from some other computation
    store.save(6, stale)
    (tmp_path / "gen_000003.npz").unlink()
    resumed = gaussian_run(RunStore(tmp_path, KW))
    assert resumed.resumed_from == 2
    np.testing.assert_array_equal(resumed["cov"], full["cov"])
    np.testing.assert_array_equal(RunStore(tmp_path, KW).load(6)["record/cov"], full["cov"][6])


def test_a_finished_run_reloads_and_a_longer_one_extends_it(tmp_path):
    store = RunStore(tmp_path, {"k": 2})
    short = gaussian_run(store, generations=3)
    again = gaussian_run(store, generations=3)
    assert again.resumed_from == 3
    np.testing.assert_array_equal(again["cov"], short["cov"])
    longer = gaussian_run(store, generations=6)
    assert longer.resumed_from == 3 and longer["cov"].shape[0] == 7
    np.testing.assert_array_equal(longer["cov"], gaussian_run(generations=6)["cov"])
    # a shorter request reads only the generations it asks for
    shorter = gaussian_run(store, generations=2)
    assert shorter["cov"].shape[0] == 3
    np.testing.assert_array_equal(shorter["cov"], short["cov"][:3])


def test_the_config_is_written_once_and_a_different_one_is_refused_by_name(tmp_path):
    RunStore(tmp_path, {"samples": 10, "seed": 1})
    assert (tmp_path / "config.json").read_text().startswith("{")
    RunStore(tmp_path, {"seed": 1, "samples": 10})  # the same settings in another order
    with pytest.raises(ValueError, match=r"\(samples differ\)"):
        RunStore(tmp_path, {"samples": 20, "seed": 1})
    with pytest.raises(ValueError, match=r"\(extra differ\)"):
        RunStore(tmp_path, {"samples": 10, "seed": 1, "extra": 0})


def test_the_temporary_file_is_hidden_beside_the_target_and_never_looks_like_a_generation(tmp_path, monkeypatch):
    """While a save is under way its bytes sit in ``.<name>.<random>.tmp`` in the same
    directory: a hidden name that the ``gen_*.npz`` pattern of finished generations
    cannot match, in the target's own directory so that os.replace stays atomic."""
    seen = []
    real_fsync = os.fsync

    def fsync(fd):
        seen.extend(sorted(p.name for p in (tmp_path / "run").iterdir()))
        real_fsync(fd)

    store = RunStore(tmp_path / "run", {"k": 0})
    monkeypatch.setattr(store_mod.os, "fsync", fsync)
    store.save(0, {"x": np.zeros(2)})
    (tmp_name,) = [n for n in seen if n != "config.json"]
    assert tmp_name.startswith(".gen_000000.npz.") and tmp_name.endswith(".tmp")
    assert len(tmp_name) > len(".gen_000000.npz..tmp")  # a random part keeps concurrent saves apart


def test_directories_are_created_as_deep_as_needed(tmp_path):
    store = RunStore(tmp_path / "a" / "b" / "run", {"k": 0})
    store.save(0, {"x": np.ones(1)})
    store_mod.atomic_write_bytes(tmp_path / "c" / "d" / "e.bin", b"1")
    assert store.finished() == [0] and (tmp_path / "c" / "d" / "e.bin").read_bytes() == b"1"


def test_an_interrupt_just_after_the_move_propagates_and_keeps_the_new_file(tmp_path, monkeypatch):
    """Ctrl-C delivered right after os.replace: the temporary file is already gone, and
    the cleanup must not turn the interrupt into another error."""
    path = tmp_path / "f.bin"
    store_mod.atomic_write_bytes(path, b"old")
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        store_mod.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"


def test_json_files_are_indented_with_sorted_keys(tmp_path):
    """config.json and save_json's files: two-space indented, keys sorted, a final
    newline (stable files that diff well between runs)."""
    import json

    obj = {"b": [1, 2], "a": {"d": 1, "c": 2}}
    store = RunStore(tmp_path, {"z": 1, "y": 2})
    store.save_json("summary.json", obj)
    assert (tmp_path / "summary.json").read_text() == json.dumps(obj, indent=2, sort_keys=True) + "\n"
    assert (tmp_path / "config.json").read_text() == '{\n  "y": 2,\n  "z": 1\n}\n'


def test_settings_that_json_cannot_hold_are_kept_by_their_text(tmp_path):
    from pathlib import Path

    from collapse_lib import Mix

    cfg = {"data": Path("/some/where"), "policy": Mix(0.1)}
    a = RunStore(tmp_path, cfg)
    assert a.config == {"data": "/some/where", "policy": str(Mix(0.1))}
    RunStore(tmp_path, cfg)  # the same settings reopen the run
    with pytest.raises(ValueError) as err:
        RunStore(tmp_path, {"data": Path("/else"), "policy": Mix(0.2)})
    assert str(tmp_path) in str(err.value) and "(data, policy differ)" in str(err.value)
