"""Batch-level MixUp and CutMix for fine-tuning, as MMAction2's ``MixupBlending`` and
``CutmixBlending`` (alpha 0.2 in the TSM recipes): mixed inputs and soft labels.

They act on a whole batch ``(B, ..., H, W)`` (``(B, C, T, H, W)`` clips or ``(B, V, C, T, H, W)``
views), with one mixing coefficient and one box for the batch, the same for every frame.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.distributions.beta import Beta

__all__ = ["CutMix", "MixUp", "one_hot"]


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Float (B, K) targets from int (B,) labels; (B, K) multi-hot/soft labels pass through."""
    if labels.ndim == 2:
        if labels.shape[1] != num_classes:
            raise ValueError(f"soft labels have {labels.shape[1]} classes, expected {num_classes}")
        return labels.float()
    if labels.ndim != 1:
        raise ValueError(f"labels must be (B,) class indices or (B, K), got {tuple(labels.shape)}")
    return F.one_hot(labels.long(), num_classes).float()


class _Blending:
    def __init__(self, num_classes: int, alpha: float = 0.2) -> None:
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.num_classes = num_classes
        self.alpha = alpha
        self._beta = Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))

    def __call__(self, inputs: torch.Tensor, labels: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mixed inputs, soft labels (B, K))``; ``inputs`` is not modified."""
        if inputs.shape[0] != labels.shape[0]:
            raise ValueError(f"{inputs.shape[0]} inputs but {labels.shape[0]} labels")
        if not inputs.is_floating_point():
            raise ValueError("mix normalised float inputs, not uint8 frames")
        target = one_hot(labels, self.num_classes).to(inputs.device)
        return self._mix(inputs, target, generator)

    def _draw(self, generator: Optional[torch.Generator]) -> float:
        """lam ~ Beta(alpha, alpha); from torch's global RNG, or reproducibly from ``generator``
        (torch's Beta takes no generator, so a numpy Beta is seeded from it)."""
        if generator is None:
            return float(self._beta.sample())
        seed = int(torch.randint(2**62, (1,), generator=generator))
        return float(np.random.default_rng(seed).beta(self.alpha, self.alpha))

    def _mix(self, inputs: torch.Tensor, target: torch.Tensor,
             generator: Optional[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_classes={self.num_classes}, alpha={self.alpha})"


class MixUp(_Blending):
    """``lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)``, labels likewise."""

    def _mix(self, inputs, target, generator):
        lam = self._draw(generator)
        perm = torch.randperm(inputs.shape[0], generator=generator).to(inputs.device)
        mixed = lam * inputs + (1 - lam) * inputs[perm]
        return mixed, lam * target + (1 - lam) * target[perm]


class CutMix(_Blending):
    """Paste a box of ``x[perm]`` into every clip (all frames); the box side is
    ``sqrt(1 - lam)`` of the frame's, centred uniformly and clipped to the frame; the label
    weight is the area actually kept."""

    @staticmethod
    def box(height: int, width: int, lam: float, generator: Optional[torch.Generator] = None
            ) -> tuple[int, int, int, int]:
        """(x1, y1, x2, y2) of the pasted region, as MMAction2's ``rand_bbox``."""
        cut = (1.0 - lam) ** 0.5
        cut_w, cut_h = int(width * cut), int(height * cut)
        cx = int(torch.randint(width, (1,), generator=generator))
        cy = int(torch.randint(height, (1,), generator=generator))
        x1, x2 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
        y1, y2 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
        return x1, y1, x2, y2

    def _mix(self, inputs, target, generator):
        perm = torch.randperm(inputs.shape[0], generator=generator).to(inputs.device)
        lam = self._draw(generator)
        h, w = inputs.shape[-2:]
        x1, y1, x2, y2 = self.box(h, w, lam, generator)
        mixed = inputs.clone()
        mixed[..., y1:y2, x1:x2] = inputs[perm][..., y1:y2, x1:x2]
        kept = 1 - (x2 - x1) * (y2 - y1) / float(w * h)
        return mixed, kept * target + (1 - kept) * target[perm]
