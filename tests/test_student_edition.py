"""The student edition (``scripts/student_edition.py``): every chapter follows the
exercise convention, its student notebook holds no solution text, and it executes from
top to bottom in the quick profile, every ``check`` cell answering "no answer yet"
(an ``AnswerError``) until the student fills in the placeholders.

The execution uses the session's ``chapter_cache`` (``tests/conftest.py``): after the
book build in the same session the chapters resume their run stores instead of
training again; run alone, they compute from scratch.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
import book_config  # noqa: E402
import student_edition as se  # noqa: E402
from conftest import quick_env  # noqa: E402

CHAPTERS = book_config.chapter_sources()
IDS = [p.stem for p in CHAPTERS]
TIMEOUT_S = 600

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
    found = se.directives(SAMPLE)
    assert [(d.name, d.argument) for d in found] == [("exercise", "Derive it"), ("solution", "ex-a"),
                                                   ("solution", "ex-b")]
    assert found[0].options == {"label": "ex-a", "class": "derive"}
    assert found[0].body == "Compute $x$."
    assert "Nested secret." in found[2].body and "y = 1" in found[2].body


def test_unclosed_directive_is_an_error():
    with pytest.raises(ValueError, match=r"\{solution\} block opened at line 1 is never closed"):
        se.directives("```{solution} ex-a\n:class: dropdown\ntext\n")


def test_student_markdown_drops_solutions_and_flattens_exercises():
    out = se.student_markdown(SAMPLE)
    assert "secret" not in out.lower() and "{solution}" not in out and "{exercise}" not in out
    assert "**Exercise: Derive it** (derive)" in out and "Compute $x$." in out
    assert out.startswith("Intro text.") and out.endswith("Closing text.")


def test_placeholder_keeps_interface_not_answer():
    source = ('import numpy as np\nfrom math import log\n'
              'def f(p, M=3):\n    """Doc."""\n    return float(np.sum(1 - (1 - p) ** M))\n'
              'answer, other = log(2) / 7, 3\nprint(answer)\n')
    out = se.placeholder(source, "ex-a")
    assert out.startswith(se.PLACEHOLDER_HEADER + " (exercise ex-a)")
    assert "import numpy as np" in out and "from math import log" in out
    assert "def f(p, M=3):" in out and "Doc." in out
    assert "return ...  # your code here" in out
    assert "answer = ...  # your answer here" in out and "other = ...  # your answer here" in out
    assert "np.sum" not in out and "log(2)" not in out and "print" not in out
    namespace: dict = {}
    exec(compile(out, "<placeholder>", "exec"), namespace)
    assert namespace["f"](1.0) is Ellipsis and namespace["answer"] is Ellipsis


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_chapter_follows_the_exercise_convention(md):
    inv = se.inventory(md)
    assert inv.problems() == []
    assert inv.solution_cells <= inv.check_cells, (
        f"{md.name}: every 'solution' cell is followed by a 'check' cell that uses it")


def _solution_sentences(md: Path) -> list[str]:
    """Distinctive pieces of every solution's prose (long enough not to occur elsewhere)."""
    nb = se.read_chapter(md)
    pieces = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for d in se.directives(cell.source, ("solution",)):
                for line in d.body.split("\n"):
                    line = line.strip()
                    if len(line) >= 40:
                        pieces.append(line)
    return pieces


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_student_notebook_has_no_solution(md):
    nb = se.student_notebook(md)
    text = "\n".join(c.source for c in nb.cells)
    assert "{solution}" not in text and "{exercise}" not in text
    leaked = [p for p in _solution_sentences(md) if p in text]
    assert not leaked, f"{md.name}: solution text in the student edition: {leaked[:3]}"
    # The exercise text may quote a line of code as a hint; code cells must not hold the answer.
    student_code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    source = se.read_chapter(md)
    for cell in source.cells:
        if cell.cell_type == "code" and se.SOLUTION_TAG in cell.metadata.get("tags", []):
            kept = {line.strip() for line in se.placeholder(cell.source).split("\n")}
            for line in cell.source.split("\n"):
                s = line.strip()
                if s and s not in kept and not s.startswith(("#", "def ", '"""')):
                    assert s not in student_code, f"{md.name}: solution code {s!r} in a code cell of the student edition"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == book_config.install_cell(), "the student edition opens with the install cell"
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    nbformat.validate(nb)


def test_script_writes_every_chapter(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "student_edition.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == sorted(f"{md.stem}.ipynb" for md in CHAPTERS)


_RUNNER = """\
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout={timeout}, kernel_name="python3",
               resources={{"metadata": {{"path": sys.argv[2]}}}}).execute()
nbformat.write(nb, sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_student_notebook_executes_up_to_the_exercises(md, tmp_path, chapter_cache):
    notebook = se.write_student_edition(tmp_path, [md])[0]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RUNNER.format(timeout=TIMEOUT_S), str(notebook), str(tmp_path)],
                          cwd=tmp_path, env=quick_env(chapter_cache), capture_output=True, text=True,
                          timeout=TIMEOUT_S + 120)
    elapsed = time.perf_counter() - start
    print(f"{md.name}: student edition executed in {elapsed:.1f} s (quick profile, shared cache)")
    assert proc.returncode == 0, f"{md.name}: the student edition failed to execute\n{proc.stderr[-6000:]}"

    nb = nbformat.read(notebook, as_version=4)
    checks = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        tags = cell.metadata.get("tags", [])
        if se.CHECK_TAG in tags:
            checks += 1
            assert [e.ename for e in errors] == ["AnswerError"], (
                f"{md.name} cell {i}: an unanswered check must raise AnswerError, got "
                f"{[(e.ename, e.evalue) for e in errors] or 'no error'}\n{cell.source}")
            assert re.search(r"no answer yet|expected a (number|function)", errors[0].evalue), errors[0].evalue
        else:
            assert not errors, f"{md.name} cell {i} raised {errors[0].ename}: {errors[0].evalue}\n{cell.source}"
    assert checks == se.inventory(md).check_cells
