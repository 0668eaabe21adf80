"""A scripted device kind for testing the instrument: no runtime, no graphs actually run.

`SCRIPT` maps a graph's stem to the list of per-pass times (ms) the device will report, in
order; a graph missing from it reports `BASE_MS`. The reference graph (stem `reference_graph`)
reports `REFERENCE_MS[k]` on its k-th timing. Every pass has 5 identical runs, so any statistic of
a pass is that pass's scripted time. A reference timing takes 0.5 ms, a component pass 3 ms.
`LOG` records the order of (stem, pass index) timed.

Planted spells: `SPELLS` holds (start s, end s, factor) windows counted from the start of the
`spells_after`-th timing (0: the first); a timing (component or reference) that starts inside
one is that factor slower, as on a machine slow in spells. With `QUICK`, the session offers
`quick_time` (the host's cheap reference timing). With `VISIBLE`, it offers `others_running`
(the host's look at the run queue): 1 inside a planted spell, 0 outside, as when the spells are
other processes the OS shows. `OTHERS["looks"]` counts its calls.

Planted cache spells: `CACHE_SPELLS` windows (same clock) slow only the cache probe (stem
`cache_probe`) and graphs whose file holds at least `CACHE["large_bytes"]`, as other tenants
holding part of a shared cache do; the reference and small graphs run at their speed.
`CACHE["probes"]` counts the probe's timings.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_MS = 1.0
SCRIPT: dict[str, list[float]] = {}
REFERENCE_MS: list[float] = []
LOG: list[tuple[str, int]] = []
SPELLS: list[tuple[float, float, float]] = []
QUICK = {"offered": False, "count": 0}
VISIBLE = {"offered": False}
OTHERS = {"looks": 0}
CACHE_SPELLS: list[tuple[float, float, float]] = []
CACHE: dict[str, Any] = {"large_bytes": None, "probes": 0}
_counts: defaultdict[str, int] = defaultdict(int)
_clock = {"after": 0, "timings": 0, "started": None}


def reset(
    script: dict[str, list[float]] | None = None,
    reference: list[float] | None = None,
    spells: list[tuple[float, float, float]] | None = None,
    quick: bool = False,
    spells_after: int = 0,
    visible: bool = False,
    cache_spells: list[tuple[float, float, float]] | None = None,
    large_bytes: int | None = None,
) -> None:
    SCRIPT.clear()
    SCRIPT.update(script or {})
    REFERENCE_MS[:] = reference or []
    SPELLS[:] = spells or []
    QUICK.update(offered=quick, count=0)
    VISIBLE.update(offered=visible)
    OTHERS.update(looks=0)
    CACHE_SPELLS[:] = cache_spells or []
    CACHE.update(large_bytes=large_bytes, probes=0)
    LOG.clear()
    _counts.clear()
    _clock.update(after=spells_after, timings=0, started=None)


def slowdown() -> float:
    """The planted spells' factor for a timing starting now (1 outside every spell)."""
    if _clock["timings"] == _clock["after"]:
        _clock["started"] = time.monotonic()
    _clock["timings"] += 1
    return _spell_factor()


def _spell_factor(spells: list[tuple[float, float, float]] = SPELLS) -> float:
    """The planted spells' factor now, without counting a timing."""
    if _clock["started"] is None:
        return 1.0
    now = time.monotonic() - _clock["started"]
    factor = 1.0
    for start, end, spell_factor in spells:
        if start <= now < end:
            factor *= spell_factor
    return factor


def _cache_factor(graph: Path) -> float:
    """The planted cache spells' factor for the probe and large graphs (1 for the rest)."""
    large = CACHE["large_bytes"] is not None and Path(graph).stat().st_size >= CACHE["large_bytes"]
    if Path(graph).stem == "cache_probe":
        CACHE["probes"] += 1
        large = True
    return _spell_factor(CACHE_SPELLS) if large else 1.0


class ScriptedSession:
    runs_here = True  # in this process, like the host kind

    def __init__(self) -> None:
        self.fingerprint = {"device_kind": "scripted"}

    def __getattr__(self, name: str) -> Any:
        if name == "quick_time" and QUICK["offered"]:
            return self._quick_time
        if name == "others_running" and VISIBLE["offered"]:
            return self._others_running
        raise AttributeError(name)

    def _others_running(self) -> int:
        OTHERS["looks"] += 1
        return int(_spell_factor() != 1.0)

    def _quick_time(self, graph: Path, runs: int = 5) -> dict[str, Any]:
        QUICK["count"] += 1
        return {"runs_ms": [BASE_MS * slowdown() * _cache_factor(graph)] * runs}

    def time(self, graph: Path) -> dict[str, Any]:
        factor = slowdown() * _cache_factor(graph)
        stem = Path(graph).stem
        index = _counts[stem]
        _counts[stem] += 1
        LOG.append((stem, index))
        # A component pass lasts longer than a reference timing, so a pass is nearest in time to
        # the reference timed just before it.
        time.sleep(0.0005 if stem == "reference_graph" else 0.003)
        if stem == "reference_graph":
            value = REFERENCE_MS[min(index, len(REFERENCE_MS) - 1)] if REFERENCE_MS else BASE_MS
        else:
            script = SCRIPT.get(stem, [])
            value = script[index] if index < len(script) else (script[-1] if script else BASE_MS)
        return {"runs_ms": [value * factor] * 5}


@contextmanager
def session(settings: dict[str, Any]) -> Iterator[ScriptedSession]:
    yield ScriptedSession()
