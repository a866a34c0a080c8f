"""TSN over image networks from other libraries: MMAction2 1.x's "backbones from 3rd-party" rows.

MMAction2 builds these with ``Recognizer2D`` + an imported 2D backbone + ``TSNHead``. Each frame
goes through the image network; the pooled features are averaged over the view's frames (all
T frames, ``TSNHead``'s consensus) and one FC gives the scores. What the backbone is, and what
MMAction2 takes from it, per architecture:

- ``tsn_resnext101_32x4d``: mmcls/mmpretrain ``ResNeXt`` (depth 101, 32 groups x 4 channels,
  ``style='pytorch'``: stride on the 3x3 conv). timm's ``resnext101_32x4d`` has the same convs,
  strides, paddings, BN eps 1e-5, 7x7 stem + max-pool and 1x1-conv + BN shortcuts, and even the
  same parameter names; its last stage's maps go to the head.
- ``tsn_densenet161``: torchvision's ``densenet161``. MMAction2 calls only ``backbone.features``,
  which ends with BatchNorm ``norm5``: unlike torchvision's own ``forward`` there is **no ReLU**
  before the average pool, and this model follows MMAction2.
- ``tsn_swin_base_patch4_window7_224``: timm's ``swin_base_patch4_window7_224`` (the same library
  MMAction2 calls). Its ``forward_features`` ends with the final LayerNorm and returns NHWC maps;
  MMAction2 (``feature_shape='NHWC'``) permutes them to NCHW and average-pools, as this model
  does. It is built with timm's ``dynamic_img_size=True`` (masks computed per input, windows
  padded), so other frame sizes run; at 224x224 it computes exactly the fixed-size model.
- ``tsn_mobileone_s4``: mmpretrain ``MobileOne`` arch ``s4``; timm's ``mobileone_s4`` computes the
  same blocks (see ``tsm_mobile``: the train-form branch sum differs in order, ~1e-6 relative;
  the fused ``deploy=True`` form is bit-exact).

State dicts load strictly from MMAction2 checkpoints (``backbone.*`` + ``cls_head.fc_cls.*``) and
export back to exactly those keys. ``pretrained_backbone=True`` fetches the library's ImageNet
weights (network; never used by the tests).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

import timm
import torch
import torch.utils.checkpoint
import torchvision
from timm.models import adapt_input_conv
from torch import nn

from .._checkpoint import CheckpointError
from .._pretrained import IMAGENET_MEAN, IMAGENET_STD
from .._registry import register_model
from .base import VideoRecognizer
from .heads import TSNHead
from .tsm_mobile import _fuse_mobileone_block, _mobileone_member

__all__ = ["TSNImageBackbone"]

TSN_FAMILY = "tsn"


def register_tsn_model(title: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``register_model`` with the family stated as TSN (the file name is not the family)."""
    return register_model(family=TSN_FAMILY, title=title)


def _same_key(key: str) -> str:
    return key


