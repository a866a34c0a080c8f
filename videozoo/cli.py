"""The ``videozoo`` command. Each subcommand lives in ``videozoo/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed args,
returning an exit code)."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional

# Subcommand modules, in the order `videozoo --help` lists them.
COMMANDS = (
    "demo",
    "eval",
    "predict",
    "fuse",
    "download",
    "convert",
    "publish",
    "cards",
    "list",
    "info",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videozoo",
        description="TSN / TSM / TPN video recognition models with MMAction2's zoo weights.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"videozoo.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"videozoo.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
