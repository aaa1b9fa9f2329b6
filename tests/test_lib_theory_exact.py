"""Each closed form of :mod:`collapse_lib.theory` against a computation that does not
share its derivation: numerical integration over the chi-square law, a recursion
written from the model's definition, exact enumeration, or a direct simulation of the
loop in plain NumPy (independent of the library's families and engine).

Simulation bands are Z = 5 standard errors of a mean over C independent chains, the
standard error taken from the chains' own spread (a correct formula fails with
probability below 1e-6 per comparison); integration and enumeration are checked to
near machine precision.
"""
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import zeta

from collapse_lib.theory import categorical as tc
from collapse_lib.theory import gaussian as tg
from collapse_lib.theory import gmm as tgmm
from collapse_lib.theory import linreg as tl
from collapse_lib.theory import zipf as tz

Z = 5.0


def chi2_moment(k, f):
    """E[f(X)] for X ~ chi2_k, by adaptive quadrature."""
    val, err = integrate.quad(lambda x: f(x) * stats.chi2.pdf(x, k), 0, np.inf, limit=200)
    return val


# ----------------------------------------------------------------- Gaussian refits
@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
@pytest.mark.parametrize("M", [3, 10, 50])
def test_ratio_moments_are_the_integrals_over_the_chi_square_law(M, estimator):
    k, den = M - 1, (M - 1 if estimator == "unbiased" else M)
    m = tg.ratio_moments(M, estimator)
    assert m["mean"] == pytest.approx(chi2_moment(k, lambda x: x / den), rel=1e-9)
    assert m["second"] == pytest.approx(chi2_moment(k, lambda x: (x / den) ** 2), rel=1e-9)
    assert m["sqrt_mean"] == pytest.approx(chi2_moment(k, lambda x: np.sqrt(x / den)), rel=1e-8)
    assert m["log_mean"] == pytest.approx(chi2_moment(k, lambda x: np.log(x / den)), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_variance_of_one_fit_is_the_textbook_variance_of_a_sample_variance(estimator):
    """Var[s^2] = 2 sigma^4 / (M - 1) for the unbiased estimator; the MLE is (M-1)/M of it."""
    M, s = 12, 2.5
    one = 2 * s**2 / (M - 1) * (1.0 if estimator == "unbiased" else ((M - 1) / M) ** 2)
    assert tg.variance_of_variance(0, M, s, estimator) == pytest.approx(one, rel=1e-12)


def test_moments_of_later_generations_follow_from_independent_factors():
    """var_g = s r_0 ... r_g with independent r_j: each moment is the integral's power;
    the mean drift follows the recursion d_g = d_{g-1} + E[var_{g-1}] / M, d_0 = s / M."""
    M, s, G = 7, 1.7, 12
    for estimator in ("unbiased", "mle"):
        den = M - 1 if estimator == "unbiased" else M
        e1 = chi2_moment(M - 1, lambda x: x / den)
        e2 = chi2_moment(M - 1, lambda x: (x / den) ** 2)
        esq = chi2_moment(M - 1, lambda x: np.sqrt(x / den))
        elog = chi2_moment(M - 1, lambda x: np.log(x / den))
        g = np.arange(G + 1)
        n = g + 1
        np.testing.assert_allclose(tg.expected_variance(g, M, s, estimator), s * e1**n, rtol=1e-9)
        np.testing.assert_allclose(tg.variance_of_variance(g, M, s, estimator), s**2 * (e2**n - e1 ** (2 * n)), rtol=1e-7)
        np.testing.assert_allclose(tg.expected_std(g, M, s, estimator), np.sqrt(s) * esq**n, rtol=1e-7)
        np.testing.assert_allclose(tg.expected_log_variance(g, M, s, estimator), np.log(s) + n * elog, rtol=1e-7)
        drift = [s / M]
        for t in range(1, G + 1):
            drift.append(drift[-1] + s * e1**t / M)  # E[var_{t-1}] = s e1^t
        np.testing.assert_allclose(tg.mean_drift(g, M, s, estimator), drift, rtol=1e-9)
        np.testing.assert_allclose(tg.mean_drift(g, M, estimator=estimator, dim_trace=3 * s), 3 * np.array(drift),
                                   rtol=1e-9)
        np.testing.assert_allclose(tg.sample_variance_of_generation(g, M, s, estimator), s * e1**n + np.array(drift),
                                   rtol=1e-9)
        # W2^2 between N(m, v) and N(0, s) is m^2 + (sqrt v - sqrt s)^2
        w2 = np.array(drift) + s * e1**n - 2 * np.sqrt(s) * np.sqrt(s) * esq**n + s
        np.testing.assert_allclose(tg.expected_w2_squared(g, M, s, estimator), w2, rtol=1e-7)


def test_log_det_of_one_fit_is_the_integral_over_its_bartlett_factors():
    """log det of a d-dim scatter of M points over den^d is sum_i log(chi2_{M-i} / den)."""
    M, d, G = 9, 3, 4
    for estimator, den in (("unbiased", M - 1), ("mle", M)):
        per_fit = sum(chi2_moment(M - i, lambda x: np.log(x / den)) for i in range(1, d + 1))
        g = np.arange(G + 1)
        np.testing.assert_allclose(tg.expected_log_det(g, M, 0.4, d, estimator), 0.4 + (g + 1) * per_fit, rtol=1e-7)


def test_variance_of_variance_matches_a_direct_simulation_of_refits():
    """Not only a band: the spread of var_g over plain-NumPy chains of refits. The sample
    variance of C chains has standard error about sqrt((m4 - v^2) / C), m4 the fourth
    central moment, estimated from the chains."""
    M, G, C = 6, 3, 200_000
    rng = np.random.default_rng(7)
    var = np.ones(C)
    out = []
    for _ in range(G + 1):
        x = rng.normal(size=(C, M)) * np.sqrt(var)[:, None]
        var = x.var(axis=1, ddof=1)
        out.append(var)
    out = np.array(out)
    v = out.var(axis=1)
    dev = out - out.mean(axis=1, keepdims=True)
    se = np.sqrt(((dev**4).mean(axis=1) - v**2) / C)
    assert np.all(np.abs(v - tg.variance_of_variance(np.arange(G + 1), M)) < Z * se)


# ---------------------------------------------------------------- Wright-Fisher chain
def test_wright_fisher_enumerated_by_hand_for_two_samples():
    """M = 2: from one copy the next generation has 0, 1, 2 copies with 1/4, 1/2, 1/4."""
    q = 0.3
    dist = tc.wright_fisher(q, 2, 2)
    d0 = np.array([(1 - q) ** 2, 2 * q * (1 - q), q**2])
    T = np.array([[1, 0, 0], [0.25, 0.5, 0.25], [0, 0, 1]])
    np.testing.assert_allclose(dist, [d0, d0 @ T, d0 @ T @ T], atol=1e-15)


def test_wright_fisher_is_a_martingale_with_the_binomial_variance():
    """E[K_g / M] = q and Var[K_g / M] = q (1 - q) (1 - (1 - 1/M)^(g+1)) (the classical
    Wright-Fisher variance), computed from the distribution itself."""
    q, M, G = 0.07, 30, 40
    dist = tc.wright_fisher(q, M, G)
    x = np.arange(M + 1) / M
    g = np.arange(G + 1)
    np.testing.assert_allclose(dist.sum(1), 1, atol=1e-12)
    np.testing.assert_allclose(dist @ x, q, atol=1e-12)
    np.testing.assert_allclose(dist @ x**2 - q**2, q * (1 - q) * (1 - (1 - 1 / M) ** (g + 1)), atol=1e-12)
    surv = tc.survival_probability(q, M, G)
    np.testing.assert_allclose(surv, 1 - dist[:, 0])
    assert surv[0] == pytest.approx(1 - (1 - q) ** M)
    assert np.all(np.diff(surv) <= 1e-15)  # loss is forever
    # conditional mean from the distribution: sum_j (j/M) P(j) / P(K > 0)
    np.testing.assert_allclose(tc.conditional_mean_probability(q, M, G), (dist @ x) / (1 - dist[:, 0]), rtol=1e-10)
    assert tc.one_generation_loss(q, M) == pytest.approx((1 - q) ** M)
    probs = [0.5, 0.3, 0.2, 0.0]
    np.testing.assert_allclose(tc.expected_surviving(probs, M, G),
                               sum(tc.survival_probability(p, M, G) for p in probs[:3]))
    assert tc.expected_surviving(probs, M, G)[0] < 3


# ------------------------------------------------------------------ Zipf memoriser
def test_memoriser_error_enumerated():
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.5, 0.5, 0.0])
    np.testing.assert_allclose(tz.memoriser_error(p, q, [0, 3]), [1.0, 0.5 * 0.5**3 + 0.3 * 0.5**3 + 0.2])
    # real data: sum_i p_i (1 - p_i)^T
    np.testing.assert_allclose(tz.memoriser_error(p, p, 4), [(p * (1 - p) ** 4).sum()])
    np.testing.assert_allclose(tz.memoriser_error([0.0, 1.0], [0.0, 1.0], 2), [0.0])


