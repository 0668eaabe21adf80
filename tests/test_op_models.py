"""Ops cut out of a converted network (fdi.profile.cut_ops) compute what they computed inside it;
their rows of numbers (fdi.timemodel.op_models) are the hand-counted ones; a planted per-kind
line is recovered; zoo names are parsed or refused by name (fdi.profile.zoo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fdi.profile.cut_ops import NotCuttableError, cut_op, op_kinds
from fdi.profile.tflite_ops import op_structure, read_graph
from fdi.profile.zoo import ZooNetwork, parse
from fdi.timemodel.op_models import fit_op_kind, fit_op_models, kind_features, layer_ops, op_features


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """A small CNN with the ops mobile networks are made of (conv, depthwise, 1x1, residual add,
    squeeze-excitation multiply, hard-swish, pad, pool, mean, dense, softmax), and a GRU model."""
    import keras

    from fdi.profile.export import to_tflite

    root = tmp_path_factory.mktemp("cut")
    keras.utils.set_random_seed(0)
    layers = keras.layers
    image = keras.Input((12, 12, 3), batch_size=1)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6", name="stem")(image)
    y = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    y = layers.Activation("hard_swish", name="hswish")(y)
    gate = layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(y)
    gate = layers.Conv2D(8, 1, activation="sigmoid", name="excite")(gate)
    y = layers.Multiply(name="scale")([y, gate])
    y = layers.Conv2D(8, 1, name="project")(y)
    x = layers.Add(name="residual")([x, y])
    x = layers.ZeroPadding2D(1, name="pad")(x)
    x = layers.AveragePooling2D(2, name="pool")(x)
    x = layers.GlobalAveragePooling2D(name="mean")(x)
    outputs = layers.Dense(5, activation="softmax", name="classes")(x)
    (root / "cnn.tflite").write_bytes(to_tflite(keras.Model(image, outputs)))
    sequence = keras.Input((5, 4), batch_size=1)
    rnn = keras.Model(sequence, layers.GRU(6, name="gru")(sequence))
    (root / "rnn.tflite").write_bytes(to_tflite(rnn))
    return root


def _run(graph: bytes, inputs: list[np.ndarray] | None = None, keep: bool = False):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=graph, experimental_preserve_all_tensors=keep)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs or [], strict=False):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return interpreter


def test_every_cut_op_computes_what_it_computed_inside_the_network(graphs):
    """Each op alone, fed the values its inputs held inside the network, gives the values its
    output held there (the network run once with every tensor kept)."""
    from fdi.profile import cut_ops

    data = (graphs / "cnn.tflite").read_bytes()
    schema = cut_ops._schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    main = model.subgraphs[0]
    rng = np.random.default_rng(0)
    whole = _run(data, [rng.standard_normal((1, 12, 12, 3)).astype(np.float32)], keep=True)
    kinds = op_kinds(data)
    assert {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "HARD_SWISH",
        "MEAN",
        "MUL",
        "ADD",
        "PAD",
        "AVERAGE_POOL_2D",
    } <= set(kinds)
    checked = 0
    for index, operator in enumerate(main.operators):
        single = cut_op(data, index)
        assert op_kinds(single) == [kinds[index]]
        feeds = [
            whole.get_tensor(int(i))
            for i in operator.inputs
            if i >= 0 and not (model.buffers[main.tensors[i].buffer].data is not None)
        ]
        alone = _run(single, feeds)
        [output] = alone.get_output_details()
        expected = whole.get_tensor(int(operator.outputs[0]))
        np.testing.assert_allclose(alone.get_tensor(output["index"]), expected, rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked == len(kinds) >= 10


def test_a_recurrent_loop_is_not_cut(graphs):
    data = (graphs / "rnn.tflite").read_bytes()
    loop = op_kinds(data).index("WHILE")
    with pytest.raises(NotCuttableError, match="WHILE"):
        cut_op(data, loop)
    with pytest.raises(IndexError, match="ops"):
        cut_op(data, 999)


def test_op_rows_are_the_hand_counted_numbers(graphs):
    ops = read_graph(graphs / "cnn.tflite").main
    frame = op_features(pd.DataFrame([op_structure(op) for op in ops]))
    rows = {op.name: frame.iloc[i].to_dict() for i, op in enumerate(ops)}
    stem = rows["stem"]  # 3x3/2 same on 12x12x3 -> 6x6x8
    assert (stem["kind"], stem["kernel_h"], stem["stride_h"], stem["activation"]) == (
        "CONV_2D",
        3,
        2,
        "relu6",
    )
    assert stem["macs"] == 6 * 6 * 8 * 3 * 3 * 3 and (stem["padding"], stem["stride_w"]) == ("same", 2)
    # read as a cnn layer, the conv has the layer's hand-counted features
    conv = kind_features(frame[frame.kind == "CONV_2D"].iloc[:1], "CONV_2D").iloc[0]
    assert (conv.out_height, conv.out_width, conv.flops) == (6, 6, 2 * 6 * 6 * 8 * 3 * 3 * 3)
    assert (stem["in_elements"], stem["out_elements"], stem["weights"]) == (
        12 * 12 * 3,
        6 * 6 * 8,
        8 * 3 * 3 * 3,
    )
    depthwise = rows["depthwise"]
    assert depthwise["macs"] == 6 * 6 * 8 * 9
    assert depthwise["weights"] == 9 * 8 and depthwise["in_channel"] == depthwise["out_channel"] == 8
    residual = rows["residual"]
    assert (residual["kind"], residual["macs"]) == ("ADD", 0)
    assert residual["in_elements"] == 2 * 6 * 6 * 8 and residual["out_elements"] == 6 * 6 * 8
    pool = rows["pool"]  # 8x8x8 after the pad, 2x2 pool
    assert (pool["kind"], pool["in_height"], pool["kernel_h"], pool["out_elements"]) == (
        "AVERAGE_POOL_2D",
        8,
        2,
        4 * 4 * 8,
    )
    classes = rows["classes"]
    assert classes["kind"] == "FULLY_CONNECTED" and classes["macs"] == 5 * 8
    dense = kind_features(frame[frame.kind == "FULLY_CONNECTED"], "FULLY_CONNECTED").iloc[0]
    assert (dense.in_dim, dense.out_dim, dense.param_size) == (8, 5, 8 * 5 + 5)


def test_a_planted_line_per_kind_is_recovered():
    """ms = 2e-6 x elements + 0.004 for an element-wise kind: the tree stays one leaf with that line."""
    rng = np.random.default_rng(1)
    elements = rng.integers(100, 200_000, 60)
    rows = op_features(
        pd.DataFrame(
            [
                {
                    "kind": "ADD",
                    "macs_per_output": 0,
                    "stride_w": 1,
                    "padding": "valid",
                    "in_elements": 2 * n,
                    "out_elements": n,
                    "weights": 0,
                    "in_channel": 8,
                    "out_channel": 8,
                    "kernel_h": 1,
                    "kernel_w": 1,
                    "stride_h": 1,
                    "in_height": 1,
                    "in_width": 1,
                    "activation": "none",
                }
                for n in elements
            ]
        )
    )
    time = 2e-6 * elements + 0.004
    model = fit_op_kind("ADD", rows, time, mape_stop=0.05, min_samples_split=15, min_samples_leaf=5)
    assert len(model.nodes()) == 1
    np.testing.assert_allclose(model.predict(rows), time, rtol=1e-6)


def test_a_conv_op_takes_the_tile_width_its_times_follow():
    """Convs timed as if XNNPACK computed 16 output channels at a time: cross-validation picks
    the cnn features at the 16-wide tile, and the fit predicts them."""
    rng = np.random.default_rng(2)
    n = 80
    structures = pd.DataFrame(
        {
            "kind": "CONV_2D",
            "in_height": rng.integers(8, 33, n),
            "in_width": rng.integers(8, 33, n),
            "kernel_h": rng.choice([1, 3], n),
            "in_channel": rng.integers(1, 129, n),
            "out_channel": rng.integers(1, 129, n),
            "padding": "same",
            "stride_h": 1,
            "stride_w": 1,
        }
    ).assign(kernel_w=lambda f: f.kernel_h)
    rows = kind_features(structures, "CONV_2D")
    time = 1e-9 * rows.padded_flops_w16.to_numpy() + 0.002
    model = fit_op_kind("CONV_2D", rows, time, mape_stop=0.01, min_samples_split=15, min_samples_leaf=5)
    assert "padded_flops_w16" in model.fit_columns and "padded_flops" not in model.fit_columns
    np.testing.assert_allclose(model.predict(rows), time, rtol=0.01)


def test_zoo_names_are_parsed_or_refused_by_name():
    assert parse("mobilenet_v2-96-a0.5") == ZooNetwork("mobilenet_v2", 96, 0.5)
    assert parse("resnet50-64") == ZooNetwork("resnet50", 64, None)
    assert parse("mobilenet-128").name == "mobilenet-128-a1"
    with pytest.raises(ValueError, match="unknown architecture"):
        parse("alexnet-224")
    with pytest.raises(ValueError, match="input size 16 < 32"):
        parse("resnet50-16")
    with pytest.raises(ValueError, match=r"width multiplier 0\.3 not offered"):
        parse("mobilenet_v2-96-a0.3")
    with pytest.raises(ValueError, match="expected <architecture>"):
        parse("MobileNet at 96")


def test_the_zoo_scope_alternates_sample_and_test_networks_and_names_bad_ones():
    from fdi.profile.space import ScopeError, sample_zoo

    settings = {
        "sample": ["lenet5-28", "mobilenet-64-a0.5", "vgg16-32"],
        "test": ["kws_cnn-49"],
        "networks_per_shard": 2,
    }
    rows = sample_zoo(settings)
    assert rows.name.tolist() == ["lenet5-28", "kws_cnn-49", "mobilenet-64-a0.5", "vgg16-32"]
    assert rows.role.tolist() == ["sample", "test", "sample", "sample"]
    assert rows.shard.tolist() == [0, 0, 1, 1] and rows.id.iloc[0] == "zoo-lenet5-28"
    with pytest.raises(ScopeError, match=r"zoo\.test: .*unknown architecture"):
        sample_zoo({**settings, "test": ["alexnet-224"]})
    with pytest.raises(ScopeError, match="lenet5-28 listed in both"):
        sample_zoo({**settings, "test": ["lenet5-28"]})


def test_a_zoo_shard_cuts_the_sample_networks_ops_and_lists_every_networks_ops(tmp_path):
    from fdi.profile import zoo
    from fdi.profile.space import sample_zoo

    rows = sample_zoo({"sample": ["lenet5-28"], "test": ["kws_cnn-49"], "networks_per_shard": 2})
    table = pd.read_parquet(zoo.export_shard(rows, tmp_path, log=lambda _: None))
    lenet = table[table.network == "lenet5-28"]
    assert lenet.kind.tolist() == [
        "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
        "FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX",
    ]  # fmt: skip
    assert lenet[lenet.kind == "RESHAPE"].timed.tolist() == [False]
    graphs = {path.stem for path in tmp_path.glob("*.tflite")}
    # both networks whole; the sample network's timed ops alone; none of the test network's
    assert {"zoo-lenet5-28", "zoo-kws_cnn-49"} <= graphs
    assert graphs - {"zoo-lenet5-28", "zoo-kws_cnn-49"} == set(lenet[lenet.timed].key)
    assert set(table[table.network == "kws_cnn-49"].role) == {"test"}
    conv = lenet.iloc[2]  # 5x5 valid on 14x14x6 -> 10x10x16
    assert (conv.in_height, conv.in_channel, conv.out_channel, conv.macs_per_output) == (14, 6, 16, 5 * 5 * 6)


def test_a_kind_timed_at_one_size_is_one_leaf():
    """A network's single softmax: nothing varies, nothing to split; the fit is its root's line."""
    rows = kind_features(
        pd.DataFrame(
            [
                {
                    "kind": "SOFTMAX", "in_elements": 10, "out_elements": 10, "weights": 0,
                    "in_channel": 10, "out_channel": 10, "in_height": 1, "in_width": 1, "kernel_h": 1,
                    "kernel_w": 1, "stride_h": 1, "stride_w": 1, "padding": "valid", "activation": "none",
                    "macs_per_output": 0,
                }
            ]
        ),
        "SOFTMAX",
    )  # fmt: skip
    model = fit_op_kind(
        "SOFTMAX", rows, np.array([0.004]), mape_stop=0.05, min_samples_split=15, min_samples_leaf=5
    )
    assert len(model.nodes()) == 1
    assert model.predict(rows)[0] == pytest.approx(0.004, rel=1e-6)


def test_campaign_layers_are_read_as_the_ops_they_are_and_join_their_kinds_training(graphs):
    """A conv layer of the campaign and the same conv cut out of a network have the same features;
    flagged and sweep rows stay out; pooled rows reach the kind's tree (a planted line through
    both sets is recovered, neither alone spans it)."""
    ops = read_graph(graphs / "cnn.tflite").main
    frame = op_features(pd.DataFrame([op_structure(op) for op in ops]))
    stem_op = kind_features(frame[frame.kind == "CONV_2D"].iloc[:1], "CONV_2D").iloc[0]
    stem = {
        "in_height": 12,
        "in_width": 12,
        "kernel_h": 3,
        "kernel_w": 3,
        "in_channel": 3,
        "out_channel": 8,
        "padding": "same",
        "stride_h": 2,
        "stride_w": 2,
    }
    dataset = pd.DataFrame(
        [
            {**stem, "layer": "cnn", "scope": "cnn", "flagged": False, "time_ms": 0.01},
            {**stem, "layer": "cnn", "scope": "sweep", "flagged": False, "time_ms": 0.02},
            {**stem, "layer": "cnn", "scope": "vgg", "flagged": True, "time_ms": 0.03},
            {"layer": "fc", "scope": "fc", "flagged": False, "time_ms": 0.004, "in_dim": 8, "out_dim": 5},
        ]
    )
    pooled = layer_ops(dataset)
    assert sorted(pooled) == ["CONV_2D", "FULLY_CONNECTED"] and len(pooled["CONV_2D"]) == 1
    conv = pooled["CONV_2D"].iloc[0]
    for column in ("flops", "padded_flops", "mem_in", "mem_out", "param_size", "out_height"):
        assert conv[column] == stem_op[column], column
    assert pooled["FULLY_CONNECTED"].param_size.iloc[0] == 8 * 5 + 5
    # planted: small ADDs (the zoo's) cost 0.001 ms + 1e-6 ms per element, large ones (pooled in)
    # 2e-6 ms per element; only with the pooled rows does a large ADD get the large ones' line
    rng = np.random.default_rng(1)
    small = rng.integers(10, 100, 12)
    own = pd.DataFrame(
        {"kind": "ADD", "in_elements": small, "out_elements": small, "time_ms": 0.001 + 1e-6 * small}
    )
    for column in ("weights", "macs_per_output"):
        own[column] = 0
    for column in ("in_channel", "out_channel", "kernel_h", "kernel_w", "stride_h", "in_height", "in_width"):
        own[column] = 1
    large = own.assign(in_elements=small * 1000, out_elements=small * 1000)
    more = op_features(large.assign(time_ms=2e-6 * large.in_elements)).drop(columns=["kind"])
    rules = {"mape_stop": 0.01, "min_samples_split": 15, "min_samples_leaf": 5}
    big = kind_features(op_features(own.iloc[:1].assign(in_elements=50_000, out_elements=50_000)), "ADD")
    [pooled_model] = fit_op_models(own, {"ADD": more}, **rules).values()
    assert pooled_model.predict(big)[0] == pytest.approx(0.1, rel=1e-3)
    [own_model] = fit_op_models(own, None, **rules).values()
    assert own_model.predict(big)[0] == pytest.approx(0.051, rel=1e-3)
