"""``videozoo eval NAME --ann FILE --data-root DIR``: reproduce a zoo table row on your copy of the
test set, and compare.

``NAME`` is a zoo entry (its weights and test protocol) or an architecture (its usual protocol;
give ``--checkpoint``). Prints progress (videos/s, ETA) and ends with reported vs measured
metrics, the number of videos scored against the table's test-set size, and the protocol used.
``--out DIR`` keeps the per-video scores as they are computed and a ``results.json``; running the
same command again after a crash or Ctrl-C resumes. Several GPUs or machines:
``torchrun --nproc_per_node N -m videozoo.eval NAME ...`` (same arguments).

Exit status: 0 when the list was scored; 1 when nothing was scored, more videos failed than
``--max-failures`` allows (the report is still printed and written) or ``--strict`` met a
failure; 2 for a usage or configuration error (a bad argument, ``--set num_clips=0``, an unknown
decoder, a damaged output directory), found before any video is decoded.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

DEFAULT_MAX_FAILURES = "5%"
MAX_FAILURES_HELP = (
    "fail (exit 1) when more videos than this failed to decode: a count N or a percentage P%% "
    "of the list (default: %(default)s; the tables' own Kinetics-400 copy lacked about 1%% of "
    "the videos, so a few percent is the ordinary cost of an aging copy, while more usually "
    "means a wrong --data-root, decoder or list)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from videozoo.commands import _common as t

    p.add_argument("name", metavar="NAME", help="zoo entry or architecture")
    p.add_argument("--ann", required=True, type=t.existing_file,
                   help="annotation list ('path label' or frame folders)")
    p.add_argument("--data-root", default="", type=t.existing_dir,
                   help="directory the list's paths are relative to")
    p.add_argument("--checkpoint", default=None, type=t.existing_file,
                   help="local weights: MMAction2 .pth (0.x or 1.x) or videozoo .safetensors")
    p.add_argument("--protocol", default=None,
                   help="test protocol of the entry (e.g. 'efficient', 'accurate'); default its "
                        "first, the headline number's")
    p.add_argument("--average", choices=("prob", "score", "none"), default=None,
                   help="view averaging (default: the protocol's); 'none' = raw logits")
    p.add_argument("--out", default=None, type=t.output_dir,
                   help="directory for per-video scores (written as computed) and results.json")
    p.add_argument("--batch-size", type=t.positive_int, default=None, help="videos per batch")
    p.add_argument("--workers", type=t.non_negative_int, default=None,
                   help="decoding processes (0: decode in the main process)")
    p.add_argument("--device", type=t.device, default=None, help="default: cuda when available")
    amp = p.add_mutually_exclusive_group()
    amp.add_argument("--amp", dest="amp", action="store_true", default=None,
                     help="float16 autocast (default on GPU)")
    amp.add_argument("--no-amp", dest="amp", action="store_false")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first video that fails to decode")
    p.add_argument("--max-failures", type=t.failure_limit, default=DEFAULT_MAX_FAILURES,
                   metavar="N|P%", help=MAX_FAILURES_HELP)
    p.add_argument("--retry-failed", action="store_true",
                   help="when resuming, retry videos an earlier run listed as failed")
    p.add_argument("--limit", type=t.positive_int, default=None,
                   help="only the first N videos of the list")
    p.add_argument("--decode-timeout", type=t.non_negative_float, default=120.0,
                   help="seconds one video may take to decode before it counts as failed "
                        "(0: no limit)")
    p.add_argument("--decoder", default=None, type=t.decoder_name,
                   help="decoder name (default: the entry's: decord or rawframes)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   type=t.data_override,
                   help="override a data config field, e.g. --set crop_size=256 "
                        "--set resize=-1,320 (repeatable)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print results.json content at the end")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a zoo entry or checkpoint on a test list",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def parse_overrides(items: list[Any]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (or the pairs ``--set`` parsed) -> {field: value} (Python
    literals; ``a,b`` becomes a tuple). Unknown fields are a ValueError."""
    from videozoo.commands._common import data_override

    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, str):
            try:
                item = data_override(item)
            except argparse.ArgumentTypeError as e:
                raise ValueError(f"--set: {e}") from None
        key, value = item
        out[key] = value
    return out


def build_data_config(name: str, model: Any, protocol: Optional[str],
                      overrides: dict[str, Any], decoder: Optional[str]) -> Any:
    """The model's data config for ``protocol``, with ``--decoder`` and ``--set`` applied and
    checked (a setting that cannot work is a ValueError here, not a failure per video)."""
    from videozoo.data import DataConfig, resolve_data_config
    from videozoo.evaluation.options import check_data_config

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
    check_data_config(cfg)
    return cfg


