"""Families, decoding, metrics, profiles and runtime pieces."""
import numpy as np
import pytest

from collapse_lib import metrics
from collapse_lib.decoding import apply_temperature, decode, top_k_filter, top_p_filter
from collapse_lib.families import (CategoricalFamily, CategoricalParams, CategoricalSource, GaussianFamily,
                                   GaussianStats, ZipfSource, zipf_probs)
from collapse_lib.families.gaussian import GaussianMixtureSource, points_to_stats, psd_sqrt

Z = 5.0  # bands of Z standard errors: a correct sampler fails one with probability below 1e-6


def test_gaussian_summaries_pool_exactly():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 7, 2)), rng.normal(3, 2, size=(3, 11, 2))
    pooled = points_to_stats(a) + points_to_stats(b)
    both = points_to_stats(np.concatenate([a, b], axis=1))
    assert pooled.n == 18
    np.testing.assert_allclose(pooled.mean, both.mean)
    np.testing.assert_allclose(pooled.scatter, both.scatter)
    empty = GaussianStats(0, np.zeros((3, 2)), np.zeros((3, 2, 2)))
    assert (empty + pooled) is pooled


def test_gaussian_fit_matches_numpy_estimators():
    x = np.random.default_rng(1).normal(size=(4, 9, 1))
    for variance, ddof in (("unbiased", 1), ("mle", 0)):
        p = GaussianFamily(1, variance).fit(points_to_stats(x))
        np.testing.assert_allclose(p.cov[:, 0, 0], x[..., 0].var(axis=1, ddof=ddof))


def test_mixture_source_moments_match_samples():
    src = GaussianMixtureSource([0.3, 0.7], [[-1.0], [2.0]], [[[0.5]], [[1.5]]])
    x = src.sample(1, 200_000, np.random.default_rng(0))[0, :, 0]
    mean, cov = src.moments()
    n = x.size
    assert abs(x.mean() - mean[0]) < 5 * np.sqrt(cov[0, 0] / n)
    # the moments against the mixture's own: mean sum_k w_k mu_k, variance
    # sum_k w_k (s_k + (mu_k - m)^2)
    w, mu, s = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([0.5, 1.5])
    m = (w * mu).sum()
    assert mean[0] == pytest.approx(m) and cov[0, 0] == pytest.approx((w * (s + (mu - m) ** 2)).sum())
    # the sample variance has standard error sqrt((m4 - v^2) / n), with the mixture's fourth
    # central moment m4 = sum_k w_k ((mu_k - m)^4 + 6 (mu_k - m)^2 s_k + 3 s_k^2)
    m4 = (w * ((mu - m) ** 4 + 6 * (mu - m) ** 2 * s + 3 * s**2)).sum()
    assert abs(x.var() - cov[0, 0]) < 5 * np.sqrt((m4 - cov[0, 0] ** 2) / n)
    grid = np.linspace(-10, 12, 4001)
    assert src.pdf_1d(grid).sum() * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-6)


def test_gaussian_summaries_of_one_point_and_of_none():
    """Mix with every point real pools an empty synthetic summary, and a summary may hold
    a single point: both must pool exactly."""
    x = np.random.default_rng(2).normal(size=(3, 6, 2))
    one = points_to_stats(x[:, :1])
    assert one.n == 1
    np.testing.assert_array_equal(one.mean, x[:, 0])
    np.testing.assert_array_equal(one.scatter, np.zeros((3, 2, 2)))
    pooled = points_to_stats(x[:, 1:]) + one
    whole = points_to_stats(x)
    assert pooled.n == 6
    np.testing.assert_allclose(pooled.mean, whole.mean)
    np.testing.assert_allclose(pooled.scatter, whole.scatter)
    empty = points_to_stats(x[:, :0])
    assert empty.n == 0
    np.testing.assert_array_equal(empty.mean, np.zeros((3, 2)))
    np.testing.assert_array_equal(empty.scatter, np.zeros((3, 2, 2)))
    assert (whole + empty) is whole


