"""A phone's battery gauge readings (raw `current_now`, `voltage_now`) turned into watts.

Drivers disagree: most report µA and µV, some mA and mV; some count discharge as negative
current, others as positive. The units are told apart by magnitude (a phone draws 20 mA to 5 A:
in µA that is ≥ 20,000, in mA at most 5,000; a Li-ion cell sits near 3-4.5 V: µV ≥ 10^6, mV
in the thousands). The sign of discharge is the sign most samples share; a job in which the sign
flips had the phone charging at times (USB power on), and the gauge then measures the battery's
net current, not what the phone uses: that is an error, not a number. `current_unit`,
`voltage_unit` and `discharge_sign` in the device's energy settings override the detection.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fdi.energy.traces import CURRENT_UNITS, VOLTAGE_UNITS, Trace, TraceError

MICRO_THRESHOLD = 10_000  # |raw current| above this is µA (10 mA), at or below it mA (10 A)


def detect_units(current: np.ndarray, voltage: np.ndarray, energy: dict[str, Any]) -> dict[str, Any]:
    """The current and voltage units and the sign of discharge, detected or as overridden."""
    magnitude = float(np.median(np.abs(current)))
    volts = float(np.median(np.abs(voltage)))
    current_unit = energy.get("current_unit") or ("uA" if magnitude > MICRO_THRESHOLD else "mA")
    voltage_unit = energy.get("voltage_unit") or ("uV" if volts > 1e5 else "mV" if volts > 100 else "V")
    nonzero = current[current != 0]
    sign = energy.get("discharge_sign") or (1 if (nonzero > 0).sum() >= (nonzero < 0).sum() else -1)
    return {
        "current_unit": current_unit,
        "voltage_unit": voltage_unit,
        "discharge_sign": int(sign),
        "detected": not any(energy.get(k) for k in ("current_unit", "voltage_unit", "discharge_sign")),
    }


def battery_trace(
    samples: list[list[float]], energy: dict[str, Any], source: str
) -> tuple[Trace, dict[str, Any]]:
    """One trace from the job's samples ([t_unix_s, current_raw, voltage_raw], any order, duplicates
    allowed), and the units it was read in."""
    array = np.unique(np.asarray(samples, dtype=float).reshape(-1, 3), axis=0)
    if len(array) < 2:
        raise TraceError(f"{source}: fewer than two battery samples")
    t, current, voltage = array[:, 0], array[:, 1], array[:, 2]
    units = detect_units(current, voltage, energy)
    charging = np.flatnonzero(np.sign(current) == -units["discharge_sign"])
    if len(charging):
        raise TraceError(
            f"{source}: {len(charging)} of {len(current)} battery samples have the charging sign "
            f"(discharge is {units['discharge_sign']:+d} here): the phone was charging, so its gauge "
            "does not show what it uses; measure on battery (adb over Wi-Fi, or the charger off)"
        )
    amps = np.abs(current) * CURRENT_UNITS[units["current_unit"]]
    volts = voltage * VOLTAGE_UNITS[units["voltage_unit"]]
    if not ((volts > 2.0) & (volts < 10.0)).all():
        raise TraceError(
            f"{source}: battery voltage {volts.min():.3g}-{volts.max():.3g} V in {units['voltage_unit']} "
            "is not a phone cell's: set energy.voltage_unit"
        )
    if (amps > 20).any():
        raise TraceError(
            f"{source}: battery current up to {amps.max():.3g} A read as {units['current_unit']}: "
            "set energy.current_unit"
        )
    return Trace(t, amps * volts, source), units
