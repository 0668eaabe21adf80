"""Adaptive sampling (as nn-Meter does): measure new structures where the time model errs most.

After a campaign, each layer type's training rows are predicted out of fold (k-fold
cross-validation of the configured Algorithm 1, so a row never predicts itself). The rows with
the largest relative errors sit near split thresholds or in poorly fitted leaves; new structures
are drawn around them by scaling their widths (FC/GRU/LSTM in_dim and out_dim, conv in/out
channels) by a random factor, keeping everything else (spatial size, kernel, stride, steps), so
the new layers stay of the kinds the campaign sampled. Each round's structures are measured like
any other scope and join the training rows only: the test rows stay those of the campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict

from fdi.profile.space import ID_COLUMNS, LAYER_TYPES, STRUCTURE_COLUMNS
from fdi.timemodel.baselines import build_time_model, fitted_tree
from fdi.timemodel.dataset import layer_rows

WIDTH_COLUMNS = {
    "fc": ["in_dim", "out_dim"],
    "cnn": ["in_channel", "out_channel"],
    "gru": ["in_dim", "out_dim"],
    "lstm": ["in_dim", "out_dim"],
}
ADAPTIVE_PREFIX = "adaptive"


def out_of_fold_errors(rows: pd.DataFrame, layer: str, time_model: Mapping[str, Any]) -> pd.Series:
    """Relative error |predicted / measured - 1| of every training row, predicted out of fold."""
    train = rows[rows.split == "train"].reset_index(drop=True)
    # the configured tree without a nested search, except for the device's tile width: the
    # errors of a tree on the wrong tiles would send the next round where its x is wrong. The
    # width is chosen once, by CV on all training rows, not again inside every fold (2.3x fewer
    # fits: this job sits on the main job's critical path).
    tiles = time_model.get("grid", {}).get("tiles")
    settings = {**time_model, "grid": {"tiles": tiles} if tiles else {}}
    target = train.time_ms.to_numpy()
    model = build_time_model(layer, settings)
    tree = clone(fitted_tree(model.fit(train, target))) if isinstance(model, GridSearchCV) else model
    folds = KFold(
        int(time_model.get("cv_folds", 3)), shuffle=True, random_state=int(time_model.get("seed", 0))
    )
    predicted = cross_val_predict(tree, train, target, cv=folds)
    return pd.Series(np.abs(predicted / train.time_ms.to_numpy() - 1), index=train.id)


def draw_round(
    dataset: pd.DataFrame,
    time_model: Mapping[str, Any],
    settings: Mapping[str, Any],
    round_number: int,
    seed: int,
) -> pd.DataFrame:
    """`settings['per_round']` new structures per layer type, around the worst-predicted rows.

    A parent is drawn from the worst `worst_fraction` of the training rows, with probability in
    proportion to its error; each width is multiplied by a factor log-uniform in
    [1 / max_scale, max_scale], rounded, and kept within [1, the largest width measured].
    """
    scope = f"{ADAPTIVE_PREFIX}{round_number}"
    rng = np.random.default_rng([seed, round_number])
    per_shard = int(settings["networks_per_shard"])
    rows = []
    for layer in LAYER_TYPES:
        data = layer_rows(dataset, layer, "all")
        if data.empty or layer not in settings["per_round"]:
            continue
        errors = out_of_fold_errors(data, layer, time_model)
        worst = errors.sort_values(ascending=False).iloc[
            : max(1, int(len(errors) * settings["worst_fraction"]))
        ]
        parents = data.set_index("id").loc[worst.index]
        weights = worst.to_numpy() / worst.sum() if worst.sum() > 0 else None
        limits = {column: int(data[column].max()) for column in WIDTH_COLUMNS[layer]}
        scale = float(settings["max_scale"])
        for index in range(int(settings["per_round"][layer])):
            parent = parents.iloc[int(rng.choice(len(parents), p=weights))]
            child = {column: parent[column] for column in STRUCTURE_COLUMNS[layer]}
            for column in WIDTH_COLUMNS[layer]:
                factor = np.exp(rng.uniform(-np.log(scale), np.log(scale)))
                child[column] = int(np.clip(round(parent[column] * factor), 1, limits[column]))
            network = index // 10  # ten structures per network: the unit of a shard
            rows.append(
                {
                    "id": f"{scope}-{layer}-{index:03d}",
                    "scope": scope,
                    "layer": layer,
                    "network": network,
                    "shard": network // per_shard,
                    "parent": parent.name,
                    "parent_error": float(worst[parent.name]),
                    **child,
                }
            )
    frame = pd.DataFrame(rows)
    columns = [*ID_COLUMNS, "parent", "parent_error"]
    columns += list(dict.fromkeys(c for kind in LAYER_TYPES for c in STRUCTURE_COLUMNS[kind]))
    return frame[[c for c in columns if c in frame]]


def shard_count(settings: Mapping[str, Any]) -> int:
    """Shards of one round, known from the config alone: each layer type numbers its networks of
    ten structures from 0, and a shard holds `networks_per_shard` of each type's."""
    networks = max([-(-int(n) // 10) for n in settings["per_round"].values()] or [1])
    return max(1, -(-networks // int(settings["networks_per_shard"])))
