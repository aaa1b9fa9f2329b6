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
from collapse_lib.testing.ranks import ThreadGroup  # noqa: E402
from fp_bounds import (adamw_weight_bound, cross_entropy_rounding, gradient_summands,  # noqa: E402
                       lm_autocast_rtol, loss_sum_rtol, reordered_gradient_bound)


def fake_gpu(monkeypatch, *, bf16: bool, name: str = "NVIDIA A100-SXM4-80GB"):
    """A CUDA machine as torch reports it: an Ampere GPU (capability 8.0) where ``bf16``,
    else a Turing T4 (7.5). ``is_bf16_supported`` says yes on both, as recent torch does
    for the T4's emulated bf16, so only the capability can decide."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (8, 0) if bf16 else (7, 5))
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


@pytest.mark.parametrize("device_type, amp, precision, device_precision, expected", [
    # an Ampere-or-later GPU: bf16 autocast, no scaler, fused AdamW, TF32
    ("cuda", True, None, "bfloat16", ("bfloat16", True, False, True, True)),
    # a T4 or V100: fp16 autocast with a gradient scaler
    ("cuda", True, None, "float16", ("float16", True, True, True, True)),
    # mixed precision switched off on a GPU: float32, still the GPU's fused kernel and TF32
    ("cuda", False, None, "bfloat16", ("float32", False, False, True, True)),
    # a precision asked for wins over the device's, and over amp=False
    ("cuda", True, "float16", "bfloat16", ("float16", True, True, True, True)),
    ("cuda", False, "bfloat16", "float16", ("bfloat16", True, False, True, True)),
    ("cuda", True, "float32", "bfloat16", ("float32", False, False, True, True)),
    # the CPU: float32 and the plain loop, unless bf16 is asked for (the tests' check of
    # the mixed-precision path); fp16 on the CPU gets the scaler as on a GPU
    ("cpu", True, None, "float32", ("float32", False, False, False, False)),
    ("cpu", True, "bfloat16", "float32", ("bfloat16", True, False, False, False)),
    ("cpu", False, "float16", "float32", ("float16", True, True, False, False)),
    ("mps", True, None, "float32", ("float32", False, False, False, False)),
])
def test_training_plan_for_every_kind_of_device(device_type, amp, precision, device_precision, expected):
    plan = train_mod.training_plan(device_type, amp=amp, precision=precision, device_precision=device_precision)
    assert (plan.dtype, plan.autocast, plan.grad_scaler, plan.fused_adamw, plan.fast_matmul) == expected


def test_training_plan_follows_the_device_by_default_and_refuses_other_precisions():
    assert train_mod.training_plan("cuda", device_precision="bfloat16").dtype == "bfloat16"  # amp is on by default
    assert train_mod.training_plan("cuda").dtype == "float32"  # a device without a reduced precision
    with pytest.raises(ValueError, match=r"precision='fp8' is not allowed: it must be one of 'bfloat16', "
                                         r"'float16', 'float32'"):
        train_mod.training_plan("cuda", precision="fp8")


@pytest.mark.parametrize("bf16, dtype", [(True, "bfloat16"), (False, "float16")])
def test_fine_tuning_asks_the_device_for_its_precision(monkeypatch, bf16, dtype):
    """fine_tune passes the device's own choice (runtime.autocast_dtype, made to answer
    as a GPU's would) to the plan, with the settings it was given."""
    seen = []
    real = train_mod.training_plan

    def spy(device_type, **kw):
        seen.append((device_type, kw))
        return real(device_type, **kw)

    asked = []

    def device_choice(dev=None):
        asked.append(dev)
        return getattr(torch, dtype)

    monkeypatch.setattr(train_mod, "training_plan", spy)
    monkeypatch.setattr(runtime, "autocast_dtype", device_choice)
    fine_tune(tiny(), token_blocks(4), epochs=1, batch_size=4, seed=0, precision="float32")
    assert seen == [("cpu", {"amp": True, "precision": "float32", "device_precision": dtype})]
    # the device asked is the model's, not the machine's default (a model kept on the CPU
    # of a GPU machine trains in float32)
    assert asked == [torch.device("cpu")]


