"""Inference-time rewrite of a videozoo model: faster on CPU, equal to round-off, not bit-exact.

:func:`optimize_for_inference` returns an eval-only copy of a model in which

- every BatchNorm that follows a conv is folded into the conv's weight and bias;
- the ReLU / ReLU6 after a conv, and a ResNet bottleneck's residual add + ReLU, run inside the
  conv (oneDNN post-ops, ``torch.ops.mkldnn._convolution_pointwise``, where this torch has it);
- convs with a very wide reduction (in_channels * kh * kw >= 8192: TPN's spatial
  modulation) run as im2col + one GEMM, which oneDNN's conv kernels are slower than here;
- 2D models run channels_last; the 3D convs of SlowOnly and of the TPN neck whose kernels are
  (1, k, k) or (k, 1, 1) run as 2D convs on zero-copy views of a channels_last_3d tensor
  (PyTorch's CPU Conv3d path is several times slower for these shapes);
- modules that do nothing at test time (dropout, nearest upsampling by 1) are removed, and
  MobileOne blocks are re-parameterised.

Parity: the logits equal the default forward's to float32 round-off (relative max difference
about 1e-6 on the zoo's models; tests/test_inference_opt.py checks 1e-4 of the logits' scale,
MMAction2's parity tolerance). Use the default model to reproduce tables bit for bit. With
autograd enabled the rewritten modules fall back to plain PyTorch ops (same numbers), but the
folded model is for inference only: BatchNorm statistics no longer exist.
"""
from __future__ import annotations

import copy
import functools
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .layers import TemporalShift

__all__ = ["FusedConv2d", "FoldedConv3d", "optimize_for_inference"]

_ACTS = ("none", "relu", "relu6")
_GEMM_MIN_REDUCTION = 8192  # in_channels * kh * kw from which a conv runs as im2col + GEMM
CL3D = torch.channels_last_3d


@functools.cache
def _mkldnn_pointwise_available() -> bool:
    """True where oneDNN's fused conv ops exist and run (probed once on a tiny input)."""
    op = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return False
    try:
        x = torch.randn(1, 4, 3, 3).contiguous(memory_format=torch.channels_last)
        w = torch.randn(4, 4, 1, 1).contiguous(memory_format=torch.channels_last)
        y = op(x, w, None, [0, 0], [1, 1], [1, 1], 1, "relu", [], "")
        y2 = op.binary(x, x, w, None, [0, 0], [1, 1], [1, 1], 1, "add", None, "relu", [], "")
        y3 = op.binary(x, x, w, None, [0, 0], [1, 1], [1, 1], 1, "add", None, None, [], "")
        y6 = op(x * 9, w, None, [0, 0], [1, 1], [1, 1], 1, "hardtanh", [0.0, 6.0], "")
        ref = F.conv2d(x, w)
        return all(torch.allclose(a, b, atol=1e-4) for a, b in [
            (y, ref.relu()), (y2, (ref + x).relu()), (y3, ref + x),
            (y6, F.conv2d(x * 9, w).clamp(0, 6))])
    except Exception:  # noqa: BLE001 - any failure means: use plain ops
        return False


