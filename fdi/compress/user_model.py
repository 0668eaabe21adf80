"""Compress a user's own Keras model: its file and its data in, a curve of smaller trained models out.

The model is read as a graph (fdi.compress.graph_network), searched by DeepIoT under the chosen
objective (fdi.compress.search.run_search), once per search seed, and each point of every search
is fine-tuned, scored on the test split and written as `.keras` and as the batch-1 `.tflite` a
device runs: the curve is the union of the searches' points. Every input is checked
before any training: a model or data file that cannot be used fails with its name and the
mismatch, not after an hour. Each stage leaves its files, so a run that stops resumes where it
was (the search from its checkpoint, the points already finished are kept); a run under other
settings sets the earlier run's points aside instead of reusing them.

Data: one `.npz` (read without pickle) holding `x_train`, `y_train`, `x_test`, `y_test` and,
optionally, `x_val`, `y_val` (else a seeded slice of the training split validates). A model with
several inputs takes `x_SPLIT_NAME` per input name. Labels are class indices.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fdi.compress.reruns import set_aside_other_runs
from fdi.timemodel.device_model import DeviceTimeModel

SPLITS = ("train", "val", "test")


def load_user_model(path: Path) -> Any:
    import keras

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file")
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"{path}: not a Keras model file (.keras or .h5)")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file that is not a model
        raise ValueError(
            f"{path}: Keras cannot read it as a model ({type(error).__name__}: {error})"
        ) from error


def _input_keys(model: Any, split: str) -> list[str]:
    if len(model.inputs) == 1:
        return [f"x_{split}"]
    return [f"x_{split}_{tensor.name}" for tensor in model.inputs]


def load_user_data(
    path: Path, model: Any, validation_fraction: float = 0.1, seed: int = 0
) -> dict[str, tuple]:
    """{split: (inputs, labels)} for train, val and test, checked against the model's inputs and
    its number of classes."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such data file")
    try:
        archive = np.load(path, allow_pickle=False)
        arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not a NumPy .npz archive without pickled objects ({error})") from error
    classes = int(model.outputs[0].shape[-1])
    splits = {}
    for split in SPLITS:
        keys = [*_input_keys(model, split), f"y_{split}"]
        if split == "val" and not any(k in arrays for k in keys):
            continue
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(
                f"{path}: missing {', '.join(missing)} (has {', '.join(sorted(arrays)) or 'nothing'})"
            )
        inputs, labels = [arrays[k] for k in keys[:-1]], arrays[keys[-1]]
        for key, x, tensor in zip(keys, inputs, model.inputs, strict=False):
            expected = tuple(tensor.shape[1:])
            if x.ndim != len(expected) + 1 or any(
                e is not None and e != s for e, s in zip(expected, x.shape[1:], strict=True)
            ):
                takes = ", ".join(map(str, expected))
                raise ValueError(f"{path}: {key} has shape {x.shape}; {model.name} takes (N, {takes})")
            if len(x) != len(labels):
                raise ValueError(f"{path}: {key} has {len(x)} rows but {keys[-1]} has {len(labels)}")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"{path}: {keys[-1]} must be a vector of class indices, not {labels.dtype} {labels.shape}"
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            held = f"{labels.min()}..{labels.max()}"
            raise ValueError(
                f"{path}: {keys[-1]} holds classes {held}, but {model.name} has {classes} outputs"
            )
        splits[split] = ([x.astype(np.float32) for x in inputs], labels.astype(np.int64))
    if "val" not in splits:
        inputs, labels = splits["train"]
        order = np.random.default_rng(seed).permutation(len(labels))
        cut = round(len(labels) * (1 - validation_fraction))
        splits["train"] = ([x[order[:cut]] for x in inputs], labels[order[:cut]])
        splits["val"] = ([x[order[cut:]] for x in inputs], labels[order[cut:]])
    return splits


def widened(
    network: Any,
    small: Any,
    widths: list[int],
    time_model: DeviceTimeModel | None,
    ties: Sequence[Sequence[str]],
    log: Callable[[str], None],
    label: str,
) -> tuple[Any, list[int]]:
    """Algorithm 2 on a point (fdi.compress.expand, staircase mode up to the next power of two
    above the original's widths): the widths the device's models predict faster, and the point
    widened to them losslessly (fdi.compress.widen_graph)."""
    from fdi.compress.expand import expand_network
    from fdi.compress.graph_network import GraphNetwork

    if time_model is None:
        raise ValueError("--expand needs a device's time model")
    new = expand_network(network, widths, time_model, "staircase", "next_pow2", network.widths)
    log(f"{label}: Algorithm 2 on the device's models: {widths} -> {new}")
    if new == widths:
        return small, widths
    return GraphNetwork(small, ties).widen(new, name=small.name), new


