"""The package's shape: stages import only earlier stages, no module outgrows a reader, and the
network families' names are branched on only in their own module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fdi"
# A module may import its own stage and any earlier one (fdi/__init__.py says why this order).
STAGES = {
    "timings": 0,
    "atomic": 0,
    "profile": 1,
    "energy": 2,
    "timemodel": 2,
    "tasks": 3,
    "compress": 4,
    "cli": 5,
    "plan": 5,
}
MAX_LINES = 400


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def stage_of(dotted: str) -> str:
    return dotted.split(".")[1].removesuffix(".py")


def fdi_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported fdi module) for every import in the file, at top level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("fdi.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fdi":
            if node.module == "fdi":
                found += [(node.lineno, f"fdi.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def upward_imports(path: Path) -> list[str]:
    own = stage_of("fdi." + path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", "."))
    bad = []
    for line, module in fdi_imports(path):
        other = stage_of(module)
        if other != own and STAGES[other] >= STAGES[own]:
            bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    return bad


def test_every_module_belongs_to_a_stage() -> None:
    top = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert top - {"__init__", "__pycache__"} == set(STAGES)


def test_no_stage_imports_a_later_or_sibling_stage() -> None:
    bad = [line for path in modules() for line in upward_imports(path)]
    assert bad == []


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    planted = PACKAGE / "profile" / "_planted_upward.py"
    planted.write_text("def f():\n    from fdi.compress import search\n")
    try:
        assert upward_imports(planted) == ["fdi/profile/_planted_upward.py:2 imports fdi.compress"]
    finally:
        planted.unlink()


def test_no_module_over_the_line_limit() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_family_names_are_branched_on_only_in_the_families_module(path: Path) -> None:
    if path == PACKAGE / "profile" / "families.py":
        return
    branches = re.findall(r'.*\bfamily\s*[!=]=\s*"\w+".*', path.read_text())
    assert branches == []
