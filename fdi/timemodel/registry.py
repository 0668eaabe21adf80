"""Stored time models keyed by device type + OS version + runtime version (SPEC §6).

One entry per configured device, `results/registry/<device>.json`: its registry key, the
fingerprint it was measured with, every layer type's fitted model (readable JSON, as in
results/models), the op models of the ops no layer model covers, and the measured range of every
feature, so that a prediction outside what was measured can say so. Look an entry up by device
name or by key; a missing one is a clear error that says how to make it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from fdi.profile.devices.cpu_identity import short_cpu_id
from fdi.profile.space import STRUCTURE_COLUMNS
from fdi.timemodel.dataset import layer_rows
from fdi.timemodel.features import SPLIT_COLUMNS, X_VARIANTS
from fdi.timemodel.tree import TreeLinearRegressor

FORMAT = "fdi.registry/1"


class NoTimeModelError(LookupError):
    """No stored time model for the requested device."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", str(text)).strip("-") or "unknown"


def registry_key(fingerprint: dict[str, Any]) -> str:
    """device type + OS version + runtime version, as one readable string."""
    if fingerprint.get("device_kind") == "adb":
        device = f"{fingerprint.get('manufacturer', '')} {fingerprint.get('model', '')}"
        system = f"android-{fingerprint.get('android_version', '')}"
    elif fingerprint.get("device_kind") == "ssh":  # a board: its model, its OS and kernel
        model = fingerprint.get("board_model", "unreadable")
        device = fingerprint.get("cpu_model", "") if model == "unreadable" else model
        system = f"{fingerprint.get('os', '')} {fingerprint.get('kernel', '')}"
    else:  # the model name and, since it may be masked ("AMD EPYC"), the CPU's family and model
        device = f"{fingerprint.get('cpu_model', '')} {short_cpu_id(fingerprint.get('cpu_id', ''))}"
        system = f"{fingerprint.get('os', '')}"
    runtime = f"{fingerprint.get('runtime', '')}-{fingerprint.get('runtime_version', '')}"
    threads = f"{fingerprint.get('threads', '?')}threads"
    return "__".join(_slug(part) for part in (device, system, runtime, threads))


def measured_ranges(dataset: pd.DataFrame, layer: str) -> dict[str, list[float]]:
    """[min, max] of every numeric structure column and feature over a layer type's components."""
    rows = layer_rows(dataset, layer, "all")
    variants = [column for names in X_VARIANTS.values() for column in names[layer]]
    columns = dict.fromkeys(STRUCTURE_COLUMNS[layer] + SPLIT_COLUMNS[layer] + variants)
    return {
        column: [float(rows[column].min()), float(rows[column].max())]
        for column in columns
        if pd.api.types.is_numeric_dtype(rows[column])
    }


def outside_ranges(row: pd.Series, ranges: dict[str, list[float]]) -> str:
    """Which measured ranges the layer leaves (the prediction is then an extrapolation)."""
    notes = []
    for column, (low, high) in ranges.items():
        value = row.get(column)
        if pd.api.types.is_number(value) and not low <= value <= high:
            notes.append(
                f"{column} {value:g} {'<' if value < low else '>'} {high if value > high else low:g}"
            )
    return "extrapolated: " + ", ".join(notes[:3]) if notes else ""


def op_models(dataset: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per op kind no layer model covers (pooling, mean, softmax, concatenation: the families'
    other ops, fdi.profile.families.other_ops): ms per element and per call fitted on the device's
    op rows (fdi.timemodel.whole_networks.fit_op_models, as the networks table does), and the
    range of elements measured. Empty where the campaign timed no op rows."""
    from fdi.timemodel.whole_networks import fit_op_models

    if "op" not in dataset or not (dataset.layer == "op").any():
        return {}
    ops = dataset[dataset.layer == "op"]
    return {
        kind: {
            "ms_per_element": per_element,
            "ms_per_call": per_call,
            "elements": [
                float(ops[ops.op == kind].elements.min()),
                float(ops[ops.op == kind].elements.max()),
            ],
        }
        for kind, (per_element, per_call) in sorted(fit_op_models(dataset).items())
    }


def make_entry(
    device: str, dataset_path: Path, model_paths: dict[str, Path], out: Path, op_kinds: Path | None = None
) -> dict[str, Any]:
    """The entry; `op_kinds`: the device's op models fitted on the zoo (fdi.timemodel.op_registry),
    with which `fdi predict` prices a network op by op."""
    dataset = pd.read_parquet(dataset_path)
    fingerprint = json.loads(dataset.fingerprint.iloc[0])
    entry = {
        "format": FORMAT,
        "device": device,
        "key": registry_key(fingerprint),
        "fingerprint": fingerprint,
        "models": {layer: json.loads(Path(path).read_text()) for layer, path in sorted(model_paths.items())},
        "measured_ranges": {layer: measured_ranges(dataset, layer) for layer in sorted(model_paths)},
        "op_models": op_models(dataset),
    }
    if op_kinds is not None:
        from fdi.timemodel.op_models import FORMAT as OP_MODELS

        artifact = json.loads(Path(op_kinds).read_text())
        if artifact.get("format") != OP_MODELS:
            raise ValueError(f"{op_kinds}: not fdi op models (format {artifact.get('format')!r})")
        entry["op_kinds"] = artifact
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(entry, indent=1) + "\n")
    return entry


def load_entry(registry: Path, device: str | None = None, key: str | None = None) -> dict[str, Any]:
    """The entry of a device name or a registry key."""
    entries = sorted(Path(registry).glob("*.json"))
    for path in entries:
        entry = json.loads(path.read_text())
        if entry.get("format") == FORMAT and (entry["device"] == device or entry["key"] == key):
            return entry
    known = ", ".join(p.stem for p in entries) or "none"
    wanted = f"device {device!r}" if device else f"key {key!r}"
    raise NoTimeModelError(
        f"no time model for {wanted} in {registry} (devices with models: {known}). Make one: list the "
        f"device under `devices:` in config/config.yaml, then run "
        f"`snakemake results/registry/{device or 'DEVICE'}.json --cores all`."
    )


def models_of(entry: dict[str, Any]) -> dict[str, TreeLinearRegressor]:
    return {layer: TreeLinearRegressor.from_dict(data) for layer, data in entry["models"].items()}