def test_memoriser_error_and_its_sd_bound_against_every_training_sequence():
    """All K^T training sequences enumerated with their probabilities: the exact mean and
    standard deviation of the unseen real mass, against the closed form and the bound."""
    import itertools

    p, q, T = np.array([0.5, 0.3, 0.2]), np.array([0.6, 0.3, 0.1]), 4
    errors, weights = [], []
    for seq in itertools.product(range(3), repeat=T):
        seen = np.zeros(3, bool)
        seen[list(seq)] = True
        errors.append(p[~seen].sum())
        weights.append(np.prod(q[list(seq)]))
    errors, weights = np.array(errors), np.array(weights)
    mean = weights @ errors
    sd = np.sqrt(weights @ (errors - mean) ** 2)
    assert tz.memoriser_error(p, q, T)[0] == pytest.approx(mean, rel=1e-12)
    # the bound is sqrt(sum_i p_i^2 m_i (1 - m_i)), m_i = (1 - q_i)^T, and it holds
    m = (1 - q) ** T
    bound = tz.memoriser_error_sd_bound(p, q, [T])[0]
    assert bound == pytest.approx(np.sqrt((p**2 * m * (1 - m)).sum()), rel=1e-12)
    assert sd <= bound
    # before any sample the error is 1 for sure: no spread, also with a certain outcome
    np.testing.assert_array_equal(tz.memoriser_error_sd_bound([0.0, 1.0], [0.0, 1.0], [0, 3]), [0.0, 0.0])
    np.testing.assert_array_equal(tz.memoriser_error_sd_bound(p, q, 0), [0.0])
    # the Zipf wrapper cuts the law it trains on at rank k
    N, beta, k = 50, 1.5, 5
    zp = np.arange(1, N + 1, dtype=float) ** -beta
    zp /= zp.sum()
    cut = np.where(np.arange(N) < k, zp, 0.0) / zp[:k].sum()
    np.testing.assert_allclose(tz.tail_cut_sd_bound([3, 30], k, beta, N), tz.memoriser_error_sd_bound(zp, cut, [3, 30]),
                               rtol=1e-12)
    np.testing.assert_allclose(tz.tail_cut_sd_bound([3], None, beta, N), tz.memoriser_error_sd_bound(zp, zp, [3]),
                               rtol=1e-12)


