"""Prepare a task's data set once: read the raw source, shape it into the family's input, split,
and save it as a checksummed artefact (fdi.tasks.artefact) that training reads.

Image artefacts hold x_train/x_test as uint8 (N, 32, 32, 3) (training scales them to [0, 1]);
inertial artefacts hold acc_*/gyro_* as standardised float32 (N, 20, 60, 1) and subject_*.
Both hold y_train/y_test and their record names the classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fdi.tasks import artefact, images, inertial

IMAGE_DATA = ("fashion_mnist", "cifar10", "digits")
INERTIAL_DATA = ("watch", "hhar")
DATA_FAMILY = {**dict.fromkeys(IMAGE_DATA, "vgg"), **dict.fromkeys(INERTIAL_DATA, "deepsense")}


def _sources(path: Path) -> dict[str, str]:
    files = sorted(p for p in Path(path).iterdir() if p.is_file()) if Path(path).is_dir() else [Path(path)]
    return {p.name: artefact.sha256_of(p) for p in files}


def prepare(task: str, settings: dict[str, Any], out: Path, cache_dir: Path) -> dict[str, Any]:
    """Build the task's arrays from its configured data and save them to `out`; return the record."""
    kind = settings["data"]
    if kind not in DATA_FAMILY:
        raise ValueError(f"task {task}: unknown data {kind!r}; known: {', '.join(DATA_FAMILY)}")
    if DATA_FAMILY[kind] != settings["family"]:
        raise ValueError(
            f"task {task}: data {kind!r} is for the {DATA_FAMILY[kind]} family, not {settings['family']}"
        )
    record: dict[str, Any] = {"task": task, "data": kind, "seed": int(settings.get("seed", 0))}
    source = settings.get("source")
    if kind in ("fashion_mnist", "cifar10", "hhar"):
        if not source:
            raise ValueError(f"task {task}: data {kind!r} needs a source (a path or an https:// URL)")
        if not settings.get("checksum") and "://" in str(source):
            print(
                f"warning: task {task}: {source} has no checksum in config; "
                "its SHA-256 is recorded, not verified"
            )
        path = artefact.fetch(str(source), settings.get("checksum"), cache_dir)
        record["source"] = str(source)
        record["source_verified"] = bool(settings.get("checksum"))
        record["source_sha256"] = _sources(path)
    if kind == "fashion_mnist":
        raw, classes = images.load_fashion_mnist(path), images.FASHION_MNIST_CLASSES
    elif kind == "cifar10":
        raw, classes = images.load_cifar10_binary(path), images.CIFAR10_CLASSES
    elif kind == "digits":
        raw, classes = images.load_digits_images(seed=record["seed"]), [str(d) for d in range(10)]
        record["source"] = "sklearn.datasets.load_digits"
    if kind in IMAGE_DATA:
        arrays = {
            "x_train": images.to_vgg_input(raw["x_train"]),
            "y_train": raw["y_train"].astype(np.uint8),
            "x_test": images.to_vgg_input(raw["x_test"]),
            "y_test": raw["y_test"].astype(np.uint8),
        }
    else:
        if kind == "watch":
            recordings, classes = inertial.load_watch()
            record["source"] = "seglearn.datasets.load_watch"
        else:
            recordings, classes = inertial.load_hhar(
                path, settings.get("devices", "Phones"), float(settings.get("rate_hz", 50.0))
            )
        windows = inertial.deepsense_windows(
            recordings, int(settings["interval_samples"]), int(settings["window_step"])
        )
        arrays = inertial.leave_users_out(windows, list(settings["test_subjects"]))
        record["test_subjects"] = list(settings["test_subjects"])
    limit = settings.get("train_limit")
    if limit and limit < len(arrays["y_train"]):
        keep = np.sort(np.random.default_rng(record["seed"]).permutation(len(arrays["y_train"]))[:limit])
        arrays = {k: v[keep] if k.endswith("_train") else v for k, v in arrays.items()}
        record["train_limit"] = int(limit)
    record["classes"] = classes
    record["n_train"], record["n_test"] = len(arrays["y_train"]), len(arrays["y_test"])
    return artefact.save(out, arrays, record)
