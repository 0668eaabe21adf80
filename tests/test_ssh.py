"""The ssh device kind against a real sshd on loopback whose "board" runs real LiteRT timings."""

import json
import platform
from pathlib import Path

import pandas as pd
import pytest
from fake_adb import stand_in_benchmark_model

from conftest import board_settings
from fdi.profile.devices import run_benchmark
from fdi.profile.devices.cpu_identity import cpu_identity
from fdi.profile.devices.litert_timer import load_interpreter
from fdi.profile.devices.ssh import SshDeviceError, check_settings
from fdi.profile.export import export_shard


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    out = tmp_path_factory.mktemp("graphs")
    components = [
        {"id": "fc-n000-c00", "layer": "fc", "in_dim": 64, "out_dim": 32},
        {"id": "gru-n000-c00", "layer": "gru", "in_dim": 8, "out_dim": 4, "step": 8},
    ]
    export_shard(pd.DataFrame(components), out)
    return out


def test_litert_on_the_board_times_every_graph_and_fingerprints_it(loopback_sshd, graphs, tmp_path):
    timings = run_benchmark("board", board_settings(loopback_sshd), graphs, tmp_path / "t.parquet")
    assert len(timings) == 2 * 2 and set(timings.repeat) == {0, 1}
    assert all(len(runs) == 3 and min(runs) > 0 for runs in timings.runs_ms)
    assert (timings.end_unix_s > timings.start_unix_s).all()
    fingerprint = json.loads(timings.fingerprint.iloc[0])
    assert fingerprint["device_kind"] == "ssh" and fingerprint["runner"] == "litert_python"
    assert fingerprint["kernel"] == platform.release() and fingerprint["machine"] == platform.machine()
    assert (fingerprint["runtime"], fingerprint["runtime_version"]) == load_interpreter()[1:]
    assert fingerprint["hygiene"] == {"root": True} and fingerprint["host_key_checking"] is True
    assert fingerprint["board_model"] and fingerprint["os"] != "unreadable"
    # the loopback board is this machine: its CPU identity as read here
    assert fingerprint | cpu_identity(Path("/proc/cpuinfo").read_text()) == fingerprint


def test_benchmark_model_on_the_board_is_parsed_like_a_phones(loopback_sshd, graphs, tmp_path):
    settings = board_settings(
        loopback_sshd,
        runner="benchmark_model",
        benchmark_model=str(stand_in_benchmark_model(tmp_path)),
        statistic="mean",
        repeats=1,
    )
    timings = run_benchmark("board", settings, graphs, tmp_path / "t.parquet").set_index("id")
    assert (timings["count"] == 3).all() and (timings.avg_ms > 0).all()
    assert [op["node_type"] for op in json.loads(timings.loc["gru-n000-c00"].ops)][:2] == ["RESHAPE", "WHILE"]
    assert json.loads(timings.fingerprint.iloc[0])["runtime_version"].startswith("sha256:")


def test_an_unknown_host_key_is_refused_with_a_hint(loopback_sshd, graphs, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(SshDeviceError, match=r"root@127.0.0.1:\d+: .*not found in known_hosts.*ssh-keyscan"):
        run_benchmark(
            "board", board_settings(loopback_sshd, known_hosts=str(empty)), graphs, tmp_path / "t.pq"
        )


def test_a_key_the_board_does_not_accept_is_named(loopback_sshd, graphs, tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    with pytest.raises(SshDeviceError, match=r"ssh board root@127.0.0.1:\d+: .*[Aa]uthentication"):
        run_benchmark(
            "board",
            board_settings(loopback_sshd, key_file=str(tmp_path / "other")),
            graphs,
            tmp_path / "t.pq",
        )


def test_a_board_without_litert_says_what_to_install(loopback_sshd, graphs, tmp_path):
    with pytest.raises(SshDeviceError, match=r"cannot run LiteRT there.*install `ai-edge-litert`"):
        run_benchmark("board", board_settings(loopback_sshd, python="false"), graphs, tmp_path / "t.pq")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("host", "127.0.0.1;reboot"),
        ("host", "-oProxyCommand=id"),
        ("user", "$(id)"),
        ("workdir", "/tmp/a b"),
        ("workdir", "relative"),
        ("python", "python3; rm -rf /"),
        ("runner", "bash"),
        ("cpu_affinity_mask", "f0; id"),
        ("stop_services", ["cron`id`"]),
    ],
)
def test_unsafe_values_are_rejected_before_anything_connects(key, value):
    settings = {"kind": "ssh", "host": "127.0.0.1", "user": "root", "threads": 1, key: value}
    with pytest.raises(ValueError, match=f"{key}="):
        check_settings(settings)


def test_the_timers_json_is_found_whichever_side_of_litert_s_log_line_it_lands():
    from fdi.profile.devices.ssh import _last_json

    # verbatim from a loopback run (stdout and stderr arrive together over the channel)
    after = (
        '{"runtime": "ai-edge-litert", "runtime_version": "2.3.0", '
        '"runs_ms": [0.071404, 0.037912, 0.038241]}\n'
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
    )
    before = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n" + after.splitlines()[0] + "\n"
    assert _last_json(after)["runs_ms"] == _last_json(before)["runs_ms"] == [0.071404, 0.037912, 0.038241]
    with pytest.raises(ValueError):
        _last_json("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
