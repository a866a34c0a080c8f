"""The ``videozoo`` command. Each subcommand lives in ``videozoo/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed args,
returning an exit code).

A user's mistake is one line on stderr and an exit code (2: usage or configuration, 1: the work
failed, see :mod:`videozoo.commands._common`); ``--traceback`` (anywhere on the command line) or
``VIDEOZOO_DEBUG=1`` shows the traceback instead."""
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
    from .commands._common import OneLineParser

    parser = OneLineParser(
        prog="videozoo",
        description="TSN / TSM / TPN video recognition models with MMAction2's zoo weights.",
    )
    parser.add_argument("--traceback", action="store_true",
                        help="show the traceback of an error (also VIDEOZOO_DEBUG=1)")
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
    """Run one command; returns its exit code (argparse's usage errors included: 2)."""
    from .commands._common import EXIT_USAGE, call_command, debug_wanted

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_wanted(argv)
    argv = [a for a in argv if a != "--traceback"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error, its line already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    args.traceback = debug
    return call_command(args.func, args, debug)


if __name__ == "__main__":
    sys.exit(main())
