"""The network families a compressor searches (SPEC §4): VGG-16 on 32x32x3 images and DeepSense.

A family is fixed up to its *widths* (filters of every conv, units of every hidden FC/GRU layer);
a compressor only changes widths. For any widths this module gives
- `layers(family, widths)`: the layers as structure rows of the time models' types (fdi.profile.space),
  in execution order, with their names;
- `other_ops(family, widths)`: the ops no layer model covers (pooling, concatenation, mean over
  time, softmax), with their shapes (reshapes and flatten are free: LiteRT aliases their buffers);
- `build_keras(family, widths)`: the Keras network itself (batch 1, untrained weights), which
  fdi.profile.export converts to the `.tflite` graph that is timed whole.

VGG-16 on CIFAR-10's 32x32x3: five blocks of 3x3 'same' convs (2, 2, 3, 3, 3 convs at 32, 16, 8,
4, 2 pixels) each followed by 2x2 max pooling, flatten (1x1xC), FC 4096, FC 4096, FC 10.

DeepSense as in SPEC §4 (the authors' HHAR network): per sensor (accelerometer, gyroscope) an
input of 20 time intervals x 60 spectral features (10 samples x 3 axes x real/imag), three convs
(1x18 stride 1x6, then 1x3, 1x3, 'valid'), the two sensors stacked and three merged convs (2x8,
2x6, 2x4, 'same'), two GRUs over the 20 intervals, the mean over time and a 6-class output.
The two sensors' convs share their widths (the merge stacks them, so their channels must match).
The merged convs run on the (interval x sensor) rows at once: a (40 x 4 x C) plane, which costs
the same as 20 separate 2x4 planes (XNNPACK computes every output pixel over the whole kernel)
without unrolling 20 convs.

Protocol as for the sampled layers (SPEC §2): ReLU everywhere, GRUs included (sigmoid gates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

FAMILIES = ("vgg", "deepsense")

VGG_INPUT = (32, 32, 3)
VGG_BLOCKS = ((32, 2), (16, 2), (8, 3), (4, 3), (2, 3))  # (spatial size, convs)
VGG_CLASSES = 10
DEEPSENSE_INTERVALS = 20
DEEPSENSE_FEATURES = 60  # 10 spectral samples x 3 axes x (real, imag), per sensor
DEEPSENSE_SENSORS = ("acc", "gyro")
DEEPSENSE_CLASSES = 6
_SENSOR_CONVS = (((1, 18), (1, 6)), ((1, 3), (1, 1)), ((1, 3), (1, 1)))  # (kernel, stride), valid
_MERGE_KERNELS = ((2, 8), (2, 6), (2, 4))  # 'same', stride 1
# He initialisation for the ReLU layers: with Keras's default (Glorot) a 13-conv ReLU stack starts
# with its signal shrunk ~90x and sits on a plateau for an epoch; timing does not depend on it.
RELU_INIT = "he_uniform"

WIDTH_NAMES: dict[str, list[str]] = {
    "vgg": [f"conv{block + 1}_{i + 1}" for block, (_, n) in enumerate(VGG_BLOCKS) for i in range(n)]
    + ["fc1", "fc2"],
    "deepsense": ["conv1", "conv2", "conv3", "merge1", "merge2", "merge3", "gru1", "gru2"],
}
# Layers that must keep one width between them: the two sensor branches' first and second convs
# (the merge stacks the branches, so their channels match; the third convs are tied by that stack).
WIDTH_TIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "deepsense": tuple((f"acc_conv{i}", f"gyro_conv{i}") for i in (1, 2)),
}
ORIGINAL_WIDTHS: dict[str, list[int]] = {
    "vgg": [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 4096, 4096],
    "deepsense": [64, 64, 64, 64, 64, 64, 120, 120],
}


def _check(family: str, widths: Sequence[int]) -> list[int]:
    if family not in FAMILIES:
        raise ValueError(f"unknown network family {family!r}; known: {', '.join(FAMILIES)}")
    widths = [int(w) for w in widths]
    if len(widths) != len(ORIGINAL_WIDTHS[family]) or min(widths) < 1:
        raise ValueError(
            f"{family} needs {len(ORIGINAL_WIDTHS[family])} widths >= 1 "
            f"({', '.join(WIDTH_NAMES[family])}), got {widths}"
        )
    return widths


def random_widths(family: str, rng: np.random.Generator, fraction: Sequence[float] = (0.0, 1.0)) -> list[int]:
    """Every width uniform over [fraction[0], fraction[1]] of the original's, at least 1."""
    low, high = fraction
    widths = []
    for original in ORIGINAL_WIDTHS[family]:
        lo = max(1, math.ceil(low * original))
        hi = max(lo, math.floor(high * original))
        widths.append(int(rng.integers(lo, hi + 1)))
    return widths


