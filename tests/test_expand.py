"""Algorithm 2 and its generalisation: hand-made trees whose best widths are known, the paper's
safe-region example, and lossless widening of both network families."""

import numpy as np
import pytest
from real_inputs import family_inputs

from fdi.compress.expand import (
    algorithm2,
    best_width,
    expand_network,
    safe_region,
    width_limit,
)
from fdi.profile.families import ORIGINAL_WIDTHS, layers
from fdi.timemodel.device_model import DeviceTimeModel
from fdi.timemodel.tree import Condition, Node, TreeLinearRegressor

CONV = {
    "layer": "cnn",
    "in_height": 24,
    "in_width": 24,
    "kernel_h": 3,
    "kernel_w": 3,
    "in_channel": 13,
    "out_channel": 30,
    "padding": "same",
    "stride_h": 1,
    "stride_w": 1,
}


def _leaf(per_mflop: float, intercept: float) -> Node:
    return Node(coef=np.array([per_mflop / 1e6]), intercept=intercept, n_samples=10, impurity=0, mape=0)


def _tree(root: Node, fit=("flops",), split=("in_channel", "out_channel")) -> TreeLinearRegressor:
    tree = TreeLinearRegressor(split_columns=split, fit_columns=fit)
    tree.tree_ = root
    return tree


def _split(feature, kind, threshold, left, right) -> Node:
    node = _leaf(0.0, 0.0)
    node.condition, node.left, node.right = Condition(feature, kind, threshold), left, right
    return node


def test_algorithm2_takes_a_faster_multiple_and_refuses_a_slower_one():
    # in_channel mod 4 == 0 runs at half the cost per FLOP (the paper's vectorisation case).
    fast = _tree(_split("in_channel", "mod", 4, _leaf(0.5, 0.0), _leaf(1.0, 0.0)))
    expanded = algorithm2(fast, "cnn", CONV)
    assert expanded["in_channel"] == 16 and expanded["out_channel"] == 30
    # The same split where the multiple costs more per FLOP: 16/13 x 0.9 > 1, keep 13.
    slow = _tree(_split("in_channel", "mod", 4, _leaf(0.9, 0.0), _leaf(1.0, 0.0)))
    assert algorithm2(slow, "cnn", CONV)["in_channel"] == 13
    # A layer that already is a multiple goes left without change.
    assert algorithm2(fast, "cnn", {**CONV, "in_channel": 12})["in_channel"] == 12


def test_algorithm2_keeps_every_recorded_range_condition():
    # Root: in_channel <= 14 (left: cheap region). The mod-4 expansion to 16 would leave it.
    inner = _split("in_channel", "mod", 4, _leaf(0.1, 0.0), _leaf(1.0, 0.0))
    tree = _tree(_split("in_channel", "range", 14, inner, _leaf(5.0, 0.0)))
    assert algorithm2(tree, "cnn", CONV)["in_channel"] == 13
    # With the range at 16 the expansion stays inside it and is taken.
    tree = _tree(_split("in_channel", "range", 16, inner, _leaf(5.0, 0.0)))
    assert algorithm2(tree, "cnn", CONV)["in_channel"] == 16
    # Only the allowed feature may grow: out_channel mod 8 is followed as it is.
    tree = _tree(_split("out_channel", "mod", 8, _leaf(0.1, 0.0), _leaf(1.0, 0.0)))
    assert algorithm2(tree, "cnn", CONV, expandable=["in_channel"])["out_channel"] == 30
    assert algorithm2(tree, "cnn", CONV)["out_channel"] == 32


def test_safe_region_of_the_papers_nexus5_leaves():
    """SPEC's leaves, y = a*in*out + c + d*in + e*out. With in expanded to the next multiple of 4
    (worst case in + 3), y_T(n+3, n) < y_F(n, n) is 3e-5 n^2 - 0.024351 n - 4.6404 < 0, whose
    root is n = 971.3; both channels (n+3, n+3): 3e-5 n^2 - 0.023292 n - 4.6302 < 0, root 940.5.
    SPEC quotes [1,1288]^2 and [1,808]^2, which these leaves do not give (see README)."""
    true_leaf = ((3.53e-4, 2.32e-2, 2.32e-3), 8.11)
    false_leaf = ((3.23e-4, 4.63e-2, 4.63e-3), 12.82)
    assert safe_region(true_leaf, false_leaf, 4, "in") == 971
    assert safe_region(true_leaf, false_leaf, 4, "both") == 940


