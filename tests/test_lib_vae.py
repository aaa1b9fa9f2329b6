"""Chapter 3 pieces: image data, the VAE networks and family, the engine driving it
(policies, resuming), the measures, the figures and the chapter's settings."""
import math
import time

import numpy as np
import pytest
import torch

from collapse_lib import Mix, Replace, Run, load, protocol, run_generations
from collapse_lib.data import ImageSource, OfflineError, load_digits, load_images, load_mnist
from collapse_lib.data import images as image_data
from collapse_lib.experiments import vae as chapter
from collapse_lib.families import vae_models
from collapse_lib.families.vae import FreshImages, ImageSet, VAEFamily, VAEParams, fit_seed, to_uint8
from collapse_lib.families.vae_models import ConvVAE, MLPVAE, train_vaes
from collapse_lib.metrics_digits import DigitClassifier
from collapse_lib.runtime import generation_rng
from fp_bounds import gamma, skipped_steps_rtol, unit_roundoff, vae_autocast_rtol, vae_loss

torch.set_num_threads(1)

#: a VAE small enough that a generation trains in a fraction of a second
TINY = dict(latent=2, hidden=16, epochs=2, batch_size=32, device="cpu")


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _store(cfg, part, root):
    return protocol.store(cfg, part, Run(root=root), version=chapter.STORE_FORMAT)


def tiny_config(**kw):
    base = dict(dataset="digits", arch="mlp", latent=2, hidden=16, samples=60, generations=3, chains=2, epochs=2,
                batch_size=32, eval_samples=20, grid_images=4, classifier_epochs=2, classifier_hidden=16)
    return chapter.Config(**{**base, **kw})


# ---------------------------------------------------------------------------- data
def test_digits_split_is_complete_and_8_bit(digits):
    assert digits.side == 8 and digits.pixels == 64
    assert len(digits.train_images) + len(digits.test_images) == 1797
    assert digits.train_images.dtype == np.uint8 and digits.train_images.max() == 255
    # 17 grey levels 0..16 map to distinct 8-bit values
    assert len(np.unique(np.concatenate([digits.train_images, digits.test_images]))) == 17
    assert set(digits.train_labels) == set(range(10))


def test_image_source_draws_distinct_images_per_chain():
    pool = np.arange(50, dtype=np.uint8)[:, None].repeat(4, axis=1)
    x = ImageSource(pool).sample(3, 20, np.random.default_rng(0))
    assert x.shape == (3, 20, 4)
    for c in range(3):
        assert len(set(x[c, :, 0])) == 20
    with pytest.raises(ValueError, match=r"samples=51 .*only 50"):
        ImageSource(pool).sample(1, 51, np.random.default_rng(0))


def test_load_images_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"dataset='cifar' .*'digits', 'mnist'"):
        load_images("cifar")


def test_mnist_fails_at_once_when_offline_mode_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAPSE_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(OfflineError, match=r"MNIST could not be fetched.*'quick' profile"):
        load_mnist(tmp_path)
    assert time.perf_counter() - start < 1.0


