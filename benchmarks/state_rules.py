"""Algorithm 1 refitted on a finished campaign's own timings, each graph's time recomputed by a
rule that knows this machine's two speeds (benchmarks/speed_states.py). No timing is taken.

For a fresh clone's finished main job (RUN): every component pass of the campaign and adaptive
shards is labelled with its reference level (the reference timing just before it, over the
campaign's *usual* level: the median of all its reference timings). Per rule, each graph's time
is recomputed, the run's own dataset gets those times, and Algorithm 1 is refitted with the
run's own chosen parameters (results/models/{device}/{layer}.json) on the train rows and scored
on Table 2's test rows:

- `as measured`: the instrument's rule (fdi.timings.settled_time on every pass);
- `normalised`: every pass scaled to the usual level (value x usual / its reference);
- `usual only`: only passes whose reference was within 8% of the usual level count, where a
  graph has two (the others are treated like passes other processes shared);
- `fast scaled`: passes taken in the fast state (reference more than 9% below usual) scaled by
  the campaign's ratio of usual to fast-state reference medians.

Usage: python benchmarks/state_rules.py RUN [RUN ...] [--device host]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from speed_states import read_job  # beside this script

from fdi.timemodel.evaluate import score
from fdi.timemodel.tree import TreeLinearRegressor
from fdi.timings import settled_time

SKIPPED = ("net_", "sweep", "check")  # whole networks, the sweep and the check job: not the dataset
RULES = ("as measured", "normalised", "usual only", "fast scaled")


def passes_of(timings_dir: Path) -> tuple[pd.DataFrame, float, float]:
    """Component passes with value and reference level; the usual level; the fast-state ratio."""
    frames = []
    for path in sorted(timings_dir.rglob("*.parquet")):
        if path.name.endswith(".partial.parquet") or any(
            s in str(path.relative_to(timings_dir)) for s in SKIPPED
        ):
            continue
        frames.append(read_job(path))
    everything = pd.concat(frames, ignore_index=True)
    references = everything.value[everything.role == "reference"]
    usual = float(references.median())
    fast = references[references < usual / 1.09]
    ratio = usual / float(fast.median()) if len(fast) else 1.0
    passes = everything[everything.role == "component"].copy()
    passes["level"] = passes.reference_before / usual
    return passes, usual, ratio


def times_by_rule(passes: pd.DataFrame, ratio: float, tolerance: float = 0.05, cap: int = 6) -> pd.DataFrame:
    rows = {}
    for graph_id, group in passes.groupby("id"):
        values, clean, level = group.value.to_numpy(), group.clean.tolist(), group.level.to_numpy()
        usual_clean = [c and abs(lv - 1) <= 0.08 for c, lv in zip(clean, level, strict=True)]
        scaled = np.where(level < 1 / 1.09, values * ratio, values)
        rows[graph_id] = {
            "as measured": settled_time(values.tolist(), tolerance, cap, clean)[0],
            "normalised": settled_time((values / level).tolist(), tolerance, cap, clean)[0],
            "usual only": settled_time(values.tolist(), tolerance, cap, usual_clean)[0],
            "fast scaled": settled_time(scaled.tolist(), tolerance, cap, clean)[0],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished fresh clones (their results/)")
    parser.add_argument("--device", default="host")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        passes, usual, ratio = passes_of(run / "results" / "timings" / args.device)
        times = times_by_rule(passes, ratio)
        datasets = sorted((run / "results" / "dataset" / args.device).glob("round*.parquet"))
        dataset = pd.read_parquet(datasets[-1])
        print(f"{run}: usual reference {usual:.4f} ms, fast-state ratio {ratio:.3f}, {len(times)} graphs")
        for layer in ("cnn", "fc", "gru", "lstm"):
            params = json.loads((run / "results" / "models" / args.device / f"{layer}.json").read_text())[
                "params"
            ]
            rows_layer = dataset[(dataset.layer == layer) & dataset.split.isin(["train", "test"])]
            for rule in RULES:
                data = rows_layer.assign(time_ms=rows_layer.id.map(times[rule]).fillna(rows_layer.time_ms))
                train, test = (
                    data[data.split == "train"],
                    data[(data.split == "test") & (data.scope == layer)],
                )
                model = TreeLinearRegressor(**params).fit(train, train.time_ms.to_numpy())
                scores = score(test.time_ms.to_numpy(), model.predict(test))
                rows.append({"run": run.name, "layer": layer, "rule": rule, **scores})
    table = pd.DataFrame(rows)
    table["MAPE / within ±10%"] = [
        f"{m:.1f} / {w:.1f}" for m, w in zip(table["MAPE %"], table["within ±10% %"], strict=True)
    ]
    wide = table.pivot_table(
        index=["run", "layer"], columns="rule", values="MAPE / within ±10%", aggfunc="first"
    )
    print(wide[list(RULES)].to_markdown())


if __name__ == "__main__":
    main()
