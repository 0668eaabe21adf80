"""Metrics and the readable table, on hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from fdi.timemodel.baselines import build_baseline, build_time_model, input_columns
from fdi.timemodel.dataset import assign_split, summarise_timings
from fdi.timemodel.evaluate import score, table5_markdown


def test_score_by_hand():
    result = score(np.array([1.0, 2.0, 4.0]), np.array([1.1, 1.8, 4.0]))
    assert result["MAPE %"] == pytest.approx(100 * (0.1 + 0.1 + 0) / 3)
    assert result["MAE ms"] == pytest.approx(0.3 / 3)
    # R2 = 1 - SSE/SST = 1 - (0.01 + 0.04) / (sum((y - 7/3)^2))
    assert result["R2"] == pytest.approx(1 - 0.05 / (16 / 9 + 1 / 9 + 25 / 9))


def test_markdown_marks_the_best_model():
    table = pd.DataFrame(
        [
            {
                "device": "host",
                "layer": "cnn",
                "scope": "table2",
                "metric": "MAPE %",
                "FastDeepIoT": 3.0,
                "SVR": 40.0,
                "noise_floor": 0.5,
                "n_train": 300,
                "n_test": 100,
                "flagged": 2,
                "n": 400,
            },
            {
                "device": "host",
                "layer": "cnn",
                "scope": "table2",
                "metric": "R2",
                "FastDeepIoT": 0.9,
                "SVR": 0.99,
                "noise_floor": 1.0,
                "n_train": 300,
                "n_test": 100,
                "flagged": 2,
                "n": 400,
            },
        ]
    )
    lines = table5_markdown(table).splitlines()
    assert "**3.0%**" in lines[2] and "40.0%" in lines[2]
    assert "**0.990**" in lines[3]
    assert lines[2].endswith("| 300 / 100 | 2 / 400 |")


def test_within_ten_percent_by_hand():
    result = score(np.array([1.0, 2.0, 4.0, 10.0]), np.array([1.05, 2.5, 3.7, 10.0]))
    assert result["within ±10% %"] == pytest.approx(75.0)  # 5%, 25%, 7.5%, 0%


def test_timing_summary_takes_the_mean_of_the_two_fastest_passes_without_a_tolerance():
    timings = pd.DataFrame(
        [
            {"device": "d", "id": "a", "repeat": 0, "runs_ms": [1.0, 3.0], "fingerprint": "{}"},
            {"device": "d", "id": "a", "repeat": 1, "runs_ms": [2.0, 2.5], "fingerprint": "{}"},
            {"device": "d", "id": "a", "repeat": 2, "runs_ms": [4.0, 4.0], "fingerprint": "{}"},
        ]
    )
    row = summarise_timings(timings).iloc[0]
    # pass medians 2.0, 2.25, 4.0: the two fastest are averaged; the run statistics are the first pass's
    assert row.time_ms == pytest.approx(2.125) and row.time_ms_repeat == 2.25 and row.n_runs == 2
    assert row.std_ms == 1.0 and row.passes == 3 and row.spread == pytest.approx(1.0)


def test_timing_statistic_is_selectable():
    timings = pd.DataFrame(
        [
            {"device": "d", "id": "a", "repeat": 0, "runs_ms": [1.0, 1.2, 9.0], "fingerprint": "{}"},
            {"device": "d", "id": "a", "repeat": 1, "runs_ms": [1.1, 1.3, 1.0], "fingerprint": "{}"},
        ]
    )
    assert summarise_timings(timings, "median").iloc[0].time_ms == pytest.approx((1.2 + 1.1) / 2)
    assert summarise_timings(timings, "mean").iloc[0].time_ms == pytest.approx((11.2 / 3 + 3.4 / 3) / 2)
    row = summarise_timings(timings, "min").iloc[0]
    assert (row.time_ms, row.time_ms_repeat, row.median_ms) == (1.0, 1.0, 1.2)
    with pytest.raises(ValueError, match="statistic must be"):
        summarise_timings(timings, "mode")


def test_split_is_seeded_per_scope():
    data = pd.DataFrame({"id": [f"x{i:03d}" for i in range(100)], "scope": ["fc"] * 60 + ["gru"] * 40})
    data["layer"] = data.scope
    first = assign_split(data, 0.25, seed=3)
    assert first.equals(assign_split(data.sample(frac=1, random_state=1).sort_index(), 0.25, seed=3))
    assert (first[data.scope == "fc"] == "test").sum() == 15
    assert (first[data.scope == "gru"] == "test").sum() == 10


def test_inputs_select_columns():
    assert input_columns("gru", "x") == ["flops", "mem", "param_size", "step"]
    assert input_columns("cnn", "f")[:2] == ["in_channel", "out_channel"]
    assert input_columns("cnn", "f+x").count("param_size") == 1
    with pytest.raises(ValueError, match="inputs must be"):
        input_columns("cnn", "z")


def test_flops_rule_of_thumb_is_a_line_on_flops():
    data = pd.DataFrame({"flops": [1.0, 2.0, 3.0, 4.0], "mem": [9.0, 1.0, 5.0, 2.0]})
    model = build_baseline("flops", "fc", {}).fit(data, 2 * data.flops + 1)
    np.testing.assert_allclose(model.predict(pd.DataFrame({"flops": [10.0], "mem": [0.0]})), [21.0])


def test_algorithm_1_takes_its_layer_types_loss_and_x():
    settings = {
        "mape_stop": 0.05,
        "min_samples_split": 15,
        "min_samples_leaf": 5,
        "moduli": [2],
        "max_thresholds": 8,
        "loss": {"fc": "squared", "lstm": "relative"},
        "x": {"lstm": "runtime"},
    }
    assert build_time_model("fc", settings).loss == "squared"
    assert build_time_model("lstm", settings).loss == "relative"
    assert build_time_model("gru", settings).loss == "squared"  # unnamed: the paper's H
    assert "narrow_flops" in build_time_model("lstm", settings).fit_columns
    assert build_time_model("fc", settings).fit_columns == ("flops", "mem", "param_size")
    # the squared-error variant stays squared even where CV may choose the loss
    cv_loss = {**settings, "grid": {"loss": ["relative", "squared"]}}
    tuned_mse = build_baseline("fastdeepiot_mse", "lstm", cv_loss)
    assert tuned_mse.loss == "squared"
    # the grid is chosen by the best mean score unless the one-standard-error rule is asked for
    leaves = {**settings, "grid": {"min_samples_leaf": [5, 10]}}
    assert build_time_model("fc", leaves).refit is True
    chosen = build_time_model("fc", {**leaves, "grid_choice": "one_standard_error"}).refit
    assert chosen({**_CV_RESULTS, "param_min_samples_leaf": [5, 10, 20]}) == 1
    # one shuffle of 3 folds unless repeats are asked for: then 3 x 4 splits, each fold once per repeat
    assert build_time_model("fc", {**leaves, "cv_folds": 3}).cv.get_n_splits() == 3
    repeated = build_time_model("fc", {**leaves, "cv_folds": 3, "cv_repeats": 4}).cv
    rows = np.arange(12)
    held_out = np.concatenate([test for _, test in repeated.split(rows)])
    assert repeated.get_n_splits() == 12 and np.bincount(held_out).tolist() == [4] * 12


_CV_RESULTS = {
    "mean_test_score": [-0.100, -0.105, -0.200],
    "std_test_score": [0.020, 0.010, 0.010],
    "split0_test_score": [0, 0, 0],
    "split1_test_score": [0, 0, 0],
}


def test_one_standard_error_rule_prefers_larger_leaves_only_within_cv_noise():
    from fdi.timemodel.baselines import simplest_within_one_standard_error

    choose = simplest_within_one_standard_error("min_samples_leaf")
    results = {**_CV_RESULTS, "param_min_samples_leaf": [5, 10, 20]}
    # one standard error of the best: 0.020 / sqrt(2 folds) = 0.0141 -> the bar is -0.1141
    assert choose(results) == 1  # leaves of 10 lie within it, leaves of 20 do not
    assert choose({**results, "std_test_score": [0.0, 0.01, 0.01]}) == 0  # no noise: the best
    without = {k: v for k, v in results.items() if k != "param_min_samples_leaf"}
    assert choose(without) == 0
