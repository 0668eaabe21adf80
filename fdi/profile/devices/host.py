"""The `host` device: this machine's CPU through LiteRT's Python interpreter.

This module is the measuring instrument. It imports LiteRT only (never TensorFlow, whose import
alone takes seconds and starts threads), runs with a fixed thread count and, optionally, pinned
to a set of cores. Each component is timed in `repeats` independent passes (a fresh interpreter
each), by `fdi.profile.devices.litert_timer` (the same code the `ssh` kind runs on a board).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fdi.profile.devices.cpu_identity import cpu_identity
from fdi.profile.devices.gate import CACHE_PROBE_RUNS, RunGate
from fdi.profile.devices.litert_timer import (
    load_interpreter,
    prepared_interpreter,
    timed_invocations,
    warmed_interpreter,
)

QUICK_RUNS = 5  # invocations of a kept interpreter in one quick timing (the reference as a gate)
# glibc (>= 2.35) then asks for transparent huge pages on every large allocation (madvise), which
# is what a `transparent_hugepage=always` system does by default.
HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb=1"
THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"
PROC_STAT = "/proc/stat"
OTHERS_LOOKS = 3  # reads of the run queue, OTHERS_LOOK_GAP_S apart; the fewest counts ...
OTHERS_LOOK_GAP_S = 0.001  # ... so a kernel thread waking for a moment is not a co-runner


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _bracketed(text: str | None) -> str:
    """The selected value of a sysfs choice ("always [madvise] never" -> "madvise")."""
    if not text or "[" not in text:
        return "unreadable"
    return text.split("[", 1)[1].split("]", 1)[0]


def huge_pages_environment(settings: dict[str, Any], environ: dict[str, str]) -> dict[str, str] | None:
    """The environment the benchmark process must be restarted with, or None if it already runs
    as `settings` ask.

    Why: a large weight buffer (an FC layer's 8-64 MiB) lands on whatever 4 KiB pages malloc gets,
    and on this project's VMs that placement alone put an 8 MiB FC layer's floor 19-21% apart
    between five processes, quiet or disturbed; with huge pages 8-9% (a 32 MiB layer's: 18% -> 5%
    quiet, 7% either way disturbed; benchmarks/huge_pages.py, docs/instrument.md). glibc reads
    its tunables only when a process starts, hence a restart rather than a setting."""
    if not settings.get("huge_pages"):
        return None
    tunables = [t for t in environ.get("GLIBC_TUNABLES", "").split(":") if t]
    if HUGE_PAGES_TUNABLE in tunables:
        return None
    kept = [t for t in tunables if not t.startswith("glibc.malloc.hugetlb=")]
    return {**environ, "GLIBC_TUNABLES": ":".join([*kept, HUGE_PAGES_TUNABLE])}


def procs_running(stat: str = PROC_STAT) -> int | None:
    """Tasks running or runnable on the machine right now (Linux's `procs_running`), this one
    included; None where the kernel does not say."""
    try:
        with open(stat) as lines:
            for line in lines:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fingerprint(settings: dict[str, Any]) -> dict[str, Any]:
    """What the timings were measured on; written beside every timing."""
    cpufreq, cpuinfo = "/sys/devices/system/cpu/cpu0/cpufreq", _read("/proc/cpuinfo") or ""
    return {
        "device_kind": "host",
        "cpu_model": _cpu_model(cpuinfo),
        **cpu_identity(cpuinfo),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "os": platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "runtime": load_interpreter()[1],
        "runtime_version": load_interpreter()[2],
        "threads": int(settings["threads"]),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "governor": _read(f"{cpufreq}/scaling_governor") or "unreadable",
        "cur_freq_khz": _read(f"{cpufreq}/scaling_cur_freq") or "unreadable",
        "max_freq_khz": _read(f"{cpufreq}/cpuinfo_max_freq") or "unreadable",
        "transparent_hugepage": _bracketed(_read(THP_SETTING)),
        "malloc_huge_pages": HUGE_PAGES_TUNABLE in os.environ.get("GLIBC_TUNABLES", "").split(":"),
        "libc": " ".join(platform.libc_ver()),
    }


class HostSession:
    """Timing on this machine: the fingerprint, and one pass over one graph at a time."""

    runs_here = True  # its energy is this machine's (RAPL)

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.fingerprint = fingerprint(settings)
        self._kept: dict[Path, Any] = {}
        self._run_gate: RunGate | None = None

    def gate_runs_on(self, reference: Path, cache_probe: Path | None = None) -> None:
        """Gate every pass's timed runs on `reference` (quick timings of its kept interpreter),
        and those over large graphs on `cache_probe` too, where the settings have `run_gate`
        (fdi.profile.devices.gate.RunGate); else nothing."""
        if self.settings.get("run_gate"):
            reference_ms = partial(self.fastest_ms, reference, QUICK_RUNS)
            probe_ms = None
            if cache_probe is not None:
                probe_ms = partial(self.fastest_ms, cache_probe, CACHE_PROBE_RUNS)
            self._run_gate = RunGate(self.settings, reference_ms, probe_ms)

    def fastest_ms(self, graph: Path, runs: int) -> float:
        """The fastest of `runs` quick invocations of `graph` (ms)."""
        return min(self.quick_time(graph, runs)["runs_ms"])

    def others_running(self) -> int:
        """How many other tasks are running on the machine now: the fewest of OTHERS_LOOKS reads
        of the run queue, less this job's own threads (0 where the kernel does not say).

        Why: a process sharing the machine (another job, a build, the disturbance generator)
        slows a memory-bound layer's every run alike, which no pass statistic escapes. Measured
        here (docs/instrument.md): while benchmarks/disturb.py's workers ran, a read saw another
        task 99% of the time; between its spells 1%, and then only for a moment."""
        looks = []
        for look in range(OTHERS_LOOKS):
            if look:
                time.sleep(OTHERS_LOOK_GAP_S)
            looks.append(procs_running())
        if None in looks:
            return 0
        return max(0, min(looks) - int(self.settings["threads"]))

    def quick_time(self, graph: Path, runs: int = QUICK_RUNS) -> dict[str, Any]:
        """A few invocations of an interpreter kept for the session (warm after its first use):
        about a millisecond for the reference graph, cheap enough to gate every pass."""
        if graph not in self._kept:
            self._kept[graph] = prepared_interpreter(graph, self.settings["threads"])
            self._kept[graph].invoke()
        return {"runs_ms": timed_invocations(self._kept[graph], runs)}

    def time(self, graph: Path) -> dict[str, Any]:
        settings = self.settings
        interpreter = warmed_interpreter(
            graph, settings["threads"], settings["warmup_runs"], settings.get("warmup_min_ms", 0.0)
        )
        if self._run_gate is None:
            return {"runs_ms": timed_invocations(interpreter, settings["runs"])}
        probed = self._run_gate.probes(Path(graph).stat().st_size)
        return self._run_gate.timed_runs(interpreter, settings["runs"], timed_invocations, probed)


@contextmanager
def session(settings: dict[str, Any]) -> Iterator[HostSession]:
    """Pin the process to `cpu_affinity` (if set) for the campaign, then restore it."""
    previous = os.sched_getaffinity(0)
    if settings.get("cpu_affinity"):
        os.sched_setaffinity(0, settings["cpu_affinity"])
    try:
        yield HostSession(settings)
    finally:
        os.sched_setaffinity(0, previous)
