"""The command line runs a chapter headless and writes numbers and figures."""
import json
import subprocess
import sys


def test_cli_runs_the_distributions_chapter(tmp_path):
    out = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "collapse_lib", "run", "distributions", "--profile", "quick",
                        "--out", str(out)], capture_output=True, text=True, env={**__import__("os").environ, "CI": "true"})
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["profile"] == "quick"
    assert json.loads((out / "config.json").read_text())["gaussian_chains"] == 2000
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figs == sorted(["approximation_errors.png", "bell_curves.png", "gaussian_collapse.png",
                           "sandwich_bars.png", "sandwich_collapse.png", "zipf_tail_cut.png"])
    # the chapter's qualitative claims hold in its own numbers
    s = res["sandwich"]["mean_surviving_final"]
    assert s["temperature 0.7"] < s["plain"] < 7 and s["top-p 0.9"] < s["plain"]
    g = res["gaussian"]["mle"]
    assert g["median_var_final"] < 0.01
    z = res["zipf"]
    assert z["mean_error"]["k=10"][-1] > 10 * z["mean_error"]["real"][-1]
    a = res["approximation"]
    assert a["functional_floor_tv"]["bimodal"] > 0.3 and a["functional_floor_tv"]["Gaussian"] < 1e-6


def test_cli_rejects_an_unknown_profile(tmp_path):
    r = subprocess.run([sys.executable, "-m", "collapse_lib", "run", "distributions", "--profile", "fast",
                        "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "profile='fast'" in r.stderr and "quick" in r.stderr
    assert not (tmp_path / "results.json").exists()


def test_every_registered_experiment_has_a_cli_hook():
    import importlib

    from collapse_lib.cli import EXPERIMENTS

    for name, module in EXPERIMENTS.items():
        assert callable(importlib.import_module(module).cli_run), name
