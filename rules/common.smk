# Config validation, wildcard constraints and the helpers that turn the config into file lists.
import json

from snakemake.utils import validate

from fdi import adaptive, space

validate(config, "../config/config.schema.yaml")

LAYERS = [layer for layer in ("fc", "cnn", "gru", "lstm") if layer in config["layers"]]
FAMILIES = list(config.get("families", {}))
# Scopes whose components go into each device's dataset, and the whole-network scopes.
SCOPES = LAYERS + FAMILIES + (["sweep"] if "sweep" in config else [])
NETWORK_SCOPES = [
    f"{space.FAMILY_PREFIX}{family}" for family in config.get("networks", {})
]
ADAPTIVE = config.get("adaptive", {"rounds": 0})
LOCALMIN = config.get(
    "localmin", {"modes": ["paper", "staircase"], "limit": "next_pow2"}
)
ROUNDS = int(ADAPTIVE["rounds"])
TASKS = list(config.get("tasks", {}))
for _task, _settings in config.get("tasks", {}).items():
    if _settings.get("seed", 0) in _settings.get("spread_seeds", []):
        raise ValueError(
            f"config: tasks.{_task}.spread_seeds holds the original's own seed "
            f"{_settings.get('seed', 0)}; list other seeds"
        )
TASK_DATA_DIR = config.get("task_data_dir", "results/data")
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
    scope="|".join(SCOPES + NETWORK_SCOPES),
    layer="fc|cnn|gru|lstm",
    device="[A-Za-z][A-Za-z0-9_]*",
    shard=r"\d+",
    round=r"\d+",
    model="svr|dt|rf|gbrt|dnn|flops|fastdeepiot_mse|fastdeepiot_paperx",
    task="|".join(TASKS) if TASKS else "(?!)",
    seed=r"\d+",


def as_json(value):
    """A settings object as one JSON word for the command line (quoted with :q in the rule)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def scope_settings(wildcards):
    """Only this scope's settings: editing another scope never resamples this one."""
    return as_json(space.scope_settings(wildcards.scope, config))


def scope_kind(wildcards):
    return space.scope_kind(wildcards.scope, config)


def device_settings(wildcards):
    """Only this device's settings: changing another device never reruns this one."""
    return as_json(config["devices"][wildcards.device])


def training_settings(task):
    """What training a task's network depends on: its settings but the spread seeds, so editing
    them never retrains the original."""
    return {k: v for k, v in config["tasks"][task].items() if k != "spread_seeds"}


def task_settings(wildcards):
    """Only this task's settings: editing one task never retrains the other."""
    return as_json(training_settings(wildcards.task))


def spread_seed_settings(wildcards):
    """The task's training settings with the seed of one of its spread runs."""
    return as_json({**training_settings(wildcards.task), "seed": int(wildcards.seed)})


def spread_metrics(wildcards=None):
    """metrics.json of every task's original trained again under its spread seeds."""
    return [
        f"results/tasks/{task}/spread/seed-{seed}/metrics.json"
        for task, settings in config.get("tasks", {}).items()
        for seed in settings.get("spread_seeds", [])
    ]


def localmin_device_settings(wildcards):
    """This device's settings, with at least `localmin.repeats` passes per graph."""
    device = config["devices"][wildcards.device]
    repeats = max(device.get("repeats", 2), LOCALMIN.get("repeats", 4))
    return as_json(
        {
            **device,
            "repeats": repeats,
            "max_passes": max(device.get("max_passes", repeats), repeats),
        }
    )


def benchmark_threads(wildcards):
    """The host is the instrument: its benchmark takes every core, so no other job runs beside it.
    A phone's or a board's benchmark only waits for its device, and takes one core here.
    """
    if config["devices"][wildcards.device]["kind"] == "host":
        return workflow.cores
    return 1


def baseline_settings(wildcards):
    """Only this model's settings, on this layer type's x: editing one model's grid reruns only
    that model."""
    if wildcards.model in ("fastdeepiot_mse", "fastdeepiot_paperx"):
        return as_json(config["time_model"])
    baselines = config["baselines"]
    chosen_x = baselines.get("x", "paper")
    return as_json(
        {
            "inputs": baselines["inputs"],
            "cv_folds": baselines["cv_folds"],
            "seed": baselines["seed"],
            "x": (
                chosen_x
                if isinstance(chosen_x, str)
                else chosen_x.get(wildcards.layer, "paper")
            ),
            "grid": baselines["grids"].get(wildcards.model, {}),
        }
    )


def structure_files(wildcards=None):
    return expand("results/structures/{scope}.parquet", scope=SCOPES)


def network_structure_files(wildcards=None):
    return expand("results/structures/{scope}.parquet", scope=NETWORK_SCOPES)


def graph_dirs(scopes):
    return [
        f"results/graphs/{scope}/{shard}"
        for scope in scopes
        for shard in range(space.shard_count(scope, config))
    ]


def device_timing_files(device, scopes):
    """One device's campaign timings: every shard of `scopes`."""
    return [
        f"results/timings/{device}/{stage}.parquet" for stage in timing_stages(scopes)
    ]


def timing_stages(scopes):
    """The timings files of `scopes` under a device's results/timings/ folder, one per shard."""
    return [
        f"{scope}/{shard}"
        for scope in scopes
        for shard in range(space.shard_count(scope, config))
    ]


def adaptive_structure_files(device, rounds):
    return [
        f"results/structures/{device}/adaptive{r}.parquet" for r in range(1, rounds + 1)
    ]


def adaptive_timing_files(device, rounds):
    return [
        f"results/timings/{device}/adaptive{r}/{shard}.parquet"
        for r in range(1, rounds + 1)
        for shard in range(adaptive.shard_count(ADAPTIVE))
    ]


