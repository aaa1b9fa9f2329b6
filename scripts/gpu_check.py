"""The course's check on a GPU machine, in one go (``bash scripts/gpu_check.sh``).

1. Every chapter executes top to bottom in the ``gpu`` profile through nbmake (in a
   temporary copy of ``book/``), timed.
2. Each chapter's experiment runs headless (``python -m collapse_lib run NAME``) in the
   same cache, which resumes the run stores the chapter left (the VAE, language-model and
   larger-models chapters) and gives the chapter's headline numbers as JSON.
3. The benchmarks' GPU lines (``python -m benchmarks --only gmm_em vae lm_generate
   lm_train``): ratios, throughput and model FLOPs utilisation (the dry run: the
   fine-tuning line only, ``--quick``; tests/test_benchmarks.py runs every line).
4. Everything goes into ``benchmarks/results/<device>-<date>.json``: the device, the commit,
   the seconds of each chapter, each chapter's headline numbers, the benchmark lines and
   the MFU; ``book/running.md`` reads its ``gpu`` column from the newest such file.

``--paper-lm`` adds the ``paper`` language-model run (hours on one GPU; see
``book/running.md`` for the estimate), headless.

``--dry-run`` runs the same steps on the CPU in a few minutes: the downloads are replaced by
the stand-ins of :mod:`collapse_lib.testing.standins` (real formats, through the real
loaders) in a temporary cache, every chapter's ``gpu`` settings are cut to the toy sizes of
``standins.TOY`` through ``COLLAPSE_OVERRIDES``, and the benchmark step runs its
fine-tuning line ``--quick`` on the CPU. Its results file goes to ``--out`` (default: the temporary folder), never into
``benchmarks/results``, whose files are real GPU measurements.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402

#: chapter number -> experiment of ``python -m collapse_lib run``
EXPERIMENTS = {"01": "distributions", "02": "gmm", "03": "vae", "04": "lm", "05": "mixing", "06": "larger",
               "07": "verification"}
#: the benchmark modules with GPU variants (``chains`` is NumPy on the CPU, ``book`` is step 1)
GPU_BENCHMARKS = ("gmm_em", "vae", "lm_generate", "lm_train")
CHAPTER_TIMEOUT_S = 900


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "device"


def run_chapter(md: Path, work: Path, env: dict) -> dict:
    """Execute one chapter with nbmake; its seconds and outcome."""
    book = work / "book"
    if not book.exists():
        shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns(
            "*.ipynb", "_build", ".ipynb_checkpoints", "__pycache__"))
    notebook = book / f"{md.stem}.ipynb"
    jupytext.write(jupytext.read(md, fmt="md:myst"), notebook, fmt="ipynb")
    cmd = [sys.executable, "-m", "pytest", "--nbmake", f"--nbmake-timeout={CHAPTER_TIMEOUT_S}", "-p",
           "no:cacheprovider", "-q", str(notebook.relative_to(work))]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=CHAPTER_TIMEOUT_S + 120)
    out = {"seconds": round(time.perf_counter() - start, 2), "ok": proc.returncode == 0}
    if not out["ok"]:
        out["log"] = (proc.stdout + proc.stderr)[-4000:]
    return out


def headlines(experiments: list[str], work: Path, env: dict, profile: str = "gpu") -> dict[str, dict]:
    """Each experiment's ``results.json`` from the command line's ``run`` (resuming the
    chapters' run stores), all in one process, or the error of each that failed."""
    outs = {e: work / "cli" / f"{e}-{profile}" for e in experiments}
    code = ("import json, sys, traceback\nfrom pathlib import Path\nfrom collapse_lib.cli import run\n"
            "failed = {}\n"
            "for name, out in json.loads(sys.argv[1]).items():\n"
            "    try:\n        run(name, sys.argv[2], Path(out))\n"
            "    except Exception:\n        failed[name] = traceback.format_exc()[-4000:]\n"
            "print(json.dumps(failed))\n")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps({e: str(o) for e, o in outs.items()}), profile],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    try:
        failed = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        failed = {e: (proc.stdout + proc.stderr)[-4000:] for e in experiments}
    found = {}
    for e, out in outs.items():
        if e in failed or not (out / "results.json").exists():
            found[e] = {"error": failed.get(e, "no results.json")}
            continue
        res = json.loads((out / "results.json").read_text())
        found[e] = {"seconds": round(res.pop("seconds"), 2), "results": res}
    return found