def test_best_width_prefers_the_widest_of_equal_times():
    steps = lambda widths: np.array([np.ceil(w / 8) * 8 for w in widths], dtype=float)  # noqa: E731
    assert best_width(steps, 17, 32) == (24, 24.0, 24.0)  # 17..24 cost the same: take 24
    assert best_width(steps, 16, 20) == (16, 16.0, 16.0)  # 16 is a step's end: stay
    assert width_limit(17, 64, "next_pow2") == 32 and width_limit(32, 64, "next_pow2") == 32
    assert width_limit(40, 64, 0.25) == 50 and width_limit(100, 64, 0.25) == 125
    assert width_limit(100, 40, 0.25) == 100  # never below the width itself


def test_expand_network_finds_planted_channel_steps_and_never_predicts_slower():
    # A conv costs per output element, 10x less when out_channel is a multiple of 8; an FC costs
    # per FLOP. Every conv should end on a multiple of 8, no FC should grow.
    def per_element(cost):
        return Node(coef=np.array([cost]), intercept=0.0, n_samples=10, impurity=0, mape=0)

    conv = _tree(_split("out_channel", "mod", 8, per_element(1e-4), per_element(1e-3)), fit=("mem_out",))
    fc = _tree(_leaf(1.0, 0.001), split=("in_dim", "out_dim"))
    free_ops = {"max_pool": (0.0, 0.0), "softmax": (0.0, 0.0)}
    models = DeviceTimeModel("planted", {"cnn": conv, "fc": fc}, free_ops)
    widths = [13, 30, 61, 50, 100, 90, 77, 200, 150, 130, 111, 222, 255, 1000, 900]
    for mode in ("paper", "staircase"):
        expanded = expand_network("vgg", widths, models, mode=mode, originals=ORIGINAL_WIDTHS["vgg"])
        assert all(e >= w for e, w in zip(expanded, widths, strict=True))
        before, after = models.predict_structures("vgg", [widths, expanded])
        assert after < before
        convs = [layer for layer in layers("vgg", expanded) if layer["layer"] == "cnn"]
        assert all(layer["out_channel"] % 8 == 0 for layer in convs), (mode, expanded)
        assert expanded[-2:] == widths[-2:]
        # The paper's rule rounds up to the next multiple; so does the staircase (the cheapest).
        assert expanded[:3] == [16, 32, 64]
        # A network is changed only for a predicted gain above min_gain.
        gain = 1 - after / before
        kept = expand_network(
            "vgg", widths, models, mode, "next_pow2", ORIGINAL_WIDTHS["vgg"], min_gain=gain - 0.01
        )
        assert kept == expanded
        unchanged = expand_network(
            "vgg", widths, models, mode, "next_pow2", ORIGINAL_WIDTHS["vgg"], min_gain=gain + 0.01
        )
        assert unchanged == widths


@pytest.mark.parametrize(
    "family, widths, new_widths",
    [
        (
            "vgg",
            [5, 7, 9, 6, 10, 8, 7, 12, 9, 11, 6, 13, 10, 20, 17],
            [8, 8, 16, 8, 16, 8, 8, 16, 16, 16, 8, 16, 16, 32, 24],
        ),
        ("deepsense", [5, 7, 6, 9, 4, 6, 11, 9], [8, 8, 8, 16, 8, 8, 16, 12]),
    ],
)
def test_widened_network_computes_exactly_the_original(family, widths, new_widths):
    import keras

    from fdi.compress.network import prunable
    from fdi.profile.families import build_keras, family_of, widths_of

    keras.utils.set_random_seed(3)
    model = build_keras(family, widths, name="original")
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-zero biases too, so a misplaced one would show
        weights = layer.get_weights()
        if weights:
            layer.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(w.dtype) for w in weights])
    assert family_of(model) == family and widths_of(model, family) == widths
    network = prunable(model, family)  # read from its graph, as any user's model is
    expanded = network.widen(new_widths)
    assert widths_of(expanded, family) == new_widths
    for seed in range(3):
        inputs = family_inputs(family, seed)
        before = model.predict(inputs, verbose=0)
        after = expanded.predict(inputs, verbose=0)
        assert np.abs(after - before).max() <= 1e-5
    with pytest.raises(ValueError, match="at least"):
        network.widen([w - 1 for w in widths])