def test_mnist_fails_within_seconds_without_a_network(tmp_path, monkeypatch):
    """A server name that cannot resolve (the reserved .invalid domain) fails the check."""
    monkeypatch.delenv("COLLAPSE_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(image_data, "MNIST_URL", "https://mnist-mirror.invalid/t10k-labels-idx1-ubyte.gz")
    start = time.perf_counter()
    with pytest.raises(OfflineError, match=r"MNIST could not be fetched from https://mnist-mirror.invalid.*"
                                           r"no network, or no reply within 0.5 s.*COLLAPSE_PROFILE=quick"):
        load_mnist(tmp_path, timeout=0.5)
    assert time.perf_counter() - start < 0.5 + 0.5 + 0.5  # the timeout, the thread's grace, slack


def test_a_hanging_request_is_abandoned_after_the_timeout(monkeypatch):
    """A lookup or connection that never returns (simulated) costs the timeout, not a hang."""
    import urllib.request

    def hang(*args, **kwargs):
        time.sleep(5)

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    start = time.perf_counter()
    assert not image_data.can_reach("https://example.org/", timeout=0.3)
    assert time.perf_counter() - start < 0.3 + 0.5 + 0.5


def test_cached_mnist_skips_the_network_and_needs_torchvision(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in image_data.MNIST_FILES:
        (raw / f).write_bytes(b"")
    monkeypatch.setenv("COLLAPSE_OFFLINE", "1")  # would fail if the network were consulted
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install torchvision"):
            load_mnist(tmp_path)
    else:
        # empty files: torchvision itself refuses them (it reads the idx header), so the
        # loader went to the cached files and not to the network
        with pytest.raises(ValueError, match="invalid literal for int"):
            load_mnist(tmp_path)


# ------------------------------------------------------------------------ networks
def test_conv_vae_is_the_papers_model():
    m = ConvVAE()
    assert sum(p.numel() for p in m.parameters()) == 647_081  # as printed in the authors' notebook
    x = torch.rand(3, 784)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (3, 20)
    y = m.decode(mu)
    assert y.shape == (3, 784)
    torch.testing.assert_close(y, torch.sigmoid(m.decode_logits(mu)))  # pixel means are the logits' sigmoid


def test_conv_family_trains_all_chains_at_once_also_in_bfloat16():
    """The conv path (MNIST's model, here on 8x8 images) through the vectorised trainer,
    in float32 and under bfloat16 autocast as on a recent GPU."""
    fam = VAEFamily(arch="conv", pixels=64, hidden=4, latent=2, epochs=1, batch_size=8, device="cpu")
    x = fam.summarize(np.random.default_rng(0).random((2, 16, 64)))
    params = fam.fit(x)
    assert params.weights.shape == (2, fam.n_weights) and np.isfinite(params.loss).all()
    assert fam.sample(params, 5, np.random.default_rng(1)).images.shape == (2, 5, 64)
    torch.manual_seed(0)
    models = [ConvVAE(8, 4, 2), ConvVAE(8, 4, 2)]
    losses = train_vaes(models, torch.rand(2, 16, 64), [1, 2], epochs=1, batch_size=8, lr=1e-3, weight_decay=1e-5,
                        amp_dtype=torch.bfloat16)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)


def test_loss_is_bce_plus_closed_form_kl():
    """The loss against the textbook formulas, both in float32 from the same means,
    log-variances and logits. Every term of either side (24 pixels' cross-entropies, 12
    latents' KL terms) is a few elementary operations on values of at most its terms'
    sizes, at most 10 roundings deep, and each side adds 36 terms: the two lie within
    gamma_{36 + 10} sum|terms| of the exact value each (fp_bounds.gamma), plus the
    rounding of p that 1 - p magnifies by p / (1 - p) in log(1 - p)."""
    torch.manual_seed(0)
    m = MLPVAE(pixels=6, hidden=5, latent=3)
    x, eps = torch.rand(4, 6), torch.randn(4, 3)
    mu, logvar = m.encode(x)
    z = mu + eps * torch.exp(0.5 * logvar)
    p = m.decode(z)
    bce = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum()
    kl = sum(torch.distributions.kl_divergence(torch.distributions.Normal(mu[i], torch.exp(0.5 * logvar[i])),
                                               torch.distributions.Normal(0.0, 1.0)).sum() for i in range(4))
    with torch.no_grad():
        terms = float((x * torch.log(p)).abs().sum() + ((1 - x) * torch.log(1 - p)).abs().sum()
                      + 0.5 * (1 + logvar.abs() + mu ** 2 + logvar.exp()).sum())
        bound = 2 * (gamma(36 + 10, torch.float32) * terms
                     + unit_roundoff(torch.float32) * float(((1 - x) * p / (1 - p)).sum()))
    torch.testing.assert_close(m.loss(x, eps), bce + kl, rtol=0, atol=bound)


# -------------------------------------------------------------------------- family
def test_image_sets_pool_by_concatenation_and_round_to_8_bits():
    a, b = ImageSet(np.zeros((2, 3, 4), np.uint8)), ImageSet(np.full((2, 5, 4), 7, np.uint8))
    both = a + b
    assert both.n == 8 and both.chains == 2 and (both.images[:, 3:] == 7).all()
    x = np.array([0.0, 0.5, 1.0, 1.2, -0.1])
    np.testing.assert_array_equal(to_uint8(x), [0, 128, 255, 255, 0])
    np.testing.assert_allclose(ImageSet(to_uint8(x)[None, None]).floats(), np.clip(x, 0, 1)[None, None], atol=0.5 / 255)


def test_family_rejects_bad_settings_and_shapes():
    with pytest.raises(ValueError, match=r"arch='rnn' .*'mlp', 'conv'"):
        VAEFamily(arch="rnn")
    with pytest.raises(ValueError, match=r"pixels=36 .*divisible by 4"):
        VAEFamily(arch="conv", pixels=36)
    with pytest.raises(ValueError, match=r"pixels=50 .*square"):
        VAEFamily(arch="conv", pixels=50)
    with pytest.raises(ValueError, match=r"weight_decay=-1"):
        VAEFamily(weight_decay=-1)
    with pytest.raises(ValueError, match=r"epochs=0 "):
        VAEFamily(epochs=0)
    with pytest.raises(ValueError, match=r"\(chains, n, 64\)"):
        VAEFamily().summarize(np.zeros((5, 64)))


def test_fit_is_a_deterministic_function_of_the_data(digits):
    fam = VAEFamily(**TINY)
    data = fam.summarize(np.stack([digits.train_images[:40], digits.train_images[40:80]]))
    a, b = fam.fit(data), fam.fit(data)
    assert a.weights.shape == (2, fam.n_weights) and a.weights.dtype == np.float32
    np.testing.assert_array_equal(a.weights, b.weights)
    other = fam.fit(fam.summarize(np.stack([digits.train_images[:40], digits.train_images[80:120]])))
    assert not np.array_equal(a.weights[1], other.weights[1])
    assert fit_seed(0, 0, data.images[0]) != fit_seed(0, 1, data.images[0]) != fit_seed(1, 0, data.images[0])


def test_training_beats_the_best_image_that_ignores_the_latent(digits):
    """With KL = 0 the best a VAE can do is one constant image, the pixel means, whose
    loss per image is the mean binary cross-entropy against them; training that uses
    the latent must end below it (and far below the untrained 64 log 2)."""
    x = digits.train_images[:400].astype(np.float64) / 255.0
    m = x.mean(0).clip(1e-6, 1 - 1e-6)
    constant = float(-(x * np.log(m) + (1 - x) * np.log(1 - m)).sum(1).mean())
    fam = VAEFamily(latent=4, hidden=64, epochs=40, batch_size=64, lr=3e-3, device="cpu")
    params = fam.fit(fam.summarize(digits.train_images[None, :400]))
    assert float(params.loss[0]) < constant < 64 * math.log(2)


def test_sample_draws_with_one_call_and_decodes_pixel_means(digits):
    fam = VAEFamily(**TINY)
    params = fam.fit(fam.summarize(digits.train_images[None, :40].repeat(2, 0)))
    rng, twin = np.random.default_rng(5), np.random.default_rng(5)
    s = fam.sample(params, 7, rng)
    z = twin.standard_normal((2, 7, fam.latent))
    assert s.images.shape == (2, 7, 64) and s.images.dtype == np.uint8
    np.testing.assert_array_equal(s.images, to_uint8(fam.decode(params, z)))
    assert rng.random() == twin.random()  # both streams advanced by the same single draw
    mu = fam.encode_means(params, 1, s.images[1])
    assert mu.shape == (7, fam.latent)


# ------------------------------------------------------------- engine and policies
def test_engine_drives_the_family_with_replace_and_mix(digits):
    fam, src = VAEFamily(**TINY), ImageSource(digits.train_images)
    kw = dict(generations=2, samples=30, chains=2, seed=3, progress=False,
              record=lambda p, d, t: {"images": d.images, "loss": p.loss})
    rep = run_generations(fam, src, Replace(), **kw)
    mix = run_generations(fam, src, Mix(0.2), **kw)
    real = src.sample(2, 30, generation_rng(3, 0, "real"))
    np.testing.assert_array_equal(rep["images"][0], real)
    np.testing.assert_array_equal(mix["images"][0], real)
    for t in (1, 2):
        # replace: only synthetic images; mix: 6 of the chain's real images, then 24 synthetic
        assert rep["images"][t].shape == mix["images"][t].shape == (2, 30, 64)
        for c in range(2):
            real_rows = {r.tobytes() for r in real[c]}
            assert all(r.tobytes() in real_rows for r in mix["images"][t, c, :6])
    np.testing.assert_array_equal(rep["loss"][0], mix["loss"][0])  # same real data, same first model


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("scheme", ["fresh", "fixed"])
def test_interrupted_chapter_run_resumes_with_identical_numbers(digits, tmp_path, scheme):
    cfg = tiny_config(policies=("mix",), synthetic=scheme)
    clf = DigitClassifier(64, 16, 2).fit(digits.train_images, digits.train_labels)
    full = chapter.train_generations(cfg, digits, "mix", store=_store(cfg, "mix", tmp_path / "full"))

    def stop_after_1(t, params):
        if t == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        chapter.train_generations(cfg, digits, "mix", store=_store(cfg, "mix", tmp_path / "cut"), callback=stop_after_1)
    store = _store(cfg, "mix", tmp_path / "cut")
    assert store.finished() == [0, 1]
    resumed = chapter.train_generations(cfg, digits, "mix", store=_store(cfg, "mix", tmp_path / "cut"))
    assert resumed.resumed_from == 1 and full.resumed_from is None
    np.testing.assert_array_equal(resumed["weights"], full["weights"])
    a = chapter.measure(cfg, digits, full, clf, "mix")
    b = chapter.measure(cfg, digits, resumed, clf, "mix")
    np.testing.assert_array_equal(a.spread, b.spread)
    np.testing.assert_array_equal(a.shares, b.shares)
    # a finished run only reloads
    again = chapter.train_generations(cfg, digits, "mix", store=_store(cfg, "mix", tmp_path / "cut"))
    assert again.resumed_from == cfg.generations


def test_generation_0_is_trained_once_and_shared_exactly(digits, tmp_path):
    """Every policy and scheme starts from the same fit to the same real images; a run
    that loads it from the shared piece gives the numbers of one that trains it."""
    cfg = tiny_config(generations=1)
    shared = protocol.store(cfg, "generation0", Run(root=tmp_path / "shared"), version=chapter.STORE_FORMAT)
    fit = chapter.shared_fit(shared, chapter.family(cfg, digits))
    first = chapter.train_generations(cfg, digits, "replace", "fresh", store=_store(cfg, "a", tmp_path), first_fit=fit)
    assert shared.finished() == [0]
    loaded = chapter.train_generations(cfg, digits, "mix", "fixed", store=_store(cfg, "b", tmp_path), first_fit=fit)
    alone = chapter.train_generations(cfg, digits, "mix", "fixed", store=_store(cfg, "c", tmp_path))
    assert first.resumed_from is None and loaded.resumed_from is None and alone.resumed_from is None
    np.testing.assert_array_equal(loaded["weights"][0], first["weights"][0])
    np.testing.assert_array_equal(loaded["weights"], alone["weights"])
    assert not np.array_equal(loaded["weights"][1], first["weights"][1])


def test_run_stores_keep_configs_apart(tmp_path):
    run = Run(root=tmp_path)
    a = _store(tiny_config(), "replace-fresh", tmp_path)
    b = _store(tiny_config(epochs=3), "replace-fresh", tmp_path)
    c = _store(tiny_config(), "mix-fresh", tmp_path)
    d = _store(tiny_config(), "replace-fixed", tmp_path)
    assert len({a.root, b.root, c.root, d.root}) == 4
    assert protocol.store(tiny_config(), "mix-fresh", Run(root=tmp_path, store=False)) is None
    assert protocol.store(tiny_config(), "generation0", run).root != protocol.store(tiny_config(epochs=3),
                                                                                    "generation0", run).root


# ------------------------------------------------------------ the two schemes
def test_fresh_scheme_decodes_new_latents_for_every_batch(digits, monkeypatch):
    """The paper's scheme: each batch of a later generation is made of new decoder means
    from latents drawn for that batch, M per epoch; the fixed scheme decodes nothing
    while training (its M images were decoded once, before)."""
    calls = []
    real_decode = vae_models.decode_8bit
    monkeypatch.setattr(vae_models, "decode_8bit", lambda model, z: calls.append(z.clone()) or real_decode(model, z))
    fam = VAEFamily(**{**TINY, "epochs": 3, "batch_size": 16}, synthetic="fresh")
    params = fam.fit(fam.summarize(digits.train_images[None, :48].repeat(2, 0)))
    stream = fam.sample(params, 40, np.random.default_rng(0))
    assert isinstance(stream, FreshImages) and stream.n == 40 and stream.kept.shape == (2, 0, 64)
    assert calls == []
    fam.fit(stream)
    batches = 3 * math.ceil(40 / 16)
    assert len(calls) == 2 * batches  # one decoding per chain and batch
    assert sum(len(z) for z in calls) == 2 * 3 * 40  # M new images per chain and epoch
    z = torch.cat(calls)
    assert len(torch.unique(z, dim=0)) == len(z)  # no latent is used twice
    # mixed in: real images are kept in every epoch, the rest is decoded anew
    calls.clear()
    mixed = ImageSet(digits.train_images[None, :8].repeat(2, 0)) + stream
    assert isinstance(mixed, FreshImages) and mixed.n == 48
    fam.fit(mixed)
    assert sum(len(z) for z in calls) == 2 * 3 * 40
    calls.clear()
    fixed = VAEFamily(**{**TINY, "epochs": 3, "batch_size": 16}, synthetic="fixed")
    images = fixed.sample(params, 40, np.random.default_rng(0))
    assert isinstance(images, ImageSet) and images.images.shape == (2, 40, 64)
    fixed.fit(images)
    assert calls == []


def test_fresh_scheme_training_depends_on_the_latent_seeds(digits):
    fam = VAEFamily(**TINY, synthetic="fresh")
    params = fam.fit(fam.summarize(digits.train_images[None, :40].repeat(2, 0)))
    a = fam.sample(params, 30, np.random.default_rng(0))
    b = fam.sample(params, 30, np.random.default_rng(1))
    fa, fb, fa2 = fam.fit(a), fam.fit(b), fam.fit(a)
    np.testing.assert_array_equal(fa.weights, fa2.weights)  # deterministic given the stream
    assert not np.array_equal(fa.weights, fb.weights)
    stored = FreshImages.from_arrays(a.to_arrays("train/"), "train/")
    assert ImageSet.from_arrays(a.to_arrays("train/"), "train/").n == stored.n == 30
    np.testing.assert_array_equal(fam.fit(stored).weights, fa.weights)


def test_accumulate_is_refused_with_the_fresh_scheme(digits):
    with pytest.raises(ValueError, match=r"policies=\('accumulate'.*synthetic='fresh'"):
        tiny_config(policies=("replace", "accumulate"))
    tiny_config(policies=("accumulate",), synthetic="fixed")
    fam = VAEFamily(**TINY, synthetic="fresh")
    params = fam.fit(fam.summarize(digits.train_images[None, :40]))
    s = fam.sample(params, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"policy='accumulate' is not allowed with synthetic='fresh'"):
        s + s


def test_the_spread_is_measured_with_the_generation_0_encoder(digits):
    cfg = tiny_config(generations=2, synthetic="fixed")
    h = chapter.train_generations(cfg, digits, "replace")
    clf = DigitClassifier(64, 16, 2).fit(digits.train_images, digits.train_labels)
    res = chapter.measure(cfg, digits, h, clf, "replace")
    fam = chapter.family(cfg, digits)
    W, L = h["weights"], h["loss"]
    for t in (1, 2):
        images = fam.sample_images(VAEParams(W[t], L[t]), cfg.eval_samples, generation_rng(cfg.seed, t, "eval")).images
        for c in range(cfg.chains):
            first = chapter.latent_spread(fam.encode_means(VAEParams(W[0], L[0]), c, images[c]))
            own = chapter.latent_spread(fam.encode_means(VAEParams(W[t], L[t]), c, images[c]))
            assert res.spread[t, c] == pytest.approx(first, rel=1e-6)
            assert res.spread[t, c] != pytest.approx(own, rel=1e-3)


# -------------------------------------------------------------------------- measures
def test_class_measures():
    shares = chapter.class_shares(np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [3] * 10]))
    np.testing.assert_allclose(shares.sum(1), 1)
    np.testing.assert_allclose(chapter.effective_classes(shares), [10.0, 1.0])
    two = np.zeros(10)
    two[[1, 7]] = 0.5
    assert chapter.effective_classes(two) == pytest.approx(2.0)
    assert chapter.latent_spread(np.array([[1.0, -1.0], [1.0, -1.0]])) == pytest.approx(1.0)


