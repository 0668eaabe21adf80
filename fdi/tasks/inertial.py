"""Inertial data for the DeepSense task, turned into DeepSense's input (SPEC §4).

Sources:
- seglearn's `load_watch` (in the PyPI wheel, BSD): a smartwatch's accelerometer and gyroscope at
  50 Hz, 140 recordings of 10 subjects doing 7 shoulder exercises. (seglearn stores it as a
  pickled NumPy dict inside its own package and loads it itself; fdi unpickles nothing.)
- HHAR, the UCI "Heterogeneity Activity Recognition" archive (the paper's data): CSV files
  `Phones_accelerometer.csv`, `Phones_gyroscope.csv` (or `Watch_*`) with columns Index,
  Arrival_Time, Creation_Time (ns), x, y, z, User, Model, Device, gt. Per user and device, both
  sensors are interpolated onto one uniform clock at `rate_hz`, and cut where the activity
  (`gt`) changes; samples labelled "null" are dropped.

DeepSense's input (`deepsense_windows`): a window of `intervals` (20) consecutive intervals of
`interval_samples` samples; per interval and sensor, the FFT of each axis's samples keeps the
lowest `spectral` (10) frequencies as real and imaginary parts: 10 x 3 axes x 2 = 60 features per
interval, the (20, 60) plane each sensor's first conv reads. Windows step by `window_step`
samples within one recording. Splits leave users out, as DeepSense evaluates HHAR: every window of
a test user is in the test set and no other.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HHAR_COLUMNS = ["Index", "Arrival_Time", "Creation_Time", "x", "y", "z", "User", "Model", "Device", "gt"]
HHAR_CLASSES = ["bike", "sit", "stand", "walk", "stairsup", "stairsdown"]


@dataclass
class Recording:
    """One continuous recording: samples x 6 (accelerometer xyz, gyroscope xyz), its label and user."""

    signal: np.ndarray
    label: int
    subject: int


def load_watch() -> tuple[list[Recording], list[str]]:
    from seglearn.datasets import load_watch as seglearn_watch

    data = seglearn_watch()
    recordings = [
        Recording(np.asarray(x, dtype=np.float32), int(y), int(s))
        for x, y, s in zip(data["X"], data["y"], data["subject"], strict=True)
    ]
    return recordings, [str(label) for label in data["y_labels"]]


def _read_csv(archive: zipfile.ZipFile, name: str, source: Path) -> pd.DataFrame:
    members = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] == name]
    if not members:
        # The UCI download nests the data in "Activity recognition exp.zip".
        for inner in (m for m in archive.namelist() if m.endswith(".zip")):
            with zipfile.ZipFile(io.BytesIO(archive.read(inner))) as nested:
                if any(m.rsplit("/", 1)[-1] == name for m in nested.namelist()):
                    return _read_csv(nested, name, source)
        raise ValueError(f"{source}: holds no {name}")
    try:
        frame = pd.read_csv(io.BytesIO(archive.read(members[0])))
    except (zipfile.BadZipFile, OSError, pd.errors.ParserError, EOFError) as error:
        raise ValueError(f"{source}: {members[0]} unreadable ({error})") from error
    missing = [c for c in HHAR_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: {members[0]} lacks the HHAR columns {missing}")
    return frame


def load_hhar(
    path: Path, devices: str = "Phones", rate_hz: float = 50.0
) -> tuple[list[Recording], list[str]]:
    """HHAR recordings of one device kind ("Phones" or "Watch") from the UCI zip."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path}: not a readable zip archive ({error}): truncated or corrupted") from error
    with archive:
        acc = _read_csv(archive, f"{devices}_accelerometer.csv", path)
        gyro = _read_csv(archive, f"{devices}_gyroscope.csv", path)
    users = sorted(set(acc.User.dropna()))
    recordings = []
    for (user, device), a in acc.groupby(["User", "Device"]):
        g = gyro[(gyro.User == user) & (gyro.Device == device)]
        if len(g) < 2 or len(a) < 2:
            continue
        a, g = a.sort_values("Creation_Time"), g.sort_values("Creation_Time")
        start = max(a.Creation_Time.iloc[0], g.Creation_Time.iloc[0])
        stop = min(a.Creation_Time.iloc[-1], g.Creation_Time.iloc[-1])
        clock = np.arange(start, stop, 1e9 / rate_hz)
        if len(clock) < 2:
            continue
        signal = np.column_stack(
            [np.interp(clock, a.Creation_Time, a[axis]) for axis in "xyz"]
            + [np.interp(clock, g.Creation_Time, g[axis]) for axis in "xyz"]
        ).astype(np.float32)
        positions = np.clip(np.searchsorted(a.Creation_Time.to_numpy(), clock), 0, len(a) - 1)
        labels = a["gt"].fillna("null").astype(str).to_numpy()[positions]
        cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
        for segment, label in zip(np.split(signal, cuts), labels[np.r_[0, cuts]], strict=True):
            if label in HHAR_CLASSES:
                recordings.append(Recording(segment, HHAR_CLASSES.index(label), users.index(user)))
    if not recordings:
        raise ValueError(f"{path}: no labelled {devices} recordings with both sensors")
    return recordings, list(HHAR_CLASSES)


