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
