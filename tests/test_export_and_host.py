"""Exported graphs match their structures; the host instrument loads LiteRT only and times them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fdi.profile.devices import device_module, litert_timer, run_benchmark
from fdi.profile.devices.cpu_identity import cpu_identity
from fdi.profile.export import build_keras_model, export_shard, fc_graph, to_tflite
from fdi.timemodel.features import add_features

COMPONENTS = [
    {"id": "fc-t", "layer": "fc", "in_dim": 37, "out_dim": 11},
    {
        "id": "cnn-t",
        "layer": "cnn",
        "in_height": 25,
        "in_width": 30,
        "kernel_h": 2,
        "kernel_w": 3,
        "in_channel": 3,
        "out_channel": 7,
        "padding": "valid",
        "stride_h": 2,
        "stride_w": 2,
    },
    {"id": "gru-t", "layer": "gru", "in_dim": 5, "out_dim": 9, "step": 8},
    {"id": "lstm-t", "layer": "lstm", "in_dim": 6, "out_dim": 4, "step": 10},
]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    out = tmp_path_factory.mktemp("graphs")
    export_shard(pd.DataFrame(COMPONENTS), out)
    return out


def _graph_outline(graph: bytes):
    """Operators (code, inputs, outputs, options) and tensor shapes of a graph, without weights."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(graph))
    [subgraph] = model.subgraphs
    operators = [
        (
            model.operatorCodes[op.opcodeIndex].builtinCode,
            list(op.inputs),
            list(op.outputs),
            vars(op.builtinOptions),
        )
        for op in subgraph.operators
    ]
    return operators, [list(t.shape) for t in subgraph.tensors], [t.type for t in subgraph.tensors]


@pytest.mark.parametrize("in_dim, out_dim", [(37, 11), (1, 300), (513, 1)])
def test_resized_fc_graph_is_the_converters_graph(in_dim, out_dim):
    """The fast FC path gives the graph the converter gives (op, options, shapes, types) and
    computes relu(x W^T) with its own weights."""
    from ai_edge_litert.interpreter import Interpreter

    component = {"id": f"fc-{in_dim}-{out_dim}", "layer": "fc", "in_dim": in_dim, "out_dim": out_dim}
    fast = fc_graph(component)
    assert _graph_outline(fast) == _graph_outline(to_tflite(build_keras_model(component)))
    interpreter = Interpreter(model_content=fast)
    interpreter.allocate_tensors()
    x = np.random.default_rng(1).standard_normal((1, in_dim)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    [inputs] = interpreter.get_input_details()
    weights = next(
        d
        for d in interpreter.get_tensor_details()
        if list(d["shape"]) == [out_dim, in_dim] and d["index"] != inputs["index"]
    )
    w = interpreter.get_tensor(weights["index"])
    assert np.abs(w).max() <= np.sqrt(6 / (in_dim + out_dim)) and w.std() > 0
    y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(y, np.maximum(x @ w.T, 0), rtol=1e-5, atol=1e-5)


def expected_output_shape(component):
    layer = component["layer"]
    if layer == "fc":
        return [1, component["out_dim"]]
    if layer == "cnn":
        row = add_features(pd.DataFrame([component]), "cnn").iloc[0]
        return [1, row.out_height, row.out_width, component["out_channel"]]
    return [1, component["step"], component["out_dim"]]


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c["id"])
def test_graph_shapes_match_the_structure(graphs, component):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(graphs / f"{component['id']}.tflite"))
    interpreter.allocate_tensors()
    [output] = interpreter.get_output_details()
    assert list(output["shape"]) == expected_output_shape(component)
    [inputs] = interpreter.get_input_details()
    interpreter.set_tensor(inputs["index"], np.ones(inputs["shape"], dtype=np.float32))
    interpreter.invoke()
    assert (interpreter.get_tensor(output["index"]) >= 0).all()  # ReLU everywhere


