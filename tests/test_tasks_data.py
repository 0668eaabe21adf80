"""The tasks' data loaders on small files written in the real formats (IDX, CIFAR-10 binary,
HHAR's CSVs in a zip), their named errors on damaged files, and DeepSense's input shaping."""

import gzip
import io
import tarfile
import zipfile

import numpy as np
import pandas as pd
import pytest

from fdi.tasks import artefact, images, inertial


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fashion_dir(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28)),
        "y_train": np.arange(6) % 10,
        "x_test": rng.integers(0, 256, (4, 28, 28)),
        "y_test": np.arange(4),
    }
    for key, stem in images.FASHION_MNIST_FILES.items():
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(_idx(arrays[key])))
    return tmp_path, arrays


def test_fashion_mnist_idx_files_round_trip(fashion_dir):
    directory, arrays = fashion_dir
    loaded = images.load_fashion_mnist(directory)
    for key, array in arrays.items():
        np.testing.assert_array_equal(loaded[key], array)


def test_damaged_idx_files_are_named(fashion_dir):
    directory, _ = fashion_dir
    path = directory / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])  # a cut download
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz.*truncated or corrupted"):
        images.load_fashion_mnist(directory)
    path.write_bytes(gzip.compress(_idx(np.zeros((6, 28, 28)))[:-10]))  # whole gzip, short data
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: holds 4694 data bytes"):
        images.load_fashion_mnist(directory)
    path.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"train-images-idx3-ubyte.gz: not found.*dataset-fashion-mnist"
    ):
        images.load_fashion_mnist(directory)


def _cifar_tarball(path, records_per_batch=2, cut=0):
    with tarfile.open(path, "w:gz") as archive:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            records = []
            for r in range(records_per_batch):
                planes = [np.full(1024, value, np.uint8) for value in (10 + r, 20, 30)]  # R, G, B
                records.append(bytes([r % 10]) + b"".join(p.tobytes() for p in planes))
            data = b"".join(records)[: len(b"".join(records)) - cut]
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_cifar10_binary_records_become_rgb_images(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    _cifar_tarball(path)
    loaded = images.load_cifar10_binary(path)
    assert loaded["x_train"].shape == (10, 32, 32, 3) and loaded["x_test"].shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(loaded["x_test"][1, 5, 7], [11, 20, 30])  # red plane first
    np.testing.assert_array_equal(loaded["y_train"][:2], [0, 1])
    _cifar_tarball(path, cut=5)
    with pytest.raises(ValueError, match=r"data_batch_1.bin holds 6141 bytes, not whole 3,073-byte records"):
        images.load_cifar10_binary(path)
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match=r"cifar-10-binary.tar.gz: not a readable .tar.gz"):
        images.load_cifar10_binary(path)


def test_grey_images_are_padded_to_32_and_repeated_to_3_channels():
    x = np.arange(2 * 28 * 28).reshape(2, 28, 28).astype(np.uint8)
    out = images.to_vgg_input(x)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(out[:, 2:30, 2:30, 1], x)
    assert (out[:, :2] == 0).all() and (out[:, :, 30:] == 0).all()
    assert (out[..., 0] == out[..., 2]).all()


def _hhar_zip(path, rate=50.0, seconds=12.0):
    """Two users, one phone each; sit for 6 s then walk (with a 'null' second between)."""
    rows = {"acc": [], "gyro": []}
    for user, device in (("a", "nexus4_1"), ("b", "s3_1")):
        for sensor, offset in (("acc", 0.0), ("gyro", 3e6)):  # the gyro's clock is 3 ms off
            t = np.arange(0, seconds * 1e9, 1e9 / rate) + offset
            label = np.where(t < 6e9, "sit", np.where(t < 7e9, "null", "walk"))
            for i, (ti, gt) in enumerate(zip(t, label, strict=True)):
                rows[sensor].append([i, ti, ti, np.sin(ti / 1e8), 0.5, -0.5, user, "nexus4", device, gt])
    with zipfile.ZipFile(path, "w") as archive:
        for sensor, name in (("acc", "accelerometer"), ("gyro", "gyroscope")):
            frame = pd.DataFrame(rows[sensor], columns=inertial.HHAR_COLUMNS)
            frame.loc[frame["gt"] == "null", "gt"] = None
            archive.writestr(f"Activity recognition exp/Phones_{name}.csv", frame.to_csv(index=False))


