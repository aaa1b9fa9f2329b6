"""Chapter 6, larger models: what Dohmatob, Feng, Subramonian and Kempe, "Strong Model
Collapse" (ICLR 2025; arXiv 2410.04840), report, and the chapter's numbers beside it.

:data:`PAPER` holds the paper's statements this chapter tests. The abstract and the
opening of the caption of Fig. 1 were read for this course (arXiv v2 and the ICLR
version); the rest of the paper (its theorems in full, the Fig. 1 settings beyond n = 500,
the MNIST and language-model sections) could not be read here, and everything taken from
secondary summaries of those parts is marked "not checked here".
:func:`comparison_rows` sets every setting the chapter runs beside the paper's, and
:func:`summary` gives the chapter's numbers, JSON-ready.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..theory import linreg
from ..theory import random_features as theory
from .larger_claims import (Z_CLAIM, _claims_language_models, _claims_networks, _claims_projections,
                            _claims_samples)
from .larger_sweep import summary_floor

if TYPE_CHECKING:
    from .larger import LanguageModelResult, NetworkResult, ProjectionResult, Result, SampleResult

#: Not checked against the paper's text here (taken from secondary summaries).
UNCHECKED = "not checked here"

#: What the paper says, with the modal verbs of its abstract (quoted from arXiv v2 and ICLR).
PAPER = {
    "pareto_n": 500,  # Fig. 1 caption: "the total amount of training data is fixed to n = 500"
    "smallest_fraction_arxiv": 0.01,  # arXiv v2 abstract: "as little as 1% of the total training dataset"
    "smallest_fraction_iclr": 0.001,  # ICLR abstract: "as little as 1 per 1000"
    "claims": (
        "abstract: \"even the smallest fraction of synthetic data (e.g., as little as 1% of the total training "
        "dataset) can still lead to model collapse: larger and larger training sets do not enhance performance\"",
        "abstract: \"we both theoretically and empirically show that larger models can amplify model collapse\"",
        "abstract: \"beyond the interpolation threshold (which can be extremely high for very large datasets), "
        "larger models may mitigate the collapse, although they do not entirely prevent it\"",
        "MNIST, as secondary summaries report it (not checked here): with labels partly from another network, "
        "scaling with the number of training samples slows or plateaus as p2 grows",
        "language models, as secondary summaries report them (not checked here): GPT-2 of 12, 18 and 24 layers on "
        "BabiStories; synthetic data delay the progression of the scaling laws; with synthetic data only the 18- "
        "and 24-layer models beat the 12-layer one below about 1e10 tokens and lose to it beyond about 3e10",
    ),
    "mnist_train": 60_000,  # MNIST's training images (the size of the paper's MNIST runs is not checked here)
}


def regime_table(ps=(0.01, 0.1, 0.5), psis=(0.001, 0.01, 0.05, 0.5, 0.9)) -> dict:
    """The proportional limit of the cost when the model sees the whole shift (res(delta) = 0):
    p^2 c2 + p (1 - p) c2 psi / (1 - psi) with psi = m / n (chapter 5's limit with phi = psi and
    no label noise), per unit c2: ``{"floor": {"p": p^2}, "variance": {"p": [...]}, "ratio": {"p": [...]}}``
    (keyed by p as text),
    the ratio being variance / floor = (1 - p) / p * psi / (1 - psi)."""
    out = {"psi": list(psis), "floor": {}, "variance": {}, "ratio": {}}
    for p in ps:
        total = np.asarray(linreg.strong_collapse_proportional(p, 1.0, np.asarray(psis, float), noise=0.0))
        key = f"{p:g}"  # JSON keys are strings
        out["floor"][key] = p**2
        out["variance"][key] = (total - p**2).tolist()
        out["ratio"][key] = ((total - p**2) / p**2).tolist()
    return out


def comparison_rows(res: Result) -> list[tuple[str, str, str]]:
    """Every setting of the chapter beside the paper's: (setting, paper, this page). What
    the paper's readable text does not give is marked :data:`UNCHECKED`."""
    cfg, proj = res.config, res.projections
    at_d = [f"{r:g}" for r in proj.ratios if r * proj.n >= cfg.d]
    rows = [
        ("random projections: training points n", "500 (Fig. 1 caption)", f"{proj.n}"),
        ("input dimension d", UNCHECKED, f"{cfg.d} (d/n = {cfg.d / cfg.n:g})"),
        ("input covariance", UNCHECKED, f"diagonal, eigenvalues ~ k^-{cfg.spectrum:g}, trace d (our choice)"),
        ("label noise, signal", UNCHECKED, f"noise variance sigma^2 = {cfg.noise:g}, w*^T Sigma w* = {cfg.signal:g} "
                                           "(c^2 = 1: as bad as predicting 0)"),
        ("synthetic fractions p", UNCHECKED, ", ".join(f"{p:g}" for p in cfg.fractions)),
        ("synthetic qualities c^2", "squares: very high quality (caption); values " + UNCHECKED,
         ", ".join(f"{c:g}" for c in cfg.qualities)),
        ("widths m/n", "model size varied (caption)", ", ".join(f"{r:g}" for r in proj.ratios)
         + (f"; m >= d at m/n = {', '.join(at_d)}" if at_d else "")),
        ("fit of the last layer", UNCHECKED, "minimum-norm least squares" if cfg.ridge == 0 else f"ridge {cfg.ridge:g}"),
        ("theory", "proportional limit n -> infinity (operator-valued free probability), as secondary summaries "
                   "describe it (" + UNCHECKED + ")",
         "exact finite-n formula for m <= n - 2; above the threshold only simulation"),
        ("seeds", UNCHECKED, f"{cfg.seeds} problems; formulas over {cfg.theory_seeds} draws of S, w, delta"),
        ("metric", "test error on the real data distribution (caption)", "exact (beta - w*)^T Sigma (beta - w*)"),
        ("sample sizes n (floor)", "n grows (abstract); values " + UNCHECKED,
         f"{res.floor.sizes[0]:,} to {res.floor.sizes[-1]:,} (exact), simulated at "
         f"{', '.join(f'{n:,}' for n in res.floor.sim_sizes)}" if res.floor is not None else "not run"),
    ]
    nets = res.networks
    rows += [
        ("networks: data", f"MNIST, {PAPER['mnist_train']:,} training images (" + UNCHECKED + ")",
         f"{nets.data.split(':')[0]}, {nets.train_images:,} training images, {nets.test_images:,} test images"),
        ("synthetic labels", "another network's predictions (" + UNCHECKED + ")",
         f"a teacher of width {cfg.teacher_width} trained on {cfg.teacher_train} real images (test error "
         f"{nets.teacher_error:.3f})"),
        ("students", "two-layer networks; widths " + UNCHECKED,
         f"two-layer ReLU, widths {', '.join(str(w) for w in nets.widths)}; cross-entropy; {cfg.steps} full-batch "
         f"Adam steps at lr {cfg.lr:g}; {cfg.net_seeds} seeds"),
    ]
    if res.samples is not None:
        sam, sc = res.samples, cfg.samples
        rows.append(("networks in samples", "n on the horizontal axis, one curve per p2 (" + UNCHECKED + ")",
                     f"n = {', '.join(str(n) for n in sam.sizes)}; widths {', '.join(str(w) for w in sam.widths)}; "
                     f"p2 = {', '.join(f'{p:g}' for p in sam.fractions)}; {sc.epochs} passes of Adam, batches of "
                     f"{sc.batch}; {sc.seeds} seeds"))
    lms = res.language_models
    if lms is not None:
        lm = cfg.language_models
        share = ", ".join(f"{p:g}: {s:.3f}" for p, s in zip(lms.fractions, lms.synthetic_token_share))
        rows += [
            ("language models: text", "BabiStories (" + UNCHECKED + ")", lms.data.split(":")[0]),
            ("synthetic text", "stories from a GPT-2-small at temperature 1, top-p 1 (" + UNCHECKED + ")",
             f"whole blocks of {lm.block_size} tokens sampled at temperature 1, top-p 1 from a generator of "
             f"{lm.generator[0]} x {lm.generator[1]} trained on held-out real text; no filtering"),
            ("synthetic share", "share p2 of stories (" + UNCHECKED + ")", "share of tokens at p2 = " + share),
            ("models", "GPT-2 of 12, 18, 24 layers, trained from scratch (" + UNCHECKED + ")",
             ", ".join(f"{a} x {b}" for a, b in lms.sizes) + " (layers x width), trained from scratch"),
            ("training tokens", "up to about 3e10 (" + UNCHECKED + ")",
             f"{lms.tokens[0]:,} to {lms.tokens[-1]:,}, one pass, constant learning rate {lm.lr:g} after "
             f"{lm.warmup} warm-up steps; {lm.seeds} seeds"),
        ]
    return rows


