"""fdi.plan on hand-made configs: each job gets exactly its own settings, the file lists follow the
config's shards, devices and variants, and a bad task setting is refused by name."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace as W

import pytest

from fdi.plan import Plan, search_device

HOST = {
    "kind": "host",
    "repeats": 2,
    "max_passes": 3,
    "statistic": "min",
    "agree_tolerance": 0.05,
    "runs": 20,
}
PHONE = {"kind": "adb", "serial": "X1", "repeats": 2, "statistic": "mean", "energy": {"source": "battery"}}
CONFIG = {
    "seed": 1,
    "layers": {
        "fc": {"networks": 3, "networks_per_shard": 2, "scope": {"in_dim": [1, 8]}},
        "gru": {"networks": 4, "networks_per_shard": 4, "scope": {"in_dim": [1, 8]}},
    },
    "sweep": {"in_size": 12},
    "families": {"vgg": {"networks": 1, "networks_per_shard": 1}},
    "networks": {"deepsense": {"networks": 5, "calibration": 1, "networks_per_shard": 4}},
    "localmin": {"modes": ["paper"], "limit": "next_pow2", "min_gain": 0.02, "repeats": 4},
    "adaptive": {
        "rounds": 2,
        "per_round": {"fc": 25, "gru": 5},
        "networks_per_shard": 2,
        "worst_fraction": 0.2,
    },
    "devices": {"host": HOST, "pixel": PHONE},
    "time_model": {"loss": "relative"},
    "baselines": {
        "models": ["svr", "fastdeepiot_mse"],
        "inputs": "x",
        "x": {"fc": "runtime"},
        "cv_folds": 3,
        "seed": 0,
        "grids": {"svr": {"C": [1, 10]}},
    },
    "tasks": {
        "vgg": {"family": "vgg", "epochs": 5, "seed": 0, "spread_seeds": [1, 2]},
        "deepsense": {"family": "deepsense", "epochs": 20, "seed": 0},
    },
    "compress": {
        "variants": ["deepiot_localmin", "fastdeepiot"],
        "search": {"iterations": 600, "seed": 3},
        "targets": [0.5, 0.3],
        "task_targets": {"deepsense": [0.9]},
        "lambda": {"time": 1.0, "flops": 2.0},
        "task_lambda": {"deepsense": {"time": 4.0}},
        "task_search_seeds": {"vgg": [0, 1]},
        "task_threads": {"deepsense": 1},
        "finetune": {"epochs": 3},
        "localmin": {"limit": 0.25},
        "accuracy_tolerance": 0.01,
    },
    "energy_traces": {"pixel": [{"path": "traces/a.csv", "format": "csv"}]},
}


@pytest.fixture
def plan() -> Plan:
    return Plan(copy.deepcopy(CONFIG), cores=lambda: 8)


def test_scopes_devices_and_variants_follow_the_config(plan):
    assert plan.layers == ["fc", "gru"]
    assert plan.scopes == ["fc", "gru", "vgg", "sweep"]
    assert plan.network_scopes == ["net_deepsense"]
    assert plan.search_variants == ["deepiot", "fastdeepiot_host", "fastdeepiot_pixel"]
    assert plan.localmin_variants == ["deepiot_localmin_host", "deepiot_localmin_pixel"]
    assert [search_device(v) for v in plan.search_variants] == [None, "host", "pixel"]


def test_timing_files_have_one_file_per_shard(plan):
    # fc: 3 networks, 2 per shard -> 2 shards; gru 1; vgg 1; sweep 1; deepsense (5 + 1) / 4 -> 2
    assert plan.timing_files(W(device="pixel")) == [
        f"results/timings/pixel/{stage}.parquet" for stage in ("fc/0", "fc/1", "gru/0", "vgg/0", "sweep/0")
    ]
    assert plan.graph_dirs(plan.network_scopes) == [
        "results/graphs/net_deepsense/0",
        "results/graphs/net_deepsense/1",
    ]
    # adaptive: the largest per_round (25) in networks of 10 -> 3, 2 per shard -> 2 shards a round
    assert plan.round_timing_files(W(device="host", round="1"))[-2:] == [
        "results/timings/host/adaptive1/0.parquet",
        "results/timings/host/adaptive1/1.parquet",
    ]
    assert plan.round_structure_files(W(device="host", round="2"))[-2:] == [
        "results/structures/host/adaptive1.parquet",
        "results/structures/host/adaptive2.parquet",
    ]


def test_an_annealed_original_gets_the_compressed_networks_fine_tune():
    finetune = {"epochs": 3, "learning_rate": 0.0005, "batch_size": 128, "seed": 7, "schedule": "cosine"}
    config = {**copy.deepcopy(CONFIG), "compress": {"finetune": finetune}}
    config["tasks"]["vgg"]["anneal"] = True
    # the fine-tune but its seed: the original trains under its own
    assert json.loads(Plan(config, cores=lambda: 8).task_settings(W(task="vgg"))) == {
        "family": "vgg",
        "epochs": 5,
        "seed": 0,
        "anneal": {"epochs": 3, "learning_rate": 0.0005, "batch_size": 128, "schedule": "cosine"},
    }
    config["tasks"]["vgg"]["anneal"] = False  # as the schema's default fills it in: no key at all
    assert "anneal" not in json.loads(Plan(config, cores=lambda: 8).task_settings(W(task="vgg")))


def test_each_job_gets_only_its_own_settings(plan):
    assert json.loads(plan.device_settings(W(device="pixel"))) == PHONE
    assert json.loads(plan.scope_settings(W(scope="net_deepsense"))) == CONFIG["networks"]["deepsense"]
    assert plan.scope_kind(W(scope="sweep")) == "sweep"
    assert json.loads(plan.task_settings(W(task="vgg"))) == {"family": "vgg", "epochs": 5, "seed": 0}
    assert json.loads(plan.spread_seed_settings(W(task="vgg", seed="2")))["seed"] == 2
    assert plan.spread_metrics() == [f"results/tasks/vgg/spread/seed-{s}/metrics.json" for s in (1, 2)]
    assert json.loads(plan.instrument_settings()) == {
        "host": {"statistic": "min", "agree_tolerance": 0.05, "max_passes": 3},
        "pixel": {"statistic": "mean"},
    }
    assert json.loads(plan.adaptive_settings()) == {
        k: v for k, v in CONFIG["adaptive"].items() if k != "rounds"
    }
    assert json.loads(plan.finish_settings("finetune", "localmin")) == {
        "finetune": {"epochs": 3},
        "localmin": {"limit": 0.25},
    }


def test_localmin_timing_takes_at_least_its_repeats(plan):
    settings = json.loads(plan.localmin_device_settings(W(device="host")))
    assert (settings["repeats"], settings["max_passes"]) == (4, 4)
    assert {k: v for k, v in settings.items() if k not in ("repeats", "max_passes")} == {
        k: v for k, v in HOST.items() if k not in ("repeats", "max_passes")
    }


def test_baselines_get_their_grid_and_their_layer_types_x(plan):
    svr_fc = json.loads(plan.baseline_settings(W(model="svr", layer="fc")))
    assert svr_fc == {"inputs": "x", "cv_folds": 3, "seed": 0, "x": "runtime", "grid": {"C": [1, 10]}}
    assert json.loads(plan.baseline_settings(W(model="svr", layer="gru")))["x"] == "paper"
    assert json.loads(plan.baseline_settings(W(model="fastdeepiot_mse", layer="gru"))) == {"loss": "relative"}


def test_search_settings_take_the_tasks_own_targets_lambda_and_seeds(plan):
    deepsense = json.loads(plan.search_settings(W(task="deepsense", variant="fastdeepiot_host")))
    assert deepsense == {
        "iterations": 600,
        "seed": 3,
        "targets": [0.9],
        "objective": "time",
        "lambda": 4.0,
        "seeds": [3],
    }
    vgg = json.loads(plan.search_settings(W(task="vgg", variant="deepiot")))
    assert (vgg["targets"], vgg["objective"], vgg["lambda"], vgg["seeds"]) == (
        [0.5, 0.3],
        "none",
        0.0,
        [0, 1],
    )


def test_targets_by_measure_each_variant_gets_its_own_measures_list(plan):
    """Targets as a mapping by measure: DeepIoT's list is the parameters', +FLOPs' the FLOPs', the
    time-steered variants' the time's; a task's mapping without a measure defers to the shared
    targets, and a task's plain list holds for every measure."""
    plan.config["compress"]["targets"] = {"params": [0.5, 0.3], "time": [0.8, 0.6]}
    plan.config["compress"]["task_targets"] = {"deepsense": {"time": [0.95]}}

    def targets(task: str, variant: str) -> list[float]:
        return json.loads(plan.search_settings(W(task=task, variant=variant)))["targets"]

    assert targets("vgg", "deepiot") == [0.5, 0.3]
    assert targets("vgg", "fastdeepiot_pixel") == [0.8, 0.6]
    assert targets("vgg", "deepiot_flops") == [0.5, 0.25, 0.1]  # no FLOPs list anywhere: the default
    assert targets("deepsense", "fastdeepiot_host") == [0.95]
    assert targets("deepsense", "deepiot") == [0.5, 0.3]  # the task's mapping has no params list
    plan.config["compress"]["task_targets"] = {"deepsense": [0.9]}
    assert targets("deepsense", "deepiot_flops") == targets("deepsense", "fastdeepiot_host") == [0.9]


