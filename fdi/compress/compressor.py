"""DeepIoT's compressor (SPEC §3, after the authors' code): an LSTM that reads one embedding per
width of the network and emits a keep probability for every element of it.

The embedding of a width is its weight matrix (rows: every input weight and the bias of one
element; columns: the elements; both sensor branches' convs stacked, a GRU's three gates
stacked) pressed by two learned projections into `hidden` numbers: a (1 x rows) row on the left,
a (width x hidden) matrix on the right. The LSTM's output for each width goes through a learned
(hidden x width) matrix and a sigmoid. A bias per element, starting at the logit of the initial
keep probability (0.8 for convs and FC, 0.5 for recurrent units), sets where the search starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def producer_parts(layer: Any) -> list[Any]:
    """The (rows x units) blocks embedding one layer's output elements: a kernel's rows and its
    bias; a recurrent layer's kernel, recurrent kernel and biases, one block per gate."""
    import tensorflow as tf

    if hasattr(layer, "cell"):
        cell, units = layer.cell, layer.cell.units
        gates = int(cell.kernel.shape[-1]) // units
        rows = [cell.kernel, cell.recurrent_kernel]
        rows += [] if cell.bias is None else [tf.reshape(cell.bias, (-1, gates * units))]
        stacked = tf.concat(rows, axis=0)
        return [stacked[:, g * units : (g + 1) * units] for g in range(gates)]
    kernel = tf.reshape(layer.kernel, (-1, layer.kernel.shape[-1]))
    return [kernel if layer.bias is None else tf.concat([kernel, layer.bias[None, :]], axis=0)]


class Compressor:
    """Keep probabilities for every element of a network from its weights."""

    def __init__(
        self, shapes: Sequence[tuple[int, int]], initial_keep: Sequence[float], hidden: int, seed: int
    ) -> None:
        import keras
        import tensorflow as tf

        rng = np.random.default_rng(seed)

        def variable(shape: tuple[int, ...], fan: int, name: str) -> Any:
            values = np.clip(rng.standard_normal(shape), -2, 2) * np.sqrt(2.0 / fan)
            return tf.Variable(values.astype(np.float32), name=name)

        self.left = [variable((1, rows), 1 + rows, f"left{i}") for i, (rows, _) in enumerate(shapes)]
        self.right = [
            variable((width, hidden), width + hidden, f"right{i}") for i, (_, width) in enumerate(shapes)
        ]
        self.back = [
            variable((hidden, width), hidden + width, f"back{i}") for i, (_, width) in enumerate(shapes)
        ]
        logits = [np.log(p / (1 - p)) for p in initial_keep]
        self.bias = [
            tf.Variable(np.full(width, logit, np.float32), name=f"bias{i}")
            for i, ((_, width), logit) in enumerate(zip(shapes, logits, strict=True))
        ]
        keras.utils.set_random_seed(seed)
        self.lstm = keras.layers.LSTM(hidden, return_sequences=True)
        self.lstm.build((1, len(shapes), hidden))

    @property
    def variables(self) -> list[Any]:
        return [*self.left, *self.right, *self.back, *self.bias, *self.lstm.trainable_variables]

    def __call__(self, matrices: Sequence[Any]) -> list[Any]:
        """Keep probabilities, one (width,) tensor per width."""
        import tensorflow as tf

        embedded = [
            tf.matmul(tf.matmul(left, tf.stop_gradient(matrix)), right)
            for left, matrix, right in zip(self.left, matrices, self.right, strict=True)
        ]
        outputs = self.lstm(tf.stack([e[0] for e in embedded])[None])[0]
        return [
            tf.sigmoid(tf.matmul(outputs[i : i + 1], back)[0] + bias)
            for i, (back, bias) in enumerate(zip(self.back, self.bias, strict=True))
        ]
