"""Temporal Pyramid Network (Yang et al., "Temporal Pyramid Network for Action Recognition",
CVPR 2020, https://arxiv.org/abs/2004.03548), as MMAction2 builds it on SlowOnly and TSM ResNet-50.

Pipeline for one view ``x`` of shape (B, C, T, H, W):

1. backbone -> (C3, C4): stage-3 (1024 ch, stride 16) and stage-4 (2048 ch, stride 32) features,
   both (B, C, T, h, w). The TSM variant runs a 2D ResNet on the B*T frames and folds the frames
   back into a time axis (MMAction2's ``fcn_test`` reshape).
2. neck (:class:`TPNNeck`): spatial modulation lifts C3 to C4's channels and size; temporal
   modulation (grouped temporal conv + temporal max-pool) rescales each level in time; a
   top-down pass (upsample + add) feeds level fusion 1, a bottom-up pass (downsample + add; in
   the "cascade" flow on top of the top-down sums) feeds level fusion 2; a 1x1x1 conv fuses both
   pyramids into 2048 channels.
3. head (:class:`TPNHead`): global 3D average pool -> dropout -> FC. MMAction2's ``fcn_test`` path
   (pool -> a 1x1x1 Conv3d ``new_cls`` copied from ``fc_cls``) is the same map, so only ``fc_cls``
   is kept; stale ``cls_head.new_cls.*`` copies in checkpoints are ignored.

Training adds an auxiliary classifier on C3 (:class:`TPNAuxHead`, MMAction2's ``neck.aux_head``,
loss weight 0.5); :meth:`TPNRecognizer.forward_train` returns its logits with the main ones.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

import torch
import torch.utils.checkpoint
from torch import nn

from .._registry import register_model
from .base import VideoRecognizer, check_positive_int, make_classifier
from .resnet import create_resnet_backbone, resnet_stage_info, videozoo_resnet_key_to_mmaction
from .resnet3d import ResNet3dSlowOnly, resnet3d_key_to_mmaction

__all__ = [
    "TPNAuxHead",
    "TPNHead",
    "TPNNeck",
    "TPNRecognizer",
    "TPNSlowOnly",
    "TPNTSM",
    "tpn_slowonly_r50",
    "tpn_tsm_r50",
]

Triple = tuple[int, int, int]


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------
class ConvBnAct3d(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> optional ReLU (MMAction2/mmcv ``ConvModule`` order)."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: Any = 1, stride: Any = 1,
                 padding: Any = 0, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv3d(in_chs, out_chs, kernel_size, stride, padding, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm3d(out_chs)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def _max_pool(scale: Sequence[int]) -> nn.Module:
    """MaxPool3d with kernel = stride = ``scale`` (ceil mode); a no-op pool becomes Identity."""
    scale = tuple(scale)
    if all(s == 1 for s in scale):
        return nn.Identity()
    return nn.MaxPool3d(scale, scale, 0, ceil_mode=True)


class TemporalModulation(nn.Module):
    """Grouped (3,1,1) temporal conv (no norm, no activation), then temporal max-pool."""

    def __init__(self, in_chs: int, out_chs: int, scale: int = 8, groups: int = 32):
        super().__init__()
        self.conv = nn.Conv3d(in_chs, out_chs, (3, 1, 1), padding=(1, 0, 0), groups=groups,
                              bias=False)
        self.pool = _max_pool((scale, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class TemporalDownsample(nn.Module):
    """Bottom-up step: (3,1,1) conv without norm/activation, then max-pool by ``scale``."""

    def __init__(self, chs: int, scale: Sequence[int] = (1, 1, 1)):
        super().__init__()
        self.conv = nn.Conv3d(chs, chs, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.pool = _max_pool(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class LevelFusionDownsample(ConvBnAct3d):
    """Max-pool first, then a grouped 1x1x1 ConvBnAct3d (MMAction2 ``DownSample``, 'before')."""

    def __init__(self, in_chs: int, out_chs: int, scale: Sequence[int] = (1, 1, 1),
                 groups: int = 32):
        super().__init__(in_chs, out_chs, 1, groups=groups)
        self.pool = _max_pool(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pool(x))


class LevelFusion(nn.Module):
    """Bring every level to ``mid_chs``, concatenate on channels, fuse with a 1x1x1 conv."""

    def __init__(self, in_chs: Sequence[int], mid_chs: Sequence[int], out_chs: int,
                 scales: Sequence[Sequence[int]]):
        super().__init__()
        self.downsamples = nn.ModuleList(
            LevelFusionDownsample(i, m, s) for i, m, s in zip(in_chs, mid_chs, scales))
        self.fusion_conv = ConvBnAct3d(sum(mid_chs), out_chs, 1)

    def forward(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fusion_conv(torch.cat([d(x) for d, x in zip(self.downsamples, levels)], 1))


class TPNNeck(nn.Module):
    """The TPN neck; defaults are the zoo configs' (identical for SlowOnly and TSM).

    Args:
        in_chs: channels of the backbone levels, lowest first (C3, C4).
        out_chs: channels of each temporally modulated level.
        spatial_out_chs: channels every level is lifted to by spatial modulation (stride-2
            (1,3,3) ConvBnAct3d, once per doubling); must equal the top level's channels.
        temporal_scales: temporal max-pool factor of each level's temporal modulation.
        upsample_scale: top-down nearest-upsampling factor between neighbouring levels.
        downsample_scale: bottom-up max-pool factor between neighbouring levels.
        fusion_out_chs: output channels of each level fusion.
        fusion_scales: max-pool factor applied to each level inside the level fusions.
        flow_type: 'cascade' (bottom-up starts from the top-down sums) or 'parallel'.
        fused_chs: output channels of the final pyramid fusion.
    """

    def __init__(self, in_chs: Sequence[int] = (1024, 2048), out_chs: int = 1024,
                 spatial_out_chs: int = 2048, temporal_scales: Sequence[int] = (8, 8),
                 upsample_scale: Sequence[int] = (1, 1, 1),
                 downsample_scale: Sequence[int] = (1, 1, 1), fusion_out_chs: int = 2048,
                 fusion_scales: Sequence[Sequence[int]] = ((1, 1, 1), (1, 1, 1)),
                 flow_type: str = "cascade", fused_chs: int = 2048):
        super().__init__()
        if flow_type not in ("cascade", "parallel"):
            raise ValueError(f"flow_type must be 'cascade' or 'parallel', got {flow_type!r}")
        num_levels = len(in_chs)
        if len(temporal_scales) != num_levels or len(fusion_scales) != num_levels:
            raise ValueError("temporal_scales and fusion_scales need one entry per level")
        if spatial_out_chs != in_chs[-1]:
            raise ValueError("spatial_out_chs must equal the top level's channels "
                             f"({in_chs[-1]}), got {spatial_out_chs}")
        self.in_chs = tuple(in_chs)
        self.flow_type = flow_type
        self.num_features = fused_chs

        self.spatial_modulation = nn.ModuleList()
        for chs in in_chs:
            doublings = (spatial_out_chs // chs).bit_length() - 1
            if doublings < 1:
                self.spatial_modulation.append(nn.Identity())
                continue
            self.spatial_modulation.append(nn.Sequential(*[
                ConvBnAct3d(chs * 2 ** k, chs * 2 ** (k + 1), (1, 3, 3), (1, 2, 2), (0, 1, 1))
                for k in range(doublings)
            ]))
        self.temporal_modulation = nn.ModuleList(
            TemporalModulation(spatial_out_chs, out_chs, s) for s in temporal_scales)
        self.upsample = nn.ModuleList(
            nn.Upsample(scale_factor=tuple(float(s) for s in upsample_scale), mode="nearest")
            for _ in range(num_levels - 1))
        self.downsample = nn.ModuleList(
            TemporalDownsample(out_chs, downsample_scale) for _ in range(num_levels - 1))
        self.level_fusion_1 = LevelFusion((out_chs,) * num_levels, (out_chs,) * num_levels,
                                          fusion_out_chs, fusion_scales)
        self.level_fusion_2 = LevelFusion((out_chs,) * num_levels, (out_chs,) * num_levels,
                                          fusion_out_chs, fusion_scales)
        self.pyramid_fusion = ConvBnAct3d(fusion_out_chs * 2, fused_chs, 1)
        self.init_weights()

    def init_weights(self) -> None:
        """MMAction2's TPN init: Xavier-uniform convs, BatchNorm weight 1 and bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.in_chs):
            raise ValueError(f"TPNNeck expects {len(self.in_chs)} feature maps (B, C, T, h, w) "
                             f"with channels {self.in_chs}, got {len(features)}")
        levels = [sm(x) for sm, x in zip(self.spatial_modulation, features)]
        temporal = [tm(x) for tm, x in zip(self.temporal_modulation, levels)]

        outs = list(temporal)
        for i in range(len(outs) - 1, 0, -1):  # top-down
            outs[i - 1] = outs[i - 1] + self.upsample[i - 1](outs[i])
        top_down = self.level_fusion_1(outs)

        if self.flow_type == "parallel":
            outs = list(temporal)
        for i in range(len(outs) - 1):  # bottom-up
            outs[i + 1] = outs[i + 1] + self.downsample[i](outs[i])
        bottom_up = self.level_fusion_2(outs)

        return self.pyramid_fusion(torch.cat([top_down, bottom_up], 1))


