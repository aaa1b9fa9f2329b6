"""Chapter 6 (larger models): random-projection regression with mixed labels, its
formulas, the width sweep of two-layer networks, the experiment's config and checks.

Tolerances of theory-vs-simulation tests are k = 4 standard errors of the mean over the
simulated seeds (a false alarm has probability below 1e-4 for each)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from collapse_lib import protocol
from collapse_lib.experiments import larger, larger_claims, larger_nets, larger_sweep
from collapse_lib.families.mlp_width import WidthSweepMLP
from collapse_lib.families.random_features import (Problems, RandomFeatureRidge, draw_problems, min_norm_limit,
                                                    power_law_spectrum)
from collapse_lib.protocol import Run
from collapse_lib.theory import random_features as theory
from fp_bounds import reordered_sum_bound

K_SE = 4.0
NO_STORE = Run(store=False)  # nothing written to the cache
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def within_se(diff: np.ndarray) -> tuple[float, float]:
    """Mean of per-seed differences and its standard error."""
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


# ------------------------------------------------------------------ the batched fit
@pytest.mark.parametrize("ridge", [0.0, 0.05])
def test_batched_fit_equals_per_seed_lstsq(ridge):
    P = draw_problems(seeds=4, n=20, d=50, m_max=60, spectrum=1.0, seed=3)
    y = P.labels(0.3, 0.5)
    widths = [3, 10, 19, 21, 35, 60]
    est = RandomFeatureRidge(widths, ridge).fit(P.X, y, P.S)
    for b in range(4):
        for k, m in enumerate(widths):
            Z = P.X[b] @ P.S[b, :m].T
            if ridge == 0:
                v = np.linalg.lstsq(Z, y[b], rcond=None)[0]  # minimum-norm least squares
            else:  # (1/n)|Zv - y|^2 + ridge |v|^2 as one least-squares problem
                A = np.vstack([Z, np.sqrt(ridge * 20) * np.eye(m)])
                v = np.linalg.lstsq(A, np.concatenate([y[b], np.zeros(m)]), rcond=None)[0]
            np.testing.assert_allclose(est.weights_[k][b], v, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(est.coef_[b, k], P.S[b, :m].T @ v, rtol=1e-6, atol=1e-8)


def test_several_label_sets_fit_like_one_each():
    P = draw_problems(seeds=3, n=15, d=40, m_max=30, spectrum=0.5, seed=1)
    Y = np.stack([P.labels(0, 0), P.labels(0.5, 1.0)], 1)
    both = RandomFeatureRidge([5, 30], 0.0).fit(P.X, Y, P.S)
    for l in range(2):
        one = RandomFeatureRidge([5, 30], 0.0).fit(P.X, Y[:, l], P.S)
        np.testing.assert_allclose(both.coef_[:, l], one.coef_, rtol=1e-8, atol=1e-10)
    assert both.predict(P.X).shape == (3, 2, 2, 15)


def test_problems_are_drawn_per_seed_so_chunks_agree():
    full = draw_problems(seeds=5, n=6, d=8, m_max=4, seed=2)
    part = draw_problems(seeds=2, n=6, d=8, m_max=4, seed=2, first=3)
    for name in ("X", "noise", "w", "u", "S"):
        np.testing.assert_array_equal(getattr(full, name)[3:5], getattr(part, name))
    lam = full.spectrum
    np.testing.assert_allclose(np.einsum("bd,d->b", full.w**2, lam), 1.0)  # signal variance
    np.testing.assert_allclose(np.einsum("bd,d->b", full.u**2, lam), 1.0)  # unit shift
    np.testing.assert_allclose(power_law_spectrum(8, 1.0).mean(), 1.0)


def test_labels_shift_exactly_the_synthetic_rows():
    P = draw_problems(seeds=2, n=10, d=5, m_max=3, seed=0)
    real, mixed = P.labels(0, 0), P.labels(0.3, 4.0)
    np.testing.assert_allclose(mixed[:, 3:], real[:, 3:])
    np.testing.assert_allclose(mixed[:, :3] - real[:, :3], 2.0 * np.einsum("bnd,bd->bn", P.X[:, :3], P.u))


# ------------------------------------------------------------------ theory vs simulation
@pytest.mark.parametrize("m", [6, 20, 30])
def test_real_labels_under_parameterised_error_is_the_exact_formula(m):
    """p = 0, m <= n - 2: E[error | S, w] = res + (sigma^2 + res) m/(n - m - 1)."""
    n, d, noise = 40, 80, 0.2
    P = draw_problems(seeds=600, n=n, d=d, m_max=m, spectrum=1.0, noise=noise, seed=11)
    err = P.test_error(RandomFeatureRidge([m]).fit(P.X, P.labels(0, 0), P.S).coef_[:, 0])
    res = theory.residual_variance(P.S, P.w, P.spectrum)
    mean, se = within_se(err - theory.under_error_real(m, n, noise, res))
    assert abs(mean) < K_SE * se, (mean, se)


@pytest.mark.parametrize("m, p, c2", [(6, 0.5, 1.0), (25, 0.2, 2.0), (30, 0.5, 0.5)])
def test_mixed_labels_under_parameterised_error_is_the_exact_formula(m, p, c2):
    """p > 0, m <= n - 2: the matrix-beta formula, given S, w and delta."""
    n, d, noise = 40, 80, 0.2
    P = draw_problems(seeds=600, n=n, d=d, m_max=m, spectrum=1.0, noise=noise, seed=12)
    err = P.test_error(RandomFeatureRidge([m]).fit(P.X, P.labels(p, c2), P.S).coef_[:, 0])
    R = theory.residual_form(P.S, np.stack([P.w, P.u], 1), P.spectrum)
    res_w, res_u, cross = R[:, 0, 0], R[:, 1, 1], R[:, 0, 1]
    expected = theory.under_error_mixed(m, n, noise, p, c2, res_w, c2 * res_u,
                                        res_w + c2 * res_u + 2 * np.sqrt(c2) * cross)
    mean, se = within_se(err - expected)
    assert abs(mean) < K_SE * se, (mean, se)
    assert expected.mean() > theory.under_error_real(m, n, noise, res_w).mean()  # synthetic labels cost


def test_isotropic_residual_has_mean_one_minus_m_over_d():
    """For Sigma = I, res(w) = |w|^2 (1 - m/d) on average over random projections."""
    P = draw_problems(seeds=400, n=1, d=30, m_max=12, spectrum=0.0, seed=5)
    mean, se = within_se(theory.residual_variance(P.S, P.w, P.spectrum) - (1 - 12 / 30))
    assert abs(mean) < K_SE * se


def test_wide_limit_matches_the_isotropic_closed_form():
    """m -> infinity: minimum-norm least squares in x, E = (1 - n/d) + sigma^2 n/(d - n - 1)."""
    n, d, noise = 20, 50, 0.3
    P = draw_problems(seeds=1500, n=n, d=d, m_max=1, spectrum=0.0, noise=noise, seed=4)
    err = P.test_error(min_norm_limit(P.X, P.labels(0, 0)))
    mean, se = within_se(err - theory.wide_limit_isotropic(n, d, noise))
    assert abs(mean) < K_SE * se, (mean, se)


def test_very_wide_models_approach_the_min_norm_limit():
    """(d/m) S^T S -> I (entries N(0, 1/d)), so width m >> d gives the minimum-norm fit in x (deterministically)."""
    P = draw_problems(seeds=3, n=10, d=20, m_max=4000, spectrum=1.0, seed=6)
    y = P.labels(0.5, 1.0)
    limit = min_norm_limit(P.X, y)
    coef = RandomFeatureRidge([200, 4000]).fit(P.X, y, P.S).coef_
    gap = np.linalg.norm(coef - limit[:, None], axis=-1) / np.linalg.norm(limit, axis=-1)[:, None]
    assert np.all(gap[:, 1] < gap[:, 0]) and np.all(gap[:, 1] < 0.1), gap


def test_peak_at_the_interpolation_threshold():
    n = 40
    P = draw_problems(seeds=150, n=n, d=120, m_max=4 * n, spectrum=1.0, seed=8)
    widths = [n // 2, n - 2, n + 2, 4 * n]
    err = P.test_error(RandomFeatureRidge(widths).fit(P.X, P.labels(0, 0), P.S).coef_).mean(0)
    assert err[1] > 3 * max(err[0], err[3]) and err[2] > 3 * max(err[0], err[3]), err


def test_synthetic_labels_cost_at_every_width():
    """The floor: with p > 0 the mean excess over real-only error is positive at every
    width, below, near and far above the threshold (paired seeds)."""
    n = 40
    P = draw_problems(seeds=200, n=n, d=120, m_max=10 * n, spectrum=1.0, seed=9)
    widths = [4, n // 2, n + 4, 3 * n, 10 * n]
    Y = np.stack([P.labels(0, 0), P.labels(0.5, 1.0)], 1)
    err = P.test_error(RandomFeatureRidge(widths).fit(P.X, Y, P.S).coef_)
    excess = err[:, 1] - err[:, 0]
    se = excess.std(0, ddof=1) / np.sqrt(len(excess))
    assert np.all(excess.mean(0) > K_SE * se), (excess.mean(0), se)
    # below the threshold the cost grows with width (amplification), above it shrinks
    m = excess.mean(0)
    assert m[0] < m[1] < m[2] and m[2] > m[3] > m[4], m


def test_mixed_formula_reduces_to_the_exact_one_at_p_zero():
    res_w = np.array([0.3, 0.5])
    np.testing.assert_allclose(theory.under_error_mixed(10, 50, 0.1, 0.0, 2.0, res_w, [0.1, 0.2], [0.4, 0.9]),
                               theory.under_error_real(10, 50, 0.1, res_w))
    assert theory.floor(0.1, 2.0) == pytest.approx(0.02)
    assert theory.variance_factor(10, 50) == pytest.approx(10 / 39)


@pytest.mark.parametrize("d", [3, 7])
def test_wide_limit_with_one_point_is_the_direct_computation(d):
    """n = 1, the smallest allowed d = n + 2 = 3 and one more: one input x ~ N(0, I_d)
    spans a random line, so the minimum-norm fit keeps the part of w on it, E|P w|^2 =
    |w|^2 / d, and its noise term is sigma^2 / |x|^2 with |x|^2 ~ chi^2_d, of mean
    1/(d - 2). Together E = signal (1 - 1/d) + sigma^2 / (d - 2), computed here without
    the inverse-Wishart mean that the formula uses for n > 1."""
    signal, noise = 2.0, 0.3
    assert theory.wide_limit_isotropic(1, d, noise, signal) == pytest.approx(signal * (1 - 1 / d) + noise / (d - 2))


def test_formulas_accept_their_boundary_sizes():
    """m = n - 2 is the widest model below the threshold with a finite error: m/(n - m - 1) = m."""
    assert theory.variance_factor(48, 50) == pytest.approx(48.0)
    assert theory.under_error_real(1, 3, 0.5, 0.25) == pytest.approx(0.25 + 0.75 * 1.0)


@pytest.mark.parametrize("call, message", [
    (lambda: theory.variance_factor(49, 50),
     "m=49 is not allowed: the under-parameterised formula needs m <= n - 2 = 48"),
    (lambda: theory.wide_limit_isotropic(50, 51, 0.1), "d=51 is not allowed: the formula needs d >= n + 2 = 52"),
])
def test_size_errors_state_the_largest_or_smallest_allowed_value(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


# ------------------------------------------------------------------ the family's pieces
def test_every_width_side_of_n_and_d_fits_like_lstsq():
    """Widths equal to n (the last width solved in weight space) and equal to d, with
    d < n and d = n (where the minimum-norm fit above d is still defined), give the
    least-squares fit of their own features."""
    for n, d, widths, ridge in ((6, 4, [2, 4], 0.0), (6, 6, [3, 6, 9], 0.0), (6, 10, [2, 6, 8, 10], 0.0),
                                (6, 4, [2, 4, 6, 9], 0.1)):
        P = draw_problems(seeds=2, n=n, d=d, m_max=max(widths), spectrum=1.0, seed=13)
        y = P.labels(0.5, 1.0)
        est = RandomFeatureRidge(widths, ridge).fit(P.X, y, P.S)
        for b in range(2):
            for k, m in enumerate(widths):
                Z = P.X[b] @ P.S[b, :m].T
                A = np.vstack([Z, np.sqrt(ridge * n) * np.eye(m)]) if ridge else Z
                v = np.linalg.lstsq(A, np.concatenate([y[b], np.zeros(m)]) if ridge else y[b], rcond=None)[0]
                np.testing.assert_allclose(est.weights_[k][b], v, rtol=1e-6, atol=1e-8)
                np.testing.assert_allclose(est.coef_[b, k], P.S[b, :m].T @ v, rtol=1e-6, atol=1e-8)


def test_several_label_sets_keep_each_sets_last_layer():
    P = draw_problems(seeds=2, n=8, d=12, m_max=16, spectrum=0.5, seed=14)
    Y = np.stack([P.labels(0, 0), P.labels(0.5, 2.0)], 1)
    both = RandomFeatureRidge([4, 16]).fit(P.X, Y, P.S)
    for l in range(2):
        one = RandomFeatureRidge([4, 16]).fit(P.X, Y[:, l], P.S)
        for k in range(2):
            np.testing.assert_allclose(both.weights_[k][:, l], one.weights_[k], rtol=1e-8, atol=1e-10)


def test_min_norm_limit_at_d_equal_n_interpolates():
    """d = n: the square system X beta = y has the one solution X^-1 y."""
    P = draw_problems(seeds=2, n=5, d=5, m_max=1, seed=15)
    y = P.labels(0, 0)
    np.testing.assert_allclose(min_norm_limit(P.X, y), np.linalg.solve(P.X, y[..., None])[..., 0], rtol=1e-8)


def test_problems_have_the_documented_laws_and_defaults():
    """Label noise i.i.d. of variance `noise`, projections i.i.d. N(0, 1/d). The sample
    variance of N i.i.d. Gaussians of variance v has standard error v sqrt(2/(N - 1)),
    hence the Z = 4 bands. Without settings: Sigma = I, noise 0.1, seed 0."""
    n, d, m_max, noise = 4000, 50, 40, 0.5
    P = draw_problems(seeds=2, n=n, d=d, m_max=m_max, noise=noise, seed=16)
    assert np.all(np.abs(P.noise.var(1, ddof=1) - noise) < K_SE * noise * np.sqrt(2 / (n - 1)))
    N = m_max * d
    s_var = P.S.reshape(2, -1).var(1, ddof=1)
    assert np.all(np.abs(s_var - 1 / d) < K_SE * np.sqrt(2 / (N - 1)) / d), s_var
    plain = draw_problems(seeds=2, n=5, d=3, m_max=2)
    named = draw_problems(seeds=2, n=5, d=3, m_max=2, spectrum=0.0, noise=0.1, signal=1.0, seed=0, first=0)
    for name in ("X", "noise", "w", "u", "S", "spectrum"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(named, name))
    np.testing.assert_array_equal(plain.spectrum, np.ones(3))
    np.testing.assert_array_equal(power_law_spectrum(1, 2.0), [1.0])


def test_fit_runs_under_its_blas_thread_limit(monkeypatch):
    """`threads` (default 1) is the BLAS thread count during the fit, whatever the
    global setting; None leaves the global one."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not threadpoolctl.threadpool_info():
        pytest.skip("no BLAS library that threadpoolctl controls")
    seen = []
    original = RandomFeatureRidge._fit

    def spy(self, *args):
        seen.append(max(i["num_threads"] for i in threadpoolctl.threadpool_info()))
        return original(self, *args)

    monkeypatch.setattr(RandomFeatureRidge, "_fit", spy)
    X, y, S = _tiny()
    with threadpoolctl.threadpool_limits(2):
        for threads in (1, 2):
            RandomFeatureRidge([2], threads=threads).fit(X, y, S)
        RandomFeatureRidge([2]).fit(X, y, S)
        RandomFeatureRidge([2], threads=None).fit(X, y, S)
    assert seen == [1, 2, 1, 2]


