"""The model surface every videozoo architecture shares (timm's, adapted to video).

``model(x)`` takes one view per batch item, ``x`` of shape ``(B, C, T, H, W)`` already normalised,
and returns ``(B, num_classes)`` scores before softmax, averaged over the view's frames the way
MMAction2's head does. Averaging over several views (clips x crops) and softmax belong to
evaluation, not to the model.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from .layers import check_video_input, set_num_segments


def normal_init_linear(fc: nn.Linear, std: float) -> None:
    """MMAction2 heads initialise their classifier with N(0, std) weights and zero bias."""
    nn.init.normal_(fc.weight, 0.0, std)
    nn.init.zeros_(fc.bias)


class VideoRecognizer(nn.Module):
    """Base class: input checks, classifier access, data config. Families subclass it.

    Subclasses set ``in_chans``, ``num_classes``, ``num_features`` and implement
    ``forward_features`` / ``forward_head``; ``classifier_names`` lists every ``nn.Linear``
    (or conv) that maps to classes, so ``reset_classifier`` can reset them all (TPN has two).
    """

    in_chans: int = 3
    num_classes: int = 400
    num_features: int = 2048
    classifier_names: tuple[str, ...] = ("head.fc",)
    classifier_init_std: float = 0.01
    is_3d: bool = False  # 3D backbones see (B, C, T, H, W); 2D ones see (B*T, C, H, W)

    def __init__(self) -> None:
        super().__init__()
        self.grad_checkpointing = False
        self.pretrained_cfg: dict[str, Any] = {}

    # -- timm surface -------------------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_names[0])

    def reset_classifier(self, num_classes: int, init_std: Optional[float] = None) -> None:
        """Replace every classifier with a freshly initialised one for ``num_classes``."""
        std = self.classifier_init_std if init_std is None else init_std
        for name in self.classifier_names:
            parent_name, _, leaf = name.rpartition(".")
            parent = self.get_submodule(parent_name) if parent_name else self
            old = getattr(parent, leaf)
            if isinstance(old, nn.Linear):
                new = nn.Linear(old.in_features, num_classes)
            else:
                raise TypeError(f"cannot reset classifier {name} of type {type(old).__name__}")
            new = new.to(device=old.weight.device, dtype=old.weight.dtype)
            normal_init_linear(new, std)
            setattr(parent, leaf, new)
        self.num_classes = num_classes

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @property
    def default_cfg(self) -> dict[str, Any]:  # timm's older name
        return self.pretrained_cfg

    # -- forward ------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        check_video_input(x, self.in_chans, type(self).__name__)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B*T, C, H, W) for 2D backbones; tells shifts the view length."""
        b, c, t, h, w = x.shape
        set_num_segments(self, t)
        return x.transpose(1, 2).reshape(b * t, c, h, w)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
