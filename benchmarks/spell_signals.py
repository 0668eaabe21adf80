"""What a disturbance spell does to a pass, and which signal of it a gate could read.

Runs benchmarks/disturb.py for `--seconds` beside a loop that times each given graph in turn,
`--runs` invocations a pass (kept LiteRT interpreters, one thread), recording every invocation's
wall time and its thread's CPU time. Then, per graph, in spells against outside them: the wall
time per run (median over the graph's 5th percentile), the CPU time per run (preemption shows as
wall > CPU time; memory contention slows both), and how often a pass's mean or fastest run is
more than `--threshold` over its floor (the graph's 10th percentile of that statistic).

Run nothing else meanwhile.
Usage: python benchmarks/spell_signals.py GRAPH.tflite [...] [--seconds 80] [--duty 0.5] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fdi.profile.devices.litert_timer import prepared_interpreter

DISTURB = Path(__file__).resolve().with_name("disturb.py")


def timed_runs(graphs: list[Path], seconds: float, runs: int) -> pd.DataFrame:
    """Every invocation: graph, pass, start (unix s), wall ms, thread CPU ms."""
    interpreters = {g.name: prepared_interpreter(g, 1) for g in graphs}
    for interpreter in interpreters.values():
        for _ in range(runs):  # warm
            interpreter.invoke()
    rows, number, end = [], 0, time.time() + seconds
    while time.time() < end:
        for name, interpreter in interpreters.items():
            for _ in range(runs):
                wall, cpu, start = time.perf_counter_ns(), time.thread_time_ns(), time.time()
                interpreter.invoke()
                rows.append(
                    (
                        name,
                        number,
                        start,
                        (time.perf_counter_ns() - wall) / 1e6,
                        (time.thread_time_ns() - cpu) / 1e6,
                    )
                )
            time.sleep(0.05)
        number += 1
    return pd.DataFrame(rows, columns=["graph", "pass", "start", "wall_ms", "cpu_ms"])


def in_spells(start: np.ndarray, end: np.ndarray, spells: pd.DataFrame) -> np.ndarray:
    s0, s1 = spells.start_unix_s.to_numpy(), spells.end_unix_s.to_numpy()
    return ((s0[None, :] < end[:, None]) & (s1[None, :] > start[:, None])).any(axis=1)


def report(runs: pd.DataFrame, spells: pd.DataFrame, threshold: float) -> pd.DataFrame:
    runs = runs.assign(
        spell=in_spells(runs.start.to_numpy(), (runs.start + runs.wall_ms / 1e3).to_numpy(), spells)
    )
    rows = []
    for graph, own in runs.groupby("graph"):
        wall = own.wall_ms / own.wall_ms.quantile(0.05) - 1
        cpu = own.cpu_ms / own.cpu_ms.quantile(0.05) - 1
        passes = own.groupby("pass").agg(
            start=("start", "min"), end=("start", "max"), mean=("wall_ms", "mean"), fastest=("wall_ms", "min")
        )
        passes["spell"] = in_spells(passes.start.to_numpy(), passes.end.to_numpy(), spells)
        row = {"graph": graph, "floor ms": own.wall_ms.quantile(0.05)}
        for where, mask in (("in spell", own.spell), ("quiet", ~own.spell)):
            row[f"wall/run {where}"] = f"{100 * wall[mask].median():+.0f}%"
            row[f"cpu/run {where}"] = f"{100 * cpu[mask].median():+.0f}%"
        for statistic in ("mean", "fastest"):
            over = passes[statistic] / passes[statistic].quantile(0.1) > 1 + threshold
            row[f"pass {statistic} flags in spell / quiet"] = (
                f"{100 * over[passes.spell].mean():.0f}% / {100 * over[~passes.spell].mean():.0f}%"
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("graph")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("graphs", type=Path, nargs="+")
    parser.add_argument("--seconds", type=float, default=80)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--duty", type=float, default=0.5)
    parser.add_argument("--min-spell", type=float, default=2)
    parser.add_argument("--max-spell", type=float, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "spells.jsonl"
        command = [sys.executable, str(DISTURB), "--duty", str(args.duty), "--seed", str(args.seed)]
        command += ["--min-spell", str(args.min_spell), "--max-spell", str(args.max_spell)]
        command += ["--duration", str(args.seconds), "--log", str(log)]
        generator = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            runs = timed_runs(args.graphs, args.seconds, args.runs)
        finally:
            generator.wait(timeout=120)
        spells = pd.DataFrame([json.loads(line) for line in log.read_text().splitlines()])
    total = (spells.end_unix_s - spells.start_unix_s).sum()
    print(f"{len(spells)} spells, {total:.0f} s of {args.seconds:.0f} s")
    pd.set_option("display.width", 250)
    print(report(runs, spells, args.threshold).to_string())


if __name__ == "__main__":
    main()
