"""Parse the text that LiteRT's `benchmark_model` prints (with or without --enable_op_profiling=true).

Checked against 13 verbatim recordings from real devices (tests/fixtures/benchmark_model/SOURCES.md)
and the tool's own formatter. Three layouts occur, all understood, with tabs or spaces, with or
without a logging prefix (`INFO: `) on each line, with e-notation numbers and vendor lines between:
- **current**: section titles ("Operator-wise Profiling Info for Regular Benchmark Runs:"), Run
  Order tables `[node type] [first] [avg ms] [%] [cdf%] [mem KB] [times called] [Name]`;
- **transitional**: the same titles, tables with an extra `[start]` column;
- **old**: no section titles, `[start]` column, `Average inference timings in us: Warmup: …`.

What is returned, and why:
- The **latency** is the timed runs' own `count= first= … avg= std=` line (the second such line;
  the first is the warm-up), as `Inference (avg)` confirms. The profiler's
  `Timings (microseconds)` line sums per-op times and is a little lower: it is kept per subgraph,
  never taken for the run. Pasted fragments without the runs' line fall back to the summary line,
  then to the profiler, and say so in `latency_source`.
- A graph with several subgraphs (a `WHILE` loop: every GRU/LSTM graph) or a delegate prints one
  Run Order table per subgraph ("Primary graph …", "Subgraph (index: N …)", "Delegate internal:").
  The primary graph's table holds the model's ops (`ops`); the others are kept in `subgraphs`.
- `avg ms` is per call; an op's time per inference is `avg ms x times called` (`OpRow.total_ms`).
Output holding several runs, or tables the parser cannot place, is refused with an error naming
the line, never mixed silently.
"""

from __future__ import annotations

import re

from fdi.profile.devices.benchmark_records import (
    NUMBER,
    BenchmarkOutputError,
    BenchmarkResult,
    OpRow,
    RunStats,
    SubgraphProfile,
    fail,
)

_PREFIX = re.compile(r"^\s*(?:(?:INFO|WARNING|VERBOSE)\s*:\s*)?")
_PROFILER = re.compile(
    r"^(?:Subgraph \(index: (?P<index>\d+)(?:, name: [^)]*)?\) )?"
    r"Timings \(microseconds\): (?P<stats>count=.*)$"
)
_SUMMARY = re.compile(
    rf"^Inference timings in us: Init: (?P<init>{NUMBER}), First inference: (?P<first>{NUMBER}), "
    rf"Warmup \(avg\): (?P<warmup>{NUMBER}), Inference \(avg\): (?P<inference>{NUMBER})"
)
_OLD_SUMMARY = re.compile(
    rf"^Average inference timings in us: Warmup: (?P<warmup>{NUMBER}), Init: (?P<init>{NUMBER}), "
    rf"(?:Inference|no stats): (?P<inference>{NUMBER})"
)
_PRIMARY = re.compile(r"^Primary graph(?: \(name: (?P<name>[^)]*)\))? (?:profile|summary):$")
_SUBGRAPH = re.compile(
    r"^Subgraph \(index: (?P<index>\d+)(?:, name: (?P<name>[^)]*))?\) (?:profile|summary):$"
)
_TITLE = re.compile(r"^=+ (?P<title>.+?) =+$")
_HEADERS = {
    ("node type", "first", "avg ms", "%", "cdf%", "mem KB", "times called", "Name"): "current",
    ("node type", "start", "first", "avg ms", "%", "cdf%", "mem KB", "times called", "Name"): "start",
}
_ROW = {
    layout: re.compile(
        r"^(?P<node_type>\S.*?)\s+"
        + (rf"(?P<start>{NUMBER})\s+" if layout == "start" else "")
        + rf"(?P<first>{NUMBER})\s+(?P<avg>{NUMBER})\s+(?P<percent>{NUMBER})%\s*(?P<cdf>{NUMBER})%\s+"
        rf"(?P<mem>{NUMBER})\s+(?P<called>\d+)\s+(?P<name>\S.*)$"
    )
    for layout in ("current", "start")
}
_NAME = re.compile(r"^\[(?P<bracketed>.*)\](?::(?P<index>\d+))?$|^(?P<plain>.*?)(?::(?P<plain_index>\d+))?$")


