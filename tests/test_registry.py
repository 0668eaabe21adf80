"""The time-model registry and `fdi predict` on the tiny workflow's real host models."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from fdi.timemodel.features import add_features
from fdi.timemodel.op_models import term_ms, training_ops
from fdi.timemodel.op_registry import read_zoo
from fdi.timemodel.registry import NoTimeModelError, load_entry, models_of, registry_key

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="module")
def small_network(tmp_path_factory):
    """A Keras network of every modelled type (and one that is not), plus its .tflite export."""
    import keras

    from fdi.profile.export import to_tflite

    folder = tmp_path_factory.mktemp("net")
    inputs = keras.Input(shape=(16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, (3, 3), padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(12, (3, 3), strides=2, padding="valid", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.save(folder / "net.keras")
    (folder / "net.tflite").write_bytes(to_tflite(model))
    rnn_in = keras.Input(shape=(4, 6), batch_size=1)
    rnn = keras.Model(rnn_in, keras.layers.GRU(5, return_sequences=True)(rnn_in))
    rnn.save(folder / "rnn.keras")
    (folder / "rnn.tflite").write_bytes(to_tflite(rnn))
    wide_in = keras.Input(shape=(300,), batch_size=1)  # the tiny config measures FC in_dim 1..256
    keras.Model(wide_in, keras.layers.Dense(4)(wide_in)).save(folder / "wide.keras")
    image = keras.Input(shape=(8, 8, 3), batch_size=1)  # a depthwise conv: no model for it yet
    flat = keras.layers.Flatten()(keras.layers.DepthwiseConv2D(3)(image))
    (folder / "depthwise.tflite").write_bytes(to_tflite(keras.Model(image, keras.layers.Dense(2)(flat))))
    return folder


def predict(*args, by: str = "layers", own_process: bool = False) -> subprocess.CompletedProcess:
    """`fdi predict`, by default with Table 2's layer models (the tiny run's entry also has op models).

    In this process unless `own_process`: the CLI's imports (TensorFlow for a .keras) are made
    once for the file, not once a call; the exit code and output are what the command gives."""
    argv = ["predict", "--by", by, *args]
    if own_process:
        return subprocess.run([sys.executable, "-m", "fdi.cli", *argv], capture_output=True, text=True)
    from fdi.cli import main

    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as stop:  # as the interpreter would: a message goes to stderr, code 1
            code = stop.code if isinstance(stop.code, int) else 1
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def test_registry_entry_is_keyed_by_device_type_os_and_runtime(tiny_run):
    entry = load_entry(tiny_run / "results/registry", device="host")
    assert entry["key"] == registry_key(entry["fingerprint"])
    assert "ai-edge-litert" in entry["key"] and entry["fingerprint"]["os"].split("-")[0] in entry["key"]
    assert load_entry(tiny_run / "results/registry", key=entry["key"])["device"] == "host"
    assert sorted(entry["models"]) == ["cnn", "fc", "gru", "lstm"]
    # the families' other ops, timed in the campaign, priced per element and per call
    assert sorted(entry["op_models"]) == ["concatenation", "max_pool", "mean", "softmax"]
    for model in entry["op_models"].values():
        assert model["ms_per_element"] >= 0 and model["ms_per_call"] >= 0
        assert 0 < model["elements"][0] <= model["elements"][1]


def test_keys_name_the_device_type_os_and_runtime_per_kind():
    board = {
        "device_kind": "ssh",
        "board_model": "Raspberry Pi 4 Model B Rev 1.4",
        "cpu_model": "unreadable",
        "os": "Debian GNU/Linux 12 (bookworm)",
        "kernel": "6.1.0-rpi7-rpi-v8",
        "runtime": "tflite-runtime",
        "runtime_version": "2.14.0",
        "threads": 1,
    }
    assert registry_key(board) == (
        "Raspberry-Pi-4-Model-B-Rev-1.4__Debian-GNU-Linux-12-bookworm-6.1.0-rpi7-rpi-v8__tflite-runtime-2.14.0__1threads"
    )
    # A board without a device-tree model is named by its CPU.
    assert registry_key({**board, "board_model": "unreadable", "cpu_model": "Intel Atom"}).startswith(
        "Intel-Atom__"
    )
    phone = {
        "device_kind": "adb",
        "manufacturer": "LGE",
        "model": "Nexus 5",
        "android_version": "6.0.1",
        "runtime": "benchmark_model",
        "runtime_version": "sha256:ab12",
        "threads": 4,
    }
    assert registry_key(phone) == "LGE-Nexus-5__android-6.0.1__benchmark-model-sha256-ab12__4threads"


def test_predict_sums_the_per_layer_predictions(tiny_run, small_network):
    registry = tiny_run / "results/registry"
    models = models_of(load_entry(registry, device="host"))
    convs = pd.DataFrame(
        [
            {
                "in_height": 16,
                "in_width": 16,
                "kernel_h": 3,
                "kernel_w": 3,
                "in_channel": 3,
                "out_channel": 8,
                "padding": "same",
                "stride_h": 1,
                "stride_w": 1,
            },
            {
                "in_height": 16,
                "in_width": 16,
                "kernel_h": 3,
                "kernel_w": 3,
                "in_channel": 8,
                "out_channel": 12,
                "padding": "valid",
                "stride_h": 2,
                "stride_w": 2,
            },
        ]
    )
    dense = pd.DataFrame([{"in_dim": 3 * 3 * 12, "out_dim": 10}])
    pool = load_entry(registry, device="host")["op_models"]["max_pool"]
    expected = models["cnn"].predict(add_features(convs, "cnn")).sum()
    expected += models["fc"].predict(add_features(dense, "fc")).sum()
    expected += pool["ms_per_element"] * 7 * 7 * 12 + pool["ms_per_call"]  # the 2x2 pool of 7x7x12
    # the in-network term: 4 parts (3 calls saved), their weights (float32) as the term counts them
    term = load_entry(registry, device="host")["op_kinds"]["in_network"]
    weights = [3 * 3 * 3 * 8 + 8, 3 * 3 * 8 * 12 + 12, 108 * 10 + 10, 0]
    expected += term_ms(4, [4 * w / 1e6 for w in weights], term)
    for name in ("net.keras", "net.tflite"):
        # the command itself, in its own process, for one of the two
        where = {"own_process": name.endswith(".tflite")}
        result = predict(str(small_network / name), "--device", "host", "--registry", str(registry), **where)
        assert result.returncode == 0, result.stderr
        total = float(result.stdout.split("total predicted time: ")[1].split(" ms")[0])
        assert total == pytest.approx(expected, rel=1e-3), name
        assert "over 3 layers, 1 other ops and the in-network term" in result.stdout
        assert "max_pool, 588 elements" in result.stdout


def test_one_time_model_prices_a_network_the_same_for_every_consumer(tiny_run):
    """One network of the whole-network table: the table, the compression objective, Algorithm 2's
    plan and `fdi predict` on its graph all give the same total (the registry entry's time model)."""
    from fdi.compress.localmin_experiment import plan
    from fdi.compress.objectives import StructureCost
    from fdi.timemodel.device_model import DeviceTimeModel

    table = pd.read_csv(tiny_run / "results/tables/networks.csv")
    network = table[(table.family == "vgg") & (table.role == "test")].iloc[0]
    widths = json.loads(network.widths)
    registry = tiny_run / "results/registry"
    time_model = DeviceTimeModel.load(registry / "host.json")
    assert time_model.term is not None  # the zoo's in-network term
    [total] = time_model.predict_structures("vgg", [widths])
    assert network.predicted_ms == pytest.approx(total, rel=1e-9)
    assert network.predicted_in_network_ms != 0
    objective = StructureCost("time", "vgg", widths, time_model)
    assert objective.scale == pytest.approx(total, rel=1e-12)
    structures = pd.DataFrame([{"family": "vgg", "id": network.id, "widths": network.widths}])
    planned = plan(structures, time_model, {"modes": ["staircase"]})
    assert planned.predicted_before_ms.iloc[0] == pytest.approx(total, rel=1e-12)
    [graph] = (tiny_run / "results/graphs").glob(f"net_vgg/*/{network.id}.tflite")
    result = predict(str(graph), "--device", "host", "--registry", str(registry))
    assert result.returncode == 0, result.stderr
    printed = float(re.search(r"total predicted time: ([0-9.e+-]+) ms", result.stdout).group(1))
    assert printed == pytest.approx(total, rel=1e-3)


def test_predict_reads_recurrent_layers_from_keras_and_from_the_tflites_loop(tiny_run, small_network):
    registry = tiny_run / "results/registry"
    gru = pd.DataFrame([{"in_dim": 6, "out_dim": 5, "step": 4}])
    expected = models_of(load_entry(registry, device="host"))["gru"].predict(add_features(gru, "gru"))[0]
    for name in ("rnn.keras", "rnn.tflite"):
        result = predict(
            str(small_network / name), "--device", "host", "--registry", str(registry), "--strict"
        )
        assert result.returncode == 0, result.stderr
        total = float(result.stdout.split("total predicted time: ")[1].split(" ms")[0])
        assert total == pytest.approx(expected, rel=1e-3), name
        assert "modelled: 1 of 1 ops (100%" in result.stdout, name


def test_predict_says_what_share_it_models_and_strict_fails_on_the_rest(tiny_run, small_network):
    args = ("--device", "host", "--registry", str(tiny_run / "results/registry"))
    assert (
        "modelled: 4 of 4 ops (100%" in predict(str(small_network / "net.tflite"), *args, "--strict").stdout
    )
    result = predict(str(small_network / "depthwise.tflite"), *args)
    assert result.returncode == 0, result.stderr
    assert "modelled: 1 of 2 ops (50%" in result.stdout and "(DEPTHWISE_CONV_2D)" in result.stdout
    strict = predict(str(small_network / "depthwise.tflite"), *args, "--strict")
    assert strict.returncode == 1 and "1 of 2 ops have no time model" in strict.stderr


def test_predictions_outside_the_measured_ranges_are_flagged(tiny_run, small_network):
    registry = tiny_run / "results/registry"
    ranges = load_entry(registry, device="host")["measured_ranges"]["fc"]
    assert ranges["in_dim"][0] >= 1 and ranges["in_dim"][1] <= 256
    inside = predict(str(small_network / "net.keras"), "--device", "host", "--registry", str(registry))
    dense_line = next(line for line in inside.stdout.splitlines() if "108 -> 10" in line)
    assert "extrapolated" not in dense_line  # 108 lies inside the measured FC range
    outside = predict(str(small_network / "wide.keras"), "--device", "host", "--registry", str(registry))
    assert outside.returncode == 0, outside.stderr
    assert f"extrapolated: in_dim 300 > {ranges['in_dim'][1]:g}" in outside.stdout


def test_unknown_device_says_how_to_make_a_model(tiny_run, small_network):
    result = predict(
        str(small_network / "net.keras"),
        "--device",
        "pixel8",
        "--registry",
        str(tiny_run / "results/registry"),
    )
    assert result.returncode != 0
    assert "no time model for device 'pixel8'" in result.stderr
    assert "snakemake results/registry/pixel8.json" in result.stderr and "host" in result.stderr
    with pytest.raises(NoTimeModelError):
        load_entry(tiny_run / "results/registry", device="pixel8")
    assert json.loads((tiny_run / "results/registry/host.json").read_text())["format"] == "fdi.registry/1"


def test_op_models_fitted_on_the_zoo_price_every_op_and_predict_takes_the_tables_path(tiny_run):
    """The registry carries the op models the workflow fitted; the zoo table prices every op of
    its networks; `fdi predict` on a zoo network's graph gives the table's total (one path)."""
    artifact = json.loads((tiny_run / "results/models/host/ops.json").read_text())
    entry = json.loads((tiny_run / "results/registry/host.json").read_text())
    assert entry["op_kinds"] == artifact
    # Every op kind of the zoo's sample networks with a settled op has a model (a kind whose few
    # sample ops never settled under the suite's load has none: it fits nothing, by design);
    # CONV_2D and FULLY_CONNECTED always, from the campaign's layers too.
    config = yaml.safe_load((tiny_run / "config/config.yaml").read_text())
    ops, _ = read_zoo(
        sorted((tiny_run / "results/graphs/zoo").iterdir()),
        sorted((tiny_run / "results/timings/host/zoo").glob("*.parquet")),
        config["devices"]["host"],
    )
    kinds = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MEAN", "MAX_POOL_2D", "SOFTMAX"}
    assert kinds <= set(ops.kind)
    settled = set(training_ops(ops).kind)
    assert set(artifact["kinds"]) == settled | {"CONV_2D", "FULLY_CONNECTED"}
    assert artifact["kinds"]["CONV_2D"]["model"]["params"]["fit_columns"][0].startswith("padded_flops")
    assert artifact["in_network"]["call_ms"] > 0 and artifact["in_network"]["ms_per_mb"] >= 0
    table = pd.read_csv(tiny_run / "results/tables/zoo/host.csv")
    networks = ["lenet5-28", "kws_cnn-20", "mobilenet_v2-32-a0.35", "mobilenet-32-a0.25", "lenet5-36"]
    assert sorted(table.network) == sorted([*networks, "mobilenet_v2-40-a0.35"])
    assert (table.measured_ms > 0).all()
    if kinds <= set(artifact["kinds"]):  # every kind had a settled op: every op is priced
        assert (table.ops_priced_pct == 100).all()
    else:  # a kind with no model leaves its ops unpriced, and says so
        assert (table.ops_priced_pct < 100).any() and (table.ops_priced_pct >= 50).all()
    assert set(table[table.role == "test"].network) == {"lenet5-36", "mobilenet_v2-40-a0.35"}
    [graph] = (tiny_run / "results/graphs/zoo").glob("*/zoo-mobilenet_v2-40-a0.35.tflite")
    registry = str(tiny_run / "results/registry")
    result = predict("--device", "host", "--registry", registry, str(graph), by="ops")
    assert result.returncode == 0, result.stderr
    total = float(re.search(r"total predicted time: ([0-9.e+-]+) ms", result.stdout).group(1))
    expected = table.set_index("network").predicted_ms["mobilenet_v2-40-a0.35"]
    assert total == pytest.approx(expected, rel=1e-3)
    assert "(in-network term)" in result.stdout
    if kinds <= set(artifact["kinds"]):
        assert "not modelled" not in result.stdout


def test_op_path_gives_a_keras_file_and_its_tflite_the_same_total_loops_included(tiny_run, small_network):
    """Priced op by op, a .keras and its .tflite agree; the GRU's loop is priced by the GRU model;
    the depthwise conv the layer path could not price is priced."""
    registry = str(tiny_run / "results/registry")
    for name in ("net", "rnn"):
        totals = []
        for suffix in (".keras", ".tflite"):
            result = predict(
                "--device", "host", "--registry", registry, str(small_network / f"{name}{suffix}"), by="ops"
            )
            assert result.returncode == 0, result.stderr
            totals.append(float(re.search(r"total predicted time: ([0-9.e+-]+) ms", result.stdout).group(1)))
        assert totals[0] == pytest.approx(totals[1], rel=1e-6), name
    assert "1 recurrent layers" in result.stdout and "not modelled" not in result.stdout
    # the GRU's graph held only relabelling ops around its loop: the network is the loop, called once
    gru_ms = float(re.search(r"\bgru\s+gru\s+.*?steps\s+\S+\s+([0-9.e+-]+)", result.stdout).group(1))
    assert totals[1] == pytest.approx(gru_ms, rel=1e-3)
    depthwise = predict(
        "--device", "host", "--registry", registry, str(small_network / "depthwise.tflite"), by="ops"
    )
    assert "DEPTHWISE_CONV_2D" in depthwise.stdout and "not modelled" not in depthwise.stdout


@pytest.mark.parametrize("which", ["family", "user"])
def test_fdi_expand_widens_a_family_model_and_a_users_model_losslessly(tiny_run, small_network, which):
    """`fdi expand` reads any Keras model from its graph (issue 28): a VGG of the family and a
    user's network both come out at widths at least theirs, computing what they computed."""
    import keras
    import numpy as np

    from fdi.compress.network import prunable
    from fdi.profile.families import build_keras

    if which == "family":
        path = small_network / "vgg.keras"
        build_keras("vgg", [5, 7, 9, 6, 10, 8, 7, 12, 9, 11, 6, 13, 10, 20, 17], batch_size=None).save(path)
    else:
        path = small_network / "net.keras"
    out = small_network / f"expanded-{which}.keras"
    command = [sys.executable, "-m", "fdi.cli", "expand", str(path), "--device", "host"]
    command += ["--registry", str(tiny_run / "results/registry"), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert re.search(r"predicted: [\d.]+ ms -> [\d.]+ ms", result.stdout)
    original = keras.models.load_model(path, compile=False)
    expanded = keras.models.load_model(out, compile=False)
    before, after = prunable(original).widths, prunable(expanded).widths
    assert len(after) == len(before) and all(a >= b for a, b in zip(after, before, strict=True))
    x = np.random.default_rng(0).normal(size=(1, *original.inputs[0].shape[1:])).astype("float32")
    np.testing.assert_allclose(expanded.predict(x, verbose=0), original.predict(x, verbose=0), atol=1e-5)
