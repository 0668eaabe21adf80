"""Argument types every stage's commands share: settings as one JSON word, DEVICE=PATH pairs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def json_arg(text: str) -> Any:
    """One JSON object per option: a job's command line says all the settings it depends on."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text[:80]}") from error


def pairs(values: list[str] | None) -> dict[str, Path]:
    """NAME=PATH arguments (a device and its file) as a mapping."""
    out = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"expected NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out
