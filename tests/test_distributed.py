"""``torchrun`` spreads the language-model regimes over processes (gloo on the CPU) and
gives the numbers of one process (:mod:`collapse_lib.distributed`)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the quick profile, cut so that both runs take seconds
SMALL = {"lm": {"generations": 1, "train_blocks": 32, "test_blocks": 32, "pretrain_blocks": 64, "pretrain_epochs": 1,
                "generate_batch_size": 32}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_process_is_a_world_of_one():
    from collapse_lib import distributed

    assert distributed.world() == (0, 1) and distributed.is_main()
    assert distributed.map_units(lambda u: u * 2, [1, 2, 3]) == [2, 4, 6]


@pytest.mark.slow
def test_torchrun_with_two_processes_gives_the_numbers_of_one(tmp_path):
    env = {**os.environ, "CI": "true", "HF_HUB_OFFLINE": "1", "COLLAPSE_OVERRIDES": json.dumps(SMALL)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    one = subprocess.run([sys.executable, "-m", "collapse_lib", "run", "lm", "--profile", "quick", "--out",
                          str(tmp_path / "one")], env={**env, "COLLAPSE_CACHE": str(tmp_path / "c1")}, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    # the second cache has the first's tokenizer and base model, but none of its runs
    shutil.copytree(tmp_path / "c1", tmp_path / "c2", ignore=shutil.ignore_patterns("runs"))
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "collapse_lib", "run", "lm",
                          "--profile", "quick", "--out", str(tmp_path / "two")],
                         env={**env, "COLLAPSE_CACHE": str(tmp_path / "c2")}, cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "two"))
    assert set(a["regimes"]) == set(b["regimes"]) == {"replace", "mix"}
    for r in a["regimes"]:
        for key in ("test_ppl_by_chain", "data_ppl_median", "worse_by"):
            assert a["regimes"][r][key] == b["regimes"][r][key], (r, key)
    # each regime ran (and was stored) in its own process
    assert len(list((tmp_path / "c2" / "runs" / "lm").glob("*/gen_000001.npz"))) == 2
    assert (tmp_path / "two" / "figures" / "test_perplexity.png").exists()
