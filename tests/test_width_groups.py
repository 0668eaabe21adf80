"""Width groups read off small Keras graphs, each checked against the groups found by hand."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
layers = keras.layers

from fdi.compress.width_groups import Consumer, width_groups  # noqa: E402


def prunable(model) -> dict[str, tuple]:
    return {
        g.name: (g.width, g.producers, g.channelwise, g.consumers) for g in width_groups(model).prunable()
    }


def test_a_residual_add_ties_the_channels_of_its_two_inputs() -> None:
    x = inputs = keras.Input((8, 8, 3))
    a = layers.ReLU(name="relu")(
        layers.BatchNormalization(name="bn")(layers.Conv2D(8, 3, padding="same", name="a")(x))
    )
    b = layers.Conv2D(8, 3, padding="same", name="b")(a)
    x = layers.GlobalAveragePooling2D()(layers.Add()([a, b]))
    model = keras.Model(inputs, layers.Dense(10, name="out")(x))
    graph = width_groups(model)
    assert prunable(model) == {
        "a": (8, ("a", "b"), ("bn",), (Consumer("b", 0, 8, 1), Consumer("out", 0, 8, 1))),
    }
    assert [(g.width, g.fixed) for g in graph.groups if not g.prunable] == [
        (3, "model input"),
        (10, "model output (set by the labels)"),
    ]
    assert graph.kept == ()


def test_a_depthwise_conv_passes_channels_and_a_flatten_repeats_them_per_position() -> None:
    x = inputs = keras.Input((6, 6, 2))
    x = layers.Conv2D(6, 1, name="a")(x)
    x = layers.DepthwiseConv2D(3, name="dw")(x)  # 4x4x6
    x = layers.Conv2D(4, 1, name="b")(x)
    x = layers.Flatten()(layers.MaxPooling2D(name="pool")(x))  # 2x2 positions of 4 channels
    model = keras.Model(inputs, layers.Dense(5, name="out")(x))
    assert prunable(model) == {
        "a": (6, ("a",), ("dw",), (Consumer("b", 0, 6, 1),)),
        "b": (4, ("b",), (), (Consumer("out", 0, 4, 4),)),
    }


def test_a_concat_lays_its_inputs_side_by_side_in_the_reader() -> None:
    inputs = keras.Input((5, 5, 2))
    a = layers.Conv2D(3, 1, name="a")(inputs)
    b = layers.Conv2D(5, 1, name="b")(inputs)
    x = layers.Concatenate()([a, b])
    x = layers.Conv2D(4, 1, name="c")(x)
    x = layers.Concatenate()([x, a])  # 4 + 3 channels, then flattened: 25 positions of 7
    model = keras.Model(inputs, layers.Dense(2, name="out")(layers.Flatten()(x)))
    assert prunable(model) == {
        "a": (3, ("a",), (), (Consumer("c", 0, 8, 1), Consumer("out", 4, 7, 25))),
        "b": (5, ("b",), (), (Consumer("c", 3, 8, 1),)),
        "c": (4, ("c",), (), (Consumer("out", 0, 7, 25),)),
    }


def test_squeeze_excitation_ties_the_gate_to_the_channels_it_scales() -> None:
    x = inputs = keras.Input((4, 4, 3))
    x = layers.Conv2D(8, 3, padding="same", name="a")(x)
    s = layers.GlobalAveragePooling2D()(x)
    s = layers.Dense(2, activation="relu", name="squeeze")(s)
    s = layers.Reshape((1, 1, 8))(layers.Dense(8, activation="sigmoid", name="excite")(s))
    x = layers.GlobalAveragePooling2D()(layers.Multiply()([x, s]))
    model = keras.Model(inputs, layers.Dense(3, name="out")(x))
    groups = prunable(model)
    assert groups["a"] == (8, ("a", "excite"), (), (Consumer("squeeze", 0, 8, 1), Consumer("out", 0, 8, 1)))
    assert groups["squeeze"] == (2, ("squeeze",), (), (Consumer("excite", 0, 2, 1),))


def test_stacked_lstms_and_a_sequential_model() -> None:
    model = keras.Sequential(
        [
            keras.Input((20, 6)),
            layers.LSTM(16, return_sequences=True, name="lstm1"),
            layers.LSTM(8, name="lstm2"),
            layers.Dropout(0.1),
            layers.Dense(4, name="out"),
        ]
    )
    assert prunable(model) == {
        "lstm1": (16, ("lstm1",), (), (Consumer("lstm2", 0, 16, 1),)),
        "lstm2": (8, ("lstm2",), (), (Consumer("out", 0, 8, 1),)),
    }


def test_a_layer_outside_the_list_is_kept_at_its_width_and_named() -> None:
    x = inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(8, 3, name="a")(x)
    x = layers.LayerNormalization(name="ln")(x)  # mixes channels: a zero channel moves the rest
    x = layers.Conv2D(4, 3, name="b")(x)
    x = layers.Activation("softmax", name="attention")(x)
    model = keras.Model(inputs, layers.Dense(2, name="out")(layers.Flatten()(x)))
    graph = width_groups(model)
    assert graph.kept == (
        ("ln", "LayerNormalization is not a layer fdi prunes through"),
        ("attention", "softmax mixes the channels"),
    )
    assert graph.group("a").fixed == "read by ln (LayerNormalization is not a layer fdi prunes through)"
    assert graph.group("b").fixed == "read by attention (softmax mixes the channels)"
    assert graph.prunable() == ()


def test_the_vgg_family_has_one_group_per_configured_width() -> None:
    from fdi.profile.families import build_keras

    widths = [16, 16, 32, 32, 64, 64, 64, 64, 64, 64, 64, 64, 64, 256, 256]
    groups = width_groups(build_keras("vgg", widths)).prunable()
    assert [g.width for g in groups] == widths


def test_deepsense_ties_its_sensor_branches_at_the_stack_and_reads_a_reshape_into_the_gru() -> None:
    """The stack ties the branches' last convs only: the earlier ones are free in the graph (the
    family shares their masks by choice, as the authors' code does, not because the graph must)."""
    from fdi.profile.families import build_keras

    graph = width_groups(build_keras("deepsense", [32, 32, 32, 32, 32, 32, 60, 60]))
    assert [(g.producers, g.width) for g in graph.prunable()] == [
        (("gyro_conv1",), 32),
        (("acc_conv1",), 32),
        (("gyro_conv2",), 32),
        (("acc_conv2",), 32),
        (("acc_conv3", "gyro_conv3"), 32),
        (("merge1",), 32),
        (("merge2",), 32),
        (("merge3",), 32),
        (("gru1",), 60),
        (("gru2",), 60),
    ]
    # (40, 4, 32) -> (20, 256): every GRU input row is one of 32 channels, 8 positions each
    assert graph.group("merge3").consumers == (Consumer("gru1", 0, 32, 8),)
    assert graph.kept == ()


