"""The structure terms a compression objective adds to the task loss (SPEC §3, eq. 7 and 8).

Every term is a cost of a *sampled structure* (the widths a batch of masks keeps), relative to the
original network's, so one lambda means the same whatever the network's size:
- `none`: plain DeepIoT (eq. 7): the reward is the task loss alone; the rising pruning threshold
  does the compressing;
- `params`: the fraction of parameters kept (a size reward; Keras's count, `parameter_counts`);
- `flops`: the fraction of FLOPs kept (DeepIoT+FLOPs);
- `time`: the device's predicted execution time (eq. 8): its time model
  (fdi.timemodel.device_model: layers, ops and the in-network term), one predict call per layer
  type for the whole batch of structures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fdi.compress.network import Structure, structure_of
from fdi.timemodel.device_model import DeviceTimeModel
from fdi.timemodel.features import add_features

TERMS = ("none", "params", "flops", "time")


def layer_totals(network: str | Structure, candidates: Sequence[Sequence[int]], column: str) -> np.ndarray:
    """Per width vector: the sum over its layers of a feature column (param_size, flops)."""
    structure = structure_of(network)
    rows: dict[str, list[dict[str, Any]]] = {}
    owners: dict[str, list[int]] = {}
    for index, widths in enumerate(candidates):
        for layer in structure.layers(widths):
            rows.setdefault(layer["layer"], []).append({k: v for k, v in layer.items() if k != "name"})
            owners.setdefault(layer["layer"], []).append(index)
    totals = np.zeros(len(candidates))
    for kind, kind_rows in rows.items():
        values = add_features(pd.DataFrame(kind_rows), kind)[column].to_numpy(dtype=float)
        np.add.at(totals, np.asarray(owners[kind]), values)
    return totals


def parameter_counts(network: str | Structure, candidates: Sequence[Sequence[int]]) -> np.ndarray:
    """Per width vector: the network's trainable parameters as Keras holds them."""
    structure = structure_of(network)
    return np.array([structure.parameter_count(widths) for widths in candidates], dtype=float)


class StructureCost:
    """cost(widths) / cost(original widths) for one term, over batches of width vectors."""

    def __init__(
        self,
        term: str,
        network: str | Structure,
        original: Sequence[int],
        time_model: DeviceTimeModel | None = None,
    ) -> None:
        if term not in TERMS:
            raise ValueError(f"objective term must be one of {', '.join(TERMS)}, not {term!r}")
        if term == "time" and time_model is None:
            raise ValueError("the time objective needs the device's time model")
        self.term, self.network, self.time_model = term, structure_of(network), time_model
        self.original = [int(w) for w in original]
        self.scale = 1.0 if term == "none" else float(self._raw([self.original])[0])

    def _raw(self, candidates: Sequence[Sequence[int]]) -> np.ndarray:
        if self.term == "params":
            return parameter_counts(self.network, candidates)
        if self.term == "flops":
            return layer_totals(self.network, candidates, "flops")
        assert self.time_model is not None
        return self.time_model.predict_structures(self.network, candidates)

    def __call__(self, candidates: Sequence[Sequence[int]]) -> np.ndarray:
        """Relative cost of each width vector (zeros for `none`); identical vectors are costed once."""
        if self.term == "none":
            return np.zeros(len(candidates))
        unique, inverse = np.unique(np.asarray(candidates, dtype=int), axis=0, return_inverse=True)
        return self._raw(unique.tolist())[np.ravel(inverse)] / self.scale


def parameter_fraction(network: str | Structure, widths: Sequence[int], original: Sequence[int]) -> float:
    """The share of the original's parameters a structure keeps."""
    kept, full = parameter_counts(network, [list(widths), list(original)])
    return float(kept / full)