def test_classifier_learns_real_digits(digits):
    """Ten balanced classes: chance is 10 %; a trained network is far above it."""
    clf = DigitClassifier(64, 32, 5).fit(digits.train_images, digits.train_labels)
    assert clf.score(digits.test_images, digits.test_labels) > 0.5


# ------------------------------------------------------------------ chapter settings
@pytest.mark.parametrize("kw, match", [
    (dict(synthetic="stream"), r"synthetic='stream' .*'fixed', 'fresh'"),
    (dict(synthetic=()), r"synthetic=\(\) is not allowed"),
    (dict(synthetic=("fresh", "fresh")), r"synthetic=\('fresh', 'fresh'\) .*once"),
    (dict(policies=("mix", "mix")), r"policies=\('mix', 'mix'\) .*once"),
    (dict(generations=0), r"generations=0 .*>= 1"),
    (dict(chains=-1), r"chains=-1"),
    (dict(real_fraction=1.5), r"real_fraction=1.5 .*\[0, 1\]"),
    (dict(dataset="cifar"), r"dataset='cifar' .*'digits', 'mnist'"),
    (dict(arch="conv"), r"arch='conv' .*dataset='digits'"),
    (dict(policies=("keep",)), r"policies='keep' .*'replace'"),
    (dict(samples=0), r"samples=0 .*>= 1"),
    (dict(eval_samples=1), r"eval_samples=1 .*>= 2"),
])
def test_bad_settings_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny_config(**kw)


