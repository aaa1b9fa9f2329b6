#!/usr/bin/env python
"""Generate the graded assignments of the course: every chapter as an otter-grader
assignment (https://otter-grader.readthedocs.io), built from the chapter's MyST source.

For each chapter ``book/NN_name.md`` this writes

- ``DIR/student/NN_name.ipynb``: the notebook students get, without outputs and
  solutions; its first cell installs the course library and otter-grader on Colab;
  each auto-graded exercise ends with a ``grader.check("label")`` cell. The public
  tests are the files ``DIR/student/tests/<label>.py`` (hand the folder out with the
  notebooks);
- ``DIR/autograder/NN_name.zip``: the autograder, for ``otter run -a DIR/autograder/NN_name.zip
  SUBMISSION.ipynb`` on one's own machine or for a Gradescope programming assignment;
- ``DIR/solutions/NN_name.ipynb``: the instructor's copy with the reference answers and
  the solutions' prose (its tests, hidden ones included, in ``DIR/solutions/tests``).

The chapters stay the one source. They follow one convention for exercises (written down
in ``book/running.md``, "Writing exercises"), which this script relies on and checks:

- an exercise is a ``{exercise}`` directive with a ``:label:`` and a ``:class:`` naming
  its kind, one of ``derive``, ``predict`` (change a setting and predict) or
  ``implement``; every chapter has at least three exercises and all three kinds;
- its solution is a ``{solution} <label>`` directive with ``:class: dropdown`` holding
  prose and math only;
- a code cell with the reference answer carries the cell tag ``solution`` (and
  ``hide-input``); a code cell that calls a ``collapse_lib.exercises.check_*`` helper on
  that answer carries the tag ``check``.

From this each exercise becomes one otter question named by its label and worth
:data:`POINTS` of its kind. An exercise with a ``check`` cell is auto-graded: the check
cell, as written in the chapter, is the question's test (a function of the names it
reads from the notebook), so students and graders see the check helpers' own messages.
The ``solution`` cell becomes the student's placeholder (its imports, the names to
define and the signatures of the functions to write, ``...`` where the answer goes).
An exercise without a check cell (its answer is prose) becomes a manually graded
question whose reference answer is the solution's prose.

    python scripts/assignments.py --out DIR            # every chapter
    python scripts/assignments.py --out DIR book/01_distributions_and_tails.md
    python scripts/assignments.py --summary            # exercises, kinds, checks and points
    python scripts/assignments.py --out DIR --run-tests   # also grade each solutions notebook
"""
from __future__ import annotations

import argparse
import ast
import builtins
import copy
import glob
import re
import shutil
import sys
import symtable
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_config import ROOT, chapter_sources, install_cell, repository_url, requirement  # noqa: E402

#: The kinds of exercise, given as the ``:class:`` of an ``{exercise}`` directive.
KINDS = ("derive", "predict", "implement")
#: Points of one exercise, by kind.
POINTS = {"derive": 2, "predict": 2, "implement": 3}
#: Cell tags of the convention.
SOLUTION_TAG, CHECK_TAG = "solution", "check"
#: What a placeholder cell opens with.
PLACEHOLDER_HEADER = "# Your answer here"

_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[A-Za-z][\w:-]*)\}\s*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
_CHECK_CALL = re.compile(r"\b(check_\w+)\s*\(")


# --------------------------------------------------------------------------- reading

@dataclass
class Directive:
    """One fenced MyST directive found in a Markdown cell."""

    name: str                 #: e.g. ``exercise``
    argument: str             #: the text after the name (a title, or a label for a solution)
    options: dict[str, str]   #: the ``:key: value`` lines
    body: str                 #: the content after the options
    start: int                #: first line (the opening fence), 0-based
    end: int                  #: last line (the closing fence), inclusive


