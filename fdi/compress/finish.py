"""From a search's points to deployable networks: (expand), fine-tune, evaluate, export.

- `finish`: every point of a search (fdi.compress.search) is the extracted small network; for
  FastDeepIoT it is first widened by Algorithm 2 under the device's time models (lossless, zeros),
  then every point is fine-tuned with its structure frozen, judged on the test split, saved and
  exported at batch 1. A point already finished is kept (a killed job redoes only the rest).
- `localmin`: DeepIoT's finished points widened by Algorithm 2 with no retraining
  (DeepIoT+localMin); their test accuracy is measured again, and equals DeepIoT's by construction.
- `t_min`: the recurrent network's lower bound (SPEC §5): every width 1, then Algorithm 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fdi.compress.expand import expand_network
from fdi.compress.graph_network import GraphNetwork
from fdi.compress.network import Structure, prunable
from fdi.compress.objectives import layer_totals, parameter_fraction
from fdi.profile.families import family_of, inputs_of, reports_top5
from fdi.tasks.finetune import fine_tune_on
from fdi.timemodel.device_model import DeviceTimeModel


def _target_text(point: dict[str, Any]) -> str:
    seed = "" if point.get("seed") is None else f", search seed {point['seed']}"
    if point.get("target") is None:
        fraction = point.get("fraction", float("nan"))
        return f"end of search, {point.get('measure', 'params')} {fraction:.0%}{seed}"
    return f"target {point['target']:.0%} of {point.get('measure', 'params')}{seed}"


def graph_name(task: str, variant: str, index: int) -> str:
    return f"{task}-{variant}-t{index}.tflite"


def evaluate(model: Any, arrays: dict[str, np.ndarray], family: str) -> dict[str, float]:
    """Test accuracy (and top-5 for the image task) of a network, from its probabilities."""
    inputs = inputs_of(arrays, family, "test")
    probabilities = model.predict(inputs if len(inputs) > 1 else inputs[0], batch_size=256, verbose=0)
    labels = arrays["y_test"]
    result = {"test_accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels))}
    if reports_top5(family):
        top5 = np.argsort(probabilities, axis=1)[:, -5:]
        result["test_top5"] = float(np.mean((top5 == labels[:, None]).any(axis=1)))
    return result


def algorithm2(
    network: Structure,
    widths: list[int],
    time_model: DeviceTimeModel,
    local: dict[str, Any],
    original: list[int],
) -> list[int]:
    """Algorithm 2's widths for a point under the `localmin` settings (mode, limit, min_gain)."""
    mode, limit = local.get("mode", "staircase"), local.get("limit", "next_pow2")
    return expand_network(
        network, widths, time_model, mode, limit, original, float(local.get("min_gain", 0.0))
    )


def fine_tune(
    model: Any,
    arrays: dict[str, np.ndarray],
    family: str,
    settings: dict[str, Any],
    log: Callable[[str], None],
    validation: tuple[float, int],
) -> float:
    """Train the frozen structure's weights further and keep the epoch that does best on the
    search's validation slice (`validation` = its fraction and seed, so the slice the search
    judged the structure on stays out of training here too). The learning rate decays to zero
    over the epochs on a cosine (`schedule: cosine`) or stays put (`constant`). A short
    fine-tune's last epoch is not its best often enough to matter: a point one tenth of a point
    under the accuracy tolerance drops off its curve. With `plateau:` in `settings`, fine-tuning
    follows the originals' rule (fdi.tasks.plateau, issue 29): `epochs` is a cap, the rate is
    constant and multiplied by `decay` after `decay_patience` epochs without a gain, and training
    stops after `patience`; so no compressed network gets a training budget its original did not.
    Returns the kept validation accuracy."""
    from fdi.tasks import plateau

    train_x, train_y, valid_x, valid_y = plateau.validation_split(arrays, family, *validation)
    return fine_tune_on(model, (train_x, train_y), (valid_x, valid_y), settings, log)


