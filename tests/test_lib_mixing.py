"""Chapter 5 pieces: the linear-regression family, its closed forms against simulation
(replace, accumulate, strong collapse), the chapter's experiments, figures, exercise
checks and settings.

Every theory-vs-simulation tolerance is Z standard errors of a mean over the chains,
the standard error taken from the chains' sample spread."""
import dataclasses

import numpy as np
import pytest

from collapse_lib import Run, load, run_generations
from collapse_lib.exercises import AnswerError
from collapse_lib.exercises import mixing as ex
from collapse_lib.experiments import mixing as chapter
from collapse_lib.families.linreg import (
    LinearRegressionFamily,
    LinearSource,
    LinRegParams,
    labelled_points,
    points_to_stats,
    wishart_stats,
)
from collapse_lib.policies import Accumulate, FreshReal, Mix, Replace
from collapse_lib.store import RunStore
from collapse_lib.theory import linreg as th

Z = 5.0  # a 5-standard-error band: a correct formula fails with probability < 1e-6
D, T, SIGMA = 10, 111, 1.0  # the issue's setting: one fit's expected excess error is 0.1


def w_star(d=D):
    return chapter.true_weights(d, 0)


def errors(history, w):
    return np.sum((history["weights"] - w) ** 2, axis=-1)  # (G+1, C)


def run(policy, generations=10, chains=3000, sampler="points", seed=1, **kw):
    w = w_star()
    h = run_generations(LinearRegressionFamily(D, SIGMA, sampler=sampler), LinearSource(w, SIGMA), policy,
                        generations=generations, samples=T, chains=chains, seed=seed, progress=False, **kw)
    return h, errors(h, w)


def se(values):
    return values.std(axis=-1, ddof=1) / np.sqrt(values.shape[-1])


# ----------------------------------------------------------------- closed forms
def test_closed_forms_of_the_issue_setting():
    g = np.arange(50)
    assert np.allclose(th.one_fit_error(T, D, SIGMA), 0.1)
    assert np.allclose(th.replace_error(g, T, D, SIGMA), 0.1 * (g + 1))
    acc = th.accumulate_error(g, T, D, SIGMA)
    assert acc[0] == pytest.approx(0.1) and np.all(np.diff(acc) > 0)
    assert th.accumulate_bound(T, D, SIGMA) == pytest.approx(np.pi**2 / 60) == pytest.approx(0.16449, abs=1e-5)
    # fresh inputs (exact here) stay below the fixed-design sum of the paper, which stays below pi^2/6 e_1
    fixed = th.accumulate_error_fixed_design(g, T, D, SIGMA)
    assert np.all(acc <= fixed + 1e-15) and np.all(fixed < th.accumulate_bound(T, D, SIGMA))
    assert fixed[1] == pytest.approx(0.1 * 1.25)


def test_strong_collapse_closed_form_limits():
    n = np.array([100, 10_000, 10**6, 10**8])
    # p = 1: every label comes from the shifted model, whose whole error is learned
    assert np.allclose(th.strong_collapse_bias(n, 1.0, D), 1.0)
    assert np.allclose(th.strong_collapse_bias(n, 0.0, D), 0.0)
    # large n: B = p^2 + p (1 - p) (d + 1) / n + O(1/n^2), the paper's sigma^2 d/n + p^2 c^2
    for p in (0.001, 0.01, 0.1):
        b = th.strong_collapse_bias(n, p, D)
        n2 = th.synthetic_count(n, p)
        q = n2 / n  # the realised share
        assert np.allclose(b[1:], q[1:] ** 2 + q[1:] * (1 - q[1:]) * (D + 1) / n[1:], rtol=1e-3)
        exact = th.strong_collapse_error(n, p, 2.0, D, SIGMA)
        approx = th.strong_collapse_asymptotic(n, p, 2.0, D, SIGMA)
        assert np.allclose(exact[-1], approx[-1], rtol=1e-3)
        assert exact[-1] > th.strong_collapse_floor(p, 2.0) == pytest.approx(2.0 * p**2)


# ---------------------------------------------------- closed forms vs simulation
def test_replace_grows_like_n_times_one_fit():
    h, e = run(Replace())
    g = np.arange(e.shape[0])
    assert np.all(np.abs(e.mean(1) - th.replace_error(g, T, D, SIGMA)) < Z * se(e))
    # the issue's number: about 0.1 n after n fits
    slope = np.polyfit(g + 1, e.mean(1), 1)[0]
    assert abs(slope - 0.1) < 0.02


