"""The reference gate inside a host pass (fdi.profile.devices.gate.RunGate): planted reference
timings and blocks of runs, their outcome computed by hand."""

from __future__ import annotations

import itertools
import time

import pandas as pd
import pytest

from fdi.profile.devices.gate import RunGate
from fdi.timings import REFERENCE_SLOW_COLUMN, campaign_summary


def planted(reference_ms: list[float], blocks: list[float]):
    """A gate whose reference times as planted, and a timer whose k-th block runs at blocks[k]."""
    reference = iter(reference_ms)
    block_values = iter(blocks)
    taken = []

    def timed_invocations(interpreter, runs):
        value = next(block_values)
        taken.append(value)
        sizes.append(runs)
        return [value] * runs

    sizes: list[int] = []
    timed_invocations.sizes = sizes
    return (lambda: next(reference)), timed_invocations, taken


def test_runs_count_only_once_the_reference_is_fast_before_and_after_them():
    # floor 0.10 (the first look); block 1 ends in a spell (0.12: 1.2x), block 2 starts in it
    # (a block's after-look is the next one's before-look), block 3 has the reference at its
    # floor on both sides: its runs are the pass's
    reference, timer, taken = planted([0.10, 0.12, 0.10, 0.101], [5.0, 5.1, 4.0])
    gate = RunGate({"run_gate": {"tolerance": 0.05, "max_wait_s": 10}}, reference)
    result = gate.timed_runs(None, 3, timer)
    assert result["runs_ms"] == [4.0, 4.0, 4.0]
    assert result["run_gate_blocks"] == 3 and taken == [5.0, 5.1, 4.0]
    assert result[REFERENCE_SLOW_COLUMN] is False
    assert result["run_gate_ratio"] == pytest.approx(1.01)
    assert result["run_gate_wait_s"] >= 0 and gate.spent_s == result["run_gate_wait_s"]


def test_a_block_within_the_tolerance_is_taken_at_once():
    reference, timer, _ = planted([0.10, 0.104], [4.0])
    result = RunGate({"run_gate": {"tolerance": 0.05}}, reference).timed_runs(None, 2, timer)
    assert result["run_gate_blocks"] == 1 and result["run_gate_wait_s"] == 0.0
    assert result[REFERENCE_SLOW_COLUMN] is False and result["runs_ms"] == [4.0, 4.0]


def test_a_machine_that_never_quiets_ends_the_pass_at_max_wait_s_with_the_least_slow_block():
    # after the floor (0.10) the reference alternates 1.3x and 1.2x: never within 5%
    looks = itertools.chain([0.10], itertools.cycle([0.13, 0.12]))
    blocks = itertools.count(5.0, 0.01)

    def timed_invocations(interpreter, runs):  # 10 ms a block: a handful fit in max_wait_s,
        time.sleep(0.01)  # so the floor stays the fastest look (fewer than FLOOR_AFTER of them)
        return [next(blocks)] * runs

    gate = RunGate({"run_gate": {"tolerance": 0.05, "max_wait_s": 0.05}}, lambda: next(looks))
    result = gate.timed_runs(None, 1, timed_invocations)
    assert result[REFERENCE_SLOW_COLUMN] is True
    assert result["run_gate_blocks"] > 1 and 0.05 <= result["run_gate_wait_s"] < 1.0
    # the first block's looks were 1.0x and 1.3x; every later one's 1.2x and 1.3x: the least slow
    # is a later one (1.3x), the first of them kept
    assert result["run_gate_ratio"] == pytest.approx(1.3)
    assert result["runs_ms"] == [5.0]


def test_a_large_graph_waits_for_the_cache_probe_too_and_a_small_one_does_not():
    # the reference at its floor throughout; the probe (floor 0.50) 1.2x between blocks 1 and 2,
    # 1.02x around block 3: a probed graph keeps block 3, an unprobed one block 1 at once
    settings = {"run_gate": {"tolerance": 0.05, "max_wait_s": 10, "cache_probe_megabytes": 12}}
    reference = itertools.repeat(0.10)
    probe = iter([0.50, 0.60, 0.51, 0.51])
    _, timer, taken = planted([], [5.0, 5.1, 4.0])
    gate = RunGate(settings, lambda: next(reference), lambda: next(probe))
    assert gate.probes(12 * 2**20) and not gate.probes(12 * 2**20 - 1)
    result = gate.timed_runs(None, 2, timer, probed=True)
    assert result["runs_ms"] == [4.0, 4.0] and taken == [5.0, 5.1, 4.0]
    assert result["run_gate_blocks"] == 3 and result["run_gate_probed"] is True
    assert result["run_gate_ratio"] == pytest.approx(1.02) and result[REFERENCE_SLOW_COLUMN] is False
    _, timer, _ = planted([], [5.0])
    result = gate.timed_runs(None, 2, timer)  # the probe not looked at: nothing left to plant
    assert result["runs_ms"] == [5.0, 5.0] and result["run_gate_probed"] is False


