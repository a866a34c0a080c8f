"""The model surface every videozoo architecture shares (timm's, adapted to video).

``model(x)`` takes one view per batch item, ``x`` of shape ``(B, C, T, H, W)`` already normalised,
and returns ``(B, num_classes)`` scores before softmax, averaged over the view's frames the way
MMAction2's head does. Averaging over several views (clips x crops) and softmax belong to
evaluation, not to the model.

The timm contract, held here so every family (and every later one) gets it the same way:

- ``num_classes=0`` / ``reset_classifier(0)``: the classifiers become ``nn.Identity`` and
  ``model(x)`` returns the pooled features ``(B, num_features)``, pooled over space and averaged
  over the view's frames exactly as the head does before its FC (TPN: the main head's pool of the
  fused pyramid). Equal to ``forward_head(forward_features(x), pre_logits=True)``.
- ``forward_features(x)``: per-frame maps ``(B, T, C, h, w)`` for 2D families, the clip map
  ``(B, C, t, h, w)`` for TPN (its fused pyramid).
- ``forward_stages(x)`` / ``features_only=True``: every backbone stage as ``(B, C, T, h, w)``
  (2D families fold their B*T frames back into a time axis); ``feature_info`` describes them.
- ``set_grad_checkpointing``, ``get_classifier``, ``num_features``, ``pretrained_cfg`` /
  ``default_cfg``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

import torch
from timm.models import FeatureInfo
from torch import nn

from .layers import check_video_input, set_num_segments


def normal_init_linear(fc: nn.Module, std: float) -> None:
    """MMAction2 heads initialise their classifier with N(0, std) weights and zero bias."""
    if isinstance(fc, nn.Linear):
        nn.init.normal_(fc.weight, 0.0, std)
        nn.init.zeros_(fc.bias)


def make_classifier(in_features: int, num_classes: int, init_std: float) -> nn.Module:
    """``nn.Linear`` with MMAction2's init, or ``nn.Identity`` for ``num_classes == 0`` (timm's
    convention: the model then returns pooled features)."""
    if num_classes == 0:
        return nn.Identity()
    fc = nn.Linear(in_features, num_classes)
    normal_init_linear(fc, init_std)
    return fc


def check_num_classes(value: Any, name: str = "num_classes") -> int:
    """An int >= 0 (bools, floats and strings refused with one clear line)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0 (0 gives pooled features), got {value!r}")
    return value


