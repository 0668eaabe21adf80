"""The variants compared at equal accuracy (issue 29): each curve's frontier, the time at a level
interpolated between its two frontier points and never extrapolated, and the rows Tables 6/8
gain. Hand-computed values on synthetic curves (named so: no measurement here)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fdi.compress.equal_accuracy import above_original, frontier, levels, summary, table_rows, time_at
from fdi.compress.table import figure

# (accuracy, ms): (0.85, 0.6) is beaten by (0.88, 0.5) on both and leaves the frontier
SYNTHETIC_ACC = [0.90, 0.88, 0.85, 0.80]
SYNTHETIC_MS = [1.0, 0.5, 0.6, 0.3]


def test_the_frontier_keeps_only_points_nothing_beats_on_both():
    accuracy, ms = frontier(SYNTHETIC_ACC, SYNTHETIC_MS)
    assert accuracy.tolist() == [0.80, 0.88, 0.90]
    assert ms.tolist() == [0.3, 0.5, 1.0]
    # equal times: only the most accurate stays; a missing time is dropped
    accuracy, ms = frontier([0.85, 0.90, 0.95], [0.5, 0.5, np.nan])
    assert accuracy.tolist() == [0.90] and ms.tolist() == [0.5]


@pytest.mark.parametrize(
    ("level", "ms", "kind"),
    [
        (0.89, 0.75, "interpolated"),  # halfway from 0.88 (0.5 ms) to 0.90 (1.0 ms)
        (0.84, 0.40, "interpolated"),  # halfway from 0.80 (0.3 ms) to 0.88 (0.5 ms)
        (0.88, 0.50, "interpolated"),  # on a point
        (0.90, 1.00, "interpolated"),
        (0.79, 0.30, "upper bound"),  # below the fastest point: not compressed that far
        (0.91, np.nan, "not reached"),
    ],
)
def test_the_time_at_a_level_is_interpolated_between_its_frontier_neighbours(level, ms, kind):
    found = time_at(SYNTHETIC_ACC, SYNTHETIC_MS, level)
    assert found.kind == kind
    np.testing.assert_allclose(found.ms, ms, equal_nan=True)


def test_an_upper_bound_and_a_miss_read_as_such():
    assert time_at(SYNTHETIC_ACC, SYNTHETIC_MS, 0.79).text() == "<= 0.300"
    assert time_at(SYNTHETIC_ACC, SYNTHETIC_MS, 0.95).text() == "not reached"
    assert time_at([], [], 0.5).kind == "not reached"


def _synthetic_curve() -> pd.DataFrame:
    """The original at 0.90 (2.0 ms); DeepIoT and FastDeepIoT curves that both reach 0.89 and
    0.88; FastDeepIoT's fastest point (0.87) is above 0.86, so 0.86 is only an upper bound there."""
    rows = [("original", 0.90, 2.0)]
    rows += [("deepiot", a, t) for a, t in [(0.895, 1.6), (0.885, 1.2), (0.85, 0.8)]]
    rows += [("fastdeepiot_host", a, t) for a, t in [(0.905, 1.0), (0.885, 0.6), (0.87, 0.5)]]
    return pd.DataFrame(
        [
            {"variant": v, "test_accuracy": a, "measured_ms_host": t, "widths": json.dumps([1]), "point": i}
            for i, (v, a, t) in enumerate(rows)
        ]
    )


def test_the_table_rows_give_each_variant_its_time_and_ratio_at_each_level():
    frame = table_rows(_synthetic_curve(), ["host"], drops=(0.0, 0.01, 0.04))
    assert list(frame.columns) == ["original", "deepiot", "fastdeepiot_host"]
    at_original = frame.loc["ms at 90.00% (the original's accuracy), host"]
    assert at_original.original == "2.000"
    assert at_original.deepiot == "not reached"  # DeepIoT's best is 0.895
    # FastDeepIoT at 0.90: from (0.885, 0.6) to (0.905, 1.0): 0.6 + 0.75 * 0.4 = 0.9
    assert at_original.fastdeepiot_host == "0.900"
    assert frame.loc["vs DeepIoT at 90.00%, host"].fastdeepiot_host == "-"
    # at 0.89: DeepIoT 1.2 + 0.5 * 0.4 = 1.4; FastDeepIoT 0.6 + 0.25 * 0.4 = 0.7: -50%
    at_89 = frame.loc["ms at 89.00% (1 points below), host"]
    assert (at_89.deepiot, at_89.fastdeepiot_host) == ("1.400", "0.700")
    assert frame.loc["vs DeepIoT at 89.00%, host"].fastdeepiot_host == "-50.0%"
    assert frame.loc["vs DeepIoT at 89.00%, host"].deepiot == "+0.0%"
    # at 0.86: DeepIoT 0.8 + (0.01 / 0.035) * 0.4; FastDeepIoT only an upper bound (0.5)
    at_86 = frame.loc["ms at 86.00% (4 points below), host"]
    assert at_86.deepiot == f"{0.8 + 0.01 / 0.035 * 0.4:.3f}"
    assert at_86.fastdeepiot_host == "<= 0.500"
    assert frame.loc["vs DeepIoT at 86.00%, host"].fastdeepiot_host == "-"


def test_the_summary_names_every_level_and_what_was_not_compared():
    (line,) = summary(_synthetic_curve(), ["host"], drops=(0.0, 0.01))
    assert "fastdeepiot_host's measured time" in line
    assert "89.00%: -50.0%" in line
    assert "90.00% (not reached / interpolated)" in line


def test_the_summary_reads_the_parts_above_t_min_where_it_was_timed():
    curve = _synthetic_curve()
    t_min = {
        "variant": "tmin_host",
        "test_accuracy": np.nan,
        "measured_ms_host": 0.2,
        "widths": "[1]",
        "point": 0,
    }
    (line,) = summary(pd.concat([curve, pd.DataFrame([t_min])]), ["host"], drops=(0.0, 0.01))
    # at 0.89: DeepIoT 1.4 ms, FastDeepIoT 0.7 ms; above t_min 1.2 and 0.5 ms: 0.5 / 1.2 - 1
    assert "89.00%: -50.0% (-58.3% of the part above t_min)" in line
    assert "t_min on host (every width 1, then Algorithm 2) measured 0.200 ms" in line
    # t_min is no variant of its own, and without it the sentence has no such part
    assert "tmin_host" not in line
    assert "above t_min" not in summary(curve, ["host"], drops=(0.0, 0.01))[0]


def test_a_point_above_the_original_beyond_its_seed_spread_is_reported():
    curve = _synthetic_curve()  # best point 0.905 against the original's 0.90
    # seeds 0.90, 0.89, 0.91: s.d. 0.01, so 2 s.d. allow up to 0.92
    assert "none does exceed it" in above_original(curve, [0.89, 0.91], 2.0)
    # seeds 0.90, 0.901, 0.899: s.d. 0.001, 2 s.d. allow up to 0.902 < 0.905
    assert "some do exceed it" in above_original(curve, [0.901, 0.899], 2.0)
    assert above_original(curve, [], 2.0) is None


def test_figure_5_draws_the_levels(tmp_path):
    curve = _synthetic_curve().assign(parameter_fraction=1.0)
    path = tmp_path / "fig5.png"
    figure(curve, "synthetic", ["host"], path, levels(0.90, (0.0, 0.01)))
    assert path.stat().st_size > 1000
