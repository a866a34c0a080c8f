#!/usr/bin/env python
"""The GPU check: one script, under 8 minutes on one GPU, one JSON with every figure.

Steps (each bounded; a step that would overrun the budget is skipped and says so):

1. ``pytest -m gpu``: the tests that need CUDA (AMP, channels_last, GPU view-making).
2. ``videozoo.evaluate`` throughput (videos/s, decode included) for TSM-R50 8x1 and TSN-R50
   25x10 on synthetic 340x256 videos, beside the zoo tables' "inference time (video/s)". The
   tables timed the model alone, one video per batch, fp32, on one GPU of their day; so the
   same run also measures that (``model_fp32_batch1_videos_per_s``) for a like-for-like ratio.
3. Model-only throughput in bfloat16 (autocast, channels_last, a batch of views) with the
   achieved TFLOP/s: ``2 x videozoo.count_flops`` (the tables count a multiply-add as one FLOP;
   the hardware does two) x views per second.

Random weights everywhere (speed does not depend on them; the GPU machine has no network).
The JSON goes outside the checkout: ``--out``, else ``$VIDEOZOO_BENCHMARK_DIR/gpu_check.json``,
else ``<tmp>/videozoo-benchmarks/gpu_check.json``.

    python benchmarks/gpu_check.py               # on a GPU machine
    python benchmarks/gpu_check.py --dry-run     # anywhere, CPU included: tiny sizes, seconds
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 480.0  # 8 minutes
TSM = "tsm_r50_1x1x8_50e_kinetics400_rgb.340x256"  # table: 74 video/s, 8x1 frames
TSN = "tsn_r50_1x1x3_100e_kinetics400_rgb.340x256"  # table: 4.3 video/s, 25x10 frames


def default_out() -> Path:
    base = os.environ.get("VIDEOZOO_BENCHMARK_DIR")
    root = Path(base) if base else Path(tempfile.gettempdir()) / "videozoo-benchmarks"
    return root / "gpu_check.json"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Budget:
    """Seconds left of the whole check; steps ask before they start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.elapsed

    def run(self, name: str, needs_s: float, step: Callable[[], Any]) -> Any:
        if self.left < needs_s:
            print(f"[{name}] skipped: {self.left:.0f} s left of the budget, it needs ~{needs_s:.0f}")
            return {"skipped": f"budget: {self.left:.0f} s left, needs ~{needs_s:.0f} s"}
        t0 = time.perf_counter()
        try:
            out = step()
        except Exception as e:  # one failed step does not lose the others' figures
            print(f"[{name}] failed: {type(e).__name__}: {e}")
            out = {"error": f"{type(e).__name__}: {e}"}
        if isinstance(out, dict):
            out["step_s"] = round(time.perf_counter() - t0, 2)
        elif isinstance(out, list):
            out = {"rows": out, "step_s": round(time.perf_counter() - t0, 2)}
        return out


# --------------------------------------------------------------------------------------------
# 1. pytest -m gpu
# --------------------------------------------------------------------------------------------
def run_pytest(targets: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
           *targets]
    print(f"[pytest] {' '.join(cmd[1:])}")
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"command": cmd[1:], "error": f"timed out after {timeout:.0f} s"}
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    counts = {k: int(v) for v, k in re.findall(
        r"(\d+) (passed|failed|skipped|deselected|error|errors)", tail[0])}
    print(f"[pytest] exit {proc.returncode}: {tail[0]}")
    # 5: no test collected (none selected) is not a failure of the code
    return {"command": cmd[1:], "returncode": proc.returncode, "summary": tail[0],
            "counts": counts, "ok": proc.returncode in (0, 5),
            "output_tail": (proc.stdout + proc.stderr)[-3000:] if proc.returncode not in (0, 5)
            else ""}


# --------------------------------------------------------------------------------------------
# 2. evaluate throughput against the tables
# --------------------------------------------------------------------------------------------
def protocol(name: str, dry_run: bool) -> Any:
    import videozoo

    cfg = videozoo.resolve_data_config(name).replace(decoder="decord", filename_tmpl=None,
                                                     start_index=0)  # synthetic mp4 files
    if dry_run:
        cfg = cfg.replace(num_clips=2, num_segments=2 if cfg.num_segments else None,
                          resize=(-1, 32), crop_size=32)
    return cfg


