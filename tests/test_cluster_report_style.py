"""Slurm execution (a real one-node cluster where one can be started), the HTML report, style."""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, copy_workflow, snakemake


def slurm_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return states.returncode == 0 and ("idle" in states.stdout or "mix" in states.stdout)


@pytest.mark.skipif(
    not slurm_is_up(),
    reason="no Slurm cluster here: `make test` starts one with tests/slurm/start-cluster.sh "
    "(needs root and apt-get)",
)
def test_compute_jobs_go_through_slurm_and_device_jobs_stay_local(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    config["layers"] = {"fc": {**config["layers"]["fc"], "networks": 2}}
    for key in ("sweep", "families", "networks"):
        del config[key]
    config["adaptive"]["rounds"] = 0
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.time()
    snakemake(
        workdir,
        "--profile",
        str(REPO / "profiles/slurm"),
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "2",
        "results/models/host/fc.json",
    )
    jobs = subprocess.run(["scontrol", "show", "jobs", "--oneliner"], capture_output=True, text=True).stdout
    ours = [line for line in jobs.splitlines() if f"WorkDir={workdir}" in line]
    rules = sorted(re.search(r"Comment=rule_([a-z0-9]+)_", line)[1] for line in ours)
    # export (one shard), export_reference, export_cache_probe and fit; sample, benchmark and
    # aggregate are localrules
    assert set(rules) == {"export", "fit"} and len(rules) == 4
    assert all("JobState=COMPLETED" in line for line in ours)
    assert (workdir / "results/models/host/fc.json").exists()
    assert time.time() - started < 300


def test_html_report_has_the_tables_figures_and_captions(tiny_run):
    snakemake(tiny_run, "--report", "results/report.html", "--cores", "1")
    html = (tiny_run / "results/report.html").read_text(errors="replace")
    for needle in ["table5.csv", "table4.csv", "fig1.png", "fig2.png", "noise_floor", "FastDeepIoT-MSE"]:
        assert needle in html, needle


def test_snakefmt_lint_and_ruff_are_clean():
    formatted = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True
    )
    assert formatted.returncode == 0, formatted.stderr.decode()
    lint = snakemake(Path(REPO), "--lint", "--cores", "1", check=False)
    assert lint.returncode == 0 and "Lints for" not in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True
    )
    assert ruff.returncode == 0, ruff.stdout
