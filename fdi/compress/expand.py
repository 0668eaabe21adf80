"""Algorithm 2: widen layers to widths the device runs faster (SPEC §3, "DeepIoT+localMin").

Widening is lossless (fdi.compress.widen_graph fills the new filters/units with zeros), so any width at
least the trained one is a free choice; this module picks it from a device's time models.

- `algorithm2` is the paper's rule for one layer, as SPEC states it with the printed inequality
  corrected: walk the tree; at a range node record the condition and follow it; at an
  integer-multiple node `f[j] mod tau == 0` that f fails, round f[j] up to the next multiple,
  and take it (go left) if the true branch's line at the rounded layer is below the false
  branch's at the layer as it is and every recorded range condition still holds; else go right.
  Only width features (a layer's in/out channels or units) can be rounded.
- `best_width` is the general rule, for runtimes whose steps show in the tree as ranges as well
  as multiples (XNNPACK's channel tiles do): every width in [w, w_max] is scored by the whole
  model, and the fastest wins, the widest among equal times (free capacity).
- `expand_network` applies either rule to a network of a family (fdi.profile.families): one layer's
  out-width is the next one's in-width, so every candidate is scored by the network's total
  predicted time (the device's time model, fdi.timemodel.device_model: layers, ops and the
  in-network term) and taken only if it lowers that total, as the paper resolves
  conflicts between neighbouring layers.
- `safe_region` gives, for two sibling leaves of a conv tree split on `in_channel mod tau`, the
  (in, out) square where taking the expansion is always faster (the paper's eq. 10-11 example).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fdi.compress.network import Structure, structure_of
from fdi.timemodel.device_model import DeviceTimeModel
from fdi.timemodel.features import add_features
from fdi.timemodel.tree import Condition, Node, TreeLinearRegressor

# The features of a layer that a width change moves, per layer type: (in-width, out-width).
WIDTH_FEATURES: dict[str, tuple[str, str]] = {
    "cnn": ("in_channel", "out_channel"),
    "fc": ("in_dim", "out_dim"),
    "gru": ("in_dim", "out_dim"),
    "lstm": ("in_dim", "out_dim"),
}
MODES = ("paper", "staircase")


def _features(layer: str, structure: dict[str, Any]) -> pd.Series:
    row = {key: value for key, value in structure.items() if key not in ("name", "layer")}
    return add_features(pd.DataFrame([row]), layer).iloc[0]


def _line(tree: TreeLinearRegressor, node: Node, features: pd.Series) -> float:
    x = features[list(tree.fit_columns)].to_numpy(dtype=float)
    return float(x @ node.coef + node.intercept)


def algorithm2(
    tree: TreeLinearRegressor,
    layer: str,
    structure: dict[str, Any],
    expandable: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The paper's expansion of one layer's structure over its device's tree (SPEC §3).

    `expandable` names the features that may grow (default: both widths of the layer type); a
    multiple condition on any other feature is followed as it is.
    """
    allowed = set(WIDTH_FEATURES[layer] if expandable is None else expandable)
    current = dict(structure)
    features = _features(layer, current)
    ranges: list[tuple[Condition, bool]] = []
    node = tree.tree_
    while not node.is_leaf:
        condition = node.condition
        assert condition is not None and node.left is not None and node.right is not None
        value = float(features[condition.feature])
        holds = bool(condition.holds(np.array([value]))[0])
        if condition.kind == "range" or holds or condition.feature not in allowed:
            if condition.kind == "range":
                ranges.append((condition, holds))
            node = node.left if holds else node.right
            continue
        tau = condition.threshold
        expanded = {**current, condition.feature: int(tau * math.ceil(value / tau))}
        expanded_features = _features(layer, expanded)
        faster = _line(tree, node.left, expanded_features) < _line(tree, node.right, features)
        keeps_ranges = all(
            bool(c.holds(np.array([float(expanded_features[c.feature])]))[0]) == h for c, h in ranges
        )
        if faster and keeps_ranges:
            current, features = expanded, expanded_features
            node = node.left
        else:
            node = node.right
    return current


def best_width(score: Callable[[list[int]], np.ndarray], width: int, w_max: int) -> tuple[int, float, float]:
    """The width in [width, w_max] with the lowest score (the widest among equal scores), its
    score and the score of `width`. `score` maps candidate widths to predicted times at once."""
    candidates = list(range(int(width), int(max(width, w_max)) + 1))
    scores = np.asarray(score(candidates), dtype=float)
    best = float(scores.min())
    # Equal within float rounding: the tree's leaves are lines, so a flat stretch is exact.
    ties = np.flatnonzero(scores <= best * (1 + 1e-12) + 1e-15)
    chosen = int(ties.max())
    return candidates[chosen], float(scores[chosen]), float(scores[0])


