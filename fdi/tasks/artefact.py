"""Prepared data sets as cached, versioned artefacts: one `.npz` of arrays beside a JSON record of
where it came from (source files and their SHA-256), its own SHA-256 and the format version.

Downloads (the paper's data, for users with internet) go through `fetch`, which refuses a file
whose checksum differs from the configured one, so a truncated or substituted archive never
reaches training.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "fdi.data/1"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, checksum: str | None) -> str:
    """Check a file against "sha256:HEX" or "md5:HEX" (None: nothing to check); return its SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if checksum:
        kind, _, expected = checksum.partition(":")
        actual = {"sha256": sha256_of, "md5": md5_of}[kind](path) if kind in ("sha256", "md5") else None
        if actual is None:
            raise ValueError(f"checksum {checksum!r}: give 'sha256:HEX' or 'md5:HEX'")
        if actual != expected.lower():
            raise ValueError(
                f"{path}: {kind} is {actual}, expected {expected} (a truncated or different file; "
                f"delete it and fetch it again)"
            )
    return sha256_of(path)


def fetch(source: str, checksum: str | None, cache_dir: Path) -> Path:
    """A local path as it is, or a URL downloaded once into `cache_dir`; either verified."""
    if "://" not in source:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found (set its path or URL in the task's config)")
        verify(path, checksum) if path.is_file() else None
        return path
    if not source.startswith("https://"):
        raise ValueError(f"{source}: only https:// downloads are allowed")
    target = Path(cache_dir) / source.rstrip("/").rsplit("/", 1)[-1]
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(source, timeout=60) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            raise ConnectionError(
                f"could not download {source} ({error}); this machine may be offline: download it "
                f"elsewhere and set the task's source to the file's path"
            ) from error
        partial.rename(target)
    try:
        verify(target, checksum)
    except ValueError:
        target.unlink()
        raise
    return target


def save(path: Path, arrays: dict[str, np.ndarray], record: dict[str, Any]) -> dict[str, Any]:
    """Write the arrays and the record (with the artefact's own SHA-256) beside them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".part.npz")
    np.savez_compressed(partial, **arrays)
    partial.rename(path)
    record = {
        "format": FORMAT,
        **record,
        "arrays": {name: list(array.shape) for name, array in arrays.items()},
        "sha256": sha256_of(path),
    }
    record_path(path).write_text(json.dumps(record, indent=1) + "\n")
    return record


def record_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and their record, after checking the artefact against its recorded checksum."""
    path = Path(path)
    record = json.loads(record_path(path).read_text())
    if record.get("format") != FORMAT:
        raise ValueError(f"{path}: format {record.get('format')!r}, expected {FORMAT!r}: prepare it again")
    verify(path, f"sha256:{record['sha256']}")
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}, record
