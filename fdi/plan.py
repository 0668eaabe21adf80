"""What the Snakefile asks of a validated config: which files each target needs, and each job's
settings, composed here (tested in tests/test_plan.py) so the rules only name them.

Every job gets only the settings it depends on, as one JSON word, so editing another device,
scope, task or model never reruns it. Methods that take `wildcards` are Snakemake input or
params functions; anything with the wildcards' attributes will do.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from fdi.compress.targets import MEASURE_OF_OBJECTIVE, USER_TARGETS, search_targets, targets_in
from fdi.profile import space
from fdi.timemodel import adaptive
from fdi.timemodel.baselines import tree_loss

LAYER_TYPES = ("fc", "cnn", "gru", "lstm")
TIME_MODEL_BASELINES = ("fastdeepiot_mse", "fastdeepiot_paperx")  # Algorithm 1 under other losses
# The instrument settings a table needs to read a device's timings (statistic, settling).
INSTRUMENT_KEYS = ("statistic", "agree_tolerance", "max_passes", "cache_probe")
COMPRESS_TABLES = {"vgg": "table6", "deepsense": "table8"}  # the paper's table of each family


def as_json(value: Any) -> str:
    """A settings object as one JSON word for the command line (quoted with :q in the rule)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def search_device(variant: str) -> str | None:
    """The device whose time models a variant uses (FastDeepIoT's), or None."""
    return variant.removeprefix("fastdeepiot_") if variant.startswith("fastdeepiot_") else None