def export(model: Any, path: Path) -> None:
    """The network at batch 1 (the timed form) as a .tflite graph."""
    from fdi.profile.export import at_batch_one, to_tflite

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_tflite(at_batch_one(model)))


def _row(
    task: str,
    variant: str,
    index: int,
    point: dict[str, Any],
    widths: list[int],
    family: str,
    network: Structure,
    original: list[int],
    scores: dict[str, float],
) -> dict[str, Any]:
    flops, full = layer_totals(network, [widths, original], "flops")
    return {
        "task": task,
        "family": family,
        "variant": variant,
        "point": index,
        "target": point.get("target"),
        "measure": point.get("measure", "params"),
        "graph": graph_name(task, variant, index),
        "original_widths": json.dumps(original),
        "searched_widths": json.dumps(point["widths"]),
        # the search's own measure of its structure (params, FLOPs or predicted time, as a
        # fraction of the original's): what orders a curve merged from several searches
        "searched_fraction": point.get("fraction"),
        "search_seed": point.get("seed"),
        "widths": json.dumps(widths),
        "parameter_fraction": parameter_fraction(network, widths, original),
        "flops_fraction": float(flops / full),
        "mflops": float(flops / 1e6),
        "validation_accuracy_searched": point.get("validation_accuracy"),
        **scores,
    }


