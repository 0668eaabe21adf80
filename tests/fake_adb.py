"""A protocol-level fake adb server on loopback, so the real adbutils client is exercised.

It speaks the adb server's smart-socket protocol: host:version, host:devices(-l),
host-serial:<serial>:features and :get-state, host:transport:<serial> and
host:tport:serial:<serial>, then shell: (v1), shell,v2: (stdout/stderr/exit packets) and sync:
(STAT, SEND, RECV, LIST, QUIT). Its "device" is a temp directory: device paths under /data, /sys
and /proc live there (its /proc/stat says `procs_running` 1 until a test writes another), and
shell commands run in it with `sh`, with a bin/ folder of stand-ins (getprop, id, stop, start,
cmd) that log what they were asked. Whatever is pushed and run there (the stand-in
benchmark_model) really runs on the host.
"""

from __future__ import annotations

import contextlib
import os
import re
import socketserver
import struct
import subprocess
import sys
import threading
from pathlib import Path

DEVICE_PREFIXES = ("/data/", "/sys/")


def stand_in_benchmark_model(folder: Path) -> Path:
    """tests/fake_benchmark_model.py, made runnable with this interpreter, for pushing to the fake."""
    source = (Path(__file__).parent / "fake_benchmark_model.py").read_text().split("\n", 1)[1]
    path = folder / "benchmark_model"
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(0o755)
    return path


class FakeDevice:
    """The device side: a root folder, system properties and a switch to unplug it."""

    def __init__(self, root: Path, serial: str, props: dict[str, str], rooted: bool = True) -> None:
        self.root = root
        self.serial = serial
        self.props = props
        self.rooted = rooted
        self.connected = True
        self.commands: list[str] = []
        self.unplug_after: int | None = None  # disconnect after this many shell commands
        (root / "bin").mkdir(parents=True, exist_ok=True)
        (root / "data/local/tmp").mkdir(parents=True, exist_ok=True)
        cpufreq = root / "sys/devices/system/cpu/cpu0/cpufreq"
        cpufreq.mkdir(parents=True, exist_ok=True)
        for name, value in {
            "scaling_governor": "schedutil",
            "scaling_setspeed": "<unsupported>",
            "scaling_cur_freq": "1800000",
            "scaling_available_frequencies": "300000 1100000 1800000",
            "cpuinfo_max_freq": "1800000",
        }.items():
            (cpufreq / name).write_text(value + "\n")
        (root / "proc").mkdir(exist_ok=True)
        self.set_run_queue(1)
        self._write_tools()

    def set_run_queue(self, running: int) -> None:
        """What the device's /proc/stat says is running (the look itself included)."""
        (self.root / "proc" / "stat").write_text(f"cpu  1 0 1 10 0 0 0 0 0 0\nprocs_running {running}\n")

    def _write_tools(self) -> None:
        log = self.root / "tool.log"
        props = "\n".join(f'  {key}) echo "{value}";;' for key, value in self.props.items())
        tools = {
            "getprop": f'#!/bin/sh\ncase "$1" in\n{props}\n  *) echo "";;\nesac\n',
            "id": f'#!/bin/sh\necho "{0 if self.rooted else 2000}"\n',
            "stop": f'#!/bin/sh\necho "stop $*" >> "{log}"\n',
            "start": f'#!/bin/sh\necho "start $*" >> "{log}"\n',
            "cmd": f'#!/bin/sh\necho "cmd $*" >> "{log}"\n',
        }
        for name, body in tools.items():
            path = self.root / "bin" / name
            path.write_text(body)
            path.chmod(0o755)

    def local(self, device_path: str) -> Path:
        if not device_path.startswith(DEVICE_PREFIXES):
            raise PermissionError(f"fake device: {device_path} is outside /data and /sys")
        return self.root / device_path.lstrip("/")

    def run(self, command: str) -> tuple[bytes, bytes, int]:
        self.commands.append(command)
        if self.unplug_after is not None and len(self.commands) > self.unplug_after:
            self.connected = False
            return b"", b"error: device offline\n", 255
        command = re.sub(r"(^|[\s='\"])(/data/|/sys/|/proc/)", lambda m: f"{m[1]}{self.root}{m[2]}", command)
        env = {**os.environ, "PATH": f"{self.root / 'bin'}:{os.environ.get('PATH', '')}"}
        done = subprocess.run(["sh", "-c", command], cwd=self.root, env=env, capture_output=True, timeout=600)
        return done.stdout, done.stderr, done.returncode