def test_too_many_samples_are_refused_before_any_training(digits, tmp_path):
    with pytest.raises(ValueError, match=r"samples=5000 .*1348 training images"):
        chapter.train_generations(tiny_config(samples=5000), digits, "replace")
    assert not any(tmp_path.iterdir())


def test_profiles_follow_the_specification():
    quick, cpu, gpu, paper = (load("vae", p) for p in ("quick", "cpu", "gpu", "paper"))
    assert (quick.dataset, quick.arch) == ("mnist5k", "mlp") and quick.chains >= 2
    assert (cpu.dataset, cpu.arch, cpu.latent, cpu.batch_size, cpu.lr) == ("mnist5k", "conv", 20, 256, 1e-3)
    assert cpu.samples == 4000 and cpu.generations == 4 and cpu.chains >= 2  # generations 0..4, as the paper printed
    assert (gpu.dataset, gpu.arch, gpu.latent, gpu.hidden) == ("mnist", "conv", 20, 64)
    assert (paper.samples, paper.epochs, paper.batch_size, paper.lr, paper.weight_decay) == (60_000, 30, 256, 1e-3, 1e-5)
    for cfg in (quick, cpu, gpu, paper):
        assert cfg.synthetic == ("fresh", "fixed")  # the paper's scheme first, the fixed set beside it
        assert set(cfg.policies) == {"replace", "mix"} and cfg.real_fraction == 0.1
    assert load("vae", "quick", {"chains": 5}).chains == 5
    assert load("vae", "cpu", {"synthetic": "fixed"}).synthetic == ("fixed",)
    assert [cpu.run_name(*r) for r in cpu.runs] == ["replace", "mix", "replace-fixed", "mix-fixed"]


