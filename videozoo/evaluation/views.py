"""The views of a video and how their scores become one per video: the only place where view
averaging is written (``evaluate``, ``videozoo predict`` and the examples all use it).

A test protocol turns one video into ``V`` views (clips x crops). MMAction2's ``average_clip``
then combines the ``V`` outputs of the model:

* ``'prob'``: softmax per view, then the mean over views (TSM, TPN, MMAction2 1.x TSN);
* ``'score'``: mean of the views' logits;
* ``None``: raw logits; only for one view per video (0.x TSN: its single "view" holds every frame
  of every crop, and its head already averaged their features).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

import torch

__all__ = ["AVERAGES", "average_views", "average_view_features", "as_probabilities",
           "check_average", "device_views", "video_probabilities"]

AVERAGES = ("prob", "score", None)
PROTOCOL_AVERAGE = "protocol"  # sentinel: use the protocol's view averaging


def check_average(average: Any) -> Optional[str]:
    """``average`` as one of :data:`AVERAGES` (the string ``'none'`` means ``None``)."""
    if isinstance(average, str) and average.lower() == "none":
        return None
    if average not in AVERAGES:
        raise ValueError(f"average must be 'prob', 'score' or None, got {average!r}")
    return average


def average_views(logits: torch.Tensor, num_videos: int, average: Optional[str]) -> torch.Tensor:
    """MMAction2's ``average_clip``: ``(num_videos * V, K)`` view logits -> ``(num_videos, K)``."""
    if num_videos < 1 or logits.shape[0] % num_videos:
        raise ValueError(f"{logits.shape[0]} view scores do not split over {num_videos} videos")
    x = logits.float().reshape(num_videos, -1, logits.shape[-1])
    if average == "prob":
        return x.softmax(dim=-1).mean(dim=1)
    if average == "score":
        return x.mean(dim=1)
    if average is None:
        if x.shape[1] != 1:
            raise ValueError(
                f"average=None keeps raw logits and needs one view per video, got {x.shape[1]} "
                "(TSN's single view holds all frames); use average='score' or 'prob'"
            )
        return x[:, 0]
    raise ValueError(f"average must be 'prob', 'score' or None, got {average!r}")


def average_view_features(features: torch.Tensor, num_videos: int) -> torch.Tensor:
    """``(num_videos * V, D)`` per-view features -> ``(num_videos, D)``: their mean per video."""
    return average_views(features.flatten(1), num_videos, "score")


def as_probabilities(scores: torch.Tensor, average: Optional[str]) -> torch.Tensor:
    """Per-video scores as averaged by ``average`` -> class probabilities (for display):
    ``'prob'`` scores already are; logits get a softmax (in float64, then float32)."""
    if average == "prob":
        return scores.float()
    return scores.double().softmax(-1).float()


def video_probabilities(logits: torch.Tensor, num_videos: int, average: Optional[str]
                        ) -> torch.Tensor:
    """``(num_videos * V, K)`` view logits -> ``(num_videos, K)`` class probabilities, the views
    averaged as the protocol says (``None``, raw logits, is read as the mean of the logits,
    which for its single view is the same thing)."""
    scores = average_views(logits, num_videos, "score" if average is None else average)
    return as_probabilities(scores, average)


def device_views(inputs: Union[torch.Tensor, Sequence[torch.Tensor]], cfg: Any,
                 device: torch.device) -> torch.Tensor:
    """``(n, V, C, T, h, w)`` float views on ``device`` from sampled uint8 frames (stacked
    ``(n, M, H, W, C)`` or a list of differently sized videos) or from float views made already
    (``(n, V, C, T, h, w)``, used as they are)."""
    from ..data.transforms import make_views

    if isinstance(inputs, torch.Tensor):
        inputs = inputs.to(device, non_blocking=True)
        if inputs.dtype == torch.uint8:
            return make_views(inputs, cfg)
        return inputs.float()
    per_video = [device_views(x.unsqueeze(0), cfg, device) for x in inputs]
    shapes = {tuple(v.shape[1:]) for v in per_video}
    if len(shapes) != 1:
        raise ValueError(f"videos of one batch give different view shapes: {sorted(shapes)}")
    return torch.cat(per_video)
