"""Gaussian mixtures: the batched EM against scikit-learn, sampling, the closed-form L2
distance, the per-component collapse theory, the chapter's experiments and bad settings.

Statistical tolerances are Z standard errors computed from the number of points or
chains; numerical ones are a few hundred float64 roundings."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.special import polygamma
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from collapse_lib import Accumulate, Replace, protocol, run_generations
from collapse_lib.experiments import gmm as chapter
from collapse_lib.families.gmm import GMMFamily, GMMParams, GMMPoints, sample_mixture, source_params, two_clusters
from collapse_lib.families.gmm_em import fit_em, initial_parameters, m_step, mean_log_likelihood
from collapse_lib.metrics_gmm import gaussian_overlap, l2_squared, mixture_pdf
from collapse_lib.plots import gmm as figures
from collapse_lib.runtime import generation_rng
from collapse_lib.theory import gmm as tg

Z = 5.0


def clustered(chains, n, seed, separation=4.0):
    return two_clusters(separation).sample(chains, n, np.random.default_rng(seed))


# ------------------------------------------------------------------ EM vs scikit-learn
@pytest.mark.parametrize("separation", [1.0, 4.0])
def test_em_from_the_same_start_gives_scikit_learns_fit(separation):
    x = clustered(3, 300, 1, separation)
    w, m, s = initial_parameters(torch.tensor(x), 2)
    res = fit_em(torch.tensor(x), 2, init=(w, m, s), tol=1e-6, max_iter=500)
    for c in range(x.shape[0]):
        sk = GaussianMixture(2, tol=1e-6, max_iter=500, weights_init=w[c].numpy(), means_init=m[c].numpy(),
                             precisions_init=np.linalg.inv(s[c].numpy())).fit(x[c])
        assert res.n_iter[c].item() == sk.n_iter_ and bool(res.converged[c]) == sk.converged_
        np.testing.assert_allclose(res.weights[c].numpy(), sk.weights_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.means[c].numpy(), sk.means_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.covs[c].numpy(), sk.covariances_, rtol=0, atol=1e-10)


@pytest.mark.parametrize("separation", [0.5, 2.0, 6.0])
def test_em_from_scikit_learns_start_does_at_least_as_well(separation):
    """Both run to a tight tolerance from scikit-learn's own k-means start: our fit's
    log-likelihood is at least scikit-learn's."""
    x = clustered(4, 300, 2, separation)
    xt = torch.tensor(x)
    for c in range(x.shape[0]):
        sk = GaussianMixture(2, tol=1e-9, max_iter=3000, random_state=c).fit(x[c])
        # scikit-learn's start: one M-step on the labels of KMeans(n_init=1) seeded alike
        labels = KMeans(2, n_init=1, random_state=c).fit(x[c]).labels_
        resp = torch.nn.functional.one_hot(torch.as_tensor(labels, dtype=torch.long), 2).double().T[None]
        init = m_step(xt[c : c + 1], resp, 1e-6)
        ours = fit_em(xt[c : c + 1], 2, init=init, tol=1e-9, max_iter=3000)
        ll = mean_log_likelihood(xt[c : c + 1], ours.weights, ours.means, ours.covs).item()
        assert ll >= sk.score(x[c]) - 1e-9


@pytest.mark.parametrize("separation", [2.0, 6.0])
def test_em_from_its_own_start_finds_scikit_learns_optimum_on_clustered_data(separation):
    """With distinct clusters both starts lead to the same optimum. (On one blob the
    likelihood has several local optima, and either start may land on the better one.)"""
    x = clustered(4, 300, 3, separation)
    xt = torch.tensor(x)
    res = fit_em(xt, 2, tol=1e-9, max_iter=3000)
    ll = mean_log_likelihood(xt, res.weights, res.means, res.covs).numpy()
    for c in range(x.shape[0]):
        sk = GaussianMixture(2, tol=1e-9, max_iter=3000, random_state=c).fit(x[c])
        assert ll[c] >= sk.score(x[c]) - 1e-7


