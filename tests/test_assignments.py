"""The graded assignments (``scripts/assignments.py``): every chapter follows the exercise
convention and becomes an otter-grader assignment whose student notebook holds no
solution text; graded with ``otter run`` in the quick profile, the solutions notebook
scores full marks, the student notebook as handed out executes to the end and scores 0
on every auto-graded question, and one answer made wrong on purpose loses exactly that
question's points.

The gradings execute the chapters. They use the session's ``chapter_cache``
(``tests/conftest.py``): the first execution of a chapter fills its run stores, and the
later ones (and the book build) resume them instead of training again.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
import assignments as asg  # noqa: E402
import book_config  # noqa: E402
from conftest import quick_env  # noqa: E402

CHAPTERS = book_config.chapter_sources()
IDS = [p.stem for p in CHAPTERS]
TIMEOUT_S = 900

SAMPLE = """\
Intro text.

```{exercise} Derive it
:label: ex-a
:class: derive

Compute $x$.
```

```{solution} ex-a
:class: dropdown

The secret answer is 42, because {prf:ref}`thm-x` says so.
```

````{solution} ex-b
:class: dropdown

```{math}
y = 1
```
Nested secret.
````

Closing text.
"""


def test_directives_are_found_with_options_and_nesting():
    found = asg.directives(SAMPLE)
    assert [(d.name, d.argument) for d in found] == [("exercise", "Derive it"), ("solution", "ex-a"),
                                                   ("solution", "ex-b")]
    assert found[0].options == {"label": "ex-a", "class": "derive"}
    assert found[0].body == "Compute $x$."
    assert "Nested secret." in found[2].body and "y = 1" in found[2].body


def test_unclosed_directive_is_an_error():
    with pytest.raises(ValueError, match=r"\{solution\} block opened at line 1 is never closed"):
        asg.directives("```{solution} ex-a\n:class: dropdown\ntext\n")


def test_placeholder_keeps_interface_not_answer():
    source = ('import numpy as np\nfrom math import log\n'
              'def f(p, M=3):\n    """Doc."""\n    return float(np.sum(1 - (1 - p) ** M))\n'
              'answer, other = log(2) / 7, 3\nprint(answer)\n')
    out = asg.placeholder(source, "ex-a")
    assert out.startswith(asg.PLACEHOLDER_HEADER + " (exercise ex-a)")
    assert "import numpy as np" in out and "from math import log" in out
    assert "def f(p, M=3):" in out and "Doc." in out
    assert "return ...  # your code here" in out
    assert "answer = ...  # your answer here" in out and "other = ...  # your answer here" in out
    assert "np.sum" not in out and "log(2)" not in out and "print" not in out
    namespace: dict = {}
    exec(compile(out, "<placeholder>", "exec"), namespace)
    assert namespace["f"](1.0) is Ellipsis and namespace["answer"] is Ellipsis


def test_check_cell_becomes_a_test_of_the_names_it_reads():
    cell = ("from collapse_lib.exercises import check_x\nnll = model_nll(setup.base)\n"
            "check_x(answer(nll), nll)\nprint([f(v) for v in values], len(nll))\n")
    assert asg.free_names(cell) == ["model_nll", "setup", "answer", "f", "values"]
    src = asg.test_source("ex-a-b", cell)
    assert src.startswith("def test_ex_a_b(model_nll, setup, answer, f, values):")
    namespace: dict = {}
    exec(src, namespace)
    assert callable(namespace["test_ex_a_b"])


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_chapter_follows_the_exercise_convention(md):
    chapter = asg.parse_chapter(md)
    assert chapter.problems() == []
    for ex in chapter.exercises:
        assert ex.points == asg.POINTS[ex.kind]
        assert ex.auto == bool(ex.checks), f"{md.name}: {ex.label} has check cells without check_* calls"


def test_labels_are_unique_across_the_book():
    labels = [e.label for md in CHAPTERS for e in asg.parse_chapter(md).exercises]
    assert len(labels) == len(set(labels))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Every chapter's assignment, written once by the script's command line."""
    out = tmp_path_factory.mktemp("assignments")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "assignments.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    print(f"\nassignments built in {time.perf_counter() - start:.1f} s")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def test_script_writes_every_chapter(built):
    for sub, ext in (("student", "ipynb"), ("autograder", "zip"), ("solutions", "ipynb")):
        assert sorted(p.name for p in (built / sub).glob(f"*.{ext}")) == sorted(f"{s}.{ext}" for s in IDS), sub


def _solution_sentences(md: Path) -> list[str]:
    """Distinctive pieces of every solution's prose (long enough not to occur elsewhere)."""
    pieces = []
    for ex in asg.parse_chapter(md).exercises:
        for line in (ex.solution or "").split("\n"):
            line = line.strip()
            if len(line) >= 40:
                pieces.append(line)
    return pieces


