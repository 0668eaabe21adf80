"""What the remote device kinds share (adb phones, ssh boards): one small shell protocol, the paper's
device hygiene undone on exit, and benchmark_model runs turned into timing records.

A remote is anything with `label` (for messages), `sh(*argv, check=True) -> (exit code, output)`
whose every argument is quoted by the implementation, and `push(local, remote_path)`. The hygiene
steps record what they applied (it goes into the fingerprint) and register how to undo it; the
undo runs in reverse order whatever happens, and a step that cannot be undone is reported, not
hidden.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from fdi.profile.devices.benchmark_output import BenchmarkOutputError, parse

SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
HEX_MASK = re.compile(r"^[0-9a-fA-F]{1,16}$")
CPUFREQ = "/sys/devices/system/cpu/cpu{cpu}/cpufreq"


class RemoteError(RuntimeError):
    """The device is missing, went away, or refused a command (the message names it)."""


class Remote(Protocol):
    label: str

    def sh(self, *argv: str, check: bool = True) -> tuple[int, str]: ...

    def push(self, local: Path, remote: str) -> None: ...


def quote(argv: tuple[str, ...] | list[str]) -> str:
    return " ".join(shlex.quote(str(arg)) for arg in argv)


def read(remote: Remote, path: str) -> str | None:
    code, output = remote.sh("cat", path, check=False)
    return output.strip() if code == 0 else None


def write(remote: Remote, path: str, value: str) -> None:
    remote.sh("sh", "-c", f"echo {shlex.quote(value)} > {shlex.quote(path)}")


# Three looks at the device's run queue, 1 ms apart, in one round trip (a fixed command: no setting
# enters it). While it looks, the device runs the look itself (grep): one task of its own.
RUN_QUEUE_LOOKS = ("sh", "-c", "for look in 1 2 3; do grep procs_running /proc/stat; sleep 0.001; done")


def others_running(remote: Remote) -> int:
    """Tasks other than the look itself running on the device now: the fewest of three reads of
    Linux's `procs_running` (0 where the device does not say). The remote side of the host's
    look (fdi.profile.devices.host.HostSession.others_running)."""
    code, output = remote.sh(*RUN_QUEUE_LOOKS, check=False)
    counts = [int(line.split()[1]) for line in output.splitlines() if line.startswith("procs_running ")]
    if code != 0 or not counts:
        return 0
    return max(0, min(counts) - 1)


def check_pattern(kind: str, key: str, value: Any, pattern: re.Pattern[str]) -> None:
    """Reject a setting that could smuggle shell syntax, naming the key."""
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(
            f"{kind} device setting {key}={value!r} is not allowed (must match {pattern.pattern})"
        )


def check_common_settings(kind: str, settings: dict[str, Any]) -> None:
    """The settings every remote kind shares: affinity mask, services, the local benchmark_model."""
    if "cpu_affinity_mask" in settings:
        check_pattern(kind, "cpu_affinity_mask", settings["cpu_affinity_mask"], HEX_MASK)
    for service in settings.get("stop_services", []):
        check_pattern(kind, "stop_services", service, SAFE_NAME)
    if settings.get("runner", "benchmark_model") == "benchmark_model":
        binary = Path(settings.get("benchmark_model", ""))
        if not binary.is_file():
            raise ValueError(
                f"{kind} device setting benchmark_model={str(binary)!r}: no such file. Download LiteRT's "
                "benchmark_model for the device's CPU architecture (see README, 'Phones and boards')"
            )


class Hygiene:
    """Steps applied to a device, each with its undo; `applied` goes into the fingerprint."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.applied: dict[str, Any] = {}
        self._undo: list[tuple[str, Callable[[], Any]]] = []

    def on_exit(self, what: str, step: Callable[[], Any]) -> None:
        self._undo.append((what, step))

    def stop_services(self, services: list[str], stop: str, start: str) -> None:
        """`stop`/`start` are the device's commands (Android: stop/start; systemd: systemctl stop/start)."""
        for service in services:
            self.remote.sh(*stop.split(), service)
            self.on_exit(f"start {service}", lambda s=service: self.remote.sh(*start.split(), s))
            self.applied.setdefault("stopped_services", []).append(service)

    def fix_clock(self, clock: dict[str, Any]) -> None:
        """The userspace governor at a fixed frequency on the configured CPUs (the paper's protocol)."""
        for cpu in clock["cpus"]:
            base = CPUFREQ.format(cpu=int(cpu))
            previous = read(self.remote, f"{base}/scaling_governor")
            write(self.remote, f"{base}/scaling_governor", "userspace")
            if previous:
                self.on_exit(
                    f"governor of cpu{cpu}",
                    lambda b=base, p=previous: write(self.remote, f"{b}/scaling_governor", p),
                )
            write(self.remote, f"{base}/scaling_setspeed", str(int(clock["frequency_khz"])))
        self.applied["governor"] = "userspace"
        self.applied["frequency_khz"] = int(clock["frequency_khz"])
        self.applied["clock_cpus"] = list(clock["cpus"])

    def restore(self) -> None:
        failures = []
        for what, step in reversed(self._undo):
            try:
                step()
            except RemoteError as error:
                failures.append(f"{what}: {error}")
        self._undo.clear()
        if failures:
            self.applied["restore_failures"] = failures
            print(f"warning: could not restore on {self.remote.label}: " + "; ".join(failures))