def test_em_stops_each_chain_at_its_own_iteration_and_leaves_the_start_unchanged():
    x = np.concatenate([clustered(2, 200, 3, 8.0), clustered(2, 200, 3, 0.3)])
    start = [a.numpy().copy() for a in initial_parameters(torch.tensor(x), 2)]
    kept = [a.copy() for a in start]
    res = fit_em(torch.tensor(x), 2, init=start, tol=1e-6, max_iter=1000)
    assert res.n_iter[:2].max() < res.n_iter[2:].min()
    for a, b in zip(start, kept):
        np.testing.assert_array_equal(a, b)


def test_em_on_a_chain_of_identical_points_stays_finite():
    x = np.zeros((1, 20, 2))
    res = fit_em(torch.tensor(x), 2, tol=1e-3, max_iter=50)
    assert torch.isfinite(res.covs).all() and torch.isfinite(res.means).all()


# ---------------------------------------------------------------------------- sampling
def test_sampling_reproduces_weights_means_and_covariances():
    w = np.array([[0.3, 0.7]])
    m = np.array([[[-5.0, 1.0], [4.0, -2.0]]])
    s = np.array([[[[1.0, 0.5], [0.5, 2.0]], [[0.3, -0.1], [-0.1, 0.2]]]])
    n = 200_000
    x = sample_mixture(w, m, s, n, np.random.default_rng(0))[0]
    left = x[:, 0] < 0  # the components are 9 apart on the first axis
    frac = left.mean()
    assert abs(frac - 0.3) < Z * np.sqrt(0.3 * 0.7 / n)
    for k, sel in enumerate([left, ~left]):
        pts = x[sel]
        se = np.sqrt(np.diag(s[0, k]) / len(pts))
        assert np.all(np.abs(pts.mean(0) - m[0, k]) < Z * se)
        # the sample variance of N points has standard error sqrt(2/(N-1)) sigma^2
        assert np.all(np.abs(pts.var(0) - np.diag(s[0, k])) < Z * np.sqrt(2 / len(pts)) * np.diag(s[0, k]))


def test_sampling_uses_one_draw_on_the_rng():
    params = source_params(two_clusters())
    fam = GMMFamily()
    rng = np.random.default_rng(4)
    fam.sample(params, 50, rng)
    ref = np.random.default_rng(4)
    ref.standard_normal((1, 50, 3))
    assert rng.standard_normal() == ref.standard_normal()


# ------------------------------------------------------------------------ L2 distance
def test_l2_closed_form_matches_integration_on_a_grid():
    a = GMMParams(np.array([0.4, 0.6]), np.array([[-1.0, 0.0], [1.5, 0.5]]),
                  np.array([[[0.5, 0.2], [0.2, 0.4]], [[0.3, 0.0], [0.0, 0.8]]]))
    b = GMMParams(np.array([1.0]), np.array([[0.2, 0.1]]), np.array([[[1.2, -0.3], [-0.3, 0.9]]]))
    h = 0.02
    g = np.arange(-8, 8, h)
    X, Y = np.meshgrid(g, g)
    pts = np.stack([X, Y], -1)
    pa = mixture_pdf(pts, a.weights, a.means, a.covs)
    pb = mixture_pdf(pts, b.weights, b.means, b.covs)
    assert pa.sum() * h * h == pytest.approx(1.0, abs=1e-6)
    numeric = ((pa - pb) ** 2).sum() * h * h
    closed = l2_squared(a.weights, a.means, a.covs, b.weights, b.means, b.covs)
    # the midpoint rule on a smooth, decaying integrand: error far below 1e-6 here
    assert closed == pytest.approx(numeric, rel=1e-6)
    assert l2_squared(a.weights, a.means, a.covs, a.weights, a.means, a.covs) == pytest.approx(0.0, abs=1e-14)


