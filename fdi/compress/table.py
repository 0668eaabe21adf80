"""Tables 6 and 8 and Figure 5: every variant's curve, measured on every device, and each
variant's pick (the most compressed point that keeps the original's test accuracy).

The measured time of a graph is the instrument's (fdi.timemodel.dataset.summarise_timings: the mean of its
two fastest passes once they agree); `spread` is how far those two are apart, the uncertainty
the time rests on (disturbed passes above them only slow and are set aside). The trained
original is timed in the same job, so reductions are against a measurement taken under the same
conditions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fdi.profile.families import WIDTH_NAMES
from fdi.timemodel.dataset import summarise_timings
from fdi.timemodel.device_model import DeviceTimeModel

TABLE_NUMBER = {"vgg": 6, "deepsense": 8}


def measured(timings: dict[str, pd.DataFrame], settings: dict[str, Any]) -> pd.DataFrame:
    """Per device and graph id: measured ms and the spread it rests on (its two fastest passes)."""
    frames = []
    for device, frame in timings.items():
        summary = summarise_timings(
            frame[frame.get("role", "component") != "reference"] if "role" in frame else frame,
            settings.get(device, {}),
        )
        summary = summary.assign(device=device, spread=summary.settled_spread)
        frames.append(summary[["device", "id", "time_ms", "spread", "flagged"]])
    return pd.concat(frames, ignore_index=True)


def curves(
    points: pd.DataFrame,
    originals: pd.DataFrame,
    times: pd.DataFrame,
    time_models: dict[str, DeviceTimeModel] | None = None,
    energy: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Every point (and each task's original as variant `original`) with its measured time per
    device as columns measured_ms_DEVICE and spread_DEVICE, and, per device with time models,
    the predicted network time as predicted_ms_DEVICE (one vectorised call per family)."""
    frame = pd.concat([originals, points], ignore_index=True)
    frame["id"] = frame.graph.str.removesuffix(".tflite")
    for device, time_model in (time_models or {}).items():
        predicted = pd.Series(np.nan, index=frame.index)
        for family, rows in frame.groupby("family"):
            widths = [json.loads(w) for w in rows.widths]
            predicted[rows.index] = time_model.predict_structures(family, widths)
        frame[f"predicted_ms_{device}"] = predicted
    for device, rows in times.groupby("device"):
        rows = rows.set_index("id")
        frame[f"measured_ms_{device}"] = frame.id.map(rows.time_ms)
        frame[f"spread_{device}"] = frame.id.map(rows.spread)
    for device, summary in (energy or {}).items():
        if len(summary):  # a device without readings stays without energy columns: not measured
            by_id = summary.set_index("id")
            frame[f"energy_mj_{device}"] = frame.id.map(by_id.energy_mj).astype(float)
            frame[f"energy_spread_{device}"] = frame.id.map(by_id.energy_spread).astype(float)
    return frame


def accuracy_bar(
    original: float, other_seeds: Sequence[float], tolerance: float, spread_sd: float
) -> tuple[float, str]:
    """The test accuracy a pick must reach to keep the original's accuracy, and a sentence why.

    With the original alone: its accuracy minus `tolerance` (the paper's tables). With the
    original trained again under other seeds (`other_seeds`, their test accuracies): the mean of
    all of them minus the larger of `tolerance` and `spread_sd` standard deviations. On a small
    test set (three held-out users) the original's own accuracy moves between seeds by as much
    as the tolerance, and a compressed network is judged against what training the original
    gives, not against one lucky or unlucky run of it."""
    if not other_seeds:
        return original - tolerance, (
            f"A pick keeps the original's accuracy at >= {100 * (original - tolerance):.2f}% "
            f"(the original's {100 * original:.2f}% minus the tolerance, {100 * tolerance:.2f} points)."
        )
    accuracies = np.array([original, *other_seeds], dtype=float)
    mean, sd = float(accuracies.mean()), float(accuracies.std(ddof=1))
    allowance = max(tolerance, spread_sd * sd)
    return mean - allowance, (
        f"A pick keeps the original's accuracy at >= {100 * (mean - allowance):.2f}%: the original "
        f"trained with {len(accuracies)} seeds scores {', '.join(f'{100 * a:.2f}%' for a in accuracies)} "
        f"(mean {100 * mean:.2f}%, s.d. {100 * sd:.2f} points), minus the larger of the tolerance "
        f"({100 * tolerance:.2f} points) and {spread_sd:g} s.d. of them."
    )


