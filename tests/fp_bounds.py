"""Tolerances for numbers that the tests compute two ways: the same sums in another order
(other processes, threads playing ranks, micro-batches against one batch, batched against
looped kernels) or in another precision. Each comes from floating-point analysis, the
unit roundoff of the precision times the number of operations, never from trial and error.

The reference is N. J. Higham, *Accuracy and Stability of Numerical Algorithms* (2nd ed.,
SIAM, 2002): u is the unit roundoff (half the machine epsilon: 2^-53 for float64, 2^-24
for float32, 2^-11 for float16, 2^-8 for bfloat16), and gamma_n = n u / (1 - n u) bounds
the relative error of n roundings in a row (Lemma 3.1). A sum of n terms, added in any
order, lies within gamma_{n-1} sum|terms| of the exact sum (section 4.2); so two orders
of the same terms differ by at most twice that.
"""
from __future__ import annotations

import math

#: bits of the significand, the implicit one included
SIGNIFICAND_BITS = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}

#: AdamW's default moment decays (``torch.optim.AdamW``), which ``fine_tune`` uses
ADAM_BETAS = (0.9, 0.999)


def unit_roundoff(dtype) -> float:
    """u = 2^-p for a precision with p significand bits (a torch or NumPy dtype, or its name)."""
    name = str(dtype).replace("torch.", "")
    if name not in SIGNIFICAND_BITS:  # a NumPy type
        import numpy as np

        name = np.dtype(dtype).name
    return 2.0 ** -SIGNIFICAND_BITS[name]


def gamma(n: int, dtype) -> float:
    """Higham's gamma_n = n u / (1 - n u): n roundings in a row change a value by at most
    this relative amount (only defined while n u < 1)."""
    nu = n * unit_roundoff(dtype)
    if not nu < 1:
        raise ValueError(f"{n} roundings of unit roundoff {unit_roundoff(dtype)} bound nothing (n u >= 1)")
    return nu / (1 - nu)


def reordered_sum_bound(n_summands: int, dtype) -> float:
    """How far two sums of the same ``n_summands`` terms, added in different orders (or
    blockings), may lie apart, relative to sum|terms|: each is within gamma_{n-1}
    sum|terms| of the exact sum, so 2 gamma_{n-1}."""
    return 2 * gamma(max(n_summands - 1, 0), dtype)


def gradient_summands(batch_blocks: int, block_length: int, widest: int) -> int:
    """The number of products behind one entry of a language model's gradient: a sum over
    the batch's tokens (``batch_blocks`` x ``block_length``) of products whose factors are
    themselves sums over at most the widest layer (``widest``: the MLP's 4 n_embd or the
    vocabulary); counting every product of every nested sum once gives at most their product."""
    return batch_blocks * block_length * widest


def reordered_gradient_bound(n_summands: int, scale: float, dtype, cancellation: float = 100.0) -> float:
    """How far two computations of the same gradient entry in different orders (micro-
    batches accumulated against one batch, shares of a batch summed over ranks) may lie
    apart: ``reordered_sum_bound(n_summands)`` times sum|terms| of the entry, which we allow
    to be up to ``cancellation`` times ``scale``, the largest gradient entry. The tests that
    use it run in float64, where the bound is about 1e-10 of the scale (sums of a few
    thousand products) while the bugs they catch (a micro-batch weighted wrongly, a share
    lost or counted twice) change entries by 1e-7 of it and more: their verdicts are the
    same for any cancellation factor from 1 to 1e3."""
    return reordered_sum_bound(n_summands, dtype) * cancellation * scale


def adam_step_sensitivity(betas=ADAM_BETAS) -> float:
    """1 + the largest |m_hat / sqrt(v_hat)| of an Adam step, (1 - beta1) / sqrt(1 - beta2)
    / (1 - beta1 / sqrt(beta2)) = 31.8 for the default betas: a step changes by at most this
    times the change of a past gradient, relative to sqrt(v_hat) (see :func:`adamw_weight_bound`)."""
    b1, b2 = betas
    return 1 + (1 - b1) / math.sqrt(1 - b2) / (1 - b1 / math.sqrt(b2))


