"""Energy over the benchmark's timed blocks, from a power trace, with the idle baseline taken off.

Every timing row (one pass: a block of `runs` inferences) carries its wall-clock window; idle rows
(role "idle") are windows in which the device ran nothing of ours. For a block:

    mean power  P_block = integral of power over the window / its length
    idle power  P_idle  = the same over the idle window nearest in time
    energy per inference (mJ) = (P_block - P_idle) [W] x the pass's time per inference [ms]

which is "integral over the block / runs - the idle baseline's share" when the block holds only
the timed runs, and stays right when it also holds a warm-up (benchmark_model's, or the host's
interpreter start): those run at the same power, but not in the per-inference time.

The trace is integrated piecewise-linearly (trapezoids between samples, interpolated at the
window's ends), which is exact for power that is linear between samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fdi.energy.traces import Trace, TraceError


def cumulative_energy_j(trace: Trace) -> np.ndarray:
    """Joules from the trace's first sample to each sample (trapezoids)."""
    steps = np.diff(trace.t_unix_s) * (trace.power_w[1:] + trace.power_w[:-1]) / 2
    return np.concatenate([[0.0], np.cumsum(steps)])


def window_energy_j(trace: Trace, starts: np.ndarray, ends: np.ndarray, labels: list[str]) -> np.ndarray:
    """Joules over each window [start, end]; a window the trace does not cover is an error naming
    the trace, the window and how much is missing."""
    starts, ends = np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    first, last = trace.t_unix_s[0], trace.t_unix_s[-1]
    uncovered = np.flatnonzero((starts < first) | (ends > last))
    if len(uncovered):
        i = uncovered[0]
        raise TraceError(
            f"{trace.source}: covers {_utc(first)} to {_utc(last)}, not the window of {labels[i]} "
            f"({_utc(starts[i])} to {_utc(ends[i])}); {len(uncovered)} of {len(starts)} windows "
            "fall outside it: is it the right trace, and are start_utc and clock_offset_s right?"
        )
    cumulative = cumulative_energy_j(trace)
    # F(t) between samples is quadratic for linear power; integrate exactly via the power at t.
    return _integral_to(trace, cumulative, ends) - _integral_to(trace, cumulative, starts)


def _integral_to(trace: Trace, cumulative: np.ndarray, at: np.ndarray) -> np.ndarray:
    t, p = trace.t_unix_s, trace.power_w
    index = np.clip(np.searchsorted(t, at, side="right") - 1, 0, len(t) - 2)
    p_at = np.interp(at, t, p)
    return cumulative[index] + (at - t[index]) * (p[index] + p_at) / 2


def _utc(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


def idle_power_w(idle: pd.DataFrame, when: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each time in `when`: the mean power of the idle window nearest to it, and that window's
    row position in `idle` (columns start_unix_s, end_unix_s, energy_j)."""
    if idle.empty:
        raise TraceError("no idle window was recorded: set the device's energy.idle to job or block")
    middles = ((idle.start_unix_s + idle.end_unix_s) / 2).to_numpy()
    nearest = np.abs(np.asarray(when)[:, None] - middles[None, :]).argmin(axis=1)
    power = (idle.energy_j / (idle.end_unix_s - idle.start_unix_s)).to_numpy()
    return power[nearest], nearest


def per_inference(windows: pd.DataFrame, time_ms: pd.Series) -> pd.DataFrame:
    """Energy per inference of every timed block. `windows` has one row per timing row (id, role,
    start_unix_s, end_unix_s, energy_j); `time_ms` the pass's time per inference for each row."""
    blocks = windows[windows.role != "idle"].copy()
    idle = windows[windows.role == "idle"].reset_index(drop=True)
    length = blocks.end_unix_s - blocks.start_unix_s
    blocks["power_w"] = blocks.energy_j / length
    middle = ((blocks.start_unix_s + blocks.end_unix_s) / 2).to_numpy()
    blocks["idle_power_w"], _ = idle_power_w(idle, middle)
    blocks["time_ms"] = time_ms.loc[blocks.index].to_numpy()
    blocks["energy_mj"] = (blocks.power_w - blocks.idle_power_w) * blocks.time_ms
    return blocks


def best_offset_s(trace: Trace, windows: pd.DataFrame, search_s: float, step_s: float) -> tuple[float, float]:
    """The shift of the trace's clock (s) that best separates the blocks' power from the idle
    windows' (largest difference of their mean powers), and that difference in W. A trace whose
    clock is off shows it: at the true shift, the blocks draw more than the idle windows."""
    blocks, idle = windows[windows.role != "idle"], windows[windows.role == "idle"]
    if blocks.empty or idle.empty:
        return 0.0, float("nan")
    cumulative = cumulative_energy_j(trace)
    first, last = trace.t_unix_s[0], trace.t_unix_s[-1]
    best = (0.0, -np.inf)
    for shift in np.arange(-search_s, search_s + step_s / 2, step_s):
        means = []
        for part in (blocks, idle):
            start, end = part.start_unix_s.to_numpy() + shift, part.end_unix_s.to_numpy() + shift
            inside = (start >= first) & (end <= last)
            if not inside.any():
                break
            energy = _integral_to(trace, cumulative, end[inside]) - _integral_to(
                trace, cumulative, start[inside]
            )
            means.append(energy.sum() / (end[inside] - start[inside]).sum())
        if len(means) < 2:
            continue
        contrast = means[0] - means[1]
        # ties go to the smallest shift (a flat stretch proves no offset)
        if contrast > best[1] + 1e-9 or (abs(contrast - best[1]) <= 1e-9 and abs(shift) < abs(best[0])):
            best = (float(shift), float(contrast))
    return best


def check_offset(trace: Trace, windows: pd.DataFrame, settings: dict[str, Any]) -> float:
    """Error if the trace lines up with the blocks only when shifted by more than
    `max_clock_offset_s` (default 0.5 s); return the best shift found."""
    tolerance = float(settings.get("max_clock_offset_s", 0.5))
    search = float(settings.get("offset_search_s", max(5.0, 4 * tolerance)))
    shift, contrast = best_offset_s(trace, windows, search, float(settings.get("offset_step_s", 0.05)))
    if abs(shift) > tolerance:
        raise TraceError(
            f"{trace.source}: the trace's power lines up with the benchmark's blocks and idle windows "
            f"best when shifted by {shift:+.2f} s (blocks {contrast:.3f} W above idle there), more than "
            f"max_clock_offset_s = {tolerance} s: correct start_utc or clock_offset_s"
        )
    return shift
