"""Small building blocks shared by the families: the temporal shift and input checks."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Callable, Optional

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def temporal_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """MMAction2/TSM shift on a ``(N*T, C, H, W)`` frame batch.

    Channels ``[0, C/div)`` take the next frame (zero at the last), channels ``[C/div, 2C/div)``
    the previous frame (zero at the first); the rest are untouched. One output allocation and
    one pass over the data (no zero-filled buffer, no concatenation); the memory format of ``x``
    (contiguous or channels_last) is kept.
    """
    nt, c, h, w = x.shape
    if nt % num_segments:
        raise ValueError(
            f"temporal shift needs the frame batch ({nt}) to be a multiple of the number of "
            f"segments ({num_segments})"
        )
    fold = c // shift_div
    if fold == 0:
        return x
    src = x.reshape(nt // num_segments, num_segments, c, h, w)
    out = torch.empty_like(src)
    # Order and integer-indexed zero slabs matter under torch.compile: torch 2.15's inductor
    # left part of the buffer unwritten (NaN logits) for the order rest-last with ``-1:``
    # slices; this order is exact in eager and compiled (tests/test_models.py::test_torch_compile).
    out[:, :, 2 * fold:] = src[:, :, 2 * fold:]
    out[:, :-1, :fold] = src[:, 1:, :fold]
    out[:, -1, :fold] = 0
    out[:, 1:, fold:2 * fold] = src[:, :-1, fold:2 * fold]
    out[:, 0, fold:2 * fold] = 0
    return out.view(nt, c, h, w)


# Below this many moved elements, copying the two slabs aside in one op beats moving them frame
# by frame (fewer ops, more bytes); above it memory traffic dominates and the per-frame moves win.
_FRAMEWISE_MIN_ELEMENTS = 1 << 17


def _slab_view(x: torch.Tensor, num_segments: int) -> torch.Tensor:
    nt, c = x.shape[:2]
    return x.view(nt // num_segments, num_segments, c, *x.shape[2:])


def _move_slabs(x: torch.Tensor, num_segments: int, fold: int) -> tuple:
    """Apply :func:`temporal_shift` to ``x`` in place; return ``(first, last, saved)``: the two
    boundary frames the shift overwrote (channels ``[0, fold)`` of each group's first frame,
    ``[fold, 2 fold)`` of its last) and, for small maps, the slabs as they were.

    Only the 2/``shift_div`` of the channels that move are touched, instead of writing a whole
    new tensor. Large maps move frame by frame (no copy overlaps itself, nothing is copied
    aside but the two boundary frames); small ones copy both slabs aside in one op first.
    """
    v = _slab_view(x, num_segments)
    fwd, bwd = v[:, :, :fold], v[:, :, fold:2 * fold]
    saved = None
    if 2 * fold * v[0, 0, 0].numel() * x.shape[0] < _FRAMEWISE_MIN_ELEMENTS:
        saved = v[:, :, :2 * fold].clone()
        first, last = saved[:, 0, :fold], saved[:, -1, fold:]
        fwd[:, :-1].copy_(saved[:, 1:, :fold])
        bwd[:, 1:].copy_(saved[:, :-1, fold:])
    else:
        first, last = fwd[:, 0].clone(), bwd[:, -1].clone()
        f, b = fwd.unbind(1), bwd.unbind(1)
        for t in range(num_segments - 1):
            f[t].copy_(f[t + 1])
        for t in range(num_segments - 1, 0, -1):
            b[t].copy_(b[t - 1])
    fwd[:, -1].zero_()
    bwd[:, 0].zero_()
    return first, last, saved


def _shift_in_place(x: torch.Tensor, num_segments: int, fold: int) -> tuple:
    """:func:`temporal_shift` of ``x`` in place; what :func:`_unshift_in_place` needs to undo
    it exactly."""
    return _move_slabs(x, num_segments, fold)


def _unshift_in_place(x: torch.Tensor, num_segments: int, fold: int, moved: tuple) -> None:
    """Restore ``x`` bit for bit after :func:`_shift_in_place`."""
    first, last, saved = moved
    v = _slab_view(x, num_segments)
    if saved is not None:
        v[:, :, :2 * fold].copy_(saved)
        return
    fwd, bwd = v[:, :, :fold].unbind(1), v[:, :, fold:2 * fold].unbind(1)
    for t in range(num_segments - 1, 0, -1):
        fwd[t].copy_(fwd[t - 1])
    fwd[0].copy_(first)
    for t in range(num_segments - 1):
        bwd[t].copy_(bwd[t + 1])
    bwd[-1].copy_(last)


def _shift_for_good(x: torch.Tensor, num_segments: int, fold: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`temporal_shift` of ``x`` in place, not to be undone: the two boundary frames it
    overwrote, all :func:`add_unshifted_` needs to read ``x`` unshifted."""
    first, last, _ = _move_slabs(x, num_segments, fold)
    return first, last


