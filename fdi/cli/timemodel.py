"""The time models' commands: fit, baselines, tables, figures, registry, predict, explain."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg, pairs

# Kept here rather than imported from fdi.timemodel.baselines, so `fdi benchmark` never loads
# scikit-learn.
MODEL_CHOICES = ["svr", "dt", "rf", "gbrt", "dnn", "flops", "fastdeepiot_mse", "fastdeepiot_paperx"]


def _networks(args: argparse.Namespace, extra_structures=None, extra_timings=None):
    """The networks table from the campaign's files, plus optional extra networks and timings."""
    import pandas as pd

    from fdi.energy.compute import load_summaries
    from fdi.timemodel.device_model import load_time_models
    from fdi.timemodel.whole_networks import networks_table, with_energy, with_zoo

    structures = pd.concat(
        [pd.read_parquet(p) for p in args.structures]
        + ([extra_structures] if extra_structures is not None else []),
        ignore_index=True,
    )
    timings: dict[str, list[pd.DataFrame]] = {}
    for path in args.timings:  # results/timings/DEVICE/SCOPE/SHARD.parquet
        timings.setdefault(Path(path).parts[-3], []).append(pd.read_parquet(path))
    for device, frame in (extra_timings or {}).items():
        timings.setdefault(device, []).append(frame)
    checks = {device: pd.read_parquet(path) for device, path in pairs(args.checks).items()}
    table = networks_table(
        structures,
        {device: pd.concat(frames, ignore_index=True) for device, frames in timings.items()},
        checks,
        load_time_models(args.time_models),
        args.settings,
    )
    zoo = getattr(args, "zoo", None) or []
    table = with_zoo(
        table, pd.concat([pd.read_csv(path) for path in zoo], ignore_index=True) if zoo else None
    )
    return with_energy(table, load_summaries(getattr(args, "energy", None) or []))