class TPNHead(nn.Module):
    """Global 3D average pool -> dropout -> FC (MMAction2 ``TPNHead``; its fcn-test ``new_cls``
    1x1x1 conv copies this FC, so both paths give the same logits)."""

    def __init__(self, num_features: int, num_classes: int, dropout: float = 0.5,
                 init_std: float = 0.01):
        super().__init__()
        self.in_features = num_features
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = make_classifier(num_features, num_classes, init_std)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.pool(x).flatten(1))
        return x if pre_logits else self.fc(x)


class TPNAuxHead(nn.Module):
    """Training-only classifier on C3: (1,3,3) stride-2 ConvBnAct3d doubling the channels ->
    global pool -> dropout 0.5 -> FC (MMAction2 ``neck.aux_head``)."""

    def __init__(self, in_chs: int, num_classes: int, dropout: float = 0.5,
                 init_std: float = 0.01):
        super().__init__()
        self.conv = nn.Conv3d(in_chs, in_chs * 2, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False)
        self.bn = nn.BatchNorm3d(in_chs * 2)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.in_features = in_chs * 2
        self.fc = make_classifier(in_chs * 2, num_classes, init_std)
        nn.init.xavier_uniform_(self.conv.weight)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(x)))
        return self.fc(self.drop(self.pool(x).flatten(1)))