@contextmanager
def hygiene(remote: Remote) -> Iterator[Hygiene]:
    """Whatever the caller applies inside is undone on exit, even when profiling fails."""
    steps = Hygiene(remote)
    try:
        yield steps
    finally:
        steps.restore()


def is_root(remote: Remote) -> bool:
    return remote.sh("id", "-u", check=False)[1].strip() == "0"


def cpufreq_fingerprint(remote: Remote) -> dict[str, str]:
    base = CPUFREQ.format(cpu=0)
    return {
        "governor": read(remote, f"{base}/scaling_governor") or "unreadable",
        "cur_freq_khz": read(remote, f"{base}/scaling_cur_freq") or "unreadable",
        "max_freq_khz": read(remote, f"{base}/cpuinfo_max_freq") or "unreadable",
    }


def binary_version(path: Path) -> str:
    """benchmark_model prints no version: its content hash identifies the build."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class GraphPusher:
    """Each graph copied to the device's workdir once per session, under a name checked to be safe."""

    def __init__(self, remote: Remote, workdir: str) -> None:
        self.remote, self.workdir = remote, workdir
        self.pushed: set[str] = set()

    def __call__(self, graph: Path) -> str:
        if not SAFE_NAME.match(graph.name):
            raise ValueError(f"graph file name {graph.name!r} is not allowed on {self.remote.label}")
        target = f"{self.workdir}/{graph.name}"
        if target not in self.pushed:
            self.remote.push(graph, target)
            self.pushed.add(target)
        return target


def with_affinity(argv: list[str], settings: dict[str, Any]) -> list[str]:
    """argv under `taskset MASK` when the device's settings pin it to some cores."""
    mask = settings.get("cpu_affinity_mask")
    return ["taskset", mask, *argv] if mask else argv


class BenchmarkModelRunner:
    """Times graphs with LiteRT's benchmark_model on the device: pushed once, run once per pass."""

    def __init__(self, remote: Remote, settings: dict[str, Any], workdir: str) -> None:
        self.remote, self.settings, self.workdir = remote, settings, workdir
        self.binary = f"{workdir}/benchmark_model"
        self.push_graph = GraphPusher(remote, workdir)
        remote.push(Path(settings["benchmark_model"]), self.binary)
        self.runtime = {
            "runtime": "benchmark_model",
            "runtime_version": binary_version(settings["benchmark_model"]),
        }

    def time(self, graph: Path) -> dict[str, Any]:
        settings = self.settings
        argv = [
            self.binary,
            f"--graph={self.push_graph(graph)}",
            f"--num_threads={int(settings['threads'])}",
            f"--warmup_runs={int(settings['warmup_runs'])}",
            f"--num_runs={int(settings['runs'])}",
            "--enable_op_profiling=true",
        ]
        _, output = self.remote.sh(*with_affinity(argv, settings))
        return benchmark_model_record(output, f"{graph.name} on {self.remote.label}")


def benchmark_model_record(output: str, where: str) -> dict[str, Any]:
    """One timing record from benchmark_model's text: the timed runs' statistics (never the
    profiler's sum), the primary graph's ops with per-inference totals, other subgraphs apart."""
    try:
        result = parse(output)
    except BenchmarkOutputError as error:
        raise BenchmarkOutputError(f"{where}: {error}") from error
    runs = result.runs
    if runs is None or runs.avg_ms is None:
        raise BenchmarkOutputError(f"{where}: benchmark_model printed no statistics line for the timed runs")
    profiler = result.primary.timings if result.primary else None
    return {
        "runs_ms": [],
        "count": runs.count,
        "first_ms": runs.first_ms,
        "avg_ms": runs.avg_ms,
        "min_ms": runs.min_ms,
        "max_ms": runs.max_ms,
        "std_ms": runs.std_ms,
        "profiler_avg_ms": profiler.avg_ms if profiler else None,
        "ops": json.dumps([op.as_record() for op in result.ops]),
        "subgraph_ops": json.dumps(
            [
                {
                    "kind": part.kind,
                    "index": part.index,
                    "name": part.name,
                    "ops": [op.as_record() for op in part.ops],
                }
                for part in result.subgraphs
                if part.kind != "primary"
            ]
        ),
    }
