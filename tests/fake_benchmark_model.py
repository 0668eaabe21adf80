#!/usr/bin/env python3
"""Stand-in for LiteRT's benchmark_model, pushed to the fake adb device by the tests.

It really runs the graph with LiteRT on the host (so even this path yields measured times) and
prints benchmark_model's documented output layout: the warm-up and timed-run statistics lines,
the `Inference timings in us:` line and, with --enable_op_profiling=true, an initialisation
profile followed by the regular runs' Run Order table. XNNPACK delegates the whole graph, so
that table has one delegate row, as the real tool shows for such graphs. A graph with several
subgraphs (a WHILE loop: GRU/LSTM) gets the tool's per-subgraph layout (profile_summary_formatter.cc):
"Primary graph (name: main) profile:" with the main graph's real op list, the whole time on its
WHILE op, then one "Subgraph (index: N, name: ...)" table per other subgraph. Per-op times are not
measured by this stand-in (LiteRT's Python API has no op profiler): they are placeholders.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

HEADER = (
    "\t             [node type]\t          [first]\t         [avg ms]\t             [%]\t          [cdf%]"
    "\t         [mem KB]\t     [times called]\t[Name]"
)


def stats_line(times_us: list[float]) -> str:
    std = statistics.pstdev(times_us) if len(times_us) > 1 else 0.0
    return (
        f"count={len(times_us)} first={int(times_us[0])} curr={int(times_us[-1])} min={int(min(times_us))} "
        f"max={int(max(times_us))} avg={statistics.fmean(times_us):.6g} std={int(std)}"
    )


def print_table(rows: list[tuple[str, float, float, str]]) -> None:
    print("============================== Run Order ==============================")
    print(HEADER)
    total = sum(avg for _, _, avg, _ in rows) or 1.0
    cdf = 0.0
    for node_type, first, avg, name in rows:
        cdf += 100 * avg / total
        print(
            f"\t{node_type:>24}\t{first:17.3f}\t{avg:17.3f}\t{100 * avg / total:15.3f}%\t{cdf:15.3f}%"
            f"\t{0:17.3f}\t{1:15d}\t{name}"
        )
    print()


def busy_gauge(busy: bool) -> None:
    """A phone draws more while it computes: if the fake device has a battery gauge with a
    `busy_current_now`, current_now reads it during the runs (held 0.3 s at least, so a gauge
    sampled every 50 ms sees it) and `idle_current_now` after."""
    gauge = Path("sys/class/power_supply/battery")
    if not (gauge / "busy_current_now").exists():
        return
    if not busy:
        time.sleep(max(0.0, 0.3 - (time.monotonic() - busy_gauge.since)))
    source = gauge / ("busy_current_now" if busy else "idle_current_now")
    (gauge / "current_now.next").write_text(source.read_text())
    os.replace(gauge / "current_now.next", gauge / "current_now")
    busy_gauge.since = time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graph", required=True)
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument("--warmup_runs", type=int, default=1)
    parser.add_argument("--num_runs", type=int, default=50)
    parser.add_argument("--enable_op_profiling", default="false")
    args = parser.parse_args()
    print("INFO: STARTING!")
    print(f"INFO: Num threads: [{args.num_threads}]")
    print(f"INFO: Graph: [{args.graph}]")
    start = time.perf_counter()
    interpreter = Interpreter(model_path=args.graph, num_threads=args.num_threads)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
    init_us = (time.perf_counter() - start) * 1e6
    print(f"INFO: Initialized session in {init_us / 1e3:.3f}ms.")

    def timed(n: int) -> list[float]:
        out = []
        for _ in range(n):
            begin = time.perf_counter()
            interpreter.invoke()
            out.append((time.perf_counter() - begin) * 1e6)
        return out

    busy_gauge(True)
    warmup = timed(max(1, args.warmup_runs))
    print("INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds.")
    print("INFO: " + stats_line(warmup))
    runs = timed(args.num_runs)
    print(f"INFO: Running benchmark for at least {args.num_runs} iterations and at least 1 seconds.")
    print("INFO: " + stats_line(runs))
    busy_gauge(False)
    print(
        f"INFO: Inference timings in us: Init: {init_us:.6g}, First inference: {warmup[0]:.6g}, "
        f"Warmup (avg): {statistics.fmean(warmup):.6g}, Inference (avg): {statistics.fmean(runs):.6g}"
    )
    if args.enable_op_profiling == "true":
        first_ms, avg_ms = runs[0] / 1e3, statistics.fmean(runs) / 1e3
        print("INFO: Profiling Info for Benchmark Initialization:")
        print("============================== Run Order ==============================")
        print(HEADER)
        print(
            f"\t         AllocateTensors\t{init_us / 1e3:17.3f}\t{init_us / 1e3:17.3f}"
            "\t        100.000%\t        100.000%\t             0.000\t              1\tAllocateTensors/0"
        )
        print()
        print("Operator-wise Profiling Info for Regular Benchmark Runs:")
        if interpreter.num_subgraphs() == 1:
            print_table([("TfLiteXNNPackDelegate", first_ms, avg_ms, "[StatefulPartitionedCall:0]:1")])
            print(stats_line(runs).join(["Timings (microseconds): ", ""]))
        else:
            print("Primary graph (name: main) profile:")
            rows = []
            for op in interpreter._get_ops_details():
                busy = op["op_name"] == "WHILE"
                rows.append(
                    (op["op_name"], first_ms if busy else 0, avg_ms if busy else 0, f"[op]:{op['index']}")
                )
            print_table(rows)
            print(stats_line(runs).join(["Timings (microseconds): ", ""]))
            for index in range(1, interpreter.num_subgraphs()):
                title = f"Subgraph (index: {index}, name: subgraph_{index})"
                print(f"{title} profile:")
                print_table([("TfLiteXNNPackDelegate", 0, 0, f"[loop_{index}]:0")])
                print(f"{title} " + stats_line([0.0] * len(runs)).join(["Timings (microseconds): ", ""]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
