"""benchmarks/noisy_campaign.py's comparison of the pair: the same graphs read from both runs'
datasets, with planted times whose moves between the runs are known."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks/noisy_campaign.py"


@pytest.fixture(scope="module")
def noisy_campaign():
    spec = importlib.util.spec_from_file_location("noisy_campaign", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def planted_run(root: Path, times: dict[str, tuple[str, float]]) -> Path:
    """A run folder holding only its last round's dataset: graph id -> (scope, time_ms)."""
    folder = root / "results/dataset/host"
    folder.mkdir(parents=True)
    frame = pd.DataFrame([{"id": i, "scope": s, "time_ms": t} for i, (s, t) in times.items()])
    frame.assign(time_ms=0.0).to_parquet(folder / "round0.parquet")  # the last round is the one read
    frame.to_parquet(folder / "round1.parquet")
    return root


def test_the_same_graphs_moves_are_counted_per_scope(noisy_campaign, tmp_path):
    quiet = planted_run(
        tmp_path / "q",
        {"a": ("cnn", 1.0), "b": ("cnn", 2.0), "c": ("cnn", 4.0), "d": ("gru", 1.0), "x": ("adaptive1", 1.0)},
    )
    disturbed = planted_run(
        tmp_path / "d",
        {
            "a": ("cnn", 1.04),
            "b": ("cnn", 2.4),
            "c": ("cnn", 3.0),
            "d": ("gru", 1.0),
            "x": ("adaptive1", 9.0),
        },
    )
    moves = noisy_campaign.same_graph_moves(quiet, disturbed)
    assert list(moves.index) == ["cnn", "gru"]  # adaptive rounds draw other graphs: left out
    assert moves.loc["cnn", "graphs"] == 3
    assert moves.loc["cnn", "apart_5_pct"] == pytest.approx(100 * 2 / 3)  # b +20%, c -25%; a +4% is not
    assert moves.loc["cnn", "median_ratio"] == pytest.approx(1.04)
    assert moves.loc["gru", "apart_5_pct"] == 0.0


def test_a_run_without_a_dataset_gives_no_moves(noisy_campaign, tmp_path):
    quiet = planted_run(tmp_path / "q", {"a": ("cnn", 1.0)})
    assert noisy_campaign.same_graph_moves(quiet, tmp_path / "empty").empty