def test_the_floor_is_reached_for_any_amount_of_data():
    """After 10^20 samples (a Python integer past 2^63) every kept outcome has been seen:
    the error is the cut-off mass exactly."""
    N, beta, k = 2000, 1.5, 30
    assert tz.tail_cut_error(10**20, k, beta, N)[0] == pytest.approx(tz.plateau(k, beta, N), rel=1e-12)
    assert tz.tail_cut_error(10**20, None, beta, N)[0] == 0.0


def test_tail_cut_plateau_and_scaling_exponent_from_the_zipf_law():
    N, beta, k = 2000, 1.5, 30
    i = np.arange(1, N + 1, dtype=float)
    p = i**-beta / (i**-beta).sum()
    assert tz.plateau(k, beta, N) == pytest.approx(p[k:].sum(), rel=1e-12)
    q = np.where(i <= k, p, 0) / p[:k].sum()
    np.testing.assert_allclose(tz.tail_cut_error([10, 100], k, beta, N), [(p * (1 - q) ** T).sum() for T in (10, 100)],
                               rtol=1e-10)
    # the large-k floor: sum_{i>k} i^-beta ~ k^(1-beta) / (beta - 1), over zeta(beta)
    big = 10**7
    tail = np.sum(np.arange(k + 1, big, dtype=float) ** -beta) + big ** (1 - beta) / (beta - 1)
    assert tz.plateau_asymptotic(k, beta) == pytest.approx(tail / zeta(beta), rel=(beta / 2) / k)
    # error ~ T^-(1 - 1/beta) for 1 << T << N^beta: the local log-log slope on a huge support
    N, beta = 2_000_000, 2.0
    T = np.array([1e3, 4e3])
    e = tz.tail_cut_error(T, None, beta, N)
    slope = np.diff(np.log(e)) / np.diff(np.log(T))
    assert slope[0] == pytest.approx(-tz.scaling_exponent(beta), abs=0.02)
    assert tz.scaling_exponent(beta) == 0.5


