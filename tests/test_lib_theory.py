"""Closed forms against simulation. Every tolerance is Z standard errors of a mean over
the chains, with the standard error taken from the theory where it has one and from
the chains' sample spread otherwise."""
import numpy as np
import pytest
from scipy.special import polygamma

from collapse_lib import Replace, run_generations
from collapse_lib.families import CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource
from collapse_lib.theory import categorical as tc
from collapse_lib.theory import gaussian as tg
from collapse_lib.theory import zipf as tz

Z = 5.0  # a 5-standard-error band: a correct formula fails with probability < 1e-6


def gaussian_chains(M, generations, chains, estimator="unbiased", dim=1, seed=0):
    cov = np.eye(dim)
    return run_generations(GaussianFamily(dim, estimator), GaussianSource(np.zeros(dim), cov), Replace(),
                           generations=generations, samples=M, chains=chains, seed=seed, progress=False)


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_expected_variance_and_its_spread(estimator):
    M, G, C = 20, 30, 20_000
    h = gaussian_chains(M, G, C, estimator)
    var = h["cov"][..., 0, 0]
    g = np.arange(G + 1)
    se = np.sqrt(tg.variance_of_variance(g, M, estimator=estimator) / C)
    assert np.all(np.abs(var.mean(1) - tg.expected_variance(g, M, estimator=estimator)) < Z * se)


def log_variance_cdf(x, n, M, estimator):
    """P(sum of n independent log(chi2_{M-1} / den) <= x), by Gil-Pelaez inversion of
    the characteristic function E[(chi2_k / den)^(it)] = (2 / den)^(it) Gamma(k/2 + it) / Gamma(k/2)."""
    from scipy import integrate
    from scipy.special import loggamma

    k, den = M - 1, (M - 1 if estimator == "unbiased" else M)

    def integrand(t):
        log_phi = n * (1j * t * np.log(2.0 / den) + loggamma(k / 2 + 1j * t) - loggamma(k / 2))
        return np.imag(np.exp(log_phi - 1j * t * x)) / t

    val, _ = integrate.quad(integrand, 0, np.inf, limit=500)
    return 0.5 - val / np.pi


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_log_variance_falls_linearly_so_the_variance_collapses_almost_surely(estimator):
    M, G, C = 10, 200, 5000
    h = gaussian_chains(M, G, C, estimator)
    log_var = np.log(h["cov"][..., 0, 0])
    g = np.arange(G + 1)
    # log var_g is a sum of g+1 independent log(chi2_{M-1}/den): variance (g+1) trigamma((M-1)/2)
    se = np.sqrt((g + 1) * polygamma(1, (M - 1) / 2) / C)
    assert np.all(np.abs(log_var.mean(1) - tg.expected_log_variance(g, M, estimator=estimator)) < Z * se)
    # almost-sure collapse: P(var_G >= eps) is small, and the chains' share above eps is
    # the exact probability, computed from the characteristic function of
    # log var_G = sum of G+1 independent log(chi2_{M-1} / den) (Gil-Pelaez inversion);
    # Markov's inequality on the standard deviation bounds it by E[sd_G] / sqrt(eps)
    eps = 1e-3
    exact = 1.0 - log_variance_cdf(np.log(eps), G + 1, M, estimator)
    assert exact <= tg.expected_std(G, M, estimator=estimator) / np.sqrt(eps) < 0.2
    share = np.mean(h["cov"][-1, :, 0, 0] >= eps)
    assert abs(share - exact) < Z * np.sqrt(exact * (1 - exact) / C)


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_mean_drift_and_expected_standard_deviation(estimator):
    M, G, C = 25, 40, 20_000
    h = gaussian_chains(M, G, C, estimator)
    g = np.arange(G + 1)
    drift = h["mean"][..., 0] ** 2
    se = drift.std(1) / np.sqrt(C)
    assert np.all(np.abs(drift.mean(1) - tg.mean_drift(g, M, estimator=estimator)) < Z * se + 1e-12)
    sd = np.sqrt(h["cov"][..., 0, 0])
    se_sd = np.sqrt(np.maximum(tg.expected_variance(g, M, estimator=estimator) - tg.expected_std(g, M, estimator=estimator) ** 2, 0) / C)
    assert np.all(np.abs(sd.mean(1) - tg.expected_std(g, M, estimator=estimator)) < Z * se_sd)


