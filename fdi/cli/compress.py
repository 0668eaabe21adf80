"""The `fdi compress-*` subcommands: one per workflow step of the compression stage."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg, pairs


def time_models(paths: list[Path]) -> dict[str, Any]:
    """{device: its time model} from results/registry/DEVICE.json (fdi.timemodel.device_model)."""
    from fdi.timemodel.device_model import load_time_models

    try:
        return load_time_models(paths or [])
    except ValueError as error:
        raise SystemExit(str(error)) from error


def pin_threads(threads: int | None) -> None:
    """TensorFlow's thread pools at `threads` (before it runs anything): the search and the
    fine-tune take a different, equally deterministic path at each thread count, so the count
    is part of a job's settings, not whatever the machine has."""
    if threads is None:
        return
    if threads < 1:
        raise SystemExit(f"--threads must be at least 1, got {threads}")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def files_digest(paths: list[Path]) -> str:
    """sha256 over the named files' bytes, in the order given: what a search was made from."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(Path(path).name).encode())
        with Path(path).open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def cmd_search(args: argparse.Namespace) -> None:
    from fdi.compress.search_seeds import search_seeds

    pin_threads(args.threads)
    settings = dict(args.settings)
    models = time_models(args.time_models)
    time_model = models.get(args.device) if args.device else None
    if settings.get("objective") == "time" and time_model is None:
        raise SystemExit(f"compress-search {args.variant}: the time objective needs --device and its models")
    inputs = [args.original, args.data]
    if time_model is not None:
        inputs += list(args.time_models)
    result = search_seeds(
        args.original,
        args.data,
        args.family,
        settings,
        args.out_dir,
        time_model,
        log=_log,
        inputs_digest=files_digest(inputs),
    )
    print(
        f"{args.task} {args.variant}: {len(result['points'])} points from search seeds {result['seeds']}, "
        f"targets no search reached {result['unreached_targets']}"
    )


def cmd_finish(args: argparse.Namespace) -> None:
    from fdi.compress.finish import finish

    pin_threads(args.threads)
    models = time_models(args.time_models)
    if args.expand_with and args.expand_with not in models:
        raise SystemExit(
            f"compress-finish: --expand-with {args.expand_with} needs that device's --time-models entry"
        )
    frame = finish(
        args.task,
        args.variant,
        args.search_dir,
        args.data,
        args.settings,
        args.out_dir,
        models.get(args.expand_with) if args.expand_with else None,
        log=_log,
    )
    print(f"{args.task} {args.variant}: {len(frame)} points finished -> {args.out_dir / 'points.parquet'}")


def cmd_localmin(args: argparse.Namespace) -> None:
    from fdi.compress.finish import localmin

    models = time_models(args.time_models)
    if args.device not in models:
        raise SystemExit(f"compress-localmin: --device {args.device} needs that device's --time-models entry")
    frame = localmin(
        args.task,
        args.device,
        args.deepiot_dir,
        args.data,
        args.settings,
        args.out_dir,
        models[args.device],
        log=_log,
    )
    print(
        f"{args.task} DeepIoT+localMin on {args.device}: {len(frame)} rows "
        f"-> {args.out_dir / 'points.parquet'}"
    )


def cmd_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.compress import equal_accuracy, table
    from fdi.energy.compute import load_summaries

    models = time_models(args.time_models)
    points = pd.concat([pd.read_parquet(p) for p in args.points], ignore_index=True)
    originals = table.original_rows(args.metrics)
    timings = {device: pd.read_parquet(path) for device, path in pairs(args.timings).items()}
    energy = load_summaries(args.energy)
    curve = table.curves(points, originals, table.measured(timings, args.settings), models, energy)
    args.curves.parent.mkdir(parents=True, exist_ok=True)
    curve.to_csv(args.curves, index=False)
    devices = sorted(timings)
    other_seeds = table.seed_accuracies(args.spread_metrics)
    for task, rows in curve.groupby("task"):
        family = rows.family.dropna().iloc[0]
        number = table.TABLE_NUMBER[family]
        original = float(rows[rows.variant == "original"].test_accuracy.iloc[0])
        bar, why = table.accuracy_bar(original, other_seeds.get(task, []), args.tolerance, args.spread_sd)
        frame = table.task_table(rows, family, devices, bar)
        frame = pd.concat([frame, equal_accuracy.table_rows(rows, devices, args.levels)])
        csv = args.tables_dir / f"table{number}.csv"
        frame.to_csv(csv)
        name = task if task == family else f"{task} ({family})"
        title = f"Table {number}: {name}, each variant's most compressed point at the original's accuracy"
        notes = [
            why,
            *equal_accuracy.summary(rows, devices, args.levels),
            *table.seed_picks(rows, bar, devices),
            *table.ranking(rows, devices),
        ]
        converged = equal_accuracy.above_original(rows, other_seeds.get(task, []), args.spread_sd)
        if converged:
            notes.append(converged)
        if other_seeds.get(task):
            strict = original - args.tolerance
            kept = table.kept_by(rows, strict)
            notes.append(
                f"Against this original alone (>= {100 * strict:.2f}%) the variants with a point that "
                f"keeps its accuracy: {', '.join(kept) if kept else 'none'}."
            )
        (args.tables_dir / f"table{number}.md").write_text(table.markdown(frame, title, notes))
        for note in notes:
            print(f"{task}, {note}")
        levels = equal_accuracy.levels(original, args.levels)
        table.figure(rows, task, devices, args.figures_dir / f"fig5_{task}.png", levels)
        print(f"{task}: table{number}.csv/.md, fig5_{task}.png")


def _log(message: str) -> None:
    print(message, flush=True)


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    """Register the compression subcommands with the `fdi` parser."""

    def models(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--time-models",
            nargs="*",
            type=Path,
            default=[],
            help="results/registry/DEVICE.json: a device's time model (fdi register)",
        )

    def threads(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--threads",
            type=int,
            help="TensorFlow's threads (default: its own choice); results depend on the count",
        )

    p = add("compress-search", cmd_search, "DeepIoT's compressor-critic search of one variant; resumable.")
    p.add_argument("--task", required=True)
    p.add_argument("--variant", required=True, help="deepiot, deepiot_flops or fastdeepiot_DEVICE")
    p.add_argument(
        "--family",
        required=True,
        choices=["vgg", "deepsense"],
        help="the task's family: how its prepared data feeds the network, and the widths it ties "
        "(the network itself is read from --original's graph; any other model: `fdi compress`)",
    )
    p.add_argument(
        "--settings",
        type=json_arg,
        required=True,
        help="the search's settings (JSON), objective included; `seeds`: one search per seed, points merged",
    )
    p.add_argument("--device", help="whose time models the time objective uses")
    p.add_argument("--original", type=Path, required=True, help="the trained original .keras")
    p.add_argument("--data", type=Path, required=True, help="the task's prepared .npz")
    p.add_argument(
        "--out-dir", type=Path, required=True, help="search.json (the merged curve) and seed-S/ go here"
    )
    threads(p)
    models(p)

    p = add("compress-finish", cmd_finish, "Fine-tune, judge and export every point of a search.")
    p.add_argument("--task", required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--search-dir", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--settings", type=json_arg, required=True, help="{finetune: ..., localmin: ...}")
    p.add_argument("--expand-with", help="a device: widen each point by Algorithm 2 first (FastDeepIoT)")
    p.add_argument("--out-dir", type=Path, required=True)
    threads(p)
    models(p)

    p = add("compress-localmin", cmd_localmin, "DeepIoT+localMin (and t_min) from DeepIoT's finished points.")
    p.add_argument("--task", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--deepiot-dir", type=Path, required=True, help="DeepIoT's finish directory")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--settings", type=json_arg, required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    models(p)

    p = add("compress-table", cmd_table, "Tables 6 and 8, the curves and Figure 5 from the measured points.")
    p.add_argument("--points", nargs="+", type=Path, required=True, help="every variant's points.parquet")
    p.add_argument("--metrics", nargs="+", type=Path, required=True, help="the originals' metrics.json")
    p.add_argument(
        "--timings", nargs="+", required=True, help="DEVICE=results/timings/DEVICE/compress.parquet"
    )
    p.add_argument("--settings", type=json_arg, required=True, help="per device: its instrument settings")
    p.add_argument("--tolerance", type=float, required=True, help="accuracy a pick may lose (fraction)")
    p.add_argument(
        "--levels",
        nargs="+",
        type=float,
        default=[0.0, 0.005, 0.01, 0.02],
        help="compare the variants at the original's accuracy minus each of these (fractions; "
        "default: the original's, 0.5, 1 and 2 points below)",
    )
    p.add_argument(
        "--spread-metrics",
        nargs="*",
        type=Path,
        default=[],
        help="metrics.json of the originals trained again under other seeds (their accuracy spread)",
    )
    p.add_argument(
        "--spread-sd",
        type=float,
        required=True,
        help="with --spread-metrics: a pick may fall this many s.d. of the seeds' accuracies below the mean",
    )
    p.add_argument(
        "--energy",
        nargs="*",
        type=Path,
        default=[],
        help="results/energy/DEVICE/compress.parquet (if measured)",
    )
    p.add_argument("--curves", type=Path, required=True, help="every point, as CSV")
    p.add_argument("--tables-dir", type=Path, required=True)
    p.add_argument("--figures-dir", type=Path, required=True)
    models(p)