class TSNImageBackbone(VideoRecognizer):
    """TSN: an image network per frame, features averaged over the view's T frames, then FC.

    Args:
        backbone: the image network; ``feature_fn(backbone, frames)`` gives its ``(N, C, h, w)``
            feature maps.
        num_features: channels of those maps.
        num_classes: classifier outputs.
        in_chans: input channels.
        dropout / init_std: ``TSNHead`` dropout (0.4) and FC init std (0.01).
        num_segments: frames per view; recorded only (the head averages every input frame).
        key_to_mmaction: videozoo key -> MMAction2 key, for one ``backbone.*`` key.
    """

    classifier_init_std = 0.01

    def __init__(self, backbone: nn.Module, feature_fn: Callable[[nn.Module, torch.Tensor],
                 torch.Tensor], num_features: int, num_classes: int = 400, in_chans: int = 3,
                 dropout: float = 0.4, init_std: float = 0.01,
                 num_segments: Optional[int] = None,
                 key_to_mmaction: Optional[Callable[[str], str]] = None) -> None:
        super().__init__()
        if num_segments is not None and (not isinstance(num_segments, int) or num_segments < 1):
            raise ValueError(f"num_segments must be a positive int or None, got {num_segments!r}")
        self.backbone = backbone
        self._feature_fn = feature_fn
        self._key_to_mm = key_to_mmaction or _same_key
        self.num_features = num_features
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_segments = num_segments
        self.head = TSNHead(num_features, num_classes, dropout=dropout, init_std=init_std)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        super().set_grad_checkpointing(enable)
        if hasattr(self.backbone, "set_grad_checkpointing"):
            self.backbone.set_grad_checkpointing(enable)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> per-frame feature maps (B, T, C', h, w)."""
        self.check_input(x)
        b, _, t = x.shape[:3]
        feats = self._frame_features(self.frames(x))
        return feats.reshape(b, t, *feats.shape[1:])

    def _frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) frames -> the (N, C', h, w) maps the head pools."""
        return self._feature_fn(self.backbone, frames)

    def _maybe_checkpoint(self, fn: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
        """``fn(*args)``, recomputed in backward instead of stored when checkpointing is on."""
        if self.grad_checkpointing and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    # -- MMAction2 checkpoints ----------------------------------------------------------------
    def _mmaction_key_map(self) -> dict[str, str]:
        out = {}
        for key in self.state_dict():
            if key.startswith("head.fc."):
                out[key] = "cls_head.fc_cls." + key[len("head.fc."):]
            else:
                out[key] = self._key_to_mm(key)
        if len(set(out.values())) != len(out):
            raise RuntimeError(f"{type(self).__name__}: the MMAction2 key map is not one-to-one")
        return out

    def convert_mmaction_state_dict(self, state_dict: dict[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        """Rename MMAction2 keys to this model's; unknown keys pass through for the strict
        loader to list."""
        to_ours = {mm: ours for ours, mm in self._mmaction_key_map().items()}
        return {to_ours.get(k, k): v for k, v in state_dict.items()}

    def export_mmaction_state_dict(self) -> dict[str, torch.Tensor]:
        """This model's weights under MMAction2's key names (the inverse of the conversion)."""
        state = self.state_dict()
        return {mm: state[ours] for ours, mm in self._mmaction_key_map().items()}


# ------------------------------------------------------------------------------------------------
# Swin: checkpoints written with timm < 0.9 keep PatchMerging at the end of stage i (our stage
# i + 1) and store the derived relative_position_index / attn_mask buffers.
# ------------------------------------------------------------------------------------------------
_OLD_SWIN_DOWNSAMPLE = re.compile(r"^backbone\.layers\.(\d+)\.downsample\.")
_DERIVED_SWIN_BUFFERS = (".relative_position_index", ".attn_mask")


class TSNSwin(TSNImageBackbone):
    """TSN over timm Swin: stages walked block by block, so each block (and the patch
    embedding) can be checkpointed; maps leave as NCHW, the last one after the final norm."""

    def stage_info(self) -> list[dict[str, Any]]:
        info = [dict(d, module=f"backbone.{d['module']}") for d in self.backbone.feature_info]
        info[-1]["module"] = "backbone.norm"  # the last map is taken after the final LayerNorm
        return info

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.backbone
        x = self._maybe_checkpoint(net.patch_embed, x)
        outs = []
        for stage in net.layers:
            if not isinstance(stage.downsample, nn.Identity):
                x = self._maybe_checkpoint(stage.downsample, x)
            for block in stage.blocks:
                x = self._maybe_checkpoint(block, x)
            outs.append(x)
        outs[-1] = net.norm(outs[-1])
        return [m.permute(0, 3, 1, 2) for m in outs]  # NHWC -> NCHW (MMAction2's NHWC handling)

    def _frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.stage_maps(frames)[-1]

    def convert_mmaction_state_dict(self, state_dict: dict[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        if "backbone.layers.0.downsample.reduction.weight" in state_dict:  # timm < 0.9 layout
            state_dict = {
                _OLD_SWIN_DOWNSAMPLE.sub(lambda m: f"backbone.layers.{int(m.group(1)) + 1}."
                                         "downsample.", k): v
                for k, v in state_dict.items() if not k.endswith(_DERIVED_SWIN_BUFFERS)}
        return super().convert_mmaction_state_dict(state_dict)


class TSNDenseNet(TSNImageBackbone):
    """TSN over torchvision DenseNet ``features``: four stages, each a dense block's output
    (strides 4-32; the last one through ``norm5``). Checkpointing recomputes the stem and each
    dense block together with the transition (or ``norm5``) after it: ending a segment on an op
    that saves its input makes the block's last conv part of the recomputation."""

    def _stages(self) -> list[tuple[str, nn.Module, nn.Module]]:
        """(name of the stage's output module, dense block, the module after it)."""
        named = dict(self.backbone.features.named_children())
        blocks = [n for n in named if n.startswith("denseblock")]
        out = []
        for i, name in enumerate(blocks):
            after = "norm5" if i == len(blocks) - 1 else name.replace("denseblock", "transition")
            out.append((name if after != "norm5" else "norm5", named[name], named[after]))
        return out

    def stage_info(self) -> list[dict[str, Any]]:
        # a dense block's output width is what the BN after it takes
        return [{"num_chs": (after if isinstance(after, nn.BatchNorm2d) else after.norm).num_features,
                 "reduction": 2 ** (i + 2), "module": f"backbone.features.{name}"}
                for i, (name, _, after) in enumerate(self._stages())]

    def stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self._maybe_checkpoint(self._stem, x)
        outs = []
        for name, block, after in self._stages():
            stage_out, x = self._maybe_checkpoint(self._block_then, block, after, x)
            outs.append(x if name == "norm5" else stage_out)
        return outs

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone.features
        return f.pool0(f.relu0(f.norm0(f.conv0(x))))

    @staticmethod
    def _block_then(block: nn.Module, after: nn.Module, x: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(dense block output, the transition's / norm5's output: no ReLU after norm5, as
        MMAction2 takes ``features``)."""
        y = block(x)
        return y, after(y)

    def _frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.stage_maps(frames)[-1]


class TSNMobileOne(TSNImageBackbone):
    @property
    def deploy(self) -> bool:
        return all(m.reparam_conv is not None for m in self.backbone.modules()
                   if hasattr(m, "reparam_conv"))

    def reparameterize(self) -> TSNMobileOne:
        """Fuse every MobileOne block into one conv (MMAction2's ``reparameterize_model.py``)."""
        for m in self.backbone.modules():
            if hasattr(m, "reparam_conv"):
                _fuse_mobileone_block(m)
        return self

    def convert_mmaction_state_dict(self, state_dict: dict[str, torch.Tensor]
                                    ) -> dict[str, torch.Tensor]:
        fused = any(".branch_reparam." in k for k in state_dict)
        if fused != self.deploy and any(k.startswith("backbone.") for k in state_dict):
            form = "re-parameterised (deploy)" if fused else "train-form"
            raise CheckpointError(f"this is a {form} MobileOne checkpoint; build the model with "
                                  f"deploy={fused}")
        return super().convert_mmaction_state_dict(state_dict)


def _mobileone_key_to_mm(key: str) -> str:
    m = re.match(r"backbone\.(stem|stages\.(\d+)\.(\d+))\.(.+)\.(\w+)$", key)
    if m is None:
        raise RuntimeError(f"tsn_mobileone_s4: no MMAction2 name for {key!r}")
    block = "stage0" if m.group(1) == "stem" else f"stage{int(m.group(2)) + 1}.{m.group(3)}"
    member = _mobileone_member(m.group(4))
    if member is None:
        raise RuntimeError(f"tsn_mobileone_s4: no MMAction2 name for {key!r}")
    return f"backbone.{block}.{member}.{m.group(5)}"


# ------------------------------------------------------------------------------------------------
# feature functions: what MMAction2's Recognizer2D takes from each library's network
# ------------------------------------------------------------------------------------------------
def _timm_nchw(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.forward_features(x)


def _timm_nhwc(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.forward_features(x).permute(0, 3, 1, 2)


def _torchvision_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.features(x)  # DenseNet: ends at norm5, no ReLU (what MMAction2 uses)


def _adapt_stem_conv(conv: nn.Conv2d, in_chans: int, pretrained: bool) -> nn.Conv2d:
    """The stem conv for ``in_chans`` inputs: pretrained RGB filters adapted the way timm does
    (``adapt_input_conv``: summed for 1 channel, repeated and rescaled for more); a random
    stem is simply built wide enough, with torchvision's init."""
    if in_chans == conv.in_channels:
        return conv
    new = nn.Conv2d(in_chans, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, conv.bias is not None)
    if pretrained:
        with torch.no_grad():
            new.weight.copy_(adapt_input_conv(in_chans, conv.weight))
    else:
        nn.init.kaiming_normal_(new.weight)
    return new


def _cfg(arch: str, in_chans: int) -> dict[str, Any]:
    return {"architecture": arch, "in_chans": in_chans, "modality": "rgb",
            "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def _timm_backbone(name: str, in_chans: int, pretrained_backbone: bool, **kwargs: Any
                   ) -> nn.Module:
    return timm.create_model(name, pretrained=pretrained_backbone, num_classes=0,
                             global_pool="", in_chans=in_chans, **kwargs)


@register_tsn_model(title="TSN, ResNeXt-101 32x4d")
def tsn_resnext101_32x4d(num_classes: int = 400, in_chans: int = 3,
                         pretrained_backbone: bool = False, **kwargs: Any) -> TSNImageBackbone:
    """TSN ResNeXt-101 32x4d (MMAction2 ``mmcls.ResNeXt`` backbone; timm ``resnext101_32x4d``)."""
    net = _timm_backbone("resnext101_32x4d", in_chans, pretrained_backbone)
    model = TSNImageBackbone(net, _timm_nchw, net.num_features, num_classes, in_chans, **kwargs)
    model.pretrained_cfg = _cfg("tsn_resnext101_32x4d", in_chans)
    return model


@register_tsn_model(title="TSN, DenseNet-161 (torchvision)")
def tsn_densenet161(num_classes: int = 400, in_chans: int = 3, pretrained_backbone: bool = False,
                    **kwargs: Any) -> TSNDenseNet:
    """TSN DenseNet-161 (torchvision ``densenet161``; features without the final ReLU).
    ``in_chans`` other than 3 adapts the stem conv as timm does."""
    weights = "DEFAULT" if pretrained_backbone else None
    net = torchvision.models.densenet161(weights=weights)
    net.features.conv0 = _adapt_stem_conv(net.features.conv0, in_chans, pretrained_backbone)
    num_features = net.classifier.in_features
    net.classifier = nn.Identity()  # as MMAction2 does: only `features` is used
    model = TSNDenseNet(net, _torchvision_features, num_features, num_classes, in_chans,
                        **kwargs)
    model.pretrained_cfg = _cfg("tsn_densenet161", in_chans)
    return model


@register_tsn_model(title="TSN, Swin-B (timm)")
def tsn_swin_base_patch4_window7_224(num_classes: int = 400, in_chans: int = 3,
                                     pretrained_backbone: bool = False, **kwargs: Any) -> TSNSwin:
    """TSN Swin-B, patch 4, window 7 (timm ``swin_base_patch4_window7_224``), trained on 224x224
    frames (other sizes run: windows are padded and masks built per input)."""
    net = _timm_backbone("swin_base_patch4_window7_224", in_chans, pretrained_backbone,
                         dynamic_img_size=True)
    model = TSNSwin(net, _timm_nhwc, net.num_features, num_classes, in_chans, **kwargs)
    model.pretrained_cfg = _cfg("tsn_swin_base_patch4_window7_224", in_chans)
    return model


@register_tsn_model(title="TSN, MobileOne-S4")
def tsn_mobileone_s4(num_classes: int = 400, in_chans: int = 3, pretrained_backbone: bool = False,
                     deploy: bool = False, **kwargs: Any) -> TSNMobileOne:
    """TSN MobileOne-S4 (mmpretrain ``MobileOne`` s4; timm ``mobileone_s4``). ``deploy=True``
    builds the fused form of MMAction2's deploy config."""
    net = _timm_backbone("mobileone_s4", in_chans, pretrained_backbone)
    if not isinstance(net.final_conv, nn.Identity):
        raise RuntimeError("timm mobileone_s4 changed: expected no final_conv")
    model = TSNMobileOne(net, _timm_nchw, net.num_features, num_classes, in_chans,
                         key_to_mmaction=_mobileone_key_to_mm, **kwargs)
    if deploy:
        model.reparameterize()
    model.pretrained_cfg = _cfg("tsn_mobileone_s4", in_chans)
    return model