def test_square_root_of_a_covariance_rounded_below_zero_is_zero_not_nan():
    """A refitted covariance that collapsed can come out a rounding error below zero."""
    np.testing.assert_array_equal(psd_sqrt(np.array([[[-1e-18]], [[4.0]]])), [[[0.0]], [[2.0]]])
    v = np.array([1.0, 1.0]) / np.sqrt(2)
    cov = (np.outer(v, v) * 2.0 - 1e-12 * np.eye(2))[None]  # eigenvalues 2 - 1e-12 and -1e-12
    root = psd_sqrt(cov)
    assert np.all(np.isfinite(root))
    np.testing.assert_allclose(root[0] @ root[0], np.outer(v, v) * 2.0, atol=1e-10)


def test_mixture_source_in_two_dimensions_and_three_components():
    # three far-apart components in 2-D: each point's component is its nearest mean
    w = np.array([0.2, 0.3, 0.5])
    mu = np.array([[-20.0, 0.0], [0.0, 20.0], [20.0, 0.0]])
    covs = np.array([np.eye(2), [[2.0, 0.5], [0.5, 1.0]], 0.5 * np.eye(2)])
    src = GaussianMixtureSource(w, mu, covs)
    n = 20_000
    x = src.sample(1, n, np.random.default_rng(4))[0]
    assert x.shape == (n, 2) and x.dtype == np.float64
    comp = np.argmin(((x[:, None, :] - mu) ** 2).sum(-1), axis=1)
    counts = np.bincount(comp, minlength=3)
    # multinomial counts: standard error sqrt(n w (1 - w))
    assert np.all(np.abs(counts - n * w) < Z * np.sqrt(n * w * (1 - w)))
    # within each component, the mean and covariance placed by its Cholesky factor:
    # standard errors sqrt(S_ii / n_k) for the mean, sqrt((S_ii S_jj + S_ij^2) / n_k) for
    # the covariance entries (Gaussian fourth moments)
    for k in range(3):
        xk = x[comp == k]
        nk, S = len(xk), covs[k]
        assert np.all(np.abs(xk.mean(0) - mu[k]) < Z * np.sqrt(np.diag(S) / nk))
        se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / nk)
        assert np.all(np.abs(np.cov(xk.T) - S) < Z * se)
    mean, cov = src.moments()
    np.testing.assert_allclose(mean, w @ mu)
    c = mu - w @ mu
    np.testing.assert_allclose(cov, sum(w[k] * (covs[k] + np.outer(c[k], c[k])) for k in range(3)))


def test_mixture_density_is_the_weighted_sum_of_normal_densities():
    from scipy import stats

    src = GaussianMixtureSource([0.3, 0.7], [[-1.0], [2.0]], [[[0.5]], [[1.5]]])
    grid = np.linspace(-6, 8, 57)
    expected = 0.3 * stats.norm.pdf(grid, -1.0, np.sqrt(0.5)) + 0.7 * stats.norm.pdf(grid, 2.0, np.sqrt(1.5))
    np.testing.assert_allclose(src.pdf_1d(grid), expected, rtol=1e-12)
    # any shape of grid, point by point
    np.testing.assert_allclose(src.pdf_1d(grid[:56].reshape(7, 8)), expected[:56].reshape(7, 8), rtol=1e-12)
    # a component of weight 0 is allowed and contributes nothing
    half = GaussianMixtureSource([1.0, 0.0], [[0.0], [5.0]], [[[1.0]], [[1.0]]])
    np.testing.assert_allclose(half.pdf_1d(grid), stats.norm.pdf(grid), rtol=1e-12)


class FixedUniforms:
    """A stand-in for a generator whose uniforms are given."""

    def __init__(self, u):
        self.u = np.asarray(u, float)

    def random(self, shape):
        return self.u.reshape(shape)


