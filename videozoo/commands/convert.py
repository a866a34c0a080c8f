"""``videozoo convert SRC DST [--arch NAME]``: an MMAction2 ``.pth`` to a videozoo ``.safetensors``.

The file is read without running pickled code, mapped onto the architecture's keys, loaded
strictly (a missed key fails here) and saved as ``model.state_dict()`` with metadata: ``arch``,
``num_classes``, ``entry``, ``source_file`` and ``source_sha256``. ``--arch`` takes an architecture
(``tsm_r50``) or a zoo entry (which also sets options such as ``num_segments``); it can be left out
for a file named as the zoo publishes it.
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert an MMAction2 checkpoint to safetensors",
                       description=__doc__)
    p.add_argument("src", help="MMAction2 checkpoint (.pth, 0.x or 1.x)")
    p.add_argument("dst", help="output .safetensors file")
    p.add_argument("--arch", default=None,
                   help="architecture or zoo entry (default: the entry that publishes SRC's name)")
    p.add_argument("--entry", default=None, help="zoo entry to record, when --arch is an architecture")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videozoo._checkpoint import CheckpointError
    from videozoo._convert import convert_checkpoint, safetensors_metadata

    if not args.dst.endswith(".safetensors"):
        print(f"error: the output should end with .safetensors, got {args.dst}", file=sys.stderr)
        return 2
    try:
        dst = convert_checkpoint(args.src, args.dst, args.arch, entry=args.entry)
    except (CheckpointError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    meta = safetensors_metadata(dst)
    entry = f", entry {meta['entry']}" if meta.get("entry") else ""
    print(f"wrote {dst}: {meta['arch']}, {meta['num_classes']} classes{entry}, "
          f"from {meta['source_file']} (sha256 {meta['source_sha256'][:8]})")
    return 0
