"""A user model's compression table and figure (`compress.models:` in the workflow): each variant's
curve (`fdi compress`'s curve.json) with its points measured on every device, read the way
Tables 6 and 8 are (fdi.compress.table, fdi.compress.equal_accuracy) so that a user's model and the
paper's two get one reading: each variant's pick at the original's accuracy minus the tolerance,
and every variant's measured time at equal accuracy against DeepIoT's.

The variant of a curve is the name of its folder (fdi.compress.user_model.point_name), and each
point's graph id its `.tflite` stem, which is how the benchmark job stored its timings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fdi.compress import equal_accuracy, table

ORIGINAL_ID = "original"  # the original's graph in the benchmark job (results/user/MODEL/original.tflite)


def load_curves(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """{variant: curve.json} with the variant named by the curve's folder; every curve must come
    from the same original (model file and test accuracy), or they are not comparable."""
    curves = {Path(path).parent.name: json.loads(Path(path).read_text()) for path in paths}
    originals = {(c.get("model"), round(c["original_test_accuracy"], 6)) for c in curves.values()}
    if len(originals) > 1:
        raise ValueError(f"curves of different originals: {sorted(map(str, originals))}")
    return curves


def user_curve(curves: Mapping[str, Mapping[str, Any]], times: pd.DataFrame) -> pd.DataFrame:
    """Every point of every variant (and the original, variant `original`) as one frame in the
    columns fdi.compress.table reads: test_accuracy, parameter_fraction, searched_fraction (the
    variant's own measure, which orders its curve), widths and measured_ms_DEVICE / spread_DEVICE
    from `times` (fdi.compress.table.measured)."""
    first = next(iter(curves.values()))
    rows: list[dict[str, Any]] = [
        {
            "variant": "original",
            "point": -1,
            "id": ORIGINAL_ID,
            "widths": "",
            "test_accuracy": float(first["original_test_accuracy"]),
            "parameter_fraction": 1.0,
            "searched_fraction": 1.0,
        }
    ]
    for variant, curve in curves.items():
        for point in curve["points"]:
            rows.append(
                {
                    "variant": variant,
                    "point": int(point["point"]),
                    "id": Path(point["tflite"]).stem,
                    "widths": json.dumps(point.get("expanded_widths", point["widths"])),
                    "test_accuracy": float(point["test_accuracy"]),
                    "parameter_fraction": float(point["parameter_fraction"]),
                    "searched_fraction": float(point["fraction"]),
                    # which search found it (fdi compress --search-seeds; a one-seed curve's: NaN)
                    "search_seed": point.get("search_seed"),
                }
            )
    frame = pd.DataFrame(rows)
    for device, measured in times.groupby("device"):
        by_id = measured.set_index("id")
        missing = sorted(set(frame.id) - set(by_id.index))
        if missing:
            raise ValueError(f"{device}: no timings for {', '.join(missing)}")
        frame[f"measured_ms_{device}"] = frame.id.map(by_id.time_ms)
        frame[f"spread_{device}"] = frame.id.map(by_id.spread)
    return frame


def picks(curve: pd.DataFrame, devices: Sequence[str], bar: float) -> pd.DataFrame:
    """A column per variant (the original first): its pick (the most compressed point at or above
    `bar`, fdi.compress.table.select) with widths, accuracy, parameter fraction, measured ms on
    each device and the time against the original's and DeepIoT's pick."""
    original = curve[curve.variant == "original"].iloc[0]
    chosen = {"original": original}
    for variant in table.variant_order([v for v in curve.variant.unique() if v != "original"]):
        chosen[variant] = table.select(curve[curve.variant == variant], bar)
    rows: dict[str, dict[str, str]] = {}
    rows["widths"] = {v: str(p.widths) for v, p in chosen.items()}
    rows["test accuracy %"] = {v: f"{100 * p.test_accuracy:.2f}" for v, p in chosen.items()}
    rows["keeps the accuracy"] = {
        v: ("" if v == "original" else "yes" if p.kept_accuracy else "no (most accurate point)")
        for v, p in chosen.items()
    }
    rows["parameter fraction"] = {v: f"{p.parameter_fraction:.3f}" for v, p in chosen.items()}
    for device in devices:
        column = f"measured_ms_{device}"
        rows[f"measured ms, {device}"] = {v: f"{p[column]:.3f}" for v, p in chosen.items()}
        rows[f"spread, {device}"] = {v: f"{100 * p[f'spread_{device}']:.1f}%" for v, p in chosen.items()}
        rows[f"vs original, {device}"] = {
            v: f"{100 * (p[column] / original[column] - 1):+.1f}%" for v, p in chosen.items()
        }
        if "deepiot" in chosen:
            base = chosen["deepiot"][column]
            rows[f"vs DeepIoT's pick, {device}"] = {
                v: ("" if v == "original" else f"{100 * (p[column] / base - 1):+.1f}%")
                for v, p in chosen.items()
            }
    frame = pd.DataFrame(rows).T
    frame.index.name = "row"
    return frame


def write_user_table(
    name: str,
    curve_paths: Sequence[Path],
    timings: Mapping[str, pd.DataFrame],
    settings: Mapping[str, Any],
    tolerance: float,
    drops: Sequence[float],
    out_table: Path,
    out_markdown: Path,
    out_figure: Path,
    out_curve: Path,
) -> list[str]:
    """The table (picks, then the equal-accuracy rows), its notes, every point and the figure."""
    curve = user_curve(load_curves(curve_paths), table.measured(dict(timings), dict(settings)))
    devices = sorted(timings)
    original = float(curve[curve.variant == "original"].test_accuracy.iloc[0])
    bar, why = table.accuracy_bar(original, [], tolerance, 0.0)
    frame = pd.concat([picks(curve, devices, bar), equal_accuracy.table_rows(curve, devices, drops)])
    for path in (out_table, out_markdown, out_figure, out_curve):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_table)
    curve.to_csv(out_curve, index=False)
    notes = [why, *table.seed_picks(curve, bar, devices), *equal_accuracy.summary(curve, devices, drops)]
    title = f"{name}: each variant's most compressed point at the original's accuracy, measured"
    Path(out_markdown).write_text(table.markdown(frame, title, notes))
    table.figure(curve, name, devices, Path(out_figure), equal_accuracy.levels(original, drops))
    return notes