def load_model(name: str, checkpoint: Optional[str]) -> tuple[Any, bool]:
    """(model, pretrained): the entry's weights, a local checkpoint, or random weights (with a
    warning)."""
    import videozoo

    _, entry = videozoo._registry.resolve(name)
    pretrained = checkpoint is None and entry is not None and entry.has_weights
    if checkpoint is None and not pretrained:
        print(f"warning: {name} has no weights to download and no --checkpoint was given; "
              "using random weights", file=sys.stderr)
    model = videozoo.create_model(name, pretrained=pretrained, checkpoint_path=checkpoint)
    return model, pretrained


def run(args: argparse.Namespace) -> int:
    import videozoo
    from videozoo.commands._common import (
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        FailureLimit,
        failure_limit,
    )
    from videozoo.evaluation.distributed import dist_info

    rank, _ = dist_info()
    overrides = parse_overrides(args.overrides)
    videozoo._registry.resolve(args.name)  # an unknown name: one line, before anything loads
    build_data_config(args.name, None, args.protocol, overrides, args.decoder)  # fail early
    model, pretrained = load_model(args.name, args.checkpoint)
    if args.checkpoint is None:
        model.pretrained_cfg["weights"] = "pretrained" if pretrained else "random"
    cfg = build_data_config(args.name, model, args.protocol, overrides, args.decoder)
    if args.average is not None:
        cfg = cfg.replace(average=None if args.average == "none" else args.average)
    dataset = videozoo.VideoDataset(args.ann, cfg, root=args.data_root, output="frames",
                                    on_error="return", num_classes=model.num_classes)
    if rank == 0:
        print(f"evaluating {args.name} on {len(dataset)} videos"
              f"{f' (first {args.limit})' if args.limit else ''} from {args.ann}",
              file=sys.stderr)
    try:
        result = videozoo.evaluate(
            model, dataset, cfg, device=args.device, batch_size=args.batch_size,
            num_workers=args.workers, amp=args.amp, out_dir=args.out, strict=args.strict,
            limit=args.limit, decode_timeout=args.decode_timeout or None,
            retry_failed=args.retry_failed, progress=not args.no_progress)
    except KeyboardInterrupt:
        if rank == 0:
            hint = (f"the scores so far are in {args.out}; rerun the same command to resume"
                    if args.out else "use --out DIR to keep the scores of an interrupted run")
            print(f"\ninterrupted: {hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as e:  # --strict, a stuck decoding worker: the work failed
        if getattr(args, "traceback", False):
            raise
        print(f"error{' (--strict)' if args.strict else ''}: {e}", file=sys.stderr)
        return EXIT_FAILED
    if rank == 0:
        result.model = args.name
        print(result.summary())
        if args.out:
            print(f"\nscores and results.json in {args.out}")
        if args.json:
            print(json.dumps(result.to_dict(), indent=2, default=str))
    limit = getattr(args, "max_failures", None)
    if not isinstance(limit, FailureLimit):  # a Namespace made without this parser
        limit = failure_limit(str(limit or DEFAULT_MAX_FAILURES))
    return failed_work_code(result, limit, rank)


def failed_work_code(result: Any, limit: Any, rank: int = 0) -> int:
    """0, or 1 with one line on stderr when nothing was scored or more videos than ``limit``
    failed."""
    from videozoo.commands._common import EXIT_FAILED, EXIT_OK

    message = None
    if result.num_scored == 0:
        message = (f"no video was scored: all {result.num_failed} of {result.num_videos} failed"
                   + (f" (first: {result.failures[0]['video']}: {result.failures[0]['error']})"
                      if result.failures else ""))
    elif limit.exceeded(result.num_failed, result.num_videos):
        message = (f"{result.num_failed} of {result.num_videos} videos failed "
                   f"({100 * result.failed_fraction:.1f}%), more than --max-failures {limit}; "
                   "the metrics above leave them out")
    if message is None:
        return EXIT_OK
    if rank == 0:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_FAILED


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m videozoo.eval`` / ``torchrun ... -m videozoo.eval``: joins the process group
    torchrun describes, evaluates this process's share, and leaves it."""
    from videozoo.commands._common import OneLineParser, call_command, debug_wanted
    from videozoo.evaluation.distributed import init_distributed_from_env

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_wanted(argv)
    parser = OneLineParser(prog="videozoo.eval", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traceback", action="store_true", help="show errors' tracebacks")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.traceback = debug
    cpu = args.device is not None and args.device.startswith("cpu")
    created = init_distributed_from_env("gloo" if cpu else None)
    try:
        return call_command(run, args, debug)
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()
