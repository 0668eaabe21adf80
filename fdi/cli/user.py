"""`fdi compress`: a user's own Keras model made smaller (and, with a device's time models, faster)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg
from fdi.cli.compress import pin_threads

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "config.schema.yaml"


USER_FINETUNE_RATE = 1e-4
"""Adam's rate for fine-tuning a user's points. A user's model arrives trained to its optimum, and
one epoch at the tasks' 5e-4 (fdi.compress.finish) took a converged image model from 0.919 to
0.869 validation accuracy; three points fine-tuned at 1e-4 tested 0.80-0.86 points higher than
the same structures at 5e-4 (2026-12-02)."""


def device_time_model(registry: Path, device: str) -> Any:
    """The device's time model from the registry (`fdi register`; fdi.timemodel.device_model)."""
    from fdi.timemodel.device_model import DeviceTimeModel
    from fdi.timemodel.registry import load_entry

    return DeviceTimeModel.from_entry(load_entry(registry, device=device))


def device_settings(config_files: list[Path], device: str) -> dict[str, Any]:
    """The device's instrument settings from the workflow's configs (merged in order, as
    `snakemake --configfile` does; validated by the schema, which fills the defaults)."""
    import yaml
    from snakemake.utils import update_config, validate

    config: dict[str, Any] = {}
    for path in config_files:
        if not Path(path).is_file():
            raise SystemExit(f"fdi compress: {path}: no such config file")
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    validate(config, str(SCHEMA))
    if device not in config["devices"]:
        known = ", ".join(config["devices"])
        raise SystemExit(
            f"fdi compress: no device {device!r} in {', '.join(map(str, config_files))} (has {known})"
        )
    return config["devices"][device]


