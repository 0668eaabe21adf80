"""The critic for any Keras model: its own graph run with a keep mask on every prunable width group.

Every tensor that carries a prunable group (fdi.compress.width_groups) is multiplied by that
group's mask, not only the output of the layer that makes it: a batch norm or a sigmoid turns a
zero channel into a non-zero one, and masking again after it keeps a dropped channel zero all the
way to its readers. A recurrent layer's units are masked inside the loop, after every step, so a
dropped unit's state stays zero and never reaches the kept units through the recurrent weights.
So the masked model computes exactly what the model holding only the kept elements computes
(fdi.compress.extract_graph), for any graph the groups describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fdi.compress.width_groups import RECURRENT, Layout, WidthGraph, call_order


def _channel_mask(layout: Layout, masks: dict[int, Any], rank: int) -> Any | None:
    """The (batch, 1, ..., 1, channels) mask of a tensor laid out as `layout`; None if nothing in
    it is masked."""
    import tensorflow as tf

    if not any(s.group in masks for s in layout.segments):
        return None
    batch = tf.shape(next(masks[s.group] for s in layout.segments if s.group in masks))[0]
    parts = [
        masks[s.group] if s.group in masks else tf.ones((batch, s.width), dtype=tf.float32)
        for s in layout.segments
    ]
    vector = tf.tile(tf.concat(parts, axis=-1), [1, layout.tiles])
    return tf.reshape(vector, tf.concat([[batch], tf.ones(rank - 2, tf.int32), [-1]], axis=0))


def _masked_rnn(layer: Any, sequence: Any, mask: Any) -> Any:
    """`layer` (GRU, LSTM, SimpleRNN: its own cell, step by step) with every state times `mask`."""
    import tensorflow as tf

    cell = layer.cell
    states = cell.get_initial_state(tf.shape(sequence)[0])
    states = list(states) if isinstance(states, list | tuple) else [states]
    outputs = []
    for step in range(sequence.shape[1]):
        output, states = cell(sequence[:, step], states)
        states = [s * mask for s in (states if isinstance(states, list | tuple) else [states])]
        outputs.append(output * mask)
    return tf.stack(outputs, axis=1) if layer.return_sequences else outputs[-1]


def masked_graph_forward(graph: WidthGraph, inputs: Sequence[Any], masks: Sequence[Any]) -> Any:
    """The model's (first) output on `inputs` with one (batch, width) mask per prunable group, in
    the order of `graph.prunable()`."""
    prunable = [i for i, g in enumerate(graph.groups) if g.prunable]
    if len(masks) != len(prunable):
        raise ValueError(
            f"{graph.model.name} has {len(prunable)} prunable width groups; got {len(masks)} masks"
        )
    by_group = dict(zip(prunable, masks, strict=True))
    model = graph.model
    values = {id(x): v for x, v in zip(model.inputs, inputs, strict=True)}
    for node in call_order(model):
        if node.is_input or node.operation is None:
            continue
        op = node.operation
        args, kwargs = node.arguments.fill_in(values)
        own = graph.calls.get(op.name, (None, None))[1]
        if type(op).__name__ in RECURRENT and own is not None and own.segments[0].group in by_group:
            outs = [_masked_rnn(op, args[0], by_group[own.segments[0].group])]
        else:
            result = op(*args, **kwargs)
            outs = list(result) if isinstance(result, list | tuple) else [result]
        for tensor, value in zip(node.output_tensors, outs, strict=True):
            mask = _channel_mask(graph.layouts[id(tensor)], by_group, len(tensor.shape))
            values[id(tensor)] = value if mask is None else value * mask
    return values[id(model.outputs[0])]