def test_without_cache_probe_megabytes_no_graph_is_probed():
    gate = RunGate({"run_gate": {"tolerance": 0.05}}, lambda: 0.1, lambda: 0.5)
    assert not gate.probes(2**40)
    without_probe = RunGate({"run_gate": {"tolerance": 0.05, "cache_probe_megabytes": 1}}, lambda: 0.1)
    assert not without_probe.probes(2**40)


def test_short_blocks_pool_the_runs_of_the_blocks_whose_looks_were_fast():
    # block_ms 5 and runs of 2 ms: the first block is one run, then two a block (5 // 2); the
    # looks around the third block (1.0x, 1.3x) and the fourth (1.3x, 1.0x) reject them, and
    # their slow runs (3.0, 3.1) are not among the pass's
    settings = {"run_gate": {"tolerance": 0.05, "max_wait_s": 10, "block_ms": 5}}
    reference, timer, taken = planted([0.10, 0.10, 0.10, 0.13, 0.10, 0.10], [2.0, 2.1, 3.0, 3.1, 2.2])
    result = RunGate(settings, reference).timed_runs(None, 5, timer)
    assert timer.sizes == [1, 2, 2, 2, 2] and taken == [2.0, 2.1, 3.0, 3.1, 2.2]
    assert result["runs_ms"] == [2.0, 2.1, 2.1, 2.2, 2.2]
    assert result["run_gate_blocks"] == 5 and result[REFERENCE_SLOW_COLUMN] is False
    assert result["run_gate_ratio"] == pytest.approx(1.0) and result["run_gate_wait_s"] > 0


def test_short_blocks_size_themselves_by_the_graphs_fastest_run():
    # runs of 0.5 ms and block_ms 5: one run, then the remaining nine in one block; runs of
    # 20 ms: one run a block
    settings = {"run_gate": {"tolerance": 0.05, "block_ms": 5}}
    _, timer, _ = planted([], [0.5, 0.5])
    RunGate(settings, lambda: 0.1).timed_runs(None, 10, timer)
    assert timer.sizes == [1, 9]
    _, timer, _ = planted([], [20.0] * 3)
    result = RunGate(settings, lambda: 0.1).timed_runs(None, 3, timer)
    assert timer.sizes == [1, 1, 1] and result["runs_ms"] == [20.0] * 3


def test_a_limit_reached_after_some_blocks_counted_keeps_those_runs_and_the_pass_is_clean():
    # block 1 (one run) counted; then the reference stays at 1.5x: the pass's wait limit (none
    # allowed) ends it at the first rejected block with one run, not marked reference_slow
    looks = itertools.chain([0.10, 0.10], itertools.repeat(0.15))
    settings = {"run_gate": {"tolerance": 0.05, "max_wait_s": 0, "block_ms": 5}}
    result = RunGate(settings, lambda: next(looks)).timed_runs(
        None, 5, lambda interpreter, runs: [2.0] * runs
    )
    assert result["runs_ms"] == [2.0] and result[REFERENCE_SLOW_COLUMN] is False
    assert result["run_gate_blocks"] == 2


def test_a_spent_budget_leaves_one_block_per_pass():
    looks = itertools.chain([0.10], itertools.repeat(0.2))
    gate = RunGate({"run_gate": {"tolerance": 0.05, "max_wait_s": 5, "budget_s": 0}}, lambda: next(looks))
    result = gate.timed_runs(None, 1, lambda interpreter, runs: [1.0] * runs)
    assert result["run_gate_blocks"] == 1 and result[REFERENCE_SLOW_COLUMN] is True
    # with short blocks too: the one block is the whole pass, not a single run
    gate = RunGate({"run_gate": {"tolerance": 0.05, "budget_s": 0, "block_ms": 5}}, lambda: next(looks))
    result = gate.timed_runs(None, 4, lambda interpreter, runs: [1.0] * runs)
    assert result["run_gate_blocks"] == 1 and result["runs_ms"] == [1.0] * 4


def test_the_campaign_summary_counts_the_waits_inside_passes():
    timings = pd.DataFrame(
        [
            {"device": "host", "id": "a", "role": "component", "runs_ms": [1.0], "waited_s": 0.5},
            {"device": "host", "id": "a", "role": "component", "runs_ms": [1.0], "run_gate_wait_s": 0.25},
            {
                "device": "host",
                "id": "b",
                "role": "component",
                "runs_ms": [2.0],
                "waited_s": 1.0,
                "run_gate_wait_s": 0.125,
            },
            {"device": "host", "id": "b", "role": "component", "runs_ms": [2.0]},
        ]
    )
    [row] = campaign_summary(timings, {"statistic": "min", "repeats": 2}).to_dict("records")
    assert row["wait_s"] == pytest.approx(1.875) and row["passes_waited"] == 3