def directives(markdown: str, names: tuple[str, ...] = ("exercise", "solution")) -> list[Directive]:
    """The top-level fenced directives called ``names`` in ``markdown``, in order.

    A block closes at the first line that holds only the opening fence character,
    repeated at least as often as in the opening fence (MyST's rule), so a nested
    directive with a shorter fence stays inside it.
    """
    lines = markdown.split("\n")
    found: list[Directive] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m["fence"]
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"the {{{m['name']}}} block opened at line {i + 1} is never closed")
        if m["name"] in names:
            inner = lines[i + 1:j]
            options: dict[str, str] = {}
            k = 0
            while k < len(inner) and (opt := _OPTION.match(inner[k])):
                options[opt["key"]] = opt["value"]
                k += 1
            found.append(Directive(m["name"], m["arg"], options, "\n".join(inner[k:]).strip("\n"), i, j))
        i = j + 1
    return found


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def check_calls(source: str) -> list[str]:
    """The ``check_*`` helpers called in a code cell, in order."""
    return _CHECK_CALL.findall(source)


def read_chapter(md: Path) -> nbformat.NotebookNode:
    return jupytext.read(md, fmt="md:myst")


@dataclass
class Exercise:
    """One exercise of a chapter, with what the chapter gives for it."""

    label: str
    title: str
    kind: str                              #: one of KINDS, or "" when the chapter gives none
    body: str                              #: the exercise text (Markdown)
    solution: str | None = None            #: the solution's prose, if any
    solution_is_dropdown: bool = False
    solution_cells: list[str] = field(default_factory=list)   #: sources of its ``solution`` cells
    check_cells: list[str] = field(default_factory=list)      #: sources of its ``check`` cells

    @property
    def checks(self) -> list[str]:
        return [c for s in self.check_cells for c in check_calls(s)]

    @property
    def auto(self) -> bool:
        """Whether a check cell grades it (otherwise it is graded by hand)."""
        return bool(self.check_cells)

    @property
    def points(self) -> int:
        return POINTS.get(self.kind, 0)


@dataclass
class Text:
    """Markdown between exercises (or anywhere else in the chapter)."""

    source: str


@dataclass
class Code:
    """A code cell that belongs to no exercise."""

    source: str
    tags: list[str]


@dataclass
class Chapter:
    """A chapter as a sequence of text, code and exercises, in order."""

    path: Path
    items: list                           #: Text, Code and Exercise, in the chapter's order
    metadata: dict
    orphan_solutions: list[str]           #: {solution} blocks naming no exercise before them
    stray_cells: list[str]                #: solution/check cells outside an exercise

    @property
    def exercises(self) -> list[Exercise]:
        return [i for i in self.items if isinstance(i, Exercise)]

    @property
    def kinds(self) -> set[str]:
        return {e.kind for e in self.exercises if e.kind}

    @property
    def points(self) -> int:
        return sum(e.points for e in self.exercises)

    def problems(self) -> list[str]:
        """How the chapter breaks the exercise convention (empty when it follows it)."""
        name = self.path.stem
        out = []
        if len(self.exercises) < 3:
            out.append(f"{name}: {len(self.exercises)} exercise(s); at least 3 are required")
        labels = [e.label for e in self.exercises]
        for e in self.exercises:
            if not re.fullmatch(r"[A-Za-z][\w-]*", e.label):
                out.append(f"{name}: exercise {e.title!r} has :label: {e.label or '(none)'}; give a label "
                           "of letters, digits, '-' and '_'")
            if labels.count(e.label) > 1:
                out.append(f"{name}: the label {e.label!r} is used by {labels.count(e.label)} exercises")
            if e.kind not in KINDS:
                out.append(f"{name}: exercise {e.label!r} has :class: {e.kind or '(none)'}; "
                           f"give one of {', '.join(KINDS)}")
            if e.solution is None:
                out.append(f"{name}: exercise {e.label!r} has no {{solution}} {e.label}")
            elif not e.solution_is_dropdown:
                out.append(f"{name}: the solution of {e.label!r} lacks ':class: dropdown'")
            if e.solution_cells and not e.check_cells:
                out.append(f"{name}: exercise {e.label!r} has a 'solution' cell but no 'check' cell after it")
            for source in e.check_cells:
                if not check_calls(source):
                    out.append(f"{name}: the 'check' cell of {e.label!r} calls no check_* helper")
        missing = [k for k in KINDS if k not in self.kinds]
        if missing:
            out.append(f"{name}: no exercise of kind {', '.join(missing)} "
                       f"(every chapter has the kinds {', '.join(KINDS)})")
        for label in self.orphan_solutions:
            out.append(f"{name}: {{solution}} {label} names no exercise before it")
        for where in self.stray_cells:
            out.append(f"{name}: {where}")
        return out