def test_threads_files_and_energy(plan):
    assert plan.benchmark_threads(W(device="host")) == 8
    assert plan.benchmark_threads(W(device="pixel")) == 1
    assert plan.compress_threads(W(task="deepsense")) == 1
    assert plan.compress_threads(W(task="vgg")) == 8
    assert plan.variant_models(W(variant="deepiot")) == {"time_models": []}
    assert plan.variant_models(W(variant="fastdeepiot_pixel")) == {
        "time_models": ["results/registry/pixel.json"]
    }
    assert plan.variant_models(W(device="host", variant="x")) == {
        "time_models": ["results/registry/host.json"]
    }
    assert len(plan.compress_files("final/graphs")) == 2 * 5
    assert plan.compress_table_outputs()["tables"] == [
        "results/tables/table8.csv",
        "results/tables/table8.md",
        "results/tables/table6.csv",
        "results/tables/table6.md",
    ]
    assert plan.energy_files([("host", "fc/0"), ("pixel", "fc/0")]) == ["results/energy/pixel/fc/0.parquet"]
    assert plan.energy_trace_paths(W(device="pixel")) == ["traces/a.csv"]
    assert plan.dataset_pairs(["a.parquet", "b.parquet"]) == "host=a.parquet pixel=b.parquet"
    with pytest.raises(ValueError):
        plan.dataset_pairs(["a.parquet"])


