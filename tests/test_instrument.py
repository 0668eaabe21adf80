"""The measuring instrument notices disturbance: passes repeated until two agree, a reference
graph timed in between, and the quality of every component kept in the dataset."""

import json

import fake_device
import numpy as np
import pytest

from fdi import devices
from fdi.dataset import summarise_timings
from fdi.devices import agreeing_pair, passes_wanted, run_benchmark

SETTINGS = {
    "kind": "scripted",
    "repeats": 2,
    "agree_tolerance": 0.05,
    "max_passes": 4,
    "statistic": "median",
}


@pytest.fixture
def graphs(tmp_path, monkeypatch):
    monkeypatch.setitem(devices.KINDS, "scripted", "fake_device")
    directory = tmp_path / "graphs"
    directory.mkdir()
    for name in ("a", "b", "c"):
        (directory / f"{name}.tflite").write_bytes(b"not a real graph: the scripted device never reads it")
    reference = tmp_path / "reference_graph.tflite"
    reference.write_bytes(b"reference")
    return directory, reference


def test_agreeing_pair_prefers_the_fastest_agreeing_passes():
    assert agreeing_pair([1.0, 2.0, 1.04], 0.05) == (0, 2)
    assert agreeing_pair([2.0, 2.05, 1.0, 1.02], 0.05) == (2, 3)  # both pairs agree: the faster one
    assert agreeing_pair([1.0, 1.2, 1.5], 0.05) is None
    assert passes_wanted([1.0], SETTINGS)  # fewer than `repeats`
    assert not passes_wanted([1.0, 1.01], SETTINGS)
    assert passes_wanted([1.0, 1.5], SETTINGS)
    assert not passes_wanted([1.0, 1.5, 2.0, 2.5], SETTINGS)  # the cap


def test_passes_of_one_graph_are_min_pass_gap_s_apart(graphs, tmp_path):
    """A short job's rounds wait, so a graph's passes see the machine at different times."""
    directory, _ = graphs
    fake_device.reset({"c": [1.0, 1.3, 1.02]})
    timings = run_benchmark("dev", {**SETTINGS, "min_pass_gap_s": 0.3}, directory, tmp_path / "t.parquet")
    for graph_id, passes in timings.groupby("id"):
        starts = np.sort(passes.start_unix_s.to_numpy())
        assert len(starts) == (3 if graph_id == "c" else 2)
        assert np.diff(starts).min() >= 0.29, graph_id
    # Without the setting, the same job's rounds follow each other at once.
    fake_device.reset({})
    quick = run_benchmark("dev", SETTINGS, directory, tmp_path / "q.parquet")
    assert np.diff(np.sort(quick[quick.id == "a"].start_unix_s.to_numpy())).min() < 0.1


def test_a_disturbed_pass_is_caught_and_measured_again(graphs, tmp_path):
    directory, _ = graphs
    # b's first pass ran while something else was busy (x1.6), c never settles.
    fake_device.reset({"b": [1.6, 1.0, 1.02], "c": [1.0, 1.3, 1.7, 2.2]})
    timings = run_benchmark("dev", SETTINGS, directory, tmp_path / "t.parquet")
    passes = timings.groupby("id").size().to_dict()
    assert passes == {"a": 2, "b": 3, "c": 4}
    # Rounds: every graph once, then every graph again, then only those still disagreeing.
    assert fake_device.LOG[:6] == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)]
    assert fake_device.LOG[6:] == [("b", 2), ("c", 2), ("c", 3)]
    summary = summarise_timings(timings, SETTINGS).set_index("id")
    assert summary.time_ms["b"] == pytest.approx(1.01)  # the agreeing pair, not the disturbed pass
    assert summary.passes.to_dict() == passes
    assert summary.agreed.to_dict() == {"a": True, "b": True, "c": False}
    assert summary.flagged.to_dict() == {"a": False, "b": False, "c": True}
    assert summary.spread["b"] == pytest.approx(0.6)


def test_an_interrupted_campaign_keeps_its_passes_and_takes_only_the_missing_ones(graphs, tmp_path):
    directory, _ = graphs
    fake_device.reset({"b": [1.6, 1.0, 1.02]})
    first = run_benchmark("dev", SETTINGS, directory, tmp_path / "t.parquet")
    partial = tmp_path / "t.partial.parquet"
    first[first.id != "b"].assign(settings=json.dumps(SETTINGS, sort_keys=True)).to_parquet(partial)
    (tmp_path / "t.parquet").unlink()
    fake_device.reset({"b": [1.0, 1.01]})
    again = run_benchmark("dev", SETTINGS, directory, tmp_path / "t.parquet")
    assert fake_device.LOG == [("b", 0), ("b", 1)]
    assert again.groupby("id").size().to_dict() == {"a": 2, "b": 2, "c": 2}


def test_reference_graph_is_timed_in_between_and_its_drift_flags_components(graphs, tmp_path):
    directory, reference = graphs
    # The machine slows down by 30% from the fifth reference timing on.
    fake_device.reset(reference=[1.0, 1.0, 1.0, 1.0, 1.3, 1.3, 1.3])
    settings = {**SETTINGS, "reference_every": 1, "drift_tolerance": 0.1}
    timings = run_benchmark("dev", settings, directory, tmp_path / "t.parquet", reference)
    # A reference timing before every component pass, and one at the end.
    assert timings.role.tolist() == ["reference", "component"] * 6 + ["reference"]
    assert (timings[timings.role == "reference"].id == devices.REFERENCE_ID).all()
    summary = summarise_timings(timings, settings).set_index("id")
    assert "reference" not in summary.index
    # Passes: a0 b0 c0 a1 (references 0-3, no drift), b1 c1 (references 4-5, +30%). A component's
    # drift is the mean over its chosen passes of the nearest reference's deviation.
    assert summary.drift.to_dict() == pytest.approx({"a": 0.0, "b": 0.15, "c": 0.15})
    assert summary.flagged.to_dict() == {"a": False, "b": True, "c": True}
    assert np.isfinite(summary.time_ms).all()


def test_graphs_may_not_take_the_reference_id(graphs, tmp_path):
    directory, _ = graphs
    (directory / "reference.tflite").write_bytes(b"x")
    with pytest.raises(ValueError, match="reference"):
        run_benchmark("dev", SETTINGS, directory, tmp_path / "t.parquet")


def test_a_graph_list_is_timed_in_its_own_order(graphs, tmp_path):
    """Graphs compared with each other are listed side by side and timed so (not sorted apart)."""
    directory, _ = graphs
    fake_device.reset({})
    order = [directory / "c.tflite", directory / "a.tflite", directory / "c.tflite", directory / "b.tflite"]
    timings = run_benchmark("dev", SETTINGS, order, tmp_path / "t.parquet")
    first_round = timings.sort_values("start_unix_s").drop_duplicates("id")
    assert first_round.id.tolist() == ["c", "a", "b"]
