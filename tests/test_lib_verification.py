"""Chapter 7 pieces: the closed forms of verification and curation against simulation, the
verifier, the settings' validation and the exercise checks.

Every theory-vs-simulation tolerance is Z standard errors of a mean over independent draws
(Z = 5: a correct formula fails with probability below 1e-6); exact identities are checked
to floating-point accuracy."""
import numpy as np
import pytest
from scipy.special import ndtr

from collapse_lib import load
from collapse_lib.exercises import AnswerError
from collapse_lib.exercises import verification as ex
from collapse_lib.experiments import verification as chapter
from collapse_lib.experiments import verification_loops as loops
from collapse_lib.theory import verification as th

Z = 5.0


def se(values):
    return values.std(axis=-1, ddof=1) / np.sqrt(values.shape[-1])


# ------------------------------------------------------------------ closed forms
def test_breakdown_point_is_where_half_the_kept_labels_are_wrong():
    for phi, psi in [(0.9, 0.3), (1.0, 1.0), (0.5, 1.0), (0.2, 0.05)]:
        star = th.breakdown_point(phi, psi)
        assert th.kept_error_rate(star, phi, psi) == pytest.approx(0.5, rel=1e-12)
        assert th.kept_error_rate(star - 1e-3, phi, psi) < 0.5 < th.kept_error_rate(star + 1e-3, phi, psi)
    assert th.breakdown_point(1.0, 1.0) == 0.5  # no verifier: p* = 1/2
    assert np.allclose(th.accuracy_limit([0.2, 0.5, 0.8], 1.0), [ndtr(1.0), 0.5, 1 - ndtr(1.0)])


@pytest.mark.parametrize("n,p_kept,d", [(10, 0.1, 20), (200, 0.45, 5), (1000, 0.6, 20)])
def test_exact_accuracy_matches_the_exact_law_of_the_classifier(n, p_kept, d):
    """The quadrature against Monte Carlo of w = (S/n) mu + g/sqrt(n), S = n - 2 Bin(n, p')."""
    C, rng = 100_000, np.random.default_rng([n, d])
    k = rng.binomial(n, p_kept, C)
    w = rng.standard_normal((C, d)) / np.sqrt(n)
    w[:, 0] += (n - 2 * k) / n
    acc = ndtr(w[:, 0] / np.linalg.norm(w, axis=1))
    assert abs(acc.mean() - th.accuracy_exact(n, p_kept, 1.0, d)) < Z * se(acc)


def test_verified_training_sets_have_the_kept_error_rate_and_the_exact_accuracy():
    """The pipeline (points, generator errors, verifier decisions) against p' and the quadrature."""
    d, phi, psi, p = 8, 0.8, 0.4, 0.6
    mu = np.zeros(d)
    mu[0] = 1.0
    sizes = (5, 50, 400)
    w, share = chapter.verified_training_sets(np.random.default_rng(1), mu, p, phi, psi, sizes, 3000, chunk=500)
    pk = float(th.kept_error_rate(p, phi, psi))
    assert abs(share.mean() - pk) < Z * np.sqrt(pk * (1 - pk) / (3000 * sizes[-1]))
    for i, n in enumerate(sizes):
        acc = chapter.real_accuracy(w[i], mu)
        assert abs(acc.mean() - th.accuracy_exact(n, pk, 1.0, d)) < Z * se(acc), n


def test_tilt_of_a_gaussian_is_its_exponential_reweighting():
    """The closed-form tilts against numerical integration of p(x) e^{r(x)} on a grid."""
    x = np.linspace(-20, 20, 400_001)
    for kind, s, a in [("linear", 0.3, 0.0), ("quadratic", 0.5, 2.0)]:
        for m, v in [(0.0, 1.0), (1.5, 0.3)]:
            dens = np.exp(-(x - m) ** 2 / (2 * v)) * np.exp(s * x if kind == "linear" else -s * (x - a) ** 2 / 2)
            dens /= dens.sum()
            mean = (x * dens).sum()
            tm, tv = th.tilt_map(m, v, kind, s, a)
            assert tm == pytest.approx(mean, abs=1e-8) and tv == pytest.approx(((x - mean) ** 2 * dens).sum(), abs=1e-8)
    # t rounds of the map are the closed form p_0 e^{t r}; no real data leaves the map a pure tilt
    m, v = th.curation_path(6, "quadratic", 0.5, 2.0, 0.0)
    tm, tv = th.tilt_after(np.arange(7), "quadratic", 0.5, 2.0)
    assert np.allclose(m, tm, rtol=1e-12) and np.allclose(v, tv, rtol=1e-12)


