"""The generational engine: policies, vectorised chains against plain per-chain code,
and resuming an interrupted run."""
import numpy as np
import pytest

from collapse_lib import Accumulate, FreshReal, Mix, Replace, RunStore, run_generations
from collapse_lib.families import CategoricalFamily, CategoricalSource, GaussianFamily, GaussianSource
from collapse_lib.policies import subset_points
from collapse_lib.runtime import generation_rng

SANDWICH = np.array([35, 35, 5, 5, 1, 1, 18]) / 100


def record_training_set(params, data, t):
    return {"counts": data.counts, "probs": params.probs}


def categorical_run(policy, generations=6, samples=40, chains=5, seed=3, family=None):
    family = family or CategoricalFamily(7)
    return run_generations(family, CategoricalSource(SANDWICH), policy, generations=generations, samples=samples,
                           chains=chains, seed=seed, record=record_training_set, progress=False)


def synthetic_counts(h, t, n, seed=3, family=None):
    """The synthetic set generation t was given, recomputed from generation t-1."""
    from collapse_lib.families import CategoricalParams

    family = family or CategoricalFamily(7)
    return family.sample(CategoricalParams(h["probs"][t - 1]), n, generation_rng(seed, t, "synthetic")).counts


def real_labels(chains=5, samples=40, seed=3):
    return CategoricalSource(SANDWICH).sample(chains, samples, generation_rng(seed, 0, "real"))


def test_generation_zero_is_fitted_to_the_real_data():
    h = categorical_run(Replace())
    real = CategoricalFamily(7).summarize(real_labels()).counts
    np.testing.assert_array_equal(h["counts"][0], real)
    np.testing.assert_allclose(h["probs"][0], real / 40)


def test_replace_trains_on_the_last_synthetic_set_only():
    h = categorical_run(Replace())
    for t in range(1, 7):
        np.testing.assert_array_equal(h["counts"][t], synthetic_counts(h, t, 40))
        assert (h["counts"][t].sum(1) == 40).all()


def test_accumulate_keeps_the_real_data_and_every_synthetic_set():
    h = categorical_run(Accumulate())
    for t in range(1, 7):
        np.testing.assert_array_equal(h["counts"][t], h["counts"][t - 1] + synthetic_counts(h, t, 40))
    assert (h["counts"][6].sum(1) == 40 * 7).all()


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_mix_keeps_a_random_fraction_of_the_original_real_data(fraction):
    h = categorical_run(Mix(fraction))
    k = round(fraction * 40)
    real = real_labels()
    real_counts = CategoricalFamily(7).summarize(real).counts
    for t in range(1, 7):
        kept = CategoricalFamily(7).summarize(subset_points(real, k, generation_rng(3, t, "policy"))).counts
        np.testing.assert_array_equal(h["counts"][t], kept + synthetic_counts(h, t, 40 - k))
        assert (kept <= real_counts).all() and (kept.sum(1) == k).all()


def test_fresh_real_draws_new_real_samples_each_generation():
    h = categorical_run(FreshReal(0.25))
    for t in range(1, 7):
        fresh = CategoricalSource(SANDWICH).sample(5, 10, generation_rng(3, t, "policy"))
        fresh_counts = CategoricalFamily(7).summarize(fresh).counts
        np.testing.assert_array_equal(h["counts"][t], fresh_counts + synthetic_counts(h, t, 30))


def test_mix_with_no_real_data_is_replace_and_all_real_never_moves():
    np.testing.assert_array_equal(categorical_run(Mix(0.0))["probs"], categorical_run(Replace())["probs"])
    h = categorical_run(Mix(1.0))
    np.testing.assert_array_equal(h["probs"], np.broadcast_to(h["probs"][0], h["probs"].shape))


def test_subset_points_draws_without_replacement():
    points = np.arange(2 * 50).reshape(2, 50, 1)
    sub = subset_points(points, 20, np.random.default_rng(0))
    assert sub.shape == (2, 20, 1)
    for c in range(2):
        assert len(set(sub[c, :, 0])) == 20 and set(sub[c, :, 0]) <= set(points[c, :, 0])


