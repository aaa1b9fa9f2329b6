"""GPU measurements of the course, and the wall-time estimate of the ``paper`` language model.

``scripts/gpu_check.sh`` writes one JSON file per GPU run into ``benchmarks/results/``
(device, date, commit, each chapter's seconds and headline numbers, the benchmark lines).
:func:`newest_results` picks the newest real one (dry runs on the CPU are never counted)
and :func:`timing_table` makes the running page's table of chapter times from it, with
"not measured yet" wherever no GPU run has measured a time.

:func:`lm_paper_wall_time` estimates how long the ``paper`` profile of chapter 4 takes on
``g`` GPUs. It counts the FLOPs of every step of the run (Kaplan et al., 2020: about
``6 N`` per trained token and ``2 N`` per token of a forward pass, for ``N`` weights; at
128 tokens per sequence attention adds under 2 % for OPT-125m and is left out) and divides
by the throughput, measured (the results file's fine-tuning and generation lines on
OPT-125m's architecture) or, until a GPU run exists, assumed and said so. The regimes,
and with more GPUs than regimes their chains, are spread over the GPUs as
:mod:`collapse_lib.distributed` spreads them, so the wall time is the busiest GPU's sum.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

#: OPT-125m's weights (``count_parameters`` of ``facebook/opt-125m``; embeddings tied).
OPT_125M_PARAMETERS = 125_239_296
#: wikitext-2 (raw) in OPT's tokenizer: 64-token blocks of the training and test splits.
WIKITEXT_BLOCKS = {"train": 37_000, "test": 4_400}
#: Throughput assumed until a GPU run measures it (H100, bf16): fine-tuning at the
#: course's target of 40 % MFU of the 989 TFLOP/s peak, and 5-beam generation at 25,000
#: new tokens per second (256 blocks x 5 beams a batch, ~10 ms a decoding step).
ASSUMED = {"device": "H100 (assumed)", "train_tokens_per_s": 0.40 * 989e12 / (6 * OPT_125M_PARAMETERS),
           "generate_tokens_per_s": 25_000.0, "eval_tokens_per_s": 3 * 0.40 * 989e12 / (6 * OPT_125M_PARAMETERS)}


def results_folder(start: str | Path | None = None) -> Path:
    """``benchmarks/results`` of the repository that holds ``start`` (default: the
    working directory, e.g. ``book/`` while the book builds)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "benchmarks" / "results").is_dir() or (folder / "collapse_lib").is_dir():
            return folder / "benchmarks" / "results"
    return here / "benchmarks" / "results"


def results_files(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob("*.json"))


def newest_results(folder: str | Path) -> dict | None:
    """The newest results file of a real GPU run in ``folder`` (by date, then name), or None."""
    best = None
    for path in results_files(folder):
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("dry_run") or rec.get("device", "cpu") == "cpu":
            continue
        key = (rec.get("date", ""), path.name)
        if best is None or key > best[0]:
            best = (key, {**rec, "file": path.name})
    return None if best is None else best[1]


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 600 else f"{s / 60:.0f} min"


def timing_table(chapters: dict[str, tuple[str, ...]], folder: str | Path) -> str:
    """A Markdown table: chapter, its CPU times (given: ``quick``, then ``cpu`` when the
    tuples hold it), and its ``gpu`` and ``paper`` times from the newest results file
    ("not measured yet" without one). ``chapters`` maps the chapter number ("01") to
    (title, quick time) or (title, quick time, cpu time)."""
    rec = newest_results(folder) or {}
    measured = rec.get("chapters", {})
    cpu_column = all(len(row) == 3 for row in chapters.values())
    head = "| chapter | `quick`, 2-core CPU |" + (" `cpu`, 2-core CPU |" if cpu_column else "") + " `gpu` | `paper` |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for number, (title, quick, *cpu) in chapters.items():
        gpu = measured.get(number, {})
        gpu_time = _seconds(gpu["seconds"]) if gpu.get("ok") else "not measured yet"
        paper = "not measured yet"
        if number == "04" and "results" in rec.get("paper_lm", {}):
            paper = _seconds(rec["paper_lm"]["seconds"])
        cpu_time = f" {cpu[0]} |" if cpu_column else ""
        lines.append(f"| {int(number)}. {title} | {quick} |{cpu_time} {gpu_time} | {paper} |")
    where = (f"`gpu` and `paper` columns: {rec['device']}, {rec['date']} (commit {rec['commit'][:10]}, "
             f"`benchmarks/results/{rec['file']}`)" if rec else
             "`gpu` and `paper` columns: no GPU run has been committed to `benchmarks/results/` yet")
    return "\n".join(lines) + "\n\n" + where + "."


