"""Whole networks: their measured time against the time models' sum over their layers and ops.

The random-width networks of each family (fdi.space.sample_whole_networks) are exported and timed
whole, by the same device code and instrument as the layers. A network's predicted time is the
sum of its layers' Algorithm 1 predictions (fdi.families.layers) and of its other ops' times
(pooling, concatenation, mean, softmax), each op kind modelled as a non-negative line in its
element count fitted on the single-op graphs timed with the family's layer shapes.

The networks table says, per device and network, the measured time (and how much a later check
job's measurement moved it), the prediction, the error; its summary gives per family the share of
networks predicted within 10% and Spearman's rank correlation between predicted and measured
times (what a compressor ranking candidates relies on).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import spearmanr

from fdi.dataset import summarise_timings
from fdi.families import layers, other_ops
from fdi.features import add_features
from fdi.tree import TreeLinearRegressor


def fit_op_models(dataset: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per op kind: (ms per element, ms per call), non-negative, from the dataset's op rows."""
    ops = dataset[dataset.layer == "op"]
    models = {}
    for kind, rows in ops.groupby("op"):
        design = np.column_stack([rows.elements.to_numpy(dtype=float), np.ones(len(rows))])
        # Relative error: weight rows by 1 / time, as Algorithm 1's configured loss does.
        weight = 1 / rows.time_ms.to_numpy()
        coef, _ = nnls(design * weight[:, None], rows.time_ms.to_numpy() * weight)
        models[str(kind)] = (float(coef[0]), float(coef[1]))
    return models


def predict_network(
    family: str,
    widths: list[int],
    models: dict[str, TreeLinearRegressor],
    op_models: dict[str, tuple[float, float]],
) -> pd.DataFrame:
    """Per layer and op of one network: name, kind and predicted ms."""
    rows = []
    for layer in layers(family, widths):
        kind = layer["layer"]
        frame = add_features(pd.DataFrame([{k: v for k, v in layer.items() if k != "name"}]), kind)
        rows.append(
            {"name": layer["name"], "kind": kind, "predicted_ms": float(models[kind].predict(frame)[0])}
        )
    for op in other_ops(family, widths):
        per_element, per_call = op_models.get(op["op"], (np.nan, np.nan))
        rows.append(
            {"name": op["name"], "kind": op["op"], "predicted_ms": per_element * op["elements"] + per_call}
        )
    return pd.DataFrame(rows)


def networks_table(
    structures: pd.DataFrame,
    timings: dict[str, pd.DataFrame],
    checks: dict[str, pd.DataFrame],
    datasets: dict[str, pd.DataFrame],
    models: dict[str, dict[str, TreeLinearRegressor]],
    device_settings: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    """One row per device and network: measured, check, noise, predicted (layers, ops), error."""
    rows = []
    for device, device_timings in timings.items():
        measured = summarise_timings(device_timings, device_settings[device]).set_index("id")
        check = checks.get(device)
        checked = (
            summarise_timings(check, device_settings[device]).set_index("id").time_ms
            if check is not None and len(check)
            else pd.Series(dtype=float)
        )
        op_models = fit_op_models(datasets[device])
        for network in structures.itertuples():
            if network.id not in measured.index:
                raise ValueError(f"device {device!r}: network {network.id} has no timing")
            parts = predict_network(network.family, json.loads(network.widths), models[device], op_models)
            layer_ms = parts.predicted_ms[parts.kind.isin(["fc", "cnn", "gru", "lstm"])].sum()
            predicted = float(parts.predicted_ms.sum())
            time_ms = float(measured.time_ms[network.id])
            check_ms = float(checked.get(network.id, np.nan))
            rows.append(
                {
                    "device": device,
                    "family": network.family,
                    "id": network.id,
                    "widths": network.widths,
                    "measured_ms": time_ms,
                    "check_ms": check_ms,
                    "noise_pct": 100 * abs(check_ms - time_ms) / time_ms,
                    "predicted_ms": predicted,
                    "predicted_layers_ms": float(layer_ms),
                    "predicted_ops_ms": predicted - float(layer_ms),
                    "error_pct": 100 * (predicted - time_ms) / time_ms,
                    "passes": int(measured.passes[network.id]),
                    "flagged": bool(measured.flagged[network.id]),
                }
            )
    return pd.DataFrame(rows)


def networks_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per device and family: networks, share within 10%, median |error|, noise, Spearman's rho."""
    rows = []
    for (device, family), group in table.groupby(["device", "family"], sort=False):
        rho = spearmanr(group.predicted_ms, group.measured_ms).statistic if len(group) > 2 else np.nan
        rows.append(
            {
                "device": device,
                "family": family,
                "networks": len(group),
                "within_10_pct": 100 * float((group.error_pct.abs() <= 10).mean()),
                "median_abs_error_pct": float(group.error_pct.abs().median()),
                "mean_error_pct": float(group.error_pct.mean()),
                "median_noise_pct": float(group.noise_pct.median()),
                "spearman": float(rho),
                "measured_ms_range": f"{group.measured_ms.min():.3g}-{group.measured_ms.max():.3g}",
                "flagged": int(group.flagged.sum()),
            }
        )
    return pd.DataFrame(rows)


def networks_markdown(table: pd.DataFrame) -> str:
    summary = networks_summary(table)
    lines = [
        "| device | family | networks | within ±10% | median abs error | mean error | noise (later job) "
        "| Spearman | measured ms | flagged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        lines.append(
            f"| {row.device} | {row.family} | {row.networks} | {row.within_10_pct:.0f}% "
            f"| {row.median_abs_error_pct:.1f}% | {row.mean_error_pct:+.1f}% | {row.median_noise_pct:.1f}% "
            f"| {row.spearman:.3f} | {row.measured_ms_range} | {row.flagged} |"
        )
    return "\n".join(lines) + "\n"


def load_models(paths: list[Path]) -> dict[str, dict[str, TreeLinearRegressor]]:
    """results/models/DEVICE/LAYER.json files -> {device: {layer: model}}."""
    models: dict[str, dict[str, TreeLinearRegressor]] = {}
    for path in paths:
        path = Path(path)
        models.setdefault(path.parent.name, {})[path.stem] = TreeLinearRegressor.from_json(path)
    return models
