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
MODEL_CHOICES = ["svr", "dt", "rf", "gbrt", "dnn", "flops", "fastdeepiot_mse", "fastdeepiot_paperx"]


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
    from fdi.space import sample_scope_from

    structures = sample_scope_from(args.scope, args.kind, args.settings, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    structures.to_parquet(args.out, index=False)
    print(f"{args.scope}: {len(structures)} rows in {structures.network.nunique()} networks -> {args.out}")


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

    graphs: list[Path] = []
    for path in args.graphs:
        graphs.extend(sorted(path.glob("*.tflite")) if path.is_dir() else [path])
    if args.graph_list:
        graphs.extend(Path(line) for line in args.graph_list.read_text().split() if line)
    if not graphs:
        raise SystemExit("no graphs to benchmark: give --graphs DIR|FILE... or --graph-list FILE")
    timings = run_benchmark(args.device, args.settings, graphs, args.out, args.reference)
    components = timings[timings.role == "component"] if "role" in timings else timings
    passes = components.groupby("id").size()
    print(
        f"{args.device}: timed {len(passes)} graphs in {passes.sum()} passes"
        f" ({(passes > passes.min()).sum()} needed more than {passes.min()}) -> {args.out}"
    )


def cmd_check_graphs(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.dataset import test_ids

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


def cmd_adaptive(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.adaptive import draw_round

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


def cmd_export_reference(args: argparse.Namespace) -> None:
    from fdi.export import export_reference

    print(f"reference graph -> {export_reference(args.out)}")


def _networks(args: argparse.Namespace, extra_structures=None, extra_timings=None):
    """The networks table from the campaign's files, plus optional extra networks and timings."""
    import pandas as pd

    from fdi.energy.compute import load_summaries
    from fdi.networks import load_models, networks_table, with_energy

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
    checks = {device: pd.read_parquet(path) for device, path in _pairs(args.checks).items()}
    datasets = {device: pd.read_parquet(path) for device, path in _pairs(args.datasets).items()}
    table = networks_table(
        structures,
        {device: pd.concat(frames, ignore_index=True) for device, frames in timings.items()},
        checks,
        datasets,
        load_models(args.models),
        args.settings,
    )
    return with_energy(table, load_summaries(getattr(args, "energy", None) or []))


def cmd_networks(args: argparse.Namespace) -> None:
    from fdi.networks import networks_markdown

    table = _networks(args)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    args.markdown.write_text(networks_markdown(table))
    print(args.markdown.read_text())


def cmd_localmin_plan(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.localmin import plan
    from fdi.networks import load_models

    structures = pd.concat([pd.read_parquet(p) for p in args.structures], ignore_index=True)
    models = load_models(args.models)
    if len(models) != 1:
        raise SystemExit(f"fdi localmin-plan: models of one device expected, got {', '.join(models)}")
    [device_models] = models.values()
    planned = plan(structures, device_models, pd.read_parquet(args.dataset), args.settings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    planned.to_parquet(args.out, index=False)
    changed = planned.groupby("mode").changed.sum().to_dict()
    print(f"{len(planned)} network x mode rows, expanded per mode: {changed} -> {args.out}")


def cmd_localmin_export(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.localmin import export

    structures = pd.concat([pd.read_parquet(p) for p in args.structures], ignore_index=True)
    originals = [
        path for directory in args.original_dirs for path in sorted(Path(directory).glob("*.tflite"))
    ]
    exported = export(pd.read_parquet(args.plan), structures, originals, args.out_dir, args.graph_list)
    exported.to_parquet(args.out, index=False)
    print(
        f"{int(exported.changed.sum())} expanded networks -> {args.out_dir}; "
        f"graphs to time -> {args.graph_list}"
    )


def cmd_localmin_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.localmin import markdown, table

    frames = []
    for device, exported in _pairs(args.exported).items():
        campaign = pd.concat(
            [pd.read_parquet(p) for p in args.campaign if Path(p).parts[-3] == device], ignore_index=True
        )
        timings = pd.read_parquet(_pairs(args.timings)[device])
        frames.append(table(pd.read_parquet(exported), timings, campaign, args.settings[device], device))
    frame = pd.concat(frames, ignore_index=True)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.csv, index=False)
    args.markdown.write_text(markdown(frame))
    print(args.markdown.read_text())


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

    timings = {device: pd.read_parquet(path) for device, path in _pairs(args.task_timings).items()}
    networks = _networks(args, task_structures(args.metrics), timings)
    table = tasks_table(networks, args.metrics)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    args.markdown.write_text(tasks_markdown(table))
    print(args.markdown.read_text())


def cmd_aggregate(args: argparse.Namespace) -> None:
    from fdi.dataset import aggregate

    aggregate(
        args.structures, args.timings, args.split, args.device_settings, args.out, args.check, args.campaign
    )
    print(f"dataset -> {args.out}")


def cmd_fit(args: argparse.Namespace) -> None:
    import time

    import pandas as pd

    from fdi.baselines import build_time_model, fitted_tree
    from fdi.dataset import layer_rows
    from fdi.evaluate import fit_on_train

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

    from fdi.baselines import build_baseline
    from fdi.dataset import layer_rows
    from fdi.evaluate import fit_on_train, test_predictions

    rows = layer_rows(pd.read_parquet(args.dataset), args.layer, "all")
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


def _limit(text: str) -> str | float:
    if text == "next_pow2":
        return text
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected next_pow2 or a margin such as 0.25, not {text!r}"
        ) from error
    if value < 0:
        raise argparse.ArgumentTypeError(f"the margin must be >= 0, not {value}")
    return value


def cmd_expand(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.expand import expand_network, network_parts, predict_networks
    from fdi.registry import NoTimeModelError, load_entry, models_of

    try:
        entry = load_entry(args.registry, device=args.device)
    except NoTimeModelError as error:
        raise SystemExit(f"fdi expand: {error}") from error
    if not args.model.exists():
        raise SystemExit(f"fdi expand: {args.model}: no such file")
    import keras

    from fdi.expand_keras import expand_model, family_of, widths_of
    from fdi.families import ORIGINAL_WIDTHS, WIDTH_NAMES

    model = keras.models.load_model(args.model, compile=False)
    try:
        family = family_of(model)
    except ValueError as error:
        raise SystemExit(f"fdi expand: {args.model}: {error}") from error
    models = models_of(entry)
    missing = {kind for _, kind, _ in network_parts(family, ORIGINAL_WIDTHS[family])} & {
        "fc",
        "cnn",
        "gru",
        "lstm",
    } - set(models)
    if missing:
        raise SystemExit(f"fdi expand: device {args.device!r} has no {', '.join(sorted(missing))} model")
    widths = widths_of(model, family)
    new = expand_network(family, widths, models, args.mode, args.limit, ORIGINAL_WIDTHS[family])
    before, after = predict_networks(family, [widths, new], models)
    per_width = pd.DataFrame({"layer": WIDTH_NAMES[family], "width": widths, "expanded": new})
    print(f"{args.model} ({family}) on {args.device} ({entry['key']}), mode {args.mode}:")
    print(per_width.to_string(index=False))
    print(f"predicted: {before:.4g} ms -> {after:.4g} ms ({100 * (after / before - 1):+.1f}%), layers only")
    expanded = expand_model(model, new, family)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    expanded.save(args.out)
    print(f"expanded model (same outputs, zero-padded) -> {args.out}")


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
    p.add_argument("--scope", required=True, help="fc, cnn, gru, lstm, sweep, a family or net_<family>")
    p.add_argument(
        "--kind",
        required=True,
        choices=["layer", "sweep", "family", "network"],
        help="Table 2 random layers, the Figure 1 sweep, a family's layer shapes, or whole networks",
    )
    p.add_argument("--settings", type=_json, required=True, help="the scope's settings (JSON)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="Parquet file of structures")

    p = add("export", cmd_export, "Export one shard of structures to one .tflite graph per component.")
    p.add_argument("--structures", type=Path, required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the .tflite files")

    p = add(
        "adaptive",
        cmd_adaptive,
        "Draw one round of adaptive sampling: new structures around the rows the time model predicts worst "
        "out of fold.",
    )
    p.add_argument(
        "--dataset", type=Path, required=True, help="the device's dataset after the previous round"
    )
    p.add_argument("--time-model", type=_json, required=True, help="the time_model settings (JSON)")
    p.add_argument("--settings", type=_json, required=True, help="the adaptive settings (JSON)")
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)

    p = add("export-reference", cmd_export_reference, "Export the fixed reference graph of the instrument.")
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "benchmark",
        cmd_benchmark,
        "Time .tflite graphs on one device, re-measuring until two passes agree, with a reference graph "
        "timed in between.",
    )
    p.add_argument("--device", required=True, help="the device's name in the config")
    p.add_argument("--settings", type=_json, required=True, help="this device's settings (JSON)")
    p.add_argument("--graphs", type=Path, nargs="+", default=[], help="directories of graphs, or graph files")
    p.add_argument("--graph-list", type=Path, help="a file naming one graph per line (added to --graphs)")
    p.add_argument("--reference", type=Path, help="the reference graph timed every reference_every passes")
    p.add_argument("--out", type=Path, required=True, help="Parquet file of timings")

    p = add("check-graphs", cmd_check_graphs, "List the test components' graphs, for the later check job.")
    p.add_argument("--structures", type=Path, nargs="+", required=True)
    p.add_argument("--graph-dirs", type=Path, nargs="+", required=True)
    p.add_argument("--network-dirs", type=Path, nargs="*", default=[], help="every network graph is listed")
    p.add_argument("--split", type=_json, required=True)
    p.add_argument("--out", type=Path, required=True, help="text file, one graph path per line")

    p = add("aggregate", cmd_aggregate, "Join structures, Table 3 features and timings into one dataset.")
    p.add_argument("--structures", type=Path, nargs="+", required=True)
    p.add_argument("--timings", type=Path, nargs="+", required=True)
    p.add_argument("--split", type=_json, required=True, help='{"test_fraction": .25, "seed": 0}')
    p.add_argument(
        "--device-settings",
        type=_json,
        required=True,
        help="the device's settings (JSON): statistic, agree_tolerance, max_passes, repeats",
    )
    p.add_argument("--check", type=Path, help="timings of the test rows from the later check job")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--campaign", type=Path, help="CSV of what the campaign went through (passes, waits, unsettled)"
    )

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
    p.add_argument("--datasets", nargs="+", required=True, metavar="DEVICE=PATH")
    p.add_argument("--models", type=Path, nargs="+", required=True, help="results/models/DEVICE/LAYER.json")
    p.add_argument("--settings", type=_json, required=True, help="{device: its settings} (JSON)")
    p.add_argument(
        "--energy",
        type=Path,
        nargs="*",
        default=[],
        help="results/energy/DEVICE/net_*/N.parquet (if measured)",
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
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "predict",
        cmd_predict,
        "Predict a whole network's execution time on a device from the registry, layer by layer.",
    )
    p.add_argument("model", type=Path, help="a .tflite, .keras or .h5 model")
    p.add_argument("--device", required=True, help="a device name from the config, e.g. host")
    p.add_argument("--registry", type=Path, default=Path("results/registry"), help="default: %(default)s")

    p = add(
        "expand",
        cmd_expand,
        "Widen a trained VGG or DeepSense model to widths its device runs faster (Algorithm 2), "
        "losslessly: new filters and units are zeros, so the outputs do not change.",
    )
    p.add_argument("model", type=Path, help="a .keras model of a family in fdi.families")
    p.add_argument("--device", required=True, help="a device name with a registry entry, e.g. host")
    p.add_argument("--registry", type=Path, default=Path("results/registry"), help="default: %(default)s")
    p.add_argument(
        "--mode",
        choices=["staircase", "paper"],
        default="staircase",
        help="paper: SPEC's rule (round up at integer-multiple nodes); staircase: the fastest width "
        "up to --limit under the whole model (default)",
    )
    p.add_argument(
        "--limit",
        type=_limit,
        default="next_pow2",
        help="w_max per layer in staircase mode: next_pow2 or a margin such as 0.25 (default: %(default)s)",
    )
    p.add_argument("--out", type=Path, required=True, help="the expanded .keras model")

    p = add(
        "localmin-plan",
        cmd_localmin_plan,
        "Choose expanded widths (Algorithm 2, every mode) for the whole-network table's test networks.",
    )
    p.add_argument("--structures", nargs="+", type=Path, required=True, help="net_<family> structures")
    p.add_argument("--models", nargs="+", type=Path, required=True, help="results/models/DEVICE/*.json")
    p.add_argument("--dataset", type=Path, required=True, help="the device's dataset (for the op models)")
    p.add_argument("--settings", type=_json, required=True, help='e.g. {"modes": ["paper"], "limit": 0.25}')
    p.add_argument("--out", type=Path, required=True)

    p = add(
        "localmin-export",
        cmd_localmin_export,
        "Widen the planned networks losslessly, check their outputs, export them; list what to time.",
    )
    p.add_argument("--plan", type=Path, required=True)
    p.add_argument("--structures", nargs="+", type=Path, required=True)
    p.add_argument("--original-dirs", nargs="+", type=Path, required=True, help="the networks' graph dirs")
    p.add_argument("--out-dir", type=Path, required=True, help="directory for the expanded .tflite graphs")
    p.add_argument("--graph-list", type=Path, required=True, help="originals and expansions to time")
    p.add_argument("--out", type=Path, required=True, help="the plan with output differences (Parquet)")

    p = add(
        "localmin-table", cmd_localmin_table, "Measured and predicted gain of the expansions: localmin.csv."
    )
    p.add_argument("--exported", nargs="+", required=True, help="DEVICE=exported.parquet")
    p.add_argument(
        "--timings", nargs="+", required=True, help="DEVICE=results/timings/DEVICE/localmin.parquet"
    )
    p.add_argument("--campaign", nargs="+", required=True, help="the networks' campaign timings")
    p.add_argument("--settings", type=_json, required=True, help="per device: its instrument settings")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)

    p = add(
        "task-prepare",
        cmd_task_prepare,
        "Read a task's real data (Fashion-MNIST, CIFAR-10, digits, seglearn's watch, HHAR) and save it "
        "as a checksummed .npz in the family's input shape, split for training and test.",
    )
    p.add_argument("--task", required=True, help="the task's name in config (e.g. vgg)")
    p.add_argument("--settings", type=_json, required=True, help="the task's config entry as JSON")
    p.add_argument("--cache-dir", type=Path, required=True, help="where downloads are kept")
    p.add_argument("--out", type=Path, required=True, help="the prepared .npz (its record goes beside it)")

    p = add(
        "task-train",
        cmd_task_train,
        "Train the task's network (seeded; resumes from --checkpoint-dir after a kill); save it and "
        "its test accuracy.",
    )
    p.add_argument("--task", required=True)
    p.add_argument("--settings", type=_json, required=True, help="the task's config entry as JSON")
    p.add_argument("--data", type=Path, required=True, help="the prepared .npz")
    p.add_argument("--out-model", type=Path, required=True, help="the trained .keras model")
    p.add_argument("--metrics", type=Path, required=True, help="metrics.json")
    p.add_argument("--checkpoint-dir", type=Path, required=True, help="the last finished epoch's state")

    p = add("task-export", cmd_task_export, "Convert a trained task network to the timed .tflite (batch 1).")
    p.add_argument("--task", required=True)
    p.add_argument("--settings", type=_json, required=True)
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
    p.add_argument("--datasets", nargs="+", required=True, help="DEVICE=dataset.parquet")
    p.add_argument("--models", nargs="+", type=Path, required=True)
    p.add_argument("--settings", type=_json, required=True, help="per device: its instrument settings")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)

    from fdi.compress.commands import add_commands
    from fdi.energy.commands import add_commands as add_energy_commands

    add_commands(add)
    add_energy_commands(add)

    p = add("explain", cmd_explain, "Print a time model (JSON) as readable if/else rules with leaf formulas.")
    p.add_argument("model", type=Path, help="e.g. results/models/host/cnn.json")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