def test_a_spread_seed_equal_to_the_originals_seed_is_refused_by_name():
    config = copy.deepcopy(CONFIG)
    config["tasks"]["vgg"]["spread_seeds"] = [0, 1]
    with pytest.raises(ValueError, match=r"tasks\.vgg\.spread_seeds holds the original's own seed 0"):
        Plan(config)


def test_a_users_model_runs_each_variant_with_its_own_device_only():
    config = copy.deepcopy(CONFIG)
    mine = {"model": "my models/m.keras", "data": "d.npz", "devices": ["pixel"], "targets": [0.5, 0.3]}
    mine |= {"variants": ["deepiot", "fastdeepiot"], "iterations": 40, "lambda": 2.0, "seed": 1}
    config["compress"]["models"] = {"mine": mine | {"finetune_epochs": 6, "finetune_patience": 2}}
    plan = Plan(config, cores=lambda: 8)
    assert plan.user_variants("mine") == ["deepiot", "fastdeepiot_pixel"]
    assert plan.user_inputs(W(usermodel="mine", uvariant="deepiot"))["registry"] == []
    steered = W(usermodel="mine", uvariant="fastdeepiot_pixel")
    assert plan.user_inputs(steered)["registry"] == ["results/registry/pixel.json"]
    assert plan.user_compress_args(W(usermodel="mine", uvariant="deepiot")) == (
        "--objective none --targets 0.5 0.3 --iterations 40 --weight 2.0 --finetune-epochs 6"
        " --finetune-patience 2 --seed 1"
    )
    assert plan.user_compress_args(steered).endswith(
        "--expand --device pixel --registry results/registry"
    ) and "--objective time" in plan.user_compress_args(steered)
    plan.user_models["mine"]["finetune_learning_rate"] = 1e-4  # only when given
    assert "--finetune-patience 2 --seed 1 --finetune-rate 0.0001" in plan.user_compress_args(steered)
    plan.user_models["mine"]["search_seeds"] = [1, 4]  # only when given
    assert "--seed 1 --search-seeds 1 4 --finetune-rate" in plan.user_compress_args(steered)
    assert plan.user_timing_files(steered) == ["results/timings/pixel/user-mine.parquet"]
    # targets by measure: the time-steered run its time list, DeepIoT the fallback for params
    plan.user_models["mine"]["targets"] = {"time": [0.8, 0.6]}
    assert "--targets 0.8 0.6 --" in plan.user_compress_args(steered)
    assert "--targets 0.5 0.4 0.3 --" in plan.user_compress_args(W(usermodel="mine", uvariant="deepiot"))
    assert plan.user_files("mine", "graphs.txt") == [
        "results/user/mine/deepiot/graphs.txt",
        "results/user/mine/fastdeepiot_pixel/graphs.txt",
    ]
    config["compress"]["models"]["mine"]["devices"] = ["pixel", "jetson"]
    with pytest.raises(ValueError, match=r"compress\.models\.mine\.devices names jetson, not in devices"):
        Plan(config)