class Plan:
    """The workflow's file lists and job settings for one validated config (schema defaults
    filled in). `cores` is asked when a job is scheduled: `--cores` may differ between runs."""

    def __init__(self, config: Mapping[str, Any], cores: Callable[[], int] = lambda: 1) -> None:
        self.config, self.cores = config, cores
        self.layers = [layer for layer in LAYER_TYPES if layer in config["layers"]]
        self.families = list(config.get("families", {}))
        # Scopes whose components go into each device's dataset, and the whole-network scopes.
        self.scopes = self.layers + self.families + (["sweep"] if "sweep" in config else [])
        self.network_scopes = [f"{space.FAMILY_PREFIX}{family}" for family in config.get("networks", {})]
        # The zoo (fdi.profile.zoo): its ops train the op models, its networks check them.
        self.zoo_scopes = [space.ZOO_SCOPE] if space.ZOO_SCOPE in config else []
        self.adaptive = config.get("adaptive", {"rounds": 0})
        self.rounds = int(self.adaptive["rounds"])
        self.localmin = config.get("localmin", {"modes": ["paper", "staircase"], "limit": "next_pow2"})
        self.tasks = list(config.get("tasks", {}))
        self.devices = list(config["devices"])
        self.compress = config.get("compress", {})
        variants = self.compress.get("variants", [])
        self.search_variants = (
            (["deepiot"] if {"deepiot", "deepiot_localmin"} & set(variants) else [])
            + (["deepiot_flops"] if "deepiot_flops" in variants else [])
            + ([f"fastdeepiot_{device}" for device in self.devices] if "fastdeepiot" in variants else [])
        )
        self.localmin_variants = (
            [f"deepiot_localmin_{device}" for device in self.devices]
            if "deepiot_localmin" in variants
            else []
        )
        self.user_models = self.compress.get("models", {})
        for name, settings in self.user_models.items():
            unknown = sorted(set(settings.get("devices", [])) - set(self.devices))
            if unknown:
                raise ValueError(
                    f"config: compress.models.{name}.devices names {', '.join(unknown)}, not in devices "
                    f"({', '.join(self.devices)})"
                )
        for task, settings in config.get("tasks", {}).items():
            if settings.get("seed", 0) in settings.get("spread_seeds", []):
                raise ValueError(
                    f"config: tasks.{task}.spread_seeds holds the original's own seed "
                    f"{settings.get('seed', 0)}; list other seeds"
                )

    # --- settings of one job, as JSON -------------------------------------------------------
    def scope_settings(self, wildcards: Any) -> str:
        """Only this scope's settings: editing another scope never resamples this one."""
        return as_json(space.scope_settings(wildcards.scope, self.config))

    def scope_kind(self, wildcards: Any) -> str:
        return space.scope_kind(wildcards.scope, self.config)

    def device_settings(self, wildcards: Any) -> str:
        """Only this device's settings: changing another device never reruns this one."""
        return as_json(self.config["devices"][wildcards.device])

    def instrument_settings(self) -> str:
        """Per device, the instrument settings a table reads its timings with."""
        return as_json(
            {
                name: {key: device[key] for key in INSTRUMENT_KEYS if key in device}
                for name, device in self.config["devices"].items()
            }
        )

    def localmin_device_settings(self, wildcards: Any) -> str:
        """This device's settings, with at least `localmin.repeats` passes per graph."""
        device = self.config["devices"][wildcards.device]
        repeats = max(device["repeats"], self.localmin.get("repeats", 4))
        return as_json(
            {**device, "repeats": repeats, "max_passes": max(device.get("max_passes", repeats), repeats)}
        )

    def localmin_plan_settings(self) -> str:
        return as_json({key: self.localmin.get(key) for key in ("modes", "limit", "min_gain")})

    def adaptive_settings(self) -> str:
        return as_json({key: value for key, value in self.adaptive.items() if key != "rounds"})

    def benchmark_threads(self, wildcards: Any) -> int:
        """The host is the instrument: its benchmark takes every core, so no other job runs beside
        it. A phone's or a board's benchmark only waits for its device, and takes one core here."""
        return self.cores() if self.config["devices"][wildcards.device]["kind"] == "host" else 1

    def baseline_settings(self, wildcards: Any) -> str:
        """Only this model's settings, on this layer type's x: editing one model's grid reruns only
        that model."""
        if wildcards.model in TIME_MODEL_BASELINES:
            return as_json(self.config["time_model"])
        baselines = self.config["baselines"]
        chosen_x = baselines.get("x", "paper")
        return as_json(
            {
                "inputs": baselines["inputs"],
                "cv_folds": baselines["cv_folds"],
                "seed": baselines["seed"],
                "x": chosen_x if isinstance(chosen_x, str) else chosen_x.get(wildcards.layer, "paper"),
                "grid": baselines["grids"].get(wildcards.model, {}),
            }
        )

    def mse_is_time_model(self, layers: list[str]) -> list[str]:
        """The layer types whose FastDeepIoT-MSE baseline would refit the time model itself: its
        configured loss is already the paper's squared error and CV cannot choose another. Table 5
        takes that column from the fitted model (the refit cost as much as the fit: 64 s for conv)."""
        time_model = self.config["time_model"]
        if "loss" in time_model.get("grid", {}):
            return []
        return [layer for layer in layers if tree_loss(layer, time_model) == "squared"]

    def baseline_files(self, devices: list[str], layers: list[str]) -> list[str]:
        """results/baselines/DEVICE/LAYER/MODEL.parquet for every configured baseline, except the
        FastDeepIoT-MSE refits that mse_is_time_model spares."""
        spared = set(self.mse_is_time_model(layers))
        return [
            f"results/baselines/{device}/{layer}/{model}.parquet"
            for device in devices
            for layer in layers
            for model in self.config["baselines"]["models"]
            if not (model == "fastdeepiot_mse" and layer in spared)
        ]

    def training_settings(self, task: str) -> dict[str, Any]:
        """What training a task's network depends on: its settings but the spread seeds, so editing
        them never retrains the original; `anneal: true` becomes the compressed networks' fine-tune
        (`compress.finetune` but its seed, which is the task's), so the two stay one setting."""
        settings = {k: v for k, v in self.config["tasks"][task].items() if k != "spread_seeds"}
        if settings.pop("anneal", False):
            finetune = self.config.get("compress", {}).get("finetune", {})
            settings["anneal"] = {k: v for k, v in finetune.items() if k != "seed"}
        return settings

    def task_settings(self, wildcards: Any) -> str:
        """Only this task's settings: editing one task never retrains the other."""
        return as_json(self.training_settings(wildcards.task))

    def spread_seed_settings(self, wildcards: Any) -> str:
        """The task's training settings with the seed of one of its spread runs."""
        return as_json({**self.training_settings(wildcards.task), "seed": int(wildcards.seed)})

    def search_settings(self, wildcards: Any) -> str:
        """The search's settings: the shared ones, this task's targets in this variant's measure,
        its objective, its lambda (the task's own, else the shared one) and the task's search
        seeds (else the shared seed), the same for every variant of the task."""
        compress, task = self.compress, wildcards.task
        objective = {"deepiot": "none", "deepiot_flops": "flops"}.get(wildcards.variant, "time")
        weights = {**compress.get("lambda", {}), **compress.get("task_lambda", {}).get(task, {})}
        return as_json(
            {
                **compress.get("search", {}),
                "targets": search_targets(compress, task, MEASURE_OF_OBJECTIVE[objective]),
                "objective": objective,
                "lambda": float(weights.get(objective, 0.0)),
                "seeds": compress.get("task_search_seeds", {}).get(
                    task, [compress.get("search", {}).get("seed", 0)]
                ),
            }
        )

    def finish_settings(self, *keys: str) -> str:
        """The compression settings a finishing step depends on (fine-tuning, localMin)."""
        return as_json({key: self.compress.get(key, {}) for key in keys})

    def compress_threads(self, wildcards: Any) -> int:
        """A compression job's threads, TensorFlow's too: the task's own (`task_threads`: a small
        network gains little from a second core, and two one-thread jobs share the machine), else
        every core."""
        return min(self.cores(), self.compress.get("task_threads", {}).get(wildcards.task, self.cores()))

    # --- file lists -------------------------------------------------------------------------
    def structure_files(self, wildcards: Any = None) -> list[str]:
        return [f"results/structures/{scope}.parquet" for scope in self.scopes]

    def network_structure_files(self, wildcards: Any = None) -> list[str]:
        return [f"results/structures/{scope}.parquet" for scope in self.network_scopes]

    def timing_stages(self, scopes: list[str]) -> list[str]:
        """The timings files of `scopes` under a device's results/timings/ folder, one per shard."""
        return [
            f"{scope}/{shard}" for scope in scopes for shard in range(space.shard_count(scope, self.config))
        ]

    def graph_dirs(self, scopes: list[str]) -> list[str]:
        return [f"results/graphs/{stage}" for stage in self.timing_stages(scopes)]

    def device_timing_files(self, device: str, scopes: list[str]) -> list[str]:
        """One device's campaign timings: every shard of `scopes`."""
        return [f"results/timings/{device}/{stage}.parquet" for stage in self.timing_stages(scopes)]

    def timing_files(self, wildcards: Any) -> list[str]:
        return self.device_timing_files(wildcards.device, self.scopes)

    def network_timing_files(self, wildcards: Any) -> list[str]:
        return self.device_timing_files(wildcards.device, self.network_scopes)

    def zoo_timing_files(self, wildcards: Any) -> list[str]:
        return self.device_timing_files(wildcards.device, self.zoo_scopes)

    def op_model_files(self, wildcards: Any) -> list[str]:
        """The device's op models, where the config has a zoo to fit them on."""
        return [f"results/models/{wildcards.device}/ops.json"] if self.zoo_scopes else []

    @staticmethod
    def option(flag: str, paths: list[str]) -> str:
        """`flag 'path'...` for an optional input (shell-quoted), or nothing without one."""
        return " ".join([flag, *(shlex.quote(str(path)) for path in paths)]) if paths else ""

    def zoo_tables(self, extensions: tuple[str, ...] = ("csv", "md")) -> list[str]:
        return (
            [f"results/tables/zoo/{device}.{ext}" for device in self.devices for ext in extensions]
            if self.zoo_scopes
            else []
        )

    def adaptive_structure_files(self, device: str, rounds: int) -> list[str]:
        return [f"results/structures/{device}/adaptive{r}.parquet" for r in range(1, rounds + 1)]

    def adaptive_timing_files(self, device: str, rounds: int) -> list[str]:
        return [
            f"results/timings/{device}/adaptive{r}/{shard}.parquet"
            for r in range(1, rounds + 1)
            for shard in range(adaptive.shard_count(self.adaptive))
        ]

    def round_structure_files(self, wildcards: Any) -> list[str]:
        """The structures of the campaign and of the device's adaptive rounds up to this one."""
        return self.structure_files() + self.adaptive_structure_files(wildcards.device, int(wildcards.round))

    def round_timing_files(self, wildcards: Any) -> list[str]:
        return self.timing_files(wildcards) + self.adaptive_timing_files(
            wildcards.device, int(wildcards.round)
        )

    def dataset_pairs(self, files: list[str], devices: list[str] | None = None) -> str:
        """DEVICE=PATH words for files given in the order of `devices` (default: the config's)."""
        devices = self.devices if devices is None else devices
        return " ".join(f"{device}={path}" for device, path in zip(devices, files, strict=True))

    def spread_metrics(self, wildcards: Any = None) -> list[str]:
        """metrics.json of every task's original trained again under its spread seeds."""
        return [
            f"results/tasks/{task}/spread/seed-{seed}/metrics.json"
            for task, settings in self.config.get("tasks", {}).items()
            for seed in settings.get("spread_seeds", [])
        ]

    @staticmethod
    def time_model_files(devices: list[str]) -> list[str]:
        """Each device's one time model (its registry entry, fdi.timemodel.device_model)."""
        return [f"results/registry/{device}.json" for device in devices]

    def variant_models(self, wildcards: Any) -> dict[str, Any]:
        """The time model of the job's own device: the `device` wildcard's, or the variant's
        (FastDeepIoT's; none for DeepIoT and +FLOPs)."""
        device = getattr(wildcards, "device", None) or search_device(wildcards.variant)
        return {"time_models": self.time_model_files([device] if device else [])}

    def compress_files(self, name: str) -> list[str]:
        """One file or folder (`final/graphs`, `final/points.parquet`) of every task's variant."""
        return [
            f"results/compress/{task}/{variant}/{name}"
            for task in self.tasks
            for variant in self.search_variants + self.localmin_variants
        ]

    def compress_table_outputs(self) -> dict[str, list[str]]:
        families = sorted({settings["family"] for settings in self.config.get("tasks", {}).values()})
        return {
            "tables": [
                f"results/tables/{COMPRESS_TABLES[f]}.{ext}" for f in families for ext in ("csv", "md")
            ],
            "figures": [f"results/figures/fig5_{task}.png" for task in self.tasks],
        }

    def energy_source(self, device: str) -> str:
        """The device's energy source (devices.DEVICE.energy.source), `none` if it has none."""
        return (self.config["devices"][device].get("energy") or {}).get("source", "none")

    def energy_files(self, stages: list[tuple[str, str]]) -> list[str]:
        """The energy step's files: results/energy/DEVICE/STAGE.parquet for each (device, stage) of
        a device with an energy source (stage: the timings file's path under results/timings/DEVICE)."""
        return [
            f"results/energy/{device}/{stage}.parquet"
            for device, stage in stages
            if self.energy_source(device) != "none"
        ]

    def energy_traces(self, wildcards: Any) -> list[dict[str, Any]]:
        """This device's power-meter traces (config energy_traces.DEVICE): adding one reruns only the
        energy steps of this device."""
        return self.config.get("energy_traces", {}).get(wildcards.device, [])

    def energy_trace_paths(self, wildcards: Any) -> list[str]:
        return [trace["path"] for trace in self.energy_traces(wildcards)]

    # --- your own models (compress.models: fdi compress in the workflow) ---------------------
    def user_devices(self, model: str) -> list[str]:
        """Where a user model's points are measured: its `devices`, else every device."""
        return list(self.user_models[model].get("devices", self.devices))

    def user_variants(self, model: str) -> list[str]:
        """Its variants' run names: deepiot, deepiot_flops, and FastDeepIoT once per device
        (fastdeepiot_DEVICE, steered by that device's time models)."""
        settings = self.user_models[model]
        variants = settings.get("variants", ["deepiot", "fastdeepiot"])
        return [v for v in ("deepiot", "deepiot_flops") if v in variants] + (
            [f"fastdeepiot_{d}" for d in self.user_devices(model)] if "fastdeepiot" in variants else []
        )

    def user_inputs(self, wildcards: Any) -> dict[str, Any]:
        """A user run's model and data, and the registry entry of the device steering it (only
        FastDeepIoT's: DeepIoT's runs read no device, so a new device leaves them alone)."""
        settings = self.user_models[wildcards.usermodel]
        device = search_device(wildcards.uvariant)
        return {
            "model": settings["model"],
            "data": settings["data"],
            "registry": [f"results/registry/{device}.json"] if device else [],
        }

    def user_compress_args(self, wildcards: Any) -> str:
        """`fdi compress`'s options for one run (numbers and names the schema checked; the device
        name matches the device wildcard's pattern)."""
        settings = self.user_models[wildcards.usermodel]
        device = search_device(wildcards.uvariant)
        objective = "time" if device else {"deepiot": "none", "deepiot_flops": "flops"}[wildcards.uvariant]
        targets = targets_in(settings["targets"], MEASURE_OF_OBJECTIVE[objective]) or USER_TARGETS
        words = ["--objective", objective, "--targets", *map(str, targets)]
        words += ["--iterations", str(settings["iterations"]), "--weight", str(settings["lambda"])]
        words += ["--finetune-epochs", str(settings["finetune_epochs"])]
        words += ["--finetune-patience", str(settings["finetune_patience"]), "--seed", str(settings["seed"])]
        if "search_seeds" in settings:
            words += ["--search-seeds", *map(str, settings["search_seeds"])]
        if "finetune_learning_rate" in settings:  # else fdi compress's own default
            words += ["--finetune-rate", str(settings["finetune_learning_rate"])]
        if device:
            words += ["--expand", "--device", device, "--registry", "results/registry"]
        return " ".join(words)

    def user_threads(self, wildcards: Any) -> int:
        return min(self.cores(), int(self.user_models[wildcards.usermodel].get("threads", self.cores())))

    def user_files(self, model: str, name: str) -> list[str]:
        """One file (`curve.json`, `graphs.txt`) of every variant's run of a user model."""
        return [f"results/user/{model}/{variant}/{name}" for variant in self.user_variants(model)]

    def user_timing_files(self, wildcards: Any) -> list[str]:
        model = wildcards.usermodel
        return [f"results/timings/{device}/user-{model}.parquet" for device in self.user_devices(model)]

    def user_timing_pairs(self, wildcards: Any, input: Any) -> str:
        """DEVICE=PATH words for the table job's timings, in the model's device order."""
        return self.dataset_pairs(input.timings, self.user_devices(wildcards.usermodel))

    def user_table_outputs(self, model: str) -> dict[str, str]:
        return {
            "table": f"results/tables/user-{model}.csv",
            "markdown": f"results/tables/user-{model}.md",
            "figure": f"results/figures/user-{model}.png",
            "points": f"results/tables/user-{model}-points.csv",
        }
