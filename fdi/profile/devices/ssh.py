"""The `ssh` device kind: a Linux board (Raspberry Pi, Jetson, Intel Edison-class) over SSH (paramiko).

A session connects with key authentication and host-key checking on (the board's key must be in
`known_hosts` or in the system's; `host_key_checking: false` turns it off and says so in the
fingerprint), makes a working directory, applies the paper's hygiene and restores it on exit as
the adb kind does (root only: stop the configured systemd services, userspace governor at a fixed
frequency), then times every graph with one of two runners:
- `litert_python` (default): fdi's own timing loop (`fdi/profile/devices/litert_timer.py`, copied to the
  board) under the board's Python with `ai-edge-litert` or `tflite-runtime`; every run's time is
  kept, exactly as on the host;
- `benchmark_model`: LiteRT's benchmark tool for the board's CPU, pushed and parsed as on a phone.
Every shell argument is quoted, and host, user and paths with shell metacharacters are rejected
before anything connects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fdi.profile.devices import litert_timer
from fdi.profile.devices.cpu_identity import cpu_identity
from fdi.profile.devices.remote import (
    BenchmarkModelRunner,
    GraphPusher,
    RemoteError,
    check_common_settings,
    check_pattern,
    cpufreq_fingerprint,
    hygiene,
    is_root,
    others_running,
    quote,
    read,
    with_affinity,
)

SAFE_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
SAFE_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
SAFE_WORKDIR = re.compile(r"^/[A-Za-z0-9._/-]+$")
SAFE_PROGRAM = re.compile(r"^[A-Za-z0-9._/-]+$")
RUNNERS = ("litert_python", "benchmark_model")


class SshDeviceError(RemoteError):
    """The board cannot be reached, refused us, or a command failed (the message names it)."""


def check_settings(settings: dict[str, Any]) -> None:
    """Reject values that could smuggle shell syntax or connect somewhere unintended, naming the key."""
    check_pattern("ssh", "host", settings.get("host", ""), SAFE_HOST)
    check_pattern("ssh", "user", settings.get("user", ""), SAFE_USER)
    check_pattern("ssh", "workdir", settings.get("workdir", "/tmp/fdi"), SAFE_WORKDIR)
    check_pattern("ssh", "python", settings.get("python", "python3"), SAFE_PROGRAM)
    if settings.get("runner", "litert_python") not in RUNNERS:
        raise ValueError(
            f"ssh device setting runner={settings.get('runner')!r}: use one of {', '.join(RUNNERS)}"
        )
    for key in ("key_file", "known_hosts"):
        if settings.get(key) and not Path(settings[key]).expanduser().is_file():
            raise ValueError(f"ssh device setting {key}={settings[key]!r}: no such file")
    check_common_settings("ssh", {"runner": "litert_python", **settings})


class Board:
    """One board over SSH: quoted commands with exit codes (stdout and stderr together), SFTP pushes."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import paramiko

        self.host, self.port, self.user = settings["host"], int(settings.get("port", 22)), settings["user"]
        self.label = f"ssh board {self.user}@{self.host}:{self.port}"
        self._errors = (paramiko.SSHException, OSError, EOFError)
        self.client = paramiko.SSHClient()
        self.client.load_system_host_keys()
        if settings.get("known_hosts"):
            self.client.load_host_keys(str(Path(settings["known_hosts"]).expanduser()))
        checking = settings.get("host_key_checking", True)
        self.client.set_missing_host_key_policy(
            paramiko.RejectPolicy() if checking else paramiko.AutoAddPolicy()
        )
        key_file = settings.get("key_file")
        try:
            self.client.connect(
                self.host,
                port=self.port,
                username=self.user,
                key_filename=str(Path(key_file).expanduser()) if key_file else None,
                look_for_keys=not key_file,
                allow_agent=not key_file,
                timeout=15,
                banner_timeout=15,
                auth_timeout=15,
            )
        except paramiko.BadHostKeyException as error:
            raise SshDeviceError(
                f"{self.label}: its host key changed ({error}); refusing to connect"
            ) from error
        except paramiko.SSHException as error:
            hint = ""
            if "not found in known_hosts" in str(error):
                hint = (
                    f"; check the board's key and add it, e.g. `ssh-keyscan -p {self.port} {self.host} "
                    ">> ~/.ssh/known_hosts`, or name a known_hosts file in the device's settings"
                )
            raise SshDeviceError(f"{self.label}: {error}{hint}") from error
        except OSError as error:
            raise SshDeviceError(f"cannot reach {self.label}: {error}") from error
        self.sftp = self.client.open_sftp()

    def sh(self, *argv: str, check: bool = True) -> tuple[int, str]:
        """Run argv on the board, every argument quoted; return (exit code, output)."""
        command = quote(argv)
        try:
            transport = self.client.get_transport()
            if transport is None or not transport.is_active():
                raise SshDeviceError(f"{self.label}: the connection is closed")
            channel = transport.open_session(timeout=15)
            channel.set_combine_stderr(True)
            channel.settimeout(900)
            channel.exec_command(command)
            output = channel.makefile("rb").read().decode(errors="replace")
            code = channel.recv_exit_status()
        except self._errors as error:
            raise SshDeviceError(f"{self.label} went away while running {argv[0]!r}: {error}") from error
        if check and code != 0:
            raise SshDeviceError(f"{self.label}: `{command}` exited with {code}: {output.strip()[-400:]}")
        return code, output

    def push(self, local: Path, remote: str) -> None:
        try:
            self.sftp.put(str(local), remote)
            self.sftp.chmod(remote, 0o755)
        except self._errors as error:
            raise SshDeviceError(
                f"{self.label}: cannot push {Path(local).name} to {remote}: {error}"
            ) from error

    def close(self) -> None:
        self.client.close()