def test_l2_of_a_narrow_gaussian_grows_like_one_over_its_variance():
    # ||N(0, s^2 I)||^2 = 1 / (4 pi s^2) in two dimensions
    for s2 in (1e-2, 1e-4):
        one = (np.array([1.0]), np.zeros((1, 2)), s2 * np.eye(2)[None])
        far = (np.array([1.0]), np.full((1, 2), 100.0), np.eye(2)[None])
        assert l2_squared(*one, *far) == pytest.approx(1 / (4 * np.pi * s2) + 1 / (4 * np.pi), rel=1e-9)
    assert gaussian_overlap(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2)) == pytest.approx(1 / (4 * np.pi))


# --------------------------------------------------------------------- family + engine
def test_family_fits_recover_the_real_mixture():
    src = two_clusters()
    x = src.sample(4, 4000, np.random.default_rng(0))
    p = GMMFamily().fit(GMMPoints(x))
    n_k = 2000  # points per component
    for k in range(2):
        se = np.sqrt(np.diag(src.covs[k]) / n_k)
        assert np.all(np.abs(p.means[:, k] - src.means[k]) < Z * se)
    assert np.all(np.abs(p.weights - 0.5) < Z * np.sqrt(0.25 / 4000))


def test_engine_runs_the_family_with_replace_and_accumulate():
    fam = GMMFamily(tol=1e-4)
    kw = dict(generations=4, samples=30, chains=3, seed=1, progress=False)
    rep = run_generations(fam, two_clusters(), Replace(), **kw)
    acc = run_generations(fam, two_clusters(), Accumulate(), **kw)
    np.testing.assert_array_equal(rep["means"][0], acc["means"][0])  # generation 0: same real data
    assert rep["covs"].shape == (5, 3, 2, 2, 2)
    assert np.all(np.diff(rep["means"][..., 0], axis=-1) >= 0)  # components ordered by first coordinate
    # generation 1 of replace is fitted to the synthetic set drawn from generation 0
    x1 = fam.sample_points(GMMParams(rep["weights"][0], rep["means"][0], rep["covs"][0]), 30,
                           generation_rng(1, 1, "synthetic"))
    np.testing.assert_allclose(fam.fit(GMMPoints(x1)).means, rep["means"][1], atol=1e-12)
    assert (GMMPoints(x1) + GMMPoints(x1)).n == 60


def test_component_log_det_follows_the_per_component_theory():
    """Far-apart clusters: given the fitted weights, each component's log det drifts by
    the sum of single-Gaussian steps; the mean over chains is within Z standard errors.
    Chains are kept by their weights alone (every count >= 10), which is allowed: the
    counts do not depend on the covariance noise."""
    M, G, C = 200, 10, 300
    h = run_generations(GMMFamily(tol=1e-6), two_clusters(40.0), Replace(), generations=G, samples=M, chains=C,
                        seed=5, progress=False)
    keep = (np.rint(h["weights"][1:] * M) >= 10).all(axis=(0, 2))
    assert keep.mean() > 0.9
    log_det = np.linalg.slogdet(h["covs"][:, keep])[1]  # (G+1, C', K)
    drift = log_det[1:] - log_det[0]
    mean, var = tg.conditional_log_det_drift(h["weights"][1:, keep], M, 2)
    err = (drift - mean).mean(1)  # (G, K)
    se = np.sqrt(var.mean(1) / keep.sum())
    assert np.all(np.abs(err) < Z * se)
    assert np.all(drift.mean(1)[-1] < 0)


def test_log_det_step_moments_against_chi_square_draws():
    n, d, R = 25, 2, 100_000
    rng = np.random.default_rng(0)
    steps = sum(np.log(rng.chisquare(n - i, R)) for i in range(1, d + 1)) - d * np.log(n)
    assert abs(steps.mean() - tg.log_det_step_mean(n, d)) < Z * np.sqrt(tg.log_det_step_var(n, d) / R)
    assert tg.log_det_step_var(n, d) == pytest.approx(sum(polygamma(1, (n - i) / 2) for i in (1, 2)))
    assert tg.log_det_step_mean(10_000, 2) == pytest.approx(-5 / 10_000, rel=1e-2)


