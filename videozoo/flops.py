"""FLOPs and parameter counts the way MMAction2's model-zoo tables report them.

``count_flops`` runs the model once under a ``TorchDispatchMode`` that sees every ATen op, on the
``meta`` device by default (shapes only, no arithmetic: well under a second for a ResNet-101 TSN),
and prices each op by one of two conventions:

``"mmengine"`` (MMAction2 1.x ``tools/analysis_tools/get_flops.py``, the TSN/TSM tables):
    mmengine's fvcore-derived counter. One multiply-add is one FLOP.

    - convolution: ``batch * prod(weight.shape) * prod(output spatial)``; the bias is free;
    - matmul / linear: multiply-adds;
    - BatchNorm in eval mode: 2 per element (1 without affine; 5 / 4 with batch statistics);
      GroupNorm / LayerNorm: 5 per element (4 without affine);
    - 2D global / adaptive average pooling: 1 per *input* element. ``nn.AdaptiveAvgPool2d(1)``
      reaches ATen as ``mean`` over the last two dims, and timm's SE blocks call ``x.mean((2, 3))``
      where mmpretrain's use ``nn.AdaptiveAvgPool2d``, so such a ``mean`` is priced as the pool;
    - nearest 2D upsampling: 1 per output element, bilinear 2D: 4;
    - free: activations, max pooling, 3D average pooling, element-wise add/mul, softmax, slicing
      and concatenation (the temporal shift), 3D upsampling.

``"mmcv"`` (MMAction2 0.x ``tools/analysis/get_flops.py``, the TPN metafile numbers): mmcv's
ptflops-style module counter.

    - convolution: as above **plus** the bias, 1 per output element;
    - ``nn.Linear``: multiply-adds (no bias); bare matmuls (non-local attention) are free;
    - BatchNorm / GroupNorm / LayerNorm: 2 per element (1 without affine), any mode;
    - ReLU, ReLU6, LeakyReLU, ELU, PReLU: 1 per output element;
    - every pooling (max or average, fixed or adaptive, 2D or 3D): 1 per input element;
    - upsampling (any mode): 1 per output element;
    - free: element-wise ops, softmax, sigmoid, slicing and concatenation.

What runs: ``include_head=False`` (the 1.x tables) counts ``model.forward_features``, the
backbone (with the neck for TPN, whose ``forward_features`` includes it), like 1.x's
``extract_feat``. ``include_head=True`` (0.x's ``forward_dummy``) adds ``model.forward_head`` on
those features; the training-only TPN aux head never runs. The input is one zero view of
``(1, *input_shape)``; videozoo models take ``(B, C, T, H, W)``, which is what MMAction2's 2D
FLOPs count too (T frames through the backbone). The model runs in eval mode, without grad;
its own training flags are restored afterwards.

Known MMAction2 artefacts reproduced on purpose (mmcv convention only):

- MMAction2's TPN neck keeps ``MaxPool3d`` modules of kernel 1 (no-ops) that videozoo replaces
  by ``nn.Identity``; mmcv prices them at 1 per input element, and so does this counter (five of
  them at 256x256: 327,680 FLOPs).
- 2D recognizer with a neck (TPN-TSM), ``include_head=True``: 0.x's ``TPNHead`` pools the squeezed
  neck output with an ``nn.AvgPool3d`` it builds inside ``forward``, after mmcv installed its
  hooks, so that pooling is never counted. Head pooling is therefore free for such models.

Table strings: :func:`format_count` (``style="table"``) turns 32,874,913,792 into ``'32.88G'``;
see its docstring for the double rounding the tables use.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Optional, Union

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from .models.base import VideoRecognizer

__all__ = ["CONVENTIONS", "count_flops", "count_params", "format_count"]

CONVENTIONS = ("mmengine", "mmcv")

aten = torch.ops.aten


def count_params(model: nn.Module) -> int:
    """All parameters of the whole model (backbone, neck, heads, TPN aux head), shared ones
    once: MMAction2's ``params`` column (mmengine ``parameter_count(model)['']``)."""
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------------
# Op pricing
# ------------------------------------------------------------------------------------------------
def _packets(*names: str) -> frozenset:
    """The ATen overload packets that exist in this torch build."""
    return frozenset(getattr(aten, n) for n in names if hasattr(aten, n))


