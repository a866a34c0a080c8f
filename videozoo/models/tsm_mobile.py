"""TSM on mobile backbones: MobileNetV2 and MobileOne-S4, numerically identical to MMAction2.

- TSM: `Temporal Shift Module for Efficient Video Understanding` (Lin et al., ICCV 2019),
  https://arxiv.org/abs/1811.08383
- MobileNetV2: `Inverted Residuals and Linear Bottlenecks` (Sandler et al., CVPR 2018),
  https://arxiv.org/abs/1801.04381
- MobileOne: `An Improved One millisecond Mobile Backbone` (Vasu et al., CVPR 2023),
  https://arxiv.org/abs/2206.04040

The backbones are timm's ``mobilenetv2_100`` and ``mobileone_s4``, whose blocks compute what
MMAction2's ``MobileNetV2TSM`` and mmpretrain's ``MobileOne`` compute (same convs, BN eps 1e-5,
ReLU6 / ReLU, SE with a ReLU squeeze to ``channels // 16`` and a sigmoid gate, symmetric padding).
The only difference is the order in which a train-form MobileOne block adds its branches (timm:
scale, kxk, identity; mmpretrain: identity, scale, kxk), about 1e-6 relative; the fused (deploy)
weights are summed in the same order by both and agree bit for bit.

Where the shift goes, as in MMAction2:

- MobileNetV2: before the expansion 1x1 conv of every inverted residual block that has one and
  keeps its residual (10 blocks); the residual itself sees unshifted features.
- MobileOne-S4: before every block, the stem included (its 3 input channels give a fold of 0, so
  that shift is a no-op). The whole block is wrapped so it can be fused into one conv.
  MMAction2's 1x1x16 config keeps the backbone's ``num_segments=8`` while the head averages 16
  frames, so the shift works on two independent groups of 8 frames. ``shift_segments=8`` (the
  default of ``tsm_mobileone_s4``) reproduces that; ``shift_segments=None`` shifts over the whole
  view instead (a different model: MMAction2 weights were not trained that way).
"""
from __future__ import annotations

import re
from typing import Any, Optional

import timm
import torch
from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual
from timm.models.byobnet import MobileOneBlock
from torch import nn

from .._checkpoint import CheckpointError
from .._registry import register_model
from .base import VideoRecognizer, check_positive_int
from .heads import TSMHead
from .layers import (
    Consume,
    TemporalShift,
    add_unshifted_,
    consumable_shift,
    run_blocks,
    shift_for_good,
)

__all__ = ["TSMMobileNetV2", "TSMMobileOne", "tsm_mobilenetv2", "tsm_mobileone_s4"]

MMACTION_MEAN = (123.675, 116.28, 103.53)
MMACTION_STD = (58.395, 57.12, 57.375)


def _inverted_residual_consuming(prev: nn.Module, block: nn.Module, x: torch.Tensor
                                 ) -> Optional[torch.Tensor]:
    """timm ``InvertedResidual.forward`` (with skip) with ``conv_pw``'s shift done in place and
    the skip read through it (see ``resnet.run_stage``)."""
    if type(block) is not InvertedResidual or not block.has_skip \
            or getattr(block, "conv_s2d", None) is not None:
        return None
    shift = block.conv_pw
    fold = consumable_shift(x, shift, prev, block)
    if not fold:
        return None
    boundary = shift_for_good(x, shift, fold)
    y = block.bn2(block.conv_dw(block.bn1(shift.net(x))))
    y = block.bn3(block.conv_pwl(block.se(block.aa(y))))
    return add_unshifted_(block.drop_path(y), x, boundary, shift.num_segments, fold)


def _shifted_block_consuming(prev: nn.Module, shift: nn.Module, x: torch.Tensor
                             ) -> Optional[torch.Tensor]:
    """A whole block behind a ``TemporalShift`` (MobileOne): shift in place, never restore."""
    fold = consumable_shift(x, shift, prev, shift)
    if not fold:
        return None
    shift_for_good(x, shift, fold)
    return shift.net(x)


_UNSET: Any = object()  # "not given", so num_segments can stand in for shift_segments


def _check_segments(value: Optional[int], name: str) -> Optional[int]:
    return check_positive_int(value, name, allow_none=True)


