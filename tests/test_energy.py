"""Energy: every trace format on traces whose integrals are known in closed form, RAPL wrap-around
through a fake sysfs tree, battery units and signs, and each bad trace's named error.

Every trace here is synthetic (written by the test, named so); the formats are the real tools'
(PyMonsoon's sampleEngine CSV and PowerTool's export, read in their sources; see fdi.energy.traces).
"""

import json

import numpy as np
import pandas as pd
import pytest

from fdi.energy.battery import battery_trace
from fdi.energy.compute import energy_of_timings, summarise
from fdi.energy.integrate import best_offset_s, window_energy_j
from fdi.energy.traces import TraceError, read_trace
from fdi.profile.devices.energy_probes import RaplCounters, RaplProbe

START = 1_790_000_000.0  # 2026-09-21T14:13:20Z
START_UTC = "2026-09-21T14:13:20Z"


def _piecewise_power(t: np.ndarray) -> np.ndarray:
    """2 W, then a ramp from 2 to 5 W over [1, 2) s, then 5 W: linear between its knots."""
    return np.interp(t, [0.0, 1.0, 2.0, 10.0], [2.0, 2.0, 5.0, 5.0])


def _exact_energy(a: float, b: float) -> float:
    """The closed-form integral of _piecewise_power over [a, b] (trapezoids between the knots)."""
    knots = np.array(sorted({a, b, *[k for k in (1.0, 2.0) if a < k < b]}))
    power = _piecewise_power(knots)
    return float(np.sum(np.diff(knots) * (power[1:] + power[:-1]) / 2))


def _write_pymonsoon(path, rate_hz, seconds=4.0, voltage=4.0):
    t = np.arange(0, seconds + 1e-9, 1 / rate_hz)
    lines = ["Time(ms),Main(mA),Main Voltage(V),"]
    lines += [f"{x!r},{1000 * _piecewise_power(x) / voltage!r},{voltage!r}," for x in t]
    path.write_text("\n".join(lines) + "\n")


def _write_powertool(path, rate_hz, seconds=4.0):
    t = np.arange(0, seconds + 1e-9, 1 / rate_hz)
    header = "Time (s),Main Avg Current (mA),Main Avg Power (mW),Main Avg Voltage (V)"
    rows = [f"{x:.6f},{250 * _piecewise_power(x):.6f},{1000 * _piecewise_power(x):.6f},4.0" for x in t]
    path.write_text("\n".join([header, *rows]) + "\n")


def _write_generic(path, rate_hz, seconds=4.0):
    t = np.arange(0, seconds + 1e-9, 1 / rate_hz)
    rows = [f"{1000 * (START + x):.3f},{1e6 * _piecewise_power(x) / 5.0:.3f},5000" for x in t]
    path.write_text("\n".join(["t_ms,i_ua,v_mv", *rows]) + "\n")


GENERIC = {
    "format": "csv",
    "time_column": "t_ms",
    "time_unit": "ms",
    "clock": "unix",
    "current_column": "i_ua",
    "current_unit": "uA",
    "voltage_column": "v_mv",
    "voltage_unit": "mV",
}


@pytest.mark.parametrize("rate_hz", [5000, 1000, 50])  # Monsoon's 5 kHz, a USB meter's 1 kHz and 50 Hz
@pytest.mark.parametrize("kind", ["pymonsoon", "powertool", "csv"])
def test_every_format_integrates_constant_and_piecewise_power_exactly(tmp_path, kind, rate_hz):
    path = tmp_path / f"{kind}.csv"
    {"pymonsoon": _write_pymonsoon, "powertool": _write_powertool, "csv": _write_generic}[kind](path, rate_hz)
    spec = {"path": str(path), "start_utc": START_UTC, **(GENERIC if kind == "csv" else {"format": kind})}
    trace = read_trace(spec)
    windows = [(0.2, 0.9), (0.5, 1.5), (1.25, 2.75), (3.0, 3.9), (0.0, 4.0)]  # constant, ramps, steps
    starts = np.array([START + a for a, _ in windows])
    ends = np.array([START + b for _, b in windows])
    got = window_energy_j(trace, starts, ends, [str(w) for w in windows])
    assert got == pytest.approx([_exact_energy(a, b) for a, b in windows], rel=1e-6)
    assert got[0] == pytest.approx(2.0 * 0.7, rel=1e-6)  # constant 2 W for 0.7 s


