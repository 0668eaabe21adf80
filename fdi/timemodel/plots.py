"""Figures: the measured channel sweep (Figure 1) and a fitted tree drawn with its conditions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from fdi.profile.space import SWEEP_SCOPE
from fdi.timemodel.tree import Node, TreeLinearRegressor


def sweep_figure(datasets: dict[str, Path], out: Path) -> None:
    """Measured time against channels (in = out) per device, with FLOPs on a second axis."""
    fig, ax = plt.subplots(figsize=(7, 4))
    flops = None
    for device, path in datasets.items():
        dataset = pd.read_parquet(path)
        sweep = dataset[dataset.scope == SWEEP_SCOPE].sort_values("in_channel")
        ax.plot(sweep.in_channel, sweep.time_ms, marker=".", label=f"{device} (measured)")
        flops = sweep
    if flops is not None and len(flops):
        first = flops.iloc[0]
        ax.set_title(
            f"{int(first.kernel_h)}x{int(first.kernel_w)} conv, {int(first.in_height)}x{int(first.in_width)} "
            f"input, {first.padding} padding: time is not proportional to FLOPs"
        )
        twin = ax.twinx()
        twin.plot(flops.in_channel, flops.flops / 1e6, color="grey", linestyle="--", label="FLOPs")
        twin.set_ylabel("MFLOPs (dashed)")
    ax.set_xlabel("in_channel = out_channel")
    ax.set_ylabel("time per inference (ms)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def tree_figure(model_path: Path, title: str, out: Path) -> None:
    """Draw the tree: conditions at inner nodes, the linear model and size at each leaf."""
    model = TreeLinearRegressor.from_json(model_path)
    positions: dict[int, tuple[float, float]] = {}
    leaves = [0]

    def place(node: Node, depth: int) -> float:
        if node.is_leaf:
            x = float(leaves[0])
            leaves[0] += 1
        else:
            x = (place(node.left, depth + 1) + place(node.right, depth + 1)) / 2
        positions[id(node)] = (x, -depth)
        return x

    place(model.tree_, 0)
    n_leaves = leaves[0]
    depth = max(-y for _, y in positions.values()) + 1
    fig, ax = plt.subplots(figsize=(max(6, 1.9 * n_leaves), max(3, 1.6 * depth)))

    def draw(node: Node) -> None:
        x, y = positions[id(node)]
        if node.is_leaf:
            terms = "\n".join(
                f"{w:.2g}·{c}" for w, c in zip(node.coef, model.fit_columns, strict=True) if w > 0
            )
            text = (
                f"{terms or '0'}\n+ {node.intercept:.2g} ms\nn={node.n_samples}, MAPE {100 * node.mape:.1f}%"
            )
            ax.text(
                x, y, text, ha="center", va="top", fontsize=7, bbox={"boxstyle": "round", "fc": "#e8f4e8"}
            )
            return
        ax.text(
            x,
            y,
            node.condition.text(),
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "#e8eef8"},
        )
        for child, label in ((node.left, "true"), (node.right, "false")):
            cx, cy = positions[id(child)]
            ax.plot([x, cx], [y, cy], color="grey", linewidth=0.8, zorder=0)
            ax.text((x + cx) / 2, (y + cy) / 2, label, fontsize=7, color="grey")
            draw(child)

    draw(model.tree_)
    ax.set_xlim(-0.8, n_leaves - 0.2)
    ax.set_ylim(-depth + 0.1, 0.6)
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
