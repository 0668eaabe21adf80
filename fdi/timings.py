"""The timing vocabulary every stage shares: a pass's value, when a graph's time has settled, and
what a campaign went through. It imports nothing from fdi, so any stage may import it.

Why "settled" means what it does. On this project's VMs (and a phone without root) the machine is
slow in spells of seconds to minutes that the OS does not show; a pass (one interpreter, a warm-up,
`runs` invocations) lasts milliseconds, so it falls inside one spell, and the fastest run of a
pass does not escape it. Disturbance only ever slows a pass down: the undisturbed time is the
floor of a graph's passes. A floor seen once may be a pass that merely looked fast, so a graph
has settled when its two fastest passes, taken in different rounds, agree within the tolerance.
Two slow passes that agree with each other are not enough while a faster one stands apart: the
faster one is nearer the truth, and more passes are taken until it is confirmed. Only at the cap
is a lone fast pass set aside for the fastest pair that agrees, and only where it is at most
RARE_FAST below that pair: the machine's rare fast moments are that small, while its slow state is
not (2026-12-01, a quiet fresh clone's compressed networks: a DeepSense network's passes 0.46,
0.68, 0.73, 0.70, 0.71, 0.71 ms, then 0.43-0.46 ms in a later job; the old rule kept 0.70). A
fast pass further below waits for its confirmation up to CONFIRM_FACTOR x the cap; a graph that
gets none is not settled, and its time is its fastest pass (see settled_pair, passes_wanted).

Passes shared with other processes. Where the device can tell (the host: other processes running
just before and just after the pass), a pass taken while something else ran is not *clean*: a
co-runner slows a memory-bound graph's every run alike, so two such passes agree with each other
and would settle a graph at a slow time. Once a graph has two clean passes, its time rests on
clean passes only (see kept_passes); a pass without the record (other devices, older timings)
counts as clean.

Passes taken while the shared cache was not ours. A graph whose weights fill much of the
last-level cache (on this project's VMs 12 MiB and up, of a 32 MiB L3 shared with other tenants)
runs 1.1-1.6x slower, for seconds to minutes at a time, while something outside the VM holds part
of that cache; the run queue does not show it, and the small reference graph (it fits in L2) is
not slowed. The cache probe, a fixed 24 MiB fully-connected graph timed just before such a pass,
is (docs/instrument.md). A pass whose probe ran more than the device's `cache_probe.tolerance`
over the probe's floor is not clean either: the graph takes more passes, and its time rests on
the probe-clean ones once it has two (cache_slow_flags gives the flags; the floor is the whole
campaign's where its timings are read together, so a job spent entirely in the slow state is
still seen as one).

Passes the reference calls slow. With a device's `clean_reference_tolerance`, a pass whose
reference timing just before it ran more than that over the reference's floor in the job is not
clean either (`reference_slow`). On a day when this VM spends most of a job in its slow state
(2026-12-01, AMD VM: the reference's median +34-91% over its floor in most jobs of a quiet fresh
clone), two passes in that state agree and settle a graph there; the same graphs timed right
after a fast reference timing reproduced within 1-7% over minutes where plain passes moved
32-97% (docs/results/2026-12-01-slow-days.md). Graphs whose weights evict the reference from the
cache (large FC layers) make it look slow whatever the machine does: they take more passes and
fall back to all of them.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

REFERENCE_ID = "reference"  # the id under which the reference graph's timings (the gate) are stored
CACHE_PROBE_COLUMN = "cache_probe_ms"  # the cache probe's time just before a pass (NaN: not probed)
CACHE_SLOW_COLUMN = "cache_slow"  # whether that probe says the shared cache was not ours
REFERENCE_SLOW_COLUMN = "reference_slow"  # whether the reference just before a pass ran slow
FLOOR_QUANTILE = 0.05  # a fixed graph's quiet time (the reference's, the probe's): this quantile ...
FLOOR_AFTER = 20  # ... of its timings once it has been timed this often (before: its fastest)
RARE_FAST = 0.15  # the machine's rare moments faster than its quiet state: at most this much
CONFIRM_FACTOR = 2  # passes up to this x max_passes while a fast pass waits for its confirmation
IDLE_ID = "idle"  # the id and role of the idle windows recorded as the energy baseline


def pass_value(record: dict[str, Any], statistic: str) -> float:
    """One pass's time (ms) by the device's statistic: of every run where the device gives them,
    else the statistic the device reports itself (benchmark_model: mean and min, no median)."""
    runs = np.asarray(record.get("runs_ms") if record.get("runs_ms") is not None else [], dtype=float)
    if len(runs):
        return float({"mean": np.mean, "median": np.median, "min": np.min}[statistic](runs))
    reported = {"mean": "avg_ms", "min": "min_ms"}.get(statistic)
    if reported and record.get(reported) is not None:
        return float(record[reported])
    raise ValueError(
        f"the device reports no {statistic} for {record.get('id')}: set its statistic to mean or min"
    )


def kept_passes(count: int, clean: list[bool] | None = None) -> list[int]:
    """Indices of the passes a graph's time may rest on: its clean passes once it has two, else
    all of them (a device that never quieted still yields a time, counted as co-run)."""
    if clean is None:
        return list(range(count))
    quiet = [i for i in range(count) if clean[i]]
    return quiet if len(quiet) >= 2 else list(range(count))


def settled_pair(
    values: list[float], tolerance: float | None, cap: int | None = None, clean: list[bool] | None = None
) -> tuple[int, int] | None:
    """The two passes a graph's time rests on, or None while it has not settled.

    Settled: the two fastest passes agree within `tolerance` (relative to the faster). Once
    `cap` passes are taken, a faster pass that no other pass reproduced is set aside, and the
    fastest pair that agrees is taken, provided the fastest pass is at most RARE_FAST below it:
    the machine has rare moments faster than its usual quiet state (here ~15% for a second or
    two), and such a moment is not a time a user can reproduce; a pass further below is the
    quiet state seen once between slow spells, and the graph stays unsettled. Without a
    tolerance the two fastest passes settle. With `clean` (one flag per pass), only the passes
    kept_passes keeps take part; the cap still counts every pass taken."""
    kept = kept_passes(len(values), clean)
    if len(kept) < 2:
        return None
    ordered = [kept[int(i)] for i in np.argsort([values[i] for i in kept], kind="stable")]
    if tolerance is None or values[ordered[1]] <= values[ordered[0]] * (1 + float(tolerance)):
        return ordered[0], ordered[1]
    if cap is None or len(values) < cap:
        return None
    for faster, slower in itertools.pairwise(ordered):
        if values[faster] > values[ordered[0]] * (1 + RARE_FAST):
            return None
        if values[slower] <= values[faster] * (1 + float(tolerance)):
            return faster, slower
    return None


def settled_time(
    values: list[float], tolerance: float | None, cap: int | None = None, clean: list[bool] | None = None
) -> tuple[float, bool]:
    """(time, settled): the mean of the pair `settled_pair` finds, else the fastest kept pass (not
    settled). A single pass is settled only where no tolerance asks for a second."""
    pair = settled_pair(values, tolerance, cap, clean)
    if pair is not None:
        return float(np.mean([values[pair[0]], values[pair[1]]])), True
    fastest = min(values[i] for i in kept_passes(len(values), clean))
    return float(fastest), len(values) == 1 and tolerance is None


def passes_wanted(values: list[float], settings: dict[str, Any], clean: list[bool] | None = None) -> bool:
    """Whether a graph needs another pass: fewer than `repeats` (clean ones, where `clean` is
    given), or not settled within `agree_tolerance`, and fewer than `max_passes` taken; past
    `max_passes`, up to CONFIRM_FACTOR x as many while its fastest pass, more than RARE_FAST
    below every agreeing pair, waits for a second one near it (settled_pair)."""
    minimum = int(settings["repeats"])
    if len(values) < minimum:
        return True
    tolerance = settings.get("agree_tolerance")
    cap = int(settings.get("max_passes", minimum))
    if len(values) >= cap * CONFIRM_FACTOR:
        return False
    if len(values) >= cap:
        return tolerance is not None and _fast_pass_unconfirmed(values, float(tolerance), cap, clean)
    if clean is not None and sum(clean) < minimum:
        return True
    if tolerance is None:
        return False
    return settled_pair(values, float(tolerance), cap, clean) is None


def _fast_pass_unconfirmed(values: list[float], tolerance: float, cap: int, clean: list[bool] | None) -> bool:
    """At the cap: no pair settles because the fastest pass is too far below the agreeing ones
    (not because no two passes agree at all: that graph is merely noisy and ends at the cap)."""
    if settled_pair(values, tolerance, cap, clean) is not None:
        return False
    kept = sorted(values[i] for i in kept_passes(len(values), clean))
    return any(b <= a * (1 + tolerance) for a, b in itertools.pairwise(kept))


def pass_clean(record: dict[str, Any]) -> bool:
    """Whether no other process was seen running around the pass, and neither the cache probe nor
    (where judged) the reference ran slow just before it (unknown counts as clean)."""
    others = record.get("others_running")
    alone = others is None or bool(np.isnan(others)) or others <= 0
    return alone and not _flag(record.get(CACHE_SLOW_COLUMN)) and not _flag(record.get(REFERENCE_SLOW_COLUMN))


def _flag(value: Any) -> bool:
    """A recorded yes/no that may be missing (None, NaN: no)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and bool(value)