def test_categorical_source_is_the_inverse_cdf_of_its_normalised_probabilities():
    # probabilities summing to 1 only within rounding (0.99999) are sampled as p / sum(p):
    # on a grid of n uniforms the count of outcome 0 is n p_0 / sum(p) to within one
    p = np.array([0.5, 0.49999])
    n = 10**6
    labels = CategoricalSource(p).sample(1, n, FixedUniforms((np.arange(n) + 0.5) / n))
    assert abs((labels == 0).sum() - n * p[0] / p.sum()) <= 1
    # an outcome of probability 0 is never drawn, even for the uniform 0
    src = CategoricalSource([0.0, 0.5, 0.0, 0.5])
    np.testing.assert_array_equal(src.sample(1, 4, FixedUniforms([0.0, 0.25, 0.5, 0.999999])), [[1, 1, 3, 3]])
    # integer probabilities (a point mass) are probabilities like any other
    point = CategoricalSource(np.array([0, 1]))
    assert point.probs.dtype == np.float64
    np.testing.assert_array_equal(point.sample(2, 5, np.random.default_rng(0)), np.ones((2, 5)))


def test_categorical_family_draws_exactly_n_samples():
    fam = CategoricalFamily(4)
    params = CategoricalParams(np.tile([0.1, 0.2, 0.3, 0.4], (6, 1)))
    rng = np.random.default_rng(5)
    for n in (1, 2, 17):
        np.testing.assert_array_equal(fam.sample(params, n, rng).counts.sum(1), np.full(6, n))
    # no sample: integer zero counts, which pool with real counts and leave them integers
    none = fam.sample(params, 0, rng).counts
    assert none.shape == (6, 4) and none.dtype.kind == "i" and not none.any()
    real = fam.summarize(np.random.default_rng(6).integers(0, 4, size=(6, 9)))
    pooled = real + fam.sample(params, 0, rng)
    assert pooled.counts.dtype.kind == "i" and pooled.n == 9
    # top-1 (greedy) decoding draws the mode only; two outcomes are the smallest family
    greedy = CategoricalFamily(4, top_k=1).sample(params, 10, rng).counts
    np.testing.assert_array_equal(greedy, np.tile([0, 0, 0, 10], (6, 1)))
    two = CategoricalFamily(2).fit(CategoricalFamily(2).summarize(np.array([[0, 1, 1, 1]])))
    np.testing.assert_allclose(two.probs, [[0.25, 0.75]])


def test_zipf_source_holds_the_normalised_power_law():
    i = np.arange(1, 51, dtype=float)
    src = ZipfSource(50, 1.5)
    np.testing.assert_allclose(src.probs, i**-1.5 / (i**-1.5).sum(), rtol=1e-12)
    assert src.exponent == 1.5 and isinstance(src.exponent, float)
    assert ZipfSource(50, 3).exponent == 3.0 and isinstance(ZipfSource(50, 3).exponent, float)
    # two ranks, the smallest law: p = (1, 2^-beta) / (1 + 2^-beta)
    np.testing.assert_allclose(zipf_probs(2, 1.0), [2 / 3, 1 / 3])
    np.testing.assert_allclose(ZipfSource(2, 1.0001).probs, np.array([1, 2**-1.0001]) / (1 + 2**-1.0001))