@pytest.mark.parametrize("call, message", [
    (lambda: RandomFeatureRidge([]).fit(*_tiny()), "widths=[] is not allowed: it must be a non-empty sequence of integers >= 1"),
    (lambda: RandomFeatureRidge([3, 3]).fit(*_tiny()), "widths=[3, 3] is not allowed: it must be strictly increasing"),
    (lambda: RandomFeatureRidge([3, 7]).fit(*_tiny()),
     "widths=[3, 7] is not allowed: the largest width must be <= the 6 rows of S"),
    (lambda: RandomFeatureRidge([2, 6]).fit(*_tiny(n=7, d=5)),
     "ridge=0.0 is not allowed: minimum-norm fits of widths above d=5 need d >= n=7; use ridge > 0"),
    (lambda: min_norm_limit(*_tiny(n=7, d=5)[:2]), "d=5 is not allowed: the minimum-norm interpolator needs d >= n=7"),
])
def test_family_errors_say_what_is_allowed(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_smallest_and_consecutive_widths_are_allowed():
    X, y, S = _tiny()
    assert RandomFeatureRidge([1, 2, 3]).fit(X, y, S).coef_.shape == (1, 3, 8)


# ------------------------------------------------------------------ bad settings
@pytest.mark.parametrize("call, name", [
    (lambda: RandomFeatureRidge([]).fit(*_tiny()), "widths"),
    (lambda: RandomFeatureRidge([0, 3]).fit(*_tiny()), "widths"),
    (lambda: RandomFeatureRidge([-2]).fit(*_tiny()), "widths"),
    (lambda: RandomFeatureRidge([3, 2]).fit(*_tiny()), "widths"),
    (lambda: RandomFeatureRidge([3], ridge=-1).fit(*_tiny()), "ridge"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2).labels(1.5, 1.0), "p"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2).labels(-0.1, 1.0), "p"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2).labels(0.5, -1.0), "c2"),
    (lambda: draw_problems(seeds=0, n=3, d=4, m_max=2), "seeds"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=0), "m_max"),
    (lambda: draw_problems(seeds=1, n=0, d=4, m_max=2), "n"),
    (lambda: draw_problems(seeds=1, n=3, d=0, m_max=2), "d"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2, first=-1), "first"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2, noise=-0.1), "noise"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2, signal=0.0), "signal"),
    (lambda: draw_problems(seeds=1, n=3, d=4, m_max=2, spectrum=-1.0), "spectrum"),
    (lambda: RandomFeatureRidge([2], threads=0).fit(*_tiny()), "threads"),
    (lambda: theory.variance_factor(49, 50), "m"),
    (lambda: theory.variance_factor(0, 50), "m"),
    (lambda: theory.wide_limit_isotropic(50, 51, 0.1), "d"),
    (lambda: theory.variance_factor(3, 0), "n"),
    (lambda: theory.wide_limit_isotropic(0, 5, 0.1), "n"),
    (lambda: theory.wide_limit_isotropic(5, 0, 0.1), "d"),
    (lambda: theory.under_error_mixed(10, 50, 0.1, 1.5, 1.0, 0.3, 0.1, 0.4), "p"),
    (lambda: larger.Config(fractions=(0.1, 1.2)), "fractions"),
    (lambda: larger.Config(fractions=()), "fractions"),
    (lambda: larger.Config(net_fractions=(-0.1,)), "net_fractions"),
    (lambda: larger.Config(widths=()), "widths"),
    (lambda: larger.Config(widths=(0, 8)), "widths"),
    (lambda: larger.Config(ratios=()), "ratios"),
    (lambda: larger.Config(ratios=(-1.0, 2.0)), "ratios"),
    (lambda: larger.Config(n=0), "n"),
    (lambda: larger.Config(qualities=(-0.5,)), "qualities"),
    (lambda: larger.Config(n=100, d=50, ratios=(0.5, 2.0)), "d"),
    (lambda: larger.Config(dataset="cifar"), "dataset"),
    (lambda: WidthSweepMLP([]).fit(np.zeros((4, 2)), np.zeros((1, 4), int)), "widths"),
    (lambda: WidthSweepMLP([4], steps=0).fit(np.zeros((4, 2)), np.zeros((1, 4), int)), "steps"),
])
def test_bad_settings_raise_value_errors_that_name_them(call, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        call()


def _tiny(n=5, d=8):
    P = draw_problems(seeds=1, n=n, d=d, m_max=6, seed=0)
    return P.X, P.labels(0, 0), P.S


# ------------------------------------------------------------------ networks of many widths
def test_width_sweep_blocks_are_separate_networks():
    import torch

    rng = np.random.default_rng(0)
    X = rng.random((30, 6))
    y = rng.integers(0, 3, (2, 30))
    net = WidthSweepMLP([2, 5], classes=3, steps=3, seed=1, device="cpu").fit(X, y)
    x = torch.as_tensor(X, dtype=torch.float32)
    logits = net._logits(x.expand(2, -1, -1))
    for b in range(2):  # width 5 is units 2..6 and its own output layer
        W1, b1, W2, b2 = net.W1_[b, :, 2:7], net.b1_[b, 2:7], net.W2_[b, 2:7], net.b2_[b, 1]
        h = torch.relu(x @ W1 + b1)
        # batched against one block's products, in float32: a hidden unit sums 6 inputs and
        # its bias, a logit 5 units and its bias, in any order (fp_bounds.reordered_sum_bound
        # times sum|terms|); the ReLU passes a hidden unit's error on at most unchanged
        dh = reordered_sum_bound(6 + 1, torch.float32) * (x.abs() @ W1.abs() + b1.abs())
        bound = dh @ W2.abs() + reordered_sum_bound(5 + 1, torch.float32) * ((h.abs() + dh) @ W2.abs() + b2.abs())
        assert ((logits[b, 1] - (h @ W2 + b2)).abs() <= bound).all()
    before = logits[:, 0].clone()
    net.W1_[:, :, 2:] += 1.0  # changing the width-5 block leaves the width-2 network alone
    assert torch.equal(net._logits(x.expand(2, -1, -1))[:, 0], before)


def test_wide_networks_fit_their_training_labels():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    y = rng.integers(0, 4, (1, 40))  # random labels: only memorisation fits them
    net = WidthSweepMLP([2, 256], classes=4, steps=300, lr=2e-2, seed=0, device="cpu").fit(X, y)
    assert net.train_accuracy_[0, 1] == 1.0 and net.train_accuracy_[0, 0] < 1.0


# ------------------------------------------------------------------ the experiment
def _small_config(**kw):
    base = dict(n=20, d=40, ratios=(0.5, 2.0), fractions=(0.5,), qualities=(1.0,), seeds=6, chunk=4,
                theory_seeds=3, dataset="digits", widths=(4, 16), net_fractions=(0.0, 1.0), net_seeds=2,
                net_train=120, teacher_train=40, teacher_width=8, steps=15,
                samples=larger.SamplesConfig(sizes=(30, 60, 120), widths=(4, 16), seeds=2, epochs=1, min_steps=5,
                                             batch=32),
                language_models=larger.NO_LANGUAGE_MODELS)
    base.update(kw)
    return larger.Config(**base)


def test_run_projections_shapes_and_chunking():
    cfg = _small_config()
    out = larger.run(cfg, NO_STORE)
    res = out.projections
    assert res.errors.shape == (6, 2, 2) and res.limit.shape == (6, 2)
    assert out.networks.errors.shape == (2, 2, 2) and out.language_models is None
    np.testing.assert_array_equal(res.widths, [10, 40])
    one = larger.run_projections(_small_config(chunk=6), NO_STORE)
    np.testing.assert_allclose(one.errors, res.errors, rtol=1e-10)
    s = larger.summary(out)["random_projections"]
    assert s["label_sets"][1]["floor_p2c2"] == pytest.approx(0.25)
    four = larger.run_projections(_small_config(ratios=(0.25, 0.5, 2.0, 4.0)), NO_STORE)
    np.testing.assert_array_equal(four.below, [0, 1])
    np.testing.assert_array_equal(four.above, [2, 3])
    lim, lim_se = four.limit_cost
    np.testing.assert_allclose(lim, (four.limit - four.limit[:, :1]).mean(0))
    assert lim[0] == 0 and np.all(lim_se[1:] > 0)
    assert np.all(res.theory_widths <= cfg.n - 2)


def test_an_interrupted_sweep_resumes_from_its_stored_chunks(tmp_path):
    cfg, run = _small_config(), Run(root=tmp_path)
    full = larger.run_projections(cfg, run)
    assert full.loaded_chunks == 0
    store = protocol.store(cfg, "projections", run, version=larger.STORE_FORMAT)
    store.path(1).unlink()  # as if the run had stopped while computing the second chunk
    again = larger.run_projections(cfg, run)
    assert again.loaded_chunks == 1
    np.testing.assert_array_equal(again.errors, full.errors)
    assert larger.run_projections(cfg, run).loaded_chunks == 2
    # how a run is carried out is not part of its identity: another thread count resumes the same store
    assert larger.run_projections(cfg, Run(root=tmp_path, threads=2)).loaded_chunks == 2
    np.testing.assert_array_equal(larger.run_projections(_small_config(), NO_STORE).errors, full.errors)


def test_run_networks_uses_teacher_labels():
    from collapse_lib.data.images import load_digits

    cfg = _small_config()
    res = larger.run_networks(cfg, NO_STORE, load_digits())
    assert res.errors.shape == (2, 2, 2)
    # error rates on the real test images: whole counts of misclassified images out of n_test
    n_test = len(load_digits().test_images)
    np.testing.assert_allclose(res.errors * n_test, np.round(res.errors * n_test), atol=1e-6)
    assert 0 < res.teacher_error < 0.9 and 0 < res.disagreement < 0.9
    s = larger.summary(larger.Result(cfg, larger.run_projections(cfg, NO_STORE), res))["networks"]
    assert len(s["test_error_mean"]) == 2


def test_stored_networks_are_loaded_not_retrained(tmp_path, monkeypatch):
    from collapse_lib.data.images import load_digits

    cfg, data, run = _small_config(net_seeds=1), load_digits(), Run(root=tmp_path)
    first = larger.run_networks(cfg, run, data)

    def no_training(*args, **kwargs):
        raise AssertionError("a stored run must not train again")

    monkeypatch.setattr(larger.WidthSweepMLP, "fit", no_training)
    second = larger.run_networks(cfg, run, data)
    np.testing.assert_array_equal(second.errors, first.errors)
    assert second.teacher_error == first.teacher_error


def test_profiles_and_cli_registration():
    from collapse_lib.cli import EXPERIMENTS
    from collapse_lib.plots.larger import FIGURES

    assert EXPERIMENTS["larger"] == "collapse_lib.experiments.larger" and larger.RESUMABLE
    assert list(FIGURES) == ["double_descent", "synthetic_excess", "pareto", "floor_in_n", "network_widths",
                             "sample_scaling", "language_model_scaling", "language_model_sizes"]
    q = protocol.load("larger", "quick")
    assert q.dataset == "mnist5k" and q.d >= q.n
    assert protocol.load("larger", "gpu").n == larger.PAPER["pareto_n"]
    assert all(not np.isclose(r, 1.0) for r in q.ratios)
    assert protocol.load("larger", "gpu").language_models.run and q.language_models.run
    assert q.language_models.text == "stdlib"  # offline text: quick and cpu download nothing
    # the language-model sweep is one nested config, set field by field
    lm = protocol.load("larger", "gpu", {"language_models.tokens": "32768", "language_models.sizes": "[[1, 16]]"})
    assert lm.language_models.tokens == 32768 and lm.language_models.sizes == ((1, 16),)
    # the paper's shares: at least {0, 0.1, 0.5, 1} and three sizes in every profile that runs them
    for name in ("quick", "cpu", "gpu"):
        c = protocol.load("larger", name).language_models
        assert {0.0, 0.1, 0.5, 1.0} <= set(c.fractions) and len(c.sizes) >= 3


def test_cpu_profile_has_the_papers_n_and_trains_on_the_offline_mnist_digits():
    cpu = protocol.load("larger", "cpu")
    assert cpu.n == larger.PAPER["pareto_n"] and cpu.d >= cpu.n and cpu.dataset == "mnist5k"
    assert min(cpu.ratios) < 1 < max(cpu.ratios) and all(not np.isclose(r, 1.0) for r in cpu.ratios)
    assert cpu.teacher_train + cpu.net_train <= 4000  # mnist5k: 4,000 training digits
    assert cpu.teacher_train + max(cpu.samples.sizes) <= 4000 and 0.01 in cpu.samples.fractions
    assert cpu.language_models.run and cpu.language_models.text == "stdlib"
    with pytest.raises(ValueError, match="dataset"):
        protocol.load("larger", "cpu", {"dataset": "cifar"})


def test_cpu_code_path_at_toy_size_gives_every_claim(monkeypatch):
    """The cpu config's functions (projections, theory, networks on mnist5k, claims,
    summaries) with small overrides."""
    from collapse_lib.data.images import load_mnist5k

    cfg = protocol.load("larger", "cpu", dict(n=20, d=40, ratios=(0.3, 0.8, 1.5, 3.0), seeds=6, chunk=3,
                                              theory_seeds=3, widths=(2, 24), net_seeds=1, net_train=200,
                                              teacher_train=50, steps=20))
    proj = larger.run_projections(cfg, NO_STORE)
    assert proj.theory_stderr.shape == proj.theory.shape and np.all(np.isfinite(proj.theory_stderr))
    nets = larger.run_networks(cfg, NO_STORE, load_mnist5k())
    assert nets.pixels == 784 and nets.test_images == 1000 and nets.train_images == 200
    np.testing.assert_array_equal(nets.parameters, 795 * nets.widths + 10)
    assert nets.parameters[0] < 10 * nets.train_images < nets.parameters[-1]
    floor = larger.run_floor(cfg, larger.theory_forms(cfg, larger.floor_widths(cfg)), NO_STORE)
    res = larger.Result(cfg, proj, nets, floor=floor)
    out = larger.claims(res)
    assert all(c.evidence for c in out.values())
    projection_keys = ["formula_agrees", "cost_split_agrees", "amplified_below", "smallest_width_split",
                       "softened_above", "largest_near_threshold", "cost_at_n_positive", "finite_n_above_floor",
                       "wide_pays_more", "wide_real_close_to_best"]
    assert list(out) == projection_keys + ["regime_small_psi", "floor_sim_agrees", "floor_is_bias",
                                           "narrow_floor_lower", "widest_fit_every_label", "narrowest_do_not",
                                           "narrowest_noisy", "teacher_share_raises_error", "width_cost_flat"]
    s = larger.summary(res)
    assert "language_models" not in s and "floor" in s
    assert s["random_projections"]["claims"] == [out[k].as_dict() for k in projection_keys]
    assert s["networks"]["fit_width"] in (None, *nets.widths.tolist())
    assert s["paper"]["claims"] == list(larger.PAPER["claims"])
    table = dict((a, b) for a, b, _ in larger.comparison_rows(res))
    assert table["random projections: training points n"].startswith("500")  # read in Fig. 1's caption
    assert "not checked here" in table["input dimension d"] and "not checked here" in table["networks: data"]


def test_nested_residual_forms_equal_one_form_per_width():
    P = draw_problems(seeds=2, n=1, d=30, m_max=12, spectrum=1.0, seed=2)
    V = np.stack([P.w, P.u], 1)
    nested = theory.residual_forms_nested(P.S, V, P.spectrum, [3, 12])
    for k, m in enumerate([3, 12]):
        np.testing.assert_allclose(nested[k], theory.residual_form(P.S[:, :m], V, P.spectrum), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ exercise checks
def test_exercise_checks_accept_right_and_reject_wrong_answers():
    from collapse_lib.exercises import (AnswerError, check_random_feature_fit, check_synthetic_floor,
                                        check_variance_factor)

    assert check_variance_factor(50 / 49, m=50, n=100)
    assert check_variance_factor(1.02, m=50, n=100, first_above_one=50)  # three significant figures, as asked
    with pytest.raises(AnswerError, match="variance factor"):
        check_variance_factor(50 / 50, m=50, n=100)
    with pytest.raises(AnswerError, match="variance factor"):
        check_variance_factor(1.01, m=50, n=100)  # off in the third figure
    with pytest.raises(AnswerError, match="first_width"):
        check_variance_factor(50 / 49, m=50, n=100, first_above_one=49)  # 49/50 < 1
    with pytest.raises(AnswerError, match="no answer yet"):
        check_variance_factor(..., m=50, n=100)
    with pytest.raises(AnswerError, match="no answer yet"):
        check_variance_factor(50 / 49, m=50, n=100, first_above_one=...)
    assert check_variance_factor(3 / 4, m=3, n=8, first_above_one=4)  # 4/3 > 1 > 3/4
    assert check_synthetic_floor(0.01 * 1.0, p=0.1, c2=1.0)
    with pytest.raises(AnswerError, match="floor"):
        check_synthetic_floor(0.1, p=0.1, c2=1.0)
    with pytest.raises(AnswerError, match="no answer yet"):
        check_synthetic_floor(..., p=0.1, c2=1.0)
    P = draw_problems(seeds=1, n=12, d=30, m_max=20, seed=0)
    X, y, S = P.X[0], P.labels(0.5, 1.0)[0], P.S[0]
    for m in (5, 20):
        Z = X @ S[:m].T
        right = S[:m].T @ np.linalg.lstsq(Z, y, rcond=None)[0]
        assert check_random_feature_fit(right, X, y, S, m)
        with pytest.raises(AnswerError, match="relative distance"):
            check_random_feature_fit(S[:m].T @ np.linalg.lstsq(Z, y + 0.1, rcond=None)[0], X, y, S, m)
    with pytest.raises(AnswerError, match="shape"):
        check_random_feature_fit(np.zeros(5), X, y, S, 5)


def _sample_result(sizes, fractions, errors, test_images=1000):
    """A SampleResult whose networks misclassify the first round(error x T) of T test images
    (so a larger error's mistakes include a smaller one's: the paired gaps are exact)."""
    k = np.round(errors * test_images).astype(int)
    wrong = (np.arange(test_images) < k[..., None]).astype(np.uint8)
    return larger.SampleResult("toy", sizes, fractions, np.array([64]), wrong.mean(-1), np.ones_like(errors), 0.2, 0.2,
                               784, test_images, test_wrong=wrong)


def test_first_bend_check_accepts_the_share_that_leaves_first():
    from collapse_lib.exercises import AnswerError, check_first_bend

    sizes = np.array([100, 300, 1000, 3000])
    # 3 seeds x shares (0, 0.01, 0.1, 0.5) x 1 width x 4 sizes; the 0.5 curve is far above from n = 300 on,
    # the 0.1 one from n = 3000 on, the 0.01 one never (test-set binomial error about 0.01 at these rates)
    base = np.array([0.30, 0.20, 0.15, 0.10])
    shift = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0.1], [0, 0.2, 0.2, 0.2]])
    errors = np.broadcast_to((base + shift)[None, :, None, :], (3, 4, 1, 4)).copy()
    res = _sample_result(sizes, np.array([0.0, 0.01, 0.1, 0.5]), errors)
    assert check_first_bend(0.5, res)
    for wrong in (0.1, 0.01, None):
        with pytest.raises(AnswerError, match="first_bend"):
            check_first_bend(wrong, res)
    flat = _sample_result(sizes, res.fractions, np.broadcast_to(base[None, None, None, :], (3, 4, 1, 4)).copy())
    assert check_first_bend(None, flat)
    with pytest.raises(AnswerError, match="None"):
        check_first_bend(0.5, flat)


