"""``videozoo eval NAME --ann FILE --data-root DIR``: reproduce a zoo table row on your copy of the
test set, and compare.

``NAME`` is a zoo entry (its weights and test protocol) or an architecture (its usual protocol;
give ``--checkpoint``). Prints progress (videos/s, ETA) and ends with reported vs measured
metrics, the number of videos scored against the table's test-set size, and the protocol used.
``--out DIR`` keeps the per-video scores as they are computed and a ``results.json``; running the
same command again after a crash or Ctrl-C resumes. Several GPUs or machines:
``torchrun --nproc_per_node N -m videozoo.eval NAME ...`` (same arguments).
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Any, Optional


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="zoo entry or architecture")
    p.add_argument("--ann", required=True, help="annotation list ('path label' or frame folders)")
    p.add_argument("--data-root", default="", help="directory the list's paths are relative to")
    p.add_argument("--checkpoint", default=None,
                   help="local weights: MMAction2 .pth (0.x or 1.x) or videozoo .safetensors")
    p.add_argument("--protocol", default=None,
                   help="test protocol of the entry (e.g. 'efficient', 'accurate'); default its "
                        "first, the headline number's")
    p.add_argument("--average", choices=("prob", "score", "none"), default=None,
                   help="view averaging (default: the protocol's); 'none' = raw logits")
    p.add_argument("--out", default=None,
                   help="directory for per-video scores (written as computed) and results.json")
    p.add_argument("--batch-size", type=int, default=None, help="videos per batch")
    p.add_argument("--workers", type=int, default=None, help="decoding processes")
    p.add_argument("--device", default=None, help="default: cuda when available")
    amp = p.add_mutually_exclusive_group()
    amp.add_argument("--amp", dest="amp", action="store_true", default=None,
                     help="float16 autocast (default on GPU)")
    amp.add_argument("--no-amp", dest="amp", action="store_false")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first video that fails to decode")
    p.add_argument("--retry-failed", action="store_true",
                   help="when resuming, retry videos an earlier run listed as failed")
    p.add_argument("--limit", type=int, default=None, help="only the first N videos of the list")
    p.add_argument("--decode-timeout", type=float, default=120.0,
                   help="seconds one video may take to decode before it counts as failed")
    p.add_argument("--decoder", default=None,
                   help="decoder name (default: the entry's: decord or rawframes)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a data config field, e.g. --set crop_size=256 "
                        "--set resize=-1,320 (repeatable)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print results.json content at the end")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a zoo entry or checkpoint on a test list",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> values (Python literals; ``a,b`` becomes a tuple)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(text if "," not in text or text.startswith(("(", "["))
                                     else f"({text})")
        except (ValueError, SyntaxError):
            value = None if text.lower() == "none" else text
        if isinstance(value, list):
            value = tuple(value)
        out[key.strip()] = value
    return out


def build_data_config(name: str, model: Any, protocol: Optional[str],
                      overrides: dict[str, Any], decoder: Optional[str]) -> Any:
    from videozoo.data import DataConfig, resolve_data_config

    cfg = resolve_data_config(model if getattr(model, "pretrained_cfg", None) else name, protocol)
    if decoder:
        overrides = {"decoder": decoder, **overrides}
        if decoder != "rawframes":  # video files: no frame-file template, 0-based frames
            overrides = {"filename_tmpl": None, "start_index": 0, **overrides}
    if overrides:
        known = {f for f in DataConfig.__dataclass_fields__}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"unknown data config field(s) {bad}; known: {sorted(known)}")
        cfg = cfg.replace(**overrides)
    return cfg


def run(args: argparse.Namespace) -> int:
    import videozoo
    from videozoo.evaluation.distributed import dist_info

    rank, _ = dist_info()
    try:
        overrides = parse_overrides(args.overrides)
        arch, entry = videozoo._registry.resolve(args.name)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.checkpoint is None and (entry is None or not entry.has_weights):
        print(f"warning: {args.name} has no weights to download and no --checkpoint was given; "
              "evaluating random weights", file=sys.stderr)
    pretrained = args.checkpoint is None and entry is not None and entry.has_weights
    try:
        model = videozoo.create_model(args.name, pretrained=pretrained,
                                      checkpoint_path=args.checkpoint)
    except (videozoo.DownloadError, videozoo.CheckpointError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.checkpoint is None:
        model.pretrained_cfg["weights"] = "pretrained" if pretrained else "random"
    try:
        cfg = build_data_config(args.name, model, args.protocol, overrides, args.decoder)
        if args.average is not None:
            cfg = cfg.replace(average=None if args.average == "none" else args.average)
        dataset = videozoo.VideoDataset(args.ann, cfg, root=args.data_root, output="frames",
                                        on_error="return", num_classes=model.num_classes)
    except (ValueError, KeyError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if rank == 0:
        print(f"evaluating {args.name} on {len(dataset)} videos"
              f"{f' (first {args.limit})' if args.limit else ''} from {args.ann}",
              file=sys.stderr)
    try:
        result = videozoo.evaluate(
            model, dataset, cfg, device=args.device, batch_size=args.batch_size,
            num_workers=args.workers, amp=args.amp, out_dir=args.out, strict=args.strict,
            limit=args.limit, decode_timeout=args.decode_timeout,
            retry_failed=args.retry_failed, progress=not args.no_progress)
    except KeyboardInterrupt:
        if rank == 0:
            hint = (f"the scores so far are in {args.out}; rerun the same command to resume"
                    if args.out else "use --out DIR to keep the scores of an interrupted run")
            print(f"\ninterrupted: {hint}", file=sys.stderr)
        return 130
    except RuntimeError as e:
        if args.strict and "failed" in str(e):
            print(f"error (--strict): {e}", file=sys.stderr)
            return 1
        raise
    if rank == 0:
        result.model = args.name
        print(result.summary())
        if args.out:
            print(f"\nscores and results.json in {args.out}")
        if args.json:
            print(json.dumps(result.to_dict(), indent=2, default=str))
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m videozoo.eval`` / ``torchrun ... -m videozoo.eval``: joins the process group
    torchrun describes, evaluates this process's share, and leaves it."""
    from videozoo.evaluation.distributed import init_distributed_from_env

    parser = argparse.ArgumentParser(prog="videozoo.eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    cpu = args.device is not None and args.device.startswith("cpu")
    created = init_distributed_from_env("gloo" if cpu else None)
    try:
        return run(args)
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()