def quiet_floor(timings_ms: Any) -> float:
    """A fixed graph's quiet time from its timings (the reference's, the cache probe's): the
    fastest while there are few, then their FLOOR_QUANTILE (one rare fast timing must not make
    every other moment a spell). NaNs are skipped."""
    values = np.asarray(timings_ms, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan")
    if len(values) < FLOOR_AFTER:
        return float(values.min())
    return float(np.quantile(values, FLOOR_QUANTILE))


def cache_slow_flags(
    timings: pd.DataFrame, settings: dict[str, Any], floor_from: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`timings` with `cache_slow` recomputed per device against the floor of every probe timing
    in the frame, or in `floor_from` and the frame together (a whole campaign's, where the caller
    reads them together): a job's own floor cannot tell that the whole job ran in the slow
    state. Unprobed passes get NaN (clean)."""
    tolerance = (settings.get("cache_probe") or {}).get("tolerance")
    if CACHE_PROBE_COLUMN not in timings or tolerance is None:
        return timings
    timings = timings.copy()
    pool = timings if floor_from is None else pd.concat([timings, floor_from], ignore_index=True)
    slow = pd.Series(np.nan, index=timings.index, dtype=object)
    for device, group in timings.groupby("device"):
        probed = group[CACHE_PROBE_COLUMN].astype(float)
        floor = quiet_floor(pool.loc[pool.device == device].get(CACHE_PROBE_COLUMN, pd.Series(dtype=float)))
        judged = probed.notna()
        slow[judged[judged].index] = (probed[judged] > floor * (1 + float(tolerance))).to_numpy()
    timings[CACHE_SLOW_COLUMN] = slow
    return timings


def campaign_summary(timings: pd.DataFrame, settings: dict[str, Any] | None = None) -> pd.DataFrame:
    """What one device's campaign went through, one row per device: graphs, passes taken (and
    retaken beyond `repeats`), passes that waited for the machine to quiet (the reference gate,
    other processes) and the time spent waiting, passes other processes shared, passes the cache
    probe or the reference called slow, the graphs whose time rests on passes that were not clean
    (any cause) and those among them that rest on cache-slow ones, the reference's spread over its floor
    (median, 90th percentile, max), and the graphs that never settled."""
    settings = settings or {}
    statistic = settings.get("statistic", "median")
    tolerance = settings.get("agree_tolerance")
    repeats = int(settings.get("repeats", 1))
    cap = settings.get("max_passes")
    if "role" in timings:
        timings = timings[timings.role != IDLE_ID]
    timings = cache_slow_flags(timings, settings)
    rows = []
    for device, group in timings.groupby("device", sort=True):
        records = group.to_dict("records")
        group = group.assign(
            value=[pass_value(r, statistic) for r in records], clean=[pass_clean(r) for r in records]
        )
        components = group[group.id != REFERENCE_ID]
        references = group[group.id == REFERENCE_ID].value.to_numpy()
        unsettled = sorted(
            graph_id
            for graph_id, passes in components.groupby("id")
            if not settled_time(passes.value.tolist(), tolerance, cap, passes.clean.tolist())[1]
        )
        cache_slow = (
            components[CACHE_SLOW_COLUMN].eq(True)
            if CACHE_SLOW_COLUMN in components
            else pd.Series(False, index=components.index)
        )
        others = components.get("others_running", pd.Series(np.nan, index=components.index)).fillna(0) > 0
        unjudged = pd.Series(False, index=components.index)
        reference_slow = components.get(REFERENCE_SLOW_COLUMN, unjudged).eq(True)
        kept = {
            graph_id: passes.iloc[kept_passes(len(passes), passes.clean.tolist())].index
            for graph_id, passes in components.groupby("id")
        }
        co_run = sorted(graph_id for graph_id, index in kept.items() if not components.clean[index].all())
        resting_on_cache_slow = [graph_id for graph_id, index in kept.items() if cache_slow[index].any()]
        resting_on_reference_slow = [g for g, index in kept.items() if reference_slow[index].any()]
        waited = sum(  # before a pass (Gate) and inside it (RunGate, on rejected blocks)
            components[column].fillna(0) if column in components else pd.Series(0.0, index=components.index)
            for column in ("waited_s", "run_gate_wait_s")
        )
        ratio = references / references.min() if len(references) else np.array([np.nan])
        per_graph = components.groupby("id").size()
        rows.append(
            {
                "device": device,
                "graphs": int(per_graph.size),
                "passes": len(components),
                "passes_beyond_repeats": int((per_graph - repeats).clip(lower=0).sum()),
                "passes_waited": int((waited > 0).sum()),
                "passes_co_run": int(others.sum()),
                "passes_cache_slow": int(cache_slow.sum()),
                "passes_reference_slow": int(reference_slow.sum()),
                "graphs_co_run": len(co_run),
                "graphs_cache_slow": len(resting_on_cache_slow),
                "graphs_reference_slow": len(resting_on_reference_slow),
                "wait_s": float(waited.sum()),
                "reference_timings": len(references),
                "reference_p50": float(np.median(ratio) - 1),
                "reference_p90": float(np.quantile(ratio, 0.9) - 1),
                "reference_max": float(ratio.max() - 1),
                "unsettled": len(unsettled),
                "unsettled_ids": " ".join(unsettled),
            }
        )
    return pd.DataFrame(rows)
