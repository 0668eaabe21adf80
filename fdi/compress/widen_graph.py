"""A physically wider copy of any Keras model that computes exactly what it computes: Algorithm 2's
lossless widening (fdi.compress.expand) for the graphs fdi.compress.width_groups reads.

Every prunable width group takes its new width (at least its own). The original elements keep
their trained weights at the front of each group's segment (at every tile after a flatten or a
reshape); every new weight is zero. So a new element's producer outputs a constant (a new filter
or unit: activation(0); a batch norm or depthwise conv: 0; a recurrent unit keeps a zero state),
every element-wise op combines new elements only with new elements of the same group, and every
layer that reads a group has zero input weights for its new elements: no original output moves.
The paper's two families are widened by it as any user's model is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fdi.compress.extract_graph import GATES, copy_at_widths
from fdi.compress.width_groups import PRODUCERS, RECURRENT, Layout, WidthGraph


def original_channels(layout: Layout, widths: Sequence[int]) -> np.ndarray:
    """Where the original channels of a tensor laid out as `layout` sit once every group g is
    `widths[g]` wide: each segment's first elements, at every tile, in the original order."""
    starts = np.cumsum([0] + [widths[s.group] for s in layout.segments])
    per_tile = np.concatenate([starts[i] + np.arange(s.width) for i, s in enumerate(layout.segments)])
    return (np.arange(layout.tiles)[:, None] * starts[-1] + per_tile[None, :]).ravel()


def _group_widths(graph: WidthGraph, widths: Sequence[int]) -> list[int]:
    prunable = graph.prunable()
    if len(widths) != len(prunable):
        raise ValueError(
            f"{graph.model.name} has {len(prunable)} prunable width groups; got {len(widths)} widths"
        )
    given = iter(int(w) for w in widths)
    out = []
    for group in graph.groups:
        width = next(given) if group.prunable else group.width
        if width < group.width:
            raise ValueError(
                f"group {group.name}: widening needs a width of at least {group.width}, not {width}"
            )
        out.append(width)
    return out


def _embedded(
    layer: Any,
    weights: list[np.ndarray],
    shapes: list[tuple[int, ...]],
    rows: np.ndarray,
    cols: np.ndarray | None,
) -> list[np.ndarray]:
    """`layer`'s weights placed into zeros of the wider `shapes`: input rows at `rows`, (a
    producer's) outputs at `cols`."""
    new = [np.zeros(shape, dtype=w.dtype) for w, shape in zip(weights, shapes, strict=True)]
    kind = type(layer).__name__
    if kind in RECURRENT:
        units = shapes[1][0]
        gates = np.concatenate([g * units + cols for g in range(GATES[kind])])
        kernel, recurrent, *bias = weights
        new[0][np.ix_(rows, gates)] = kernel
        new[1][np.ix_(cols, gates)] = recurrent
        for target, b in zip(new[2:], bias, strict=True):
            target[..., gates] = b
    elif kind in PRODUCERS:  # Dense and convolutions: kernel (..., in, out), bias (out,)
        kernel, *bias = weights
        new[0][..., rows[:, None], cols[None, :]] = kernel
        for target, b in zip(new[1:], bias, strict=True):
            target[cols] = b
    elif kind in ("DepthwiseConv2D", "DepthwiseConv1D"):  # kernel (..., channels, 1)
        kernel, *bias = weights
        new[0][..., rows, :] = kernel
        for target, b in zip(new[1:], bias, strict=True):
            target[rows] = b
    else:  # batch norm, PReLU: per channel on the last axis
        for target, w in zip(new, weights, strict=True):
            target[..., rows] = w
    return new


def widen_graph_model(graph: WidthGraph, widths: Sequence[int], name: str | None = None) -> Any:
    """A copy of `graph.model` with its prunable groups at `widths` (in the order of
    `graph.prunable()`, each at least the group's width) computing the same outputs."""
    group_widths = _group_widths(graph, widths)

    def place(layer: Any, weights: list[np.ndarray], shapes: Any, inputs: Layout, output: Layout) -> list:
        cols = original_channels(output, group_widths) if type(layer).__name__ in PRODUCERS else None
        return _embedded(layer, weights, shapes, original_channels(inputs, group_widths), cols)

    return copy_at_widths(graph, group_widths, place, name or f"{graph.model.name}_widened")
