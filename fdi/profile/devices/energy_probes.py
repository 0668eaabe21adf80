"""In-band energy readings taken by the benchmark around each timed block.

Two sources live inside the measuring job itself:
- Linux RAPL on the host: the package domains' `energy_uj` counters under
  /sys/class/powercap/intel-rapl:N, read before and after each block; a counter that passed
  `max_energy_range_uj` in between has wrapped (once: at 100 W a 262 J range lasts 2.6 s, so
  blocks stay well under a range on any CPU this is meant for, and the error says so otherwise).
- An Android phone's battery gauge over adb: `current_now` and `voltage_now` sampled every
  `interval_s` by a thread of the benchmark job for the whole session; each block keeps the samples
  around its window. Units and sign vary by driver and are resolved later (fdi.energy.battery).

External meters (Monsoon, a USB meter's CSV) record on their own; the benchmark only records
windows and idle baselines for them. This module imports nothing heavy: it runs in the instrument.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RAPL_ROOT = "/sys/class/powercap"
PACKAGE_ZONE = re.compile(r"^intel-rapl:\d+$")  # packages; subzones (intel-rapl:0:0) are inside them
BATTERY = "/sys/class/power_supply/battery"
EXTERNAL_SOURCES = ("pymonsoon", "powertool", "csv")
SOURCES = ("none", "rapl", "battery", *EXTERNAL_SOURCES)


class EnergyProbeError(RuntimeError):
    """An energy source configured for a device cannot be read (the message names the file)."""


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except PermissionError as error:
        raise EnergyProbeError(
            f"{path}: not readable by this user (Linux restricts RAPL counters to root since "
            "CVE-2020-8694): run the benchmark as root or make energy_uj readable"
        ) from error
    except (OSError, ValueError) as error:
        raise EnergyProbeError(f"{path}: cannot read a counter ({error})") from error


class RaplCounters:
    """The package zones' energy counters (µJ) and their wrap-around ranges."""

    def __init__(self, root: str | Path = RAPL_ROOT) -> None:
        self.zones = sorted(path for path in Path(root).glob("intel-rapl:*") if PACKAGE_ZONE.match(path.name))
        self.ranges = [_read_int(zone / "max_energy_range_uj") for zone in self.zones]

    def read(self) -> list[int]:
        return [_read_int(zone / "energy_uj") for zone in self.zones]

    def used_uj(self, before: list[int], after: list[int]) -> int:
        """µJ used between two readings, summed over the packages, wrap-arounds undone."""
        total = 0
        for start, end, top in zip(before, after, self.ranges, strict=True):
            total += end - start if end >= start else end + top - start
        return total


class RaplProbe:
    """RAPL read before and after each block: the row gets `rapl_uj`."""

    source = "rapl"

    def __init__(self, counters: RaplCounters) -> None:
        self.counters = counters

    def begin(self) -> list[int]:
        return self.counters.read()

    def end(self, token: list[int]) -> dict[str, Any]:
        return {"rapl_uj": self.counters.used_uj(token, self.counters.read())}

    def describe(self) -> dict[str, Any]:
        return {"energy_source": "rapl", "rapl_zones": [zone.name for zone in self.counters.zones]}


class BatterySampler:
    """A thread that reads (current, voltage) every `interval_s` with the host's UTC time of each
    reading (the middle of the read); `window` returns the samples around a block."""

    def __init__(self, read: Callable[[], tuple[float, float]], interval_s: float) -> None:
        self.read, self.interval_s = read, interval_s
        self.samples: list[tuple[float, float, float]] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="battery-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            before = time.time()
            try:
                current, voltage = self.read()
            except BaseException as error:  # reported by the benchmark's thread
                self.error = error
                return
            self.samples.append(((before + time.time()) / 2, current, voltage))
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.samples and self.error is None and time.monotonic() < deadline:
            time.sleep(0.005)
        self._check()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _check(self) -> None:
        if self.error is not None:
            raise EnergyProbeError(f"the battery gauge could not be read: {self.error}") from self.error

    def wait_past(self, moment: float) -> None:
        """Block until a sample taken after `moment` exists, so every window is enclosed."""
        deadline = time.monotonic() + 10 * self.interval_s + 5
        while (not self.samples or self.samples[-1][0] <= moment) and time.monotonic() < deadline:
            self._check()
            time.sleep(min(self.interval_s / 4, 0.01))
        self._check()

    def window(self, start: float, end: float) -> list[tuple[float, float, float]]:
        samples = list(self.samples)
        times = [s[0] for s in samples]
        first = max(0, sum(t < start for t in times) - 1)
        last = min(len(samples), sum(t <= end for t in times) + 1)
        return samples[first:last]


