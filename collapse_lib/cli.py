"""Command line: run a chapter's experiment headless and write its numbers and figures.

    python -m collapse_lib run distributions --profile quick --out runs/distributions
    python -m collapse_lib run gmm --profile quick --set chains=4 --set snapshots=0,5,10 --out runs/gmm
    python -m collapse_lib show gmm --profile quick

``run`` writes ``config.json`` (the settings, and the overrides given), ``results.json``
(the chapter's numbers) and ``figures/*.png`` into the output directory. ``show`` lists
every setting of a chapter with its value in a profile and what it means. Errors a user
can cause print one line, ``error: ...``, and exit with 2 (``--debug`` adds the
traceback); Ctrl-C exits with 130.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from . import protocol
from .profiles import PROFILES, resolve_profile
from .settings import config_dict, field_comments, read, settings, split_assignment, type_name, value_text
from .store import atomic_write_bytes, atomic_write_json

#: experiment name -> the module of its results (the chapter protocol, :mod:`collapse_lib.protocol`)
EXPERIMENTS = {name: f"collapse_lib.experiments.{name}" for name in protocol.CHAPTERS}

DEVICES = protocol.DEVICES


class UsageError(ValueError):
    """A command line that cannot be run as written."""


class OutputError(OSError):
    """The output directory cannot be written."""

    @classmethod
    def of(cls, out: Path, err: OSError) -> "OutputError":
        why = err.strerror or err
        return cls(f"the output folder {str(out)!r} cannot be written ({why}); choose another with --out")


def run_settings(device: str | None = None, threads: int | None = None) -> protocol.Run:
    """How the run is carried out, from ``--device`` and ``--threads``."""
    if device == "cuda":
        from . import runtime

        if not runtime.cuda_available():
            raise UsageError("device='cuda' is not available: torch finds no CUDA GPU on this machine; "
                             "use --device cpu (or leave --device out)")
    return protocol.Run(device=device, threads=threads)


def check_writable(out: Path) -> None:
    """Create ``out`` and write a probe file in it, before any work starts (a file of
    this process's own, since every rank of a torchrun checks the same folder at once)."""
    import os
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError.of(out, err) from err


def run(experiment: str, profile: str | None, out: Path, overrides: dict | None = None,
        run: protocol.Run | None = None) -> dict:
    """Run ``experiment`` and write its outputs under ``out``; returns the results.

    ``overrides`` are settings of the chapter's config (text as after ``--set NAME=``, or
    values); ``run`` says how it runs (device, threads)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profile = resolve_profile(profile)
    overrides = dict(overrides or {})
    cfg = protocol.load(experiment, profile, overrides)  # refuse a bad setting before any work
    given = read(type(cfg), overrides)  # the overrides as values, for config.json
    out = Path(out)
    check_writable(out)
    start = time.perf_counter()
    cfg, results, figures = protocol.run_chapter(experiment, profile, overrides, run)
    seconds = time.perf_counter() - start
    from .distributed import is_main

    if not is_main():  # under torchrun, rank 0 writes the gathered results
        for fig in figures.values():
            plt.close(fig)
        return results
    head = {"experiment": experiment, "profile": profile}
    try:
        atomic_write_json(out / "config.json", {**head, "overrides": config_dict(given), **config_dict(cfg)})
        atomic_write_json(out / "results.json", {**head, "seconds": seconds, **results})
        for name, fig in figures.items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=120)
            plt.close(fig)
            atomic_write_bytes(out / "figures" / f"{name}.png", buf.getvalue())
    except OSError as err:
        raise OutputError.of(out, err) from err
    return results


def show(experiment: str, profile: str | None) -> str:
    """Every setting of ``experiment``'s config: its value at ``profile``, type and meaning."""
    profile = resolve_profile(profile)
    cfg = protocol.load(experiment, profile)
    cls = type(cfg)
    rows, notes = [], {}
    for name, kind in settings(cls).items():
        value, owner = cfg, cls
        for part in name.split("."):
            owner = type(value)
            value = getattr(value, part)
        for c in (cls, owner):
            if c not in notes:
                notes[c] = field_comments(c)
        comment = notes[owner].get(name.split(".")[-1], ("", ""))[0]
        section = notes[cls].get(name.split(".")[0], ("", ""))[1]
        rows.append((section, f"{name}={value_text(value)}", type_name(kind), comment))
    width = min(36, max(len(a) for _, a, _, _ in rows))
    kinds = min(18, max(len(k) for _, _, k, _ in rows))
    lines = [f"{experiment} ({EXPERIMENTS[experiment]}.{cls.__name__}), profile {profile}; "
             "change a setting with --set NAME=VALUE"]
    current = ""
    for section, assignment, kind, comment in rows:
        if section != current and section:
            lines.append(f"  # {section}")
        current = section
        lines.append(f"  {assignment:<{width}}  {kind:<{kinds}}  {comment}".rstrip())
    return "\n".join(lines)


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one ``error: ...`` line and exit status 2."""

    def error(self, message):
        print(f"error: {message}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


def parser() -> Parser:
    p = Parser(prog="python -m collapse_lib", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the traceback of an error")
    profile_help = f"one of {', '.join(PROFILES)} (default: COLLAPSE_PROFILE, else the machine's)"
    r = sub.add_parser("run", parents=[debug], help="run a chapter's experiment")
    r.add_argument("experiment", help=f"one of {', '.join(EXPERIMENTS)}")
    r.add_argument("--profile", default=None, help=profile_help)
    r.add_argument("--out", type=Path, required=True, help="output directory")
    r.add_argument("--seed", type=int, default=None, help="the config's seed (the same as --set seed=N)")
    r.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="change a setting of the chapter's config (repeatable); `show EXPERIMENT` lists them")
    r.add_argument("--device", default=None, choices=DEVICES,
                   help="where the chapters that train with torch run (default: CUDA when present)")
    r.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch and BLAS (default: the chapter's choice for its sizes)")
    s = sub.add_parser("show", parents=[debug], help="list a chapter's settings and their values in a profile")
    s.add_argument("experiment", help=f"one of {', '.join(EXPERIMENTS)}")
    s.add_argument("--profile", default=None, help=profile_help)
    sub.add_parser("profile", parents=[debug], help="print the profile in use")
    return p


def user_error(err: BaseException) -> str | None:
    """The one-line message of an error the user can fix, or None for a bug."""
    from .data.images import OfflineError

    if isinstance(err, OfflineError):
        return f"{err}; here: --profile quick, or rerun the same command once online"
    if isinstance(err, ImportError):
        text = str(err)
        if "pip install" in text:
            return text
        what = f"the package providing {err.name!r}" if err.name else "a package"
        return (f"{text}: {what} is needed here and not installed; install it "
                "(pip install -r requirements.txt) or run the 'quick' profile")
    if isinstance(err, (ValueError, OutputError)):
        return str(err)
    return None


def interrupted(experiment: str) -> str:
    """What Ctrl-C leaves behind."""
    if experiment in protocol.CHAPTERS and getattr(protocol.module(experiment), "RESUMABLE", False):
        from .runtime import cache_dir

        return (f"interrupted: the finished generations are kept in {cache_dir('runs')}; "
                "rerunning the same command resumes after the last one")
    return (f"interrupted: {experiment} keeps no partial results (it stores no generations); "
            "rerunning the same command starts it again")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "profile":
            from .profiles import banner

            print(banner())
            return 0
        if args.command == "show":
            print(show(args.experiment, args.profile))
            return 0
        protocol.module(args.experiment)  # a ValueError names the chapters
        profile = resolve_profile(args.profile)
        overrides = {**({"seed": args.seed} if args.seed is not None else {}),
                     **dict(split_assignment(a) for a in args.settings)}
        how = run_settings(args.device, args.threads)
        from .distributed import finish, is_main

        start = time.perf_counter()
        run(args.experiment, profile, args.out, overrides, how)
        if is_main():
            print(f"{args.experiment}: wrote {args.out}/config.json, results.json and figures/ in "
                  f"{time.perf_counter() - start:.1f} s")
        finish()
        return 0
    except BrokenPipeError:  # the reader of stdout went away (show ... | head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print(interrupted(getattr(args, "experiment", "")), file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 (bugs are re-raised below)
        message = user_error(err)
        if message is None:
            raise
        if args.debug:
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
