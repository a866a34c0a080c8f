"""End-to-end evaluation speed: ``videozoo.evaluate`` against a naive loop, and the tables'
"inference time (video/s)".

Modes (``--mode``):

* ``pipeline`` (default): videos/s of the whole path (decode -> resize -> views -> model ->
  averaged scores) for TSM-R50 on its K400 test protocol (8 segments x TenCrop 224 here, from the
  zoo entry), on synthetic mp4 videos, for

  - ``naive``: one video at a time, preprocessing on the CPU (the test transform), fp32, no
    DataLoader workers; and
  - ``evaluate``: ``videozoo.evaluate`` (decode workers, batched views on the device, autocast and
    channels_last on GPU),

  both measured in the same run on the same videos, and the largest difference between their
  scores as a check that they compute the same thing.
* ``inference-time``: the tables' protocol (MMAction2 READMEs: 1 GPU, batch size 1 video, model
  time only, no I/O or preprocessing): the views of one video are made once on the device, then
  the model forward on them is timed (synchronised), fp32.

Results are printed and merged into a JSON file outside the checkout (one key per mode and
device): ``--out``, else ``$VIDEOZOO_BENCHMARK_DIR/eval.json``, else
``<tmp>/videozoo-benchmarks/eval.json``.

    python benchmarks/eval.py                         # pipeline, CPU here: a few videos
    python benchmarks/eval.py --num-videos 64         # on a GPU machine
    python benchmarks/eval.py --mode inference-time   # the tables' video/s (run on a GPU)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import videozoo
from videozoo.data import create_transform, make_synthetic_dataset, resolve_data_config
from videozoo.evaluation import VideoScorer, average_views

PIPELINE_MODEL = "tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb"  # 8 seg x TenCrop
INFERENCE_MODEL = "tsm_r50_1x1x8_50e_kinetics400_rgb.340x256"  # table row with a video/s figure
RESULTS = Path(os.environ.get("VIDEOZOO_BENCHMARK_DIR")
               or Path(tempfile.gettempdir()) / "videozoo-benchmarks") / "eval.json"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(name: str, device: torch.device) -> torch.nn.Module:
    return videozoo.create_model(name, pretrained=False).eval().to(device)


def naive_loop(model: torch.nn.Module, cfg: Any, paths: list[str], device: torch.device
               ) -> tuple[np.ndarray, float]:
    """One video at a time: CPU decode + CPU preprocessing, fp32 forward, then the average."""
    transform = create_transform(cfg)  # CPU views
    rows = []
    _sync(device)
    t0 = time.perf_counter()
    for path in paths:
        views = transform(path)
        with torch.inference_mode():
            logits = model(views.to(device))
        rows.append(average_views(logits, 1, cfg.average)[0].cpu().numpy())
    _sync(device)
    return np.stack(rows), time.perf_counter() - t0


def pipeline(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    cfg = resolve_data_config(args.model)
    model = _model(args.model, device)
    with tempfile.TemporaryDirectory() as tmp:
        synth = make_synthetic_dataset(tmp, num_videos=args.num_videos, num_classes=4,
                                       frames=(args.frames, args.frames), size=(256, 340),
                                       seed=0)
        dataset = videozoo.VideoDataset(synth.ann_file, cfg, root=synth.root)
        paths = [dataset.video_path(i) for i in range(len(dataset))]
        # warm-up (lazy inits, cudnn autotuning) on one video, not timed
        naive_loop(model, cfg, paths[:1], device)
        naive_scores, naive_s = naive_loop(model, cfg, paths, device)
        result = videozoo.evaluate(model, dataset, device=device, batch_size=args.batch_size,
                                   num_workers=args.workers, amp=args.amp)
    diff = float(np.abs(result.table.scores - naive_scores).max())
    out = {
        "model": args.model, "device": str(device), "num_videos": len(paths),
        "frames_per_video": args.frames, "video_size": "340x256",
        "protocol": f"{cfg.num_clips} segments x {cfg.crop} crop {cfg.crop_size}, short side "
                    f"{cfg.resize[1]}, {result.views_per_video} views of "
                    f"{result.frames_per_view} frames, average {cfg.average}",
        "naive_videos_per_s": len(paths) / naive_s,
        "evaluate_videos_per_s": result.videos_per_s,
        "speedup": result.videos_per_s / (len(paths) / naive_s),
        "evaluate_settings": {"batch_size": args.batch_size, "workers": args.workers,
                              "amp": args.amp if args.amp is not None
                              else device.type == "cuda"},
        "max_abs_score_diff": diff,
    }
    print(f"{args.model} on {device}, {len(paths)} synthetic videos ({out['protocol']})")
    print(f"  naive loop (1 video, CPU preprocessing, fp32): {out['naive_videos_per_s']:.3f} "
          "videos/s")
    print(f"  videozoo.evaluate:                            {out['evaluate_videos_per_s']:.3f} "
          f"videos/s  ({out['speedup']:.2f}x)")
    print(f"  largest score difference: {diff:.2e}")
    return out


def inference_time(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    name = args.model
    entry = videozoo._registry.get_entry(name)
    cfg = resolve_data_config(name)
    model = _model(name, device)
    synth_frames = torch.randint(0, 256, (cfg.num_clips * (2 if cfg.twice_sample else 1)
                                          * cfg.clip_len, 256, 340, 3), dtype=torch.uint8)
    scorer = VideoScorer(model, cfg, device, amp=False, channels_last=False)
    with torch.inference_mode():
        views = scorer.views(synth_frames.unsqueeze(0)).flatten(0, 1)  # one video's views
        for _ in range(args.warmup):
            model(views)
        _sync(device)
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            model(views)
            _sync(device)
            times.append(time.perf_counter() - t0)
    mean = float(np.mean(times))
    out = {"model": name, "device": str(device),
           "views": list(views.shape), "iters": args.iters,
           "measured_videos_per_s": 1.0 / mean, "ms_per_video": 1000 * mean,
           "ms_per_video_median": 1000 * float(np.median(times)),
           "reported_videos_per_s": entry.inference_time if entry else None}
    print(f"{name} on {device}: views {tuple(views.shape)}, batch 1 video, model time only")
    print(f"  measured {out['measured_videos_per_s']:.2f} video/s ({out['ms_per_video']:.1f} ms)"
          f"; table: {out['reported_videos_per_s']} video/s")
    if device.type != "cuda":
        print("  (the table's figure is for one GPU; this is not comparable)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("pipeline", "inference-time"), default="pipeline")
    p.add_argument("--model", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--num-videos", type=int, default=None,
                   help="default 4 on CPU, 64 on GPU")
    p.add_argument("--frames", type=int, default=64, help="frames per synthetic video")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.mode == "pipeline":
        args.model = args.model or PIPELINE_MODEL
        args.num_videos = args.num_videos or (64 if device.type == "cuda" else 4)
        args.batch_size = args.batch_size or (8 if device.type == "cuda" else 2)
        args.workers = args.workers if args.workers is not None else min(8, os.cpu_count() or 1)
        result = pipeline(args, device)
    else:
        args.model = args.model or INFERENCE_MODEL
        if device.type != "cuda":
            args.iters, args.warmup = min(args.iters, 5), min(args.warmup, 1)
        result = inference_time(args, device)
    result["environment"] = {
        "torch": torch.__version__, "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(out.read_text()) if out.exists() else {}
    saved[f"{args.mode}/{device.type}"] = result
    out.write_text(json.dumps(saved, indent=2) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
