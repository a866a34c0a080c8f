"""``videozoo predict VIDEO --model NAME``: the top classes of one video, with the model's test
protocol (views averaged as its table row was measured)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Optional


def register(sub: argparse._SubParsersAction) -> None:
    from videozoo.commands import _common as t

    p = sub.add_parser("predict", help="classify one video: top-k class names",
                       description=__doc__)
    p.add_argument("video", metavar="VIDEO", type=t.existing_path,
                   help="video file (or frame folder with --decoder rawframes)")
    p.add_argument("--model", required=True, help="zoo entry or architecture")
    p.add_argument("--checkpoint", default=None, type=t.existing_file,
                   help="local .pth / .safetensors weights")
    p.add_argument("--labels", default=None, type=t.existing_file,
                   help="label map file, one class name per line (default: the entry's)")
    p.add_argument("--protocol", default=None, help="test protocol of the entry")
    p.add_argument("--topk", type=t.positive_int, default=5)
    p.add_argument("--device", type=t.device, default=None)
    p.add_argument("--decoder", default=None, type=t.decoder_name,
                   help="decoder name (default: decord for files)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   type=t.data_override,
                   help="override a data config field (see `videozoo eval --help`)")
    p.set_defaults(func=run)


def _builtin_names(model: Any) -> Optional[list[str]]:
    """The class names shipped with videozoo for the model's dataset, when there are some."""
    try:
        from videozoo.data.labels import builtin_label_names  # type: ignore[attr-defined]
    except ImportError:
        return None
    dataset = (getattr(model, "pretrained_cfg", None) or {}).get("dataset")
    if not dataset:
        return None
    try:
        names = builtin_label_names(dataset)
    except (KeyError, ValueError, OSError):
        return None
    return list(names) if names else None


def class_names(model_name: str, labels_file: Optional[str], num_classes: int,
                model: Any = None) -> tuple[list[str], str]:
    """Names from ``labels_file`` (its count must match), else the ones videozoo ships for the
    model's dataset, else the zoo entry's label map, else ``class N``."""
    from videozoo.data.labels import label_names, read_label_map

    if labels_file:
        names = read_label_map(labels_file)
        if len(names) != num_classes:
            raise ValueError(f"{labels_file} has {len(names)} class names but the model has "
                             f"{num_classes} classes")
        return names, labels_file
    names = _builtin_names(model) if model is not None else None
    source = "videozoo's label names"
    if names is None:
        try:
            names, source = label_names(model_name), "the zoo's label map"
        except Exception as e:  # an architecture, no label map, offline...
            return [f"class {i}" for i in range(num_classes)], f"class indices ({e})"
    if len(names) != num_classes:
        print(f"warning: {source} has {len(names)} names for {num_classes} classes",
              file=sys.stderr)
    names = names[:num_classes] + [f"class {i}" for i in range(len(names), num_classes)]
    return names, source


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    import videozoo
    from videozoo.commands._common import EXIT_FAILED, one_line
    from videozoo.commands.eval import build_data_config, load_model, parse_overrides
    from videozoo.data.pipeline import create_transform
    from videozoo.evaluation import VideoScorer
    from videozoo.evaluation.distributed import local_device
    from videozoo.evaluation.views import as_probabilities

    overrides = parse_overrides(args.overrides)
    videozoo._registry.resolve(args.model)  # an unknown name: one line, before anything loads
    build_data_config(args.model, None, args.protocol, overrides, args.decoder)  # fail early
    model, _ = load_model(args.model, args.checkpoint)
    cfg = build_data_config(args.model, model, args.protocol, overrides, args.decoder)
    if args.decoder is None and cfg.decoder == "rawframes" and os.path.isfile(args.video):
        cfg = cfg.replace(decoder="decord", filename_tmpl=None, start_index=0)  # a video file
    names, source = class_names(args.model, args.labels, model.num_classes, model)
    device = local_device(args.device)
    try:
        frames = create_transform(cfg, is_training=False).load(args.video)
    except Exception as e:  # whatever the decoder says about this video: the work failed
        if getattr(args, "traceback", False):
            raise
        print(f"error: {args.video}: {one_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    scorer = VideoScorer(model, cfg, device, amp=False)
    scores = scorer(frames.unsqueeze(0))[0]
    if not torch.isfinite(scores).all():
        print(f"error: {args.model} gives non-finite scores (NaN/Inf) for {args.video}: its "
              "weights are broken", file=sys.stderr)
        return EXIT_FAILED
    probs = as_probabilities(scores, cfg.average)
    k = min(args.topk, scores.shape[0])
    top = torch.argsort(scores, descending=True)[:k]
    print(f"{args.video}: {args.model}, {scorer.view_shape[0]} views, names from {source}")
    for rank, c in enumerate(top.tolist(), 1):
        print(f"{rank:>2}. {probs[c].item():7.2%}  {names[c]}  (class {c})")
    return 0
