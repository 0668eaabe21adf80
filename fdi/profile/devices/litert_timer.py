"""One timing pass over one .tflite graph with LiteRT's Python interpreter: the host's instrument,
and the same file copied to a Linux board by the `ssh` kind and run there as a script.

It therefore imports nothing from fdi and nothing heavy: numpy and LiteRT's interpreter only
(`ai_edge_litert`, or the older `tflite_runtime` wheel that boards often carry). A pass warms up
with at least `warmup_runs` untimed invocations lasting at least `warmup_min_ms` in all (like
benchmark_model's --warmup_min_secs: on this project's VMs the first ~20 ms of invocations run up
to 40% slow, whatever the layer), then times `runs` invocations and keeps every run's time.

As a script: `python3 litert_timer.py --graph G --threads 1 --warmup-runs 1 --warmup-min-ms 50
--runs 20` prints one JSON object: `runs_ms`, `runtime` and `runtime_version`.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from typing import Any


@functools.cache
def _version(package: str) -> str:
    """The installed version (read once: package metadata is slow to scan on every pass)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def load_interpreter() -> tuple[Any, str, str]:
    """(Interpreter class, runtime package, its version): ai-edge-litert, else tflite-runtime."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        runtime = "ai-edge-litert"
    except ImportError:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found, no-redef]

        runtime = "tflite-runtime"
    return Interpreter, runtime, _version(runtime)


def prepared_interpreter(path: Path, threads: int) -> Any:
    """A fresh interpreter for `path` with its tensors allocated and seeded random inputs set."""
    import numpy as np

    interpreter_class, _, _ = load_interpreter()
    interpreter = interpreter_class(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], rng.standard_normal(detail["shape"]).astype(detail["dtype"]))
    return interpreter


def timed_invocations(interpreter: Any, runs: int) -> list[float]:
    """Milliseconds of each of `runs` invocations, back to back."""
    times = []
    for _ in range(runs):
        begin = time.perf_counter_ns()
        interpreter.invoke()
        times.append((time.perf_counter_ns() - begin) / 1e6)
    return times


def warmed_interpreter(path: Path, threads: int, warmup_runs: int, warmup_min_ms: float = 0.0) -> Any:
    """A fresh interpreter for `path`, invoked at least `warmup_runs` times and `warmup_min_ms`."""
    interpreter = prepared_interpreter(path, threads)
    start = time.perf_counter()
    done = 0
    while done < warmup_runs or (time.perf_counter() - start) * 1e3 < warmup_min_ms:
        interpreter.invoke()
        done += 1
    return interpreter


def time_graph(
    path: Path, threads: int, warmup_runs: int, runs: int, warmup_min_ms: float = 0.0
) -> list[float]:
    """One pass over one graph: milliseconds of each of `runs` timed invocations."""
    return timed_invocations(warmed_interpreter(path, threads, warmup_runs, warmup_min_ms), runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time one .tflite graph with LiteRT; print JSON.")
    parser.add_argument("--graph", type=Path, help="the .tflite graph (omit to print the runtime only)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup-runs", type=int, default=1)
    parser.add_argument("--warmup-min-ms", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    _, runtime, runtime_version = load_interpreter()
    out: dict[str, Any] = {"runtime": runtime, "runtime_version": runtime_version}
    if args.graph is not None:
        out["runs_ms"] = time_graph(args.graph, args.threads, args.warmup_runs, args.runs, args.warmup_min_ms)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
