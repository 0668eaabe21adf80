"""A LiteRT graph read as the runtime runs it: every operator of every subgraph, with its kind,
its tensors' shapes and its options (stride, padding, dilation, depth multiplier, pool size,
fused activation...), read from the flatbuffer with LiteRT's own schema. No interpreter and no
TensorFlow: reading a graph takes milliseconds.

Keras's GRU and LSTM layers become WHILE loops (a condition and a body subgraph). `recurrent_layers`
recognises them by what the body computes every step: one FULLY_CONNECTED on the step's input
(weights [G x units, in_dim]) and one on the state (weights [G x units, units]), with G = 3 gates
for a GRU and 4 for an LSTM; the loop runs over the sequence input [steps, batch, in_dim].
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GATES = {3: "gru", 4: "lstm"}  # gates of a recurrent cell -> the time models' layer type
PADDING = {0: "same", 1: "valid"}
ACTIVATION = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    constant: bool  # held in the graph (weights, shapes): no op computes it
    name: str = ""


@dataclass(frozen=True)
class Op:
    subgraph: int
    index: int
    kind: str  # LiteRT's builtin operator name (CONV_2D, WHILE...), or CUSTOM:<code>
    inputs: tuple[Tensor | None, ...]  # None: an optional input left out (e.g. no bias)
    outputs: tuple[Tensor, ...]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The Keras layer the op came from, where its output's or its weights' name says so (the
        converter names them `functional_1/conv_1/...`: scope `conv_1` for layer `conv`; a
        network's last output is named by the signature instead); else kind_subgraph_index."""
        named = [*self.outputs, *(t for t in self.inputs if t is not None and t.constant)]
        for tensor in named:
            parts = tensor.name.split("/")
            if len(parts) >= 3 and parts[1]:
                return re.sub(r"_\d+$", "", parts[1])
        return f"{self.kind.lower()}_{self.subgraph}_{self.index}"


@dataclass
class Graph:
    """Every op, by subgraph (0 is the main graph); `loops` maps a WHILE op of the main graph to
    its body subgraph's index."""

    subgraphs: list[list[Op]]
    loops: dict[tuple[int, int], int]

    @property
    def main(self) -> list[Op]:
        return self.subgraphs[0]


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _options(raw: Any) -> dict[str, Any]:
    """An op's builtin options as plain values with readable names and enums."""
    if raw is None:
        return {}
    options = {}
    for key, value in vars(raw).items():
        key = _snake(key)
        if key == "padding":
            value = PADDING.get(value, value)
        elif key == "fused_activation_function":
            key, value = "activation", ACTIVATION.get(value, value)
        elif hasattr(value, "tolist"):
            value = value.tolist()
        options[key] = value
    return options


