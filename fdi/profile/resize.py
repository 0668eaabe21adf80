"""A layer's graph at any size from a few converted templates, instead of one conversion each.

The TensorFlow converter takes ~0.5 s for a conv layer and ~1.3 s for a GRU or LSTM here, and a
campaign exports ~1,500 of them (the main job spent 22 CPU-minutes converting). For one layer type
(and one padding) the converter's graph is the same graph at every size: the same operators,
tensors, loops and options; what changes with the size are integers (tensor shapes, option
fields such as strides, integer constants such as the slice bounds inside a recurrent loop) and
the size of the weight buffers. Each of those integers is an affine function of the layer's
structure (in_dim, out_dim, step; or the conv's sizes, kernel, stride and output size), so a few
templates converted at chosen sizes give every coefficient exactly, and the graph at any other
size is the template with those integers recomputed and new seeded weights.

Nothing is assumed blindly: `fit_family` refuses templates whose structure differs or whose
integers are not exactly affine, and `fdi.profile.export` converts one component of every shard
both ways and falls back to the converter if the outlines differ (another TensorFlow version).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# LiteRT TensorType codes: the integer constants a graph holds, and float32 weights.
INTEGER_TYPES = {2: np.int32, 4: np.int64}
FLOAT32 = 0
# Integer leaves that may change with the size. Any other integer (operator and tensor indices,
# buffer and subgraph numbers, op codes) must be the same in every template.
SIZE_FIELDS = {"shape", "shapeSignature"}

Slot = tuple[Any, str, int | None]  # (object, attribute, index in the attribute or None)


def read_graph_object(graph: bytes) -> Any:
    """The flatbuffer object tree (ModelT) of a `.tflite` graph."""
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(graph))


def write_graph_object(model: Any) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _leaves(node: Any, in_options: bool = False) -> Iterator[tuple[Slot, bool]]:
    """Every integer leaf below `node` in a fixed order, with whether it may change with size
    (a tensor shape or an operator's option field). Buffer contents are read apart."""
    for name in sorted(vars(node)):
        value = getattr(node, name)
        sizable = in_options or name in SIZE_FIELDS
        if name == "data" or value is None or isinstance(value, bool | float | bytes | str):
            continue
        if isinstance(value, int | np.integer):
            yield (node, name, None), sizable
        elif isinstance(value, np.ndarray):
            if np.issubdtype(value.dtype, np.integer):
                yield from (((node, name, i), sizable) for i in range(value.size))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, int | np.integer):
                    yield (node, name, i), sizable
                elif hasattr(item, "__dict__"):
                    yield from _leaves(item, sizable)
        elif hasattr(value, "__dict__"):
            yield from _leaves(value, in_options or name == "builtinOptions")


def _get(slot: Slot) -> int:
    node, name, index = slot
    value = getattr(node, name)
    return int(value if index is None else value[index])


def _set(slot: Slot, value: int) -> None:
    node, name, index = slot
    if index is None:
        setattr(node, name, int(value))
    else:
        getattr(node, name)[index] = value


def _buffer_types(model: Any) -> dict[int, int]:
    """Buffer index -> the TensorType of the tensors that hold it."""
    return {t.buffer: t.type for s in model.subgraphs for t in s.tensors if t.buffer}


def _integer_buffers(model: Any) -> dict[int, np.ndarray]:
    out = {}
    for index, kind in sorted(_buffer_types(model).items()):
        data = model.buffers[index].data
        if kind in INTEGER_TYPES and data is not None:
            out[index] = np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), INTEGER_TYPES[kind])
    return out


def _float_tensors(model: Any) -> list[Any]:
    """Float tensors with constant data (weights, biases, initial states, scalars)."""
    return [
        t
        for s in model.subgraphs
        for t in s.tensors
        if t.type == FLOAT32 and t.buffer and model.buffers[t.buffer].data is not None
    ]


