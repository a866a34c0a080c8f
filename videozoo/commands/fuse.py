"""``videozoo fuse A B [--weights 1 1]``: combine score dumps (RGB + flow) as the two-stream rows do.

MMAction2's TSN two-stream numbers add the RGB and flow scores 1:1 *before* softmax (0.x
``tools/analysis/report_accuracy.py``); the dumps to fuse are ``videozoo eval --out`` directories
(or their ``scores.npz``) evaluated with ``--average none`` (raw logits), as those rows were.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from videozoo.commands import _common as t

    p = sub.add_parser("fuse", help="fuse score dumps (two-stream RGB + flow) and report metrics",
                       description=__doc__)
    p.add_argument("dumps", nargs="+", metavar="DUMP", type=t.existing_path,
                   help="`videozoo eval --out` directories or their scores.npz files (two or more)")
    p.add_argument("--weights", nargs="+", type=t.finite_float, default=None,
                   help="one coefficient per dump (default: all 1, i.e. 1:1)")
    p.add_argument("--softmax", action="store_true",
                   help="softmax each dump before the weighted sum (default: raw scores, as the "
                        "two-stream rows)")
    p.add_argument("--topk", nargs="+", type=t.positive_int, default=[1, 5])
    p.add_argument("--out", default=None, type=t.output_dir,
                   help="directory for the fused scores.npz and fuse.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videozoo.evaluation.metrics import compute_metrics
    from videozoo.evaluation.scores import fuse_tables, load_scores, save_scores

    if len(args.dumps) < 2:
        print("error: fuse needs at least two score dumps", file=sys.stderr)
        return 2
    tables, infos = [], []
    for path in args.dumps:
        table, info = load_scores(path)  # a ValueError / OSError is one line in cli.main
        if not len(table):
            print(f"error: {path} holds no scored video", file=sys.stderr)
            return 1
        tables.append(table)
        infos.append(info)
        if info.get("average") == "prob" and not args.softmax:
            print(f"note: {path} holds probabilities (average 'prob'); MMAction2's two-stream "
                  "rows fuse raw logits (evaluate with --average none)", file=sys.stderr)
    fused, info = fuse_tables(tables, args.weights, apply_softmax=args.softmax)

    def metrics_of(table):
        labels = table.multi_hot() if table.is_multi_label else table.single_labels()
        return compute_metrics(table.scores, labels, args.topk)

    rows = [(str(p), metrics_of(t), len(t)) for p, t in zip(args.dumps, tables)]
    weights = ":".join(f"{w:g}" for w in info["weights"])
    rows.append((f"fused [{weights}]", metrics_of(fused), len(fused)))
    keys = list(rows[-1][1])
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  " + "  ".join(f"{k:>10}" for k in keys) + "    videos")
    for name, m, n in rows:
        print(f"{name:{width}}  " + "  ".join(f"{m.get(k, float('nan')):10.2f}" for k in keys)
              + f"  {n:8d}")
    if info["left_out"]:
        print(f"{len(info['left_out'])} videos are not in every dump and were left out: "
              f"{info['left_out'][:10]}{' ...' if len(info['left_out']) > 10 else ''}")

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save_scores(out / "scores.npz", fused, average="fused")
        report = {"inputs": [str(p) for p in args.dumps], **info,
                  "metrics": rows[-1][1], "input_metrics": {r[0]: r[1] for r in rows[:-1]}}
        (out / "fuse.json").write_text(json.dumps(report, indent=2))
        print(f"saved {out / 'scores.npz'} and {out / 'fuse.json'}")
    return 0