# ----------------------------------------------------------------- linear regression
def least_squares(X, y):
    return np.linalg.solve(np.einsum("cti,ctj->cij", X, X), np.einsum("cti,ct->ci", X, y)[..., None])[..., 0]


def simulate_regression(policy, T, d, G, C, noise, seed):
    """|w_g - w*|^2 of C chains of the regression loop, written from the definition."""
    rng = np.random.default_rng(seed)
    w_star = np.zeros((C, d))
    X0 = rng.normal(size=(C, T, d))
    Xs, ys = [X0], [X0 @ np.zeros(d) + noise * rng.normal(size=(C, T))]
    w = least_squares(X0, ys[0])
    errors = [((w - w_star) ** 2).sum(1)]
    for _ in range(G):
        X = X0 if policy == "fixed" else rng.normal(size=(C, T, d))
        y = np.einsum("cti,ci->ct", X, w) + noise * rng.normal(size=(C, T))
        if policy == "replace":
            w = least_squares(X, y)
        else:
            Xs.append(X)
            ys.append(y)
            w = least_squares(np.concatenate(Xs, 1), np.concatenate(ys, 1))
        errors.append(((w - w_star) ** 2).sum(1))
    return np.array(errors)


@pytest.mark.parametrize("policy, formula", [
    ("replace", tl.replace_error),
    ("accumulate", tl.accumulate_error),
    ("fixed", tl.accumulate_error_fixed_design),
])
def test_regression_closed_forms_match_the_loop_simulated_directly(policy, formula):
    """d = 1, T = 5 (so the fixed-design and fresh-input sums differ by 7 %, about 10
    standard errors at C = 100,000 chains), noise sigma = 1.3."""
    T, d, G, C, noise = 5, 1, 2, 100_000, 1.3
    err = simulate_regression(policy, T, d, G, C, noise, seed={"replace": 1, "accumulate": 2, "fixed": 3}[policy])
    g = np.arange(G + 1)
    se = err.std(1) / np.sqrt(C)
    assert np.all(np.abs(err.mean(1) - formula(g, T, d, noise)) < Z * se)
    # and the two accumulate formulas are told apart by the same simulation
    other = tl.accumulate_error_fixed_design if policy == "accumulate" else tl.accumulate_error
    if policy in ("accumulate", "fixed"):
        assert np.abs(err.mean(1)[-1] - other(G, T, d, noise)) > Z * se[-1]


