"""Compression targets by measure: where each variant's search takes the points of its curve.

A search's targets are fractions of its own measure: DeepIoT's of the parameters, +FLOPs' of the
FLOPs, FastDeepIoT's of the predicted time. A config entry is one list for every measure or a
mapping by measure (config/config.schema.yaml `$defs/targets`).
"""

from __future__ import annotations

from typing import Any

MEASURE_OF_OBJECTIVE = {"none": "params", "flops": "flops", "time": "time"}
DEFAULT_TARGETS = [0.5, 0.25, 0.1]
USER_TARGETS = [0.5, 0.4, 0.3]  # a user model's, as `fdi compress --targets`


def search_targets(compress: dict[str, Any], task: str, measure: str) -> list[float]:
    """A task's targets in one measure: its own (`task_targets`), else the shared ones (`targets`).
    Either is one list for every measure or a mapping by measure; a mapping without this measure
    defers to the next. Why by measure: 50% of the parameters is not 50% of the time (a network's
    fixed costs bound its time: DeepIoT's VGG pick at 27% of the parameters ran at 63% of the
    predicted time), so one list leaves the curves at different accuracies."""
    for source in (compress.get("task_targets", {}).get(task), compress.get("targets")):
        if (found := targets_in(source, measure)) is not None:
            return found
    return DEFAULT_TARGETS


def targets_in(source: list[float] | dict[str, list[float]] | None, measure: str) -> list[float] | None:
    """One config entry's targets in a measure: the list itself, or the mapping's list for it."""
    return source.get(measure) if isinstance(source, dict) else source
