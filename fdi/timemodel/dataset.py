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

from fdi.profile.families import FAMILIES
from fdi.profile.space import LAYER_TYPES, STRUCTURE_COLUMNS, SWEEP_SCOPE
from fdi.timemodel.features import add_features
from fdi.timings import (
    IDLE_ID,
    REFERENCE_ID,
    cache_slow_flags,
    campaign_summary,
    kept_passes,
    pass_clean,
    settled_pair,
    settled_time,
)

STRUCTURE_ALL = {c for columns in STRUCTURE_COLUMNS.values() for c in columns}

UNSETTLED_SPLIT = "unsettled"  # the split of components that never settled: excluded from fits and scores

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


def _nearest_reference_drift(passes: pd.DataFrame, references: pd.DataFrame) -> pd.Series:
    """Per pass: the nearest (in time) reference timing of the same device, as a ratio to the
    device's median reference time, minus 1. NaN where no reference was timed."""
    drift = pd.Series(np.nan, index=passes.index)
    for device, group in passes.groupby("device"):
        refs = references[references.device == device].sort_values("start_unix_s")
        if refs.empty or "start_unix_s" not in group:
            continue
        ratio = refs.value.to_numpy() / np.median(refs.value.to_numpy()) - 1
        starts = refs.start_unix_s.to_numpy()
        position = np.searchsorted(starts, group.start_unix_s.to_numpy()).clip(1, len(starts)) - 1
        after = (position + 1).clip(max=len(starts) - 1)
        nearer = np.abs(starts[after] - group.start_unix_s.to_numpy()) < np.abs(
            starts[position] - group.start_unix_s.to_numpy()
        )
        drift[group.index] = ratio[np.where(nearer, after, position)]
    return drift