def comparison_table(res: Result) -> str:
    """:func:`comparison_rows` as a plain-text table."""
    rows = [("setting", "paper", "this page")] + comparison_rows(res)
    w0 = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{w0}} | {b}\n{'':<{w0}} | -> {c}" for a, b, c in rows)


# ------------------------------------------------------------------ numbers, JSON-ready
def _summary_projections(res: ProjectionResult) -> dict:
    mean, se, exc, exc_se = res.mean, res.stderr, res.excess_mean, res.excess_stderr
    lim, lim_se = res.limit_cost
    rows = []
    for l, (p, c2) in enumerate(res.label_sets):
        k_best = int(np.argmin(mean[l]))
        rows.append({
            "p": p, "c2": c2, "floor_p2c2": theory.floor(p, c2),
            "error_mean": mean[l].tolist(), "error_stderr": se[l].tolist(),
            "cost_mean": exc[l].tolist(), "cost_stderr": [None if not np.isfinite(v) else float(v) for v in exc_se[l]],
            "best_ratio": float(res.ratios[k_best]), "best_error": float(mean[l, k_best]),
            "limit_infinite_width": float(np.nanmean(res.limit[:, l])),
            "cost_at_limit": float(lim[l]), "cost_at_limit_stderr": None if not np.isfinite(lim_se[l]) else float(lim_se[l]),
        })
    split = {k: v.tolist() for k, v in (res.theory_split or {}).items()}
    return {"n": res.n, "ratios": res.ratios.tolist(), "label_sets": rows, "theory_widths": res.theory_widths.tolist(),
            "theory_cost_split": split, "claims": [c.as_dict() for c in _claims_projections(res).values()]}