def test_a_step_in_power_is_integrated_within_one_sample_interval(tmp_path):
    """A meter samples a square step: the error is bounded by the jump x one sample interval."""
    for rate_hz in (5000, 500):
        t = np.arange(0, 2 + 1e-9, 1 / rate_hz)
        path = tmp_path / f"step{rate_hz}.csv"
        rows = [f"{START + x:.6f},{1.0 if x < 1.0 else 3.0}" for x in t]
        path.write_text("\n".join(["t,p", *rows]) + "\n")
        trace = read_trace({"path": str(path), "time_column": "t", "power_column": "p"})
        got = window_energy_j(trace, np.array([START + 0.5]), np.array([START + 1.5]), ["w"])[0]
        assert abs(got - (0.5 * 1.0 + 0.5 * 3.0)) <= 2.0 / rate_hz


def _block_timings(device="phone"):
    """Three graphs x two passes of 0.4 s and idle windows at both ends, on START's clock: what a
    benchmark job with an external meter writes (synthetic rows for tests)."""
    rows = [
        {
            "device": device,
            "id": "idle",
            "role": "idle",
            "repeat": 0,
            "start_unix_s": START + 0.1,
            "end_unix_s": START + 1.1,
        }
    ]
    clock = START + 1.2
    for repeat in range(2):
        for i, ms in enumerate([2.0, 4.0, 8.0]):
            rows.append(
                {
                    "device": device,
                    "id": f"g{i}",
                    "role": "component",
                    "repeat": repeat,
                    "start_unix_s": clock,
                    "end_unix_s": clock + 0.4,
                    "runs_ms": [ms] * 20,
                    "runs": 20,
                }
            )
            clock += 0.5
    rows.append(
        {
            "device": device,
            "id": "idle",
            "role": "idle",
            "repeat": 1,
            "start_unix_s": clock,
            "end_unix_s": clock + 1.0,
        }
    )
    return pd.DataFrame(rows)


def _trace_of(timings, busy_w, idle_w, rate_hz=1000, shift_s=0.0):
    """Power idle_w outside the blocks and busy_w[id] inside them (edges sharp to the sample)."""
    t = np.arange(START, timings.end_unix_s.max() + 0.5, 1 / rate_hz)
    power = np.full(len(t), idle_w)
    for row in timings[timings.role == "component"].itertuples():
        power[(t >= row.start_unix_s) & (t < row.end_unix_s)] = busy_w[row.id]
    return t + shift_s, power


def test_energy_per_inference_is_the_power_above_idle_times_the_inference_time(tmp_path):
    timings = _block_timings()
    t, power = _trace_of(timings, {"g0": 3.0, "g1": 4.0, "g2": 5.0}, idle_w=1.0, rate_hz=5000)
    path = tmp_path / "meter.csv"
    path.write_text(
        "\n".join(["time,power_mw", *[f"{a:.6f},{1000 * b:.3f}" for a, b in zip(t, power, strict=True)]])
        + "\n"
    )
    spec = {"path": str(path), "time_column": "time", "power_column": "power_mw", "power_unit": "mW"}
    energy = energy_of_timings(timings, "phone", {"kind": "adb", "energy": {"source": "csv"}}, [spec])
    summary = summarise(energy).set_index("id")
    # (3 - 1) W x 2 ms = 4 mJ; (4 - 1) x 4 = 12 mJ; (5 - 1) x 8 = 32 mJ, to the sample edges
    assert summary.energy_mj.to_numpy() == pytest.approx([4.0, 12.0, 32.0], rel=0.01)
    assert (summary.passes == 2).all() and (summary.energy_spread < 0.01).all()
    assert energy.idle_power_w.to_numpy() == pytest.approx(1.0)


