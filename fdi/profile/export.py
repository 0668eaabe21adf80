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
from collections import Counter
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

# The cache probe timed before every pass over a large graph (fdi.timings): a fully-connected layer
# whose 24 MiB of weights fill most of this project's hosts' 32 MiB shared L3, so it runs slow
# exactly when other tenants hold part of that cache (docs/instrument.md). Fixed like the reference.
CACHE_PROBE_COMPONENT = {"id": "cache_probe", "layer": "fc", "in_dim": 2048, "out_dim": 3072}
FIXED_GRAPHS = {"reference": REFERENCE_COMPONENT, "cache_probe": CACHE_PROBE_COMPONENT}


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


def at_batch_one(model: Any) -> Any:
    """The model with its batch fixed at 1, as it is timed (a free batch leaves a GRU's or LSTM's
    loop without static shapes, which the converter refuses); same layers, same weights."""
    import keras

    if all(tensor.shape[0] == 1 for tensor in model.inputs):
        return model
    inputs = [
        keras.Input(batch_shape=(1, *tensor.shape[1:]), dtype=tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]
    single = len(inputs) == 1 and not isinstance(model.input, list | tuple)
    clone = keras.models.clone_model(model, input_tensors=inputs[0] if single else inputs)
    clone.set_weights(model.get_weights())
    return clone


FULLY_CONNECTED = 9  # LiteRT's builtin operator code


@functools.cache
def _fc_template() -> Any | None:
    """A converted one-Dense graph as a flatbuffer object, or None if the converter's graph is not
    the single FULLY_CONNECTED op `fc_graph` knows how to resize (another TensorFlow version)."""
    from fdi.profile.resize import read_graph_object

    model = read_graph_object(
        converted_graph({"id": "fc-template", "layer": "fc", "in_dim": 7, "out_dim": 5})
    )
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
    from fdi.profile.resize import component_seed, write_graph_object

    in_dim, out_dim = int(component["in_dim"]), int(component["out_dim"])
    model = copy.deepcopy(template)
    tensors = model.subgraphs[0].tensors
    for tensor, shape in zip(tensors, ([1, in_dim], [out_dim, in_dim], [1, out_dim]), strict=True):
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.shapeSignature = None
    limit = float(np.sqrt(6.0 / (in_dim + out_dim)))
    rng = np.random.default_rng(component_seed(component))
    weights = rng.uniform(-limit, limit, (out_dim, in_dim)).astype(np.float32)
    model.buffers[tensors[1].buffer].data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    return write_graph_object(model)


def converted_graph(component: dict[str, Any]) -> bytes:
    """The converter's `.tflite` bytes of one component, network or op row (seconds each)."""
    return to_tflite(build_keras_model(component))


# GRU and LSTM templates (fdi.profile.resize): 1 + 3 parameters need 4 conversions; the values
# are distinct primes so that no two integers of a template coincide by chance.
RNN_TEMPLATE_POINTS = [
    {"in_dim": 11, "out_dim": 13, "step": 5},
    {"in_dim": 17, "out_dim": 13, "step": 5},
    {"in_dim": 11, "out_dim": 19, "step": 5},
    {"in_dim": 11, "out_dim": 13, "step": 7},
]
# Conversions a type's templates and their check cost a shard (a shard with fewer of its graphs
# converts them one by one).
TEMPLATE_CONVERSIONS = {"cnn": 2, "gru": len(RNN_TEMPLATE_POINTS) + 1, "lstm": len(RNN_TEMPLATE_POINTS) + 1}
CONV_2D = 3  # LiteRT's builtin operator code
CONV_TEMPLATE = {
    "id": "conv-template",
    "layer": "cnn",
    "in_height": 9,
    "in_width": 8,
    "in_channel": 3,
    "out_channel": 5,
    "kernel_h": 3,
    "kernel_w": 2,
    "stride_h": 2,
    "stride_w": 1,
    "padding": "same",
}


def resize_key(component: dict[str, Any]) -> tuple[str, ...] | None:
    """Which template a layer component's graph is made from (None: the converter makes it)."""
    if isinstance(component.get("family"), str):
        return None
    layer = component.get("layer")
    if layer in ("gru", "lstm") and int(component["step"]) > 1:  # one step: no transposes, another graph
        return (layer,)
    if layer == "cnn":
        return ("cnn", str(component["padding"]))
    return None


@functools.cache
def _recurrent_family(layer: str) -> Any:
    from fdi.profile.resize import template_family

    return template_family(converted_graph, RNN_TEMPLATE_POINTS, {"layer": layer})


@functools.cache
def _conv_template() -> Any:
    """A converted one-Conv2D graph: input, filter [out, kh, kw, in], zero bias, output."""
    from fdi.profile.resize import NotAffineError, read_graph_object

    model = read_graph_object(converted_graph(CONV_TEMPLATE))
    [subgraph] = model.subgraphs
    [operator] = subgraph.operators
    if model.operatorCodes[operator.opcodeIndex].builtinCode != CONV_2D or len(subgraph.tensors) != 4:
        raise NotAffineError("the converter's Conv2D graph is not one CONV_2D op")
    return model


def conv_graph(component: dict[str, Any]) -> bytes:
    """The converter's graph for a conv component, resized: the template's four tensors take the
    component's shapes, its options the strides and padding, its filter new Glorot-uniform
    weights (seeded by the id) and its bias zeros, as Keras initialises them."""
    from tensorflow.lite.python import schema_py_generated as schema

    from fdi.profile.resize import component_seed, write_graph_object

    model = copy.deepcopy(_conv_template())
    [operator] = model.subgraphs[0].operators
    tensors = model.subgraphs[0].tensors
    (source, kernel, bias), [target] = (tensors[i] for i in operator.inputs), operator.outputs
    c = {name: int(component[name]) for name in CONV_TEMPLATE if name not in ("id", "layer", "padding")}
    sizes = conv_output_sizes(component)
    shapes = {
        source: [1, c["in_height"], c["in_width"], c["in_channel"]],
        kernel: [c["out_channel"], c["kernel_h"], c["kernel_w"], c["in_channel"]],
        bias: [c["out_channel"]],
        tensors[target]: [1, sizes["out_height"], sizes["out_width"], c["out_channel"]],
    }
    for tensor, shape in shapes.items():
        tensor.shape = np.array(shape, dtype=np.int32)
        tensor.shapeSignature = None
    options = operator.builtinOptions
    options.strideH, options.strideW = c["stride_h"], c["stride_w"]
    options.padding = schema.Padding.SAME if component["padding"] == "same" else schema.Padding.VALID
    receptive = c["kernel_h"] * c["kernel_w"]
    limit = float(np.sqrt(6.0 / (receptive * (c["in_channel"] + c["out_channel"]))))
    rng = np.random.default_rng(component_seed(component))
    weights = rng.uniform(-limit, limit, shapes[kernel]).astype(np.float32)
    model.buffers[kernel.buffer].data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    model.buffers[bias.buffer].data = np.zeros(4 * c["out_channel"], dtype=np.uint8)
    return write_graph_object(model)


def conv_output_sizes(component: dict[str, Any]) -> dict[str, int]:
    """A conv component's output height and width (TensorFlow's padding rules)."""
    from fdi.profile.space import conv_output_size

    return {
        f"out_{name}": conv_output_size(
            int(component[f"in_{name}"]),
            int(component[f"kernel_{axis}"]),
            int(component[f"stride_{axis}"]),
            str(component["padding"]),
        )
        for name, axis in (("height", "h"), ("width", "w"))
    }


def resized_graph(component: dict[str, Any]) -> bytes:
    """A conv, GRU or LSTM component's graph from its layer's template, not the converter."""
    from fdi.profile.resize import component_seed

    if component["layer"] == "cnn":
        return conv_graph(component)
    family = _recurrent_family(component["layer"])
    return family.graph({name: int(component[name]) for name in family.params}, component_seed(component))


def component_graph(component: dict[str, Any], resize: bool = True) -> bytes:
    """The `.tflite` bytes of one component, network or op row (`resize`: conv and recurrent
    layers from their templates, else every one from the converter)."""
    if component.get("layer") == "fc" and not isinstance(component.get("family"), str):
        return fc_graph(component)
    if resize and resize_key(component) is not None:
        return resized_graph(component)
    return converted_graph(component)


def resizing_checked(component: dict[str, Any], log: Any = print) -> bool:
    """Whether the resized graph of `component` does the converter's work (fdi.profile.resize's
    outline); a family whose templates do not fit, or a mismatch, is logged and answered False."""
    from fdi.profile.resize import NotAffineError, graph_outline

    try:
        same = graph_outline(resized_graph(component)) == graph_outline(converted_graph(component))
    except NotAffineError as error:
        log(f"{resize_key(component)}: templates refused ({error}); converting every graph")
        return False
    if not same:
        log(
            f"{resize_key(component)}: the resized graph of {component['id']} is not the converter's; "
            "converting every graph"
        )
    return same


def export_shard(structures: pd.DataFrame, out_dir: str | Path, log: Any = print) -> list[Path]:
    """Write `<id>.tflite` for every component row into `out_dir`; return the paths.

    Conv, GRU and LSTM graphs come from their layer's templates (fdi.profile.resize), each
    family checked against the converter on the first component of the shard that uses it."""
    _quiet_tensorflow()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    components = structures.to_dict("records")
    counts = Counter(resize_key(component) for component in components)
    # a type with fewer graphs than its templates and check cost in conversions is converted
    checked = {
        key: False for key, n in counts.items() if key is not None and n <= TEMPLATE_CONVERSIONS[key[0]]
    }
    paths = []
    for component in tqdm(components, desc=f"export {out_dir}", unit="graph"):
        key = resize_key(component)
        if key is not None and key not in checked:
            checked[key] = resizing_checked(component, log)
        path = out_dir / f"{component['id']}.tflite"
        path.write_bytes(component_graph(component, resize=checked.get(key, False)))
        paths.append(path)
    return paths


def export_fixed_graph(name: str, out: str | Path) -> Path:
    """Write one of the instrument's fixed graphs (FIXED_GRAPHS: "reference", "cache_probe") to `out`."""
    _quiet_tensorflow()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(to_tflite(build_keras_model(FIXED_GRAPHS[name])))
    return out
