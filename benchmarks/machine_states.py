"""How the host flips between its fast and slow states, and what the run gate makes of it
(issue 25; the figures of docs/results/2026-12-03-run-gate.md).

Three measurements on the graphs of a clone after `make run` (`--workdir`), with the
instrument's own code (fdi.profile.devices.litert_timer):

- `trace`: one kept interpreter of each graph invoked back to back for `--seconds`: how much of
  the time its fastest invocation in a window of 2 ms (a pass's runs) ... 2 s is > 10% over the
  graph's floor, and how long its slow spells (50 ms windows > 15% over) last.
- `gate`: the reference's quick timing (5 invocations), the graph's 20 runs, the reference again,
  back to back for `--seconds`: the share of blocks whose graph ran > 10% slow, of all blocks and
  of those the run gate would accept (the reference within `--tolerance` of its floor before, and
  before and after; with `--probe`, the cache probe's quick timing (15 invocations) within it too,
  as the run gate's looks around graphs of `cache_probe_megabytes`); and the correlation of the
  reference's ratio with the graph's.
- `jobs`: the graphs of `--graph-list` (default: the check job's) timed by `run_benchmark` with the
  clone's host settings in alternating jobs without (A) and with (B) the run gate (`--order
  ABAB`), B with whole blocks and without the cache probe around large graphs, C with it
  (`cache_probe_megabytes`: the clone's, else 12), D with short blocks (`block_ms`: the
  clone's, else 5); each pair of jobs' agreement within ±10% and each job's share of graphs
  > 10% over the floor (the fastest settled value of all jobs), per scope.

Run nothing else meanwhile. Usage:
  python benchmarks/machine_states.py --workdir CLONE trace lstm-n006-c09 --seconds 15
  python benchmarks/machine_states.py --workdir CLONE gate lstm-n006-c09 gru-n001-c07 --seconds 8
  python benchmarks/machine_states.py --workdir CLONE gate fc-n002-c01 --probe --seconds 10
  python benchmarks/machine_states.py --workdir CLONE jobs --out DIR --order ABAB
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fdi.profile.devices import run_benchmark
from fdi.profile.devices.gate import CACHE_PROBE_RUNS
from fdi.profile.devices.litert_timer import prepared_interpreter, timed_invocations
from fdi.timemodel.dataset import summarise_timings

WINDOWS_MS = (2, 20, 200, 1000, 2000)


def graph_path(workdir: Path, graph_id: str) -> Path:
    graphs = workdir / "results" / "graphs"
    if graph_id in ("reference", "cache_probe"):
        return graphs / f"{graph_id}.tflite"
    found = sorted(graphs.glob(f"*/*/{graph_id}.tflite"))
    if not found:
        raise SystemExit(f"{graph_id}: no such graph under {graphs}")
    return found[0]


def trace(workdir: Path, graph_id: str, seconds: float) -> None:
    interpreter = prepared_interpreter(graph_path(workdir, graph_id), 1)
    for _ in range(200):
        interpreter.invoke()
    moments, times = [], []
    end = time.perf_counter() + seconds
    while (moment := time.perf_counter()) < end:
        interpreter.invoke()
        moments.append(moment)
        times.append((time.perf_counter() - moment) * 1e3)
    moment_ms = ((np.array(moments) - moments[0]) * 1e3).astype(int)
    runs = np.array(times)
    floor = np.percentile(runs, 1)
    per_ms = np.full(moment_ms.max() + 1, np.inf)
    np.minimum.at(per_ms, moment_ms, runs)
    shares = []
    for window in WINDOWS_MS:
        fastest = np.lib.stride_tricks.sliding_window_view(per_ms, window).min(axis=1)
        shares.append(f"{window} ms {np.mean(fastest > 1.10 * floor):.1%}")
    slow = np.array([per_ms[k : k + 50].min() > 1.15 * floor for k in range(0, len(per_ms) - 49, 50)])
    spells = [len(list(group)) * 0.05 for is_slow, group in itertools.groupby(slow) if is_slow]
    print(
        f"{graph_id}: floor {floor:.4f} ms; fastest of a window > 10% over it: {', '.join(shares)}; "
        f"50 ms windows > 15% over: {slow.mean():.0%}, spells median {np.median(spells or [0]):.2f} s, "
        f"longest {max(spells or [0]):.2f} s"
    )


def gate(workdir: Path, graph_ids: list[str], seconds: float, tolerance: float, probe: bool) -> None:
    reference = prepared_interpreter(graph_path(workdir, "reference"), 1)
    cache_probe = prepared_interpreter(graph_path(workdir, "cache_probe"), 1) if probe else None

    def looks() -> tuple[float, float]:
        """The reference's quick timing and (with --probe) the cache probe's, as the run gate's."""
        fastest = min(timed_invocations(reference, 5))
        probed = min(timed_invocations(cache_probe, CACHE_PROBE_RUNS)) if probe else np.nan
        return fastest, probed

    for graph_id in graph_ids:
        graph = prepared_interpreter(graph_path(workdir, graph_id), 1)
        for _ in range(50):
            reference.invoke()
            graph.invoke()
        before, block, after = [], [], []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            before.append(looks())
            block.append(min(timed_invocations(graph, 20)))
            after.append(looks())
        before, after = np.array(before), np.array(after)
        floors = np.percentile(before, 5, axis=0)
        slow = np.array(block) / np.percentile(block, 2) > 1.10
        near_before = before[:, 0] / floors[0] <= 1 + tolerance
        near_both = near_before & (after[:, 0] / floors[0] <= 1 + tolerance)
        ratio = np.corrcoef(before[:, 0] / floors[0], np.array(block))[0, 1]
        print(
            f"{graph_id}: {len(block)} blocks, {slow.mean():.0%} slow; of those the gate accepts "
            f"(reference within {tolerance:.0%} before: {near_before.mean():.0%} of blocks) "
            f"{slow[near_before].mean():.1%} slow, (before and after: {near_both.mean():.0%}) "
            f"{slow[near_both].mean():.1%}; correlation of the reference and the graph {ratio:.2f}"
        )
        if probe:
            near_probe = near_both & (np.maximum(before[:, 1], after[:, 1]) / floors[1] <= 1 + tolerance)
            print(
                f"{graph_id}: with the cache probe within {tolerance:.0%} before and after as well: "
                f"{near_probe.mean():.0%} of blocks, {slow[near_probe].mean():.1%} of them slow"
            )