def _shift_segments(shift_segments: Optional[int], num_segments: Optional[int],
                    default: Optional[int]) -> Optional[int]:
    """``num_segments`` is MMAction2's backbone ``num_segments``: the shift group, an alias of
    ``shift_segments`` (the name every videozoo architecture accepts)."""
    num_segments = _check_segments(num_segments, "num_segments")
    if num_segments is None:
        return default if shift_segments is _UNSET else shift_segments
    if shift_segments is not _UNSET and shift_segments != num_segments:
        raise ValueError(f"num_segments={num_segments} and shift_segments={shift_segments} "
                         "disagree; they name the same thing (the shift group), pass one")
    return num_segments


def _tap_stages(stages: list[list[nn.Module]], x: torch.Tensor, use_checkpoint: bool,
                consume: Optional[Consume] = None) -> list[torch.Tensor]:
    """Run groups of blocks in order and keep each group's output (which the next group's
    first block therefore must not consume)."""
    outs = []
    for blocks in stages:
        x = run_blocks(blocks, x, use_checkpoint, consume)
        outs.append(x)
    return outs


def _map_state_keys(keys: list[str], module_map: dict[str, str], arch: str) -> dict[str, str]:
    """videozoo key -> MMAction2 key for every key of a state dict, through a module-path map.

    Raises if a key's module has no MMAction2 name or two keys would share one (the map must be
    a bijection for the export to be the exact inverse of the conversion).
    """
    out: dict[str, str] = {}
    for key in keys:
        module, _, leaf = key.rpartition(".")
        if module not in module_map:
            raise RuntimeError(f"{arch}: no MMAction2 name for {key!r}")
        out[key] = f"{module_map[module]}.{leaf}"
    if len(set(out.values())) != len(out):
        raise RuntimeError(f"{arch}: the MMAction2 key map is not one-to-one")
    return out