def test_curated_choice_has_the_bradley_terry_probabilities():
    """Gumbel-max over K candidates picks candidate k with probability e^{r_k} / sum_j e^{r_j}:
    the library's choice on fixed candidates, counted over many repetitions; and K = 1 keeps
    the one candidate."""
    cfg = chapter.Config(curation_gamma=0.5, curation_target=2.0)
    cand = np.array([-1.0, 0.0, 2.5])
    r = loops.reward(cand, "quadratic", cfg)
    probs = np.exp(r) / np.exp(r).sum()
    C = 30_000
    picks = loops.bradley_terry_choice(np.broadcast_to(r, (C, 3)), np.random.default_rng(5))
    freq = np.bincount(picks, minlength=3) / C
    assert np.all(np.abs(freq - probs) < Z * np.sqrt(probs * (1 - probs) / C))
    one = loops.curated_samples(np.random.default_rng(6), np.zeros(4), np.ones(4), 50, 1, "linear", cfg)
    assert one.shape == (4, 50) and abs(one.mean()) < Z / np.sqrt(200)  # no choice: N(0, 1) draws


# ------------------------------------------------------------------ the loop
def test_verifier_rule_and_the_first_order_constant():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    centre = np.array([1.0, 0.0])
    y = np.array([3.0 + 1.5, 0.9, 1.0 - 1.2])
    assert loops.accepts(x, y, centre, 0.1, 1.0).tolist() == [True, True, False]  # tolerances 1.5, 1.0, 1.1
    # kappa: the truncated variance ratio, against a large sample
    e = np.random.default_rng(0).standard_normal(2_000_000)
    kept = e[np.abs(e) <= 1.0]
    var_se = np.sqrt(((kept**2 - kept.var()) ** 2).mean() / kept.size)
    assert abs(kept.var() - th.truncated_variance_ratio(1.0)) < Z * var_se


def test_loop_follows_its_exact_forms():
    """No verifier: (g+1) e_1 exactly; the biased verifier's mean estimate is theta_c."""
    cfg = chapter.Config(loop_generations=8, loop_chains=1500)
    res = loops.generations(cfg)
    e = res.error["none"]
    assert np.all(np.abs(e.mean(1) - res.theory["none"]) < Z * se(e))
    w = res.final_weights["biased"]
    assert np.all(np.abs(w.mean(0) - res.centre) < Z * se(w.T))
    assert res.theory["unbiased"][0] == pytest.approx(res.one_fit)


# ------------------------------------------------------------------ settings and exercises
@pytest.mark.parametrize("name,value,match", [
    ("step_keep_wrong", 0.0, r"step_keep_wrong=0 is not allowed: it must be a number in \(0, 1\]"),
    ("step_error_rates", (1.5,), r"step_error_rates=1.5 is not allowed: it must be a number in \[0, 1\]"),
    ("step_sizes", (100, 10), r"step_sizes=\(100, 10\) is not allowed: give increasing sizes"),
    ("loop_samples", 11, r"loop_samples=11 is not allowed: it must be an integer >= 12"),
    ("curation_rewards", ("cubic",), r"curation_rewards='cubic' is not allowed"),
    ("curation_real_shares", (1.0,), r"curation_real_shares=1.0 is not allowed: it leaves no curated sample"),
])
def test_bad_settings_are_refused_by_name(name, value, match):
    with pytest.raises(ValueError, match=match):
        load("verification", "quick", {name: value})


def test_exercise_checks_accept_right_and_refuse_wrong_answers(capsys):
    assert ex.check_breakdown_point(0.4375, 0.75)
    with pytest.raises(AnswerError, match="p\\* for phi"):
        ex.check_breakdown_point(0.4375, 0.25)
    with pytest.raises(AnswerError, match="no answer yet"):
        ex.check_breakdown_point(..., 0.75)
    assert ex.check_tilt(4 / 3, 1 / 3)
    with pytest.raises(AnswerError, match="variance after 4 rounds"):
        ex.check_tilt(4 / 3, 1 / 2)
    assert ex.check_verifier(lambda x, y, c, r, s: np.abs(y - x @ c) <= r * np.linalg.norm(x, axis=1) + s)
    with pytest.raises(AnswerError, match="differently"):
        ex.check_verifier(lambda x, y, c, r, s: np.abs(y - x @ c) <= s)
    with pytest.raises(AnswerError, match="no answer yet"):
        ex.check_verifier(lambda x, y, c, r, s: None)


