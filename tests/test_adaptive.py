"""Adaptive sampling draws new structures where the model errs, and a round measures only them."""

import shutil

import numpy as np
import pandas as pd
import yaml

from conftest import job_counts, snakemake
from fdi.timemodel.adaptive import draw_round, shard_count
from fdi.timemodel.features import add_features

TIME_MODEL = {
    "mape_stop": 0.05,
    "min_samples_split": 15,
    "min_samples_leaf": 5,
    "moduli": [2, 4, 8],
    "max_thresholds": 64,
    "loss": "relative",
    "x": "paper",
    "cv_folds": 3,
    "seed": 0,
}
SETTINGS = {"per_round": {"fc": 40}, "worst_fraction": 0.1, "max_scale": 1.2, "networks_per_shard": 2}


def synthetic_fc_dataset() -> pd.DataFrame:
    """Synthetic FC rows (unit-test data, not a measurement): time linear in FLOPs, except that a
    narrow band of out_dim (300-320) that the tree cannot isolate from few rows runs 3x slower."""
    rng = np.random.default_rng(0)
    structures = pd.DataFrame({"in_dim": rng.integers(1, 1025, 300), "out_dim": rng.integers(1, 1025, 300)})
    rows = add_features(structures, "fc")
    band = rows.out_dim.between(300, 320)
    rows["time_ms"] = (1e-6 * rows.flops + 0.01) * np.where(band, 3.0, 1.0)
    rows["id"] = [f"fc-{i:03d}" for i in range(len(rows))]
    rows["scope"], rows["layer"], rows["split"] = "fc", "fc", "train"
    return rows


def test_new_structures_are_drawn_around_the_worst_predicted_rows():
    dataset = synthetic_fc_dataset()
    drawn = draw_round(dataset, TIME_MODEL, SETTINGS, round_number=1, seed=0)
    assert len(drawn) == 40 and drawn.id.is_unique and (drawn.scope == "adaptive1").all()
    parents = dataset.set_index("id").loc[drawn.parent]
    # The parents come from the slow band, where out-of-fold errors are largest.
    assert parents.out_dim.between(300, 320).mean() > 0.8
    # Children stay near their parents: widths within the scale factor (after rounding), at least 1.
    ratio = drawn.out_dim.to_numpy() / parents.out_dim.to_numpy()
    assert (ratio >= 1 / 1.2 - 0.01).all() and (ratio <= 1.2 + 0.01).all()
    assert drawn.in_dim.between(1, dataset.in_dim.max()).all()
    assert drawn.shard.max() + 1 == shard_count(SETTINGS)
    again = draw_round(dataset, TIME_MODEL, SETTINGS, round_number=1, seed=0)
    assert again.equals(drawn)


def test_another_adaptive_round_measures_only_its_new_structures(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir)
    config_path = workdir / "config/config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["adaptive"]["rounds"] += 1
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    planned = snakemake(workdir, "-n", "--cores", "2")
    counts = job_counts(planned.stdout)
    shards = shard_count(config["adaptive"])
    assert counts["adaptive_sample"] == 1 and counts["aggregate_round"] == 1
    assert counts["export_adaptive"] == shards and counts["benchmark_adaptive"] == shards
    assert "benchmark" not in counts and "export" not in counts and "check" not in counts
    assert f"adaptive{config['adaptive']['rounds']}" in planned.stdout