def test_strong_collapse_bias_matches_a_direct_simulation():
    """E|A^-1 X_2^T X_2 Delta|^2 / |Delta|^2 over Gaussian designs, n = 12, d = 2,
    n_2 = 6 synthetic rows, and the large-n expansion p^2 + p (1 - p) (d + 1) / n."""
    n, d, p, C = 12, 2, 0.5, 100_000
    rng = np.random.default_rng(4)
    X = rng.normal(size=(C, n, d))
    delta = np.array([0.6, 0.8])
    n2 = int(tl.synthetic_count(n, p))
    assert n2 == 6 and int(tl.synthetic_count(10, 0.27)) == 3
    A = np.einsum("cti,ctj->cij", X, X)
    X2 = X[:, :n2]
    e = np.linalg.solve(A, np.einsum("cti,ctj,j->ci", X2, X2, delta)[..., None])[..., 0]
    b = (e**2).sum(1)
    assert abs(b.mean() - tl.strong_collapse_bias(n, p, d)) < Z * b.std() / np.sqrt(C)
    # large n: the expansion's error is O(n^-2)
    for n_big in (10**4, 10**5):
        exp = p**2 + p * (1 - p) * (d + 1) / n_big
        assert tl.strong_collapse_bias(n_big, p, d) == pytest.approx(exp, abs=20 / n_big**2)
    assert tl.strong_collapse_error(n, 0.0, 5.0, d, 1.3) == pytest.approx(1.3**2 * d / (n - d - 1))
    assert tl.strong_collapse_error(n, p, 2.0, d, 1.3) == pytest.approx(
        1.3**2 * d / (n - d - 1) + 2.0 * tl.strong_collapse_bias(n, p, d))
    assert tl.strong_collapse_asymptotic(100, 0.2, 3.0, 4, 2.0) == pytest.approx(4 * 4 / 100 + 0.04 * 3)
    assert tl.strong_collapse_floor(0.2, 3.0) == pytest.approx(0.12)
    assert tl.accumulate_bound(10, 2, 2.0) == pytest.approx(np.pi**2 / 6 * 4 * 2 / 7)


# --------------------------------------------------------------- Gaussian mixtures
def test_gmm_log_det_step_against_integration_and_its_large_n_slope():
    d = 2
    for n in (5, 12):
        mean = sum(chi2_moment(n - i, lambda x: np.log(x / n)) for i in range(1, d + 1))
        assert tgmm.log_det_step_mean(n, d) == pytest.approx(mean, rel=1e-7)
        var = sum(chi2_moment(n - i, lambda x: np.log(x) ** 2) - chi2_moment(n - i, np.log) ** 2
                  for i in range(1, d + 1))
        assert tgmm.log_det_step_var(n, d) == pytest.approx(var, rel=1e-6)
    # a second derivation of the pace: sum_i E log(chi2_{n-i}/n) ~ -d(d+3)/(2n), so the
    # log std of a component of weight w falls by (d+3)/(4 w M) a generation
    w, M = 0.25, 400_000
    slope = tgmm.expected_log_std(1, M, w, d) - tgmm.expected_log_std(0, M, w, d)
    assert slope == pytest.approx(-(d + 3) / (4 * w * M), rel=1e-4)
    assert tgmm.expected_log_std(3, M, w, d, log_std0=0.7) == pytest.approx(0.7 + 3 * slope)


def test_gmm_component_log_std_matches_refits_simulated_directly():
    """One component refitted (maximum likelihood) to w M = 8 points a generation, in
    plain NumPy: the mean of log det(S_g)^(1/2d) follows expected_log_std."""
    d, M, w, G, C = 2, 32, 0.25, 4, 40_000
    n = round(w * M)
    rng = np.random.default_rng(9)
    L = np.broadcast_to(np.eye(d), (C, d, d)).copy()
    out = [np.zeros(C)]
    for _ in range(G):
        x = np.einsum("cij,cnj->cni", L, rng.normal(size=(C, n, d)))
        x = x - x.mean(1, keepdims=True)
        S = np.einsum("cni,cnj->cij", x, x) / n
        out.append(np.linalg.slogdet(S)[1] / (2 * d))
        L = np.linalg.cholesky(S)
    out = np.array(out)
    se = out.std(1) / np.sqrt(C)
    assert np.all(np.abs(out.mean(1) - tgmm.expected_log_std(np.arange(G + 1), M, w, d)) < Z * se + 1e-12)


