"""One op of a converted network as a graph of its own, to time the op alone on a device.

nn-Meter times kernels it rebuilds from a model zoo's shapes; here the op is cut out of the
converter's own graph instead: the very operator the runtime runs inside the network (its kind,
options, fused activation, weights and tensor shapes as the converter left them: batch norm
folded, padding made explicit, ...), with its non-constant inputs made the graph's inputs and its
outputs the graph's outputs. Written with LiteRT's flatbuffer schema (no TensorFlow): cutting
every op of a network takes milliseconds.

Ops that call other subgraphs (WHILE, IF, CALL_ONCE: Keras's GRU and LSTM loops) are not cut;
the layer models price the recurrent loops (fdi.timemodel.read_network).
"""

from __future__ import annotations

import copy
from typing import Any

import flatbuffers

# Ops whose options name other subgraphs: not one op's work, never cut.
SUBGRAPH_OPS = {"WHILE", "IF", "CALL_ONCE", "STABLEHLO_CASE", "STABLEHLO_WHILE"}
IDENTIFIER = b"TFL3"


class NotCuttableError(ValueError):
    """The op cannot stand alone as a graph (it calls subgraphs, or its weights lie outside the
    flatbuffer)."""


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _kind_names(schema: Any) -> dict[int, str]:
    return {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def op_kinds(graph: bytes) -> list[str]:
    """The builtin kind of every op of the main subgraph, in order (CUSTOM ops as CUSTOM)."""
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(graph), 0)
    names = _kind_names(schema)
    kinds = []
    for op in model.subgraphs[0].operators or []:
        code = model.operatorCodes[op.opcodeIndex]
        kinds.append(names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "UNKNOWN"))
    return kinds


def cut_op(graph: bytes, index: int) -> bytes:
    """The `.tflite` bytes of op `index` of the main subgraph of `graph`, alone: its constant
    inputs (weights, shapes, paddings) kept with their data, its other inputs the graph's inputs
    in the op's order, its outputs the graph's outputs. Raises NotCuttableError for an op that
    calls subgraphs, IndexError for an index past the last op."""
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(graph), 0)
    main = model.subgraphs[0]
    operators = main.operators or []
    if not 0 <= index < len(operators):
        raise IndexError(f"op {index}: the graph's main subgraph has {len(operators)} ops")
    op = copy.deepcopy(operators[index])
    code = copy.deepcopy(model.operatorCodes[op.opcodeIndex])
    kind = _kind_names(schema).get(max(code.builtinCode, code.deprecatedBuiltinCode), "UNKNOWN")
    if kind in SUBGRAPH_OPS:
        raise NotCuttableError(f"op {index} ({kind}) calls other subgraphs; it is not cut")

    def listed(values: Any) -> list[int]:
        return [] if values is None else [int(v) for v in values]

    inputs, outputs = listed(op.inputs), listed(op.outputs)
    intermediates = listed(op.intermediates)
    old_indices = list(dict.fromkeys(i for i in inputs + outputs + intermediates if i >= 0))
    new_index = {old: new for new, old in enumerate(old_indices)}
    buffers = [schema.BufferT()]  # buffer 0: the empty sentinel every graph starts with
    tensors = []
    graph_inputs = []
    for old in old_indices:
        tensor = copy.deepcopy(main.tensors[old])
        buffer = model.buffers[tensor.buffer] if 0 < tensor.buffer < len(model.buffers) else None
        if buffer is not None and (buffer.offset or 0) > 1:
            raise NotCuttableError(f"op {index} ({kind}): its weights are stored outside the flatbuffer")
        constant = buffer is not None and buffer.data is not None and len(buffer.data) > 0
        if constant:
            buffers.append(copy.deepcopy(buffer))
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
            if old in inputs and not tensor.isVariable:
                graph_inputs.append(new_index[old])
        tensors.append(tensor)
    op.inputs = [new_index.get(i, -1) if i >= 0 else -1 for i in inputs]
    op.outputs = [new_index[i] for i in outputs]
    if op.intermediates is not None:
        op.intermediates = [new_index[i] for i in intermediates]
    op.opcodeIndex = 0

    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.inputs = graph_inputs
    subgraph.outputs = [new_index[i] for i in outputs]
    subgraph.operators = [op]
    subgraph.name = main.name
    single = schema.ModelT()
    single.version = model.version
    single.description = model.description
    single.operatorCodes = [code]
    single.subgraphs = [subgraph]
    single.buffers = buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(single.Pack(builder), file_identifier=IDENTIFIER)
    return bytes(builder.Output())