def parse_chapter(md: Path) -> Chapter:
    """Read chapter ``md`` into text, code and exercises.

    An exercise collects the ``{solution}`` naming it and the ``solution`` and ``check``
    cells that follow it; any other text or code ends it.
    """
    nb = read_chapter(md)
    items: list = []
    by_label: dict[str, Exercise] = {}
    orphans: list[str] = []
    stray: list[str] = []
    current: Exercise | None = None
    first_code = True
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            pos = 0
            for d in directives(cell.source):
                before = "\n".join(lines[pos:d.start]).strip("\n")
                if before.strip():
                    items.append(Text(before))
                    current = None
                if d.name == "exercise":
                    current = Exercise(d.options.get("label", "").strip(), d.argument,
                                       d.options.get("class", "").strip(), d.body)
                    by_label.setdefault(current.label, current)
                    items.append(current)
                else:
                    label = d.argument.strip()
                    if label in by_label:
                        ex = by_label[label]
                        ex.solution = d.body
                        ex.solution_is_dropdown = "dropdown" in d.options.get("class", "").split()
                    else:
                        orphans.append(label)
                pos = d.end + 1
            after = "\n".join(lines[pos:]).strip("\n")
            if after.strip():
                items.append(Text(after))
                current = None
        elif cell.cell_type == "code":
            tags = _tags(cell)
            if first_code:
                first_code = False
                if cell.source != install_cell():
                    stray.append("the first code cell is not the install cell "
                                 "(python scripts/sync_notebooks.py --print-install-cell prints it)")
                continue
            if SOLUTION_TAG in tags or CHECK_TAG in tags:
                if current is None:
                    stray.append(f"a {'solution' if SOLUTION_TAG in tags else 'check'} cell follows no exercise:\n"
                                 f"{cell.source[:200]}")
                    items.append(Code(cell.source, tags))
                elif SOLUTION_TAG in tags:
                    if current.check_cells:
                        stray.append(f"exercise {current.label!r}: a 'solution' cell after its 'check' cell")
                    current.solution_cells.append(cell.source)
                else:
                    current.check_cells.append(cell.source)
                continue
            items.append(Code(cell.source, tags))
            current = None
        else:
            items.append(Text(cell.source))
            current = None
    metadata = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    return Chapter(md, items, metadata, orphans, stray)


# --------------------------------------------------------------------------- answers and tests

