"""A real OpenSSH server (Debian's openssh-server) on loopback, as the "board" of the ssh device kind.

It runs as root with its own host key, authorized key and config file, listens on 127.0.0.1 only,
and is stopped when the test session ends. The "board" is this machine: whatever the ssh kind
runs there (LiteRT timings included) really runs. Where sshd is missing or cannot start (no
root), the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LoopbackSshd:
    port: int
    key_file: Path
    known_hosts: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sshd(folder: Path) -> tuple[LoopbackSshd | None, subprocess.Popen | None, str]:
    """(server, process, why not): the server up on a free loopback port, or the reason it is not."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        why = "sshd not installed (Debian's openssh-server; `make test` installs it where apt works)"
        return None, None, why
    if os.geteuid() != 0:
        return None, None, "sshd needs root to run here"
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nMaxSessions 50\nMaxStartups 50\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    log = folder / "sshd.log"
    process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=log.open("w"))
    for _ in range(50):
        if process.poll() is not None:
            return None, None, f"sshd exited at start: {log.read_text()[-500:]}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.terminate()
        return None, None, "sshd did not listen within 5 s"
    key_type, key, *_ = (folder / "host_key.pub").read_text().split()
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key}\n")
    return LoopbackSshd(port, folder / "client_key", known_hosts, log), process, ""
