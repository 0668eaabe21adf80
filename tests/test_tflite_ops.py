"""Graphs read as the runtime runs them (fdi.profile.tflite_ops), on small networks converted here:
every op with the options the converter gave it, recurrent loops recognised as the Keras layers
they came from, and `fdi predict` pricing a .tflite's GRU and LSTM as it prices the .keras file."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fdi.profile.tflite_ops import read_graph, recurrent_layer


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A small CNN (strided, padded, dilated, depthwise, pooled, residual) and a GRU-LSTM model,
    as .keras and as the converter's .tflite."""
    import keras

    from fdi.profile.export import to_tflite

    root = tmp_path_factory.mktemp("converted")
    keras.utils.set_random_seed(0)
    image = keras.Input((20, 24, 3), batch_size=1)
    x = keras.layers.Conv2D(8, (3, 5), strides=(2, 1), padding="same", activation="relu6", name="conv")(image)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="valid", name="depthwise")(x)
    y = keras.layers.Conv2D(16, 1, dilation_rate=1, name="pointwise")(x)
    x = keras.layers.Add(name="residual")([x, y])
    x = keras.layers.MaxPooling2D((2, 2), name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="mean")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="classes")(x)
    cnn = keras.Model(image, outputs)
    sequence = keras.Input((7, 6), batch_size=1)
    h = keras.layers.GRU(10, return_sequences=True, name="gru")(sequence)
    h = keras.layers.LSTM(12, name="lstm")(h)
    rnn = keras.Model(sequence, keras.layers.Dense(3, name="out")(h))
    for name, model in (("cnn", cnn), ("rnn", rnn)):
        model.save(root / f"{name}.keras")
        (root / f"{name}.tflite").write_bytes(to_tflite(model))
    return root


def test_every_op_keeps_the_options_the_converter_gave_it(converted):
    main = read_graph(converted / "cnn.tflite").main
    ops = {op.kind: op for op in main}
    conv, pointwise = (op for op in main if op.kind == "CONV_2D")
    assert pointwise.inputs[1].shape == (16, 1, 1, 16) and pointwise.options["padding"] == "valid"
    assert conv.inputs[0].shape == (1, 20, 24, 3) and conv.outputs[0].shape == (1, 10, 24, 8)
    assert conv.inputs[1].shape == (8, 3, 5, 3) and conv.inputs[1].constant and not conv.inputs[0].constant
    assert (conv.options["stride_h"], conv.options["stride_w"], conv.options["padding"]) == (2, 1, "same")
    assert conv.options["activation"] == "relu6"
    depthwise = ops["DEPTHWISE_CONV_2D"]
    assert depthwise.options["depth_multiplier"] == 2 and depthwise.options["padding"] == "valid"
    assert depthwise.inputs[1].shape == (1, 3, 3, 16) and depthwise.outputs[0].shape == (1, 8, 22, 16)
    pool = ops["MAX_POOL_2D"]
    assert (pool.options["filter_height"], pool.options["filter_width"]) == (2, 2)
    assert {"ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"} <= set(ops)


def test_a_recurrent_loop_reads_as_the_keras_layer_it_came_from(converted):
    graph = read_graph(converted / "rnn.tflite")
    loops = [op for op in graph.main if op.kind == "WHILE"]
    assert [recurrent_layer(graph, loop) for loop in loops] == [
        {"layer": "gru", "in_dim": 6, "out_dim": 10, "step": 7},
        {"layer": "lstm", "in_dim": 10, "out_dim": 12, "step": 7},
    ]


def test_a_file_that_is_not_a_graph_is_named(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match=r"model\.tflite: not a LiteRT"):
        read_graph(bad)


def test_the_network_reader_gives_the_tflite_the_keras_layers(converted):
    from fdi.timemodel.read_network import read_network

    cnn = read_network(converted / "cnn.tflite")
    assert [layer["layer"] for layer in cnn.layers] == ["cnn", "cnn", "fc"]
    assert cnn.layers[0] | {"name": ""} == {
        "name": "",
        "layer": "cnn",
        "in_height": 20,
        "in_width": 24,
        "kernel_h": 3,
        "kernel_w": 5,
        "in_channel": 3,
        "out_channel": 8,
        "padding": "same",
        "stride_h": 2,
        "stride_w": 1,
    }
    assert [(op["op"], op["elements"], op["note"]) for op in cnn.ops] == [
        ("max_pool", 8 * 22 * 16, ""),
        ("mean", 4 * 11 * 16, ""),
        ("softmax", 5, ""),
    ]
    assert [entry.split(" ")[1] for entry in cnn.unsupported] == ["(DEPTHWISE_CONV_2D)", "(ADD)"]
    for name in ("cnn", "rnn"):  # a Keras file is read as what the converter makes of it
        keras_read, tflite_read = (
            read_network(converted / f"{name}.keras"),
            read_network(converted / f"{name}.tflite"),
        )
        assert (keras_read.layers, keras_read.ops) == (tflite_read.layers, tflite_read.ops)


def test_predict_on_a_tflite_reads_no_tensorflow(converted):
    from fdi.timemodel.read_network import read_network

    code = (
        "import sys; from fdi.timemodel.read_network import read_network;"
        f"read_network({str(converted / 'rnn.tflite')!r});"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert len(read_network(converted / "rnn.tflite").layers) == 3


def test_a_corrupt_keras_file_is_called_corrupt(tmp_path):
    from fdi.timemodel.read_network import read_network

    bad = tmp_path / "model.keras"
    bad.write_bytes(b"half a download")
    with pytest.raises(ValueError, match=r"model\.keras: not a readable Keras file"):
        read_network(bad)
