"""Structures -> Keras layers -> LiteRT `.tflite` graphs, one graph per component.

One graph per component keeps every component's time identifiable on any runtime (the host's
Python interpreter has no per-op profiler). The only module that imports TensorFlow; it does so
lazily so that importing `fdi` stays cheap.

Protocol (SPEC §2): batch size 1; ReLU activation everywhere (GRU/LSTM keep their sigmoid
gates); recurrent layers take `step` time steps and return the whole sequence; weights are
random (time does not depend on their values), seeded per component.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm


def _quiet_tensorflow() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


# The reference graph interleaved with every benchmark job: a mid-sized conv (~0.3 ms here), so
# that a drift of the machine shows in its time. Fixed forever: changing it breaks comparisons.
REFERENCE_COMPONENT = {
    "id": "reference",
    "layer": "cnn",
    "in_height": 28,
    "in_width": 28,
    "kernel_h": 3,
    "kernel_w": 3,
    "in_channel": 32,
    "out_channel": 32,
    "padding": "same",
    "stride_h": 1,
    "stride_w": 1,
}


def build_keras_model(component: dict[str, Any]) -> Any:
    """A one-layer Keras model for one component row, or a whole network for a network row."""
    import keras

    seed = zlib.crc32(component["id"].encode())
    keras.utils.set_random_seed(seed)
    if isinstance(component.get("family"), str):
        from fdi.profile.families import build_keras

        widths = json.loads(component["widths"])
        return build_keras(component["family"], widths, name=component["id"].replace("-", "_"))
    layer = component["layer"]
    if layer == "op":
        from fdi.profile.families import build_op

        return build_op(
            component["op"], json.loads(component["shape"]), name=component["id"].replace("-", "_")
        )
    if layer == "fc":
        inputs = keras.Input(shape=(int(component["in_dim"]),), batch_size=1)
        outputs = keras.layers.Dense(int(component["out_dim"]), activation="relu")(inputs)
    elif layer == "cnn":
        shape = (int(component["in_height"]), int(component["in_width"]), int(component["in_channel"]))
        inputs = keras.Input(shape=shape, batch_size=1)
        outputs = keras.layers.Conv2D(
            int(component["out_channel"]),
            (int(component["kernel_h"]), int(component["kernel_w"])),
            strides=(int(component["stride_h"]), int(component["stride_w"])),
            padding=str(component["padding"]),
            activation="relu",
        )(inputs)
    elif layer in ("gru", "lstm"):
        inputs = keras.Input(shape=(int(component["step"]), int(component["in_dim"])), batch_size=1)
        cell = keras.layers.GRU if layer == "gru" else keras.layers.LSTM
        outputs = cell(int(component["out_dim"]), activation="relu", return_sequences=True)(inputs)
    else:
        raise ValueError(f"component {component['id']}: unknown layer type {layer!r}")
    return keras.Model(inputs, outputs, name=component["id"].replace("-", "_"))


def to_tflite(model: Any) -> bytes:
    """Convert a Keras model to a LiteRT flatbuffer (float32, no quantisation)."""
    tf = _quiet_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # The converter prints the SavedModel signature on stdout; keep job logs readable.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


FULLY_CONNECTED = 9  # LiteRT's builtin operator code


@functools.cache
def _fc_template() -> Any | None:
    """A converted one-Dense graph as a flatbuffer object, or None if the converter's graph is not
    the single FULLY_CONNECTED op `fc_graph` knows how to resize (another TensorFlow version)."""
    from tensorflow.lite.tools import flatbuffer_utils

    graph = to_tflite(build_keras_model({"id": "fc-template", "layer": "fc", "in_dim": 7, "out_dim": 5}))
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(graph))
    subgraph = model.subgraphs[0]
    operators = subgraph.operators
    if len(model.subgraphs) != 1 or len(operators) != 1 or len(subgraph.tensors) != 3:
        return None
    if model.operatorCodes[operators[0].opcodeIndex].builtinCode != FULLY_CONNECTED:
        return None
    if list(operators[0].inputs)[:2] != [0, 1] or list(operators[0].outputs) != [2]:
        return None
    return model


def fc_graph(component: dict[str, Any]) -> bytes:
    """The converter's graph for a fully-connected component, resized instead of reconverted.

    Converting a Dense layer takes ~1 s per graph here, most of it in copying its weights through
    the converter; a batch-1 Dense becomes one FULLY_CONNECTED op (input [1, in], weights
    [out, in], output [1, out]; the converter drops the zero bias), so the graph of any size is
    the converted template with those three shapes and new weights (Glorot-uniform like Keras',
    seeded by the id). Falls back to the converter if the template is not that op.
    """
    template = _fc_template()
    if template is None:
        return to_tflite(build_keras_model(component))
    from tensorflow.lite.tools import flatbuffer_utils

    in_dim, out_dim = int(component["in_dim"]), int(component["out_dim"])
    model = copy.deepcopy(template)
    tensors = model.subgraphs[0].tensors
    for tensor, shape in zip(tensors, ([1, in_dim], [out_dim, in_dim], [1, out_dim]), strict=True):
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.shapeSignature = None
    limit = float(np.sqrt(6.0 / (in_dim + out_dim)))
    rng = np.random.default_rng(zlib.crc32(component["id"].encode()))
    weights = rng.uniform(-limit, limit, (out_dim, in_dim)).astype(np.float32)
    model.buffers[tensors[1].buffer].data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def component_graph(component: dict[str, Any]) -> bytes:
    """The `.tflite` bytes of one component, network or op row."""
    if component.get("layer") == "fc" and not isinstance(component.get("family"), str):
        return fc_graph(component)
    return to_tflite(build_keras_model(component))


def export_shard(structures: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write `<id>.tflite` for every component row into `out_dir`; return the paths."""
    _quiet_tensorflow()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for component in tqdm(structures.to_dict("records"), desc=f"export {out_dir}", unit="graph"):
        path = out_dir / f"{component['id']}.tflite"
        path.write_bytes(component_graph(component))
        paths.append(path)
    return paths


def export_reference(out: str | Path) -> Path:
    """Write the fixed reference graph (REFERENCE_COMPONENT) to `out`."""
    _quiet_tensorflow()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(to_tflite(build_keras_model(REFERENCE_COMPONENT)))
    return out
