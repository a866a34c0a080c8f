"""``videozoo publish NAME... --out DIR [--dry-run]``: one Hub repository per zoo entry.

Each entry's original checkpoint (from ``--checkpoints``, ``$VIDEOZOO_MIRROR`` or its URL, SHA-256
checked) is converted to ``model.safetensors`` and written with ``README.md`` (model card) and
``config.json`` to ``DIR/<entry name>/``, then uploaded with ``huggingface_hub.HfApi``
(``create_repo`` + ``upload_folder``; login with ``hf auth login`` or ``HF_TOKEN``). With
``--dry-run`` nothing is uploaded; ``DIR`` is then usable as ``VIDEOZOO_MIRROR``.
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from videozoo.commands import _common as t

    p = sub.add_parser("publish", help="convert zoo checkpoints and upload them to the Hub",
                       description=__doc__)
    p.add_argument("names", nargs="+", metavar="NAME", help="zoo entries or wildcards ('tsm_*')")
    p.add_argument("--out", required=True, type=t.output_dir, help="directory for the repository folders")
    p.add_argument("--dry-run", action="store_true", help="write the folders, upload nothing")
    p.add_argument("--org", default=None,
                   help="Hub organisation (default: $VIDEOZOO_HUB_ORG or 'videozoo')")
    p.add_argument("--checkpoints", default=None, type=t.existing_dir,
                   help="directory with the original MMAction2 files under their published names")
    p.add_argument("--private", action="store_true", help="create private repositories")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import videozoo  # noqa: F401  (registers the zoo)
    from videozoo._publish import publish

    try:
        done = publish(args.names, args.out, dry_run=args.dry_run, org=args.org,
                       checkpoints=args.checkpoints, private=args.private,
                       progress=not args.quiet)
    except (OSError, RuntimeError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for p in done:
        where = p.url if p.url else "dry run, not uploaded"
        print(f"{p.entry}: {p.folder} -> {p.repo_id} ({where})")
    return 0
