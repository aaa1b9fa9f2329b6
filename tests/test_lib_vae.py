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
    (dict(synthetic_pixels="binary"),
     r"synthetic_pixels='binary' is not allowed: it must be one of 'means', 'samples'"),
    (dict(synthetic_pixels=()), r"synthetic_pixels=\(\) is not allowed: name at least one of 'means', 'samples'"),
    (dict(synthetic_pixels=("samples", "samples")), r"synthetic_pixels=\('samples', 'samples'\) .*once"),
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
        assert cfg.synthetic_pixels[0] == "means"  # the paper's decoder means are the main run everywhere
    assert quick.synthetic_pixels == cpu.synthetic_pixels == ("means", "samples")
    assert load("vae", "quick", {"chains": 5}).chains == 5
    assert load("vae", "cpu", {"synthetic": "fixed"}).synthetic == ("fixed",)
    assert load("vae", "cpu", {"synthetic_pixels": "samples"}).synthetic_pixels == ("samples",)
    assert [cpu.run_name(*r) for r in cpu.runs] == ["replace", "mix", "replace-fixed", "mix-fixed", "replace-samples",
                                                    "replace-fixed-samples"]
    assert [cpu.run_name(*r) for r in gpu.runs] == ["replace", "mix", "replace-fixed", "mix-fixed"]


def test_the_cpu_path_at_toy_size(tmp_path):
    """The cpu profile's code path (mnist5k, the conv VAE, both schemes, the claims) with
    small overrides."""
    mnist = load_images("mnist5k")
    cfg = load("vae", "cpu", dict(hidden=4, samples=64, epochs=1, generations=1, eval_samples=16, grid_images=4,
                                  classifier_epochs=1, classifier_hidden=16, batch_size=32))
    assert mnist.side == 28
    res = chapter.run(cfg, Run(root=tmp_path))
    assert list(res.policies) == ["replace", "mix", "replace-fixed", "mix-fixed", "replace-samples",
                                  "replace-fixed-samples"]
    assert [p.synthetic for p in res.policies.values()] == ["fresh", "fresh", "fixed", "fixed", "fresh", "fixed"]
    assert [p.pixels for p in res.policies.values()] == ["means"] * 4 + ["samples"] * 2
    assert list(res.main_runs) == ["replace", "mix", "replace-fixed", "mix-fixed"]
    assert res.by_policy["replace"]["fresh"] is res.policies["replace"]  # the runs on means, not on drawn pixels
    assert res.by_pixels == {"fresh": {"means": res.policies["replace"], "samples": res.policies["replace-samples"]},
                             "fixed": {"means": res.policies["replace-fixed"],
                                       "samples": res.policies["replace-fixed-samples"]}}
    for p in res.policies.values():
        assert p.spread.shape == (2, cfg.chains) and p.grids.shape == (2, 4, 784)
    first = {p.spread[0].tobytes() for p in res.policies.values()}
    assert len(first) == 1  # one generation 0 for every run
    out = chapter.summary(res)
    assert {c["statement"] for c in out["claims"]} == {c.statement for c in chapter.claims(res).values()}
    assert {k for k in chapter.claims(res) if k.startswith("pixels_")} == {
        "pixels_variance_fresh", "pixels_variance_fixed", "pixels_collapse_fresh", "pixels_collapse_fixed",
        "pixels_dropped_share", "pixels_total_variance", "pixels_pace"}
    assert sorted(d.name.rsplit("-", 1)[0] for d in (tmp_path / "vae").iterdir()) == [
        "generation0", "mix-fixed", "mix-fresh", "replace-fixed", "replace-fixed-samples", "replace-fresh",
        "replace-fresh-samples"]


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