def test_language_models_scale_in_tokens_end_to_end_and_resume(tmp_path):
    """A miniature of the cpu-profile sweep on the offline text (a few seconds): every
    (seed, size, share) gives a curve at the checkpoints, and a rerun loads every run."""
    from collapse_lib.plots.larger import FIGURES

    lm = larger.LanguageModelsConfig(text="stdlib", max_chars=20_000, sizes=((1, 16), (1, 32)), fractions=(0.0, 1.0),
                                     seeds=1, tokens=4096, first=512, checkpoints=4, generator=(1, 16),
                                     generator_epochs=1, test_blocks=16, block_size=16, vocab=300, batch=16, lr=5e-3,
                                     warmup=2)
    cfg, run = _small_config(language_models=lm), Run(root=tmp_path)
    res = larger.run_language_models(cfg, run)
    np.testing.assert_array_equal(res.tokens, lm.steps * lm.batch * lm.block_size)
    assert res.tokens[-1] == lm.tokens and res.tokens[0] == lm.first
    assert res.loss.shape == (1, 2, 2, len(res.tokens)) and res.final_blocks.shape == (1, 2, 2, 16)
    assert res.parameters[1] > res.parameters[0] and res.loaded == 0
    # the last checkpoint is the trained model's loss: the mean of its per-block losses
    np.testing.assert_allclose(res.loss[..., -1], res.final_blocks.mean(-1), rtol=1e-5)
    # an untrained model scores about log(vocab); training must do better than that
    assert np.all(res.loss[..., -1] < np.log(300) - 0.2) and res.generator_loss < np.log(300) - 0.2
    again = larger.run_language_models(cfg, run)
    assert again.loaded == 4
    np.testing.assert_array_equal(again.loss, res.loss)
    out = larger.Result(cfg, larger.run_projections(cfg, NO_STORE), larger.run_networks(cfg, NO_STORE), res)
    s = larger.summary(out)["language_models"]
    assert s["sizes"] == [[1, 16], [1, 32]] and len(s["fits"]) == 2
    assert all(c.evidence for c in larger.claims(out).values())
    assert FIGURES["language_model_scaling"](out) is not None and FIGURES["language_model_sizes"](out) is not None


