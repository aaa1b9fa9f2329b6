"""Real-data policies at sizes where f * M is not an integer: the real count is the
nearest integer to f * M (never truncated), the synthetic count the rest, and the
training set has M points whatever the rounding."""
import dataclasses
import math

import numpy as np
import pytest

from collapse_lib import Accumulate, FreshReal, Mix, Replace, run_generations
from collapse_lib.arrays import PointSet
from collapse_lib.engine import Step
from collapse_lib.families import CategoricalFamily, Counts, GaussianFamily, GaussianSource
from collapse_lib.families.gaussian import points_to_stats
from collapse_lib.policies import (
    POLICY_NAMES,
    AccumulateSubsample,
    choose_without_replacement,
    hypergeometric_counts,
    make_policy,
)

REAL_VALUE = 1000.0  # every real point sits here, every synthetic one at 0

# (f, M) with f * M = 2.7, 2.4, 2.1, 11.7, 0.45, 9.7, 0.3: fractional parts on both sides of
# one half (never exactly one half, where rounding conventions differ), a count rounding
# to zero and one rounding to all of M
CASES = [(0.1, 27), (0.1, 24), (0.3, 7), (0.9, 13), (0.05, 9), (0.97, 10), (0.03, 10)]


def nearest(x: float) -> int:
    return math.floor(x + 0.5)


class ConstantSource:
    """Real points all equal to REAL_VALUE; records how many were asked for."""

    def __init__(self):
        self.asked = []

    def sample(self, chains, n, rng):
        self.asked.append(n)
        return np.full((chains, n, 1), REAL_VALUE)


def step_for(samples, n_synthetic, chains=3):
    fam = GaussianFamily(1)
    src = ConstantSource()
    synthetic = points_to_stats(np.zeros((chains, n_synthetic, 1)))
    real = np.full((chains, samples, 1), REAL_VALUE)
    return Step(1, fam, src, samples, chains, real, synthetic, None, np.random.default_rng(0)), src


@pytest.mark.parametrize("policy_class", [Mix, FreshReal])
@pytest.mark.parametrize("f, M", CASES)
def test_real_count_is_the_nearest_integer_to_f_times_m(policy_class, f, M):
    policy = policy_class(f)
    k = nearest(f * M)
    assert policy.n_synthetic(M) == M - k
    step, src = step_for(M, policy.n_synthetic(M))
    train = policy.training_set(step)
    assert train.n == M
    # the mean of the training set counts the real points: k * REAL_VALUE / M
    np.testing.assert_allclose(train.mean[:, 0] * M / REAL_VALUE, k, atol=1e-9)
    if policy_class is FreshReal:
        assert src.asked == ([k] if k > 0 else [])


def test_policies_without_real_data_use_all_synthetic_samples():
    for policy in (Replace(), Accumulate(), Mix(0.0), FreshReal(0.0)):
        assert policy.n_synthetic(27) == 27
    step, _ = step_for(27, 27)
    assert Mix(0.0).training_set(step) is step.synthetic
    assert Replace().training_set(step) is step.synthetic


def test_the_engine_asks_the_source_for_the_rounded_count_every_generation():
    """Through the engine: with f * M = 2.7 each generation draws 3 fresh real points."""
    asked = []

    class Recording(GaussianSource):
        def sample(self, chains, n, rng):
            asked.append(n)
            return super().sample(chains, n, rng)

    h = run_generations(GaussianFamily(1), Recording(0.0, 1.0), FreshReal(0.1), generations=3, samples=27, chains=2,
                        seed=0, progress=False)
    assert asked == [27, 3, 3, 3]  # the real data set, then 3 fresh real points a generation
    assert h["mean"].shape == (4, 2, 1)


@pytest.mark.parametrize("name, cls", [("replace", Replace), ("accumulate", Accumulate), ("mix", Mix),
                                       ("fresh", FreshReal)])
def test_make_policy_builds_the_named_policy_with_its_fraction(name, cls):
    p = make_policy(name, 0.3)
    assert type(p) is cls and p.name == name
    if cls in (Mix, FreshReal):
        assert p.real_fraction == 0.3 and p.n_synthetic(10) == 7


def test_make_policy_refuses_unknown_names_and_fractions():
    with pytest.raises(ValueError, match=r"policy='keep' is not allowed"):
        make_policy("keep")
    with pytest.raises(ValueError, match=r"real_fraction=1.5 is not allowed"):
        Mix(1.5)


def test_mix_draws_its_real_points_from_the_original_data_without_replacement():
    chains, M = 4, 30
    real = np.arange(chains * M, dtype=float).reshape(chains, M, 1)
    fam = GaussianFamily(1)
    step = Step(1, fam, None, M, chains, real, points_to_stats(np.zeros((chains, M - 8, 1))), None,
                np.random.default_rng(5))
    picked = []

    class Spy(GaussianFamily):
        def summarize(self, points):
            picked.append(points)
            return super().summarize(points)

    step.family = Spy(1)
    Mix(0.27).training_set(step)  # 8.1 -> 8 real points
    (pts,) = picked
    assert pts.shape == (chains, 8, 1)
    for c in range(chains):
        assert len(set(pts[c, :, 0])) == 8 and set(pts[c, :, 0]) <= set(real[c, :, 0])


def test_real_data_policies_keep_ten_percent_by_default():
    """Shumailov et al. keep 10 % of the original data: the default of make_policy and of
    the policies themselves."""
    assert make_policy("mix").real_fraction == 0.1 and make_policy("fresh").real_fraction == 0.1
    assert Mix().real_fraction == 0.1 and FreshReal().real_fraction == 0.1