# ------------------------------------------------------- decoder means or drawn pixels
def test_drawn_pixels_are_bernoulli_draws_of_the_means():
    """draw_pixels: one call on the stream, 0 or 255, never white where the mean is 0 nor
    black where it is 1, and white at rate p (within 5 binomial standard errors, a chance
    of 6e-7 to fail by chance)."""
    from collapse_lib.families.vae_pixels import draw_pixels

    means = np.array([[0, 255, 77]], np.uint8).repeat(100_000, 0)
    rng, twin = np.random.default_rng(1), np.random.default_rng(1)
    x = draw_pixels(means, rng)
    assert x.dtype == np.uint8 and set(np.unique(x)) == {0, 255}
    np.testing.assert_array_equal(x, np.where(twin.random(means.shape, dtype=np.float32) < means / 255.0, 255, 0))
    assert rng.random() == twin.random()
    assert (x[:, 0] == 0).all() and (x[:, 1] == 255).all()
    p = 77 / 255
    assert abs((x[:, 2] == 255).mean() - p) < 5 * math.sqrt(p * (1 - p) / len(x))


def test_sampled_decoder_draws_pixels_of_the_decoders_means():
    from collapse_lib.families.vae_pixels import SampledDecoder, pixel_seed

    torch.manual_seed(0)
    model = MLPVAE(pixels=16, hidden=8, latent=2).eval()
    z = torch.randn(4000, 2)
    with torch.no_grad():
        p = model.decode(z)
        a, b = SampledDecoder(model, pixel_seed(3)).decode(z), SampledDecoder(model, pixel_seed(3)).decode(z)
    torch.testing.assert_close(a, b)  # seeded
    assert set(torch.unique(a).tolist()) == {0.0, 1.0}
    se = math.sqrt(float((p * (1 - p)).sum())) / a.numel()  # of the mean over all drawn pixels
    assert abs(float(a.mean() - p.mean())) < 5 * se
    assert pixel_seed(3) != pixel_seed(4) and pixel_seed(3) != 3


def test_fixed_scheme_on_drawn_pixels_draws_from_the_decoder_means(digits):
    fam = VAEFamily(**TINY, synthetic="fixed", synthetic_pixels="samples")
    params = fam.fit(fam.summarize(digits.train_images[None, :40].repeat(2, 0)))
    rng, twin = np.random.default_rng(5), np.random.default_rng(5)
    s = fam.sample(params, 7, rng)
    from collapse_lib.families.vae_pixels import draw_pixels

    means = fam.decode(params, twin.standard_normal((2, 7, fam.latent)))
    np.testing.assert_array_equal(s.images, draw_pixels(means, twin))
    assert set(np.unique(s.images)) <= {0, 255}
    with pytest.raises(ValueError, match=r"synthetic_pixels='grey' .*'means', 'samples'"):
        VAEFamily(synthetic_pixels="grey")


def test_fresh_scheme_on_drawn_pixels_decodes_the_same_latents(digits, monkeypatch):
    """Under the fresh scheme the two settings decode the same latents for every batch
    (the same initial weights and shuffles too): drawn pixels are 0 or 1, the means are
    grey, and the drawn pixels average to the means (within 5 standard errors of their
    Bernoulli noise, plus the 8-bit rounding of the means, at most 0.5/255)."""
    out = []
    real_decode = vae_models.decode_8bit

    def record(model, z):
        x = real_decode(model, z)
        out.append((z.clone(), x.clone()))
        return x

    monkeypatch.setattr(vae_models, "decode_8bit", record)
    means_fam = VAEFamily(**{**TINY, "batch_size": 16}, synthetic="fresh")
    params = means_fam.fit(means_fam.summarize(digits.train_images[None, :48].repeat(2, 0)))
    stream = means_fam.sample(params, 40, np.random.default_rng(0))
    out.clear()
    on_means = means_fam.fit(stream)
    means = list(out)
    out.clear()
    on_draws = VAEFamily(**{**TINY, "batch_size": 16}, synthetic="fresh", synthetic_pixels="samples").fit(stream)
    draws = list(out)
    assert len(means) == len(draws) == 2 * 2 * math.ceil(40 / 16)
    for (z1, _), (z2, _) in zip(means, draws):
        torch.testing.assert_close(z1, z2, rtol=0, atol=0)
    p = torch.cat([x for _, x in means])
    x = torch.cat([x for _, x in draws])
    assert set(torch.unique(x).tolist()) == {0.0, 1.0} and len(torch.unique(p)) > 2
    se = math.sqrt(float((p * (1 - p)).sum())) / x.numel()
    assert abs(float(x.mean() - p.mean())) < 5 * se + 0.5 / 255
    assert not np.array_equal(on_means.weights, on_draws.weights)