def placeholder(source: str, label: str | None = None) -> str:
    """The student's version of a ``solution`` cell: its imports, each name it assigns
    set to ``...``, and each function it defines with its signature and docstring and
    ``return ...`` as the body."""
    tree = ast.parse(source)
    where = f" (exercise {label})" if label else ""
    lines = [f"{PLACEHOLDER_HEADER}{where}: replace each ... with your own code or value."]
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.append(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stub = copy.deepcopy(node)
            doc = ast.get_docstring(node, clean=False)
            stub.body = ([ast.Expr(ast.Constant(doc))] if doc is not None else []) + [
                ast.Return(ast.Constant(...))]
            lines.append(ast.unparse(stub) + "  # your code here")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        lines.append(f"{name.id} = ...  # your answer here")
    return "\n".join(lines)


def assigned_names(source: str) -> list[str]:
    """The names a cell binds at its top level (assignments, functions, classes), in order."""
    out: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out.extend(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return list(dict.fromkeys(out))


def free_names(source: str) -> list[str]:
    """The names that code ``source`` reads from its notebook's global namespace: read
    somewhere in it (nested scopes included) but never bound at its top level, and not
    builtins."""
    body = "\n".join("    " + line for line in source.split("\n"))
    top = symtable.symtable(f"def _cell():\n{body}\n", "<check cell>", "exec").get_children()[0]
    local = {s.get_name() for s in top.get_symbols() if s.is_local()}
    found: list[str] = []

    def walk(table) -> None:
        for s in table.get_symbols():
            if s.is_referenced() and (s.is_global() or s.is_free()) and s.get_name() not in local:
                found.append(s.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    free = {n for n in found if not hasattr(builtins, n) and n not in local}
    first: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in free:
            first[node.id] = min(first.get(node.id, (node.lineno, node.col_offset)), (node.lineno, node.col_offset))
    return sorted(free, key=first.__getitem__)


def test_function_name(label: str) -> str:
    return "test_" + re.sub(r"\W", "_", label)


def test_source(label: str, check_source: str) -> str:
    """The otter test of an exercise: its ``check`` cell as the body of a function whose
    arguments are the names the cell reads from the notebook (otter passes them in from
    the student's namespace). A wrong answer raises the check helper's ``AnswerError``,
    whose message the student sees."""
    tree = ast.parse(check_source)
    args = ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in free_names(check_source)], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    func = ast.FunctionDef(name=test_function_name(label), args=args, body=tree.body, decorator_list=[],
                           returns=None)
    return ast.unparse(ast.fix_missing_locations(ast.Module(body=[func], type_ignores=[])))


def solution_cell_source(source: str, label: str) -> str:
    """A ``solution`` cell in otter's notation: the placeholder as the prompt, the
    chapter's reference answer as the solution."""
    prompt = placeholder(source, label)
    if "'''" in prompt:
        raise ValueError(f"exercise {label}: the placeholder contains ''' , which the prompt block cannot hold")
    return "\n".join(["''' # BEGIN PROMPT", prompt, "''' # END PROMPT",
                      "# BEGIN SOLUTION NO PROMPT", source, "# END SOLUTION"])


# --------------------------------------------------------------------------- the master notebook

def _raw(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(source)


def _markdown_text(source: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", source).strip("\n")


def exercise_markdown(ex: Exercise) -> str:
    how = "auto-graded" if ex.auto else "graded by hand"
    head = f"**Exercise: {ex.title or ex.label}** ({ex.kind}; {ex.points} points, {how})"
    return "\n".join([f'<a id="{ex.label}"></a>', "", head, "", ex.body])


def assignment_config(chapter: Chapter) -> dict:
    """The otter-assign configuration of one chapter."""
    requirements = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [r for r in requirements if r and not r.startswith(("jupyter-book", "playwright", "pytest",
                                                                       "nbmake", "sphinx", "otter-grader"))]
    return {
        "name": chapter.path.stem,
        "init_cell": False,        # our own, after the install cell (otter must be installed first on Colab)
        "check_all_cell": True,
        "run_tests": False,
        "export_cell": {"pdf": False, "run_tests": False,
                        "instructions": "Hand in the zip file it writes (or this notebook, if your course "
                                        "collects notebooks)."},
        "tests": {"files": True, "ok_format": False},
        "generate": {"show_stdout": True, "show_hidden": False},
        # What the grading machine (Gradescope) installs: the course library and what it imports.
        "requirements": [f"git+{repository_url()}"] + requirements,
        "overwrite_requirements": False,
    }


def assignment_install_cell(chapter: Chapter, tests_url: str | None) -> str:
    """The first cell of a student notebook: the chapter's install cell, with otter-grader
    added; with ``tests_url`` it also fetches the public tests on Colab (otter needs them
    in ``./tests`` there, since a Colab notebook has no file beside it)."""
    cell = install_cell(extra=(requirement("otter-grader"),))
    auto = [e.label for e in chapter.exercises if e.auto]
    if tests_url:
        cell += ("\n    import os, urllib.request\n    os.makedirs(\"tests\", exist_ok=True)\n"
                 f"    for name in {auto!r}:\n"
                 f"        urllib.request.urlretrieve(f\"{tests_url.rstrip('/')}/{{name}}.py\", f\"tests/{{name}}.py\")")
    return cell


def master_notebook(chapter: Chapter, tests_url: str | None = None) -> nbformat.NotebookNode:
    """The otter-assign master notebook of ``chapter``."""
    import yaml

    name = chapter.path.stem
    cells = [_raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(assignment_config(chapter), sort_keys=False))]
    notice_done = False
    for item in chapter.items:
        if isinstance(item, Text):
            cells.append(nbformat.v4.new_markdown_cell(_markdown_text(item.source)))
            if not notice_done:
                notice_done = True
                auto = sum(e.points for e in chapter.exercises if e.auto)
                manual = sum(e.points for e in chapter.exercises if not e.auto)
                cells.append(nbformat.v4.new_markdown_cell(
                    f"*Assignment: {len(chapter.exercises)} exercises, {chapter.points} points "
                    f"({auto} auto-graded, {manual} graded by hand; derive {POINTS['derive']}, "
                    f"predict {POINTS['predict']}, implement {POINTS['implement']} points each). "
                    f"Each cell that starts with `{PLACEHOLDER_HEADER}` is yours to fill in; the "
                    "`grader.check(...)` cell after it runs the exercise's check and says whether your "
                    "answer is right and, if not, what is wrong. Answer the other exercises in the "
                    "Markdown cell below them.*"))
            continue
        if isinstance(item, Code):
            new = nbformat.v4.new_code_cell(item.source)
            keep = [t for t in item.tags if t != "hide-input"]
            if keep:
                new.metadata["tags"] = keep
            cells.append(new)
            continue
        ex: Exercise = item
        config = {"name": ex.label, "points": ex.points}
        if not ex.auto:
            config["manual"] = True
        cells.append(_raw("# BEGIN QUESTION\n" + yaml.safe_dump(config, sort_keys=False)))
        cells.append(nbformat.v4.new_markdown_cell(exercise_markdown(ex)))
        cells.append(_raw("# BEGIN SOLUTION"))
        if ex.solution is not None:
            cells.append(nbformat.v4.new_markdown_cell(ex.solution))
        for source in ex.solution_cells:
            cells.append(nbformat.v4.new_code_cell(solution_cell_source(source, ex.label),
                                                   metadata={"tags": [SOLUTION_TAG]}))
        cells.append(_raw("# END SOLUTION"))
        if ex.auto:
            cells.append(_raw("# BEGIN TESTS"))
            for source in ex.check_cells:
                cells.append(nbformat.v4.new_code_cell(test_source(ex.label, source)))
            cells.append(_raw("# END TESTS"))
        cells.append(_raw("# END QUESTION"))
    # The install cell and otter's init cell open the notebook (after the config).
    first = [nbformat.v4.new_code_cell(assignment_install_cell(chapter, tests_url)),
             nbformat.v4.new_code_cell(f'# Initialize otter-grader (the checks of the exercises)\nimport otter\n'
                                       f'grader = otter.Notebook("{name}.ipynb")')]
    cells[1:1] = first
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = nbformat.from_dict(copy.deepcopy(chapter.metadata))
    return nb


# --------------------------------------------------------------------------- otter assign

def _clean_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The instructor's copy: otter's autograder notebook without the prompt blocks and
    solution markers (its code is the chapter's reference answers)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out, in_prompt = [], False
        for line in cell.source.split("\n"):
            s = line.rstrip()
            if s.endswith("# BEGIN PROMPT"):
                in_prompt = True
            elif s.endswith("# END PROMPT"):
                in_prompt = False
            elif not in_prompt and not s.endswith(("# BEGIN SOLUTION NO PROMPT", "# END SOLUTION")):
                out.append(line)
        cell.source = "\n".join(out)
    return nb


@dataclass
class Written:
    chapter: str
    student: Path
    autograder: Path
    solutions: Path


def build(chapters: list[Path], out: Path, *, tests_url: str | None = None, run_tests: bool = False) -> list[Written]:
    """Write the assignments of ``chapters`` into ``out`` (see the module docstring)."""
    from otter.assign import main as otter_assign

    out = Path(out).resolve()
    parsed = [parse_chapter(md) for md in chapters]
    problems = [p for c in parsed for p in c.problems()]
    labels = [e.label for c in parsed for e in c.exercises]
    problems += [f"the label {lab!r} is used in more than one chapter (the tests share one folder)"
                 for lab in sorted({lab for lab in labels if labels.count(lab) > 1})]
    if problems:
        raise ValueError("the chapters break the exercise convention:\n" + "\n".join(problems))
    for sub in ("student", "autograder", "solutions"):
        (out / sub / "tests" if sub != "autograder" else out / sub).mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in parsed:
        name = chapter.path.stem
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            master = tmp / "master" / f"{name}.ipynb"
            master.parent.mkdir()
            nbformat.write(master_notebook(chapter, tests_url), master)
            result = tmp / "dist"
            otter_assign(str(master), str(result), no_pdfs=True, no_run_tests=not run_tests)
            student = out / "student" / f"{name}.ipynb"
            shutil.copy(result / "student" / f"{name}.ipynb", student)
            for test in (result / "student" / "tests").glob("*.py"):
                shutil.copy(test, out / "student" / "tests" / test.name)
            solutions = out / "solutions" / f"{name}.ipynb"
            nb = _clean_solutions(nbformat.read(result / "autograder" / f"{name}.ipynb", as_version=4))
            nbformat.write(nb, solutions)
            for test in (result / "autograder" / "tests").glob("*.py"):
                shutil.copy(test, out / "solutions" / "tests" / test.name)
            zips = glob.glob(str(result / "autograder" / f"{name}-autograder_*.zip"))
            if len(zips) != 1:
                raise RuntimeError(f"otter assign wrote {len(zips)} autograder zips for {name}")
            autograder = out / "autograder" / f"{name}.zip"
            shutil.copy(zips[0], autograder)
        written.append(Written(name, student, autograder, solutions))
    return written


def summary_table(chapters: list[Path]) -> str:
    """A Markdown table: exercises, kinds, checks and points per chapter."""
    rows = ["| chapter | exercises | derive / predict / implement | auto-graded (points) | by hand (points) "
            "| check helpers |", "| --- | --- | --- | --- | --- | --- |"]
    for md in chapters:
        c = parse_chapter(md)
        kinds = " / ".join(str(sum(e.kind == k for e in c.exercises)) for k in KINDS)
        auto = [e for e in c.exercises if e.auto]
        manual = [e for e in c.exercises if not e.auto]
        checks = sorted({h for e in c.exercises for h in e.checks})
        rows.append(f"| {md.stem} | {len(c.exercises)} | {kinds} | {len(auto)} ({sum(e.points for e in auto)}) | "
                    f"{len(manual)} ({sum(e.points for e in manual)}) | {', '.join(f'`{h}`' for h in checks) or '-'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter sources (default: every book/NN_*.md)")
    parser.add_argument("--out", type=Path, help="output folder (student/, autograder/, solutions/ go into it)")
    parser.add_argument("--tests-url", help="where the public tests (DIR/student/tests) will be served from; "
                                            "the notebooks then fetch them on Colab")
    parser.add_argument("--run-tests", action="store_true",
                        help="let otter assign grade each solutions notebook (executes every chapter)")
    parser.add_argument("--summary", action="store_true", help="print exercises, checks and points per chapter; "
                                                               "write nothing")
    args = parser.parse_args(argv)
    chapters = [p.resolve() for p in args.chapters] or chapter_sources()
    if args.summary:
        print(summary_table(chapters))
        problems = [p for md in chapters for p in parse_chapter(md).problems()]
        for p in problems:
            print(f"convention: {p}", file=sys.stderr)
        return 1 if problems else 0
    if args.out is None:
        parser.error("--out DIR is required (or --summary)")
    try:
        written = build(chapters, args.out, tests_url=args.tests_url, run_tests=args.run_tests)
    except ValueError as exc:
        print(f"assignments: {exc}", file=sys.stderr)
        return 1
    for w in written:
        print(f"wrote: {w.student}  {w.autograder}  {w.solutions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
