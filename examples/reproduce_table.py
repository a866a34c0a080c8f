#!/usr/bin/env python
"""Evaluate zoo entries on a test list and print the zoo table's numbers beside the measured ones.

Each entry is evaluated with ``videozoo.evaluate`` under the protocol its reported number used
(sampling, resize, crops, view averaging; ``--protocol`` picks another of its protocols), from
its zoo weights (downloaded once) or a local file (``--checkpoint NAME=PATH`` or
``--checkpoint-dir`` holding ``NAME.pth`` / ``NAME.safetensors``).

    python examples/reproduce_table.py 'tsm_r50_1x1x8_*kinetics400*' \\
        tsn_r50_1x1x3_100e_kinetics400_rgb --ann k400_val_list.txt --data-root k400/val \\
        --decoder decord --out k400_table.json
    torchrun --nproc_per_node 8 examples/reproduce_table.py <the same arguments>

A name may be a shell pattern over the zoo (``videozoo.list_pretrained``). All entries are
evaluated on the same list: pick entries of one dataset. Entries whose videos were stored as
frame folders read video files with ``--decoder decord``.

WITHOUT --ann it evaluates on a few synthetic videos, with RANDOM weights for every entry that has
no --checkpoint: the "measured" column then only shows the mechanics and is not comparable.
``--input-size 64`` replaces each protocol's resize and crops with one 64-pixel centre crop (quick
CPU runs; not the table's protocol either).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch.distributed as dist

import videozoo


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+", metavar="NAME", help="zoo entries or patterns")
    p.add_argument("--ann", default=None, help="test annotation list (none: synthetic videos)")
    p.add_argument("--data-root", default="", help="directory the list's paths start from")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="local weights of one entry (repeatable)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="directory of NAME.pth / NAME.safetensors files")
    p.add_argument("--protocol", default=None, help="test protocol name (default: the first)")
    p.add_argument("--decoder", default=None, help="decord | pyav | rawframes")
    p.add_argument("--input-size", type=int, default=None,
                   help="one centre crop of this size instead of the protocol's (quick runs)")
    p.add_argument("--limit", type=int, default=None, help="first N videos only")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=None, help="write every result as JSON here")
    return p.parse_args(argv)


def expand_names(patterns: list[str]) -> list[str]:
    names: list[str] = []
    for pattern in patterns:
        found = videozoo.list_pretrained(pattern) if any(c in pattern for c in "*?[") \
            else [pattern]
        if not found:
            raise SystemExit(f"no zoo entry matches {pattern!r}")
        names += [n for n in found if n not in names]
    return names


def find_checkpoint(name: str, args: argparse.Namespace) -> Optional[str]:
    for item in args.checkpoint:
        key, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--checkpoint expects NAME=PATH, got {item!r}")
        if fnmatch.fnmatchcase(name, key):
            return path
    if args.checkpoint_dir:
        for ext in (".safetensors", ".pth"):
            path = Path(args.checkpoint_dir) / f"{name}{ext}"
            if path.is_file():
                return str(path)
    return None


def evaluate_entry(name: str, args: argparse.Namespace, synthetic: bool) -> dict[str, Any]:
    info = videozoo.pretrained_info(name)
    checkpoint = find_checkpoint(name, args)
    pretrained = checkpoint is None and not synthetic
    weights = checkpoint or ("zoo weights" if pretrained else "RANDOM")
    model = videozoo.create_model(name, pretrained=pretrained, checkpoint_path=checkpoint)
    cfg = videozoo.resolve_data_config(model, args.protocol)
    if args.decoder:
        cfg = cfg.replace(decoder=args.decoder)
    if cfg.decoder == "rawframes" and synthetic:
        cfg = cfg.replace(decoder="decord", filename_tmpl=None, start_index=0)
    if args.input_size:
        cfg = cfg.replace(resize=(-1, args.input_size), crop="center",
                          crop_size=args.input_size)
    dataset = videozoo.VideoDataset(args.ann, cfg, root=args.data_root,
                                    num_classes=model.num_classes)
    result = videozoo.evaluate(model, dataset, device=args.device, batch_size=args.batch_size,
                               num_workers=args.workers, limit=args.limit)
    reported = {k: v for k, v in result.reported.items()}
    if not reported:  # another protocol than the reported one: show the entry's headline
        reported = dict(info.get("metrics") or {})
    return {"name": name, "dataset": info["dataset"], "protocol": cfg.protocol,
            "weights": weights, "reported": reported, "measured": result.metrics,
            "videos": result.num_scored, "failed": result.num_failed,
            "table_videos": result.expected_videos, "seconds": round(result.elapsed_s, 1)}


def format_table(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["name"]) for r in rows)
    lines = [f"{'model':<{width}}  {'protocol':<10} {'metric':<8} {'reported':>9} "
             f"{'measured':>9} {'diff':>7}  {'videos':>7}  weights"]
    for r in rows:
        keys = list(r["reported"]) + [k for k in r["measured"] if k not in r["reported"]]
        for i, k in enumerate(keys):
            rep, got = r["reported"].get(k), r["measured"].get(k)
            lines.append(
                f"{r['name'] if i == 0 else '':<{width}}  {r['protocol'] if i == 0 else '':<10} "
                f"{k:<8} {'-' if rep is None else f'{rep:.2f}':>9} "
                f"{'-' if got is None else f'{got:.2f}':>9} "
                f"{'' if rep is None or got is None else f'{got - rep:+.2f}':>7}  "
                f"{r['videos'] if i == 0 else '':>7}  {r['weights'] if i == 0 else ''}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from videozoo.evaluation.distributed import init_distributed_from_env

    created = init_distributed_from_env()
    rank = dist.get_rank() if dist.is_initialized() else 0
    names = expand_names(args.names)
    synthetic = args.ann is None
    tmp = None
    if synthetic:
        from videozoo.data.synthetic import make_synthetic_dataset

        tmp = tempfile.TemporaryDirectory(prefix="videozoo-table-")
        root = os.path.join(tmp.name, "videos")
        if rank == 0:
            make_synthetic_dataset(root, num_videos=4, num_classes=2, frames=24,
                                   size=(64, 80), ann_name="list.txt")
        if dist.is_initialized():  # every process needs the same files: share rank 0's path
            paths = [root]
            dist.broadcast_object_list(paths, src=0)
            root = paths[0]
        args.ann, args.data_root = os.path.join(root, "list.txt"), root
        if rank == 0:
            print("no --ann: 4 synthetic videos; entries without --checkpoint get RANDOM "
                  "weights, so the measured numbers are not comparable to the table")
    datasets = {videozoo.pretrained_info(n)["dataset"] for n in names}
    if len(datasets) > 1 and rank == 0:
        print(f"warning: the entries come from several datasets {sorted(datasets)} but are all "
              f"evaluated on {args.ann}", file=sys.stderr)

    rows = []
    for name in names:
        rows.append(evaluate_entry(name, args, synthetic))
        if rank == 0:
            print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[-1]["measured"].items())
                  + f" on {rows[-1]['videos']} videos", flush=True)
    if rank == 0:
        print()
        print(format_table(rows))
        if any(r["table_videos"] and r["videos"] != r["table_videos"] for r in rows):
            print("\n(fewer or more videos than the table's test set: differences include that)")
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=2))
            print(f"\nresults in {args.out}")
    if tmp is not None:
        if dist.is_initialized():
            dist.barrier()
        tmp.cleanup()
    if created:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
