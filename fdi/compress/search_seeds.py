"""DeepIoT's search (fdi.compress.search) once per seed, each in its own `seed-S/` directory (a
finished one kept), merged into one curve: how far a search gets at a given accuracy moves with
its seed as much as with its objective, so a variant is judged on the union of a few searches,
every variant under the same seeds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi.atomic import replacing
from fdi.compress.search import search, settings_with_defaults
from fdi.timemodel.device_model import DeviceTimeModel


def search_seeds(
    original_path: Path,
    data_path: Path,
    family: str,
    settings: dict[str, Any],
    out_dir: Path,
    time_model: DeviceTimeModel | None = None,
    log: Callable[[str], None] = print,
    inputs_digest: str = "",
) -> dict[str, Any]:
    """One search per seed of `settings["seeds"]` (else the one `seed`) under
    `out_dir/seed-S/`, then `out_dir/search.json`: every search's points in seed order, each
    with its `seed` and its network's `path` (relative to `out_dir`); the per-seed results under
    `searches`. A seed's finished search (or its checkpoint) is kept only if it was made from the
    same inputs: `inputs_digest` (of the original, the data and the time models; see
    `fdi.cli.compress`) and the seed's settings, recorded in `seed-S/inputs.sha256`. So a
    killed job redoes only the rest and a seed added to the list costs only its own search, while
    a changed setting, original or time model searches again."""
    import shutil

    settings = settings_with_defaults(settings)
    seeds = [int(s) for s in settings.pop("seeds", None) or [settings["seed"]]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"search seeds must differ, got {seeds}")
    out_dir = Path(out_dir)
    searches, points = {}, []
    for number, seed in enumerate(seeds, 1):
        seed_dir, seed_settings = out_dir / f"seed-{seed}", {**settings, "seed": seed}
        digest = hashlib.sha256(
            (inputs_digest + json.dumps(seed_settings, sort_keys=True)).encode()
        ).hexdigest()
        record = seed_dir / "inputs.sha256"
        recorded = record.read_text().strip() if record.exists() else None
        if seed_dir.exists() and recorded != digest:
            log(f"search seed {seed}: made from other inputs or settings; searching again")
            shutil.rmtree(seed_dir)
        if (seed_dir / "search.json").exists():
            result = json.loads((seed_dir / "search.json").read_text())
            log(f"search seed {seed} ({number}/{len(seeds)}): already searched")
        else:
            log(f"search seed {seed} ({number}/{len(seeds)})")
            seed_dir.mkdir(parents=True, exist_ok=True)
            record.write_text(digest + "\n")
            result = search(original_path, data_path, family, seed_settings, seed_dir, time_model, log)
        searches[str(seed)] = result
        points += [
            {**point, "seed": seed, "path": f"seed-{seed}/points/target-{k}.keras"}
            for k, point in enumerate(result["points"])
        ]
    first = searches[str(seeds[0])]
    merged = {
        "family": family,
        "original_widths": first["original_widths"],
        "targets": first["targets"],
        "seeds": seeds,
        "points": points,
        # the targets no search reached (each search's own are under `searches`)
        "unreached_targets": [
            t for t in first["targets"] if all(t in r["unreached_targets"] for r in searches.values())
        ],
        "settings": {**settings, "seeds": seeds},
        "data": first["data"],
        "searches": searches,
    }
    with replacing(out_dir / "search.json") as partial:
        partial.write_text(json.dumps(merged, indent=1) + "\n")
    return merged
