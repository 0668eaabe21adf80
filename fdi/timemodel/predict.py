"""Whole-network execution time on a device: the sum of its layers' and its ops' predicted times
(the layer time models and the op models of the device's registry entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fdi.timemodel.features import add_features
from fdi.timemodel.read_network import read_network
from fdi.timemodel.registry import load_entry, models_of, outside_ranges


def predict_network(
    model_path: Path, registry: Path, device: str, by: str = "auto"
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Per-layer (or per-op) predictions (ms) of a network on `device`, what is not modelled, the
    entry. `by`: "ops" (the op models fitted on the zoo, every op kind), "layers" (Table 2's layer
    models and the families' op models), or "auto" (ops where the entry has op models)."""
    entry = load_entry(registry, device=device)
    if by not in ("auto", "ops", "layers"):
        raise ValueError(f"by must be auto, ops or layers, not {by!r}")
    if by == "ops" and not entry.get("op_kinds"):
        raise ValueError(
            f"no op models for {device}: add a `zoo:` entry to the config (config/zoo.yaml) and rerun"
            " the workflow"
        )
    if by != "layers" and entry.get("op_kinds"):
        return predict_by_ops(model_path, entry, device)
    models = models_of(entry)
    ranges = entry.get("measured_ranges", {})
    network = read_network(model_path)
    rows = []
    for position, layer in enumerate(network.layers):
        kind = layer["layer"]
        if kind not in models:
            network.unsupported.append(f"{layer['name']} ({kind}: no {kind} model for {device})")
            continue
        rows.append(_layer_row(position, layer, models[kind], ranges.get(kind, {})))
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


def _layer_row(
    position: int, layer: dict[str, Any], model: Any, ranges: dict[str, list[float]]
) -> dict[str, Any]:
    """One layer's printed row: its structure, MFLOPs, its layer model's prediction, and which
    measured ranges it leaves."""
    frame = add_features(pd.DataFrame([layer]), layer["layer"])
    return {
        "position": position,
        "name": layer["name"],
        "layer": layer["layer"],
        "structure": _describe(layer),
        "mflops": frame.flops.iloc[0] / 1e6,
        "predicted_ms": float(model.predict(frame)[0]),
        "note": outside_ranges(frame.iloc[0], ranges),
    }


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


def predict_by_ops(
    model_path: Path, entry: dict[str, Any], device: str
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """A network priced op by op with the device's op models (fdi.timemodel.op_registry, fitted on
    the zoo's ops), its recurrent loops with the GRU/LSTM layer models, and the in-network term as
    one more row: the rows' sum is the prediction."""
    from fdi.profile.tflite_ops import op_structure, read_graph, recurrent_layer
    from fdi.timemodel.op_registry import predict_graph
    from fdi.timemodel.read_network import checked_path, converted

    layer_models = models_of(entry)
    with converted(checked_path(model_path)) as path:
        graph = read_graph(path)
    structures, loops, unsupported = [], [], []
    for op in graph.main:
        if op.kind == "WHILE":
            layer = recurrent_layer(graph, op)
            if layer is not None and layer["layer"] in layer_models:
                loops.append({"name": op.name, **layer})
            else:
                unsupported.append(f"{op.name} (WHILE: no recurrent layer model for {device})")
            continue
        structures.append({"name": op.name, "network": "network", **op_structure(op)})
    priced, total = predict_graph(pd.DataFrame(structures), entry["op_kinds"])
    rows = []
    for position, op in priced.iterrows():
        if pd.isna(op.predicted_ms):
            unsupported.append(f"{op['name']} ({op.kind}: no op model for {device})")
            continue
        rows.append(
            {
                "position": position,
                "name": op["name"],
                "layer": op.kind,
                "structure": f"{op.in_elements} -> {op.out_elements} elements",
                "mflops": 2 * op.out_elements * op.macs_per_output / 1e6,
                "predicted_ms": float(op.predicted_ms),
                "note": op.note,
            }
        )
    rows.append(
        {
            "position": len(priced),
            "name": "(in-network term)",
            "layer": "network",
            "structure": "one call for all ops; weights the cache cannot keep",
            "mflops": float("nan"),
            # a recurrent layer timed alone paid the interpreter call too: in the network, once
            "predicted_ms": total
            - float(priced.predicted_ms.sum())
            - len(loops) * entry["op_kinds"]["in_network"]["call_ms"],
            "note": "",
        }
    )
    for position, layer in enumerate(loops, start=len(priced) + 1):
        kind = layer["layer"]
        ranges = entry.get("measured_ranges", {}).get(kind, {})
        rows.append(_layer_row(position, layer, layer_models[kind], ranges))
    return pd.DataFrame(rows), unsupported, entry
