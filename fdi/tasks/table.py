"""The trained tasks' row in the whole-network comparison: accuracy beside measured and predicted
time, computed by fdi.timemodel.whole_networks exactly as for the random-width networks (same time
models, same in-network term fitted on the campaign's calibration networks)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def task_structures(metrics_paths: list[Path]) -> pd.DataFrame:
    """One structure row per trained task (role "task"), from its metrics.json."""
    rows = []
    for path in metrics_paths:
        metrics = json.loads(Path(path).read_text())
        rows.append(
            {
                "family": metrics["family"],
                "id": f"task-{metrics['task']}",
                "widths": json.dumps(metrics["widths"]),
                "role": "task",
            }
        )
    return pd.DataFrame(rows)


def tasks_table(networks: pd.DataFrame, metrics_paths: list[Path]) -> pd.DataFrame:
    """The task rows of a networks table, with each task's data and accuracy."""
    metrics = pd.DataFrame([json.loads(Path(p).read_text()) for p in metrics_paths])
    metrics["id"] = "task-" + metrics.task
    metrics["training"] = [_training(record) for record in metrics.to_dict("records")]
    keep = ["id", "task", "data", "n_train", "n_test", "epochs", "training", "test_accuracy", "test_top5"]
    keep.append("train_wall_s")
    rows = networks[networks.role == "task"].merge(metrics[keep], on="id", how="left")
    return rows


def _training(record: dict) -> str:
    """How long the original trained and why it stopped (issue 29: a converged original)."""
    if pd.isna(record.get("epochs_run", float("nan"))):
        return f"{record['epochs']} epochs (fixed)"
    end = "plateaued" if record["plateaued"] else f"cap of {record['epoch_cap']} reached, not plateaued"
    run, best = int(record["epochs_run"]), int(record["best_epoch"])
    text = f"{run} epochs, best {best} ({end}; {record['plateau_rule']})"
    anneal = record.get("anneal")
    if isinstance(anneal, dict):  # the compressed networks' fine-tune as the last phase
        tune = anneal["settings"]
        text += (
            f", then annealed as the compressed networks are fine-tuned ({tune.get('epochs')} epochs, "
            f"{tune.get('schedule', 'cosine')} from {tune.get('learning_rate'):g}; test "
            f"{100 * anneal['test_accuracy_before']:.2f}% before)"
        )
    return text


def tasks_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| device | task | data (train / test) | widths | test accuracy | top-5 | measured ms "
        "| predicted ms | error | train s | training |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        top5 = "-" if pd.isna(row.test_top5) else f"{100 * row.test_top5:.1f}%"
        lines.append(
            f"| {row.device} | {row.task} | {row.data} ({row.n_train} / {row.n_test}) | {row.widths} "
            f"| {100 * row.test_accuracy:.1f}% | {top5} | {row.measured_ms:.3f} | {row.predicted_ms:.3f} "
            f"| {row.error_pct:+.1f}% | {row.train_wall_s:.0f} | {row.training} |"
        )
    return "\n".join(lines) + "\n"
