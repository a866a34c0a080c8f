"""``videozoo demo``: fine-tune TSM and TSN from the same weights on a task only frame order
solves, evaluate both on held-out videos, print the table (see :mod:`videozoo.demo`)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from videozoo import demo

    p = sub.add_parser(
        "demo", help="end-to-end demo: TSM learns the direction of motion, TSN cannot",
        description=demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videozoo import demo

    return demo.run(args)