_CONV = _packets("convolution", "_convolution", "convolution_overrideable")
_BATCH_NORM = _packets("native_batch_norm", "_native_batch_norm_legit",
                       "_native_batch_norm_legit_no_training",
                       "_native_batch_norm_legit_functional", "cudnn_batch_norm",
                       "miopen_batch_norm")
_GROUP_NORM = _packets("native_group_norm")
_LAYER_NORM = _packets("native_layer_norm")
_MM = _packets("mm", "bmm", "dot", "mv")  # (a, b)
_ADDMM = _packets("addmm", "baddbmm", "addmv")  # (bias, a, b)
_MEAN = _packets("mean")
_ADAPTIVE_AVG_POOL_2D = _packets("_adaptive_avg_pool2d", "adaptive_avg_pool2d")
_OTHER_POOL = _packets("avg_pool1d", "avg_pool2d", "avg_pool3d", "_adaptive_avg_pool3d",
                       "adaptive_avg_pool3d", "adaptive_avg_pool1d", "max_pool1d", "max_pool2d",
                       "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
                       "max_pool3d_with_indices", "adaptive_max_pool1d", "adaptive_max_pool2d",
                       "adaptive_max_pool3d")
_NEAREST_2D = _packets("upsample_nearest2d", "_upsample_nearest_exact2d")
_BILINEAR_2D = _packets("upsample_bilinear2d", "_upsample_bilinear2d_aa")
_OTHER_UPSAMPLE = _packets("upsample_nearest1d", "upsample_nearest3d", "_upsample_nearest_exact1d",
                           "_upsample_nearest_exact3d", "upsample_linear1d",
                           "upsample_trilinear3d", "upsample_bicubic2d", "_upsample_bicubic2d_aa")
_ACTIVATION = _packets("relu", "relu_", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_",
                       "elu", "elu_", "_prelu_kernel")


