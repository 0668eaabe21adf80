"""What a pass waits for and what is looked at around it: the reference gate and the other
processes (Gate), the reference around a pass's timed runs (RunGate, the host), and the shared
cache's state (CacheProbe). They serve fdi.profile.devices.run_benchmark; the vocabulary of
clean passes is fdi.timings'."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from fdi.timings import CACHE_PROBE_COLUMN, CACHE_SLOW_COLUMN, REFERENCE_SLOW_COLUMN, pass_value, quiet_floor

GATE_FIRST_WAIT_S = 0.25  # the gate's first wait; it doubles up to GATE_LONGEST_WAIT_S
GATE_LONGEST_WAIT_S = 4.0
GATE_SHORTEST_WAIT_S = 0.01  # a wait the limits leave shorter than this is not taken
# The cache probe's invocations in one quick timing (its fastest counts). After a pass over a
# 14-60 MiB graph the probe's weights take several runs to be cache-resident again: the fastest
# of its first 5 runs was 1.21x its floor at the median here, of 10 1.04x, of 15 1.03x (max 1.05x).
CACHE_PROBE_RUNS = 15


class Gate:
    """What a pass waits for. The reference graph: its floor in the job is the machine's quiet
    state, and a timing more than `gate_tolerance` above it means a spell the OS does not show.
    Other processes running (where the device can tell): a spell the OS does show. Both are
    waited out, within `gate_max_wait_s` before one pass and a job's budget of `wait_budget_s`;
    while other processes run, the budget also grows by `wait_budget_share` of the time spent
    measuring so far (so a job on a machine busy a third of the time can wait all of it out, and
    one never free of other processes at most doubles). The reference's waits get no such share:
    on this project's VM longer waits for it chased a second, faster speed of the machine and
    did not make the tables better (docs/results/2026-11-30-others-gate.md)."""

    def __init__(self, settings: dict[str, Any], kept: list[dict[str, Any]], statistic: str) -> None:
        tolerance = settings.get("gate_tolerance")
        self.tolerance = None if tolerance is None else float(tolerance)
        self.max_wait_s = float(settings.get("gate_max_wait_s", 30.0))
        self.budget_s = float(settings.get("wait_budget_s", 300.0))
        self.budget_share = float(settings.get("wait_budget_share", 0.0) or 0.0)
        self.started = time.monotonic()
        self.spent_s = 0.0
        self.values = [pass_value(r, statistic) for r in kept]
        self.count = len(self.values)
        self.others = 0  # other processes seen running at the last look

    @property
    def budget_left_s(self) -> float:
        """Seconds the job may still wait; more while other processes are running."""
        measuring = max(0.0, time.monotonic() - self.started - self.spent_s)
        share = self.budget_share if self.others > 0 else 0.0
        return self.budget_s + share * measuring - self.spent_s

    def add(self, value: float) -> None:
        self.values.append(value)
        self.count += 1

    @property
    def floor(self) -> float:
        """The machine's quiet state by the reference (fdi.timings.quiet_floor)."""
        return quiet_floor(self.values)

    @property
    def ratio(self) -> float:
        """The last reference timing over the floor (NaN before any)."""
        return self.values[-1] / self.floor if self.values else float("nan")

    def _spell(self, time_reference: Any, others: Any) -> bool:
        """Whether the machine is in a spell by the last looks (the reference only if just timed)."""
        if others is not None:
            self.others = others()
        slow = time_reference is not None and self.tolerance is not None and self.ratio > 1 + self.tolerance
        return slow or self.others > 0

    def wait_out_spell(self, time_reference: Any, others: Any = None) -> float:
        """Wait while the reference (if `time_reference` is given: it was just timed) runs slow
        or `others()` sees other processes running, within the limits; the seconds waited."""
        waited, pause = 0.0, GATE_FIRST_WAIT_S
        while self._spell(time_reference, others):
            pause = min(pause, self.max_wait_s - waited, self.budget_left_s)
            if pause < GATE_SHORTEST_WAIT_S:  # a limit reached
                break
            slept = time.monotonic()
            time.sleep(pause)
            slept = time.monotonic() - slept  # what the sleep really took counts, not what was asked
            waited += slept
            self.spent_s += slept
            pause = min(2 * pause, GATE_LONGEST_WAIT_S)
            if time_reference is not None:
                time_reference()
        return waited


