"""The generational engine: the one loop every experiment of the course runs.

    data_0 = real data
    for generation t = 1..T:
        model_t = fit(training set of generation t)
        synthetic_t = sample(model_t)
        training set of generation t+1 = policy(real data, synthetic_1..t)

Here generation 0 is the model fitted to real data, and generation t >= 1 the model
fitted to the training set the policy builds from generation t-1's samples. Many
independent chains run at once (the leading axis of every array). Every generation
draws from its own random streams (:func:`collapse_lib.runtime.generation_rng`), so a
run resumed from a :class:`~collapse_lib.store.RunStore` gives the same numbers as an
uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .progress import progress as progress_bar
from .runtime import generation_rng
from .validation import check_int, check_sample_size


@dataclass
class Step:
    """What a policy sees when it builds generation ``generation``'s training set."""

    generation: int
    family: Any
    source: Any
    samples: int
    chains: int
    real_points: np.ndarray
    synthetic: Any  # summary of the previous model's samples
    previous_training_set: Any
    rng_policy: np.random.Generator


@dataclass
class History:
    """Per-generation records of a run: ``records[name][t, c, ...]`` for generation t."""

    records: dict[str, np.ndarray]
    params: Any  # parameters of the last generation
    resumed_from: int | None = None  # generation a resumed run started after

    def __getitem__(self, name: str) -> np.ndarray:
        return self.records[name]

    @property
    def generations(self) -> int:
        return next(iter(self.records.values())).shape[0] - 1


def default_record(params, data, generation) -> dict[str, np.ndarray]:
    """Record the fitted parameters of every chain."""
    return params.to_arrays()


def run_generations(
    family,
    source,
    policy,
    *,
    generations: int,
    samples: int,
    chains: int = 1,
    seed: int = 0,
    record: Callable[[Any, Any, int], dict] = default_record,
    store=None,
    callback: Callable[[int, Any], None] | None = None,
    first_fit: Callable[[Any], Any] | None = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> History:
    """Run ``chains`` independent chains for ``generations`` generations.

    Parameters
    ----------
    family: fits and samples (see :mod:`collapse_lib.families`).
    source: the real distribution; ``source.sample(chains, n, rng)`` gives real points.
    policy: builds each training set (see :mod:`collapse_lib.policies`).
    samples: M, the size of the real data set and of every non-accumulated training set.
    record: ``record(params, training_set, t)`` returns the arrays kept per generation.
    store: a :class:`~collapse_lib.store.RunStore`; finished generations are written
        there and a rerun resumes after the last one.
    callback: called as ``callback(t, params)`` after generation t is finished (and stored).
    first_fit: fits generation 0 to the real data's summary (default ``family.fit``); runs
        that differ only after generation 0 pass one that loads the fit they share.
    """
    generations = check_int("generations", generations, minimum=1)
    chains = check_int("chains", chains, minimum=1)
    samples = check_sample_size(
        "samples", samples, family.min_samples, f"{type(family).__name__} needs at least this many to fit"
    )
    real_points = source.sample(chains, samples, generation_rng(seed, 0, "real"))

    records: list[dict] = []
    start, resumed_from = 0, None
    if store is not None and (done := store.finished()):
        last = min(done[-1], generations)
        for g in range(last + 1):
            arrays = store.load(g)
            records.append({k[7:]: v for k, v in arrays.items() if k.startswith("record/")})
        params = family.Params.from_arrays(arrays, "params/")
        train = family.Data.from_arrays(arrays, "train/")
        start, resumed_from = last + 1, last

    def finish(t, params, train):
        rec = record(params, train, t)
        records.append(rec)
        if store is not None:
            arrays = {"record/" + k: np.asarray(v) for k, v in rec.items()}
            arrays.update(params.to_arrays("params/"))
            arrays.update(train.to_arrays("train/"))
            store.save(t, arrays)
        if callback is not None:
            callback(t, params)

    if start == 0:
        train = family.summarize(real_points)
        params = (first_fit or family.fit)(train)
        finish(0, params, train)
        start = 1

    for t in progress_bar(range(start, generations + 1), total=generations + 1 - start, desc=desc, enabled=progress):
        n_syn = policy.n_synthetic(samples)
        synthetic = family.sample(params, n_syn, generation_rng(seed, t, "synthetic"))
        step = Step(t, family, source, samples, chains, real_points, synthetic, train, generation_rng(seed, t, "policy"))
        train = policy.training_set(step)
        params = family.fit(train)
        finish(t, params, train)

    stacked = {k: np.stack([r[k] for r in records]) for k in records[0]}
    return History(stacked, params, resumed_from)