def _bn_scale_shift(bn: nn.BatchNorm2d | nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``y = x * scale + shift`` (float64)."""
    var = bn.running_var.double()
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    return scale, shift


def _folded(conv: nn.Conv2d | nn.Conv3d, bn: Optional[nn.Module]
            ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(weight, bias) of ``bn(conv(x))`` as one conv, computed in float64."""
    w = conv.weight.detach()
    b = None if conv.bias is None else conv.bias.detach()
    if bn is None:
        return w.clone(), None if b is None else b.clone()
    scale, shift = _bn_scale_shift(bn)
    wf = w.double() * scale.view(-1, *([1] * (w.dim() - 1)))
    bf = shift if b is None else b.double() * scale + shift
    return wf.to(w.dtype), bf.to(w.dtype)


def _act_name(act: Optional[nn.Module]) -> str:
    if act is None or isinstance(act, nn.Identity):
        return "none"
    if isinstance(act, nn.ReLU6):
        return "relu6"
    if isinstance(act, nn.ReLU):
        return "relu"
    raise TypeError(f"cannot fuse activation {type(act).__name__}")


def _apply_act(x: torch.Tensor, act: str) -> torch.Tensor:
    if act == "relu":
        return torch.relu_(x)
    if act == "relu6":
        return F.hardtanh_(x, 0.0, 6.0)
    return x


class FusedConv2d(nn.Conv2d):
    """Conv2d with a folded BatchNorm (as bias) and an optional activation, optionally after
    adding a residual: ``act(conv(x) + residual)`` in one oneDNN call where possible."""

    def __init__(self, conv: nn.Conv2d, bn: Optional[nn.Module] = None, act: str = "none"):
        if act not in _ACTS:
            raise ValueError(f"act must be one of {_ACTS}, got {act!r}")
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("FusedConv2d needs numeric zero padding")
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                         conv.padding, conv.dilation, conv.groups, bias=True,
                         device=conv.weight.device, dtype=conv.weight.dtype)
        weight, bias = _folded(conv, bn)
        with torch.no_grad():
            self.weight.copy_(weight)
            if bias is None:
                self.bias.zero_()
            else:
                self.bias.copy_(bias)
        self.act = act
        kh, kw = self.kernel_size
        # oneDNN picks a slow kernel for wide convs on small maps (TPN's 1024->2048 (1,3,3)
        # stride-2 spatial modulation runs ~2x slower than one GEMM); those go through im2col.
        self.use_gemm = (self.groups == 1 and (kh, kw) != (1, 1) and tuple(self.dilation) == (1, 1)
                         and self.in_channels * kh * kw >= _GEMM_MIN_REDUCTION)

    def _gemm(self, x: torch.Tensor) -> torch.Tensor:
        """The conv as one matrix product over (kh, kw, C) patches of a channels_last input."""
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        xp = F.pad(x, (pw, pw, ph, ph)).permute(0, 2, 3, 1)  # (N, H, W, C)
        cols = torch.stack([xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                            for i in range(kh) for j in range(kw)], 3)
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)
        y = torch.addmm(self.bias, cols.reshape(n * oh * ow, -1), weight.t())
        return y.view(n, oh, ow, self.out_channels).permute(0, 3, 1, 2)

    def _fast(self, x: torch.Tensor, residual: Optional[torch.Tensor]) -> bool:
        if torch.is_grad_enabled() or x.device.type != "cpu" or x.dtype != torch.float32:
            return False
        if residual is not None and residual.shape[1] != self.out_channels:
            return False
        return _mkldnn_pointwise_available()

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self._fast(x, residual):
            cl = torch.channels_last
            x = x.contiguous(memory_format=cl)
            w = self.weight.contiguous(memory_format=cl)
            args = (list(self.padding), list(self.stride), list(self.dilation), self.groups)
            op = torch.ops.mkldnn._convolution_pointwise
            if self.use_gemm:
                y = self._gemm(x)
                return _apply_act(y if residual is None else y.add_(residual), self.act)
            if residual is None:
                if self.act == "relu6":
                    return op(x, w, self.bias, *args, "hardtanh", [0.0, 6.0], "")
                return op(x, w, self.bias, *args, self.act, [], "")
            residual = residual.contiguous(memory_format=cl)
            if self.act == "relu":
                return op.binary(x, residual, w, self.bias, *args, "add", None, "relu", [], "")
            y = op.binary(x, residual, w, self.bias, *args, "add", None, None, [], "")
            return _apply_act(y, self.act)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                     self.groups)
        if residual is not None:
            y = y + residual
        return _apply_act(y, self.act)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", act={self.act}"


