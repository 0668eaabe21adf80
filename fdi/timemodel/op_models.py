"""Time models for every op kind a converted network holds, learnt from the ops themselves, and
the term that turns the sum of a network's ops timed alone into the network's time.

An op of a LiteRT graph (fdi.profile.tflite_ops.op_structure) is read in the terms that predict
it best. CONV_2D and FULLY_CONNECTED are the layers Table 2 samples, so they take their layer
type's features (fdi.timemodel.features: the runtime x, with the GEMM tile width chosen by
cross-validation per device among 32, 16 and 8 columns); on the first zoo campaign (AMD VM)
the conv features predicted unseen zoo convs at 4.4 / 5.2% MAPE (quiet / disturbed) where
generic MAC counts gave 12.8%
(docs/results/2026-11-30-zoo-ops.md). Every other kind (depthwise convolutions, element-wise
ops, pooling, means, concatenations, pads...) takes generic numbers: multiply-accumulates, the
elements it reads and writes, its weights. One Algorithm 1 tree (non-negative linear leaves,
range and integer-multiple splits) per kind, on relative error.

A network runs its ops in one interpreter call, where each op timed alone paid the call's fixed
cost (the fastest op graph's time: ~0.7 us here) once per op: the network's time is the sum of
its ops' times less that cost per op (paid once), plus the weights a network cannot keep in the
cache between inferences, as each op alone could: `ms_per_mb` x max(0, sum over ops of
min(op MB, `cap_mb`) - `free_mb`), cap and free megabytes chosen on the sample networks by
leave-one-out error.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from fdi.profile.space import STRUCTURE_COLUMNS
from fdi.profile.zoo import RELABEL_OPS
from fdi.timemodel.features import SPLIT_COLUMNS, X_VARIANTS, add_features, tiled
from fdi.timemodel.tree import TreeLinearRegressor

FORMAT = "fdi.op_models/1"
# Generic x of every leaf, and what a node may split on.
OP_FIT_COLUMNS = ["macs", "in_elements", "out_elements", "weights"]
OP_SPLIT_COLUMNS = [
    "in_channel",
    "out_channel",
    "kernel_h",
    "kernel_w",
    "stride_h",
    "in_height",
    "in_width",
    "in_elements",
    "out_elements",
]
# Op kinds that are a Table 2 layer type, read with that type's features.
LAYER_OF_KIND = {"CONV_2D": "cnn", "FULLY_CONNECTED": "fc"}
TILE_WIDTHS = (32, 16, 8)
RELABEL_KINDS = tuple(sorted(RELABEL_OPS))  # ops that only relabel a tensor: 0 ms
CV_FOLDS = 5


def op_features(structures: pd.DataFrame) -> pd.DataFrame:
    """Op structures with the generic x: multiply-accumulates (MACs) = output elements x MACs per
    output element."""
    out = structures.copy()
    out["macs"] = out.out_elements * out.macs_per_output
    for column in OP_FIT_COLUMNS + OP_SPLIT_COLUMNS:
        out[column] = out[column].astype("int64")
    return out


def kind_features(ops: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One kind's ops in the terms its model reads: a conv as a cnn layer (as
    fdi.timemodel.read_network reads one), a fully-connected op as an fc layer
    (in_dim: its weights' columns, out_dim: its output's), any other kind generically."""
    layer = LAYER_OF_KIND.get(kind)
    if layer == "cnn":
        structure = ops[STRUCTURE_COLUMNS["cnn"]]
        return add_features(structure, "cnn")
    if layer == "fc":
        structure = pd.DataFrame({"in_dim": ops.macs_per_output, "out_dim": ops.out_channel}, index=ops.index)
        return add_features(structure, "fc")
    return op_features(ops)


def candidates(kind: str, rows: pd.DataFrame) -> list[tuple[list[str], list[str]]]:
    """(split columns, fit columns) a kind's tree may take: a layer kind's runtime x at every tile
    width, or the generic x (columns that never vary are left out)."""
    layer = LAYER_OF_KIND.get(kind)
    if layer is not None:
        fit = X_VARIANTS["runtime"][layer]
        return [(list(SPLIT_COLUMNS[layer]), tiled(fit, wide)) for wide in TILE_WIDTHS]
    # A kind timed at one size (a network's single softmax) has nothing to split on: the tree is
    # then its root's line.
    split = [c for c in OP_SPLIT_COLUMNS if rows[c].nunique() > 1] or ["out_elements"]
    fit = [c for c in OP_FIT_COLUMNS if rows[c].nunique() > 1 or rows[c].iloc[0] != 0] or ["out_elements"]
    return [(split, fit)]


