"""Shared benchmark helpers: where results go, interleaved timing, min/median/max summaries."""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

import torch


def default_out_dir() -> Path:
    """Results live outside the checkout: ``$VIDEOZOO_BENCH_DIR`` or
    ``~/.cache/videozoo/benchmarks``."""
    env = os.environ.get("VIDEOZOO_BENCH_DIR")
    return Path(env) if env else Path.home() / ".cache" / "videozoo" / "benchmarks"


def out_path(out: Optional[str], name: str) -> Path:
    """``--out`` (a file, or a folder to put ``name`` in) or the default folder."""
    if out:
        p = Path(out)
        return p / name if p.is_dir() or not p.suffix else p
    return default_out_dir() / name


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    return path


def machine_info() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "processor": platform.processor(), "loadavg": load}


def interleaved(fns: Mapping[str, Callable[[], Any]], rounds: int, warmup: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Time every function once per round, in rotating order, so load that drifts during the
    run hits all of them alike. Returns seconds per call, per name."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            start = clock()
            fns[n]()
            times[n].append(clock() - start)
    return times


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def paired_ratios(num: list[float], den: list[float]) -> dict[str, float]:
    """min/median/max of the per-round ratios num/den (pairs taken in the same round)."""
    return summary([a / b for a, b in zip(num, den)])


def fmt(s: Mapping[str, float], scale: float = 1.0, digits: int = 3) -> str:
    return "/".join(f"{s[k] * scale:.{digits}f}" for k in ("min", "median", "max"))