def finish(
    task: str,
    variant: str,
    search_dir: Path,
    data_path: Path,
    settings: dict[str, Any],
    out_dir: Path,
    expand_with: DeviceTimeModel | None = None,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Fine-tune (after Algorithm 2 under `expand_with`, a device's time model, if
    given) and export every point; write `out_dir/points.parquet` (one row per point) and the
    graphs under `out_dir/graphs`. Predicted times for every device are the table step's job, so
    adding a device does not redo a fine-tuning."""
    import keras

    from fdi.tasks import artefact

    result = json.loads((Path(search_dir) / "search.json").read_text())
    family, original = result["family"], result["original_widths"]
    arrays, _ = artefact.load(data_path)
    out_dir = Path(out_dir)
    (out_dir / "graphs").mkdir(parents=True, exist_ok=True)
    rows = []
    for index, point in enumerate(result["points"]):
        final, record = out_dir / f"final-{index}.keras", out_dir / f"final-{index}.json"
        if (
            final.exists()
            and record.exists()
            and (out_dir / "graphs" / graph_name(task, variant, index)).exists()
        ):
            log(f"point {index}: already finished")
            rows.append(json.loads(record.read_text()))
            continue
        # a merged search (fdi.compress.search.search_seeds) names each point's network and seed
        network = Path(search_dir) / point.get("path", f"points/target-{index}.keras")
        model = keras.models.load_model(network, compile=False)
        graph = prunable(model, family)
        widths = graph.widths
        if expand_with is not None:
            new = algorithm2(graph, widths, expand_with, settings.get("localmin", {}), original)
            log(f"point {index}: Algorithm 2 on the device's models: {widths} -> {new}")
            if new != widths:
                model, widths = graph.widen(new, name=model.name), new
        log(f"point {index} ({_target_text(point)}): fine-tuning {widths}")
        # search.json holds the search's settings with their defaults filled in; the slice the
        # point's own search judged it on is its seed's
        validation = (
            float(result["settings"]["validation_fraction"]),
            int(point.get("seed", result["settings"]["seed"])),
        )
        fine_tune(model, arrays, family, settings.get("finetune", {}), log, validation)
        scores = evaluate(model, arrays, family)
        log(f"point {index}: test accuracy {scores['test_accuracy']:.4f}")
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(final)
        export(model, out_dir / "graphs" / graph_name(task, variant, index))
        row = _row(task, variant, index, point, widths, family, graph, original, scores)
        record.write_text(json.dumps(row) + "\n")
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.to_parquet(out_dir / "points.parquet", index=False)
    return frame


def localmin(
    task: str,
    device: str,
    deepiot_dir: Path,
    data_path: Path,
    settings: dict[str, Any],
    out_dir: Path,
    time_model: DeviceTimeModel,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """DeepIoT+localMin on `device` (`time_model` is its time model): DeepIoT's
    finished points widened by Algorithm 2, no retraining; and t_min (every width 1, then
    Algorithm 2), a network timed for its execution time only: the part of a pick's time no
    compression of this graph removes (SPEC §5 reads HHAR's results against it; the image task's
    fixed costs are read the same way)."""
    import keras

    from fdi.tasks import artefact

    variant = f"deepiot_localmin_{device}"
    deepiot = pd.read_parquet(Path(deepiot_dir) / "points.parquet")
    arrays, _ = artefact.load(data_path)
    local = settings.get("localmin", {})
    out_dir = Path(out_dir)
    (out_dir / "graphs").mkdir(parents=True, exist_ok=True)
    rows = []
    graph = family = None
    for point in deepiot.to_dict("records"):
        model = keras.models.load_model(
            Path(deepiot_dir) / f"final-{int(point['point'])}.keras", compile=False
        )
        family = family_of(model)
        graph = prunable(model, family)
        widths = graph.widths
        original = json.loads(point["original_widths"])
        new = algorithm2(graph, widths, time_model, local, original)
        expanded = model if new == widths else graph.widen(new, name=model.name)
        scores = evaluate(expanded, arrays, family)
        log(
            f"point {point['point']}: {widths} -> {new}; "
            f"test accuracy {point['test_accuracy']:.4f} -> {scores['test_accuracy']:.4f}"
        )
        export(expanded, out_dir / "graphs" / graph_name(task, variant, int(point["point"])))
        source = {
            "target": point["target"],
            "measure": point["measure"],
            "widths": json.loads(point["searched_widths"]),
            "validation_accuracy": point["validation_accuracy_searched"],
            "fraction": point.get("searched_fraction"),
            "seed": point.get("search_seed"),
        }
        rows.append(_row(task, variant, int(point["point"]), source, new, family, graph, original, scores))
    if graph is not None:  # t_min: the bound no structure of this graph runs under
        rows.append(
            _t_min(
                task,
                device,
                graph,
                family,
                json.loads(deepiot.original_widths.iloc[0]),
                time_model,
                local,
                out_dir,
                log,
            )
        )
    frame = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out_dir / "points.parquet", index=False)
    return frame


def _t_min(
    task: str,
    device: str,
    graph: GraphNetwork,
    family: str | None,
    original: list[int],
    time_model: DeviceTimeModel,
    local: dict[str, Any],
    out_dir: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """t_min (SPEC §5): every width 1, then Algorithm 2; the network (the first elements of each
    width kept from a trained one) is exported for its time only."""
    ones = [1] * len(graph.widths)
    t_min = algorithm2(graph, ones, time_model, {**local, "min_gain": 0.0}, original)
    smallest = graph.extract(
        [np.arange(min(t, w)) for t, w in zip(t_min, graph.widths, strict=True)], "t_min"
    )
    if any(t > w for t, w in zip(t_min, graph.widths, strict=True)):
        smallest = prunable(smallest, family).widen(t_min, name="t_min")
    export(smallest, out_dir / "graphs" / f"{task}-tmin_{device}.tflite")
    flops, full = layer_totals(graph, [t_min, original], "flops")
    log(f"t_min on {device}: widths 1 -> {t_min}")
    return {
        "task": task,
        "family": family,
        "variant": f"tmin_{device}",
        "point": 0,
        "graph": f"{task}-tmin_{device}.tflite",
        "widths": json.dumps(t_min),
        "parameter_fraction": parameter_fraction(graph, t_min, original),
        "flops_fraction": float(flops / full),
        "mflops": float(flops / 1e6),
    }
