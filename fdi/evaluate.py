"""One evaluation path for every time model: fit on the training rows, score on the test rows.

Table 5 (MAPE %, MAE ms, R2 per device x layer type x model, plus the measurement noise floor)
and Table 4 (OLS p-values of the explanatory variables) are assembled here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, r2_score

from fdi.baselines import DISPLAY_NAMES
from fdi.dataset import layer_rows
from fdi.features import FIT_COLUMNS
from fdi.tree import TreeLinearRegressor

METRICS = ("MAPE %", "MAE ms", "R2")


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "MAPE %": 100 * mean_absolute_percentage_error(y_true, y_pred),
        "MAE ms": mean_absolute_error(y_true, y_pred),
        "R2": r2_score(y_true, y_pred),
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


def table5(
    datasets: dict[str, Path],
    models: dict[tuple[str, str], Path],
    baselines: dict[tuple[str, str, str], Path],
) -> pd.DataFrame:
    """Rows device x layer x metric; one column per model, then the noise floor and row counts."""
    rows = []
    for device, dataset_path in datasets.items():
        dataset = pd.read_parquet(dataset_path)
        for (model_device, layer), model_path in models.items():
            if model_device != device:
                continue
            data = layer_rows(dataset, layer)
            test = data[data.split == "test"]
            predictions = {"fastdeepiot": test_predictions(TreeLinearRegressor.from_json(model_path), data)}
            for (b_device, b_layer, name), path in baselines.items():
                if (b_device, b_layer) == (device, layer):
                    predictions[name] = pd.read_parquet(path)
            columns = {
                DISPLAY_NAMES[name]: score(frame.y_true.to_numpy(), frame.y_pred.to_numpy())
                for name, frame in predictions.items()
            }
            repeated = test.dropna(subset=["time_ms_repeat"])
            if len(repeated):
                columns["noise_floor"] = score(
                    repeated.time_ms.to_numpy(), repeated.time_ms_repeat.to_numpy()
                )
            for metric in METRICS:
                row = {"device": device, "layer": layer, "metric": metric}
                row.update({name: values[metric] for name, values in columns.items()})
                row.update({"n_train": int((data.split == "train").sum()), "n_test": len(test)})
                rows.append(row)
    return pd.DataFrame(rows)


def table5_markdown(table: pd.DataFrame) -> str:
    """Table 5 for people: one line per device x layer x metric, the best model in bold."""
    models = [
        c for c in table.columns if c not in ("device", "layer", "metric", "n_train", "n_test", "noise_floor")
    ]
    lines = [
        "| device | layer | metric | " + " | ".join(models) + " | noise floor | n train / test |",
        "|" + "---|" * (len(models) + 5),
    ]
    for _, row in table.iterrows():
        values = row[models].astype(float)
        best = values.idxmax() if row.metric == "R2" else values.idxmin()
        cells = []
        for model in models:
            text = _format(row[model], row.metric)
            cells.append(f"**{text}**" if model == best else text)
        noise = _format(row.get("noise_floor", np.nan), row.metric)
        lines.append(
            f"| {row.device} | {row.layer} | {row.metric} | "
            + " | ".join(cells)
            + f" | {noise} | {row.n_train} / {row.n_test} |"
        )
    return "\n".join(lines) + "\n"


def _format(value: float, metric: str) -> str:
    if pd.isna(value):
        return "-"
    if metric == "MAPE %":
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
