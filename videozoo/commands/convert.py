"""``videozoo convert SRC [DST] [--arch NAME]``: an MMAction2 ``.pth`` to a videozoo ``.safetensors``.

The file is read without running pickled code, mapped onto the architecture's keys, loaded
strictly (a missed key fails here) and saved as ``model.state_dict()`` with metadata: ``arch``,
``num_classes``, ``entry``, ``source_file`` and ``source_sha256``. ``--arch`` takes an architecture
(``tsm_r50``) or a zoo entry (which also sets options such as ``num_segments``). Without it, a file
named as the zoo publishes it gets its entry; any other file (a lab's own training run) is built
from the MMAction2 config its run saved in it (1.x ``meta['cfg']``, 0.x ``meta['config']``):
architecture, class count, segments and test pipeline (recorded as ``data_config``).
DST defaults to SRC with the suffix ``.safetensors``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert an MMAction2 checkpoint to safetensors",
                       description=__doc__)
    p.add_argument("src", help="MMAction2 checkpoint (.pth, 0.x or 1.x)")
    p.add_argument("dst", nargs="?", default=None,
                   help="output .safetensors file (default: SRC with the suffix .safetensors)")
    p.add_argument("--arch", default=None,
                   help="architecture or zoo entry (default: the zoo entry publishing SRC's name, "
                        "else the config saved in SRC)")
    p.add_argument("--entry", default=None, help="zoo entry to record, when --arch is an architecture")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videozoo._checkpoint import CheckpointError
    from videozoo._convert import convert_checkpoint, safetensors_metadata
    from videozoo._mmaction_config import ConfigError

    dst = args.dst or str(Path(args.src).with_suffix(".safetensors"))
    if not dst.endswith(".safetensors"):
        print(f"error: the output should end with .safetensors, got {dst}", file=sys.stderr)
        return 2
    if Path(dst).resolve() == Path(args.src).resolve():
        print(f"error: {args.src} is already a .safetensors file; give another DST", file=sys.stderr)
        return 2
    try:
        out = convert_checkpoint(args.src, dst, args.arch, entry=args.entry)
    except (CheckpointError, ConfigError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    meta = safetensors_metadata(out)
    entry = f", entry {meta['entry']}" if meta.get("entry") else ""
    print(f"wrote {out}: {meta['arch']}, {meta['num_classes']} classes{entry}, "
          f"from {meta['source_file']} (sha256 {meta['source_sha256'][:8]})")
    if meta.get("data_config"):
        d = json.loads(meta["data_config"])
        segments = f", {d['num_segments']} segments per view" if d.get("num_segments") else ""
        print(f"  from its saved config {meta.get('config_source', '')}: test {d['num_clips']} clips "
              f"x {d['crop']} crop {d['crop_size']}{segments}, average {d['average']!r}")
    return 0
