"""The adb device kind against a protocol-level fake adb server (the real adbutils client talks to it)."""

import json

import pandas as pd
import pytest
from fake_adb import FakeAdbServer, FakeDevice, stand_in_benchmark_model

from fdi.profile.devices import run_benchmark
from fdi.profile.devices.adb import AdbDeviceError, check_settings
from fdi.profile.export import export_shard

PROPS = {
    "ro.product.model": "Nexus 5",
    "ro.product.manufacturer": "LGE",
    "ro.build.version.release": "6.0.1",
    "ro.product.cpu.abi": "armeabi-v7a",
    "ro.board.platform": "msm8974",
}


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    out = tmp_path_factory.mktemp("graphs")
    components = [
        {"id": "fc-n000-c00", "layer": "fc", "in_dim": 64, "out_dim": 32},
        {"id": "fc-n000-c01", "layer": "fc", "in_dim": 16, "out_dim": 8},
        {
            "id": "cnn-n000-c00",
            "layer": "cnn",
            "in_height": 12,
            "in_width": 12,
            "kernel_h": 3,
            "kernel_w": 3,
            "in_channel": 4,
            "out_channel": 8,
            "padding": "same",
            "stride_h": 1,
            "stride_w": 1,
        },
        {"id": "gru-n000-c00", "layer": "gru", "in_dim": 8, "out_dim": 4, "step": 8},
    ]
    export_shard(pd.DataFrame(components), out)
    return out


def phone(tmp_path, rooted=True):
    device = FakeDevice(tmp_path / "device", "0123abcd", PROPS, rooted=rooted)
    settings = {
        "kind": "adb",
        "serial": "0123abcd",
        "benchmark_model": str(stand_in_benchmark_model(tmp_path)),
        "threads": 1,
        "warmup_runs": 1,
        "runs": 5,
        "repeats": 2,
        "statistic": "mean",
        "stop_services": ["mpdecision", "thermal-engine"],
        "clock": {"cpus": [0], "frequency_khz": 1100000},
    }
    return device, settings


def test_times_every_graph_for_real_with_hygiene_applied_and_restored(tmp_path, graphs):
    device, settings = phone(tmp_path)
    with FakeAdbServer(device) as server:
        timings = run_benchmark(
            "nexus5", {**settings, "adb_port": server.port}, graphs, tmp_path / "t.parquet"
        )
    assert len(timings) == 4 * 2 and set(timings.repeat) == {0, 1}
    assert (
        (timings["count"] == 5).all()
        and (timings.avg_ms > 0).all()
        and (timings.min_ms <= timings.avg_ms).all()
    )
    fingerprint = json.loads(timings.fingerprint.iloc[0])
    assert fingerprint["model"] == "Nexus 5" and fingerprint["android_version"] == "6.0.1"
    assert fingerprint["abi"] == "armeabi-v7a" and fingerprint["runtime_version"].startswith("sha256:")
    assert fingerprint["hygiene"]["stopped_services"] == ["mpdecision", "thermal-engine"]
    assert fingerprint["hygiene"]["governor"] == "userspace" and fingerprint["governor"] == "userspace"
    log = (device.root / "tool.log").read_text().splitlines()
    assert log == ["stop mpdecision", "stop thermal-engine", "start thermal-engine", "start mpdecision"]
    cpufreq = device.root / "sys/devices/system/cpu/cpu0/cpufreq"
    assert (cpufreq / "scaling_governor").read_text().strip() == "schedutil"  # restored
    assert (cpufreq / "scaling_setspeed").read_text().strip() == "1100000"
    # Each graph timed once per pass, with the configured arguments.
    runs = [c for c in device.commands if "benchmark_model" in c and "--graph" in c]
    assert len(runs) == 8 and all("--num_runs=5" in c and "--enable_op_profiling=true" in c for c in runs)