def read_graph(path: str | Path) -> Graph:
    """Every op of a `.tflite` file. A file that is not a LiteRT flatbuffer raises ValueError
    naming it."""
    schema = _schema()
    path = Path(path)
    data = bytearray(path.read_bytes())
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a LiteRT (.tflite) flatbuffer")
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    subgraphs, loops = [], {}
    for number, subgraph in enumerate(model.subgraphs):

        def tensor(index: int, subgraph: Any = subgraph) -> Tensor | None:
            if index < 0:
                return None
            raw = subgraph.tensors[index]
            buffer = model.buffers[raw.buffer] if raw.buffer < len(model.buffers) else None
            constant = buffer is not None and buffer.data is not None and len(buffer.data) > 0
            shape = () if raw.shape is None else tuple(int(v) for v in raw.shape)
            return Tensor(shape, bool(constant), (raw.name or b"").decode(errors="replace"))

        ops = []
        for index, raw in enumerate(subgraph.operators or []):
            code = model.operatorCodes[raw.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            kind = names.get(builtin, str(builtin))
            if kind == "CUSTOM":
                kind = f"CUSTOM:{(code.customCode or b'').decode(errors='replace')}"
            op = Op(
                number,
                index,
                kind,
                tuple(tensor(i) for i in raw.inputs),
                tuple(tensor(i) for i in raw.outputs),
                _options(raw.builtinOptions),
            )
            if kind == "WHILE":
                loops[(number, index)] = int(op.options["body_subgraph_index"])
            ops.append(op)
        subgraphs.append(ops)
    return Graph(subgraphs, loops)


def recurrent_layer(graph: Graph, loop: Op) -> dict[str, Any] | None:
    """The GRU or LSTM a WHILE loop runs (layer, in_dim, out_dim, step), or None if its body is
    not a recurrent cell's."""
    body = graph.subgraphs[graph.loops[(loop.subgraph, loop.index)]]
    products = [
        op.inputs[1].shape
        for op in body
        if op.kind == "FULLY_CONNECTED" and op.inputs[1] is not None and len(op.inputs[1].shape) == 2
    ]
    sequences = [t.shape for t in loop.inputs if t is not None and len(t.shape) == 3]
    if len(products) != 2 or not sequences:
        return None
    steps, _, in_dim = sequences[-1]
    for (rows_a, cols_a), (rows_b, cols_b) in (products, products[::-1]):
        # the state product: [G x units, units]; the input product: [G x units, in_dim]
        if rows_a == rows_b and cols_b == in_dim and rows_a % cols_a == 0 and rows_a // cols_a in GATES:
            return {"layer": GATES[rows_a // cols_a], "in_dim": in_dim, "out_dim": cols_a, "step": steps}
    return None


def _elements(shape: tuple[int, ...]) -> int:
    return int(math.prod(shape)) if shape else 1


def op_structure(op: Op) -> dict[str, Any]:
    """An op as numbers: its kind, the elements it reads (non-constant inputs) and writes, its
    weights (constant inputs of two or more dimensions), the first input's and the output's
    channels and spatial size (a batch folded into the height), kernel, stride, padding, fused
    activation, and the multiply-accumulates per
    output element of a convolution, depthwise convolution or fully-connected product (else 0)."""
    data = [t for t in op.inputs if t is not None and not t.constant]
    first = data[0].shape if data else ()
    out = op.outputs[0].shape if op.outputs else ()
    row: dict[str, Any] = {
        "kind": op.kind,
        "in_elements": sum(_elements(t.shape) for t in data),
        "out_elements": sum(_elements(t.shape) for t in op.outputs),
        "weights": sum(
            _elements(t.shape) for t in op.inputs if t is not None and t.constant and len(t.shape) >= 2
        ),
        "in_channel": first[-1] if first else 1,
        "out_channel": out[-1] if out else 1,
        # A batch > 1 (DeepSense's merged convs run per interval) is folded into the height:
        # XNNPACK's cost is per output pixel, whichever image the pixel belongs to.
        "in_height": first[0] * first[1] if len(first) == 4 else 1,
        "in_width": first[2] if len(first) == 4 else 1,
        "kernel_h": 1,
        "kernel_w": 1,
        "stride_h": int(op.options.get("stride_h", 1) or 1),
        "stride_w": int(op.options.get("stride_w", 1) or 1),
        "padding": str(op.options.get("padding", "valid")),
        "activation": str(op.options.get("activation", "none")),
        "macs_per_output": 0,
    }
    weights = op.inputs[1] if len(op.inputs) > 1 else None
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and weights is not None:
        # CONV_2D filters are [out, kh, kw, in]; DEPTHWISE_CONV_2D's [1, kh, kw, out].
        row["kernel_h"], row["kernel_w"] = int(weights.shape[1]), int(weights.shape[2])
        depth = int(weights.shape[3]) if op.kind == "CONV_2D" else 1
        row["macs_per_output"] = row["kernel_h"] * row["kernel_w"] * depth
    elif op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        row["kernel_h"] = int(op.options.get("filter_height", 1))
        row["kernel_w"] = int(op.options.get("filter_width", 1))
    elif op.kind == "FULLY_CONNECTED" and weights is not None:
        row["macs_per_output"] = int(weights.shape[-1])
    return row


def op_key(op: Op) -> str:
    """`kind-hash` of the op's kind, every tensor's shape and constness, and its options: two ops
    with the same key do the same work (their weights' values aside)."""
    text = json.dumps(
        [
            op.kind,
            [None if t is None else [list(t.shape), t.constant] for t in op.inputs],
            [list(t.shape) for t in op.outputs],
            sorted((k, str(v)) for k, v in op.options.items()),
        ]
    )
    return f"{op.kind.lower()}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
