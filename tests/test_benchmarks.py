"""The benchmarks run and print their table (timings are never asserted: they depend
on the machine and its load)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: A line of the quick table for every benchmark module.
QUICK_LINES = ("categorical chains", "Gaussian chains", "Gaussian summary vs point sampling", "GMM EM",
               "VAE training", "LM generation", "LM fine-tuning", "book: 01_")


def bench(*args, timeout=60):
    env = dict(os.environ, CI="true", HF_HUB_OFFLINE="1", COLLAPSE_PROFILE="quick")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_quick_benchmarks_print_every_line_without_errors(tmp_path):
    out = tmp_path / "bench.json"
    r = bench("--quick", "--json", str(out), timeout=1200)
    assert r.returncode == 0, f"exit {r.returncode}\n--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr[-5000:]}"
    table = [line for line in r.stdout.splitlines() if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "benchmark"
    for name in QUICK_LINES:
        assert any(line.startswith(f"| {name}") for line in table), f"no line for {name!r} in\n{r.stdout}"
    assert "ERROR" not in r.stdout
    results = json.loads(out.read_text())["results"]
    assert len(results) == len(table) - 1
    for res in results:
        assert res["error"] is None and res["ours_s"] > 0, res
        if res["baseline_s"] is not None:
            assert res["ratio"] == pytest.approx(res["baseline_s"] / res["ours_s"])


def test_an_unknown_benchmark_is_refused_before_any_work():
    r = bench("--only", "chains", "nosuch")
    assert r.returncode == 2
    assert "--only nosuch is not allowed" in r.stderr and "gmm_em" in r.stderr
    assert "| benchmark" not in r.stdout


def test_a_failing_benchmark_is_an_error_line_and_a_failing_exit(monkeypatch, capsys):
    from benchmarks import __main__ as cli
    from benchmarks.common import Result

    real = cli.run_module

    def fake(name, quick, device):
        if name == "vae":
            return real("no_such_module", quick, device)  # raises inside: becomes an error line
        return [Result(f"{name} line", 2.0, 0.5, "1 x/s", "t", met=True)]

    monkeypatch.setattr(cli, "run_module", fake)
    assert cli.main(["--quick", "--only", "chains", "vae"]) == 1
    out = capsys.readouterr().out
    assert "| chains line" in out and "4.0x" in out and "yes" in out
    assert "ERROR" in out and "ModuleNotFoundError" in out
