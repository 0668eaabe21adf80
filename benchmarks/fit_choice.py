"""How Algorithm 1's fit moves between two campaigns of the same code: rules for choosing its grid.

No timing is taken. For each finished main job (RUN, a fresh clone's directory), Algorithm 1 is
refitted on the run's own dataset (`results/dataset/{device}.parquet`, its features recomputed by
this checkout, so an older run is scored under today's features) under each rule below,
with the run's own `time_model` settings otherwise, and scored on Table 2's test rows (Table 5's
FastDeepIoT column). With two or more runs it also prints how far apart the runs' models predict
the *same* test structures (median and 90th percentile of |a - b| / mean(a, b) over the test ids
every run has): that is the fit's own instability, whatever the timings did.

Rules:
- `as configured`: the settings as the run's config has them (3-fold CV, best mean score);
- `one standard error`: CART's rule on `min_samples_leaf` (`grid_choice: one_standard_error`);
- `repeated 3x3`: CV repeated over 3 shuffles of the folds (`cv_repeats: 3`), best mean score;
- `repeated 3x3, 1-SE`: both;
- `leaf N`: `min_samples_leaf` fixed at N (the tile width still chosen by CV).

Usage: python benchmarks/fit_choice.py RUN [RUN ...] [--device host] [--layers cnn fc gru lstm]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from fdi.timemodel.baselines import build_time_model, fitted_tree
from fdi.timemodel.dataset import layer_rows
from fdi.timemodel.evaluate import fit_on_train, score
from fdi.timemodel.features import add_features

RULES: dict[str, dict[str, Any]] = {
    "as configured": {},
    "one standard error": {"grid_choice": "one_standard_error"},
    "repeated 3x3": {"cv_repeats": 3},
    "repeated 3x3, 1-SE": {"cv_repeats": 3, "grid_choice": "one_standard_error"},
}


def rules_for(settings: dict[str, Any], names: list[str], leaves: list[int]) -> dict[str, dict[str, Any]]:
    """The named rules and the fixed leaf sizes, each as complete time-model settings."""
    out = {name: {**settings, **RULES[name]} for name in names}
    for leaf in leaves:
        out[f"leaf {leaf}"] = {**settings, "grid": {**settings.get("grid", {}), "min_samples_leaf": [leaf]}}
    return out


def refit(run: Path, device: str, layers: list[str], names: list[str], leaves: list[int]) -> pd.DataFrame:
    """One row per rule and layer: Table 2 test MAPE, within ±10%, chosen leaf and tile width,
    fit seconds, and the test predictions (kept for the cross-run comparison)."""
    settings = yaml.safe_load((run / "config/config.yaml").read_text())["time_model"]
    dataset = pd.read_parquet(run / f"results/dataset/{device}.parquet")
    rows = []
    for rule, rule_settings in rules_for(settings, names, leaves).items():
        for layer in layers:
            # features recomputed by this checkout: a run's dataset holds those of the code that made it
            everything = add_features(layer_rows(dataset, layer, "all"), layer)
            started = time.perf_counter()
            estimator = fit_on_train(build_time_model(layer, rule_settings), everything)
            seconds = time.perf_counter() - started
            tree = fitted_tree(estimator)
            test = add_features(layer_rows(dataset, layer, "table2"), layer)
            test = test[test.split == "test"]
            predicted = tree.predict(test)
            metrics = score(test.time_ms.to_numpy(), predicted)
            rows.append(
                {
                    "run": f"{run.parent.name}/{run.name}",
                    "rule": rule,
                    "layer": layer,
                    "MAPE %": metrics["MAPE %"],
                    "within ±10% %": metrics["within ±10% %"],
                    "leaf": tree.min_samples_leaf,
                    "tile_terms": len(tree.fit_columns),
                    "leaves": sum(node.is_leaf for node in tree.nodes()),
                    "fit_s": seconds,
                    "predictions": pd.Series(predicted, index=test.id.to_numpy()),
                }
            )
            print(
                f"{rows[-1]['run']:>18} {rule:>20} {layer:>5}: MAPE {metrics['MAPE %']:5.1f}% "
                f"within ±10% {metrics['within ±10% %']:5.1f}%  leaf {tree.min_samples_leaf:>3} "
                f"{rows[-1]['leaves']:>3} leaves  {seconds:5.1f} s",
                flush=True,
            )
    return pd.DataFrame(rows)


def apart(results: pd.DataFrame) -> pd.DataFrame:
    """Per rule and layer: how far apart the runs' models predict the test ids all runs share."""
    rows = []
    for (rule, layer), group in results.groupby(["rule", "layer"], sort=False):
        predictions = list(group.predictions)
        shared = sorted(set.intersection(*(set(p.index) for p in predictions)))
        if len(predictions) < 2 or not shared:
            continue
        first, second = (p.loc[shared].to_numpy() for p in predictions[:2])
        gap = np.abs(first - second) / ((first + second) / 2)
        rows.append(
            {
                "rule": rule,
                "layer": layer,
                "shared test ids": len(shared),
                "models apart, median %": 100 * float(np.median(gap)),
                "models apart, 90th pct %": 100 * float(np.percentile(gap, 90)),
                "MAPE gap between runs, points": float(np.ptp(group["MAPE %"])),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--device", default="host")
    parser.add_argument("--layers", nargs="+", default=["cnn", "fc", "gru", "lstm"])
    parser.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES))
    parser.add_argument("--leaves", type=int, nargs="*", default=[10, 80], help="fixed min_samples_leaf")
    args = parser.parse_args(argv)
    with ProcessPoolExecutor(max_workers=min(len(args.runs), os.cpu_count() or 1)) as pool:  # a run per core
        jobs = [
            pool.submit(refit, run, args.device, args.layers, args.rules, args.leaves) for run in args.runs
        ]
        results = pd.concat([job.result() for job in jobs])
    pd.set_option("display.width", 200)
    table = results.drop(columns="predictions").pivot_table(
        index=["rule", "layer"], columns="run", values=["MAPE %", "within ±10% %", "leaf"], sort=False
    )
    print("\nTable 2 test rows, per rule and run:")
    print(table.round(1).to_string())
    if len(args.runs) > 1:
        print("\nThe runs' models on the same test structures:")
        print(apart(results).round(1).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
