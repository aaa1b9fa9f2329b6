"""The running page's GPU columns and the paper LM estimate (:mod:`collapse_lib.measured`)."""
from __future__ import annotations

import json

import pytest

from collapse_lib import protocol
from collapse_lib.experiments import lm
from collapse_lib.measured import (OPT_125M_PARAMETERS, lm_paper_wall_time, lm_run_flops, measured_lm_throughput,
                                   newest_results, timing_table)

CHAPTERS = {"03": ("Variational autoencoders", "21 s"), "04": ("Language models and perplexity", "31 s")}


def write(folder, name, **rec):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(rec))


def test_without_a_gpu_run_the_columns_say_not_measured_yet(tmp_path):
    write(tmp_path, "cpu-2026-01-02.json", device="cpu", date="2026-01-02", dry_run=True,
          chapters={"03": {"ok": True, "seconds": 5}})
    assert newest_results(tmp_path) is None
    table = timing_table(CHAPTERS, tmp_path)
    assert table.count("not measured yet") == 4 and "| 3. Variational autoencoders | 21 s |" in table


def test_a_cpu_column_when_every_chapter_has_a_cpu_time(tmp_path):
    table = timing_table({k: (*v, "4 min") for k, v in CHAPTERS.items()}, tmp_path)
    assert table.splitlines()[:2] == ["| chapter | `quick`, 2-core CPU | `cpu`, 2-core CPU | `gpu` | `paper` |",
                                      "| --- | --- | --- | --- | --- |"]
    assert "| 3. Variational autoencoders | 21 s | 4 min | not measured yet | not measured yet |" in table


def test_the_newest_gpu_run_fills_the_columns(tmp_path):
    write(tmp_path, "t4-2026-01-01.json", device="Tesla T4", date="2026-01-01", commit="a" * 40,
          chapters={"03": {"ok": True, "seconds": 300}})
    write(tmp_path, "h100-2026-02-01.json", device="NVIDIA H100", date="2026-02-01", commit="b" * 40,
          chapters={"03": {"ok": True, "seconds": 61.4}, "04": {"ok": False, "seconds": 10}},
          paper_lm={"seconds": 5400, "results": {}})
    table = timing_table(CHAPTERS, tmp_path)
    assert "| 3. Variational autoencoders | 21 s | 61 s | not measured yet |" in table
    # a chapter that failed has no time; the paper LM run fills chapter 4's paper column
    assert "| 4. Language models and perplexity | 31 s | not measured yet | 90 min |" in table
    assert "NVIDIA H100, 2026-02-01 (commit bbbbbbbbbb" in table


def test_flop_counts_of_a_small_config():
    cfg = protocol.load("lm", "paper", {"train_blocks": 100, "test_blocks": 10, "generations": 2, "chains": 3,
                                        "regimes": ("replace",)})
    c = lm_run_flops(cfg, n_params=1000)["replace"]
    assert c["train_tokens"] == 3 * 3 * 100 * 64 * 5  # (G+1) fits x chains x blocks x tokens x epochs
    assert c["new_tokens"] == 2 * 3 * 100 * 64  # G samplings x chains x blocks x new tokens
    assert c["eval_tokens"] == 3 * 3 * 110 * 64
    assert c["flops"] == 6 * 1000 * c["train_tokens"] + 2 * 1000 * (c["new_tokens"] * 5 * 2 + c["eval_tokens"])


def test_regimes_spread_over_gpus_bound_the_wall_time():
    paper = lm.PROFILES["paper"]
    one, two, eight = (lm_paper_wall_time(paper, g) for g in (1, 2, 8))
    assert one.seconds == pytest.approx(sum(one.regimes.values()))
    assert two.seconds == pytest.approx(max(one.regimes.values()))
    assert one.regimes["mix"] > one.regimes["replace"]  # twice the epochs
    rates = {"train_tokens_per_s": 1e6, "generate_tokens_per_s": 1e4, "eval_tokens_per_s": 3e6, "device": "x"}
    fl = {r: lm_run_flops(paper)[r] for r in paper.regimes}
    assert lm_paper_wall_time(paper, 1, rates).regimes["replace"] == pytest.approx(
        fl["replace"]["train_tokens"] / 1e6 + fl["replace"]["new_tokens"] / 1e4 + fl["replace"]["eval_tokens"] / 3e6)
    # 8 GPUs, 2 regimes: 4 GPUs per regime share out its 5 chains (chain_ranks(5, 4)):
    # GPU 0 computes chain 0 alone and a quarter of chain 4's fine-tuning and generation,
    # and scores both
    mix = {k: v / paper.chains for k, v in fl["mix"].items()}
    assert paper.chains == 5
    assert lm_paper_wall_time(paper, 8, rates).seconds == pytest.approx(
        1.25 * (mix["train_tokens"] / 1e6 + mix["new_tokens"] / 1e4) + 2 * mix["eval_tokens"] / 3e6)
    # 10 GPUs: every chain on a GPU of its own
    assert lm_paper_wall_time(paper, 10, rates).seconds == pytest.approx(
        lm_paper_wall_time(paper, 1, rates).regimes["mix"] / paper.chains)
    # 3 GPUs: replace gets GPUs 0 and 2, mix GPU 1 alone
    three = lm_paper_wall_time(paper, 3, rates)
    assert three.seconds == pytest.approx(three.regimes["mix"])
    assert max(eight.seconds, three.seconds) < one.seconds
    assert OPT_125M_PARAMETERS == 125_239_296


def test_measured_throughput_comes_from_the_benchmark_lines():
    rec = {"device": "NVIDIA H100", "date": "2026-02-01", "benchmarks": {"results": [
        {"benchmark": "LM fine-tuning, 64-token blocks", "extra": {"tokens_per_s": 4e5, "mfu": 0.4}},
        {"benchmark": "LM generation, 5-beam, 8192 blocks", "extra": {"tokens_per_s": 3e4}}]}}
    r = measured_lm_throughput(rec)
    assert (r["train_tokens_per_s"], r["generate_tokens_per_s"]) == (4e5, 3e4) and "measured" in r["device"]
    assert measured_lm_throughput({"benchmarks": {"results": []}}) is None
