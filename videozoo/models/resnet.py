"""ResNet-50/101 frame backbones for TSN and TSM, built on timm's ResNet.

MMAction2's ``ResNet`` (TSN) and ``ResNetTSM`` (TSM, He et al. 2016 / Lin et al., "TSM: Temporal
Shift Module for Efficient Video Understanding", ICCV 2019, https://arxiv.org/abs/1811.08383) are
torchvision-style ResNets whose convs and BNs live in mmcv ``ConvModule`` s. The backbone here is
timm's ``resnet50``/``resnet101`` (bit-identical maths), with MMAction2's additions:

- a ``TemporalShift`` around ``conv1`` of the shifted bottlenecks ("blockres"): every block of
  ResNet-50; only even-indexed blocks, in every stage, when layer3 has >= 23 blocks (ResNet-101);
- ``NonLocalWrapper`` s (a ``NonLocal3d`` after a block) at ``layer2.{0,2}``, ``layer3.{0,2,4}``;
- MMAction2's training flags ``frozen_stages``, ``norm_eval`` and ``partial_bn``.

Public names (imported by other families, e.g. TPN-TSM; keep them stable):

- ``create_resnet_backbone(depth, in_chans=3, shift_div=None, non_local=None, **kwargs)``
  -> ``ResNetBackbone``. ``ResNetBackbone(x)`` maps ``(N*T, C, H, W)`` frames to the outputs of
  ``out_indices`` (MMAction2 numbering: 0 = layer1 ... 3 = layer4; a tensor for one index, a tuple
  for several); ``forward_stages(x, out_indices)`` always returns a list. TPN-TSM uses
  ``out_indices=(2, 3)``.
- ``mmaction_resnet_key_to_videozoo(key)`` / ``videozoo_resnet_key_to_mmaction(key)``: one backbone
  key without prefix, in either direction (keys no rule knows are returned unchanged, so strict
  loading reports them).
- ``convert_mmaction_resnet_state_dict(sd, src_prefix, dst_prefix)`` /
  ``export_mmaction_resnet_state_dict(sd, src_prefix, dst_prefix)``: the same over a state dict,
  renaming keys under ``src_prefix`` and passing the others through untouched.
- ``ResNetRecognizer``: the shared TSN/TSM recognizer (backbone ``backbone.*`` + head ``head.*``).

Key map (MMAction2, after ``backbone.`` <-> videozoo, after ``backbone.``)::

    conv1.conv.weight                        conv1.weight
    conv1.bn.*                               bn1.*
    layerL.B.convN.conv.weight               layerL.B.convN.weight
    layerL.B.conv1.conv.net.weight (shift)   layerL.B.conv1.net.weight
    layerL.B.convN.bn.*                      layerL.B.bnN.*
    layerL.B.downsample.conv.weight          layerL.B.downsample.0.weight
    layerL.B.downsample.bn.*                 layerL.B.downsample.1.*
    layerL.B.block.<any of the above>        layerL.B.block.<its videozoo name>   (non-local)
    layerL.B.non_local_block.g.0.conv.*      layerL.B.non_local.g.*  (see non_local.py)
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union

import timm
import torch
import torch.utils.checkpoint
from timm.models.resnet import Bottleneck
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .base import VideoRecognizer
from .layers import (
    TemporalShift,
    add_unshifted_,
    consumable_shift,
    global_hooks,
    run_blocks,
    shift_for_good,
)
from .non_local import NON_LOCAL_KEY_MAP, NonLocal3d, NonLocalWrapper

__all__ = [
    "NL_ZOO_BLOCKS",
    "ResNetBackbone",
    "ResNetRecognizer",
    "convert_mmaction_resnet_state_dict",
    "create_resnet_backbone",
    "export_mmaction_resnet_state_dict",
    "mmaction_resnet_key_to_videozoo",
    "resnet_stage_info",
    "run_stage",
    "shifted_blocks",
    "videozoo_resnet_key_to_mmaction",
]

RESNET_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

# MMAction2's ``non_local`` flags of the zoo's TSM-NL configs: NL after layer2.{0,2}, layer3.{0,2,4}.
NL_ZOO_BLOCKS = ((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0))


def shifted_blocks(stage_blocks: Sequence[int]) -> list[list[int]]:
    """Indices of the shifted bottlenecks per stage ("blockres" placement).

    MMAction2 shifts every block, except when layer3 has 23 or more blocks (ResNet-101): then
    only even-indexed blocks, in every stage.
    """
    step = 2 if stage_blocks[2] >= 23 else 1
    return [list(range(0, n, step)) for n in stage_blocks]


def run_stage(stage: nn.Sequential, x: torch.Tensor, source: Optional[nn.Module] = None
              ) -> torch.Tensor:
    """``stage(x)``; at inference a shifted bottleneck whose input only this loop holds (the
    previous block's output) shifts it in place for good and reads it unshifted in its residual
    add: no copy of the input, no pass to restore it, the same numbers. ``source``: the module
    that made ``x`` when the caller holds no other reference to it (then the first block may
    consume it too); None when ``x`` is kept elsewhere (a returned feature map)."""
    if stage._forward_hooks or stage._forward_pre_hooks or global_hooks():
        return stage(x)  # the stage's own hooks must see its call, as nn.Sequential gives it
    return run_blocks(stage, x, consume=_bottleneck_consuming, source=source)


def _bottleneck_consuming(prev: nn.Module, b: nn.Module, x: torch.Tensor
                          ) -> Optional[torch.Tensor]:
    """timm ``Bottleneck.forward`` with ``conv1``'s shift done in place, or None where that is
    not safe; a downsampling shortcut reads ``x`` before the shift, an identity one through
    it."""
    if type(b) is not Bottleneck:
        return None
    shift = b.conv1
    fold = consumable_shift(x, shift, prev, b)
    if not fold:
        return None
    shortcut = b.downsample(x) if b.downsample is not None else None
    boundary = shift_for_good(x, shift, fold)
    y = b.act1(b.bn1(shift.net(x)))
    y = b.aa(b.act2(b.drop_block(b.bn2(b.conv2(y)))))
    y = b.bn3(b.conv3(y))
    if b.se is not None:
        y = b.se(y)
    if b.drop_path is not None:
        y = b.drop_path(y)
    if shortcut is None:
        y = add_unshifted_(y, x, boundary, shift.num_segments, fold)
    else:
        y += shortcut
    return b.act3(y)


class ResNetBackbone(nn.Module):
    """timm ResNet stem and stages on ``(N*T, C, H, W)`` frames, with TSM's shift / non-local.

    Module names are timm's (``conv1``, ``bn1``, ``layer1`` ... ``layer4``); see the module
    docstring for how they map to MMAction2's keys.
    """

    def __init__(
        self,
        depth: int = 50,
        in_chans: int = 3,
        shift_div: Optional[int] = None,
        non_local: Optional[str] = None,
        non_local_blocks: Sequence[Sequence[int]] = NL_ZOO_BLOCKS,
        non_local_cfg: Optional[Mapping[str, Any]] = None,
        fixed_segments: Optional[int] = None,
        out_indices: Sequence[int] = (3,),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        partial_bn: bool = False,
        **timm_kwargs: Any,
    ):
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(RESNET_DEPTHS)}, got {depth}")
        if not out_indices or any(i not in range(4) for i in out_indices):
            raise ValueError(f"out_indices must be a non-empty subset of 0..3, got {out_indices}")
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f"frozen_stages must be in -1..4, got {frozen_stages}")
        net = timm.create_model(f"resnet{depth}", pretrained=False, num_classes=0,
                                global_pool="", in_chans=in_chans, **timm_kwargs)
        self.depth = depth
        self.in_chans = in_chans
        self.conv1, self.bn1, self.act1, self.maxpool = net.conv1, net.bn1, net.act1, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1, net.layer2, net.layer3, net.layer4)
        self.stage_blocks = tuple(len(s) for s in self.stages)
        self.stage_channels = tuple(s[-1].conv3.out_channels for s in self.stages)
        self.num_features = self.stage_channels[-1]
        self.out_indices = tuple(out_indices)
        self.shift_div = shift_div
        self.non_local_mode = non_local
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.partial_bn = partial_bn
        self.grad_checkpointing = False

        if shift_div is not None:
            for stage, idxs in zip(self.stages, shifted_blocks(self.stage_blocks)):
                for i in idxs:
                    stage[i].conv1 = TemporalShift(stage[i].conv1, shift_div, fixed_segments)
        if non_local is not None:
            cfg = {"sub_sample": True, "use_scale": False, **(non_local_cfg or {})}
            for stage, flags in zip(self.stages, non_local_blocks):
                if len(flags) > len(stage):
                    raise ValueError(f"non_local_blocks {non_local_blocks} has more flags than "
                                     f"the stages have blocks {self.stage_blocks}")
                for i, flag in enumerate(flags):
                    if flag:
                        nl = NonLocal3d(stage[i].conv3.out_channels, mode=non_local, **cfg)
                        stage[i] = NonLocalWrapper(stage[i], nl, fixed_segments)
        self._freeze()

    @property
    def stages(self) -> tuple[nn.Sequential, ...]:
        return (self.layer1, self.layer2, self.layer3, self.layer4)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage's activations in the backward pass instead of storing them."""
        self.grad_checkpointing = enable

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.act1(self.bn1(self.conv1(x))))

    def forward_stages(self, x: torch.Tensor, out_indices: Optional[Sequence[int]] = None
                       ) -> list[torch.Tensor]:
        """Outputs of the stages in ``out_indices`` (default: the backbone's), in order."""
        out_indices = self.out_indices if out_indices is None else tuple(out_indices)
        x = self.forward_stem(x)
        outs = []
        source: Optional[nn.Module] = self.maxpool  # x is the stem's, held nowhere else
        for i, stage in enumerate(self.stages[:max(out_indices) + 1]):
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(stage, x, use_reentrant=False)
            else:
                x = run_stage(stage, x, source)
            source = stage
            if i in out_indices:
                outs.append(x)
                source = None  # returned: the next stage must leave it as it is
        return outs

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, tuple[torch.Tensor, ...]]:
        outs = self.forward_stages(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    # -- MMAction2 training flags ---------------------------------------------------------------
    def _freeze(self) -> None:
        """``frozen_stages``: stem (+ layer1..k) fixed; ``partial_bn``: every BatchNorm2d but the
        first frozen; ``norm_eval``: all BN in eval mode. Eval modes only apply in training."""
        frozen: list[nn.Module] = []
        if self.frozen_stages >= 0:
            frozen += [self.conv1, self.bn1]
        frozen += list(self.stages[:max(self.frozen_stages, 0)])
        for m in frozen:
            if self.training:
                m.eval()
            for p in m.parameters():
                p.requires_grad = False
        if self.training and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        if self.partial_bn:
            bns = [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]
            for m in bns[1:]:
                if self.training:
                    m.eval()
                m.weight.requires_grad = False
                m.bias.requires_grad = False

    def train(self, mode: bool = True) -> ResNetBackbone:
        super().train(mode)
        self._freeze()
        return self


def create_resnet_backbone(depth: int, in_chans: int = 3, shift_div: Optional[int] = None,
                           non_local: Optional[str] = None, **kwargs: Any) -> ResNetBackbone:
    """A ResNet-``depth`` frame backbone; ``shift_div`` adds TSM shifts, ``non_local`` (a mode:
    ``'embedded_gaussian'`` | ``'gaussian'`` | ``'dot_product'``) the zoo's non-local blocks.

    Other kwargs: ``non_local_blocks``, ``non_local_cfg``, ``fixed_segments``, ``out_indices``,
    ``frozen_stages``, ``norm_eval``, ``partial_bn`` and timm ResNet kwargs (``drop_path_rate``).
    """
    return ResNetBackbone(depth, in_chans=in_chans, shift_div=shift_div, non_local=non_local,
                          **kwargs)


# -- key maps ----------------------------------------------------------------------------------
_BLOCK = r"(layer\d\.\d+\.)((?:block\.)?)"
_BN_TAIL = r"(weight|bias|running_mean|running_var|num_batches_tracked)"

# (mmaction pattern, videozoo replacement), (videozoo pattern, mmaction replacement)
_KEY_RULES: list[tuple[tuple[str, str], tuple[str, str]]] = [
    ((r"conv1\.conv\.weight", r"conv1.weight"), (r"conv1\.weight", r"conv1.conv.weight")),
    ((rf"conv1\.bn\.{_BN_TAIL}", r"bn1.\1"), (rf"bn1\.{_BN_TAIL}", r"conv1.bn.\1")),
    ((rf"{_BLOCK}conv(\d)\.conv\.((?:net\.)?)weight", r"\1\2conv\3.\4weight"),
     (rf"{_BLOCK}conv(\d)\.((?:net\.)?)weight", r"\1\2conv\3.conv.\4weight")),
    ((rf"{_BLOCK}conv(\d)\.bn\.{_BN_TAIL}", r"\1\2bn\3.\4"),
     (rf"{_BLOCK}bn(\d)\.{_BN_TAIL}", r"\1\2conv\3.bn.\4")),
    ((rf"{_BLOCK}downsample\.conv\.weight", r"\1\2downsample.0.weight"),
     (rf"{_BLOCK}downsample\.0\.weight", r"\1\2downsample.conv.weight")),
    ((rf"{_BLOCK}downsample\.bn\.{_BN_TAIL}", r"\1\2downsample.1.\3"),
     (rf"{_BLOCK}downsample\.1\.{_BN_TAIL}", r"\1\2downsample.bn.\3")),
]
for _vz, _mm in NON_LOCAL_KEY_MAP:
    _KEY_RULES.append((
        (rf"(layer\d\.\d+\.)non_local_block\.{re.escape(_mm)}(.+)", rf"\1non_local.{_vz}\2"),
        (rf"(layer\d\.\d+\.)non_local\.{re.escape(_vz)}(.+)", rf"\1non_local_block.{_mm}\2"),
    ))
_TO_VZ = [(re.compile(p + r"\Z"), r) for (p, r), _ in _KEY_RULES]
_TO_MM = [(re.compile(p + r"\Z"), r) for _, (p, r) in _KEY_RULES]


def _apply(rules: list[tuple[re.Pattern, str]], key: str) -> str:
    for pattern, repl in rules:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return key


def mmaction_resnet_key_to_videozoo(key: str) -> str:
    """``layer1.0.conv1.conv.net.weight`` -> ``layer1.0.conv1.net.weight`` (no ``backbone.``)."""
    return _apply(_TO_VZ, key)


def videozoo_resnet_key_to_mmaction(key: str) -> str:
    """Inverse of :func:`mmaction_resnet_key_to_videozoo`."""
    return _apply(_TO_MM, key)


def _rename(sd: Mapping[str, torch.Tensor], fn: Callable[[str], str], src_prefix: str,
            dst_prefix: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k.startswith(src_prefix):
            k = dst_prefix + fn(k[len(src_prefix):])
        if k in out:
            raise KeyError(f"two checkpoint keys map to {k!r}")
        out[k] = v
    return out


def convert_mmaction_resnet_state_dict(sd: Mapping[str, torch.Tensor],
                                       src_prefix: str = "backbone.",
                                       dst_prefix: str = "backbone.") -> dict[str, torch.Tensor]:
    """Rename MMAction2 ResNet/ResNetTSM keys under ``src_prefix``; others pass through."""
    return _rename(sd, mmaction_resnet_key_to_videozoo, src_prefix, dst_prefix)


def export_mmaction_resnet_state_dict(sd: Mapping[str, torch.Tensor],
                                      src_prefix: str = "backbone.",
                                      dst_prefix: str = "backbone.") -> dict[str, torch.Tensor]:
    """Inverse of :func:`convert_mmaction_resnet_state_dict`."""
    return _rename(sd, videozoo_resnet_key_to_mmaction, src_prefix, dst_prefix)


def resnet_stage_info(backbone: ResNetBackbone, prefix: str = "backbone.") -> list[dict[str, Any]]:
    """timm-style ``feature_info`` of the four stages (strides 4, 8, 16, 32)."""
    return [{"num_chs": c, "reduction": 2 ** (i + 2), "module": f"{prefix}layer{i + 1}"}
            for i, c in enumerate(backbone.stage_channels)]


# -- recognizer --------------------------------------------------------------------------------
class ResNetRecognizer(VideoRecognizer):
    """A ResNet frame backbone and a 2D head (``TSNHead`` or ``TSMHead``): TSN and TSM.

    ``forward_features`` returns ``(B, T, C, h, w)``; the head pools and averages over T. The
    shift (and non-local) group length is the input's T unless ``num_segments`` pins it.
    """

    head_cls: Callable[..., nn.Module]
    default_dropout: float = 0.5

    def __init__(
        self,
        depth: int = 50,
        num_classes: int = 400,
        in_chans: int = 3,
        dropout: Optional[float] = None,
        init_std: Optional[float] = None,
        shift_div: Optional[int] = None,
        non_local: Optional[str] = None,
        num_segments: Optional[int] = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        partial_bn: bool = False,
        **backbone_kwargs: Any,
    ):
        super().__init__()
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.segments_divide_input = shift_div is not None or non_local is not None
        if init_std is not None:
            self.classifier_init_std = init_std
        self.backbone = create_resnet_backbone(
            depth, in_chans=in_chans, shift_div=shift_div, non_local=non_local,
            fixed_segments=num_segments, frozen_stages=frozen_stages, norm_eval=norm_eval,
            partial_bn=partial_bn, **backbone_kwargs)
        self.num_features = self.backbone.num_features
        self.head = self.head_cls(self.num_features, num_classes,
                                  dropout=self.default_dropout if dropout is None else dropout,
                                  init_std=self.classifier_init_std)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        super().set_grad_checkpointing(enable)
        self.backbone.set_grad_checkpointing(enable)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        b, t = x.shape[0], x.shape[2]
        feats = self.backbone.forward_stages(self.frames(x), (3,))[0]
        return feats.reshape(b, t, *feats.shape[1:])

    def stage_info(self) -> list[dict[str, Any]]:
        return resnet_stage_info(self.backbone)

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone.forward_stages(x, (0, 1, 2, 3))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def convert_mmaction_state_dict(self, sd: Mapping[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        """MMAction2 (0.x or 1.x) Recognizer2D keys -> this model's keys."""
        out = convert_mmaction_resnet_state_dict(sd, "backbone.", "backbone.")
        return _rename(out, lambda k: k, "cls_head.fc_cls.", "head.fc.")

    def export_mmaction_state_dict(self) -> dict[str, torch.Tensor]:
        """This model's weights under MMAction2's keys (inverse of the conversion)."""
        out = export_mmaction_resnet_state_dict(self.state_dict(), "backbone.", "backbone.")
        return _rename(out, lambda k: k, "head.fc.", "cls_head.fc_cls.")
