"""``videozoo list [PATTERN]``: architectures and zoo entries."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list architectures and zoo entries (shell wildcards)")
    p.add_argument("pattern", nargs="?", default=None)
    p.add_argument("--pretrained", action="store_true", help="only entries with weights")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import videozoo

    for name in videozoo.list_models(args.pattern, pretrained=args.pretrained):
        print(name)
    return 0