def _conv(name: str, size: tuple[int, int, int], kernel, stride, out: int, padding: str) -> dict[str, Any]:
    return {
        "name": name,
        "layer": "cnn",
        "in_height": size[0],
        "in_width": size[1],
        "kernel_h": kernel[0],
        "kernel_w": kernel[1],
        "in_channel": size[2],
        "out_channel": out,
        "padding": padding,
        "stride_h": stride[0],
        "stride_w": stride[1],
    }


def _valid(n: int, k: int, s: int) -> int:
    return math.ceil((n - k + 1) / s)


def layers(family: str, widths: Sequence[int]) -> list[dict[str, Any]]:
    """The network's modelled layers in execution order, as structure rows with a `name`."""
    widths = _check(family, widths)
    rows: list[dict[str, Any]] = []
    if family == "vgg":
        height, _, channels = VGG_INPUT
        position = 0
        for block, (size, convs) in enumerate(VGG_BLOCKS):
            assert size == height
            for i in range(convs):
                out = widths[position]
                rows.append(
                    _conv(f"conv{block + 1}_{i + 1}", (size, size, channels), (3, 3), (1, 1), out, "same")
                )
                channels, position = out, position + 1
            height //= 2
        in_dim = height * height * channels
        for name, out in (("fc1", widths[-2]), ("fc2", widths[-1]), ("fc3", VGG_CLASSES)):
            rows.append({"name": name, "layer": "fc", "in_dim": in_dim, "out_dim": out})
            in_dim = out
        return rows
    height, width, channels = DEEPSENSE_INTERVALS, DEEPSENSE_FEATURES, 1
    for sensor in DEEPSENSE_SENSORS:
        height, width, channels = DEEPSENSE_INTERVALS, DEEPSENSE_FEATURES, 1
        for i, (kernel, stride) in enumerate(_SENSOR_CONVS):
            out = widths[i]
            rows.append(
                _conv(f"{sensor}_conv{i + 1}", (height, width, channels), kernel, stride, out, "valid")
            )
            height, width, channels = (
                _valid(height, kernel[0], stride[0]),
                _valid(width, kernel[1], stride[1]),
                out,
            )
    height *= len(DEEPSENSE_SENSORS)
    for i, kernel in enumerate(_MERGE_KERNELS):
        out = widths[3 + i]
        rows.append(_conv(f"merge{i + 1}", (height, width, channels), kernel, (1, 1), out, "same"))
        channels = out
    in_dim = len(DEEPSENSE_SENSORS) * width * channels
    for i in range(2):
        out = widths[6 + i]
        rows.append(
            {
                "name": f"gru{i + 1}",
                "layer": "gru",
                "in_dim": in_dim,
                "out_dim": out,
                "step": DEEPSENSE_INTERVALS,
            }
        )
        in_dim = out
    rows.append({"name": "output", "layer": "fc", "in_dim": in_dim, "out_dim": DEEPSENSE_CLASSES})
    return rows


