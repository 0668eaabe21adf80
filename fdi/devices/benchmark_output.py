"""Parse the text that LiteRT's `benchmark_model` prints (with --enable_op_profiling=true).

Understood, with or without a logging prefix such as `INFO: ` on each line:
- the run statistics, `count=50 first=1234 curr=1100 min=1090 max=1300 avg=1120.5 std=30`,
  printed once for the warm-up and once for the timed runs (the last one is the timed runs),
  alone or after `Timings (microseconds): ` in the profiling summary;
- `Inference timings in us: Init: ..., First inference: ..., Warmup (avg): ..., Inference (avg): ...`;
- the op profile's `Run Order` table, in the current layout
  `[node type] [first] [avg ms] [%] [cdf%] [mem KB] [times called] [Name]` and in the older
  layout with an extra `[start]` column. The table of the section "Operator-wise Profiling Info
  for Regular Benchmark Runs" is read; output without section titles (older versions) gives its
  first Run Order table. The initialisation profile's table is never taken for the runs.
A line that looks like a table header but has other columns is an error that quotes it, as is
output with no timing at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PREFIX = re.compile(r"^\s*(?:(?:INFO|WARNING|VERBOSE|I|W)\s*:\s*)?")
_STATS = re.compile(
    r"count=(?P<count>\d+)\s+first=(?P<first>[\d.]+)\s+curr=(?P<curr>[\d.]+)\s+min=(?P<min>[\d.]+)\s+"
    r"max=(?P<max>[\d.]+)\s+avg=(?P<avg>[\d.eE+-]+)\s+std=(?P<std>[\d.eE+-]+)"
)
_INFERENCE = re.compile(
    r"Inference timings in us:\s*Init:\s*(?P<init>[\d.eE+-]+),\s*First inference:\s*(?P<first>[\d.eE+-]+),\s*"
    r"Warmup \(avg\):\s*(?P<warmup>[\d.eE+-]+|nan),\s*Inference \(avg\):\s*(?P<inference>[\d.eE+-]+)"
)
_HEADERS = {
    ("node type", "first", "avg ms", "%", "cdf%", "mem KB", "times called", "Name"): "current",
    ("node type", "start", "first", "avg ms", "%", "cdf%", "mem KB", "times called", "Name"): "start",
}


class BenchmarkOutputError(ValueError):
    """benchmark_model printed something this parser does not understand."""


@dataclass
class OpRow:
    node_type: str
    name: str
    first_ms: float
    avg_ms: float
    percent: float
    times_called: int


@dataclass
class BenchmarkResult:
    """Timed-run statistics in milliseconds, and the op profile of the regular runs."""

    count: int
    first_ms: float
    min_ms: float
    max_ms: float
    avg_ms: float
    std_ms: float
    inference_avg_ms: float | None = None
    init_ms: float | None = None
    ops: list[OpRow] = field(default_factory=list)
    table_layout: str | None = None


def _strip(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\n"), count=1).strip()


def _parse_table(lines: list[str], start: int, layout: str) -> list[OpRow]:
    rows = []
    for raw in lines[start:]:
        line = _strip(raw)
        if not line or line.startswith("="):
            break
        cells = [cell.strip() for cell in re.split(r"\t|\s{2,}", line) if cell.strip()]
        if layout == "start":
            if len(cells) < 9:
                raise BenchmarkOutputError(f"unexpected Run Order row (old layout): {raw.strip()!r}")
            node_type, _start, first, avg, percent, _cdf, _mem, called, *name = cells
        else:
            if len(cells) < 8:
                raise BenchmarkOutputError(f"unexpected Run Order row: {raw.strip()!r}")
            node_type, first, avg, percent, _cdf, _mem, called, *name = cells
        try:
            rows.append(
                OpRow(
                    node_type=node_type,
                    name=" ".join(name).strip("[]"),
                    first_ms=float(first),
                    avg_ms=float(avg),
                    percent=float(percent.rstrip("%")),
                    times_called=int(called),
                )
            )
        except ValueError as error:
            raise BenchmarkOutputError(f"unexpected Run Order row: {raw.strip()!r}") from error
    return rows


def parse(text: str) -> BenchmarkResult:
    """Parse one benchmark_model run; raise BenchmarkOutputError quoting what was not understood."""
    lines = text.splitlines()
    stats = None
    inference = None
    ops: list[OpRow] = []
    layout = None
    section = "untitled"
    for index, raw in enumerate(lines):
        line = _strip(raw)
        if "Profiling Info for Benchmark Initialization" in line:
            section = "initialization"
        elif "Profiling Info for Regular Benchmark Runs" in line:
            section = "regular"
        elif match := _STATS.search(line):
            stats = match  # the last one printed is the timed runs
        elif match := _INFERENCE.search(line):
            inference = match
        elif line.startswith("[node type]"):
            header = tuple(cell.strip("[]") for cell in re.findall(r"\[[^\]]*\]", line))
            if header not in _HEADERS:
                raise BenchmarkOutputError(f"unknown op-profile table header: {raw.strip()!r}")
            previous = _strip(lines[index - 1]) if index else ""
            wanted = section == "regular" or (section == "untitled" and layout is None)
            if "Run Order" in previous and wanted:
                layout = _HEADERS[header]
                ops = _parse_table(lines, index + 1, layout)
    if stats is None:
        first = next((raw.strip() for raw in lines if raw.strip()), "")
        raise BenchmarkOutputError(
            "benchmark_model output has no 'count= first= curr= min= max= avg= std=' line "
            f"(first line: {first!r})"
        )
    to_ms = 1e-3
    return BenchmarkResult(
        count=int(stats["count"]),
        first_ms=float(stats["first"]) * to_ms,
        min_ms=float(stats["min"]) * to_ms,
        max_ms=float(stats["max"]) * to_ms,
        avg_ms=float(stats["avg"]) * to_ms,
        std_ms=float(stats["std"]) * to_ms,
        inference_avg_ms=float(inference["inference"]) * to_ms if inference else None,
        init_ms=float(inference["init"]) * to_ms if inference else None,
        ops=ops,
        table_layout=layout,
    )