# ---------------------------------------------------------------- vectorised = per chain
# The Gaussian family draws a synthetic set either as points (sampling="points", the
# authors' way) or as its exact summary (sampling="stats", the default). The per-point
# tests below check the first against textbook NumPy on each chain's points; the
# per-chain tests after them check the second against plain per-chain code of the
# same construction; tests/test_lib_theory.py checks that both have the same law.
@pytest.mark.parametrize("variance", ["unbiased", "mle"])
def test_vectorised_gaussian_chains_equal_one_chain_at_a_time(variance):
    """Each chain alone, with textbook NumPy on 1-D arrays (mean, var(ddof)), gives the
    numbers of the vectorised run. A chain's draws are its row of the generation's
    random block."""
    C, M, T, seed = 6, 15, 25, 11
    h = run_generations(GaussianFamily(1, variance, sampling="points"), GaussianSource(1.5, 4.0), Replace(),
                        generations=T, samples=M, chains=C, seed=seed, progress=False)
    ddof = 1 if variance == "unbiased" else 0
    for c in range(C):
        real = 1.5 + 2.0 * generation_rng(seed, 0, "real").standard_normal((C, M, 1))[c, :, 0]
        mu, var = real.mean(), real.var(ddof=ddof)
        means, variances = [mu], [var]
        for t in range(1, T + 1):
            x = mu + np.sqrt(var) * generation_rng(seed, t, "synthetic").standard_normal((C, M, 1))[c, :, 0]
            mu, var = x.mean(), x.var(ddof=ddof)
            means.append(mu)
            variances.append(var)
        np.testing.assert_allclose(h["mean"][:, c, 0], means, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(h["cov"][:, c, 0, 0], variances, rtol=1e-9, atol=1e-300)


def test_vectorised_accumulate_equals_one_chain_at_a_time():
    C, M, T, seed = 4, 10, 12, 5
    h = run_generations(GaussianFamily(1, sampling="points"), GaussianSource(0.0, 1.0), Accumulate(), generations=T,
                        samples=M, chains=C, seed=seed, progress=False)
    for c in range(C):
        data = generation_rng(seed, 0, "real").standard_normal((C, M, 1))[c, :, 0]
        mu, var = data.mean(), data.var(ddof=1)
        for t in range(1, T + 1):
            x = mu + np.sqrt(var) * generation_rng(seed, t, "synthetic").standard_normal((C, M, 1))[c, :, 0]
            data = np.concatenate([data, x])
            mu, var = data.mean(), data.var(ddof=1)
            assert h["mean"][t, c, 0] == pytest.approx(mu, rel=1e-9, abs=1e-12)
            assert h["cov"][t, c, 0, 0] == pytest.approx(var, rel=1e-9)


def test_vectorised_2d_gaussian_equals_one_chain_at_a_time():
    C, M, T, seed, d = 3, 12, 8, 2, 2
    cov0 = np.array([[2.0, 0.6], [0.6, 1.0]])
    src = GaussianSource([0.0, 1.0], cov0)
    h = run_generations(GaussianFamily(d, sampling="points"), src, Replace(), generations=T, samples=M, chains=C,
                        seed=seed, progress=False)
    w, v = np.linalg.eigh(cov0)
    root0 = (v * np.sqrt(w)) @ v.T
    for c in range(C):
        x = np.array([0.0, 1.0]) + generation_rng(seed, 0, "real").standard_normal((C, M, d))[c] @ root0
        for t in range(T + 1):
            if t:
                w, v = np.linalg.eigh(cov)
                z = generation_rng(seed, t, "synthetic").standard_normal((C, M, d))[c]
                x = mu + z @ (v * np.sqrt(np.clip(w, 0, None))) @ v.T
            mu, cov = x.mean(0), np.cov(x, rowvar=False)
            np.testing.assert_allclose(h["mean"][t, c], mu, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(h["cov"][t, c], cov, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("variance", ["unbiased", "mle"])
@pytest.mark.parametrize("policy", [Replace(), Accumulate()])
def test_summary_sampled_gaussian_chains_equal_one_chain_at_a_time(variance, policy):
    """sampling="stats", one chain at a time in scalar code: a synthetic set of M points
    has mean mu + sd z / sqrt(M) and centred sum of squares var chi2_{M-1}, with z and
    chi2 the chain's entries of the generation's normal and chi-square blocks; pooled
    with the previous training set by the textbook update when accumulating."""
    C, M, T, seed = 6, 15, 25, 11
    h = run_generations(GaussianFamily(1, variance), GaussianSource(1.5, 4.0), policy, generations=T,
                        samples=M, chains=C, seed=seed, progress=False)
    dof = (lambda n: n - 1) if variance == "unbiased" else (lambda n: n)
    for c in range(C):
        real = 1.5 + 2.0 * generation_rng(seed, 0, "real").standard_normal((C, M, 1))[c, :, 0]
        n, mu, ss = M, real.mean(), np.sum((real - real.mean()) ** 2)
        var = ss / dof(n)
        means, variances = [mu], [var]
        for t in range(1, T + 1):
            rng = generation_rng(seed, t, "synthetic")
            z = rng.standard_normal((C, 1))[c, 0]
            chi2 = rng.chisquare(M - 1, size=(C, 1))[c, 0]
            new_mu, new_ss = mu + np.sqrt(var / M) * z, var * chi2
            if policy.name == "accumulate":
                total = n + M
                mu, ss = (n * mu + M * new_mu) / total, ss + new_ss + (new_mu - mu) ** 2 * n * M / total
                n = total
            else:
                mu, ss = new_mu, new_ss
            var = ss / dof(n)
            means.append(mu)
            variances.append(var)
        np.testing.assert_allclose(h["mean"][:, c, 0], means, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(h["cov"][:, c, 0, 0], variances, rtol=1e-9, atol=1e-300)


def test_summary_sampled_3d_gaussian_equals_bartlett_one_chain_at_a_time():
    """sampling="stats" in three dimensions: per chain, the scatter matrix is R A A^T R
    with R the symmetric root of the fitted covariance and A Bartlett's lower-triangular
    factor (sqrt(chi2_{M-1-i}) on the diagonal, normals below), built entry by entry."""
    C, M, T, seed, d = 4, 9, 10, 6, 3
    cov0 = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    src = GaussianSource([0.0, 1.0, -1.0], cov0)
    h = run_generations(GaussianFamily(d), src, Replace(), generations=T, samples=M, chains=C, seed=seed,
                        progress=False)
    for c in range(C):
        mu, cov = h["mean"][0, c], h["cov"][0, c]
        for t in range(1, T + 1):
            rng = generation_rng(seed, t, "synthetic")
            z = rng.standard_normal((C, d + d * (d - 1) // 2))[c]
            chi2 = rng.chisquare(M - 1 - np.arange(d), size=(C, d))[c]
            w, v = np.linalg.eigh(cov)
            root = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
            a = np.zeros((d, d))
            k = d
            for i in range(d):
                a[i, i] = np.sqrt(chi2[i])
                for j in range(i):
                    a[i, j] = z[k]
                    k += 1
            mu = mu + root @ z[:d] / np.sqrt(M)
            cov = root @ a @ a.T @ root / (M - 1)
            np.testing.assert_allclose(h["mean"][t, c], mu, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(h["cov"][t, c], cov, rtol=1e-8, atol=1e-12)


def test_gaussian_family_rejects_an_unknown_sampling_and_draws_points_when_n_is_small():
    with pytest.raises(ValueError, match="sampling='exact'.*stats.*points"):
        GaussianFamily(1, sampling="exact")
    from collapse_lib.families.gaussian import GaussianParams, sample_stats

    params = GaussianParams(np.zeros((3, 2)), np.broadcast_to(np.eye(2), (3, 2, 2)).copy())
    with pytest.raises(ValueError, match="n=2"):
        sample_stats(params.mean, params.cov, 2, np.random.default_rng(0))
    # n <= d: the summary of n points has rank n - 1, which the points give exactly
    two = GaussianFamily(2).sample(params, 2, np.random.default_rng(0))
    assert two.n == 2 and np.all(np.linalg.matrix_rank(two.scatter) == 1)
    none = GaussianFamily(2).sample(params, 0, np.random.default_rng(0))
    assert none.n == 0 and not np.any(none.scatter) and (none + two).n == 2


@pytest.mark.parametrize("family", [CategoricalFamily(7), CategoricalFamily(7, temperature=0.6, top_p=0.9)])
@pytest.mark.parametrize("policy", [Replace(), Mix(0.2)])
def test_vectorised_categorical_equals_chain_by_chain_code(family, policy):
    """Per generation, each chain is processed alone with plain code (bincount-free
    counting, per-chain decoding and ``multinomial``), drawing in chain order from the
    generation's stream: the results equal the vectorised run."""
    from collapse_lib.decoding import decode

    C, M, T, seed = 5, 30, 15, 9
    h = run_generations(family, CategoricalSource(SANDWICH), policy, generations=T, samples=M, chains=C, seed=seed,
                        record=record_training_set, progress=False)
    real = real_labels(C, M, seed)
    probs = [np.array([np.sum(real[c] == k) for k in range(7)]) / M for c in range(C)]
    np.testing.assert_allclose(h["probs"][0], probs)
    k_real = round(getattr(policy, "real_fraction", 0.0) * M)
    for t in range(1, T + 1):
        rng_syn = generation_rng(seed, t, "synthetic")
        rng_pol = generation_rng(seed, t, "policy")
        keys = rng_pol.random((C, M)) if k_real else None
        new = []
        for c in range(C):
            q = decode(probs[c], family.temperature, family.top_p, family.top_k)
            counts = rng_syn.multinomial(M - k_real, q)
            if k_real:
                kept = real[c][np.argsort(keys[c])[:k_real]]
                counts = counts + np.array([np.sum(kept == k) for k in range(7)])
            new.append(counts / M)
        probs = new
        np.testing.assert_allclose(h["probs"][t], probs, rtol=1e-12)


# ---------------------------------------------------------------------------- resuming
class Interrupt(Exception):
    pass


def interrupt_at(k):
    def callback(t, params):
        if t == k:
            raise Interrupt

    return callback


@pytest.mark.parametrize("policy", [Replace(), Accumulate(), Mix(0.3), FreshReal(0.3)])
def test_interrupted_run_resumes_with_the_same_final_numbers(tmp_path, policy):
    kw = dict(generations=20, samples=25, chains=50, seed=4, progress=False)
    family, source = GaussianFamily(1), GaussianSource(0.0, 1.0)
    full = run_generations(family, source, policy, **kw)

    store = RunStore(tmp_path / "run", {"policy": repr(policy), **kw})
    with pytest.raises(Interrupt):
        run_generations(family, source, policy, store=store, callback=interrupt_at(7), **kw)
    assert store.finished() == list(range(8))  # generations 0..7 finished and kept
    assert not list((tmp_path / "run").glob("*.tmp"))

    fits = []

    class CountingFamily(GaussianFamily):
        def fit(self, data):
            fits.append(data.n)
            return super().fit(data)

    resumed = run_generations(CountingFamily(1), source, policy, store=RunStore(tmp_path / "run", {"policy": repr(policy), **kw}), **kw)
    assert resumed.resumed_from == 7
    assert len(fits) == 13  # only generations 8..20 were computed again
    for name in ("mean", "cov"):
        np.testing.assert_array_equal(resumed[name], full[name])


def test_categorical_run_resumes_too(tmp_path):
    kw = dict(generations=12, samples=30, chains=20, seed=1, progress=False)
    fam, src = CategoricalFamily(7, temperature=0.8), CategoricalSource(SANDWICH)
    full = run_generations(fam, src, Accumulate(), **kw)
    with pytest.raises(Interrupt):
        run_generations(fam, src, Accumulate(), store=RunStore(tmp_path, kw), callback=interrupt_at(3), **kw)
    resumed = run_generations(fam, src, Accumulate(), store=RunStore(tmp_path, kw), **kw)
    np.testing.assert_array_equal(resumed["probs"], full["probs"])


def test_store_refuses_a_run_with_other_settings(tmp_path):
    RunStore(tmp_path, {"samples": 10})
    with pytest.raises(ValueError, match="samples"):
        RunStore(tmp_path, {"samples": 20})


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = categorical_run(Replace(), seed=1)["probs"]
    b = categorical_run(Replace(), seed=1)["probs"]
    c = categorical_run(Replace(), seed=2)["probs"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ------------------------------------------------------------ the engine's contract
@pytest.mark.parametrize("kw, message", [
    ({"generations": 0}, r"generations=0 is not allowed: it must be an integer >= 1"),
    ({"chains": 0}, r"chains=0 is not allowed: it must be an integer >= 1"),
    ({"samples": 1}, r"samples=1 is not allowed: it must be an integer >= 2 \(GaussianFamily needs at least this many"),
])
def test_bad_run_settings_are_refused_by_name(kw, message):
    args = dict(generations=2, samples=10, chains=3, progress=False)
    with pytest.raises(ValueError, match=message):
        run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), **{**args, **kw})


def test_the_smallest_run_and_the_defaults():
    """One generation and one chain are allowed; chains and seed default to 1 and 0."""
    h = run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), generations=1, samples=5,
                        progress=False)
    assert h["cov"].shape == (2, 1, 1, 1) and h.generations == 1
    explicit = run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), generations=1, samples=5,
                               chains=1, seed=0, progress=False)
    np.testing.assert_array_equal(h["cov"], explicit["cov"])


def test_record_callback_policy_and_history_see_the_right_generation():
    seen_record, seen_callback, seen_step = [], [], []

    def record(params, data, t):
        seen_record.append(t)
        return {"mean": params.mean}

    class Spy(Replace):
        def training_set(self, step):
            seen_step.append((step.generation, step.samples, step.chains))
            return super().training_set(step)

    h = run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Spy(), generations=3, samples=6, chains=2,
                        record=record, callback=lambda t, p: seen_callback.append((t, p.mean.copy())),
                        progress=False)
    assert seen_record == [0, 1, 2, 3] and seen_step == [(1, 6, 2), (2, 6, 2), (3, 6, 2)]
    assert [t for t, _ in seen_callback] == [0, 1, 2, 3]
    for t, mean in seen_callback:
        np.testing.assert_array_equal(mean, h["mean"][t])
    np.testing.assert_array_equal(h.params.mean, h["mean"][3])  # the last generation's parameters


def test_the_progress_bar_counts_the_generations_still_to_run(tmp_path, monkeypatch):
    from collapse_lib import engine

    bars = []

    def bar(iterable, total, desc, enabled):
        bars.append((list(iterable), total, desc, enabled))
        return bars[-1][0]

    monkeypatch.setattr(engine, "progress_bar", bar)
    kw = dict(generations=5, samples=6, chains=2, seed=1)
    store = RunStore(tmp_path, kw)
    with pytest.raises(Interrupt):
        run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), store=store,
                        callback=interrupt_at(2), desc="first", progress=True, **kw)
    run_generations(GaussianFamily(1), GaussianSource(0.0, 1.0), Replace(), store=store, desc="again",
                    progress=False, **kw)
    assert bars == [([1, 2, 3, 4, 5], 5, "first", True), ([3, 4, 5], 3, "again", False)]
