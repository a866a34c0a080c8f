"""``videozoo download NAME...``: fetch zoo weights into the caches (names or shell wildcards).

Sources, in order: ``$VIDEOZOO_MIRROR``, the videozoo cache, the Hugging Face Hub repository,
the original MMAction2 URL (checked, converted, cached). See ``videozoo._hub`` for the details and
the environment variables (``VIDEOZOO_HOME``, ``VIDEOZOO_MIRROR``, ``VIDEOZOO_HUB_ORG``,
``HF_HUB_OFFLINE``, ``HF_ENDPOINT``).
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download", help="download pretrained weights into the cache",
                       description=__doc__)
    p.add_argument("names", nargs="+", metavar="NAME", help="zoo entries or wildcards ('tsm_*')")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import videozoo  # noqa: F401  (registers the zoo)
    from videozoo._hub import fetch_weights
    from videozoo._publish import select_entries

    try:
        entries = select_entries(args.names)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = 0
    for entry in entries:
        try:
            path, source = fetch_weights(entry.name, progress=not args.quiet)
        except (OSError, RuntimeError, ValueError) as e:
            failed += 1
            print(f"{entry.name}: FAILED: {e}", file=sys.stderr)
            continue
        print(f"{entry.name}: {path} (from {source})")
    return 1 if failed else 0
