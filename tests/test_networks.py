"""Whole-network prediction: the device's time model, the in-network term and the summary, on
planted values."""

import json

import numpy as np
import pandas as pd
import pytest

from fdi.profile import families
from fdi.timemodel.device_model import DeviceTimeModel
from fdi.timemodel.features import add_features
from fdi.timemodel.op_models import fit_in_network, in_network_ms, term_ms
from fdi.timemodel.whole_networks import (
    check_disagrees,
    fit_op_models,
    networks_summary,
    with_energy,
    with_errors,
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


def test_network_prediction_is_the_sum_of_its_layers_and_ops_plus_the_term():
    widths = families.random_widths("vgg", np.random.default_rng(2), (0.1, 0.3))
    layers = {kind: PlantedModel() for kind in ("cnn", "fc")}
    ops = {"max_pool": (1e-6, 0.002), "softmax": (0.0, 0.001)}
    plain = DeviceTimeModel("host", layers, ops)
    rows = [{k: v for k, v in layer.items() if k != "name"} for layer in families.layers("vgg", widths)]
    featured = [add_features(pd.DataFrame([row]), row["layer"]).iloc[0] for row in rows]
    flops = sum(row.flops for row in featured)
    pools = sum(op["elements"] for op in families.other_ops("vgg", widths) if op["op"] == "max_pool")
    parts_ms = flops / 1e9 + 1e-6 * pools + 5 * 0.002 + 0.001
    assert plain.predict_structures("vgg", [widths])[0] == pytest.approx(parts_ms)
    # 16 layers (13 convs, 3 FC) and 6 ops (5 pools, softmax): 22 parts, 21 calls saved; weights
    # capped at 0.1 MB a layer, beyond 0.2 MB at 0.5 ms per MB
    term = {"call_ms": 0.001, "cap_mb": 0.1, "free_mb": 0.2, "ms_per_mb": 0.5}
    timed = DeviceTimeModel("host", layers, ops, op_kinds={"in_network": term})
    capped = sum(min(4 * row.param_size / 1e6, 0.1) for row in featured)
    assert capped > 0.2
    expected = parts_ms - 21 * 0.001 + 0.5 * (capped - 0.2)
    assert timed.predict_structures("vgg", [widths, widths]) == pytest.approx([expected, expected])
    assert timed.isolated_structures("vgg", [widths])[0] == pytest.approx(parts_ms)


def test_the_in_network_term_is_recovered_from_planted_networks():
    """Planted: each network runs at the sum of its ops less one call of 0.002 ms per op but one,
    plus 0.03 ms per MB of its ops' weights (each capped at 8 MB) beyond 12 MB. The cap and the
    free size are chosen by leave-one-out among the candidates, the ms per MB fitted."""
    rng = np.random.default_rng(5)
    rows, measured = [], {}
    for index in range(12):
        sizes = rng.choice([0.5, 3.0, 6.0, 10.0, 20.0], size=int(rng.integers(3, 9)))
        times = rng.uniform(0.05, 2.0, size=len(sizes))
        network = f"n{index}"
        for size, time_ms in zip(sizes, times, strict=True):
            rows.append({"network": network, "kind": "CONV_2D", "weights": size * 1e6 / 4, "ms": time_ms})
        capped = float(np.minimum(sizes, 8.0).sum())
        measured[network] = times.sum() - (len(sizes) - 1) * 0.002 + 0.03 * max(0.0, capped - 12.0)
    ops = pd.DataFrame(rows)
    term = fit_in_network(ops, pd.Series(measured), "ms", 0.002)
    assert (term["cap_mb"], term["free_mb"]) == (8.0, 12.0)
    assert term["ms_per_mb"] == pytest.approx(0.03, rel=1e-9)
    assert term["leave_one_out_mape_pct"] == pytest.approx(0.0, abs=1e-9)
    predicted = in_network_ms(ops, "ms", term)
    assert predicted.to_dict() == pytest.approx(measured)
    # the same term, one network at a time, as every reader of a network adds it
    for network, part in ops.groupby("network"):
        megabytes = 4 * part.weights / 1e6
        assert part.ms.sum() + term_ms(len(part), megabytes, term) == pytest.approx(measured[network])


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
            "predicted_in_network_ms": [0.1, 0.2, 0.3, 0.4],
            "noise_pct": [1.0, 2.0, 3.0, 4.0],
            "flagged": False,
        }
    )
    row = networks_summary(table).iloc[0]
    assert row.within_10_pct == 75.0 and row.flagged == 0 and row.networks == 4
    assert row.spearman == pytest.approx(0.8)  # predicted ranks 1,3,2,4: 1 - 6 x 2 / (4 x 15)
    assert row.median_noise_pct == 2.5 and row.median_in_network_ms == pytest.approx(0.25)
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


def test_a_network_its_check_job_disagrees_with_is_flagged():
    measured = np.array([1.0, 2.0, 3.0])
    frame = pd.DataFrame(
        {
            "measured_ms": measured,
            "check_ms": [1.19, 2.0 * 1.21, np.nan],  # 19% apart: both count; 21%: one was in a spell
            "predicted_parts_ms": [0.9, 2.0, 3.3],
            "predicted_ms": [1.0, 2.2, 3.3],
            "flagged": [False, False, True],
        }
    )
    checked = with_errors(frame)
    assert checked.check_disagrees.tolist() == [False, True, False]
    assert checked.flagged.tolist() == [False, True, True]
    assert checked.error_pct.tolist() == pytest.approx([0.0, 10.0, 10.0])
    assert checked.error_layers_only_pct.tolist() == pytest.approx([-10.0, 0.0, 10.0])
    assert check_disagrees(pd.Series([1.0, 1.0]), pd.Series([0.82, 0.84])).tolist() == [True, False]