def summarise_timings(
    timings: pd.DataFrame, settings: dict[str, Any] | str = "median", floor_from: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per component: its time and the quality of its measurement.

    `time_ms` is the mean of the two fastest passes where they agree within the device's
    `agree_tolerance` (fdi.timings: disturbance only slows a pass, so the floor is the
    undisturbed time; at `max_passes`, the fastest agreeing pair), else the fastest pass, and the
    component is `flagged` (never settled).
    Quality columns: `passes`, `spread` (slowest / fastest pass - 1), `settled_spread` (second
    fastest / fastest - 1 of the kept passes: the spread the time rests on), `agreed` (settled),
    `co_run` (the time rests on a pass that was not clean: other processes shared it, or the cache
    probe ran slow before it, and the device never gave two clean ones; only clean passes count
    once there are two, fdi.timings; the probe's floor is taken over this frame and `floor_from`),
    `drift`
    (the reference graph's deviation from its median nearest in time to the chosen passes, if
    one was timed: it says how the machine was, it flags nothing) and `waited_s` (time the gate
    waited before the component's passes). The first pass's run statistics are kept, and
    `time_ms_repeat` is the second pass (the within-job repeat).
    """
    if isinstance(settings, str):
        settings = {"statistic": settings}
    statistic = settings.get("statistic", "median")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, not {statistic!r}")
    tolerance = settings.get("agree_tolerance")
    cap = settings.get("max_passes")
    if "role" in timings:  # idle windows (the energy baseline) time nothing
        timings = timings[timings.role != IDLE_ID]
    timings = cache_slow_flags(timings.reset_index(drop=True), settings, floor_from)
    role = timings["role"] if "role" in timings else pd.Series("component", index=timings.index)
    stats = pd.concat([timings[["device", "id", "repeat", "fingerprint"]], _pass_statistics(timings)], axis=1)
    if stats[f"{statistic}_ms"].isna().any():
        device = stats.device[stats[f"{statistic}_ms"].isna()].iloc[0]
        raise ValueError(
            f"device {device!r} reports no {statistic} (benchmark_model gives mean and min, not every run's "
            f"time): set its statistic to mean or min"
        )
    stats["value"] = stats[f"{statistic}_ms"]
    if "start_unix_s" in timings:
        stats["start_unix_s"] = timings.start_unix_s
    stats["waited_s"] = timings["waited_s"].fillna(0.0) if "waited_s" in timings else 0.0
    # A pass other processes shared is not clean (fdi.timings); unknown counts as clean.
    stats["clean"] = [pass_clean(r) for r in timings.to_dict("records")]
    references = stats[role == REFERENCE_ID]
    stats = stats[role != REFERENCE_ID].sort_values(["id", "repeat"])
    stats["drift"] = _nearest_reference_drift(stats, references) if len(references) else np.nan
    rows = []
    for component, group in stats.groupby("id", sort=True):
        values, clean = group.value.tolist(), group.clean.tolist()
        time_ms, settled = settled_time(values, tolerance, cap, clean)
        pair = settled_pair(values, tolerance, cap, clean)
        kept = kept_passes(len(values), clean)
        kept_values = [values[i] for i in kept]
        chosen = list(pair) if pair is not None else [min(kept, key=values.__getitem__)]
        first = group.iloc[0]
        drift = (
            float(np.nanmean(group.drift.iloc[chosen])) if group.drift.iloc[chosen].notna().any() else np.nan
        )
        rows.append(
            {
                "id": component,
                "device": first.device,
                "time_ms": time_ms,
                "mean_ms": first.mean_ms,
                "median_ms": first.median_ms,
                "min_ms": first.min_ms,
                "std_ms": first.std_ms,
                "n_runs": int(first.n_runs),
                "statistic": statistic,
                "fingerprint": first.fingerprint,
                "time_ms_repeat": values[1] if len(values) > 1 else np.nan,
                "passes": len(values),
                "spread": max(values) / min(values) - 1,
                "settled_spread": float(np.diff(np.sort(kept_values)[:2])[0] / min(kept_values))
                if len(kept_values) > 1
                else 0.0,
                "agreed": settled,
                "drift": drift,
                "waited_s": float(group.waited_s.sum()),
                "co_run": not all(clean[i] for i in chosen),
                "flagged": not settled,
            }
        )
    return pd.DataFrame(rows)


def assign_split(dataset: pd.DataFrame, test_fraction: float, seed: int) -> pd.Series:
    """'train' / 'test' per row: a seeded split inside every scope and layer type. It depends on
    the structures alone, so the later check job knows the test rows before the dataset exists."""
    from sklearn.model_selection import train_test_split  # here: `fdi predict` needs no sklearn split

    split = pd.Series("train", index=dataset.index)
    for _, group in dataset.groupby(["scope", "layer"], sort=True):
        ids = group.sort_values("id").index
        if len(ids) < 2:
            continue
        _, test = train_test_split(ids, test_size=test_fraction, random_state=seed)
        split[test] = "test"
    return split


def _layer_frames(structures: Iterable[pd.DataFrame]) -> list[pd.DataFrame]:
    """Structure frames split by layer type (a family's scope holds several), networks left out."""
    frames = []
    for frame in structures:
        if "layer" not in frame:  # whole networks: timed whole, reported in the networks table
            continue
        for layer, part in frame.groupby("layer", sort=True):
            columns = [c for c in part.columns if c not in STRUCTURE_ALL or c in STRUCTURE_COLUMNS[layer]]
            part = part[columns].reset_index(drop=True)
            frames.append(part.astype({"elements": "int64"}) if layer == "op" else add_features(part, layer))
    return frames


def test_ids(structures: Iterable[pd.DataFrame], split: dict[str, Any]) -> list[str]:
    """The ids of the test rows of the layer and family scopes (the sweep excluded)."""
    rows = pd.concat([f[["id", "scope", "layer"]] for f in structures if "layer" in f], ignore_index=True)
    rows = rows[rows.scope != SWEEP_SCOPE].reset_index(drop=True)
    return sorted(rows.id[assign_split(rows, split["test_fraction"], split["seed"]) == "test"])


def build_dataset(
    structures: Iterable[pd.DataFrame],
    timings: pd.DataFrame,
    split: dict[str, Any],
    settings: dict[str, Any] | str = "median",
    check: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Join structures with their features and timings; every structure must have a timing.

    `check` holds timings of the test rows taken again in a later, separate job: they give
    `time_ms_check`, from which Table 5's noise floor is computed (drift between jobs shows in it).
    """
    summary = summarise_timings(timings, settings)
    joined = pd.concat(_layer_frames(structures), ignore_index=True).merge(
        summary, on="id", how="left", validate="1:1"
    )
    missing = joined[joined.time_ms.isna()].id.tolist()
    if missing:
        raise ValueError(f"{len(missing)} components have no timing, e.g. {missing[:5]}")
    joined["split"] = assign_split(joined, split["test_fraction"], split["seed"])
    # Adaptive rounds were drawn where the model erred on training rows: they train, never test.
    joined.loc[joined.scope.str.startswith("adaptive"), "split"] = "train"
    # A component whose time never settled is not a measurement: it neither trains nor tests
    # (Table 5 counts it as flagged).
    joined.loc[joined.flagged, "split"] = UNSETTLED_SPLIT
    if check is not None and len(check):
        checked = summarise_timings(check, settings, floor_from=timings).set_index("id").time_ms
        joined["time_ms_check"] = joined.id.map(checked)
    else:
        joined["time_ms_check"] = np.nan
    return joined


def aggregate(
    structure_paths: list[Path],
    timing_paths: list[Path],
    split: dict[str, Any],
    settings: dict[str, Any],
    out: Path,
    check_path: Path | None = None,
    campaign_path: Path | None = None,
) -> None:
    structures = [pd.read_parquet(p) for p in structure_paths]
    timings = pd.concat([pd.read_parquet(p) for p in timing_paths], ignore_index=True)
    campaign = campaign_summary(timings, settings)
    print("what the campaign went through:\n" + campaign.drop(columns="unsettled_ids").to_string(index=False))
    if campaign_path is not None:
        campaign_path.parent.mkdir(parents=True, exist_ok=True)
        campaign.to_csv(campaign_path, index=False)
    check = pd.read_parquet(check_path) if check_path else None
    dataset = build_dataset(structures, timings, split, settings, check)
    out.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(out, index=False)
    flagged = dataset[dataset.scope != SWEEP_SCOPE].groupby("layer").flagged.sum()
    print(
        f"components that never settled (excluded from fits and scores), per layer type: {flagged.to_dict()}"
    )


SCOPE_GROUPS = ("all", "table2", "families")


def layer_rows(dataset: pd.DataFrame, layer: str, group: str = "table2") -> pd.DataFrame:
    """The rows of one layer type: of Table 2's random sample (`table2`, the paper's Table 5),
    of the network families' layer shapes (`families`), or every row (`all`: both, and the
    adaptive rounds' rows, which only ever train); never the sweep."""
    if layer not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {layer!r}")
    if group not in SCOPE_GROUPS:
        raise ValueError(f"scope group must be one of {', '.join(SCOPE_GROUPS)}, not {group!r}")
    rows = dataset[(dataset.layer == layer) & (dataset.scope != SWEEP_SCOPE)]
    if group == "table2":
        rows = rows[rows.scope == layer]
    elif group == "families":
        rows = rows[rows.scope.isin(FAMILIES)]
    return rows.reset_index(drop=True)
