"""Lossless widening of a trained network of a family (fdi.profile.families): the new filters and units
get zero weights and zero biases, and the layers they feed get zero input weights for them, so
the widened network computes exactly what the original did (Algorithm 2's premise).

A new conv filter or FC unit outputs relu(0) = 0. A new GRU unit has zero input, recurrent and
bias weights, so its gates are sigmoid(0) = 0.5 and its candidate relu(0) = 0: its state stays 0
from the zero initial state. Either way the next layer multiplies it by zero. The weights of a
layer are copied into the top-left corner of the wider arrays, except where the layer reads a
reshaped tensor holding several positions of the previous layer's channels (DeepSense's GRU reads
2 sensors x 4 positions x C channels per interval): there each position's block is placed at its
new offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fdi.profile.families import OUTPUT_LAYER, build_keras, family_of, width_roles, widths_of


def _positions(old: int, new: int, channels_old: int, channels_new: int) -> np.ndarray:
    """New indices of the old elements of a vector holding `old // channels_old` positions of
    `channels_old` channels each (channels fastest), widened to `channels_new` channels."""
    if old % channels_old or new != old // channels_old * channels_new:
        raise ValueError(f"cannot map {old} inputs of {channels_old} channels onto {new}")
    blocks = old // channels_old
    return (np.arange(blocks)[:, None] * channels_new + np.arange(channels_old)[None, :]).ravel()


def _embed(old: np.ndarray, shape: tuple[int, ...], maps: Sequence[np.ndarray | None]) -> np.ndarray:
    """`old` placed into zeros of `shape` at the given indices per axis (None: the first ones)."""
    new = np.zeros(shape, dtype=old.dtype)
    index = [np.arange(old.shape[axis]) if m is None else m for axis, m in enumerate(maps)]
    new[np.ix_(*index)] = old
    return new


def _gate_map(units_old: int, units_new: int, gates: int) -> np.ndarray:
    return np.concatenate([g * units_new + np.arange(units_old) for g in range(gates)])


def expand_model(model: Any, new_widths: Sequence[int], family: str | None = None) -> Any:
    """A new Keras model of the same family at `new_widths` (each >= the model's own) holding the
    model's weights zero-padded, so it computes the same outputs; same batch size and classes
    as the model (a task's network need not have the paper task's classes)."""
    family = family or family_of(model)
    old_widths = widths_of(model, family)
    new_widths = [int(w) for w in new_widths]
    if len(new_widths) != len(old_widths) or any(n < o for n, o in zip(new_widths, old_widths, strict=True)):
        raise ValueError(
            f"new widths {new_widths} must have {len(old_widths)} entries, each at least the "
            f"model's own {old_widths}"
        )
    expanded = build_keras(
        family,
        new_widths,
        name=f"{model.name}_expanded",
        batch_size=model.inputs[0].shape[0],
        classes=int(model.get_layer(OUTPUT_LAYER[family]).get_config()["units"]),
    )
    for name, (reads, produces) in width_roles(family).items():
        old_layer, new_layer = model.get_layer(name), expanded.get_layer(name)
        weights = old_layer.get_weights()
        shapes = [tuple(w.shape) for w in new_layer.get_weights()]
        out_map = None if produces is None else np.arange(old_widths[produces])
        if reads is None:
            in_map = None
        else:
            in_old = weights[0].shape[-2] if len(weights[0].shape) == 4 else weights[0].shape[0]
            in_new = shapes[0][-2] if len(shapes[0]) == 4 else shapes[0][0]
            in_map = _positions(in_old, in_new, old_widths[reads], new_widths[reads])
        kind = type(old_layer).__name__
        if kind == "Conv2D":
            new_weights = [
                _embed(weights[0], shapes[0], [None, None, in_map, out_map]),
                _embed(weights[1], shapes[1], [out_map]),
            ]
        elif kind == "Dense":
            new_weights = [
                _embed(weights[0], shapes[0], [in_map, out_map]),
                _embed(weights[1], shapes[1], [out_map]),
            ]
        elif kind == "GRU":
            gates = _gate_map(old_widths[produces], new_widths[produces], 3)
            units = np.arange(old_widths[produces])
            new_weights = [
                _embed(weights[0], shapes[0], [in_map, gates]),
                _embed(weights[1], shapes[1], [units, gates]),
                _embed(weights[2], shapes[2], [None, gates] if weights[2].ndim == 2 else [gates]),
            ]
        else:
            raise ValueError(f"layer {name}: cannot widen a {kind} layer")
        new_layer.set_weights(new_weights)
    return expanded