def model_for(name: str, cfg: Any, device: torch.device) -> torch.nn.Module:
    import videozoo

    kwargs = {"num_segments": cfg.num_segments} if cfg.num_segments else {}
    return videozoo.create_model(name, pretrained=False, **kwargs).eval().to(device)


def model_batch1_fp32(model: torch.nn.Module, cfg: Any, device: torch.device, iters: int,
                      warmup: int) -> float:
    """The tables' protocol: one video's views per forward, fp32, model time only."""
    from videozoo.evaluation import VideoScorer

    m = cfg.num_clips * (2 if cfg.twice_sample else 1) * cfg.clip_len
    h, w = (32, 40) if cfg.crop_size <= 32 else (256, 340)
    frames = torch.randint(0, 256, (1, m, h, w, 3), dtype=torch.uint8)
    scorer = VideoScorer(model, cfg, device, amp=False, channels_last=False)
    with torch.inference_mode():
        views = scorer.views(frames).flatten(0, 1)
        for _ in range(warmup):
            model(views)
        _sync(device)
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            model(views)
            _sync(device)
            times.append(time.perf_counter() - t0)
    return 1.0 / float(np.median(times))


def evaluate_throughput(name: str, label: str, videos: Any, num_videos: int, batch_size: int,
                        workers: int, device: torch.device, dry_run: bool) -> dict[str, Any]:
    import videozoo

    entry = videozoo._registry.get_entry(name)
    cfg = protocol(name, dry_run)
    model = model_for(name, cfg, device)
    dataset = videozoo.VideoDataset(videos.ann_file, cfg, root=videos.root)
    amp = device.type == "cuda"
    opts = dict(device=device, batch_size=batch_size, num_workers=workers, amp=amp)
    videozoo.evaluate(model, dataset, limit=min(batch_size, num_videos), **opts)  # warm-up
    result = videozoo.evaluate(model, dataset, limit=num_videos, **opts)
    iters, warmup = (2, 1) if dry_run else (20, 5)
    batch1 = model_batch1_fp32(model, cfg, device, iters, warmup)
    table = entry.inference_time if entry is not None else None
    row = {
        "name": label, "entry": name, "device": str(device),
        "protocol": f"{cfg.num_clips} clips x {cfg.clip_len} frame, {cfg.crop} crop "
                    f"{cfg.crop_size}: {result.views_per_video} views of "
                    f"{result.frames_per_view} frames per video",
        "num_videos": result.num_scored, "failed": result.num_failed,
        "batch_size": batch_size, "workers": workers, "amp": amp,
        "evaluate_videos_per_s": result.videos_per_s,
        "model_fp32_batch1_videos_per_s": batch1,
        "table_videos_per_s": table,
        "table_setting": entry.inference_setting if entry is not None else None,
        "evaluate_over_table": result.videos_per_s / table if table else None,
        "model_batch1_over_table": batch1 / table if table else None,
    }
    print(f"[evaluate] {label}: evaluate {row['evaluate_videos_per_s']:.2f} video/s, model "
          f"alone (batch 1, fp32) {batch1:.2f} video/s; table {table} video/s"
          + (" (dry run: tiny sizes, not comparable)" if dry_run else ""))
    return row


# --------------------------------------------------------------------------------------------
# 3. model-only bf16 throughput and TFLOP/s
# --------------------------------------------------------------------------------------------
def model_throughput(arch: str, view: tuple[int, ...], batch: int, iters: int, warmup: int,
                     device: torch.device, num_segments: Optional[int]) -> dict[str, Any]:
    import videozoo
    from videozoo.evaluation.scorer import _channels_last_

    kwargs = {"num_segments": num_segments} if num_segments else {}
    model = videozoo.create_model(arch, **kwargs).eval()
    macs = int(videozoo.count_flops(model, view))  # the tables' FLOPs: multiply-adds
    model = model.to(device)
    if device.type == "cuda":
        _channels_last_(model)
    x = torch.randn(batch, *view, device=device)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
        for _ in range(warmup):
            model(x)
        _sync(device)
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            model(x)
            _sync(device)
            times.append(time.perf_counter() - t0)
    t = np.asarray(times)
    views_per_s = batch / float(np.median(t))
    row = {"arch": arch, "view": list(view), "batch_views": batch, "dtype": "bfloat16",
           "channels_last": device.type == "cuda", "iters": iters,
           "table_gflops_per_view": macs / 1e9,
           "ms_per_batch": {"min": 1e3 * float(t.min()), "median": 1e3 * float(np.median(t)),
                            "max": 1e3 * float(t.max())},
           "views_per_s": views_per_s,
           "achieved_tflops": 2 * macs * views_per_s / 1e12}
    print(f"[model] {arch} {tuple(view)} x{batch} bf16: {views_per_s:.1f} views/s, "
          f"{row['achieved_tflops']:.2f} TFLOP/s (2 x {macs / 1e9:.2f} G multiply-adds per "
          "view)")
    return row


