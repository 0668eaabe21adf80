"""Whole-network prediction: the op models and the summary, on planted values."""

import json

import numpy as np
import pandas as pd
import pytest

from fdi.profile import families
from fdi.timemodel.features import add_features
from fdi.timemodel.whole_networks import (
    check_disagrees,
    fit_op_models,
    networks_summary,
    predict_network,
    with_energy,
    with_in_network_term,
)


class PlantedModel:
    """A stand-in time model: 1 ms per GFLOP, so the expected sums are known by hand."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.flops.to_numpy() / 1e9


def test_op_models_recover_a_planted_line():
    elements = np.array([100, 1_000, 10_000, 50_000, 200_000])
    dataset = pd.DataFrame(
        {
            "layer": "op",
            "op": "max_pool",
            "elements": elements,
            "time_ms": 2e-6 * elements + 0.001,
        }
    )
    per_element, per_call = fit_op_models(dataset)["max_pool"]
    assert per_element == pytest.approx(2e-6) and per_call == pytest.approx(0.001)


def test_network_prediction_is_the_sum_of_its_layers_and_ops():
    widths = families.random_widths("vgg", np.random.default_rng(2), (0.1, 0.3))
    models = {kind: PlantedModel() for kind in ("cnn", "fc")}
    parts = predict_network("vgg", widths, models, {"max_pool": (1e-6, 0.002), "softmax": (0.0, 0.001)})
    flops = sum(
        add_features(
            pd.DataFrame([{k: v for k, v in layer.items() if k != "name"}]), layer["layer"]
        ).flops.iloc[0]
        for layer in families.layers("vgg", widths)
    )
    pools = sum(op["elements"] for op in families.other_ops("vgg", widths) if op["op"] == "max_pool")
    assert parts.predicted_ms.sum() == pytest.approx(flops / 1e9 + 1e-6 * pools + 5 * 0.002 + 0.001)
    assert len(parts) == 16 + 6  # 13 convs, 3 FC; 5 pools, softmax


def test_summary_counts_networks_within_ten_percent_and_ranks():
    table = pd.DataFrame(
        {
            "device": "host",
            "family": "vgg",
            "id": [f"n{i}" for i in range(4)],
            "widths": json.dumps([1]),
            "measured_ms": [1.0, 2.0, 3.0, 4.0],
            "predicted_ms": [1.05, 3.2, 2.9, 4.2],
            "error_pct": [5.0, 60.0, -3.3, 5.0],
            "noise_pct": [1.0, 2.0, 3.0, 4.0],
            "flagged": False,
        }
    )
    row = networks_summary(table).iloc[0]
    assert row.within_10_pct == 75.0 and row.flagged == 0 and row.networks == 4
    assert row.spearman == pytest.approx(0.8)  # predicted ranks 1,3,2,4: 1 - 6 x 2 / (4 x 15)
    assert row.median_noise_pct == 2.5
    # A network whose time never settled is counted, not scored.
    unsettled = networks_summary(table.assign(flagged=[False, True, False, False])).iloc[0]
    assert unsettled.networks == 3 and unsettled.flagged == 1
    assert unsettled.within_10_pct == 100.0 and unsettled.spearman == pytest.approx(1.0)
    assert unsettled.median_noise_pct == 3.0
    assert row.energy_mj_range == "not measured"
    energy = pd.DataFrame(
        {"id": ["n0", "n1", "n2", "n3"], "energy_mj": [0.5, 1.0, 1.5, 2.0], "energy_spread": 0.1}
    )
    measured = with_energy(table, {"host": energy, "phone": energy.iloc[:0]})
    assert measured.energy.tolist() == ["measured"] * 4 and measured.energy_mj.tolist() == [
        0.5,
        1.0,
        1.5,
        2.0,
    ]
    assert networks_summary(measured).iloc[0].energy_mj_range == "0.5-2"
    assert (
        networks_summary(measured.assign(flagged=[True, False, False, False])).iloc[0].energy_mj_range
        == "1-2"
    )
    assert (
        with_energy(table.assign(device="phone"), {"phone": energy.iloc[:0]}).energy.tolist()
        == ["not measured"] * 4
    )


def test_a_calibration_network_its_check_disagrees_with_bends_no_term():
    """Planted: every network runs 10% over its layers' sum plus 0.5 ms per weight MB. One
    calibration network was timed in a spell (twice its true time, its check job right): it is
    flagged and the planted term is recovered from the others; without the check it would bend it."""
    isolated = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 2.5, 3.5])
    weight_mb = np.array([1.0, 0.5, 2.0, 1.5, 3.0, 1.0, 2.5])
    true_ms = 1.1 * isolated + 0.5 * weight_mb
    measured = true_ms.copy()
    measured[2] *= 2.0  # a calibration network measured in a spell
    check = true_ms * np.array([1.0, 1.02, 1.0, 0.99, 1.0, 1.19, 1.0])  # 19% apart: both count
    frame = pd.DataFrame(
        {
            "family": "vgg",
            "role": ["calibration"] * 5 + ["test"] * 2,
            "weight_mb": weight_mb,
            "measured_ms": measured,
            "check_ms": check,
            "predicted_layers_ms": isolated,
            "predicted_ops_ms": 0.0,
            "flagged": False,
        }
    )
    fitted = with_in_network_term(frame)
    assert fitted.check_disagrees.tolist() == [False, False, True, False, False, False, False]
    assert fitted.flagged.tolist() == fitted.check_disagrees.tolist()
    assert fitted.in_network_scale.iloc[0] == pytest.approx(0.1, abs=1e-6)
    assert fitted.weight_ms_per_mb.iloc[0] == pytest.approx(0.5, abs=1e-6)
    assert fitted.error_pct[fitted.role == "test"].abs().max() < 1e-6
    blind = with_in_network_term(frame.assign(check_ms=np.nan))
    assert not blind.flagged.any() and blind.error_pct[blind.role == "test"].abs().max() > 5
    assert check_disagrees(pd.Series([1.0, 1.0]), pd.Series([0.82, 0.84])).tolist() == [True, False]


def test_the_warm_weight_cap_is_recovered_from_calibration_networks_alone():
    """Planted: a network runs 5% over its layers' sum plus 0.02 ms per MB of each layer's
    weights up to 8 MB (a bigger layer streams its weights alone too). Leave-one-out on the
    calibration networks must choose the 8 MB cap and predict the test networks exactly; with the
    plain weight megabytes (no layer_mb) the test networks are missed. A plain-sum plant: no cap."""
    rng = np.random.default_rng(3)
    networks = [rng.choice([0.5, 3.0, 6.0, 10.0, 20.0, 40.0], size=5).tolist() for _ in range(14)]
    isolated = rng.uniform(1.0, 5.0, size=len(networks))
    warm = np.array([sum(min(mb, 8.0) for mb in layer_mb) for layer_mb in networks])
    frame = pd.DataFrame(
        {
            "family": "vgg",
            "role": ["calibration"] * 8 + ["test"] * 6,
            "weight_mb": [sum(layer_mb) for layer_mb in networks],
            "layer_mb": [json.dumps(layer_mb) for layer_mb in networks],
            "measured_ms": 1.05 * isolated + 0.02 * warm,
            "check_ms": np.nan,
            "predicted_layers_ms": isolated,
            "predicted_ops_ms": 0.0,
            "flagged": False,
        }
    )
    fitted = with_in_network_term(frame)
    assert fitted.warm_cap_mb.iloc[0] == 8.0
    assert fitted.weight_ms_per_mb.iloc[0] == pytest.approx(0.02, rel=1e-6)
    assert fitted.error_pct[fitted.role == "test"].abs().max() < 1e-6
    uncapped = with_in_network_term(frame.drop(columns="layer_mb"))
    assert np.isnan(uncapped.warm_cap_mb.iloc[0])
    assert uncapped.error_pct[uncapped.role == "test"].abs().max() > 1
    plain = with_in_network_term(frame.assign(measured_ms=1.05 * isolated + 0.02 * frame.weight_mb))
    assert np.isnan(plain.warm_cap_mb.iloc[0])
    assert plain.error_pct[plain.role == "test"].abs().max() < 1e-6
