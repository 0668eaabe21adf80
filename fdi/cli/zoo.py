"""The zoo's commands (issue 27): fit a device's op models on the zoo, and the zoo table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg


def cmd_fit_ops(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.timemodel.op_models import layer_ops
    from fdi.timemodel.op_registry import fit_artifact, read_zoo, tree_settings, write_artifact

    ops, measured = read_zoo(args.graphs, args.timings, args.settings)
    extra = layer_ops(pd.read_parquet(args.dataset)) if args.dataset else None
    artifact = fit_artifact(ops, measured, tree_settings(args.time_model), extra)
    write_artifact(artifact, args.out)
    for kind, data in artifact["kinds"].items():
        layers = f" + {data['campaign_layers']} campaign layers" if data["campaign_layers"] else ""
        print(f"{kind}: {data['ops']} ops{layers}, x = {', '.join(data['model']['params']['fit_columns'])}")
    term = artifact["in_network"]
    print(
        f"in-network term on {len(artifact['sample_networks'])} sample networks:"
        f" {term['call_ms'] * 1000:.2f} us per call, {term['ms_per_mb']:.4f} ms per MB beyond"
        f" {term['free_mb']:g} MB (ops capped at {term['cap_mb']} MB);"
        f" leave-one-out MAPE {term['leave_one_out_mape_pct']:.1f}% -> {args.out}"
    )


def cmd_zoo_table(args: argparse.Namespace) -> None:
    from fdi.timemodel.device_model import DeviceTimeModel
    from fdi.timemodel.op_registry import read_zoo, zoo_summary, zoo_table

    try:
        time_model = DeviceTimeModel.load(args.time_model)
    except ValueError as error:
        raise SystemExit(f"fdi zoo-table: {error}") from error
    if time_model.op_kinds is None:
        raise SystemExit(f"fdi zoo-table: {args.time_model} has no op models (no zoo when it was made)")
    ops, measured = read_zoo(args.graphs, args.timings, args.settings)
    table = zoo_table(ops, measured, time_model.op_kinds, args.device)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    summary = zoo_summary(table)
    args.markdown.write_text(
        "# Zoo networks: measured whole vs predicted op by op\n\n"
        + summary.round(3).to_markdown(index=False)
        + "\n\n"
        + table.round(3).to_markdown(index=False)
        + "\n"
    )
    print(summary.round(3).to_string(index=False))


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add(
        "fit-ops",
        cmd_fit_ops,
        "Fit one device's op models (an Algorithm 1 tree per op kind) and the in-network term on the zoo.",
    )
    p.add_argument(
        "--graphs", type=Path, nargs="+", required=True, help="the zoo's graph folders (their ops.parquet)"
    )
    p.add_argument(
        "--timings", type=Path, nargs="+", required=True, help="the device's timings of those folders"
    )
    p.add_argument("--settings", type=json_arg, required=True, help="the device's instrument settings (JSON)")
    p.add_argument("--time-model", type=json_arg, required=True, help="the time_model settings (JSON)")
    p.add_argument(
        "--dataset",
        type=Path,
        help="results/dataset/DEVICE.parquet: its conv and FC layers train CONV_2D and FULLY_CONNECTED too",
    )
    p.add_argument("--out", type=Path, required=True, help="results/models/DEVICE/ops.json")

    p = add(
        "zoo-table",
        cmd_zoo_table,
        "The zoo's networks timed whole against their prediction op by op (as fdi predict makes it).",
    )
    p.add_argument("--device", required=True)
    p.add_argument("--graphs", type=Path, nargs="+", required=True, help="the zoo's graph folders")
    p.add_argument(
        "--timings", type=Path, nargs="+", required=True, help="the device's timings of those folders"
    )
    p.add_argument(
        "--time-model", type=Path, required=True, help="results/registry/DEVICE.json (with its op models)"
    )
    p.add_argument("--settings", type=json_arg, required=True, help="the device's instrument settings (JSON)")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)