def check_positive_int(value: Any, name: str, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        more = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= 1{more}, got {value!r}")
    return value


class VideoRecognizer(nn.Module):
    """Base class: input checks, classifier access, features, data config. Families subclass it.

    Subclasses set ``in_chans``, ``num_classes``, ``num_features`` and implement
    ``forward_features`` / ``forward_head`` and ``stage_maps`` / ``stage_info``;
    ``classifier_names`` lists every classifier (TPN has two) so ``reset_classifier`` resets them
    all, ``head_names`` the modules a ``features_only`` model drops.
    """

    in_chans: int = 3
    num_classes: int = 400
    num_features: int = 2048
    classifier_names: tuple[str, ...] = ("head.fc",)
    head_names: tuple[str, ...] = ("head",)
    classifier_init_std: float = 0.01
    is_3d: bool = False  # 3D backbones see (B, C, T, H, W); 2D ones see (B*T, C, H, W)
    num_segments: Optional[int] = None  # pinned frames per shift group (None: the input's T)
    segments_divide_input: bool = False  # True where T must be a multiple of num_segments

    def __init__(self) -> None:
        super().__init__()
        self.grad_checkpointing = False
        self.features_only = False
        self.pretrained_cfg: dict[str, Any] = {}
        self._feature_info: Optional[FeatureInfo] = None

    # -- timm surface -------------------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_names[0])

    def reset_classifier(self, num_classes: int, init_std: Optional[float] = None) -> None:
        """Replace every classifier with a freshly initialised one for ``num_classes``
        (0: ``nn.Identity``, the model then returns pooled features)."""
        check_num_classes(num_classes)
        std = self.classifier_init_std if init_std is None else init_std
        for name in self.classifier_names:
            parent_name, _, leaf = name.rpartition(".")
            parent = self.get_submodule(parent_name) if parent_name else self
            old = getattr(parent, leaf)
            if isinstance(old, nn.Linear):
                in_features = old.in_features
                like = old.weight
            elif isinstance(old, nn.Identity) and hasattr(parent, "in_features"):
                in_features = parent.in_features
                like = next(self.parameters())
            else:
                raise TypeError(f"cannot reset classifier {name} of type {type(old).__name__}")
            new = make_classifier(in_features, num_classes, std)
            setattr(parent, leaf, new.to(device=like.device, dtype=like.dtype))
        self.num_classes = num_classes

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @property
    def default_cfg(self) -> dict[str, Any]:  # timm's older name
        return self.pretrained_cfg

    # -- per-stage features ---------------------------------------------------------------------
    def _timm_backbone(self) -> Optional[nn.Module]:
        bb = getattr(self, "backbone", None)
        ok = bb is not None and hasattr(bb, "forward_intermediates") and hasattr(bb, "feature_info")
        return bb if ok else None

    def stage_info(self) -> list[dict[str, Any]]:
        """One dict per backbone stage: ``num_chs``, ``reduction`` (spatial), ``module``.
        Default: a timm ``self.backbone``'s own ``feature_info``."""
        bb = self._timm_backbone()
        if bb is None:
            raise NotImplementedError(f"{type(self).__name__} does not describe its stages")
        return [dict(d, module=f"backbone.{d['module']}") for d in bb.feature_info]

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output: on (B*T, C, H, W) frames for 2D families, on the clip for 3D.
        Default: a timm ``self.backbone``'s ``forward_intermediates``."""
        bb = self._timm_backbone()
        if bb is None:
            raise NotImplementedError(f"{type(self).__name__} does not expose its stages")
        n = len(bb.feature_info)
        return list(bb.forward_intermediates(x, indices=n, intermediates_only=True))

    @property
    def feature_info(self) -> Union[FeatureInfo, list[dict[str, Any]]]:
        """timm's ``feature_info``: a ``FeatureInfo`` for ``features_only`` models, else the list
        of stage dicts."""
        if self._feature_info is not None:
            return self._feature_info
        return self.stage_info()

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, T, H, W) -> every backbone stage as (B, C_s, T_s, h_s, w_s), time axis kept."""
        self.check_input(x)
        if self.is_3d:
            return list(self.stage_maps(x))
        b, t = x.shape[0], x.shape[2]
        maps = self.stage_maps(self.frames(x))
        return [m.reshape(b, t, *m.shape[1:]).transpose(1, 2) for m in maps]

    def as_feature_extractor(self, out_indices: Optional[Sequence[int]] = None
                             ) -> VideoRecognizer:
        """Turn this model (in place) into timm's ``features_only`` form: ``forward`` returns the
        listed stages, the heads are dropped, ``feature_info`` is a ``FeatureInfo``."""
        info = self.stage_info()
        if out_indices is None:
            out_indices = tuple(range(len(info)))
        out_indices = tuple(i % len(info) if isinstance(i, int) and -len(info) <= i < 0 else i
                            for i in out_indices)
        if not out_indices or any(not isinstance(i, int) or isinstance(i, bool)
                                  or i not in range(len(info)) for i in out_indices):
            raise ValueError(f"{type(self).__name__}: out_indices must name stages "
                             f"0..{len(info) - 1}, got {out_indices!r}")
        for name in self.head_names:
            setattr(self, name, nn.Identity())
        self.features_only = True
        self.feature_out_indices = out_indices
        self._feature_info = FeatureInfo([dict(d) for d in info], out_indices)
        return self

    # -- forward ------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        """One clear error for anything but a (B, C, T, H, W) float view this model can take."""
        name = type(self).__name__
        check_video_input(x, self.in_chans, name)
        if min(x.shape) == 0:
            raise ValueError(f"{name} expects input of shape (B, C={self.in_chans}, T, H, W) "
                             f"with every size >= 1 (T >= 1 frame), got {tuple(x.shape)}")
        self.check_segments(x)

    def check_segments(self, x: torch.Tensor) -> None:
        n, t = self.num_segments, x.shape[2]
        if self.segments_divide_input and n is not None and t % n:
            raise ValueError(
                f"{type(self).__name__} was built with num_segments={n} (the shift groups "
                f"{n} frames), so T must be a multiple of it; got input {tuple(x.shape)} "
                "(B, C, T, H, W)")

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B*T, C, H, W) for 2D backbones; tells shifts the view length."""
        b, c, t, h, w = x.shape
        set_num_segments(self, t)
        return x.transpose(1, 2).reshape(b * t, c, h, w)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, list[torch.Tensor]]:
        if self.features_only:
            maps = self.forward_stages(x)
            return [maps[i] for i in self.feature_out_indices]
        return self.forward_head(self.forward_features(x))