@pytest.mark.parametrize("kw, name", [(dict(sizes=()), "sizes"), (dict(sizes=((2, 20),)), "sizes"),
                                      (dict(fractions=(0.0, 1.5)), "fractions"), (dict(fractions=(0.5,)), "fractions"),
                                      (dict(text="books"), "text"), (dict(block_size=2), "block_size"),
                                      (dict(first=10**7), "first"), (dict(vocab=100), "vocab")])
def test_bad_language_model_settings(kw, name):
    with pytest.raises(ValueError, match=rf"^language_models\.{name}="):
        larger.LanguageModelsConfig(**kw)


# ------------------------------------------------------------------ scaling laws, mixes, sampling
def test_fit_law_recovers_exact_parameters():
    from collapse_lib.experiments.larger_scaling import ALPHAS, fit_law

    D = np.geomspace(1e3, 1e6, 8)
    alpha = float(ALPHAS[120])  # on the fit's grid: the fit is exact up to rounding
    f = fit_law(D, 2.0 + 50.0 * D ** -alpha)
    assert f.supported and f.alpha == alpha
    # E and A solve a 2 x 2 least-squares problem in float64 on values of order 1-50
    assert f.E == pytest.approx(2.0, rel=1e-9) and f.A == pytest.approx(50.0, rel=1e-9) and f.rms < 1e-9
    np.testing.assert_allclose(f(D), 2.0 + 50.0 * D ** -alpha, rtol=1e-9)
    # between two grid points the exponent is one of its two neighbours on the grid
    between = float(np.sqrt(ALPHAS[80] * ALPHAS[81]))
    g = fit_law(D, 1.0 + 3.0 * D ** -between)
    assert g.supported and g.alpha in (ALPHAS[80], ALPHAS[81])


