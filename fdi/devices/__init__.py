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
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from fdi.atomic import replacing
from fdi.energy.probes import energy_settings, open_probe

KINDS = {"host": "fdi.devices.host", "adb": "fdi.devices.adb", "ssh": "fdi.devices.ssh"}


def device_module(kind: str) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown device kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    return importlib.import_module(KINDS[kind])


REFERENCE_ID = "reference"  # the id under which the interleaved reference graph's passes are stored
IDLE_ID = "idle"  # the id and role of the idle windows recorded as the energy baseline
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


def pass_value(record: dict[str, Any], statistic: str) -> float:
    """One pass's time (ms) by the device's statistic: of every run where the device gives them,
    else the statistic the device reports itself (benchmark_model: mean and min, no median)."""
    import numpy as np

    runs = np.asarray(record.get("runs_ms") if record.get("runs_ms") is not None else [], dtype=float)
    if len(runs):
        return float({"mean": np.mean, "median": np.median, "min": np.min}[statistic](runs))
    reported = {"mean": "avg_ms", "min": "min_ms"}.get(statistic)
    if reported and record.get(reported) is not None:
        return float(record[reported])
    raise ValueError(
        f"the device reports no {statistic} for {record.get('id')}: set its statistic to mean or min"
    )


def agreeing_pair(values: list[float], tolerance: float) -> tuple[int, int] | None:
    """The two passes that agree within `tolerance` (relative to the smaller) with the lowest
    mean, or None. Disturbance only ever slows a pass down, so among agreeing pairs the fastest
    is the least disturbed."""
    best = None
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            low, high = sorted((values[i], values[j]))
            if high - low <= tolerance * low and (best is None or low + high < best[0]):
                best = (low + high, i, j)
    return None if best is None else (best[1], best[2])


def passes_wanted(values: list[float], settings: dict[str, Any]) -> bool:
    """Whether a graph needs another pass: fewer than `repeats`, or no two passes agreeing
    within `agree_tolerance` and fewer than `max_passes` taken."""
    minimum = int(settings["repeats"])
    if len(values) < minimum:
        return True
    tolerance = settings.get("agree_tolerance")
    cap = int(settings.get("max_passes", minimum))
    if tolerance is None or len(values) >= cap:
        return False
    return agreeing_pair(values, float(tolerance)) is None


def run_benchmark(
    device: str,
    settings: dict[str, Any],
    graphs: Path | list[Path],
    out: Path,
    reference: Path | None = None,
) -> pd.DataFrame:
    """Time every graph (a directory of `.tflite`, or a list) on one device; write Parquet.

    The instrument notices disturbance. Every graph gets `repeats` passes in rounds (all graphs,
    then all again, so a graph's passes are taken at different times); a graph whose passes do
    not yet include two agreeing within `agree_tolerance` gets further rounds, up to
    `max_passes`; a round starts at least `min_pass_gap_s` after the previous one did, so that
    even a short job's passes of one graph sample different machine states. If `reference` is
    given, that fixed graph is timed once every `reference_every` passes (and at the start and
    the end), stored under the id "reference", so drift of the machine over the campaign shows
    in the data.

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
    for record in records:
        if record["id"] in values:
            values[record["id"]].append(pass_value(record, statistic))
    if records:
        print(f"{device}: resuming, {len(records)} timings kept from an interrupted run")
    todo = [g for g in graph_list if passes_wanted(values[g.stem], settings)]
    if not todo:
        return _finish(records, out, partial)
    try:
        _measure(module, device, settings, settings_json, graph_list, values, records, partial, reference)
    except BaseException:
        if records:  # keep every timing taken, whatever stopped the job
            _save_partial(records, partial)
        raise
    return _finish(records, out, partial)


def _measure(
    module: Any,
    device: str,
    settings: dict[str, Any],
    settings_json: str,
    graph_list: list[Path],
    values: dict[str, list[float]],
    records: list[dict[str, Any]],
    partial: Path,
    reference: Path | None,
) -> None:
    """The rounds of passes (see run_benchmark); appends to `records` and `values` in place."""
    statistic = settings.get("statistic", "median")
    every = int(settings.get("reference_every", 0) or 0)
    todo = [g for g in graph_list if passes_wanted(values[g.stem], settings)]
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

        def take(graph: Path, graph_id: str, role: str, repeat: int) -> dict[str, Any]:
            token = probe.begin() if probe else None
            start = (time.time(), time.monotonic())
            timing = session.time(graph)
            runs = len(timing.get("runs_ms") or []) or timing.get("count")
            row = {"device": device, "id": graph_id, "role": role, "repeat": repeat, **timing, "runs": runs}
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

        references = sum(1 for r in records if r["id"] == REFERENCE_ID)
        since_reference = every  # a reference timing first
        round_number = 0
        progress = tqdm(desc=f"benchmark {device}", unit="pass")
        gap = float(settings.get("min_pass_gap_s", 0) or 0)
        round_started = None
        while todo:
            round_number += 1
            if round_number > 1:
                print(f"{device}: round {round_number}, {len(todo)} graphs without two agreeing passes yet")
            # A graph's passes must be far enough apart in time to see different machine states:
            # in a short job, the next round waits until `min_pass_gap_s` after the last began.
            if round_started is not None and time.monotonic() - round_started < gap:
                time.sleep(gap - (time.monotonic() - round_started))
            round_started = time.monotonic()
            for graph in todo:
                if reference is not None and every and since_reference >= every:
                    take(Path(reference), REFERENCE_ID, "reference", references)
                    references, since_reference = references + 1, 0
                taken = take(graph, graph.stem, "component", len(values[graph.stem]))
                values[graph.stem].append(pass_value(taken, statistic))
                since_reference += 1
                progress.update()
            todo = [g for g in graph_list if passes_wanted(values[g.stem], settings)]
        if reference is not None and every:
            take(Path(reference), REFERENCE_ID, "reference", references)
        if probe and energy["idle"] == "job":
            idle(float(energy["idle_s"]))
        progress.close()


def _finish(records: list[dict[str, Any]], out: Path, partial: Path) -> pd.DataFrame:
    timings = pd.DataFrame(records).drop(columns="settings")
    timings.to_parquet(out, index=False)
    partial.unlink(missing_ok=True)
    return timings