def _strip(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\n"), count=1).strip()


def _op_name(cell: str) -> tuple[str, int | None]:
    """`[a/b]:3` -> ('a/b', 3); `Delegate/Add (ND, QU8):9` -> ('Delegate/Add (ND, QU8)', 9)."""
    match = _NAME.match(cell.strip())
    assert match is not None  # the second alternative matches anything
    if match["bracketed"] is not None:
        index = match["index"]
        return match["bracketed"], int(index) if index else None
    index = match["plain_index"]
    return match["plain"], int(index) if index else None


def _parse_row(raw: str, number: int, layout: str) -> OpRow:
    match = _ROW[layout].match(_strip(raw))
    if not match:
        raise fail(
            number, raw, "unexpected Run Order row" + (" (layout with [start])" if layout == "start" else "")
        )
    name, node_index = _op_name(match["name"])
    return OpRow(
        node_type=match["node_type"].strip(),
        name=name,
        node_index=node_index,
        first_ms=float(match["first"]),
        avg_ms=float(match["avg"]),
        percent=float(match["percent"]),
        times_called=int(match["called"]),
    )


class _Parser:
    """A single pass over the lines; every table and statistics line is placed or refused."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.section: str | None = None  # None (untitled), "init" or "regular"
        self.sections_seen: set[str] = set()
        self.parts: dict[str, list[SubgraphProfile]] = {"init": [], "regular": []}
        self.current: SubgraphProfile | None = None
        self.run_stats: list[RunStats] = []
        self.summary: dict[str, float] = {}
        self.summary_line = 0
        self.layouts: set[str] = set()
        self.started = 0

    def _section_parts(self) -> list[SubgraphProfile]:
        return self.parts["init" if self.section == "init" else "regular"]

    def _open_part(self, kind: str, index: int | None, name: str | None, number: int, raw: str) -> None:
        parts = self._section_parts()
        if any(part.kind == kind and part.index == index for part in parts):
            raise fail(number, raw, "this subgraph's profile appears twice: the text holds several runs")
        self.current = SubgraphProfile(kind=kind, index=index, name=name or None)
        parts.append(self.current)

    def _part_for_table(self, number: int, raw: str) -> SubgraphProfile:
        if self.current is None:
            self._open_part("primary", 0, None, number, raw)
        assert self.current is not None
        return self.current

    def _enter_section(self, name: str, number: int, raw: str) -> None:
        if name in self.sections_seen:
            raise fail(
                number, raw, "a second profiling section of the same kind: the text holds several runs"
            )
        self.sections_seen.add(name)
        self.section, self.current = name, None

    def _table(self, index: int, title: str) -> int:
        """Read the table whose header is at `index` (0-based); return the index after it."""
        number, raw = index + 1, self.lines[index]
        header = tuple(cell.strip("[]") for cell in re.findall(r"\[[^\]]*\]", _strip(raw)))
        end = index + 1
        while (
            end < len(self.lines) and _strip(self.lines[end]) and not _strip(self.lines[end]).startswith("=")
        ):
            end += 1
        if title != "Run Order":
            return end  # "Top by …" and "Summary by node type" repeat the Run Order table's data
        if header not in _HEADERS:
            raise fail(number, raw, "unknown op-profile table header")
        layout = _HEADERS[header]
        self.layouts.add(layout)
        part = self._part_for_table(number, raw)
        if part.has_table:
            raise fail(
                number, raw, "a second Run Order table for the same subgraph: the text holds several runs"
            )
        part.has_table = True
        part.ops = [_parse_row(self.lines[i], i + 1, layout) for i in range(index + 1, end)]
        return end

    def _profiler_line(self, match: re.Match[str], number: int, raw: str) -> None:
        stats = RunStats.parse(match["stats"], number, raw)
        index = int(match["index"]) if match["index"] else None
        part = self.current
        if part is None:
            if index is not None or self.section == "init":
                raise fail(number, raw, "a profiler Timings line with no table before it")
            self._open_part("primary", 0, None, number, raw)
            part = self.current
        assert part is not None
        if index is not None and part.index != index:
            raise fail(
                number, raw, f"Timings of subgraph {index} found in the profile of {part.kind} {part.index}"
            )
        if part.timings is not None:
            raise fail(
                number, raw, "a second Timings line for the same subgraph: the text holds several runs"
            )
        part.timings = stats
        if part.kind == "primary" and self.section is None:
            self.current = None  # untitled (old layout): the profile ends with its Timings line

    def _summary(self, values: dict[str, str], number: int, raw: str) -> None:
        if self.summary:
            raise fail(number, raw, "a second summary line: the text holds several runs")
        self.summary = {key: float(value) * 1e-3 for key, value in values.items()}
        self.summary_line = number

    def parse(self) -> BenchmarkResult:
        index = 0
        previous_title: tuple[int, str] | None = None
        while index < len(self.lines):
            raw = self.lines[index]
            number, line = index + 1, _strip(raw)
            index += 1
            if line == "STARTING!":
                self.started += 1
                if self.started > 1 or self.run_stats or self.sections_seen:
                    raise fail(number, raw, "a second benchmark starts here: the text holds several runs")
            elif "Profiling Info for Benchmark Initialization" in line:
                self._enter_section("init", number, raw)
            elif "Profiling Info for Regular Benchmark Runs" in line:
                self._enter_section("regular", number, raw)
            elif match := _PRIMARY.match(line):
                self._open_part("primary", 0, match["name"], number, raw)
            elif match := _SUBGRAPH.match(line):
                self._open_part("subgraph", int(match["index"]), match["name"], number, raw)
            elif line.startswith("Delegate internal:"):
                self._open_part("delegate", None, None, number, raw)
            elif match := _PROFILER.match(line):
                self._profiler_line(match, number, raw)
            elif line.startswith("count="):
                if self.sections_seen or any(self.parts.values()):
                    raise fail(
                        number, raw, "run statistics after the op profile: the text holds several runs"
                    )
                self.run_stats.append(RunStats.parse(line, number, raw))
                if len(self.run_stats) > 2:
                    raise fail(number, raw, "a third run-statistics line: the text holds several runs")
            elif (match := _SUMMARY.match(line)) or (match := _OLD_SUMMARY.match(line)):
                self._summary(match.groupdict(), number, raw)
            elif match := _TITLE.match(line):
                previous_title = (number, match["title"])
                continue
            elif line.startswith(("[node type]", "[Node type]")):
                if previous_title is None or previous_title[0] != number - 1:
                    raise fail(number, raw, "a table header without its '=== title ===' line above it")
                index = self._table(index - 1, previous_title[1])
            previous_title = None
        return self._result()

    def _runs(self) -> tuple[RunStats | None, RunStats | None]:
        """(warm-up, timed runs): the tool prints the warm-up's line first, then the timed runs'."""
        stats = self.run_stats
        if len(stats) == 2:
            return stats[0], stats[1]
        if len(stats) == 1:
            only = stats[0]
            if only.avg_ms is None:  # `count=1 curr=…`: a single warm-up run
                return only, None
            return None, only
        return None, None

    def _result(self) -> BenchmarkResult:
        warmup, runs = self._runs()
        regular = self.parts["regular"]
        if runs is None and not self.summary and not any(part.timings for part in regular):
            first = next((raw.strip() for raw in self.lines if raw.strip()), "")
            raise BenchmarkOutputError(
                "benchmark_model output has no timing: no 'count= first= curr= min= max= avg= std=' line, "
                f"no summary and no profile (first line: {first!r})"
            )
        inference = self.summary.get("inference")
        if runs and runs.avg_ms and inference and abs(runs.avg_ms - inference) > 1e-5 * runs.avg_ms:
            raise BenchmarkOutputError(
                f"line {self.summary_line}: the summary's inference average {inference * 1e3:g} us "
                f"differs from the timed runs' avg {runs.avg_ms * 1e3:g} us on line {runs.line}: "
                "the text holds several runs"
            )
        tables = [part for part in regular if part.has_table]
        if tables and not any(part.kind == "primary" for part in tables):
            raise BenchmarkOutputError(
                "the op profile has no primary graph table: cannot tell the model's ops"
            )
        return BenchmarkResult(
            layout=self._layout(),
            warmup=warmup,
            runs=runs,
            summary=self.summary,
            subgraphs=sorted(regular, key=lambda part: ("primary", "subgraph", "delegate").index(part.kind)),
            init_profile=self.parts["init"],
        )

    def _layout(self) -> str | None:
        if not self.layouts:
            return None
        if len(self.layouts) > 1:
            raise BenchmarkOutputError(
                "Run Order tables of two different layouts: the text holds several runs"
            )
        if "current" in self.layouts:
            return "current"
        return "transitional" if self.sections_seen else "old"


def parse(text: str) -> BenchmarkResult:
    """Parse one benchmark_model run; raise BenchmarkOutputError naming the line not understood."""
    return _Parser(text).parse()
