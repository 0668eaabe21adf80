"""Where a compressed point's accuracy goes: the search's weights, or the structure?

`fdi compress` fine-tunes each point from the weights its search ended with (DeepIoT's critic,
trained under random masks). This script fine-tunes the same structure (the same kept elements
of every width) from the *original's* weights instead, under the same fine-tuning settings (the
point's curve.json records them), and prints both test accuracies side by side. If the
original's weights reach clearly higher, the search's training, not the smaller structure, is
what costs the accuracy.

Usage: python benchmarks/finetune_start.py OUT_DIR [--points 0 1]
(OUT_DIR: a finished `fdi compress` output directory, e.g. results/user/mobile/deepiot.)
Run nothing else heavy meanwhile only if you also read the times it prints.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("out_dir", type=Path, help="a finished fdi compress output directory")
    parser.add_argument("--points", type=int, nargs="+", default=[0], help="which points (default: 0)")
    args = parser.parse_args()

    from fdi.compress.finish import fine_tune_on
    from fdi.compress.graph_network import GraphNetwork
    from fdi.compress.search import accuracy
    from fdi.compress.user_model import load_user_data, load_user_model

    curve = json.loads((args.out_dir / "curve.json").read_text())
    search = json.loads((args.out_dir / "search" / "search.json").read_text())
    original = load_user_model(Path(search["model"]))
    settings = search["settings"]
    data = load_user_data(
        Path(search["data"]),
        original,
        float(settings.get("validation_fraction", 0.1)),
        int(settings.get("seed", 0)),
    )
    finetune = curve["finetune"]
    print(f"original: test {curve['original_test_accuracy']:.4f}; fine-tuning settings {finetune}")
    for index in args.points:
        point, row = search["points"][index], curve["points"][index]
        keep = [list(map(int, kept)) for kept in point["keep"]]
        small = GraphNetwork(original).extract(keep, name="from_original")
        started = time.perf_counter()
        fine_tune_on(small, data["train"], data["val"], finetune, print)
        print(
            f"point {index} {point['widths']} ({point['parameter_fraction']:.1%} of the parameters): "
            f"test accuracy from the search's weights {row['test_accuracy']:.4f}, "
            f"from the original's {accuracy(small, *data['test']):.4f} "
            f"({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