def _weight_range(shape: Any, template: np.ndarray) -> tuple[float, float]:
    """Glorot-uniform bounds for a matrix or filter ([out, ..., in], as Keras initialises kernels,
    so that activations stay finite through a long ReLU recurrence); a vector (a bias, an LSTM's
    forget-gate ones) is drawn over the template's own range."""
    if len(shape) < 2:
        return float(template.min()), float(template.max())
    receptive = int(np.prod(shape[1:-1]))
    limit = float(np.sqrt(6.0 / (int(np.prod(shape[1:])) + int(shape[0]) * receptive)))
    return -limit, limit


class NotAffineError(ValueError):
    """The templates are not one graph whose integers follow the structure affinely."""


@dataclass
class TemplateFamily:
    """One layer type's converted graph with every size-dependent integer as an affine function
    of the structure parameters (`coefficients` rows: constant, then one per parameter)."""

    base: Any
    params: tuple[str, ...]
    slot_coefficients: np.ndarray  # slots x (1 + params)
    buffer_coefficients: dict[int, np.ndarray]  # integer buffer -> elements x (1 + params)

    def graph(self, point: dict[str, int], seed: int) -> bytes:
        """The graph at `point`: the template's integers recomputed, weights drawn afresh
        (seeded by `seed`; see `_weight_range`), constants (zeros, a scalar one) as converted."""
        x = np.array([1, *(int(point[p]) for p in self.params)], dtype=np.int64)
        model = copy.deepcopy(self.base)
        slots = [slot for slot, _ in _leaves(model)]
        for slot, value in zip(slots, self.slot_coefficients @ x, strict=True):
            _set(slot, int(value))
        kinds = _buffer_types(model)
        for index, coefficients in self.buffer_coefficients.items():
            values = (coefficients @ x).astype(INTEGER_TYPES[kinds[index]])
            model.buffers[index].data = np.frombuffer(values.tobytes(), dtype=np.uint8)
        rng = np.random.default_rng(seed)
        for tensor in _float_tensors(model):
            old = np.frombuffer(np.asarray(model.buffers[tensor.buffer].data, np.uint8).tobytes(), np.float32)
            size = int(np.prod(tensor.shape)) if len(tensor.shape) else 1
            if old.min() == old.max():  # a constant (an initial state of zeros, a scalar one)
                new = np.full(size, old[0])
            else:
                new = rng.uniform(*_weight_range(tensor.shape, old), size)
            model.buffers[tensor.buffer].data = np.frombuffer(new.astype(np.float32).tobytes(), np.uint8)
        return write_graph_object(model)


def fit_family(graphs: Sequence[bytes], points: Sequence[dict[str, int]]) -> TemplateFamily:
    """The affine family through converted `graphs` at `points` (at least 1 + parameters of them,
    spanning every parameter); NotAffineError names the first integer that does not fit."""
    params = tuple(points[0])
    design = np.array([[1, *(int(p[name]) for name in params)] for p in points], dtype=np.float64)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise NotAffineError(f"template points do not span {', '.join(params)}")
    models = [read_graph_object(g) for g in graphs]
    leaves = [list(_leaves(m)) for m in models]
    if len({len(found) for found in leaves}) != 1:
        raise NotAffineError("the templates differ in structure (operators, tensors or options)")
    values = np.array([[_get(slot) for slot, _ in found] for found in leaves], dtype=np.float64)
    sizable = np.array([size for _, size in leaves[0]], dtype=bool)
    varying = (values != values[0]).any(axis=0)
    if (varying & ~sizable).any():
        slot = leaves[0][int(np.flatnonzero(varying & ~sizable)[0])][0]
        raise NotAffineError(f"the templates differ in structure ({type(slot[0]).__name__}.{slot[1]})")
    slot_coefficients = _solve(design, values, "an integer of the graph")
    buffers = [_integer_buffers(m) for m in models]
    if any(b.keys() != buffers[0].keys() or any(b[i].size != buffers[0][i].size for i in b) for b in buffers):
        raise NotAffineError("the templates differ in their integer constants")
    buffer_coefficients = {
        index: _solve(
            design, np.array([b[index] for b in buffers], dtype=np.float64), f"constant buffer {index}"
        )
        for index in buffers[0]
    }
    return TemplateFamily(models[0], params, slot_coefficients, buffer_coefficients)


