"""The `fdi` command: one subcommand per workflow step, plus `predict`, `expand` and `explain` for
people.

Every Snakemake rule calls exactly one subcommand. Settings arrive as one JSON object per
option (only the settings that step needs), so a job's command line says all it depends on.
Each stage's subcommands live in their own module here; heavy libraries are imported inside the
subcommands, so `fdi benchmark` loads LiteRT only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fdi.cli import compress, energy, profile, tasks, timemodel, user, widening, zoo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fdi",
        description="FastDeepIoT: measure layer execution times, fit interpretable time models, "
        "compare them, compress networks for a device. "
        "Most subcommands are workflow steps called by Snakemake; `fdi predict`, `fdi expand` and "
        "`fdi explain` are for people.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    for stage in (profile, timemodel, zoo, widening, tasks, compress, user, energy):
        stage.add_commands(add)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command as given, for a step that must restart itself (benchmark)
    args.func(args)
    sys.stdout.flush()
