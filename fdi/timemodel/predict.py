"""Whole-network execution time on a device: the sum of its layers' and its ops' predicted times
(the layer time models and the op models of the device's registry entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fdi.timemodel.device_model import weight_megabytes
from fdi.timemodel.features import add_features
from fdi.timemodel.op_models import RELABEL_KINDS, term_ms
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
    return _with_term(rows, entry, _row_megabytes(rows, network.layers)), network.unsupported, entry


def _row_megabytes(rows: list[dict[str, Any]], layers: list[dict[str, Any]]) -> list[float]:
    """Each priced row's weights (MB, float32): a layer's param_size, 0 for an op."""
    sizes = {layer["name"]: weight_megabytes(layer) for layer in layers}
    return [sizes.get(row["name"], 0.0) if row["layer"] != "op" else 0.0 for row in rows]


def _with_term(rows: list[dict[str, Any]], entry: dict[str, Any], megabytes: list[float]) -> pd.DataFrame:
    """The priced rows and, where the device has one, the in-network term as one more row
    (fdi.timemodel.device_model: the same term every reader of a network adds)."""
    term = (entry.get("op_kinds") or {}).get("in_network")
    if term is not None and rows:
        rows = [
            *rows,
            {
                "position": len(rows),
                "name": "(in-network term)",
                "layer": "network",
                "structure": "one call for all parts; weights the cache cannot keep",
                "mflops": float("nan"),
                "predicted_ms": term_ms(len(rows), megabytes, term),
                "note": "",
            },
        ]
    return pd.DataFrame(rows)


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
    priced, _ = predict_graph(pd.DataFrame(structures), entry["op_kinds"])
    rows, megabytes = [], []
    for position, op in priced.iterrows():
        if pd.isna(op.predicted_ms):
            unsupported.append(f"{op['name']} ({op.kind}: no op model for {device})")
            continue
        if op.kind in RELABEL_KINDS:
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
        megabytes.append(4 * float(op.weights) / 1e6)
    for position, layer in enumerate(loops, start=len(priced)):
        kind = layer["layer"]
        ranges = entry.get("measured_ranges", {}).get(kind, {})
        rows.append(_layer_row(position, layer, layer_models[kind], ranges))
        megabytes.append(weight_megabytes(layer))
    priced_rows = _with_term(rows, entry, megabytes)
    priced_rows.attrs["by"] = "ops"
    return priced_rows, unsupported, entry
