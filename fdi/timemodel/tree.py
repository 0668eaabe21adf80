"""Algorithm 1: a tree of non-negative linear regressions split by range and modulo conditions.

Each node holds an NNLS fit y = w.x + b (w, b >= 0) of the explanatory variables x; a node is
split by the condition phi on one split feature f[j] that minimises the impurity
G(D, phi) = |D_l|/|D| H(D_l) + |D_r|/|D| H(D_r), H the NNLS mean squared error.

Choices the paper leaves open (documented in the README and tested):
- range thresholds: the observed values of f[j] in the node (the left side is f[j] <= tau);
  when a node has more than `max_thresholds` distinct values, that many evenly spaced ones
  (by rank) are tried, so large datasets stay fast;
- moduli: `moduli` (default 2-8, 16, 32, 64); the condition is f[j] mod tau == 0;
- a split must leave at least `min_samples_leaf` samples on each side, and must lower the
  impurity; besides the paper's stops (node MAPE < `mape_stop`, |D| < `min_samples_split`) an
  optional `max_depth` bounds the tree;
- `loss="squared"` is the paper's H (mean squared error). `loss="relative"` weights every row
  by 1/y^2, so H is the mean squared *relative* error: layers of microseconds and of
  milliseconds then count alike, which is what MAPE (and a user predicting a small layer) asks.
The queue is breadth-first, as in the paper's pseudo-code.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from fdi.timemodel.nnls import nnls_from_gram

FORMAT = "fdi.tree/1"
DEFAULT_MODULI = (2, 3, 4, 5, 6, 7, 8, 16, 32, 64)


@dataclass(frozen=True)
class Condition:
    """One conditioning function: `feature <= threshold` or `feature mod threshold == 0`."""

    feature: str
    kind: Literal["range", "mod"]
    threshold: float

    def holds(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "range":
            return values <= self.threshold
        return np.mod(values, self.threshold) == 0

    def text(self) -> str:
        threshold = _plain_number(self.threshold)
        if self.kind == "range":
            return f"{self.feature} <= {threshold}"
        return f"{self.feature} mod {threshold} == 0"


@dataclass
class Node:
    """A tree node: its own linear model (original units) and, if split, its two children."""

    coef: np.ndarray
    intercept: float
    n_samples: int
    impurity: float  # H of the node: its NNLS (weighted) mean squared error
    mape: float
    condition: Condition | None = None
    left: Node | None = None  # the condition holds
    right: Node | None = None  # the condition does not hold
    depth: int = field(default=0, repr=False)

    @property
    def is_leaf(self) -> bool:
        return self.condition is None


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _mape(y: np.ndarray, prediction: np.ndarray) -> float:
    return float(np.mean(np.abs(prediction - y) / np.maximum(np.abs(y), 1e-12)))


class TreeLinearRegressor(RegressorMixin, BaseEstimator):
    """FastDeepIoT's execution-time model (Algorithm 1), as a scikit-learn regressor.

    `fit` and `predict` take a DataFrame holding the `split_columns` (f) and `fit_columns` (x).
    """

    def __init__(
        self,
        split_columns: tuple[str, ...] = (),
        fit_columns: tuple[str, ...] = (),
        mape_stop: float = 0.05,
        min_samples_split: int = 15,
        min_samples_leaf: int = 5,
        moduli: tuple[int, ...] = DEFAULT_MODULI,
        max_thresholds: int = 256,
        max_depth: int | None = None,
        loss: Literal["squared", "relative"] = "squared",
    ) -> None:
        self.split_columns = split_columns
        self.fit_columns = fit_columns
        self.mape_stop = mape_stop
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.moduli = moduli
        self.max_thresholds = max_thresholds
        self.max_depth = max_depth
        self.loss = loss

    # ----------------------------------------------------------------------------- fitting
    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> TreeLinearRegressor:
        if not self.split_columns or not self.fit_columns:
            raise ValueError("TreeLinearRegressor needs split_columns and fit_columns")
        if self.loss not in ("squared", "relative"):
            raise ValueError(f"loss must be 'squared' or 'relative', not {self.loss!r}")
        features = X[list(self.split_columns)].to_numpy(dtype=float)
        explanatory = X[list(self.fit_columns)].to_numpy(dtype=float)
        target = np.asarray(y, dtype=float)
        weight = np.ones(len(target)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if self.loss == "relative":
            if (target <= 0).any():
                raise ValueError("loss='relative' needs positive targets")
            weight = weight / target**2
        # Positive column scaling keeps w >= 0 equivalent and the Gram matrices well conditioned.
        scale = np.abs(explanatory).max(axis=0)
        scale[scale == 0] = 1.0
        design = np.column_stack([explanatory / scale, np.ones(len(target))])
        p = design.shape[1]
        # Weighted sufficient statistics: the NNLS error of any subset is a weighted sum.
        outer = np.einsum("ni,nj->nij", design * weight[:, None], design).reshape(len(target), p * p)
        moments = _Moments(outer, design * (weight * target)[:, None], weight * target * target, p)

        def make_node(index: np.ndarray, depth: int) -> Node:
            w, sse = nnls_from_gram(*moments.total(index))
            coef = w[0, :-1] / scale
            intercept = float(w[0, -1])
            prediction = explanatory[index] @ coef + intercept
            return Node(
                coef=coef,
                intercept=intercept,
                n_samples=len(index),
                impurity=float(sse[0]) / weight[index].sum(),
                mape=_mape(target[index], prediction),
                depth=depth,
            )

        root_index = np.arange(len(target))
        self.tree_ = make_node(root_index, 0)
        queue: deque[tuple[Node, np.ndarray]] = deque([(self.tree_, root_index)])
        while queue:
            node, index = queue.popleft()
            if self._stops(node):
                continue
            best = self._best_split(features[index], index, moments)
            if best is None or best[1] >= node.impurity * weight[index].sum() * (1 - 1e-12):
                continue
            condition = best[0]
            holds = condition.holds(features[index, list(self.split_columns).index(condition.feature)])
            node.condition = condition
            node.left = make_node(index[holds], node.depth + 1)
            node.right = make_node(index[~holds], node.depth + 1)
            queue.append((node.left, index[holds]))
            queue.append((node.right, index[~holds]))
        self.n_features_in_ = len(self.split_columns) + len(self.fit_columns)
        return self

    def _stops(self, node: Node) -> bool:
        """The paper's stopping condition, plus the optional depth bound."""
        if node.mape < self.mape_stop or node.n_samples < self.min_samples_split:
            return True
        return self.max_depth is not None and node.depth >= self.max_depth

    def _best_split(
        self, features: np.ndarray, index: np.ndarray, moments: _Moments
    ) -> tuple[Condition, float] | None:
        """argmin over features, thresholds and kinds of the summed NNLS error of both sides."""
        n = len(index)
        leaf = self.min_samples_leaf
        conditions: list[Condition] = []
        left_stats: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for j, name in enumerate(self.split_columns):
            values = features[:, j]
            order = np.argsort(values, kind="stable")
            sorted_values = values[order]
            cut = np.nonzero(sorted_values[:-1] < sorted_values[1:])[0]
            cut = cut[(cut + 1 >= leaf) & (n - cut - 1 >= leaf)]
            if len(cut) > self.max_thresholds:
                cut = cut[np.unique(np.linspace(0, len(cut) - 1, self.max_thresholds).round().astype(int))]
            if len(cut):
                left_stats.append(moments.prefix(index[order], cut))
                conditions += [Condition(name, "range", float(sorted_values[i])) for i in cut]
            masks = []
            for modulus in self.moduli:
                holds = np.mod(values, modulus) == 0
                if leaf <= holds.sum() <= n - leaf:
                    masks.append(holds)
                    conditions.append(Condition(name, "mod", float(modulus)))
            if masks:
                left_stats.append(moments.masked(index, np.array(masks)))
        if not conditions:
            return None
        gram_l, xty_l, yty_l = (np.concatenate(parts) for parts in zip(*left_stats, strict=True))
        gram_t, xty_t, yty_t = moments.total(index)
        _, sse_left = nnls_from_gram(gram_l, xty_l, yty_l)
        _, sse_right = nnls_from_gram(gram_t - gram_l, xty_t - xty_l, yty_t - yty_l)
        total = sse_left + sse_right
        best = int(np.argmin(total))
        return conditions[best], float(total[best])

    # ---------------------------------------------------------------------------- predicting
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        features = X[list(self.split_columns)].to_numpy(dtype=float)
        explanatory = X[list(self.fit_columns)].to_numpy(dtype=float)
        out = np.empty(len(X))
        columns = list(self.split_columns)
        stack = [(self.tree_, np.arange(len(X)))]
        while stack:
            node, index = stack.pop()
            if node.is_leaf:
                out[index] = explanatory[index] @ node.coef + node.intercept
                continue
            holds = node.condition.holds(features[index, columns.index(node.condition.feature)])
            stack.append((node.left, index[holds]))
            stack.append((node.right, index[~holds]))
        return out

    def nodes(self) -> list[Node]:
        """All nodes in pre-order (root, left subtree, right subtree)."""
        out: list[Node] = []
        stack = [self.tree_]
        while stack:
            node = stack.pop()
            out.append(node)
            if not node.is_leaf:
                stack += [node.right, node.left]
        return out

    # --------------------------------------------------------------------- JSON and explain
    def to_dict(self) -> dict[str, Any]:
        def encode(node: Node) -> dict[str, Any]:
            out: dict[str, Any] = {
                "n_samples": node.n_samples,
                "impurity": node.impurity,
                "mape": node.mape,
                "w": dict(zip(self.fit_columns, map(float, node.coef), strict=True)),
                "b": node.intercept,
            }
            if not node.is_leaf:
                condition = node.condition
                out["condition"] = {
                    "feature": condition.feature,
                    "kind": condition.kind,
                    "threshold": _plain_number(condition.threshold),
                    "text": condition.text(),
                }
                out["if_true"] = encode(node.left)
                out["if_false"] = encode(node.right)
            return out

        params = self.get_params()
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        return {"format": FORMAT, "params": params, "tree": encode(self.tree_)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeLinearRegressor:
        if data.get("format") != FORMAT:
            raise ValueError(f"not an fdi time model (format {data.get('format')!r}, expected {FORMAT!r})")
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in data["params"].items()}
        model = cls(**params)

        def decode(raw: dict[str, Any], depth: int) -> Node:
            node = Node(
                coef=np.array([raw["w"][c] for c in model.fit_columns], dtype=float),
                intercept=float(raw["b"]),
                n_samples=int(raw["n_samples"]),
                impurity=float(raw["impurity"]),
                mape=float(raw["mape"]),
                depth=depth,
            )
            if "condition" in raw:
                c = raw["condition"]
                node.condition = Condition(c["feature"], c["kind"], float(c["threshold"]))
                node.left = decode(raw["if_true"], depth + 1)
                node.right = decode(raw["if_false"], depth + 1)
            return node

        model.tree_ = decode(data["tree"], 0)
        model.n_features_in_ = len(model.split_columns) + len(model.fit_columns)
        return model

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> TreeLinearRegressor:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable fdi time model ({error})") from error

    def explain(self) -> str:
        """The tree as nested if/else rules, each leaf with its linear model."""
        lines: list[str] = []

        def formula(node: Node) -> str:
            terms = [f"{w:.3g}*{name}" for w, name in zip(node.coef, self.fit_columns, strict=True)]
            return (
                f"time_ms = {' + '.join(terms)} + {node.intercept:.3g}"
                f"   [n={node.n_samples}, MAPE={100 * node.mape:.1f}%]"
            )

        def walk(node: Node, indent: str) -> None:
            if node.is_leaf:
                lines.append(indent + formula(node))
                return
            lines.append(f"{indent}if {node.condition.text()}:")
            walk(node.left, indent + "    ")
            lines.append(f"{indent}else:  # not {node.condition.text()}")
            walk(node.right, indent + "    ")

        walk(self.tree_, "")
        return "\n".join(lines)


class _Moments:
    """Per-row sufficient statistics of the NNLS problem, summed over any subset of rows."""

    def __init__(self, outer: np.ndarray, xy: np.ndarray, yy: np.ndarray, p: int) -> None:
        self.outer, self.xy, self.yy, self.p = outer, xy, yy, p

    def total(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.p
        return (
            self.outer[index].sum(axis=0).reshape(1, p, p),
            self.xy[index].sum(axis=0)[None],
            np.array([self.yy[index].sum()]),
        )

    def prefix(self, ordered: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums over ordered[: i + 1] for every i in cut (the left side of a range split)."""
        p = self.p
        return (
            np.cumsum(self.outer[ordered], axis=0)[cut].reshape(-1, p, p),
            np.cumsum(self.xy[ordered], axis=0)[cut],
            np.cumsum(self.yy[ordered])[cut],
        )

    def masked(self, index: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums over the rows of `index` selected by each boolean mask (the left side of a modulo split)."""
        weights = masks.astype(float)
        p = self.p
        return (
            (weights @ self.outer[index]).reshape(-1, p, p),
            weights @ self.xy[index],
            weights @ self.yy[index],
        )