def test_host_benchmark_times_every_graph_and_records_the_fingerprint(graphs, tmp_path):
    settings = {"kind": "host", "threads": 1, "warmup_runs": 1, "warmup_min_ms": 1, "runs": 4, "repeats": 2}
    # The suite's other worker is always running: wait for it a little, not the default 300 s.
    settings |= {"gate_max_wait_s": 0.5, "wait_budget_s": 2}
    timings = run_benchmark("host", settings, graphs, tmp_path / "t.parquet")
    stored = pd.read_parquet(tmp_path / "t.parquet")
    assert len(stored) == len(COMPONENTS) * 2
    assert sorted(stored.id.unique()) == sorted(c["id"] for c in COMPONENTS)
    assert all(len(runs) == 4 and min(runs) > 0 for runs in timings.runs_ms)
    fingerprint = json.loads(stored.fingerprint.iloc[0])
    assert fingerprint["threads"] == 1 and fingerprint["runtime_version"]
    assert fingerprint | cpu_identity(Path("/proc/cpuinfo").read_text()) == fingerprint
    assert (stored.others_running >= 0).all()  # the host looks at the run queue around every pass


def test_warm_up_lasts_at_least_warmup_min_ms(monkeypatch, tmp_path):
    """A protocol fake of LiteRT's Interpreter whose every invocation takes 1 ms."""
    import time

    import ai_edge_litert.interpreter

    calls = []

    class OneMillisecondInterpreter:
        def __init__(self, model_path, num_threads):
            assert num_threads == 1

        def allocate_tensors(self):
            pass

        def get_input_details(self):
            return []

        def invoke(self):
            calls.append(time.perf_counter())
            time.sleep(0.001)

    monkeypatch.setattr(ai_edge_litert.interpreter, "Interpreter", OneMillisecondInterpreter)
    runs = litert_timer.time_graph(tmp_path / "g.tflite", threads=1, warmup_runs=1, runs=3, warmup_min_ms=30)
    assert len(runs) == 3 and all(r >= 1.0 for r in runs)
    warm_up = calls[:-3]
    assert 15 <= len(warm_up) <= 31  # ~30 invocations of >= 1 ms each
    assert (calls[-3] - calls[0]) * 1e3 >= 30
    calls.clear()
    litert_timer.time_graph(tmp_path / "g.tflite", threads=1, warmup_runs=5, runs=2, warmup_min_ms=0)
    assert len(calls) == 5 + 2


def test_the_instrument_never_imports_tensorflow():
    code = (
        "import sys, fdi.profile.devices.host as h, fdi.profile.devices, fdi.cli;"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported';"
        "assert 'sklearn' not in sys.modules, 'scikit-learn imported';"
        "from ai_edge_litert.interpreter import Interpreter;"
        "assert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_empty_graph_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no \.tflite graphs"):
        run_benchmark("host", {"kind": "host"}, tmp_path, tmp_path / "t.parquet")


def test_unknown_device_kind_is_named():
    with pytest.raises(ValueError, match="unknown device kind 'phone'"):
        device_module("phone")


