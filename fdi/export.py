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
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any

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
        from fdi.families import build_keras

        widths = json.loads(component["widths"])
        return build_keras(component["family"], widths, name=component["id"].replace("-", "_"))
    layer = component["layer"]
    if layer == "op":
        from fdi.families import build_op

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


def export_shard(structures: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write `<id>.tflite` for every component row into `out_dir`; return the paths."""
    _quiet_tensorflow()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for component in tqdm(structures.to_dict("records"), desc=f"export {out_dir}", unit="graph"):
        path = out_dir / f"{component['id']}.tflite"
        path.write_bytes(to_tflite(build_keras_model(component)))
        paths.append(path)
    return paths


def export_reference(out: str | Path) -> Path:
    """Write the fixed reference graph (REFERENCE_COMPONENT) to `out`."""
    _quiet_tensorflow()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(to_tflite(build_keras_model(REFERENCE_COMPONENT)))
    return out