def fit_op_kind(kind: str, rows: pd.DataFrame, time_ms: np.ndarray, **settings: Any) -> TreeLinearRegressor:
    """Algorithm 1 for one op kind (rows: kind_features), relative error, Algorithm 1's stopping
    rules from `settings`; among several candidate x, the one with the lowest cross-validated
    MAPE (5 folds) where there are enough rows to tell."""
    y = np.asarray(time_ms, dtype=float)
    options = candidates(kind, rows)

    def tree(split: list[str], fit: list[str]) -> TreeLinearRegressor:
        return TreeLinearRegressor(split_columns=split, fit_columns=fit, loss="relative", **settings)

    if len(options) > 1 and len(rows) >= 2 * CV_FOLDS:
        from sklearn.model_selection import KFold, cross_val_predict

        folds = KFold(CV_FOLDS, shuffle=True, random_state=0)
        errors = [
            np.mean(np.abs(cross_val_predict(tree(*option), rows, y, cv=folds) / y - 1)) for option in options
        ]
        options = [options[int(np.argmin(errors))]]
    return tree(*options[0]).fit(rows, y)


def timed_ops(ops: pd.DataFrame, times: pd.DataFrame) -> pd.DataFrame:
    """The zoo's op rows (fdi.profile.zoo ops tables) with their measured time: `times` is the
    timings' summary (fdi.timemodel.dataset.summarise_timings) indexed by graph id, an op's graph
    id its key. Ops that only relabel a tensor take 0 ms; an op never timed alone (a test
    network's, a recurrent loop) NaN; `flagged` where its passes never settled."""
    out = op_features(ops)
    measured = out.key.map(times.time_ms)
    out["time_ms"] = np.where(out.timed, measured, np.where(out.kind.isin(RELABEL_KINDS), 0.0, np.nan))
    out["flagged"] = out.timed & out.key.map(times.flagged).fillna(False).astype(bool)
    return out


def training_ops(ops: pd.DataFrame) -> pd.DataFrame:
    """The ops the models learn from: the sample networks' ops timed alone and settled, each key once."""
    chosen = ops[(ops.role == "sample") & ops.timed & ~ops.flagged & ops.time_ms.notna()]
    return chosen.drop_duplicates("key")


