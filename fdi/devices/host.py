"""The `host` device: this machine's CPU through LiteRT's Python interpreter.

This module is the measuring instrument. It imports LiteRT only (never TensorFlow, whose import
alone takes seconds and starts threads), runs with a fixed thread count and, optionally, pinned
to a set of cores. Each component is timed in `repeats` independent passes (a fresh interpreter
each). A pass warms up with at least `warmup_runs` untimed invocations lasting at least
`warmup_min_ms` in all (like benchmark_model's --warmup_min_secs: on this project's VMs the
first ~20 ms of invocations run up to 40% slow, whatever the layer), then times `runs`
invocations, keeping every run's time.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def litert_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def fingerprint(settings: dict[str, Any]) -> dict[str, Any]:
    """What the timings were measured on; written beside every timing."""
    cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq"
    return {
        "device_kind": "host",
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "os": platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "runtime": "ai-edge-litert",
        "runtime_version": litert_version(),
        "threads": int(settings["threads"]),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "governor": _read(f"{cpufreq}/scaling_governor") or "unreadable",
        "cur_freq_khz": _read(f"{cpufreq}/scaling_cur_freq") or "unreadable",
        "max_freq_khz": _read(f"{cpufreq}/cpuinfo_max_freq") or "unreadable",
    }


def _fill_inputs(interpreter: Any, rng: np.random.Generator) -> None:
    for detail in interpreter.get_input_details():
        data = rng.standard_normal(detail["shape"]).astype(detail["dtype"])
        interpreter.set_tensor(detail["index"], data)


def time_graph(
    path: Path, threads: int, warmup_runs: int, runs: int, warmup_min_ms: float = 0.0
) -> list[float]:
    """One pass over one graph: milliseconds of each of `runs` timed invocations."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    _fill_inputs(interpreter, np.random.default_rng(0))
    start = time.perf_counter()
    done = 0
    while done < warmup_runs or (time.perf_counter() - start) * 1e3 < warmup_min_ms:
        interpreter.invoke()
        done += 1
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        interpreter.invoke()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times


class HostSession:
    """Timing on this machine: the fingerprint, and one pass over one graph at a time."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.fingerprint = fingerprint(settings)

    def time(self, graph: Path) -> dict[str, Any]:
        settings = self.settings
        runs = time_graph(
            graph,
            settings["threads"],
            settings["warmup_runs"],
            settings["runs"],
            settings.get("warmup_min_ms", 0.0),
        )
        return {"runs_ms": runs}


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