class BatteryProbe:
    """Battery samples around each block: the row gets `battery_samples` (JSON [[t, I, V], ...],
    raw driver values)."""

    source = "battery"

    def __init__(self, sampler: BatterySampler, paths: tuple[str, str]) -> None:
        self.sampler, self.paths = sampler, paths

    def begin(self) -> float:
        return time.time()

    def end(self, token: float) -> dict[str, Any]:
        finished = time.time()
        self.sampler.wait_past(finished)
        return {"battery_samples": json.dumps(self.sampler.window(token, finished))}

    def describe(self) -> dict[str, Any]:
        return {
            "energy_source": "battery",
            "battery_current": self.paths[0],
            "battery_voltage": self.paths[1],
            "battery_interval_s": self.sampler.interval_s,
        }


class WindowsOnly:
    """An external meter records on its own: rows only carry their windows."""

    def __init__(self, source: str) -> None:
        self.source = source

    def begin(self) -> None:
        return None

    def end(self, token: None) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"energy_source": self.source}


Probe = RaplProbe | BatteryProbe | WindowsOnly


def energy_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The device's `energy` block with its defaults; source `none` when there is none."""
    energy = {"source": "none", "idle": "job", "idle_s": 2.0, **(settings.get("energy") or {})}
    if energy["source"] not in SOURCES:
        raise ValueError(f"energy.source must be one of {', '.join(SOURCES)}, not {energy['source']!r}")
    if energy["idle"] not in ("job", "block"):
        raise ValueError(f"energy.idle must be job or block, not {energy['idle']!r}")
    return energy


@contextmanager
def open_probe(settings: dict[str, Any], session: Any) -> Iterator[Probe | None]:
    """The probe for the device's energy source, or None (no source, or RAPL absent here)."""
    energy = energy_settings(settings)
    source = energy["source"]
    if source == "none":
        yield None
    elif source == "rapl":
        if not getattr(session, "runs_here", False):
            raise ValueError(
                f"energy.source rapl reads this machine's counters: only for a device that runs here "
                f"(kind host), not kind {settings['kind']!r}"
            )
        root = energy.get("rapl_root", RAPL_ROOT)
        try:
            counters = RaplCounters(root)
            counters.read()
            unavailable = "" if counters.zones else f"no RAPL package zone under {root}"
        except EnergyProbeError as error:
            unavailable = str(error)
        if unavailable:  # "where the host has it": elsewhere energy is reported as not measured
            print(f"energy: {unavailable}: energy not measured on this device")
            yield None
        else:
            yield RaplProbe(counters)
    elif source == "battery":
        if not hasattr(session, "read_files"):
            raise ValueError(f"energy.source battery needs an adb device, not kind {settings['kind']!r}")
        paths = (
            energy.get("current_path", f"{BATTERY}/current_now"),
            energy.get("voltage_path", f"{BATTERY}/voltage_now"),
        )

        def read() -> tuple[float, float]:
            current, voltage = session.read_files(*paths)
            return float(current), float(voltage)

        sampler = BatterySampler(read, float(energy.get("interval_s", 0.05)))
        sampler.start()
        try:
            yield BatteryProbe(sampler, paths)
        finally:
            sampler.stop()
    else:
        yield WindowsOnly(source)