def _student_tests(built: Path, md: Path) -> str:
    return "\n".join((built / "student" / "tests" / f"{e.label}.py").read_text()
                     for e in asg.parse_chapter(md).exercises if e.auto)


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_student_notebook_has_no_solution(md, built):
    path = built / "student" / f"{md.stem}.ipynb"
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    text = "\n".join(c.source for c in nb.cells)
    everything = text + "\n" + json.dumps(nb.metadata) + "\n" + _student_tests(built, md)
    assert "{solution}" not in text and "{exercise}" not in text
    assert not re.search(r"#\s*(BEGIN|END) (SOLUTION|PROMPT)", everything)
    assert _solution_sentences(md), f"{md.name}: no solution prose to look for"
    leaked = [p for p in _solution_sentences(md) if p in everything or json.dumps(p)[1:-1] in raw]
    assert not leaked, f"{md.name}: solution text in the student notebook: {leaked[:3]}"
    # The exercise text may quote a line of code as a hint; code cells and tests must not hold the answer.
    student_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code") + _student_tests(built, md)
    for ex in asg.parse_chapter(md).exercises:
        for source in ex.solution_cells:
            kept = {line.strip() for line in asg.placeholder(source).split("\n")}
            for line in source.split("\n"):
                s = line.strip()
                if s and s not in kept and not s.startswith(("#", "def ", '"""')):
                    assert s not in student_code, f"{md.name}: solution code {s!r} in the student notebook"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.startswith(book_config.install_cell(extra=(book_config.requirement("otter-grader"),)))
    assert "import otter" in code[1].source
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    checks = re.findall(r'grader\.check\("([^"]+)"\)', text)
    assert checks == [e.label for e in asg.parse_chapter(md).exercises if e.auto]


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_autograder_holds_one_test_per_checked_exercise(md, built):
    chapter = asg.parse_chapter(md)
    with zipfile.ZipFile(built / "autograder" / f"{md.stem}.zip") as z:
        tests = {Path(n).stem: z.read(n).decode() for n in z.namelist() if n.startswith("tests/")}
        config = json.loads(z.read("otter_config.json"))
    assert config["assignment_name"] == md.stem
    assert sorted(tests) == sorted(e.label for e in chapter.exercises if e.auto)
    for ex in chapter.exercises:
        if ex.auto:
            assert f"points = {ex.points}\n" in tests[ex.label]
            for helper in ex.checks:
                assert f"{helper}(" in tests[ex.label]


# --------------------------------------------------------------------------- grading (slow)

@dataclass
class Grading:
    """The outcome of ``otter run`` on one submission."""

    submission: Path
    returncode: int
    log: str
    scores: dict[str, tuple[float, float]]   #: question -> (score, max score)
    results: dict                            #: otter's results.json
    seconds: float
    cpu_seconds: float                       #: CPU time of otter and its kernel

    def assert_ran(self) -> None:
        assert self.returncode == 0, f"otter run failed on {self.submission}\n{self.log[-8000:]}"


#: Runs a command and prints the CPU time it and its children (otter's kernel) used.
_TIMED = ("import resource, subprocess, sys\n"
          "code = subprocess.run(sys.argv[1:]).returncode\n"
          "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
          "print(f'CPU seconds: {u.ru_utime + u.ru_stime:.1f}')\n"
          "sys.exit(code)")


def _grade(autograder: Path, submission: Path, out: Path, cache: Path) -> Grading:
    """``otter run`` on one submission, in debug mode (a cell that raises fails the run)."""
    out.mkdir(parents=True, exist_ok=True)
    otter = Path(sys.executable).parent / "otter"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _TIMED, str(otter), "run", "--debug", "-a", str(autograder),
                           "-o", str(out), str(submission)], cwd=out, env=quick_env(cache),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - start
    cpu = re.findall(r"^CPU seconds: ([\d.]+)$", proc.stdout, flags=re.M)
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {"tests": []}
    scores = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "max_score" in t}
    return Grading(submission, proc.returncode, proc.stdout, scores, results, seconds,
                   float(cpu[-1]) if cpu else float("nan"))


def _expected(md: Path) -> dict[str, float]:
    return {e.label: float(e.points) for e in asg.parse_chapter(md).exercises if e.auto}


def _wrong_label(md: Path) -> str:
    """The question whose answer the test makes wrong: a different one from chapter to chapter."""
    auto = list(_expected(md))
    return auto[CHAPTERS.index(md) % len(auto)]


WRONG = '''
# A wrong answer, made on purpose by the test.
def _made_wrong(value):
    import numpy as _np
    if callable(value):
        return lambda *args, **kwargs: _made_wrong(value(*args, **kwargs))
    try:
        return _np.asarray(value, dtype=float) * 1.5 + 1.0
    except (TypeError, ValueError):  # not a number (a random generator, a string): left as it is
        return value
'''