def test_expected_w2_squared_and_sample_variance_of_a_generation():
    M, G, C = 25, 40, 20_000
    h = gaussian_chains(M, G, C)
    g = np.arange(G + 1)
    mean, var = h["mean"][..., 0], h["cov"][..., 0, 0]
    w2 = mean**2 + (np.sqrt(var) - 1) ** 2
    assert np.all(np.abs(w2.mean(1) - tg.expected_w2_squared(g, M)) < Z * w2.std(1) / np.sqrt(C) + 1e-12)
    # SI 3.1.1: a sample of generation g has variance s (1 + (g+1)/M) when unbiased
    np.testing.assert_allclose(tg.sample_variance_of_generation(g, M), 1 + (g + 1) / M)
    assert np.all(np.diff(tg.expected_w2_squared(np.arange(2000), M)) > 0)  # grows without bound


def test_log_det_of_a_refitted_2d_gaussian():
    M, G, C, d = 8, 30, 5000, 2
    h = gaussian_chains(M, G, C, dim=d)
    logdet = np.linalg.slogdet(h["cov"])[1]
    g = np.arange(G + 1)
    se = np.sqrt((g + 1) * sum(polygamma(1, (M - i) / 2) for i in range(1, d + 1)) / C)
    assert np.all(np.abs(logdet.mean(1) - tg.expected_log_det(g, M, 0.0, d)) < Z * se)
    se_drift = (h["mean"] ** 2).sum(-1).std(1) / np.sqrt(C)
    assert np.all(np.abs((h["mean"] ** 2).sum(-1).mean(1) - tg.mean_drift(g, M, dim_trace=d)) < Z * se_drift + 1e-12)


def test_wright_fisher_survival_and_martingale():
    p = np.array([35, 35, 5, 5, 1, 1, 18]) / 100
    M, G, C = 100, 60, 20_000
    h = run_generations(CategoricalFamily(7), CategoricalSource(p), Replace(), generations=G, samples=M,
                        chains=C, seed=2, progress=False)
    probs = h["probs"]
    for k, q in enumerate(p):
        surv = tc.survival_probability(q, M, G)
        se = np.sqrt(surv * (1 - surv) / C)
        assert np.all(np.abs((probs[:, :, k] > 0).mean(1) - surv) < Z * se + 1e-12)
        # E[p_g] = q, Var[p_g] = q(1-q)(1 - (1 - 1/M)^(g+1))
        var = q * (1 - q) * (1 - (1 - 1 / M) ** (np.arange(G + 1) + 1))
        assert np.all(np.abs(probs[:, :, k].mean(1) - q) < Z * np.sqrt(var / C))
    dist = tc.wright_fisher(0.05, M, G)
    np.testing.assert_allclose(dist.sum(1), 1.0)
    assert tc.one_generation_loss(0.01, 100) == pytest.approx(0.99**100)
    np.testing.assert_allclose(tc.survival_probability(0.01, 100, 0)[0], 1 - 0.99**100)


def test_zipf_memoriser_error_and_plateau():
    from collapse_lib.families import CategoricalParams
    from collapse_lib.families.zipf import zipf_probs
    from collapse_lib.metrics import unseen_mass
    from collapse_lib.runtime import generation_rng

    N, beta, C = 5000, 2.0, 400
    p = zipf_probs(N, beta)
    for k in (None, 20):
        fam = CategoricalFamily(N, top_k=k)
        for i, T in enumerate([30, 1000, 30_000]):
            counts = fam.sample(CategoricalParams(np.broadcast_to(p, (C, N))), T, generation_rng(0, i, "synthetic")).counts
            err = unseen_mass(p, counts)
            expected = tz.tail_cut_error(T, k, beta, N)[0]
            assert abs(err.mean() - expected) < Z * err.std() / np.sqrt(C) + 1e-12
    # the floor is the cut-off mass, and its large-k form is close to it
    assert tz.tail_cut_error(1e9, 20, beta, N)[0] == pytest.approx(tz.plateau(20, beta, N))
    assert tz.plateau(100, beta, 10**6) == pytest.approx(tz.plateau_asymptotic(100, beta), rel=0.01)
    assert tz.scaling_exponent(2.0) == 0.5