def test_accumulate_stays_below_pi_squared_over_six_of_one_fit():
    h, e = run(Accumulate())
    g = np.arange(e.shape[0])
    assert np.all(np.abs(e.mean(1) - th.accumulate_error(g, T, D, SIGMA)) < Z * se(e))
    assert np.all(e.mean(1) < th.accumulate_bound(T, D, SIGMA) + Z * se(e))
    assert e.mean(1)[-1] < 0.17  # the issue: at most about 0.164


@pytest.mark.parametrize("policy", [Replace(), Accumulate()], ids=["replace", "accumulate"])
def test_wishart_sampler_follows_the_same_closed_forms(policy):
    h, e = run(policy, generations=30, chains=4000, sampler="wishart")
    g = np.arange(e.shape[0])
    theory = th.replace_error(g, T, D, SIGMA) if policy.name == "replace" else th.accumulate_error(g, T, D, SIGMA)
    assert np.all(np.abs(e.mean(1) - theory) < Z * se(e))


def test_wishart_statistics_have_the_law_of_the_points():
    C, n, d = 20_000, 30, 4
    rng = np.random.default_rng(3)
    w = rng.standard_normal((C, d))
    s = wishart_stats(w, n, 0.5, rng)
    # E[X^T X] = n I; Var of a diagonal entry 2n, of an off-diagonal one n
    var = np.where(np.eye(d, dtype=bool), 2.0 * n, float(n))
    assert np.all(np.abs(s.xx.mean(0) - n * np.eye(d)) < Z * np.sqrt(var / C))
    assert np.allclose(s.xx, np.swapaxes(s.xx, 1, 2))
    # residual X^T y - X^T X w = X^T noise has covariance sigma^2 n I. Each entry r_i is,
    # given X, N(0, sigma^2 q) with q = sum_t x_ti^2 ~ chi2_n, so E[r_i^4] = 3 sigma^4 n (n + 2)
    # and Var[r_i^2] = sigma^4 (2 n^2 + 6 n): the standard error of the sample variance
    r = s.xy - np.einsum("cij,cj->ci", s.xx, w)
    sigma2 = 0.25
    assert np.all(np.abs(r.var(0) - sigma2 * n) < Z * np.sqrt(sigma2**2 * (2 * n**2 + 6 * n) / C))
    # fewer points than dimensions: a singular Gram matrix of rank n
    small = wishart_stats(w[:5], 2, 0.5, rng)
    assert small.n == 2 and np.all(np.linalg.matrix_rank(small.xx) == 2)


@pytest.mark.parametrize("n,p", [(40, 0.5), (60, 0.1), (200, 0.25), (35, 1.0)])
def test_strong_collapse_matches_points_simulation(n, p):
    C, c2 = 20_000, 2.0
    rng = np.random.default_rng([n, int(p * 1000)])
    w = np.broadcast_to(w_star(), (C, D))
    delta = rng.standard_normal((C, D))
    delta *= np.sqrt(c2) / np.linalg.norm(delta, axis=1, keepdims=True)
    n2 = int(th.synthetic_count(n, p))
    data = points_to_stats(labelled_points(w, n - n2, SIGMA, rng)) + \
        points_to_stats(labelled_points(w + delta, n2, SIGMA, rng))
    e = np.sum((LinearRegressionFamily(D).fit(data).weights - w) ** 2, axis=-1)
    assert abs(e.mean() - th.strong_collapse_error(n, p, c2, D, SIGMA)) < Z * se(e)


def test_strong_collapse_experiment_shows_the_floor():
    cfg = chapter.Config(strong_chains=1000, strong_sizes=(50, 1000, 10**5, 10**7, 10**8),
                               strong_quality=1.0)
    res = chapter.strong_collapse(cfg)
    for p in cfg.strong_fractions:
        e = res.errors[p]
        assert np.all(np.abs(e.mean(1) - res.theory[p]) < Z * se(e)), p
    # real data only: the error keeps falling like sigma^2 d / n
    assert res.errors[0.0][-1].mean() < 2e-6
    # even 1 % synthetic labels: a floor of p^2 c^2 = 1e-4 that 10^8 points do not remove
    big = res.errors[0.01]
    assert big[-1].mean() > res.floors[0.01] - Z * se(big[-1])
    assert big[-1].mean() > 0.5 * big[-2].mean()  # 10x more data, the error barely moves
    assert res.errors[0.1][-1].mean() == pytest.approx(0.01, rel=0.05)


