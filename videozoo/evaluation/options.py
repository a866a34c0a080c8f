"""How ``evaluate`` runs (``EvalOptions``) and the checks that turn a bad setting into one clear
error before any video is decoded (a configuration error is not a per-video failure)."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch

from .views import PROTOCOL_AVERAGE, check_average

__all__ = ["EvalOptions", "check_data_config"]

CROP_MODES = ("center", "three", "ten", "none", None)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass
class EvalOptions:
    """Everything about an ``evaluate`` run except the model, the videos and the protocol.

    Attributes:
        checkpoint_path: local weights (MMAction2 ``.pth`` or videozoo ``.safetensors``) for a
            model name; ``pretrained`` (default: when the entry has weights) downloads them.
        device: default this process's GPU, else the CPU. A given model is moved there.
        batch_size: videos per batch (default 8 on GPU, 2 on CPU); views of all of them go
            through the model together, halved on out-of-memory.
        num_workers: DataLoader decode workers (default ``min(8, cpus)``).
        amp: autocast (float16) on GPU; default on for CUDA, off on the CPU.
        average: ``'prob'``, ``'score'`` or ``None`` (raw logits); default the protocol's.
        out_dir: where per-video scores are written as they are computed and ``results.json``
            at the end; rerunning with the same directory resumes.
        strict: stop at the first video that fails to decode instead of listing it.
        limit: only the first ``limit`` videos of the list.
        decode_timeout: seconds one video may take to load before it is given up as failed
            (None or 0: no limit).
        channels_last: channels_last weights and inputs on GPU.
        retry_failed: on resume, try again the videos an earlier run listed as failed.
        progress: show a tqdm bar (videos/s and ETA).
        topk: the top-k accuracies to report.
    """

    checkpoint_path: Optional[Union[str, os.PathLike]] = None
    pretrained: Optional[bool] = None
    device: Optional[Union[str, torch.device]] = None
    batch_size: Optional[int] = None
    num_workers: Optional[int] = None
    amp: Optional[bool] = None
    average: Any = PROTOCOL_AVERAGE
    out_dir: Optional[Union[str, os.PathLike]] = None
    strict: bool = False
    limit: Optional[int] = None
    decode_timeout: Optional[float] = 120.0
    channels_last: bool = True
    retry_failed: bool = False
    progress: bool = False
    topk: Sequence[int] = (1, 5)

    def __post_init__(self) -> None:
        if self.average != PROTOCOL_AVERAGE:
            self.average = check_average(self.average)
        for name, low in (("batch_size", 1), ("num_workers", 0), ("limit", 1)):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < low):
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.decode_timeout is not None and not isinstance(self.decode_timeout, (int, float)):
            raise ValueError(f"decode_timeout must be seconds, got {self.decode_timeout!r}")
        self.topk = tuple(self.topk)
        if not self.topk or not all(_is_int(k) and k >= 1 for k in self.topk):
            raise ValueError(f"topk must be integers >= 1, got {self.topk!r}")
        if self.out_dir is not None and os.path.exists(self.out_dir) \
                and not os.path.isdir(self.out_dir):
            raise ValueError(f"out_dir {os.fspath(self.out_dir)!r} is a file, not a directory")

    @classmethod
    def from_kwargs(cls, options: Optional[EvalOptions], kwargs: dict[str, Any]) -> EvalOptions:
        """``options`` (or the defaults) with keyword arguments replacing fields."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"evaluate() got unexpected keyword argument(s) {unknown}; "
                            f"options are {sorted(known)}")
        return dataclasses.replace(options or cls(), **kwargs)


def _valid_resize(scale: Any) -> bool:
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        return scale > 0
    if not isinstance(scale, (tuple, list)) or len(scale) != 2:
        return False
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scale):
        return False
    return min(scale) > 0 or (min(scale) == -1 and max(scale) >= 1)


def check_data_config(cfg: Any) -> None:
    """A ValueError naming the field when a test data config cannot work (``num_clips=0``, a
    crop of 0 pixels, an unknown decoder...), so it stops the run instead of failing every
    video one by one."""
    from ..data.decoders import list_decoders

    def positive(name: str, allow_none: bool = False) -> None:
        v = getattr(cfg, name)
        if v is None and allow_none:
            return
        if not _is_int(v) or v < 1:
            raise ValueError(f"data config: {name} must be an integer >= 1, got {v!r}")

    for name in ("num_clips", "clip_len", "frame_interval"):
        positive(name)
    positive("num_segments", allow_none=True)
    if cfg.decoder not in list_decoders():
        raise ValueError(f"data config: unknown decoder {cfg.decoder!r}; known: "
                         f"{', '.join(list_decoders())}")
    if cfg.crop not in CROP_MODES:
        raise ValueError(f"data config: crop must be one of 'center', 'three', 'ten', 'none', "
                         f"got {cfg.crop!r}")
    if cfg.crop not in ("none", None):
        size = cfg.crop_size if isinstance(cfg.crop_size, (tuple, list)) else (cfg.crop_size,)
        if not size or not all(_is_int(s) and s >= 1 for s in size):
            raise ValueError(f"data config: crop_size must be pixels >= 1, got {cfg.crop_size!r}")
    if cfg.resize is not None and not _valid_resize(cfg.resize):
        raise ValueError(f"data config: resize must be (-1, short side), (width, height) or a "
                         f"positive factor, got {cfg.resize!r}")
    if cfg.start_index is not None and (not _is_int(cfg.start_index) or cfg.start_index < 0):
        raise ValueError(f"data config: start_index must be an integer >= 0, got "
                         f"{cfg.start_index!r}")
    if len(cfg.mean) != len(cfg.std) or any(float(s) == 0 for s in cfg.std):
        raise ValueError(f"data config: mean {cfg.mean} and std {cfg.std} must have one "
                         "non-zero std per channel")
    check_average(cfg.average)