# ------------------------------------------------------------------------------------------------
# MMAction2 <-> videozoo key names for the neck and heads (full keys, with prefixes)
# ------------------------------------------------------------------------------------------------
_NECK_TO_MM = [
    (re.compile(r"^neck\.spatial_modulation\.(\d+\.\d+\.(conv|bn)\..+)$"),
     r"neck.spatial_modulation.spatial_modulation.\1"),
    (re.compile(r"^neck\.temporal_modulation\.(\d+)\.conv\.weight$"),
     r"neck.temporal_modulation_ops.\1.conv.conv.weight"),
    (re.compile(r"^neck\.downsample\.(\d+)\.conv\.weight$"),
     r"neck.downsample_ops.\1.conv.conv.weight"),
    (re.compile(r"^neck\.(level_fusion_\d)\.downsamples\.(\d+)\.((conv|bn)\..+)$"),
     r"neck.\1.downsamples.\2.conv.\3"),
    (re.compile(r"^neck\.((level_fusion_\d\.fusion_conv|pyramid_fusion)\.(conv|bn)\..+)$"),
     r"neck.\1"),
    (re.compile(r"^aux_head\.conv\.weight$"), r"neck.aux_head.conv.conv.weight"),
    (re.compile(r"^aux_head\.bn\.(.+)$"), r"neck.aux_head.conv.bn.\1"),
    (re.compile(r"^aux_head\.fc\.(weight|bias)$"), r"neck.aux_head.fc.\1"),
    (re.compile(r"^head\.fc\.(weight|bias)$"), r"cls_head.fc_cls.\1"),
]
STALE_MMACTION_PREFIXES = ("cls_head.new_cls.",)


def tpn_key_to_mmaction(key: str, backbone_key_to_mm: Callable[[str], str]) -> str:
    """videozoo key of a TPN model -> MMAction2 key."""
    if key.startswith("backbone."):
        return "backbone." + backbone_key_to_mm(key[len("backbone."):])
    for pattern, repl in _NECK_TO_MM:
        new, n = pattern.subn(repl, key)
        if n:
            return new
    raise KeyError(f"no videozoo->MMAction2 TPN key mapping for {key!r}")


