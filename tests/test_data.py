"""Data loading: TensorDataset, DataLoader (coverage, order, shuffling, seeds, drop_last,
batched fetching), the IDX reader, MNIST-format data sets from any directory, transforms,
the spiral set, and the errors for empty or missing data."""

import gzip
import os

import numpy as np
import pytest

import backprop as bp
from backprop.data import DataLoader, Dataset, TensorDataset, datasets, read_idx, transforms, write_idx
from conftest import assert_close, to_np

FASHION = "/usr/share/datasets/fashion-mnist"


def test_tensor_dataset_indexing_and_errors():
    x, y = bp.arange(10.0).view(5, 2), bp.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[3]
    assert_close(xi, [6.0, 7.0]) and yi.item() == 3
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(x, bp.arange(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_covers_each_sample_once_per_epoch(shuffle, drop_last):
    n, bs = 103, 10
    ds = TensorDataset(bp.arange(n).float().view(n, 1) * 2, bp.arange(n))
    loader = DataLoader(ds, batch_size=bs, shuffle=shuffle, drop_last=drop_last)
    assert len(loader) == (n // bs if drop_last else n // bs + 1)
    epochs = []
    for _ in range(2):
        seen = []
        for xb, yb in loader:
            assert xb.shape == (len(yb), 1) and yb.dtype == bp.int64
            assert_close(xb[:, 0], to_np(yb) * 2.0)  # rows stay paired across tensors
            seen.extend(yb.tolist())
        expected = n - n % bs if drop_last else n
        assert len(seen) == expected and len(set(seen)) == expected
        if not drop_last:
            assert sorted(seen) == list(range(n))
        epochs.append(seen)
    if shuffle:
        assert epochs[0] != epochs[1]  # a new order each epoch
        assert epochs[0] != sorted(epochs[0])
    else:
        assert epochs[0] == epochs[1] == list(range(len(epochs[0])))


def test_shuffling_is_reproducible_from_a_seed_or_the_global_generator():
    ds = TensorDataset(bp.arange(50))

    def order(**kwargs):
        return [b[0].tolist() for b in DataLoader(ds, batch_size=7, shuffle=True, **kwargs)]

    assert order(seed=3) == order(seed=3) != order(seed=4)
    assert order(generator=np.random.default_rng(9)) == order(generator=np.random.default_rng(9))
    bp.manual_seed(11)
    a = order()
    bp.manual_seed(11)
    assert order() == a
    with pytest.raises(ValueError, match="either generator or seed"):
        DataLoader(ds, shuffle=True, seed=1, generator=np.random.default_rng(1))


def test_batches_of_a_tensor_dataset_are_views_when_reading_in_order():
    x = bp.randn(20, 3)
    (xb,) = next(iter(DataLoader(TensorDataset(x), batch_size=8)))
    with bp.no_grad():
        x[0, 0] = 123.0
    assert xb[0, 0].item() == 123.0


def test_per_sample_datasets_are_collated():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": bp.tensor([float(i), float(i * i)]), "label": i % 2}

    batches = list(DataLoader(Squares(), batch_size=3))
    assert [len(b["label"]) for b in batches] == [3, 3, 1]
    assert_close(batches[1]["x"], [[3, 9], [4, 16], [5, 25]])
    assert batches[0]["label"].tolist() == [0, 1, 0]


def test_empty_dataset_yields_nothing_and_bad_batch_size_is_a_clear_error():
    empty = TensorDataset(bp.zeros(0, 3))
    loader = DataLoader(empty, batch_size=4)  # as in PyTorch: no batches, not an error
    assert len(loader) == 0 and list(loader) == []
    with pytest.raises(ValueError, match="num_samples"):  # but nothing to shuffle is one
        DataLoader(empty, batch_size=4, shuffle=True)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(bp.zeros(3)), batch_size=0)


def test_random_split_partitions_the_data():
    ds = TensorDataset(bp.arange(10))
    a, b = bp.data.random_split(ds, [7, 3], seed=0)
    ids = [int(a[i][0]) for i in range(len(a))] + [int(b[i][0]) for i in range(len(b))]
    assert sorted(ids) == list(range(10))
    (batch,) = next(iter(DataLoader(b, batch_size=3)))
    assert sorted(batch.tolist()) == sorted(int(b[i][0]) for i in range(3))
    with pytest.raises(ValueError, match="add up"):
        bp.data.random_split(ds, [5, 6])


# ---- IDX files -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    a = (np.arange(24).reshape(2, 3, 4) * 3 - 5).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if compress else ""))
    write_idx(path, a)
    assert (open(path, "rb").read(2) == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == a.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, a)


def test_idx_format_is_big_endian_with_the_documented_header(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    assert open(path, "rb").read() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    path.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + (258).to_bytes(4, "big") + (-1).to_bytes(4, "big", signed=True))
    np.testing.assert_array_equal(read_idx(path), [258, -1])


def test_corrupt_idx_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(bp.data.IDXError, match="not an IDX file"):
        read_idx(bad)
    good = tmp_path / "t.gz"
    write_idx(good, np.zeros((4, 5), dtype=np.uint8))
    raw = gzip.decompress(good.read_bytes())
    trunc = tmp_path / "trunc"
    trunc.write_bytes(raw[:-3])
    with pytest.raises(bp.data.IDXError, match="truncated or corrupt"):
        read_idx(trunc)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(bp.data.IDXError, match="gzip"):
        read_idx(broken)


# ---- MNIST-format data sets ------------------------------------------------------------


def write_fake_mnist(directory, n_train=40, n_test=12, seed=0, compress=True):
    """IDX files with MNIST's names and layout: random images, labels 0..9."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    ext = ".gz" if compress else ""
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(os.path.join(directory, f"{split}-images-idx3-ubyte{ext}"), images)
        write_idx(os.path.join(directory, f"{split}-labels-idx1-ubyte{ext}"), labels)
        data[split] = (images, labels)
    return data


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_mnist_reads_idx_files_from_any_directory(tmp_path, layout):
    directory = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    data = write_fake_mnist(directory, compress=layout == "flat")
    train = datasets.MNIST(tmp_path, train=True)
    test = datasets.MNIST(str(tmp_path), train=False)
    assert len(train) == 40 and len(test) == 12
    images, labels = data["train"]
    x, y = train[5]
    assert x.shape == (1, 28, 28) and x.dtype == bp.float32 and y == labels[5]
    assert_close(x[0], images[5] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(train.data, images)
    assert train.targets.tolist() == labels.tolist()


def test_mnist_batches_apply_transforms_to_the_whole_batch(tmp_path):
    images, labels = write_fake_mnist(tmp_path)["train"]
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(tmp_path, train=True, transform=t)
    want = (images / 255.0 - 0.1307) / 0.3081
    batches = list(DataLoader(ds, batch_size=16))
    assert [tuple(b[0].shape) for b in batches] == [(16, 1, 28, 28), (16, 1, 28, 28), (8, 1, 28, 28)]
    assert_close(batches[1][0][:, 0], want[16:32], rtol=1e-5, atol=1e-5)
    assert batches[2][1].tolist() == labels[32:].tolist()
    # Per-sample access gives the same as the batched path.
    x3, y3 = ds[3]
    assert_close(x3, to_np(batches[0][0][3]), rtol=1e-6)
    # Shuffled batches keep images and labels paired.
    for xb, yb in DataLoader(ds, batch_size=10, shuffle=True, seed=0):
        for img, lab in zip(to_np(xb)[:, 0], yb.tolist()):
            k = int(np.argmin(np.abs(want - img).reshape(len(want), -1).sum(1)))
            assert labels[k] == lab


def test_non_batchable_transforms_still_work(tmp_path):
    images, _ = write_fake_mnist(tmp_path)["train"]
    ds = datasets.MNIST(tmp_path, transform=transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda x: x * 2)]))
    xb, _ = next(iter(DataLoader(ds, batch_size=4)))
    assert_close(xb[:, 0], images[:4] / 255.0 * 2, rtol=1e-6)


def test_missing_files_say_where_we_looked_and_how_to_get_them(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.MNIST(tmp_path)
    msg = str(info.value)
    assert str(tmp_path) in msg and os.path.join(str(tmp_path), "MNIST", "raw") in msg
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        datasets.FashionMNIST(tmp_path / "nowhere")


def test_corrupt_dataset_files_are_reported(tmp_path):
    write_fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(39, dtype=np.uint8) % 10)
    with pytest.raises(bp.data.IDXError, match="expected 40 labels"):
        datasets.MNIST(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(40, 12, dtype=np.uint8))
    with pytest.raises(bp.data.IDXError, match="labels must lie in 0..9"):
        datasets.MNIST(tmp_path)


def test_download_fetches_from_a_mirror_and_checks_md5(tmp_path, monkeypatch):
    import hashlib

    mirror = tmp_path / "mirror"
    write_fake_mnist(mirror)
    sums = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in mirror.iterdir()}
    root = tmp_path / "root"
    monkeypatch.setattr(datasets.MNIST, "mirrors", ("file:///nonexistent/", mirror.as_uri() + "/"))
    monkeypatch.setattr(datasets.MNIST, "md5", sums)
    ds = datasets.MNIST(root, train=False, download=True)
    assert len(ds) == 12 and sorted(os.listdir(root / "MNIST" / "raw")) == sorted(sums)
    wrong = dict(sums, **{"t10k-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setattr(datasets.MNIST, "md5", wrong)
    with pytest.raises(datasets.DatasetNotFoundError, match="MD5"):
        datasets.MNIST(tmp_path / "other", train=False, download=True)


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_files():
    train = datasets.FashionMNIST()
    test = datasets.FashionMNIST(train=False)
    assert len(train) == 60000 and len(test) == 10000
    assert train.data.shape == (60000, 28, 28)
    counts = np.bincount(to_np(train.targets), minlength=10)
    assert counts.tolist() == [6000] * 10  # the published class balance
    x, y = test[0]
    assert x.shape == (1, 28, 28) and 0.0 <= to_np(x).min() and to_np(x).max() <= 1.0 and y == 9  # an ankle boot


# ---- transforms and spiral ------------------------------------------------------------


def test_to_tensor_and_normalize_follow_torchvision():
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20  # H x W x C
    x = transforms.ToTensor()(img)
    assert x.shape == (3, 2, 2)
    assert_close(x, np.moveaxis(img, -1, 0) / 255.0, rtol=1e-6)
    n = transforms.Normalize((0.5, 0.25, 0.0), (0.5, 0.5, 2.0))(x)
    want = (np.moveaxis(img, -1, 0) / 255.0 - np.array([0.5, 0.25, 0.0])[:, None, None]) / np.array([0.5, 0.5, 2.0])[:, None, None]
    assert_close(n, want, rtol=1e-5, atol=1e-6)
    assert transforms.ToTensor()(np.ones((4, 5), dtype=np.float32)).shape == (1, 4, 5)
    with pytest.raises(ValueError, match="zero"):
        transforms.Normalize((0.0,), (0.0,))
    with pytest.raises(TypeError, match="ToTensor first"):
        transforms.Normalize((0.0,), (1.0,))(img)


def test_spiral_is_the_classic_generated_set():
    ds = datasets.spiral(100, 3)
    x, y = ds.tensors
    assert x.shape == (300, 2) and x.dtype == bp.float32 and y.dtype == bp.int64
    assert np.bincount(to_np(y)).tolist() == [100, 100, 100]
    radius = np.linalg.norm(to_np(x), axis=1)
    np.testing.assert_allclose(radius[:100], np.linspace(0, 1, 100), atol=1e-6)
    assert_close(datasets.spiral(100, 3).tensors[0], to_np(x))  # reproducible
    assert not np.allclose(to_np(datasets.spiral(100, 3, seed=1).tensors[0]), to_np(x))
