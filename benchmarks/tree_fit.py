"""Algorithm 1 speed: fit time on 1,300 / 5,000 / 20,000 rows and predictions per second.

Targets (issue 2): fit on 1,300 rows <= 2 s on this 2-core machine; >= 100,000 predictions/s.
Data: if a measured dataset exists (results/dataset/host.parquet), its conv rows resampled to
each size; otherwise synthetic conv-like rows (named so) with planted modulo/range structure
and 10% multiplicative noise, so no node reaches MAPE < 5%: the tree grows until |D| < 15
(the worst case for fit time).
Usage: python benchmarks/tree_fit.py [--dataset results/dataset/host.parquet]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fdi.timemodel.features import FIT_COLUMNS, SPLIT_COLUMNS, add_features
from fdi.timemodel.tree import TreeLinearRegressor


def synthetic_conv_rows(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = rng.choice([2, 3, 5], n)
    frame = pd.DataFrame(
        {
            "in_height": rng.integers(24, 65, n),
            "in_width": rng.integers(24, 65, n),
            "kernel_h": k,
            "kernel_w": k,
            "in_channel": rng.integers(1, 129, n),
            "out_channel": rng.integers(1, 129, n),
            "padding": rng.choice(["same", "valid"], n),
            "stride_h": (stride := rng.choice([1, 2], n)),
            "stride_w": stride,
        }
    )
    frame = add_features(frame, "cnn")
    slow = np.where(frame.in_channel % 8 == 0, 1.0, 1.6) * np.where(frame.mem > 400_000, 1.3, 1.0)
    y = (2e-8 * frame.flops * slow + 2e-6 * frame.mem + 0.01) * rng.normal(1, 0.10, n)
    return frame, y


def measured_rows(path: Path, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    data = pd.read_parquet(path).query("scope == 'cnn'")
    sample = data.sample(n, replace=n > len(data), random_state=0)
    return sample.reset_index(drop=True), sample.time_ms.to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=Path("results/dataset/host.parquet"))
    args = parser.parse_args()
    source = "measured conv rows of " + str(args.dataset) if args.dataset.exists() else "synthetic conv rows"
    print(f"Algorithm 1 on {source}")
    base = None
    for n in (1300, 5000, 20000):
        frame, y = measured_rows(args.dataset, n) if args.dataset.exists() else synthetic_conv_rows(n)
        model = TreeLinearRegressor(
            split_columns=tuple(SPLIT_COLUMNS["cnn"]), fit_columns=tuple(FIT_COLUMNS["cnn"])
        )
        start = time.perf_counter()
        model.fit(frame, y)
        seconds = time.perf_counter() - start
        base = base or seconds
        leaves = sum(node.is_leaf for node in model.nodes())
        print(
            f"fit {n:>6} rows: {seconds:6.2f} s  ({seconds / base:4.1f}x the 1,300-row time), {leaves} leaves"
        )
    big = pd.concat([frame] * 5, ignore_index=True)
    model.predict(big.head(1000))
    start = time.perf_counter()
    model.predict(big)
    rate = len(big) / (time.perf_counter() - start)
    print(
        f"predict: {rate:,.0f} rows/s on {len(big):,} rows (target >= 100,000; {rate / 1e5:.0f}x the target)"
    )
    print("targets: fit(1,300) <= 2 s -> " + ("met" if base <= 2 else "MISSED"))


if __name__ == "__main__":
    main()