def test_fit_law_refuses_data_that_do_not_support_a_law():
    from collapse_lib.experiments.larger_scaling import fit_law

    D = np.geomspace(1e3, 1e6, 8)
    assert not fit_law(D, np.full(8, 3.0)).supported  # flat: nothing for A and alpha to fit
    assert not fit_law(D, 1.0 + 1e-3 * D ** 0.5).supported  # rising
    assert not fit_law(D[:3], 1.0 + D[:3] ** -0.5).supported  # three points for three parameters
    assert not fit_law(D, 5.0 - np.log(D)).supported  # straight in log D: alpha runs to the grid's end
    nan = fit_law(D[:3], np.array([1.0, np.nan, 0.5]))
    assert not nan.supported and np.isnan(nan.E)


def test_tokens_to_reach_interpolates_in_log_tokens():
    from collapse_lib.experiments.larger_scaling import tokens_to_reach

    D, L = np.array([10.0, 100.0, 1000.0]), np.array([5.0, 3.0, 2.0])
    assert tokens_to_reach(D, L, 2.5) == pytest.approx(np.sqrt(100 * 1000))
    assert tokens_to_reach(D, L, 6.0) == 10.0 and tokens_to_reach(D, L, 1.0) == np.inf


@pytest.mark.parametrize("p2", [0.0, 0.1, 0.37, 0.5, 1.0])
def test_mixed_stream_holds_the_share_at_every_prefix(p2):
    from collapse_lib.experiments.larger_lm import mixed_stream

    real = np.arange(300)[:, None] * np.ones((1, 4), int)  # row r is block r (real: >= 0)
    synthetic = -1 - real  # synthetic: < 0
    out = mixed_stream(real, synthetic, p2, 200, np.random.default_rng(0))
    syn = out[:, 0] < 0
    # the first i blocks hold floor(i p2) synthetic ones, every i
    np.testing.assert_array_equal(np.cumsum(syn), np.floor(np.arange(1, 201) * p2))
    assert len(np.unique(out[:, 0])) == 200  # no block twice
    assert np.all(out == out[:, :1])  # whole blocks, not mixed tokens
    with pytest.raises(ValueError, match="^language_models.tokens="):
        mixed_stream(real[:10], synthetic, p2 if p2 < 1 else 0.0, 200, np.random.default_rng(0))