def round_structure_files(wildcards):
    """The structures of the campaign and of the device's adaptive rounds up to this one."""
    return structure_files() + adaptive_structure_files(
        wildcards.device, int(wildcards.round)
    )


def round_timing_files(wildcards):
    return timing_files(wildcards) + adaptive_timing_files(
        wildcards.device, int(wildcards.round)
    )


def timing_files(wildcards):
    return device_timing_files(wildcards.device, SCOPES)


def network_timing_files(wildcards):
    return device_timing_files(wildcards.device, NETWORK_SCOPES)


def dataset_pairs(files):
    return " ".join(f"{device}={path}" for device, path in zip(DEVICES, files))


# The compression stage (rules/compress.smk): which searches run, and their settings.
COMPRESS = config.get("compress", {})
COMPRESS_VARIANTS = COMPRESS.get("variants", [])
SEARCH_VARIANTS = (
    (["deepiot"] if {"deepiot", "deepiot_localmin"} & set(COMPRESS_VARIANTS) else [])
    + (["deepiot_flops"] if "deepiot_flops" in COMPRESS_VARIANTS else [])
    + (
        [f"fastdeepiot_{device}" for device in DEVICES]
        if "fastdeepiot" in COMPRESS_VARIANTS
        else []
    )
)
LOCALMIN_VARIANTS = (
    [f"deepiot_localmin_{device}" for device in DEVICES]
    if "deepiot_localmin" in COMPRESS_VARIANTS
    else []
)
TASK_FAMILIES = {
    task: settings["family"] for task, settings in config.get("tasks", {}).items()
}
COMPRESS_TABLES = {"vgg": "table6", "deepsense": "table8"}


def search_device(variant):
    """The device whose time models a variant uses (FastDeepIoT's), or None."""
    return (
        variant.removeprefix("fastdeepiot_")
        if variant.startswith("fastdeepiot_")
        else None
    )


def search_settings(wildcards):
    """The search's settings: the shared ones, this task's targets, this variant's objective,
    its lambda (the task's own, else the shared one) and the task's search seeds (else the
    shared seed), the same for every variant of the task."""
    objective = {"deepiot": "none", "deepiot_flops": "flops"}.get(
        wildcards.variant, "time"
    )
    weights = {
        **COMPRESS.get("lambda", {}),
        **COMPRESS.get("task_lambda", {}).get(wildcards.task, {}),
    }
    settings = {
        **COMPRESS.get("search", {}),
        "targets": COMPRESS.get("task_targets", {}).get(
            wildcards.task, COMPRESS.get("targets", [0.5, 0.25, 0.1])
        ),
        "objective": objective,
        "lambda": float(weights.get(objective, 0.0)),
        "seeds": COMPRESS.get("task_search_seeds", {}).get(
            wildcards.task, [COMPRESS.get("search", {}).get("seed", 0)]
        ),
    }
    return as_json(settings)


def compress_threads(wildcards):
    """A compression job's threads, TensorFlow's too: the task's own (`task_threads`: a small
    network gains little from a second core, and two one-thread jobs share the machine), else
    every core."""
    return min(
        workflow.cores,
        COMPRESS.get("task_threads", {}).get(wildcards.task, workflow.cores),
    )


def variant_models(wildcards):
    """The time models and dataset of the job's own device: the `device` wildcard's, or the
    variant's (FastDeepIoT's; none for DeepIoT and +FLOPs)."""
    device = getattr(wildcards, "device", None) or search_device(wildcards.variant)
    if device is None:
        return {"models": [], "dataset": []}
    return {
        "models": expand(
            "results/models/{device}/{layer}.json", device=device, layer=LAYERS
        ),
        "dataset": f"results/dataset/{device}.parquet",
    }


def compress_graph_dirs(wildcards=None):
    return expand(
        "results/compress/{task}/{variant}/final/graphs",
        task=TASKS,
        variant=SEARCH_VARIANTS + LOCALMIN_VARIANTS,
    )


def compress_points(wildcards=None):
    return expand(
        "results/compress/{task}/{variant}/final/points.parquet",
        task=TASKS,
        variant=SEARCH_VARIANTS + LOCALMIN_VARIANTS,
    )


def compress_table_outputs():
    families = sorted(set(TASK_FAMILIES.values()))
    return {
        "tables": [
            f"results/tables/{COMPRESS_TABLES[f]}.{ext}"
            for f in families
            for ext in ("csv", "md")
        ],
        "figures": expand("results/figures/fig5_{task}.png", task=TASKS),
    }


def all_models_and_datasets():
    return {
        "models": expand(
            "results/models/{device}/{layer}.json", device=DEVICES, layer=LAYERS
        ),
        "datasets": expand("results/dataset/{device}.parquet", device=DEVICES),
    }


def energy_source(device):
    """The device's energy source (devices.DEVICE.energy.source), `none` if it has none."""
    return (config["devices"][device].get("energy") or {}).get("source", "none")


def energy_files(stages):
    """The energy step's files: results/energy/DEVICE/STAGE.parquet for each (device, stage) of a
    device with an energy source (stage: the timings file's path under results/timings/DEVICE).
    """
    return [
        f"results/energy/{device}/{stage}.parquet"
        for device, stage in stages
        if energy_source(device) != "none"
    ]


def energy_traces(wildcards):
    """This device's power-meter traces (config energy_traces.DEVICE): adding one reruns only the
    energy steps of this device."""
    return config.get("energy_traces", {}).get(wildcards.device, [])


def energy_trace_paths(wildcards):
    return [trace["path"] for trace in energy_traces(wildcards)]