def adamw_weight_bound(steps: int, lr: float, n_summands: int, dtype="float64", cancellation: float = 100.0,
                       betas=ADAM_BETAS) -> float:
    """How far the weights of two AdamW runs may lie apart after ``steps`` steps of at
    most ``lr`` when the only difference is the order of the gradient sums (data-parallel
    ranks against one process, threads playing ranks, micro-batches against one batch).

    - Every gradient entry is a sum of at most ``n_summands`` products
      (:func:`gradient_summands`); in another order its rounding differs by at most
      :func:`reordered_sum_bound` times sum|terms|.
    - AdamW's step m_hat / (sqrt(v_hat) + eps) changes by at most (1 + |step|) / sqrt(v_hat)
      per unit change of any past gradient, with |step| <= 31.8
      (:func:`adam_step_sensitivity`); we allow the sum|terms| of an entry to be up to
      ``cancellation`` times sqrt(v_hat), so one step moves a weight by at most
      lr * 32.8 * cancellation * reordered_sum_bound more.
    - A weight difference feeds later gradients; with lr * 32.8 * |Hessian| / sqrt(v_hat) at
      most 1 this at most doubles the difference per step: 2^steps.

    So the bound is 2^steps * steps * lr * 32.8 * cancellation * reordered_sum_bound. In
    float64 it is of order 1e-9 for the tests' few steps at lr = 3e-3, while a step taken
    from part of a batch, a lost share of a gradient or a gradient averaged instead of
    summed over ranks changes weights by 1e-6 to 1e-3; in float32 (u = 2^-24) the same bound
    is of order 1, useless, which is why the tests that use it train in float64."""
    per_step = lr * adam_step_sensitivity(betas) * cancellation * reordered_sum_bound(n_summands, dtype)
    return 2.0 ** steps * steps * per_step


def loss_sum_rtol(*runs: tuple[int, int], dtype="float32") -> float:
    """The relative difference allowed between the epoch losses (``FineTuneStats.losses``)
    of runs that differ only in the order of their sums. Each run is (terms, ranks): an
    epoch's loss is a ``dtype`` sum, from zero, of ``terms`` positive terms (a micro-batch's
    loss converted to ``dtype`` and multiplied by its number of blocks: two roundings),
    each rank summing its own and the ``ranks`` partial sums then added (ranks - 1 more):
    every term passes through at most terms + ranks roundings, so the run's loss is within
    gamma_{terms + ranks} of the exact sum, and two runs differ by at most the sum of
    their gammas. The division by the number of blocks is the same float64 operation on
    both sides (2 u_float64 more). The losses behind the terms are computed in float64
    from weights that differ only by reordered float64 sums (:func:`adamw_weight_bound`):
    differences of float64's order, 2^29 times finer than the float32 roundings counted
    here, which are not counted."""
    return sum(gamma(terms + ranks, dtype) for terms, ranks in runs) + 2 * unit_roundoff("float64")


def cross_entropy_rounding(vocab: int, max_abs_logit: float, dtype) -> float:
    """How far one token's cross-entropy ``log sum_j exp(z_j) - z_y``, computed in
    ``dtype`` (as ``F.cross_entropy`` does, shifted by the largest logit) from logits given
    in a wider precision, may lie from its exact value, in absolute terms: the sum of the
    ``vocab`` exponentials (each within 2 u: the shift and the exp) is within
    gamma_{vocab + 1} of itself, which its log turns into an absolute error of at most that
    (the sum is at least 1); converting the logits to ``dtype`` moves z_y and the shift by
    u max|z| each, and the log, the shift back and the final subtraction round values of
    at most max|z| + log(vocab) (u each)."""
    u = unit_roundoff(dtype)
    return gamma(vocab + 1, dtype) + 2 * u * max_abs_logit + 3 * u * (max_abs_logit + math.log(vocab))


def autocast_loss_rtol(loss, outputs, dtype, products: int) -> float:
    """The relative difference allowed between a loss computed under ``torch.autocast`` in
    ``dtype`` (bfloat16 or float16) and the same loss in float32, at the same weights.

    ``loss`` is the float32 loss, computed (with autograd) from ``outputs``, the tensors
    that the network hands to it (logits, and for a VAE the latent means and
    log-variances), and ``products`` is the number of matrix products (linear layers,
    convolutions, attention's two products) on the longest path from the input to them.
    Under autocast each product rounds its two operands to ``dtype``, accumulates n terms
    in float32 (at most n u_float32, less than one rounding in ``dtype`` while n < 2^13,
    as for every product of the tests' networks) and rounds its result: 4 roundings, so
    an output carries a relative error of at most gamma_{4 * products}, if no sum along
    the way cancels (the assumption of this bound).
    To first order the loss then moves by at most gamma times sum |d loss / d y| |y| over
    the outputs y (computed here), which, relative to the loss, is the tolerance.

    It bounds one forward pass. Training moves the weights of the two runs apart by
    amounts that rounding analysis does not bound (Adam's step is a ratio of gradient
    moments, and a gradient near zero can change sign), so a comparison of training runs
    with it checks that the reduced-precision path computes and reports the float32
    objective to its precision, not how far the trajectories drift."""
    import torch

    grads = torch.autograd.grad(loss, outputs)
    sensitivity = sum(float((g.abs() * y.detach().abs()).sum()) for g, y in zip(grads, outputs))
    return gamma(4 * products, dtype) * sensitivity / abs(float(loss.detach()))


