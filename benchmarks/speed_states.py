"""This machine's two speeds, read from finished campaigns' timings, and what each settling rule
makes of them.

The reference graph timed before every pass sits at one of two levels on this project's AMD VM
(docs/results/2026-11-30-others-gate.md): the fast state, and a slow one ~18% above it lasting
tens of seconds to minutes. This script labels every component pass with the state its reference
showed (the reference timing just before it, over the campaign's reference floor: the 1st
percentile of all its reference timings) and, per graph, recomputes its time by three rules:

- `as measured`: the instrument's rule on every pass (fdi.timings.settled_time);
- `fast only`: the same rule on the fast-state passes, where a graph has two;
- `scaled`: slow-state passes divided by the campaign's state ratio (median slow-state reference
  over median fast-state reference), then the instrument's rule on every pass.

Given two campaigns of the same structures (a fresh clone's `results/timings/{device}`, twice), it
prints per layer type how far apart each rule puts the same graph in the two runs. No timing is
taken: it reads Parquet only.
Usage: python benchmarks/speed_states.py RUN_A/results/timings/host RUN_B/results/timings/host
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from fdi.timings import pass_clean, settled_time

FAST_BELOW = 1.10  # reference over the floor: the fast state below, the slow state above SLOW_ABOVE
SLOW_ABOVE = 1.12
CAMPAIGN_FOLDERS = ("fc", "cnn", "gru", "lstm")  # Table 2's shards (not the families, sweeps, checks)


def read_job(path: Path) -> pd.DataFrame:
    """One benchmark job's timings in time order: each row's value (its fastest run), the
    reference timing last taken before it, and whether the pass was clean (fdi.timings)."""
    job = pd.read_parquet(path).sort_values("start_unix_s")
    job["value"] = job.runs_ms.map(min)
    job["reference_before"] = job.value.where(job.role == "reference").ffill()
    job["clean"] = [pass_clean(r) for r in job.to_dict("records")]
    return job


def labelled_passes(timings_dir: Path) -> tuple[pd.DataFrame, float]:
    """Every component pass with its value (fastest run), its reference's level and its state;
    and the campaign's state ratio."""
    frames = []
    for folder in CAMPAIGN_FOLDERS:
        for path in sorted((timings_dir / folder).glob("*.parquet")):
            if path.name.endswith(".partial.parquet"):
                continue
            frames.append(read_job(path))
    everything = pd.concat(frames, ignore_index=True)
    floor = float(np.quantile(everything.value[everything.role == "reference"], 0.01))
    passes = everything[everything.role == "component"].copy()
    passes["level"] = passes.reference_before / floor
    passes["state"] = np.where(
        passes.level < FAST_BELOW, "fast", np.where(passes.level > SLOW_ABOVE, "slow", "between")
    )
    references = everything[everything.role == "reference"].value / floor
    ratio = float(references[references > SLOW_ABOVE].median() / references[references < FAST_BELOW].median())
    # The reference's median over the campaign: its usual level (the floor moves between runs).
    passes["to usual"] = passes.value * float(references.median()) / passes.level
    return passes, ratio


def graph_times(passes: pd.DataFrame, ratio: float, tolerance: float = 0.05, cap: int = 6) -> pd.DataFrame:
    """Per graph: its time by each rule, and its layer type."""
    rows = []
    for graph_id, group in passes.groupby("id"):
        values, clean = group.value.tolist(), group.clean.tolist()
        fast = group[group.state == "fast"]
        scaled = np.where(group.state == "slow", group.value / ratio, group.value).tolist()
        rows.append(
            {
                "id": graph_id,
                "layer": graph_id.split("-")[0],
                "as measured": settled_time(values, tolerance, cap, clean)[0],
                "fast only": settled_time(fast.value.tolist(), tolerance, cap)[0]
                if len(fast) >= 2
                else np.nan,
                "scaled": settled_time(scaled, tolerance, cap, clean)[0],
                "normalised": settled_time(group["to usual"].tolist(), tolerance, cap, clean)[0],
                "fast passes": len(fast),
                "slow passes": int((group.state == "slow").sum()),
            }
        )
    return pd.DataFrame(rows).set_index("id")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", type=Path, help="a campaign's results/timings/{device}")
    parser.add_argument("run_b", type=Path, help="the same campaign's, another run")
    args = parser.parse_args()
    times = {}
    for name, folder in (("A", args.run_a), ("B", args.run_b)):
        passes, ratio = labelled_passes(folder)
        share = passes.state.value_counts(normalize=True)
        print(
            f"run {name} ({folder}): {len(passes)} passes, fast {share.get('fast', 0):.0%} / between "
            f"{share.get('between', 0):.0%} / slow {share.get('slow', 0):.0%}; state ratio {ratio:.3f}"
        )
        times[name] = graph_times(passes, ratio)
    both = times["A"].add_suffix(" A").join(times["B"].add_suffix(" B"), how="inner")
    rows = []
    for layer, group in both.groupby("layer A"):
        for rule in ("as measured", "fast only", "scaled", "normalised"):
            apart = (group[f"{rule} B"] / group[f"{rule} A"] - 1).abs().dropna()
            rows.append(
                {
                    "layer": layer,
                    "rule": rule,
                    "graphs": len(apart),
                    "median apart": f"{apart.median():.1%}",
                    "> 5%": f"{(apart > 0.05).mean():.0%}",
                    "> 10%": f"{(apart > 0.10).mean():.0%}",
                }
            )
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