def _arg(args: Sequence[Any], kwargs: dict[str, Any], index: int, name: str,
         default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _first_tensor(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _global_pool_dims(x: torch.Tensor, dims: Any) -> int:
    """2 or 3 when ``mean(x, dims)`` is a global average pool over the trailing spatial dims of a
    batched 2D (4D/5D tensor, last two dims) or 3D (5D tensor, last three dims) map; else 0.

    PyTorch lowers ``adaptive_avg_pool{2,3}d(x, 1)`` to exactly such a mean."""
    if dims is None or x.dim() not in (4, 5):
        return 0
    dims = [dims] if isinstance(dims, int) else list(dims)
    if not dims:
        return 0
    reduced = sorted({d % x.dim() for d in dims})
    if reduced == [x.dim() - 2, x.dim() - 1]:
        return 2
    if x.dim() == 5 and reduced == [2, 3, 4]:
        return 3
    return 0


def _conv_flops(args: Sequence[Any], kwargs: dict[str, Any], out: torch.Tensor,
                with_bias: bool) -> int:
    x, w = args[0], args[1]
    bias = _arg(args, kwargs, 2, "bias")
    transposed = bool(_arg(args, kwargs, 6, "transposed", False))
    positions = math.prod((x.shape if transposed else out.shape)[2:])
    flops = x.shape[0] * math.prod(w.shape) * positions
    if with_bias and bias is not None:
        flops += out.numel()
    return flops


def _batch_norm_parts(func: Any, args: Sequence[Any], kwargs: dict[str, Any]
                      ) -> tuple[torch.Tensor, bool, bool]:
    """(input, affine, uses batch statistics) of any of ATen's batch-norm ops."""
    x, weight = args[0], _arg(args, kwargs, 1, "weight")
    packet = func.overloadpacket
    if packet is getattr(aten, "_native_batch_norm_legit_no_training", None):
        training = False
    elif packet is getattr(aten, "_native_batch_norm_legit_functional", None):
        training = bool(_arg(args, kwargs, 5, "training", True))
    elif func._overloadname == "no_stats":  # _native_batch_norm_legit without running stats
        training = bool(_arg(args, kwargs, 3, "training", True))
    else:
        training = bool(_arg(args, kwargs, 5, "training", False))
    return x, weight is not None, training


def _is_elided_max_pool(parent: nn.Module, module: nn.Module) -> bool:
    """An ``nn.Identity`` standing where MMAction2's TPN neck has a ``MaxPool3d`` of kernel 1.

    MMAction2 always builds the pool of ``TemporalModulation``, the bottom-up ``DownSample`` and
    the level-fusion ``DownSample`` s; mmcv prices it (1 per input element) even when its kernel
    is 1 and it does nothing. videozoo leaves such no-op pools out, so this puts their price back.
    """
    from .models.tpn import LevelFusionDownsample, TemporalDownsample, TemporalModulation

    return (isinstance(module, nn.Identity) and getattr(parent, "pool", None) is module
            and isinstance(parent, (TemporalModulation, TemporalDownsample,
                                    LevelFusionDownsample)))


class _FlopCounter(TorchDispatchMode):
    """Prices every ATen op that runs while active; ``counts`` is per operator name.

    A global module-forward hook keeps the stack of running modules, so that a matmul issued by
    an ``nn.Linear`` is told apart from a bare one (both become ``mm``/``addmm`` in ATen).
    """

    def __init__(self, convention: str):
        super().__init__()
        self.convention = convention
        self.counts: Counter = Counter()
        self.free_pooling = False  # see the mmcv head-pool artefact in the module docstring
        self._modules: list[nn.Module] = []
        self._hooks: list[Any] = []

    # -- module stack -----------------------------------------------------------------------------
    def __enter__(self) -> _FlopCounter:
        reg = nn.modules.module
        self._hooks = [
            reg.register_module_forward_pre_hook(self._push),
            reg.register_module_forward_hook(lambda m, a, o: self._pop(m)),
        ]
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []
        return super().__exit__(*exc)

    def _push(self, module: nn.Module, args: Any) -> None:
        if (self.convention == "mmcv" and not self.free_pooling and self._modules
                and _is_elided_max_pool(self._modules[-1], module)):
            self.counts["max_pool"] += args[0].numel()
        self._modules.append(module)

    def _pop(self, module: nn.Module) -> None:
        for i in range(len(self._modules) - 1, -1, -1):
            if self._modules[i] is module:
                del self._modules[i:]
                return

    def _in_linear(self) -> bool:
        return bool(self._modules) and isinstance(self._modules[-1], nn.Linear)

    # -- dispatch ---------------------------------------------------------------------------------
    def __torch_dispatch__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: Optional[dict[str, Any]] = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        priced = self._price(func, args, kwargs, out)
        if priced is not None and priced[1]:
            self.counts[priced[0]] += int(priced[1])
        return out

    def _price(self, func: Any, args: Sequence[Any], kwargs: dict[str, Any], out: Any
               ) -> Optional[tuple[str, int]]:
        packet = func.overloadpacket
        mmcv = self.convention == "mmcv"
        if packet in _CONV:
            return "conv", _conv_flops(args, kwargs, _first_tensor(out), with_bias=mmcv)
        if packet in _BATCH_NORM:
            x, affine, training = _batch_norm_parts(func, args, kwargs)
            if mmcv or not training:
                return "batch_norm", x.numel() * (2 if affine else 1)
            return "batch_norm", x.numel() * (5 if affine else 4)
        if packet in _GROUP_NORM or packet in _LAYER_NORM:
            name = "group_norm" if packet in _GROUP_NORM else "layer_norm"
            weight = _arg(args, kwargs, 1 if name == "group_norm" else 2, "weight")
            per = (2 if weight is not None else 1) if mmcv else (5 if weight is not None else 4)
            return name, args[0].numel() * per
        if packet in _MM or packet in _ADDMM:
            a, b = args[:2] if packet in _MM else args[1:3]
            flops = a.numel() * (b.shape[-1] if b.dim() > 1 else 1)
            if self._in_linear():
                return "linear", flops
            return ("matmul", 0 if mmcv else flops)
        if packet in _MEAN:
            pool = _global_pool_dims(args[0], _arg(args, kwargs, 1, "dim"))
            if pool and (mmcv or pool == 2):
                return "avg_pool", 0 if self.free_pooling else args[0].numel()
            return None
        if packet in _ADAPTIVE_AVG_POOL_2D:
            return "avg_pool", 0 if self.free_pooling else args[0].numel()
        if packet in _OTHER_POOL:
            if not mmcv or self.free_pooling:
                return None
            return ("max_pool" if "max" in packet.__name__ else "avg_pool"), args[0].numel()
        if packet in _NEAREST_2D or packet in _BILINEAR_2D or packet in _OTHER_UPSAMPLE:
            numel = _first_tensor(out).numel()
            if mmcv:
                return "upsample", numel
            if packet in _NEAREST_2D:
                return "upsample", numel
            if packet in _BILINEAR_2D:
                return "upsample", 4 * numel
            return None
        if packet in _ACTIVATION and mmcv:
            return "activation", _first_tensor(out).numel()
        return None


# ------------------------------------------------------------------------------------------------
# Running the model
# ------------------------------------------------------------------------------------------------
class _Call(nn.Module):
    """Wraps ``fn`` (a bound method of ``model``) so ``functional_call`` can swap the weights."""

    def __init__(self, model: nn.Module, fn: Callable[[torch.Tensor], Any]):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(x)


def _mmcv_skips_head_pool(model: nn.Module) -> bool:
    """2D recognizer with a neck (TPN-TSM): 0.x's head pool was invisible to mmcv."""
    return hasattr(model, "neck") and not getattr(model, "is_3d", True)


def _check_input_shape(model: nn.Module, input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be a sequence of ints, got {input_shape!r}") from None
    if any(s <= 0 for s in shape) or not shape:
        raise ValueError(f"input_shape must be positive sizes, got {shape}")
    if isinstance(model, VideoRecognizer) and len(shape) != 4:
        raise ValueError(
            f"input_shape is one view without the batch dimension, (C, T, H, W), e.g. "
            f"(3, 8, 224, 224); got {shape}")
    return shape


def _run(counter: _FlopCounter, model: nn.Module, x: torch.Tensor, include_head: bool,
         skip_head_pool: bool, params: Optional[dict[str, torch.Tensor]]) -> None:
    def features_then_head(inp: torch.Tensor) -> Any:
        feats = model.forward_features(inp)
        if include_head:
            counter.free_pooling = skip_head_pool
            try:
                return model.forward_head(feats)
            finally:
                counter.free_pooling = False
        return feats

    if hasattr(model, "forward_features"):
        fn = features_then_head
    elif include_head:
        fn = lambda inp: model(inp)  # noqa: E731
    else:
        raise TypeError(f"{type(model).__name__} has no forward_features, so there is no "
                        "backbone-only count; pass include_head=True to count model(x)")
    with torch.no_grad(), counter:
        if params is None:
            fn(x)
        else:
            torch.func.functional_call(_Call(model, fn), params, (x,), strict=False)


def count_flops(
    model: nn.Module,
    input_shape: Sequence[int],
    convention: str = "mmengine",
    include_head: bool = False,
    by_operator: bool = False,
    device: Optional[Union[str, torch.device]] = "meta",
) -> Union[int, dict[str, int]]:
    """FLOPs of one view, counted as MMAction2's zoo tables count them.

    Args:
        model: a videozoo model (or any module; without ``forward_features`` only
            ``include_head=True`` is possible and ``model(x)`` is counted).
        input_shape: one view **without** the batch dimension; ``(C, T, H, W)`` for videozoo
            models, e.g. ``(3, 8, 224, 224)``. A batch of 1 is added.
        convention: ``"mmengine"`` (1.x tables: TSN, TSM) or ``"mmcv"`` (0.x counter: the TPN
            metafile numbers); the pricing rules are in the module docstring.
        include_head: also count the classification head (0.x ``forward_dummy``). The 1.x
            tables count the backbone (+ TPN neck) only.
        by_operator: return ``{operator: flops}`` (``conv``, ``batch_norm``, ``linear``,
            ``matmul``, ``avg_pool``, ``max_pool``, ``upsample``, ``activation``,
            ``group_norm``, ``layer_norm``; zero entries dropped) instead of the total.
        device: ``"meta"`` (default) runs on shape-only tensors, fast and without touching the
            weights; if the model cannot run there it is run again on its own device with real
            (zero) input. ``None`` runs on the model's device directly.

    Returns:
        The total as an int, or the per-operator dict.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    shape = _check_input_shape(model, input_shape)
    first = next(iter(model.parameters()), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    own_device = first.device if first is not None else torch.device("cpu")
    skip_head_pool = convention == "mmcv" and _mmcv_skips_head_pool(model)

    saved_modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        counter = _FlopCounter(convention)
        meta = device is not None and torch.device(device).type == "meta"
        try:
            if meta and own_device.type != "meta":
                wrapper = _Call(model, model.forward)
                tensors = [*wrapper.named_parameters(), *wrapper.named_buffers()]
                params = {k: torch.empty_like(v, device="meta") for k, v in tensors}
                x = torch.zeros((1, *shape), dtype=dtype, device="meta")
                _run(counter, model, x, include_head, skip_head_pool, params)
            else:
                target = own_device if device is None or meta else torch.device(device)
                if target != own_device:
                    raise ValueError(f"the model is on {own_device}; count on 'meta' or None")
                x = torch.zeros((1, *shape), dtype=dtype, device=target)
                _run(counter, model, x, include_head, skip_head_pool, None)
        except (NotImplementedError, RuntimeError):
            if not meta or own_device.type == "meta":
                raise
            counter = _FlopCounter(convention)  # the model needs real tensors somewhere
            x = torch.zeros((1, *shape), dtype=dtype, device=own_device)
            _run(counter, model, x, include_head, skip_head_pool, None)
    finally:
        for m, mode in saved_modes:
            m.training = mode
    if by_operator:
        return {k: v for k, v in counter.counts.items() if v}
    return sum(counter.counts.values())


# ------------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------------
_UNITS = {"P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "K": 1e3}


def _auto_unit(x: float, style: str) -> str:
    """mmengine picks the largest unit the value exceeds a tenth of (1.03e11 -> '0.103T'); the
    tables use the largest unit the value reaches (1.03e11 -> '102.7G')."""
    for unit, scale in _UNITS.items():
        if abs(x) > (scale / 10 if style == "mmengine" else scale - 1):
            return unit
    return ""


def format_count(x: float, unit: Optional[str] = None, style: str = "table") -> str:
    """Format a FLOPs or parameter count like MMAction2 does.

    ``style="mmengine"`` is mmengine's ``_format_size``: the value in ``unit`` with 3 decimals,
    trailing zeros stripped (32,874,913,792 -> ``'32.875G'``, 23,864,558 -> ``'23.865M'``).

    ``style="table"`` is what the 1.x README/metafile tables print: that mmengine string rounded
    again, half up, to 4 significant figures, trailing zeros kept (``'32.875G'`` -> ``'32.88G'``,
    ``'102.734G'`` -> ``'102.7G'``, ``'61.298G'`` -> ``'61.30G'``, ``'3.269G'``). The double
    rounding matters: 62,654,570,496 gives ``'62.66G'`` and 23,864,558 ``'23.87M'``, where a
    single rounding would give 62.65 / 23.86.

    ``unit`` is ``'P'``, ``'T'``, ``'G'``, ``'M'``, ``'K'`` or ``''`` (the plain number). By
    default: for "mmengine" its own choice (``> 1e11`` -> 'T', ``> 1e8`` -> 'G', ``> 1e5`` ->
    'M', ``> 1e2`` -> 'K', so 102,734,105,600 is ``'0.103T'``); for "table" the largest unit
    the value reaches (``'102.7G'``, as the tables print it).
    """
    if style not in ("table", "mmengine"):
        raise ValueError(f"style must be 'table' or 'mmengine', got {style!r}")
    unit = _auto_unit(x, style) if unit is None else unit
    if unit not in _UNITS and unit != "":
        raise ValueError(f"unit must be one of {[*_UNITS, '']}, got {unit!r}")
    if unit == "":
        return str(x)
    mmengine = f"{x / _UNITS[unit]:.3f}".rstrip("0").rstrip(".") or "0"
    if style == "mmengine":
        return mmengine + unit
    value = Decimal(mmengine)
    if value == 0:
        return "0" + unit
    exponent = max(value.adjusted() - 3, -3)  # 4 significant figures, at most 3 decimals
    rounded = value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    if rounded.adjusted() > value.adjusted():  # 9.9995 -> 10.00: one digit too many
        rounded = rounded.quantize(Decimal(1).scaleb(exponent + 1), rounding=ROUND_HALF_UP)
    return (f"{rounded:f}" if exponent < 0 else str(int(rounded))) + unit
