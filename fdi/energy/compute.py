"""Energy per inference for one timings file: windows from the benchmark, power from its source.

The source is the device's `energy.source`: `rapl` and `battery` readings are in the timings rows
themselves (fdi.profile.devices.energy_probes); `pymonsoon`, `powertool` and `csv` come from
trace files listed in the config (fdi.energy.traces), each checked for coverage and clock offset
against the windows.
The result has one row per timed block (energy_j over its window, its mean power, the idle power
subtracted, the time per inference, energy_mj per inference); `summarise` gives per graph the
median over its passes and their spread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fdi.energy.battery import battery_trace
from fdi.energy.integrate import check_offset, per_inference, window_energy_j
from fdi.energy.traces import Trace, TraceError, read_trace
from fdi.profile.devices.energy_probes import EXTERNAL_SOURCES, energy_settings
from fdi.timings import IDLE_ID, pass_value

COLUMNS = [
    "device",
    "id",
    "role",
    "repeat",
    "start_unix_s",
    "end_unix_s",
    "runs",
    "time_ms",
    "energy_j",
    "power_w",
    "idle_power_w",
    "energy_mj",
    "trace",
]


def _labels(rows: pd.DataFrame) -> list[str]:
    return [f"{r.id} (pass {r.repeat})" for r in rows.itertuples()]


def _trace_energy(
    rows: pd.DataFrame, traces: list[Trace], energy: dict[str, Any]
) -> tuple[np.ndarray, list[str]]:
    """Joules of each window from whichever trace covers it; every trace's clock checked."""
    joules = np.full(len(rows), np.nan)
    sources = [""] * len(rows)
    for trace in traces:
        inside = (
            (rows.start_unix_s >= trace.t_unix_s[0]) & (rows.end_unix_s <= trace.t_unix_s[-1])
        ).to_numpy()
        if not inside.any():
            continue
        check_offset(trace, rows[inside], energy)
        part = rows[inside]
        joules[inside] = window_energy_j(
            trace, part.start_unix_s.to_numpy(), part.end_unix_s.to_numpy(), _labels(part)
        )
        for i in np.flatnonzero(inside):
            sources[i] = trace.source
    missing = np.flatnonzero(np.isnan(joules))
    if len(missing):
        first = rows.iloc[missing[0]]
        spans = (
            "; ".join(
                f"{t.source}: {pd.Timestamp(t.t_unix_s[0], unit='s', tz='UTC')} to "
                f"{pd.Timestamp(t.t_unix_s[-1], unit='s', tz='UTC')}"
                for t in traces
            )
            or "no trace configured"
        )
        raise TraceError(
            f"{len(missing)} of {len(rows)} windows are covered by no trace, the first {first['id']} "
            f"(pass {first['repeat']}) at {pd.Timestamp(first.start_unix_s, unit='s', tz='UTC')} ({spans})"
        )
    return joules, sources


def energy_of_timings(
    timings: pd.DataFrame, device: str, settings: dict[str, Any], trace_specs: list[dict[str, Any]]
) -> pd.DataFrame:
    """One row per timed block with its energy per inference (mJ); raises TraceError naming the
    file for a trace that cannot be used."""
    energy = energy_settings(settings)
    source = energy["source"]
    rows = timings.reset_index(drop=True)
    if source == "none":
        raise ValueError(f"device {device!r} has no energy source (devices.{device}.energy.source)")
    if source == "rapl" and "rapl_uj" not in rows:  # the host had no readable RAPL counters
        return pd.DataFrame(columns=[*COLUMNS, "source", "units"])  # not measured
    if "start_unix_s" not in rows or not (rows.role == IDLE_ID).any():
        raise TraceError(
            f"device {device!r}: these timings have no idle window (benchmarked before energy was "
            "configured, or the source was unavailable): rerun its benchmark"
        )
    units: dict[str, Any] = {}
    if source == "rapl":
        rows["energy_j"] = rows.rapl_uj.astype(float) * 1e-6
        rows["trace"] = "rapl"
    elif source == "battery":
        samples = [s for cell in rows.battery_samples.dropna() for s in json.loads(cell)]
        trace, units = battery_trace(samples, energy, f"battery gauge of {device}")
        rows["energy_j"] = window_energy_j(
            trace, rows.start_unix_s.to_numpy(), rows.end_unix_s.to_numpy(), _labels(rows)
        )
        rows["trace"] = trace.source
    elif source in EXTERNAL_SOURCES:
        traces = [read_trace({"format": source, **spec}) for spec in trace_specs]
        rows["energy_j"], rows["trace"] = _trace_energy(rows, traces, energy)
    statistic = settings.get("statistic", "median")
    time_ms = pd.Series(
        [np.nan if r["role"] == IDLE_ID else pass_value(r, statistic) for r in rows.to_dict("records")],
        index=rows.index,
    )
    blocks = per_inference(rows, time_ms)
    out = blocks[[c for c in COLUMNS if c in blocks]].reset_index(drop=True)
    out["source"] = source
    out["units"] = json.dumps(units) if units else ""
    return out


def summarise(energy: pd.DataFrame) -> pd.DataFrame:
    """Per graph id: median energy per inference over its passes (mJ) and the passes' spread
    ((max - min) / median)."""
    parts = energy[energy.role == "component"].groupby("id").energy_mj
    median = parts.median()
    spread = (parts.max() - parts.min()) / median.abs().where(median != 0)
    return pd.DataFrame({"energy_mj": median, "energy_spread": spread, "passes": parts.size()}).reset_index()


def load_summaries(paths: list[Path]) -> dict[str, pd.DataFrame]:
    """results/energy/DEVICE/....parquet files -> {device: per-graph summary}; a device whose files
    hold no rows (RAPL absent on that host) maps to an empty summary: not measured."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        path = Path(path)
        device = path.parts[path.parts.index("energy") + 1] if "energy" in path.parts else path.parent.name
        frames.setdefault(device, []).append(pd.read_parquet(path))
    out = {}
    for device, parts in frames.items():
        rows = pd.concat([p for p in parts if len(p)] or [pd.DataFrame(columns=COLUMNS)], ignore_index=True)
        out[device] = (
            summarise(rows)
            if len(rows)
            else pd.DataFrame(columns=["id", "energy_mj", "energy_spread", "passes"])
        )
    return out


NOT_MEASURED = "not measured"