class _Handler(socketserver.BaseRequestHandler):
    server: FakeAdbServer

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client closed")
            data += chunk
        return data

    def _request(self) -> str:
        length = int(self._read_exact(4), 16)
        return self._read_exact(length).decode()

    def _okay(self, payload: str | None = None) -> None:
        self.request.sendall(b"OKAY")
        if payload is not None:
            data = payload.encode()
            self.request.sendall(f"{len(data):04x}".encode() + data)

    def _fail(self, message: str) -> None:
        data = message.encode()
        self.request.sendall(b"FAIL" + f"{len(data):04x}".encode() + data)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):
            self._serve()

    def _device(self, serial: str) -> FakeDevice | None:
        device = self.server.device
        if device.serial == serial and device.connected:
            return device
        self._fail(f"device '{serial}' not found")
        return None

    def _serve(self) -> None:
        device = self.server.device
        request = self._request()
        if request == "host:version":
            self._okay(f"{self.server.version:04x}")
        elif request in ("host:devices", "host:devices-l"):
            self._okay(f"{device.serial}\tdevice\n" if device.connected else "")
        elif request.startswith("host-serial:"):
            _, serial, what = request.split(":", 2)
            if self._device(serial) is None:
                return
            if what == "features":
                self._okay("shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir")
            elif what == "get-state":
                self._okay("device")
            else:
                self._fail(f"unsupported: {what}")
        elif request.startswith("host:transport:") or request.startswith("host:tport:serial:"):
            serial = request.rsplit(":", 1)[1]
            if self._device(serial) is None:
                return
            self._okay()
            if request.startswith("host:tport:"):
                self.request.sendall(struct.pack("<Q", 1))
            self._transport(device, self._request())
        else:
            self._fail(f"unknown host request {request!r}")

    def _transport(self, device: FakeDevice, request: str) -> None:
        if request.startswith("shell,v2:"):
            stdout, stderr, code = device.run(request[len("shell,v2:") :])
            self._okay()
            for kind, data in ((1, stdout), (2, stderr)):
                if data:
                    self.request.sendall(bytes([kind]) + struct.pack("<I", len(data)) + data)
            self.request.sendall(bytes([3]) + struct.pack("<I", 1) + bytes([code & 0xFF]))
        elif request.startswith("shell:"):
            stdout, stderr, _ = device.run(request[len("shell:") :])
            self._okay()
            self.request.sendall(stdout + stderr)
        elif request == "sync:":
            self._okay()
            self._sync(device)
        else:
            self._fail(f"unknown service {request!r}")

    def _sync(self, device: FakeDevice) -> None:
        while True:
            command = self._read_exact(4).decode()
            length = struct.unpack("<I", self._read_exact(4))[0]
            argument = self._read_exact(length).decode()
            if command == "STAT":
                path = device.local(argument)
                if path.exists():
                    info = path.stat()
                    reply = struct.pack("<III", info.st_mode, info.st_size, int(info.st_mtime))
                else:
                    reply = struct.pack("<III", 0, 0, 0)
                self.request.sendall(b"STAT" + reply)
            elif command == "SEND":
                remote, _, mode = argument.rpartition(",")
                data = bytearray()
                while True:
                    kind = self._read_exact(4)
                    size = struct.unpack("<I", self._read_exact(4))[0]
                    if kind == b"DONE":
                        break
                    data += self._read_exact(size)
                path = device.local(remote)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(bytes(data))
                path.chmod(int(mode) & 0o777)
                self.request.sendall(b"OKAY" + struct.pack("<I", 0))
            elif command == "RECV":
                path = device.local(argument)
                if not path.is_file():
                    message = b"No such file or directory"
                    self.request.sendall(b"FAIL" + struct.pack("<I", len(message)) + message)
                    continue
                data = path.read_bytes()
                for start in range(0, len(data), 64 * 1024):
                    chunk = data[start : start + 64 * 1024]
                    self.request.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                self.request.sendall(b"DONE" + struct.pack("<I", 0))
            elif command == "LIST":
                for entry in sorted(device.local(argument).iterdir()):
                    info = entry.stat()
                    name = entry.name.encode()
                    header = struct.pack("<IIII", info.st_mode, info.st_size, int(info.st_mtime), len(name))
                    self.request.sendall(b"DENT" + header + name)
                self.request.sendall(b"DONE" + bytes(16))
            elif command == "QUIT":
                return
            else:
                raise ConnectionError(f"unknown sync command {command!r}")


class FakeAdbServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, device: FakeDevice, version: int = 39) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.device = device
        self.version = version  # 39: adbutils switches transport with host:transport:<serial>
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> FakeAdbServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