# --------------------------------------------------------------------------------------------
def environment(device: torch.device) -> dict[str, Any]:
    import videozoo

    env: dict[str, Any] = {"videozoo": videozoo.__version__, "torch": torch.__version__,
                           "python": platform.python_version(), "cpus": os.cpu_count(),
                           "device": str(device), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true",
                   help="tiny sizes, runs on a CPU in seconds (checks the script, not the GPU)")
    p.add_argument("--out", default=None, help=f"JSON file (default: {default_out()})")
    p.add_argument("--device", default=None, help="default: cuda (the CPU with --dry-run)")
    p.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check")
    p.add_argument("--num-videos", type=int, default=None,
                   help="videos for TSM 8x1 (TSN 25x10 uses a quarter); default 64")
    p.add_argument("--workers", type=int, default=None, help="decode workers (default: cpus)")
    p.add_argument("--skip-pytest", action="store_true")
    p.add_argument("--pytest-timeout", type=float, default=180.0)
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from videozoo.data import make_synthetic_dataset

    if args.device:
        device = torch.device(args.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif args.dry_run:
        device = torch.device("cpu")
    else:
        print("error: no CUDA device here; run with --dry-run to check the script on the CPU",
              file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dry = args.dry_run
    budget = Budget(args.budget)
    report: dict[str, Any] = {"dry_run": dry, "budget_s": args.budget,
                              "environment": environment(device), "steps": {}}
    steps = report["steps"]

    if args.skip_pytest:
        steps["pytest"] = {"skipped": "--skip-pytest"}
    else:
        targets = ["tests/test_evaluate.py::test_gpu_amp_channels_last_matches_cpu"] if dry \
            else ["tests"]
        steps["pytest"] = budget.run("pytest", 30 if dry else 60,
                                     lambda: run_pytest(targets, min(args.pytest_timeout,
                                                                     max(budget.left - 60, 30))))

    n = args.num_videos or (2 if dry else 64)
    workers = args.workers if args.workers is not None else (0 if dry else
                                                             min(16, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="videozoo-gpu-check-") as tmp:
        frames, size = ((16, 16), (32, 40)) if dry else ((48, 48), (256, 340))
        t0 = time.perf_counter()
        videos = make_synthetic_dataset(tmp, num_videos=n, num_classes=4, frames=frames,
                                        size=size, seed=0)
        print(f"[data] {n} synthetic videos {size[1]}x{size[0]}, {frames[0]} frames "
              f"({time.perf_counter() - t0:.1f} s)")
        rows = []
        for name, label, nv, bs in ((TSM, "TSM-R50 8x1", n, 8 if not dry else 2),
                                    (TSN, "TSN-R50 25x10", max(n // 4, 1), 2 if not dry else 1)):
            rows.append(budget.run(f"evaluate {label}", 5 if dry else 60, lambda name=name,
                                   label=label, nv=nv, bs=bs: evaluate_throughput(
                                       name, label, videos, nv, bs, workers, device, dry)))
        steps["evaluate"] = rows

    size = 32 if dry else 224
    batch, iters, warmup = (2, 2, 1) if dry else (64, 30, 10)
    steps["model_bf16"] = [
        budget.run("model tsm_r50", 5 if dry else 30, lambda: model_throughput(
            "tsm_r50", (3, 8, size, size), batch, iters, warmup, device, 8)),
        budget.run("model tsn_r50", 5 if dry else 30, lambda: model_throughput(
            "tsn_r50", (3, 1, size, size), batch * 4, iters, warmup, device, None)),
    ]
    report["elapsed_s"] = round(budget.elapsed, 1)
    report["within_budget"] = budget.elapsed <= args.budget
    out = Path(args.out) if args.out else default_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"done in {budget.elapsed:.0f} s (budget {args.budget:.0f} s); saved {out}")
    failed = [k for k, v in steps.items()
              if (isinstance(v, dict) and ("error" in v or v.get("ok") is False))
              or (isinstance(v, list) and any(isinstance(r, dict) and "error" in r for r in v))]
    if failed:
        print(f"error: steps failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