def test_the_plan_decides_the_optimizer_kernel_and_the_gradient_scaler(monkeypatch):
    """What a GPU's plan turns on, run on the CPU: the fused AdamW kernel is asked for, and
    fp16's gradient scaler scales every backward pass and steps the optimizer."""
    built, scaler_calls = [], []

    class Spy(torch.optim.AdamW):
        def __init__(self, params, **kw):
            built.append(dict(kw))
            kw.pop("fused", None)
            super().__init__(params, **kw)

    class Scaler:
        def __init__(self, device):
            scaler_calls.append(("init", device))

        def scale(self, loss):
            scaler_calls.append("scale")
            return loss

        def step(self, opt):
            scaler_calls.append("step")
            opt.step()

        def update(self):
            scaler_calls.append("update")

    real = train_mod.training_plan
    monkeypatch.setattr(torch.optim, "AdamW", Spy)
    monkeypatch.setattr(torch.amp, "GradScaler", Scaler)
    monkeypatch.setattr(train_mod, "training_plan", lambda device_type, **kw: train_mod.TrainingPlan(
        dtype="float16", autocast=False, grad_scaler=True, fused_adamw=True, fast_matmul=False))
    fine_tune(tiny(), token_blocks(8), epochs=1, batch_size=4, micro_batch_size=2, lr=1e-3, seed=0)
    assert built == [{"lr": 1e-3, "weight_decay": 0.0, "fused": True}]
    # two steps of two micro-batches: a scaled backward pass each, a scaled step and an update each
    assert scaler_calls == [("init", "cpu")] + ["scale", "scale", "step", "update"] * 2
    monkeypatch.setattr(train_mod, "training_plan", real)


