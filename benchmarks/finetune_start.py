"""Where a compressed point's accuracy goes: the search's weights, or the structure?

`fdi compress` fine-tunes each point from the weights its search ended with (DeepIoT's critic,
trained under random masks). This script fine-tunes the same structure (the same kept elements
of every width) from the *original's* weights instead, under the same fine-tuning settings (the
point's curve.json records them), and prints both test accuracies side by side. If the
original's weights reach clearly higher, the search's training, not the smaller structure, is
what costs the accuracy.

`--control` fine-tunes the whole original the same way first: if it loses as much, the fine-tuning
recipe, not the compression, is what costs the accuracy.

Usage: python benchmarks/finetune_start.py OUT_DIR [--points 0 1] [--control]
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
    parser.add_argument(
        "--points", type=int, nargs="*", default=[0], help="which points (default: 0; none: only --control)"
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="fine-tune at this rate instead of the curve's (fdi.compress.finish's default 5e-4)",
    )
    parser.add_argument(
        "--start",
        choices=["original", "search"],
        default="original",
        help="whose weights the point is fine-tuned from (search: as fdi compress does, to try "
        "--learning-rate on its own path)",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also fine-tune the original itself (every element kept) under the same settings: "
        "what the fine-tuning alone does to a converged network",
    )
    args = parser.parse_args()

    from fdi.compress.finish import fine_tune_on
    from fdi.compress.graph_network import GraphNetwork
    from fdi.compress.user_model import load_user_data, load_user_model
    from fdi.tasks.finetune import accuracy

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
    finetune = curve["finetune"] | ({"learning_rate": args.learning_rate} if args.learning_rate else {})
    print(f"original: test {curve['original_test_accuracy']:.4f}; fine-tuning settings {finetune}")
    if args.control:
        network = GraphNetwork(original)
        whole = network.extract([list(range(width)) for width in network.widths], name="control")
        fine_tune_on(whole, data["train"], data["val"], finetune, print)
        print(f"the original fine-tuned as a point is: test accuracy {accuracy(whole, *data['test']):.4f}")
    for index in args.points:
        point, row = search["points"][index], curve["points"][index]
        keep = [list(map(int, kept)) for kept in point["keep"]]
        if args.start == "original":
            small = GraphNetwork(original).extract(keep, name="from_original")
        else:
            small = load_user_model(args.out_dir / "search" / "points" / f"target-{index}.keras")
        started = time.perf_counter()
        fine_tune_on(small, data["train"], data["val"], finetune, print)
        print(
            f"point {index} {point['widths']} ({point['parameter_fraction']:.1%} of the parameters): "
            f"test accuracy in the curve (the search's weights, its rate) {row['test_accuracy']:.4f}; "
            f"fine-tuned here from the {args.start}'s at rate {finetune.get('learning_rate', 5e-4):g}: "
            f"{accuracy(small, *data['test']):.4f} "
            f"({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