def test_sample_blocks_draws_from_the_models_distribution():
    """Temperature 1 and top-p 1: the sampled pairs (t1, t2) after the start token have the
    model's exact joint probability p(t1 | s) p(t2 | s, t1), each within Z = 5 binomial
    standard errors of the number of samples."""
    import torch

    from collapse_lib.lm import TinyGPTConfig, tiny_gpt2
    from collapse_lib.lm.scaling import sample_blocks

    V, n, Z = 5, 4000, 5.0
    model = tiny_gpt2(V, TinyGPTConfig(n_embd=16, n_layer=1, n_head=2, n_positions=8), seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(30.0)  # far from the near-uniform initial distribution
        ids = torch.tensor([[0, t] for t in range(V)])
        probs = torch.softmax(model(input_ids=ids).logits.double(), -1)
    exact = probs[:, 0, :].numpy()[0][:, None] * probs[:, 1, :].numpy()  # (t1, t2)
    assert exact.max() > 3 / V**2  # a distribution a uniform sampler would fail
    out = sample_blocks(model, n, 3, start_token=0, seed=1, batch_size=1000)
    assert out.shape == (n, 3) and np.all(out[:, 0] == 0)
    freq = np.zeros((V, V))
    np.add.at(freq, (out[:, 1], out[:, 2]), 1.0 / n)
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(freq - exact) <= Z * se + 1 / n)
    np.testing.assert_array_equal(sample_blocks(model, 50, 3, start_token=0, seed=1, batch_size=7),
                                  sample_blocks(model, 50, 3, start_token=0, seed=1, batch_size=50))


