"""Structure configuration scopes (SPEC Table 2) and seeded sampling of random networks.

A *network* is the paper's sampling unit: a list of components of one layer type. Every
component is later exported and timed on its own, so its time stays identifiable (the paper
notes that component order has little effect on time). Networks are grouped into *shards*,
the unit of one export job and one benchmark job, so an interrupted campaign loses at most
one shard of measurements.
"""

from __future__ import annotations

import json
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
        "stride_h",
        "stride_w",
    ],
    "gru": ["in_dim", "out_dim", "step"],
    "lstm": ["in_dim", "out_dim", "step"],
    "op": ["op", "shape", "elements"],  # an op no layer model covers (fdi.profile.families.other_ops)
}
ID_COLUMNS = ["id", "scope", "layer", "network", "shard"]
ZOO_SCOPE = "zoo"  # networks nobody here designed (fdi.profile.zoo): their ops and themselves whole
FAMILY_PREFIX = "net_"  # scope of whole networks of a family: net_vgg, net_deepsense


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


def stride_pair(stride: int | list[int]) -> tuple[int, int]:
    """A scope's stride option: one int (square) or [stride_h, stride_w]."""
    if isinstance(stride, int | np.integer):
        return int(stride), int(stride)
    stride_h, stride_w = stride
    return int(stride_h), int(stride_w)


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
            stride_h, stride_w = stride_pair(_choice(rng, scope["stride"]))
            component = {
                "in_height": _uniform_int(rng, scope["in_height"]),
                "in_width": _uniform_int(rng, scope["in_width"]),
                "kernel_h": int(kernel_h),
                "kernel_w": int(kernel_w),
                "in_channel": _uniform_int(rng, scope["in_channel"]),
                "out_channel": _uniform_int(rng, scope["out_channel"]),
                "padding": str(_choice(rng, scope["padding"])),
                "stride_h": stride_h,
                "stride_w": stride_w,
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
    stride_h, stride_w = stride_pair(settings["stride"])
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
            "stride_h": stride_h,
            "stride_w": stride_w,
        }
        for channels in range(low, high + 1)
    ]
    return pd.DataFrame(rows, columns=ID_COLUMNS + STRUCTURE_COLUMNS["cnn"])