def _summary_networks(res: NetworkResult) -> dict:
    cost, cost_se = res.cost
    return {"data": res.data, "widths": res.widths.tolist(), "fractions": res.fractions.tolist(),
            "test_error_mean": res.error_mean.tolist(), "test_error_by_seed": res.errors.tolist(),
            "cost_mean": cost.tolist(), "cost_stderr": cost_se.tolist(),
            "train_accuracy_mean": res.train_accuracy_mean.tolist(), "teacher_error": res.teacher_error,
            "teacher_label_disagreement": res.disagreement, "parameters": res.parameters.tolist(),
            "fit_width": res.fit_width, "claims": [c.as_dict() for c in _claims_networks(res).values()]}


def _summary_language_models(res: LanguageModelResult) -> dict:
    gaps = [res.final_gap(j) for j in range(len(res.fractions))]
    return {"data": res.data, "sizes": [list(s) for s in res.sizes], "parameters": res.parameters.tolist(),
            "fractions": res.fractions.tolist(), "synthetic_token_share": res.synthetic_token_share.tolist(),
            "tokens": res.tokens.tolist(), "test_loss_mean": res.mean.tolist(),
            "test_loss_by_seed": res.loss.tolist(), "generator": list(res.generator),
            "generator_test_loss": res.generator_loss, "generator_train_loss": res.generator_train_loss,
            "final_gap_over_real": [g.tolist() for g, _ in gaps], "final_gap_stderr": [s.tolist() for _, s in gaps],
            "delay_factor": [[None if not np.isfinite(v) else float(v) for v in row] for row in res.delays],
            "fits": res.fits, "claims": [c.as_dict() for c in _claims_language_models(res).values()]}


def _summary_samples(res: SampleResult) -> dict:
    dep = res.departure(Z_CLAIM)
    gap, gap_se = res.gap
    return {"data": res.data, "sizes": res.sizes.tolist(), "fractions": res.fractions.tolist(),
            "widths": res.widths.tolist(), "test_error_mean": res.mean.tolist(),
            "test_error_stderr": res.stderr.tolist(), "gap_over_real": gap.tolist(), "gap_stderr": gap_se.tolist(),
            "train_accuracy_mean": res.train_accuracy.mean(0).tolist(), "teacher_error": res.teacher_error,
            "teacher_label_disagreement": res.disagreement,
            "departure_n": [[None if not np.isfinite(v) else float(v) for v in row] for row in dep],
            "fits": res.fits, "claims": [c.as_dict() for c in _claims_samples(res).values()]}


def summary(res: Result) -> dict:
    """The chapter's numbers, JSON-ready: the random projections, the same model as n grows,
    the networks, what the paper reports, the settings beside the paper's and, where they ran,
    the sample sweep and the language models."""
    out = {"random_projections": _summary_projections(res.projections), "networks": _summary_networks(res.networks),
           "paper": {k: list(v) if isinstance(v, tuple) else v for k, v in PAPER.items()},
           "paper_vs_page": [list(r) for r in comparison_rows(res)], "regime": regime_table()}
    if res.floor is not None:
        out["floor"] = summary_floor(res.floor)
    if res.samples is not None:
        out["samples"] = _summary_samples(res.samples)
    if res.language_models is not None:
        out["language_models"] = _summary_language_models(res.language_models)
    return out