def test_temperature_sharpens_and_flattens():
    p = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(apply_temperature(p, 0.5), p**2 / (p**2).sum())
    np.testing.assert_allclose(apply_temperature(p, 1.0), p)
    assert apply_temperature(p, 100.0).std() < p.std()
    assert apply_temperature(np.array([0.0, 1.0]), 0.3)[0] == 0.0


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    p = np.array([0.35, 0.35, 0.05, 0.05, 0.01, 0.01, 0.18])
    q = top_p_filter(p, 0.9)  # 0.35 + 0.35 + 0.18 = 0.88 < 0.9, so one 5 % answer is kept too
    assert (q > 0).sum() == 4 and q[2] > 0 and q[3] == 0
    np.testing.assert_allclose(q.sum(), 1.0)
    np.testing.assert_allclose(top_p_filter(p, 0.7), [0.5, 0.5, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(top_p_filter(p, 1.0), p)


def test_top_k_cuts_the_tail_and_decode_composes():
    p = np.array([[0.1, 0.4, 0.2, 0.3]])
    np.testing.assert_allclose(top_k_filter(p, 2), [[0, 4 / 7, 0, 3 / 7]])
    np.testing.assert_allclose(decode(p, top_k=2, top_p=0.5), [[0, 1, 0, 0]])


def test_w2_between_gaussians():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert metrics.w2_squared_gaussian([[1.0]], [[[4.0]]], [[0.0]], [[[1.0]]])[0] == pytest.approx(1 + 1)
    # commuting covariances: sum over eigen-directions
    c1, c2 = np.diag([4.0, 9.0]), np.diag([1.0, 1.0])
    assert metrics.w2_squared_gaussian(np.zeros(2), c1, np.ones(2), c2) == pytest.approx(2 + 1 + 4)
    # distance to itself is zero for a general covariance
    a = np.array([[2.0, 0.7], [0.7, 1.0]])
    assert metrics.w2_squared_gaussian(np.zeros(2), a, np.zeros(2), a) == pytest.approx(0, abs=1e-10)


def test_categorical_metrics():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    assert metrics.entropy(p) == pytest.approx(1.5)
    assert metrics.surviving(p) == 3
    assert metrics.tail_mass(p, [2, 3]) == pytest.approx(0.25)
    assert metrics.kl_divergence(p, p) == pytest.approx(0)
    assert metrics.kl_divergence(p, np.array([0.5, 0.5, 0, 0])) == np.inf
    assert metrics.total_variation(p, np.array([0, 0, 0, 1.0])) == pytest.approx(1.0)
    assert metrics.unseen_mass(p, np.array([3, 0, 1, 0])) == pytest.approx(0.25)


def test_total_variation_of_densities():
    x = np.linspace(-12, 12, 4001)
    a = metrics.gaussian_pdf_1d(x, 0.0, 1.0)
    assert metrics.total_variation_density(a, a, x[1] - x[0]) == pytest.approx(0)
    far = metrics.gaussian_pdf_1d(x, 8.0, 1.0)
    assert metrics.total_variation_density(a, far, x[1] - x[0]) == pytest.approx(1.0, abs=1e-4)


def test_profile_selection(monkeypatch):
    from collapse_lib import profiles, runtime

    monkeypatch.setenv("COLLAPSE_PROFILE", "paper")
    assert profiles.resolve_profile() == "paper"
    assert profiles.resolve_profile("quick") == "quick"
    assert "paper" in profiles.banner()
    monkeypatch.delenv("COLLAPSE_PROFILE")
    monkeypatch.setattr(runtime, "cuda_available", lambda: False)
    assert profiles.resolve_profile() == "quick"
    monkeypatch.setattr(runtime, "cuda_available", lambda: True)
    assert profiles.resolve_profile() == "gpu"


def test_profile_configs_scale_the_chapter():
    from collapse_lib import load

    quick, paper = load("distributions", "quick"), load("distributions", "paper")
    assert quick.gaussian_chains * quick.gaussian_generations < paper.gaussian_chains * paper.gaussian_generations
    assert load("distributions", "quick", {"seed": 5}).seed == 5


def test_runtime_device_dtype_seed_and_cache(tmp_path, monkeypatch):
    import torch

    from collapse_lib import runtime

    dev = runtime.device()
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cpu":
        assert runtime.autocast_dtype(dev) == torch.float32
    else:
        assert runtime.autocast_dtype(dev) in (torch.bfloat16, torch.float16)
    runtime.seed_everything(3)
    a = torch.rand(3)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    monkeypatch.setenv("COLLAPSE_CACHE", str(tmp_path / "c"))
    assert runtime.cache_dir("data") == tmp_path / "c" / "data" and (tmp_path / "c" / "data").is_dir()


def test_progress_is_silent_in_ci(monkeypatch):
    from collapse_lib.progress import progress, progress_enabled

    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()
    assert progress(range(3)) == range(3)
    monkeypatch.delenv("CI")
    monkeypatch.setenv("COLLAPSE_PROGRESS", "0")
    assert not progress_enabled()