# ------------------------------------------------------------------------------------------------
# Recognizers
# ------------------------------------------------------------------------------------------------
class TPNRecognizer(VideoRecognizer):
    """Backbone (C3, C4) -> :class:`TPNNeck` -> :class:`TPNHead`, plus the training aux head.

    Subclasses pass the backbone and implement :meth:`forward_backbone` and the backbone's
    videozoo->MMAction2 key map :meth:`_backbone_key_to_mmaction` (the converter inverts it).
    """

    classifier_names = ("head.fc", "aux_head.fc")
    head_names = ("neck", "head", "aux_head")  # dropped by features_only (backbone stages)
    classifier_init_std = 0.01
    aux_loss_weight = 0.5  # MMAction2's aux_head_cfg loss_weight

    def __init__(self, backbone: nn.Module, num_classes: int = 400, in_chans: int = 3,
                 dropout: float = 0.5, init_std: float = 0.01,
                 aux_num_classes: Optional[int] = None,
                 neck_kwargs: Optional[dict[str, Any]] = None,
                 num_segments: Optional[int] = None):
        super().__init__()
        self.num_segments = check_positive_int(num_segments, "num_segments", allow_none=True)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.classifier_init_std = init_std
        self.backbone = backbone
        self.neck = TPNNeck(**(neck_kwargs or {}))
        self.num_features = self.neck.num_features
        self.head = TPNHead(self.num_features, num_classes, dropout, init_std)
        self.aux_head = TPNAuxHead(self.neck.in_chs[-2],
                                   num_classes if aux_num_classes is None else aux_num_classes,
                                   init_std=init_std)

    # -- forward --------------------------------------------------------------------------------
    def forward_backbone(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, C, T, H, W) -> backbone levels (C3, C4), each (B, C_l, T, h_l, w_l)."""
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> fused pyramid (B, 2048, ceil(T / 8), ceil(H / 32), ceil(W / 32))."""
        self.check_input(x)
        return self.neck(self.forward_backbone(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, aux_logits), both (B, num_classes), from one backbone pass.

        MMAction2 trains TPN with ``CE(logits) + aux_loss_weight * CE(aux_logits)``; the aux head
        sees the backbone's C3 output. ``forward`` returns the main logits only.
        """
        self.check_input(x)
        levels = self.forward_backbone(x)
        aux_logits = self.aux_head(levels[-2])
        return self.forward_head(self.neck(levels)), aux_logits

    # -- training behaviour ---------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute the backbone's activations in the backward pass instead of storing them
        (the backbone also applies ``frozen_stages`` / ``norm_eval`` in ``train()``)."""
        super().set_grad_checkpointing(enable)
        self.backbone.set_grad_checkpointing(enable)

    # -- MMAction2 checkpoints ------------------------------------------------------------------
    def _backbone_key_to_mmaction(self, key: str) -> str:
        raise NotImplementedError

    def _mmaction_key_map(self) -> dict[str, str]:
        """videozoo key -> MMAction2 key for every tensor of this model (one-to-one)."""
        mapping = {k: tpn_key_to_mmaction(k, self._backbone_key_to_mmaction)
                   for k in self.state_dict()}
        if len(set(mapping.values())) != len(mapping):
            raise RuntimeError(f"{type(self).__name__}: MMAction2 key map is not one-to-one")
        return mapping

    def convert_mmaction_state_dict(self, state_dict: Mapping[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        """MMAction2 keys (``backbone.*``, ``neck.*``, ``neck.aux_head.*``, ``cls_head.fc_cls.*``)
        -> videozoo keys. ``cls_head.new_cls.*`` (a stale fcn-test copy of ``fc_cls`` MMAction2
        saves after a validation pass) is dropped; any other unknown key is passed through
        unchanged so the strict loader names it."""
        from_mm = {v: k for k, v in self._mmaction_key_map().items()}
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            if key.startswith(STALE_MMACTION_PREFIXES):
                continue
            out[from_mm.get(key, key)] = value
        return out

    def export_mmaction_state_dict(self) -> dict[str, torch.Tensor]:
        """This model's weights under MMAction2 names; the inverse of the converter."""
        mapping = self._mmaction_key_map()
        return {mapping[k]: v for k, v in self.state_dict().items()}


class TPNSlowOnly(TPNRecognizer):
    """TPN on a ResNet3d-SlowOnly backbone: the clip goes through 3D convolutions whole
    (``num_segments`` is accepted and recorded; nothing in the network depends on it)."""

    is_3d = True

    def __init__(self, num_classes: int = 400, in_chans: int = 3,
                 layers: Sequence[int] = (3, 4, 6, 3), frozen_stages: int = -1,
                 norm_eval: bool = False, **kwargs: Any):
        backbone = ResNet3dSlowOnly(layers, in_chans=in_chans, out_indices=(2, 3),
                                    frozen_stages=frozen_stages, norm_eval=norm_eval)
        super().__init__(backbone, num_classes, in_chans, **kwargs)

    def forward_backbone(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.backbone(x)

    def stage_info(self) -> list[dict[str, Any]]:
        return [{"num_chs": 256 * 2 ** i, "reduction": 2 ** (i + 2), "module": f"backbone.layer{i + 1}"}
                for i in range(self.backbone.num_stages)]

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage of the 3D backbone (its ``forward`` returns only C3 and C4)."""
        return self.backbone.stage_outputs(x)

    def _backbone_key_to_mmaction(self, key: str) -> str:
        return resnet3d_key_to_mmaction(key)


class TPNTSM(TPNRecognizer):
    """TPN on a ResNet-50 TSM backbone: 2D convolutions with temporal shifts on the B*T frames;
    C3 and C4 are folded back to (B, C, T, h, w) before the neck (MMAction2's ``fcn_test``
    reshape with ``num_segs`` = frames per view). The shift groups the T frames of each view,
    or ``num_segments`` frames when given (MMAction2's backbone ``num_segments``)."""

    is_3d = False

    segments_divide_input = True  # when num_segments pins the shift group

    def __init__(self, num_classes: int = 174, in_chans: int = 3, depth: int = 50,
                 shift_div: int = 8, frozen_stages: int = -1, norm_eval: bool = False,
                 num_segments: Optional[int] = None, **kwargs: Any):
        num_segments = check_positive_int(num_segments, "num_segments", allow_none=True)
        backbone = create_resnet_backbone(depth, in_chans=in_chans, shift_div=shift_div,
                                          out_indices=(2, 3), frozen_stages=frozen_stages,
                                          norm_eval=norm_eval, fixed_segments=num_segments)
        super().__init__(backbone, num_classes, in_chans, num_segments=num_segments, **kwargs)

    def stage_info(self) -> list[dict[str, Any]]:
        return resnet_stage_info(self.backbone)

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.forward_stages(x, (0, 1, 2, 3))

    def forward_backbone(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b, t = x.shape[0], x.shape[2]
        outs = self.backbone.forward_stages(self.frames(x))
        # (B*T, C, h, w) -> (B, C, T, h, w)
        return tuple(y.reshape(b, t, *y.shape[1:]).transpose(1, 2).contiguous() for y in outs)

    def _backbone_key_to_mmaction(self, key: str) -> str:
        return videozoo_resnet_key_to_mmaction(key)


# ------------------------------------------------------------------------------------------------
# Entrypoints
# ------------------------------------------------------------------------------------------------
@register_model
def tpn_slowonly_r50(num_classes: int = 400, **kwargs: Any) -> TPNSlowOnly:
    """TPN, ResNet3d-SlowOnly-50 backbone (MMAction2 ``tpn_slowonly_r50``, 8x8x1 clips)."""
    return TPNSlowOnly(num_classes=num_classes, **kwargs)


@register_model
def tpn_tsm_r50(num_classes: int = 174, **kwargs: Any) -> TPNTSM:
    """TPN, ResNet-50 TSM backbone (shift_div 8, blockres; MMAction2 ``tpn_tsm_r50``, 1x1x8)."""
    return TPNTSM(num_classes=num_classes, **kwargs)


# -- family facts (read by the data pipeline, param_groups, the cards; see videozoo._families) --
from .._families import describe_architecture, register_family  # noqa: E402

register_family("tpn", title="TPN", optimizer="default",
                train=dict(crop="random_resized", color_jitter=True, resize=None),
                train_protocol=dict(epochs=150, lr=0.01, lr_milestones=(75, 125), clip_grad=40.0,
                                    note="Nesterov momentum",
                                    augment=dict(crop="random_resized", flip=True,
                                                 color_jitter=True)))
describe_architecture("tpn_slowonly_r50", title="TPN, SlowOnly ResNet-50", is_3d=True,
                      test=dict(clip_len=8, frame_interval=8, num_clips=10, crop="three",
                                crop_size=256),
                      train=dict(clip_len=8, frame_interval=8, num_clips=1),
                      train_protocol=dict(clip_len=8, frame_interval=8, num_clips=1))
describe_architecture("tpn_tsm_r50", title="TPN, TSM ResNet-50",
                      test=dict(num_clips=8, twice_sample=True, crop="three", crop_size=256,
                                num_segments=8, decoder="rawframes", filename_tmpl="{:05d}.jpg",
                                start_index=1),
                      train=dict(num_clips=8))
