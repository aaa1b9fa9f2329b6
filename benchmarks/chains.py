"""Vectorised chains against a Python loop over chains (course specification §7).

The chains of chapter 1 (Shumailov et al., Nature 631:755, 2024, §3): a categorical
distribution over the seven sandwich answers and the single Gaussian N(0, 1), each
refitted on M = 100 of its own samples, generation after generation (policy
*replace*). The library runs every chain at once through the engine; the baseline
is the textbook code, one chain at a time, drawing each chain's M points:

    for chain in chains:                      for chain in chains:
        p = real_counts / M                       mu, var = real.mean(), real.var(ddof=1)
        for g in generations:                     for g in generations:
            x = rng.choice(K, M, p=p)                 x = rng.normal(mu, sqrt(var), M)
            p = bincount(x, K) / M                    mu, var = x.mean(), x.var(ddof=1)

The loop's cost is the same for every chain, so it is timed on a subset of the chains
and scaled to all of them (the note says how many). A third line isolates what drawing
a Gaussian synthetic set as its exact summary (the default ``sampling="stats"``)
gains over drawing its points, both vectorised.
"""
from __future__ import annotations

import time

import numpy as np

from collapse_lib import Replace, run_generations
from collapse_lib.families import CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource

from .common import Result, rate, timed

NAME = "chains"
SANDWICH = np.array([35, 35, 5, 5, 1, 1, 18]) / 100
CHAINS, GENERATIONS, M = 10_000, 1_000, 100
TARGET = "10k chains x 1000 gen. in about 1 s (<= 1.5 s); >= 100x the loop"


def gaussian_loop(chains: int, generations: int, samples: int, seed: int = 0) -> np.ndarray:
    """Fitted (mean, variance) of every generation (G+1, chains, 2) of ``chains`` chains
    run one at a time (textbook NumPy)."""
    rng = np.random.default_rng(seed)
    out = np.empty((generations + 1, chains, 2))
    for c in range(chains):
        x = rng.standard_normal(samples)
        mu, var = x.mean(), x.var(ddof=1)
        out[0, c] = mu, var
        for g in range(1, generations + 1):
            x = rng.normal(mu, np.sqrt(var), samples)
            mu, var = x.mean(), x.var(ddof=1)
            out[g, c] = mu, var
    return out


def categorical_loop(chains: int, generations: int, samples: int, probs=SANDWICH, seed: int = 0) -> np.ndarray:
    """Fitted probabilities of every generation (G+1, chains, K) of ``chains`` chains run
    one at a time (textbook NumPy)."""
    rng = np.random.default_rng(seed)
    k = len(probs)
    out = np.empty((generations + 1, chains, k))
    for c in range(chains):
        p = np.bincount(rng.choice(k, samples, p=probs), minlength=k) / samples
        out[0, c] = p
        for g in range(1, generations + 1):
            p = np.bincount(rng.choice(k, samples, p=p), minlength=k) / samples
            out[g, c] = p
    return out


def _engine(family, source, chains, generations, record=None):
    kw = {} if record is None else {"record": record}
    return run_generations(family, source, Replace(), generations=generations, samples=M, chains=chains, seed=0,
                           progress=False, **kw)


def _last_only(params, data, t):
    """A record of one number per chain: the run without keeping its history."""
    return {"first": params.to_arrays()[next(iter(params.to_arrays()))].reshape(params.chains, -1)[:, 0]}


def _line(name, loop, family, source, loop_chains, repeats) -> Result:
    t_loop, _ = timed(lambda: loop(loop_chains, GENERATIONS, M))
    cpu = time.process_time()
    t_ours, h = timed(lambda: _engine(family, source, CHAINS, GENERATIONS), repeats=repeats)
    cpu = (time.process_time() - cpu) / repeats  # CPU seconds a run: the time on an idle machine
    history_mb = sum(a.nbytes for a in h.records.values()) / 1e6
    del h
    t_bare, _ = timed(lambda: _engine(family, source, CHAINS, GENERATIONS, _last_only), repeats=repeats)
    baseline = t_loop * CHAINS / loop_chains
    ratio = baseline / t_ours
    return Result(
        name, baseline, t_ours, rate(CHAINS * GENERATIONS / t_ours, "chain-gen/s"), TARGET,
        met=bool(t_ours <= 1.5 and ratio >= 100),
        notes=f"M={M}; both keep every generation's fitted parameters ({history_mb:.0f} MB here); "
              f"loop timed on {loop_chains} chains ({t_loop:.2f} s), scaled x{CHAINS // loop_chains}; "
              f"ours best of {repeats}, {cpu:.2f} CPU-s a run; without keeping the history {t_bare:.2f} s",
        extra={"history_mb": history_mb, "ours_without_history_s": t_bare, "ours_cpu_s": cpu},
    )


def run(quick: bool = False, device: str = "cpu") -> list[Result]:
    loop_chains, repeats = (20, 2) if quick else (100, 3)
    results = [
        _line(f"categorical chains, {CHAINS // 1000}k x {GENERATIONS}", categorical_loop, CategoricalFamily(7),
              CategoricalSource(SANDWICH), loop_chains, repeats),
        _line(f"Gaussian chains, {CHAINS // 1000}k x {GENERATIONS}", gaussian_loop, GaussianFamily(1),
              GaussianSource(0.0, 1.0), loop_chains, repeats),
    ]
    # what the exact summary sampling gains over vectorised point sampling
    gens = 100 if quick else GENERATIONS
    t_points, _ = timed(lambda: _engine(GaussianFamily(1, sampling="points"), GaussianSource(0.0, 1.0), CHAINS, gens))
    t_stats, _ = timed(lambda: _engine(GaussianFamily(1), GaussianSource(0.0, 1.0), CHAINS, gens), repeats=2)
    results.append(Result(
        f"Gaussian summary vs point sampling, {CHAINS // 1000}k x {gens}", t_points, t_stats,
        rate(CHAINS * gens / t_stats, "chain-gen/s"), "(no target: what the summary sampling gains)",
        notes=f"M={M}; both vectorised over chains; baseline draws the M points of every chain",
    ))
    return results
