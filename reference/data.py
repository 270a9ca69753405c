"""Dataset readers (MNIST, Fashion-MNIST, CIFAR-10) and a synthetic dataset, without torchvision.

Files are found under a data directory given explicitly or by the ``BNNSIM_DATA`` environment
variable, in ``<dir>/mnist``, ``<dir>/fashion-mnist``, ``<dir>/cifar10`` or directly in
``<dir>`` (Fashion-MNIST only when ``<dir>``'s own name contains ``fashion``: its files have
MNIST's names):

* MNIST / Fashion-MNIST: IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``).
* CIFAR-10: the binary version (``cifar-10-batches-bin/data_batch_{1..5}.bin``,
  ``test_batch.bin``) or the python version (``cifar-10-batches-py/data_batch_{1..5}``,
  ``test_batch``); the batch files may also sit directly in the folder.

The python version of CIFAR-10 is a pickle. It is read with a restricted unpickler that only
resolves the numpy array-reconstruction globals that format needs (plus ``_codecs.encode``,
which Python 3 uses for bytes in protocol-2 pickles) with ``encoding="bytes"``, as the files
were written by Python 2; any other global is refused, so a foreign pickle cannot run code.
Images are kept as uint8 ``N×C×H×W`` tensors and scaled to [0, 1] per batch.
"""

from __future__ import annotations

import codecs
import gzip
import io
import math
import os
import pickle
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from workloads.errors import ConfigError
from workloads.files import check_regular, read_regular

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "ImageDataset",
    "Split",
    "augment_crop_flip",
    "load_dataset",
    "read_cifar10",
    "read_idx",
    "read_mnist",
    "resolve_data_dir",
    "synthetic_dataset",
]

Split = Literal["train", "test"]
DATA_ENV = "BNNSIM_DATA"
#: Dataset names accepted by :func:`load_dataset`; ``synthetic`` takes its shape from the caller.
DATASETS: tuple[str, ...] = (
    "mnist", "fashion-mnist", "cifar10", "synthetic", "synthetic-mnist", "synthetic-cifar10",
)
_SYNTHETIC_SHAPES = {"synthetic-mnist": (1, 28, 28), "synthetic-cifar10": (3, 32, 32)}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)
_CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32


class ImageDataset(torch.utils.data.Dataset):
    """Images (uint8, ``N×C×H×W``) with integer labels; items are ``(float image, label)``.

    ``augment`` marks the CIFAR training split: :meth:`batches` then applies random crop
    (padding 4) and horizontal flip.
    """

    def __init__(self, *, images: torch.Tensor, labels: torch.Tensor, name: str, split: Split,
                 num_classes: int = 10, augment: bool = False) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be a uint8 N×C×H×W tensor")
        if labels.shape != (images.shape[0],):
            raise ValueError("need one label per image")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.name = name
        self.split = split
        self.num_classes = num_classes
        self.augment = augment

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index].float() / 255.0, int(self.labels[index])

    def subset(self, count: int) -> ImageDataset:
        """The first ``count`` samples (for quick runs)."""
        return ImageDataset(images=self.images[:count], labels=self.labels[:count],
                            name=self.name, split=self.split, num_classes=self.num_classes,
                            augment=self.augment)

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Float batches in [0, 1]; the order is a permutation drawn from ``generator``."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = self.images[idx].float().div_(255.0)
            if self.augment:
                x = augment_crop_flip(x, generator=generator)
            yield x, self.labels[idx]