def jobs(workdir: Path, out: Path, order: str, graph_list: Path | None) -> None:
    host = yaml.safe_load((workdir / "config" / "config.yaml").read_text())["devices"]["host"]
    host = {"threads": 1, "warmup_runs": 1, "warmup_min_ms": 50, "runs": 20, "repeats": 2, **host}
    host.pop("energy", None)
    listed = (graph_list or workdir / "results" / "check" / "graphs.txt").read_text().split()
    graphs = [workdir / line for line in listed]
    out.mkdir(parents=True, exist_ok=True)
    values = {}
    run_gate = host.pop("run_gate", None) or {"tolerance": 0.05, "max_wait_s": 1.0, "budget_s": 120}
    whole_blocks = {k: v for k, v in run_gate.items() if k != "block_ms"}
    kinds = {
        "A": {},
        "B": {"run_gate": {k: v for k, v in whole_blocks.items() if k != "cache_probe_megabytes"}},
        "C": {"run_gate": {"cache_probe_megabytes": 12, **whole_blocks}},
        "D": {
            "run_gate": {"block_ms": 5, **{k: v for k, v in run_gate.items() if k != "cache_probe_megabytes"}}
        },
    }
    for number, kind in enumerate(order):
        settings = {**host, **kinds[kind]}
        path = out / f"{number}{kind}.parquet"
        if not path.exists():
            references = {name: graph_path(workdir, name) for name in ("reference", "cache_probe")}
            run_benchmark("host", settings, graphs, path, **references)
        timings = pd.read_parquet(path)
        waited = sum(timings.get(c, pd.Series(0.0)).fillna(0).sum() for c in ("waited_s", "run_gate_wait_s"))
        span = timings.end_unix_s.max() - timings.start_unix_s.min()
        components = timings[timings.role == "component"]
        slow = components.get("reference_slow", pd.Series(False)).fillna(False).astype(bool).sum()
        print(
            f"{path.stem}: {len(components)} passes ({slow} reference_slow), {span:.0f} s, "
            f"waited {waited:.0f} s"
        )
        values[path.stem] = summarise_timings(timings, settings).set_index("id").time_ms
    table = pd.DataFrame(values)
    scope = table.index.str.split("-").str[0]
    scopes = sorted(set(scope))
    for first, second in itertools.combinations(table.columns, 2):
        within = (table[first] / table[second] - 1).abs() <= 0.10
        by_scope = "  ".join(f"{s} {within[scope == s].mean():.0%}" for s in scopes)
        print(f"{first} vs {second}: within ±10% {within.mean():.1%} | {by_scope}")
    floor = table.min(axis=1)
    for column in table.columns:
        over = table[column] / floor > 1.10
        by_scope = "  ".join(f"{s} {over[scope == s].mean():.0%}" for s in scopes)
        print(f"{column}: > 10% over the floor of all jobs {over.mean():.1%} | {by_scope}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True, help="a clone after `make run`")
    parser.add_argument("what", choices=["trace", "gate", "jobs"])
    parser.add_argument("graphs", nargs="*", help="graph ids (trace, gate)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tolerance", type=float, default=0.05, help="the run gate's (gate)")
    parser.add_argument("--probe", action="store_true", help="the cache probe around each block too (gate)")
    parser.add_argument("--out", type=Path, help="the jobs' timings (jobs; kept, so a rerun resumes)")
    parser.add_argument(
        "--order",
        default="ABAB",
        help="A: without the run gate, B: with it, C: with the cache probe too, D: short blocks (jobs)",
    )
    parser.add_argument("--graph-list", type=Path, help="default: the clone's check job's graphs (jobs)")
    args = parser.parse_args()
    if args.what == "trace":
        for graph_id in args.graphs:
            trace(args.workdir, graph_id, args.seconds)
    elif args.what == "gate":
        gate(args.workdir, args.graphs, args.seconds, args.tolerance, args.probe)
    else:
        if args.out is None or set(args.order) - set("ABCD"):
            parser.error("jobs needs --out and an --order of A, B, C and D")
        jobs(args.workdir, args.out, args.order, args.graph_list)


if __name__ == "__main__":
    main()
