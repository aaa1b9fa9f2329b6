"""The chapters' experiments by name, each paired with its figures.

The layers read one way: ``experiments/X.py`` computes results and knows nothing of
figures; ``plots/X.py`` draws results (and may import the result types of
``experiments/X.py``); this module, above both, runs a chapter's experiment and draws
its figures. The command line (:mod:`collapse_lib.cli`) and the tests go through it.
"""
from __future__ import annotations

import importlib
import typing
from dataclasses import dataclass
from typing import Callable


def _distributions(x, cfg, profile):
    from .plots import distributions as p

    sand, gauss, approx, zipf = x.run_all(cfg)
    figures = {
        "sandwich_bars": p.sandwich_bars(sand),
        "sandwich_collapse": p.sandwich_collapse(sand),
        "gaussian_collapse": p.gaussian_collapse(gauss),
        "bell_curves": p.bell_curves(*x.bell_curves(cfg)),
        "approximation_errors": p.approximation_errors(approx),
        "zipf_tail_cut": p.zipf_tail_cut(zipf),
    }
    return x.summary(sand, gauss, approx, zipf), figures


def _gmm(x, cfg, profile):
    from .plots import gmm as p

    rec, scaling, policies = x.run_all(cfg)
    blob = x.one_blob_recursion(cfg)
    figures = {
        "gmm_snapshots": p.snapshot_grid(rec),
        "gmm_collapse": p.collapse_curves(rec),
        "gmm_kept_and_lost": p.kept_and_lost(rec),
        "gmm_pace": p.pace(scaling),
        "gmm_replace_vs_accumulate": p.replace_vs_accumulate(policies),
    }
    if blob is not None:
        figures["gmm_one_blob"] = p.collapse_curves(blob)
    return x.summary(rec, scaling, policies, blob, profile), figures


def _vae(x, cfg, profile):
    from .plots import vae as p

    res = x.run_all(cfg)
    figures = {"latent_spread": p.latent_spread(res), "class_balance": p.class_balance(res)}
    for name in res.policies:
        figures[f"samples_{name}"] = p.sample_grids(res, name)
    return x.summary(res), figures


def _lm(x, cfg, profile):
    from .plots import lm as p

    res = x.run_all(cfg)
    figures = {"test_perplexity": p.test_perplexity(res)}
    for name in res.regimes:
        figures[f"data_perplexity_{name}"] = p.data_perplexity(res, name, cfg.histogram_generations)
    return x.summary(res), figures


def _mixing(x, cfg, profile):
    from .plots import mixing as p

    gauss, sand, lin, strong = x.run_all(cfg)
    neural = x.neural_mixing(cfg)
    figures = {"policies": p.policy_comparison([gauss, sand, lin]), "strong_collapse": p.strong_collapse(strong)}
    if neural is not None:
        figures["neural"] = p.neural_mixing(neural)
    return x.summary(gauss, sand, lin, strong, cfg, neural), figures


def _larger(x, cfg, profile):
    from .plots import larger as p

    proj = x.run_projections(cfg)
    nets = x.run_networks(cfg)
    figures = {"double_descent": p.double_descent(proj), "synthetic_excess": p.synthetic_excess(proj),
               "pareto": p.pareto(proj), "network_widths": p.network_widths(nets)}
    results = {"random_projections": x.summary_projections(proj), "networks": x.summary_networks(nets),
               "paper": {k: list(v) if isinstance(v, tuple) else v for k, v in x.PAPER.items()}}
    if cfg.lm_run:
        lms = x.run_language_models(cfg)
        figures["language_model_sizes"] = p.language_model_sizes(lms)
        results["language_models"] = x.summary_language_models(lms)
    return results, figures


@dataclass(frozen=True)
class Experiment:
    """A chapter's experiment: its module of results and the pairing with its figures."""

    name: str
    module: str  # the results layer: a frozen config dataclass, config(profile, **overrides), the runs
    draw: Callable  # (module, config, profile) -> (results, figures): runs the experiment, draws its figures
    resumable: bool  # whether finished generations (or pieces) are stored, so that a rerun resumes

    def load(self):
        return importlib.import_module(self.module)

    def config_class(self) -> type:
        """The chapter's config dataclass (the return type of its ``config``)."""
        return typing.get_type_hints(self.load().config)["return"]

    def config(self, profile: str | None = None, **overrides):
        return self.load().config(profile, **overrides)

    def run(self, cfg, profile: str | None = None) -> tuple[dict, dict]:
        """``(results, figures)`` of the experiment at ``cfg``: JSON-ready numbers and
        matplotlib figures by name."""
        return self.draw(self.load(), cfg, profile)


EXPERIMENTS = {e.name: e for e in (
    Experiment("distributions", "collapse_lib.experiments.distributions", _distributions, False),
    Experiment("gmm", "collapse_lib.experiments.gmm", _gmm, False),
    Experiment("vae", "collapse_lib.experiments.vae", _vae, True),
    Experiment("lm", "collapse_lib.experiments.lm", _lm, True),
    Experiment("mixing", "collapse_lib.experiments.mixing", _mixing, True),
    Experiment("larger", "collapse_lib.experiments.larger", _larger, True),
)}


def get(name: str) -> Experiment:
    """The experiment called ``name``; a ValueError names the known ones."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment={name!r} is not allowed: it must be one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def run_chapter(name: str, profile: str | None = None, **overrides) -> tuple[dict, dict, dict]:
    """``(config, results, figures)`` of chapter ``name`` at ``profile`` with ``overrides``
    (the config as JSON-ready values)."""
    from .settings import config_dict

    exp = get(name)
    cfg = exp.config(profile, **overrides)
    results, figures = exp.run(cfg, profile)
    return config_dict(cfg), results, figures
