"""Algorithm 2's commands: `fdi expand` for people, the localMin experiment's steps."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.cli.arguments import json_arg, pairs


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

    from fdi.compress.expand import expand_network, network_parts
    from fdi.timemodel.device_model import DeviceTimeModel
    from fdi.timemodel.registry import NoTimeModelError, load_entry

    try:
        entry = load_entry(args.registry, device=args.device)
    except NoTimeModelError as error:
        raise SystemExit(f"fdi expand: {error}") from error
    if not args.model.exists():
        raise SystemExit(f"fdi expand: {args.model}: no such file")
    from fdi.compress.network import prunable
    from fdi.compress.user_model import load_user_model
    from fdi.profile.families import ORIGINAL_WIDTHS, family_of

    try:
        model = load_user_model(args.model)
    except ValueError as error:
        raise SystemExit(f"fdi expand: {error}") from error
    try:
        family: str | None = family_of(model)
    except ValueError:
        family = None  # any other model: read from its graph alone
    try:
        network = prunable(model, family)
    except ValueError as error:
        raise SystemExit(f"fdi expand: {args.model}: {error}") from error
    time_model = DeviceTimeModel.from_entry(entry)
    widths = network.widths
    originals = ORIGINAL_WIDTHS[family] if family else widths
    kinds = {kind for _, kind, _ in network_parts(network, widths)} & {"fc", "cnn", "gru", "lstm"}
    missing = kinds - set(time_model.layers)
    if missing:
        raise SystemExit(f"fdi expand: device {args.device!r} has no {', '.join(sorted(missing))} model")
    new = expand_network(network, widths, time_model, args.mode, args.limit, originals)
    before, after = time_model.predict_structures(network, [widths, new])
    names = [group.name for group in network.graph.prunable()]
    per_width = pd.DataFrame({"layer": names, "width": widths, "expanded": new})
    print(f"{args.model} ({family or model.name}) on {args.device} ({entry['key']}), mode {args.mode}:")
    print(per_width.to_string(index=False))
    print(f"predicted: {before:.4g} ms -> {after:.4g} ms ({100 * (after / before - 1):+.1f}%)")
    expanded = network.widen(new, name=model.name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    expanded.save(args.out)
    print(f"expanded model (same outputs, zero-padded) -> {args.out}")


def cmd_localmin_plan(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.compress.localmin_experiment import plan
    from fdi.timemodel.device_model import DeviceTimeModel

    structures = pd.concat([pd.read_parquet(p) for p in args.structures], ignore_index=True)
    try:
        time_model = DeviceTimeModel.load(args.time_model)
    except ValueError as error:
        raise SystemExit(f"fdi localmin-plan: {error}") from error
    planned = plan(structures, time_model, args.settings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    planned.to_parquet(args.out, index=False)
    changed = planned.groupby("mode").changed.sum().to_dict()
    print(f"{len(planned)} network x mode rows, expanded per mode: {changed} -> {args.out}")


def cmd_localmin_export(args: argparse.Namespace) -> None:
    import pandas as pd

    from fdi.compress.localmin_experiment import export

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

    from fdi.compress.localmin_experiment import markdown, table

    frames = []
    for device, exported in pairs(args.exported).items():
        campaign = pd.concat(
            [pd.read_parquet(p) for p in args.campaign if Path(p).parts[-3] == device], ignore_index=True
        )
        timings = pd.read_parquet(pairs(args.timings)[device])
        frames.append(table(pd.read_parquet(exported), timings, campaign, args.settings[device], device))
    frame = pd.concat(frames, ignore_index=True)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.csv, index=False)
    args.markdown.write_text(markdown(frame))
    print(args.markdown.read_text())


def add_commands(add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add(
        "expand",
        cmd_expand,
        "Widen a trained Keras model (VGG, DeepSense or your own) to widths its device runs faster "
        "(Algorithm 2), losslessly: new filters and units are zeros, so the outputs do not change.",
    )
    p.add_argument(
        "model",
        type=Path,
        help="a .keras model; its widths are read from its graph (a paper family's are limited by "
        "the family's original widths, any other model's by its own)",
    )
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
    p.add_argument(
        "--time-model", type=Path, required=True, help="results/registry/DEVICE.json (fdi register)"
    )
    p.add_argument(
        "--settings", type=json_arg, required=True, help='e.g. {"modes": ["paper"], "limit": 0.25}'
    )
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
    p.add_argument("--settings", type=json_arg, required=True, help="per device: its instrument settings")
    p.add_argument("--csv", type=Path, required=True)
    p.add_argument("--markdown", type=Path, required=True)