def add_unshifted_(out: torch.Tensor, shifted: torch.Tensor, boundary: tuple, num_segments: int,
                   fold: int) -> torch.Tensor:
    """``out += x`` where ``shifted`` is ``x`` after :func:`_shift_for_good` (``boundary`` is
    what it returned): each element of ``x`` is read where the shift moved it, so the sum is
    the residual add bit for bit, without a pass to undo the shift first."""
    o, s = _slab_view(out, num_segments), _slab_view(shifted, num_segments)
    first, last = boundary
    o[:, :, 2 * fold:].add_(s[:, :, 2 * fold:])
    o[:, 1:, :fold].add_(s[:, :-1, :fold])
    o[:, 0, :fold].add_(first)
    o[:, :-1, fold:2 * fold].add_(s[:, 1:, fold:2 * fold])
    o[:, -1, fold:2 * fold].add_(last)
    return out


def consumable_shift(x: torch.Tensor, shift: nn.Module, *owners: nn.Module) -> int:
    """The fold with which ``shift`` may shift ``x`` in place for good, or 0.

    For a block runner (a backbone's stage loop) whose ``x`` is the previous block's output
    and referenced nowhere else: the in-place conditions of :class:`TemporalShift` hold, and no
    module of ``owners`` (the block that made ``x`` and the one about to read it) has a hook
    that could keep ``x`` or see it shifted."""
    if not isinstance(shift, TemporalShift) or x.dim() != 4:
        return 0
    fold = x.shape[1] // shift.shift_div
    if fold == 0 or x.shape[0] % shift.num_segments or not _can_shift_in_place(x, shift.net):
        return 0
    for owner in owners:
        for m in owner.modules():
            if m._forward_hooks or m._forward_pre_hooks:
                return 0
    return fold


def shift_for_good(x: torch.Tensor, shift: TemporalShift, fold: int) -> tuple:
    """Shift ``x`` in place as ``shift`` would (see :func:`consumable_shift`); the boundary
    frames for :func:`add_unshifted_`."""
    return _shift_for_good(x, shift.num_segments, fold)


Consume = Callable[[nn.Module, nn.Module, torch.Tensor], Optional[torch.Tensor]]


def run_blocks(blocks: Iterable[nn.Module], x: torch.Tensor, use_checkpoint: bool = False,
               consume: Optional[Consume] = None, source: Optional[nn.Module] = None
               ) -> torch.Tensor:
    """Run ``blocks`` in order, recomputing each one's activations in backward when asked.

    ``consume(prev, block, x)`` may run ``block`` on an ``x`` that only this loop holds (the
    output of ``prev``; for the first block, of ``source`` when the caller keeps no reference
    to ``x``), shifting it in place for good; None means it declined."""
    prev = source
    for block in blocks:
        if use_checkpoint:
            x = checkpoint(block, x, use_reentrant=False)
        else:
            y = consume(prev, block, x) if consume is not None and prev is not None else None
            x = block(x) if y is None else y
        prev = block
    return x


def _reads_input_only(net: nn.Module) -> bool:
    """Modules known to leave their input untouched and to return a new tensor."""
    from timm.models.byobnet import MobileOneBlock  # imported late: only the mobile TSM needs it

    return isinstance(net, (nn.Conv2d, MobileOneBlock))