class FoldedConv3d(nn.Module):
    """A (1, kh, kw) or (kt, 1, 1) Conv3d (+ folded BN, activation, residual) run as a 2D conv.

    A channels_last_3d tensor (B, C, T, H, W) is, without copying, a channels_last 2D batch of
    B*T frames (for (1, kh, kw) kernels) or a (B, C, T, H*W) image (for (kt, 1, 1) kernels).
    The output is channels_last_3d again.
    """

    def __init__(self, conv: nn.Conv3d, bn: Optional[nn.Module] = None, act: str = "none"):
        super().__init__()
        if not can_fold_conv3d(conv):
            raise ValueError(f"cannot run {conv} as a 2D conv")
        kt, kh, kw = conv.kernel_size
        self.frames = kt == 1  # else: temporal (kt, 1, 1)
        weight, bias = _folded(conv, bn)
        if self.frames:
            conv2d = nn.Conv2d(conv.in_channels, conv.out_channels, (kh, kw), conv.stride[1:],
                               conv.padding[1:], conv.dilation[1:], conv.groups, bias=False)
        else:
            conv2d = nn.Conv2d(conv.in_channels, conv.out_channels, (kt, 1),
                               (conv.stride[0], 1), (conv.padding[0], 0),
                               (conv.dilation[0], 1), conv.groups, bias=False)
        conv2d = conv2d.to(device=conv.weight.device, dtype=conv.weight.dtype)
        with torch.no_grad():
            conv2d.weight.copy_(weight.squeeze(2) if self.frames else weight.squeeze(-1))
        self.conv = FusedConv2d(conv2d, None, act)
        if bias is not None:
            with torch.no_grad():
                self.conv.bias.copy_(bias)

    def _to_2d(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=CL3D)
        b, c, t, h, w = x.shape
        if self.frames:
            return x.transpose(1, 2).reshape(b * t, c, h, w)
        return x.flatten(3)

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        b, _, t, h, w = x.shape
        res = None if residual is None else self._to_2d(residual)
        y = self.conv(self._to_2d(x), res)
        if self.frames:
            return y.view(b, t, *y.shape[1:]).transpose(1, 2)
        return y.view(b, y.shape[1], y.shape[2], h, w)


def can_fold_conv3d(conv: nn.Module) -> bool:
    """Conv3d whose kernel touches one axis group only: (1, kh, kw) frames or (kt, 1, 1) time
    with no spatial stride/padding."""
    if not isinstance(conv, nn.Conv3d) or conv.padding_mode != "zeros":
        return False
    if isinstance(conv.padding, str):
        return False
    kt, kh, kw = conv.kernel_size
    if kt == 1 and conv.padding[0] == 0 and conv.stride[0] == 1:
        return True
    spatial_identity = (kh, kw) == (1, 1) and conv.stride[1:] == (1, 1) \
        and conv.padding[1:] == (0, 0)
    return spatial_identity


# -- blocks -------------------------------------------------------------------------------------
class FusedBottleneck(nn.Module):
    """ResNet bottleneck (2D timm or SlowOnly 3D) with folded BNs; conv3 adds the shortcut and
    applies the last ReLU itself. ``conv1`` keeps its ``TemporalShift`` wrapper, if any."""

    def __init__(self, conv1: nn.Module, conv2: nn.Module, conv3: nn.Module,
                 downsample: Optional[nn.Module]):
        super().__init__()
        self.conv1, self.conv2, self.conv3, self.downsample = conv1, conv2, conv3, downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.conv2(self.conv1(x)), shortcut)


def _fuse_conv(conv: nn.Module, bn: Optional[nn.Module], act: str) -> nn.Module:
    """Fold ``bn`` and ``act`` into ``conv`` (looking inside a TemporalShift wrapper)."""
    if isinstance(conv, TemporalShift):
        conv.net = _fuse_conv(conv.net, bn, act)
        return conv
    if isinstance(conv, nn.Conv2d):
        return FusedConv2d(conv, bn, act)
    if can_fold_conv3d(conv):
        return FoldedConv3d(conv, bn, act)
    raise TypeError(f"cannot fuse {type(conv).__name__}")


def _fusable(conv: nn.Module) -> bool:
    inner = conv.net if isinstance(conv, TemporalShift) else conv
    return (isinstance(inner, nn.Conv2d) and not isinstance(inner, FusedConv2d)
            and inner.padding_mode == "zeros" and not isinstance(inner.padding, str)) \
        or can_fold_conv3d(inner)


def _is_noop(m: Optional[nn.Module]) -> bool:
    return m is None or isinstance(m, nn.Identity)


