"""``videozoo download NAME...``: fetch zoo weights into the caches (names or shell wildcards).

Sources, in order: ``$VIDEOZOO_MIRROR``, the videozoo cache, the Hugging Face Hub repository,
the original MMAction2 URL (checked, converted, cached). Every file is checked (hash, ETag,
tensor digest, NaN/Inf) and every transfer is bounded (``--timeout``, ``--stall-timeout``; a server
that cannot be connected to within ``VIDEOZOO_CONNECT_TIMEOUT``, 3 s, is skipped at once). See
``videozoo._hub`` for the details and the environment variables (``VIDEOZOO_HOME``,
``VIDEOZOO_MIRROR``, ``VIDEOZOO_HUB_ORG``, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT``).
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download", help="download pretrained weights into the cache",
                       description=__doc__)
    p.add_argument("names", nargs="+", metavar="NAME", help="zoo entries or wildcards ('tsm_*')")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                   help="deadline for the whole download of one file from one source "
                        "(default: $VIDEOZOO_DOWNLOAD_TIMEOUT or 1800)")
    p.add_argument("--stall-timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                   help="give up an attempt after this long without a byte "
                        "(default: $VIDEOZOO_STALL_TIMEOUT or 30)")
    p.set_defaults(func=run)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


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
            path, source = fetch_weights(entry.name, progress=not args.quiet,
                                         deadline_s=args.timeout, stall_s=args.stall_timeout)
        except (OSError, RuntimeError, ValueError) as e:
            failed += 1
            print(f"{entry.name}: FAILED: {e}", file=sys.stderr)
            continue
        print(f"{entry.name}: {path} (from {source})")
    return 1 if failed else 0