# ----------------------------------------------------------------- the family
@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_vectorised_fit_equals_per_chain_lstsq(ridge):
    rng = np.random.default_rng(0)
    C, n, d = 6, 25, 4
    points = labelled_points(rng.standard_normal((C, d)), n, 0.7, rng)
    fam = LinearRegressionFamily(d, ridge=ridge)
    got = fam.fit(fam.summarize(points)).weights
    for c in range(C):
        x, y = points[c, :, :d], points[c, :, d]
        if ridge:  # (1/n)|y - Xw|^2 + ridge |w|^2 is least squares on rows sqrt(n ridge) I
            x = np.vstack([x, np.sqrt(n * ridge) * np.eye(d)])
            y = np.concatenate([y, np.zeros(d)])
        assert np.allclose(got[c], np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-10)


def test_summaries_pool_like_concatenated_points():
    rng = np.random.default_rng(1)
    a, b = labelled_points(rng.standard_normal((3, 5)), 8, 1.0, rng), labelled_points(np.zeros((3, 5)), 13, 1.0, rng)
    pooled = points_to_stats(a) + points_to_stats(b)
    whole = points_to_stats(np.concatenate([a, b], axis=1))
    assert pooled.n == 21 and np.allclose(pooled.xx, whole.xx) and np.allclose(pooled.xy, whole.xy)


def test_sample_labels_follow_the_fitted_model():
    rng = np.random.default_rng(2)
    w = np.array([[1.0, -2.0, 0.5]])
    fam = LinearRegressionFamily(3, noise=0.0)
    pts = fam.sample_points(LinRegParams(w), 50, rng)
    assert pts.shape == (1, 50, 4) and np.allclose(pts[0, :, 3], pts[0, :, :3] @ w[0])
    assert np.allclose(fam.fit(fam.sample(LinRegParams(w), 50, rng)).weights, w)


def test_sampler_setting_picks_the_draw_it_names():
    """sampler="wishart" draws the summary from its exact law (no points; two calls on the
    generator), "points" summarises drawn points: the same numbers as the two functions."""
    w = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    for sampler, direct in (("wishart", lambda rng: wishart_stats(w, 40, 0.7, rng)),
                            ("points", lambda rng: points_to_stats(labelled_points(w, 40, 0.7, rng)))):
        got = LinearRegressionFamily(3, noise=0.7, sampler=sampler).sample(LinRegParams(w), 40, np.random.default_rng(5))
        want = direct(np.random.default_rng(5))
        assert got.n == 40 and np.array_equal(got.xx, want.xx) and np.array_equal(got.xy, want.xy), sampler
    # and the two are different draws (the Wishart one uses no points)
    a = LinearRegressionFamily(3, sampler="wishart").sample(LinRegParams(w), 40, np.random.default_rng(5))
    b = LinearRegressionFamily(3, sampler="points").sample(LinRegParams(w), 40, np.random.default_rng(5))
    assert not np.allclose(a.xx, b.xx)


def test_one_input_and_noiseless_labels_are_allowed():
    """d = 1 is a regression through the origin, w = sum x y / sum x^2; noise 0 labels
    every point exactly with x w*, so one fit recovers w* (to rounding)."""
    rng = np.random.default_rng(4)
    source = LinearSource([2.5], noise=0.0)
    points = source.sample(3, 7, rng)
    fam = LinearRegressionFamily(1, noise=0.0)
    x, y = points[..., 0], points[..., 1]
    np.testing.assert_allclose(fam.fit(fam.summarize(points)).weights[:, 0], (x * y).sum(1) / (x * x).sum(1))
    np.testing.assert_allclose(y, 2.5 * x)
    np.testing.assert_allclose(fam.fit(fam.summarize(points)).weights, 2.5)


