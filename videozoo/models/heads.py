"""Classification heads of the 2D families, in MMAction2's order of operations.

Both take backbone features ``(B, T, C, h, w)`` (one view of T frames per batch item):

- ``TSNHead`` averages the pooled *features* over all T frames, then applies one FC.
- ``TSMHead`` applies the FC to every frame, then averages the *logits* over the T frames.

With ``num_classes=0`` the FC is an ``nn.Identity`` and both return the pooled features.

The two are equal in exact arithmetic at eval time; the order is kept so float32 results match
MMAction2's to round-off, and so training-time dropout acts where MMAction2's does.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import make_classifier


class TSNHead(nn.Module):
    def __init__(self, num_features: int, num_classes: int, dropout: float = 0.4,
                 init_std: float = 0.01):
        super().__init__()
        self.in_features = num_features
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = make_classifier(num_features, num_classes, init_std)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean(dim=(-2, -1)).mean(dim=1)  # spatial pool per frame, then consensus over T
        x = self.drop(x)
        return x if pre_logits else self.fc(x)


class TSMHead(nn.Module):
    def __init__(self, num_features: int, num_classes: int, dropout: float = 0.5,
                 init_std: float = 0.001):
        super().__init__()
        self.in_features = num_features
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = make_classifier(num_features, num_classes, init_std)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean(dim=(-2, -1)))  # (B, T, C)
        if pre_logits:
            return x.mean(dim=1)
        return self.fc(x).mean(dim=1)  # per-frame logits, averaged over the view's frames