def test_the_mse_baseline_is_not_refitted_where_it_is_the_time_model(plan):
    # CONFIG's time model uses the relative loss everywhere: every FastDeepIoT-MSE is a real refit
    assert plan.mse_is_time_model(["fc", "gru"]) == []
    assert "results/baselines/host/gru/fastdeepiot_mse.parquet" in plan.baseline_files(
        ["host"], ["fc", "gru"]
    )
    config = copy.deepcopy(CONFIG)
    config["time_model"] = {"loss": {"fc": "squared", "gru": "relative"}}
    mixed = Plan(config)
    assert mixed.mse_is_time_model(["fc", "gru"]) == ["fc"]
    assert mixed.baseline_files(["host"], ["fc", "gru"]) == [
        "results/baselines/host/fc/svr.parquet",
        "results/baselines/host/gru/svr.parquet",
        "results/baselines/host/gru/fastdeepiot_mse.parquet",
    ]
    config["time_model"]["grid"] = {"loss": ["squared", "relative"]}  # CV may choose another loss
    assert Plan(config).mse_is_time_model(["fc", "gru"]) == []


def test_a_zoo_adds_its_shards_op_models_and_tables_per_device():
    config = copy.deepcopy(CONFIG)
    assert Plan(config).zoo_scopes == [] and Plan(config).zoo_tables() == []
    assert Plan(config).op_model_files(W(device="host")) == []
    config["zoo"] = {
        "sample": ["lenet5-28", "mobilenet-32-a0.25", "kws_cnn-20"],
        "test": ["lenet5-36"],
        "networks_per_shard": 3,
    }
    zoo = Plan(config)
    assert zoo.zoo_scopes == ["zoo"] and "zoo" not in zoo.scopes  # no layer rows in the dataset
    assert zoo.zoo_timing_files(W(device="pixel")) == [
        "results/timings/pixel/zoo/0.parquet",
        "results/timings/pixel/zoo/1.parquet",
    ]
    assert zoo.op_model_files(W(device="host")) == ["results/models/host/ops.json"]
    assert zoo.zoo_tables() == [
        f"results/tables/zoo/{d}.{e}" for d in ("host", "pixel") for e in ("csv", "md")
    ]
    assert (
        Plan.option("--op-models", ["a b/ops.json"]) == "--op-models 'a b/ops.json'"
        and Plan.option("--x", []) == ""
    )
