"""ResNet3d-SlowOnly, the 3D backbone of MMAction2's ``tpn_slowonly_r50`` (Feichtenhofer et al.,
"SlowFast Networks for Video Recognition", https://arxiv.org/abs/1812.03982, slow pathway only).

timm and torchvision have no equivalent (torchvision's r3d/r2plus1d differ in stem and kernels), so
it is written here. Module names follow timm's 2D ResNet (``conv1``/``bn1``, ``layerL.B.convN`` /
``bnN``, ``downsample.0/1``): a timm ``resnet50`` state dict therefore has exactly this backbone's
keys, with 4D instead of 5D conv kernels (see :meth:`ResNet3dSlowOnly.inflate_2d_state_dict`).

Layout (MMAction2 ``ResNet3dSlowOnly``, depth 50, pytorch style):

- stem: Conv3d 3->64 kernel (1,7,7) stride (1,2,2), BN, ReLU, MaxPool3d (1,3,3) stride (1,2,2);
- Bottleneck3d stages (3, 4, 6, 3), spatial strides (1, 2, 2, 2) on ``conv2``, no temporal stride;
  stages whose ``inflate`` flag is 1 (layer3, layer4) use a (3,1,1) ``conv1`` ("3x1x1" style);
- no ``pool2`` (SlowOnly disables it), so T is kept throughout.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Optional

import torch
import torch.utils.checkpoint
from torch import nn

__all__ = [
    "Bottleneck3d",
    "ResNet3dSlowOnly",
    "resnet3d_key_from_mmaction",
    "resnet3d_key_to_mmaction",
]


class Bottleneck3d(nn.Module):
    """1x1x1 (or 3x1x1 when inflated) -> 1x3x3 (spatial stride) -> 1x1x1, plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, spatial_stride: int = 1, inflate: bool = False,
                 downsample: Optional[nn.Module] = None):
        super().__init__()
        t_kernel = 3 if inflate else 1
        self.conv1 = nn.Conv3d(inplanes, planes, (t_kernel, 1, 1), padding=(t_kernel // 2, 0, 0),
                               bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), padding=(0, 1, 1), bias=False,
                               stride=(1, spatial_stride, spatial_stride))
        self.bn2 = nn.BatchNorm3d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv3d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.downsample = downsample
        self.act3 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        return self.act3(x + shortcut)