@dataclass
class WallTime:
    """Estimated seconds of the ``paper`` LM run: per regime, and on ``gpus`` GPUs."""

    regimes: dict  # regime -> seconds on one GPU
    gpus: int
    seconds: float  # wall time: the busiest GPU
    flops: dict  # regime -> FLOPs
    source: str  # where the throughput came from


def lm_run_flops(cfg, *, n_params: int = OPT_125M_PARAMETERS, blocks: int | None = None,
                 test_blocks: int | None = None) -> dict[str, dict[str, float]]:
    """FLOPs and tokens of each regime of an LM config: training, generation, scoring."""
    blocks = cfg.train_blocks or blocks or WIKITEXT_BLOCKS["train"]
    test = cfg.test_blocks or test_blocks or WIKITEXT_BLOCKS["test"]
    L, G, C = cfg.block_size, cfg.generations, cfg.chains
    out = {}
    for regime in cfg.regimes:
        train_tokens = (G + 1) * C * blocks * L * cfg.epochs(regime)
        new_tokens = G * C * blocks * L  # continuations (each of num_beams beams)
        gen_tokens = new_tokens * cfg.num_beams * 2  # prompt and new tokens, every beam
        eval_tokens = (G + 1) * C * (test + blocks) * L  # test perplexity and data perplexity under generation 0
        out[regime] = {"train_tokens": train_tokens, "new_tokens": new_tokens, "eval_tokens": eval_tokens,
                       "flops": 6 * n_params * train_tokens + 2 * n_params * (gen_tokens + eval_tokens)}
    return out


def lm_paper_wall_time(cfg, gpus: int = 1, measured: dict | None = None) -> WallTime:
    """The estimate for ``gpus`` GPUs, from the throughput in ``measured`` (keys of
    :data:`ASSUMED`) or the assumed one, for the way :mod:`collapse_lib.distributed`
    spreads the run: regime ``i`` on GPU ``i mod gpus``; with more GPUs than regimes, each
    regime on a group of them (:func:`~collapse_lib.distributed.unit_ranks`) that shares
    out its chains (:func:`~collapse_lib.distributed.chain_ranks`). A chain costs a
    regime's time over its chains; a leftover chain run data-parallel on ``k`` GPUs takes
    ``1/k`` of its fine-tuning and generation (linear scaling, communication not counted)
    and all of its scoring, done by one GPU while the others of its group wait. The wall
    time is the busiest GPU's sum."""
    from .distributed import chain_ranks, unit_ranks

    rate = measured or ASSUMED
    per, shared, scoring = {}, {}, {}
    counts = lm_run_flops(cfg)
    for regime, c in counts.items():
        shared[regime] = c["train_tokens"] / rate["train_tokens_per_s"] + c["new_tokens"] / rate["generate_tokens_per_s"]
        scoring[regime] = c["eval_tokens"] / rate["eval_tokens_per_s"]
        per[regime] = shared[regime] + scoring[regime]
    flops = {k: v["flops"] for k, v in counts.items()}
    if gpus <= len(cfg.regimes):
        load = [0.0] * gpus
        for i, r in enumerate(cfg.regimes):
            load[i % gpus] += per[r]
        return WallTime(per, gpus, max(load), flops, rate["device"])
    seconds = 0.0
    for r, members in zip(cfg.regimes, unit_ranks(len(cfg.regimes), gpus)):
        load = [0.0] * len(members)
        for ranks in chain_ranks(cfg.chains, len(members)):
            for j in ranks:
                load[j] += (shared[r] / len(ranks) + scoring[r]) / cfg.chains
        seconds = max(seconds, max(load))
    return WallTime(per, gpus, seconds, flops, rate["device"])


def measured_lm_throughput(rec: dict | None) -> dict | None:
    """The fine-tuning and generation rates of OPT-125m's architecture from a results
    file's benchmark lines, or None."""
    if not rec:
        return None
    rates = {}
    for r in rec.get("benchmarks", {}).get("results", []):
        extra = r.get("extra") or {}
        if r["benchmark"].startswith("LM fine-tuning") and "tokens_per_s" in extra:
            rates["train_tokens_per_s"] = extra["tokens_per_s"]
        if r["benchmark"].startswith("LM generation") and "tokens_per_s" in extra:
            rates["generate_tokens_per_s"] = extra["tokens_per_s"]
    if len(rates) < 2:
        return None
    rates["eval_tokens_per_s"] = 3 * rates["train_tokens_per_s"]  # a forward pass is a third of a training step
    rates["device"] = f"{rec['device']}, measured {rec['date']}"
    return rates