def test_a_recurrent_graph_keeps_the_main_graphs_ops_and_the_timed_runs(tmp_path, graphs):
    """The WHILE loop's body prints its own table after the main graph's: the main graph's is kept."""
    device, settings = phone(tmp_path)
    with FakeAdbServer(device) as server:
        timings = run_benchmark(
            "phone", {**settings, "adb_port": server.port, "repeats": 1}, graphs, tmp_path / "t.pq"
        )
    gru = timings.set_index("id").loc["gru-n000-c00"]
    assert [op["node_type"] for op in json.loads(gru.ops)][:3] == ["RESHAPE", "WHILE", "RESHAPE"]
    assert [part["index"] for part in json.loads(gru.subgraph_ops)] == [1, 2]
    fc = timings.set_index("id").loc["fc-n000-c00"]
    assert [op["node_type"] for op in json.loads(fc.ops)] == ["TfLiteXNNPackDelegate"]
    assert json.loads(fc.subgraph_ops) == []
    assert (timings.profiler_avg_ms > 0).all() and (timings.min_ms <= timings.avg_ms).all()


def test_without_root_uses_fixed_performance_mode_and_restores_it(tmp_path, graphs):
    device, settings = phone(tmp_path, rooted=False)
    with FakeAdbServer(device) as server:
        timings = run_benchmark(
            "phone", {**settings, "adb_port": server.port, "repeats": 1}, graphs, tmp_path / "t.pq"
        )
    assert json.loads(timings.fingerprint.iloc[0])["hygiene"] == {
        "root": False,
        "fixed_performance_mode": True,
    }
    assert (device.root / "tool.log").read_text().splitlines() == [
        "cmd power set-fixed-performance-mode-enabled true",
        "cmd power set-fixed-performance-mode-enabled false",
    ]


def test_hygiene_is_restored_when_profiling_fails(tmp_path):
    device, settings = phone(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "fc-bad.tflite").write_bytes(b"not a flatbuffer")
    with FakeAdbServer(device) as server, pytest.raises(AdbDeviceError, match=r"0123abcd.*exited with"):
        run_benchmark("phone", {**settings, "adb_port": server.port}, broken, tmp_path / "t.parquet")
    assert (device.root / "tool.log").read_text().splitlines()[-2:] == [
        "start thermal-engine",
        "start mpdecision",
    ]
    governor = device.root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    assert governor.read_text().strip() == "schedutil"


def test_a_device_that_disappears_keeps_what_was_measured(tmp_path, graphs):
    device, settings = phone(tmp_path)
    out = tmp_path / "t.parquet"
    with FakeAdbServer(device) as server:
        settings = {**settings, "adb_port": server.port}
        benchmark_commands = lambda: [c for c in device.commands if "--graph" in c]  # noqa: E731
        # Unplug after the session set-up (mkdir, id, stop x2, governor x3, getprop, cat) and two graphs.
        device.unplug_after = len(device.commands) + 20
        with pytest.raises(AdbDeviceError, match="'0123abcd'"):
            run_benchmark("phone", settings, graphs, out)
        measured = len(benchmark_commands()) - 1  # the last command found the phone gone
        kept = pd.read_parquet(out.with_name("t.partial.parquet"))
        assert len(kept) == measured >= 1 and not out.exists()
        device.connected, device.unplug_after, device.commands = True, None, []
        timings = run_benchmark("phone", settings, graphs, out)
    assert len(timings) == 8 and len(benchmark_commands()) == 8 - measured
    assert not out.with_name("t.partial.parquet").exists()