def compress_user_model(
    model_path: Path,
    data_path: Path,
    out_dir: Path,
    settings: dict[str, Any],
    finetune: dict[str, Any],
    time_model: DeviceTimeModel | None = None,
    ties: Sequence[Sequence[str]] = (),
    log: Callable[[str], None] = print,
    measure: tuple[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Search (under each of `settings["search_seeds"]`, else the one `seed`), fine-tune and
    export; returns (and writes to `out_dir/curve.json`, the graphs listed in `graphs.txt` for the
    benchmark job) one row per point of every search: its search seed and target, widths,
    parameter fraction, the objective's fraction, validation and test accuracy and its files;
    with `measure` (device, its instrument settings), the measured ms of the original and of
    every point."""
    from fdi.compress.finish import fine_tune_on
    from fdi.compress.graph_network import GraphNetwork
    from fdi.profile.export import at_batch_one, to_tflite
    from fdi.tasks.finetune import accuracy

    model = load_user_model(model_path)
    data = load_user_data(
        data_path, model, float(settings.get("validation_fraction", 0.1)), int(settings.get("seed", 0))
    )
    network = GraphNetwork(model, ties)
    log(f"{model.name}: {len(network.widths)} widths to compress {network.widths}")
    for name, why in network.graph.kept:
        log(f"  kept at its width: {name} ({why})")
    if time_model is not None and settings.get("objective") == "time":
        unpriced = network.unpriced + time_model.unpriced_ops(network, network.widths)
        if unpriced:
            log(f"  not in the time objective (no layer or op model): {', '.join(unpriced)}")
    out_dir = Path(out_dir)
    original_test = accuracy(model, *data["test"])
    log(f"original: test accuracy {original_test:.4f}")
    extra = {"model": str(model_path), "data": str(data_path), "original_test_accuracy": original_test}
    # Algorithm 2 widens by the time model: points widened under another one are not these
    steering = (
        {"original_ms": float(time_model.predict_structures(network, [network.widths])[0])}
        if time_model
        else {}
    )
    seeds, search = search_seeds(settings)
    searches = run_searches(network, model_path, ties, data, seeds, search, out_dir, time_model, log, extra)
    # a point's fine-tune depends on its own seed's search (which run_search reuses only under the
    # same settings) and on these: a seed added to the list keeps the points already finished
    set_aside_other_runs(
        out_dir / "final", {"search": search, "finetune": finetune, "time_model": steering}, log
    )
    rows = []
    name = point_name(out_dir)
    finished: dict[tuple[Any, ...], Path] = {}  # a structure the search took for several targets
    for seed, result in searches:
        folder = out_dir / search_folder(seed, search)
        for index, point in enumerate(result["points"]):
            label = point_label(name, seed, search, index)
            final = out_dir / "final" / f"{label}.keras"
            same = finished.setdefault((seed, point.get("iteration"), *point["widths"]), final)
            if same != final and same.exists() and not final.exists():
                # the search passed two targets between evaluations and took one structure for both:
                # fine-tuning it again would repeat the same minutes to the same weights
                log(f"{label}: the structure of {same.stem} (taken for two targets), its fine-tune reused")
                shutil.copyfile(same, final)
            small = load_user_model(final if final.exists() else folder / "points" / f"target-{index}.keras")
            widths = list(point["widths"])
            if not final.exists():
                if settings.get("expand"):
                    small, widths = widened(network, small, widths, time_model, ties, log, label)
                log(f"{label}: fine-tuning {widths}")
                fine_tune_on(small, data["train"], data["val"], finetune, log)
                final.parent.mkdir(parents=True, exist_ok=True)
                small.save(final)
            graph = final.with_suffix(".tflite")
            if not graph.exists():
                graph.write_bytes(to_tflite(at_batch_one(small)))
            rows.append(
                {
                    "point": len(rows),
                    "search_seed": seed,
                    "target": index,
                    "widths": point["widths"],
                    "expanded_widths": [int(w) for w in GraphNetwork(small, ties).widths],
                    "parameter_fraction": point["parameter_fraction"],
                    "measure": point["measure"],
                    "fraction": point["fraction"],
                    "validation_accuracy": accuracy(small, *data["val"]),
                    "test_accuracy": accuracy(small, *data["test"]),
                    "keras": str(final),
                    "tflite": str(graph),
                }
            )
            score = rows[-1]["test_accuracy"]
            log(f"{label}: {point['measure']} {point['fraction']:.1%}, test accuracy {score:.4f}")
    summary: dict[str, Any] = {
        "original_test_accuracy": original_test,
        "finetune": finetune,
        "search_seeds": seeds,
        "points": rows,
    }
    if measure:
        original_graph = out_dir / "original.tflite"
        if not original_graph.exists():
            export_original(model, original_graph)
        times = measure_graphs([original_graph] + [Path(r["tflite"]) for r in rows], *measure, out_dir, log)
        summary |= {"device": measure[0], "original_ms": times["original"]["time_ms"]}
        for row in rows:
            row |= {f"measured_{k}": v for k, v in times[Path(row["tflite"]).stem].items()}
            log(
                f"{Path(row['tflite']).stem}: {row['measured_time_ms']:.3f} ms on {measure[0]} "
                f"({row['measured_time_ms'] / summary['original_ms']:.1%} of the original's)"
            )
    (out_dir / "graphs.txt").write_text("".join(f"{row['tflite']}\n" for row in rows))
    (out_dir / "curve.json").write_text(json.dumps(summary, indent=1) + "\n")
    return rows


def search_seeds(settings: dict[str, Any]) -> tuple[list[int], dict[str, Any]]:
    """The seeds to search under (`search_seeds`, else the one `seed`) and the search's settings
    without them. How far a search gets at a given accuracy moves with its seed as much as with
    its objective (the image model's picks sat 0.2-0.3 points over the bar, where one seed's luck
    decides which point keeps it), so a variant is judged on the union of a few searches' curves,
    as the tasks' are (fdi.compress.search_seeds)."""
    search = {k: v for k, v in settings.items() if k != "search_seeds"}
    seeds = [int(s) for s in settings.get("search_seeds") or [search.get("seed", 0)]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"search seeds must differ, got {seeds}")
    return seeds, search


def run_searches(
    network: Any,
    model_path: Path,
    ties: Sequence[Sequence[str]],
    data: dict[str, tuple],
    seeds: list[int],
    search: dict[str, Any],
    out_dir: Path,
    time_model: DeviceTimeModel | None,
    log: Callable[[str], None],
    extra: dict[str, Any],
) -> list[tuple[int, dict[str, Any]]]:
    """(seed, its search's record) per seed (fdi.compress.search.run_search, each resumable and
    reused under the same settings), each in its `search_folder`. A search trains the network it
    is given, so every seed after the first starts from the file's original again."""
    from fdi.compress.graph_network import GraphNetwork
    from fdi.compress.search import run_search

    searches = []
    for number, seed in enumerate(seeds, 1):
        if len(seeds) > 1:
            log(f"search seed {seed} ({number}/{len(seeds)})")
        searched = network if number == 1 else GraphNetwork(load_user_model(model_path), ties)
        folder = Path(out_dir) / search_folder(seed, search)
        settings = {**search, "seed": seed}
        searches.append(
            (seed, run_search(searched, data["train"], data["val"], settings, folder, time_model, log, extra))
        )
    return searches


def search_folder(seed: int, search: dict[str, Any]) -> str:
    """A seed's search folder: `search` for the run's own seed (where a one-seed run keeps it, so
    seeds added later reuse it), `search-seed-S` for the others."""
    return "search" if seed == int(search.get("seed", 0)) else f"search-seed-{seed}"


def point_label(name: str, seed: int, search: dict[str, Any], index: int) -> str:
    """A point's file stem: NAME-target-K for the run's own seed, NAME-seed-S-target-K for others."""
    if seed == int(search.get("seed", 0)):
        return f"{name}-target-{index}"
    return f"{name}-seed-{seed}-target-{index}"


def export_original(model: Any, out: Path) -> None:
    """The original (a Keras model or its file, checked) at batch 1 as the `.tflite` a device
    runs: its time is what the points are compared with."""
    from fdi.profile.export import at_batch_one, to_tflite

    if not hasattr(model, "layers"):
        model = load_user_model(model)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(to_tflite(at_batch_one(model)))


def point_name(out_dir: Path) -> str:
    """The prefix of a run's point files: its folder's name, so that the points of several runs
    (DeepIoT's and FastDeepIoT's) keep apart in one benchmark job, which names graphs by stem."""
    name = Path(out_dir).resolve().name
    if not name:
        raise ValueError(f"{out_dir}: give an --out-dir with a name (its points are named after it)")
    return name


def measure_graphs(
    graphs: list[Path], device: str, settings: dict[str, Any], out_dir: Path, log: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """{graph stem: time_ms, settled} on `device` by fdi's instrument, in its own process (it loads
    LiteRT only, as every benchmark job does), with the reference graph and the cache probe."""
    import subprocess
    import sys

    import pandas as pd

    from fdi.profile.export import export_fixed_graph
    from fdi.timemodel.dataset import summarise_timings

    fixed = {name: out_dir / f"{name}.tflite" for name in ("reference", "cache_probe")}
    for name, path in fixed.items():
        if not path.exists():
            export_fixed_graph(name, path)
    out = out_dir / f"timings-{device}.parquet"
    log(f"timing {len(graphs)} graphs on {device} -> {out}")
    command = [
        sys.executable,
        "-m",
        "fdi.cli",
        "benchmark",
        "--device",
        device,
        "--settings",
        json.dumps(settings),
    ]
    command += ["--graphs", *map(str, graphs), "--reference", str(fixed["reference"])]
    command += ["--cache-probe", str(fixed["cache_probe"]), "--out", str(out)]
    subprocess.run(command, check=True)
    timings = pd.read_parquet(out)
    if "role" in timings:
        timings = timings[timings.role == "component"]
    summary = summarise_timings(timings, settings)
    return {
        row.id: {"time_ms": float(row.time_ms), "settled": not bool(row.flagged)}
        for row in summary.itertuples()
    }
