"""The default campaign quiet and under the disturbance generator, side by side.

Each run is a fresh clone of `--repo` (its HEAD) in `--workdir/quiet` and `--workdir/disturbed`:
the clone's own .venv is made first (`make .venv/.installed`, untimed, never disturbed), then
`make run` is timed. The disturbed run starts benchmarks/disturb.py beside it, stopping when
`make run` ends. Then it prints Algorithm 1's Table 5 rows, the whole networks
and what each campaign went through, quiet beside disturbed, and the ratio of the wall times.
`--compare QUIET DISTURBED` only prints the tables of two finished runs; `--only disturbed` makes
one run of the pair (say when the other is a finished fresh clone of the same code).

Run nothing else heavy meanwhile: the timings share the machine's cores with whatever runs.
Usage: python benchmarks/noisy_campaign.py --workdir /tmp/noisy --duty 0.4 --seed 1
       python benchmarks/noisy_campaign.py --compare /tmp/noisy/quiet /tmp/noisy/disturbed
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from fdi.timemodel.whole_networks import networks_summary

DISTURB = Path(__file__).resolve().with_name("disturb.py")


def clone_and_run(repo: Path, where: Path, disturb: list[str] | None, targets: str) -> float:
    """`make run` in a fresh clone after its install; the workflow's wall time in seconds."""
    if where.exists():
        raise SystemExit(f"{where} exists: give an empty --workdir")
    subprocess.run(["git", "clone", "--quiet", str(repo), str(where)], check=True)
    log = (where / "make-run.log").open("w")
    subprocess.run(["make", ".venv/.installed"], cwd=where, stdout=log, stderr=subprocess.STDOUT, check=True)
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "run", f"TARGETS={targets}"], cwd=where, stdout=log, stderr=subprocess.STDOUT
    )
    generator = None
    if disturb is not None:
        spells = where / "spells.jsonl"
        command = [sys.executable, str(DISTURB), *disturb, "--until-pid", str(make.pid), "--log", str(spells)]
        generator = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    code = make.wait()
    seconds = time.monotonic() - started
    if generator is not None:
        generator.wait(timeout=60)
    log.close()
    if code:
        raise SystemExit(f"make run failed in {where} (exit {code}); see {where / 'make-run.log'}")
    return seconds


def algorithm1_rows(run: Path) -> pd.DataFrame:
    table = pd.read_csv(run / "results/tables/table5.csv")
    rows = table[table.metric.isin(["MAPE %", "within ±10% %"])]
    return rows.set_index(["device", "layer", "scope", "metric"])[
        ["FastDeepIoT", "noise_floor", "flagged", "n"]
    ]


def campaign_rows(run: Path) -> pd.DataFrame:
    frames = [pd.read_csv(p) for p in sorted((run / "results/dataset").glob("*/round*.campaign.csv"))[-1:]]
    return pd.concat(frames).drop(columns="unsettled_ids").set_index("device") if frames else pd.DataFrame()


def same_graph_moves(quiet: Path, disturbed: Path) -> pd.DataFrame:
    """The same graphs (by id) in both runs' last datasets, per scope: how many, the share more
    than 5% apart and the median disturbed/quiet ratio. Low only where the instrument's result
    does not depend on the machine's state (adaptive rounds draw different graphs: left out)."""
    last = [sorted((run / "results/dataset").glob("*/round*.parquet"))[-1:] for run in (quiet, disturbed)]
    if not all(last):
        return pd.DataFrame()
    a, b = (pd.read_parquet(files[0]).set_index("id") for files in last)
    both = a[["scope", "time_ms"]].join(b[["time_ms"]].rename(columns={"time_ms": "other"}), how="inner")
    both = both[~both.scope.str.startswith("adaptive")].assign(ratio=lambda f: f.other / f.time_ms)
    return both.groupby("scope").agg(
        graphs=("ratio", "size"),
        apart_5_pct=("ratio", lambda r: 100 * float((abs(r - 1) > 0.05).mean())),
        median_ratio=("ratio", "median"),
    )


def compare(quiet: Path, disturbed: Path, seconds: tuple[float, float] | None = None) -> None:
    # every column shown (pandas elides the middle ones of a wide frame by default)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", None)
    print("Algorithm 1 (Table 5 rows), quiet | disturbed:")
    print(
        algorithm1_rows(quiet)
        .merge(
            algorithm1_rows(disturbed), left_index=True, right_index=True, suffixes=(" quiet", " disturbed")
        )
        .round(1)
    )
    networks = [
        networks_summary(pd.read_csv(run / "results/tables/networks.csv")).set_index(["device", "family"])[
            ["networks", "within_10_pct", "spearman", "flagged"]
        ]
        for run in (quiet, disturbed)
        if (run / "results/tables/networks.csv").exists()
    ]
    if len(networks) == 2:
        print("\nWhole networks, quiet | disturbed:")
        print(
            networks[0]
            .merge(networks[1], left_index=True, right_index=True, suffixes=(" quiet", " disturbed"))
            .round(3)
        )
    moves = same_graph_moves(quiet, disturbed)
    if not moves.empty:
        print("\nThe same graphs in both runs (% more than 5% apart; disturbed / quiet):")
        print(moves.round(3))
    print("\nWhat the campaign went through (last round's dataset), quiet then disturbed:")
    print(pd.concat({"quiet": campaign_rows(quiet), "disturbed": campaign_rows(disturbed)}).round(3).T)
    if seconds:
        print(
            f"\nwall time: quiet {seconds[0] / 60:.1f} min, disturbed {seconds[1] / 60:.1f} min, "
            f"ratio {seconds[1] / seconds[0]:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fdi-noisy-campaign"))
    parser.add_argument("--targets", default="", help="make run TARGETS= (default: the main job)")
    parser.add_argument("--duty", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("QUIET", "DISTURBED"))
    parser.add_argument("--only", choices=["quiet", "disturbed"], help="make one run of the pair")
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    disturb = ["--duty", str(args.duty), "--seed", str(args.seed)]
    if args.only:
        run = args.workdir / args.only
        seconds = clone_and_run(args.repo, run, disturb if args.only == "disturbed" else None, args.targets)
        print(f"{args.only} run: {seconds / 60:.1f} min in {run}")
        return 0
    quiet_s = clone_and_run(args.repo, args.workdir / "quiet", None, args.targets)
    disturbed_s = clone_and_run(args.repo, args.workdir / "disturbed", disturb, args.targets)
    compare(args.workdir / "quiet", args.workdir / "disturbed", (quiet_s, disturbed_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
