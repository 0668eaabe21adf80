"""The network families: their layers chain up, their converted graphs hold exactly the layers
the time models are asked about, and the sampled scopes stay within their bounds."""

import json

import numpy as np
import pytest

from fdi.profile import families
from fdi.profile.export import to_tflite
from fdi.profile.space import sample_family_layers, sample_whole_networks
from fdi.timemodel.read_network import read_keras, read_tflite


@pytest.mark.parametrize("family", families.FAMILIES)
def test_layers_chain_widths(family):
    rng = np.random.default_rng(0)
    widths = families.random_widths(family, rng)
    rows = families.layers(family, widths)
    convs = [r for r in rows if r["layer"] == "cnn"]
    if family == "vgg":
        assert [c["out_channel"] for c in convs] == widths[:13]
        assert [c["in_channel"] for c in convs] == [3, *widths[:12]]
        assert [c["in_height"] for c in convs] == [32] * 2 + [16] * 2 + [8] * 3 + [4] * 3 + [2] * 3
        fcs = [r for r in rows if r["layer"] == "fc"]
        assert [(f["in_dim"], f["out_dim"]) for f in fcs] == [
            (widths[12], widths[13]),
            (widths[13], widths[14]),
            (widths[14], 10),
        ]
    else:
        acc = convs[:3]
        assert [(c["in_width"], c["kernel_w"], c["stride_w"]) for c in acc] == [
            (60, 18, 6),
            (8, 3, 1),
            (6, 3, 1),
        ]
        merged = convs[6:]
        assert [(c["in_height"], c["in_width"], c["kernel_h"], c["kernel_w"]) for c in merged] == [
            (40, 4, 2, 8),
            (40, 4, 2, 6),
            (40, 4, 2, 4),
        ]
        grus = [r for r in rows if r["layer"] == "gru"]
        assert [(g["in_dim"], g["out_dim"], g["step"]) for g in grus] == [
            (2 * 4 * widths[5], widths[6], 20),
            (widths[6], widths[7], 20),
        ]


def test_wrong_widths_are_refused():
    with pytest.raises(ValueError, match="needs 8 widths"):
        families.layers("deepsense", [1, 2, 3])
    with pytest.raises(ValueError, match="unknown network family"):
        families.layers("resnet", [1])


@pytest.mark.parametrize("family", families.FAMILIES)
def test_converted_network_holds_exactly_the_modelled_layers(family, tmp_path):
    """Round trip: build -> .tflite -> read back every op: the CONV_2D / FULLY_CONNECTED ops and
    the GRU loops are the layers `families.layers` gives the time models, the other ops are
    `families.other_ops` (kind and elements), and nothing is left unpriced. The Keras file reads
    the same."""
    widths = families.random_widths(family, np.random.default_rng(1), (0.05, 0.15))
    model = families.build_keras(family, widths)
    graph = tmp_path / "net.tflite"
    graph.write_bytes(to_tflite(model))
    expected = [{k: v for k, v in r.items() if k != "name"} for r in families.layers(family, widths)]
    network = read_tflite(graph)
    read = [{k: v for k, v in r.items() if k != "name"} for r in network.layers]
    assert sorted(map(json.dumps, read)) == sorted(map(json.dumps, expected))
    assert sorted((op["op"], op["elements"]) for op in network.ops) == sorted(
        (op["op"], op["elements"]) for op in families.other_ops(family, widths)
    )
    assert network.unsupported == []
    keras_file = tmp_path / "net.keras"
    model.save(keras_file)
    from_keras = read_keras(keras_file)
    assert (from_keras.layers, from_keras.ops) == (network.layers, network.ops)


def test_family_scope_samples_widths_between_one_and_the_original():
    frame = sample_family_layers("vgg", {"networks": 30, "networks_per_shard": 10}, seed=3)
    convs = frame[frame.layer == "cnn"]
    assert convs.out_channel.min() >= 1 and convs.out_channel.max() <= 512
    assert set(convs.in_height) == {32, 16, 8, 4, 2}
    assert set(frame.layer) == {"cnn", "fc", "op"}
    assert frame.id.is_unique and frame.shard.max() == 2
    again = sample_family_layers("vgg", {"networks": 30, "networks_per_shard": 10}, seed=3)
    assert again.equals(frame)


def test_whole_networks_keep_their_width_fraction():
    frame = sample_whole_networks(
        "vgg", {"networks": 25, "networks_per_shard": 10, "width_fraction": [0.1, 1.0]}, 5
    )
    for widths in frame.widths.map(json.loads):
        for width, original in zip(widths, families.ORIGINAL_WIDTHS["vgg"], strict=True):
            assert np.ceil(0.1 * original) <= width <= original
    assert frame.id.is_unique and len(frame) == 25


def test_dropout_in_a_users_keras_model_is_not_a_layer(tmp_path):
    """Dropout is the identity at inference (no op in the converted graph), so a trained model's
    dropout layers must neither be timed nor reported as unsupported."""
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.SpatialDropout2D(0.2, name="conv_drop")(x)
    x = keras.layers.Reshape((6, 24), name="rows")(x)
    x = keras.layers.GRU(5, return_sequences=True, name="gru")(x)
    x = keras.layers.Dropout(0.5, name="gru_drop")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(2, name="out")(x)
    keras_file = tmp_path / "dropout.keras"
    keras.Model(inputs, outputs).save(keras_file)
    read = read_keras(keras_file)
    assert [r["name"] for r in read.layers] == ["conv", "gru", "out"]  # the converter's names for them
    assert [r["in_dim"] for r in read.layers if r["layer"] != "cnn"] == [24, 30]
    assert not [name for name in read.unsupported if "drop" in name]