def other_ops(family: str, widths: Sequence[int]) -> list[dict[str, Any]]:
    """The ops of the converted network that no layer model covers: name, op kind, the input's
    shape (without the batch) and its element count."""
    widths = _check(family, widths)
    ops: list[dict[str, Any]] = []

    def op(name: str, kind: str, shape: tuple[int, ...]) -> None:
        ops.append({"name": name, "op": kind, "shape": list(shape), "elements": int(np.prod(shape))})

    if family == "vgg":
        position = 0
        for block, (size, convs) in enumerate(VGG_BLOCKS):
            position += convs
            op(f"pool{block + 1}", "max_pool", (size, size, widths[position - 1]))
        op("softmax", "softmax", (VGG_CLASSES,))
        return ops
    op("stack_sensors", "concatenation", (DEEPSENSE_INTERVALS, 1, 4, widths[2]))
    op("mean_over_time", "mean", (DEEPSENSE_INTERVALS, widths[7]))
    op("softmax", "softmax", (DEEPSENSE_CLASSES,))
    return ops


def build_op(kind: str, shape: Sequence[int], name: str = "op") -> Any:
    """A Keras model holding one op of `other_ops` at the given input shape (batch 1)."""
    import keras

    shape = tuple(int(v) for v in shape)
    if kind == "concatenation":
        first, second = keras.Input(shape=shape, batch_size=1), keras.Input(shape=shape, batch_size=1)
        return keras.Model([first, second], keras.layers.Concatenate(axis=2)([first, second]), name=name)
    inputs = keras.Input(shape=shape, batch_size=1)
    if kind == "max_pool":
        outputs = keras.layers.MaxPooling2D(2)(inputs)
    elif kind == "mean":
        outputs = keras.layers.GlobalAveragePooling1D()(inputs)
    elif kind == "softmax":
        outputs = keras.layers.Softmax()(inputs)
    else:
        raise ValueError(f"unknown op kind {kind!r}; known: max_pool, concatenation, mean, softmax")
    return keras.Model(inputs, outputs, name=name)


def build_keras(
    family: str,
    widths: Sequence[int],
    name: str | None = None,
    batch_size: int | None = 1,
    classes: int | None = None,
) -> Any:
    """The Keras network of a family at the given widths (untrained weights): batch 1 for timing,
    `batch_size=None` for training; `classes` outputs (default: the paper task's)."""
    import keras

    widths = _check(family, widths)
    if family == "vgg":
        inputs = keras.Input(shape=VGG_INPUT, batch_size=batch_size, name="image")
        x = inputs
        position = 0
        for block, (_, convs) in enumerate(VGG_BLOCKS):
            for i in range(convs):
                x = keras.layers.Conv2D(
                    widths[position],
                    (3, 3),
                    padding="same",
                    activation="relu",
                    kernel_initializer=RELU_INIT,
                    name=f"conv{block + 1}_{i + 1}",
                )(x)
                position += 1
            x = keras.layers.MaxPooling2D(2, name=f"pool{block + 1}")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(widths[-2], activation="relu", kernel_initializer=RELU_INIT, name="fc1")(x)
        x = keras.layers.Dense(widths[-1], activation="relu", kernel_initializer=RELU_INIT, name="fc2")(x)
        outputs = keras.layers.Dense(classes or VGG_CLASSES, activation="softmax", name="fc3")(x)
        return keras.Model(inputs, outputs, name=name or "vgg")
    sensor_inputs, branches = [], []
    for sensor in DEEPSENSE_SENSORS:
        inp = keras.Input(
            shape=(DEEPSENSE_INTERVALS, DEEPSENSE_FEATURES, 1), batch_size=batch_size, name=sensor
        )
        x = inp
        for i, (kernel, stride) in enumerate(_SENSOR_CONVS):
            x = keras.layers.Conv2D(
                widths[i],
                kernel,
                strides=stride,
                padding="valid",
                activation="relu",
                kernel_initializer=RELU_INIT,
                name=f"{sensor}_conv{i + 1}",
            )(x)
        sensor_inputs.append(inp)
        branches.append(
            keras.layers.Reshape((DEEPSENSE_INTERVALS, 1, 4, widths[2]), name=f"{sensor}_rows")(x)
        )
    x = keras.layers.Concatenate(axis=2, name="stack_sensors")(branches)
    x = keras.layers.Reshape(
        (DEEPSENSE_INTERVALS * len(DEEPSENSE_SENSORS), 4, widths[2]), name="merge_plane"
    )(x)
    for i, kernel in enumerate(_MERGE_KERNELS):
        x = keras.layers.Conv2D(
            widths[3 + i],
            kernel,
            padding="same",
            activation="relu",
            kernel_initializer=RELU_INIT,
            name=f"merge{i + 1}",
        )(x)
    x = keras.layers.Reshape(
        (DEEPSENSE_INTERVALS, len(DEEPSENSE_SENSORS) * 4 * widths[5]), name="to_sequence"
    )(x)
    for i in range(2):
        x = keras.layers.GRU(widths[6 + i], activation="relu", return_sequences=True, name=f"gru{i + 1}")(x)
    x = keras.layers.GlobalAveragePooling1D(name="mean_over_time")(x)
    outputs = keras.layers.Dense(classes or DEEPSENSE_CLASSES, activation="softmax", name="output")(x)
    return keras.Model(sensor_inputs, outputs, name=name or "deepsense")


