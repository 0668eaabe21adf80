# Config validation, wildcard constraints, and the plan (fdi.plan) that turns the config into file
# lists and per-job settings: the rules name PLAN's methods, they compose nothing themselves.
from snakemake.utils import validate

from fdi.plan import Plan, as_json, search_device

validate(config, "../config/config.schema.yaml")

PLAN = Plan(config, cores=lambda: workflow.cores)
LAYERS, SCOPES, NETWORK_SCOPES = PLAN.layers, PLAN.scopes, PLAN.network_scopes
ZOO_SCOPES = PLAN.zoo_scopes
DEVICES, TASKS, ROUNDS = PLAN.devices, PLAN.tasks, PLAN.rounds
TASK_DATA_DIR = config["task_data_dir"]

# One resource per device, of capacity 1: a device runs one benchmark job at a time, while jobs of
# different phones and boards may overlap. The host's benchmark also takes every core.
for _device in DEVICES:
    workflow.register_resource(f"device_{_device}", 1)
DEVICE_RESOURCES = {
    f"device_{name}": (lambda wildcards, name=name: int(wildcards.device == name))
    for name in DEVICES
}


wildcard_constraints:
    scope="|".join(SCOPES + NETWORK_SCOPES + ZOO_SCOPES),
    layer="fc|cnn|gru|lstm",
    device="[A-Za-z][A-Za-z0-9_]*",
    shard=r"\d+",
    round=r"\d+",
    model="svr|dt|rf|gbrt|dnn|flops|fastdeepiot_mse|fastdeepiot_paperx",
    task="|".join(TASKS) if TASKS else "(?!)",
    seed=r"\d+",