def transformer_products(n_layer: int) -> int:
    """Matrix products on the longest path through a GPT-2 or OPT decoder: per layer the
    query/key/value projection, the two products of attention, its output projection and
    the MLP's two layers (6), and the output head (1)."""
    return 6 * n_layer + 1


def lm_autocast_rtol(model, blocks, dtype) -> float:
    """:func:`autocast_loss_rtol` for a causal language model's mean next-token loss on
    ``blocks`` (n, L) at its present weights (in float32, without dropout)."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    x = torch.as_tensor(blocks, dtype=torch.long)
    logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits.float()
    loss = F.cross_entropy(logits[:, :-1].transpose(1, 2), x[:, 1:])
    model.train(was_training)
    return autocast_loss_rtol(loss, [logits], dtype, transformer_products(model.config.num_hidden_layers))


def vae_loss(model, images, seed: int = 0):
    """A VAE's negative ELBO summed over ``images`` (n, pixels), at its present weights, and
    the outputs it is computed from (the latent means and log-variances and the decoder's
    logits); the noise of the reparameterisation is one standard normal draw (seeded),
    like those of training."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(images, dtype=torch.float32)
    eps = torch.randn((len(x), model.latent), generator=torch.Generator().manual_seed(seed))
    mu, logvar = model.encode(x)
    logits = model.decode_logits(mu + eps * torch.exp(0.5 * logvar))
    loss = (F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
            - 0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()))
    return loss, [mu, logvar, logits]


def vae_autocast_rtol(model, images, dtype) -> float:
    """:func:`autocast_loss_rtol` for a VAE's negative ELBO on ``images`` (:func:`vae_loss`).
    The longest path has 4 products in the MLP VAE (encoder, mean head, decoder, output
    layer) and 6 in the convolutional one (two convolutions, the mean head, the decoder's
    linear layer, two transposed convolutions)."""
    from collapse_lib.families.vae_models import ConvVAE

    loss, outputs = vae_loss(model, images)
    return autocast_loss_rtol(loss, outputs, dtype, 6 if isinstance(model, ConvVAE) else 4)


def adam_early_step_bound(steps: int, betas=ADAM_BETAS) -> float:
    """The largest |m_hat / sqrt(v_hat)| of any of Adam's first ``steps`` steps, whatever
    the gradients: m_hat = sum a_i g_i and v_hat = sum b_i g_i^2 with the bias-corrected
    weights a_i, b_i of the moment decays, so by Cauchy-Schwarz |m_hat| <= sqrt(sum
    a_i^2 / b_i) sqrt(v_hat) (1.0068 for 4 steps of the default betas)."""
    b1, b2 = betas
    worst = 0.0
    for t in range(1, steps + 1):
        a = [(1 - b1) * b1 ** (t - i) / (1 - b1 ** t) for i in range(1, t + 1)]
        b = [(1 - b2) * b2 ** (t - i) / (1 - b2 ** t) for i in range(1, t + 1)]
        worst = max(worst, math.sqrt(sum(x * x / y for x, y in zip(a, b))))
    return worst


def skipped_steps_rtol(loss, params, lr: float, steps: int) -> float:
    """The relative difference that steps skipped by one of two Adam runs (an fp16
    GradScaler skips a step whose gradients overflow) can make in an epoch's mean loss
    over ``steps`` steps of at most ``lr``: each run moves a weight by at most
    lr * :func:`adam_early_step_bound` a step, so before the k-th batch their weights differ
    by at most 2 (k - 1) of that, and the batch's loss by that times sum |d loss / d w|
    (first order, at the weights where ``loss`` was computed); the mean over the epoch's
    batches is (steps - 1) lr bound sum |d loss / d w|, relative to the loss."""
    import torch

    grads = torch.autograd.grad(loss, params)
    l1 = sum(float(g.abs().sum()) for g in grads)
    return (steps - 1) * lr * adam_early_step_bound(steps) * l1 / abs(float(loss.detach()))
