"""What LiteRT's `benchmark_model` reports, as records (fdi.profile.devices.benchmark_output
reads the text into them): the timed runs' statistics line, a Run Order table's rows, one
subgraph's profile, one whole run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf"
_STATS = re.compile(rf"^count=(?P<count>\d+)(?P<rest>(?:\s+\w+=(?:{NUMBER}))*)\s*$")
_PAIR = re.compile(rf"(\w+)=({NUMBER})")


class BenchmarkOutputError(ValueError):
    """benchmark_model printed something this parser does not understand (the message names the line)."""


def fail(number: int, raw: str, why: str) -> BenchmarkOutputError:
    return BenchmarkOutputError(f"line {number}: {why}: {raw.strip()[:200]!r}")


@dataclass(frozen=True)
class RunStats:
    """One `count= first= curr= min= max= avg= std=` line, in milliseconds (absent fields: None)."""

    count: int
    first_ms: float | None
    curr_ms: float | None
    min_ms: float | None
    max_ms: float | None
    avg_ms: float | None
    std_ms: float | None
    line: int

    @classmethod
    def parse(cls, text: str, number: int, raw: str) -> RunStats:
        match = _STATS.match(text)
        if not match:
            raise fail(number, raw, "cannot read the statistics")
        values = {key: float(value) * 1e-3 for key, value in _PAIR.findall(match["rest"])}
        return cls(
            count=int(match["count"]),
            first_ms=values.get("first"),
            curr_ms=values.get("curr"),
            min_ms=values.get("min"),
            max_ms=values.get("max"),
            avg_ms=values.get("avg"),
            std_ms=values.get("std"),
            line=number,
        )


@dataclass(frozen=True)
class OpRow:
    """One row of a Run Order table: `avg_ms` per call, `total_ms` per inference."""

    node_type: str
    name: str
    node_index: int | None
    first_ms: float
    avg_ms: float
    percent: float
    times_called: int

    @property
    def total_ms(self) -> float | None:
        """avg ms x times called; None where the tool did not count calls (old versions print 0)."""
        return self.avg_ms * self.times_called if self.times_called else None

    def as_record(self) -> dict[str, object]:
        return {**self.__dict__, "total_ms": self.total_ms}


@dataclass
class SubgraphProfile:
    """The op profile of one subgraph (primary graph: index 0) or of a delegate's internals."""

    kind: str  # "primary", "subgraph" or "delegate"
    index: int | None
    name: str | None = None
    ops: list[OpRow] = field(default_factory=list)
    timings: RunStats | None = None  # the profiler's line: a sum of per-op times, not the run
    has_table: bool = False


@dataclass
class BenchmarkResult:
    """One benchmark_model run: the timed runs' statistics, the summary line and the op profile."""

    layout: str | None  # current, transitional, old; None without a Run Order table
    warmup: RunStats | None
    runs: RunStats | None
    summary: dict[str, float] = field(default_factory=dict)  # init, first, warmup, inference (ms)
    subgraphs: list[SubgraphProfile] = field(default_factory=list)  # regular runs, primary first
    init_profile: list[SubgraphProfile] = field(default_factory=list)

    @property
    def primary(self) -> SubgraphProfile | None:
        return next((part for part in self.subgraphs if part.kind == "primary"), None)

    @property
    def ops(self) -> list[OpRow]:
        """The model's own ops: the primary graph's Run Order table."""
        return self.primary.ops if self.primary else []

    @property
    def latency_source(self) -> str:
        if self.runs is not None and self.runs.avg_ms is not None:
            return "runs"
        if "inference" in self.summary:
            return "summary"
        return "profiler"

    @property
    def latency_ms(self) -> float:
        """The mean time of one inference over the timed runs."""
        source = self.latency_source
        if source == "runs":
            return self.runs.avg_ms  # type: ignore[union-attr, return-value]
        if source == "summary":
            return self.summary["inference"]
        return self.primary.timings.avg_ms  # type: ignore[union-attr, return-value]