def test_a_misaligned_trace_is_caught_and_its_offset_estimated(tmp_path):
    timings = _block_timings()
    t, power = _trace_of(timings, {"g0": 3.0, "g1": 3.0, "g2": 3.0}, idle_w=1.0, shift_s=1.5)
    path = tmp_path / "late.csv"
    path.write_text(
        "\n".join(["time,power", *[f"{a:.6f},{b}" for a, b in zip(t, power, strict=True)]]) + "\n"
    )
    spec = {"path": str(path), "time_column": "time", "power_column": "power"}
    trace = read_trace(spec)
    shift, contrast = best_offset_s(trace, timings, search_s=3.0, step_s=0.05)
    assert shift == pytest.approx(1.5, abs=0.051) and contrast == pytest.approx(2.0, rel=0.05)
    with pytest.raises(TraceError, match=r"late\.csv: .* shifted by \+1\.50 s.*max_clock_offset_s = 0\.5"):
        energy_of_timings(timings, "phone", {"kind": "adb", "energy": {"source": "csv"}}, [spec])
    # declared: the same trace with its offset in the config lines up and measures
    fixed = energy_of_timings(
        timings, "phone", {"kind": "adb", "energy": {"source": "csv"}}, [{**spec, "clock_offset_s": 1.5}]
    )
    assert summarise(fixed).energy_mj.to_numpy() == pytest.approx([4.0, 8.0, 16.0], rel=0.02)


