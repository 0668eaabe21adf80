"""Issue 28's acceptance: two models that are not VGG or DeepSense, trained here on the project's
offline data and compressed by `fdi compress` from their `.keras` files alone, DeepIoT against
FastDeepIoT, each point measured on the host.

- `mobile`: a MobileNetV2-style network (stem, inverted residual blocks: 1x1 expand, 3x3
  depthwise, 1x1 project, residual add; global pooling, dense) on Fashion-MNIST 28x28 (Debian's
  dataset-fashion-mnist).
- `lstm`: two stacked LSTMs over DeepSense's 20 intervals of accelerometer and gyroscope spectra
  of seglearn's watch data, users 8-10 held out for the test (as the `deepsense` task).

Each original trains until its validation accuracy stops improving (Keras EarlyStopping,
patience 3, best epoch kept; 10% of the training split validates). Then, per model, two
`fdi compress` runs with the same targets, iterations and fine-tuning, each resumable:
DeepIoT (`--objective none`) and FastDeepIoT (`--objective time --expand`, the host's time
models from `--registry`, made by `make run`), both with `--measure`. The last table gives each
point's widths, test accuracy and measured ms, and each variant's pick: the fastest point within
`--accuracy-drop` of the original's test accuracy.

Needs the host's registry (`make run` first); run nothing else meanwhile (the points are timed).
Usage: python benchmarks/user_models.py --out-dir DIR [--registry results/registry] [--models mobile lstm]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
VARIANTS = {"deepiot": ["--objective", "none"], "fastdeepiot": ["--objective", "time", "--expand"]}


def mobile_model(classes: int) -> Any:
    import keras

    layers = keras.layers

    def block(x: Any, expand: int, out: int, stride: int, name: str) -> Any:
        y = layers.Conv2D(expand, 1, use_bias=False, name=f"{name}_expand")(x)
        y = layers.ReLU(6.0)(layers.BatchNormalization(name=f"{name}_expand_bn")(y))
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(y)
        y = layers.ReLU(6.0)(layers.BatchNormalization(name=f"{name}_dw_bn")(y))
        y = layers.Conv2D(out, 1, use_bias=False, name=f"{name}_project")(y)
        y = layers.BatchNormalization(name=f"{name}_project_bn")(y)
        return layers.Add(name=f"{name}_add")([x, y]) if stride == 1 and x.shape[-1] == out else y

    x = inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization(name="stem_bn")(x))
    x = block(x, 64, 32, 1, "b1")  # 14x14, residual
    x = block(x, 128, 64, 2, "b2")  # 7x7
    x = block(x, 256, 64, 1, "b3")  # residual
    x = block(x, 256, 64, 1, "b4")  # residual
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(128, activation="relu", name="fc")(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", name="out")(x), name="mobile")


def lstm_model(steps: int, features: int, classes: int) -> Any:
    import keras

    x = inputs = keras.Input((steps, features))
    x = keras.layers.LSTM(96, return_sequences=True, name="lstm1")(x)
    x = keras.layers.LSTM(96, name="lstm2")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax", name="out")(x), name="lstm")


def mobile_data() -> dict[str, np.ndarray]:
    from fdi.tasks.images import load_fashion_mnist

    if not FASHION_MNIST.is_dir():
        raise SystemExit(f"{FASHION_MNIST}: missing (Debian's dataset-fashion-mnist; make installs it)")
    raw = load_fashion_mnist(FASHION_MNIST)
    return {
        **{f"x_{s}": (raw[f"x_{s}"][..., None] / 255.0).astype(np.float32) for s in ("train", "test")},
        **{f"y_{s}": raw[f"y_{s}"].astype(np.int64) for s in ("train", "test")},
    }


def lstm_data() -> dict[str, np.ndarray]:
    import yaml

    from fdi.tasks.inertial import deepsense_windows, leave_users_out, load_watch

    task = yaml.safe_load((REPO / "config/config.yaml").read_text())["tasks"]["deepsense"]
    recordings, _ = load_watch()
    windows = deepsense_windows(recordings, int(task["interval_samples"]), int(task["window_step"]))
    arrays = leave_users_out(windows, list(task["test_subjects"]))
    out = {}
    for split in ("train", "test"):  # (N, 20, 60, 1) twice -> 20 steps of 120 features
        out[f"x_{split}"] = np.concatenate(
            [arrays[f"acc_{split}"][..., 0], arrays[f"gyro_{split}"][..., 0]], -1
        )
        out[f"y_{split}"] = arrays[f"y_{split}"].astype(np.int64)
    return out


def train_original(name: str, out: Path, seed: int) -> None:
    """The model trained to its validation plateau, and its data as fdi compress reads it."""
    import keras

    if (out / "model.keras").exists() and (out / "data.npz").exists():
        print(f"{name}: trained original found in {out}")
        return
    data = mobile_data() if name == "mobile" else lstm_data()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data["y_train"]))
    cut = len(order) // 10
    data["x_val"], data["y_val"] = data["x_train"][order[:cut]], data["y_train"][order[:cut]]
    data["x_train"], data["y_train"] = data["x_train"][order[cut:]], data["y_train"][order[cut:]]
    classes = int(data["y_train"].max()) + 1
    keras.utils.set_random_seed(seed)
    model = mobile_model(classes) if name == "mobile" else lstm_model(*data["x_train"].shape[1:], classes)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=3, restore_best_weights=True)
    history = model.fit(
        data["x_train"],
        data["y_train"],
        validation_data=(data["x_val"], data["y_val"]),
        epochs=40,
        batch_size=64,
        callbacks=[stop],
        verbose=2,
    )
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "data.npz", **data)
    model.save(out / "model.keras")
    curve = {k: [float(v) for v in values] for k, values in history.history.items()}
    (out / "training.json").write_text(json.dumps({"epochs": len(curve["loss"]), **curve}, indent=1) + "\n")
    print(f"{name}: {len(curve['loss'])} epochs, best validation accuracy {max(curve['val_accuracy']):.4f}")


def compress(name: str, out: Path, variant: str, args: argparse.Namespace) -> dict[str, Any]:
    run = out / variant
    command = [
        sys.executable,
        "-m",
        "fdi.cli",
        "compress",
        str(out / "model.keras"),
        "--data",
        str(out / "data.npz"),
    ]
    command += [
        "--out-dir",
        str(run),
        *VARIANTS[variant],
        "--device",
        "host",
        "--registry",
        str(args.registry),
    ]
    command += ["--targets", *map(str, args.targets), "--iterations", str(args.iterations)]
    command += ["--finetune-epochs", str(args.finetune_epochs), "--measure", "--seed", str(args.seed)]
    print(f"{name} {variant}: {' '.join(command[2:])}", flush=True)
    subprocess.run(command, check=True)
    return json.loads((run / "curve.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--registry", type=Path, default=REPO / "results/registry")
    parser.add_argument("--models", nargs="+", choices=["mobile", "lstm"], default=["mobile", "lstm"])
    parser.add_argument("--targets", type=float, nargs="+", default=[0.5, 0.4, 0.3])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument(
        "--accuracy-drop", type=float, default=0.01, help="the accuracy bar below the original"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.models:
        out = args.out_dir / name
        train_original(name, out, args.seed)
        curves = {variant: compress(name, out, variant, args) for variant in VARIANTS}
        original = curves["deepiot"]["original_test_accuracy"]
        bar = original - args.accuracy_drop
        print(
            f"\n{name}: original test accuracy {original:.4f} ({curves['deepiot']['original_ms']:.3f} ms); "
            f"bar {bar:.4f}"
        )
        picks = {}
        for variant, curve in curves.items():
            for p in curve["points"]:
                widths = p.get("expanded_widths", p["widths"])
                print(
                    f"  {variant:12s} point {p['point']}: widths {widths}, test {p['test_accuracy']:.4f}, "
                    f"{p['measured_time_ms']:.3f} ms"
                )
            reaching = [p for p in curve["points"] if p["test_accuracy"] >= bar]
            picks[variant] = min(reaching, key=lambda p: p["measured_time_ms"]) if reaching else None
        if all(picks.values()):
            fast, slow = picks["fastdeepiot"]["measured_time_ms"], picks["deepiot"]["measured_time_ms"]
            print(f"  picks: FastDeepIoT {fast:.3f} ms vs DeepIoT {slow:.3f} ms ({fast / slow - 1:+.1%})")
        else:
            print(f"  picks: {', '.join(v for v, p in picks.items() if p is None)} reach no point at the bar")


if __name__ == "__main__":
    main()
