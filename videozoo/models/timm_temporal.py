"""TSN and TSM over any timm 2D backbone: ``create_model("tsm_convnext_tiny")``.

- TSN (Wang et al., ECCV 2016, https://arxiv.org/abs/1608.00859): every frame through the
  backbone, timm's own pooling (``forward_head(pre_logits=True)``), features averaged over the
  view's frames, one FC. Works on every timm model, ViTs included.
- TSM (Lin et al., ICCV 2019, https://arxiv.org/abs/1811.08383): the same, with 1/``shift_div``
  of the channels shifted one frame each way at the start of every residual branch ("residual
  shift", the paper's choice for residual networks), so the shortcut keeps the unshifted
  features; the FC is applied per frame and the logits averaged, as MMAction2's ``TSMHead`` does.

Names: ``tsm_<timm name>`` / ``tsn_<timm name>`` resolve dynamically for every name in
``timm.list_models()`` (a registered videozoo name wins: ``tsm_r50`` is MMAction2's ResNet-50
TSM, ``tsm_resnet50`` this module's over timm ``resnet50``); the explicit form is
``create_model("tsm_timm", backbone="convnext_tiny")``. ``pretrained_backbone=True`` loads timm's
ImageNet weights (timm's own download) before the shifts are inserted.

Where the shift goes, per timm block (the first op of the residual branch):

=====================================  ==========================================
ResNet ``BasicBlock`` / ``Bottleneck``  ``conv1``
RegNet ``Bottleneck`` / ``PreBottleneck``  ``conv1``
ConvNeXt ``ConvNeXtBlock``               ``conv_dw``
EfficientNet/MobileNet ``InvertedResidual`` (with skip)  ``conv_pw``
``DepthwiseSeparableConv`` (with skip)   ``conv_dw``
``EdgeResidual`` (with skip)             ``conv_exp``
=====================================  ==========================================

Blocks without a residual are left alone (as MMAction2 does for MobileNetV2); a backbone with
none of these blocks (ViT, Swin, ...) is refused for TSM with an error naming it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import timm
import torch
from timm.models import convnext, regnet, resnet
from timm.models._efficientnet_blocks import (
    DepthwiseSeparableConv,
    EdgeResidual,
    InvertedResidual,
)
from torch import nn

from .._registry import register_model
from .base import VideoRecognizer, check_positive_int, make_classifier
from .layers import TemporalShift

__all__ = ["TimmTemporal", "insert_residual_shifts", "residual_branch_entry", "tsm_timm",
           "tsn_timm"]

TEMPORAL_KINDS = ("tsn", "tsm")

# block class -> the attribute holding the first op of its residual branch
_SHIFT_SITES: tuple[tuple[type, str, bool], ...] = (  # (class, attribute, needs has_skip)
    (resnet.BasicBlock, "conv1", False),
    (resnet.Bottleneck, "conv1", False),
    (regnet.Bottleneck, "conv1", False),
    (regnet.PreBottleneck, "conv1", False),
    (convnext.ConvNeXtBlock, "conv_dw", False),
    (InvertedResidual, "conv_pw", True),
    (DepthwiseSeparableConv, "conv_dw", True),
    (EdgeResidual, "conv_exp", True),
)
SUPPORTED_BLOCKS = ", ".join(f"{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}"
                             for c, _, _ in _SHIFT_SITES)


def residual_branch_entry(block: nn.Module) -> Optional[str]:
    """The attribute to shift in ``block`` (a timm residual block), or None (not one, or a block
    whose residual is off, e.g. a strided inverted residual)."""
    for cls, attr, needs_skip in _SHIFT_SITES:
        if type(block) is cls:
            if needs_skip and not getattr(block, "has_skip", False):
                return None
            return attr
    return None


def insert_residual_shifts(net: nn.Module, name: str, shift_div: int = 8,
                           fixed_segments: Optional[int] = None) -> list[str]:
    """Wrap the first op of every residual branch of ``net`` in a ``TemporalShift``.

    Returns the module paths of the shift wrappers; raises ValueError naming ``name`` when there is
    no residual block it knows how to shift.
    """
    shifted = []
    for path, block in list(net.named_modules()):
        attr = residual_branch_entry(block)
        if attr is None:
            continue
        setattr(block, attr, TemporalShift(getattr(block, attr), shift_div, fixed_segments))
        shifted.append(f"{path}.{attr}")
    if not shifted:
        kinds = sorted({type(m).__name__ for m in net.modules() if "Block" in type(m).__name__})
        found = f" (its blocks: {', '.join(kinds)})" if kinds else ""
        raise ValueError(
            f"TSM cannot place a residual shift in timm backbone {name!r}{found}: no residual "
            f"block it knows ({SUPPORTED_BLOCKS}). Use TSN (tsn_{name}) for this backbone.")
    return shifted


class ConsensusHead(nn.Module):
    """Pooled per-frame features (B, T, F) -> (B, num_classes).

    ``'feature'`` consensus (TSN) averages the features over T, then one FC; ``'logit'``
    consensus (TSM) applies the FC per frame and averages the logits. Dropout first, as
    MMAction2's heads do; with ``num_classes=0`` both return the averaged features.
    """

    def __init__(self, num_features: int, num_classes: int, consensus: str, dropout: float,
                 init_std: float):
        super().__init__()
        self.in_features = num_features
        self.consensus = consensus
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = make_classifier(num_features, num_classes, init_std)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.consensus == "feature":
            x = self.drop(x.mean(dim=1))
            return x if pre_logits else self.fc(x)
        x = self.drop(x)
        return x.mean(dim=1) if pre_logits else self.fc(x).mean(dim=1)


class TimmTemporal(VideoRecognizer):
    """TSN or TSM over a timm 2D model.

    Args:
        backbone: any ``timm.list_models()`` name (TSM: one with residual blocks, see the module
            docstring).
        kind: ``'tsn'`` or ``'tsm'``.
        num_classes: classifier outputs (0: pooled features).
        in_chans: input channels (timm adapts the stem, also of pretrained weights).
        num_segments: TSM: pins the shift group (T must be a multiple); None follows the input's
            T. TSN: recorded only.
        shift_div: TSM: 1/shift_div of the channels move each way (8).
        dropout: head dropout (TSN 0.4, TSM 0.5 by default, MMAction2's values).
        init_std: FC init std (TSN 0.01, TSM 0.001).
        pretrained_backbone: timm's ImageNet weights for the backbone (timm downloads them).
        backbone_kwargs: more ``timm.create_model`` kwargs (``drop_path_rate``...).
    """

    def __init__(self, backbone: str, kind: str = "tsm", num_classes: int = 400,
                 in_chans: int = 3, num_segments: Optional[int] = None, shift_div: int = 8,
                 dropout: Optional[float] = None, init_std: Optional[float] = None,
                 pretrained_backbone: bool = False,
                 backbone_kwargs: Optional[Mapping[str, Any]] = None):
        super().__init__()
        if kind not in TEMPORAL_KINDS:
            raise ValueError(f"kind must be one of {TEMPORAL_KINDS}, got {kind!r}")
        if not isinstance(backbone, str) or not timm.is_model(backbone):
            raise ValueError(f"unknown timm backbone {backbone!r}; see timm.list_models()")
        self.kind = kind
        self.backbone_name = backbone
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_segments = check_positive_int(num_segments, "num_segments", allow_none=True)
        self.segments_divide_input = kind == "tsm"
        self.classifier_init_std = init_std if init_std is not None else (
            0.001 if kind == "tsm" else 0.01)
        self.backbone = timm.create_model(backbone, pretrained=pretrained_backbone,
                                          num_classes=0, in_chans=in_chans,
                                          **dict(backbone_kwargs or {}))
        self.shift_paths: list[str] = []  # backbone module paths of the TemporalShift wrappers
        if kind == "tsm":
            self.shift_div = check_positive_int(shift_div, "shift_div")
            self.shift_paths = insert_residual_shifts(self.backbone, backbone, shift_div,
                                                         self.num_segments)
        # the width of timm's pre-logits (MobileNetV3: after its post-pool conv_head)
        self.num_features = (getattr(self.backbone, "head_hidden_size", None)
                             or self.backbone.num_features)
        if dropout is None:
            dropout = 0.5 if kind == "tsm" else 0.4
        self.head = ConsensusHead(self.num_features, num_classes,
                                  "logit" if kind == "tsm" else "feature", dropout,
                                  self.classifier_init_std)
        timm_cfg = self.backbone.pretrained_cfg
        self.pretrained_cfg = {
            "architecture": f"{kind}_{backbone}", "backbone": backbone, "in_chans": in_chans,
            "modality": "rgb", "num_classes": num_classes,
            # timm normalises x/255; videozoo's mean/std act on 0..255 pixel values
            "mean": tuple(255 * m for m in timm_cfg.get("mean", (0.485, 0.456, 0.406))),
            "std": tuple(255 * s for s in timm_cfg.get("std", (0.229, 0.224, 0.225))),
            "input_size": timm_cfg.get("input_size"),
        }

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        super().set_grad_checkpointing(enable)
        self.backbone.set_grad_checkpointing(enable)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> timm's per-frame ``forward_features`` output, (B, T, ...)."""
        self.check_input(x)
        b, t = x.shape[0], x.shape[2]
        feats = self.backbone.forward_features(self.frames(x))
        return feats.reshape(b, t, *feats.shape[1:])

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        b, t = x.shape[:2]
        pooled = self.backbone.forward_head(x.flatten(0, 1), pre_logits=True)
        return self.head(pooled.reshape(b, t, -1), pre_logits=pre_logits)

    # stage_info / stage_maps: VideoRecognizer's defaults for a timm ``self.backbone``

    # -- MMAction2 layout (1.x ``backbone=dict(type='timm.<name>')``) ---------------------------
    def _shift_prefixes(self) -> list[str]:
        return [f"backbone.{p}.net." for p in self.shift_paths]

    def export_mmaction_state_dict(self) -> dict[str, torch.Tensor]:
        """MMAction2 keys: ``backbone.<timm key>`` (the shift wrapper's ``.net`` dropped) and
        ``cls_head.fc_cls.*``."""
        prefixes = self._shift_prefixes()
        out = {}
        for k, v in self.state_dict().items():
            for p in prefixes:
                if k.startswith(p):
                    k = p[:-len("net.")] + k[len(p):]
                    break
            if k.startswith("head.fc."):
                k = "cls_head.fc_cls." + k[len("head.fc."):]
            out[k] = v
        return out

    def convert_mmaction_state_dict(self, sd: Mapping[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        """Inverse of :meth:`export_mmaction_state_dict`; unknown keys pass through."""
        plain = [p[:-len("net.")] for p in self._shift_prefixes()]
        out = {}
        for k, v in sd.items():
            for p in plain:
                if k.startswith(p):
                    k = p + "net." + k[len(p):]
                    break
            if k.startswith("cls_head.fc_cls."):
                k = "head.fc." + k[len("cls_head.fc_cls."):]
            out[k] = v
        return out


@register_model(family="tsm", title="TSM, any timm backbone")
def tsm_timm(backbone: str = "resnet50", num_classes: int = 400, **kwargs: Any) -> TimmTemporal:
    """TSM over the timm model ``backbone`` (residual shift); see the module docstring."""
    return TimmTemporal(backbone, "tsm", num_classes=num_classes, **kwargs)


@register_model(family="tsn", title="TSN, any timm backbone")
def tsn_timm(backbone: str = "resnet50", num_classes: int = 400, **kwargs: Any) -> TimmTemporal:
    """TSN over the timm model ``backbone`` (any timm model)."""
    return TimmTemporal(backbone, "tsn", num_classes=num_classes, **kwargs)


def _curated(kind: str, backbone: str) -> None:
    def entrypoint(num_classes: int = 400, **kwargs: Any) -> TimmTemporal:
        return TimmTemporal(backbone, kind, num_classes=num_classes, **kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = f"{kind}_{backbone}"
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = f"{kind.upper()} over timm ``{backbone}`` (``{kind}_timm`` shortcut)."
    register_model(family=kind, title=f"{kind.upper()}, timm {backbone}")(entrypoint)
    globals()[entrypoint.__name__] = entrypoint


# A handful that list_models() shows; every other tsm_/tsn_<timm name> resolves on demand.
CURATED = (("tsm", "convnext_tiny"), ("tsn", "convnext_tiny"), ("tsm", "efficientnet_b0"),
           ("tsm", "regnetx_002"))
for _kind, _backbone in CURATED:
    _curated(_kind, _backbone)
