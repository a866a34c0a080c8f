"""Several processes (``torchrun``, or any initialised ``torch.distributed`` group).

Videos are sharded without padding (process ``r`` of ``n`` takes videos ``r, r+n, r+2n, ...``),
each process scores its shard, and the per-video results are gathered so metrics count every
video exactly once. (``DistributedSampler`` pads shards with repeated videos; the tables were
measured without such duplicates.)
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Optional

import torch
import torch.distributed as dist

from .scores import ScoreTable

__all__ = ["all_gather_objects", "barrier", "dist_info", "gather_tables",
           "init_distributed_from_env", "local_device", "shard"]


def dist_info() -> tuple[int, int]:
    """(rank, world size) of the current process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed_from_env(backend: Optional[str] = None) -> bool:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1).

    Returns True when this call created the group (the caller then destroys it). ``backend``
    defaults to NCCL with CUDA and gloo without.
    """
    if not dist.is_available() or dist.is_initialized():
        return False
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return True


def local_device(device: Optional[str | torch.device] = None) -> torch.device:
    """The device this process should use: ``device`` if given, else this process's GPU
    (``LOCAL_RANK``) when CUDA is available, else the CPU."""
    if device is not None:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None and dist_info()[1] > 1:
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def shard(indices: Sequence[int], rank: int, world_size: int) -> list[int]:
    """This process's share of ``indices``: every ``world_size``-th one from ``rank``, no
    padding, so the shards partition the list exactly."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size} processes")
    return list(indices)[rank::world_size]


def barrier() -> None:
    if dist_info()[1] > 1:
        dist.barrier()


def _all_gather(obj: Any) -> list[Any]:
    world = dist_info()[1]
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def gather_tables(table: ScoreTable) -> ScoreTable:
    """Every process's per-video scores, merged and sorted by video index (on every process)."""
    parts = _all_gather((table.index, table.labels, table.scores, table.failures))
    return ScoreTable.merge([ScoreTable(*p) for p in parts])


def all_gather_objects(obj: Any) -> list[Any]:
    """``obj`` from every process, in rank order (a list of one without a process group)."""
    return _all_gather(obj)
