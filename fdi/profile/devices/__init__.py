"""Device kinds behind one small protocol, and the campaign loop that checkpoints every timing.

A kind module offers `session(settings)`: a context manager yielding an object with
`fingerprint` (a dict) and `time(graph) -> dict` (one pass over one graph: `runs_ms`, the time of
every run, plus any statistics the device reports itself). Device-specific code lives only in
this package, and kind modules are imported lazily, so timing on one kind never loads another
kind's dependencies.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from fdi.atomic import replacing
from fdi.profile.devices.energy_probes import energy_settings, open_probe
from fdi.profile.devices.gate import CacheProbe, Gate
from fdi.timings import (
    CONFIRM_FACTOR,
    IDLE_ID,
    REFERENCE_ID,
    REFERENCE_SLOW_COLUMN,
    campaign_summary,
    pass_clean,
    pass_value,
    passes_wanted,
)

__all__ = [
    "IDLE_ID",
    "KINDS",
    "REFERENCE_ID",
    "device_module",
    "pass_value",
    "passes_wanted",
    "run_benchmark",
]

KINDS = {kind: f"fdi.profile.devices.{kind}" for kind in ("host", "adb", "ssh")}


def device_module(kind: str) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown device kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    return importlib.import_module(KINDS[kind])


CHECKPOINT_S = 2.0  # timings are written to the partial file at most this far apart


def _partial_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".parquet") + ".partial.parquet")


def _save_partial(records: list[dict[str, Any]], partial: Path) -> None:
    """Write the timings taken so far; all at once, so a kill mid-write keeps the previous file."""
    with replacing(partial) as temporary:
        pd.DataFrame(records).to_parquet(temporary, index=False)


def _resume(partial: Path, settings_json: str) -> list[dict[str, Any]]:
    """Timings a previous, interrupted run of the same job measured with the same settings."""
    if not partial.exists():
        return []
    kept = pd.read_parquet(partial)
    if kept.empty or (kept.settings != settings_json).any():
        partial.unlink()
        return []
    return kept.to_dict("records")


def run_benchmark(
    device: str,
    settings: dict[str, Any],
    graphs: Path | list[Path],
    out: Path,
    reference: Path | None = None,
    cache_probe: Path | None = None,
) -> pd.DataFrame:
    """Time every graph (a directory of `.tflite`, or a list) on one device; write Parquet.

    The instrument measures through disturbance (see fdi.timings for why). Every graph gets
    `repeats` passes in rounds (all graphs, then all again, so a graph's passes are taken at
    different times); a graph whose two fastest passes do not yet agree within `agree_tolerance`
    gets further rounds, up to `max_passes` (twice that while a lone fast pass waits for its
    confirmation, fdi.timings); a round starts at least `min_pass_gap_s` after the
    previous one did, so that even a short job's passes of one graph sample different machine
    states. If `reference` is given, that fixed graph is timed every `reference_every` passes
    (stored under the id "reference") and gates the next pass: while it runs more than
    `gate_tolerance` slower than its fastest in this job, the machine is in a spell, and the job
    waits (0.25 s, doubling up to 4 s) and times it again, at most `gate_max_wait_s` before one
    pass and `wait_budget_s` over the job, so a device that never quiets still ends. A session
    with a `quick_time(graph)` method (the host: a kept interpreter, a few invocations) times the
    reference cheaply; others take a full pass. Each component row records `waited_s` and
    `gate_ratio` (the reference's last timing over its floor). With `clean_reference_tolerance`,
    a pass whose reference ran more than that over its floor is `reference_slow`, not clean: the
    graph takes further rounds until two clean passes, up to `max_passes`, as for the cache probe.
    With `run_gate` (the host), a pass's timed runs themselves are bracketed by two quick timings
    of the reference and taken again while either runs over `run_gate.tolerance`
    (fdi.profile.devices.gate.RunGate); a pass that never got a block in is `reference_slow`.

    If `cache_probe` is given and the device's settings have `cache_probe`, that fixed graph is
    timed (its fastest of a few runs) just before every pass over a graph file of at least
    `min_graph_megabytes`: the pass records `cache_probe_ms`, and `cache_slow` where the probe ran
    more than `tolerance` over its floor in this job. Such a pass is not clean (fdi.timings): the
    graph takes further rounds until two clean passes, up to `max_passes`. Nothing waits for the
    cache: its slow state lasts minutes here, longer than any wait a job can afford.

    Every row carries the device name, its fingerprint (as JSON) and its wall-clock window (UTC
    seconds since the epoch). Timings are checkpointed beside `out` as they are taken (at most
    CHECKPOINT_S apart); if the job fails (a phone unplugged, say), its rerun measures only the rest.
    """
    module = device_module(settings["kind"])
    if isinstance(graphs, list):
        # A list is timed in its own order (duplicates dropped): graphs compared with each other
        # (an original, its copy, its expansions) sit side by side, seconds apart in every round.
        graph_list = list(dict.fromkeys(Path(g) for g in graphs))
    else:
        graph_list = sorted(Path(graphs).glob("*.tflite"))
    if not graph_list:
        raise FileNotFoundError(f"{graphs}: no .tflite graphs to benchmark")
    if any(g.stem in (REFERENCE_ID, IDLE_ID) for g in graph_list):
        raise ValueError(f"a graph may not be named {REFERENCE_ID!r} or {IDLE_ID!r}: those ids are taken")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(out)
    settings_json = json.dumps(settings, sort_keys=True)
    records = _resume(partial, settings_json)
    statistic = settings.get("statistic", "median")
    values: dict[str, list[float]] = {g.stem: [] for g in graph_list}
    clean: dict[str, list[bool]] = {g.stem: [] for g in graph_list}
    for record in records:
        if record["id"] in values:
            values[record["id"]].append(pass_value(record, statistic))
            clean[record["id"]].append(pass_clean(record))
    if records:
        print(f"{device}: resuming, {len(records)} timings kept from an interrupted run")
    todo = [g for g in graph_list if passes_wanted(values[g.stem], settings, clean[g.stem])]
    if not todo:
        return _finish(records, out, partial, device, settings)
    try:
        passes = (values, clean)
        references = (reference, cache_probe)
        _measure(module, device, settings, settings_json, graph_list, passes, records, partial, references)
    except BaseException:
        if records:  # keep every timing taken, whatever stopped the job
            _save_partial(records, partial)
        raise
    return _finish(records, out, partial, device, settings)


def _measure(
    module: Any,
    device: str,
    settings: dict[str, Any],
    settings_json: str,
    graph_list: list[Path],
    passes: tuple[dict[str, list[float]], dict[str, list[bool]]],
    records: list[dict[str, Any]],
    partial: Path,
    references: tuple[Path | None, Path | None],
) -> None:
    """The rounds of passes (see run_benchmark); appends to `records` and `passes` in place."""
    values, clean = passes
    reference, cache_probe = references
    statistic = settings.get("statistic", "median")
    every = int(settings.get("reference_every", 0) or 0)

    def wanted() -> list[Path]:
        return [g for g in graph_list if passes_wanted(values[g.stem], settings, clean[g.stem])]

    todo = wanted()
    energy = energy_settings(settings)
    with module.session(settings) as session, open_probe(settings, session) as probe:
        fingerprint = json.dumps(
            {**session.fingerprint, **(probe.describe() if probe else {"energy_source": "none"})},
            sort_keys=True,
        )
        last_checkpoint = time.monotonic()

        def record(row: dict[str, Any], start: tuple[float, float], token: Any) -> dict[str, Any]:
            """Append a row with its window (UTC and monotonic) and the probe's reading over it."""
            nonlocal last_checkpoint
            window = {
                "start_unix_s": start[0],
                "end_unix_s": time.time(),
                "start_monotonic_s": start[1],
                "end_monotonic_s": time.monotonic(),
            }
            reading = probe.end(token) if probe else {}
            records.append(
                {**row, **window, **reading, "fingerprint": fingerprint, "settings": settings_json}
            )
            # Checkpoint at most every CHECKPOINT_S: rewriting a growing file after every pass
            # would cost more than the passes themselves on a long job.
            if time.monotonic() - last_checkpoint >= CHECKPOINT_S:
                _save_partial(records, partial)
                last_checkpoint = time.monotonic()
            return records[-1]

        def take(
            graph: Path, graph_id: str, role: str, repeat: int, timer: Any = session.time, **extra: Any
        ) -> dict[str, Any]:
            token = probe.begin() if probe else None
            start = (time.time(), time.monotonic())
            timing = timer(graph)
            runs = len(timing.get("runs_ms") or []) or timing.get("count")
            row = {"device": device, "id": graph_id, "role": role, "repeat": repeat, **timing, "runs": runs}
            row.update(extra)
            taken = record(row, start, token)
            if probe and energy["idle"] == "block" and role == "component":
                idle(taken["end_unix_s"] - taken["start_unix_s"])
            return taken

        def idle(seconds: float) -> None:
            """A window in which nothing of ours runs: the baseline the energy step subtracts."""
            token = probe.begin() if probe else None
            start = (time.time(), time.monotonic())
            time.sleep(seconds)
            repeat = sum(1 for r in records if r["id"] == IDLE_ID)
            record({"device": device, "id": IDLE_ID, "role": IDLE_ID, "repeat": repeat}, start, token)

        if probe and energy["idle"] == "job":
            idle(float(energy["idle_s"]))

        gate = Gate(settings, [r for r in records if r["id"] == REFERENCE_ID], statistic)
        if reference is not None and hasattr(session, "gate_runs_on"):
            # the host's run gate, where its settings ask; large graphs bracketed by the probe too
            session.gate_runs_on(Path(reference), None if cache_probe is None else Path(cache_probe))

        quick_time = getattr(session, "quick_time", None) or session.time
        # Other processes running beside the job (where the device can tell): waited out before
        # a pass, and a pass they shared is not clean (fdi.timings).
        # On by default on the host (measured there); on a phone or board only when asked (a phone's
        # run queue is rarely empty, and no real one was at hand to measure: docs/instrument.md).
        looks = settings.get("wait_for_others", settings.get("kind") == "host")
        others = getattr(session, "others_running", None) if looks else None

        cache = CacheProbe(settings, cache_probe, records, session)

        def component_timer(graph: Path) -> dict[str, Any]:
            """One pass; where `others` can tell, the most other processes seen running just
            before it (the gate's last look) or just after it; the cache probe just before it."""
            probed = cache.before(graph)
            timing = {**session.time(graph), **probed}
            if others is not None:
                timing["others_running"] = max(gate.others, others())
            return timing

        def time_reference() -> None:
            taken = take(Path(reference), REFERENCE_ID, "reference", gate.count, timer=quick_time)
            gate.add(pass_value(taken, statistic))

        # A pass whose reference (timed just before it) ran over its floor by more than this is
        # not clean (fdi.timings): the graph takes further rounds for two clean ones.
        clean_tolerance = settings.get("clean_reference_tolerance")
        since_reference = every  # a reference timing first
        round_number = 0
        progress = tqdm(desc=f"benchmark {device}", unit="pass")
        gap = float(settings.get("min_pass_gap_s", 0) or 0)
        round_started = None
        while todo:
            round_number += 1
            if round_number > 1:
                print(f"{device}: round {round_number}, {len(todo)} graphs not settled yet")
            # A graph's passes must be far enough apart in time to see different machine states:
            # in a short job, the next round waits until `min_pass_gap_s` after the last began.
            if round_started is not None and time.monotonic() - round_started < gap:
                time.sleep(gap - (time.monotonic() - round_started))
            round_started = time.monotonic()
            for graph in todo:
                fresh_reference = reference is not None and every and since_reference >= every
                if fresh_reference:
                    time_reference()
                    since_reference = 0
                waited = gate.wait_out_spell(time_reference if fresh_reference else None, others)
                judged = {}
                if clean_tolerance is not None and fresh_reference:
                    judged[REFERENCE_SLOW_COLUMN] = bool(gate.ratio > 1 + float(clean_tolerance))
                taken = take(
                    graph,
                    graph.stem,
                    "component",
                    len(values[graph.stem]),
                    timer=component_timer,
                    waited_s=waited,
                    gate_ratio=gate.ratio,
                    **judged,
                )
                values[graph.stem].append(pass_value(taken, statistic))
                clean[graph.stem].append(pass_clean(taken))
                since_reference += 1
                progress.update()
            todo = wanted()
        if reference is not None and every:
            time_reference()
        if probe and energy["idle"] == "job":
            idle(float(energy["idle_s"]))
        progress.close()


def _finish(
    records: list[dict[str, Any]], out: Path, partial: Path, device: str, settings: dict[str, Any]
) -> pd.DataFrame:
    timings = pd.DataFrame(records).drop(columns="settings")
    timings.to_parquet(out, index=False)
    partial.unlink(missing_ok=True)
    _report(timings, device, settings)
    return timings


def _report(timings: pd.DataFrame, device: str, settings: dict[str, Any]) -> None:
    """Say in the job's log what the job went through, and name what never settled."""
    summary = campaign_summary(timings, settings)
    if summary.empty:
        return
    row = summary.iloc[0]
    print(
        f"{device}: {row.graphs} graphs, {row.passes} passes ({row.passes_beyond_repeats} beyond the "
        f"{settings.get('repeats')} asked), {row.passes_waited} passes waited {row.wait_s:.1f} s for the "
        f"machine to quiet (the reference, other processes); "
        f"reference over its fastest: median +{row.reference_p50:.1%}, "
        f"90th percentile +{row.reference_p90:.1%}, max +{row.reference_max:.1%}"
    )
    if row.passes_co_run:
        print(
            f"{device}: {row.passes_co_run} passes shared the machine with other processes (the gate waited "
            f"as long as its limits allowed); {row.graphs_co_run} graphs' times rest on such passes "
            f"(no two clean ones within {settings.get('max_passes')} passes): run nothing else beside "
            "a campaign",
            file=sys.stderr if row.graphs_co_run else sys.stdout,
        )
    if row.passes_cache_slow:
        print(
            f"{device}: the cache probe ran slow before {row.passes_cache_slow} passes (other tenants held "
            f"part of the shared cache); {row.graphs_cache_slow} graphs' times rest on such passes"
        )
    if row.get("passes_reference_slow", 0):
        run_gate = settings.get("run_gate") or {}
        tolerance = settings.get("clean_reference_tolerance") or run_gate.get("tolerance")
        print(
            f"{device}: the reference ran slow around {row.passes_reference_slow} passes (more than "
            f"{tolerance} over its floor); {row.graphs_reference_slow} "
            "graphs' times rest on such passes (no two clean ones)"
        )
    if row.unsettled:
        names = row.unsettled_ids.split()
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        print(
            f"{device}: {row.unsettled} graphs never settled (two fastest passes within "
            f"{settings.get('agree_tolerance')}) in {settings.get('max_passes')} passes (up to "
            f"{CONFIRM_FACTOR}x as many where a fast pass waited for its confirmation): {shown}",
            file=sys.stderr,
        )