def _bottleneck(block: nn.Module) -> Optional[nn.Module]:
    """A FusedBottleneck for a timm ``Bottleneck`` or a ``Bottleneck3d``, if it is plain."""
    needed = ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "act1", "act2", "act3")
    if not all(hasattr(block, n) for n in needed):
        return None
    extras = [getattr(block, n, None) for n in ("drop_block", "aa", "se", "drop_path")]
    if not all(_is_noop(m) for m in extras):
        return None
    if not all(isinstance(getattr(block, n), nn.ReLU) for n in ("act1", "act2", "act3")):
        return None
    if not all(_fusable(getattr(block, n)) for n in ("conv1", "conv2", "conv3")):
        return None
    down = block.downsample
    if down is not None:
        if not (isinstance(down, nn.Sequential) and len(down) == 2 and _fusable(down[0])):
            return None
        down = _fuse_conv(down[0], down[1], "none")
    return FusedBottleneck(_fuse_conv(block.conv1, block.bn1, "relu"),
                           _fuse_conv(block.conv2, block.bn2, "relu"),
                           _fuse_conv(block.conv3, block.bn3, "relu"), down)


# (conv, norm, activation) attribute triples folded in place, by class name; the norm may be a
# timm BatchNormAct2d, whose own activation is then fused too.
_PAIRS = {
    "ResNetBackbone": [("conv1", "bn1", "act1")],
    "ResNet3dSlowOnly": [("conv1", "bn1", "act1")],
    "ConvBnAct3d": [("conv", "bn", "act")],
    "LevelFusionDownsample": [("conv", "bn", "act")],
    "TemporalModulation": [("conv", None, None)],
    "TemporalDownsample": [("conv", None, None)],
    "InvertedResidual": [("conv_pw", "bn1", None), ("conv_dw", "bn2", None),
                         ("conv_pwl", "bn3", None)],
    "DepthwiseSeparableConv": [("conv_dw", "bn1", None), ("conv_pw", "bn2", None)],
    "MobileNetV2TSMBackbone": [("conv_stem", "bn1", None), ("conv_head", "bn2", None)],
}


def _fold_pairs(module: nn.Module) -> None:
    for conv_name, bn_name, act_name in _PAIRS.get(type(module).__name__, ()):
        conv = getattr(module, conv_name)
        bn = getattr(module, bn_name) if bn_name else None
        act = getattr(module, act_name) if act_name else None
        if bn is not None and not isinstance(bn, nn.modules.batchnorm._BatchNorm):
            continue
        if not _fusable(conv):
            continue
        if bn is not None and hasattr(bn, "act"):  # timm BatchNormAct2d: norm, drop, act
            if not _is_noop(getattr(bn, "drop", None)):
                continue
            act = bn.act
        try:
            act_kind = _act_name(act)
        except TypeError:
            continue
        setattr(module, conv_name, _fuse_conv(conv, bn, act_kind))
        if bn_name:
            setattr(module, bn_name, nn.Identity())
        if act_name:
            setattr(module, act_name, nn.Identity())


def _rewrite(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        fused = _bottleneck(child)
        if fused is not None:
            setattr(module, name, fused)
            continue
        if isinstance(child, nn.Dropout):
            setattr(module, name, nn.Identity())
            continue
        if isinstance(child, nn.Upsample) and child.mode == "nearest" and child.size is None:
            factors = child.scale_factor
            factors = factors if isinstance(factors, tuple) else (factors,)
            if all(float(f) == 1.0 for f in factors):
                setattr(module, name, nn.Identity())
                continue
        _rewrite(child)
    _fold_pairs(module)


@torch.no_grad()
def optimize_for_inference(model: nn.Module, *, channels_last: bool = True,
                           inplace: bool = False) -> nn.Module:
    """An eval-mode copy of ``model`` rewritten for fast inference (see the module docstring).

    ``channels_last`` converts the 2D weights (the 3D convs it rewrites use channels_last_3d
    views either way). ``inplace=True`` rewrites ``model`` itself. Logits agree with the
    original to float32 round-off (about 1e-6 relative), not bit for bit.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"optimize_for_inference expects an nn.Module, got {type(model)}")
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    for m in list(model.modules()):
        if hasattr(m, "reparameterize") and callable(m.reparameterize) \
                and type(m).__name__ == "TSMMobileOne":
            m.reparameterize()
    _rewrite(model)
    if channels_last:
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last)
    model.requires_grad_(False)
    model.inference_optimized = True
    return model
