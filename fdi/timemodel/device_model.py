"""One device's time model, as every consumer loads it: the registry entry (`fdi register`,
results/registry/<device>.json), fitted once by the workflow, never re-fitted by a consumer.

It prices a network as the sum of its parts, each timed alone on the device (Table 2's layer
models: conv, FC, GRU, LSTM; the families' pooling/mean/softmax/concat lines; or, read from a
graph, the op models fitted on the zoo), plus one in-network term (fdi.timemodel.op_models): a
part timed alone paid one interpreter call, a network pays it once; weights beyond what the caches
keep cost ms per MB. The term is fitted on the zoo's sample networks; the same term prices the
paper's families, which it never saw (2026-11-30, three campaigns: VGG 95-100% and DeepSense 100%
of the test networks within ±10%, as good as the term each family fitted on its own calibration
networks; docs/results/2026-12-01-one-time-model.md).

Readers of a network: `predict_structures` takes a structure (a paper family or a user model's
width groups, fdi.compress.network) at many width vectors at once: the networks table, Algorithm 2
and the compression objective. `fdi predict` reads a `.tflite`/`.keras` (fdi.timemodel.predict)
and adds the same term (`term_ms`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fdi.timemodel.features import add_features
from fdi.timemodel.op_models import kind_features, term_ms
from fdi.timemodel.op_registry import models_of
from fdi.timemodel.tree import TreeLinearRegressor


@dataclass
class DeviceTimeModel:
    device: str
    layers: dict[str, TreeLinearRegressor]
    ops: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind: (ms/element, ms/call)
    op_kinds: dict[str, Any] | None = None  # fdi.timemodel.op_registry's artifact (zoo)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> DeviceTimeModel:
        return cls(
            device=entry["device"],
            layers={layer: TreeLinearRegressor.from_dict(data) for layer, data in entry["models"].items()},
            ops={
                kind: (float(m["ms_per_element"]), float(m["ms_per_call"]))
                for kind, m in entry.get("op_models", {}).items()
            },
            op_kinds=entry.get("op_kinds"),
        )

    @classmethod
    def load(cls, path: Path) -> DeviceTimeModel:
        """A registry entry file; anything else is a ValueError naming it."""
        from fdi.timemodel.registry import FORMAT

        path = Path(path)
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable time model ({error})") from error
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            raise ValueError(f"{path}: not an fdi registry entry (make it with `fdi register`)")
        return cls.from_entry(entry)

    @cached_property
    def zoo_models(self) -> dict[str, TreeLinearRegressor]:
        """The op models fitted on the zoo, by LiteRT kind (none without a zoo campaign)."""
        return models_of(self.op_kinds) if (self.op_kinds or {}).get("kinds") else {}

    def unpriced_ops(self, network: Any, widths: Sequence[int]) -> list[str]:
        """The network's ops in LiteRT kinds this device has no op model of (left out of its time)."""
        ops = _structure(network).other_ops(widths)
        return [
            f"{op['name']} ({op['op']})"
            for op in ops
            if op["op"].isupper() and op["op"] not in self.zoo_models
        ]

    @property
    def term(self) -> dict[str, Any] | None:
        """The in-network term, or None where the device has no zoo op models (then a network is
        the plain sum of its parts)."""
        return None if self.op_kinds is None else self.op_kinds["in_network"]

    def _parts(
        self, network: Any, candidates: Sequence[Sequence[int]]
    ) -> tuple[np.ndarray, np.ndarray, list[list[float]]]:
        """Per width vector: the sum of its parts' predictions, its part count, its parts' MB."""
        structure = _structure(network)
        rows: dict[str, list[dict[str, Any]]] = {}
        owners: dict[str, list[int]] = {}
        zoo_rows: dict[str, list[dict[str, Any]]] = {}
        zoo_owners: dict[str, list[int]] = {}
        totals = np.zeros(len(candidates))
        parts = np.zeros(len(candidates), dtype=int)
        megabytes: list[list[float]] = [[] for _ in candidates]
        for index, widths in enumerate(candidates):
            for layer in structure.layers(widths):
                kind = layer["layer"]
                rows.setdefault(kind, []).append({k: v for k, v in layer.items() if k != "name"})
                owners.setdefault(kind, []).append(index)
            for op in structure.other_ops(widths):
                if op["op"] in self.zoo_models:  # a LiteRT op kind (a user graph's depthwise conv...)
                    zoo_rows.setdefault(op["op"], []).append(op)
                    zoo_owners.setdefault(op["op"], []).append(index)
                    continue
                if op["op"].isupper():  # a LiteRT kind this device has no op model of: unpriced
                    continue
                if op["op"] not in self.ops:
                    raise KeyError(f"no {op['op']} op model for {self.device} (its registry entry has none)")
                per_element, per_call = self.ops[op["op"]]
                totals[index] += per_element * op["elements"] + per_call
                parts[index] += 1
                megabytes[index].append(0.0)
        for kind, kind_rows in zoo_rows.items():
            frame = pd.DataFrame(kind_rows).drop(columns=["name", "op"])
            predicted = self.zoo_models[kind].predict(kind_features(frame, kind))
            owner = np.asarray(zoo_owners[kind])
            np.add.at(totals, owner, predicted)
            np.add.at(parts, owner, 1)
            for index, weights in zip(owner, frame.weights.to_numpy(dtype=float), strict=True):
                megabytes[index].append(4 * weights / 1e6)
        for kind, kind_rows in rows.items():
            if kind not in self.layers:
                raise KeyError(f"no {kind} layer model for {self.device}")
            featured = add_features(pd.DataFrame(kind_rows), kind)
            predicted = self.layers[kind].predict(featured)
            owner = np.asarray(owners[kind])
            np.add.at(totals, owner, predicted)
            np.add.at(parts, owner, 1)
            for index, size in zip(owner, featured.param_size.to_numpy(dtype=float), strict=True):
                megabytes[index].append(4 * size / 1e6)
        return totals, parts, megabytes

    def priced_structures(
        self, network: Any, candidates: Sequence[Sequence[int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per width vector: the plain sum of its parts' predictions (each part as timed alone),
        and that sum plus the in-network term."""
        totals, parts, megabytes = self._parts(network, candidates)
        if self.term is None:
            return totals, totals
        term = np.array([term_ms(n, mb, self.term) for n, mb in zip(parts, megabytes, strict=True)])
        return totals, totals + term

    def isolated_structures(self, network: Any, candidates: Sequence[Sequence[int]]) -> np.ndarray:
        """The plain sum of the parts' predictions (each part as timed alone)."""
        return self.priced_structures(network, candidates)[0]

    def predict_structures(self, network: Any, candidates: Sequence[Sequence[int]]) -> np.ndarray:
        """Predicted ms of a network (a family name or a structure) at each width vector: its
        parts plus the in-network term; one predict call per layer type for the whole batch."""
        return self.priced_structures(network, candidates)[1]


class _Family:
    """A paper family's layers and ops at any widths (fdi.profile.families)."""

    def __init__(self, family: str) -> None:
        from fdi.profile import families

        if family not in families.FAMILIES:
            raise ValueError(f"unknown network family {family!r}; known: {', '.join(families.FAMILIES)}")
        self.family, self._families = family, families

    def layers(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        return self._families.layers(self.family, widths)

    def other_ops(self, widths: Sequence[int]) -> list[dict[str, Any]]:
        return self._families.other_ops(self.family, widths)


def _structure(network: Any) -> Any:
    """A family name, or anything with `layers(widths)` and `other_ops(widths)` (a compression
    stage's structure, fdi.compress.network): priced the same way."""
    return _Family(network) if isinstance(network, str) else network


def weight_megabytes(layer: dict[str, Any]) -> float:
    """A layer's float32 weights (its param_size feature) in MB: what the in-network term counts."""
    row = {key: value for key, value in layer.items() if key != "name"}
    return 4 * float(add_features(pd.DataFrame([row]), layer["layer"]).param_size.iloc[0]) / 1e6


def load_time_models(paths: Sequence[Path]) -> dict[str, DeviceTimeModel]:
    """results/registry/DEVICE.json files -> {device: its time model}."""
    models = {}
    for path in paths:
        model = DeviceTimeModel.load(path)
        models[model.device] = model
    return models