def test_bf16_on_the_cpu_trains_close_to_float32():
    """The mixed-precision path, run on the CPU in bf16: it reports its precision, and its
    losses follow float32's within bf16's resolution: 4 roundings of u = 2^-8 in each of
    the 7 matrix products of the one-layer model, carried to the loss by its sensitivity
    to the logits, at the starting and at the trained weights
    (:func:`fp_bounds.autocast_loss_rtol`: about 0.5 % here)."""
    x = token_blocks(16, seed=3)
    a, b = tiny(), tiny()
    rtol = lm_autocast_rtol(a, x, torch.bfloat16)
    full = fine_tune(a, x, epochs=2, batch_size=8, lr=3e-3, seed=0)
    rtol = max(rtol, lm_autocast_rtol(a, x, torch.bfloat16))
    half = fine_tune(b, x, epochs=2, batch_size=8, lr=3e-3, seed=0, precision="bfloat16")
    assert (full.dtype, half.dtype) == ("float32", "bfloat16")
    assert np.all(np.isfinite(half.losses)) and half.losses[-1] < half.losses[0]
    np.testing.assert_allclose(half.losses, full.losses, rtol=rtol)
    # and it did run in bf16: float32 itself repeats exactly
    c = tiny()
    assert fine_tune(c, x, epochs=2, batch_size=8, lr=3e-3, seed=0).losses == full.losses
    assert half.losses != full.losses


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
    3). In float64, and with steps of lr = 1e-300 that leave every weight as it was (a
    zero bias moves by 1e-300), both runs take every step's gradient at the same weights,
    so they differ only by the order of the sums (:func:`fp_bounds.reordered_gradient_bound`,
    about 1e-10 of the gradient's size), where a micro-batch weighted wrongly changes
    entries by percents of it."""
    x = token_blocks(20, seed=1)
    fine_tune(tiny().to(torch.float64), x, epochs=1, batch_size=8, lr=1e-300, min_lr=0.0, seed=3)
    whole = recorder.log[:]
    recorder.log.clear()
    fine_tune(tiny().to(torch.float64), x, epochs=1, batch_size=8, micro_batch_size=3, lr=1e-300, min_lr=0.0, seed=3)
    micro = recorder.log[:]
    assert len(whole) == len(micro) == 3
    for (_, ga), (_, gb) in zip(whole, micro):
        scale = max(float(g.abs().max()) for g in ga)
        # a batch of at most 8 blocks of 8 tokens, through the widest layer
        bound = reordered_gradient_bound(gradient_summands(8, 8, max(4 * TINY.n_embd, VOCAB)), scale, torch.float64)
        for a, b in zip(ga, gb):
            assert b.dtype == torch.float64
            torch.testing.assert_close(b, a, rtol=0, atol=bound)


def test_the_loss_of_an_epoch_is_the_mean_over_its_blocks(recorder):
    """With steps of lr = 1e-300 the model (in float64) keeps its weights (a zero bias
    moves by 1e-300): the reported loss of the one epoch is the mean token cross-entropy
    of the untouched model over all blocks, to rounding. ``corpus_perplexity`` takes every
    token's cross-entropy in float32 (:func:`fp_bounds.cross_entropy_rounding`) and
    averages them in float64; the epoch's loss averages each micro-batch's tokens in
    float64 and adds the 7 micro-batch losses (2, 2 and 1 blocks of each batch of 5, 5
    and 2) in float32 (:func:`fp_bounds.loss_sum_rtol`). A loss not weighted by its
    micro-batch's blocks, or divided by another count, is off by percents."""
    from collapse_lib.lm import corpus_perplexity

    x = token_blocks(12, seed=2)
    m = tiny().to(torch.float64)
    with torch.no_grad():
        max_logit = float(m(input_ids=torch.as_tensor(x, dtype=torch.long)).logits.abs().max())
    before = math.log(corpus_perplexity(m, x))
    stats = fine_tune(m, x, epochs=1, batch_size=5, micro_batch_size=2, lr=1e-300, min_lr=0.0, seed=0)
    rel = loss_sum_rtol((7, 1)) + cross_entropy_rounding(VOCAB, max_logit, torch.float32) / before
    assert stats.losses[0] == pytest.approx(before, rel=rel)
    assert stats.tokens == 12 * 8 and stats.steps == 3


def test_fine_tuning_reports_what_it_did(recorder, monkeypatch):
    """The statistics of a run on the CPU: steps, tokens, parameters, device, precision,
    throughput, and the MFU from the device's peak (a made-up peak of 1 TFLOP/s here;
    on the CPU there is none, so None)."""
    from collapse_lib.lm.models import count_parameters

    import time

    m = tiny()
    x = token_blocks(10)
    t0 = time.perf_counter()
    stats = fine_tune(m, x, epochs=2, batch_size=4, lr=1e-3, weight_decay=0.01, seed=0)
    assert 0 < stats.seconds <= time.perf_counter() - t0  # the loop's own wall-clock time
    assert stats.steps == 6 and stats.tokens == 2 * 10 * 8 and len(stats.losses) == 2
    assert stats.n_params == count_parameters(m) and stats.device == "cpu" and stats.dtype == "float32"
    assert stats.seconds > 0 and stats.tokens_per_s == pytest.approx(stats.tokens / stats.seconds)
    assert stats.mfu is None and not m.training
    opt_groups = recorder.log  # the optimizer was built with the settings asked for
    assert len(opt_groups) == 6
    monkeypatch.setattr(train_mod, "peak_flops", lambda dev: 1e12 if dev == torch.device("cpu") else None)
    stats = fine_tune(tiny(), x, epochs=1, batch_size=4, seed=0)
    assert stats.mfu == pytest.approx(6 * stats.n_params * stats.tokens / stats.seconds / 1e12, rel=1e-9)
    assert train_mod.model_flops_utilisation(10, 10, 0.0, 1e12) is None
    assert train_mod.model_flops_utilisation(10, 10, 1.0, None) is None


def test_weight_decay_and_learning_rate_reach_the_optimizer(monkeypatch):
    built = []

    class Spy(torch.optim.AdamW):
        def __init__(self, params, **kw):
            built.append(kw)
            super().__init__(params, **kw)

    monkeypatch.setattr(torch.optim, "AdamW", Spy)
    fine_tune(tiny(), token_blocks(4), epochs=1, batch_size=4, lr=3e-3, weight_decay=0.05, seed=0)
    assert built == [{"lr": 3e-3, "weight_decay": 0.05}]  # no fused kernel on the CPU


def test_training_is_a_function_of_the_seed_and_leaves_global_randomness_alone():
    x = token_blocks(12, seed=4)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = tiny()
    fine_tune(a, x, epochs=1, batch_size=4, lr=1e-2, seed=1)
    torch.testing.assert_close(torch.rand(3), expected_next)  # torch's global stream is restored
    b, c = tiny(), tiny()
    fine_tune(b, x, epochs=1, batch_size=4, lr=1e-2, seed=1)
    fine_tune(c, x, epochs=1, batch_size=4, lr=1e-2, seed=2)  # another seed: another order of the blocks
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    # a micro-batch larger than the batch is the batch; amp=False is the CPU's float32 anyway:
    # the same computation, so the same weights exactly
    d = tiny()
    fine_tune(d, x, epochs=1, batch_size=4, micro_batch_size=100, lr=1e-2, seed=1, amp=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), d.parameters()))


