"""Choose the time term's lambda for DeepSense without looking at its test users.

The test users (config: tasks.deepsense.test_subjects) are dropped from the data altogether;
three other users are held out as validation users. On that split the original is trained under
the task's seed and three more (its accuracy spread gives the bar, as compress_table's), then
DeepIoT and FastDeepIoT at each lambda search from the seed's original under each search seed,
and every point is fine-tuned and judged on the validation users (compress-finish, Algorithm 2
included). Prints every point (predicted time as a fraction of the original's, from the device's
time models) and per lambda the mean accuracy and the picks at the bar.

Run it in a workflow directory after `make run` (it needs results/registry/DEVICE.json and
results/dataset/DEVICE.parquet); about 75 s per search on 2 cores:

    .venv/bin/python benchmarks/deepsense_lambda.py --lambdas 4 2 1 0.5 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fdi.cli.compress import time_models
from fdi.compress.finish import finish
from fdi.compress.objectives import StructureCost
from fdi.compress.search import search
from fdi.compress.table import accuracy_bar
from fdi.tasks import artefact, inertial
from fdi.tasks.train import train


def validation_task(settings: dict, validation_users: list[int], out: Path) -> None:
    """The task's windows without its test users, the validation users held out as `test`."""
    if out.exists():
        held_out = json.loads(artefact.record_path(out).read_text())["test_subjects"]
        if held_out != validation_users:
            raise SystemExit(
                f"{out} holds out users {held_out}, not {validation_users}: use another --out-dir"
            )
        return
    overlap = sorted(set(validation_users) & set(settings["test_subjects"]))
    if overlap:
        raise SystemExit(
            f"--validation-users {overlap} are tasks.deepsense.test_subjects: the point is not to see them"
        )
    recordings, classes = inertial.load_watch()
    windows = inertial.deepsense_windows(
        recordings, int(settings["interval_samples"]), int(settings["window_step"])
    )
    kept = ~np.isin(windows["subject"], settings["test_subjects"])
    arrays = inertial.leave_users_out({k: v[kept] for k, v in windows.items()}, validation_users)
    record = {
        "task": "deepsense-validation",
        "data": "watch",
        "seed": 0,
        "source": "seglearn.datasets.load_watch",
        "test_subjects": validation_users,
        "dropped_subjects": list(settings["test_subjects"]),
        "classes": classes,
        "n_train": len(arrays["y_train"]),
        "n_test": len(arrays["y_test"]),
    }
    artefact.save(out, arrays, record)


def as_list(widths: str | list[int]) -> list[int]:
    """points.parquet keeps widths as JSON text."""
    return json.loads(widths) if isinstance(widths, str) else [int(w) for w in widths]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", type=Path, default=Path("config/config.yaml"), help="the task and compress settings"
    )
    parser.add_argument("--device", default="host", help="whose time models steer FastDeepIoT")
    parser.add_argument(
        "--lambdas", type=float, nargs="+", default=[4.0, 2.0, 1.0, 0.5], help="the time term's weights"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="search seeds")
    parser.add_argument("--original-seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--validation-users", type=int, nargs="+", default=[5, 6, 7])
    parser.add_argument("--iterations", type=int, help="override compress.search.iterations (a quick check)")
    parser.add_argument("--out-dir", type=Path, default=Path("results/experiments/deepsense_lambda"))
    args = parser.parse_args()

    entry = Path(f"results/registry/{args.device}.json")
    if not entry.is_file():
        raise SystemExit(f"no {entry} here: run `make run` first")
    config = yaml.safe_load(args.config.read_text())
    task = {k: v for k, v in config["tasks"]["deepsense"].items() if k != "spread_seeds"}
    compress = config["compress"]
    out = args.out_dir
    data = out / "data.npz"
    validation_task(task, args.validation_users, data)
    accuracies = []
    for seed in args.original_seeds:
        run = out / f"original-seed-{seed}"
        if not (run / "metrics.json").exists():
            train(
                "deepsense",
                {**task, "seed": seed},
                data,
                run / "original.keras",
                run / "metrics.json",
                run / "ckpt",
            )
        accuracies.append(json.loads((run / "metrics.json").read_text())["test_accuracy"])
    bar, _ = accuracy_bar(
        accuracies[0],
        accuracies[1:],
        float(compress.get("accuracy_tolerance", 0.01)),
        float(compress.get("accuracy_spread_sd", 2.0)),
    )
    print(f"validation originals {np.round(accuracies, 4).tolist()}: bar {bar:.4f}", flush=True)

    models = time_models([entry])[args.device]
    original = out / f"original-seed-{args.original_seeds[0]}" / "original.keras"
    targets = compress.get("task_targets", {}).get("deepsense", compress["targets"])
    runs = [("deepiot", "none", 0.0)] + [(f"fastdeepiot-lambda-{w:g}", "time", w) for w in args.lambdas]
    rows = []
    for seed in args.seeds:
        for name, objective, weight in runs:
            run = out / f"{name}-seed-{seed}"
            if not (run / "final" / "points.parquet").exists():
                settings = {
                    **compress["search"],
                    "targets": targets,
                    "objective": objective,
                    "lambda": weight,
                    "seed": seed,
                }
                if args.iterations:
                    settings["iterations"] = args.iterations
                steering = models if objective == "time" else None
                search(original, data, "deepsense", settings, run, steering, log=lambda _: None)
                finishing = {k: compress.get(k, {}) for k in ("finetune", "localmin")}
                finish("deepsense", name, run, data, finishing, run / "final", steering, log=lambda _: None)
            points = pd.read_parquet(run / "final" / "points.parquet")
            widths = [as_list(w) for w in points.widths]
            original_widths = as_list(points.original_widths.iloc[0])
            cost = StructureCost("time", "deepsense", original_widths, models)
            for w, (_, point) in zip(widths, points.iterrows(), strict=True):
                rows.append(
                    {
                        "run": name,
                        "seed": seed,
                        "lambda": weight,
                        "target": point.target,
                        "widths": w,
                        "params": round(float(point.parameter_fraction), 3),
                        "predicted_time": round(float(cost([w])[0]), 3),
                        "accuracy": round(float(point.test_accuracy), 4),
                    }
                )
            print(f"{name} seed {seed} done", flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "points.csv", index=False)
    print(frame.to_string(index=False))
    summary = frame.groupby("run", sort=False).agg(
        mean_accuracy=("accuracy", "mean"),
        best_accuracy=("accuracy", "max"),
        mean_predicted_time=("predicted_time", "mean"),
    )
    picks = frame[frame.accuracy >= bar].groupby(["run", "seed"]).predicted_time.min().reset_index()
    summary["runs_with_a_pick"] = picks.groupby("run").size().reindex(summary.index, fill_value=0)
    summary["fastest_pick"] = picks.groupby("run").predicted_time.min().reindex(summary.index)
    print(f"\nper run kind over search seeds {args.seeds} (bar {bar:.4f}):")
    print(summary.round(4).to_string())


if __name__ == "__main__":
    main()