def _solve(design: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    """Integer coefficients (values.shape[1] x design.shape[1]) reproducing `values` exactly."""
    if values.shape[1] == 0:
        return np.zeros((0, design.shape[1]), dtype=np.int64)
    solution, *_ = np.linalg.lstsq(design, values, rcond=None)
    coefficients = np.rint(solution.T).astype(np.int64)
    wrong = (design.astype(np.int64) @ coefficients.T != values).any(axis=0)
    if wrong.any():
        raise NotAffineError(f"{what} (#{int(np.flatnonzero(wrong)[0])}) is not affine in the structure")
    return coefficients


def template_family(
    convert: Callable[[dict[str, Any]], bytes], points: Sequence[dict[str, int]], fixed: dict[str, Any]
) -> TemplateFamily:
    """Convert a component at each of `points` (plus the `fixed` fields) and fit the family."""
    graphs = [convert({"id": f"template-{i}", **fixed, **point}) for i, point in enumerate(points)]
    return fit_family(graphs, points)


def component_seed(component: dict[str, Any]) -> int:
    return zlib.crc32(str(component["id"]).encode())


def graph_outline(graph: bytes) -> list[Any]:
    """What the runtime executes, up to the order of independent operators and the numbering of
    tensors and buffers: per subgraph, the sorted signatures of its operators, where a signature
    is the op code, its options and, per input, the signature of what produces it (a constant's
    shape, type and integer contents or weight count; a subgraph input's position; another
    operator's signature). Two graphs with one outline do the same work. (The converter orders
    independent operators differently from one size to another.)"""
    model = read_graph_object(graph)
    return [_subgraph_outline(model, subgraph) for subgraph in model.subgraphs]


def _subgraph_outline(model: Any, subgraph: Any) -> tuple[list[str], list[str]]:
    producer = {int(t): (op, k) for op in subgraph.operators for k, t in enumerate(op.outputs)}
    positions = {int(t): i for i, t in enumerate(subgraph.inputs)}
    memo: dict[int, str] = {}

    def signature(index: int) -> str:
        if index < 0:
            return "none"
        if index not in memo:
            tensor = subgraph.tensors[index]
            what = f"{list(tensor.shape) if tensor.shape is not None else None}t{tensor.type}"
            if index in producer:
                op, k = producer[index]
                code = model.operatorCodes[op.opcodeIndex].builtinCode
                inputs = [signature(int(i)) for i in op.inputs]
                memo[index] = f"op{code}{_options(op.builtinOptions)}{inputs}#{k}{what}"
            elif index in positions:
                memo[index] = f"input{positions[index]}{what}"
            else:
                memo[index] = f"const{what}{_constant(model, tensor)}"
        return memo[index]

    operators = sorted(signature(int(op.outputs[0])) for op in subgraph.operators)
    return operators, [signature(int(t)) for t in subgraph.outputs]


def _constant(model: Any, tensor: Any) -> Any:
    """An integer constant's values (read by the tensor's own type: the converter lets tensors of
    two types share a buffer of zeros), a weight's byte count, or None."""
    data = model.buffers[tensor.buffer].data if tensor.buffer else None
    if data is None:
        return None
    if tensor.type in INTEGER_TYPES:
        return np.frombuffer(np.asarray(data, np.uint8).tobytes(), INTEGER_TYPES[tensor.type]).tolist()
    return len(data)


def _options(options: Any) -> Any:
    if options is None:
        return None
    return {
        name: (value.tolist() if isinstance(value, np.ndarray) else value)
        for name, value in vars(options).items()
    }
