"""Families, decoding, metrics, profiles and runtime pieces."""
import numpy as np
import pytest

from collapse_lib import metrics
from collapse_lib.decoding import apply_temperature, decode, top_k_filter, top_p_filter
from collapse_lib.families import GaussianFamily, GaussianStats
from collapse_lib.families.gaussian import GaussianMixtureSource, points_to_stats


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
    from collapse_lib.experiments import distributions as d

    quick, paper = d.config("quick"), d.config("paper")
    assert quick.gaussian_chains * quick.gaussian_generations < paper.gaussian_chains * paper.gaussian_generations
    assert d.config("quick", seed=5).seed == 5


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
