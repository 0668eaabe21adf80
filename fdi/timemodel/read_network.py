"""Read a whole network (a LiteRT .tflite or a Keras file) as the layers the time models know.

Each supported layer becomes a structure row of its type (fc, cnn, gru, lstm) as in fdi.profile.space.
Everything else is listed by name as not modelled. From a .tflite, CONV_2D and FULLY_CONNECTED
ops are read from their tensor shapes: stride and padding are recovered from the output size,
and any choice that reproduces it gives the same Table 3 features. Keras's GRU/LSTM become WHILE
loops in LiteRT, so recurrent layers are read from the Keras file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class NetworkLayers:
    layers: list[dict[str, Any]] = field(default_factory=list)  # name, layer, structure columns
    unsupported: list[str] = field(default_factory=list)


def _stride_and_padding(
    size: tuple[int, int], kernel: tuple[int, int], out: tuple[int, int]
) -> tuple[int, int, str]:
    """(stride_h, stride_w, padding) that reproduce a conv's output size: the smallest strides
    (strides up to 32), 'same' on a tie. Every choice that reproduces the output size gives the
    same Table 3 features."""
    candidates = []
    for padding in ("same", "valid"):
        strides = []
        for n, k, o in zip(size, kernel, out, strict=True):
            fits = [
                s
                for s in range(1, 33)
                if (math.ceil(n / s) if padding == "same" else math.ceil((n - k + 1) / s)) == o
            ]
            if not fits:
                break
            strides.append(fits[0])
        else:
            candidates.append((max(strides), strides[0], strides[1], padding))
    if not candidates:
        raise ValueError(f"conv with input {size}, kernel {kernel} cannot give output {out}")
    _, stride_h, stride_w, padding = min(candidates, key=lambda c: (c[0], c[3] != "same"))
    return stride_h, stride_w, padding


def read_tflite(path: Path) -> NetworkLayers:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    result = NetworkLayers()
    for op in interpreter._get_ops_details():
        kind, inputs, outputs = op["op_name"], list(op["inputs"]), list(op["outputs"])
        name = f"{kind.lower()}_{op['index']}"
        if kind == "FULLY_CONNECTED":
            out_dim, in_dim = (int(v) for v in tensors[inputs[1]]["shape"])
            result.layers.append({"name": name, "layer": "fc", "in_dim": in_dim, "out_dim": out_dim})
        elif kind == "CONV_2D":
            # A batch > 1 (DeepSense's merged convs run per interval) is folded into the height:
            # XNNPACK's cost is per output pixel, whichever image the pixel belongs to.
            batch, height, width, in_channel = (int(v) for v in tensors[inputs[0]]["shape"])
            out_channel, kh, kw, _ = (int(v) for v in tensors[inputs[1]]["shape"])
            _, oh, ow, _ = (int(v) for v in tensors[outputs[0]]["shape"])
            stride_h, stride_w, padding = _stride_and_padding((height, width), (kh, kw), (oh, ow))
            height *= batch
            result.layers.append(
                {
                    "name": name,
                    "layer": "cnn",
                    "in_height": height,
                    "in_width": width,
                    "kernel_h": kh,
                    "kernel_w": kw,
                    "in_channel": in_channel,
                    "out_channel": out_channel,
                    "padding": padding,
                    "stride_h": stride_h,
                    "stride_w": stride_w,
                }
            )
        elif kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            _, step, in_dim = (int(v) for v in tensors[inputs[0]]["shape"])
            out_dim = int(tensors[outputs[0]]["shape"][-1])
            result.layers.append(
                {"name": name, "layer": "lstm", "in_dim": in_dim, "out_dim": out_dim, "step": step}
            )
        elif kind not in ("DELEGATE", "RESHAPE", "RELU", "QUANTIZE", "DEQUANTIZE"):
            result.unsupported.append(
                f"{name} ({kind}{', use the Keras file for GRU/LSTM' if kind == 'WHILE' else ''})"
            )
    return result


def read_keras(path: Path) -> NetworkLayers:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    model = keras.models.load_model(path, compile=False)
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