def test_huge_pages_environment_adds_the_tunable_once_and_keeps_others():
    from fdi.profile.devices.host import HUGE_PAGES_TUNABLE, huge_pages_environment

    assert huge_pages_environment({"huge_pages": False}, {}) is None
    assert huge_pages_environment({}, {"PATH": "/bin"}) is None
    fresh = huge_pages_environment({"huge_pages": True}, {"PATH": "/bin"})
    assert fresh == {"PATH": "/bin", "GLIBC_TUNABLES": HUGE_PAGES_TUNABLE}
    mixed = huge_pages_environment(
        {"huge_pages": True}, {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2"}
    )
    assert mixed["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{HUGE_PAGES_TUNABLE}"
    assert huge_pages_environment({"huge_pages": True}, mixed) is None  # the restarted process


def test_benchmark_restarts_itself_with_huge_pages_and_the_fingerprint_says_so(graphs, tmp_path):
    settings = {"kind": "host", "threads": 1, "warmup_runs": 1, "runs": 2, "repeats": 1, "huge_pages": True}
    settings |= {"gate_max_wait_s": 0.5, "wait_budget_s": 2}  # the suite's other worker runs on
    environment = {k: v for k, v in __import__("os").environ.items() if k != "GLIBC_TUNABLES"}
    out = tmp_path / "t.parquet"
    command = [sys.executable, "-m", "fdi.cli", "benchmark", "--device", "host"]
    command += [
        "--settings",
        json.dumps(settings),
        "--graphs",
        str(graphs / "fc-t.tflite"),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    assert "restarting with GLIBC_TUNABLES=glibc.malloc.hugetlb=1" in done.stdout
    fingerprint = json.loads(pd.read_parquet(out).fingerprint.iloc[0])
    assert fingerprint["malloc_huge_pages"] is True
    assert fingerprint["transparent_hugepage"] in {"always", "madvise", "never", "unreadable"}


def test_others_running_reads_the_run_queue_less_this_jobs_threads(tmp_path, monkeypatch):
    """The look at the run queue: Linux's procs_running (this task included) less the job's own
    threads, the fewest of three reads (a kernel thread waking for one read is not a co-runner)."""
    host = device_module("host")
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 0 5 100 0 0 0 0 0 0\nctxt 1\nprocs_running 3\nprocs_blocked 0\n")
    assert host.procs_running(str(stat)) == 3
    assert host.procs_running(str(tmp_path / "missing")) is None
    reads = iter([4, 3, 5, 1, 1, 1])
    monkeypatch.setattr(host, "procs_running", lambda: next(reads))
    session = host.HostSession({"threads": 1})
    assert session.others_running() == 2  # min(4, 3, 5) - 1
    assert session.others_running() == 0  # only this job
    monkeypatch.setattr(host, "procs_running", lambda: None)
    assert session.others_running() == 0  # the kernel does not say: nothing to wait for


def test_host_passes_gated_on_the_reference_record_the_gate(graphs, tmp_path):
    """The run gate on real graphs: every pass's runs are taken between two quick timings of the
    reference (here the FC graph); at a tolerance no state reaches, the first block counts."""
    settings = {"kind": "host", "threads": 1, "warmup_runs": 1, "warmup_min_ms": 1, "runs": 4, "repeats": 2}
    settings |= {"gate_max_wait_s": 0.5, "wait_budget_s": 2, "reference_every": 1}
    listed = sorted(p for p in graphs.glob("*.tflite") if p.stem != "fc-t")
    # the graphs at least as large as the median one are bracketed by a "cache probe" as well
    sizes = {p.stem: p.stat().st_size for p in listed}
    threshold = sorted(sizes.values())[len(sizes) // 2]
    settings |= {
        "run_gate": {"tolerance": 100.0, "max_wait_s": 1.0, "cache_probe_megabytes": threshold / 2**20}
    }
    out = tmp_path / "t.parquet"
    fixed = {"reference": graphs / "fc-t.tflite", "cache_probe": listed[0]}
    timings = run_benchmark("host", settings, listed, out, **fixed)
    components = timings[timings.role == "component"]
    assert len(components) == 2 * len(listed)
    probed = components.id.map(sizes) >= threshold
    assert probed.any() and not probed.all() and (components.run_gate_probed == probed).all()
    assert (components.run_gate_blocks == 1).all() and not components.reference_slow.any()
    assert (components.run_gate_ratio >= 1.0).all() and (components.run_gate_wait_s == 0).all()
    assert all(len(runs) == 4 for runs in components.runs_ms)


def test_host_passes_in_short_blocks_take_one_block_per_run_of_a_graph_longer_than_block_ms(graphs, tmp_path):
    """Short blocks on real graphs: with `block_ms` below any graph's run, every block is one run,
    so a pass of 4 runs (the looks never slow at this tolerance) is 4 blocks, 4 runs counted."""
    settings = {"kind": "host", "threads": 1, "warmup_runs": 1, "warmup_min_ms": 1, "runs": 4, "repeats": 2}
    settings |= {"run_gate": {"tolerance": 100.0, "max_wait_s": 1.0, "block_ms": 1e-6}}
    listed = sorted(p for p in graphs.glob("*.tflite") if p.stem != "fc-t")
    timings = run_benchmark(
        "host", settings, listed, tmp_path / "t.parquet", reference=graphs / "fc-t.tflite"
    )
    components = timings[timings.role == "component"]
    assert len(components) == 2 * len(listed)
    assert (components.run_gate_blocks == 4).all() and not components.reference_slow.any()
    assert all(len(runs) == 4 for runs in components.runs_ms)