def test_the_cpu_path_at_toy_size(tmp_path):
    """The cpu profile's code path (mnist5k, the conv VAE, both schemes, the claims) with
    small overrides."""
    mnist = load_images("mnist5k")
    cfg = load("vae", "cpu", dict(hidden=4, samples=64, epochs=1, generations=1, eval_samples=16, grid_images=4,
                                  classifier_epochs=1, classifier_hidden=16, batch_size=32))
    assert mnist.side == 28
    res = chapter.run(cfg, Run(root=tmp_path))
    assert list(res.policies) == ["replace", "mix", "replace-fixed", "mix-fixed"]
    assert [p.synthetic for p in res.policies.values()] == ["fresh", "fresh", "fixed", "fixed"]
    for p in res.policies.values():
        assert p.spread.shape == (2, cfg.chains) and p.grids.shape == (2, 4, 784)
    first = {p.spread[0].tobytes() for p in res.policies.values()}
    assert len(first) == 1  # one generation 0 for every run
    out = chapter.summary(res)
    assert {c["statement"] for c in out["claims"]} == {c.statement for c in chapter.claims(res).values()}
    assert sorted(d.name.split("-")[0] for d in (tmp_path / "vae").iterdir()) == ["generation0", "mix", "mix", "replace",
                                                                         "replace"]


