"""``videozoo list [PATTERN] [--arch ARCH]``: architectures and zoo entries."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list architectures and zoo entries (shell wildcards)")
    p.add_argument("pattern", nargs="?", default=None)
    p.add_argument("--pretrained", action="store_true", help="only entries with weights")
    p.add_argument("--arch", default=None,
                   help="only the zoo entries of this architecture (wildcards), both naming schemes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import videozoo

    if args.arch:
        names = videozoo.list_pretrained(args.pattern, arch=args.arch)
    else:
        names = videozoo.list_models(args.pattern, pretrained=args.pretrained)
    for name in names:
        print(name)
    return 0