# ------------------------------------------------------------------ the language-model loop
def test_selection_runs_reuse_chapter_4_and_agree_where_they_must(tmp_path, monkeypatch):
    """Chapter 4's loop with each selection at toy size: the best-beam run is chapter 4's own
    run (read back from its run store, the same numbers), every selection shares generation 0,
    and at generation 1, where the generator is generation 0, selecting by the generator's
    perplexity and by generation 0's is the same selection."""
    import dataclasses

    from collapse_lib.experiments import lm, verification_lm
    from collapse_lib.lm.models import TinyGPTConfig
    from collapse_lib.lm.pretrain import PretrainSettings
    from collapse_lib.protocol import Run

    monkeypatch.setenv("COLLAPSE_CACHE", str(tmp_path))
    cfg = dataclasses.replace(lm.PROFILES["quick"], block_size=16, train_blocks=16, test_blocks=16,
                              validation_blocks=8, generations=2, chains=2, epochs_replace=1, epochs_mix=1,
                              generate_batch_size=16, eval_batch_size=16, vocab_size=300,
                              tiny=TinyGPTConfig(n_embd=32, n_layer=1, n_head=2, n_positions=64),
                              pretrain=PretrainSettings(max_chars=20_000, blocks=64, epochs=1),
                              start=("generation0",), decoding=("beam",), regimes=("replace",))
    run = Run(progress=False, root=tmp_path / "runs")
    ch4 = lm.run(cfg, run)
    res = verification_lm.run_neural(cfg, verification_lm.NEURAL_SELECTIONS, run)
    assert res.runs["top"].resumed_from == cfg.generations  # read back, not recomputed
    np.testing.assert_array_equal(res.runs["top"].test_ppl, ch4.regimes["replace"].test_ppl)
    for r in res.runs.values():
        np.testing.assert_array_equal(r.test_ppl[0], ch4.regimes["replace"].test_ppl[0])
    np.testing.assert_array_equal(res.runs["self"].test_ppl[1], res.runs["verifier"].test_ppl[1])
    assert set(res.versus_top) == {"self", "verifier", "random"}
    c = verification_lm.neural_claims(res)
    assert set(c) == {"neural_all_rise", "paper_self_weak", "verifier_beats_top", "random_beats_top"}
    mean, se, d = res.versus_top["random"]
    assert d.shape == (2,) and mean == pytest.approx(d.mean()) and se == pytest.approx(abs(d[0] - d[1]) / 2)


def test_the_tilt_of_a_mixture_is_a_mixture():
    """p0(x) e^(t beta x_1), normalised, integrated on a grid (1-D in x_1: the marginal of a
    Gaussian mixture is a mixture of its components' marginals), against the tilted mixture's
    exact left mass; the trapezoid rule's error on a grid of step 1e-4 that breaks at x_1 = 0 is
    of order 1e-9 relative, far below the tolerance."""
    from scipy.stats import norm

    from collapse_lib.experiments.verification_mixture import left_mass, tilted
    from collapse_lib.families.gmm import source_params, two_clusters

    truth = source_params(two_clusters())
    left, right = np.linspace(-30, 0, 300_001), np.linspace(0, 30, 300_001)  # the grid breaks at x_1 = 0
    sd = np.sqrt(truth.covs[0, :, 0, 0])

    def q(x, t, beta):
        return (truth.weights[0] * norm.pdf(x[:, None], truth.means[0, :, 0], sd)).sum(axis=1) * np.exp(t * beta * x)

    for t, beta in [(0, 0.3), (1, 0.3), (3, 0.3), (2, -0.5)]:
        a, b = np.trapezoid(q(left, t, beta), left), np.trapezoid(q(right, t, beta), right)
        expected = a / (a + b)
        assert left_mass(tilted(truth, beta, t))[0] == pytest.approx(expected, rel=1e-6, abs=1e-12)