def test_hhar_csvs_become_labelled_recordings_per_user(tmp_path):
    path = tmp_path / "hhar.zip"
    _hhar_zip(path)
    recordings, classes = inertial.load_hhar(path, "Phones", rate_hz=50.0)
    assert classes == inertial.HHAR_CLASSES
    assert sorted((r.subject, classes[r.label]) for r in recordings) == [
        (0, "sit"),
        (0, "walk"),
        (1, "sit"),
        (1, "walk"),
    ]
    sit = next(r for r in recordings if classes[r.label] == "sit")
    assert sit.signal.shape[1] == 6 and 290 <= len(sit.signal) <= 300  # 6 s at 50 Hz
    np.testing.assert_allclose(sit.signal[:, 4], 0.5)  # gyro y
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"hhar.zip: not a readable zip archive"):
        inertial.load_hhar(path)


def test_deepsense_input_puts_each_frequency_where_the_network_reads_it():
    interval, intervals = 20, 20
    t = np.arange(interval * intervals)
    signal = np.zeros((len(t), 6), np.float32)
    signal[:, 4] = np.cos(2 * np.pi * 3 * t / interval)  # gyro y: 3 cycles per interval
    acc, gyro = inertial.spectra(signal, intervals, spectral=10)
    assert acc.shape == gyro.shape == (20, 60)
    assert np.abs(acc).max() < 1e-4
    # feature index = (frequency * 3 + axis) * 2 + (0 real, 1 imag): frequency 3, axis y, real
    peak = np.unravel_index(np.abs(gyro).argmax(), gyro.shape)[1]
    assert peak == (3 * 3 + 1) * 2 and gyro[0, peak] == pytest.approx(interval / 2, rel=1e-4)
    with pytest.raises(ValueError, match=r"fewer than the 10"):
        inertial.spectra(signal[: 16 * intervals], intervals, spectral=10)


def test_windows_and_leave_users_out_split():
    rng = np.random.default_rng(0)
    recordings = [inertial.Recording(rng.standard_normal((500, 6)), s % 3, s) for s in range(6)]
    windows = inertial.deepsense_windows(recordings, interval_samples=20, window_step=50)
    assert windows["acc"].shape == (6 * 3, 20, 60)  # starts 0, 50, 100 fit in 500 samples
    split = inertial.leave_users_out(windows, [1, 4])
    assert set(split["subject_test"]) == {1, 4} and not set(split["subject_train"]) & {1, 4}
    assert split["acc_train"].shape[1:] == (20, 60, 1)
    np.testing.assert_allclose(split["gyro_train"].mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError, match=r"test_subjects \[9\]"):
        inertial.leave_users_out(windows, [9])


def test_seglearn_watch_data_is_real_and_complete():
    recordings, classes = inertial.load_watch()
    assert len(recordings) == 140 and len(classes) == 7
    assert {r.signal.shape[1] for r in recordings} == {6}
    assert len({r.subject for r in recordings}) >= 10


def test_artefact_round_trip_and_tamper_detection(tmp_path):
    path = tmp_path / "data.npz"
    record = artefact.save(path, {"x": np.arange(5), "y": np.ones(3)}, {"task": "t"})
    arrays, loaded = artefact.load(path)
    np.testing.assert_array_equal(arrays["x"], np.arange(5))
    assert loaded["sha256"] == record["sha256"] == artefact.sha256_of(path)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"data.npz: sha256 is .* expected"):
        artefact.load(path)


def test_fetch_verifies_local_files_and_refuses_plain_http(tmp_path):
    path = tmp_path / "archive.bin"
    path.write_bytes(b"abc")
    assert artefact.fetch(str(path), "md5:900150983cd24fb0d6963f7d28e17f72", tmp_path) == path
    with pytest.raises(ValueError, match=r"archive.bin: md5 is 9001.*expected 0000"):
        artefact.fetch(str(path), "md5:0000", tmp_path)
    with pytest.raises(ValueError, match=r"only https://"):
        artefact.fetch("http://example.org/x.tar.gz", None, tmp_path)
    with pytest.raises(ConnectionError, match=r"could not download https://127.0.0.1:9/x.zip"):
        artefact.fetch("https://127.0.0.1:9/x.zip", None, tmp_path / "cache")
    assert not (tmp_path / "cache" / "x.zip").exists()