class ResNet3dSlowOnly(nn.Module):
    """SlowOnly ResNet3d returning the feature maps of the stages in ``out_indices``.

    Args:
        layers: blocks per stage ((3, 4, 6, 3) is ResNet-50).
        in_chans: input channels.
        inflate: per stage, 1 for a temporal (3,1,1) ``conv1`` in every block of that stage.
        out_indices: stages (0-based) whose outputs ``forward`` returns, in order.
        frozen_stages: -1 freezes nothing; 0 freezes the stem; k>0 also ``layer1..layerk``
            (``requires_grad=False`` and BatchNorm kept in eval mode), as MMAction2 does.
        norm_eval: keep every BatchNorm in eval mode while training (frozen statistics).
    """

    def __init__(self, layers: Sequence[int] = (3, 4, 6, 3), in_chans: int = 3,
                 inflate: Sequence[int] = (0, 0, 1, 1), out_indices: Sequence[int] = (2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False):
        super().__init__()
        if len(inflate) != len(layers):
            raise ValueError(f"inflate needs one flag per stage ({len(layers)}), got {inflate}")
        if not out_indices or max(out_indices) >= len(layers):
            raise ValueError(
                f"out_indices must name stages 0..{len(layers) - 1}, got {out_indices}")
        if not -1 <= frozen_stages <= len(layers):
            raise ValueError(f"frozen_stages must be in -1..{len(layers)}, got {frozen_stages}")
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.grad_checkpointing = False

        self.conv1 = nn.Conv3d(in_chans, 64, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3),
                               bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

        inplanes = 64
        self.feature_info: list[dict] = []
        for i, (num_blocks, infl) in enumerate(zip(layers, inflate)):
            planes = 64 * 2 ** i
            stride = 1 if i == 0 else 2
            out_planes = planes * Bottleneck3d.expansion
            downsample = None
            if stride != 1 or inplanes != out_planes:
                downsample = nn.Sequential(
                    nn.Conv3d(inplanes, out_planes, 1, stride=(1, stride, stride), bias=False),
                    nn.BatchNorm3d(out_planes),
                )
            blocks = [Bottleneck3d(inplanes, planes, stride, bool(infl), downsample)]
            blocks += [Bottleneck3d(out_planes, planes, 1, bool(infl))
                       for _ in range(1, num_blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = out_planes
            self.feature_info.append(
                {"num_chs": out_planes, "reduction": 4 * 2 ** i, "module": f"layer{i + 1}"})
        self.num_stages = len(layers)
        self.init_weights()
        self._freeze_stages()

    def init_weights(self, zero_init_residual: bool = True) -> None:
        """MMAction2's from-scratch init: Kaiming-normal (fan_out) convs, BN 1/0, and the last BN
        of every bottleneck at 0 so each residual block starts as the identity."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck3d):
                    nn.init.zeros_(m.bn3.weight)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.act1(self.bn1(self.conv1(x))))

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage (``forward`` keeps those in ``out_indices``)."""
        x = self.stem(x)
        outs = []
        for i in range(self.num_stages):
            for block in getattr(self, f"layer{i + 1}"):
                if self.grad_checkpointing and torch.is_grad_enabled():
                    x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
                else:
                    x = block(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = self.stage_outputs(x)
        return tuple(outs[i] for i in range(self.num_stages) if i in self.out_indices)

    # -- training-time behaviour ------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def _freeze_stages(self) -> None:
        """Frozen parts get ``requires_grad=False`` and their BatchNorms stay in eval mode."""
        if self.frozen_stages < 0:
            return
        parts: list[nn.Module] = [self.conv1, self.bn1]
        parts += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for part in parts:
            part.eval()
            for p in part.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> ResNet3dSlowOnly:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    # -- 2D ImageNet weights -----------------------------------------------------------------
    def inflate_2d_state_dict(self, state_dict_2d: Mapping[str, torch.Tensor]
                              ) -> dict[str, torch.Tensor]:
        """A timm/torchvision-named 2D ResNet state dict turned into this backbone's weights.

        Each 2D kernel is repeated along time and divided by the temporal size (MMAction2's
        ``inflate_weights``), so a static clip gives the 2D network's features. Keys absent here
        (``fc.*``) are ignored; the result has exactly this backbone's keys.
        """
        own = self.state_dict()
        out: dict[str, torch.Tensor] = {}
        for key, target in own.items():
            if key not in state_dict_2d:
                raise KeyError(f"2D state dict lacks {key!r} needed by {type(self).__name__}")
            src = state_dict_2d[key]
            if target.dim() == 5:
                if src.dim() != 4 or src.shape != target.shape[:2] + target.shape[3:]:
                    raise ValueError(f"{key}: 2D kernel {tuple(src.shape)} does not inflate to "
                                     f"{tuple(target.shape)}")
                kt = target.shape[2]
                src = src.unsqueeze(2).expand_as(target) / kt
            elif src.shape != target.shape:
                raise ValueError(f"{key}: {tuple(src.shape)} vs {tuple(target.shape)}")
            out[key] = src.to(target.dtype).clone()
        return out


# -- MMAction2 <-> videozoo key names (backbone part, without the ``backbone.`` prefix) ------
_BN_STATE = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_TO_MM = [
    (re.compile(r"^conv1\.weight$"), r"conv1.conv.weight"),
    (re.compile(rf"^bn1\.{_BN_STATE}$"), r"conv1.bn.\1"),
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d)\.weight$"), r"\1.conv\2.conv.weight"),
    (re.compile(rf"^(layer\d+\.\d+)\.bn(\d)\.{_BN_STATE}$"), r"\1.conv\2.bn.\3"),
    (re.compile(r"^(layer\d+\.\d+)\.downsample\.0\.weight$"), r"\1.downsample.conv.weight"),
    (re.compile(rf"^(layer\d+\.\d+)\.downsample\.1\.{_BN_STATE}$"), r"\1.downsample.bn.\2"),
]
_FROM_MM = [
    (re.compile(r"^conv1\.conv\.weight$"), r"conv1.weight"),
    (re.compile(rf"^conv1\.bn\.{_BN_STATE}$"), r"bn1.\1"),
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d)\.conv\.weight$"), r"\1.conv\2.weight"),
    (re.compile(rf"^(layer\d+\.\d+)\.conv(\d)\.bn\.{_BN_STATE}$"), r"\1.bn\2.\3"),
    (re.compile(r"^(layer\d+\.\d+)\.downsample\.conv\.weight$"), r"\1.downsample.0.weight"),
    (re.compile(rf"^(layer\d+\.\d+)\.downsample\.bn\.{_BN_STATE}$"), r"\1.downsample.1.\2"),
]


def _apply(rules: list, key: str, direction: str) -> str:
    for pattern, repl in rules:
        new, n = pattern.subn(repl, key)
        if n:
            return new
    raise KeyError(f"no {direction} ResNet3d key mapping for {key!r}")


def resnet3d_key_to_mmaction(key: str) -> str:
    """videozoo backbone key -> MMAction2 ``ResNet3d`` key (ConvModule ``conv``/``bn`` names)."""
    return _apply(_TO_MM, key, "videozoo->MMAction2")


def resnet3d_key_from_mmaction(key: str) -> str:
    """MMAction2 ``ResNet3d`` backbone key -> videozoo key; inverse of the former."""
    return _apply(_FROM_MM, key, "MMAction2->videozoo")
