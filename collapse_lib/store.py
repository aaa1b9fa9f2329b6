"""A run store: each finished generation is written to disk atomically.

A rerun of the same configuration in the same directory resumes after the last
finished generation, so an interrupted run (kernel restart, Colab disconnect, Ctrl-C)
loses at most the generation in progress. Files are written to a temporary name in the
same directory and moved into place with ``os.replace``, which is atomic: a file either
holds a whole generation or does not exist.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


class RunStore:
    """A directory holding one run: ``config.json`` and ``gen_000000.npz``, ... .

    ``config`` (JSON-serialisable) identifies the run: opening an existing directory
    with a different config raises a ``ValueError`` instead of mixing two runs.
    """

    def __init__(self, root, config: dict):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = json.loads(json.dumps(config, sort_keys=True, default=str))
        cfg_path = self.root / "config.json"
        if cfg_path.exists():
            saved = json.loads(cfg_path.read_text())
            if saved != self.config:
                changed = sorted(k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k))
                raise ValueError(
                    f"run directory {str(self.root)!r} holds a run with other settings "
                    f"({', '.join(changed)} differ): use another directory or delete it to start over"
                )
        else:
            atomic_write_json(cfg_path, self.config)

    def path(self, generation: int) -> Path:
        return self.root / f"gen_{generation:06d}.npz"

    def save(self, generation: int, arrays: dict[str, np.ndarray]) -> None:
        atomic_save_npz(self.path(generation), arrays)

    def load(self, generation: int) -> dict[str, np.ndarray]:
        with np.load(self.path(generation)) as f:
            return {k: f[k] for k in f.files}

    def finished(self) -> list[int]:
        """Generations on disk, in order, up to the first gap."""
        done = sorted(int(p.stem[4:]) for p in self.root.glob("gen_*.npz"))
        out = []
        for i, g in enumerate(done):
            if g != i:
                break
            out.append(g)
        return out

    def save_json(self, name: str, obj) -> None:
        atomic_write_json(self.root / name, obj)
