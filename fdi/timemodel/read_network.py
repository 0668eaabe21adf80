"""Read a whole network (a LiteRT .tflite or a Keras file) as the layers the time models know.

Each supported layer becomes a structure row of its type (fc, cnn, gru, lstm) as in fdi.profile.space.
Everything else is listed by name as not modelled. A .tflite is read op by op from its flatbuffer
(fdi.profile.tflite_ops, no TensorFlow): the converter's stride and padding, and Keras's GRU/LSTM
layers recognised in the WHILE loops they become, so a .tflite and its .keras give the same layers.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class NetworkLayers:
    layers: list[dict[str, Any]] = field(default_factory=list)  # name, layer, structure columns
    unsupported: list[str] = field(default_factory=list)


# Ops that move or relabel data without computing on it, and the ones inside a recurrent loop:
# not listed as "not modelled".
FREE_OPS = {"DELEGATE", "RESHAPE", "QUANTIZE", "DEQUANTIZE", "SQUEEZE", "EXPAND_DIMS"}


def read_tflite(path: Path) -> NetworkLayers:
    """The layers of a .tflite from its ops (fdi.profile.tflite_ops): FULLY_CONNECTED, CONV_2D
    with the stride and padding the converter recorded, recurrent WHILE loops and fused LSTMs."""
    from fdi.profile.tflite_ops import read_graph, recurrent_layer

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
            # A batch > 1 (DeepSense's merged convs run per interval) is folded into the height:
            # XNNPACK's cost is per output pixel, whichever image the pixel belongs to.
            batch, height, width, in_channel = op.inputs[0].shape
            out_channel, kh, kw, _ = op.inputs[1].shape
            result.layers.append(
                {
                    "name": name,
                    "layer": "cnn",
                    "in_height": height * batch,
                    "in_width": width,
                    "kernel_h": kh,
                    "kernel_w": kw,
                    "in_channel": in_channel,
                    "out_channel": out_channel,
                    "padding": op.options["padding"],
                    "stride_h": op.options["stride_h"],
                    "stride_w": op.options["stride_w"],
                }
            )
        elif op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            _, step, in_dim = op.inputs[0].shape
            out_dim = op.outputs[0].shape[-1]
            result.layers.append(
                {"name": name, "layer": "lstm", "in_dim": in_dim, "out_dim": out_dim, "step": step}
            )
        elif op.kind == "WHILE" and (layer := recurrent_layer(graph, op)) is not None:
            result.layers.append({"name": name, **layer})
        elif op.kind not in FREE_OPS:
            dilated = " dilated" if op.kind == "CONV_2D" else ""
            result.unsupported.append(f"{name} ({op.kind}{dilated})")
    return result


def read_keras(path: Path) -> NetworkLayers:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a readable Keras file (a .keras file is a zip archive; this one is corrupt)"
        )
    try:
        model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable Keras file ({error})") from error
    result = NetworkLayers()
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer" or kind.endswith("Dropout") or kind.startswith("SpatialDropout"):
            continue  # dropout is the identity at inference: no op in the deployed graph
        if isinstance(layer.input, list | tuple):  # merges (Concatenate, Add): not a modelled layer
            result.unsupported.append(f"{layer.name} ({kind})")
            continue
        shape = tuple(layer.input.shape)
        if kind == "Dense":
            result.layers.append(
                {"name": layer.name, "layer": "fc", "in_dim": int(shape[-1]), "out_dim": layer.units}
            )
        elif kind == "Conv2D":
            result.layers.append(
                {
                    "name": layer.name,
                    "layer": "cnn",
                    "in_height": int(shape[1]),
                    "in_width": int(shape[2]),
                    "kernel_h": layer.kernel_size[0],
                    "kernel_w": layer.kernel_size[1],
                    "in_channel": int(shape[3]),
                    "out_channel": layer.filters,
                    "padding": layer.padding,
                    "stride_h": layer.strides[0],
                    "stride_w": layer.strides[1],
                }
            )
        elif kind in ("GRU", "LSTM"):
            result.layers.append(
                {
                    "name": layer.name,
                    "layer": kind.lower(),
                    "in_dim": int(shape[-1]),
                    "out_dim": layer.units,
                    "step": int(shape[1]),
                }
            )
        else:
            result.unsupported.append(f"{layer.name} ({kind})")
    return result


def read_network(path: Path) -> NetworkLayers:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix == ".tflite":
        return read_tflite(path)
    if path.suffix in (".keras", ".h5"):
        return read_keras(path)
    raise ValueError(f"{path}: expected a .tflite, .keras or .h5 model")
