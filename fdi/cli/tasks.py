"""The tasks' commands: prepare real data, train and export the originals, the tasks table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg, pairs
from fdi.cli.timemodel import _networks


def cmd_task_prepare(args: argparse.Namespace) -> None:
    from fdi.tasks.prepare import prepare

    record = prepare(args.task, args.settings, args.out, args.cache_dir)
    print(
        f"{args.task}: {record['data']}, {record['n_train']} train / {record['n_test']} test, "
        f"{len(record['classes'])} classes, sha256 {record['sha256'][:16]}... -> {args.out}"
    )


def cmd_task_train(args: argparse.Namespace) -> None:
    from fdi.tasks.train import train

    train(args.task, args.settings, args.data, args.out_model, args.metrics, args.checkpoint_dir)


def cmd_task_export(args: argparse.Namespace) -> None:
    from fdi.tasks.train import export_trained

    widths = export_trained(args.model, args.task, args.settings["family"], args.out)
    print(f"{args.task}: {args.settings['family']} {widths} at batch 1 -> {args.out}")


def cmd_tasks_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.tasks.table import task_structures, tasks_markdown, tasks_table

    timings = {device: pd.read_parquet(path) for device, path in pairs(args.task_timings).items()}
    networks = _networks(args, task_structures(args.metrics), timings)
    table = tasks_table(networks, args.metrics)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    args.markdown.write_text(tasks_markdown(table))
    print(args.markdown.read_text())


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add(
        "task-prepare",
        cmd_task_prepare,
        "Read a task's real data (Fashion-MNIST, CIFAR-10, digits, seglearn's watch, HHAR) and save it "
        "as a checksummed .npz in the family's input shape, split for training and test.",
    )
    p.add_argument("--task", required=True, help="the task's name in config (e.g. vgg)")
    p.add_argument("--settings", type=json_arg, required=True, help="the task's config entry as JSON")
    p.add_argument("--cache-dir", type=Path, required=True, help="where downloads are kept")
    p.add_argument("--out", type=Path, required=True, help="the prepared .npz (its record goes beside it)")

    p = add(
        "task-train",
        cmd_task_train,
        "Train the task's network (seeded; resumes from --checkpoint-dir after a kill); save it and "
        "its test accuracy.",
    )
    p.add_argument("--task", required=True)
    p.add_argument("--settings", type=json_arg, required=True, help="the task's config entry as JSON")
    p.add_argument("--data", type=Path, required=True, help="the prepared .npz")
    p.add_argument("--out-model", type=Path, required=True, help="the trained .keras model")
    p.add_argument("--metrics", type=Path, required=True, help="metrics.json")
    p.add_argument("--checkpoint-dir", type=Path, required=True, help="the last finished epoch's state")

    p = add("task-export", cmd_task_export, "Convert a trained task network to the timed .tflite (batch 1).")
    p.add_argument("--task", required=True)
    p.add_argument("--settings", type=json_arg, required=True)
    p.add_argument("model", type=Path, help="the trained .keras model")
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "tasks-table",
        cmd_tasks_table,
        "The trained tasks' accuracy beside measured and predicted time, as in the networks table.",
    )
    p.add_argument("--metrics", nargs="+", type=Path, required=True, help="results/tasks/TASK/metrics.json")
    p.add_argument(
        "--task-timings", nargs="+", required=True, help="DEVICE=results/timings/DEVICE/tasks.parquet"
    )
    p.add_argument("--structures", nargs="+", type=Path, required=True, help="net_<family> structures")
    p.add_argument("--timings", nargs="+", type=Path, required=True, help="the networks' campaign timings")
    p.add_argument("--checks", nargs="+", required=True, help="DEVICE=check.parquet")
    p.add_argument("--time-models", nargs="+", type=Path, required=True, help="results/registry/DEVICE.json")
    p.add_argument("--settings", type=json_arg, required=True, help="per device: its instrument settings")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)
