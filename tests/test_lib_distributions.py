"""Chapter 1 pieces: the cpu profile's settings and code path at toy size, the
gradient-descent Gaussian (the learning procedure's error), and the claims the chapter
computes from its run (they must be able to fail)."""
import dataclasses

import numpy as np
import pytest

from collapse_lib.experiments import distributions as chapter
from collapse_lib.protocol import load
from collapse_lib.families.gaussian_gd import GradientDescentGaussian, fit_moments


def test_cpu_profile_has_the_papers_sizes():
    cfg = load("distributions", "cpu")
    # Shumailov et al.'s Gaussian notebook: N in {100, ..., 10000}; thousands of chains, 2,000 generations
    assert cfg.gaussian_samples == 100 and set(cfg.gaussian_sample_sweep) >= {1000}
    assert cfg.gaussian_generations >= 1000 and cfg.gaussian_chains >= 1000
    assert cfg.zipf_train_sizes[-1] >= 10**7 and 1000 in cfg.zipf_cuts
    quick = load("distributions", "quick")
    assert cfg.gaussian_chains * cfg.gaussian_generations > quick.gaussian_chains * quick.gaussian_generations
    with pytest.raises(ValueError, match="gaussian_sample_sweep"):
        load("distributions", "cpu", {"gaussian_sample_sweep": (1,)})
    with pytest.raises(ValueError, match="approx_gd_lr"):
        load("distributions", "cpu", {"approx_gd_lr": 0.0})


def toy(profile="cpu"):
    """The profile's config with every size cut down, the structure kept."""
    return load("distributions", profile, dict(
        sandwich_chains=200, sandwich_generations=20, gaussian_chains=300, gaussian_generations=60,
        gaussian_sample_sweep=(1000,), approx_chains=20, approx_generations=10, zipf_outcomes=3000, zipf_chains=3,
        zipf_train_sizes=(10, 1000, 100_000)))


def test_cpu_code_path_runs_at_toy_size_with_its_claims():
    import matplotlib

    matplotlib.use("Agg")
    from collapse_lib.plots import distributions as plots

    cfg = toy()
    res = chapter.run(cfg)
    sweep, approx = res.gaussian_sweep, res.approximation
    assert set(sweep) == {1000} and sweep[1000].samples == 1000
    assert list(res.gaussians) == [cfg.gaussian_samples, 1000]
    assert set(approx.tv) == {"Gaussian", "bimodal", "gradient descent"}
    assert set(approx.tv["gradient descent"]) == {approx.UNLIMITED, *cfg.approx_samples}
    out = chapter.summary(res)
    assert out["claims"] and all(set(c) == {"statement", "holds", "evidence"} for c in out["claims"])
    assert [c["statement"] for c in out["claims"]] == [c.statement for c in chapter.claims(res).values()]
    assert len(plots.approximation_errors(res).axes) == 4
    assert set(plots.FIGURES) == {"sandwich_bars", "sandwich_collapse", "gaussian_collapse", "bell_curves",
                                  "approximation_errors", "zipf_tail_cut"}
    assert chapter.gaussian_sweep(load("distributions", "quick")) is None  # a part the profile does not run


def test_gradient_descent_gaussian_is_the_exact_fit_only_in_the_limit_of_many_steps():
    m, v = np.array([0.3, -1.0]), np.array([2.0, 0.5])
    mu, var = fit_moments(m, v, steps=0, lr=0.05, init_std=0.5)
    assert np.allclose(mu, 0) and np.allclose(var, 0.25)  # no steps: the initialisation
    mu, var = fit_moments(m, v, steps=20_000, lr=0.01, init_std=0.5)
    assert np.allclose(mu, m, atol=1e-6) and np.allclose(var, v, rtol=1e-6)  # converged: maximum likelihood
    mu, var = fit_moments(np.zeros(1), np.ones(1), steps=50, lr=0.05, init_std=0.5)
    assert 0.25 < var[0] < 1.0  # a finite budget stops short, on the side of the initialisation
    with pytest.raises(ValueError, match="dim"):
        GradientDescentGaussian(dim=2)


def test_claims_fail_when_the_numbers_contradict_them():
    cfg = dataclasses.replace(toy("quick"), gaussian_samples=10, gaussian_sample_sweep=())  # 61 fits of 10 points
    # (E log var = -6.6)
    res = chapter.run(cfg)
    c = chapter.claims(res)
    assert c["variance_collapses"].holds and c["log_variance_follows_theory"].holds
    # a run whose variance never collapses: the collapse claim must not hold
    gauss = res.gaussian
    flat = {k: {"mean": np.zeros_like(e["mean"]), "var": np.ones_like(e["var"])} for k, e in gauss.estimators.items()}
    fake = dataclasses.replace(res, gaussian=dataclasses.replace(gauss, estimators=flat))
    collapse = chapter.claims(fake)["variance_collapses"]
    assert "collapses" in collapse.statement and not collapse.holds
    sand = res.sandwich
    frozen = dataclasses.replace(sand, probs={k: np.broadcast_to(v[:1], v.shape) for k, v in sand.probs.items()})
    assert not chapter.claims(dataclasses.replace(res, sandwich=frozen))["answers_fall"].holds  # nothing is lost


def test_prob_wider_is_the_exact_share_of_chains_wider_than_the_truth():
    """Gil-Pelaez inversion against 100,000 simulated products of chi-square ratios (within
    5 binomial standard errors)."""
    from collapse_lib.theory.gaussian import prob_wider

    rng = np.random.default_rng(0)
    log_var = np.cumsum(np.log(rng.chisquare(19, size=(12, 100_000)) / 19), axis=0)
    sim = (log_var > 0).mean(axis=1)
    exact = prob_wider(np.arange(12), 20)
    assert np.all(np.abs(sim - exact) <= 5 * np.sqrt(exact * (1 - exact) / 100_000))


def test_procedure_claim_fails_where_gradient_descent_is_below_the_exact_fit():
    res = chapter.run(dataclasses.replace(toy("quick"), gaussian_sample_sweep=()))
    approx = res.approximation
    better = {M: tv * 0.5 for M, tv in approx.tv["Gaussian"].items()}  # a procedure that beats the exact fit
    fake = dataclasses.replace(approx, tv={**approx.tv, "gradient descent": {**approx.tv["gradient descent"], **better}})
    c = chapter.claims(dataclasses.replace(res, approximation=fake))
    assert not c["procedure_adds_to_statistical"].holds
