"""The common check: every chapter follows the chapter protocol (:mod:`collapse_lib.protocol`).

Like scikit-learn's ``check_estimator``, one parametrized test runs every chapter through
the same names at toy size: its config (profiles, validation, the one way settings come
in), a run, ``summary``, keyed ``claims``, every figure, and, for chapters that keep a run
store, a rerun that resumes from it without computing or writing anything again.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from collapse_lib import claims as claims_mod  # noqa: E402
from collapse_lib import protocol  # noqa: E402
from collapse_lib.profiles import PROFILES  # noqa: E402
from collapse_lib.settings import config_dict, settings  # noqa: E402

#: Every chapter at toy size: the quick profile with these settings runs in seconds.
TOY = {
    "distributions": {"sandwich_chains": 50, "sandwich_generations": 60, "gaussian_chains": 50,
                      "gaussian_generations": 20, "approx_samples": [30, 300], "approx_chains": 10,
                      "approx_generations": 10, "zipf_outcomes": 2000, "zipf_cuts": [10, 100],
                      "zipf_train_sizes": [10, 100, 1000], "zipf_chains": 2},
    "gmm": {"samples": 40, "generations": 8, "chains": 3, "snapshots": [0, 4, 8], "scaling_samples": [20, 40],
            "scaling_horizon": 0.2, "scaling_chains": 2, "accumulate_generations": 3, "accumulate_chains": 2,
            "one_blob_chains": 2, "tol": 1e-4},
    "vae": {"samples": 256, "generations": 2, "chains": 2, "epochs": 1, "hidden": 8, "latent": 4, "batch_size": 64,
            "eval_samples": 64, "grid_images": 16, "classifier_epochs": 1, "classifier_hidden": 32},
    "lm": {"block_size": 16, "train_blocks": 16, "test_blocks": 16, "generations": 1, "chains": 1, "epochs_replace": 1,
           "epochs_mix": 2, "generate_batch_size": 16, "eval_batch_size": 16, "vocab_size": 300, "tiny.n_embd": 32,
           "tiny.n_layer": 1, "tiny.n_head": 2, "pretrain.max_chars": 20000, "pretrain.blocks": 64,
           "pretrain.epochs": 1},
    "mixing": {"generations": 10, "gaussian_chains": 50, "sandwich_chains": 50, "linreg_chains": 50,
               "strong_chains": 20, "strong_sizes": [32, 100, 1000], "neural_fractions": [0.0, 0.5],
               "neural.chains": 1, "neural.generations": 1, "neural.samples": 256, "neural.epochs": 1,
               "neural.hidden": 8, "neural.latent": 4, "neural.batch_size": 64, "neural.eval_samples": 64,
               "neural.classifier_epochs": 1, "neural.classifier_hidden": 32},
    "larger": {"n": 40, "d": 60, "ratios": [0.5, 0.9, 1.1, 2.0], "seeds": 4, "chunk": 2, "theory_seeds": 4,
               "dataset": "digits", "widths": [2, 8], "net_seeds": 1, "net_train": 200, "teacher_train": 50,
               "steps": 10, "samples.sizes": [40, 80, 160, 320], "samples.widths": [2, 16], "samples.seeds": 1,
               "samples.epochs": 1, "samples.min_steps": 5, "language_models.max_chars": 20000,
               "language_models.sizes": [[1, 16], [1, 32]], "language_models.seeds": 1, "language_models.tokens": 1024,
               "language_models.first": 256, "language_models.checkpoints": 3, "language_models.generator": [1, 16],
               "language_models.test_blocks": 8, "language_models.block_size": 16, "language_models.vocab": 300,
               "language_models.batch": 8},
    "verification": {"step_sizes": [10, 100], "step_chains": 20, "step_phase_rates": [0.2, 0.8],
                     "step_phase_ratios": [0.3, 1.0], "step_phase_size": 30, "step_phase_chains": 10,
                     "loop_generations": 3, "loop_chains": 20, "curation_candidates": [2, 4], "curation_samples": 20,
                     "curation_rounds": 2, "curation_chains": 5, "neural.block_size": 16, "neural.train_blocks": 16,
                     "neural.test_blocks": 16, "neural.validation_blocks": 8, "neural.generations": 2,
                     "neural.chains": 1, "neural.epochs_replace": 1, "neural.generate_batch_size": 16,
                     "neural.eval_batch_size": 16, "neural.vocab_size": 300, "neural.tiny.n_embd": 32,
                     "neural.tiny.n_layer": 1, "neural.tiny.n_head": 2, "neural.pretrain.max_chars": 20000,
                     "neural.pretrain.blocks": 64, "neural.pretrain.epochs": 1},
}


def _finite(obj) -> bool:
    """Whether every float in a JSON-ready object is a number (NaN is allowed where a
    measurement did not apply; inf is not)."""
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite(v) for v in obj)
    return not (isinstance(obj, float) and math.isinf(obj))


#: Summary entries that say how a run went rather than what it computed.
HOW = re.compile(r"seconds|per_s|mfu|resumed|loaded")


def _numbers(obj):
    """A summary without the entries of :data:`HOW`."""
    if isinstance(obj, dict):
        return {k: _numbers(v) for k, v in obj.items() if not HOW.search(k)}
    if isinstance(obj, list):
        return [_numbers(v) for v in obj]
    return obj


def _files(root) -> dict:
    """``{path: (inode, mtime)}`` of every file under ``root``: a file written again
    (atomically, through a new file) gets a new inode."""
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_every_chapter_is_listed():
    from pathlib import Path

    import collapse_lib

    stems = {p.stem for p in (Path(collapse_lib.__file__).parent / "experiments").glob("*.py")
             if not p.stem.startswith("_")}
    # a chapter's module may keep parts in <chapter>_<part>.py (its claims, a long experiment)
    found = {s for s in stems if not any(s.startswith(f"{c}_") for c in protocol.CHAPTERS)}
    assert found == set(protocol.CHAPTERS) == set(TOY)


@pytest.mark.parametrize("chapter", protocol.CHAPTERS)
def test_chapter_config_follows_the_protocol(chapter):
    mod = protocol.module(chapter)
    cls = mod.Config
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert set(mod.PROFILES) == set(PROFILES)
    assert all(type(cfg) is cls for cfg in mod.PROFILES.values())
    # no setting of how a run is carried out is part of its identity
    run_fields = {f.name for f in dataclasses.fields(protocol.Run)} | {"cpu_threads", "checkpoint", "keep_all_models"}
    assert not run_fields & set(settings(cls)), sorted(run_fields & set(settings(cls)))
    # no field mirrors another chapter's config under a prefix
    for other in protocol.CHAPTERS:
        if other != chapter:
            assert not any(name.startswith(f"{other}_") for name in settings(cls)), other
    # the one way in: every setting reads back from the text that show prints
    cfg = protocol.load(chapter, "quick")
    assert cfg == mod.PROFILES["quick"]
    from collapse_lib.settings import value_text

    texts = {}
    for name in settings(cls):
        value = cfg
        for part in name.split("."):
            value = getattr(value, part)
        texts[name] = value_text(value)
    assert protocol.load(chapter, "quick", texts) == cfg
    with pytest.raises(ValueError, match=r"'seeed' is not a setting of the .* \(did you mean 'seed'\?\)"):
        protocol.load(chapter, "quick", {"seeed": 1})
    with pytest.raises(ValueError, match=r"seed='x' is not allowed"):
        protocol.load(chapter, "quick", {"seed": "x"})


@pytest.mark.parametrize("chapter", protocol.CHAPTERS)
def test_chapter_runs_summarises_claims_draws_and_resumes(chapter, tmp_path, monkeypatch):
    # at toy size a claim may fail: this checks the form of the claims, the chapters' page
    # builds check that they hold
    monkeypatch.delenv(claims_mod.STRICT_ENV, raising=False)
    mod = protocol.module(chapter)
    cfg = protocol.load(chapter, "quick", TOY[chapter])
    run = protocol.Run(root=tmp_path, progress=False)
    res = mod.run(cfg, run)

    summary = mod.summary(res)
    assert isinstance(summary, dict) and summary
    text = json.dumps(summary)  # JSON-ready
    assert _finite(json.loads(text))

    claims = mod.claims(res)
    assert isinstance(claims, dict) and claims
    for key, c in claims.items():
        assert isinstance(key, str) and key.isidentifier() and key == key.lower(), key
        assert isinstance(c, claims_mod.Claim)
        json.dumps(c.as_dict())
    picked = claims_mod.report(claims, "quick", keys=list(claims)[-1:])
    assert picked.claims == [claims[list(claims)[-1]]]

    figures = protocol.draw(chapter, res)
    assert figures
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        assert fig.axes, name
        plt.close(fig)

    stored = _files(tmp_path)
    assert bool(stored) == getattr(mod, "RESUMABLE", False)
    if stored:  # a rerun reads every finished piece back and writes nothing
        again = mod.summary(mod.run(cfg, run))
        assert _files(tmp_path) == stored
        assert json.dumps(_numbers(again), sort_keys=True) == json.dumps(_numbers(summary), sort_keys=True)
        # the store's identity is the config: another seed is another run
        other = dataclasses.replace(cfg, seed=cfg.seed + 1)
        assert protocol.store(other, "x", run).root != protocol.store(cfg, "x", run).root
        assert protocol.store(cfg, "x", run).config["seed"] == config_dict(cfg)["seed"]