class _MobileTSMBase(VideoRecognizer):
    """What both mobile TSMs share: frames in, TSM head out, MMAction2 key maps."""

    classifier_init_std = 0.001
    backbone: nn.Module

    def __init__(self, num_classes: int, in_chans: int, shift_segments: Optional[int]) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.shift_segments = _check_segments(shift_segments, "shift_segments")
        self.num_segments = self.shift_segments
        self.segments_divide_input = True
        self.pretrained_cfg = {"mean": MMACTION_MEAN, "std": MMACTION_STD, "in_chans": in_chans,
                               "num_classes": num_classes}

    def _init_head(self, dropout: float) -> None:
        self.num_features = self.backbone.num_features
        self.head = TSMHead(self.num_features, self.num_classes, dropout=dropout,
                            init_std=self.classifier_init_std)

    # -- forward ------------------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in backward (as timm does, BatchNorm running
        statistics in train mode are then updated by the recomputation too)."""
        super().set_grad_checkpointing(enable)
        self.backbone.grad_checkpointing = enable

    def check_segments(self, x: torch.Tensor) -> None:
        t = x.shape[2]
        if self.shift_segments is not None and t % self.shift_segments:
            raise ValueError(
                f"{type(self).__name__} shifts in groups of shift_segments={self.shift_segments} "
                f"frames (as the MMAction2 config does), so T must be a multiple of it; got "
                f"input {tuple(x.shape)} (B, C, T, H, W). Pass shift_segments=None to shift over "
                "the whole view."
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> per-frame feature maps (B, T, C', h, w)."""
        self.check_input(x)
        b, _, t = x.shape[:3]
        feats = self.backbone(self.frames(x))
        return feats.reshape(b, t, *feats.shape[1:])

    def stage_info(self) -> list[dict[str, Any]]:
        return [dict(d, module=f"backbone.{d['module']}") for d in self.backbone.stage_info]

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.stage_maps(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    # -- MMAction2 checkpoints ----------------------------------------------------------------
    def _mmaction_module_map(self) -> dict[str, str]:
        raise NotImplementedError

    def _mmaction_key_map(self) -> dict[str, str]:
        module_map = self._mmaction_module_map()
        module_map["head.fc"] = "cls_head.fc_cls"
        return _map_state_keys(list(self.state_dict()), module_map, type(self).__name__)

    def convert_mmaction_state_dict(self, state_dict: dict[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        """Rename MMAction2 keys (``backbone.*``, ``cls_head.fc_cls.*``) to this model's keys.

        Keys this model does not have pass through unchanged, so the strict loader lists them.
        """
        to_ours = {mm: ours for ours, mm in self._mmaction_key_map().items()}
        return {to_ours.get(k, k): v for k, v in state_dict.items()}

    def export_mmaction_state_dict(self) -> dict[str, torch.Tensor]:
        """This model's weights under MMAction2's key names (the inverse of the conversion)."""
        state = self.state_dict()
        return {mm: state[ours] for ours, mm in self._mmaction_key_map().items()}


# ------------------------------------------------------------------------------------------------
# MobileNetV2
# ------------------------------------------------------------------------------------------------
class MobileNetV2TSMBackbone(nn.Module):
    """timm ``mobilenetv2_100`` without its classifier, shifted before the expansion convs."""

    def __init__(self, in_chans: int = 3, shift_div: int = 8,
                 shift_segments: Optional[int] = None, is_shift: bool = True) -> None:
        super().__init__()
        net = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0,
                                global_pool="", in_chans=in_chans)
        self.conv_stem = net.conv_stem
        self.bn1 = net.bn1
        self.blocks = net.blocks
        self.conv_head = net.conv_head
        self.bn2 = net.bn2
        self.num_features = net.num_features
        self.stage_info = [dict(d) for d in net.feature_info]  # blocks.0/1/2/4/6
        self.grad_checkpointing = False
        for stage in self.blocks:
            for block in stage:
                if is_shift and isinstance(block, InvertedResidual) and block.has_skip:
                    block.conv_pw = TemporalShift(block.conv_pw, shift_div=shift_div,
                                                  fixed_segments=shift_segments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv_stem(x))
        blocks = [block for stage in self.blocks for block in stage]
        x = run_blocks(blocks, x, self.grad_checkpointing and torch.is_grad_enabled(),
                        _inverted_residual_consuming)
        return self.bn2(self.conv_head(x))

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of the stages timm's ``feature_info`` lists (strides 2, 4, 8, 16, 32)."""
        taps = [int(d["module"].split(".")[1]) for d in self.stage_info]
        groups, start = [], 0
        for tap in taps:
            groups.append([b for stage in self.blocks[start:tap + 1] for b in stage])
            start = tap + 1
        x = self.bn1(self.conv_stem(x))
        return _tap_stages(groups, x, self.grad_checkpointing and torch.is_grad_enabled(),
                           _inverted_residual_consuming)


class TSMMobileNetV2(_MobileTSMBase):
    """TSM with a MobileNetV2 backbone (MMAction2 ``MobileNetV2TSM`` + ``TSMHead``).

    Args:
        num_classes: classifier outputs.
        in_chans: input channels.
        dropout: dropout before the classifier (MMAction2's config: 0.5).
        shift_div: 1/shift_div of the channels move forward, as many backward.
        shift_segments: frames per shift group; None uses the input's T (MMAction2's configs
            give the backbone and head the same segment count, so this matches them).
        is_shift: False builds the same network without shifts (MMAction2's ``is_shift``): a
            TSN-style, frame-order-blind baseline whose weights are the shifted model's (keys
            lose the shift wrapper's ``.net``).
        num_segments: MMAction2's backbone ``num_segments``, the same as ``shift_segments``.
    """

    def __init__(self, num_classes: int = 400, in_chans: int = 3, dropout: float = 0.5,
                 shift_div: int = 8, shift_segments: Optional[int] = _UNSET,
                 is_shift: bool = True, num_segments: Optional[int] = None) -> None:
        shift_segments = _shift_segments(shift_segments, num_segments, None)
        super().__init__(num_classes, in_chans, shift_segments)
        self.is_shift = is_shift
        self.backbone = MobileNetV2TSMBackbone(in_chans, shift_div, self.shift_segments,
                                               is_shift)
        self._init_head(dropout)

    def _mmaction_module_map(self) -> dict[str, str]:
        bb = self.backbone
        out = {"backbone.conv_stem": "backbone.conv1.conv", "backbone.bn1": "backbone.conv1.bn",
               "backbone.conv_head": "backbone.conv2.conv", "backbone.bn2": "backbone.conv2.bn"}
        for s, stage in enumerate(bb.blocks):
            for b, block in enumerate(stage):
                ours, mm = f"backbone.blocks.{s}.{b}", f"backbone.layer{s + 1}.{b}.conv"
                if isinstance(block, DepthwiseSeparableConv):  # expand ratio 1: dw, pw-linear
                    names = {"conv_dw": "0.conv", "bn1": "0.bn", "conv_pw": "1.conv",
                             "bn2": "1.bn"}
                else:
                    net = ".net" if isinstance(block.conv_pw, TemporalShift) else ""
                    names = {f"conv_pw{net}": f"0{net}.conv", "bn1": f"0{net}.bn",
                             "conv_dw": "1.conv", "bn2": "1.bn", "conv_pwl": "2.conv",
                             "bn3": "2.bn"}
                out.update({f"{ours}.{k}": f"{mm}.{v}" for k, v in names.items()})
        return out


# ------------------------------------------------------------------------------------------------
# MobileOne-S4
# ------------------------------------------------------------------------------------------------
# timm block member -> mmpretrain block member (inside one MobileOneBlock)
_MOBILEONE_RENAMES = (
    (r"conv_kxk\.(\d+)\.conv", r"branch_conv_list.\1.conv"),
    (r"conv_kxk\.(\d+)\.bn", r"branch_conv_list.\1.norm"),
    (r"conv_scale\.conv", "branch_scale.conv"),
    (r"conv_scale\.bn", "branch_scale.norm"),
    (r"identity", "branch_norm"),
    (r"attn\.fc1", "se.conv1.conv"),
    (r"attn\.fc2", "se.conv2.conv"),
    (r"reparam_conv", "branch_reparam"),
)


def _mobileone_member(name: str) -> Optional[str]:
    for pattern, repl in _MOBILEONE_RENAMES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, repl, name)
    return None


@torch.no_grad()
def _fuse_mobileone_block(block: MobileOneBlock) -> None:
    """Fuse a train-form block into its single conv (timm's fusion, which sums the branch
    kernels in mmpretrain's order: kxk, scale, identity). No-op on a fused block."""
    block.reparameterize()
    if hasattr(block, "id_tensor"):  # timm caches the identity kernel on the block
        del block.id_tensor


class MobileOneTSMBackbone(nn.Module):
    """timm ``mobileone_s4`` without its classifier, every block (stem included) shifted."""

    def __init__(self, in_chans: int = 3, shift_div: int = 8,
                 shift_segments: Optional[int] = 8) -> None:
        super().__init__()
        net = timm.create_model("mobileone_s4", pretrained=False, num_classes=0, global_pool="",
                                in_chans=in_chans)
        if not isinstance(net.final_conv, nn.Identity):
            raise RuntimeError("timm mobileone_s4 changed: expected no final_conv")
        self.stem = TemporalShift(net.stem, shift_div=shift_div, fixed_segments=shift_segments)
        self.stages = net.stages
        for stage in self.stages:
            for i, block in enumerate(stage):
                stage[i] = TemporalShift(block, shift_div=shift_div,
                                         fixed_segments=shift_segments)
        self.num_features = net.num_features
        # timm lists stem, stages.0-2 and final_conv (an Identity here): use stages.3 for it
        self.stage_info = [dict(d) for d in net.feature_info]
        self.stage_info[-1]["module"] = f"stages.{len(self.stages) - 1}"
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        blocks = [block for stage in self.stages for block in stage]
        return run_blocks(blocks, x, self.grad_checkpointing and torch.is_grad_enabled(),
                           _shifted_block_consuming, source=self.stem)

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stem and every stage (strides 2, 4, 8, 16, 32)."""
        x = self.stem(x)
        groups = [list(stage) for stage in self.stages]
        return [x] + _tap_stages(groups, x, self.grad_checkpointing and torch.is_grad_enabled(),
                                 _shifted_block_consuming)

    def reparameterize(self) -> None:
        for m in self.modules():
            if isinstance(m, MobileOneBlock):
                _fuse_mobileone_block(m)

    @property
    def is_deploy(self) -> bool:
        return all(m.reparam_conv is not None for m in self.modules()
                   if isinstance(m, MobileOneBlock))


class TSMMobileOne(_MobileTSMBase):
    """TSM with a MobileOne-S4 backbone (MMAction2 ``MobileOneTSM`` + ``TSMHead``).

    Args:
        num_classes: classifier outputs.
        in_chans: input channels.
        dropout: dropout before the classifier (MMAction2's config: 0.5).
        shift_div: 1/shift_div of the channels move forward, as many backward.
        shift_segments: frames per shift group. 8 reproduces MMAction2's 1x1x16 config (shift in
            two groups of 8 while the head averages all 16 frames); None uses the input's T.
        deploy: build the fused form (one conv per block), the layout of MMAction2's deploy
            config and of checkpoints written by its ``reparameterize_model.py``.
        num_segments: MMAction2's backbone ``num_segments``, the same as ``shift_segments``
            (not the head's frame count: the 1x1x16 config's backbone says 8).
    """

    def __init__(self, num_classes: int = 400, in_chans: int = 3, dropout: float = 0.5,
                 shift_div: int = 8, shift_segments: Optional[int] = _UNSET,
                 deploy: bool = False, num_segments: Optional[int] = None) -> None:
        shift_segments = _shift_segments(shift_segments, num_segments, 8)
        super().__init__(num_classes, in_chans, shift_segments)
        self.backbone = MobileOneTSMBackbone(in_chans, shift_div, self.shift_segments)
        if deploy:
            self.backbone.reparameterize()
        self._init_head(dropout)

    @property
    def deploy(self) -> bool:
        """True once every block is a single fused conv."""
        return self.backbone.is_deploy

    def reparameterize(self) -> TSMMobileOne:
        """Fuse every block's branches (and their BatchNorms) into one conv with bias.

        Same function at eval time (BatchNorm running statistics are folded in), fewer
        parameters, faster. Idempotent; afterwards the model exports MMAction2 deploy keys.
        """
        self.backbone.reparameterize()
        return self

    def convert_mmaction_state_dict(self, state_dict: dict[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        fused = any(".branch_reparam." in k for k in state_dict)
        branched = any(".branch_conv_list." in k for k in state_dict)
        if fused and not self.deploy:
            raise CheckpointError(
                "this is a re-parameterised (deploy) MobileOne checkpoint "
                "(backbone.*.branch_reparam.*); build the model with deploy=True")
        if branched and self.deploy:
            raise CheckpointError(
                "this is a train-form MobileOne checkpoint (backbone.*.branch_conv_list.*); "
                "build the model with deploy=False and call model.reparameterize() after loading")
        return super().convert_mmaction_state_dict(state_dict)

    def _mmaction_module_map(self) -> dict[str, str]:
        blocks = {"backbone.stem.net": "backbone.stage0.net"}
        for s, stage in enumerate(self.backbone.stages):
            for i in range(len(stage)):
                blocks[f"backbone.stages.{s}.{i}.net"] = f"backbone.stage{s + 1}.{i}.net"
        out = {}
        for ours, mm in blocks.items():
            for name, _ in self.get_submodule(ours).named_modules():
                member = _mobileone_member(name)
                if member is not None:
                    out[f"{ours}.{name}"] = f"{mm}.{member}"
        return out


# ------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------
@register_model
def tsm_mobilenetv2(num_classes: int = 400, **kwargs: Any) -> TSMMobileNetV2:
    """TSM MobileNetV2 (MMAction2 ``tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e``)."""
    return TSMMobileNetV2(num_classes=num_classes, **kwargs)


@register_model
def tsm_mobileone_s4(num_classes: int = 400, **kwargs: Any) -> TSMMobileOne:
    """TSM MobileOne-S4 (MMAction2 ``tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e``).

    ``deploy=True`` builds the fused form; ``shift_segments`` (default 8) is the shift group.
    """
    return TSMMobileOne(num_classes=num_classes, **kwargs)


# -- family facts (read by the data pipeline, param_groups, the cards; see videozoo._families) --
from .._families import describe_architecture  # noqa: E402

describe_architecture("tsm_mobilenetv2", family="tsm", title="TSM, MobileNetV2",
                      test=dict(crop="three", crop_size=256),
                      train_protocol=dict(epochs=100, lr_milestones=(40, 80), weight_decay=2e-5))
describe_architecture("tsm_mobileone_s4", family="tsm", title="TSM, MobileOne-S4",
                      test=dict(num_clips=16, crop="three", crop_size=256, num_segments=16),
                      train=dict(num_clips=16), train_protocol=dict(num_clips=16, weight_decay=2e-5))