class CacheProbe:
    """The cache probe before a pass over a large graph (run_benchmark): its time, and whether
    it ran more than `cache_probe.tolerance` over its floor in this job so far. Off unless the
    device's settings have `cache_probe` and a probe graph is given."""

    def __init__(
        self, settings: dict[str, Any], graph: Path | None, kept: list[dict[str, Any]], session: Any
    ) -> None:
        self.settings = settings.get("cache_probe") or {}
        self.graph = None if graph is None or not self.settings else Path(graph)
        self.min_bytes = float(self.settings.get("min_graph_megabytes", 0.0)) * 2**20
        self.session = session
        # its timings in this job so far, those an interrupted run kept included
        self.times = [
            float(r[CACHE_PROBE_COLUMN])
            for r in kept
            if r.get(CACHE_PROBE_COLUMN) is not None and not np.isnan(r[CACHE_PROBE_COLUMN])
        ]

    def before(self, graph: Path) -> dict[str, Any]:
        """The probe's columns for a pass over `graph` about to be taken ({} if not probed)."""
        if self.graph is None or graph.stat().st_size < self.min_bytes:
            return {}
        quick_time = getattr(self.session, "quick_time", None)  # else a full pass
        timing = (
            quick_time(self.graph, runs=CACHE_PROBE_RUNS) if quick_time else self.session.time(self.graph)
        )
        self.times.append(pass_value(timing, "min"))
        slow = self.times[-1] > quiet_floor(self.times) * (1 + float(self.settings["tolerance"]))
        return {CACHE_PROBE_COLUMN: self.times[-1], CACHE_SLOW_COLUMN: slow}