def test_excess_error_is_the_squared_weight_gap():
    """E_x[(x.w - x.w*)^2] = |w - w*|^2 for x ~ N(0, I), per chain and for a whole history
    (generations, chains, d) at once; values worked by hand."""
    source = LinearSource([1.0, -2.0])
    w = np.array([[[1.0, -2.0], [0.0, 0.0], [2.0, -1.0]],
                  [[1.0, 0.0], [4.0, 2.0], [1.0, -2.5]]])
    np.testing.assert_allclose(source.excess_error(LinRegParams(w)), [[0.0, 5.0, 2.0], [4.0, 25.0, 0.25]])
    np.testing.assert_allclose(source.excess_error(LinRegParams(w[0])), [0.0, 5.0, 2.0])


@pytest.mark.parametrize("policy", [Mix(0.1), FreshReal(0.5)], ids=["mix", "fresh"])
def test_real_data_policies_run_and_bound_the_error(policy):
    h, e = run(policy, generations=20, chains=500, sampler="wishart")
    _, rep = run(Replace(), generations=20, chains=500, sampler="wishart")
    assert e.shape == (21, 500) and np.all(np.isfinite(e))
    assert e[-1].mean() + Z * se(e[-1]) < rep[-1].mean()


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    full, _ = run(Accumulate(), generations=4, chains=50)
    store = RunStore(tmp_path / "run", {"test": "linreg"})
    run(Accumulate(), generations=2, chains=50, store=store)
    resumed, _ = run(Accumulate(), generations=4, chains=50, store=RunStore(tmp_path / "run", {"test": "linreg"}))
    assert resumed.resumed_from == 2
    assert np.array_equal(resumed["weights"], full["weights"])


# ---------------------------------------------------------------- bad settings
@pytest.mark.parametrize("call,names", [
    (lambda: th.one_fit_error(11, 10), "T=11"),
    (lambda: th.replace_error(3, 5, 10), "T=5"),
    (lambda: th.accumulate_error(3, 11, 10), "T=11"),
    (lambda: th.replace_error(-1, 111, 10), "generation=-1"),
    (lambda: th.strong_collapse_error(100, 1.5, 1.0, 10), "p=1.5"),
    (lambda: th.strong_collapse_error(100, -0.1, 1.0, 10), "p=-0.1"),
    (lambda: th.strong_collapse_error(10, 0.1, 1.0, 10), "n=10"),
    (lambda: th.strong_collapse_error(100, 0.1, -1.0, 10), "c2=-1.0"),
    (lambda: th.strong_collapse_floor(2.0, 1.0), "p=2.0"),
    (lambda: LinearRegressionFamily(0), "dim=0"),
    (lambda: LinearRegressionFamily(3, noise=-1.0), "noise=-1.0"),
    (lambda: LinearRegressionFamily(3, ridge=-0.5), "ridge=-0.5"),
    (lambda: LinearRegressionFamily(3, sampler="magic"), "sampler='magic'"),
    (lambda: LinearSource([[1.0]]), "weights="),
    (lambda: LinearSource([]), "weights=[]"),
    (lambda: LinearSource([1.0, np.nan]), "weights=[1.0, nan]"),
    (lambda: LinearSource([1.0], noise=-1.0), "noise=-1.0"),
    (lambda: LinearSource([1.0], noise=np.inf), "noise=inf"),
    (lambda: LinearRegressionFamily(3, noise=np.inf), "noise=inf"),
    (lambda: LinearRegressionFamily(3, ridge=np.nan), "ridge=nan"),
    (lambda: LinearRegressionFamily(3, noise=True), "noise=True"),
    (lambda: LinearRegressionFamily(3, noise="1.0"), "noise='1.0'"),
    (lambda: LinearRegressionFamily(3).summarize(np.zeros((2, 5, 3))), "(chains, n, dim+1) = (chains, n, 4)"),
    (lambda: run_generations(LinearRegressionFamily(D), LinearSource(w_star()), Replace(), generations=2,
                             samples=11, chains=2, progress=False), "samples=11"),
    (lambda: chapter.Config(linreg_samples=11), "linreg_samples=11"),
    (lambda: chapter.Config(real_fraction=1.2), "real_fraction=1.2"),
    (lambda: chapter.Config(strong_fractions=(0.1, 1.5)), "strong_fractions=1.5"),
    (lambda: chapter.Config(strong_sizes=(5, 100)), "strong_sizes=5"),
    (lambda: chapter.Config(policies=("replace", "hoard")), "policies='hoard'"),
    (lambda: chapter.Config(generations=0), "generations=0"),
    (lambda: chapter.Config(subsample_linreg_chains=-1), "subsample_linreg_chains=-1"),
    (lambda: chapter.Config(neural_fractions=(0.1, -0.5)), "neural_fractions=-0.5"),
    (lambda: chapter.Config(linreg_sampler="fast"), "linreg_sampler='fast'"),
    (lambda: load("mixing", "huge"), "profile='huge'"),
])
def test_bad_settings_are_refused_with_their_name(call, names):
    with pytest.raises(ValueError) as err:
        call()
    assert names in str(err.value) and "not allowed" in str(err.value)


