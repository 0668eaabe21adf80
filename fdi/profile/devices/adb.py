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

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fdi.profile.devices.remote import (
    BenchmarkModelRunner,
    Hygiene,
    RemoteError,
    check_common_settings,
    check_pattern,
    cpufreq_fingerprint,
    hygiene,
    is_root,
    others_running,
    quote,
)

SAFE_SERIAL = re.compile(r"^[A-Za-z0-9._:-]+$")
SAFE_WORKDIR = re.compile(r"^/data/local/tmp(/[A-Za-z0-9._-]+)*$")
SAFE_SYSFS = re.compile(r"^/sys(/[A-Za-z0-9._:-]+)+$")
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


class AdbDeviceError(RemoteError):
    """The phone is missing, went away, or refused a command (the message names it)."""


def check_settings(settings: dict[str, Any]) -> None:
    """Reject values that could smuggle shell syntax, naming the offending key."""
    check_pattern("adb", "serial", settings.get("serial", ""), SAFE_SERIAL)
    check_pattern("adb", "workdir", settings.get("workdir", "/data/local/tmp/fdi"), SAFE_WORKDIR)
    check_common_settings("adb", settings)


class Phone:
    """One attached phone: quoted shell commands with exit codes, pushes, and clear errors."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import adbutils

        self.serial = settings["serial"]
        self.label = f"adb device {self.serial!r}"
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
        command = quote(argv)
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

    def push(self, local: Path, remote: str) -> None:
        try:
            self.device.sync.push(str(local), remote, mode=0o755)
        except self._errors as error:
            raise AdbDeviceError(
                f"adb device {self.serial!r} went away while pushing {local.name}: {error}"
            ) from error


def apply_hygiene(phone: Phone, settings: dict[str, Any], steps: Hygiene) -> None:
    """With root: stop services, fix the clock. Without: Android's fixed-performance mode."""
    steps.applied["root"] = is_root(phone)
    if steps.applied["root"]:
        steps.stop_services(settings.get("stop_services", []), stop="stop", start="start")
        if settings.get("clock"):
            steps.fix_clock(settings["clock"])
    elif settings.get("fixed_performance_mode", True):
        code, _ = phone.sh("cmd", "power", "set-fixed-performance-mode-enabled", "true", check=False)
        if code == 0:
            steps.on_exit(
                "fixed performance mode",
                lambda: phone.sh("cmd", "power", "set-fixed-performance-mode-enabled", "false"),
            )
            steps.applied["fixed_performance_mode"] = True


class AdbSession:
    """A campaign on one phone: the binary pushed, the hygiene applied, graphs timed one by one."""

    def __init__(self, phone: Phone, settings: dict[str, Any], applied: dict[str, Any]) -> None:
        self.phone, self.settings = phone, settings
        self.runner = BenchmarkModelRunner(phone, settings, settings.get("workdir", "/data/local/tmp/fdi"))
        self.fingerprint = self._fingerprint(applied)

    def _fingerprint(self, applied: dict[str, Any]) -> dict[str, Any]:
        phone = self.phone
        out: dict[str, Any] = {"device_kind": "adb", "serial": phone.serial}
        for key, prop in PROPERTIES.items():
            out[key] = phone.sh("getprop", prop, check=False)[1].strip()
        out.update(cpufreq_fingerprint(phone))
        out.update(self.runner.runtime)
        out["threads"] = int(self.settings["threads"])
        out["cpu_affinity_mask"] = self.settings.get("cpu_affinity_mask")
        out["hygiene"] = applied
        return out

    def time(self, graph: Path) -> dict[str, Any]:
        return self.runner.time(graph)

    def others_running(self) -> int:
        """Other tasks running on the phone now (read only with `wait_for_others: true`)."""
        return others_running(self.phone)

    def read_files(self, *paths: str) -> list[str]:
        """One line from each sysfs file (the battery gauge's current and voltage), in one call."""
        for path in paths:
            check_pattern("adb", "energy path", path, SAFE_SYSFS)
        _, output = self.phone.sh("cat", *paths)
        lines = output.split()
        if len(lines) != len(paths):
            raise AdbDeviceError(
                f"adb device {self.phone.serial!r}: `cat {' '.join(paths)}` printed {output!r}"
            )
        return lines


@contextmanager
def session(settings: dict[str, Any]) -> Iterator[AdbSession]:
    check_settings(settings)
    phone = Phone(settings)
    phone.sh("mkdir", "-p", settings.get("workdir", "/data/local/tmp/fdi"))
    with hygiene(phone) as steps:
        apply_hygiene(phone, settings, steps)
        yield AdbSession(phone, settings, steps.applied)
