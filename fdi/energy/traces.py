"""Power traces from external meters, read into one shape: UTC seconds and watts.

A meter's file has its own clock (seconds since its recording started, usually) and its own
units; the config declares the trace's start in UTC and, for a generic CSV, its columns and
units. Every reader returns a `Trace` (t_unix_s strictly increasing, power_w), and every defect a
user can meet (a missing column, a blank or NaN cell, time going backwards, a magnitude no meter
of the declared unit would print) is an error naming the file and its line.

Formats:
- PyMonsoon's CSV (`sampleEngine.enableCSVOutput`): a header of the enabled channels, each
  followed by a comma (`Time(ms),Main(mA),Main Voltage(V),`; USB and Aux channels optional), and
  the same trailing comma on every line. Its time column is in seconds since sampling started,
  whatever the header says: sampleEngine stamps samples with time.time() differences (read in
  PyMonsoon's sampleEngine.py); `time_unit: ms` in config overrides for a build that writes ms.
  Power = Main current x Main voltage.
- Monsoon PowerTool's CSV export: `Time (s)`, `Main Avg Current (mA)`, `Main Avg Power (mW)`,
  `Main Avg Voltage (V)` (power taken from the power column).
- A generic CSV: a time column in s, ms or us, either since the epoch (`clock: unix`) or since
  the trace's start (`clock: relative` with `start_utc`), and a power column (W or mW) or a
  current (A, mA, uA) and a voltage (V, mV, uV) column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
POWER_UNITS = {"W": 1.0, "mW": 1e-3}
CURRENT_UNITS = {"A": 1.0, "mA": 1e-3, "uA": 1e-6}
VOLTAGE_UNITS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6}
# What a phone or a board under a power meter can plausibly draw: a reading outside these
# bounds (after the declared unit is applied) means the unit is wrong or the file is garbage.
MAX_POWER_W = 500.0
MAX_CURRENT_A = 50.0
VOLTAGE_RANGE_V = (0.3, 60.0)


class TraceError(ValueError):
    """A power trace that cannot be used; the message names the file and, where it can, the line."""


@dataclass(frozen=True)
class Trace:
    """Samples of power against UTC time; `source` names the file (for errors and provenance)."""

    t_unix_s: np.ndarray
    power_w: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if len(self.t_unix_s) < 2:
            raise TraceError(f"{self.source}: fewer than two samples")


def parse_utc(value: Any, where: str) -> float:
    """Seconds since the epoch from an ISO-8601 time with its zone (or a number of seconds)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise TraceError(f"{where}: start_utc {value!r} is not an ISO-8601 time") from error
    if moment.tzinfo is None:
        raise TraceError(f"{where}: start_utc {value!r} has no time zone (write it in UTC, ending in Z)")
    return moment.timestamp()


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (trailing empty names dropped) and the data rows with their 1-based line numbers."""
    if not path.exists():
        raise TraceError(f"{path}: no such trace file")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise TraceError(f"{path}: empty file") from None
        while header and not header[-1].strip():
            header = header[:-1]  # PyMonsoon ends every line with a comma
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise TraceError(f"{path}: a header and no samples")
    return [name.strip() for name in header], rows


def _column(path: Path, header: list[str], rows: list[tuple[int, list[str]]], name: str) -> np.ndarray:
    """One column as floats; a missing column, a blank, unparsable or NaN cell names its line."""
    if name not in header:
        raise TraceError(f"{path}: no column {name!r} (columns: {', '.join(header)})")
    index = header.index(name)
    values = np.empty(len(rows))
    for i, (line, row) in enumerate(rows):
        cell = row[index].strip() if index < len(row) else ""
        # numpy 2's repr, which PyMonsoon writes with, prints np.float64(1.5)
        if cell.startswith("np.float64(") and cell.endswith(")"):
            cell = cell[len("np.float64(") : -1]
        try:
            value = float(cell)
        except ValueError:
            raise TraceError(f"{path}, line {line}: column {name!r} holds {cell!r}, not a number") from None
        if not math.isfinite(value):
            raise TraceError(f"{path}, line {line}: column {name!r} is {cell} (NaN or infinite)")
        values[i] = value
    return values


def _check_bounds(
    path: Path, rows: list[tuple[int, list[str]]], values: np.ndarray, what: str, low: float, high: float
) -> None:
    bad = np.flatnonzero((values < low) | (values > high))
    if len(bad):
        line = rows[bad[0]][0]
        raise TraceError(
            f"{path}, line {line}: {what} {values[bad[0]]:g} is implausible (expected {low:g} to "
            f"{high:g} after the declared unit): is the unit in the config right?"
        )


def _times(path: Path, rows: list[tuple[int, list[str]]], seconds: np.ndarray, start: float) -> np.ndarray:
    steps = np.diff(seconds)
    backwards = np.flatnonzero(steps <= 0)
    if len(backwards):
        line = rows[backwards[0] + 1][0]
        raise TraceError(
            f"{path}, line {line}: time goes backwards or stands still "
            f"({seconds[backwards[0]]:.6f} s, then {seconds[backwards[0] + 1]:.6f} s)"
        )
    return start + seconds


def _power(
    path: Path,
    rows: list[tuple[int, list[str]]],
    power: np.ndarray | None = None,
    current: np.ndarray | None = None,
    voltage: np.ndarray | None = None,
) -> np.ndarray:
    if power is None:
        assert current is not None and voltage is not None
        _check_bounds(path, rows, np.abs(current), "current (A)", 0.0, MAX_CURRENT_A)
        _check_bounds(path, rows, voltage, "voltage (V)", *VOLTAGE_RANGE_V)
        power = np.abs(current) * voltage
    _check_bounds(path, rows, power, "power (W)", 0.0, MAX_POWER_W)
    return power


def read_pymonsoon(path: Path, start_utc: Any, time_unit: str = "s") -> Trace:
    """PyMonsoon sampleEngine CSV: Time(ms) (seconds, see above), Main(mA), Main Voltage(V)."""
    path = Path(path)
    header, rows = _rows(path)
    seconds = _column(path, header, rows, "Time(ms)") * TIME_UNITS[time_unit]
    current = _column(path, header, rows, "Main(mA)") * 1e-3
    voltage = _column(path, header, rows, "Main Voltage(V)")
    t = _times(path, rows, seconds, parse_utc(start_utc, str(path)))
    return Trace(t, _power(path, rows, current=current, voltage=voltage), str(path))


def read_powertool(path: Path, start_utc: Any) -> Trace:
    """Monsoon PowerTool export: Time (s) and Main Avg Power (mW)."""
    path = Path(path)
    header, rows = _rows(path)
    seconds = _column(path, header, rows, "Time (s)")
    power = _column(path, header, rows, "Main Avg Power (mW)") * 1e-3
    t = _times(path, rows, seconds, parse_utc(start_utc, str(path)))
    return Trace(t, _power(path, rows, power=power), str(path))


def read_generic(path: Path, spec: dict[str, Any]) -> Trace:
    """A CSV described by `spec`: time_column/time_unit/clock (+start_utc), and power_column/
    power_unit or current_column/current_unit + voltage_column/voltage_unit."""
    path = Path(path)
    header, rows = _rows(path)
    seconds = (
        _column(path, header, rows, spec.get("time_column", "time")) * TIME_UNITS[spec.get("time_unit", "s")]
    )
    clock = spec.get("clock", "unix")
    start = 0.0 if clock == "unix" else parse_utc(spec.get("start_utc"), f"{path} (clock: relative)")
    if "power_column" in spec:
        power = _column(path, header, rows, spec["power_column"]) * POWER_UNITS[spec.get("power_unit", "W")]
        watts = _power(path, rows, power=power)
    else:
        current = (
            _column(path, header, rows, spec["current_column"]) * CURRENT_UNITS[spec.get("current_unit", "A")]
        )
        voltage = (
            _column(path, header, rows, spec["voltage_column"]) * VOLTAGE_UNITS[spec.get("voltage_unit", "V")]
        )
        watts = _power(path, rows, current=current, voltage=voltage)
    return Trace(_times(path, rows, seconds, start), watts, str(path))


def read_trace(spec: dict[str, Any]) -> Trace:
    """The trace a config entry describes (`format`: pymonsoon, powertool or csv), shifted by its
    declared `clock_offset_s` (the meter's clock minus the host's)."""
    path, kind = Path(spec["path"]), spec.get("format", "csv")
    if kind == "pymonsoon":
        trace = read_pymonsoon(path, spec["start_utc"], spec.get("time_unit", "s"))
    elif kind == "powertool":
        trace = read_powertool(path, spec["start_utc"])
    elif kind == "csv":
        trace = read_generic(path, spec)
    else:
        raise TraceError(f"{path}: unknown trace format {kind!r} (pymonsoon, powertool or csv)")
    offset = float(spec.get("clock_offset_s", 0.0))
    return Trace(trace.t_unix_s - offset, trace.power_w, trace.source)
