"""Whole-network execution time on a device: the sum of its layers' and its ops' predicted times
(the layer time models and the op models of the device's registry entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fdi.timemodel.features import add_features
from fdi.timemodel.read_network import read_network
from fdi.timemodel.registry import load_entry, models_of


def predict_network(
    model_path: Path, registry: Path, device: str
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Per-layer predictions (ms) of a network on `device`, the layers not modelled, the entry."""
    entry = load_entry(registry, device=device)
    models = models_of(entry)
    ranges = entry.get("measured_ranges", {})
    network = read_network(model_path)
    rows = []
    for position, layer in enumerate(network.layers):
        kind = layer["layer"]
        if kind not in models:
            network.unsupported.append(f"{layer['name']} ({kind}: no {kind} model for {device})")
            continue
        frame = add_features(pd.DataFrame([layer]), kind)
        rows.append(
            {
                "position": position,
                "name": layer["name"],
                "layer": kind,
                "structure": _describe(layer),
                "mflops": frame.flops.iloc[0] / 1e6,
                "predicted_ms": float(models[kind].predict(frame)[0]),
                "note": _outside(frame.iloc[0], ranges.get(kind, {})),
            }
        )
    op_models = entry.get("op_models", {})
    for position, op in enumerate(network.ops, start=len(network.layers)):
        model = op_models.get(op["op"])
        if model is None:
            network.unsupported.append(f"{op['name']} ({op['op']}: no op model for {device})")
            continue
        notes = [op["note"]] if op["note"] else []
        low, high = model["elements"]
        if op["elements"] < low or op["elements"] > high:
            bound = f"< {low:g}" if op["elements"] < low else f"> {high:g}"
            notes.append(f"extrapolated: elements {op['elements']:g} {bound}")
        rows.append(
            {
                "position": position,
                "name": op["name"],
                "layer": "op",
                "structure": f"{op['op']}, {op['elements']} elements",
                "mflops": float("nan"),
                "predicted_ms": model["ms_per_element"] * op["elements"] + model["ms_per_call"],
                "note": "; ".join(notes),
            }
        )
    return pd.DataFrame(rows), network.unsupported, entry


def _outside(row: pd.Series, ranges: dict[str, list[float]]) -> str:
    """Which measured ranges the layer leaves (the prediction is then an extrapolation)."""
    notes = []
    for column, (low, high) in ranges.items():
        value = row.get(column)
        if pd.api.types.is_number(value) and not low <= value <= high:
            notes.append(
                f"{column} {value:g} {'<' if value < low else '>'} {high if value > high else low:g}"
            )
    return "extrapolated: " + ", ".join(notes[:3]) if notes else ""


def _describe(layer: dict[str, Any]) -> str:
    if layer["layer"] == "cnn":
        return (
            f"{layer['in_height']}x{layer['in_width']}x{layer['in_channel']} -> {layer['out_channel']}, "
            f"{layer['kernel_h']}x{layer['kernel_w']}/{layer['stride_h']}x{layer['stride_w']} "
            f"{layer['padding']}"
        )
    if layer["layer"] == "fc":
        return f"{layer['in_dim']} -> {layer['out_dim']}"
    return f"{layer['in_dim']} -> {layer['out_dim']}, {layer['step']} steps"
