"""Losses of the zoo's recipes: cross-entropy on hard or mixed (soft) labels, and MMiT's
multi-label binary cross-entropy (mean-reduced, times MMAction2's ``loss_weight`` of 160)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def classification_loss(logits: torch.Tensor, target: torch.Tensor,
                        label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy for class indices ``(B,)`` or soft/mixed label rows ``(B, K)``."""
    if target.dim() == 1:
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    if target.shape != logits.shape:
        raise ValueError(f"soft targets must match logits {tuple(logits.shape)}, "
                         f"got {tuple(target.shape)}")
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


def multilabel_loss(logits: torch.Tensor, multi_hot: torch.Tensor,
                    loss_weight: float = 160.0) -> torch.Tensor:
    """MMAction2's ``BCELossWithLogits`` as the MMiT TSN config uses it."""
    if multi_hot.shape != logits.shape:
        raise ValueError(f"multi-hot targets must match logits {tuple(logits.shape)}, "
                         f"got {tuple(multi_hot.shape)}")
    return loss_weight * F.binary_cross_entropy_with_logits(logits, multi_hot.to(logits.dtype))
