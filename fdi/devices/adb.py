"""The `adb` device kind: an Android phone over adb (adbutils), timed by LiteRT's benchmark_model.

A session finds the phone and pushes the benchmark_model binary into a working directory under
/data/local/tmp. It then applies the paper's device hygiene and restores the previous state on
exit, even when profiling fails:
- with root (adbd running as root, `adb root`): stop the configured services (mpdecision,
  thermal, perf daemons), and set the userspace governor with a fixed frequency on the
  configured CPUs;
- without root: `cmd power set-fixed-performance-mode-enabled true` where the phone supports it.
Each graph is pushed once and timed by one benchmark_model run per pass. The phone is the only
measuring device here, so the tool's own statistics are kept: benchmark_model reports
count/first/min/max/avg/std, not every run. Every shell argument is quoted, and serials and
paths with shell metacharacters are rejected before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fdi.devices.benchmark_output import BenchmarkOutputError, parse

SAFE_SERIAL = re.compile(r"^[A-Za-z0-9._:-]+$")
SAFE_WORKDIR = re.compile(r"^/data/local/tmp(/[A-Za-z0-9._-]+)*$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
HEX_MASK = re.compile(r"^[0-9a-fA-F]{1,16}$")
PROPERTIES = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "android_version": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "build": "ro.build.fingerprint",
    "abi": "ro.product.cpu.abi",
    "soc": "ro.soc.model",
    "board": "ro.board.platform",
}


class AdbDeviceError(RuntimeError):
    """The phone is missing, went away, or refused a command (the message names it)."""


def check_settings(settings: dict[str, Any]) -> None:
    """Reject values that could smuggle shell syntax, naming the offending key."""
    checks = [("serial", settings.get("serial", ""), SAFE_SERIAL)]
    checks.append(("workdir", settings.get("workdir", "/data/local/tmp/fdi"), SAFE_WORKDIR))
    if "cpu_affinity_mask" in settings:
        checks.append(("cpu_affinity_mask", settings["cpu_affinity_mask"], HEX_MASK))
    for service in settings.get("stop_services", []):
        checks.append(("stop_services", service, SAFE_NAME))
    for key, value, pattern in checks:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(
                f"adb device setting {key}={value!r} is not allowed (must match {pattern.pattern})"
            )
    binary = Path(settings.get("benchmark_model", ""))
    if not binary.is_file():
        raise ValueError(
            f"adb device setting benchmark_model={str(binary)!r}: no such file. Download LiteRT's "
            "benchmark_model for the phone's ABI (see README, 'Android phones')"
        )


class Phone:
    """One attached phone: quoted shell commands with exit codes, pushes, and clear errors."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import adbutils

        self.serial = settings["serial"]
        host, port = settings.get("adb_host", "127.0.0.1"), int(settings.get("adb_port", 5037))
        self._errors = (adbutils.AdbError, OSError, EOFError)
        client = adbutils.AdbClient(host=host, port=port)
        try:
            attached = [device.serial for device in client.device_list()]
        except self._errors as error:
            raise AdbDeviceError(
                f"cannot reach the adb server at {host}:{port} ({error}); is `adb start-server` running?"
            ) from error
        if self.serial not in attached:
            raise AdbDeviceError(
                f"adb device {self.serial!r} is not attached (attached: {attached or 'none'})"
            )
        self.device = client.device(serial=self.serial)

    def sh(self, *argv: str, check: bool = True) -> tuple[int, str]:
        """Run argv on the phone, every argument quoted; return (exit code, output)."""
        command = " ".join(shlex.quote(str(arg)) for arg in argv)
        try:
            result = self.device.shell2(command, timeout=900, v2=True)
        except self._errors as error:
            raise AdbDeviceError(
                f"adb device {self.serial!r} went away while running {argv[0]!r}: {error}"
            ) from error
        if result.returncode == 255 and "device offline" in result.output:
            raise AdbDeviceError(f"adb device {self.serial!r} went offline while running {argv[0]!r}")
        if check and result.returncode != 0:
            raise AdbDeviceError(
                f"adb device {self.serial!r}: `{command}` exited with {result.returncode}: "
                f"{result.output.strip()[-400:]}"
            )
        return result.returncode, result.output

    def read(self, path: str) -> str | None:
        code, output = self.sh("cat", path, check=False)
        return output.strip() if code == 0 else None

    def write(self, path: str, value: str) -> None:
        self.sh("sh", "-c", f"echo {shlex.quote(value)} > {shlex.quote(path)}")

    def push(self, local: Path, remote: str) -> None:
        try:
            self.device.sync.push(str(local), remote, mode=0o755)
        except self._errors as error:
            raise AdbDeviceError(
                f"adb device {self.serial!r} went away while pushing {local.name}: {error}"
            ) from error


