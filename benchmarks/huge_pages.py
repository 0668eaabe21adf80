"""Where a layer's weights land in memory, and what huge pages do to it: the figures behind the
host device's `huge_pages` setting.

A large fully-connected layer streams its weights (8-64 MiB in Table 2's scope) from memory on
every run. Which pages malloc hands the interpreter is fixed for a pass (one interpreter), so the
fastest run of a pass does not escape a bad placement, and a whole process can be slow. This
script times each FC graph in `--processes` separate processes (each `--passes` passes, a fresh
interpreter per pass, as the instrument does), with glibc's default malloc and with
`GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (large allocations on transparent huge pages), and prints
per setting the range over processes of each process's floor (fastest pass) and median pass,
and the spread (max/min - 1). The settings alternate process by process, so a spell of the
machine falls on both alike.

Run nothing else meanwhile. Usage: python benchmarks/huge_pages.py [--sizes 1024x2048,2048x4096]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from fdi.profile.devices.host import HUGE_PAGES_TUNABLE

CHILD = """
import json, sys
from pathlib import Path
from fdi.profile.devices.litert_timer import time_graph
graph, passes = Path(sys.argv[1]), int(sys.argv[2])
print(json.dumps([min(time_graph(graph, 1, 1, 20, 50.0)) for _ in range(passes)]))
"""


def passes_in_a_process(graph: Path, passes: int, huge_pages: bool) -> list[float]:
    """The fastest run of every pass, all passes in one new process."""
    environment = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if huge_pages:
        environment["GLIBC_TUNABLES"] = HUGE_PAGES_TUNABLE
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(graph), str(passes)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f} ms ({max(values) / min(values) - 1:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1024x2048,2048x4096", help="in_dim x out_dim, comma-separated")
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--passes", type=int, default=20)
    args = parser.parse_args()

    from fdi.profile.export import fc_graph  # TensorFlow: only here, in the parent

    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'FC graph':>12} {'malloc':>10} {'per-process floor':>26} {'per-process median':>26}")
        for size in args.sizes.split(","):
            in_dim, out_dim = (int(n) for n in size.split("x"))
            graph = Path(tmp) / f"fc_{size}.tflite"
            component = {"id": f"fc-{size}", "layer": "fc", "in_dim": in_dim, "out_dim": out_dim}
            graph.write_bytes(fc_graph(component))
            found: dict[bool, list[list[float]]] = {False: [], True: []}
            for _ in range(args.processes):
                for huge_pages in (False, True):
                    found[huge_pages].append(passes_in_a_process(graph, args.passes, huge_pages))
            mib = in_dim * out_dim * 4 / 2**20
            for huge_pages, processes in found.items():
                floors = [min(p) for p in processes]
                medians = [float(np.median(p)) for p in processes]
                label = "huge pages" if huge_pages else "default"
                print(f"{size:>12} {label:>10} {spread(floors):>26} {spread(medians):>26}   ({mib:.0f} MiB)")


if __name__ == "__main__":
    main()
