"""What a rerun may reuse: only what was made under the same settings.

`fdi compress` and the workflow's search jobs resume where they stopped, from a search's
checkpoint and from the points already fine-tuned. A rerun after the settings changed (a config
edited, `--targets` or `--finetune-rate` given anew with the same out-dir) must not pick those up:
it would finish the old search, or keep the old points, under the new run's name.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def changed_settings(before: dict[str, Any], now: dict[str, Any]) -> str:
    """The settings that differ between an earlier run and this one, `key: old -> new` (empty when
    they are the same)."""
    keys = sorted(set(before) | set(now))
    return "; ".join(f"{k}: {before.get(k)} -> {now.get(k)}" for k in keys if before.get(k) != now.get(k))


def finished_search(
    search_dir: Path, settings: dict[str, Any], identity: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any] | None:
    """The record of a search that ended in `search_dir` under these settings, on the same network
    and data (`identity`: the original's widths, validation accuracy and cost under the objective,
    which moves with the device's time model, the model's and data's names), with all its points
    on disk; else None. A rerun after an interrupted fine-tune, or one whose fine-tune settings
    alone changed, then goes straight to the points (the image model's search with its fine-tunes
    took 54 min; a search alone 3-5 min, each point's fine-tune ~4)."""
    record = search_dir / "search.json"
    if not record.exists():
        return None
    result = json.loads(record.read_text())
    before = {key: result.get(key) for key in identity}
    parts = [changed_settings(result.get("settings", {}), json.loads(json.dumps(settings)))]
    parts.append(changed_settings(before, json.loads(json.dumps(identity))))
    changes = "; ".join(part for part in parts if part)
    missing = [
        i
        for i in range(len(result.get("points", [])))
        if not (search_dir / "points" / f"target-{i}.keras").exists()
    ]
    if changes or missing:
        why = changes or f"points {missing} missing"
        log(f"{record}: an earlier search that does not fit this run ({why}); searching again")
        return None
    log(f"{record}: the search finished under the same settings on the same network and data; reused")
    (search_dir / "checkpoint.npz").unlink(missing_ok=True)  # a restart of the same search, superseded
    return result


def resumed(
    checkpoint: Path, progress_key: str, fresh: dict[str, Any], log: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """A search's progress and engine state to start from: the checkpoint's when it was left under
    the settings of `fresh` (or under settings it did not record), else `fresh` and no state."""
    if not checkpoint.exists():
        return fresh, None
    state = dict(np.load(checkpoint))
    saved = json.loads(str(state.pop(progress_key)))
    changed = changed_settings(saved.get("settings", fresh["settings"]), fresh["settings"])
    if changed:
        log(f"{checkpoint}: left by a search with other settings ({changed}); starting over")
        return fresh, None
    log(f"resumed from the checkpoint at iteration {saved['iteration']}")
    return saved | {"settings": fresh["settings"]}, state


def set_aside_other_runs(final_dir: Path, settings: dict[str, Any], log: Callable[[str], None]) -> None:
    """Finished points are reused only by a run under the same settings: the points of a run under
    other ones move to `final-previous` (replacing an older such set), and the change is named."""
    record, wanted = final_dir / "settings.json", json.loads(json.dumps(settings))
    if final_dir.is_dir() and any(final_dir.glob("*.keras")):
        before = json.loads(record.read_text()) if record.exists() else {}
        changes = {part: changed_settings(before.get(part, {}), wanted[part]) for part in wanted}
        if any(changes.values()):
            previous = final_dir.with_name("final-previous")
            shutil.rmtree(previous, ignore_errors=True)
            final_dir.rename(previous)
            named = "; ".join(f"{part} {change}" for part, change in changes.items() if change)
            log(f"{final_dir}: points of a run under other settings ({named}), moved to {previous.name}")
    final_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted, indent=1) + "\n")