def test_pixel_variance_is_the_law_of_total_variance():
    """For a model that draws one of two mean images with equal chance, the variance of a
    drawn pixel is m(1 - m), m = (p1 + p2)/2; kept + dropped gives it exactly (to rounding),
    and black-and-white or constant grey images put everything in one part."""
    p = np.array([[0.1, 0.9, 0.5, 0.0], [0.7, 0.2, 0.5, 1.0]])
    parts = chapter.pixel_variance(p)
    m = p.mean(0)
    assert parts.total == pytest.approx(float((m * (1 - m)).sum()), rel=1e-12)
    assert parts.dropped_share == pytest.approx(parts.dropped / (parts.kept + parts.dropped))
    bw = chapter.pixel_variance(np.array([[0, 255], [255, 0]], np.uint8))
    assert (bw.kept, bw.dropped) == (0.5, 0.0)
    grey = chapter.pixel_variance(np.full((3, 4), 0.5))
    assert (grey.kept, grey.dropped, grey.dropped_share) == (0.0, 1.0, 1.0)
    x = np.array([[0, 255], [255, 255], [0, 0]], np.uint8)
    var, se = chapter.total_variance(x)
    assert var == pytest.approx(chapter.pixel_variance(x).kept, rel=1e-12)
    d = ((x / 255.0 - (x / 255.0).mean(0)) ** 2).sum(1)
    assert se == pytest.approx(d.std(ddof=1) / math.sqrt(3))


def test_measure_on_drawn_pixels(digits):
    """The measured images are the decoder means whatever the pixels (the same spread);
    the variance of the next generation's images is the means' own on means, and that of
    their drawn pixels otherwise, which the law of total variance predicts within 4
    standard errors."""
    cfg = tiny_config(generations=2, synthetic="fixed", synthetic_pixels=("means", "samples"), eval_samples=200)
    h = chapter.train_generations(cfg, digits, "replace", pixels="samples")
    clf = DigitClassifier(64, 16, 2).fit(digits.train_images, digits.train_labels)
    on_means = chapter.measure(cfg, digits, h, clf, "replace", pixels="means")
    on_draws = chapter.measure(cfg, digits, h, clf, "replace", pixels="samples")
    assert on_draws.pixels == "samples" and on_draws.eval_images == 200
    np.testing.assert_array_equal(on_means.spread, on_draws.spread)
    np.testing.assert_array_equal(on_means.kept, on_draws.kept)
    np.testing.assert_allclose(on_means.train_variance[..., 0], on_means.kept, rtol=1e-9)
    expected = on_draws.kept + (1 - 1 / 200) * on_draws.dropped
    assert (np.abs(on_draws.train_variance[..., 0] - expected) < 4 * on_draws.train_variance[..., 1]).all()
    assert (on_draws.train_variance[..., 0] > on_means.train_variance[..., 0]).all()


def _pixel_result(spread_means, spread_draws, var_means=1.0, var_draws=80.0, law_shift=0.0,
                  greyer=True) -> chapter.Result:
    """A result with replace on means and on drawn pixels under both schemes: spreads
    (schemes, G+1, chains), pixel variances of the next generation's images, the drawn
    pixels' variance off the law of total variance by ``law_shift`` standard errors, and
    a Bernoulli term that grows as the spread falls (``greyer``) or falls faster than the kept part."""
    res = chapter.Result("toy", 8, 1.0, np.ones(2), np.full(10, 0.1), np.zeros((4, 64), np.uint8))
    for name, scheme, pixels, sp in (("replace", "fresh", "means", spread_means[0]),
                                     ("replace-fixed", "fixed", "means", spread_means[1]),
                                     ("replace-samples", "fresh", "samples", spread_draws[0]),
                                     ("replace-fixed-samples", "fixed", "samples", spread_draws[1])):
        sp = np.asarray(sp, float)
        kept = 10.0 * sp ** 2
        dropped = var_draws - kept if greyer else kept ** 2
        if pixels == "means":
            train = np.stack([np.full_like(sp, var_means), np.full_like(sp, 0.1)], -1)
        else:
            train = np.stack([kept + (1 - 1 / 100) * dropped + law_shift, np.ones_like(sp)], -1)
        shares = np.full(sp.shape + (10,), 0.1)
        res.policies[name] = chapter.VAERun("replace", sp, shares, np.zeros_like(sp), np.zeros((len(sp), 4, 64)),
                                            synthetic=scheme, pixels=pixels, kept=kept, dropped=dropped,
                                            train_variance=train, eval_images=100)
    return res