# ------------------------------------------------------------ accumulate-subsample
Z = 5.0  # standard errors allowed between a mean over chains and its exact expectation


def test_subsets_are_uniform_and_without_replacement():
    """Every index of range(n) is chosen with probability k/n (binomial standard error)."""
    chains, n, k = 20_000, 12, 5
    idx = choose_without_replacement(np.random.default_rng(3), chains, n, k)
    assert idx.shape == (chains, k) and idx.min() >= 0 and idx.max() < n
    assert all(len(set(row)) == k for row in idx[:500])
    freq = np.stack([(idx == i).any(axis=1) for i in range(n)]).mean(axis=1)
    assert np.all(np.abs(freq - k / n) <= Z * np.sqrt(k / n * (1 - k / n) / chains))
    with pytest.raises(ValueError, match="k=13 is not allowed"):
        choose_without_replacement(np.random.default_rng(0), 2, 12, 13)


def test_hypergeometric_counts_follow_the_urn():
    counts = np.tile([30, 0, 50, 20], (20_000, 1))
    drawn = hypergeometric_counts(np.random.default_rng(4), counts, 40)
    assert np.all(drawn.sum(axis=1) == 40) and np.all(drawn <= counts)
    share = counts[0] / counts[0].sum()
    var = 40 * share * (1 - share) * (100 - 40) / (100 - 1)  # hypergeometric variance of each count
    assert np.all(np.abs(drawn.mean(axis=0) - 40 * share) <= Z * np.sqrt(var / len(drawn)) + 1e-12)


class _Marked(GaussianFamily):
    """Synthetic points are all 0, real ones REAL_VALUE: a training set's mean counts its real points."""

    def sample_points(self, params, n, rng):
        return np.zeros((params.mean.shape[0], n, 1))


@dataclasses.dataclass
class _Points(PointSet):
    x: np.ndarray


class _PointFamily:
    """A family whose training set is its points (like the GMM, the VAE, the language model)."""

    def summarize(self, points):
        return _Points(np.asarray(points))


def _training_sets(policy, family, real, synthetic, generations, samples):
    """The policy's training sets of generations 1..G, fed the same synthetic set each time."""
    chains = real.shape[0]
    train, sets = family.summarize(real), []
    for t in range(1, generations + 1):
        step = Step(t, family, None, samples, chains, real, synthetic, train, np.random.default_rng([7, t]))
        train = policy.training_set(step)
        sets.append(train)
    return sets


def test_accumulate_subsample_draws_from_real_and_every_synthetic_set():
    """Generation t's M points come from a pool of M real and t M synthetic points: the
    number of real ones is hypergeometric with mean M / (t + 1), in the summary families
    (points drawn by the policy) and in the categorical one (counts pooled)."""
    chains, M, G = 4000, 20, 4
    real = np.full((chains, M, 1), REAL_VALUE)
    fam = _Marked(1)
    policy = AccumulateSubsample()
    sets = _training_sets(policy, fam, real, points_to_stats(np.zeros((chains, M, 1))), G, M)
    cat = _training_sets(AccumulateSubsample(), CategoricalFamily(2), np.zeros((chains, M), int),
                                     Counts(np.tile([0, M], (chains, 1))), G, M)
    pts = _training_sets(AccumulateSubsample(), _PointFamily(), real, _Points(np.zeros((chains, M, 1))), G, M)
    for t, (train, counts, points) in enumerate(zip(sets, cat, pts), start=1):
        N, K = (t + 1) * M, M  # pool size, real points in it
        mean, var = M * K / N, M * (K / N) * (1 - K / N) * (N - M) / (N - 1)
        assert isinstance(points, _Points) and points.n == M
        for n_real in (train.mean[:, 0] * M / REAL_VALUE, counts.counts[:, 0], (points.x[..., 0] == REAL_VALUE).sum(1)):
            assert n_real.min() >= 0 and n_real.max() <= M
            assert abs(n_real.mean() - mean) <= Z * np.sqrt(var / chains), (t, n_real.mean(), mean)
        assert train.n == M and counts.n == M


def test_accumulate_subsample_refuses_a_resumed_run_and_a_too_large_subset():
    fam, chains, M = GaussianFamily(1), 2, 10
    real = np.zeros((chains, M, 1))
    syn = points_to_stats(np.ones((chains, M, 1)))
    with pytest.raises(ValueError, match="cannot start at generation 3"):
        AccumulateSubsample().training_set(Step(3, fam, None, M, chains, real, syn, syn, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="train_size=25 is not allowed"):
        AccumulateSubsample(25).training_set(Step(1, fam, None, M, chains, real, syn, syn, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="train_size=0 is not allowed"):
        AccumulateSubsample(0)


def test_accumulate_subsample_through_the_engine_repeats_itself():
    """Two runs with one seed give the same fits (every draw from the step's streams), and
    the policy object can be reused: generation 1 starts a new pool."""
    policy = make_policy("accumulate-subsample")
    assert isinstance(policy, AccumulateSubsample) and "accumulate-subsample" not in POLICY_NAMES
    runs = [run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), policy, generations=6, samples=15,
                            chains=3, seed=2, progress=False) for _ in range(2)]
    np.testing.assert_array_equal(runs[0]["mean"], runs[1]["mean"])
    np.testing.assert_array_equal(runs[0]["cov"], runs[1]["cov"])