# ------------------------------------------------------------------------ experiments
TINY = chapter.Config(samples=40, generations=8, chains=3, snapshots=(0, 4, 8), scaling_samples=(20, 40),
                      scaling_horizon=0.2, scaling_chains=2, accumulate_generations=3, accumulate_chains=2, tol=1e-4)
CPU = protocol.Run(device="cpu", progress=False)


def test_chapter_experiments_and_summary_on_a_tiny_config(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setitem(chapter.PROFILES, "quick", TINY)
    monkeypatch.setenv("CI", "true")
    cfg, results, figs = protocol.run_chapter("gmm", "quick", {"seed": 0}, CPU)
    assert cfg.samples == 40 and set(figs) == {"gmm_snapshots", "gmm_collapse", "gmm_kept_and_lost",
                                               "gmm_pace", "gmm_replace_vs_accumulate", "gmm_one_blob"}
    assert set(figs) == set(figures.FIGURES)
    assert results["one_blob"]["chains"] == TINY.one_blob_chains and results["claims"]
    r = results["recursion"]
    assert r["generations"] == 8 and r["chains"] == 3 and r["median_l2_final"] > r["median_l2_start"]
    assert set(results["policies"]) == {"replace", "accumulate"} and set(results["scaling"]) == {"20", "40"}
    assert "profile" not in results  # the command line writes it beside the chapter's numbers


def test_cpu_profile_is_the_authors_recursion_with_their_one_blob_beside_it():
    cpu = protocol.load("gmm", "cpu")
    assert (cpu.samples, cpu.generations, cpu.snapshots) == (1000, 2049, (0, 50, 100, 150, 200, 350, 2000))
    assert cpu.reg_covar == GMMFamily().reg_covar == 1e-6 and cpu.control_chains >= 8  # the notebook's, and the control
    assert cpu.chains >= 32 and cpu.one_blob_chains >= 16 and cpu.real_data == "two_clusters"
    assert (cpu.tol, cpu.max_iter) == (1e-5, 2000)
    assert not hasattr(cpu, "device")  # where it runs is the Run's, outside the run's identity
    assert cpu.family("cpu").device == "cpu" and cpu.family().device is None
    with pytest.raises(ValueError, match="^device='tpu' is not allowed"):
        protocol.Run(device="tpu")
    assert cpu.accumulate_generations >= 1.5 * cpu.accumulate_samples  # both policies run for 1.5 M generations
    with pytest.raises(ValueError, match="one_blob_chains"):
        protocol.load("gmm", "cpu", {"one_blob_chains": -1})


def test_cpu_code_path_at_toy_size_gives_every_claim_and_figure():
    """The cpu config's functions end to end, with small overrides (the page's calls)."""
    import matplotlib

    matplotlib.use("Agg")
    cfg = protocol.load("gmm", "cpu", dict(samples=40, generations=60, chains=6, snapshots=(0, 30, 60),
                                           scaling_samples=(20, 40), scaling_horizon=0.5, scaling_chains=3,
                                           accumulate_generations=3, accumulate_chains=2, one_blob_chains=2,
                                           tol=1e-4))
    res = chapter.run(cfg, CPU)
    rec, blob = res.recursion, res.one_blob
    assert blob.std.shape == (61, 2, 2) and blob.truth.weights.shape == (1, 1)
    out = chapter.claims(res)
    assert len(out) >= 8 and all(isinstance(c.holds, bool) and c.evidence for c in out.values())
    assert list(out)[:2] == ["l2_grows", "std_shrinks"] and "one_blob_collapses" in out
    s = chapter.summary(res)
    assert s["one_blob"]["real_data"] == "one_blob" and len(s["claims"]) == len(out)
    assert [c["statement"] for c in s["claims"]] == [c.statement for c in out.values()]
    kl = rec.kept_vs_lost
    assert kl is rec.kept_vs_lost  # computed once, read by the figure, the page, the summary and the claims
    assert 0 <= kl.check_generation <= 60 and kl.check_chains >= 2 and np.isfinite(kl.check_stderr)
    assert kl.reg_covar_level == tg.reg_covar_level(40, 0.5, GMMFamily().reg_covar) == s["kept_vs_lost"][
        "reg_covar_level"]
    assert kl.check_generation <= rec.samples  # the proposition alone is checked where the regulariser is small
    assert res.control.reg_covar == cfg.control_reg_covar and res.control.std.shape[1] == cfg.control_chains
    assert set(res.component_theory) == {cfg.reg_covar, cfg.control_reg_covar}
    assert {"reg_covar_sets_floor", "floor_matches_recursion"} <= set(out)
    assert np.all(rec.std_trace >= rec.std * (1 - 1e-12))  # sqrt(tr/d) >= det^(1/2d): AM-GM on the eigenvalues
    np.testing.assert_allclose(rec.l2_to_first[0], 0.0, atol=1e-9)  # the notebook's reference is the first fit
    for fig in (figures.kept_and_lost(res), figures.snapshot_grid(res, part="one_blob")):
        assert fig.axes
    assert chapter.one_blob_recursion(protocol.load("gmm", "cpu", {"one_blob_chains": 0})) is None


def test_figures_of_a_part_that_did_not_run_are_left_out():
    """Without the one-blob run its figure is None (the command line writes no file for
    it), and a part that is not a recursion is refused by name."""
    import matplotlib

    matplotlib.use("Agg")
    res = chapter.run(replace(TINY, one_blob_chains=0, accumulate_chains=1, chains=2), CPU)
    assert res.one_blob is None and figures.one_blob(res) is None
    assert figures.snapshot_grid(res, part="one_blob") is None
    assert "one_blob_collapses" not in chapter.claims(res) and chapter.summary(res)["one_blob"] is None
    assert set(protocol.draw("gmm", res)) == set(figures.FIGURES) - {"gmm_one_blob"}
    with pytest.raises(ValueError, match="^part='scaling' is not allowed"):
        figures.collapse_curves(res, part="scaling")


def test_kept_and_lost_split_the_chains_by_their_weights():
    w = np.full((4, 3, 2), 0.5)
    w[2:, 1] = [0.0, 1.0]  # chain 1 loses the left cluster at generation 2
    w[1:, 2] = [0.05, 0.95]  # chain 2 keeps both, but a component draws 5 of 100 points
    means = np.broadcast_to(np.array([-3.0, 3.0])[None, None, :, None] * [1, 0], (4, 3, 2, 2)).copy()
    means[2:, 1] = [[3.0, 0.0], [3.1, 0.0]]  # both components on the right cluster
    covs = np.broadcast_to(np.eye(2), (4, 3, 2, 2, 2)).copy()
    p = GMMParams(w, means, covs)
    rec = chapter.RecursionResult(100, np.arange(4), p, np.zeros((4, 3)), p, np.zeros((1, 2)), {},
                                  GMMFamily().reg_covar)
    np.testing.assert_array_equal(rec.lost_by[:, 1], [False, False, True, True])
    np.testing.assert_array_equal(rec.lost_at[:, 1], [False, False, True, True])
    np.testing.assert_array_equal(rec.kept_both, [[True, True, True], [True, True, False],
                                                  [True, False, False], [True, False, False]])


def test_wright_fisher_loss_distribution_and_reg_covar_level():
    cdf = tg.cluster_loss_cdf(100, 400)
    assert cdf[0] == 0 and np.all(np.diff(cdf) >= -1e-15) and cdf[-1] > 0.95
    # the mean absorption time sum_t P(T > t) against the diffusion's 2 M ln 2 (exact to O(1/M): 2 % at M = 100)
    assert (1 - tg.cluster_loss_cdf(100, 3000)).sum() == pytest.approx(200 * np.log(2), rel=0.02)
    assert tg.cluster_loss_median(100) == int(np.argmax(cdf >= 0.5))
    assert 1.0 < tg.cluster_loss_median(1000) / 1000 < 1.15
    # v* = r / (1 - exp(m/d)) ~ r 2N/(d+3), and the iterated std settles there
    assert tg.reg_covar_floor(1000, 0.5, 2, 1e-6) == pytest.approx(np.sqrt(1e-6 * 1000 / 5), rel=0.02)
    assert tg.typical_std([20_000], 1000, 0.5, 2, 0.8, 1e-6)[0] == pytest.approx(
        tg.reg_covar_floor(1000, 0.5, 2, 1e-6), rel=1e-3)
    with pytest.raises(ValueError, match="samples=1"):
        tg.cluster_loss_cdf(1, 3)


def test_wright_fisher_loss_is_exact_for_the_smallest_chains():
    """Two and three points, computed by hand. M = 2 from one point each: the next draw
    is 0, 1 or 2 with probabilities 1/4, 1/2, 1/4, so P(lost by t) = 1 - (1/2)^t. M = 3
    from one point: the chain stays in {1, 2} with probability 12/27 + 6/27 = 2/3 from
    either state, so 1 - (2/3)^t; the median is the first t where half are lost."""
    np.testing.assert_allclose(tg.cluster_loss_cdf(2, 3), [0.0, 0.5, 0.75, 0.875], rtol=1e-12)
    np.testing.assert_allclose(tg.cluster_loss_cdf(3, 4, start=1 / 3), 1 - (2 / 3) ** np.arange(5), rtol=1e-12)
    assert tg.cluster_loss_median(2) == 1  # exactly half are lost at t = 1
    assert tg.cluster_loss_median(3, start=1 / 3) == 2  # 1/3 by t = 1, 5/9 by t = 2
    for start in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=rf"^start={start!r} is not allowed: the starting weight must be in "
                                             r"\(0, 1\)$"):
            tg.cluster_loss_cdf(10, 3, start=start)
    with pytest.raises(ValueError, match=r"^samples=1 is not allowed: the Wright-Fisher chain needs M >= 2$"):
        tg.cluster_loss_median(1)