class RunGate:
    """The reference gate inside a pass (`run_gate` in a host's settings): the pass's timed runs
    count only when the reference, timed just before and just after them, ran within
    `tolerance` of its floor; otherwise the runs are taken again, back to back (busy, so the
    graph stays warm), for at most `max_wait_s`, and at most `budget_s` over the job. With
    `block_ms` the runs are taken and counted in short blocks (timed_runs says why).

    Why inside the pass and without sleeping: on this project's VMs (2026-12-03, AMD EPYC family
    25) the machine flips between a fast state and one 1.3-1.5x slower for the layers every few
    tenths of a second (spells median 0.15 s, longest ~2 s; the slow state 45-75% of the time
    with nothing else running). A pass's 20 runs last milliseconds, so each falls in one state,
    and two passes in the slow state agree and settle a graph there: the later check job timed a
    fifth of the GRU and LSTM test layers 15-30% faster than the campaign. The reference (a
    kept interpreter, 5 invocations, under a millisecond) sees the same state, only less (1.10x
    for its 1.3x; the ratios' correlation over 20 ms windows 0.97-0.98), so a pass-level gate at
    15% would not fire; at 5%, with its timing just before and after the runs, 1-2% of the accepted
    blocks were slow instead of 26-76% (docs/results/2026-12-03-run-gate.md).

    Graphs of `cache_probe_megabytes` and more (FC layers of 12-64 MiB here) have a slow state
    of their own, the shared L3 held in part by others, which the small reference does not see:
    of the blocks of FC graphs of 17-30 MiB with the reference within 5% around them, 19-50%
    still ran > 10% over the graph's floor (quiet and under benchmarks/disturb.py); with the
    cache probe (24 MiB of FC weights) within 5% as well, 0-9%. A 62 MiB graph, larger than the
    cache: 51-76% and 8-43%. Off by default all the same: in a quiet campaign with it FC scored
    82.0% within ±10% with 24 graphs unsettled, without it 85.2% and 3, since a slow phase of
    minutes outlasts a job's rounds (docs/results/2026-12-03-probe-gate.md)."""

    def __init__(self, settings: dict[str, Any], reference_ms: Any, probe_ms: Any = None) -> None:
        gate = settings["run_gate"]
        self.tolerance = float(gate["tolerance"])
        self.max_wait_s = float(gate.get("max_wait_s", 1.0))
        block_ms = gate.get("block_ms")  # a block's length (None: all the runs a pass needs)
        self.block_ms = None if block_ms is None else float(block_ms)
        self.budget_s = float(gate.get("budget_s", float("inf")))
        megabytes = gate.get("cache_probe_megabytes")
        # graphs of at least this many bytes are bracketed by the cache probe too (None: none)
        self.probe_bytes = None if megabytes is None or probe_ms is None else float(megabytes) * 2**20
        self.looks = {"reference": (reference_ms, []), "cache_probe": (probe_ms, [])}
        self.spent_s = 0.0

    @property
    def times(self) -> list[float]:
        """The reference's quick timings so far (ms)."""
        return self.looks["reference"][1]

    def probes(self, graph_bytes: int) -> bool:
        """Whether a graph file of `graph_bytes` is bracketed by the cache probe as well."""
        return self.probe_bytes is not None and graph_bytes >= self.probe_bytes

    def _ratio(self, name: str = "reference") -> float:
        """One quick timing of a look (the reference or the cache probe) over its floor."""
        time_ms, times = self.looks[name]
        times.append(float(time_ms()))
        return times[-1] / quiet_floor(times)

    def _look(self, probed: bool) -> float:
        """The slower of the reference's and (for a probed graph) the cache probe's ratios."""
        return max(self._ratio(), self._ratio("cache_probe")) if probed else self._ratio()

    def timed_runs(
        self, interpreter: Any, runs: int, timed_invocations: Any, probed: bool = False
    ) -> dict[str, Any]:
        """`runs` timed invocations of a warm interpreter, gated, in blocks: each block's
        runs count only if the looks just before and just after it (the reference's, and for a
        `probed` graph of at least `cache_probe_megabytes` the cache probe's too) are within the
        tolerance; a block's after-look is the next one's before-look. Blocks are taken back to
        back until `runs` runs counted, at most `max_wait_s` spent on rejected ones per pass
        and `budget_s` per job. A block lasts about `block_ms` (its run count from the fastest
        run so far; the first is one run); without `block_ms`, or once the job's budget is
        spent, a block is all the runs still needed, so one accepted block is the whole pass.

        Returns the counted runs (fewer than `runs` if a limit came first; if none counted, the
        least slow blocks' runs, marked `reference_slow`), how many blocks were taken, the
        seconds spent on rejected ones and the slowest look of the counted blocks (of the kept
        ones if none counted).

        Why short blocks: a slow spell here lasts a median 0.15 s, so a block of 20 runs of a
        graph that takes milliseconds a run rarely has both its looks in the fast state (with
        whole blocks, passes over 1-20 ms graphs took 4-9 blocks and 28-57% of them ended at
        the limit), and a rejected block wastes all its runs; a short one wastes a few. Off by
        default all the same: under the generator and in slow phases short blocks left FC's
        large graphs further over their floor (31-35% of its check graphs > 10% over, whole
        blocks 7-18%; docs/results/2026-12-03-short-blocks.md)."""
        counted: list[float] = []
        counted_ratios: list[float] = []
        rejected: list[tuple[float, list[float]]] = []
        # short blocks while the job may still wait; once its budget is spent, whole passes
        waited, blocks, fastest = 0.0, 0, float("inf")
        size = 1 if self.block_ms is not None and self.spent_s < self.budget_s else runs
        before = self._look(probed)
        while len(counted) < runs:
            block_started = time.monotonic()
            block = timed_invocations(interpreter, size)
            after = self._look(probed)
            worst = max(before, after)
            blocks += 1
            fastest = min(fastest, *block)
            if worst <= 1 + self.tolerance:
                counted += block
                counted_ratios.append(worst)
            else:
                rejected.append((worst, block))
                waited += time.monotonic() - block_started
                if waited >= self.max_wait_s or self.spent_s + waited >= self.budget_s:
                    break
            before = after
            size = runs - len(counted)
            if self.block_ms is not None:
                size = max(1, min(size, int(self.block_ms / max(fastest, 1e-6))))
        self.spent_s += waited
        slow = not counted
        if slow:  # the least slow blocks' runs, up to `runs`
            rejected.sort(key=lambda kept: kept[0])
            for ratio, block in rejected:
                counted += block
                counted_ratios.append(ratio)
                if len(counted) >= runs:
                    break
        return {
            "runs_ms": counted[:runs],
            "run_gate_blocks": blocks,
            "run_gate_wait_s": waited,
            "run_gate_ratio": max(counted_ratios),
            "run_gate_probed": probed,
            REFERENCE_SLOW_COLUMN: slow,
        }