BAR_SLACK = 1e-9  # far below one test sample's share of any test set (1e-4 at 10,000 samples)


def reaches(accuracy: Any, bar: float) -> Any:
    """Whether a test accuracy (or a column of them) reaches the bar. A point scoring exactly the
    original's accuracy minus the tolerance keeps it: in floats 0.5006 - 0.01 is 0.49060000000000004,
    above the 0.4906 that 4,906 of 10,000 right answers score, so `>=` alone would drop it."""
    return accuracy >= bar - BAR_SLACK


def kept_by(curve: pd.DataFrame, bar: float) -> list[str]:
    """The variants with a point at or above `bar` (the original and t_min aside)."""
    points = curve[(curve.variant != "original") & ~curve.variant.str.startswith("tmin_")]
    return variant_order(sorted(set(points[reaches(points.test_accuracy, bar)].variant)))


def compression_order(curve: pd.DataFrame) -> pd.DataFrame:
    """One variant's points from the least to the most compressed by the variant's own measure
    (the searched structure's params, FLOPs or predicted time fraction), point number breaking
    ties: for one search that is the order its points were taken in; a curve merged from several
    searches' points (fdi.compress.search.search_seeds) interleaves them. Rows without the
    measure keep their point order."""
    if "searched_fraction" not in curve or curve.searched_fraction.isna().any():
        return curve.sort_values("point")
    return (
        curve.assign(_order=-curve.searched_fraction).sort_values(["_order", "point"]).drop(columns="_order")
    )


def select(curve: pd.DataFrame, bar: float) -> pd.Series:
    """The most compressed point of one variant's curve (the last in `compression_order`) whose
    test accuracy is at least `bar` (fdi.compress.table.accuracy_bar); if none reaches it, the
    most accurate point, marked `kept_accuracy` False."""
    curve = compression_order(curve)
    keeps = curve[reaches(curve.test_accuracy, bar)]
    chosen = (keeps.iloc[-1] if len(keeps) else curve.loc[curve.test_accuracy.idxmax()]).copy()
    chosen["kept_accuracy"] = bool(len(keeps))
    return chosen


def variant_order(variants: Sequence[str]) -> list[str]:
    rank = {"original": 0, "deepiot": 1, "deepiot_localmin": 2, "deepiot_flops": 3, "fastdeepiot": 4}
    return sorted(
        variants,
        key=lambda v: (
            rank.get(v.rsplit("_", 1)[0] if v.startswith(("deepiot_localmin_", "fastdeepiot_")) else v, 9),
            v,
        ),
    )


