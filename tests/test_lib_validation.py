"""Bad settings raise a ValueError naming the setting, the value and what is allowed,
before any work starts."""
import numpy as np
import pytest

from collapse_lib import FreshReal, Mix, Replace, make_policy, run_generations
from collapse_lib.decoding import apply_temperature, top_k_filter, top_p_filter
from collapse_lib.families import (CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource, ZipfSource,
                                   zipf_probs)
from collapse_lib.families.gaussian import GaussianMixtureSource
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
    with pytest.raises(ValueError, match=rf"^temperature={temperature!r} is not allowed: it must be a finite number > 0"):
        CategoricalFamily(3, temperature=temperature)
    with pytest.raises(ValueError, match="temperature="):
        apply_temperature(np.ones(3) / 3, temperature)


@pytest.mark.parametrize("top_p", [0, -0.2, 1.01])
def test_top_p_in_0_1(top_p):
    with pytest.raises(ValueError, match=rf"^top_p={top_p!r} is not allowed: it must be a number in \(0, 1\]"):
        CategoricalFamily(3, top_p=top_p)
    with pytest.raises(ValueError, match="top_p="):
        top_p_filter(np.ones(3) / 3, top_p)


def test_top_k_and_sizes():
    with pytest.raises(ValueError, match=r"^top_k=0 is not allowed: it must be an integer >= 1"):
        CategoricalFamily(3, top_k=0)
    with pytest.raises(ValueError, match="top_k=0"):
        top_k_filter(np.ones(3) / 3, 0)
    with pytest.raises(ValueError, match=r"^n_outcomes=1 is not allowed: it must be an integer >= 2"):
        CategoricalFamily(1)
    with pytest.raises(ValueError, match=r"^n_outcomes=1 is not allowed: it must be an integer >= 2"):
        zipf_probs(1, 2.0)
    with pytest.raises(ValueError, match=r"^exponent=0 is not allowed: it must be a finite number > 0"):
        zipf_probs(10, 0)
    with pytest.raises(ValueError, match=r"^dim=0 is not allowed: it must be an integer >= 1"):
        GaussianFamily(0)
    with pytest.raises(ValueError, match=r"^variance='biased' is not allowed: it must be one of 'unbiased', 'mle'"):
        GaussianFamily(1, "biased")
    with pytest.raises(ValueError, match=r"^sampling='exact' is not allowed: it must be one of 'stats', 'points'"):
        GaussianFamily(1, sampling="exact")
    # the smallest settings allowed
    assert CategoricalFamily(2).n_outcomes == 2 and CategoricalFamily(3, top_k=1).top_k == 1
    assert GaussianFamily(1).dim == 1 and zipf_probs(2, 0.5).shape == (2,)


def test_unknown_profile_and_policy(monkeypatch):
    with pytest.raises(ValueError, match="profile='fast' .*'quick', 'cpu', 'gpu', 'paper'"):
        resolve_profile("fast")
    monkeypatch.setenv("COLLAPSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="profile='laptop'"):
        resolve_profile()
    with pytest.raises(ValueError, match="policy='keep'.*'replace', 'accumulate', 'mix', 'fresh'"):
        make_policy("keep")


@pytest.mark.parametrize("probs", [[0.5, 0.6], [1.5, -0.5], [1.0], [[0.5, 0.5]], [0.5, 0.25]])
def test_bad_categorical_distributions(probs):
    with pytest.raises(ValueError, match=r"^probs=.* is not allowed: it must be a 1-D array of at least two "
                                         r"non-negative probabilities that sum to 1$"):
        CategoricalSource(np.array(probs))


def test_bad_real_distributions():
    # the smallest and the degenerate distributions allowed
    np.testing.assert_array_equal(CategoricalSource([0.5, 0.5]).probs, [0.5, 0.5])
    np.testing.assert_array_equal(CategoricalSource([0.0, 1.0]).probs, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"^cov=\[\[1.0, 2.0\], \[2.0, 1.0\]\] is not allowed: it must be a "
                                         r"positive-definite 2x2 matrix matching mean of dimension 2$"):
        GaussianSource([0, 0], [[1, 2], [2, 1]])
    with pytest.raises(ValueError, match=r"^cov=\[\[0.0\]\] is not allowed: it must be a positive-definite"):
        GaussianSource(0.0, 0.0)  # a zero variance is not positive
    with pytest.raises(ValueError, match=r"^cov=.* is not allowed: it must be a positive-definite 3x3 matrix "
                                         r"matching mean of dimension 3$"):
        GaussianSource([0, 0, 0], np.eye(2))
    with pytest.raises(ValueError, match=r"^weights=\[1.5, -0.5\] is not allowed: they must be >= 0 and sum to 1$"):
        GaussianMixtureSource([1.5, -0.5], [[0.0], [1.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(ValueError, match=r"^weights=\[0.5, 0.4\] is not allowed"):
        GaussianMixtureSource([0.5, 0.4], [[0.0], [1.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(ValueError, match=r"^exponent=1.0 is not allowed: a Zipf law here needs exponent > 1$"):
        ZipfSource(100, 1.0)
    with pytest.raises(ValueError, match=r"^exponent=0.5 is not allowed: a Zipf law here needs exponent > 1$"):
        ZipfSource(100, 0.5)


def test_chapter_config_rejects_bad_settings():
    from collapse_lib import load

    with pytest.raises(ValueError, match="sandwich_generations=0"):
        load("distributions", "quick", {"sandwich_generations": 0})
    with pytest.raises(ValueError, match="gaussian_samples=1"):
        load("distributions", "quick", {"gaussian_samples": 1})
    with pytest.raises(ValueError, match="sandwich_top_p=1.5"):
        load("distributions", "quick", {"sandwich_top_p": 1.5})
    with pytest.raises(ValueError, match="profile='huge'"):
        load("distributions", "huge")