def augment_crop_flip(x: torch.Tensor, *, padding: int = 4,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Random crop from the zero-padded image and random horizontal flip (CIFAR standard)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    rows = (oy[:, None] + torch.arange(h))[:, :, None]  # B×H×1
    cols = (ox[:, None] + torch.arange(w))[:, None, :]  # B×1×W
    batch = torch.arange(b)[:, None, None]
    crops = padded.permute(0, 2, 3, 1)[batch, rows, cols]  # B×H×W×C
    crops = crops.permute(0, 3, 1, 2)
    flip = torch.rand(b, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], crops.flip(3), crops).contiguous()


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """The data directory: the argument, else ``$BNNSIM_DATA``; neither is a ConfigError."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    raise ConfigError(f"no data directory: pass --data-dir or set {DATA_ENV}")


#: Largest dataset file read, and largest decompressed IDX file (bytes).
MAX_DATA_BYTES = 2 * 2**30


def _gunzip(data: bytes, path: Path) -> bytes:
    """Decompress a gzip stream of at most :data:`MAX_DATA_BYTES` decompressed bytes."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            raw = fh.read(MAX_DATA_BYTES + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise ConfigError(f"damaged gzip stream ({err.__class__.__name__}: "
                          f"{str(err)[:80]})", file=path) from None
    if len(raw) > MAX_DATA_BYTES:
        raise ConfigError(f"decompresses to more than {MAX_DATA_BYTES:,} bytes", file=path)
    return raw


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (unsigned-byte data, gzipped or not) into an array of its shape."""
    data = read_regular(path, limit=MAX_DATA_BYTES, what="IDX file")
    raw = _gunzip(data, path) if path.suffix == ".gz" else data
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ConfigError("not an unsigned-byte IDX file (bad magic number)", file=path)
    ndim = raw[3]
    if not 1 <= ndim <= 4:
        raise ConfigError(f"an IDX file of {ndim} dimensions; image and label files have 1 to 4",
                          file=path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ConfigError("truncated IDX header", file=path)
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    count = math.prod(dims)
    if len(raw) != header + count:
        raise ConfigError(f"IDX size mismatch: header says {dims}, file has "
                          f"{len(raw) - header} data bytes", file=path)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _locate(dirs: list[Path], names: tuple[str, ...], *,
            suffixes: tuple[str, ...]) -> list[Path] | None:
    """The files ``names`` from the first folder in ``dirs`` holding all of them, or None."""
    for d in dirs:
        found = []
        for name in names:
            for s in suffixes:  # a FIFO or device under a dataset's name is an error, not absent
                candidate = d / (name + s)
                if candidate.exists() and not candidate.is_file():
                    check_regular(candidate, limit=MAX_DATA_BYTES, what="dataset file")
            hit = next((d / (name + s) for s in suffixes if (d / (name + s)).is_file()), None)
            if hit is None:
                break
            found.append(hit)
        else:
            return found
    return None


def _searched(dirs: list[Path]) -> str:
    return ", ".join(str(d) for d in dict.fromkeys(dirs))


def read_mnist(root: Path, *, split: Split, name: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format images ``N×28×28`` and labels ``N`` from ``root/<name>`` or ``root``.

    MNIST and Fashion-MNIST use the same file names, so Fashion-MNIST is read from ``root``
    itself only when the folder's name says so (contains ``fashion``): MNIST files lying
    directly in ``root`` are never taken for Fashion-MNIST.
    """
    img_name, lbl_name = _IDX_FILES[split]
    dirs = [root / name]
    if name != "fashion-mnist" or "fashion" in root.resolve().name.lower():
        dirs.append(root)
    found = _locate(dirs, (img_name, lbl_name), suffixes=(".gz", ""))
    if found is None:
        hint = ("" if root in dirs else f" (not {root} itself: MNIST uses the same file "
                "names; a folder read directly must have 'fashion' in its name)")
        raise ConfigError(f"dataset '{name}' ({split} split) not found: searched "
                          f"{_searched(dirs)} for {img_name}[.gz], {lbl_name}[.gz]{hint}")
    img_path, lbl_path = found
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ConfigError(f"images {images.shape} and labels {labels.shape} do not match",
                          file=img_path)
    _check_split(images, labels, img_path, lbl_path)
    return images, labels


def _check_split(images: np.ndarray, labels: np.ndarray, img_path: Path, lbl_path: Path,
                 *, classes: int = 10) -> None:
    if images.shape[0] == 0:
        raise ConfigError("empty split: no images", file=img_path)
    if labels.size and int(labels.max()) >= classes:
        bad = int(np.argmax(labels >= classes))
        raise ConfigError(f"label {int(labels[bad])} of image {bad} is outside the "
                          f"{classes} classes 0..{classes - 1}", file=lbl_path)


_NDARRAY_RECONSTRUCT = np.array(0).__reduce__()[0]
#: The only globals a CIFAR-10 python batch may name.
_CIFAR_PICKLE_GLOBALS: Mapping[tuple[str, str], Any] = MappingProxyType({
    ("numpy.core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes as _codecs.encode(text, "latin1") in protocol-2 pickles (and an
    # empty bytes object as a call of bytes itself).
    ("_codecs", "encode"): codecs.encode,
    ("__builtin__", "bytes"): bytes,
    ("builtins", "bytes"): bytes,
})


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR-10 python batches: numpy array reconstruction only."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _CIFAR_PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def _read_cifar_py(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = read_regular(path, limit=MAX_DATA_BYTES, what="CIFAR-10 batch")
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, MemoryError, RecursionError, OverflowError) as err:
        raise ConfigError(f"not a CIFAR-10 python batch ({err.__class__.__name__}: "
                          f"{str(err)[:80]})", file=path) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ConfigError("not a CIFAR-10 python batch (no b'data' / b'labels')", file=path)
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise ConfigError(f"b'data' must be a uint8 array, not {_describe(data)}", file=path)
    if not (isinstance(labels, list) and all(type(x) is int for x in labels)) and not (
            isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.ndim == 1):
        raise ConfigError(f"b'labels' must be a list of integers, not {_describe(labels)}",
                          file=path)
    if isinstance(labels, list) and any(not 0 <= x <= 9 for x in labels):
        raise ConfigError("CIFAR-10 labels must be 0..9", file=path)
    lab = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != lab.shape[0]:
        raise ConfigError(f"unexpected CIFAR-10 batch shape {data.shape} with {lab.shape[0]} "
                          "labels", file=path)
    if lab.size and (lab.min() < 0 or lab.max() > 9):
        raise ConfigError("CIFAR-10 labels must be 0..9", file=path)
    return data.reshape(-1, 3, 32, 32), lab.astype(np.uint8)


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype}"
    return f"a {type(value).__name__}"


