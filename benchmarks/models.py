"""CPU forward time per architecture, and the cost of TSM's temporal shift.

For every registered architecture: median forward time of one view (B=1, T=8 frames at 224x224,
``torch.no_grad``, eval mode). For every model that contains ``TemporalShift`` modules, the same
model with the shifts removed (each ``TemporalShift`` replaced by the module it wraps: identical
weights, identical B*T frames, no shift) is timed in the same run, interleaved run by run with the
shifted one, and the ratio shifted / plain is reported (median of the paired ratios, so load that
drifts during the run cancels out).

Also times ``temporal_shift`` itself on layer-1/layer-4 sized feature maps against the two ways
of writing it that MMAction2 and a naive port use (``torch.cat`` of zero-padded slices, and a
zero-filled buffer with slice copies).

    python benchmarks/models.py [--repeats 7] [--size 224] [--frames 8] [--archs tsm_r50,tsn_r50]

Times are process CPU seconds with one torch thread by default (stable on a shared machine; wall
seconds are recorded too). Writes ``benchmarks/results/models.json``. Absolute times are
machine-dependent; compare ratios.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import videozoo
from videozoo.models import layers
from videozoo.models.layers import TemporalShift, temporal_shift

HERE = Path(__file__).resolve().parent


def strip_shifts(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``TemporalShift`` replaced by the module it wraps."""
    plain = copy.deepcopy(model)
    for module in list(plain.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, TemporalShift):
                setattr(module, child_name, child.net)
    assert not any(isinstance(m, TemporalShift) for m in plain.modules())
    return plain


def time_once(fn, *args) -> float:
    """Process CPU seconds of one call: with one torch thread this is the call's own compute,
    insensitive to other processes competing for the cores (wall time is reported too)."""
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def shift_cpu_seconds(model: nn.Module, x: torch.Tensor) -> float:
    """CPU seconds spent inside ``temporal_shift`` during one forward (the shift's own cost,
    measured directly: a noise-free complement to the shifted/plain ratio)."""
    spent = [0.0]
    original = layers.temporal_shift

    def timed(*args, **kwargs):
        start = time.process_time()
        out = original(*args, **kwargs)
        spent[0] += time.process_time() - start
        return out

    layers.temporal_shift = timed  # TemporalShift.forward looks the function up at call time
    try:
        model(x)
    finally:
        layers.temporal_shift = original
    return spent[0]


def bench_arch(arch: str, frames: int, size: int, repeats: int) -> dict:
    model = videozoo.create_model(arch).eval()
    x = torch.randn(1, model.in_chans, frames, size, size)
    has_shift = any(isinstance(m, TemporalShift) for m in model.modules())
    plain = strip_shifts(model) if has_shift else None
    with torch.no_grad():
        model(x)  # warm-up (allocator, oneDNN primitive caches)
        if plain is not None:
            plain(x)
        times, plain_times, walls = [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            times.append(time_once(model, x))
            walls.append(time.perf_counter() - start)
            if plain is not None:
                plain_times.append(time_once(plain, x))
    row = {"arch": arch, "input": list(x.shape), "median_s": statistics.median(times),
           "median_wall_s": statistics.median(walls), "times_s": times}
    if plain is not None:
        ratios = [a / b for a, b in zip(times, plain_times)]
        with torch.no_grad():
            shift_s = statistics.median(shift_cpu_seconds(model, x) for _ in range(3))
        row.update(plain_median_s=statistics.median(plain_times), plain_times_s=plain_times,
                   shift_ratio=statistics.median(ratios), shift_cpu_s=shift_s,
                   shift_share=shift_s / row["median_s"])
    return row


# -- temporal_shift alone ---------------------------------------------------------------------
def shift_cat(x: torch.Tensor, t: int, div: int) -> torch.Tensor:
    """MMAction2's formulation: slices, zero padding made from ``x - x``, ``torch.cat``."""
    n, c, h, w = x.shape
    x = x.view(-1, t, c, h * w)
    fold = c // div
    left, mid, right = x[:, :, :fold], x[:, :, fold:2 * fold], x[:, :, 2 * fold:]
    left = torch.cat((left[:, 1:], (left - left)[:, :1]), 1)
    mid = torch.cat(((mid - mid)[:, :1], mid[:, :-1]), 1)
    return torch.cat((left, mid, right), 2).view(n, c, h, w)


def shift_zeros(x: torch.Tensor, t: int, div: int) -> torch.Tensor:
    """Zero-filled output buffer, then slice copies (two full passes over the output)."""
    n, c, h, w = x.shape
    x = x.view(n // t, t, c, h * w)
    fold = c // div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(n, c, h, w)


def bench_shift(repeats: int) -> list[dict]:
    rows = []
    for shape in [(8, 256, 56, 56), (8, 1024, 14, 14), (8, 2048, 7, 7)]:
        x = torch.randn(shape)
        ref = shift_cat(x, 8, 8)
        impls = {"videozoo": temporal_shift, "cat (MMAction2)": shift_cat,
                 "zeros+copy": shift_zeros}
        for fn in impls.values():
            assert torch.equal(fn(x, 8, 8), ref)
        per = {name: [] for name in impls}
        for _ in range(repeats * 10):
            for name, fn in impls.items():
                per[name].append(time_once(fn, x, 8, 8))
        med = {name: statistics.median(v) for name, v in per.items()}
        rows.append({"shape": list(shape), "median_ms": {k: v * 1e3 for k, v in med.items()},
                     "vs_videozoo": {k: v / med["videozoo"] for k, v in med.items()}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--archs", default="", help="comma-separated; default: every architecture")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: CPU-time figures stay stable on a shared "
                         "machine; 0 keeps torch's default)")
    ap.add_argument("--out", default=str(HERE / "results" / "models.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    archs = [a for a in args.archs.split(",") if a] or videozoo.list_architectures()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus")
    print("median CPU seconds per forward of one view (B=1, "
          f"T={args.frames}, {args.size}x{args.size}); wall seconds in brackets")
    print("ratio = shifted / no-shift (paired runs); shift % = CPU time inside temporal_shift")
    print(f"{'architecture':32s} {'cpu s':>7s} {'(wall s)':>9s} {'no-shift s':>10s} "
          f"{'ratio':>6s} {'shift %':>7s}")
    rows = []
    for arch in archs:
        row = bench_arch(arch, args.frames, args.size, args.repeats)
        rows.append(row)
        plain = f"{row['plain_median_s']:10.3f}" if "shift_ratio" in row else f"{'-':>10s}"
        ratio = f"{row['shift_ratio']:6.3f}" if "shift_ratio" in row else f"{'-':>6s}"
        share = f"{100 * row['shift_share']:7.2f}" if "shift_share" in row else f"{'-':>7s}"
        wall = f"({row['median_wall_s']:.3f})"
        print(f"{arch:32s} {row['median_s']:7.3f} {wall:>9s} {plain} {ratio} {share}",
              flush=True)

    print("\ntemporal_shift alone (T=8, shift_div=8), median CPU ms; ratio to videozoo's")
    shift_rows = bench_shift(args.repeats)
    for r in shift_rows:
        cells = ", ".join(f"{k} {v:.2f} ({r['vs_videozoo'][k]:.2f}x)"
                          for k, v in r["median_ms"].items())
        print(f"  {tuple(r['shape'])}: {cells}")

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "cpu_count": os.cpu_count(), "machine": platform.machine(),
           "settings": {"repeats": args.repeats, "size": args.size, "frames": args.frames,
                        "batch": 1},
           "models": rows, "temporal_shift": shift_rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