def cmd_compress(args: argparse.Namespace) -> None:
    from fdi.compress.user_model import compress_user_model
    from fdi.timemodel.registry import NoTimeModelError

    pin_threads(args.threads)
    if args.measure and not args.device:
        raise SystemExit("fdi compress: --measure needs --device (where to time the models)")
    measure = (args.device, device_settings(args.config, args.device)) if args.measure else None
    time_model = None
    if args.objective == "time" or args.expand:
        if not args.device:
            raise SystemExit(
                "fdi compress: --objective time and --expand need --device (whose time models to use)"
            )
        try:
            time_model = device_time_model(args.registry, args.device)
        except (NoTimeModelError, FileNotFoundError) as error:
            raise SystemExit(
                f"fdi compress: {error}; fit the device's time models first "
                "(snakemake results/tables/table5.csv) or use --objective flops"
            ) from error
    settings = {
        "objective": args.objective,
        "targets": args.targets,
        "iterations": args.iterations,
        "lambda": args.weight,
        "seed": args.seed,
        "accuracy_drop": args.accuracy_drop,
        "expand": args.expand,
        # the workflow's schedule scaled to the budget: the threshold reaches its final value in 33
        # steps by ~80% of the iterations; the structure is scored at every step (every other one,
        # before 2026-12-02, left the image model's time curve a gap from 48% to 39%, the bar in it)
        "threshold": {"final": 0.825, "steps": 33, "every": max(1, args.iterations // 40)},
        "eval_every": max(1, args.iterations // 40),
    }
    if args.search_seeds:
        settings["search_seeds"] = args.search_seeds
    finetune: dict[str, Any] = {"epochs": args.finetune_epochs, "seed": args.seed}
    if args.finetune_rate <= 0:
        raise SystemExit(f"fdi compress: --finetune-rate must be > 0, not {args.finetune_rate}")
    finetune["learning_rate"] = args.finetune_rate
    if args.finetune_patience is not None:
        if args.finetune_patience < 1:
            raise SystemExit(f"fdi compress: --finetune-patience must be >= 1, not {args.finetune_patience}")
        from fdi.tasks.plateau import at_patience

        finetune["plateau"] = at_patience(args.finetune_patience)
    ties = [group.split(",") for group in args.tie]
    try:
        rows = compress_user_model(
            args.model, args.data, args.out_dir, settings, finetune, time_model, ties, measure=measure
        )
    except ValueError as error:
        raise SystemExit(f"fdi compress: {error}") from error
    print(f"{len(rows)} compressed models -> {args.out_dir}/final (curve: {args.out_dir}/curve.json)")


def cmd_user_original(args: argparse.Namespace) -> None:
    from fdi.compress.user_model import export_original

    try:
        export_original(args.model, args.out)
    except ValueError as error:
        raise SystemExit(f"fdi compress-user-original: {error}") from error
    print(f"{args.model} at batch 1 -> {args.out}")


def cmd_user_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.cli.arguments import pairs
    from fdi.compress.user_table import write_user_table

    timings = {device: pd.read_parquet(path) for device, path in pairs(args.timings).items()}
    try:
        notes = write_user_table(
            args.name,
            args.curves,
            timings,
            args.settings,
            args.tolerance,
            args.levels,
            args.table,
            args.markdown,
            args.figure,
            args.points,
        )
    except ValueError as error:
        raise SystemExit(f"fdi compress-user-table: {error}") from error
    for note in notes:
        print(note)
    print(f"{args.name}: {args.table}, {args.markdown}, {args.figure}")


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add(
        "compress",
        cmd_compress,
        "Compress your own Keras model with DeepIoT, steered by parameters, FLOPs or a device's "
        "predicted time; writes each point's fine-tuned .keras and .tflite and a curve (resumable).",
    )
    p.add_argument("model", type=Path, help="a trained functional or Sequential .keras model")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="an .npz with x_train, y_train, x_test, y_test (class indices), optionally x_val, y_val",
    )
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--objective", choices=["time", "flops", "params", "none"], default="flops")
    p.add_argument("--device", help="with --objective time: whose time models (registry) steer the search")
    p.add_argument("--registry", type=Path, default=Path("results/registry"), help="default: %(default)s")
    p.add_argument(
        "--targets",
        type=float,
        nargs="+",
        default=[0.5, 0.4, 0.3],
        help="fractions of the objective's measure to stop at (default: %(default)s)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=2000,
        help="search iterations (default: %(default)s; at 600 the pruning threshold outran an image "
        "model's critic and no time-steered point kept its accuracy)",
    )
    p.add_argument("--weight", type=float, default=4.0, help="lambda: the cost's weight in the reward")
    p.add_argument(
        "--accuracy-drop",
        type=float,
        default=0.01,
        help="a point meets the goal within this of the original's validation accuracy",
    )
    p.add_argument(
        "--expand",
        action="store_true",
        help="Algorithm 2 (localMin): widen each point, before fine-tuning, to the widths --device's "
        "time models predict faster (lossless; with --objective time this is FastDeepIoT)",
    )
    p.add_argument(
        "--finetune-epochs",
        type=int,
        default=3,
        help="fine-tuning epochs per point; with --finetune-patience only the cap (default: %(default)s)",
    )
    p.add_argument(
        "--finetune-patience",
        type=int,
        metavar="N",
        help="fine-tune each point until its validation accuracy has not improved for N epochs (the "
        "rate halved after N/2, the best epoch kept): the rule an original trained to its plateau "
        "had, so neither side gets more training (default: a fixed --finetune-epochs)",
    )
    p.add_argument(
        "--finetune-rate",
        type=float,
        default=USER_FINETUNE_RATE,
        help="Adam's learning rate for each point's fine-tuning (default %(default)g: at the tasks' 5e-4 "
        "one epoch knocked a converged model off its optimum, and the same points tested 0.8-0.9 "
        "points lower; docs/results/2026-12-02-finetune-rate.md)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="the search's, the fine-tunes' and the validation split's"
    )
    p.add_argument(
        "--search-seeds",
        type=int,
        nargs="+",
        metavar="S",
        help="search once per seed and keep every search's points (one curve, the union): a search's "
        "luck at the accuracy bar moves a pick as much as its objective does (default: --seed alone; "
        "--seed's search is kept in OUT/search, the others' in OUT/search-seed-S)",
    )
    p.add_argument(
        "--tie",
        action="append",
        default=[],
        metavar="LAYER,LAYER",
        help="give these producers one width (e.g. parallel branches); repeatable",
    )
    p.add_argument("--threads", type=int, help="TensorFlow's threads (default: its own choice)")
    p.add_argument(
        "--measure",
        action="store_true",
        help="time the original and every point on --device with fdi's instrument (run nothing else then)",
    )
    p.add_argument(
        "--config",
        type=Path,
        nargs="+",
        default=[Path("config/config.yaml")],
        help="where --device's instrument settings are (merged in order; default: %(default)s)",
    )

    p = add(
        "compress-user-original",
        cmd_user_original,
        "Convert your trained Keras model to the batch-1 .tflite a device runs (the time its "
        "compressed points are compared with).",
    )
    p.add_argument("model", type=Path, help="a trained functional or Sequential .keras model")
    p.add_argument("--out", type=Path, required=True, help="the .tflite to write")

    p = add(
        "compress-user-table",
        cmd_user_table,
        "A user model's compression table and figure: each variant's curve (fdi compress's "
        "curve.json, the variant named by its folder) measured on every device, picks and equal accuracy.",
    )
    p.add_argument("--name", required=True, help="the model's name (the title)")
    p.add_argument("--curves", type=Path, nargs="+", required=True, help="VARIANT/curve.json of each variant")
    p.add_argument("--timings", nargs="+", required=True, help="DEVICE=timings.parquet (fdi benchmark)")
    p.add_argument("--settings", type=json_arg, required=True, help="per device, its instrument settings")
    p.add_argument("--tolerance", type=float, default=0.01, help="a pick's accuracy below the original's")
    p.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.005, 0.01, 0.02], help="accuracy drops")
    p.add_argument("--table", type=Path, required=True, help="the table (.csv)")
    p.add_argument("--markdown", type=Path, required=True, help="the table with its notes (.md)")
    p.add_argument("--figure", type=Path, required=True, help="accuracy against measured time (.png)")
    p.add_argument("--points", type=Path, required=True, help="every point with its times (.csv)")
