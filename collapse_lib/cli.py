"""Command line: run a chapter's experiment headless and write its numbers and figures.

    python -m collapse_lib run distributions --profile quick --out runs/distributions

writes ``config.json`` (the settings), ``results.json`` (the chapter's numbers) and
``figures/*.png`` into the output directory.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .profiles import PROFILES, resolve_profile
from .store import atomic_write_bytes, atomic_write_json


#: experiment name -> module whose ``cli_run(profile, seed)`` returns (config, results, figures)
EXPERIMENTS = {
    "distributions": "collapse_lib.experiments.distributions",
    "gmm": "collapse_lib.experiments.gmm",
    "vae": "collapse_lib.experiments.vae",
    "larger": "collapse_lib.experiments.larger",
    "lm": "collapse_lib.experiments.lm",
    "mixing": "collapse_lib.experiments.mixing",
}


def run(experiment: str, profile: str | None, out: Path, seed: int = 0) -> dict:
    """Run ``experiment`` and write its outputs under ``out``; returns the results."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment={experiment!r} is not allowed: it must be one of {sorted(EXPERIMENTS)}")
    profile = resolve_profile(profile)
    start = time.perf_counter()
    import importlib

    config, results, figures = importlib.import_module(EXPERIMENTS[experiment]).cli_run(profile, seed)
    seconds = time.perf_counter() - start
    from .distributed import is_main

    if not is_main():  # under torchrun, rank 0 writes the gathered results
        for fig in figures.values():
            plt.close(fig)
        return results
    out = Path(out)
    atomic_write_json(out / "config.json", {"experiment": experiment, "profile": profile, **config})
    atomic_write_json(out / "results.json", {"experiment": experiment, "profile": profile, "seconds": seconds, **results})
    for name, fig in figures.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        plt.close(fig)
        atomic_write_bytes(out / "figures" / f"{name}.png", buf.getvalue())
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collapse_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a chapter's experiment")
    r.add_argument("experiment", choices=sorted(EXPERIMENTS))
    r.add_argument("--profile", default=None, help=f"one of {', '.join(PROFILES)} (default: COLLAPSE_PROFILE or the machine's)")
    r.add_argument("--out", type=Path, required=True, help="output directory")
    r.add_argument("--seed", type=int, default=0)
    sub.add_parser("profile", help="print the profile in use")
    args = parser.parse_args(argv)
    try:
        if args.command == "profile":
            from .profiles import banner

            print(banner())
            return 0
        from .distributed import finish, is_main

        start = time.perf_counter()
        run(args.experiment, args.profile, args.out, args.seed)
        if is_main():
            print(f"{args.experiment}: wrote {args.out}/results.json and figures in {time.perf_counter() - start:.1f} s")
        finish()
        return 0
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