class LiteRTPythonRunner:
    """fdi's own timing loop under the board's Python: every run's time, as on the host."""

    def __init__(self, board: Board, settings: dict[str, Any], workdir: str) -> None:
        self.board, self.settings, self.workdir = board, settings, workdir
        self.python = settings.get("python", "python3")
        self.script = f"{workdir}/litert_timer.py"
        self.push_graph = GraphPusher(board, workdir)
        board.push(Path(litert_timer.__file__), self.script)
        code, output = board.sh(self.python, self.script, check=False)
        if code != 0:
            raise SshDeviceError(
                f"{board.label}: `{self.python}` cannot run LiteRT there "
                f"(exit {code}: {output.strip()[-300:]}); install `ai-edge-litert` or `tflite-runtime` "
                "with numpy on the board, or set runner: benchmark_model"
            )
        self.runtime = _last_json(output)

    def time(self, graph: Path) -> dict[str, Any]:
        settings = self.settings
        argv = [
            self.python,
            self.script,
            f"--graph={self.push_graph(graph)}",
            f"--threads={int(settings['threads'])}",
            f"--warmup-runs={int(settings['warmup_runs'])}",
            f"--warmup-min-ms={float(settings.get('warmup_min_ms', 0.0))}",
            f"--runs={int(settings['runs'])}",
        ]
        _, output = self.board.sh(*with_affinity(argv, settings))
        try:
            return {"runs_ms": _last_json(output)["runs_ms"]}
        except (KeyError, ValueError) as error:
            raise SshDeviceError(
                f"{graph.name} on {self.board.label}: unreadable timer output {output[-300:]!r}"
            ) from error


def _last_json(output: str) -> dict[str, Any]:
    """The timer's JSON line. Its stdout and stderr arrive together, and LiteRT's log lines
    ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") may come before or after it."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line")


def _first_line(text: str | None) -> str | None:
    return text.replace("\x00", "").strip().splitlines()[0] if text and text.strip("\x00 \n") else None


def board_fingerprint(board: Board) -> dict[str, Any]:
    """The board model (device tree, else DMI), CPU, kernel and OS."""
    model = _first_line(read(board, "/proc/device-tree/model")) or _first_line(
        read(board, "/sys/class/dmi/id/product_name")
    )
    cpu, cpuinfo = None, read(board, "/proc/cpuinfo") or ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and value.strip():
            cpu = value.strip()
            break
    os_release = read(board, "/etc/os-release") or ""
    pretty = next(
        (
            line.split("=", 1)[1].strip('"')
            for line in os_release.splitlines()
            if line.startswith("PRETTY_NAME=")
        ),
        None,
    )
    return {
        "board_model": model or "unreadable",
        "cpu_model": cpu or "unreadable",
        **cpu_identity(cpuinfo),
        "machine": board.sh("uname", "-m")[1].strip(),
        "kernel": board.sh("uname", "-r")[1].strip(),
        "os": pretty or "unreadable",
        "logical_cores": int(board.sh("getconf", "_NPROCESSORS_ONLN")[1].strip() or 0),
    }


class SshSession:
    def __init__(self, board: Board, settings: dict[str, Any], runner: Any, applied: dict[str, Any]) -> None:
        self.runner, self.board = runner, board
        self.fingerprint = {
            "device_kind": "ssh",
            "host": board.host,
            **board_fingerprint(board),
            **cpufreq_fingerprint(board),
            **runner.runtime,
            "runner": settings.get("runner", "litert_python"),
            "threads": int(settings["threads"]),
            "cpu_affinity_mask": settings.get("cpu_affinity_mask"),
            "host_key_checking": settings.get("host_key_checking", True),
            "hygiene": applied,
        }

    def time(self, graph: Path) -> dict[str, Any]:
        return self.runner.time(graph)

    def others_running(self) -> int:
        """Other tasks running on the board now (read only with `wait_for_others: true`)."""
        return others_running(self.board)


@contextmanager
def session(settings: dict[str, Any]) -> Iterator[SshSession]:
    check_settings(settings)
    board = Board(settings)
    try:
        workdir = settings.get("workdir", "/tmp/fdi")
        board.sh("mkdir", "-p", workdir)
        with hygiene(board) as steps:
            steps.applied["root"] = is_root(board)
            if steps.applied["root"]:
                services = settings.get("stop_services", [])
                steps.stop_services(services, stop="systemctl stop", start="systemctl start")
                if settings.get("clock"):
                    steps.fix_clock(settings["clock"])
            if settings.get("runner", "litert_python") == "benchmark_model":
                runner: Any = BenchmarkModelRunner(board, settings, workdir)
            else:
                runner = LiteRTPythonRunner(board, settings, workdir)
            yield SshSession(board, settings, runner, steps.applied)
    finally:
        board.close()
