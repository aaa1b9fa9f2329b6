"""Device and precision choice for every kind of device, tested without one (torch's
capability queries are replaced with monkeypatch), the fine-tuning loop's learning-rate
schedule and gradient accumulation observed step by step, and peak FLOPs by the names
CUDA reports."""
import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collapse_lib import runtime  # noqa: E402
from collapse_lib.lm import TinyGPTConfig, fine_tune, tiny_gpt2  # noqa: E402
from collapse_lib.lm import train as train_mod  # noqa: E402


def fake_gpu(monkeypatch, *, bf16: bool, name: str = "NVIDIA A100-SXM4-80GB"):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: name)


def test_cpu_only_machine_runs_float32_on_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.device() == torch.device("cpu")
    assert runtime.autocast_dtype() == torch.float32
    assert runtime.autocast_dtype(torch.device("cpu")) == torch.float32
    assert not runtime.cuda_available()


@pytest.mark.parametrize("bf16, dtype", [(True, torch.bfloat16), (False, torch.float16)])
def test_gpus_get_bf16_where_supported_and_fp16_otherwise(monkeypatch, bf16, dtype):
    """bf16 on Ampere and later (A100, H100, L4), fp16 on the T4 and V100."""
    fake_gpu(monkeypatch, bf16=bf16)
    assert runtime.device() == torch.device("cuda")
    assert runtime.cuda_available()
    assert runtime.autocast_dtype() == dtype  # the default device is the GPU
    assert runtime.autocast_dtype(torch.device("cuda", 0)) == dtype
    assert runtime.autocast_dtype("cuda") == dtype
    # a model kept on the CPU of a GPU machine still trains in float32
    assert runtime.autocast_dtype(torch.device("cpu")) == torch.float32
    assert runtime.autocast_dtype(torch.device("meta")) == torch.float32


def test_families_follow_the_machine_unless_told(monkeypatch):
    from collapse_lib.families.vae import VAEFamily

    fake_gpu(monkeypatch, bf16=True)
    assert VAEFamily(pixels=64, hidden=4, latent=2).torch_device() == torch.device("cuda")
    assert VAEFamily(pixels=64, hidden=4, latent=2, device="cpu").torch_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert VAEFamily(pixels=64, hidden=4, latent=2).torch_device() == torch.device("cpu")


def test_the_profile_follows_the_machine(monkeypatch):
    from collapse_lib import profiles

    monkeypatch.delenv("COLLAPSE_PROFILE", raising=False)
    fake_gpu(monkeypatch, bf16=False)
    assert profiles.resolve_profile() == "gpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.resolve_profile() == "quick"


# the names torch.cuda.get_device_name gives, and the dense half-precision peak of each
DEVICE_NAMES = [
    ("Tesla T4", 65e12),
    ("NVIDIA L4", 121e12),
    ("NVIDIA L40", 181e12),
    ("NVIDIA L40S", 362e12),
    ("NVIDIA A10", 125e12),
    ("NVIDIA A10G", 70e12),
    ("NVIDIA A100-SXM4-80GB", 312e12),
    ("NVIDIA A100 80GB PCIe", 312e12),
    ("NVIDIA A100-PCIE-40GB", 312e12),
    ("Tesla V100-SXM2-16GB", 125e12),
    ("NVIDIA H100 80GB HBM3", 989e12),
    ("NVIDIA H100 PCIe", 756e12),
    ("NVIDIA H100 NVL", 835e12),
    ("NVIDIA H200", 989e12),
    ("NVIDIA GH200 480GB", 989e12),
    ("NVIDIA B200", 2250e12),
    ("NVIDIA GeForce RTX 4090", None),
    ("NVIDIA A40", None),
]


@pytest.mark.parametrize("name, peak", DEVICE_NAMES)
def test_peak_flops_by_exact_device_name(monkeypatch, name, peak):
    assert train_mod.peak_flops_of_name(name) == peak
    fake_gpu(monkeypatch, bf16=True, name=name)
    assert train_mod.peak_flops("cuda") == peak
    assert train_mod.peak_flops(torch.device("cuda", 0)) == peak
    assert train_mod.peak_flops("cpu") is None and train_mod.peak_flops() is None


def test_no_peak_without_cuda_even_for_a_cuda_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train_mod.peak_flops("cuda") is None


# ---------------------------------------------------------------- the training loop
TINY = TinyGPTConfig(n_embd=16, n_layer=1, n_head=2, n_positions=16)
VOCAB = 50


def tiny(seed=0):
    return tiny_gpt2(VOCAB, TINY, eos_token_id=0, seed=seed)


def token_blocks(n, L=8, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, size=(n, L)).astype(np.int32)


class Recorder(torch.optim.AdamW):
    """AdamW that records, at every step, the learning rate and a copy of the gradients."""

    log: list = []

    def step(self, closure=None):
        Recorder.log.append((self.param_groups[0]["lr"],
                             [p.grad.detach().clone() for g in self.param_groups for p in g["params"]]))
        return super().step(closure)


@pytest.fixture
def recorder(monkeypatch):
    Recorder.log = []
    monkeypatch.setattr(torch.optim, "AdamW", Recorder)
    return Recorder


def test_cosine_schedule_runs_over_optimizer_steps_from_lr_to_min_lr(recorder):
    """lr_i = min_lr + (lr - min_lr) (1 + cos(pi i / S)) / 2 for steps i = 0..S-1, with
    S = epochs x ceil(n / batch_size) optimizer steps in all (not one per epoch)."""
    n, batch, epochs, lr, min_lr = 20, 8, 3, 1e-2, 1e-4
    stats = fine_tune(tiny(), token_blocks(n), epochs=epochs, batch_size=batch, lr=lr, min_lr=min_lr, seed=0)
    S = epochs * math.ceil(n / batch)
    assert stats.steps == S == 9
    lrs = [entry[0] for entry in recorder.log]
    expected = [min_lr + (lr - min_lr) * (1 + math.cos(math.pi * i / S)) / 2 for i in range(S)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_micro_batches_give_the_gradient_of_the_whole_batch(recorder):
    """The accumulated gradient of every step equals the one-pass gradient of its batch,
    including the short last batch (20 blocks: batches of 8, 8 and 4; micro-batches of
    3). Float32 sums in another order agree to about 1e-6 of the gradient's size."""
    x = token_blocks(20, seed=1)
    fine_tune(tiny(), x, epochs=1, batch_size=8, lr=1e-3, seed=3)
    whole = recorder.log[:]
    recorder.log.clear()
    fine_tune(tiny(), x, epochs=1, batch_size=8, micro_batch_size=3, lr=1e-3, seed=3)
    micro = recorder.log[:]
    assert len(whole) == len(micro) == 3
    for (_, ga), (_, gb) in zip(whole, micro):
        scale = max(float(g.abs().max()) for g in ga)
        for a, b in zip(ga, gb):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5 * scale)


def test_the_loss_of_an_epoch_is_the_mean_over_its_blocks(recorder):
    """With lr = min_lr tiny the model barely moves: the reported loss of the one epoch is
    the mean token cross-entropy of the untouched model over all blocks, to the change
    that steps of 1e-9 make."""
    from collapse_lib.lm import corpus_perplexity

    x = token_blocks(12, seed=2)
    m = tiny()
    before = math.log(corpus_perplexity(m, x))
    stats = fine_tune(m, x, epochs=1, batch_size=5, micro_batch_size=2, lr=1e-9, min_lr=0.0, seed=0)
    assert stats.losses[0] == pytest.approx(before, rel=1e-5)
    assert stats.tokens == 12 * 8 and stats.steps == 3
