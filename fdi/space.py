"""Structure configuration scopes (SPEC Table 2) and seeded sampling of random networks.

A *network* is the paper's sampling unit: a list of components of one layer type. Every
component is later exported and timed on its own, so its time stays identifiable (the paper
notes that component order has little effect on time). Networks are grouped into *shards*,
the unit of one export job and one benchmark job, so an interrupted campaign loses at most
one shard of measurements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

LAYER_TYPES = ("fc", "cnn", "gru", "lstm")
SWEEP_SCOPE = "sweep"

# Columns that describe one component of each layer type, in a fixed order.
STRUCTURE_COLUMNS: dict[str, list[str]] = {
    "fc": ["in_dim", "out_dim"],
    "cnn": [
        "in_height",
        "in_width",
        "kernel_h",
        "kernel_w",
        "in_channel",
        "out_channel",
        "padding",
        "stride",
    ],
    "gru": ["in_dim", "out_dim", "step"],
    "lstm": ["in_dim", "out_dim", "step"],
}
ID_COLUMNS = ["id", "scope", "layer", "network", "shard"]


class ScopeError(ValueError):
    """A scope that cannot produce a valid layer (names the offending key)."""


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """TensorFlow's output length for one spatial axis ('valid' or 'same' padding)."""
    if padding == "same":
        return math.ceil(size / stride)
    if padding == "valid":
        return math.ceil((size - kernel + 1) / stride)
    raise ValueError(f"padding must be 'valid' or 'same', not {padding!r}")


def is_valid_conv(in_height: int, in_width: int, kernel_h: int, kernel_w: int, padding: str) -> bool:
    """A conv is valid when every output axis has at least one element."""
    if padding == "same":
        return True
    return in_height >= kernel_h and in_width >= kernel_w


def _uniform_int(rng: np.random.Generator, bounds: list[int]) -> int:
    low, high = bounds
    return int(rng.integers(low, high + 1))


def _choice(rng: np.random.Generator, options: list[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def sample_component(layer: str, scope: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One random component of `layer`, uniform over its scope; never an invalid layer."""
    if layer == "fc":
        return {"in_dim": _uniform_int(rng, scope["in_dim"]), "out_dim": _uniform_int(rng, scope["out_dim"])}
    if layer in ("gru", "lstm"):
        return {
            "in_dim": _uniform_int(rng, scope["in_dim"]),
            "out_dim": _uniform_int(rng, scope["out_dim"]),
            "step": int(_choice(rng, scope["step"])),
        }
    if layer == "cnn":
        for _ in range(1000):
            kernel_h, kernel_w = _choice(rng, scope["kernel"])
            component = {
                "in_height": _uniform_int(rng, scope["in_height"]),
                "in_width": _uniform_int(rng, scope["in_width"]),
                "kernel_h": int(kernel_h),
                "kernel_w": int(kernel_w),
                "in_channel": _uniform_int(rng, scope["in_channel"]),
                "out_channel": _uniform_int(rng, scope["out_channel"]),
                "padding": str(_choice(rng, scope["padding"])),
                "stride": int(_choice(rng, scope["stride"])),
            }
            if is_valid_conv(
                component["in_height"],
                component["in_width"],
                component["kernel_h"],
                component["kernel_w"],
                component["padding"],
            ):
                return component
        raise ScopeError(
            "cnn scope: no valid conv found in 1000 draws; every kernel is larger than every "
            "input under 'valid' padding (check keys in_height, in_width, kernel, padding)"
        )
    raise ScopeError(f"unknown layer type {layer!r}; expected one of {LAYER_TYPES}")


def sample_networks(layer: str, settings: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """All components of `settings['networks']` random networks of one layer type.

    The random stream depends only on (seed, layer), so adding a layer type or changing another
    type's settings never changes this type's sample.
    """
    rng = np.random.default_rng([seed, LAYER_TYPES.index(layer)])
    low, high = settings["components_per_network"]
    per_shard = settings["networks_per_shard"]
    rows = []
    for network in range(settings["networks"]):
        for component in range(_uniform_int(rng, [low, high])):
            row = sample_component(layer, settings["scope"], rng)
            rows.append(
                {
                    "id": f"{layer}-n{network:03d}-c{component:02d}",
                    "scope": layer,
                    "layer": layer,
                    "network": network,
                    "shard": network // per_shard,
                    **row,
                }
            )
    return pd.DataFrame(rows, columns=ID_COLUMNS + STRUCTURE_COLUMNS[layer])


def sweep_components(settings: Mapping[str, Any]) -> pd.DataFrame:
    """Figure 1's fixed sweep: one conv with in_channel = out_channel over a channel range."""
    kernel_h, kernel_w = settings["kernel"]
    low, high = settings["channels"]
    rows = [
        {
            "id": f"sweep-c{channels:03d}",
            "scope": SWEEP_SCOPE,
            "layer": "cnn",
            "network": 0,
            "shard": 0,
            "in_height": settings["in_size"],
            "in_width": settings["in_size"],
            "kernel_h": kernel_h,
            "kernel_w": kernel_w,
            "in_channel": channels,
            "out_channel": channels,
            "padding": settings["padding"],
            "stride": settings["stride"],
        }
        for channels in range(low, high + 1)
    ]
    return pd.DataFrame(rows, columns=ID_COLUMNS + STRUCTURE_COLUMNS["cnn"])


def shard_count(scope: str, config: Mapping[str, Any]) -> int:
    """How many shards a scope has, known from the config alone (the DAG needs it up front)."""
    if scope == SWEEP_SCOPE:
        return 1
    settings = config["layers"][scope]
    return math.ceil(settings["networks"] / settings["networks_per_shard"])


def sample_scope(scope: str, config: Mapping[str, Any]) -> pd.DataFrame:
    """The structures of one scope: a layer type's random networks, or the sweep."""
    if scope == SWEEP_SCOPE:
        return sweep_components(config["sweep"])
    return sample_networks(scope, config["layers"][scope], int(config["seed"]))