def _read_cifar_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(read_regular(path, limit=MAX_DATA_BYTES, what="CIFAR-10 batch"),
                        dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD_BYTES:
        raise ConfigError(f"size {raw.size} bytes is not a multiple of the "
                          f"{_CIFAR_RECORD_BYTES}-byte CIFAR-10 record", file=path)
    records = raw.reshape(-1, _CIFAR_RECORD_BYTES)
    labels = records[:, 0].copy()
    if labels.max() > 9:
        raise ConfigError(f"label {int(labels.max())} is outside CIFAR-10's classes 0..9",
                          file=path)
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def read_cifar10(root: Path, *, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images ``N×3×32×32`` and labels from the binary or python version."""
    names = _CIFAR_TRAIN if split == "train" else _CIFAR_TEST
    bases = [root / "cifar10", root]
    bin_dirs = [p for b in bases for p in (b / "cifar-10-batches-bin", b)]
    py_dirs = [p for b in bases for p in (b / "cifar-10-batches-py", b)]
    paths = _locate(bin_dirs, names, suffixes=(".bin",))
    if paths is not None:
        parts = [_read_cifar_bin(p) for p in paths]
    else:
        paths = _locate(py_dirs, names, suffixes=("",))
        if paths is None:
            raise ConfigError(
                f"dataset 'cifar10' ({split} split) not found: searched "
                f"{_searched(bin_dirs + py_dirs)} for "
                f"{', '.join(n + '.bin' for n in names)} (binary version) or "
                f"{', '.join(names)} (python version)")
        parts = [_read_cifar_py(p) for p in paths]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if images.shape[0] == 0:
        raise ConfigError("empty split: no images", file=paths[0])
    return images, labels


def synthetic_dataset(
    *, split: Split, shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10,
    size: int | None = None, seed: int = 0,
) -> ImageDataset:
    """A deterministic learnable dataset: one random low-frequency template per class + noise.

    Both splits share the templates (drawn from ``seed``) and differ in their noise, so test
    accuracy measures generalisation. Default size: 2048 train, 512 test images.
    """
    c, h, w = shape
    n = size if size is not None else (2048 if split == "train" else 512)
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num_classes, c, max(h // 4, 1), max(w // 4, 1), generator=gen)
    templates = F.interpolate(coarse, size=(h, w), mode="nearest")
    gen_split = torch.Generator().manual_seed(seed * 2 + (1 if split == "test" else 2))
    labels = torch.randint(0, num_classes, (n,), generator=gen_split)
    noise = torch.rand(n, c, h, w, generator=gen_split)
    images = (0.6 * templates[labels] + 0.4 * noise).mul_(255).round_().to(torch.uint8)
    return ImageDataset(images=images, labels=labels, name="synthetic", split=split,
                        num_classes=num_classes)


def load_dataset(
    name: str, *, split: Split, data_dir: str | Path | None = None,
    shape: tuple[int, int, int] | None = None, augment: bool | None = None,
) -> ImageDataset:
    """Load one split of a dataset by name (see :data:`DATASETS`).

    ``shape`` sets the image shape of ``synthetic``; ``augment`` of ``None`` augments the
    CIFAR-10 training split only.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset; known: {', '.join(DATASETS)}", key="dataset",
                          value=name, has_value=True)
    if split not in ("train", "test"):
        raise ConfigError("split must be 'train' or 'test'", value=split, has_value=True)
    if name.startswith("synthetic"):
        ds = synthetic_dataset(split=split, shape=_SYNTHETIC_SHAPES.get(name, shape or (1, 28, 28)))
        ds.name = name
        return ds
    root = resolve_data_dir(data_dir)
    if name == "cifar10":
        images, labels = read_cifar10(root, split=split)
    else:
        images, labels = read_mnist(root, split=split, name=name)
        images = images[:, None]
    do_augment = (name == "cifar10" and split == "train") if augment is None else augment
    return ImageDataset(images=torch.from_numpy(np.ascontiguousarray(images)),
                        labels=torch.from_numpy(labels.astype(np.int64)), name=name,
                        split=split, augment=do_augment)
