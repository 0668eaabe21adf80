"""A physically smaller copy of any Keras model: the kept elements of each width group with their
trained weights (fdi.compress.width_groups says which weights hold which elements).

The model is cloned layer by layer with the new widths in the producers' configs (and in any
reshape's target), then every weight is its original, indexed: a producer keeps the output
columns of its group's kept elements (a recurrent layer in each gate block, and the recurrent
kernel's rows too), a per-channel layer (batch norm, depthwise conv, PReLU) its kept channels,
and every layer the input rows its input layout keeps (a dense after a flatten: the kept
channels at every position). The result computes what fdi.compress.masked_graph computes under
the same keep sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fdi.compress.width_groups import CHANNELWISE, PRODUCERS, RECURRENT, RESHAPING, Layout, WidthGraph

GATES = {"GRU": 3, "LSTM": 4, "SimpleRNN": 1}
WIDTH_KEYS = {"Dense": "units", "GRU": "units", "LSTM": "units", "SimpleRNN": "units"}


def kept_channels(layout: Layout, kept: Sequence[np.ndarray]) -> np.ndarray:
    """Indices along a tensor's last axis, laid out as `layout`, of the kept channels (at every
    tile, in order)."""
    per_tile = np.concatenate([s.offset + kept[s.group] for s in layout.segments])
    return (np.arange(layout.tiles)[:, None] * layout.period + per_tile[None, :]).ravel()


def _keep_lists(graph: WidthGraph, keep: Sequence[Sequence[int]]) -> list[np.ndarray]:
    prunable = [g for g in graph.groups if g.prunable]
    if len(keep) != len(prunable):
        raise ValueError(
            f"{graph.model.name} has {len(prunable)} prunable width groups; got {len(keep)} keep lists"
        )
    lists, given = [], iter(keep)
    for group in graph.groups:
        kept = np.arange(group.width) if not group.prunable else np.unique(np.asarray(next(given), dtype=int))
        if not len(kept) or kept.min() < 0 or kept.max() >= group.width:
            raise ValueError(
                f"group {group.name}: keep indices must be a non-empty subset of 0..{group.width - 1}"
            )
        lists.append(kept)
    return lists


def _sliced(
    layer: Any, weights: list[np.ndarray], rows: np.ndarray, cols: np.ndarray | None
) -> list[np.ndarray]:
    """`layer`'s weights keeping input rows `rows` and (a producer's) output elements `cols`."""
    kind = type(layer).__name__
    if kind in RECURRENT:
        units = layer.units
        gates = np.concatenate([g * units + cols for g in range(GATES[kind])])
        kernel, recurrent, *bias = weights
        return [kernel[rows][:, gates], recurrent[cols][:, gates], *[b[..., gates] for b in bias]]
    if kind in PRODUCERS:  # Dense and convolutions: kernel (..., in, out), bias (out,)
        kernel, *bias = weights
        return [kernel[..., rows, :][..., cols], *[b[cols] for b in bias]]
    if kind == "DepthwiseConv2D" or kind == "DepthwiseConv1D":  # kernel (..., channels, 1)
        kernel, *bias = weights
        return [kernel[..., rows, :], *[b[rows] for b in bias]]
    return [w[..., rows] for w in weights]  # batch norm, PReLU: per channel on the last axis


def copy_at_widths(
    graph: WidthGraph,
    widths: Sequence[int],
    place: Callable[[Any, list[np.ndarray], list[tuple[int, ...]], Layout, Layout], list[np.ndarray]],
    name: str,
) -> Any:
    """A copy of `graph.model` with every group g `widths[g]` wide (in the producers' configs and
    any reshape's target); a producer's or per-channel layer's weights are what `place` makes of
    the original ones (layer, weights, the copy's weight shapes, input and output layouts), every
    other layer's are copied. Extraction and widening differ only in `place`."""
    import keras

    def width_of(layout: Layout) -> int:
        return layout.tiles * sum(widths[s.group] for s in layout.segments)

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        kind = type(layer).__name__
        call = graph.calls.get(layer.name)
        if call is not None and kind in PRODUCERS:
            config[WIDTH_KEYS.get(kind, "filters")] = width_of(call[1])
        elif call is not None and kind in RESHAPING and config["target_shape"][-1] != -1:
            config["target_shape"] = (*config["target_shape"][:-1], width_of(call[1]))
        return type(layer).from_config(config)

    copy = keras.models.clone_model(graph.model, clone_function=clone)
    new = keras.Model(copy.input, copy.output, name=name)
    for layer in graph.model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kind = type(layer).__name__
        target = new.get_layer(layer.name)
        if layer.name not in graph.calls or not (kind in PRODUCERS or kind in CHANNELWISE):
            target.set_weights(weights)  # kept at its width
            continue
        shapes = [tuple(w.shape) for w in target.get_weights()]
        target.set_weights(place(layer, weights, shapes, *graph.calls[layer.name]))
    return new


def extract_graph_model(graph: WidthGraph, keep: Sequence[Sequence[int]], name: str | None = None) -> Any:
    """A new Keras model holding only the elements in `keep` (one index list per prunable group, in
    the order of `graph.prunable()`) with their trained weights."""
    kept = _keep_lists(graph, keep)

    def place(layer: Any, weights: list[np.ndarray], shapes: Any, inputs: Layout, output: Layout) -> list:
        cols = kept_channels(output, kept) if type(layer).__name__ in PRODUCERS else None
        return _sliced(layer, weights, kept_channels(inputs, kept), cols)

    widths = [len(k) for k in kept]
    return copy_at_widths(graph, widths, place, name or f"{graph.model.name}_extracted")
