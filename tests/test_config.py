"""The config schema: every ready config is valid and complete; a bad key is named."""

import copy
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, copy_workflow, snakemake

SCHEMA = yaml.safe_load((REPO / "config/config.schema.yaml").read_text())
READY = sorted((REPO / "config").glob("*.yaml"))
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


OVERLAYS = [p for p in READY if p.name not in ("config.schema.yaml", "config.yaml")]


def repeated_leaves(overlay: dict, default: dict, path: str = "") -> list[str]:
    """The keys of an overlay that only repeat the default's value."""
    same = []
    for key, value in overlay.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict) and isinstance(default.get(key), dict):
            same += repeated_leaves(value, default[key], where)
        elif key in default and default[key] == value:
            same.append(where)
    return same


def test_the_default_config_is_valid():
    jsonschema.validate(DEFAULT, SCHEMA)


@pytest.mark.parametrize("path", OVERLAYS, ids=lambda p: p.name)
def test_ready_configs_hold_only_what_differs_and_are_valid_once_merged(path):
    overlay = yaml.safe_load(path.read_text())
    assert repeated_leaves(overlay, DEFAULT) == []
    # `--configfile X` is merged over the default config, as Snakemake does
    merged = copy.deepcopy(DEFAULT)
    update_config(merged, overlay)
    jsonschema.validate(merged, SCHEMA)


def test_the_repeated_key_check_finds_a_planted_repeat():
    overlay = {"seed": 7, "devices": {"host": {"runs": DEFAULT["devices"]["host"]["runs"]}}}
    assert repeated_leaves(overlay, DEFAULT) == ["devices.host.runs"]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c["devices"]["host"].update(threds=1), "threds"),
        (lambda c: c["layers"]["cnn"]["scope"].update(padding=["full"]), "padding"),
        (lambda c: c["devices"].update({"my phone": {"kind": "host"}}), "my phone"),
        (lambda c: c["time_model"].pop("mape_stop"), "mape_stop"),
        (
            lambda c: c["devices"].update(
                board={
                    "kind": "ssh",
                    "host": "pi",
                    "user": "pi",
                    "threads": 1,
                    "warmup_runs": 1,
                    "runs": 5,
                    "repeats": 1,
                    "statistic": "median",
                    "runner": "bash",
                }
            ),
            "bash",
        ),
        (lambda c: c["devices"].update(board={"kind": "ssh", "host": "a;b", "user": "pi"}), "a;b"),
        (lambda c: c["compress"]["targets"].update(energy=[0.5]), "energy"),
        (lambda c: c["compress"]["task_targets"]["deepsense"].update(time=[1.5]), "1.5"),
    ],
)
def test_schema_names_the_bad_key(edit, named):
    config = copy.deepcopy(DEFAULT)
    edit(config)
    with pytest.raises(jsonschema.ValidationError) as error:
        jsonschema.validate(config, SCHEMA)
    assert named in str(error.value)


def test_snakemake_stops_on_a_bad_config_and_names_the_key(tmp_path):
    workdir = copy_workflow(tmp_path, "config/config.yaml")
    config = copy.deepcopy(DEFAULT)
    config["devices"]["host"]["runs"] = 0
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "--cores", "1", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Error validating config file" in output
    assert "['devices']['host']['runs']" in output


def test_a_device_needs_only_its_identity_and_validation_fills_the_rest():
    """The README's five-line devices: the schema's defaults are filled in by Snakemake's
    validate, per kind (benchmark_model reports no median, so a phone's statistic is the mean)."""
    from snakemake.utils import validate

    config = copy.deepcopy(DEFAULT)
    config["devices"] = {
        "host": {"kind": "host"},
        "pixel": {"kind": "adb", "serial": "0123abcd", "benchmark_model": "tools/benchmark_model"},
        "rpi4": {"kind": "ssh", "host": "192.168.1.50", "user": "root", "runner": "litert_python"},
    }
    validate(config, str(REPO / "config/config.schema.yaml"))
    common = {"threads": 1, "warmup_runs": 1, "runs": 20, "repeats": 2}
    assert config["devices"]["host"] == {
        "kind": "host",
        **common,
        "warmup_min_ms": 50,
        "statistic": "median",
        "huge_pages": True,
        "wait_for_others": True,  # measured on the host; asked for on phones and boards
    }
    assert config["devices"]["pixel"] == {
        "kind": "adb",
        "serial": "0123abcd",
        "benchmark_model": "tools/benchmark_model",
        **common,
        "statistic": "mean",
        "wait_for_others": False,
    }
    assert config["devices"]["rpi4"]["statistic"] == "median" and config["devices"]["rpi4"]["runs"] == 20
    assert config["devices"]["rpi4"]["wait_for_others"] is False
    # A listed value is kept; a bad one is still named.
    config["devices"]["pixel"]["runs"] = 0
    with pytest.raises(Exception, match="runs"):
        validate(config, str(REPO / "config/config.schema.yaml"))


def test_a_users_model_needs_only_its_files_and_gets_the_measured_budget():
    """A `compress.models` entry of two lines runs the search budget and fine-tuning rule under
    which both variants of the image model kept the accuracy (2,000 iterations; the plateau rule at
    patience 4 under a cap of 40), not the quick budget that failed it."""
    from snakemake.utils import validate

    from fdi.plan import Plan

    config = copy.deepcopy(DEFAULT)
    config["compress"]["models"] = {"mine": {"model": "m.keras", "data": "d.npz"}}
    validate(config, str(REPO / "config/config.schema.yaml"))
    args = Plan(config, cores=lambda: 2).user_compress_args(
        SimpleNamespace(usermodel="mine", uvariant="deepiot")
    )
    assert "--iterations 2000 --weight 4.0 --finetune-epochs 40 --finetune-patience 4 --seed 0" in args