def spectra(window: np.ndarray, intervals: int, spectral: int) -> tuple[np.ndarray, np.ndarray]:
    """One window (intervals * interval_samples, 6) -> per sensor (intervals, spectral*3*2)."""
    per_interval = window.reshape(intervals, -1, 6)
    if per_interval.shape[1] // 2 + 1 < spectral:
        raise ValueError(
            f"intervals of {per_interval.shape[1]} samples give {per_interval.shape[1] // 2 + 1} "
            f"frequencies, fewer than the {spectral} DeepSense keeps"
        )
    fft = np.fft.rfft(per_interval, axis=1)[:, :spectral, :]  # (intervals, spectral, 6)
    out = []
    for sensor in (slice(0, 3), slice(3, 6)):
        parts = np.stack([fft[:, :, sensor].real, fft[:, :, sensor].imag], axis=-1)  # (I, S, 3, 2)
        out.append(parts.reshape(intervals, -1).astype(np.float32))
    return out[0], out[1]


def deepsense_windows(
    recordings: list[Recording],
    interval_samples: int,
    window_step: int,
    intervals: int = 20,
    spectral: int = 10,
) -> dict[str, np.ndarray]:
    """Every window of every recording: acc, gyro (N, intervals, 60), label, subject."""
    length = intervals * interval_samples
    acc, gyro, labels, subjects = [], [], [], []
    for recording in recordings:
        for start in range(0, len(recording.signal) - length + 1, window_step):
            a, g = spectra(recording.signal[start : start + length], intervals, spectral)
            acc.append(a)
            gyro.append(g)
            labels.append(recording.label)
            subjects.append(recording.subject)
    if not acc:
        raise ValueError(f"no recording is as long as one window ({length} samples)")
    return {
        "acc": np.stack(acc),
        "gyro": np.stack(gyro),
        "y": np.asarray(labels, dtype=np.uint8),
        "subject": np.asarray(subjects, dtype=np.int32),
    }


def leave_users_out(windows: dict[str, np.ndarray], test_subjects: list[int]) -> dict[str, np.ndarray]:
    """Train and test arrays, the test users' windows only in test; inputs standardised per
    feature with the training windows' mean and deviation (the test users unseen)."""
    test = np.isin(windows["subject"], test_subjects)
    if not test.any() or test.all():
        found = sorted(set(windows["subject"].tolist()))
        raise ValueError(
            f"test_subjects {test_subjects} leave no train or no test windows (subjects: {found})"
        )
    arrays = {}
    for sensor in ("acc", "gyro"):
        train = windows[sensor][~test]
        mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
        for split, mask in (("train", ~test), ("test", test)):
            arrays[f"{sensor}_{split}"] = ((windows[sensor][mask] - mean) / std)[..., None].astype(np.float32)
    for split, mask in (("train", ~test), ("test", test)):
        arrays[f"y_{split}"] = windows["y"][mask]
        arrays[f"subject_{split}"] = windows["subject"][mask]
    return arrays
