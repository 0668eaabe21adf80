# Config validation, wildcard constraints and the helpers that turn the config into file lists.
import json

from snakemake.utils import validate

from fdi.space import shard_count

validate(config, "../config/config.schema.yaml")

LAYERS = [layer for layer in ("fc", "cnn", "gru", "lstm") if layer in config["layers"]]
SCOPES = LAYERS + (["sweep"] if "sweep" in config else [])
DEVICES = list(config["devices"])
BASELINES = config["baselines"]["models"]

# One resource per device, of capacity 1: a device runs one benchmark job at a time, while jobs of
# different phones and boards may overlap. The host's benchmark also takes every core (below).
for _device in DEVICES:
    workflow.register_resource(f"device_{_device}", 1)
DEVICE_RESOURCES = {
    f"device_{name}": (lambda wildcards, name=name: int(wildcards.device == name))
    for name in DEVICES
}


wildcard_constraints:
    scope="fc|cnn|gru|lstm|sweep",
    layer="fc|cnn|gru|lstm",
    device="[A-Za-z][A-Za-z0-9_]*",
    shard=r"\d+",
    model="svr|dt|rf|gbrt|dnn|flops|fastdeepiot_mse",


def as_json(value):
    """A settings object as one JSON word for the command line (quoted with :q in the rule)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def scope_settings(wildcards):
    scope = wildcards.scope
    return as_json(config["sweep"] if scope == "sweep" else config["layers"][scope])


def device_settings(wildcards):
    """Only this device's settings: changing another device never reruns this one."""
    return as_json(config["devices"][wildcards.device])


def benchmark_threads(wildcards):
    """The host is the instrument: its benchmark takes every core, so no other job runs beside it.
    A phone's or a board's benchmark only waits for its device, and takes one core here.
    """
    if config["devices"][wildcards.device]["kind"] == "host":
        return workflow.cores
    return 1


def device_statistic(wildcards):
    return config["devices"][wildcards.device]["statistic"]


def baseline_settings(wildcards):
    """Only this model's settings: editing one model's grid reruns only that model."""
    if wildcards.model == "fastdeepiot_mse":
        return as_json(config["time_model"])
    baselines = config["baselines"]
    return as_json(
        {
            "inputs": baselines["inputs"],
            "cv_folds": baselines["cv_folds"],
            "seed": baselines["seed"],
            "grid": baselines["grids"].get(wildcards.model, {}),
        }
    )


def structure_files(wildcards=None):
    return expand("results/structures/{scope}.parquet", scope=SCOPES)


def timing_files(wildcards):
    return [
        f"results/timings/{wildcards.device}/{scope}/{shard}.parquet"
        for scope in SCOPES
        for shard in range(shard_count(scope, config))
    ]


def dataset_pairs(files):
    return " ".join(f"{device}={path}" for device, path in zip(DEVICES, files))
