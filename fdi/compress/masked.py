"""The critic: a family network run with a keep mask on every hidden element (SPEC §3).

Each width of a family (fdi.profile.families.WIDTH_NAMES) gets one mask row per example: conv filters and
FC units are multiplied by it after their ReLU; a GRU unit's new state is multiplied by it at
every step, so a dropped unit's state stays zero and never reaches the other units through the
recurrent weights. The masked network therefore computes exactly what the network holding only
the kept elements computes (fdi.compress.extract), which is what makes the compressor's choice
the structure that is deployed. The two DeepSense sensor branches share their conv masks, as
their widths are shared (the authors' code does the same for the merged input).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fdi.profile.families import DEEPSENSE_SENSORS, VGG_BLOCKS


def masked_gru(layer: Any, inputs: Any, mask: Any) -> Any:
    """Keras 3's GRU (reset_after, gates z, r, h) over `inputs` (batch, steps, features) with the
    units' state multiplied by `mask` (batch, units) after every step; returns every step's state."""
    import tensorflow as tf

    cell = layer.cell
    units = cell.units
    kernel, recurrent, bias = cell.kernel, cell.recurrent_kernel, cell.bias
    projected = tf.einsum("btf,fg->btg", inputs, kernel) + bias[0]
    state = tf.zeros((tf.shape(inputs)[0], units), dtype=inputs.dtype)
    states = []
    for step in range(inputs.shape[1]):
        x = projected[:, step]
        inner = tf.matmul(state, recurrent) + bias[1]
        z = tf.sigmoid(x[:, :units] + inner[:, :units])
        r = tf.sigmoid(x[:, units : 2 * units] + inner[:, units : 2 * units])
        candidate = tf.nn.relu(x[:, 2 * units :] + r * inner[:, 2 * units :])
        state = (z * state + (1 - z) * candidate) * mask
        states.append(state)
    return tf.stack(states, axis=1)


def _channels(x: Any, mask: Any) -> Any:
    """Conv feature maps (batch, ..., channels) times a per-example channel mask (batch, channels)."""
    import tensorflow as tf

    return x * tf.reshape(mask, (-1, *([1] * (len(x.shape) - 2)), mask.shape[-1]))


def _vgg_forward(model: Any, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
    x, position = inputs[0], 0
    for block, (_, convs) in enumerate(VGG_BLOCKS):
        for i in range(convs):
            x = _channels(model.get_layer(f"conv{block + 1}_{i + 1}")(x), masks[position])
            position += 1
        x = model.get_layer(f"pool{block + 1}")(x)
    x = model.get_layer("flatten")(x)
    x = model.get_layer("fc1")(x) * masks[-2]
    x = model.get_layer("fc2")(x) * masks[-1]
    return model.get_layer("fc3")(x)


def _deepsense_forward(model: Any, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
    branches = []
    for sensor, x in zip(DEEPSENSE_SENSORS, inputs, strict=True):
        for i in range(3):
            x = _channels(model.get_layer(f"{sensor}_conv{i + 1}")(x), masks[i])
        branches.append(model.get_layer(f"{sensor}_rows")(x))
    x = model.get_layer("merge_plane")(model.get_layer("stack_sensors")(branches))
    for i in range(3):
        x = _channels(model.get_layer(f"merge{i + 1}")(x), masks[3 + i])
    x = model.get_layer("to_sequence")(x)
    for i in range(2):
        x = masked_gru(model.get_layer(f"gru{i + 1}"), x, masks[6 + i])
    return model.get_layer("output")(model.get_layer("mean_over_time")(x))


# Each family's forward pass through its own layers (fdi.profile.families' layout), masks applied.
_FORWARD = {"vgg": _vgg_forward, "deepsense": _deepsense_forward}


def masked_forward(model: Any, family: str, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
    """The class probabilities of `model` (a family network) on `inputs` under per-example `masks`,
    one (batch, width) array per width of the family."""
    if family not in _FORWARD:
        raise ValueError(f"unknown network family {family!r}; known: {', '.join(_FORWARD)}")
    return _FORWARD[family](model, inputs, masks)