# ------------------------------------------------------- experiments and figures
def small_config(**kw):
    base = dict(generations=15, gaussian_chains=200, sandwich_chains=200, linreg_chains=300, strong_chains=100,
                strong_sizes=(30, 1000, 10**6), neural_fractions=(), subsample_gaussian_chains=300,
                subsample_linreg_chains=100)
    return chapter.Config(**{**base, **kw})


def test_policy_comparison_orders_the_policies():
    import matplotlib

    matplotlib.use("Agg")
    from collapse_lib.plots import mixing as plots

    cfg = small_config()
    res = chapter.run(cfg)
    gauss, sand, lin = res.gaussian, res.sandwich, res.linreg
    assert res.neural is None and plots.FIGURES["neural"](res) is None
    for part in (gauss, sand, lin):
        assert set(part.metric) == set(cfg.policies)
        assert all(v.shape == part.metric["replace"].shape and v.shape[0] == cfg.generations + 1
                   for v in part.metric.values())
    # replace drifts furthest; every policy that keeps real data stays closer to the truth
    for part in (gauss, lin):
        last = {k: v[-1] for k, v in part.metric.items()}
        assert last["accumulate"].mean() + Z * se(last["accumulate"]) < last["replace"].mean()
        for k in ("mix", "fresh"):
            assert last[k].mean() < last["replace"].mean(), (part.family, k)
    assert sand.metric["accumulate"][-1].mean() > sand.metric["replace"][-1].mean()
    out = chapter.summary(res)
    assert out["linreg"]["one_fit_error"] == pytest.approx(0.1)
    assert out["linreg"]["replace"]["theory_final"] == pytest.approx(0.1 * (cfg.generations + 1))
    assert out["strong"]["p=0.1"]["floor"] == pytest.approx(0.01)
    fig1, fig2 = plots.policies(res), plots.strong_collapse(res)
    assert len(fig1.axes) == 3 and len(fig2.axes) == 1


