"""Issue 27's question before any workflow rule: do op models learnt from ops cut out of zoo
networks predict *other* zoo networks timed whole?

Three steps, each resumable, in `--workdir`:
  export  build every network of config/zoo.yaml's sample (TRAIN) and test (TEST) lists (Keras
          Applications and small models, weights=None),
          convert it, write it whole (networks/NAME.tflite) and every op of it alone
          (ops/KIND-HASH.tflite, fdi.profile.cut_ops; ops of the same kind, shapes and options once)
          with ops.parquet naming each network's ops. Imports TensorFlow.
  time    time every op graph and every network with fdi's instrument (`fdi benchmark`, the host's
          settings from config/config.yaml; LiteRT only) into timings/{ops,networks}/.
  fit     one Algorithm 1 tree per op kind on the ops of TRAIN's networks; each TEST network predicted
          as the sum of its ops (and, for the record, the sum of its ops' own measured times); within
          ±10% and Spearman, the in-network term (fdi.timemodel.op_models) fitted on TRAIN.
Unlike the workflow (rules fit_ops, zoo_table), it times the TEST networks' ops alone too.

Run nothing else heavy during `time`.
Usage: python benchmarks/zoo_ops.py --workdir /tmp/zoo export time fit
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]

ZOO = yaml.safe_load((REPO / "config/zoo.yaml").read_text())["zoo"]
TRAIN, TEST = list(ZOO["sample"]), list(ZOO["test"])


def export(workdir: Path) -> None:
    from fdi.profile.zoo import export_network

    rows = []
    for number, name in enumerate(TRAIN + TEST, start=1):
        ops = export_network(name, workdir / "networks" / f"{name}.tflite", workdir / "ops")
        split = "train" if name in TRAIN else "test"
        rows += [{**row, "split": split} for row in ops]
        print(f"[{number}/{len(TRAIN) + len(TEST)}] {name}: {len(ops)} ops", flush=True)
    frame = pd.DataFrame(rows)
    frame.to_parquet(workdir / "ops.parquet")
    timed = frame[frame.timed].key.nunique()
    print(f"{len(frame)} ops in {frame.network.nunique()} networks, {timed} distinct timed")


def timings_file(workdir: Path, part: str) -> Path:
    return workdir / "timings" / part / "timings-host.parquet"


def time_all(workdir: Path) -> None:
    from fdi.cli.user import device_settings
    from fdi.compress.user_model import measure_graphs

    settings = device_settings([REPO / "config/config.yaml"], "host")
    for part in ("ops", "networks"):
        if not timings_file(workdir, part).exists():
            graphs = sorted((workdir / part).glob("*.tflite"))
            (workdir / "timings" / part).mkdir(parents=True, exist_ok=True)
            measure_graphs(graphs, "host", settings, workdir / "timings" / part, print)


def _within(error: pd.Series) -> float:
    return float((error.abs() <= 10).mean() * 100)


def fit(workdir: Path) -> None:
    from scipy.stats import spearmanr

    from fdi.cli.user import device_settings
    from fdi.timemodel.dataset import summarise_timings
    from fdi.timemodel.op_models import (
        fit_in_network,
        fit_op_models,
        in_network_ms,
        predict_ops,
        timed_ops,
        training_ops,
    )

    settings = device_settings([REPO / "config/config.yaml"], "host")
    times = {
        part: summarise_timings(pd.read_parquet(workdir / "timings" / f"{part}.parquet"), settings).set_index(
            "id"
        )
        for part in ("ops", "networks")
    }
    raw = pd.read_parquet(workdir / "ops.parquet")
    # Every op of the experiment was cut and timed; only TRAIN's count as the sample networks'.
    ops = timed_ops(raw.assign(role=np.where(raw.split == "train", "sample", "test")), times["ops"])
    print(
        f"ops: {ops[ops.timed].key.nunique()} distinct timed, {ops[ops.flagged].key.nunique()} never settled"
    )
    train = training_ops(ops)
    models = fit_op_models(train, mape_stop=0.05, min_samples_split=15, min_samples_leaf=5)
    ops["predicted_ms"] = predict_ops(models, ops)
    unmodelled = ops[ops.predicted_ms.isna()]
    if len(unmodelled):
        print("not modelled:", unmodelled.groupby("kind").size().to_dict())
    unseen = ops[(ops.split == "test") & ops.timed & ~ops.key.isin(set(train.key)) & ops.predicted_ms.notna()]
    unseen = unseen.drop_duplicates("key")
    error = (unseen.predicted_ms / unseen.time_ms - 1) * 100
    per_kind = (
        unseen.assign(error=error)
        .groupby("kind")
        .agg(
            n=("error", "size"),
            mape=("error", lambda e: e.abs().mean()),
            within10=("error", _within),
            ms=("time_ms", "sum"),
        )
    )
    per_kind["x"] = [", ".join(models[kind].fit_columns) for kind in per_kind.index]
    per_kind["nodes"] = [len(models[kind].nodes()) for kind in per_kind.index]
    per_kind["trained_on"] = [int((train.kind == kind).sum()) for kind in per_kind.index]
    print("\nop models on the test networks' ops no sample network has:\n" + per_kind.round(1).to_string())

    call_ms = float(ops[ops.timed].time_ms.min())
    measured = (
        ops.groupby("network")
        .split.first()
        .to_frame()
        .assign(measured_ms=lambda f: f.index.map(times["networks"].time_ms))
    )
    sample = measured[measured.split == "train"].measured_ms
    rows = {}
    for column in ("time_ms", "predicted_ms"):
        term = fit_in_network(ops[ops.network.isin(sample.index)], sample, column, call_ms)
        print(f"\nin-network term on {column}: {term}")
        rows[column] = in_network_ms(ops, column, term)
        rows[f"{column}_sum"] = ops.groupby("network")[column].sum()
    networks = measured.join(pd.DataFrame(rows))
    pd.set_option("display.width", 200)
    for column in ("time_ms_sum", "time_ms", "predicted_ms_sum", "predicted_ms"):
        networks[f"err_{column}"] = (networks[column] / networks.measured_ms - 1) * 100
    print(networks.sort_values(["split", "measured_ms"]).round(3).to_string())
    labels = {
        "time_ms_sum": "sum of the ops timed alone",
        "time_ms": "ops timed alone + in-network term",
        "predicted_ms_sum": "sum of the op models",
        "predicted_ms": "op models + in-network term",
    }
    for split, part in networks.groupby("split"):
        for column, label in labels.items():
            rho = spearmanr(part[column], part.measured_ms).statistic
            err = part[f"err_{column}"]
            print(
                f"{split} ({len(part)}) {label}: within ±10% {_within(err):.0f}%, "
                f"MAPE {err.abs().mean():.1f}%, Spearman {rho:.3f}"
            )
    networks.to_csv(workdir / "networks.csv")
    ops.to_parquet(workdir / "ops_fitted.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("steps", nargs="+", choices=["export", "time", "fit"])
    args = parser.parse_args()
    for step in args.steps:
        {"export": export, "time": time_all, "fit": fit}[step](args.workdir)


if __name__ == "__main__":
    main()