def width_roles(family: str) -> dict[str, tuple[int | None, int | None]]:
    """Keras layer name -> (index of the width it reads, index of the width it produces);
    None for the network's input or its class output."""
    if family == "vgg":
        names = WIDTH_NAMES["vgg"]
        roles = {name: (i - 1 if i else None, i) for i, name in enumerate(names)}
        roles["fc3"] = (len(names) - 1, None)
        return roles
    if family == "deepsense":
        roles: dict[str, tuple[int | None, int | None]] = {}
        for sensor in ("acc", "gyro"):
            roles[f"{sensor}_conv1"] = (None, 0)
            roles[f"{sensor}_conv2"] = (0, 1)
            roles[f"{sensor}_conv3"] = (1, 2)
        for i, name in enumerate(["merge1", "merge2", "merge3", "gru1", "gru2"]):
            roles[name] = (2 + i, 3 + i)
        roles["output"] = (7, None)
        return roles
    raise ValueError(f"unknown network family {family!r}; known: {', '.join(FAMILIES)}")


def widths_of(model: Any, family: str) -> list[int]:
    """A family network's widths, read from its layers' configs."""
    widths = []
    for name in WIDTH_NAMES[family]:
        layer_name = name if family == "vgg" or not name.startswith("conv") else f"acc_{name}"
        config = model.get_layer(layer_name).get_config()
        widths.append(int(config.get("filters") or config.get("units")))
    return widths


def family_of(model: Any) -> str:
    """Which family a Keras model is, by its layer names."""
    names = {layer.name for layer in model.layers}
    for family in FAMILIES:
        if set(width_roles(family)) <= names:
            return family
    raise ValueError(
        f"model {model.name!r} is not a network of a known family ({', '.join(FAMILIES)}): "
        "its layer names do not match fdi.profile.families"
    )


# The class output layer of each family (its width is the task's label count, never compressed).
OUTPUT_LAYER = {"vgg": "fc3", "deepsense": "output"}


def inputs_of(arrays: dict[str, np.ndarray], family: str, split: str) -> list[np.ndarray]:
    """A family network's inputs for one split of a prepared task (fdi.tasks.artefact): images
    scaled to [0, 1], or the two sensors' planes."""
    if family == "vgg":
        return [arrays[f"x_{split}"].astype(np.float32) / 255.0]
    return [arrays[f"{sensor}_{split}"] for sensor in DEEPSENSE_SENSORS]


def reports_top5(family: str) -> bool:
    """Whether a family's task reports top-5 accuracy beside top-1 (the image task, as Table 6)."""
    return family == "vgg"
