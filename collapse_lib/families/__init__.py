"""Model families: each knows how to fit a training set and how to sample from a fit.

A family works on many independent chains at once: the leading axis of every array is
the chain. The engine (:mod:`collapse_lib.engine`) asks a family for four things:

- ``summarize(points)``: the training-set summary of real data points (the family only
  ever needs this summary; summaries of two sets pool with ``+``);
- ``sample(params, n, rng)``: the summary of ``n`` fresh samples from a fitted model,
  drawn from ``rng`` alone, in a fixed order of calls (chain c's draws are row c of
  each random block);
- ``fit(data)``: the parameters fitted to a summary;
- ``min_samples``: the smallest training set the family can fit.
"""
from .categorical import CategoricalFamily, CategoricalSource, Counts, CategoricalParams
from .gaussian import GaussianFamily, GaussianSource, GaussianStats, GaussianParams
from .zipf import zipf_probs, ZipfSource

__all__ = [
    "CategoricalFamily",
    "CategoricalSource",
    "CategoricalParams",
    "Counts",
    "GaussianFamily",
    "GaussianSource",
    "GaussianStats",
    "GaussianParams",
    "zipf_probs",
    "ZipfSource",
]
