"""The two paper networks read as any user's graph give what their definitions give (the same
widths, layer rows, op rows and parameter counts, at any widths) and the compressor's embeddings
counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from fdi.compress.graph_network import GraphNetwork
from fdi.compress.objectives import parameter_counts
from fdi.profile import families

CASES = {
    "vgg": [16, 16, 32, 32, 64, 64, 64, 64, 64, 64, 64, 64, 64, 256, 256],
    "deepsense": [32, 32, 32, 32, 32, 32, 60, 60],
}
# Rows of each width's embedding, by hand: a conv's kernel (kh x kw x c_in) and its bias; both
# sensors' convs of a shared DeepSense width stacked; a GRU's kernel, recurrent kernel and two
# bias rows (reset_after), each of its three gates a block.
EMBEDDING_ROWS = {
    "vgg": [28, 145, 145, 289, 289, 577, 577, 577, 577, 577, 577, 577, 577, 65, 257],
    "deepsense": [2 * 19, 2 * 97, 2 * 97, 513, 385, 257, 3 * (256 + 60 + 2), 3 * (60 + 60 + 2)],
}
KINDS = {"vgg": ["conv"] * 13 + ["fc"] * 2, "deepsense": ["conv"] * 6 + ["recurrent"] * 2}


def _unnamed(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(sorted((k, v) for k, v in row.items() if k != "name")) for row in rows)


@pytest.mark.parametrize("family", CASES)
def test_a_family_read_as_a_graph_has_the_familys_rows_counts_and_embeddings(family: str) -> None:
    widths = CASES[family]
    model = families.build_keras(family, widths, batch_size=None)
    network = GraphNetwork(model, families.WIDTH_TIES.get(family, ()))
    assert network.widths == widths
    assert network.kinds() == KINDS[family]
    rng = np.random.default_rng(0)
    for candidate in [widths, [int(rng.integers(1, w + 1)) for w in widths]]:
        assert _unnamed(network.layers(candidate)) == _unnamed(families.layers(family, candidate))
        ops = _unnamed(families.other_ops(family, candidate))
        assert _unnamed(network.other_ops(candidate)) == [
            tuple(p for p in op if p[0] != "shape") for op in ops
        ]
        assert network.parameter_count(candidate) == parameter_counts(family, [candidate])[0]
    assert network.unpriced == []
    matrices = [np.asarray(m) for m in network.matrices()]
    assert [m.shape for m in matrices] == list(zip(EMBEDDING_ROWS[family], widths, strict=True))
    first = "conv1_1" if family == "vgg" else "acc_conv1"
    kernel, bias = model.get_layer(first).get_weights()
    np.testing.assert_array_equal(
        matrices[0][: kernel[..., 0].size + 1], np.vstack([kernel.reshape(-1, widths[0]), bias])
    )


def test_a_model_with_nothing_to_prune_is_refused_with_its_kept_layers_named() -> None:
    import keras

    inputs = keras.Input((4, 4, 3))
    x = keras.layers.LayerNormalization(name="ln")(keras.layers.Conv2D(8, 3, name="a")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x)))
    with pytest.raises(ValueError, match=r"no width fdi may change.*ln: LayerNormalization is not"):
        GraphNetwork(model)


def test_keras_applications_mobilenetv2_is_read_counted_and_extracted_exactly() -> None:
    """A real architecture (inverted residuals: expand, ReLU6, depthwise, project, residual add;
    built with weights=None, nothing downloaded): every width found, parameters as Keras counts
    them, and the extracted network computes what the masked one does."""
    import keras

    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # random weights and BN statistics: a wrong slice shows
        weights = layer.get_weights()
        if weights:
            layer.set_weights(
                [
                    np.abs(w) + 0.5 if "variance" in v.path else rng.normal(0, 0.3, w.shape)
                    for w, v in zip(weights, layer.weights, strict=True)
                ]
            )
    network = GraphNetwork(model)
    assert len(network.widths) == 25 and network.graph.kept == ()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert network.parameter_count(network.widths) == trainable
    keep = [np.sort(rng.choice(w, size=max(2, w // 2), replace=False)) for w in network.widths]
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    masks = [
        np.repeat(np.isin(np.arange(w), k)[None].astype("float32"), 2, 0)
        for w, k in zip(network.widths, keep, strict=True)
    ]
    small = network.extract(keep)
    np.testing.assert_allclose(np.asarray(small(x)), np.asarray(network.forward([x], masks)), atol=1e-5)
    kept = [len(k) for k in keep]
    assert network.parameter_count(kept) == sum(int(np.prod(w.shape)) for w in small.trainable_weights)
    # the compressor's input: one matrix per width, though its convs have no bias
    assert [int(m.shape[1]) for m in network.matrices()] == network.widths


def _se_block_model():
    """A residual block with a depthwise conv, a squeeze-excitation product and a strided
    depthwise conv after the add: the ops no Table 2 layer model covers."""
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    y = layers.Conv2D(16, 1, activation="relu", name="expand")(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(y)
    s = layers.GlobalAveragePooling2D(name="squeeze")(y)
    s = layers.Dense(4, activation="relu", name="reduce")(s)
    s = layers.Reshape((1, 1, 16))(layers.Dense(16, activation="sigmoid", name="gate")(s))
    y = layers.Conv2D(8, 1, name="project")(layers.Multiply(name="excite")([y, s]))
    x = layers.DepthwiseConv2D(3, strides=2, name="dw2")(layers.Add(name="add")([x, y]))
    outputs = layers.Dense(5, activation="softmax", name="out")(layers.GlobalAveragePooling2D(name="pool")(x))
    return keras.Model(inputs, outputs)


ZOO_COLUMNS = ["in_elements", "out_elements", "weights", "in_channel", "out_channel", "in_height"]
ZOO_COLUMNS += ["in_width", "kernel_h", "kernel_w", "stride_h", "stride_w", "macs_per_output"]


def test_depthwise_convs_adds_and_products_are_the_ops_litert_makes_of_them() -> None:
    """At the original widths and at pruned ones, the depthwise convs, the residual add and the
    squeeze-excitation product are priced as the rows fdi.profile.tflite_ops reads from the
    converter's graph of the extracted network (what the zoo's op models were fitted on and
    `fdi predict` reads), so the time objective prices them as `fdi predict` does."""
    import tempfile
    from pathlib import Path

    from fdi.compress.graph_network import ZOO_OPS
    from fdi.profile.export import at_batch_one, to_tflite
    from fdi.profile.tflite_ops import op_structure, read_graph

    network = GraphNetwork(_se_block_model())
    assert network.unpriced == []
    for widths in (network.widths, [max(1, w // 2 - 1) for w in network.widths]):
        mine = [op for op in network.other_ops(widths) if op["op"] in ZOO_OPS.values()]
        small = network.extract([np.arange(w) for w in widths], name="small")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "small.tflite"
            path.write_bytes(to_tflite(at_batch_one(small)))
            ops = [op_structure(op) for op in read_graph(path).main if op.kind in ZOO_OPS.values()]
        assert sorted(op["kind"] for op in ops) == ["ADD", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "MUL"]
        assert sorted(tuple([op["op"]] + [op[c] for c in ZOO_COLUMNS]) for op in mine) == sorted(
            tuple([op["kind"]] + [op[c] for c in ZOO_COLUMNS]) for op in ops
        )


def test_a_devices_zoo_op_models_price_the_depthwise_convs_and_name_what_they_cannot() -> None:
    """With an op model for DEPTHWISE_CONV_2D only (a stand-in: 1 us per thousand MACs) and every
    other part free, the structure's time is the depthwise convs' MACs by hand; the add and the
    product, which this device has no model of, are named and left out."""
    from fdi.timemodel.device_model import DeviceTimeModel

    class Free:
        def predict(self, frame):
            return np.zeros(len(frame))

    class PerMac:
        def predict(self, frame):
            return frame.macs.to_numpy() * 1e-6

    network = GraphNetwork(_se_block_model())
    device = DeviceTimeModel(
        "stand-in", {"cnn": Free(), "fc": Free()}, {"mean": (0.0, 0.0), "softmax": (0.0, 0.0)}
    )
    device.zoo_models = {"DEPTHWISE_CONV_2D": PerMac()}  # overrides the cached (empty) op models
    # dw: 12 x 12 x 16 outputs, 9 MACs each; dw2 (valid, stride 2 on 12 x 12 x 8): 5 x 5 x 8, 9 each
    np.testing.assert_allclose(device.predict_structures(network, [network.widths]), [(2304 + 200) * 9e-6])
    # pruned to [3, 7, 1]: dw 12 x 12 x 7 outputs, dw2 5 x 5 x 3
    widths = [max(1, w // 2 - 1) for w in network.widths]
    assert widths[:2] == [3, 7]
    np.testing.assert_allclose(device.predict_structures(network, [widths]), [(1008 + 75) * 9e-6])
    assert device.unpriced_ops(network, network.widths) == ["excite (MUL)", "add (ADD)"]