def sample_family_layers(family: str, settings: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """The layer shapes of `networks` random-width networks of a family (every width uniform in
    [1, original], or in `width_fraction` of it): the layers a compressor will visit, of
    several layer types in one scope, and the ops no layer model covers. A network's repeated
    shapes (DeepSense's two sensors) are kept once, and an op shape once per scope."""
    from fdi.profile import families

    rng = np.random.default_rng([seed, len(LAYER_TYPES) + families.FAMILIES.index(family)])
    rows = []
    ops_seen: set[tuple[Any, ...]] = set()  # an op shape is timed once per scope (softmax: once)
    for network in range(settings["networks"]):
        widths = families.random_widths(family, rng, settings.get("width_fraction", (0.0, 1.0)))
        seen = set()
        ops = [
            {**op, "layer": "op", "shape": json.dumps(op["shape"])}
            for op in families.other_ops(family, widths)
        ]
        for layer in families.layers(family, widths) + ops:
            key = tuple(layer[c] for c in ["layer", *STRUCTURE_COLUMNS[layer["layer"]]])
            if key in seen or key in ops_seen:
                continue
            (ops_seen if layer["layer"] == "op" else seen).add(key)
            rows.append(
                {
                    "id": f"{family}-n{network:03d}-{layer['name']}",
                    "scope": family,
                    "network": network,
                    "shard": network // settings["networks_per_shard"],
                    **{k: v for k, v in layer.items() if k != "name"},
                }
            )
    columns = ID_COLUMNS + list(
        dict.fromkeys(c for layer in STRUCTURE_COLUMNS for c in STRUCTURE_COLUMNS[layer])
    )
    frame = pd.DataFrame(rows)
    return frame[[c for c in columns if c in frame]]


def sample_whole_networks(family: str, settings: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """Random-width whole networks of a family, each width in `width_fraction` of the original's.

    `calibration` of them (role `calibration`: timed and listed, not scored; until 2026-12-01 they
    fitted a per-family in-network term, now the zoo's term prices every network); the other
    `networks` (role `test`) are the ones reported. The calibration
    networks are spread evenly over the list, hence over the shards: a machine state that one
    benchmark job happened to run in then shifts calibration and test networks alike."""
    from fdi.profile import families

    rng = np.random.default_rng(
        [seed, len(LAYER_TYPES) + len(families.FAMILIES) + families.FAMILIES.index(family)]
    )
    rows = []
    calibration = int(settings.get("calibration", 0))
    total = calibration + settings["networks"]
    for network in range(total):
        widths = families.random_widths(family, rng, settings["width_fraction"])
        rows.append(
            {
                "id": f"{FAMILY_PREFIX}{family}-n{network:03d}",
                "scope": f"{FAMILY_PREFIX}{family}",
                "family": family,
                "network": network,
                "shard": network // settings["networks_per_shard"],
                "role": "calibration"
                if (network + 1) * calibration // total > network * calibration // total
                else "test",
                "widths": json.dumps(widths),
            }
        )
    return pd.DataFrame(rows)


def sample_zoo(settings: Mapping[str, Any]) -> pd.DataFrame:
    """The zoo's networks (fdi.profile.zoo), one row each: the `sample` networks (role `sample`:
    their ops are cut out and timed alone, they are timed whole to fit the in-network term) and the
    `test` networks (timed whole, predicted, reported), taken in turn from the two lists so every
    shard holds both: a machine state one benchmark job ran in shifts both alike."""
    from fdi.profile.zoo import parse

    sample, test = list(settings["sample"]), list(settings["test"])
    both = sorted(set(sample) & set(test))
    if both:
        raise ScopeError(f"zoo: {', '.join(both)} listed in both sample and test")
    order = []
    for number in range(max(len(sample), len(test))):
        order += [(name, "sample") for name in sample[number : number + 1]]
        order += [(name, "test") for name in test[number : number + 1]]
    rows = []
    for network, (name, role) in enumerate(order):
        try:
            parse(name)
        except ValueError as error:
            raise ScopeError(f"zoo.{role}: {error}") from None
        rows.append(
            {
                "id": f"{ZOO_SCOPE}-{name}",
                "scope": ZOO_SCOPE,
                "network": network,
                "shard": network // settings["networks_per_shard"],
                "role": role,
                "name": name,
            }
        )
    return pd.DataFrame(rows)


def scope_kind(scope: str, config: Mapping[str, Any]) -> str:
    """'layer' (Table 2 random layers), 'sweep', 'family' (a family's layer shapes), 'network' or
    'zoo'."""
    if scope == SWEEP_SCOPE:
        return "sweep"
    if scope == ZOO_SCOPE and ZOO_SCOPE in config:
        return "zoo"
    if scope in config.get("layers", {}):
        return "layer"
    if scope in config.get("families", {}):
        return "family"
    if scope.startswith(FAMILY_PREFIX) and scope.removeprefix(FAMILY_PREFIX) in config.get("networks", {}):
        return "network"
    raise ScopeError(f"unknown scope {scope!r}: not a layer type, family or network family of the config")


def scope_settings(scope: str, config: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = scope_kind(scope, config)
    if kind == "sweep":
        return config["sweep"]
    if kind == "layer":
        return config["layers"][scope]
    if kind == "family":
        return config["families"][scope]
    if kind == "zoo":
        return config[ZOO_SCOPE]
    return config["networks"][scope.removeprefix(FAMILY_PREFIX)]


def shard_count(scope: str, config: Mapping[str, Any]) -> int:
    """How many shards a scope has, known from the config alone (the DAG needs it up front)."""
    if scope_kind(scope, config) == "sweep":
        return 1
    settings = scope_settings(scope, config)
    if scope_kind(scope, config) == "zoo":
        return math.ceil((len(settings["sample"]) + len(settings["test"])) / settings["networks_per_shard"])
    networks = settings["networks"] + settings.get("calibration", 0)
    return math.ceil(networks / settings["networks_per_shard"])


def sample_scope(scope: str, config: Mapping[str, Any]) -> pd.DataFrame:
    """The structures of one scope: random layers, the sweep, a family's layers, or whole networks."""
    return sample_scope_from(
        scope, scope_kind(scope, config), scope_settings(scope, config), int(config["seed"])
    )


def sample_scope_from(scope: str, kind: str, settings: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """`sample_scope` from one scope's own settings (what the sample rule passes)."""
    if kind == "sweep":
        return sweep_components(settings)
    if kind == "layer":
        return sample_networks(scope, settings, seed)
    if kind == "family":
        return sample_family_layers(scope, settings, seed)
    if kind == "network":
        return sample_whole_networks(scope.removeprefix(FAMILY_PREFIX), settings, seed)
    if kind == "zoo":
        return sample_zoo(settings)
    raise ScopeError(f"unknown scope kind {kind!r}")
