"""Device kinds behind one small protocol: `fingerprint(settings)` and `benchmark(graphs, settings)`.

Device-specific code lives only in this package. Kind modules are imported lazily, so timing on
one kind never loads another kind's dependencies.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

KINDS = {"host": "fdi.devices.host"}


def device_module(kind: str) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown device kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    return importlib.import_module(KINDS[kind])


def run_benchmark(device: str, settings: dict[str, Any], graph_dir: Path, out: Path) -> pd.DataFrame:
    """Time every `.tflite` in `graph_dir` on one device; write the timings as Parquet.

    Every row carries the device name and its fingerprint (as JSON), so a timing is never
    separated from what it was measured on.
    """
    module = device_module(settings["kind"])
    graphs = sorted(Path(graph_dir).glob("*.tflite"))
    if not graphs:
        raise FileNotFoundError(f"{graph_dir}: no .tflite graphs to benchmark")
    device_fingerprint = module.fingerprint(settings)
    records = module.benchmark(graphs, settings)
    timings = pd.DataFrame(records)
    timings.insert(0, "device", device)
    timings["fingerprint"] = json.dumps(device_fingerprint, sort_keys=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    timings.to_parquet(out, index=False)
    return timings
