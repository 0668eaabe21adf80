"""Graphs from templates against the converter's: the export time they save, and that LiteRT
times them alike (the figures behind fdi.profile.resize).

Draws `--per-type` conv, GRU and LSTM components from the default config's Table 2 scope, makes
each graph both ways (the converter; the resized template) and prints per type the seconds per
graph of each way and their ratio. Then a LiteRT-only child process times every pair
`--passes` times, alternating which of the two goes first, each pass the fastest of 20 runs, and
prints per type the median of resized / converted - 1 over the pairs' fastest passes (a bias),
its median and largest absolute value; `--control` times each converted graph against a copy of
itself instead, so the same figures show what the noise alone gives.
The outlines are compared too (they must all match: the same operators, shapes and constants).

Run nothing else meanwhile. Usage: python benchmarks/resized_graphs.py [--per-type 10] [--passes 5]
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
import yaml

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys
from pathlib import Path
from fdi.profile.devices.litert_timer import time_graph
pairs, passes = json.loads(sys.argv[1]), int(sys.argv[2])
best = [[float("inf"), float("inf")] for _ in pairs]
for p in range(passes):
    for i, pair in enumerate(pairs):
        order = (0, 1) if (p + i) % 2 == 0 else (1, 0)
        for k in order:
            best[i][k] = min(best[i][k], min(time_graph(Path(pair[k]), 1, 1, 20, 20.0)))
print(json.dumps(best))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-type", type=int, default=10, help="components per layer type (default 10)")
    parser.add_argument("--passes", type=int, default=5, help="timing passes per graph (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--control",
        action="store_true",
        help="time each converted graph against a byte copy of itself instead (the noise alone)",
    )
    args = parser.parse_args()

    from fdi.profile.export import converted_graph, resize_key, resized_graph
    from fdi.profile.resize import graph_outline
    from fdi.profile.space import sample_component

    layers = yaml.safe_load((REPO / "config/config.yaml").read_text())["layers"]
    rng = np.random.default_rng(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="resized-"))
    pairs: dict[str, list[tuple[str, str]]] = {}
    for layer in ("cnn", "gru", "lstm"):
        components = []
        while len(components) < args.per_type:
            component = {
                "id": f"{layer}-{len(components)}",
                "layer": layer,
                **sample_component(layer, layers[layer]["scope"], rng),
            }
            if resize_key(component) is not None:
                components.append(component)
        resized_graph(components[0])  # the templates: made once per job, not per graph
        seconds = {"converter": 0.0, "templates": 0.0}
        matching = 0
        for component in components:
            start = time.perf_counter()
            slow = converted_graph(component)
            middle = time.perf_counter()
            fast = resized_graph(component)
            seconds["converter"] += middle - start
            seconds["templates"] += time.perf_counter() - middle
            matching += graph_outline(slow) == graph_outline(fast)
            paths = (
                workdir / f"{component['id']}-converted.tflite",
                workdir / f"{component['id']}-resized.tflite",
            )
            paths[0].write_bytes(slow)
            paths[1].write_bytes(slow if args.control else fast)
            pairs.setdefault(layer, []).append((str(paths[0]), str(paths[1])))
        n = len(components)
        print(
            f"{layer}: export {seconds['converter'] / n:.3f} s/graph converted, "
            f"{seconds['templates'] / n:.4f} resized ({seconds['converter'] / seconds['templates']:.0f}x); "
            f"outlines equal {matching}/{n}",
            flush=True,
        )
    for layer, layer_pairs in pairs.items():
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(layer_pairs), str(args.passes)],
            capture_output=True,
            text=True,
            check=True,
        )
        best = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
        signed = best[:, 1] / best[:, 0] - 1
        gap = np.abs(signed)
        print(
            f"{layer}: fastest pass resized / converted - 1: median {np.median(signed):+.1%}, "
            f"median |.| {np.median(gap):.1%}, "
            f"largest {gap.max():.1%} (converted {best[:, 0].min():.3f}-{best[:, 0].max():.3f} ms; "
            f"largest gap at {Path(layer_pairs[int(gap.argmax())][0]).stem}: "
            f"{best[gap.argmax(), 0]:.3f} vs {best[gap.argmax(), 1]:.3f} ms)"
        )


if __name__ == "__main__":
    main()