def _make_wrong(solutions: Path, label: str, dest: Path) -> None:
    """Copy the solutions notebook to ``dest`` with every name bound by exercise
    ``label``'s answer cell made wrong."""
    nb = nbformat.read(solutions, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    done = False
    for i, cell in enumerate(code):
        if asg.SOLUTION_TAG in cell.metadata.get("tags", []):
            following = next((c.source for c in code[i + 1:] if "grader.check(" in c.source), "")
            if f'grader.check("{label}")' in following:
                names = asg.assigned_names(cell.source)
                cell.source += WRONG + "\n".join(f"{n} = _made_wrong({n})" for n in names)
                done = True
    assert done, f"no answer cell of {label} in {solutions}"
    nbformat.write(nb, dest)


#: the two submissions graded per chapter, in the order they run (see ``gradings``)
SUBMISSIONS = ("wrong", "student")


@pytest.fixture(scope="module")
def gradings(built, chapter_cache, tmp_path_factory) -> dict[str, dict[str, Grading]]:
    """Every chapter graded twice by ``otter run``, two gradings at a time (one per core):

    - ``wrong``: its solutions notebook with one answer made wrong on purpose. Every other
      question must score full marks and that one none. Each reference answer passing its
      own check is also checked by the strict book build, which executes every solution
      cell and its check cell (a check that rejects raises, and the build fails);
    - ``student``: its student notebook as handed out, which must run to the end and
      score 0 on every question.

    Every chapter's ``wrong`` grading runs first, so that the chapters' run stores are
    filled once; the student notebooks then resume them, as a reader's second run does.
    The longest chapters start first."""
    work = tmp_path_factory.mktemp("graded")
    jobs = {}
    for md in CHAPTERS:
        wrong = work / md.stem / "wrong" / f"{md.stem}.ipynb"
        wrong.parent.mkdir(parents=True)
        _make_wrong(built / "solutions" / f"{md.stem}.ipynb", _wrong_label(md), wrong)
        jobs[md.stem] = {"wrong": wrong, "student": built / "student" / f"{md.stem}.ipynb"}
    out: dict[str, dict[str, Grading]] = {stem: {} for stem in jobs}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name in SUBMISSIONS:
            futures = {stem: pool.submit(_grade, built / "autograder" / f"{stem}.zip", sub[name],
                                         work / stem / f"graded_{name}", chapter_cache)
                       for stem, sub in sorted(jobs.items(), key=lambda kv: kv[0] not in LONGEST)}
            for stem, future in futures.items():
                out[stem][name] = g = future.result()
                print(f"\n{stem}, {name}: graded in {g.seconds:.1f} s ({g.cpu_seconds:.1f} s CPU), "
                      f"score {sum(s for s, _ in g.scores.values()):g} / {sum(m for _, m in g.scores.values()):g}")
    return out


#: chapters whose gradings take longest (started first, so that the two cores finish together)
LONGEST = ("03_vae", "04_llm_perplexity", "05_mixing_real_data")


@pytest.mark.slow
@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_solutions_with_one_wrong_answer_lose_exactly_its_points(gradings, md):
    label = _wrong_label(md)
    g = gradings[md.stem]["wrong"]
    g.assert_ran()
    assert g.scores == {k: (0.0 if k == label else v, v) for k, v in _expected(md).items()}
    output = next(t["output"] for t in g.results["tests"] if t["name"] == label)
    assert "AnswerError" in output, output


@pytest.mark.slow
@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_student_notebook_runs_and_scores_zero(gradings, md):
    g = gradings[md.stem]["student"]
    g.assert_ran()  # in debug mode: every cell ran without an error
    assert g.scores == {k: (0.0, v) for k, v in _expected(md).items()}
    for t in g.results["tests"]:
        if "max_score" in t:  # the check helper's own message reaches the student
            assert "AnswerError" in t["output"] and re.search(r"no answer yet|expected a", t["output"]), t["output"]


def test_install_cell_on_colab_installs_otter_and_fetches_the_tests(monkeypatch, tmp_path):
    import types
    import urllib.request

    md = CHAPTERS[0]
    chapter = asg.parse_chapter(md)
    cell = asg.assignment_install_cell(chapter, "https://example.org/course/tests/")
    calls, fetched = [], []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(args))
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda url, path: fetched.append((url, path)))
    monkeypatch.chdir(tmp_path)
    exec(cell, {})  # not on Colab: nothing happens
    assert calls == [] and fetched == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(cell, {})
    assert calls and calls[0][-2:] == [f"git+{book_config.repository_url()}", book_config.requirement("otter-grader")]
    labels = [e.label for e in chapter.exercises if e.auto]
    assert fetched == [(f"https://example.org/course/tests/{lab}.py", f"tests/{lab}.py") for lab in labels]
    assert (tmp_path / "tests").is_dir()
