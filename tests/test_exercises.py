"""The exercise checks of chapters 1-3: each accepts a right answer (printing a
confirmation) and rejects a wrong one with an AnswerError that says what is wrong.

The right answers are computed here independently of the checks' own code (from the
formulas in the exercises' solutions), so a check whose expected value drifted would
fail."""
from __future__ import annotations

import math

import numpy as np
import pytest

import collapse_lib.exercises as ex
from collapse_lib.exercises import AnswerError


def test_checks_are_exported():
    for name in ("check_mle_halving_generation", "check_first_generation_loss", "check_surviving_after_one",
                 "check_gmm_predicted_std", "check_gmm_cluster_loss_time", "check_gaussian_overlap",
                 "check_vae_kl", "check_effective_classes"):
        assert callable(getattr(ex, name)) and name in ex.__all__


# ---------------------------------------------------------------- chapter 1
def test_mle_halving_generation(capsys):
    # ((M-1)/M)^(g+1) = 1/2  ->  g + 1 = ln 2 / ln(100/99) = 68.97 fits, generation g = 67.97;
    # the question allows both readings, whole or real
    for answer in (67.97, 68, 68.97, 69):
        assert ex.check_mle_halving_generation(answer, samples=100) is True
    assert "Correct" in capsys.readouterr().out
    for wrong in (67, 70, 34.5):  # one generation short, one too many, half the answer
        with pytest.raises(AnswerError, match=r"halves: got .*expected 67\.97 \(the generation g\) or 68\.97"):
            ex.check_mle_halving_generation(wrong, samples=100)
    with pytest.raises(AnswerError, match="no answer yet"):
        ex.check_mle_halving_generation(..., samples=100)


def test_first_generation_loss():
    assert ex.check_first_generation_loss(0.99 ** 1000, q=0.01, samples=1000)
    assert ex.check_first_generation_loss(0.99 ** 100, q=0.01, samples=100)
    with pytest.raises(AnswerError, match=r"lost in generation 0, M = 1000\): got 0\.366.*expected 4\.3"):
        ex.check_first_generation_loss(0.99 ** 100, q=0.01, samples=1000)  # the M = 100 value
    with pytest.raises(AnswerError, match="expected a number, got 'x'"):
        ex.check_first_generation_loss("x")


def test_surviving_after_one():
    def right(probs, M):
        return float(sum(1 - (1 - q) ** M for q in probs))

    def wrong(probs, M):  # forgets the complement: the expected number *lost*
        return float(sum((1 - q) ** M for q in probs))

    assert ex.check_surviving_after_one(right)
    with pytest.raises(AnswerError, match=r"surviving_after_one\(probs=\[0\.35.*M=100\): got 0\.74.*linearity"):
        ex.check_surviving_after_one(wrong)
    with pytest.raises(AnswerError, match="raised ZeroDivisionError"):
        ex.check_surviving_after_one(lambda probs, M: 1 / 0)
    with pytest.raises(AnswerError, match="expected a function"):
        ex.check_surviving_after_one(6.26)
    with pytest.raises(AnswerError, match="no answer yet"):
        ex.check_surviving_after_one(lambda probs, M: ...)


# ---------------------------------------------------------------- chapter 2
def test_gmm_predicted_std():
    # first order: log std falls by (d+3)/(4N) = 5/(2M) a generation; after T = 2M: 0.8 exp(-5)
    assert ex.check_gmm_predicted_std(0.8 * math.exp(-5), samples=1000)
    assert ex.check_gmm_predicted_std(0.8 * math.exp(-5), samples=100)  # within the first-order gap
    with pytest.raises(AnswerError, match=r"component std after 2000 generations \(M = 1000\): got 0\.0285"):
        ex.check_gmm_predicted_std(0.8 * math.exp(-10 / 3), samples=1000)  # the d = 1 rate
    with pytest.raises(AnswerError, match="off by"):
        ex.check_gmm_predicted_std(0.8, samples=100)


def test_gmm_cluster_loss_median():
    """The exact Wright-Fisher median against 20,000 simulated chains (whose sample median
    has a standard error of about one generation for M = 100), and the mean rejected."""
    M, R = 100, 20_000
    rng = np.random.default_rng(3)
    n, hit, t = np.full(R, M // 2), np.zeros(R, int), 0
    while (hit == 0).mean() > 0.4:  # the median needs only the first half of the absorptions
        t += 1
        n = rng.binomial(M, n / M)
        hit[(hit == 0) & ((n == 0) | (n == M))] = t
    simulated = float(np.median(np.where(hit == 0, np.inf, hit)))
    assert 1.0 * M < simulated < 1.2 * M
    assert ex.check_gmm_cluster_loss_median(simulated, samples=M)
    with pytest.raises(AnswerError, match=r"median generation of cluster loss \(M = 100.*the mean 2 M ln 2"):
        ex.check_gmm_cluster_loss_median(2 * M * math.log(2), samples=M)


def test_gmm_cluster_loss_time():
    assert ex.check_gmm_cluster_loss_time(2 * 100 * math.log(2), samples=100)
    assert ex.check_gmm_cluster_loss_time(139, samples=100)
    with pytest.raises(AnswerError, match=r"expected generations to lose a cluster \(M = 100\): got 100.*-2M"):
        ex.check_gmm_cluster_loss_time(100, samples=100)


def test_gaussian_overlap():
    def right(m1, S1, m2, S2):
        S = np.asarray(S1) + np.asarray(S2)
        diff = np.asarray(m1) - np.asarray(m2)
        d = len(diff)
        return float(np.exp(-0.5 * diff @ np.linalg.inv(S) @ diff) / np.sqrt((2 * np.pi) ** d * np.linalg.det(S)))

    def no_normalisation(m1, S1, m2, S2):
        return right(m1, S1, m2, S2) * np.sqrt(2 * np.pi)

    assert ex.check_gaussian_overlap(right)
    with pytest.raises(AnswerError, match=r"gaussian_overlap\(m1=\[0\.0\].*off by.*2 pi"):
        ex.check_gaussian_overlap(no_normalisation)


# ---------------------------------------------------------------- chapter 3
def test_vae_kl():
    assert ex.check_vae_kl(0.5 * (0.01 - math.log(0.01) - 1), mu=0.0, sigma=0.1)
    assert ex.check_vae_kl(0.125, mu=0.5, sigma=1.0)
    with pytest.raises(AnswerError, match=r"KL\(N\(0\.0, 0\.1\^2\) \|\| N\(0, 1\)\): got 0\.505,.*natural logarithm"):
        ex.check_vae_kl(0.5 * (0.01 - math.log10(0.01) - 1), mu=0.0, sigma=0.1)  # base-10 logarithm
    with pytest.raises(AnswerError, match="got 3.6"):
        ex.check_vae_kl(0.01 - math.log(0.01) - 1, mu=0.0, sigma=0.1)  # forgot the 1/2


def test_effective_classes():
    def right(shares):
        p = np.asarray(shares, float)
        p = p[p > 0]
        return float(np.exp(-(p * np.log(p)).sum()))

    def nonzero_count(shares):
        return float((np.asarray(shares) > 0).sum())

    assert ex.check_effective_classes(right)
    with pytest.raises(AnswerError, match=r"effective_classes\(\[0\.\d+, .*\]\): got 10.*exp\(-sum_k"):
        ex.check_effective_classes(nonzero_count)

    def nan_on_zero(shares):  # 0 log 0 left as nan
        p = np.asarray(shares, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.exp(-(p * np.log(p)).sum()))

    with pytest.raises(AnswerError, match="expected a finite number, got nan"):
        ex.check_effective_classes(nan_on_zero)