def layer_ops(dataset: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The campaign's settled conv and FC layers (Table 2's, the families', the adaptive rounds')
    as CONV_2D / FULLY_CONNECTED training rows in `kind_features` terms, with their `time_ms`: a
    layer timed alone is an op timed alone (the same single-op graph the converter makes)."""
    rows = {}
    for kind, layer in LAYER_OF_KIND.items():
        timed = dataset[(dataset.layer == layer) & ~dataset.flagged.astype(bool) & dataset.time_ms.notna()]
        timed = timed[timed.scope != "sweep"]
        if len(timed):
            structure = timed[STRUCTURE_COLUMNS[layer]].reset_index(drop=True)
            rows[kind] = add_features(structure, layer).assign(time_ms=timed.time_ms.to_numpy())
    return rows


def fit_op_models(
    train: pd.DataFrame, extra: dict[str, pd.DataFrame] | None = None, **settings: Any
) -> dict[str, TreeLinearRegressor]:
    """One Algorithm 1 tree per op kind of `train` (training_ops), a kind's `extra` rows
    (`layer_ops`: kind_features plus time_ms) added to its own."""
    models = {}
    for kind, rows in train.groupby("kind"):
        features, times = kind_features(rows, str(kind)), rows.time_ms
        more = (extra or {}).get(str(kind))
        if more is not None and len(more):
            features = pd.concat([features, more.drop(columns="time_ms")], ignore_index=True)
            times = pd.concat([times, more.time_ms], ignore_index=True)
        models[str(kind)] = fit_op_kind(str(kind), features, times, **settings)
    return models


def predict_ops(models: dict[str, TreeLinearRegressor], ops: pd.DataFrame) -> pd.Series:
    """Each op's predicted ms: its kind's tree; 0 for an op that only relabels; NaN for a kind
    without a model (the caller names it)."""
    predicted = pd.Series(np.where(ops.kind.isin(RELABEL_KINDS), 0.0, np.nan), index=ops.index)
    for kind, model in models.items():
        here = ops.kind == kind
        if here.any():
            predicted[here] = model.predict(kind_features(ops[here], kind))
    return predicted


# Candidate per-op caps and free megabytes of the in-network term (None: no cap).
CAPS_MB: tuple[float | None, ...] = (None, 2.0, 4.0, 8.0, 16.0)
FREE_MB: tuple[float, ...] = (0.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0)


def network_sums(
    ops: pd.DataFrame, column: str, call_ms: float, cap: float | None, free: float
) -> pd.DataFrame:
    """Per network: `ops_ms` (the sum of `column` over its ops, less `call_ms` per op but once)
    and `cold_mb` (max(0, sum of min(op MB, cap) - free))."""
    computed = ~ops.kind.isin(RELABEL_KINDS)
    megabytes = 4 * ops.weights / 1e6
    frame = ops.assign(
        adjusted=np.where(computed, ops[column] - call_ms, 0.0),
        capped=megabytes if cap is None else megabytes.clip(upper=cap),
    ).groupby("network")
    return pd.DataFrame(
        {"ops_ms": frame.adjusted.sum() + call_ms, "cold_mb": (frame.capped.sum() - free).clip(lower=0)}
    )


def _per_mb(sums: pd.DataFrame, measured: pd.Series) -> float:
    """ms per cold MB, >= 0, least squares on relative error."""
    weight = 1 / measured
    design = (sums.cold_mb * weight).to_numpy()
    target = ((measured - sums.ops_ms) * weight).to_numpy()
    denominator = float(design @ design)
    return max(0.0, float(design @ target) / denominator) if denominator > 0 else 0.0


def fit_in_network(ops: pd.DataFrame, measured: pd.Series, column: str, call_ms: float) -> dict[str, Any]:
    """The in-network term from the sample networks (`measured`: ms by network): cap and free MB
    by leave-one-out mean |relative error|, then ms per MB on all of them."""
    best: tuple[float, float | None, float] | None = None
    for cap, free in itertools.product(CAPS_MB, FREE_MB):
        sums = network_sums(ops, column, call_ms, cap, free).loc[measured.index]
        errors = []
        for network in measured.index:
            others = measured.index != network
            per_mb = _per_mb(sums[others], measured[others])
            row = sums.loc[network]
            errors.append(abs((row.ops_ms + per_mb * row.cold_mb) / measured[network] - 1))
        if best is None or np.mean(errors) < best[0] - 1e-12:
            best = (float(np.mean(errors)), cap, free)
    assert best is not None
    _, cap, free = best
    sums = network_sums(ops, column, call_ms, cap, free).loc[measured.index]
    return {
        "call_ms": call_ms,
        "cap_mb": cap,
        "free_mb": free,
        "ms_per_mb": _per_mb(sums, measured),
        "leave_one_out_mape_pct": 100 * best[0],
    }


def term_ms(parts: int, megabytes: Any, term: dict[str, Any]) -> float:
    """The in-network term of one network of `parts` parts (each timed alone, each paid one
    interpreter call; the network pays one) whose parts hold `megabytes` of weights each: what
    `in_network_ms` adds to the sum of the parts, for any reader of a network
    (fdi.timemodel.device_model)."""
    cap = term["cap_mb"]
    capped = float(sum(megabytes if cap is None else np.minimum(megabytes, cap)))
    return -(int(parts) - 1) * term["call_ms"] + term["ms_per_mb"] * max(0.0, capped - term["free_mb"])


def in_network_ms(ops: pd.DataFrame, column: str, term: dict[str, Any]) -> pd.Series:
    """Each network's predicted time from its ops' `column` and the fitted term."""
    sums = network_sums(ops, column, term["call_ms"], term["cap_mb"], term["free_mb"])
    return sums.ops_ms + term["ms_per_mb"] * sums.cold_mb