def test_typical_std_iterates_the_shrinking_and_the_regulariser():
    """v_t = v_(t-1) exp(m / d) + reg_covar per axis from v_0 = std0^2, step by step; at
    least d + 1 points a component (a d-dimensional covariance needs them); generations
    may come as floats (a plot's axis) and in any order; no regulariser by default."""
    n, d, std0, r = 5, 1, 0.8, 0.01
    shrink = np.exp(tg.log_det_step_mean(n, d) / d)
    v = [std0 ** 2]
    for _ in range(3):
        v.append(v[-1] * shrink + r)
    np.testing.assert_allclose(tg.typical_std([0, 1, 2, 3], 10, 0.5, d, std0, r), np.sqrt(v), rtol=1e-12)
    np.testing.assert_allclose(tg.typical_std(np.array([3.0, 0.0]), 10, 0.5, d, std0, r), np.sqrt([v[3], v[0]]),
                               rtol=1e-12)
    np.testing.assert_allclose(tg.typical_std([2], 10, 0.5, d, std0), std0 * shrink, rtol=1e-12)
    # 2 points of a 2-d component count as 3, as do 3 points
    np.testing.assert_allclose(tg.typical_std([1], 6, 0.5, 2, std0, r),
                               np.sqrt(std0 ** 2 * np.exp(tg.log_det_step_mean(3, 2) / 2) + r), rtol=1e-12)
    np.testing.assert_allclose(tg.typical_std([4], 4, 0.5, 2, std0, r), tg.typical_std([4], 6, 0.5, 2, std0, r),
                               rtol=1e-12)
    assert tg.reg_covar_floor(4, 0.5, 2, r) == tg.reg_covar_floor(6, 0.5, 2, r)
    assert tg.reg_covar_floor(4, 0.5, 2, r) != tg.reg_covar_floor(8, 0.5, 2, r)


