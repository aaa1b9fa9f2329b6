#!/usr/bin/env python
"""Generate the student edition of the course: every chapter as a notebook without
solutions, ready for Colab or a course's JupyterHub.

The chapters follow one convention for exercises (written down in ``book/running.md``,
"Writing exercises"); this script relies on it and ``tests/test_student_edition.py``
checks it:

- an exercise is a ``{exercise}`` directive with a ``:label:`` and a ``:class:`` naming
  its kind, one of ``derive``, ``predict`` (change a setting and predict) or
  ``implement`` (write a small piece of code); every chapter has at least three
  exercises and all three kinds;
- its solution is a ``{solution} <label>`` directive with ``:class: dropdown`` holding
  prose and math only (sphinx-exercise allows no code cell inside it);
- a code cell with the reference answer of an exercise carries the cell tag
  ``solution`` (and ``hide-input``, so that the book shows it collapsed);
- a code cell that calls a ``collapse_lib.exercises.check_*`` helper on that answer
  carries the tag ``check``.

The student edition removes every ``{solution}`` block, turns each ``{exercise}``
block into plain Markdown (Colab and JupyterHub do not render MyST directives),
replaces each ``solution`` cell by a placeholder that keeps the imports, the names to
define and the signatures of the functions to write (``...`` where the answer goes),
keeps the ``check`` cells and tags them ``raises-exception``, so that the notebook
runs from top to bottom before the student has answered (the checks then say "no
answer yet"). The notebooks have no outputs and start with the same Colab install
cell as the book.

    python scripts/student_edition.py                  # write _build/student/NN_*.ipynb
    python scripts/student_edition.py --out DIR        # elsewhere
    python scripts/student_edition.py --summary        # exercises, kinds and checks per chapter
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_config import ROOT, chapter_sources  # noqa: E402

#: The kinds of exercise, given as the ``:class:`` of an ``{exercise}`` directive.
KINDS = ("derive", "predict", "implement")
#: Cell tags of the convention.
SOLUTION_TAG, CHECK_TAG = "solution", "check"
#: The tag that lets a cell raise without stopping the notebook (nbclient, nbmake).
RAISES_TAG = "raises-exception"
#: What a placeholder cell opens with.
PLACEHOLDER_HEADER = "# Your answer here"

DEFAULT_OUT = ROOT / "_build" / "student"

_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})\{(?P<name>[A-Za-z][\w:-]*)\}\s*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
_CHECK_CALL = re.compile(r"\b(check_\w+)\s*\(")


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


@dataclass
class ExerciseInfo:
    label: str
    title: str
    kind: str                        #: one of KINDS, or "" when the chapter gives none
    has_solution: bool = False
    solution_is_dropdown: bool = False
    checks: list[str] = field(default_factory=list)  #: check_* helpers called for it


@dataclass
class Inventory:
    """What a chapter offers its students: exercises, their kinds and auto-checks."""

    chapter: str
    exercises: list[ExerciseInfo]
    solution_cells: int
    check_cells: int
    orphan_solutions: list[str]      #: {solution} blocks naming no exercise of the chapter

    @property
    def checks(self) -> list[str]:
        return sorted({c for e in self.exercises for c in e.checks})

    @property
    def kinds(self) -> set[str]:
        return {e.kind for e in self.exercises if e.kind}

    def problems(self) -> list[str]:
        """How the chapter breaks the exercise convention (empty when it follows it)."""
        out = []
        if len(self.exercises) < 3:
            out.append(f"{self.chapter}: {len(self.exercises)} exercise(s); at least 3 are required")
        for e in self.exercises:
            if e.kind not in KINDS:
                out.append(f"{self.chapter}: exercise {e.label!r} has :class: {e.kind or '(none)'}; "
                           f"give one of {', '.join(KINDS)}")
            if not e.has_solution:
                out.append(f"{self.chapter}: exercise {e.label!r} has no {{solution}} {e.label}")
            elif not e.solution_is_dropdown:
                out.append(f"{self.chapter}: the solution of {e.label!r} lacks ':class: dropdown'")
        missing = [k for k in KINDS if k not in self.kinds]
        if missing:
            out.append(f"{self.chapter}: no exercise of kind {', '.join(missing)} "
                       f"(every chapter has the kinds {', '.join(KINDS)})")
        for label in self.orphan_solutions:
            out.append(f"{self.chapter}: {{solution}} {label} names no exercise of this chapter")
        return out


def read_chapter(md: Path) -> nbformat.NotebookNode:
    return jupytext.read(md, fmt="md:myst")


def inventory(md: Path) -> Inventory:
    """Count the exercises, their kinds, solutions and checks of chapter ``md``."""
    nb = read_chapter(md)
    exercises: dict[str, ExerciseInfo] = {}
    orphans: list[str] = []
    current: str | None = None
    solution_cells = check_cells = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for d in directives(cell.source):
                if d.name == "exercise":
                    label = d.options.get("label", "")
                    current = label
                    exercises[label] = ExerciseInfo(label, d.argument, d.options.get("class", "").strip())
                else:
                    label = d.argument.strip()
                    if label in exercises:
                        exercises[label].has_solution = True
                        exercises[label].solution_is_dropdown = "dropdown" in d.options.get("class", "").split()
                    else:
                        orphans.append(label)
        elif cell.cell_type == "code":
            tags = _tags(cell)
            if SOLUTION_TAG in tags:
                solution_cells += 1
            if CHECK_TAG in tags:
                check_cells += 1
                if current in exercises:
                    exercises[current].checks.extend(check_calls(cell.source))
    return Inventory(md.stem, list(exercises.values()), solution_cells, check_cells, orphans)


def _exercise_markdown(d: Directive) -> list[str]:
    title = d.argument or "Exercise"
    label = d.options.get("label", "")
    kind = d.options.get("class", "").strip()
    head = f"**Exercise: {title}**" + (f" ({kind})" if kind in KINDS else "")
    anchor = [f'<a id="{label}"></a>', ""] if label else []
    return anchor + [head, ""] + d.body.split("\n")


def student_markdown(markdown: str) -> str:
    """``markdown`` without its ``{solution}`` blocks, with ``{exercise}`` blocks as
    plain Markdown."""
    lines = markdown.split("\n")
    out: list[str] = []
    pos = 0
    for d in directives(markdown):
        out.extend(lines[pos:d.start])
        if d.name == "exercise":
            out.extend(_exercise_markdown(d))
        pos = d.end + 1
    out.extend(lines[pos:])
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


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


def student_notebook(md: Path) -> nbformat.NotebookNode:
    """The student edition of chapter ``md`` (no outputs, no solutions)."""
    nb = read_chapter(md)
    cells = []
    current: str | None = None
    for cell in nb.cells:
        tags = _tags(cell)
        if cell.cell_type == "markdown":
            labels = [d.options.get("label") for d in directives(cell.source) if d.name == "exercise"]
            current = labels[-1] if labels else current
            text = student_markdown(cell.source)
            if text.strip():
                cells.append(nbformat.v4.new_markdown_cell(text))
        elif cell.cell_type == "code":
            if SOLUTION_TAG in tags:
                cells.append(nbformat.v4.new_code_cell(placeholder(cell.source, current),
                                                       metadata={"tags": [SOLUTION_TAG]}))
                continue
            new = nbformat.v4.new_code_cell(cell.source)
            keep = [t for t in tags if t != "hide-input"]
            if CHECK_TAG in tags and RAISES_TAG not in keep:
                keep.append(RAISES_TAG)
            if keep:
                new.metadata["tags"] = keep
            cells.append(new)
        else:
            cells.append(copy.deepcopy(cell))
    notice = nbformat.v4.new_markdown_cell(
        "*Student edition: the solutions are not included. Each cell that starts with "
        f"`{PLACEHOLDER_HEADER}` is yours to fill in; the `check_...` cell after it tells you "
        "whether your answer is right and, if not, what is wrong.*")
    title = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), -1)
    cells.insert(title + 1, notice)
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = nbformat.from_dict({k: nb.metadata[k] for k in ("kernelspec", "language_info")
                                       if k in nb.metadata})
    for i, cell in enumerate(out.cells):
        cell.id = f"cell-{i:03d}"
    return out


def write_student_edition(out: Path = DEFAULT_OUT, chapters: list[Path] | None = None) -> list[Path]:
    """Write the student edition of ``chapters`` (default: all) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for md in chapters or chapter_sources():
        path = out / f"{md.stem}.ipynb"
        path.write_text(nbformat.writes(student_notebook(md), version=4) + "\n", encoding="utf-8")
        written.append(path)
    return written


def summary_table(chapters: list[Path] | None = None) -> str:
    """A Markdown table: exercises, their kinds and checks per chapter."""
    rows = ["| chapter | exercises | derive / predict / implement | check cells | check helpers |",
            "| --- | --- | --- | --- | --- |"]
    for md in chapters or chapter_sources():
        inv = inventory(md)
        kinds = " / ".join(str(sum(e.kind == k for e in inv.exercises)) for k in KINDS)
        rows.append(f"| {md.stem} | {len(inv.exercises)} | {kinds} | {inv.check_cells} | "
                    f"{', '.join(f'`{c}`' for c in inv.checks) or '-'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter sources (default: every book/NN_*.md)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--summary", action="store_true", help="print exercises and checks per chapter; write nothing")
    args = parser.parse_args(argv)
    chapters = [p.resolve() for p in args.chapters] or chapter_sources()
    if args.summary:
        print(summary_table(chapters))
        problems = [p for md in chapters for p in inventory(md).problems()]
        for p in problems:
            print(f"convention: {p}", file=sys.stderr)
        return 1 if problems else 0
    for path in write_student_edition(args.out, chapters):
        print(f"wrote: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
