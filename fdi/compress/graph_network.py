"""Any trained Keras model as DeepIoT's search sees a network: its widths (the prunable width
groups, fdi.compress.width_groups), the weights that embed each width for the compressor, the
masked critic, the extraction, and its layers and ops at any widths for the objectives.

The layer rows are the structure rows of fdi.profile.space read off the graph (a Conv1D is the
CONV_2D over one row that LiteRT makes of it), with each layer's channel counts taken from the
widths its input and output layouts hold. Depthwise convs and element-wise adds and products,
which no Table 2 layer model covers, are op rows in the terms of the op models fitted on the zoo
(fdi.profile.tflite_ops.op_structure: elements read and written, weights, MACs per output), so a
device's time model prices them as it prices them in `fdi predict`: in a MobileNetV2-style block
they are a fifth of the time (2026-12-02). Layers neither covers (a dense over a sequence) are
listed in `unpriced`, so a cost says what it leaves out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fdi.compress.compressor import producer_parts
from fdi.compress.extract_graph import GATES, extract_graph_model
from fdi.compress.masked_graph import masked_graph_forward
from fdi.compress.widen_graph import widen_graph_model
from fdi.compress.width_groups import RECURRENT, Layout, WidthGraph, call_order, width_groups

# An op model's kind (fdi.timemodel.read_network.PRICED_OPS) per Keras layer that becomes it.
OP_KINDS = {"MaxPooling2D": "max_pool", "GlobalAveragePooling1D": "mean", "GlobalAveragePooling2D": "mean"}
OP_KINDS |= {"Concatenate": "concatenation", "Softmax": "softmax"}
# Layers LiteRT runs at no cost of their own: folded into the conv before them (batch norm, ReLU),
# training-only, or a relabelling of the same buffer.
FREE = {"Reshape", "Flatten", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise"}
FREE |= {"GaussianDropout", "AlphaDropout", "Identity", "BatchNormalization", "ReLU"}
FUSED_ACTIVATIONS = {"relu", "relu6", "linear"}
# Keras layers that become a LiteRT op the zoo's op models price (fdi.timemodel.op_models), by kind.
ZOO_OPS = {"DepthwiseConv2D": "DEPTHWISE_CONV_2D", "Add": "ADD", "Multiply": "MUL"}


class GraphNetwork:
    def __init__(self, model: Any, ties: Sequence[Sequence[str]] = ()) -> None:
        self.graph: WidthGraph = width_groups(model, ties)
        self.model = self.graph.model
        self._positions = [i for i, g in enumerate(self.graph.groups) if g.prunable]
        if not self._positions:
            kept = "; ".join(f"{name}: {why}" for name, why in self.graph.kept) or "none"
            raise ValueError(f"{model.name} has no width fdi may change (layers kept as they are: {kept})")
        self.widths = [self.graph.groups[i].width for i in self._positions]
        nodes = [node for node in call_order(self.model) if not node.is_input]
        self._order = [node.operation for node in nodes]
        self._input_shapes = {n.operation.name: [tuple(t.shape) for t in n.input_tensors] for n in nodes}
        self.unpriced = sorted(
            {op.name for op in self._order if self._row(op, self._all(self.widths)) is None}
        )

    def kinds(self) -> list[str]:
        """conv, fc or recurrent per width, by the layer that makes it (the initial keep's key)."""
        kinds = []
        for i in self._positions:
            kind = type(self.model.get_layer(self.graph.groups[i].producers[0])).__name__
            kinds.append("recurrent" if kind in RECURRENT else "fc" if kind == "Dense" else "conv")
        return kinds

    def _all(self, widths: Sequence[int]) -> list[int]:
        """Every group's width (fixed ones at theirs) from the prunable groups' `widths`."""
        full = [g.width for g in self.graph.groups]
        for position, width in zip(self._positions, widths, strict=True):
            full[position] = int(width)
        return full

    @staticmethod
    def _width(layout: Layout, full: Sequence[int]) -> int:
        return layout.tiles * sum(full[s.group] for s in layout.segments)

    def _row(self, op: Any, full: Sequence[int]) -> dict[str, Any] | None:
        kind = type(op).__name__
        if op.name not in self.graph.calls:
            return None
        (inputs, output), (shape_in, _) = self.graph.calls[op.name], self.graph.shapes[op.name]
        c_in, c_out = self._width(inputs, full), self._width(output, full)
        if kind in ("Conv2D", "Conv1D") and all(d == 1 for d in np.atleast_1d(op.dilation_rate)):
            two = kind == "Conv2D"
            height, width = (shape_in[1], shape_in[2]) if two else (1, shape_in[1])
            kernel = tuple(op.kernel_size) if two else (1, op.kernel_size[0])
            stride = tuple(op.strides) if two else (1, op.strides[0])
            return {
                "name": op.name,
                "layer": "cnn",
                "in_height": height,
                "in_width": width,
                "kernel_h": kernel[0],
                "kernel_w": kernel[1],
                "in_channel": c_in,
                "out_channel": c_out,
                "padding": op.padding,
                "stride_h": stride[0],
                "stride_w": stride[1],
            }
        if kind == "Dense" and len(shape_in) == 2:
            return {"name": op.name, "layer": "fc", "in_dim": c_in, "out_dim": c_out}
        if kind in ("GRU", "LSTM"):
            return {
                "name": op.name,
                "layer": kind.lower(),
                "in_dim": c_in,
                "out_dim": c_out,
                "step": shape_in[1],
            }
        activation = getattr(getattr(op, "activation", None), "__name__", "")
        if self._zoo_priced(op):
            return {}  # priced by the zoo's op models (other_ops)
        if kind in OP_KINDS or kind in FREE or (kind == "Activation" and activation in FUSED_ACTIVATIONS):
            return {}  # priced by the op models (other_ops), or free
        return None

    def layers(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        full = self._all(widths)
        return [row for op in self._order if (row := self._row(op, full))]

    @staticmethod
    def _zoo_priced(op: Any) -> bool:
        """A layer the zoo's op models price: a depthwise conv (not dilated), an add, a product."""
        dilated = any(d != 1 for d in np.atleast_1d(getattr(op, "dilation_rate", 1)))
        return type(op).__name__ in ZOO_OPS and not dilated

    def _zoo_row(self, op: Any, full: Sequence[int]) -> dict[str, Any]:
        """A depthwise conv, add or product as fdi.profile.tflite_ops.op_structure reads the op
        LiteRT makes of it (batch 1; an input of the output's original channels has the output's
        width now, a broadcast one keeps its own)."""
        (inputs, output), (shape_in, shape_out) = self.graph.calls[op.name], self.graph.shapes[op.name]
        channels, original = self._width(output, full), shape_out[-1]
        spatial_in, spatial_out = shape_in[1:-1], shape_out[1:-1]
        row = {
            "name": op.name,
            "op": ZOO_OPS[type(op).__name__],
            "in_elements": sum(
                math.prod(shape[1:-1]) * (channels if shape[-1] == original else shape[-1])
                for shape in self._input_shapes[op.name]
            ),
            "out_elements": math.prod(spatial_out) * channels,
            "weights": 0,
            "in_channel": channels,
            "out_channel": channels,
            "in_height": spatial_in[0] if len(spatial_in) == 2 else 1,  # as op_structure: 4-D or 1 x 1
            "in_width": spatial_in[1] if len(spatial_in) == 2 else 1,
            "kernel_h": 1,
            "kernel_w": 1,
            "stride_h": 1,
            "stride_w": 1,
            "macs_per_output": 0,
        }
        if row["op"] == "DEPTHWISE_CONV_2D":
            (kernel_h, kernel_w), (stride_h, stride_w) = tuple(op.kernel_size), tuple(op.strides)
            row["in_channel"] = self._width(inputs, full)
            row |= {"kernel_h": kernel_h, "kernel_w": kernel_w, "stride_h": stride_h, "stride_w": stride_w}
            row |= {"weights": kernel_h * kernel_w * channels, "macs_per_output": kernel_h * kernel_w}
            row["in_elements"] = math.prod(spatial_in) * row["in_channel"]
        return row

    def other_ops(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        """Pooling, means, concatenations and softmax (a layer's, or a dense layer's activation),
        each with the elements of its (first) input, as the op models were measured; depthwise
        convs, adds and products as the zoo's op models read them (`op`: the LiteRT kind)."""
        full, ops = self._all(widths), []
        for op in self._order:
            if op.name not in self.graph.calls:
                continue
            if self._zoo_priced(op):
                ops.append(self._zoo_row(op, full))
                continue
            (inputs, output), (shape_in, shape_out) = self.graph.calls[op.name], self.graph.shapes[op.name]
            kind = OP_KINDS.get(type(op).__name__)
            if kind:
                ops.append(
                    {
                        "name": op.name,
                        "op": kind,
                        "elements": math.prod(shape_in[1:-1]) * self._width(inputs, full),
                    }
                )
            if getattr(getattr(op, "activation", None), "__name__", "") == "softmax":
                elements = math.prod(shape_out[1:-1]) * self._width(output, full)
                ops.append({"name": f"{op.name}_softmax", "op": "softmax", "elements": elements})
        return ops

    def parameter_count(self, widths: Sequence[int]) -> int:
        """Trainable parameters at these widths, as Keras counts them."""
        full, total = self._all(widths), 0
        for layer in self.model.layers:
            if not layer.trainable_weights:
                continue
            if layer.name not in self.graph.calls:
                total += sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
                continue
            (inputs, output), kind = self.graph.calls[layer.name], type(layer).__name__
            c_in, c_out = self._width(inputs, full), self._width(output, full)
            for w in layer.trainable_weights:
                shape, leaf = list(w.shape), w.path.rsplit("/", 1)[-1]
                if kind in RECURRENT:  # kernel, recurrent kernel, bias (one or two rows): gate blocks
                    gates = GATES[kind] * c_out
                    shape = {"kernel": [c_in, gates], "recurrent_kernel": [c_out, gates]}.get(
                        leaf, [*shape[:-1], gates]
                    )
                elif len(shape) >= 2 and kind in ("Dense", "Conv1D", "Conv2D", "Conv3D"):
                    shape[-2:] = [c_in, c_out]
                else:  # a bias, or a per-channel weight (depthwise kernel's channel axis, BN)
                    axis = -2 if kind.startswith("DepthwiseConv") and len(shape) >= 2 else -1
                    shape[axis] = c_out
                total += int(np.prod(shape))
        return total

    def matrices(self) -> list[Any]:
        """Per width: the (rows x width) matrix of its producers' weights (kernel rows and bias; a
        recurrent layer's kernel, recurrent kernel and biases, one block per gate), stacked."""
        import tensorflow as tf

        return [
            tf.concat(
                [
                    part
                    for name in self.graph.groups[i].producers
                    for part in producer_parts(self.model.get_layer(name))
                ],
                axis=0,
            )
            for i in self._positions
        ]

    def forward(self, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
        return masked_graph_forward(self.graph, inputs, masks)

    def extract(self, keep: Sequence[Sequence[int]], name: str | None = None) -> Any:
        return extract_graph_model(self.graph, keep, name=name)

    def widen(self, widths: Sequence[int], name: str | None = None) -> Any:
        return widen_graph_model(self.graph, widths, name=name)
