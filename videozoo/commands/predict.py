"""``videozoo predict VIDEO --model NAME``: the top classes of one video, with the model's test
protocol (views averaged as its table row was measured)."""
from __future__ import annotations

import argparse
import sys
from typing import Optional


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify one video: top-k class names",
                       description=__doc__)
    p.add_argument("video", metavar="VIDEO", help="video file (or frame folder with --decoder "
                   "rawframes)")
    p.add_argument("--model", required=True, help="zoo entry or architecture")
    p.add_argument("--checkpoint", default=None, help="local .pth / .safetensors weights")
    p.add_argument("--labels", default=None,
                   help="label map file, one class name per line (default: the entry's)")
    p.add_argument("--protocol", default=None, help="test protocol of the entry")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("--decoder", default=None, help="decoder name (default: decord for files)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a data config field (see `videozoo eval --help`)")
    p.set_defaults(func=run)


def class_names(model_name: str, labels_file: Optional[str], num_classes: int
                ) -> tuple[list[str], str]:
    """Names from ``labels_file``, else the zoo entry's label map, else the class indices."""
    from videozoo.data.labels import label_names, read_label_map

    if labels_file:
        names = read_label_map(labels_file)
        source = labels_file
    else:
        try:
            names, source = label_names(model_name), "the zoo's label map"
        except Exception as e:  # unknown entry, no label map, offline...
            return [str(i) for i in range(num_classes)], f"class indices ({e})"
    if len(names) != num_classes:
        print(f"warning: {source} has {len(names)} names for {num_classes} classes",
              file=sys.stderr)
    names = names + [str(i) for i in range(len(names), num_classes)]
    return names, source


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    import videozoo
    from videozoo.commands.eval import build_data_config, parse_overrides
    from videozoo.data.pipeline import create_transform
    from videozoo.evaluation import VideoScorer
    from videozoo.evaluation.distributed import local_device

    try:
        arch, entry = videozoo._registry.resolve(args.model)
        overrides = parse_overrides(args.overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not os.path.exists(args.video):
        print(f"error: no such video: {args.video}", file=sys.stderr)
        return 2
    pretrained = args.checkpoint is None and entry is not None and entry.has_weights
    if args.checkpoint is None and not pretrained:
        print(f"warning: {args.model} has no weights and no --checkpoint was given; the "
              "prediction comes from random weights", file=sys.stderr)
    try:
        model = videozoo.create_model(args.model, pretrained=pretrained,
                                      checkpoint_path=args.checkpoint)
    except (videozoo.DownloadError, videozoo.CheckpointError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = build_data_config(args.model, model, args.protocol, overrides, args.decoder)
    if args.decoder is None and cfg.decoder == "rawframes" and os.path.isfile(args.video):
        cfg = cfg.replace(decoder="decord", filename_tmpl=None, start_index=0)  # a video file
    device = local_device(args.device)
    transform = create_transform(cfg, is_training=False)
    try:
        frames = transform.load(args.video)
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    scorer = VideoScorer(model, cfg, device, amp=False)
    scores = scorer(frames.unsqueeze(0))[0]
    probs = scores if cfg.average == "prob" else torch.softmax(scores.double(), -1).float()
    names, source = class_names(args.model, args.labels, scores.shape[0])
    k = min(args.topk, scores.shape[0])
    top = torch.argsort(scores, descending=True)[:k]
    print(f"{args.video}: {args.model}, {scorer.view_shape[0]} views, names from {source}")
    for rank, c in enumerate(top.tolist(), 1):
        print(f"{rank:>2}. {probs[c].item():7.2%}  {names[c]}  (class {c})")
    return 0
