"""DeepIoT+localMin on the whole-network table's networks: expand, export, measure, tabulate.

For every test network of every family and every mode (fdi.compress.expand.MODES), the device's time
models choose the expanded widths (`plan`); the original Keras network (the one timed in the
campaign, rebuilt from its id's seed) is widened losslessly (fdi.compress.widen_graph) and its outputs
compared with the original's on random inputs, then exported (`export`). One benchmark job times
the originals, a byte-identical control copy of each original and the expansions side by side (the
instrument's rounds interleave them), so "before" and "after" come from the same job. The noise
floor is how far an original and its identical copy differ in that job: the change an expansion
must beat before it counts. How far the originals moved since the campaign is reported beside it
(the machine's drift between jobs, which a before/after comparison in one job does not suffer).
`table` joins it all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fdi.compress.expand import MODES, expand_network
from fdi.profile.families import ORIGINAL_WIDTHS
from fdi.timemodel.dataset import summarise_timings
from fdi.timemodel.device_model import DeviceTimeModel


def plan(
    structures: pd.DataFrame,
    time_model: DeviceTimeModel,
    settings: dict[str, Any],
) -> pd.DataFrame:
    """Per test network and mode: its widths, the expanded widths, predicted ms before and after
    (the device's time model)."""
    modes = settings.get("modes", list(MODES))
    limit = settings.get("limit", "next_pow2")
    networks = structures[structures.get("role", "test") == "test"] if "role" in structures else structures
    rows = []
    for network in networks.itertuples():
        widths = json.loads(network.widths)
        for mode in modes:
            new = expand_network(
                network.family,
                widths,
                time_model,
                mode,
                limit,
                ORIGINAL_WIDTHS[network.family],
                min_gain=float(settings.get("min_gain", 0.0)),
            )
            before, after = time_model.predict_structures(network.family, [widths, new])
            rows.append(
                {
                    "family": network.family,
                    "id": network.id,
                    "mode": mode,
                    "widths": json.dumps(widths),
                    "expanded_widths": json.dumps(new),
                    "changed": new != widths,
                    "predicted_before_ms": float(before),
                    "predicted_after_ms": float(after),
                }
            )
    return pd.DataFrame(rows)


def expanded_id(network_id: str, mode: str) -> str:
    return f"{network_id}-{mode}"


def control_id(network_id: str) -> str:
    """The id of an original's byte-identical copy, timed in the same job as the null change."""
    return f"{network_id}-control"


def export(
    planned: pd.DataFrame,
    structures: pd.DataFrame,
    original_graphs: list[Path],
    out_dir: Path,
    graph_list: Path,
    inputs_per_network: int = 3,
) -> pd.DataFrame:
    """Export every changed expansion; return the plan with each one's largest output difference
    from its original; write the list of graphs to time (originals and expansions)."""
    from fdi.compress.network import prunable
    from fdi.profile.export import build_keras_model, to_tflite

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = structures.set_index("id")
    originals = {Path(path).stem: Path(path) for path in original_graphs}
    graphs = []
    differences = []
    for row in planned.itertuples():
        if row.id not in originals:
            raise ValueError(f"network {row.id}: no original graph among {len(originals)} given")
        graphs.append(originals[row.id])
        control = out_dir / f"{control_id(row.id)}.tflite"
        if not control.exists():
            control.write_bytes(originals[row.id].read_bytes())
        graphs.append(control)
        if not row.changed:
            differences.append(0.0)
            continue
        original = build_keras_model({"id": row.id, **by_id.loc[row.id].to_dict()})
        expanded = prunable(original, row.family).widen(json.loads(row.expanded_widths))
        rng = np.random.default_rng(0)
        worst = 0.0
        for _ in range(inputs_per_network):
            inputs = [rng.standard_normal((1, *i.shape[1:])).astype("float32") for i in original.inputs]
            before = original.predict(inputs, verbose=0)
            after = expanded.predict(inputs, verbose=0)
            worst = max(worst, float(np.abs(after - before).max()))
        differences.append(worst)
        path = out_dir / f"{expanded_id(row.id, row.mode)}.tflite"
        path.write_bytes(to_tflite(expanded))
        graphs.append(path)
        print(
            f"{row.id} {row.mode}: {row.widths} -> {row.expanded_widths}, max |output difference| {worst:.2g}"
        )
    graph_list.parent.mkdir(parents=True, exist_ok=True)
    # In the plan's order: each original beside its copy and expansions, so they share the machine's
    # state in every round (this VM flips between two speeds that last seconds to minutes).
    graph_list.write_text("".join(f"{g}\n" for g in dict.fromkeys(graphs)))
    return planned.assign(max_abs_output_difference=differences)


def table(
    exported: pd.DataFrame,
    timings: pd.DataFrame,
    campaign: pd.DataFrame,
    settings: dict[str, Any],
    device: str,
) -> pd.DataFrame:
    """Measured before and after (the same job); the noise floor (median per family of how far an
    original and its identical control copy differ in this job); how far the originals moved since
    the campaign; whether the expansion is worse than the original beyond the noise floor."""
    measured = summarise_timings(timings, settings).set_index("id").time_ms
    first = summarise_timings(campaign, settings).set_index("id").time_ms
    frame = exported.copy()
    frame.insert(0, "device", device)
    frame["measured_before_ms"] = frame.id.map(measured)
    after_ids = [
        expanded_id(i, m) if c else i for i, m, c in zip(frame.id, frame["mode"], frame.changed, strict=True)
    ]
    frame["measured_after_ms"] = [measured.get(i, np.nan) for i in after_ids]
    frame["measured_change_pct"] = 100 * (frame.measured_after_ms / frame.measured_before_ms - 1)
    frame["predicted_change_pct"] = 100 * (frame.predicted_after_ms / frame.predicted_before_ms - 1)
    frame["measured_control_ms"] = [measured.get(control_id(i), np.nan) for i in frame.id]
    null_change = 100 * (frame.measured_control_ms / frame.measured_before_ms - 1).abs()
    frame["noise_floor_pct"] = null_change.groupby(frame.family).transform("median")
    moved = 100 * (frame.measured_before_ms / frame.id.map(first) - 1).abs()
    frame["moved_since_campaign_pct"] = moved.groupby(frame.family).transform("median")
    frame["worse_than_noise"] = frame.measured_change_pct > frame.noise_floor_pct
    return frame


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per device, family and mode: networks changed, median (over the changed ones) and best
    measured change, the share not worse than the noise floor, the largest output difference."""
    rows = []
    for (device, family, mode), group in frame.groupby(["device", "family", "mode"], sort=False):
        changed = group[group.changed]
        rows.append(
            {
                "device": device,
                "family": family,
                "mode": mode,
                "networks": len(group),
                "expanded": len(changed),
                "predicted_change_median_pct": float(changed.predicted_change_pct.median()),
                "measured_change_median_pct": float(changed.measured_change_pct.median()),
                "measured_change_best_pct": float(changed.measured_change_pct.min()),
                "not_worse_pct": 100 * float((~group.worse_than_noise).mean()),
                "noise_floor_pct": float(group.noise_floor_pct.iloc[0]),
                "moved_since_campaign_pct": float(group.moved_since_campaign_pct.iloc[0]),
                "max_abs_output_difference": float(group.max_abs_output_difference.max()),
            }
        )
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    lines = [
        "| device | family | mode | networks | expanded | predicted change (median of expanded) "
        "| measured change (median of expanded) | best measured | not worse than noise "
        "| noise floor (identical copy, same job) | originals moved since campaign "
        "| max output difference |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary(frame).itertuples():
        lines.append(
            f"| {row.device} | {row.family} | {row.mode} | {row.networks} | {row.expanded} "
            f"| {_pct(row.predicted_change_median_pct)} | {_pct(row.measured_change_median_pct)} "
            f"| {_pct(row.measured_change_best_pct)} | {row.not_worse_pct:.0f}% "
            f"| {row.noise_floor_pct:.1f}% | {row.moved_since_campaign_pct:.1f}% "
            f"| {row.max_abs_output_difference:.1g} |"
        )
    return "\n".join(lines) + "\n"


def _pct(value: float) -> str:
    """A signed percentage, or a dash where no network was expanded."""
    return "-" if np.isnan(value) else f"{value:+.1f}%"