def test_bad_traces_name_the_file_and_line(tmp_path):
    good = "time,power\n" + "".join(f"{START + i * 0.01:.2f},1.5\n" for i in range(500))
    cases = {
        "nan.csv": (
            good.replace(f"{START + 0.05:.2f},1.5", f"{START + 0.05:.2f},nan"),
            r"nan\.csv, line 7: .*NaN",
        ),
        "blank.csv": (
            good.replace(f"{START + 0.05:.2f},1.5", f"{START + 0.05:.2f},"),
            r"blank\.csv, line 7: .*''",
        ),
        "backwards.csv": (
            good.replace(f"{START + 0.03:.2f},1.5", f"{START - 1:.2f},1.5"),
            r"backwards\.csv, line 5: time goes backwards",
        ),
        "huge.csv": (
            good.replace(f"{START + 0.1:.2f},1.5", f"{START + 0.1:.2f},1500"),
            r"huge\.csv, line 12: .*implausible",
        ),
        "empty.csv": ("", r"empty\.csv: empty file"),
        "header.csv": ("time,power\n", r"header\.csv: a header and no samples"),
        "columns.csv": ("t,p\n1,2\n", r"columns\.csv: no column 'time'"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(TraceError, match=message):
            read_trace({"path": str(tmp_path / name), "time_column": "time", "power_column": "power"})
    # a truncated trace (the meter stopped early) does not cover the last windows
    timings = _block_timings()
    (tmp_path / "short.csv").write_text(good)  # 5 s of samples from START: the last idle window ends later
    with pytest.raises(TraceError, match=r"windows are covered by no trace, the first .*short\.csv"):
        energy_of_timings(
            timings.assign(end_unix_s=timings.end_unix_s + 1, start_unix_s=timings.start_unix_s + 1),
            "phone",
            {"kind": "adb", "energy": {"source": "csv"}},
            [{"path": str(tmp_path / "short.csv"), "time_column": "time", "power_column": "power"}],
        )
    with pytest.raises(TraceError, match=r"missing\.csv: no such trace file"):
        read_trace({"path": str(tmp_path / "missing.csv")})


def _fake_rapl(root, packages):
    for name, (energy, top) in packages.items():
        zone = root / name
        zone.mkdir(parents=True)
        (zone / "energy_uj").write_text(f"{energy}\n")
        (zone / "max_energy_range_uj").write_text(f"{top}\n")
        (zone / "name").write_text("package-0\n")
    (root / "intel-rapl:0:0").mkdir()  # a subzone (core): inside the package, never counted twice
    (root / "intel-rapl:0:0" / "energy_uj").write_text("5\n")


def test_rapl_counters_wrap_around_and_sum_the_packages(tmp_path):
    top = 262_143_328_850
    _fake_rapl(tmp_path, {"intel-rapl:0": (top - 1_000_000, top), "intel-rapl:1": (10, top)})
    probe = RaplProbe(RaplCounters(tmp_path))
    token = probe.begin()
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("500000\n")  # wrapped: 1e6 to the top, 5e5 after
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("2000010\n")
    assert probe.end(token) == {"rapl_uj": 1_000_000 + 500_000 + 2_000_000}
    assert probe.describe()["rapl_zones"] == ["intel-rapl:0", "intel-rapl:1"]


def test_the_benchmark_reads_rapl_around_each_block_and_the_energy_step_uses_it(tmp_path, monkeypatch):
    """The real benchmark loop (the scripted device of the instrument's tests, in this process) with
    a fake sysfs RAPL tree whose counter reads as a known 3 W since the test began: every idle
    row's rapl_uj is 3 W x its window, and the energy step finds 3 W of idle power."""
    import time

    import fake_device

    from fdi.profile import devices
    from fdi.profile.devices import energy_probes as probes
    from fdi.profile.devices import run_benchmark

    monkeypatch.setitem(devices.KINDS, "scripted", "fake_device")
    fake_device.reset()
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    for name in ("a", "b"):
        (graphs / f"{name}.tflite").write_bytes(b"never read by the scripted device")
    _fake_rapl(tmp_path / "rapl", {"intel-rapl:0": (0, 2**40)})
    started, read_file = time.time(), probes._read_int

    def counter(path):  # the kernel's counter: 3 W since `started`; other files as written
        return int(3e6 * (time.time() - started)) if path.name == "energy_uj" else read_file(path)

    monkeypatch.setattr(probes, "_read_int", counter)
    settings = {
        "kind": "scripted",
        "repeats": 2,
        "agree_tolerance": 0.05,
        "max_passes": 2,
        "energy": {"source": "rapl", "rapl_root": str(tmp_path / "rapl"), "idle": "job", "idle_s": 0.3},
    }
    timings = run_benchmark("rig", settings, graphs, tmp_path / "t.parquet")
    assert list(timings.role) == ["idle", "component", "component", "component", "component", "idle"]
    windows = timings.end_unix_s - timings.start_unix_s
    idle = timings.role == "idle"
    assert (timings.rapl_uj[idle] * 1e-6 / windows[idle]).to_numpy() == pytest.approx(3.0, rel=0.02)
    assert json.loads(timings.fingerprint[0])["energy_source"] == "rapl"
    assert (timings.runs[~idle] == 5).all()
    energy = energy_of_timings(timings, "rig", settings, [])
    assert (energy.role == "component").all() and len(energy) == 4
    assert energy.idle_power_w.to_numpy() == pytest.approx(3.0, rel=0.02)


@pytest.mark.parametrize(
    ("current", "voltage", "units"),
    [
        (-1_500_000, 4_000_000, ("uA", "uV", -1)),  # µA, discharge negative (many Qualcomm gauges)
        (1_500_000, 4_000_000, ("uA", "uV", 1)),  # µA, discharge positive
        (1500, 4000, ("mA", "mV", 1)),  # mA and mV
        (-1500, 4_000_000, ("mA", "uV", -1)),
    ],
)
def test_battery_units_and_sign_are_detected(current, voltage, units):
    samples = [[START + i * 0.1, current * (1 + 0.01 * (i % 3)), voltage] for i in range(20)]
    trace, found = battery_trace(samples, {}, "gauge")
    assert (found["current_unit"], found["voltage_unit"], found["discharge_sign"]) == units
    assert trace.power_w[:3] == pytest.approx([6.0, 6.06, 6.12])
    with pytest.raises(TraceError, match="gauge: 1 of 21 battery samples have the charging sign"):
        battery_trace([*samples, [START + 5, -current, voltage]], {}, "gauge")
    if voltage == 4000:  # the config overrides the detection
        trace, found = battery_trace(samples, {"current_unit": "uA", "voltage_unit": "mV"}, "gauge")
        assert not found["detected"] and trace.power_w[0] == pytest.approx(1500e-6 * 4.0)


def test_rapl_configured_on_a_host_without_it_gives_not_measured_and_no_idle_windows(tmp_path, monkeypatch):
    import fake_device

    from fdi.energy.compute import load_summaries
    from fdi.profile import devices
    from fdi.profile.devices import run_benchmark

    monkeypatch.setitem(devices.KINDS, "scripted", "fake_device")
    fake_device.reset()
    (tmp_path / "graphs").mkdir()
    (tmp_path / "graphs" / "a.tflite").write_bytes(b"never read")
    settings = {
        "kind": "scripted",
        "repeats": 1,
        "energy": {"source": "rapl", "rapl_root": str(tmp_path / "none")},
    }
    timings = run_benchmark("rig", settings, tmp_path / "graphs", tmp_path / "t.parquet")
    assert list(timings.role) == ["component"] and "rapl_uj" not in timings
    assert json.loads(timings.fingerprint[0])["energy_source"] == "none"
    energy = energy_of_timings(timings, "rig", settings, [])
    path = tmp_path / "results/energy/rig/x.parquet"
    path.parent.mkdir(parents=True)
    energy.to_parquet(path)
    assert energy.empty and load_summaries([path])["rig"].empty
