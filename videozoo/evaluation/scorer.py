"""``VideoScorer``: the views of a batch of videos through the model, averaged per video, with the
largest number of views per forward pass that fits in memory."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Optional, Union

import torch
from torch import nn

from .views import PROTOCOL_AVERAGE, average_views, check_average, device_views

__all__ = ["VideoScorer"]


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def _channels_last_(model: nn.Module, enable: bool = True) -> None:
    """channels_last for 2D conv weights, channels_last_3d for 3D ones (TPN mixes both);
    ``enable=False`` puts them back in the default layout."""
    for p in model.parameters():
        if p.dim() == 4:
            fmt = torch.channels_last if enable else torch.contiguous_format
        elif p.dim() == 5:
            fmt = torch.channels_last_3d if enable else torch.contiguous_format
        else:
            continue
        p.data = p.data.contiguous(memory_format=fmt)


class VideoScorer:
    """Sampled uint8 frames (or ready views) of a batch of videos -> per-video scores.

    Keeps the largest number of views per forward pass that fitted in memory: after a CUDA
    out-of-memory error it halves it and retries, for the rest of the run.
    """

    def __init__(self, model: nn.Module, data_config: Any, device: Union[str, torch.device],
                 amp: bool = False, amp_dtype: Optional[torch.dtype] = None,
                 channels_last: bool = True, average: Any = PROTOCOL_AVERAGE) -> None:
        self.device = torch.device(device)
        self.cfg = data_config
        self.average = check_average(data_config.average if average == PROTOCOL_AVERAGE
                                     else average)
        self.model = model.eval().to(self.device)
        self.channels_last = channels_last and self.device.type == "cuda"
        if self.channels_last:
            _channels_last_(self.model)
        self.amp = bool(amp) and self.device.type in ("cuda", "cpu")
        if amp_dtype is None:  # float16 on GPU; the CPU autocasts to bfloat16
            amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.amp_dtype = amp_dtype
        self.max_views: Optional[int] = None  # None: all views of the batch at once
        self.view_shape: Optional[tuple[int, ...]] = None  # (V, C, T, h, w) of the last batch

    def views(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """(n, V, C, T, h, w) float views on the device (see :func:`device_views`)."""
        return device_views(inputs, self.cfg, self.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, i = [], 0
        while i < x.shape[0]:
            step = self.max_views or x.shape[0]
            try:
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
                    outs.append(self.model(x[i:i + step]).float())
                i += step
            except (torch.cuda.OutOfMemoryError, RuntimeError) as e:
                if not _is_oom(e) or step == 1:
                    raise
                self.max_views = max(1, step // 2)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                warnings.warn(f"out of memory with {step} views per forward; retrying with "
                              f"{self.max_views}", stacklevel=2)
        return torch.cat(outs)

    def _score(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        views = self.views(inputs)
        self.view_shape = tuple(views.shape[1:])
        logits = self._forward(views.flatten(0, 1))
        return average_views(logits, views.shape[0], self.average).cpu()

    def release(self) -> None:
        """Give the model its default weight layout back (it may be trained afterwards)."""
        if self.channels_last:
            _channels_last_(self.model, enable=False)
            self.channels_last = False

    @torch.inference_mode()
    def __call__(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """(n, K) float32 scores on the CPU, views averaged per video."""
        try:
            return self._score(inputs)
        except RuntimeError as e:  # out of memory while making the views: one video at a time
            if not _is_oom(e) or len(inputs) == 1:
                raise
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        warnings.warn("out of memory while preparing a batch; scoring its videos one at a time",
                      stacklevel=2)
        return torch.cat([self._score(x.unsqueeze(0) if isinstance(inputs, torch.Tensor)
                                      else [x]) for x in inputs])
