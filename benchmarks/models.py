"""CPU forward time per architecture, and the cost of TSM's temporal shift.

For every registered architecture: median forward time of one view (B=1, T=8 frames at 224x224,
``torch.no_grad``, eval mode). For every model that contains ``TemporalShift`` modules, the same
model with the shifts switched off (each ``TemporalShift`` runs the module it wraps on its
input as given: the same weights in the same memory, identical B*T frames) is timed in the same run, interleaved round by round with
the shifted one, and the ratio shifted / plain is reported as min/median/max of the paired
rounds (load that drifts during the run cancels out; each round keeps the fastest of
``--inner`` forwards per model, which strips most of a shared host's interference). Target (issue 13): median <= 1.03 at 1 and
2 threads for tsm_r50, tsm_r101, tsm_mobilenetv2 and tsm_mobileone_s4.

Also times ``temporal_shift`` itself on layer-1/layer-4 sized feature maps against the two ways
of writing it that MMAction2 and a naive port use (``torch.cat`` of zero-padded slices, and a
zero-filled buffer with slice copies).

    python benchmarks/models.py [--repeats 7] [--inner 3] [--size 224] [--frames 8]
        [--archs tsm_r50,tsn_r50] [--threads 1,2] [--out FILE_OR_DIR]

With one torch thread times are process CPU seconds (stable on a shared machine); with more,
wall seconds. Writes ``~/.cache/videozoo/benchmarks/models.json`` (outside the checkout;
``--out`` to choose). Absolute times are machine-dependent; compare ratios.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import videozoo
from videozoo.models import layers
from videozoo.models.layers import TemporalShift, temporal_shift

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt, out_path, paired_ratios, write_json  # noqa: E402

SHIFT_TARGETS = ("tsm_r50", "tsm_r101", "tsm_mobilenetv2", "tsm_mobileone_s4")


def without_shifts(model: nn.Module):
    """``model`` as a callable that runs with every shift switched off: each
    ``TemporalShift`` calls the module it wraps on its input as given, and no block shifts in
    place. The same module objects and weights in the same memory as the shifted runs, so
    the ratio holds nothing but the shift (a deep copy would add a different weight
    placement, worth a few percent either way on this machine)."""
    def run(x: torch.Tensor) -> torch.Tensor:
        forward, can = TemporalShift.forward, layers._can_shift_in_place
        TemporalShift.forward = lambda self, x: self.net(x)
        layers._can_shift_in_place = lambda x, net: False
        try:
            return model(x)
        finally:
            TemporalShift.forward, layers._can_shift_in_place = forward, can
    return run


def time_once(fn, *args, clock=time.process_time) -> float:
    """Seconds of one call on ``clock``: process CPU time by default (with one torch thread,
    the call's own compute, insensitive to other processes competing for the cores)."""
    start = clock()
    fn(*args)
    return clock() - start


def shift_seconds(model: nn.Module, x: torch.Tensor, clock=time.process_time) -> float:
    """Seconds spent shifting during one forward (``temporal_shift``, the in-place shift /
    restore, and the in-place shift of the block loops) on ``clock``: the shift's own cost,
    measured directly, a complement to the shifted/plain ratio that a drifting machine cannot
    blur as much. With several threads pass a wall clock: process CPU time would also count
    the other threads spinning while a single-threaded copy runs."""
    spent = [0.0]
    names = ("temporal_shift", "_shift_in_place", "_unshift_in_place", "_shift_for_good")
    originals = {n: getattr(layers, n) for n in names}

    def timed(fn):
        def run(*args, **kwargs):
            start = clock()
            out = fn(*args, **kwargs)
            spent[0] += clock() - start
            return out
        return run

    for n in names:  # TemporalShift.forward looks the functions up at call time
        setattr(layers, n, timed(originals[n]))
    try:
        model(x)
    finally:
        for n in names:
            setattr(layers, n, originals[n])
    return spent[0]


def best_of(fn, x, inner: int, clock) -> float:
    """The fastest of ``inner`` back-to-back calls: on a machine whose speed drifts (shared
    hosts, frequency changes) the minimum is the call's own cost, the rest is interference."""
    return min(time_once(fn, x, clock=clock) for _ in range(inner))


def bench_arch(arch: str, frames: int, size: int, repeats: int, inner: int = 1) -> dict:
    model = videozoo.create_model(arch).eval()
    if arch == "tsm_mobileone_s4":
        frames = max(frames, 16)  # its 1x1x16 protocol (shift groups of 8)
    x = torch.randn(1, model.in_chans, frames, size, size)
    has_shift = any(isinstance(m, TemporalShift) for m in model.modules())
    plain = without_shifts(model) if has_shift else None
    clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
    with torch.no_grad():
        model(x)  # warm-up (allocator, oneDNN primitive caches)
        if plain is not None:
            plain(x)
        times, plain_times, walls = [], [], []
        for r in range(repeats):
            pair = [("shifted", model), ("plain", plain)] if plain is not None \
                else [("shifted", model)]
            for name, m in (pair if r % 2 == 0 else pair[::-1]):  # alternate who goes first
                start = time.perf_counter()
                t = best_of(m, x, inner, clock)
                if name == "shifted":
                    times.append(t)
                    walls.append((time.perf_counter() - start) / inner)
                else:
                    plain_times.append(t)
    row = {"arch": arch, "input": list(x.shape), "clock": "cpu" if clock is time.process_time
           else "wall", "median_s": statistics.median(times),
           "median_wall_s": statistics.median(walls), "times_s": times}
    if plain is not None:
        ratios = paired_ratios(times, plain_times)
        with torch.no_grad():
            shift_s = min(shift_seconds(model, x, clock) for _ in range(5))
        row.update(plain_median_s=statistics.median(plain_times), plain_times_s=plain_times,
                   shift_ratio=ratios["median"], shift_ratio_stats=ratios,
                   shift_s=shift_s, shift_share=shift_s / min(times))
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
    ap.add_argument("--inner", type=int, default=3,
                    help="forwards per model per round; a round keeps the fastest (default 3)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--archs", default="", help="comma-separated; default: every architecture")
    ap.add_argument("--threads", default="1",
                    help="comma-separated torch thread counts, e.g. 1,2 (default 1: CPU-time "
                         "figures stay stable on a shared machine; 0 keeps torch's default)")
    ap.add_argument("--skip-shift-alone", action="store_true",
                    help="skip timing temporal_shift on its own")
    ap.add_argument("--out", default=None,
                    help="result file or folder (default ~/.cache/videozoo/benchmarks)")
    args = ap.parse_args()
    archs = [a for a in args.archs.split(",") if a] or videozoo.list_architectures()
    thread_counts = [int(n) for n in args.threads.split(",") if n]

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    print("median seconds per forward of one view (B=1, "
          f"T={args.frames}, {args.size}x{args.size}; 1 thread: CPU s, else wall s)")
    print("shift ratio = shifted / no-shift, paired rounds, min/median/max (target median <= "
          "1.03); shift % = time inside the shift functions (fastest of 5 forwards) / fastest "
          "forward")
    rows = []
    for n in thread_counts:
        if n:
            torch.set_num_threads(n)
        print(f"\n{torch.get_num_threads()} thread(s)")
        print(f"{'architecture':32s} {'s':>7s} {'(wall s)':>9s} {'no-shift s':>10s} "
              f"{'shift ratio min/med/max':>24s} {'shift %':>7s}")
        for arch in archs:
            row = bench_arch(arch, args.frames, args.size, args.repeats, args.inner)
            row["threads"] = torch.get_num_threads()
            rows.append(row)
            has = "shift_ratio" in row
            plain = f"{row['plain_median_s']:10.3f}" if has else f"{'-':>10s}"
            ratio = f"{fmt(row['shift_ratio_stats']):>24s}" if has else f"{'-':>24s}"
            share = f"{100 * row['shift_share']:7.2f}" if has else f"{'-':>7s}"
            wall = f"({row['median_wall_s']:.3f})"
            print(f"{arch:32s} {row['median_s']:7.3f} {wall:>9s} {plain} {ratio} {share}",
                  flush=True)

    targets = [r for r in rows if r["arch"] in SHIFT_TARGETS and "shift_ratio" in r]
    if targets:
        print("\nshift target (median <= 1.03):")
        for r in targets:
            verdict = "ok" if r["shift_ratio"] <= 1.03 else "ABOVE"
            print(f"  {r['arch']:20s} {r['threads']} thr  {fmt(r['shift_ratio_stats'])}  "
                  f"{verdict}  (shift's own time {100 * r['shift_share']:.2f}% of a forward)")

    shift_rows = []
    if not args.skip_shift_alone:
        torch.set_num_threads(thread_counts[0] or torch.get_num_threads())
        print("\ntemporal_shift alone (T=8, shift_div=8), median CPU ms; ratio to videozoo's")
        shift_rows = bench_shift(args.repeats)
        for r in shift_rows:
            cells = ", ".join(f"{k} {v:.2f} ({r['vs_videozoo'][k]:.2f}x)"
                              for k, v in r["median_ms"].items())
            print(f"  {tuple(r['shape'])}: {cells}")

    out = {"torch": torch.__version__, "cpu_count": os.cpu_count(),
           "machine": platform.machine(), "loadavg": os.getloadavg(),
           "settings": {"repeats": args.repeats, "inner": args.inner, "size": args.size,
                        "frames": args.frames, "batch": 1, "threads": thread_counts},
           "models": rows, "temporal_shift": shift_rows}
    path = write_json(out_path(args.out, "models.json"), out)
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