# ------------------------------------------ a synthetic set drawn as its summary
def test_summary_sampling_has_the_law_of_the_points_summary_in_one_dimension():
    """sampling="stats": sqrt(n)(mean - mu)/sigma is N(0, 1), scatter/sigma^2 is
    chi2_{n-1}, and the two are uncorrelated (independent, by Cochran's theorem), as for
    the summary of n points; each Kolmogorov-Smirnov test rejects a correct law with
    probability 1e-6."""
    from scipy import stats

    from collapse_lib.families import GaussianParams

    C, n, mu, var = 20_000, 7, 1.5, 4.0
    params = GaussianParams(np.full((C, 1), mu), np.full((C, 1, 1), var))
    s = GaussianFamily(1).sample(params, n, np.random.default_rng(0))
    zm = np.sqrt(n) * (s.mean[:, 0] - mu) / np.sqrt(var)
    q = s.scatter[:, 0, 0] / var
    assert s.n == n
    assert stats.kstest(zm, "norm").pvalue > 1e-6
    assert stats.kstest(q, stats.chi2(n - 1).cdf).pvalue > 1e-6
    assert abs(np.corrcoef(zm, q)[0, 1]) < Z / np.sqrt(C)  # null correlation: se 1/sqrt(C)
    # the same law as the points' summary, compared sample against sample
    p = GaussianFamily(1, sampling="points").sample(params, n, np.random.default_rng(1))
    assert stats.ks_2samp(p.scatter[:, 0, 0], s.scatter[:, 0, 0]).pvalue > 1e-6
    assert stats.ks_2samp(p.mean[:, 0], s.mean[:, 0]).pvalue > 1e-6


def test_summary_sampling_draws_the_wishart_scatter_in_three_dimensions():
    """The scatter of n points from N(mu, Sigma) is Wishart(n-1, Sigma): for every fixed
    v, v'Sv / v'Sigma v is chi2_{n-1}; E[S] = (n-1) Sigma with Var[S_ij] = (n-1)
    (Sigma_ij^2 + Sigma_ii Sigma_jj); the mean has covariance Sigma/n."""
    from scipy import stats

    from collapse_lib.families import GaussianParams

    C, n, d = 20_000, 6, 3
    sigma = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    mu = np.array([0.0, 1.0, -1.0])
    params = GaussianParams(np.broadcast_to(mu, (C, d)).copy(), np.broadcast_to(sigma, (C, d, d)).copy())
    s = GaussianFamily(d).sample(params, n, np.random.default_rng(0))
    for v in (np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([1.0, -2.0, 0.5])):
        q = np.einsum("i,cij,j->c", v, s.scatter, v) / (v @ sigma @ v)
        assert stats.kstest(q, stats.chi2(n - 1).cdf).pvalue > 1e-6
    var_s = (n - 1) * (sigma**2 + np.outer(np.diag(sigma), np.diag(sigma)))
    assert np.all(np.abs(s.scatter.mean(0) - (n - 1) * sigma) < Z * np.sqrt(var_s / C))
    dev = s.mean - mu
    cov_mean = np.einsum("ci,cj->ij", dev, dev) / C
    var_cov = (sigma**2 + np.outer(np.diag(sigma), np.diag(sigma))) / n**2  # of one product dev_i dev_j
    assert np.all(np.abs(cov_mean - sigma / n) < Z * np.sqrt(var_cov / C))
