"""One evaluation path for every time model: fit on the training rows, score on the test rows.

Table 5 (MAPE %, MAE ms, R2 per device x layer type x model, plus the measurement noise floor)
and Table 4 (OLS p-values of the explanatory variables) are assembled here.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, r2_score

from fdi.timemodel.baselines import DISPLAY_NAMES
from fdi.timemodel.dataset import layer_rows
from fdi.timemodel.features import FIT_COLUMNS  # Table 4 tests the paper's x
from fdi.timemodel.tree import TreeLinearRegressor

METRICS = ("MAPE %", "MAE ms", "R2", "within ±10% %")
HIGHER_IS_BETTER = ("R2", "within ±10% %")


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Table 5's metrics, plus the share of predictions within ±10% of the measured time."""
    if len(y_true) == 0:
        return dict.fromkeys(METRICS, np.nan)
    return {
        "MAPE %": 100 * mean_absolute_percentage_error(y_true, y_pred),
        "MAE ms": mean_absolute_error(y_true, y_pred),
        "R2": r2_score(y_true, y_pred) if len(y_true) > 1 else np.nan,
        "within ±10% %": 100 * float(np.mean(np.abs(y_pred - y_true) <= 0.1 * np.abs(y_true))),
    }


def fit_on_train(estimator: Any, rows: pd.DataFrame) -> Any:
    train = rows[rows.split == "train"]
    return estimator.fit(train, train.time_ms.to_numpy())


def test_predictions(estimator: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """Predictions of a fitted estimator on the test rows, beside the measured times."""
    test = rows[rows.split == "test"]
    return pd.DataFrame(
        {"id": test.id.to_numpy(), "y_true": test.time_ms.to_numpy(), "y_pred": estimator.predict(test)}
    )


def noise_floor(test: pd.DataFrame) -> dict[str, float]:
    """The instrument's own repeatability on the test rows: the target against the same graphs
    timed again in a later, separate job (`time_ms_check`), else against the job's second pass."""
    column = (
        "time_ms_check"
        if test.get("time_ms_check", pd.Series(dtype=float)).notna().any()
        else "time_ms_repeat"
    )
    repeated = test.dropna(subset=[column])
    if repeated.empty:
        return {}
    return score(repeated.time_ms.to_numpy(), repeated[column].to_numpy())


def table5(
    datasets: dict[str, Path],
    models: dict[tuple[str, str], Path],
    baselines: dict[tuple[str, str, str], Path],
    mse_is_time_model: Collection[str] = (),
) -> pd.DataFrame:
    """Rows device x layer x scope group x metric; one column per model, then the noise floor,
    row counts and flagged components. Scope `table2` is the paper's Table 5 (Table 2's random
    layers); `families` are the layer shapes of the network families a compressor searches.
    For the layer types in `mse_is_time_model` the FastDeepIoT-MSE column is the fitted model's
    (its loss is already the paper's squared error: a refit would give the same tree)."""
    rows = []
    for device, dataset_path in datasets.items():
        dataset = pd.read_parquet(dataset_path)
        for (model_device, layer), model_path in models.items():
            if model_device != device:
                continue
            everything = layer_rows(dataset, layer, "all")
            predictions = {
                "fastdeepiot": test_predictions(TreeLinearRegressor.from_json(model_path), everything)
            }
            if layer in mse_is_time_model:
                predictions["fastdeepiot_mse"] = predictions["fastdeepiot"]
            for (b_device, b_layer, name), path in baselines.items():
                if (b_device, b_layer) == (device, layer):
                    predictions[name] = pd.read_parquet(path)
            # the table's columns in the paper's order, whichever way a column arrived
            predictions = {name: predictions[name] for name in DISPLAY_NAMES if name in predictions}
            for group in ("table2", "families"):
                data = layer_rows(dataset, layer, group)
                if data.empty:
                    continue
                test = data[data.split == "test"]
                ids = set(test.id)
                columns = {}
                for name, frame in predictions.items():
                    chosen = frame[frame.id.isin(ids)]
                    columns[DISPLAY_NAMES[name]] = score(chosen.y_true.to_numpy(), chosen.y_pred.to_numpy())
                floor = noise_floor(test)
                if floor:
                    columns["noise_floor"] = floor
                for metric in METRICS:
                    row = {"device": device, "layer": layer, "scope": group, "metric": metric}
                    row.update({name: values[metric] for name, values in columns.items()})
                    row.update(
                        {
                            "n_train": int((everything.split == "train").sum()),
                            "n_test": len(test),
                            "flagged": int(data.get("flagged", pd.Series(False, index=data.index)).sum()),
                            "n": len(data),
                        }
                    )
                    rows.append(row)
    return pd.DataFrame(rows)


def table5_markdown(table: pd.DataFrame) -> str:
    """Table 5 for people: one line per device x layer x metric, the best model in bold."""
    fixed = ("device", "layer", "scope", "metric", "n_train", "n_test", "noise_floor", "flagged", "n")
    models = [c for c in table.columns if c not in fixed]
    lines = [
        "| device | layer | scope | metric | "
        + " | ".join(models)
        + " | noise floor | n train (all scopes) / test | flagged / n |",
        "|" + "---|" * (len(models) + 7),
    ]
    for _, row in table.iterrows():
        values = row[models].astype(float)
        if values.isna().all():
            best = None
        else:
            best = values.idxmax() if row.metric in HIGHER_IS_BETTER else values.idxmin()
        cells = []
        for model in models:
            text = _format(row[model], row.metric)
            cells.append(f"**{text}**" if model == best else text)
        noise = _format(row.get("noise_floor", np.nan), row.metric)
        lines.append(
            f"| {row.device} | {row.layer} | {row.scope} | {row.metric} | "
            + " | ".join(cells)
            + f" | {noise} | {row.n_train} / {row.n_test} | {row.flagged} / {row.n} |"
        )
    return "\n".join(lines) + "\n"


def _format(value: float, metric: str) -> str:
    if pd.isna(value):
        return "-"
    if metric in ("MAPE %", "within ±10% %"):
        return f"{value:.1f}%"
    if metric == "R2":
        return f"{value:.3f}"
    return f"{value:.3g}"


def table4(datasets: dict[str, Path], layers: list[str]) -> pd.DataFrame:
    """p-values of each explanatory variable: OLS of time on x with a constant (statsmodels)."""
    import statsmodels.api as sm

    rows = []
    for device, path in datasets.items():
        dataset = pd.read_parquet(path)
        for layer in layers:
            data = layer_rows(dataset, layer)
            design = sm.add_constant(data[FIT_COLUMNS[layer]].astype(float), has_constant="add")
            result = sm.OLS(data.time_ms.astype(float), design).fit()
            for variable in FIT_COLUMNS[layer]:
                rows.append(
                    {
                        "device": device,
                        "layer": layer,
                        "variable": variable,
                        "coef": result.params[variable],
                        "std_err": result.bse[variable],
                        "p_value": result.pvalues[variable],
                        "significant": bool(result.pvalues[variable] < 0.05),
                        "n": int(result.nobs),
                    }
                )
    return pd.DataFrame(rows)