def test_gmm_conditional_drift_sums_the_steps_of_the_observed_counts():
    weights = np.array([[0.5, 0.25], [0.4, 0.3], [0.45, 0.1]])
    M, d = 40, 2
    mean, var = tgmm.conditional_log_det_drift(weights, M, d)
    n = np.rint(weights * M)
    by_hand_mean = np.cumsum([[tgmm.log_det_step_mean(v, d) for v in row] for row in n], axis=0)
    by_hand_var = np.cumsum([[tgmm.log_det_step_var(v, d) for v in row] for row in n], axis=0)
    np.testing.assert_allclose(mean, by_hand_mean)
    np.testing.assert_allclose(var, by_hand_var)
    with pytest.raises(ValueError, match="needs at least 3 points"):
        tgmm.log_det_step_mean(2, d)


# ------------------------------------------------------- settings the formulas refuse
@pytest.mark.parametrize("call, message", [
    (lambda: tg.expected_variance(0, 10, estimator="biased"), r"estimator='biased' is not allowed: it must be one of "
                                                              r"'unbiased', 'mle'"),
    (lambda: tg.ratio_moments(1), r"M=1 is not allowed: it must be an integer >= 2 \(a variance needs two samples\)"),
    (lambda: tg.expected_log_det(0, 3, 0.0, 3), r"M=3 is not allowed: it must be an integer >= 4 \(a d-dimensional "
                                                r"covariance needs d\+1 samples\)"),
    (lambda: tc.wright_fisher(1.2, 10, 3), r"q=1.2 is not allowed"),
    (lambda: tc.wright_fisher(0.2, 0, 3), r"M=0 is not allowed: it must be an integer >= 1"),
    (lambda: tc.wright_fisher(0.2, 10, -1), r"generations=-1 is not allowed: it must be an integer >= 0"),
    (lambda: tc.one_generation_loss(-0.1, 10), r"q=-0.1 is not allowed"),
    (lambda: tl.one_fit_error(10.5, 2), r"T=10.5 is not allowed: it must be an integer \(or integers\) >= d \+ 2 = 4"),
    (lambda: tl.one_fit_error(3, 2), r"T=3 is not allowed: least squares needs T >= d \+ 2 = 4 for a finite expected "
                                     r"error sigma\^2 d / \(T - d - 1\)"),
    (lambda: tl.one_fit_error(10, 0), r"d=0 is not allowed: it must be an integer >= 1"),
    (lambda: tl.one_fit_error(10, 2, -1.0), r"noise=-1.0 is not allowed: it must be a finite number >= 0"),
    (lambda: tl.one_fit_error(10, 2, np.inf), r"noise=inf is not allowed"),
    (lambda: tl.replace_error(-1, 10, 2), r"generation=-1 is not allowed: generations are integers >= 0"),
    (lambda: tl.accumulate_error(1.5, 10, 2), r"generation=1.5 is not allowed"),
    (lambda: tl.strong_collapse_error(3, 0.5, 1.0, 2), r"n=3 is not allowed: least squares needs n >= d \+ 2 = 4"),
    (lambda: tl.strong_collapse_error(10, 1.5, 1.0, 2), r"p=1.5 is not allowed"),
    (lambda: tl.strong_collapse_error(10, 0.5, -1.0, 2), r"c2=-1.0 is not allowed: it must be a finite number >= 0 "
                                                         r"\(the synthetic model's quality\)"),
    (lambda: tl.strong_collapse_floor(0.5, np.nan), r"c2=nan is not allowed"),
    (lambda: tl.strong_collapse_floor(2.0, 1.0), r"p=2.0 is not allowed"),
])
def test_settings_outside_a_formulas_validity_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_formulas_at_the_edges_of_their_validity():
    """The smallest sizes each formula allows, and integer arrays of sizes."""
    assert tg.ratio_moments(2)["mean"] == 1.0 and tg.ratio_moments(2, "mle")["mean"] == 0.5
    assert np.isfinite(tg.expected_log_det(0, 4, 0.0, 3))
    np.testing.assert_allclose(tc.wright_fisher(0.25, 1, 0), [[0.75, 0.25]])
    assert tl.one_fit_error(4, 2, 1.0) == pytest.approx(2.0)
    np.testing.assert_allclose(tl.one_fit_error(np.array([4, 7]), 2, 1.0), [2.0, 0.5])
    np.testing.assert_allclose(tl.one_fit_error(np.array([4.0, 7.0]), 2, 1.0), [2.0, 0.5])
    np.testing.assert_allclose(tl.replace_error(np.array([0, 2]), 7, 2, 1.0), [0.5, 1.5])
    assert tl.one_fit_error(10, 2, 0.0) == 0.0
    assert tl.strong_collapse_floor(1.0, 0.0) == 0.0 and tl.strong_collapse_floor(0.0, 2.0) == 0.0
    assert tl.strong_collapse_bias(10, 0.0, 2) == 0.0
    # every label synthetic: A^-1 X^T X Delta = Delta exactly, so B = 1
    assert tl.strong_collapse_bias(10, 1.0, 2) == pytest.approx(1.0)
    # a component too light to draw d + 1 points is treated as drawing d + 1
    assert tgmm.expected_log_std(1, 100, 0.01, 2) == pytest.approx(tgmm.log_det_step_mean(3, 2) / 4)


