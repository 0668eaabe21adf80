"""A user model's table (fdi.compress.user_table) on hand-made curves and timings: the picks,
the times at equal accuracy interpolated by hand, the CLI's files, and curves of different
originals refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fdi.cli import main
from fdi.compress.user_table import load_curves, picks, user_curve

SETTINGS = {"host": {"statistic": "min", "agree_tolerance": 0.05, "max_passes": 3}}


def _timings(times: dict[str, float]) -> pd.DataFrame:
    """Two identical passes per graph, so each graph's time is exactly the given one."""
    rows = [
        {"device": "host", "id": graph, "repeat": repeat, "fingerprint": "{}", "runs_ms": [ms, ms]}
        for graph, ms in times.items()
        for repeat in range(2)
    ]
    return pd.DataFrame(rows)


def _curve(root: Path, variant: str, points: list[tuple[float, float, list[int]]]) -> Path:
    """A curve.json as fdi compress writes it: (searched fraction, test accuracy, widths) per point."""
    rows = [
        {
            "point": i,
            "widths": widths,
            "expanded_widths": widths,
            "parameter_fraction": fraction,
            "fraction": fraction,
            "test_accuracy": accuracy,
            "tflite": str(root / variant / "final" / f"{variant}-target-{i}.tflite"),
        }
        for i, (fraction, accuracy, widths) in enumerate(points)
    ]
    path = root / variant / "curve.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"model": "m.keras", "original_test_accuracy": 0.90, "points": rows}))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[list[Path], pd.DataFrame]:
    deepiot = _curve(
        tmp_path, "deepiot", [(0.5, 0.905, [32, 64]), (0.4, 0.895, [24, 48]), (0.3, 0.880, [16, 32])]
    )
    fast = _curve(tmp_path, "fastdeepiot_host", [(0.5, 0.902, [32, 32]), (0.3, 0.886, [16, 16])])
    times = {
        "original": 10.0,
        "deepiot-target-0": 6.0,
        "deepiot-target-1": 5.0,
        "deepiot-target-2": 4.0,
        "fastdeepiot_host-target-0": 4.0,
        "fastdeepiot_host-target-1": 2.0,
    }
    return [deepiot, fast], _timings(times)


def test_picks_are_the_most_compressed_points_at_the_bar_and_are_compared_measured(runs) -> None:
    from fdi.compress.table import measured

    paths, timings = runs
    curve = user_curve(load_curves(paths), measured({"host": timings}, SETTINGS))
    assert list(curve.measured_ms_host) == [10.0, 6.0, 5.0, 4.0, 4.0, 2.0]
    frame = picks(curve, ["host"], bar=0.89)
    # DeepIoT's most compressed point at >= 0.89 is its second (5 ms); FastDeepIoT's falls below
    # the bar at its second, so its first (4 ms) is its pick.
    assert (
        frame.loc["widths", "deepiot"] == "[24, 48]" and frame.loc["widths", "fastdeepiot_host"] == "[32, 32]"
    )
    assert frame.loc["measured ms, host"].tolist() == ["10.000", "5.000", "4.000"]
    assert frame.loc["vs original, host", "deepiot"] == "-50.0%"
    assert frame.loc["vs DeepIoT's pick, host", "fastdeepiot_host"] == "-20.0%"


def test_the_cli_writes_the_table_with_times_at_equal_accuracy(runs, tmp_path, capsys) -> None:
    paths, timings = runs
    timings.to_parquet(tmp_path / "host.parquet")
    out = tmp_path / "out"
    argv = ["compress-user-table", "--name", "mine", "--curves", *map(str, paths)]
    argv += ["--timings", f"host={tmp_path / 'host.parquet'}", "--settings", json.dumps(SETTINGS)]
    argv += ["--levels", "0.0", "0.01", "--table", str(out / "t.csv"), "--markdown", str(out / "t.md")]
    argv += ["--figure", str(out / "f.png"), "--points", str(out / "p.csv")]
    main(argv)
    table = pd.read_csv(out / "t.csv", index_col="row")
    # At 0.90: DeepIoT between 0.895 (5 ms) and 0.905 (6 ms) -> 5.5 ms; FastDeepIoT between 0.886
    # (2 ms) and 0.902 (4 ms) -> 2 + 2 * 14/16 = 3.75 ms: -31.8%. At 0.89 DeepIoT 4 + (0.01/0.015)
    # = 4.667 ms, FastDeepIoT 2 + 2 * 4/16 = 2.5 ms: -46.4%.
    assert table.loc["ms at 90.00% (the original's accuracy), host", "deepiot"] == "5.500"
    assert table.loc["ms at 90.00% (the original's accuracy), host", "fastdeepiot_host"] == "3.750"
    assert table.loc["vs DeepIoT at 90.00%, host", "fastdeepiot_host"] == "-31.8%"
    assert table.loc["vs DeepIoT at 89.00%, host", "fastdeepiot_host"] == "-46.4%"
    assert "fastdeepiot_host's measured time against DeepIoT's" in (out / "t.md").read_text()
    assert len(pd.read_csv(out / "p.csv")) == 6 and (out / "f.png").stat().st_size > 5_000
    assert "-31.8%" in capsys.readouterr().out


def test_a_curve_of_several_search_seeds_says_what_each_seed_alone_would_pick(runs, tmp_path) -> None:
    """FastDeepIoT searched under seeds 0 and 1: its pick comes from the union of both curves (seed
    1's point reaches the bar at 0.3), and the notes give each seed's own pick."""
    from fdi.compress.table import measured, seed_picks

    paths, timings = runs
    fast = json.loads(paths[1].read_text())
    for point, seed in zip(fast["points"], [0, 1], strict=True):
        point["search_seed"] = seed
    fast["points"][1]["test_accuracy"] = 0.893
    paths[1].write_text(json.dumps(fast))
    curve = user_curve(load_curves(paths), measured({"host": timings}, SETTINGS))
    assert picks(curve, ["host"], bar=0.89).loc["widths", "fastdeepiot_host"] == "[16, 16]"
    notes = seed_picks(curve, 0.89, ["host"])
    assert notes[1] == "- seed 0: fastdeepiot_host 90.20%, 4.000 ms on host."
    assert notes[2] == "- seed 1: fastdeepiot_host 89.30%, 2.000 ms on host."


def test_curves_of_different_originals_are_refused(runs) -> None:
    paths, _ = runs
    other = json.loads(paths[1].read_text()) | {"original_test_accuracy": 0.8}
    paths[1].write_text(json.dumps(other))
    with pytest.raises(ValueError, match="curves of different originals"):
        load_curves(paths)
