"""Read a whole network (a LiteRT .tflite or a Keras file) as the runtime runs it, in the terms
the time models know.

A .tflite is read op by op from its flatbuffer (fdi.profile.tflite_ops, no TensorFlow): each
FULLY_CONNECTED, CONV_2D (the converter's stride and padding) and recurrent loop (Keras's GRU/LSTM
become WHILE loops) is a structure row of its layer type (fc, cnn, gru, lstm) as in
fdi.profile.space; pooling, mean, softmax and concatenation are rows for the device's op models;
anything else is listed by name as not modelled. A Keras file is converted first, so it gives
exactly what its .tflite gives.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class NetworkLayers:
    layers: list[dict[str, Any]] = field(default_factory=list)  # name, layer, structure columns
    ops: list[dict[str, Any]] = field(default_factory=list)  # name, op (an op model's kind), elements, note
    unsupported: list[str] = field(default_factory=list)


# LiteRT ops an op model prices (fdi.timemodel.registry.op_models), by the kind it was measured as.
PRICED_OPS = {
    "MAX_POOL_2D": "max_pool",
    "MEAN": "mean",
    "SOFTMAX": "softmax",
    "CONCATENATION": "concatenation",
}


def _op_row(op: Any) -> dict[str, Any]:
    """An op's row for its op model: the elements of one input without the batch, as the families'
    op rows were measured (a concatenation's: its output's per input)."""
    kind = PRICED_OPS[op.kind]
    if kind == "concatenation":
        data = [t for t in op.inputs if t is not None and not t.constant]
        elements = math.prod(op.outputs[0].shape[1:]) // max(1, len(data))
    else:
        elements = math.prod(op.inputs[0].shape[1:])
    note = ""
    if kind == "max_pool":
        form = tuple(op.options.get(k) for k in ("filter_height", "filter_width", "stride_h", "stride_w"))
        if form != (2, 2, 2, 2):
            note = "measured as a 2x2/2 pool"
    return {"name": op.name, "op": kind, "elements": int(elements), "note": note}


# Ops that move or relabel data without computing on it, and the ones inside a recurrent loop:
# not listed as "not modelled".
FREE_OPS = {"DELEGATE", "RESHAPE", "QUANTIZE", "DEQUANTIZE", "SQUEEZE", "EXPAND_DIMS"}


def read_tflite(path: Path) -> NetworkLayers:
    """The layers of a .tflite from its ops (fdi.profile.tflite_ops): FULLY_CONNECTED, CONV_2D
    with the stride and padding the converter recorded, recurrent WHILE loops and fused LSTMs."""
    from fdi.profile.space import STRUCTURE_COLUMNS
    from fdi.profile.tflite_ops import op_structure, read_graph, recurrent_layer

    graph = read_graph(path)
    result = NetworkLayers()
    for op in graph.main:
        name = op.name
        if op.kind == "FULLY_CONNECTED":
            out_dim, in_dim = op.inputs[1].shape
            result.layers.append({"name": name, "layer": "fc", "in_dim": in_dim, "out_dim": out_dim})
        elif op.kind == "CONV_2D" and (
            op.options.get("dilation_h_factor", 1),
            op.options.get("dilation_w_factor", 1),
        ) == (1, 1):
            structure = op_structure(op)  # a batch > 1 folded into the height
            result.layers.append(
                {"name": name, "layer": "cnn", **{c: structure[c] for c in STRUCTURE_COLUMNS["cnn"]}}
            )
        elif op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            _, step, in_dim = op.inputs[0].shape
            out_dim = op.outputs[0].shape[-1]
            result.layers.append(
                {"name": name, "layer": "lstm", "in_dim": in_dim, "out_dim": out_dim, "step": step}
            )
        elif op.kind == "WHILE" and (layer := recurrent_layer(graph, op)) is not None:
            result.layers.append({"name": name, **layer})
        elif op.kind in PRICED_OPS:
            result.ops.append(_op_row(op))
        elif op.kind not in FREE_OPS:
            dilated = " dilated" if op.kind == "CONV_2D" else ""
            result.unsupported.append(f"{name} ({op.kind}{dilated})")
    return result


@contextlib.contextmanager
def converted(path: Path) -> Iterator[Path]:
    """A Keras file as the .tflite the converter makes of it at batch 1 (batch norm folded,
    activations fused, GRU/LSTM as loops), in a temporary folder; a .tflite as it is."""
    path = Path(path)
    if path.suffix == ".tflite":
        yield path
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a readable Keras file (a .keras file is a zip archive; this one is corrupt)"
        )
    import keras

    from fdi.profile.export import at_batch_one, to_tflite

    try:
        model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable Keras file ({error})") from error
    with tempfile.TemporaryDirectory() as folder:
        graph = Path(folder) / f"{path.stem}.tflite"
        graph.write_bytes(to_tflite(at_batch_one(model)))
        yield graph


def read_keras(path: Path) -> NetworkLayers:
    """A Keras file read as what the converter makes of it: converted, then read op by op."""
    with converted(path) as graph:
        return read_tflite(graph)


def checked_path(path: Path) -> Path:
    """The model file, or a clear error: missing, or not a .tflite / .keras / .h5."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix not in (".tflite", ".keras", ".h5"):
        raise ValueError(f"{path}: expected a .tflite, .keras or .h5 model")
    return path


def read_network(path: Path) -> NetworkLayers:
    path = checked_path(path)
    return read_tflite(path) if path.suffix == ".tflite" else read_keras(path)