def task_table(curve: pd.DataFrame, family: str, devices: Sequence[str], bar: float) -> pd.DataFrame:
    """One task's table: a column per variant's pick (`select` at the accuracy `bar`); a row per
    layer with its kept width per variant, then test accuracy, parameter fraction, MFLOPs,
    measured ms per device (with its spread) and predicted ms, and the measured change against
    DeepIoT."""
    original = curve[curve.variant == "original"].iloc[0]
    picks = {"original": original.copy()}
    picks["original"]["kept_accuracy"] = True
    for variant, rows in curve[
        (curve.variant != "original") & ~curve.variant.str.startswith("tmin_")
    ].groupby("variant"):
        picks[variant] = select(rows, bar)
    columns = variant_order(list(picks))
    table: dict[str, dict[str, Any]] = {}
    for position, name in enumerate(WIDTH_NAMES[family]):
        table[name] = {v: json.loads(picks[v].widths)[position] for v in columns}
    table["test accuracy"] = {
        v: f"{100 * picks[v].test_accuracy:.2f}%" + ("" if picks[v].kept_accuracy else " (not kept)")
        for v in columns
    }
    table["parameter fraction"] = {v: f"{100 * picks[v].parameter_fraction:.1f}%" for v in columns}
    table["MFLOPs"] = {v: f"{picks[v].mflops:.2f}" for v in columns}
    for device in devices:
        table[f"measured ms, {device} (spread)"] = {
            v: f"{picks[v][f'measured_ms_{device}']:.3f} ({100 * picks[v][f'spread_{device}']:.1f}%)"
            for v in columns
        }
        table[f"predicted ms, {device}"] = {v: f"{picks[v][f'predicted_ms_{device}']:.3f}" for v in columns}
        if "deepiot" in picks:
            base = picks["deepiot"][f"measured_ms_{device}"]
            table[f"measured vs DeepIoT, {device}"] = {
                v: f"{100 * (picks[v][f'measured_ms_{device}'] / base - 1):+.1f}%" for v in columns
            }
        energy = f"energy_mj_{device}"
        measured_energy = energy in curve and all(pd.notna(picks[v].get(energy)) for v in columns)
        table[f"energy mJ/inference, {device} (spread)"] = {
            v: (
                f"{picks[v][energy]:.4g} ({100 * picks[v][f'energy_spread_{device}']:.1f}%)"
                if measured_energy
                else "not measured"
            )
            for v in columns
        }
        if measured_energy and "deepiot" in picks:
            table[f"energy vs DeepIoT, {device}"] = {
                v: f"{100 * (picks[v][energy] / picks['deepiot'][energy] - 1):+.1f}%" for v in columns
            }
    t_min = curve[curve.variant.str.startswith("tmin_")]
    for row in t_min.itertuples():
        device = row.variant.removeprefix("tmin_")
        value = getattr(row, f"measured_ms_{device}", np.nan)
        table[f"t_min on {device}: widths {row.widths}"] = {
            v: (
                f"{value:.3f} ms measured; above it {picks[v][f'measured_ms_{device}'] - value:.3f} ms"
                if v == columns[0]
                else f"{picks[v][f'measured_ms_{device}'] - value:.3f} ms above"
            )
            for v in columns
        }
    frame = pd.DataFrame(table).T
    frame.index.name = "row"
    return frame[columns]


def seed_picks(curve: pd.DataFrame, bar: float, devices: Sequence[str]) -> list[str]:
    """For a task searched under several seeds: a sentence per seed with what each searched
    variant would pick from that seed's curve alone (accuracy, measured time per device), so
    the table says how much its picks owe to the seeds. Empty for one seed."""
    if "search_seed" not in curve:
        return []
    searched = curve[curve.search_seed.notna()]
    seeds = sorted({int(s) for s in searched.search_seed})
    if len(seeds) < 2:
        return []
    lines = [
        f"Every variant was searched under seeds {', '.join(map(str, seeds))}; each pick is the most "
        "compressed point of the union of its searches' curves (by the variant's own measure) that "
        "reaches the bar. From each seed's curve alone:"
    ]
    for seed in seeds:
        parts = []
        for variant in variant_order(sorted(set(searched.variant))):
            rows = searched[(searched.variant == variant) & (searched.search_seed == seed)]
            if not len(rows):
                continue
            pick = select(rows, bar)
            times = ", ".join(
                f"{pick[f'measured_ms_{d}']:.3f} ms on {d}" for d in devices if f"measured_ms_{d}" in pick
            )
            kept = "" if pick.kept_accuracy else ", not kept"
            parts.append(f"{variant} {100 * pick.test_accuracy:.2f}%{kept}, {times}")
        lines.append(f"- seed {seed}: " + "; ".join(parts) + ".")
    return lines


def ranking(curve: pd.DataFrame, devices: Sequence[str]) -> list[str]:
    """Per device: how well the time models ranked the networks this task's compression visited
    (every point, the originals and t_min included): Spearman's rho of predicted against
    measured, and the median absolute error."""
    from scipy.stats import spearmanr

    lines = []
    for device in devices:
        predicted, measured = f"predicted_ms_{device}", f"measured_ms_{device}"
        if predicted not in curve or measured not in curve:
            continue
        rows = curve[[predicted, measured]].dropna()
        if len(rows) < 3:
            continue
        rho = spearmanr(rows[predicted], rows[measured]).statistic
        error = (rows[predicted] / rows[measured] - 1).abs().median()
        lines.append(
            f"{device}: the time models rank the {len(rows)} networks of this table's curves with "
            f"Spearman {rho:.2f} against their measured times (median |error| {100 * error:.1f}%)."
        )
    return lines