def _randomized(model):
    """Every weight random (variances positive), so a channel the extraction gets wrong shows."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.set_weights(
            [
                np.abs(w) + 0.5 if "variance" in v.path else rng.normal(0, 0.5, w.shape)
                for w, v in zip(layer.get_weights(), layer.weights, strict=True)
            ]
        )
    return model


def _residual_se_model():
    x = inputs = keras.Input((6, 6, 3))
    a = layers.ReLU()(layers.BatchNormalization(name="bn")(layers.Conv2D(8, 3, padding="same", name="a")(x)))
    d = layers.DepthwiseConv2D(3, padding="same", name="dw")(a)
    s = layers.Dense(3, activation="relu", name="squeeze")(layers.GlobalAveragePooling2D()(d))
    s = layers.Reshape((1, 1, 8))(layers.Dense(8, activation="sigmoid", name="excite")(s))
    x = layers.Add()([a, layers.Multiply()([d, s])])
    b = layers.Conv2D(5, 1, name="b")(x)
    x = layers.Concatenate()([b, layers.Conv2D(4, 1, name="c")(x)])
    x = layers.Flatten()(layers.MaxPooling2D(3)(x))
    x = layers.Dense(7, activation="tanh", name="fc")(x)
    return keras.Model(inputs, layers.Dense(4, name="out")(x))


def _recurrent_model(kind):
    x = inputs = keras.Input((9, 5, 3))
    x = layers.Conv2D(6, (1, 3), name="conv")(x)  # 9 steps x 3 positions x 6 channels
    x = layers.Reshape((9, 18))(x)
    x = kind(10, return_sequences=True, name="rnn1")(x)
    x = kind(6, name="rnn2")(x)
    return keras.Model(inputs, layers.Dense(3, name="out")(x))


@pytest.mark.parametrize(
    "build", [_residual_se_model, lambda: _recurrent_model(layers.LSTM), lambda: _recurrent_model(layers.GRU)]
)
def test_the_extracted_model_computes_what_the_masked_one_does(build) -> None:
    from fdi.compress.extract_graph import extract_graph_model
    from fdi.compress.masked_graph import masked_graph_forward

    model = _randomized(build())
    graph = width_groups(model)
    rng = np.random.default_rng(1)
    keep = [np.sort(rng.choice(g.width, size=max(2, g.width // 2), replace=False)) for g in graph.prunable()]
    x = rng.normal(size=(4, *model.inputs[0].shape[1:])).astype("float32")
    masks = [
        np.repeat(np.isin(np.arange(g.width), k)[None].astype("float32"), 4, axis=0)
        for g, k in zip(graph.prunable(), keep, strict=True)
    ]
    masked = np.asarray(masked_graph_forward(graph, [x], masks))
    small = extract_graph_model(graph, keep)
    assert [g.width for g in width_groups(small).prunable()] == [len(k) for k in keep]
    np.testing.assert_allclose(np.asarray(small([x])), masked, rtol=1e-4, atol=1e-5)
    full = [np.ones_like(m) for m in masks]  # and all kept is the model itself
    np.testing.assert_allclose(
        np.asarray(masked_graph_forward(graph, [x], full)), np.asarray(model([x])), rtol=1e-4, atol=1e-5
    )
    assert not np.allclose(masked, np.asarray(model([x])), atol=1e-3)  # the masks did something


@pytest.mark.parametrize(
    "build", [_residual_se_model, lambda: _recurrent_model(layers.LSTM), lambda: _recurrent_model(layers.GRU)]
)
def test_the_widened_model_computes_what_the_model_does(build) -> None:
    """Algorithm 2's premise on any graph: every group wider (after a flatten, a reshape, a concat
    and a residual add; in stacked recurrent layers), the outputs unchanged."""
    from fdi.compress.widen_graph import widen_graph_model

    model = _randomized(build())
    graph = width_groups(model)
    widths = [g.width + 1 + i % 3 for i, g in enumerate(graph.prunable())]
    wide = widen_graph_model(graph, widths)
    assert [g.width for g in width_groups(wide).prunable()] == widths
    assert wide.count_params() > model.count_params()
    x = np.random.default_rng(2).normal(size=(4, *model.inputs[0].shape[1:])).astype("float32")
    np.testing.assert_allclose(np.asarray(wide([x])), np.asarray(model([x])), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="at least"):
        widen_graph_model(graph, [g.width - 1 for g in graph.prunable()])