def _result(spreads: dict, classes: dict) -> chapter.Result:
    """A result whose runs have the given mean spreads per generation and predicted classes."""
    res = chapter.Result("toy", 8, 1.0, np.ones(2), np.full(10, 0.1), np.zeros((4, 64), np.uint8))
    for name, sp in spreads.items():
        policy, _, scheme = name.partition("-")
        sp = np.asarray(sp, float)[:, None] * np.array([1.0, 1.01])
        shares = np.stack([np.r_[np.full(k, 1 / k), np.zeros(10 - k)]
                           for k in classes[name]])[:, None].repeat(2, 1)
        res.policies[name] = chapter.VAERun(policy, sp, shares, np.zeros_like(sp), np.zeros((len(sp), 4, 64)),
                                                  synthetic=scheme or "fresh")
    return res


def test_claims_follow_the_numbers():
    # replace falls 0.8 -> 0.715 from generation 1, a ratio of 0.894 per generation, inside the paper's runs
    good = _result({"replace": [1.0, 0.8, 0.715], "mix": [1.0, 0.9, 0.8], "replace-fixed": [1.0, 0.5, 0.3],
                    "mix-fixed": [1.0, 0.7, 0.6]},
                   {"replace": [10, 5, 2], "mix": [10, 8, 6], "replace-fixed": [10, 3, 1], "mix-fixed": [10, 6, 4]})
    assert all(c.holds for c in chapter.claims(good).values()), chapter.claims(good)
    bad = _result({"replace": [1.0, 1.1, 1.2], "mix": [1.0, 1.05, 1.1], "replace-fixed": [1.0, 1.1, 1.2],
                   "mix-fixed": [1.0, 1.05, 1.1]},
                  {"replace": [10, 10, 10], "mix": [10, 9, 9], "replace-fixed": [10, 10, 10], "mix-fixed": [10, 9, 9]})
    failed = [c for c in chapter.claims(bad).values() if not c.holds]
    assert len(failed) == len(chapter.claims(bad)) == 12


def test_active_units_and_pixel_entropy():
    """Active units count the coordinates whose mean varies across images by more than
    0.01; the entropy floor is zero on black-and-white images and at
    grey 1/2 is log 2 nats per pixel."""
    mu = np.c_[np.linspace(-1, 1, 50), np.full(50, 0.3), 0.05 * np.linspace(-1, 1, 50)]
    assert chapter.active_units(mu) == 1  # var 0.347; 0; 0.00087
    bw = np.array([[0, 255, 0, 255]], np.uint8)
    assert chapter.pixel_entropy(bw)[0] == 0.0
    grey = np.full((1, 4), 0.5)
    np.testing.assert_allclose(chapter.pixel_entropy(grey), [4 * np.log(2)], rtol=4 * np.finfo(float).eps)