def test_neural_example_runs_through_chapter_3(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from collapse_lib.plots import mixing as plots

    vae_cfg = dataclasses.replace(chapter.NEURAL, chains=2, generations=1, latent=2, hidden=16, samples=60, epochs=2,
                                  batch_size=32, eval_samples=20, grid_images=4, classifier_epochs=2,
                                  classifier_hidden=16)
    cfg = small_config(neural_fractions=(0.0, 0.5), neural=vae_cfg)
    res = chapter.neural_mixing(cfg, Run(root=tmp_path))
    assert set(res.runs) == {0.0, 0.5} and res.real_spread.shape == (2,)
    assert res.runs[0.5].spread.shape == (2, 2) and np.all(np.isfinite(res.runs[0.5].spread))
    assert chapter.neural_config(cfg, 0.5).policies == ("mix",) and chapter.neural_config(cfg, 0.0).real_fraction == 0
    assert len(plots.neural(chapter.Result(cfg, None, None, None, None, res)).axes) == 2
    assert chapter.neural_mixing(small_config()) is None
    # a rerun resumes every share from the store, the shared generation 0 included
    again = chapter.neural_mixing(cfg, Run(root=tmp_path))
    assert all(r.resumed_from == 1 for r in again.runs.values())
    assert all(np.array_equal(again.runs[f].spread, res.runs[f].spread) for f in res.runs)


def test_cli_knows_the_chapter():
    from collapse_lib.cli import EXPERIMENTS

    assert EXPERIMENTS["mixing"] == "collapse_lib.experiments.mixing"
    for profile in ("quick", "cpu", "gpu", "paper"):
        cfg = load("mixing", profile)
        assert cfg.linreg_samples >= cfg.linreg_dim + 2
        for f in cfg.neural_fractions:
            chapter.neural_config(cfg, f)  # chapter 3's Config accepts the chapter's VAE settings
    assert load("mixing", "quick", {"neural.epochs": "1"}).neural.epochs == 1


def test_cpu_profile_has_the_papers_sizes():
    cfg = load("mixing", "cpu")
    # Gerstgrasser et al. / Dohmatob et al.: d = 10, T = 111, sigma^2 = 1; Strong Model Collapse's p and n
    assert (cfg.linreg_dim, cfg.linreg_samples, cfg.linreg_noise) == (10, 111, 1.0)
    assert cfg.linreg_chains >= 1000 and cfg.generations >= 100
    assert set(cfg.strong_fractions) == {0.0, 0.001, 0.01, 0.1} and cfg.strong_sizes[-1] >= 10**5
    assert cfg.neural.dataset == "mnist5k" and 0.1 in cfg.neural_fractions
    assert cfg.neural.samples <= 4000  # the training split of the MNIST subset
    with pytest.raises(ValueError, match="lr"):
        load("mixing", "cpu", {"neural.lr": 0.0})
    with pytest.raises(ValueError, match="samples"):
        load("mixing", "cpu", {"neural.samples": 0})


def test_cpu_code_path_runs_at_toy_size_with_its_claims(tmp_path):
    cfg = load("mixing", "cpu", dict(
        generations=8, gaussian_chains=100, sandwich_chains=100, linreg_chains=200, strong_chains=50,
        subsample_gaussian_chains=100, subsample_linreg_chains=50, strong_sizes=(30, 1000, 10**6),
        ratio_sizes=(20, 40), ratio_chains=50,
        neural_fractions=(0.0, 0.5), **{
            "neural.chains": 1, "neural.generations": 1, "neural.samples": 40, "neural.epochs": 1,
            "neural.hidden": 16, "neural.latent": 2, "neural.eval_samples": 20, "neural.classifier_epochs": 1,
            "neural.classifier_hidden": 16, "neural.grid_images": 4}))
    res = chapter.run(cfg, Run(root=tmp_path))
    assert "mnist5k" in res.neural.data and set(res.neural.runs) == {0.0, 0.5}
    out = chapter.summary(res)
    statements = [c["statement"] for c in out["claims"]]
    assert any("pi^2/6" in t for t in statements) and any("real images" in t for t in statements)
    assert "neural_real_share_helps" in chapter.claims(res)


def test_claims_fail_when_the_numbers_contradict_them():
    cfg = small_config()
    res = chapter.run(cfg)
    c = chapter.claims(res)
    assert c["strong_follows_exact"].holds and c["strong_real_labels_keep_falling"].holds
    # accumulate planted above the bound, and a "floor" that keeps falling
    lin, strong = res.linreg, res.strong
    bad_lin = chapter.FamilyPolicies(lin.family, lin.metric_name, lin.generations,
                                     {**lin.metric, "accumulate": lin.metric["replace"]}, lin.theory)
    bad = chapter.claims(dataclasses.replace(res, linreg=bad_lin))
    assert not bad["accumulate_bounded"].holds
    falling = chapter.StrongResult(strong.sizes, strong.fractions, strong.quality, strong.dim, strong.noise,
                                   {p: strong.errors[0.0] for p in strong.fractions}, strong.theory,
                                   strong.asymptotic, strong.floors)
    floors = [v for k, v in chapter.claims(dataclasses.replace(res, strong=falling)).items()
              if k.startswith("strong_floor_")]
    assert floors and not any(c.holds for c in floors)


def test_bias_variance_split_and_limits_of_strong_collapse():
    for n, d, p in [(20, 5, 0.3), (15, 3, 14 / 15), (111, 10, 100 / 111), (1000, 10, 0.1)]:
        parts = th.strong_collapse_split(n, p, 2.0, d, 0.5)
        assert np.isclose(sum(parts.values()), th.strong_collapse_error(n, p, 2.0, d, 0.5), rtol=1e-12)
    # proportional limit (d / n = 0.2) and the n >> d form (d + 1) / n of the variance factor
    assert np.isclose(th.strong_collapse_bias(20000, 0.3, 4000), 0.1425, rtol=1e-3)
    assert np.isclose(th.strong_collapse_variance_factor(10**7, 10) * 10**7, 11, rtol=1e-5)
    # fresh real data: the recursion's fixed point e_1 / (1 - B(111, 100)) = 0.559
    assert np.isclose(th.fresh_error(10**4, 111, 10, 0.1), 0.1 / (1 - th.strong_collapse_bias(111, 100 / 111, 10)))
    assert np.isclose(th.fresh_error(0, 111, 10, 0.1), 0.1)


# ------------------------------------------------------------- exercise checks
def test_exercise_checks_accept_right_and_refuse_wrong_answers(capsys):
    assert ex.check_replace_error(1.0, generation=9)
    with pytest.raises(AnswerError, match="generation 9"):
        ex.check_replace_error(0.9, generation=9)  # forgot the fit to real data
    assert ex.check_accumulate_bound(np.pi**2 / 60)
    assert ex.check_accumulate_bound(0.1600)  # the least upper bound with fresh inputs
    with pytest.raises(AnswerError, match="accumulate"):
        ex.check_accumulate_bound(0.155)
    with pytest.raises(AnswerError, match="accumulate"):
        ex.check_accumulate_bound(0.2)
    assert ex.check_crossover_size(1e5, p=0.01)
    with pytest.raises(AnswerError, match="p=0.01"):
        ex.check_crossover_size(1e3, p=0.01)

    def right(xx, xy):
        return np.linalg.solve(xx, xy[..., None])[..., 0]

    assert ex.check_batched_ols(right)
    with pytest.raises(AnswerError, match="differs"):
        ex.check_batched_ols(lambda xx, xy: xy / np.trace(xx, axis1=1, axis2=2)[:, None])
    with pytest.raises(AnswerError, match="shape"):
        ex.check_batched_ols(lambda xx, xy: xy[0])
    with pytest.raises(AnswerError, match="raised"):
        ex.check_batched_ols(lambda xx, xy: 1 / 0)
    with pytest.raises(AnswerError, match="no answer yet"):
        ex.check_batched_ols(lambda xx, xy: ...)
    with pytest.raises(AnswerError, match="no answer yet"):
        ex.check_replace_error(...)
    assert "Correct" in capsys.readouterr().out


# --------------------------------------------------------- accumulate-subsample
def test_accumulate_subsample_runs_in_batches_beside_the_other_policies(monkeypatch):
    """Its own chains, in batches whose pools stay under the byte cap (shrunk here so that
    both families need several batches), and its claims can fail."""
    import matplotlib

    matplotlib.use("Agg")
    from collapse_lib.experiments import mixing_subsample
    from collapse_lib.plots import mixing as plots

    cfg = small_config()
    # a Gaussian chain's pool: 16 generations x 50 points x 8 bytes = 6,400 bytes; 150 chains a batch
    monkeypatch.setattr(mixing_subsample, "SUBSAMPLE_POOL_BYTES", 150 * 16 * 50 * 8)
    seeds = mixing_subsample.batch_seeds(cfg.seed, 300, 150)
    assert [n for _, n in seeds] == [150, 150] and seeds[0][0] == cfg.seed and len({s for s, _ in seeds}) == 2
    res = chapter.run(cfg)
    sub = res.subsample
    g = cfg.generations + 1
    assert sub.gaussian.shape == sub.gaussian_variance.shape == (g, 300) and sub.linreg.shape == (g, 100)
    # generation 0 is the fit to the real data: the first batch shares it with the other policies' chains
    np.testing.assert_allclose(sub.gaussian[0, :150], res.gaussian.metric["replace"][0, :150])
    out = chapter.summary(res)["subsample"]
    assert out["linreg"]["chains"] == 100 and out["late_from_generation"] == cfg.generations // 2
    c = chapter.claims(res)
    assert {"subsample_between", "subsample_linreg_rate", "subsample_gaussian_variance_rises"} <= set(c)
    assert len(plots.subsample(res).axes) == 2
    # replace's runs planted as accumulate-subsample's: not between, and growing at e_1 a generation
    planted = dataclasses.replace(sub, linreg=res.linreg.metric["replace"][:, :100])
    bad = chapter.claims(dataclasses.replace(res, subsample=planted))
    assert not bad["subsample_between"].holds and not bad["subsample_linreg_rate"].holds
    falling = dataclasses.replace(sub, gaussian_variance=sub.gaussian_variance[::-1])
    assert not chapter.claims(dataclasses.replace(res, subsample=falling))["subsample_gaussian_variance_rises"].holds
    none = chapter.run(small_config(subsample_gaussian_chains=0, subsample_linreg_chains=0, generations=2))
    assert none.subsample is None and plots.subsample(none) is None and "subsample" not in chapter.summary(none)
