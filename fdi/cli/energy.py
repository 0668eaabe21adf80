"""`fdi energy`: one timings file's energy per inference, as Parquet (a Snakemake step per file)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg


def cmd_energy(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.energy.compute import energy_of_timings, summarise
    from fdi.energy.traces import TraceError

    timings = pd.read_parquet(args.timings)
    try:
        energy = energy_of_timings(timings, args.device, args.settings, args.traces)
    except TraceError as error:
        raise SystemExit(f"fdi energy ({args.timings}): {error}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    energy.to_parquet(args.out, index=False)
    if energy.empty:
        print(f"{args.device}: no energy readings in {args.timings} (source unavailable): not measured")
        return
    summary = summarise(energy)
    print(
        f"{args.device}: {len(energy)} blocks of {summary.id.nunique()} graphs, idle "
        f"{energy.idle_power_w.median():.3f} W, blocks {energy.power_w.median():.3f} W (median); "
        f"energy per inference {summary.energy_mj.min():.4g}-{summary.energy_mj.max():.4g} mJ, "
        f"median spread {100 * summary.energy_spread.median():.1f}% -> {args.out}"
    )


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add(
        "energy",
        cmd_energy,
        "Energy per inference of every timed block of one timings file, from the device's energy "
        "source (RAPL or battery readings in the timings, or power-meter traces), the idle baseline "
        "subtracted.",
    )
    p.add_argument("--device", required=True)
    p.add_argument("--settings", type=json_arg, required=True, help="the device's settings (JSON)")
    p.add_argument(
        "--traces",
        type=json_arg,
        default=[],
        help="the device's power-meter traces (JSON list: path, format, start_utc, units, ...)",
    )
    p.add_argument("--timings", type=Path, required=True, help="results/timings/DEVICE/....parquet")
    p.add_argument("--out", type=Path, required=True, help="results/energy/DEVICE/....parquet")
