"""Image data for the VGG task, from the files their publishers distribute (never unpickled).

- Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it (the IDX files of Zalando's
  release, gzipped, under /usr/share/datasets/fashion-mnist/): 60,000 + 10,000 28x28 grey images.
- CIFAR-10's official *binary* tarball (cifar-10-binary.tar.gz: records of 1 label byte + 3,072
  pixel bytes). The "python" tarball holds pickles, which fdi does not load from outside.
- scikit-learn's digits (in the wheel): 1,797 8x8 images, for tests and the tiny config.

`to_vgg_input` pads grey 28x28 images to 32x32 and repeats them to 3 channels, so the network
keeps CIFAR-10's input shape whatever the data set.
"""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import numpy as np

IDX_DTYPES = {0x08: np.uint8}
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_RECORD = 1 + 32 * 32 * 3
DEBIAN_HINT = (
    "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist; `make` "
    "does it where apt is usable), or set the task's source to a directory holding Zalando's "
    "train/t10k IDX files"
)


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not): magic 0x0000TTDD (type, dimensions), sizes, then the data."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable gzip file ({error}): truncated or corrupted") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(raw) != header + int(np.prod(shape)):
        raise ValueError(
            f"{path}: holds {len(raw) - header} data bytes, its header says {int(np.prod(shape))} "
            f"(shape {shape}): truncated or corrupted"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def fashion_mnist_files(directory: Path) -> dict[str, Path]:
    """The four IDX files in a directory (gzipped or not), or an error naming the missing one."""
    directory = Path(directory)
    files = {}
    for key, stem in FASHION_MNIST_FILES.items():
        found = [directory / f"{stem}.gz", directory / stem]
        found = [path for path in found if path.is_file()]
        if not found:
            raise FileNotFoundError(f"{directory / (stem + '.gz')}: not found; {DEBIAN_HINT}")
        files[key] = found[0]
    return files


def load_fashion_mnist(directory: Path) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(path) for key, path in fashion_mnist_files(directory).items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{directory}: {split} images {x.shape} and labels {y.shape} do not match")
    return arrays


def load_cifar10_binary(tarball: Path) -> dict[str, np.ndarray]:
    """data_batch_1..5.bin (train) and test_batch.bin (test) from the official binary tarball."""
    tarball = Path(tarball)
    try:
        archive = tarfile.open(tarball, "r:gz")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ValueError(f"{tarball}: not a readable .tar.gz ({error}): truncated or corrupted") from error
    with archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        if "data_batch_1" in members or any(name.endswith(".html") for name in members):
            raise ValueError(f"{tarball}: this is the python (pickle) tarball; use cifar-10-binary.tar.gz")
        splits = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
        arrays = {}
        for split, names in splits.items():
            records = []
            for name in names:
                if name not in members:
                    raise ValueError(f"{tarball}: {name} is missing")
                try:
                    raw = archive.extractfile(members[name]).read()
                except (tarfile.TarError, OSError, EOFError) as error:
                    raise ValueError(f"{tarball}: {name} unreadable ({error}): truncated") from error
                if len(raw) == 0 or len(raw) % CIFAR10_RECORD:
                    raise ValueError(
                        f"{tarball}: {name} holds {len(raw)} bytes, not whole 3,073-byte records"
                    )
                records.append(np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR10_RECORD))
            data = np.concatenate(records)
            arrays[f"y_{split}"] = data[:, 0].copy()
            # Each record's pixels are the red plane, then green, then blue (row-major 32x32).
            arrays[f"x_{split}"] = data[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return arrays


def load_digits_images(test_fraction: float = 0.2, seed: int = 0) -> dict[str, np.ndarray]:
    """scikit-learn's digits as 0-255 images, upsampled 4x to 32x32, split by a seeded shuffle."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((1, 4, 4)))
    images = np.round(255 * images).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = round(test_fraction * len(images))
    test, train = order[:n_test], order[n_test:]
    labels = digits.target.astype(np.uint8)
    return {
        "x_train": images[train],
        "y_train": labels[train],
        "x_test": images[test],
        "y_test": labels[test],
    }


def to_vgg_input(images: np.ndarray, size: int = 32) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) -> (N, size, size, 3): zero-padded around, grey repeated."""
    if images.ndim == 3:
        images = images[..., None]
    n, height, width, channels = images.shape
    if height > size or width > size or channels not in (1, 3):
        raise ValueError(f"images of shape {images.shape[1:]} do not fit {size}x{size}x3")
    top, left = (size - height) // 2, (size - width) // 2
    out = np.zeros((n, size, size, channels), dtype=np.uint8)
    out[:, top : top + height, left : left + width] = images
    return out if channels == 3 else np.repeat(out, 3, axis=-1)