def benchmarks(work: Path, env: dict, dry_run: bool) -> dict:
    path = work / "benchmarks.json"
    cmd = [sys.executable, "-m", "benchmarks", "--json", str(path)]
    # the dry run checks the step with one line; every line runs --quick in tests/test_benchmarks.py
    cmd += ["--only", "lm_train", "--quick", "--device", "cpu"] if dry_run else ["--only", *GPU_BENCHMARKS]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    print(proc.stdout[-6000:], flush=True)
    if not path.exists():
        return {"error": (proc.stdout + proc.stderr)[-4000:], "results": []}
    data = json.loads(path.read_text())
    return {"exit": proc.returncode, **data}


def mfu_of(chapters: dict, bench: dict) -> dict:
    """The model FLOPs utilisation measured: the LM chapter's fine-tuning (per regime)
    and the benchmark's fine-tuning line."""
    out = {}
    lm = chapters.get("04", {}).get("headline", {}).get("results", {})
    for name, r in lm.get("regimes", {}).items():
        out[f"chapter 4 fine-tuning, {name}"] = r.get("mfu")
    for r in bench.get("results", []):
        if "mfu" in (r.get("extra") or {}):
            out[r["benchmark"]] = r["extra"]["mfu"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, on stand-ins, at toy size")
    parser.add_argument("--paper-lm", action="store_true", help="also run the paper profile's language model (hours)")
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/results/<device>-<date>.json; "
                                                 "with --dry-run, inside the temporary folder)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapters to run, by number (default: all)")
    parser.add_argument("--no-benchmarks", action="store_true", help="skip the benchmarks")
    args = parser.parse_args(argv)

    device = device_name()
    if not args.dry_run and device == "cpu":
        print("gpu_check: no CUDA device found; use --dry-run to check the steps on the CPU", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    env = dict(os.environ)
    env.update(COLLAPSE_PROFILE="gpu", CI="true")
    # the chapters' claims are shown and recorded in each results.json, not enforced: at the
    # dry run's toy sizes they need not hold, and on a GPU whether they hold is measured
    env.pop("COLLAPSE_STRICT_CLAIMS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if args.dry_run:
        from collapse_lib.testing import standins

        t0 = time.perf_counter()
        env.update(standins.build(work / "standins").env("gpu"))
        print(f"stand-ins built in {time.perf_counter() - t0:.1f} s under {work / 'standins'}", flush=True)
    today = datetime.date.today().isoformat()
    record = {"device": device, "date": today, "commit": commit(), "profile": "gpu", "dry_run": args.dry_run,
              "toy_overrides": json.loads(env["COLLAPSE_OVERRIDES"]) if args.dry_run else None, "chapters": {}}
    start = time.perf_counter()
    chapters = [md for md in book_config.chapter_sources() if not args.only or md.name[:2] in args.only]
    for md in chapters:
        entry = {"chapter": md.stem, **run_chapter(md, work, env)}
        print(f"{md.stem}: {'ok' if entry['ok'] else 'FAILED'} in {entry['seconds']:.1f} s", flush=True)
        record["chapters"][md.name[:2]] = entry
    t0 = time.perf_counter()
    numbers = [n for n in record["chapters"] if n in EXPERIMENTS]
    found = headlines([EXPERIMENTS[n] for n in numbers], work, env)
    for n in numbers:
        record["chapters"][n]["headline"] = found[EXPERIMENTS[n]]
        if "error" in found[EXPERIMENTS[n]]:
            print(f"python -m collapse_lib run {EXPERIMENTS[n]} failed", flush=True)
    print(f"headline numbers in {time.perf_counter() - t0:.1f} s", flush=True)
    if args.paper_lm:
        record["paper_lm"] = headlines(["lm"], work, {**env, "COLLAPSE_PROFILE": "paper"}, profile="paper")["lm"]
    if not args.no_benchmarks:
        record["benchmarks"] = benchmarks(work, env, args.dry_run)
    record["mfu"] = mfu_of(record["chapters"], record.get("benchmarks", {}))
    record["seconds"] = round(time.perf_counter() - start, 1)
    out = args.out or (work / "results.json" if args.dry_run
                       else ROOT / "benchmarks" / "results" / f"{slug(device)}-{today}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    failed = [e["chapter"] for e in record["chapters"].values() if not e["ok"] or "error" in e.get("headline", {})]
    bench_failed = record.get("benchmarks", {}).get("exit", 0) != 0 or "error" in record.get("benchmarks", {})
    print(f"gpu_check: {len(chapters)} chapters in {record['seconds']:.0f} s; wrote {out}", flush=True)
    if failed or bench_failed:
        print(f"gpu_check: failed: {', '.join(failed + (['benchmarks'] if bench_failed else []))}", file=sys.stderr)
        return 1
    if args.out is not None or not args.dry_run:  # else the results file lies inside it
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
