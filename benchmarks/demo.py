"""How long ``videozoo demo`` (the README's main job) takes, and what it costs over its compute floor.

Runs the default demo ``--repeats`` times, and, interleaved with it, a baseline measured in the
same run: the same two models taking the same number of optimiser steps on tensors already in
memory (no video files, decoding or augmentation) plus the same held-out forward passes. The
ratio demo / baseline is the demo's overhead over the pure model compute; the absolute wall time
is what a new user waits (the README states it). min / median / max over the repeats.

    python benchmarks/demo.py [--repeats 1] [--out FILE]

Writes JSON to ``--out`` (default ``~/.cache/videozoo/benchmarks/demo.json``, outside the checkout).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

import videozoo
from videozoo.demo import BACKBONES, DemoConfig, run_demo, share_weights


def _stats(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def demo_once(cfg: DemoConfig) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    results = run_demo(cfg, log=None)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "top1": {r.label: r.top1 for r in results}}


def floor_once(cfg: DemoConfig) -> dict:
    """The demo's model work alone: same models, steps, batch and frames; inputs in memory."""
    temporal, blind_arch, blind_kwargs = BACKBONES[cfg.backbone]
    torch.manual_seed(cfg.seed)
    wall, cpu = time.perf_counter(), time.process_time()
    tsm = videozoo.create_model(temporal, num_classes=2, dropout=cfg.dropout)
    tsn = videozoo.create_model(blind_arch, num_classes=2, dropout=cfg.dropout, **blind_kwargs)
    share_weights(tsm, tsn)
    steps = cfg.epochs * (cfg.num_train // cfg.batch_size)
    x = torch.randn(cfg.batch_size, 3, cfg.num_segments, cfg.size, cfg.size)
    y = torch.arange(cfg.batch_size) % 2
    for model in (tsm, tsn):
        model.train()
        opt = torch.optim.AdamW(videozoo.param_groups(model, cfg.lr, cfg.weight_decay), lr=cfg.lr)
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for _ in range(-(-cfg.num_test // cfg.batch_size)):
                model(x)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", default=str(Path.home() / ".cache" / "videozoo" / "benchmarks"
                                        / "demo.json"))
    args = p.parse_args()
    cfg = DemoConfig()
    demo, floor = [], []
    for i in range(args.repeats):  # interleaved: load that drifts hits both alike
        demo.append(demo_once(cfg))
        floor.append(floor_once(cfg))
        print(f"round {i + 1}: demo {demo[-1]['wall_s']:.0f} s wall ({demo[-1]['top1']}), "
              f"model floor {floor[-1]['wall_s']:.0f} s")
    ratios = [d["wall_s"] / f["wall_s"] for d, f in zip(demo, floor)]
    out = {
        "benchmark": "videozoo demo, default settings",
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "torch": torch.__version__,
                    "videozoo": videozoo.__version__},
        "config": {k: v for k, v in vars(cfg).items() if not k.startswith("_")},
        "demo_wall_s": _stats([d["wall_s"] for d in demo]),
        "demo_cpu_s": _stats([d["cpu_s"] for d in demo]),
        "floor_wall_s": _stats([f["wall_s"] for f in floor]),
        "ratio_demo_over_floor": _stats(ratios),
        "top1": [d["top1"] for d in demo],
        "loadavg_1min_at_end": os.getloadavg()[0],
    }
    w = out["demo_wall_s"]
    print(f"demo wall time: min {w['min']:.0f} s, median {w['median']:.0f} s, max {w['max']:.0f} s "
          f"over {args.repeats} run(s); demo / model floor = "
          f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