def test_gaussian_formulas_default_to_the_unbiased_estimator_and_unit_variance():
    g = np.arange(4)
    for f in (tg.expected_variance, tg.variance_of_variance, tg.expected_log_variance, tg.expected_std,
              tg.mean_drift, tg.sample_variance_of_generation, tg.expected_w2_squared):
        np.testing.assert_array_equal(f(g, 9), f(g, 9, 1.0, "unbiased"))
    np.testing.assert_array_equal(tg.expected_log_det(g, 9, 0.0, 2), tg.expected_log_det(g, 9, 0.0, 2, "unbiased"))
    assert tg.ratio_moments(9) == tg.ratio_moments(9, "unbiased")


def test_zipf_formulas_take_integers_and_certain_outcomes_quietly():
    """An outcome of probability 1 is seen by every sample (no log-of-zero warning), and
    integer ranks and exponents are numbers like any other."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(tz.memoriser_error([0.0, 1.0], [0.0, 1.0], [0, 1, 5]), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(tz.plateau_asymptotic(np.array([10, 100]), 2), [0.1, 0.01] / zeta(2.0))


def test_regression_formulas_default_to_unit_noise_and_refuse_a_negative_quality():
    g = np.arange(3)
    assert tl.one_fit_error(10, 2) == tl.one_fit_error(10, 2, 1.0) == pytest.approx(2 / 7)
    for f in (tl.replace_error, tl.accumulate_error, tl.accumulate_error_fixed_design):
        np.testing.assert_array_equal(f(g, 10, 2), f(g, 10, 2, 1.0))
    assert tl.accumulate_bound(10, 2) == tl.accumulate_bound(10, 2, 1.0)
    assert tl.strong_collapse_error(20, 0.3, 2.0, 2) == tl.strong_collapse_error(20, 0.3, 2.0, 2, 1.0)
    assert tl.strong_collapse_asymptotic(20, 0.3, 2.0, 2) == tl.strong_collapse_asymptotic(20, 0.3, 2.0, 2, 1.0)
    with pytest.raises(ValueError, match=r"c2=-1.0 is not allowed"):
        tl.strong_collapse_floor(0.5, -1.0)
