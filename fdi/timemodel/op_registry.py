"""A device's op models as one readable artifact: fitted once by the workflow from the zoo's
timings (`results/models/<device>/ops.json`), stored in the device's registry entry, and read by
every consumer through `predict_graph` (fdi predict, the zoo table).

The artifact holds, per op kind, its Algorithm 1 tree (fdi.timemodel.tree, as JSON) and the
range of every column it was fitted on; and the in-network term (fdi.timemodel.op_models).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fdi.timemodel.op_models import (
    FORMAT,
    RELABEL_KINDS,
    fit_in_network,
    fit_op_models,
    in_network_ms,
    kind_features,
    predict_ops,
    timed_ops,
    training_ops,
)
from fdi.timemodel.registry import outside_ranges
from fdi.timemodel.tree import TreeLinearRegressor


def read_zoo(
    graph_dirs: list[Path], timing_files: list[Path], settings: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every op of the zoo's networks with its measured time (fdi.timemodel.op_models.timed_ops),
    and each network timed whole, by name: `measured_ms` and `flagged` (its time never settled:
    it fits nothing and scores nothing)."""
    from fdi.profile.zoo import OPS_TABLE
    from fdi.timemodel.dataset import summarise_timings

    tables = []
    for folder in graph_dirs:
        table = Path(folder) / OPS_TABLE
        if not table.is_file():
            raise FileNotFoundError(f"{folder}: no {OPS_TABLE} (not a zoo shard's graphs)")
        tables.append(pd.read_parquet(table))
    ops = pd.concat(tables, ignore_index=True)
    timings = pd.concat([pd.read_parquet(path) for path in timing_files], ignore_index=True)
    times = summarise_timings(timings, settings).set_index("id")
    ops = timed_ops(ops, times)
    ids = ops.drop_duplicates("network").set_index("network").id
    whole = pd.DataFrame(
        {"measured_ms": ids.map(times.time_ms), "flagged": ids.map(times.flagged).fillna(True).astype(bool)}
    )
    return ops, whole


def fit_artifact(
    ops: pd.DataFrame,
    whole: pd.DataFrame,
    tree_settings: dict[str, Any],
    extra: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Op models on the sample networks' settled ops (and a kind's `extra` rows: the campaign's
    conv and FC layers, `op_models.layer_ops`), the in-network term on the sample networks timed
    whole and settled (their ops' predicted times: what a prediction will add up)."""
    measured = whole.measured_ms[~whole.flagged]
    train = training_ops(ops)
    if train.empty:
        raise ValueError("no settled op timings of sample networks: nothing to fit op models on")
    models = fit_op_models(train, extra, **tree_settings)
    ops = ops.assign(predicted_ms=predict_ops(models, ops))
    sample = ops[ops.role == "sample"]
    sample_measured = measured[measured.index.isin(sample.network.unique())].dropna()
    term = fit_in_network(
        sample[sample.network.isin(sample_measured.index)],
        sample_measured,
        "predicted_ms",
        float(train.time_ms.min()),
    )
    kinds = {}
    for kind, model in sorted(models.items()):
        own = kind_features(train[train.kind == kind], kind)
        more = (extra or {}).get(kind)
        rows = own if more is None else pd.concat([own, more.drop(columns="time_ms")], ignore_index=True)
        kinds[kind] = {
            "ops": len(own),
            "campaign_layers": 0 if more is None else len(more),
            "model": model.to_dict(),
            "ranges": {
                column: [float(rows[column].min()), float(rows[column].max())]
                for column in dict.fromkeys(model.split_columns + model.fit_columns)
            },
        }
    return {
        "format": FORMAT,
        "kinds": kinds,
        "in_network": term,
        "sample_networks": sorted(sample_measured.index),
    }


def write_artifact(artifact: dict[str, Any], out: Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(artifact, indent=1) + "\n")


def models_of(artifact: dict[str, Any]) -> dict[str, TreeLinearRegressor]:
    return {kind: TreeLinearRegressor.from_dict(data["model"]) for kind, data in artifact["kinds"].items()}


def predict_graph(ops: pd.DataFrame, artifact: dict[str, Any]) -> tuple[pd.DataFrame, float]:
    """One network's ops (op structures, one `network`) priced op by op: `predicted_ms` (NaN for
    a kind without a model) and `note` (which measured range a prediction leaves); and the
    network's total with the in-network term, over the ops priced."""
    models = models_of(artifact)
    priced = ops.assign(predicted_ms=predict_ops(models, ops), note="")
    for kind, data in artifact["kinds"].items():
        here = priced.kind == kind
        if not here.any():
            continue
        features = kind_features(priced[here], kind)
        for index, row in features.iterrows():
            priced.loc[index, "note"] = outside_ranges(row, data["ranges"])
    known = priced[priced.predicted_ms.notna()].assign(network="network")
    total = float(in_network_ms(known, "predicted_ms", artifact["in_network"]).iloc[0]) if len(known) else 0.0
    return priced, total


TREE_KEYS = ("mape_stop", "min_samples_split", "min_samples_leaf", "moduli", "max_thresholds", "max_depth")


def tree_settings(time_model: dict[str, Any]) -> dict[str, Any]:
    """Algorithm 1's stopping rules from the config's time_model (the layer models' own)."""
    return {key: time_model[key] for key in TREE_KEYS if key in time_model}


def zoo_table(ops: pd.DataFrame, whole: pd.DataFrame, artifact: dict[str, Any], device: str) -> pd.DataFrame:
    """Every zoo network timed whole against its prediction through `predict_graph` (the path
    `fdi predict` takes): measured and predicted ms, error, the share of its ops priced, and
    whether its ops trained the models (role sample) or not (test)."""
    rows = []
    for network, its_ops in ops.groupby("network", sort=False):
        priced, total = predict_graph(its_ops.reset_index(drop=True), artifact)
        computed = priced[~priced.kind.isin(RELABEL_KINDS)]
        rows.append(
            {
                "device": device,
                "network": network,
                "role": its_ops.role.iloc[0],
                "ops": len(computed),
                "ops_priced_pct": 100 * float(computed.predicted_ms.notna().mean())
                if len(computed)
                else 100.0,
                "extrapolated_ops": int((priced.note != "").sum()),
                "measured_ms": whole.measured_ms.get(network, np.nan),
                "flagged": bool(whole.flagged.get(network, True)),
                "predicted_ms": total,
            }
        )
    table = pd.DataFrame(rows)
    table["error_pct"] = 100 * (table.predicted_ms / table.measured_ms - 1)
    return table


def zoo_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per device and role: networks, architectures, share within ±10%, median |error|, Spearman,
    and the share of ops priced; a network whose time never settled is counted, not scored."""
    from scipy.stats import spearmanr

    rows = []
    for (device, role), part in table.groupby(["device", "role"], sort=False):
        flagged = part.flagged | part.measured_ms.isna()
        part = part[~flagged]
        rows.append(
            {
                "device": device,
                "role": role,
                "networks": len(part),
                "flagged": int(flagged.sum()),
                "architectures": part.network.str.split("-").str[0].nunique(),
                "within_10_pct": 100 * float((part.error_pct.abs() <= 10).mean()),
                "median_abs_error_pct": float(part.error_pct.abs().median()),
                "spearman": float(spearmanr(part.predicted_ms, part.measured_ms).statistic)
                if len(part) > 2
                else np.nan,
                "ops_priced_pct": float(part.ops_priced_pct.mean()),
            }
        )
    return pd.DataFrame(rows)
