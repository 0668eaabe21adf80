import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real Snakefile in `workdir` with this interpreter's tools first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from the 'Job stats' table of a (dry) run."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def planned_jobs(output: str) -> list[tuple[str, str]]:
    """(rule, the job's block: input, output, wildcards, shell command) for every job of a dry run
    with -p, so one dry run answers what several targeted ones would."""
    blocks = re.split(r"^(?:local)?rule (\w+):$", output, flags=re.MULTILINE)
    return list(zip(blocks[1::2], blocks[2::2], strict=True))


def copy_workflow(destination: Path, config: str = "config/tiny.yaml") -> Path:
    """A fresh copy of the workflow whose default config is `config` (an overlay such as
    config/tiny.yaml merged over config/config.yaml, as Snakemake merges `--configfile`)."""
    for name in ("Snakefile", "rules", "config", "envs", "report", "profiles"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, destination / name)
    if config != "config/config.yaml":  # as `--configfile`: merged over the default config
        merged = yaml.safe_load((REPO / "config/config.yaml").read_text())
        update_config(merged, yaml.safe_load((REPO / config).read_text()))
        (destination / "config" / "config.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    return destination


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny workflow, run once to completion for every test that inspects its outputs."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny"))
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def loopback_sshd(tmp_path_factory):
    """A real sshd on 127.0.0.1 (see tests/loopback_sshd.py); skipped with the reason where it can't start."""
    from loopback_sshd import start_sshd

    server, process, why_not = start_sshd(tmp_path_factory.mktemp("sshd"))
    if server is None:
        pytest.skip(why_not)
    yield server
    process.terminate()
    process.wait(timeout=10)


def board_settings(server, **overrides) -> dict:
    """Settings of an ssh device whose "board" is this machine's loopback sshd, timed by LiteRT."""
    return {
        "kind": "ssh",
        "host": "127.0.0.1",
        "port": server.port,
        "user": "root",
        "key_file": str(server.key_file),
        "known_hosts": str(server.known_hosts),
        "runner": "litert_python",
        "python": sys.executable,
        "workdir": "/tmp/fdi-board",
        "threads": 1,
        "warmup_runs": 1,
        "warmup_min_ms": 0,
        "runs": 3,
        "repeats": 2,
        "statistic": "median",
        **overrides,
    }


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """Under pytest-xdist's `--dist loadgroup` (pyproject's addopts): every test that reads the
    tiny workflow's run goes to one worker, so it runs once; every other file's tests stay
    together on one worker (their module fixtures are made once)."""
    for item in items:
        uses_tiny_run = "tiny_run" in getattr(item, "fixturenames", ())
        item.add_marker(pytest.mark.xdist_group("tiny_run" if uses_tiny_run else item.path.name))