def test_profiles_scale_samples_and_snapshots():
    quick, gpu = protocol.load("gmm", "quick"), protocol.load("gmm", "gpu")
    assert gpu.samples == 1000 and gpu.generations == 2000
    assert gpu.snapshots == (0, 50, 100, 150, 200, 350, 2000)
    assert quick.samples < gpu.samples and quick.generations < gpu.generations


@pytest.mark.parametrize("setting, value", [
    ("samples", 5), ("generations", 0), ("chains", 0), ("real_data", "three_blobs"), ("tol", 0.0),
    ("snapshots", (0, 9999)), ("accumulate_generations", 5000), ("accumulate_chains", 100),
    ("scaling_samples", (2,)), ("separation", -1.0), ("accumulate_samples", 4),
])
def test_bad_settings_are_rejected_with_their_name(setting, value):
    with pytest.raises(ValueError, match=setting) as err:
        replace(chapter.PROFILES["gpu"], **{setting: value})
    assert "not allowed" in str(err.value)


# ------------------------------------------------------------------ the family's settings
def test_one_component_fit_is_the_sample_mean_and_covariance():
    """K = 1: EM has one fixed point, the sample mean and the maximum-likelihood (divide by
    n) covariance plus reg_covar on the diagonal, computed here with NumPy."""
    x = clustered(3, 40, 6)
    fam = GMMFamily(n_components=1, reg_covar=0.1, device="cpu")
    p = fam.fit(fam.summarize(x))
    centred = x - x.mean(1, keepdims=True)
    np.testing.assert_allclose(p.weights, 1.0)
    np.testing.assert_allclose(p.means[:, 0], x.mean(1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.covs[:, 0], np.einsum("cni,cnj->cij", centred, centred) / 40 + 0.1 * np.eye(2),
                               rtol=0, atol=1e-12)


def test_fit_passes_its_settings_to_em_and_orders_components_by_first_coordinate():
    """The family's fit is fit_em with the family's K, tol, max_iter and reg_covar, the
    components sorted by the first coordinate of their means; settings away from the
    defaults change the fit, so a setting that is not passed on shows."""
    x = clustered(4, 200, 7, separation=1.0)
    settings = dict(n_components=3, tol=0.5, max_iter=2, reg_covar=0.05)
    got = GMMFamily(**settings, device="cpu").fit(GMMPoints(x))
    res = fit_em(torch.tensor(x), 3, tol=0.5, max_iter=2, reg_covar=0.05)
    w, m, s = (t.numpy() for t in (res.weights, res.means, res.covs))
    order = np.argsort(m[..., 0], axis=1)
    np.testing.assert_array_equal(got.weights, np.take_along_axis(w, order, 1))
    np.testing.assert_array_equal(got.means, np.take_along_axis(m, order[..., None], 1))
    np.testing.assert_array_equal(got.covs, np.take_along_axis(s, order[..., None, None], 1))
    assert np.all(np.diff(got.means[..., 0], axis=1) > 0)
    default = GMMFamily(n_components=3, device="cpu").fit(GMMPoints(x))
    for name, value in settings.items():
        if name == "n_components":
            continue
        one = GMMFamily(n_components=3, device="cpu", **{name: value}).fit(GMMPoints(x))
        assert not np.allclose(one.covs, default.covs), name


def test_points_go_to_the_chosen_device_and_dtype(monkeypatch):
    """device=None takes runtime.device() (CUDA when present); an explicit device wins;
    dtype picks the tensor type. runtime.device is replaced by torch's "meta" device, which
    stands for any device other than the CPU."""
    from collapse_lib import runtime

    monkeypatch.setattr(runtime, "device", lambda: torch.device("meta"))
    x = clustered(1, 10, 8)
    assert GMMFamily()._torch(x).device.type == "meta"
    assert GMMFamily(device="cpu")._torch(x).device.type == "cpu"
    assert GMMFamily(device="cpu")._torch(x).dtype == torch.float64
    assert GMMFamily(device="cpu", dtype="float32")._torch(x).dtype == torch.float32


def test_one_blob_is_the_authors_standard_normal():
    """make_blobs(centers=[[0, 0]], cluster_std=1): one isotropic unit Gaussian at the origin."""
    from collapse_lib.families.gmm import one_blob

    src = one_blob()
    np.testing.assert_array_equal(src.weights, [1.0])
    np.testing.assert_array_equal(src.means, [[0.0, 0.0]])
    np.testing.assert_array_equal(src.covs, [np.eye(2)])


@pytest.mark.parametrize("kw", [dict(n_components=0), dict(dim=0), dict(tol=-1.0), dict(max_iter=0),
                                dict(reg_covar=-1.0), dict(dtype="float16"), dict(device="tpu")])
def test_bad_family_settings_are_rejected(kw):
    (name, value), = kw.items()
    with pytest.raises(ValueError, match=rf"^{name}={value!r} is not allowed"):
        GMMFamily(**kw)


def test_smallest_family_settings_are_allowed():
    """One dimension, one EM iteration, no covariance regularisation, and the two devices
    (constructing a CUDA family needs no GPU) are all valid settings."""
    for kw in (dict(dim=1), dict(max_iter=1), dict(reg_covar=0.0), dict(reg_covar=0), dict(device="cuda"),
               dict(device="cpu"), dict(dtype="float32")):
        GMMFamily(**kw)
    with pytest.raises(ValueError, match="one of 'cpu', 'cuda'"):
        GMMFamily(device="gpu")


def test_two_clusters_are_the_chapters_real_data():
    """Two equally likely tilted clusters whose centres lie `separation` apart on the first
    axis (six units by default, as the chapter says); each covariance symmetric, positive
    definite and tilted (a non-zero correlation)."""
    for sep, src in ((6.0, two_clusters()), (4.0, two_clusters(4.0))):
        np.testing.assert_array_equal(src.weights, [0.5, 0.5])
        np.testing.assert_array_equal(src.means, [[-sep / 2, 0.0], [sep / 2, 0.0]])
        for cov in src.covs:
            np.testing.assert_array_equal(cov, cov.T)
            assert np.all(np.linalg.eigvalsh(cov) > 0) and cov[0, 1] != 0
    with pytest.raises(ValueError, match=r"^separation=-1\.0 is not allowed"):
        two_clusters(-1.0)


def test_engine_refuses_too_few_samples_for_the_mixture():
    with pytest.raises(ValueError, match="samples=5"):
        run_generations(GMMFamily(), two_clusters(), Replace(), generations=2, samples=5, progress=False)


def test_component_recursion_is_the_proposition_plus_the_regulariser():
    """Without the regulariser the simulated recursion's mean log std follows the
    proposition's straight line (within 5 standard errors of 2,000 chains); with it the
    median ends far above the line (after 8 M generations the line is at 0.8 e^-20)."""
    rng = np.random.default_rng(3)
    G, M = 400, 100
    free = tg.component_recursion(M, 0.5, 2, 0.8, 0.0, G, 2000, rng)
    line = tg.expected_log_std(G, M, 0.5, 2, np.log(0.8))
    sd = np.sqrt(G * tg.log_det_step_var(50, 2)) / 4
    assert abs(np.log(free[-1]).mean() - line) < 5 * sd / np.sqrt(2000)
    held = tg.component_recursion(M, 0.5, 2, 0.8, 1e-6, 8 * M, 500, rng)
    assert np.median(held[-1]) > 10 * np.exp(tg.expected_log_std(8 * M, M, 0.5, 2, np.log(0.8)))
    assert tg.reg_covar_level(M, 0.5, 1e-6) == pytest.approx(np.sqrt(1e-6 * 50))