def test_sample_sweep_resumes_from_the_store(tmp_path):
    from collapse_lib.data.images import load_digits

    cfg, data, run = _small_config(), load_digits(), Run(root=tmp_path)
    full = larger.run_samples(cfg, run, data)
    assert full.errors.shape == (2, 4, 2, 3) and full.loaded == 0
    store = protocol.store(cfg, "samples", run, version=larger_nets.STORE_FORMAT)
    store.path(1).unlink()  # as if the run had stopped while training the second size
    again = larger.run_samples(cfg, run, data)
    assert again.loaded == 2
    np.testing.assert_array_equal(again.errors, full.errors)
    # real-only labels are the true ones: the real-only networks' training labels are the digits' own
    assert np.all(full.errors[:, 0] >= 0) and np.all(full.errors <= 1)
    dep = full.departure(larger_claims.Z_CLAIM)
    assert dep.shape == (4, 2) and np.all(np.isinf(dep[0]))  # real only never leaves itself


# ------------------------------------------------------------------ bias and variance, the floor in n
@pytest.mark.parametrize("m, n, p", [(5, 40, 0.25), (30, 100, 0.1), (10, 13, 0.5)])
def test_cost_split_adds_up_to_the_mixed_minus_the_real_formula(m, n, p):
    rng = np.random.default_rng(m)
    res_w, res_u, cross = rng.random(4), rng.random(4) * 0.5, rng.normal(0, 0.1, 4)
    c2 = 0.7
    res_shift = res_w + c2 * res_u + 2 * np.sqrt(c2) * cross
    split = theory.cost_split(m, n, p, c2, res_w, c2 * res_u, res_shift)
    exact = (theory.under_error_mixed(m, n, 0.1, p, c2, res_w, c2 * res_u, res_shift)
             - theory.under_error_real(m, n, 0.1, res_w))
    np.testing.assert_allclose(split["bias"] + split["variance"] + split["unseen"], exact, rtol=1e-12, atol=1e-15)
    q = round(p * n) / n
    np.testing.assert_allclose(split["bias"], q**2 * (c2 - c2 * res_u), rtol=1e-12)
    # the variance parts vanish as n grows at fixed m, the bias does not depend on n
    far = theory.cost_split(m, np.array([10**6, 10**8]), p, c2, res_w[:1], c2 * res_u[:1], res_shift[:1])
    assert np.all(far["variance"][1] < 1e-5) and np.all(np.abs(far["unseen"][1]) < 1e-5)


