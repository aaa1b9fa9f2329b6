"""Bad settings raise a ValueError naming the setting, the value and what is allowed,
before any work starts."""
import numpy as np
import pytest

from collapse_lib import FreshReal, Mix, Replace, make_policy, run_generations
from collapse_lib.decoding import apply_temperature, top_k_filter, top_p_filter
from collapse_lib.families import CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource, ZipfSource
from collapse_lib.profiles import resolve_profile


def never_sample(*a, **k):
    raise AssertionError("work started before the settings were checked")


class LazySource(GaussianSource):
    sample = never_sample


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(generations=0), r"generations=0 .*integer >= 1"),
        (dict(generations=-3), r"generations=-3"),
        (dict(generations=2.5), r"generations=2.5"),
        (dict(chains=0), r"chains=0"),
        (dict(samples=1), r"samples=1 .*>= 2"),
    ],
)
def test_engine_settings(kwargs, match):
    kw = dict(generations=3, samples=10, chains=2)
    kw.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_generations(GaussianFamily(1), LazySource(0.0, 1.0), Replace(), **kw)


def test_sample_size_too_small_for_a_2d_gaussian():
    with pytest.raises(ValueError, match=r"samples=2 .*>= 3 .*GaussianFamily"):
        run_generations(GaussianFamily(2), LazySource([0, 0], np.eye(2)), Replace(), generations=2, samples=2)


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), "half"])
def test_fractions_outside_0_1(fraction):
    for policy in (Mix, FreshReal):
        with pytest.raises(ValueError, match="real_fraction=.*in \\[0, 1\\]"):
            policy(fraction)


@pytest.mark.parametrize("temperature", [0, -1.0, float("inf")])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature=.*> 0"):
        CategoricalFamily(3, temperature=temperature)
    with pytest.raises(ValueError, match="temperature="):
        apply_temperature(np.ones(3) / 3, temperature)


@pytest.mark.parametrize("top_p", [0, -0.2, 1.01])
def test_top_p_in_0_1(top_p):
    with pytest.raises(ValueError, match=r"top_p=.*\(0, 1\]"):
        CategoricalFamily(3, top_p=top_p)
    with pytest.raises(ValueError, match="top_p="):
        top_p_filter(np.ones(3) / 3, top_p)


def test_top_k_and_sizes():
    with pytest.raises(ValueError, match="top_k=0"):
        CategoricalFamily(3, top_k=0)
    with pytest.raises(ValueError, match="top_k=0"):
        top_k_filter(np.ones(3) / 3, 0)
    with pytest.raises(ValueError, match="n_outcomes=1"):
        CategoricalFamily(1)
    with pytest.raises(ValueError, match="dim=0"):
        GaussianFamily(0)
    with pytest.raises(ValueError, match="variance='biased'.*'unbiased', 'mle'"):
        GaussianFamily(1, "biased")


def test_unknown_profile_and_policy(monkeypatch):
    with pytest.raises(ValueError, match="profile='fast' .*'quick', 'cpu', 'gpu', 'paper'"):
        resolve_profile("fast")
    monkeypatch.setenv("COLLAPSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="profile='laptop'"):
        resolve_profile()
    with pytest.raises(ValueError, match="policy='keep'.*'replace', 'accumulate', 'mix', 'fresh'"):
        make_policy("keep")


def test_bad_real_distributions():
    with pytest.raises(ValueError, match="probs=.*sum to 1"):
        CategoricalSource(np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="cov=.*positive-definite"):
        GaussianSource([0, 0], [[1, 2], [2, 1]])
    with pytest.raises(ValueError, match="exponent=1.0 .*> 1"):
        ZipfSource(100, 1.0)


def test_chapter_config_rejects_bad_settings():
    from collapse_lib.experiments import distributions as d

    with pytest.raises(ValueError, match="sandwich_generations=0"):
        d.config("quick", sandwich_generations=0)
    with pytest.raises(ValueError, match="gaussian_samples=1"):
        d.config("quick", gaussian_samples=1)
    with pytest.raises(ValueError, match="sandwich_top_p=1.5"):
        d.config("quick", sandwich_top_p=1.5)
    with pytest.raises(ValueError, match="profile='huge'"):
        d.config("huge")