@pytest.mark.parametrize("kw, message", [
    ({"batch_size": 0}, r"batch_size=0 is not allowed"),
    ({"micro_batch_size": 0}, r"micro_batch_size=0 is not allowed"),
    ({"lr": 0.0}, r"lr=0.0 is not allowed"),
    ({"lr": 1e-3, "min_lr": -1e-6}, r"min_lr=-1e-06 is not allowed: it must be between 0 and lr=0.001"),
    ({"weight_decay": -0.1}, r"weight_decay=-0.1 is not allowed: it must be a number >= 0"),
])
def test_bad_training_settings_are_refused_by_name(kw, message):
    with pytest.raises(ValueError, match=message):
        fine_tune(tiny(), token_blocks(4), **kw)


@pytest.mark.parametrize("blocks", [np.zeros(8, np.int32), np.zeros((0, 8), np.int32), np.zeros((3, 1), np.int32)])
def test_blocks_of_the_wrong_shape_are_refused(blocks):
    with pytest.raises(ValueError, match=r"blocks of shape .* are not allowed: they must be \(n >= 1, block_size >= 2\)"):
        fine_tune(tiny(), blocks)


def test_edge_settings_that_are_allowed():
    """min_lr = lr (a constant rate), min_lr = 0, weight decay 0, blocks of two tokens and
    exactly the model's longest context all train."""
    fine_tune(tiny(), token_blocks(4), epochs=1, batch_size=4, lr=1e-3, min_lr=1e-3)
    fine_tune(tiny(), token_blocks(4), epochs=1, batch_size=4, lr=1e-3, min_lr=0.0, weight_decay=0.0)
    fine_tune(tiny(), token_blocks(4, L=2), epochs=1, batch_size=4)
    fine_tune(tiny(), token_blocks(2, L=TINY.n_positions), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match=r"block_size=17 is not allowed: the model takes at most 16 tokens"):
        fine_tune(tiny(), token_blocks(2, L=TINY.n_positions + 1), epochs=1, batch_size=2)


def test_fast_matmul_turns_tf32_on():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        train_mod.enable_fast_matmul()
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


# ------------------------------------------------------------ seeds, streams, cache
def test_generation_streams_are_keyed_by_seed_generation_and_purpose():
    a = runtime.generation_rng(3, 5, "synthetic").random(4)
    np.testing.assert_array_equal(a, np.random.default_rng([3, 5, runtime.STREAMS.index("synthetic")]).random(4))
    draws = {(s, g, p): runtime.generation_rng(s, g, p).random() for s in (0, 1) for g in (0, 1) for p in runtime.STREAMS}
    assert len(set(draws.values())) == len(draws)  # every stream its own
    with pytest.raises(ValueError, match=r"purpose='noise' is not allowed: it must be one of \('real', 'synthetic', "
                                         r"'policy', 'eval'\)"):
        runtime.generation_rng(0, 0, "noise")


