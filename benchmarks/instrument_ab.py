"""One directory of graphs timed quiet and under the disturbance generator, per instrument setting.

For each `--variant` (instrument settings over the default config's `host` device), the graphs in
GRAPHS are timed by one `fdi` benchmark job quiet, then by another beside benchmarks/disturb.py
(seeded, so every variant meets the same spells). Per variant it prints the wall times and, per
graph, the disturbed time over the quiet one (median |diff|, share > 5% and > 10%, 95th
percentile), with what the disturbed job went through (waits, passes shared, unsettled).

Variants: `blind` (wait_for_others false: the reference gate and the settling rule only) and
`others` (the default: also wait while other processes run; shared passes do not count).
Run nothing else meanwhile: the timings share the machine's cores with whatever runs.
Usage: python benchmarks/instrument_ab.py results/graphs/fc/0 --out /tmp/ab --duty 0.4 --seed 1
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fdi.cli.user import device_settings
from fdi.profile.devices import run_benchmark
from fdi.profile.devices.host import huge_pages_environment
from fdi.timemodel.dataset import summarise_timings
from fdi.timings import campaign_summary

ROOT = Path(__file__).resolve().parents[1]
DISTURB = ROOT / "benchmarks" / "disturb.py"
VARIANTS = {"blind": {"wait_for_others": False}, "others": {"wait_for_others": True}}


def host_settings() -> dict:
    """The default config's host device, with the schema's defaults filled in."""
    return device_settings([ROOT / "config" / "config.yaml"], "host")


def timed_job(settings: dict, graphs: Path, reference: Path, out: Path, disturb: list[str] | None = None):
    """(timings, wall seconds) of one benchmark job, beside the generator if `disturb` is given."""
    generator = None
    if disturb is not None:
        command = [sys.executable, str(DISTURB), *disturb, "--until-pid", str(os.getpid())]
        generator = subprocess.Popen(command)
        time.sleep(0.5)
    started = time.monotonic()
    try:
        timings = run_benchmark("host", settings, graphs, out, reference)
    finally:
        if generator is not None:
            generator.terminate()
            generator.wait()
    return timings, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graphs", type=Path, help="a directory of .tflite graphs (a campaign shard)")
    parser.add_argument("--reference", type=Path, help="the reference graph (default: the campaign's)")
    parser.add_argument("--out", type=Path, required=True, help="an empty directory for the timings")
    parser.add_argument("--variant", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS))
    parser.add_argument("--duty", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    reference = args.reference or args.graphs.parents[1] / "reference.tflite"
    base = host_settings()
    environment = huge_pages_environment(base, dict(os.environ))
    if environment is not None:  # as the benchmark step does: glibc reads the tunable at start
        raise SystemExit(subprocess.run([sys.executable, *sys.argv], env=environment, check=False).returncode)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.variant:
        settings = {**copy.deepcopy(base), **VARIANTS[name], "energy": {"source": "none"}}
        disturb = ["--duty", str(args.duty), "--seed", str(args.seed)]
        disturb += ["--log", str(args.out / f"{name}.spells.jsonl")]
        quiet, quiet_s = timed_job(settings, args.graphs, reference, args.out / f"{name}-quiet.parquet")
        noisy, noisy_s = timed_job(
            settings, args.graphs, reference, args.out / f"{name}-disturbed.parquet", disturb
        )
        q = summarise_timings(quiet, settings).set_index("id").time_ms
        d = summarise_timings(noisy, settings).set_index("id").time_ms
        ratio = (d / q).dropna()
        report = campaign_summary(noisy, settings).iloc[0]
        quiet_report = campaign_summary(quiet, settings).iloc[0]
        rows.append(
            {
                "variant": name,
                "wall quiet / disturbed s": f"{quiet_s:.0f} / {noisy_s:.0f}",
                "median |diff|": f"{np.median(np.abs(ratio - 1)):.1%}",
                "> 5%": f"{(np.abs(ratio - 1) > 0.05).mean():.0%}",
                "> 10%": f"{(np.abs(ratio - 1) > 0.10).mean():.0%}",
                "95th pct": f"{np.quantile(np.abs(ratio - 1), 0.95):.1%}",
                "median disturbed/quiet": f"{np.median(ratio):.3f}",
                "waited s": f"{report.wait_s:.0f}",
                "passes shared": int(report.get("passes_co_run", 0)),
                "graphs co-run": int(report.get("graphs_co_run", 0)),
                "unsettled q / d": f"{quiet_report.unsettled} / {report.unsettled}",
            }
        )
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
