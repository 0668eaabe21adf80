"""The profiling stage's commands: sample, export, time and aggregate."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg


def cmd_sample(args: argparse.Namespace) -> None:
    from fdi.profile.space import sample_scope_from

    structures = sample_scope_from(args.scope, args.kind, args.settings, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    structures.to_parquet(args.out, index=False)
    print(f"{args.scope}: {len(structures)} rows in {structures.network.nunique()} networks -> {args.out}")


def cmd_export(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.profile.export import export_shard
    from fdi.profile.space import ZOO_SCOPE

    structures = pd.read_parquet(args.structures)
    shard = structures[structures.shard == args.shard]
    if shard.empty:
        raise SystemExit(f"{args.structures}: shard {args.shard} holds no components")
    if (shard.scope == ZOO_SCOPE).all():
        from fdi.profile import zoo

        table = zoo.export_shard(shard, args.out)
        print(f"exported {len(shard)} zoo networks and their ops -> {args.out} ({table.name})")
        return
    paths = export_shard(shard, args.out)
    print(f"exported {len(paths)} graphs -> {args.out}")


def cmd_export_reference(args: argparse.Namespace) -> None:
    from fdi.profile.export import export_fixed_graph

    print(f"reference graph -> {export_fixed_graph('reference', args.out)}")


def cmd_export_cache_probe(args: argparse.Namespace) -> None:
    from fdi.profile.export import export_fixed_graph

    print(f"cache probe graph -> {export_fixed_graph('cache_probe', args.out)}")


def cmd_benchmark(args: argparse.Namespace) -> None:
    if args.settings.get("kind") == "host":
        from fdi.profile.devices.host import huge_pages_environment

        environment = huge_pages_environment(args.settings, dict(os.environ))
        if environment is not None:  # glibc reads it at start: the same command in a new process
            print(
                f"{args.device}: restarting with GLIBC_TUNABLES={environment['GLIBC_TUNABLES']}", flush=True
            )
            command = [sys.executable, "-m", "fdi.cli", *args.argv]
            returncode = subprocess.run(command, env=environment, check=False).returncode
            if returncode:
                raise SystemExit(returncode)
            return
    from fdi.profile.devices import run_benchmark

    graphs: list[Path] = []
    for path in args.graphs:
        graphs.extend(sorted(path.glob("*.tflite")) if path.is_dir() else [path])
    for listed in args.graph_list:
        graphs.extend(Path(line.strip()) for line in listed.read_text().splitlines() if line.strip())
    if not graphs:
        raise SystemExit("no graphs to benchmark: give --graphs DIR|FILE... or --graph-list FILE")
    timings = run_benchmark(args.device, args.settings, graphs, args.out, args.reference, args.cache_probe)
    components = timings[timings.role == "component"] if "role" in timings else timings
    passes = components.groupby("id").size()
    print(
        f"{args.device}: timed {len(passes)} graphs in {passes.sum()} passes"
        f" ({(passes > passes.min()).sum()} needed more than {passes.min()}) -> {args.out}"
    )


def cmd_check_graphs(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.timemodel.dataset import test_ids

    structures = [pd.read_parquet(p) for p in args.structures]
    ids = test_ids(structures, args.split)
    by_id = {path.stem: path for directory in args.graph_dirs for path in Path(directory).glob("*.tflite")}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise SystemExit(f"no graph for {len(missing)} test components, e.g. {missing[:3]}")
    networks = sorted(path for directory in args.network_dirs for path in Path(directory).glob("*.tflite"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(f"{path}\n" for path in [by_id[i] for i in ids] + networks))
    print(f"{len(ids)} test components and {len(networks)} networks to time again -> {args.out}")


def cmd_aggregate(args: argparse.Namespace) -> None:
    from fdi.timemodel.dataset import aggregate

    aggregate(
        args.structures, args.timings, args.split, args.device_settings, args.out, args.check, args.campaign
    )
    print(f"dataset -> {args.out}")


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add("sample", cmd_sample, "Sample the random networks of one layer type (or the Figure 1 sweep).")
    p.add_argument("--scope", required=True, help="fc, cnn, gru, lstm, sweep, a family, net_<family> or zoo")
    p.add_argument(
        "--kind",
        required=True,
        choices=["layer", "sweep", "family", "network", "zoo"],
        help="Table 2 random layers, the Figure 1 sweep, a family's layer shapes, whole networks, or the zoo",
    )
    p.add_argument("--settings", type=json_arg, required=True, help="the scope's settings (JSON)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="Parquet file of structures")

    p = add("export", cmd_export, "Export one shard of structures to one .tflite graph per component.")
    p.add_argument("--structures", type=Path, required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the .tflite files")

    p = add("export-reference", cmd_export_reference, "Export the fixed reference graph of the instrument.")
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "export-cache-probe",
        cmd_export_cache_probe,
        "Export the fixed cache probe graph (24 MiB of FC weights) the instrument times before large graphs.",
    )
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "benchmark",
        cmd_benchmark,
        "Time .tflite graphs on one device, re-measuring until two passes agree, with a reference graph "
        "timed in between.",
    )
    p.add_argument("--device", required=True, help="the device's name in the config")
    p.add_argument("--settings", type=json_arg, required=True, help="this device's settings (JSON)")
    p.add_argument("--graphs", type=Path, nargs="+", default=[], help="directories of graphs, or graph files")
    p.add_argument(
        "--graph-list",
        type=Path,
        nargs="+",
        default=[],
        help="files naming one graph per line (added to --graphs, in order)",
    )
    p.add_argument("--reference", type=Path, help="the reference graph timed every reference_every passes")
    p.add_argument(
        "--cache-probe",
        type=Path,
        help="the cache probe graph, timed before every pass over a graph of at least the device's "
        "cache_probe.min_graph_megabytes (if its settings have cache_probe)",
    )
    p.add_argument("--out", type=Path, required=True, help="Parquet file of timings")

    p = add("check-graphs", cmd_check_graphs, "List the test components' graphs, for the later check job.")
    p.add_argument("--structures", type=Path, nargs="+", required=True)
    p.add_argument("--graph-dirs", type=Path, nargs="+", required=True)
    p.add_argument("--network-dirs", type=Path, nargs="*", default=[], help="every network graph is listed")
    p.add_argument("--split", type=json_arg, required=True)
    p.add_argument("--out", type=Path, required=True, help="text file, one graph path per line")

    p = add("aggregate", cmd_aggregate, "Join structures, Table 3 features and timings into one dataset.")
    p.add_argument("--structures", type=Path, nargs="+", required=True)
    p.add_argument("--timings", type=Path, nargs="+", required=True)
    p.add_argument("--split", type=json_arg, required=True, help='{"test_fraction": .25, "seed": 0}')
    p.add_argument(
        "--device-settings",
        type=json_arg,
        required=True,
        help="the device's settings (JSON): statistic, agree_tolerance, max_passes, repeats",
    )
    p.add_argument("--check", type=Path, help="timings of the test rows from the later check job")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--campaign", type=Path, help="CSV of what the campaign went through (passes, waits, unsettled)"
    )