def test_seed_everything_seeds_python_numpy_and_torch():
    import random

    runtime.seed_everything(2**32 + 7)  # larger than NumPy's legacy seeds: taken modulo 2^32
    a = (random.random(), np.random.random(), torch.rand(1).item())
    runtime.seed_everything(2**32 + 7)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == a
    np.random.seed(7)
    assert np.random.random() == a[1]
    runtime.seed_everything(8)
    assert random.random() != a[0]


def test_cache_dir_defaults_to_the_home_cache_and_creates_nested_parts(tmp_path, monkeypatch):
    monkeypatch.delenv("COLLAPSE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = runtime.cache_dir("runs", "lm")
    assert path == tmp_path / ".cache" / "collapse_lib" / "runs" / "lm" and path.is_dir()
    assert runtime.cache_dir() == tmp_path / ".cache" / "collapse_lib"


def test_no_torch_means_no_cuda(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    assert runtime.cuda_available() is False


def test_the_defaults_are_the_papers_recipe(monkeypatch):
    """Shumailov et al.'s fine-tuning: AdamW at 2e-5 annealed to 1e-6, batches of 128
    blocks, no weight decay, 5 epochs (their setting without original data), seed 0, no
    progress bar unless asked. Observed on a call without settings: 129 blocks take two
    steps an epoch, ten in all."""
    from collapse_lib import progress as progress_mod

    built, bars = [], []

    class Spy(torch.optim.AdamW):
        def __init__(self, params, **kw):
            built.append(kw)
            super().__init__(params, **kw)

        def step(self, closure=None):
            built.append(self.param_groups[0]["lr"])
            return super().step(closure)

    real_bar = progress_mod.progress
    monkeypatch.setattr(progress_mod, "progress",
                        lambda it, total, desc, enabled: bars.append((desc, enabled)) or real_bar(it, enabled=False))
    monkeypatch.setattr(torch.optim, "AdamW", Spy)
    x = token_blocks(129, L=4)
    a = tiny()
    stats = fine_tune(a, x)
    assert built[0] == {"lr": 2e-5, "weight_decay": 0.0} and stats.steps == 10
    assert built[1] == pytest.approx(2e-5) and built[-1] == pytest.approx(1e-6 + (2e-5 - 1e-6) * (1 + math.cos(math.pi * 9 / 10)) / 2)
    assert bars == [("fine-tuning", False)]


def test_the_first_step_follows_the_seeded_order_and_the_progress_bar_is_labelled(recorder, monkeypatch):
    """The gradient of the first step, recomputed by hand: the blocks of the first batch
    are the first ones of torch.randperm(n) drawn from a generator seeded by ``seed``,
    and the gradient is that of their mean next-token loss. Batches of one block and
    micro-batches of one are allowed."""
    from collapse_lib import progress as progress_mod

    bars = []
    real_bar = progress_mod.progress
    monkeypatch.setattr(progress_mod, "progress",
                        lambda it, total, desc, enabled: bars.append((total, desc, enabled)) or real_bar(it, enabled=False))
    x = token_blocks(9, seed=6)
    m = tiny(seed=2).to(torch.float64)
    start = tiny(seed=2).to(torch.float64)
    fine_tune(m, x, epochs=1, batch_size=4, micro_batch_size=1, lr=1e-3, seed=11, desc="label", progress=None)
    assert bars == [(1, "label", None)]
    order = torch.randperm(9, generator=torch.Generator().manual_seed(11))
    batch = torch.as_tensor(x, dtype=torch.long)[order[:4]]
    start.train()
    loss = start(input_ids=batch, attention_mask=torch.ones_like(batch), labels=batch).loss
    loss.backward()
    scale = max(float(p.grad.abs().max()) for p in start.parameters())
    # four micro-batches of one block accumulated against one pass over the batch of 4, in
    # float64: the same sums in another order (fp_bounds.reordered_gradient_bound)
    bound = reordered_gradient_bound(gradient_summands(4, 8, max(4 * TINY.n_embd, VOCAB)), scale, torch.float64)
    for p, g in zip(start.parameters(), recorder.log[0][1]):
        torch.testing.assert_close(g, p.grad, rtol=0, atol=bound)
    fine_tune(tiny(), x[:3], epochs=1, batch_size=1, lr=1e-3)  # one block a step


@pytest.mark.parametrize("size, micro", [(2, None), (3, 2)])
def test_data_parallel_steps_share_the_micro_batches_and_sum_their_gradients(size, micro):
    """Ranks of a group (threads here; processes under torchrun, tested in
    test_distributed.py) train copies of one model on shares of every batch and end with
    the one-process model: 10 blocks in steps of 4 (4, 4, 2), so with 2 ranks the last
    step's only micro-batch is rank 0's and with 3 ranks one rank adds nothing to a step.
    The models train in float64, so that the weights may differ only by the order of the
    gradient sums (:func:`fp_bounds.adamw_weight_bound`: about 1e-9), where a lost or
    doubled share moves weights by about lr and a gradient averaged instead of summed over
    the ranks by 1e-5 and more; float32's bound would be about 1, useless."""
    import threading

    x = token_blocks(10, seed=7)
    settings = dict(epochs=2, batch_size=4, micro_batch_size=micro, lr=3e-3, min_lr=1e-4, seed=11)
    one = tiny().to(torch.float64)
    expected = fine_tune(one, x, **settings)
    group = ThreadGroup(size)
    models, stats, errors = [tiny().to(torch.float64) for _ in range(size)], [None] * size, []

    def rank(r):
        try:
            stats[r] = fine_tune(models[r], x, **settings, group=group.member(r))
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
            group.barrier.abort()

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # one gradient sum per step and one loss sum per epoch, on every rank
    assert group.calls == [expected.steps + 2] * size and all(s.steps == expected.steps == 6 for s in stats)
    # every gradient entry sums at most a batch of 4 blocks of 8 tokens through the widest layer
    bound = adamw_weight_bound(expected.steps, settings["lr"], gradient_summands(4, 8, max(4 * TINY.n_embd, VOCAB)))
    for k, v in one.state_dict().items():
        for m in models:
            assert m.state_dict()[k].dtype == torch.float64
            torch.testing.assert_close(m.state_dict()[k], v, rtol=0, atol=bound)
    # one process adds a loss per micro-batch of its steps of 4, 4 and 2 blocks; the ranks
    # share out 5 (micro-batches of 2) and add their partial sums (fp_bounds.loss_sum_rtol)
    rtol = loss_sum_rtol((sum(-(-b // (micro or 4)) for b in (4, 4, 2)), 1), (5, size))
    for s in stats:
        np.testing.assert_allclose(s.losses, expected.losses, rtol=rtol)
        assert s.tokens == expected.tokens and s.dtype == "float32"


def test_a_group_multiplies_the_peak_of_the_mfu(monkeypatch):
    """A group's tokens are trained on all of its devices, so its MFU is over their summed peak."""
    monkeypatch.setattr(train_mod, "peak_flops", lambda dev: 1e12)
    stats = fine_tune(tiny(), token_blocks(4), epochs=1, batch_size=4, seed=0, group=ThreadGroup(1).member(0))
    assert stats.mfu == pytest.approx(6 * stats.n_params * stats.tokens / stats.seconds / 1e12, rel=1e-9)

    class Pair:
        rank, size = 0, 2

        def sum_(self, t):
            return t.mul_(2)  # the other rank's share equal to this one's

    stats = fine_tune(tiny(), token_blocks(4), epochs=1, batch_size=4, seed=0, group=Pair())
    assert stats.mfu == pytest.approx(6 * stats.n_params * stats.tokens / stats.seconds / 2e12, rel=1e-9)
