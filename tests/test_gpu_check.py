"""``scripts/gpu_check.sh --dry-run``: every chapter in the ``gpu`` profile, executed by
nbmake on the stand-ins at toy size, each chapter's headline numbers from the command
line, and the benchmarks' GPU lines (``--quick``, on the CPU), all in one results file.
This is the test that every chapter's notebook executes its ``gpu`` code path."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402


@pytest.mark.slow
def test_dry_run_executes_every_chapter_in_the_gpu_profile(tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "CI": "true"}
    env.pop("COLLAPSE_PROFILE", None)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--dry-run", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    rec = json.loads(out.read_text()) if out.exists() else {}
    failed = {k: v.get("log") or v.get("headline", {}).get("error") for k, v in rec.get("chapters", {}).items()
              if not v["ok"] or "error" in v.get("headline", {})}
    assert proc.returncode == 0, f"exit {proc.returncode}\n{failed}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    print(f"gpu_check --dry-run: {rec['seconds']:.0f} s; chapters: "
          + ", ".join(f"{v['chapter']} {v['seconds']:.0f} s" for v in rec["chapters"].values()))
    assert (rec["device"], rec["profile"], rec["dry_run"]) == ("cpu", "gpu", True) and rec["commit"]
    assert sorted(rec["chapters"]) == [p.name[:2] for p in book_config.chapter_sources()]
    for number, ch in rec["chapters"].items():
        res = ch["headline"]["results"]
        assert res["profile"] == "gpu" and ch["seconds"] > 0, number
    # the gpu paths, not the quick ones: MNIST, the conv VAE, wikitext-2 and the OPT stand-in
    assert rec["chapters"]["03"]["headline"]["results"]["data"].startswith("mnist")
    lm = rec["chapters"]["04"]["headline"]["results"]
    assert "wikitext-2" in lm["data"] and "opt-standin" in lm["model"]
    for r in lm["regimes"].values():  # fine-tuning on real text beats the untrained stand-in
        assert all(math.isfinite(p) for p in r["test_ppl_mean"]) and r["test_ppl_mean"][0] < lm["zero_shot_ppl"]
    vae = rec["chapters"]["03"]["headline"]["results"]
    assert vae["classifier_accuracy"] > 0.3  # real digits: far above chance (0.1)
    assert all(math.isfinite(v) for p in vae["policies"].values() for v in p["latent_std_mean"])
    assert "wikitext-2" in rec["chapters"]["06"]["headline"]["results"]["language_models"]["data"]
    names = [r["benchmark"] for r in rec["benchmarks"]["results"]]
    assert not [r for r in rec["benchmarks"]["results"] if r["error"]]
    assert any(n.startswith("LM fine-tuning") for n in names)
    assert set(rec["mfu"]) >= {"chapter 4 fine-tuning, replace", "chapter 4 fine-tuning, mix"}
