"""fdi.compress.localmin_experiment.table and summary on hand-made timings: the same-job control
copy sets the noise floor, expansions are judged against it,
and the summary's medians cover only expanded networks."""

import numpy as np
import pandas as pd
import pytest

from fdi.compress.localmin_experiment import markdown, summary, table


def _timings(times: dict[str, float]) -> pd.DataFrame:
    """Two identical passes per graph (so each graph's time is exactly the given one)."""
    rows = []
    for graph, ms in times.items():
        for repeat in range(2):
            rows.append(
                {"device": "host", "id": graph, "repeat": repeat, "fingerprint": "{}", "runs_ms": [ms, ms]}
            )
    return pd.DataFrame(rows)


def test_noise_floor_is_the_control_copy_and_worse_means_beyond_it():
    exported = pd.DataFrame(
        {
            "family": ["vgg"] * 4,
            "id": ["a", "a", "b", "b"],
            "mode": ["paper", "staircase"] * 2,
            "changed": [False, True, False, True],
            "predicted_before_ms": [2.0, 2.0, 4.0, 4.0],
            "predicted_after_ms": [2.0, 1.9, 4.0, 3.6],
            "max_abs_output_difference": [0.0, 1e-7, 0.0, 0.0],
        }
    )
    # Controls differ from their originals by 2% (a) and 4% (b): noise floor = median = 3%.
    # a's expansion is 10% slower (worse than 3%), b's is 2% slower (within the floor).
    measured = {
        "a": 1.0,
        "a-control": 1.02,
        "a-staircase": 1.10,
        "b": 2.0,
        "b-control": 1.92,
        "b-staircase": 2.04,
    }
    campaign = {"a": 1.25, "b": 2.0}  # a moved 20% since the campaign, b 0%: median 10%
    frame = table(exported, _timings(measured), _timings(campaign), {"statistic": "min"}, "host")
    assert frame.noise_floor_pct.tolist() == pytest.approx([3.0] * 4)
    assert frame.moved_since_campaign_pct.iloc[0] == pytest.approx(10.0)
    assert frame.measured_change_pct.tolist() == pytest.approx([0.0, 10.0, 0.0, 2.0])
    assert frame.worse_than_noise.tolist() == [False, True, False, False]
    rows = summary(frame).set_index("mode")
    assert rows.loc["staircase", "measured_change_median_pct"] == pytest.approx(6.0)  # of 10 and 2
    assert rows.loc["staircase", "measured_change_best_pct"] == pytest.approx(2.0)
    assert rows.loc["staircase", "predicted_change_median_pct"] == pytest.approx(-7.5)  # -5%, -10%
    assert rows.loc["staircase", "not_worse_pct"] == pytest.approx(50.0)
    assert np.isnan(rows.loc["paper", "measured_change_median_pct"])  # nothing expanded
    assert "| host | vgg | paper | 2 | 0 | - | - | - | 100% | 3.0% | 10.0% |" in markdown(frame)