def test_missing_device_is_named(tmp_path, graphs):
    device, settings = phone(tmp_path)
    with (
        FakeAdbServer(device) as server,
        pytest.raises(AdbDeviceError, match=r"'ZX1G22' is not attached.*0123abcd"),
    ):
        run_benchmark(
            "phone", {**settings, "serial": "ZX1G22", "adb_port": server.port}, graphs, tmp_path / "t.pq"
        )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("serial", "0123;reboot"),
        ("serial", "$(id)"),
        ("workdir", "/data/local/tmp/a b"),
        ("workdir", "/sdcard/fdi"),
        ("cpu_affinity_mask", "f0; rm -rf /"),
        ("stop_services", ["thermal`id`"]),
    ],
)
def test_unsafe_values_are_rejected_before_anything_runs(tmp_path, key, value):
    _, settings = phone(tmp_path)
    with pytest.raises(ValueError, match=f"{key}="):
        check_settings({**settings, key: value})


def test_missing_benchmark_model_binary_says_where_to_get_it(tmp_path):
    _, settings = phone(tmp_path)
    with pytest.raises(ValueError, match=r"benchmark_model=.*README"):
        check_settings({**settings, "benchmark_model": str(tmp_path / "nope")})


def test_the_battery_gauge_is_sampled_over_adb_and_gives_energy_per_inference(tmp_path, graphs):
    """A gauge in µA (discharge negative, as many Qualcomm phones report) and µV: 2 W idle, 6 W
    while the stand-in benchmark_model runs. Sampled through the real adbutils client."""
    from fdi.energy.compute import energy_of_timings

    device, settings = phone(tmp_path)
    gauge = device.root / "sys/class/power_supply/battery"
    gauge.mkdir(parents=True)
    for name, value in {
        "current_now": -500000,
        "idle_current_now": -500000,
        "busy_current_now": -1500000,
        "voltage_now": 4000000,
    }.items():
        (gauge / name).write_text(f"{value}\n")
    settings = {**settings, "repeats": 1, "energy": {"source": "battery", "idle": "job", "idle_s": 0.5}}
    with FakeAdbServer(device) as server:
        timings = run_benchmark("phone", {**settings, "adb_port": server.port}, graphs, tmp_path / "t.pq")
    assert list(timings.role) == ["idle", *["component"] * 4, "idle"]
    assert any("cat /sys/class/power_supply/battery/current_now" in c for c in device.commands)
    energy = energy_of_timings(timings, "phone", settings, [])
    units = json.loads(energy.units[0])
    assert (units["current_unit"], units["voltage_unit"], units["discharge_sign"]) == ("uA", "uV", -1)
    assert energy.idle_power_w.to_numpy() == pytest.approx(2.0)
    # each block holds the stand-in's start-up (2 W) and >= 0.3 s of runs at 6 W
    assert ((energy.power_w > 2.3) & (energy.power_w < 6.0)).all()
    assert (energy.energy_mj > 0).all()
    assert energy.energy_mj.to_numpy() == pytest.approx(((energy.power_w - 2.0) * energy.time_ms).to_numpy())


def test_the_phones_run_queue_is_looked_at_only_when_asked_and_gates_every_pass(tmp_path, graphs):
    """With `wait_for_others`, the run queue is read on the phone before and after every pass: a
    quiet phone's passes are clean; on a phone where three other tasks run, every pass waits as
    long as the limits allow and is recorded as shared. Without the setting nothing is read."""
    device, settings = phone(tmp_path)
    looks = {**settings, "wait_for_others": True, "gate_max_wait_s": 0.2, "wait_budget_s": 0.3}
    with FakeAdbServer(device) as server:
        quiet = run_benchmark("phone", {**looks, "adb_port": server.port}, graphs, tmp_path / "q.pq")
        assert (quiet.others_running == 0).all() and quiet.waited_s.sum() == 0
        assert sum("procs_running" in c for c in device.commands) == 2 * len(quiet)
        device.set_run_queue(4)
        busy = run_benchmark("phone", {**looks, "adb_port": server.port}, graphs, tmp_path / "b.pq")
        assert (busy.others_running == 3).all() and 0.28 <= busy.waited_s.sum() < 0.5
        device.commands.clear()
        run_benchmark("phone", {**settings, "adb_port": server.port}, graphs, tmp_path / "n.pq")
        assert not any("procs_running" in c for c in device.commands)
