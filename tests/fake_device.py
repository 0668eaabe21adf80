"""A scripted device kind for testing the instrument: no runtime, no graphs actually run.

`SCRIPT` maps a graph's stem to the list of per-pass times (ms) the device will report, in
order; a graph missing from it reports `BASE_MS`. The reference graph (stem `reference_graph`)
reports `REFERENCE_MS[k]` on its k-th timing. Every pass has 5 identical runs, so any statistic of
a pass is that pass's scripted time. A reference timing takes 0.5 ms, a component pass 3 ms.
`LOG` records the order of (stem, pass index) timed.
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
_counts: defaultdict[str, int] = defaultdict(int)


def reset(script: dict[str, list[float]] | None = None, reference: list[float] | None = None) -> None:
    SCRIPT.clear()
    SCRIPT.update(script or {})
    REFERENCE_MS[:] = reference or []
    LOG.clear()
    _counts.clear()


class ScriptedSession:
    runs_here = True  # in this process, like the host kind

    def __init__(self) -> None:
        self.fingerprint = {"device_kind": "scripted"}

    def time(self, graph: Path) -> dict[str, Any]:
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
        return {"runs_ms": [value] * 5}


@contextmanager
def session(settings: dict[str, Any]) -> Iterator[ScriptedSession]:
    yield ScriptedSession()