# ---------------------------------------------------------------- figures and CLI
def test_cli_run_writes_numbers_and_figures(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from collapse_lib.plots import vae as plots

    monkeypatch.setenv("COLLAPSE_CACHE", str(tmp_path))
    monkeypatch.setitem(chapter.PROFILES, "quick", tiny_config(generations=2))
    cfg, results, figures = protocol.run_chapter("vae", "quick", {"seed": 0})
    assert cfg.dataset == "digits" and cfg.generations == 2
    assert sorted(figures) == ["class_balance", "latent_spread", "samples_mix", "samples_mix-fixed", "samples_replace",
                               "samples_replace-fixed"]
    assert results["claims"] and all(set(c) == {"statement", "holds", "evidence"} for c in results["claims"])
    for name in ("replace", "mix", "replace-fixed", "mix-fixed"):
        r = results["policies"][name]
        assert len(r["latent_std_mean"]) == 3 and len(r["effective_classes_mean"]) == 3
        np.testing.assert_allclose(r["latent_std_mean"], np.mean(r["latent_std_by_chain"], axis=1))
        ratio = np.mean(np.array(r["latent_std_by_chain"])[-1] / np.array(r["latent_std_by_chain"])[0])
        assert r["ratio_last_to_first"] == pytest.approx(ratio)
    assert results["paper_latent_std"] == chapter.PAPER["latent_std"]
    # one checkpoint directory per policy and scheme, and generation 0's
    assert len(list((tmp_path / "runs" / "vae").iterdir())) == 5
    tile = plots.tile(np.full((5, 64), 255, np.uint8), 8, cols=3)
    assert tile.shape == (2 * 9 + 1, 3 * 9 + 1) and tile.max() == 1.0
    for fig in figures.values():
        plt.close(fig)


# ------------------------------------------------- what the experiment measures, directly
def test_measures_are_those_of_generation_0s_encoder_on_each_generations_images(digits, tmp_path):
    """On a tiny run, every number of ``measure`` recomputed by hand: generation t's
    images drawn from its "eval" stream, their latent means under generation 0's encoder
    (the paper's fixed yardstick, not generation t's own), their std; the class shares of
    the classifier's predictions; chain 0's images as the grid."""
    from collapse_lib.families.vae import VAEParams

    cfg = tiny_config(policies=("replace",), generations=2)
    clf = DigitClassifier(64, 16, 2).fit(digits.train_images, digits.train_labels)
    h = chapter.train_generations(cfg, digits, "replace", store=_store(cfg, "replace", tmp_path))
    res = chapter.measure(cfg, digits, h, clf, "replace")
    fam = chapter.family(cfg, digits)
    W, L = h["weights"], h["loss"]
    for t in range(cfg.generations + 1):
        images = fam.sample_images(VAEParams(W[t], L[t]), cfg.eval_samples, generation_rng(cfg.seed, t, "eval")).images
        for c in range(cfg.chains):
            enc = fam.model(VAEParams(W[0], L[0]), c)
            with torch.no_grad():
                mu = enc.encode(torch.as_tensor(images[c], dtype=torch.float32) / 255.0)[0].numpy()
            assert res.spread[t, c] == pytest.approx(float(mu.std()), rel=1e-6)
            pred = clf.predict(images[c])
            np.testing.assert_allclose(res.shares[t, c], np.bincount(pred, minlength=10) / len(pred))
        np.testing.assert_array_equal(res.grids[t], np.resize(images[0], (cfg.grid_images, digits.pixels)))
    np.testing.assert_array_equal(res.loss, L)
    # the yardstick matters: a later generation's own encoder gives other numbers
    own = fam.encode_means(VAEParams(W[2], L[2]), 0, fam.sample_images(VAEParams(W[2], L[2]), cfg.eval_samples,
                                                                  generation_rng(cfg.seed, 2, "eval")).images[0])
    assert float(own.std()) != pytest.approx(res.spread[2, 0], rel=1e-3)


def test_effective_classes_is_exp_of_the_entropy_of_the_shares():
    shares = np.array([[0.5, 0.5] + [0.0] * 8, [0.1] * 10, [1.0] + [0.0] * 9, [0.7, 0.2, 0.1] + [0.0] * 7])
    h = -np.array([np.sum([p * math.log(p) for p in row if p > 0]) for row in shares])
    np.testing.assert_allclose(chapter.effective_classes(shares), np.exp(h))
    np.testing.assert_allclose(chapter.effective_classes(shares)[:3], [2.0, 10.0, 1.0])
    np.testing.assert_allclose(chapter.class_shares(np.array([[0, 0, 3, 9]])), [[0.5, 0, 0, 0.25] + [0] * 5 + [0.25]])
    assert chapter.latent_spread(np.array([[1.0, 3.0], [1.0, 3.0]])) == pytest.approx(1.0)


def write_idx(path, arr):
    """An MNIST idx file: magic (0, 0, 8 = ubyte, ndim), big-endian sizes, the bytes."""
    import struct

    arr = np.asarray(arr, np.uint8)
    path.write_bytes(bytes([0, 0, 8, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes())


def test_cached_mnist_loads_the_training_and_test_files_into_their_places(tmp_path, monkeypatch):
    """Tiny idx files under <root>/MNIST/raw: the 60,000-image file is the training set,
    the t10k file the test set, images flattened row by row, labels as int64."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28) % 251
    test = (np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) * 7) % 253
    write_idx(raw / "train-images-idx3-ubyte", train)
    write_idx(raw / "train-labels-idx1-ubyte", [3, 1, 4, 1, 5])
    write_idx(raw / "t10k-images-idx3-ubyte", test)
    write_idx(raw / "t10k-labels-idx1-ubyte", [9, 2, 6])
    monkeypatch.setenv("COLLAPSE_OFFLINE", "1")  # the cache must be enough
    data = load_mnist(tmp_path)
    assert data.side == 28 and data.pixels == 784
    np.testing.assert_array_equal(data.train_images, train.reshape(5, 784).astype(np.uint8))
    np.testing.assert_array_equal(data.test_images, test.reshape(3, 784).astype(np.uint8))
    np.testing.assert_array_equal(data.train_labels, [3, 1, 4, 1, 5])
    np.testing.assert_array_equal(data.test_labels, [9, 2, 6])
    assert data.train_images.dtype == np.uint8 and data.train_labels.dtype == np.int64


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_training_agrees_with_float32(arch, amp_dtype):
    """The mixed-precision path of the trainer (bf16 on recent GPUs, fp16 with a gradient
    scaler on the T4), run on the CPU against float32 from the same weights, images and
    seeds. The mean loss of the first epoch (4 steps of lr = 1e-3) agrees to within
    reduced precision's rounding of the network's outputs (:func:`fp_bounds.vae_autocast_rtol`:
    4 roundings of u = 2^-8 for bf16, 2^-11 for fp16, in each product on the longest path,
    carried to the loss by its sensitivity to the outputs, at the starting and at the
    trained weights), and for fp16 also within what the steps the scaler skips can change
    (:func:`fp_bounds.skipped_steps_rtol`: its first scale, 2^16, overflows fp16 here, and a
    skipped step leaves the weights where they were). The two runs must also differ, or
    the reduced precision never ran."""
    import copy

    torch.manual_seed(0)
    models = [MLPVAE(64, 16, 2) if arch == "mlp" else ConvVAE(8, 4, 2) for _ in range(2)]
    x = torch.rand(2, 64, 64)
    kw = dict(epochs=1, batch_size=16, lr=1e-3, weight_decay=0.0)

    def rtol(trained):
        return max(vae_autocast_rtol(m, x[c], amp_dtype) + (amp_dtype == torch.float16) * skipped_steps_rtol(
            vae_loss(m, x[c])[0], list(m.parameters()), kw["lr"], steps=64 // kw["batch_size"])
            for c, m in enumerate(trained))

    full = copy.deepcopy(models)
    ref = train_vaes(full, x, [1, 2], amp_dtype=None, **kw)
    low = copy.deepcopy(models)
    got = train_vaes(low, x, [1, 2], amp_dtype=amp_dtype, **kw)
    np.testing.assert_allclose(got, ref, rtol=max(rtol(models), rtol(full)))
    assert any(not torch.equal(p, q) for p, q in zip(full[0].parameters(), low[0].parameters()))



def test_dropped_variance_check():
    """Black-and-white images keep all their variance (share 0); images of constant grey
    1/2 keep none (share 1); the check refuses a percentage."""
    from collapse_lib.exercises._common import AnswerError
    from collapse_lib.exercises.vae import check_dropped_variance, dropped_variance_share

    assert dropped_variance_share(np.array([[0, 255], [255, 0]], np.uint8)) == 0.0
    assert dropped_variance_share(np.full((3, 4), 0.5)) == 1.0
    grey = np.array([[0.2, 0.5], [0.6, 0.9]])
    share = dropped_variance_share(grey)
    assert check_dropped_variance(round(share, 3), grey)
    with pytest.raises(AnswerError, match="percentage"):
        check_dropped_variance(100 * share, grey)