def width_limit(width: int, original: int, rule: str | float) -> int:
    """w_max of one layer: `next_pow2` (the next power of two at or above the width), or a
    relative margin (0.25: +25%); never above `original` x 2 and never below the width."""
    if rule == "next_pow2":
        limit = 1 << max(0, int(width - 1).bit_length())
    else:
        limit = math.floor(width * (1 + float(rule)))
    return max(int(width), min(limit, 2 * int(original)))


def network_parts(network: str | Structure, widths: Sequence[int]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, kind, structure) of every layer and op of a network, in order."""
    parts = [(layer["name"], layer["layer"], layer) for layer in structure_of(network).layers(widths)]
    parts += [(op["name"], op["op"], op) for op in structure_of(network).other_ops(widths)]
    return parts


def _width_roles(
    network: str | Structure, widths: Sequence[int], position: int
) -> list[tuple[int, str, str]]:
    """(layer index, kind, feature) of every layer whose in- or out-width is widths[position]."""
    before = structure_of(network).layers(widths)
    bumped = list(widths)
    bumped[position] += 1
    after = structure_of(network).layers(bumped)
    roles = []
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        for feature in WIDTH_FEATURES[old["layer"]]:
            if new[feature] != old[feature]:
                roles.append((index, old["layer"], feature))
    return roles


def expand_network(
    network: str | Structure,
    widths: Sequence[int],
    time_model: DeviceTimeModel,
    mode: str = "staircase",
    limit: str | float = "next_pow2",
    originals: Sequence[int] | None = None,
    min_gain: float = 0.0,
) -> list[int]:
    """Widths at least `widths` that the network's total predicted time prefers, one width at a
    time in network order. `paper`: the candidates of a width are what Algorithm 2 proposes for
    the layers it feeds or leaves (its in- and out-features); `staircase`: every width up to
    `width_limit`. A candidate is taken only if the network's total predicted time drops (or,
    in staircase mode, stays equal at a larger width). The network is returned unchanged unless
    its total predicted time drops by more than `min_gain` (a fraction): a predicted 0.1% is no
    reason to change a deployed network, and no instrument could confirm it."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    expanded = _expand_network(network, widths, time_model, mode, limit, originals)
    if expanded != [int(w) for w in widths] and min_gain > 0:
        before, after = time_model.predict_structures(network, [list(widths), expanded])
        if after > (1 - min_gain) * before:
            return [int(w) for w in widths]
    return expanded


def _expand_network(network, widths, time_model, mode, limit, originals) -> list[int]:
    current = [int(w) for w in widths]
    originals = list(originals) if originals is not None else current
    for position in range(len(current)):
        if mode == "staircase":
            limit_w = width_limit(current[position], originals[position], limit)

            def score(candidates: list[int], position: int = position) -> np.ndarray:
                vectors = [[*current[:position], w, *current[position + 1 :]] for w in candidates]
                return time_model.predict_structures(network, vectors)

            chosen, _, _ = best_width(score, current[position], limit_w)
            current[position] = chosen
            continue
        proposals = set()
        structures = structure_of(network).layers(current)
        for index, kind, feature in _width_roles(network, current, position):
            proposed = algorithm2(time_model.layers[kind], kind, structures[index], expandable=[feature])
            proposals.add(int(proposed[feature]))
        proposals.discard(current[position])
        if not proposals:
            continue
        candidates = [current[position], *sorted(proposals)]
        vectors = [[*current[:position], w, *current[position + 1 :]] for w in candidates]
        totals = time_model.predict_structures(network, vectors)
        best = int(np.argmin(totals))
        if totals[best] < totals[0]:
            current[position] = candidates[best]
    return current


def safe_region(
    true_leaf: tuple[Sequence[float], float],
    false_leaf: tuple[Sequence[float], float],
    tau: int,
    expand: str = "in",
    limit: int = 4096,
) -> int:
    """The largest n such that, for every (in, out) in [1, n]^2, the layer expanded to the next
    multiple of `tau` (in the in-channel, or both channels with expand="both") is predicted
    faster by the true leaf than the layer as it is by the false leaf.

    Leaves are the paper's form y = a*in*out + c + d*in + e*out, given as ((a, d, e), c); the
    expanded channel is bounded by n + tau - 1 (eq. 10-11, with the worst case of the ceiling).
    """
    (a_t, d_t, e_t), c_t = true_leaf
    (a_f, d_f, e_f), c_f = false_leaf

    def gain_everywhere(n: int) -> bool:
        grid = np.arange(1, n + 1, dtype=float)
        i, o = np.meshgrid(grid, grid, indexing="ij")
        i_hat = tau * np.ceil(i / tau)
        o_hat = tau * np.ceil(o / tau) if expand == "both" else o
        expanded = a_t * i_hat * o_hat + c_t + d_t * i_hat + e_t * o_hat
        plain = a_f * i * o + c_f + d_f * i + e_f * o
        return bool((expanded < plain).all())

    low, high = 0, limit
    while low < high:  # the region shrinks monotonically as n grows: bisect its edge
        middle = (low + high + 1) // 2
        if gain_everywhere(middle):
            low = middle
        else:
            high = middle - 1
    return low
