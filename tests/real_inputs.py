"""Real inputs for the network families in tests: scikit-learn's digits as VGG images, seglearn's
smartwatch recordings turned into DeepSense's spectra."""

import functools

import numpy as np


def family_inputs(family: str, seed: int, count: int = 1) -> list[np.ndarray]:
    """`count` real examples from `seed` on: images (digits, 8x8 scaled to 32x32x3) for VGG;
    smartwatch windows (seglearn's recordings as DeepSense spectra) for DeepSense."""
    if family == "vgg":
        from sklearn.datasets import load_digits

        images = load_digits().images[seed : seed + count] / 16.0
        images = np.kron(images, np.ones((1, 4, 4)))[..., None].repeat(3, axis=-1)
        return [images.astype("float32")]
    windows = watch_windows()
    return [
        windows["acc_train"][seed : seed + count],
        windows["gyro_train"][seed * 7 : seed * 7 + count],
    ]


@functools.cache
def watch_windows() -> dict[str, np.ndarray]:
    from fdi.tasks import inertial

    recordings, _ = inertial.load_watch()
    windows = inertial.deepsense_windows(recordings[:12], interval_samples=20, window_step=200)
    return inertial.leave_users_out(windows, [int(windows["subject"][-1])])
