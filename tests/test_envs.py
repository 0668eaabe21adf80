"""The conda env files (envs/*.yaml, for --use-conda) install fdi with one stage's extras from
pyproject.toml: each names only extras that exist, whose requirements the tested install
satisfies, and the instrument's env holds what `fdi benchmark` imports and no TensorFlow."""

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EDITABLE = re.compile(r"^(?:--editable|-e) \.\.(?:\[([a-z_,]+)\])?$")


def env_extras(path: Path) -> list[str]:
    """The extras an env file installs fdi with; the file must hold nothing else but Python 3.11."""
    env = yaml.safe_load(path.read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert sorted(conda) == ["pip", "python=3.11"], path.name
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip) == 1, f"{path.name}: every requirement belongs in pyproject.toml, not here"
    match = EDITABLE.match(pip[0])
    assert match, f"{path.name}: {pip[0]!r} is not fdi's editable install"
    return match[1].split(",") if match[1] else []


def project_requirements(extras: list[str]) -> list[Requirement]:
    """fdi's core requirements plus those of `extras`, self-references (fdi[x]) expanded."""
    optional = PROJECT["optional-dependencies"]
    found, todo, seen = [Requirement(r) for r in PROJECT["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        assert extra in optional, f"no extra {extra!r} in pyproject.toml"
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "fdi":
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements pull in, read from the installed packages' metadata."""
    closure: set[str] = set()
    todo = [(r.name, set()) for r in requirements]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in closure:
            continue
        closure.add(key)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in extras or {""}):
                todo.append((requirement.name, set(requirement.extras)))
    return closure


# Imported when present, not needed: pyarrow falls back to pickle without cloudpickle.
OPTIONAL_IMPORTS = {"cloudpickle"}
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("path", ENV_FILES, ids=[p.stem for p in ENV_FILES])
def test_an_env_names_existing_extras_that_the_tested_install_satisfies(path):
    for requirement in project_requirements(env_extras(path)):
        version = importlib.metadata.version(requirement.name)
        assert requirement.specifier.contains(version, prereleases=True), (
            path.name,
            str(requirement),
            version,
        )


def test_every_rule_names_an_env_file_that_exists():
    named = {
        m
        for f in (REPO / "rules").glob("*.smk")
        for m in re.findall(r'"\.\./envs/([\w-]+\.yaml)"', f.read_text())
    }
    assert named == {p.name for p in ENV_FILES}


def test_the_instruments_env_has_what_fdi_benchmark_imports_and_no_tensorflow():
    names = {
        canonicalize_name(r.name) for r in project_requirements(env_extras(REPO / "envs/benchmark.yaml"))
    }
    assert {"ai-edge-litert", "adbutils", "paramiko"} <= names
    closure = installed_closure(project_requirements(env_extras(REPO / "envs/benchmark.yaml")))
    assert not {n for n in closure if n.startswith("tensorflow") or n in ("keras", "scikit-learn", "scipy")}
    # Everything `fdi benchmark` loads, for each device kind, comes from that env.
    code = (
        "import sys, json, fdi.cli, fdi.profile.devices, fdi.profile.devices.host,"
        " fdi.profile.devices.adb, fdi.profile.devices.ssh;"
        "from ai_edge_litert.interpreter import Interpreter;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    startup = "import sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    modules = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )
    modules = set(modules) - set(
        json.loads(
            subprocess.run([sys.executable, "-c", startup], check=True, capture_output=True, text=True).stdout
        )
    )
    owners = importlib.metadata.packages_distributions()
    outside = {
        module: owners[module]
        for module in sorted(modules - OPTIONAL_IMPORTS)
        if module in owners
        and module not in sys.stdlib_module_names
        and not {canonicalize_name(d) for d in owners[module]} & (closure | {"fdi"})
    }
    assert not outside, f"fdi benchmark imports modules from outside its env: {outside}"