@contextmanager
def device_hygiene(phone: Phone, settings: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Apply the paper's hygiene; undo every step that was applied, whatever happens."""
    applied: dict[str, Any] = {}
    undo: list[tuple[str, Callable[[], Any]]] = []
    try:
        applied["root"] = phone.sh("id", "-u", check=False)[1].strip() == "0"
        if applied["root"]:
            for service in settings.get("stop_services", []):
                phone.sh("stop", service)
                undo.append((f"start {service}", lambda s=service: phone.sh("start", s)))
                applied.setdefault("stopped_services", []).append(service)
            clock = settings.get("clock")
            if clock:
                for cpu in clock["cpus"]:
                    base = f"/sys/devices/system/cpu/cpu{int(cpu)}/cpufreq"
                    previous = phone.read(f"{base}/scaling_governor")
                    phone.write(f"{base}/scaling_governor", "userspace")
                    if previous:
                        undo.append(
                            (
                                f"governor of cpu{cpu}",
                                lambda b=base, p=previous: phone.write(f"{b}/scaling_governor", p),
                            )
                        )
                    phone.write(f"{base}/scaling_setspeed", str(int(clock["frequency_khz"])))
                applied["governor"] = "userspace"
                applied["frequency_khz"] = int(clock["frequency_khz"])
                applied["clock_cpus"] = list(clock["cpus"])
        elif settings.get("fixed_performance_mode", True):
            code, _ = phone.sh("cmd", "power", "set-fixed-performance-mode-enabled", "true", check=False)
            if code == 0:
                undo.append(
                    (
                        "fixed performance mode",
                        lambda: phone.sh("cmd", "power", "set-fixed-performance-mode-enabled", "false"),
                    )
                )
                applied["fixed_performance_mode"] = True
        yield applied
    finally:
        failures = []
        for what, step in reversed(undo):
            try:
                step()
            except AdbDeviceError as error:
                failures.append(f"{what}: {error}")
        if failures:
            applied["restore_failures"] = failures
            print(f"warning: could not restore on {phone.serial}: " + "; ".join(failures))


class AdbSession:
    """A campaign on one phone: the binary pushed, the hygiene applied, graphs timed one by one."""

    def __init__(self, phone: Phone, settings: dict[str, Any], applied: dict[str, Any]) -> None:
        self.phone, self.settings = phone, settings
        self.workdir = settings.get("workdir", "/data/local/tmp/fdi")
        self.binary = f"{self.workdir}/benchmark_model"
        self.pushed: set[str] = set()
        self.fingerprint = self._fingerprint(applied)

    def _fingerprint(self, applied: dict[str, Any]) -> dict[str, Any]:
        phone = self.phone
        out: dict[str, Any] = {"device_kind": "adb", "serial": phone.serial}
        for key, prop in PROPERTIES.items():
            out[key] = phone.sh("getprop", prop, check=False)[1].strip()
        cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq"
        out["governor"] = phone.read(f"{cpufreq}/scaling_governor") or "unreadable"
        out["cur_freq_khz"] = phone.read(f"{cpufreq}/scaling_cur_freq") or "unreadable"
        out["max_freq_khz"] = phone.read(f"{cpufreq}/cpuinfo_max_freq") or "unreadable"
        digest = hashlib.sha256(Path(self.settings["benchmark_model"]).read_bytes()).hexdigest()
        out["runtime"] = "benchmark_model"
        out["runtime_version"] = f"sha256:{digest[:16]}"
        out["threads"] = int(self.settings["threads"])
        out["cpu_affinity_mask"] = self.settings.get("cpu_affinity_mask")
        out["hygiene"] = applied
        return out

    def time(self, graph: Path) -> dict[str, Any]:
        remote = f"{self.workdir}/{graph.name}"
        if not SAFE_NAME.match(graph.name):
            raise ValueError(f"graph file name {graph.name!r} is not allowed on the phone")
        if remote not in self.pushed:
            self.phone.push(graph, remote)
            self.pushed.add(remote)
        argv = [
            self.binary,
            f"--graph={remote}",
            f"--num_threads={int(self.settings['threads'])}",
            f"--warmup_runs={int(self.settings['warmup_runs'])}",
            f"--num_runs={int(self.settings['runs'])}",
            "--enable_op_profiling=true",
        ]
        if self.settings.get("cpu_affinity_mask"):
            argv = ["taskset", self.settings["cpu_affinity_mask"], *argv]
        _, output = self.phone.sh(*argv)
        try:
            result = parse(output)
        except BenchmarkOutputError as error:
            raise BenchmarkOutputError(f"{graph.name} on {self.phone.serial}: {error}") from error
        return {
            "runs_ms": [],
            "count": result.count,
            "first_ms": result.first_ms,
            "avg_ms": result.avg_ms,
            "min_ms": result.min_ms,
            "max_ms": result.max_ms,
            "std_ms": result.std_ms,
            "ops": json.dumps([op.__dict__ for op in result.ops]),
        }


@contextmanager
def session(settings: dict[str, Any]) -> Iterator[AdbSession]:
    check_settings(settings)
    phone = Phone(settings)
    workdir = settings.get("workdir", "/data/local/tmp/fdi")
    phone.sh("mkdir", "-p", workdir)
    phone.push(Path(settings["benchmark_model"]), f"{workdir}/benchmark_model")
    with device_hygiene(phone, settings) as applied:
        yield AdbSession(phone, settings, applied)
