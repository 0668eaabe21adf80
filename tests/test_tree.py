"""Algorithm 1: planted splits recovered, non-negative leaves, the stopping rule, JSON round trip."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fdi.timemodel.tree import Condition, TreeLinearRegressor

SPLIT = ("in_channel", "out_channel", "mem", "param_size")
FIT = ("flops", "mem", "param_size")


def synthetic_layers(n=1300, seed=0):
    """Synthetic (unit-test only) conv-like rows with integer channels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"in_channel": rng.integers(1, 129, n), "out_channel": rng.integers(1, 129, n)})
    frame["flops"] = 2.0 * frame.in_channel * frame.out_channel * 900
    frame["mem"] = 900.0 * (frame.in_channel + frame.out_channel)
    frame["param_size"] = 9.0 * frame.in_channel * frame.out_channel + 1
    return frame


def model(**kwargs):
    return TreeLinearRegressor(split_columns=SPLIT, fit_columns=FIT, **kwargs)


def test_recovers_planted_modulo_then_range_split():
    frame = synthetic_layers()
    aligned = frame.in_channel % 8 == 0
    small = frame.out_channel <= 50
    y = np.where(
        aligned,
        2e-6 * frame.flops + 0.1,
        np.where(small, 5e-6 * frame.flops + 0.3, 4e-6 * frame.flops + 1e-4 * frame.mem + 0.5),
    )
    fitted = model().fit(frame, y)
    root = fitted.tree_
    assert root.condition == Condition("in_channel", "mod", 8.0)
    assert root.left.is_leaf
    assert root.right.condition == Condition("out_channel", "range", 50.0)
    np.testing.assert_allclose(root.left.coef[0], 2e-6, rtol=1e-6)
    np.testing.assert_allclose(root.left.intercept, 0.1, rtol=1e-6)
    np.testing.assert_allclose(fitted.predict(frame), y, rtol=1e-6)
    assert sum(node.is_leaf for node in fitted.nodes()) == 3


def test_leaf_coefficients_are_never_negative():
    frame = synthetic_layers(seed=3)
    rng = np.random.default_rng(3)
    # The truth has a negative mem slope and intercept: NNLS must clip, never go below zero.
    y = 3e-6 * frame.flops - 2e-5 * frame.mem - 0.2 + rng.normal(0, 0.05, len(frame)) + 5
    fitted = model().fit(frame, y)
    for node in fitted.nodes():
        assert (node.coef >= 0).all() and node.intercept >= 0


def test_stops_when_a_node_fits_within_five_percent():
    frame = synthetic_layers()
    y = 3e-6 * frame.flops + 0.5  # one linear law: the root's own MAPE is ~0
    fitted = model().fit(frame, y)
    assert fitted.tree_.is_leaf and fitted.tree_.mape < 0.05


def test_never_splits_fewer_than_min_samples_split():
    frame = synthetic_layers(n=400, seed=5)
    rng = np.random.default_rng(5)
    y = 1e-6 * frame.flops + rng.exponential(1.0, len(frame))  # noise: MAPE never drops under 5%
    fitted = model(min_samples_leaf=1).fit(frame, y)
    for node in fitted.nodes():
        if not node.is_leaf:
            assert node.n_samples >= 15
    assert any(not node.is_leaf for node in fitted.nodes())
    small = model(min_samples_split=10_000).fit(frame, y)
    assert small.tree_.is_leaf  # 400 < 10,000: the root is never split


def test_split_leaves_at_least_min_samples_leaf():
    frame = synthetic_layers(n=500, seed=7)
    rng = np.random.default_rng(7)
    y = 1e-6 * frame.flops + rng.exponential(1.0, len(frame))
    fitted = model(min_samples_leaf=9).fit(frame, y)
    assert all(node.n_samples >= 9 for node in fitted.nodes())


def test_json_round_trip_gives_identical_predictions(tmp_path):
    frame = synthetic_layers(seed=11)
    y = np.where(frame.out_channel % 4 == 0, 1e-6, 3e-6) * frame.flops + 0.2
    fitted = model().fit(frame, y)
    path = tmp_path / "cnn.json"
    fitted.to_json(path)
    loaded = TreeLinearRegressor.from_json(path)
    np.testing.assert_array_equal(loaded.predict(frame), fitted.predict(frame))
    assert loaded.get_params() == fitted.get_params()
    data = json.loads(path.read_text())
    assert data["tree"]["condition"]["text"] == "out_channel mod 4 == 0"
    assert set(data["tree"]["if_true"]["w"]) == set(FIT)


def test_is_a_scikit_learn_estimator():
    estimator = model(mape_stop=0.02)
    copy = clone(estimator)
    assert copy.get_params()["mape_stop"] == 0.02
    assert copy.get_params()["split_columns"] == SPLIT


def test_explain_prints_rules_and_leaf_formulas():
    frame = synthetic_layers(seed=2)
    y = np.where(frame.in_channel % 4 == 0, 1e-6, 3e-6) * frame.flops + 0.2
    text = model().fit(frame, y).explain()
    assert text.splitlines()[0] == "if in_channel mod 4 == 0:"
    assert "else:  # not in_channel mod 4 == 0" in text
    assert text.count("time_ms =") == 2


def test_a_corrupt_model_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not an fdi time model"):
        TreeLinearRegressor.from_json(path)


def test_integer_sample_weight_equals_repeating_rows():
    frame = synthetic_layers(n=300, seed=13)
    rng = np.random.default_rng(13)
    y = 2e-6 * frame.flops + rng.exponential(0.5, len(frame))
    weight = rng.integers(1, 4, len(frame))
    weighted = model(min_samples_split=10_000).fit(frame, y, sample_weight=weight)
    repeated = model(min_samples_split=10_000).fit(
        frame.loc[frame.index.repeat(weight)], np.repeat(y, weight)
    )
    # flops and param_size are collinear here, so compare the fitted function, not coefficients.
    np.testing.assert_allclose(weighted.predict(frame), repeated.predict(frame), rtol=1e-6)
    assert weighted.tree_.impurity == pytest.approx(repeated.tree_.impurity, rel=1e-6)


def test_relative_loss_fits_small_layers_that_squared_loss_sacrifices():
    frame = synthetic_layers(n=600, seed=17)
    rng = np.random.default_rng(17)
    # One law plus 10% multiplicative noise on the big layers only: squared loss lets them pull
    # the line; relative loss weighs every layer by its own size.
    y = (1e-6 * frame.flops + 0.01) * np.where(frame.flops > 1e7, rng.normal(1, 0.1, len(frame)), 1.0)
    small = (frame.flops <= 1e7).to_numpy()
    errors = {}
    for loss in ("squared", "relative"):
        fitted = model(loss=loss, min_samples_split=10_000).fit(frame, y)
        errors[loss] = np.mean(np.abs(fitted.predict(frame)[small] / y[small] - 1))
    assert errors["relative"] < 0.2 * errors["squared"]
    with pytest.raises(ValueError, match="loss must be"):
        model(loss="absolute").fit(frame, y)