def test_wide_error_is_least_squares_in_x_for_any_covariance():
    """Chapter 5's formula for the infinitely wide model, checked on a simulation of least squares in x with a
    power-law covariance (3,000 problems; 4 standard errors)."""
    d, n, p, c2, noise = 4, 14, 0.3, 0.5, 0.2
    P = draw_problems(seeds=3000, n=n, d=d, m_max=1, spectrum=1.5, noise=noise, seed=3)
    Y = np.stack([P.labels(0.0, 0.0), P.labels(p, c2)], 1)
    Xt = P.X.transpose(0, 2, 1)
    beta = np.linalg.solve(Xt @ P.X, Xt @ Y.transpose(0, 2, 1)).transpose(0, 2, 1)
    err = P.test_error(beta)  # (seeds, 2)
    real, cost = theory.wide_error(n, d, noise, p, c2)
    m, se = within_se(err[:, 0])
    assert abs(m - real) < K_SE * se
    m, se = within_se(err[:, 1] - err[:, 0])
    assert abs(m - cost) < K_SE * se
    with pytest.raises(ValueError, match="^n="):
        theory.wide_error(d + 1, d, noise, p, c2)


def test_the_sample_sweep_falls_to_its_floor_and_agrees_with_its_simulation():
    cfg = _small_config(n=20, d=40, fractions=(0.1, 0.5), qualities=(0.01, 1.0), theory_seeds=20, floor_seeds=40)
    fl = larger.run_floor(cfg, larger.theory_forms(cfg, larger.floor_widths(cfg)), NO_STORE)
    np.testing.assert_array_equal(fl.widths, [2, 10, 18])
    assert fl.sim_errors.shape == (40, 1, len(cfg.label_sets), 4)
    ex = fl.exact
    assert np.all(np.isnan(ex["cost"][:, 3, fl.sizes < cfg.d + 2]))  # no formula for the wide model with n < d + 2
    assert np.all(ex["cost"][0][np.isfinite(ex["cost"][0])] == 0)  # real labels only: no cost
    np.testing.assert_allclose(ex["cost"][1:, :, -1], fl.floor[1:], rtol=0.01)
    np.testing.assert_allclose(fl.floor[:, -1], [p**2 * c2 for p, c2 in cfg.label_sets])
    assert np.all(fl.unseen_share[:-1] > 0) and fl.unseen_share[-1] == 0
    c = larger_sweep.claims_floor(fl)
    assert c["floor_sim_agrees"].holds and c["floor_is_bias"].holds, c
    s = larger_sweep.summary_floor(fl)
    assert s["widths"][-1] == "infinite" and len(s["cost_exact"]) == len(cfg.label_sets)


def test_theory_split_rows_match_the_formula():
    cfg = _small_config(ratios=(0.25, 0.5, 2.0), theory_seeds=4)
    proj = larger.run_projections(cfg, NO_STORE)
    rows = proj.split_rows
    assert [r["ratio"] for r in rows] == [0.25, 0.5]
    ks, draws, mean = proj.theory_cost_at_widths
    for r, k in zip(rows, ks):
        assert r["exact"] == pytest.approx(mean[1, list(ks).index(k)]) and r["bias"] > 0


def test_paired_gap_counts_the_test_images_and_the_seeds():
    rng = np.random.default_rng(0)
    wrong = (rng.random((4, 2, 500)) < np.array([0.2, 0.3])[None, :, None]).astype(np.uint8)
    m, se = larger_nets.paired_gap(wrong, 1)
    diff = wrong[:, 1].astype(float) - wrong[:, 0]
    assert m == pytest.approx(diff.mean())
    per_image = diff.mean(0).std(ddof=1) / np.sqrt(500)
    per_seed = diff.mean(1).std(ddof=1) / 2
    assert se == pytest.approx(np.hypot(per_image, per_seed))
    one, one_se = larger_nets.paired_mean(diff[:1])
    assert one_se == pytest.approx(diff[0].std(ddof=1) / np.sqrt(500))


def test_networks_locate_the_fitting_width_from_training_accuracy():
    acc = np.array([[[0.5, 0.995, 1.0], [0.4, 0.97, 1.0]]])  # (seeds, P, K)
    wrong = np.zeros((1, 2, 3, 10), np.uint8)
    wrong[:, 1, :, :3] = 1
    res = larger.NetworkResult("toy", np.array([2, 8, 32]), np.array([0.0, 0.5]), wrong.mean(-1), acc, 0.3, 0.3, 784,
                               10, 100, wrong)
    assert res.fit_width == 32
    cost, se = res.cost
    np.testing.assert_allclose(cost[1], 0.3)
    assert res.cost_change(1, 0, 2) == (0.0, 0.0)
    assert larger.NetworkResult("toy", res.widths, res.fractions, res.errors, acc * 0.5, 0.3, 0.3).fit_width is None


@pytest.mark.parametrize("p2, blocks", [(0.1, 100), (0.37, 64), (1.0, 8), (0.0, 5)])
def test_the_synthetic_token_share_is_the_block_share(p2, blocks):
    from collapse_lib.experiments.larger_lm import synthetic_positions

    share = synthetic_positions(p2, blocks).mean()
    assert abs(share - p2) <= 1 / blocks


def test_the_regime_claim_is_the_proportional_limit():
    out = larger_claims._claims_regime()["regime_small_psi"]
    assert out.holds and "0.091" in out.evidence
    table = larger.regime_table(ps=(0.1,), psis=(0.5,))
    assert table["ratio"]["0.1"] == [pytest.approx(9.0)]


@pytest.mark.parametrize("kw, name", [(dict(floor_ratios=()), "floor_ratios"), (dict(floor_ratios=(0.0,)), "floor_ratios"),
                                      (dict(floor_ratios=(2.0,), n=100, d=150), "floor_ratios"),
                                      (dict(floor_sizes=(-1.0,)), "floor_sizes"), (dict(floor_seeds=0), "floor_seeds"),
                                      (dict(floor_simulated=(0.5,)), "floor_simulated")])
def test_bad_floor_settings(kw, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        larger.Config(**kw)
