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

KINDS = {"host": "fdi.devices.host", "adb": "fdi.devices.adb", "ssh": "fdi.devices.ssh"}


def device_module(kind: str) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown device kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    return importlib.import_module(KINDS[kind])


def _partial_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".parquet") + ".partial.parquet")


def _resume(partial: Path, settings_json: str) -> list[dict[str, Any]]:
    """Timings a previous, interrupted run of the same job measured with the same settings."""
    if not partial.exists():
        return []
    kept = pd.read_parquet(partial)
    if kept.empty or (kept.settings != settings_json).any():
        partial.unlink()
        return []
    return kept.to_dict("records")


def run_benchmark(device: str, settings: dict[str, Any], graph_dir: Path, out: Path) -> pd.DataFrame:
    """Time every `.tflite` in `graph_dir` in `repeats` passes on one device; write Parquet.

    Every row carries the device name and its fingerprint (as JSON), so a timing is never
    separated from what it was measured on, and its wall-clock window (UTC seconds since the epoch)
    on this machine. Each timing is checkpointed beside `out` as soon as
    it is taken; if the job fails (a phone unplugged, say), its rerun measures only the rest.
    """
    module = device_module(settings["kind"])
    graphs = sorted(Path(graph_dir).glob("*.tflite"))
    if not graphs:
        raise FileNotFoundError(f"{graph_dir}: no .tflite graphs to benchmark")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(out)
    settings_json = json.dumps(settings, sort_keys=True)
    records = _resume(partial, settings_json)
    done = {(record["id"], record["repeat"]) for record in records}
    todo = [
        (repeat, graph)
        for repeat in range(settings["repeats"])
        for graph in graphs
        if (graph.stem, repeat) not in done
    ]
    if records:
        print(f"{device}: resuming, {len(records)} timings kept from an interrupted run, {len(todo)} to go")
    if todo:
        with module.session(settings) as session:
            fingerprint = json.dumps(session.fingerprint, sort_keys=True)
            for repeat, graph in tqdm(todo, desc=f"benchmark {device}", unit="graph"):
                start = time.time()
                record = {"device": device, "id": graph.stem, "repeat": repeat, **session.time(graph)}
                window = {"start_unix_s": start, "end_unix_s": time.time()}
                records.append({**record, **window, "fingerprint": fingerprint, "settings": settings_json})
                pd.DataFrame(records).to_parquet(partial, index=False)
    timings = pd.DataFrame(records).drop(columns="settings")
    timings.to_parquet(out, index=False)
    partial.unlink(missing_ok=True)
    return timings
