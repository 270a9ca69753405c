"""Dataset readers on tiny files written in the real formats, the synthetic set, augmentation."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from reference.data import (
    ImageDataset,
    augment_crop_flip,
    load_dataset,
    read_idx,
    synthetic_dataset,
)
from workloads.errors import ConfigError


def _shared_data() -> Path:
    env = os.environ.get("BNNSIM_DATA")
    return Path(env) if env else Path(__file__).parents[2].parent / "shared" / "data"


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder: Path, *, n_train: int = 6, n_test: int = 4, gz: bool = True) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test, dtype=np.uint8) + 3) % 10,
    }
    for name, array in arrays.items():
        data = _idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    arrays = _write_mnist(tmp_path / "mnist", gz=gz)
    train = load_dataset("mnist", split="train", data_dir=tmp_path)
    test = load_dataset("mnist", split="test", data_dir=tmp_path)
    assert train.images.shape == (6, 1, 28, 28) and train.images.dtype == torch.uint8
    assert np.array_equal(train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert test.labels.tolist() == [3, 4, 5, 6]
    x, y = test[1]
    assert x.dtype == torch.float32 and float(x.max()) <= 1.0 and y == 4


def test_files_directly_in_dir_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_mnist(tmp_path)
    monkeypatch.setenv("BNNSIM_DATA", str(tmp_path))
    assert len(load_dataset("mnist", split="train")) == 6
    _write_mnist(tmp_path / "fashion-mnist", n_train=3)
    assert len(load_dataset("fashion-mnist", split="train")) == 3


def test_fashion_mnist_is_not_read_from_bare_mnist_files(tmp_path: Path) -> None:
    # MNIST and Fashion-MNIST share file names: bare files in <dir> are MNIST's.
    data = tmp_path / "data"  # (tmp_path's own name contains this test's name)
    _write_mnist(data)
    assert len(load_dataset("mnist", split="train", data_dir=data)) == 6
    with pytest.raises(ConfigError) as err:
        load_dataset("fashion-mnist", split="train", data_dir=data)
    message = str(err.value)
    assert "\n" not in message and str(data / "fashion-mnist") in message
    assert "'fashion' in its name" in message
    # A folder whose own name says fashion is read directly.
    fashion = tmp_path / "Fashion_MNIST_raw"
    _write_mnist(fashion, n_train=5)
    assert len(load_dataset("fashion-mnist", split="train", data_dir=fashion)) == 5
    assert len(load_dataset("fashion-mnist", split="test", data_dir=fashion)) == 4


def test_missing_dataset_names_dir_and_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_dataset("mnist", split="train", data_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "mnist") in message
    assert "train-images-idx3-ubyte[.gz]" in message and "train-labels-idx1-ubyte" in message
    with pytest.raises(ConfigError, match=r"data_batch_1\.bin.*test_batch|data_batch_5"):
        load_dataset("cifar10", split="train", data_dir=tmp_path)


def test_no_data_dir_mentions_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BNNSIM_DATA", raising=False)
    with pytest.raises(ConfigError, match="BNNSIM_DATA"):
        load_dataset("mnist", split="test")
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_dataset("imagenet", split="test", data_dir=".")


def test_corrupt_idx_is_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 12)
    with pytest.raises(ConfigError, match="magic"):
        read_idx(bad)
    short = tmp_path / "y-idx1-ubyte"
    short.write_bytes(_idx_bytes(np.zeros(5, np.uint8))[:-2])
    with pytest.raises(ConfigError, match="size mismatch"):
        read_idx(short)
    gz = tmp_path / "z.gz"
    gz.write_bytes(b"not gzip")
    with pytest.raises(ConfigError, match="damaged gzip stream"):
        read_idx(gz)


def _cifar_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def test_cifar_binary_version(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = _cifar_arrays(3, len(written))
        records = np.concatenate([labels[:, None], data], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
        written[name] = (data, labels)
    train = load_dataset("cifar10", split="train", data_dir=tmp_path)
    test = load_dataset("cifar10", split="test", data_dir=tmp_path, augment=False)
    assert train.images.shape == (15, 3, 32, 32) and train.augment
    data, labels = written["test_batch"]
    assert test.labels.tolist() == labels.tolist()
    # Channel-major records: the first 1024 bytes are the red plane.
    assert np.array_equal(test.images[0, 0].numpy().ravel(), data[0, :1024])
    assert np.array_equal(test.images[2, 2].numpy().ravel(), data[2, 2048:])


def test_cifar_python_version_and_restricted_unpickling(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data, labels = _cifar_arrays(2, i)
        batch = {b"batch_label": b"x", b"data": data, b"labels": labels.tolist(),
                 b"filenames": [b"a.png", b"b.png"]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    test = load_dataset("cifar10", split="test", data_dir=tmp_path)
    data, labels = _cifar_arrays(2, 5)
    assert test.labels.tolist() == labels.tolist()
    assert np.array_equal(test.images.reshape(2, -1).numpy(), data)
    assert len(load_dataset("cifar10", split="train", data_dir=tmp_path)) == 10
    # A pickle naming any other global is refused, not executed.
    (folder / "test_batch").write_bytes(pickle.dumps(os.system))
    with pytest.raises(ConfigError, match="refused global"):
        load_dataset("cifar10", split="test", data_dir=tmp_path)


def test_cifar_bad_record_size(tmp_path: Path) -> None:
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / f"{name}.bin").write_bytes(b"\x01" * 100)
    with pytest.raises(ConfigError, match="3073-byte"):
        load_dataset("cifar10", split="test", data_dir=tmp_path)


def test_synthetic_is_deterministic_and_shaped() -> None:
    a = synthetic_dataset(split="train", shape=(3, 32, 32), size=64)
    b = synthetic_dataset(split="train", shape=(3, 32, 32), size=64)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    test = synthetic_dataset(split="test", shape=(3, 32, 32), size=64)
    assert not torch.equal(a.images, test.images)
    assert load_dataset("synthetic-mnist", split="test").shape == (1, 28, 28)
    assert load_dataset("synthetic", split="test", shape=(3, 8, 8)).shape == (3, 8, 8)


def test_batches_cover_every_sample_once() -> None:
    ds = synthetic_dataset(split="train", size=50)
    seen = torch.cat([y for _, y in ds.batches(16, shuffle=True,
                                               generator=torch.Generator().manual_seed(1))])
    assert sorted(seen.tolist()) == sorted(ds.labels.tolist())
    x, _ = next(ds.batches(16))
    assert x.shape == (16, 1, 28, 28) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_augmentation_crops_and_flips() -> None:
    x = torch.rand(64, 3, 8, 8)
    y = augment_crop_flip(x, padding=0, generator=torch.Generator().manual_seed(0))
    same = (y == x).flatten(1).all(1)
    flipped = (y == x.flip(3)).flatten(1).all(1)
    assert bool((same | flipped).all()) and same.any() and flipped.any()
    z = augment_crop_flip(x, padding=4, generator=torch.Generator().manual_seed(0))
    assert z.shape == x.shape
    assert torch.equal(z, augment_crop_flip(x, padding=4,
                                            generator=torch.Generator().manual_seed(0)))
    ds = ImageDataset(images=(x * 255).to(torch.uint8), labels=torch.zeros(64), name="t",
                      split="train", augment=True)
    assert next(ds.batches(8))[0].shape == (8, 3, 8, 8)


@pytest.mark.skipif(not (_shared_data() / "mnist").is_dir(),
                    reason="real MNIST not found (set BNNSIM_DATA)")
def test_real_mnist_shapes_and_label_counts() -> None:
    train = load_dataset("mnist", split="train", data_dir=_shared_data())
    test = load_dataset("mnist", split="test", data_dir=_shared_data())
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918,
                                                     6265, 5851, 5949]
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                    1028, 974, 1009]