def markdown(frame: pd.DataFrame, title: str, notes: Sequence[str] = ()) -> str:
    lines = [
        f"# {title}",
        "",
        "| | " + " | ".join(frame.columns) + " |",
        "|---" * (len(frame.columns) + 1) + "|",
    ]
    for name, row in frame.iterrows():
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    for note in notes:  # a paragraph each (a seed's line is a list item, see seed_picks)
        lines += ["", note]
    return "\n".join(lines) + "\n"


def figure(
    curve: pd.DataFrame, task: str, devices: Sequence[str], path: Path, levels: Sequence[float] = ()
) -> None:
    """Accuracy against measured time on each device, against measured energy where a device has
    it, and against the parameter fraction, one line per variant (the paper's Figs. 5a-e / 7a-e);
    the accuracy `levels` the variants are compared at (fdi.compress.equal_accuracy) as dotted
    lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        *[(f"measured_ms_{d}", f"measured ms on {d}") for d in devices],
        *[
            (f"energy_mj_{d}", f"energy per inference (mJ) on {d}")
            for d in devices
            if f"energy_mj_{d}" in curve
        ],
        ("parameter_fraction", "parameter fraction"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    original = curve[curve.variant == "original"].iloc[0]
    for ax, (column, label) in zip(axes[0], panels, strict=True):
        for variant in variant_order(
            [v for v in curve.variant.unique() if v != "original" and not v.startswith("tmin_")]
        ):
            rows = compression_order(curve[curve.variant == variant])
            # one line per search (a variant searched under several seeds has several), one colour
            seeds = rows.search_seed.fillna(-1) if "search_seed" in rows else pd.Series(-1, index=rows.index)
            colour = None
            for number, (_, search) in enumerate(rows.groupby(seeds, sort=True)):
                (line,) = ax.plot(
                    search[column],
                    100 * search.test_accuracy,
                    "o-",
                    color=colour,
                    label=variant if number == 0 else None,
                )
                colour = line.get_color()
        ax.plot([original[column]], [100 * original.test_accuracy], "k*", markersize=12, label="original")
        for number, level in enumerate(levels):
            ax.axhline(
                100 * level,
                color="grey",
                linestyle=":",
                linewidth=1,
                label="compared at" if number == 0 else None,
            )
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{task}: accuracy against time, energy (where measured) and size, every variant's curve")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def seed_accuracies(metrics_paths: Sequence[Path]) -> dict[str, list[float]]:
    """{task: test accuracies} of the originals trained again under other seeds (each a
    metrics.json of fdi.tasks.train), in seed order."""
    found: dict[str, list[tuple[int, float]]] = {}
    for path in metrics_paths:
        metrics = json.loads(Path(path).read_text())
        found.setdefault(metrics["task"], []).append((int(metrics["seed"]), float(metrics["test_accuracy"])))
    return {task: [accuracy for _, accuracy in sorted(pairs)] for task, pairs in found.items()}


def original_rows(metrics_paths: Sequence[Path]) -> pd.DataFrame:
    """Each trained task's original as a curve row (variant `original`), timed as task-TASK."""
    from fdi.compress.objectives import layer_totals

    rows = []
    for path in metrics_paths:
        metrics = json.loads(Path(path).read_text())
        family, widths = metrics["family"], metrics["widths"]
        rows.append(
            {
                "task": metrics["task"],
                "family": family,
                "variant": "original",
                "point": 0,
                "graph": f"task-{metrics['task']}.tflite",
                "widths": json.dumps(widths),
                "original_widths": json.dumps(widths),
                "parameter_fraction": 1.0,
                "flops_fraction": 1.0,
                "mflops": float(layer_totals(family, [widths], "flops")[0] / 1e6),
                "test_accuracy": metrics["test_accuracy"],
                "test_top5": metrics.get("test_top5"),
            }
        )
    return pd.DataFrame(rows)
