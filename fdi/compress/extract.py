"""A physically smaller network: the kept filters and units of a family network with their
trained weights, in a new model built by the family's builder (SPEC §3; the authors' code only
masked, but a device needs the small network).

The weights are the model's own, indexed: a layer keeps the output columns of its kept elements
and the input rows of the elements its input layer kept. Where a layer reads a reshaped tensor
holding several positions of the previous layer's channels (DeepSense's GRU reads 2 sensors x 4
positions x C channels per interval), the kept channels are taken at every position. The result
computes what the masked network (fdi.compress.masked) computes under the same keep sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fdi.profile.families import build_keras, family_of, width_roles, widths_of


def _kept_inputs(fan_in: int, channels: int, kept: np.ndarray) -> np.ndarray:
    """Indices, in a vector of `fan_in // channels` positions x `channels` (channels fastest), of
    the kept channels at every position."""
    if fan_in % channels:
        raise ValueError(f"{fan_in} inputs are not whole positions of {channels} channels")
    return (np.arange(fan_in // channels)[:, None] * channels + kept[None, :]).ravel()


def _gates(units: int, kept: np.ndarray, gates: int = 3) -> np.ndarray:
    return np.concatenate([g * units + kept for g in range(gates)])


def extract_model(
    model: Any, keep: Sequence[Sequence[int]], family: str | None = None, name: str | None = None
) -> Any:
    """A new Keras model (batch free) of the same family holding only the elements in `keep`
    (one index list per width of the family, each non-empty) with their trained weights."""
    family = family or family_of(model)
    widths = widths_of(model, family)
    keep = [np.unique(np.asarray(k, dtype=int)) for k in keep]
    if len(keep) != len(widths):
        raise ValueError(f"{family} has {len(widths)} widths; got {len(keep)} keep lists")
    for position, (kept, width) in enumerate(zip(keep, widths, strict=True)):
        if not len(kept) or kept.min() < 0 or kept.max() >= width:
            raise ValueError(f"width {position}: keep indices must be a non-empty subset of 0..{width - 1}")
    classes = int(model.outputs[0].shape[-1])
    small = build_keras(
        family,
        [len(k) for k in keep],
        name=name or f"{model.name}_extracted",
        batch_size=None,
        classes=classes,
    )
    for layer_name, (reads, produces) in width_roles(family).items():
        weights = model.get_layer(layer_name).get_weights()
        fan_in = weights[0].shape[-2] if weights[0].ndim == 4 else weights[0].shape[0]
        rows = slice(None) if reads is None else _kept_inputs(fan_in, widths[reads], keep[reads])
        cols = slice(None) if produces is None else keep[produces]
        kind = type(model.get_layer(layer_name)).__name__
        if kind == "Conv2D":
            new = [weights[0][:, :, rows][:, :, :, cols], weights[1][cols]]
        elif kind == "Dense":
            new = [weights[0][rows][:, cols], weights[1][cols]]
        elif kind == "GRU":
            gates = _gates(widths[produces], keep[produces])
            bias = weights[2][:, gates] if weights[2].ndim == 2 else weights[2][gates]
            new = [weights[0][rows][:, gates], weights[1][keep[produces]][:, gates], bias]
        else:
            raise ValueError(f"layer {layer_name}: cannot extract from a {kind} layer")
        small.get_layer(layer_name).set_weights(new)
    return small