def cmd_adaptive(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.timemodel.adaptive import draw_round

    structures = draw_round(
        pd.read_parquet(args.dataset), args.time_model, args.settings, args.round, args.seed
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    structures.to_parquet(args.out, index=False)
    for layer, group in structures.groupby("layer"):
        print(
            f"round {args.round}, {layer}: {len(group)} new structures "
            f"around {group.parent.nunique()} parents "
            f"(median out-of-fold error of the parents {100 * group.parent_error.median():.1f}%)"
        )


def cmd_fit(args: argparse.Namespace) -> None:
    import time

    import pandas as pd

    from fdi.timemodel.baselines import build_time_model, fitted_tree
    from fdi.timemodel.dataset import layer_rows
    from fdi.timemodel.evaluate import fit_on_train

    rows = layer_rows(pd.read_parquet(args.dataset), args.layer, "all")
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

    from fdi.timemodel.baselines import build_baseline
    from fdi.timemodel.dataset import layer_rows
    from fdi.timemodel.evaluate import fit_on_train, test_predictions

    rows = layer_rows(pd.read_parquet(args.dataset), args.layer, "all")
    estimator = fit_on_train(build_baseline(args.model, args.layer, args.settings), rows)
    if hasattr(estimator, "best_params_"):
        print(f"{args.model}: best parameters by cross-validation: {estimator.best_params_}")
    predictions = test_predictions(estimator, rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_parquet(args.out, index=False)


def cmd_table5(args: argparse.Namespace) -> None:
    from fdi.timemodel.evaluate import table5, table5_markdown

    models = {tuple(Path(p).parts[-2:]): Path(p) for p in args.models}
    models = {(device, Path(layer).stem): path for (device, layer), path in models.items()}
    baselines = {}
    for p in args.baselines:
        device, layer, model = Path(p).parts[-3:]
        baselines[(device, layer, Path(model).stem)] = Path(p)
    table = table5(pairs(args.datasets), models, baselines, mse_is_time_model=args.mse_is_time_model)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    args.markdown.write_text(table5_markdown(table))
    print(args.markdown.read_text())


def cmd_networks(args: argparse.Namespace) -> None:
    from fdi.timemodel.whole_networks import networks_markdown

    table = _networks(args)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    args.markdown.write_text(networks_markdown(table))
    print(args.markdown.read_text())


def cmd_table4(args: argparse.Namespace) -> None:
    from fdi.timemodel.evaluate import table4

    table = table4(pairs(args.datasets), args.layers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))


def cmd_fig1(args: argparse.Namespace) -> None:
    from fdi.timemodel.plots import sweep_figure

    args.out.parent.mkdir(parents=True, exist_ok=True)
    sweep_figure(pairs(args.datasets), args.out)


def cmd_fig2(args: argparse.Namespace) -> None:
    from fdi.timemodel.plots import tree_figure

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tree_figure(args.model, args.title, args.out)


def cmd_register(args: argparse.Namespace) -> None:
    from fdi.timemodel.registry import make_entry

    models = {Path(path).stem: Path(path) for path in args.models}
    entry = make_entry(args.device, args.dataset, models, args.out, args.op_models)
    print(f"{args.device}: {len(models)} time models registered under key {entry['key']} -> {args.out}")


def cmd_predict(args: argparse.Namespace) -> None:
    from fdi.profile.space import LAYER_TYPES
    from fdi.timemodel.predict import predict_network
    from fdi.timemodel.registry import NoTimeModelError

    try:
        layers, unsupported, entry = predict_network(args.model, args.registry, args.device, args.by)
    except (NoTimeModelError, FileNotFoundError, ValueError) as error:
        raise SystemExit(f"fdi predict: {error}") from error
    print(f"{args.model} on {args.device} ({entry['key']}):")
    if len(layers):
        table = layers.drop(columns="position").rename(
            columns={"mflops": "MFLOPs", "predicted_ms": "predicted ms"}
        )
        print(table.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}"))
    total = layers.predicted_ms.sum() if len(layers) else 0.0
    term = int((layers.layer == "network").sum()) if len(layers) else 0  # the in-network term's row
    layer_rows = int(layers.layer.isin(LAYER_TYPES).sum()) if len(layers) else 0
    other = len(layers) - layer_rows - term
    with_term = " and the in-network term" if term else ""
    if layers.attrs.get("by") == "ops":
        print(
            f"total predicted time: {total:.4g} ms over {other} ops (op models), {layer_rows} recurrent"
            f" layers{with_term}"
        )
    else:
        print(f"total predicted time: {total:.4g} ms over {layer_rows} layers, {other} other ops{with_term}")
    if len(layers) and (layers.note != "").any():
        print("note: 'extrapolated' layers lie outside what was measured on this device; trust them less")
    counted = len(layers) - term
    ops = counted + len(unsupported)
    print(f"modelled: {counted} of {ops} ops ({100 * counted / max(1, ops):.0f}%; data movement aside)")
    if unsupported:
        print("not modelled (not counted): " + ", ".join(unsupported))
        if args.strict:
            raise SystemExit(f"fdi predict --strict: {len(unsupported)} of {ops} ops have no time model")


def cmd_explain(args: argparse.Namespace) -> None:
    from fdi.timemodel.tree import TreeLinearRegressor

    try:
        model = TreeLinearRegressor.from_json(args.model)
    except (OSError, ValueError) as error:
        raise SystemExit(f"fdi explain: {error}") from error
    print(
        f"# {args.model}: time (ms) fitted on x = {list(model.fit_columns)},"
        f" split on f = {list(model.split_columns)}"
    )
    print(model.explain())


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add(
        "adaptive",
        cmd_adaptive,
        "Draw one round of adaptive sampling: new structures around the rows the time model predicts worst "
        "out of fold.",
    )
    p.add_argument(
        "--dataset", type=Path, required=True, help="the device's dataset after the previous round"
    )
    p.add_argument("--time-model", type=json_arg, required=True, help="the time_model settings (JSON)")
    p.add_argument("--settings", type=json_arg, required=True, help="the adaptive settings (JSON)")
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)

    p = add("fit", cmd_fit, "Fit Algorithm 1 on one layer type's training rows; write it as JSON.")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--layer", required=True, choices=["fc", "cnn", "gru", "lstm"])
    p.add_argument("--settings", type=json_arg, required=True, help="the tree settings (JSON)")
    p.add_argument("--out", type=Path, required=True)

    p = add("baseline", cmd_baseline, "Tune and fit one baseline; write its test-set predictions.")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--layer", required=True, choices=["fc", "cnn", "gru", "lstm"])
    p.add_argument("--model", required=True, choices=MODEL_CHOICES)
    p.add_argument("--settings", type=json_arg, required=True, help="this model's settings (JSON)")
    p.add_argument("--out", type=Path, required=True)

    p = add("table5", cmd_table5, "Score every model on the test rows: table5.csv and table5.md.")
    p.add_argument("--datasets", nargs="+", required=True, metavar="DEVICE=PATH")
    p.add_argument("--models", nargs="+", required=True, help="results/models/DEVICE/LAYER.json files")
    p.add_argument("--baselines", nargs="*", default=[], help="results/baselines/DEVICE/LAYER/MODEL.parquet")
    p.add_argument(
        "--mse-is-time-model",
        nargs="*",
        default=[],
        choices=["fc", "cnn", "gru", "lstm"],
        metavar="LAYER",
        help="layer types whose FastDeepIoT-MSE column is the fitted time model itself (its loss is "
        "already the paper's squared error), so no baseline file is read for it",
    )
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)

    p = add(
        "networks", cmd_networks, "Whole networks: measured against predicted time (networks.csv and .md)."
    )
    p.add_argument(
        "--structures", type=Path, nargs="+", required=True, help="results/structures/net_*.parquet"
    )
    p.add_argument(
        "--timings", type=Path, nargs="+", required=True, help="results/timings/DEVICE/net_*/N.parquet"
    )
    p.add_argument("--checks", nargs="+", required=True, metavar="DEVICE=PATH")
    p.add_argument(
        "--time-models",
        type=Path,
        nargs="+",
        required=True,
        help="results/registry/DEVICE.json (fdi register)",
    )
    p.add_argument("--settings", type=json_arg, required=True, help="{device: its settings} (JSON)")
    p.add_argument(
        "--energy",
        type=Path,
        nargs="*",
        default=[],
        help="results/energy/DEVICE/net_*/N.parquet (if measured)",
    )
    p.add_argument(
        "--zoo", type=Path, nargs="*", default=[], help="results/tables/zoo/DEVICE.csv: the zoo family's rows"
    )
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
    p.add_argument(
        "--op-models", type=Path, help="results/models/DEVICE/ops.json: op models fitted on the zoo"
    )
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "predict",
        cmd_predict,
        "Predict a whole network's execution time on a device from the registry, layer by layer.",
    )
    p.add_argument("model", type=Path, help="a .tflite, .keras or .h5 model")
    p.add_argument("--device", required=True, help="a device name from the config, e.g. host")
    p.add_argument("--registry", type=Path, default=Path("results/registry"), help="default: %(default)s")
    p.add_argument(
        "--by",
        choices=["auto", "ops", "layers"],
        default="auto",
        help="ops: every op with the op models fitted on the zoo; layers: Table 2's layer models (conv, FC, "
        "GRU, LSTM) and the families' pooling/mean/softmax/concat models; auto (default): ops where the "
        "device has op models",
    )
    p.add_argument(
        "--strict", action="store_true", help="exit with status 1 if any op of the network has no time model"
    )

    p = add("explain", cmd_explain, "Print a time model (JSON) as readable if/else rules with leaf formulas.")
    p.add_argument("model", type=Path, help="e.g. results/models/host/cnn.json")
