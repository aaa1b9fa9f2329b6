"""Run the benchmarks and print one table (see :mod:`benchmarks`)."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from . import MODULES
from .common import Result, default_device, machine

COLUMNS = ("benchmark", "baseline", "ours", "ratio", "throughput", "target", "met?")


def _seconds(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g} s" if x < 100 else f"{x:.0f} s"


def _row(r: Result) -> tuple[str, ...]:
    if r.error:
        return (r.benchmark, "-", "-", "-", "-", r.target, "ERROR")
    ratio = "-" if r.ratio is None else (f"{r.ratio:.1f}x" if r.ratio < 100 else f"{r.ratio:.0f}x")
    met = {True: "yes", False: "no", None: "-"}[r.met]
    return (r.benchmark, _seconds(r.baseline_s), _seconds(r.ours_s), ratio, r.throughput, r.target, met)


def table(results: list[Result]) -> str:
    """The results as a Markdown table, followed by each line's notes and errors."""
    rows = [COLUMNS] + [_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    fmt = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    lines = [fmt(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt(row) for row in rows[1:]]
    notes = [f"- {r.benchmark}: {r.error or r.notes}" for r in results if r.error or r.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def run_module(name: str, quick: bool, device: str) -> list[Result]:
    """The lines of one benchmark module; an exception becomes an error line."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        return module.run(quick=quick, device=device)
    except Exception as exc:
        traceback.print_exc()
        return [Result(name, error=f"{type(exc).__name__}: {exc}")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes on two CPU cores")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"run only these of: {', '.join(MODULES)}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when present")
    args = parser.parse_args(argv)
    names = list(MODULES)
    if args.only:
        unknown = sorted(set(args.only) - set(MODULES))
        if unknown:
            parser.error(f"--only {' '.join(unknown)} is not allowed: the benchmarks are {', '.join(MODULES)}")
        names = [n for n in MODULES if n in args.only]
    device = args.device or default_device()
    print(f"benchmarks ({'quick' if args.quick else 'full'}) on {machine()}; device {device}", flush=True)
    results, start = [], time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        lines = run_module(name, args.quick, device)
        results += lines
        print(f"  {name}: {len(lines)} line(s) in {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(table(results))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"quick": args.quick, "device": device, "machine": machine(),
                                         "results": [r.to_dict() for r in results]}, indent=2))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