def test_pixel_comparison_is_a_paired_t_test():
    from scipy import stats

    means = np.array([[[1.0, 1.0], [0.6, 0.5]], [[1.0, 1.0], [0.7, 0.6]]])
    draws = np.array([[[1.0, 1.0], [0.62, 0.49]], [[1.0, 1.0], [0.66, 0.63]]])
    cmp = _pixel_result(means, draws).pixel_comparison
    d = np.log(draws[:, -1] / means[:, -1])
    np.testing.assert_allclose(cmp.log_ratio, d)
    test = stats.ttest_1samp(d.ravel(), 0.0)
    assert cmp.t == pytest.approx(test.statistic) and cmp.p_value == pytest.approx(test.pvalue)
    assert cmp.critical == pytest.approx(stats.t.ppf(0.975, 3)) and cmp.pairs == 4
    assert cmp.schemes == ("fresh", "fixed") and cmp.policy == "replace"
    # without runs on drawn pixels there is nothing to compare, and no claim about it
    plain = _result({"replace": [1.0, 0.8, 0.7]}, {"replace": [10, 5, 2]})
    assert plain.pixel_comparison is None and not any(k.startswith("pixels_") for k in chapter.claims(plain))


def test_pixel_table_prints_every_generation_or_says_why_not():
    from collapse_lib.experiments.vae_draws import pixel_table

    means = np.array([[[1.0, 1.0], [0.6, 0.5]], [[1.0, 1.0], [0.7, 0.6]]])
    text = pixel_table(_pixel_result(means, means * 1.01))
    assert text.count("scheme (mean, min-max over 2 chains)") == 2 and "t = " in text and "over 4 pairs" in text
    assert len([line for line in text.splitlines() if line.strip().startswith(("0 |", "1 |"))]) == 4
    plain = _result({"replace": [1.0, 0.8, 0.7]}, {"replace": [10, 5, 2]})
    assert pixel_table(plain).startswith("no run on drawn pixels")


def test_pixel_claims_follow_the_numbers():
    means = np.array([[[1.0, 1.0], [0.6, 0.5], [0.5, 0.45]], [[1.0, 1.0], [0.7, 0.6], [0.6, 0.5]]])
    near = means * np.array([[[1.0, 1.0], [1.02, 0.97], [1.03, 0.96]],  # generation 0 shared; later within noise
                             [[1.0, 1.0], [0.99, 1.04], [1.02, 0.99]]])
    good = {k: c for k, c in chapter.claims(_pixel_result(means, near)).items() if k.startswith("pixels_")}
    assert len(good) == 7 and all(c.holds for c in good.values()), good
    # drawn pixels that keep far more spread in every pair, carry less variance than the means, no
    # longer collapse, and miss the law of total variance: every claim fails
    flat = np.ones_like(means) * np.array([1.0, 1.0, 1.001])[None, :, None]
    flat[:, -1] *= np.array([1.0, 1.01])
    bad = chapter.claims(_pixel_result(means, flat, var_means=200.0, law_shift=10.0, greyer=False))
    failed = [k for k, c in bad.items() if k.startswith("pixels_") and not c.holds]
    assert sorted(failed) == ["pixels_collapse_fixed", "pixels_collapse_fresh", "pixels_dropped_share", "pixels_pace",
                              "pixels_total_variance", "pixels_variance_fixed", "pixels_variance_fresh"]
