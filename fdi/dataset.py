"""Timings + structures -> one Parquet dataset per device (SPEC's D = {(S_i, y_i)}).

The target y of a component is a statistic (the device's `statistic`: mean, median or min) of
the runs of its first measurement pass. The paper takes the mean of 20 runs; on a shared
machine one disturbed run moves the mean, so the default is the median. The second,
independent pass gives `time_ms_repeat` by the same statistic: the MAPE between the two is the
noise floor no predictor can beat. All run statistics are kept as columns. The 75/25
train/test split is drawn here, once, so every model is trained and tested on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from fdi.features import add_features
from fdi.space import LAYER_TYPES

STATISTICS = {"mean": np.mean, "median": np.median, "min": np.min}


def _pass_statistics(timings: pd.DataFrame) -> pd.DataFrame:
    """mean/median/min/std/count of every pass: from every run's time where the device gives
    them (host), else from the statistics the device reports itself (benchmark_model: no median)."""
    runs = timings.runs_ms.map(lambda r: np.asarray(r, dtype=float))
    has_runs = runs.map(len) > 0
    stats = pd.DataFrame(index=timings.index)
    for name, function in STATISTICS.items():
        stats[f"{name}_ms"] = runs.map(lambda r, f=function: f(r) if len(r) else np.nan)
    stats["std_ms"] = runs.map(lambda r: np.std(r) if len(r) else np.nan)
    stats["n_runs"] = runs.map(len)
    reported = {"mean_ms": "avg_ms", "min_ms": "min_ms", "std_ms": "std_ms", "n_runs": "count"}
    for ours, theirs in reported.items():
        if theirs in timings:
            stats[ours] = stats[ours].where(has_runs, timings[theirs])
    return stats


def summarise_timings(timings: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """One row per component: the first pass's statistics, and the second pass's target statistic."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, not {statistic!r}")
    stats = pd.concat([timings[["device", "id", "repeat", "fingerprint"]], _pass_statistics(timings)], axis=1)
    if stats[f"{statistic}_ms"].isna().any():
        device = stats.device[stats[f"{statistic}_ms"].isna()].iloc[0]
        raise ValueError(
            f"device {device!r} reports no {statistic} (benchmark_model gives mean and min, not every run's "
            f"time): set its statistic to mean or min"
        )
    first = stats[stats.repeat == 0].set_index("id")
    out = pd.DataFrame(
        {
            "device": first.device,
            "time_ms": first[f"{statistic}_ms"],
            "mean_ms": first.mean_ms,
            "median_ms": first.median_ms,
            "min_ms": first.min_ms,
            "std_ms": first.std_ms,
            "n_runs": first.n_runs.astype(int),
            "statistic": statistic,
            "fingerprint": first.fingerprint,
        }
    )
    second = stats[stats.repeat == 1].set_index("id")[f"{statistic}_ms"]
    out["time_ms_repeat"] = second.reindex(out.index)
    return out.reset_index()


def assign_split(dataset: pd.DataFrame, test_fraction: float, seed: int) -> pd.Series:
    """'train' / 'test' per row: a seeded split inside every scope (layer type)."""
    split = pd.Series("train", index=dataset.index)
    for _, group in dataset.groupby("scope", sort=True):
        ids = group.sort_values("id").index
        if len(ids) < 2:
            continue
        _, test = train_test_split(ids, test_size=test_fraction, random_state=seed)
        split[test] = "test"
    return split


def build_dataset(
    structures: Iterable[pd.DataFrame],
    timings: pd.DataFrame,
    split: dict[str, Any],
    statistic: str = "median",
) -> pd.DataFrame:
    """Join structures with their features and timings; every structure must have a timing."""
    summary = summarise_timings(timings, statistic)
    parts = []
    for frame in structures:
        layer = frame.layer.iloc[0]
        parts.append(add_features(frame, layer))
    joined = pd.concat(parts, ignore_index=True).merge(summary, on="id", how="left", validate="1:1")
    missing = joined[joined.time_ms.isna()].id.tolist()
    if missing:
        raise ValueError(f"{len(missing)} components have no timing, e.g. {missing[:5]}")
    joined["split"] = assign_split(joined, split["test_fraction"], split["seed"])
    return joined


def aggregate(
    structure_paths: list[Path], timing_paths: list[Path], split: dict[str, Any], statistic: str, out: Path
) -> None:
    structures = [pd.read_parquet(p) for p in structure_paths]
    timings = pd.concat([pd.read_parquet(p) for p in timing_paths], ignore_index=True)
    dataset = build_dataset(structures, timings, split, statistic)
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(out, index=False)


def layer_rows(dataset: pd.DataFrame, layer: str) -> pd.DataFrame:
    """The rows of one layer type's random sample (the sweep is kept apart, for Figure 1)."""
    if layer not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {layer!r}")
    return dataset[dataset.scope == layer].reset_index(drop=True)