def _can_shift_in_place(x: torch.Tensor, net: nn.Module) -> bool:
    """Inference-only fast path: no autograd graph can hold ``x``, no tracer sees the
    mutation, no hook can keep a reference to the shifted input, ``x`` is dense (no
    overlapping views), and ``net`` only reads it."""
    if torch.is_grad_enabled() or torch.jit.is_scripting() or torch.jit.is_tracing():
        return False
    if torch.compiler.is_compiling():
        return False
    if x.is_inference() and not torch.is_inference_mode_enabled():
        return False  # inference tensors may only be written inside inference_mode
    if net._forward_pre_hooks or net._forward_hooks or global_hooks():
        return False  # a hook may keep the conv's input: it must stay the shifted tensor
    dense = x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)
    return dense and _reads_input_only(net)


def global_hooks() -> bool:
    from torch.nn.modules import module as _module

    return bool(_module._global_forward_pre_hooks or _module._global_forward_hooks)


class TemporalShift(nn.Module):
    """Shift channels in time, then run the wrapped module (MMAction2's ``TemporalShift``).

    ``num_segments`` is the number of frames per view. The recognizer sets it from the input
    before every forward unless ``fixed_segments`` pins it (MobileOne-S4 1x1x16 shifts in groups
    of 8 while its head averages 16 frames, exactly as MMAction2's config does).

    Without autograd (``torch.no_grad`` / ``torch.inference_mode``), when ``net`` is a conv or a
    MobileOne block, the shift is done in place on the input and undone after ``net`` has run:
    the same numbers, no new tensor and a quarter of the copying. With autograd, under
    ``torch.compile`` / TorchScript, or for any other ``net``, :func:`temporal_shift` is used.
    A backbone's block loop goes one step further where it alone holds the input (the previous
    block's output, no hooks anywhere near it): the block shifts it for good and its residual
    add reads each element where the shift put it (:func:`consumable_shift`,
    :func:`add_unshifted_`), so nothing is put back.
    """

    segment_aware = True  # set_num_segments updates num_segments

    def __init__(self, net: nn.Module, shift_div: int = 8, fixed_segments: Optional[int] = None):
        super().__init__()
        self.net = net
        self.shift_div = shift_div
        self.fixed_segments = fixed_segments
        self.num_segments = fixed_segments or 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fold = x.shape[1] // self.shift_div if x.dim() == 4 else 0
        if fold == 0 or x.shape[0] % self.num_segments or not _can_shift_in_place(x, self.net):
            return self.net(temporal_shift(x, self.num_segments, self.shift_div))
        # Inference: shift the input in place, run the conv, put the input back. The conv sees
        # exactly the tensor temporal_shift would build, and the residual branch (which holds
        # the same input) sees it unshifted again, at a quarter of the memory traffic.
        saved = _shift_in_place(x, self.num_segments, fold)
        try:
            return self.net(x)
        finally:
            _unshift_in_place(x, self.num_segments, fold, saved)

    def extra_repr(self) -> str:
        fixed = f", fixed_segments={self.fixed_segments}" if self.fixed_segments else ""
        return f"shift_div={self.shift_div}{fixed}"


def set_num_segments(module: nn.Module, num_segments: int) -> None:
    """Tell every unpinned ``TemporalShift`` (and other module with ``segment_aware = True`` and
    ``num_segments``/``fixed_segments`` attributes, e.g. non-local wrappers) in ``module`` how
    many frames one view has."""
    for m in module.modules():
        if getattr(m, "segment_aware", False) and m.fixed_segments is None:
            m.num_segments = num_segments


def check_video_input(x: torch.Tensor, in_chans: int, name: str) -> None:
    """Raise a ValueError naming the expected layout for anything that is not (B, C, T, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of shape (B, C, T, H, W), got {type(x)}")
    if x.dim() != 5 or x.shape[1] != in_chans:
        raise ValueError(
            f"{name} expects input of shape (B, C={in_chans}, T, H, W) (batch, channels, frames, "
            f"height, width), got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{name} expects a normalised float tensor, got dtype {x.dtype}; normalise uint8 "
            "frames with the model's mean/std first (videozoo.create_transform does this)"
        )
