"""The `fdi` command: one subcommand per workflow step, plus `explain` for people.

Every Snakemake rule calls exactly one subcommand. Settings arrive as one JSON object per
option (only the settings that step needs), so a job's command line says all it depends on.
Heavy libraries are imported inside the subcommands: `fdi benchmark` must load LiteRT only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Kept here rather than imported from fdi.baselines, so `fdi benchmark` never loads scikit-learn.
MODEL_CHOICES = ["svr", "dt", "rf", "gbrt", "dnn", "flops", "fastdeepiot_mse"]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text[:80]}") from error


def _pairs(values: list[str]) -> dict[str, Path]:
    """NAME=PATH arguments as a mapping."""
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"expected NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


def cmd_sample(args: argparse.Namespace) -> None:
    from fdi.space import sample_scope

    config = {"seed": args.seed, "sweep": args.settings, "layers": {args.scope: args.settings}}
    structures = sample_scope(args.scope, config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    structures.to_parquet(args.out, index=False)
    print(
        f"{args.scope}: {len(structures)} components in {structures.network.nunique()} networks -> {args.out}"
    )


def cmd_export(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.export import export_shard

    structures = pd.read_parquet(args.structures)
    shard = structures[structures.shard == args.shard]
    if shard.empty:
        raise SystemExit(f"{args.structures}: shard {args.shard} holds no components")
    paths = export_shard(shard, args.out)
    print(f"exported {len(paths)} graphs -> {args.out}")


def cmd_benchmark(args: argparse.Namespace) -> None:
    from fdi.devices import run_benchmark

    timings = run_benchmark(args.device, args.settings, args.graphs, args.out)
    print(
        f"{args.device}: timed {timings.id.nunique()} graphs"
        f" x {timings.repeat.nunique()} passes -> {args.out}"
    )


def cmd_aggregate(args: argparse.Namespace) -> None:
    from fdi.dataset import aggregate

    aggregate(args.structures, args.timings, args.split, args.statistic, args.out)
    print(f"dataset -> {args.out}")


def cmd_fit(args: argparse.Namespace) -> None:
    import time

    import pandas as pd

    from fdi.baselines import build_time_model, fitted_tree
    from fdi.dataset import layer_rows
    from fdi.evaluate import fit_on_train

    rows = layer_rows(pd.read_parquet(args.dataset), args.layer)
    start = time.perf_counter()
    estimator = fit_on_train(build_time_model(args.layer, args.settings), rows)
    seconds = time.perf_counter() - start
    if hasattr(estimator, "best_params_"):
        print(f"{args.layer}: chosen by cross-validation on the training rows: {estimator.best_params_}")
    model = fitted_tree(estimator)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.to_json(args.out)
    leaves = sum(node.is_leaf for node in model.nodes())
    print(f"{args.layer}: {leaves} leaves fitted on {(rows.split == 'train').sum()} rows in {seconds:.2f} s")
    print(model.explain())


def cmd_baseline(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.baselines import build_baseline
    from fdi.dataset import layer_rows
    from fdi.evaluate import fit_on_train, test_predictions

    rows = layer_rows(pd.read_parquet(args.dataset), args.layer)
    estimator = fit_on_train(build_baseline(args.model, args.layer, args.settings), rows)
    if hasattr(estimator, "best_params_"):
        print(f"{args.model}: best parameters by cross-validation: {estimator.best_params_}")
    predictions = test_predictions(estimator, rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_parquet(args.out, index=False)


def cmd_table5(args: argparse.Namespace) -> None:
    from fdi.evaluate import table5, table5_markdown

    models = {tuple(Path(p).parts[-2:]): Path(p) for p in args.models}
    models = {(device, Path(layer).stem): path for (device, layer), path in models.items()}
    baselines = {}
    for p in args.baselines:
        device, layer, model = Path(p).parts[-3:]
        baselines[(device, layer, Path(model).stem)] = Path(p)
    table = table5(_pairs(args.datasets), models, baselines)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    args.markdown.write_text(table5_markdown(table))
    print(args.markdown.read_text())


def cmd_table4(args: argparse.Namespace) -> None:
    from fdi.evaluate import table4

    table = table4(_pairs(args.datasets), args.layers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))


def cmd_fig1(args: argparse.Namespace) -> None:
    from fdi.plots import sweep_figure

    args.out.parent.mkdir(parents=True, exist_ok=True)
    sweep_figure(_pairs(args.datasets), args.out)


def cmd_fig2(args: argparse.Namespace) -> None:
    from fdi.plots import tree_figure

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tree_figure(args.model, args.title, args.out)


def cmd_register(args: argparse.Namespace) -> None:
    from fdi.registry import make_entry

    models = {Path(path).stem: Path(path) for path in args.models}
    entry = make_entry(args.device, args.dataset, models, args.out)
    print(f"{args.device}: {len(models)} time models registered under key {entry['key']} -> {args.out}")


def cmd_predict(args: argparse.Namespace) -> None:
    from fdi.predict import predict_network
    from fdi.registry import NoTimeModelError

    try:
        layers, unsupported, entry = predict_network(args.model, args.registry, args.device)
    except (NoTimeModelError, FileNotFoundError, ValueError) as error:
        raise SystemExit(f"fdi predict: {error}") from error
    print(f"{args.model} on {args.device} ({entry['key']}):")
    if len(layers):
        table = layers.drop(columns="position").rename(
            columns={"mflops": "MFLOPs", "predicted_ms": "predicted ms"}
        )
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    total = layers.predicted_ms.sum() if len(layers) else 0.0
    print(f"total predicted time: {total:.4g} ms over {len(layers)} layers")
    if len(layers) and (layers.note != "").any():
        print("note: 'extrapolated' layers lie outside what was measured on this device; trust them less")
    if unsupported:
        print("not modelled (not counted): " + ", ".join(unsupported))


def cmd_explain(args: argparse.Namespace) -> None:
    from fdi.tree import TreeLinearRegressor

    try:
        model = TreeLinearRegressor.from_json(args.model)
    except (OSError, ValueError) as error:
        raise SystemExit(f"fdi explain: {error}") from error
    print(
        f"# {args.model}: time (ms) fitted on x = {list(model.fit_columns)},"
        f" split on f = {list(model.split_columns)}"
    )
    print(model.explain())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fdi",
        description="FastDeepIoT: measure layer execution times, fit interpretable time models, "
        "compare them. "
        "Most subcommands are workflow steps called by Snakemake; `fdi explain` is for people.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("sample", cmd_sample, "Sample the random networks of one layer type (or the Figure 1 sweep).")
    p.add_argument("--scope", required=True, choices=["fc", "cnn", "gru", "lstm", "sweep"])
    p.add_argument("--settings", type=_json, required=True, help="the scope's settings (JSON)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="Parquet file of structures")

    p = add("export", cmd_export, "Export one shard of structures to one .tflite graph per component.")
    p.add_argument("--structures", type=Path, required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the .tflite files")

    p = add("benchmark", cmd_benchmark, "Time every .tflite graph of a directory on one device.")
    p.add_argument("--device", required=True, help="the device's name in the config")
    p.add_argument("--settings", type=_json, required=True, help="this device's settings (JSON)")
    p.add_argument("--graphs", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="Parquet file of timings")

    p = add("aggregate", cmd_aggregate, "Join structures, Table 3 features and timings into one dataset.")
    p.add_argument("--structures", type=Path, nargs="+", required=True)
    p.add_argument("--timings", type=Path, nargs="+", required=True)
    p.add_argument("--split", type=_json, required=True, help='{"test_fraction": .25, "seed": 0}')
    p.add_argument(
        "--statistic",
        choices=["mean", "median", "min"],
        default="median",
        help="the target time: this statistic of a pass's runs",
    )
    p.add_argument("--out", type=Path, required=True)

    p = add("fit", cmd_fit, "Fit Algorithm 1 on one layer type's training rows; write it as JSON.")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--layer", required=True, choices=["fc", "cnn", "gru", "lstm"])
    p.add_argument("--settings", type=_json, required=True, help="the tree settings (JSON)")
    p.add_argument("--out", type=Path, required=True)

    p = add("baseline", cmd_baseline, "Tune and fit one baseline; write its test-set predictions.")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--layer", required=True, choices=["fc", "cnn", "gru", "lstm"])
    p.add_argument("--model", required=True, choices=MODEL_CHOICES)
    p.add_argument("--settings", type=_json, required=True, help="this model's settings (JSON)")
    p.add_argument("--out", type=Path, required=True)

    p = add("table5", cmd_table5, "Score every model on the test rows: table5.csv and table5.md.")
    p.add_argument("--datasets", nargs="+", required=True, metavar="DEVICE=PATH")
    p.add_argument("--models", nargs="+", required=True, help="results/models/DEVICE/LAYER.json files")
    p.add_argument("--baselines", nargs="*", default=[], help="results/baselines/DEVICE/LAYER/MODEL.parquet")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)

    p = add("table4", cmd_table4, "OLS p-values of the explanatory variables (the paper's Table 4).")
    p.add_argument("--datasets", nargs="+", required=True, metavar="DEVICE=PATH")
    p.add_argument("--layers", nargs="+", required=True)
    p.add_argument("--out", type=Path, required=True)

    p = add("fig1", cmd_fig1, "Plot the measured channel sweep against FLOPs.")
    p.add_argument("--datasets", nargs="+", required=True, metavar="DEVICE=PATH")
    p.add_argument("--out", type=Path, required=True)

    p = add("fig2", cmd_fig2, "Draw a fitted time model's tree.")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--title", default="")
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "register", cmd_register, "Store a device's time models in the registry under its fingerprint's key."
    )
    p.add_argument("--device", required=True)
    p.add_argument("--dataset", type=Path, required=True, help="the device's dataset (for its fingerprint)")
    p.add_argument("--models", nargs="+", required=True, help="results/models/DEVICE/LAYER.json files")
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "predict",
        cmd_predict,
        "Predict a whole network's execution time on a device from the registry, layer by layer.",
    )
    p.add_argument("model", type=Path, help="a .tflite, .keras or .h5 model")
    p.add_argument("--device", required=True, help="a device name from the config, e.g. host")
    p.add_argument("--registry", type=Path, default=Path("results/registry"), help="default: %(default)s")

    p = add("explain", cmd_explain, "Print a time model (JSON) as readable if/else rules with leaf formulas.")
    p.add_argument("model", type=Path, help="e.g. results/models/host/cnn.json")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
