"""Output sizes and crop boxes of MMAction2's spatial transforms, as plain integers.

Kept apart from the pixel code so the exact rules (mmcv's ``rescale_size`` rounding, TenCrop's
``//4`` steps that leave right/bottom crops short of the border, ThreeCrop's left-right-middle
order) can be read and tested without any tensor in sight.
"""
from __future__ import annotations

import math
import random
from typing import Any, Optional, Sequence, Union

import numpy as np

Box = tuple[int, int, int, int]  # (x1, y1, x2, y2) = MMAction2's crop_bbox [left, top, right, bottom]
Scale = Union[float, Sequence[float]]

CROP_MODES = ("center", "three", "ten")

__all__ = [
    "Box",
    "CROP_MODES",
    "crop_boxes",
    "crop_views",
    "multi_scale_crop_box",
    "random_resized_crop_box",
    "resize_shape",
]


def _pair(size: Union[int, Sequence[int]], what: str) -> tuple[int, int]:
    """An int or a (w, h) pair, MMAction2's convention for crop sizes."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        w = h = int(size)
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        w, h = (int(v) for v in size)
    else:
        raise ValueError(f"{what} must be an int or a (width, height) pair, got {size!r}")
    if w < 1 or h < 1:
        raise ValueError(f"{what} must be positive, got {size!r}")
    return w, h


def resize_shape(height: int, width: int, scale: Scale, keep_ratio: bool = True) -> tuple[int, int]:
    """(new_height, new_width) of MMAction2's ``Resize(scale, keep_ratio)``.

    ``scale=(-1, 256)``: the short side becomes 256; ``(340, 256)`` with ``keep_ratio``: the
    largest size that fits 340 on the long side and 256 on the short side; a float: a factor;
    ``keep_ratio=False``: ``scale`` is the exact (width, height). Sizes round as mmcv does,
    ``int(x * factor + 0.5)``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if isinstance(scale, (int, float, np.floating, np.integer)) and not isinstance(scale, bool):
        if scale <= 0:
            raise ValueError(f"a resize factor must be positive, got {scale}")
        factor = float(scale)
    elif isinstance(scale, (tuple, list)) and len(scale) == 2:
        if not keep_ratio:
            if min(scale) <= 0:
                raise ValueError(f"keep_ratio=False needs an exact (width, height), got {scale}")
            return int(scale[1]), int(scale[0])
        long_edge, short_edge = max(scale), min(scale)
        if short_edge == -1:  # (-1, S): only the short side is constrained
            long_edge, short_edge = math.inf, long_edge
        if short_edge <= 0:
            raise ValueError(f"resize scale must be (-1, S) or (W, H) with W, H > 0, got {scale}")
        factor = min(long_edge / max(height, width), short_edge / min(height, width))
    else:
        raise ValueError(f"resize scale must be a float or a pair such as (-1, 256), got {scale!r}")
    return int(height * factor + 0.5), int(width * factor + 0.5)


def crop_views(height: int, width: int, crop_size: Union[int, Sequence[int]],
               mode: str) -> list[tuple[Box, bool]]:
    """The (box, horizontally_flipped) test views of CenterCrop / ThreeCrop / TenCrop, in
    MMAction2's order. ``crop_size`` is an int or (w, h); a crop larger than the frame raises."""
    cw, ch = _pair(crop_size, "crop_size")
    if mode not in CROP_MODES:
        raise ValueError(f"crop mode must be one of {CROP_MODES}, got {mode!r}")
    if cw > width or ch > height:
        raise ValueError(f"a {cw}x{ch} crop does not fit a {width}x{height} frame; resize the "
                         "frames first (e.g. short side 256)")
    if mode == "center":
        x, y = (width - cw) // 2, (height - ch) // 2
        return [((x, y, x + cw, y + ch), False)]
    if mode == "three":
        if ch == height:  # checked first, as MMAction2 does (so a square frame crops along x)
            step = (width - cw) // 2
            offsets = [(0, 0), (2 * step, 0), (step, 0)]  # left, right, middle
        elif cw == width:
            step = (height - ch) // 2
            offsets = [(0, 0), (0, 2 * step), (0, step)]  # top, bottom, middle
        else:
            raise ValueError(f"ThreeCrop needs the crop ({cw}x{ch}) to span one full side of the "
                             f"frame ({width}x{height}); resize the short side to the crop size")
        return [((x, y, x + cw, y + ch), False) for x, y in offsets]
    ws, hs = (width - cw) // 4, (height - ch) // 4
    offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
    views = []
    for x, y in offsets:  # each position unflipped, then flipped
        box = (x, y, x + cw, y + ch)
        views += [(box, False), (box, True)]
    return views


def crop_boxes(height: int, width: int, crop_size: Union[int, Sequence[int]],
               mode: str) -> list[Box]:
    """Boxes (x1, y1, x2, y2) of MMAction2's CenterCrop (``'center'``, 1 box), ThreeCrop
    (``'three'``: left, right, middle; raises ValueError unless a side equals the crop) or
    TenCrop (``'ten'``: 10 boxes, each corner/centre box twice, the second for the flipped view).
    """
    return [box for box, _ in crop_views(height, width, crop_size, mode)]


def _py_random(rng: Any) -> Any:
    """Python's ``random`` module (MMAction2's source for these crops) or a seeded/own RNG."""
    if rng is None:
        return random
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, (int, np.integer)):
        return random.Random(int(rng))
    if isinstance(rng, np.random.Generator):
        return random.Random(int(rng.integers(2**63)))
    if isinstance(rng, np.random.RandomState):
        return random.Random(int(rng.randint(2**31)))
    raise TypeError(f"rng must be None, an int, random.Random or a numpy RNG, got {type(rng)}")


def multi_scale_crop_box(height: int, width: int, input_size: Union[int, Sequence[int]] = 224,
                         scales: Sequence[float] = (1, 0.875, 0.75, 0.66),
                         max_wh_scale_gap: int = 1, random_crop: bool = False,
                         num_fixed_crops: int = 5, rng: Any = None) -> Box:
    """A box of MMAction2's ``MultiScaleCrop`` (TSN/TSM training): width and height each a scale
    of the short side (scale levels at most ``max_wh_scale_gap`` apart, snapped to the input size
    within 2 px), placed at one of 5 or 13 fixed positions (or anywhere with ``random_crop``)."""
    if num_fixed_crops not in (5, 13):
        raise ValueError(f"num_fixed_crops must be 5 or 13, got {num_fixed_crops}")
    in_w, in_h = _pair(input_size, "input_size")
    r = _py_random(rng)
    base = min(height, width)
    sizes = [int(base * s) for s in scales]
    candidates = [[w, h] for i, h in enumerate(sizes) for j, w in enumerate(sizes)
                  if abs(i - j) <= max_wh_scale_gap]
    crop = list(r.choice(candidates))
    for i, target in enumerate((in_w, in_h)):
        if abs(crop[i] - target) < 3:
            crop[i] = target
    cw, ch = crop
    if cw > width or ch > height or cw < 1 or ch < 1:
        raise ValueError(f"MultiScaleCrop picked {cw}x{ch} for a {width}x{height} frame; "
                         "check scales and input_size")
    if random_crop:
        x, y = r.randint(0, width - cw), r.randint(0, height - ch)
    else:
        ws, hs = (width - cw) // 4, (height - ch) // 4
        offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        if num_fixed_crops == 13:
            offsets += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                        (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
        x, y = r.choice(offsets)
    return x, y, x + cw, y + ch


def random_resized_crop_box(height: int, width: int,
                            area_range: tuple[float, float] = (0.08, 1.0),
                            aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
                            max_attempts: int = 10, rng: Any = None,
                            np_rng: Optional[Any] = None) -> Box:
    """A box of MMAction2's ``RandomResizedCrop``: ``max_attempts`` (area, log-uniform aspect)
    draws at once; the first that fits is placed uniformly; else the centred square of the short
    side. ``np_rng`` draws the candidates (numpy's global RNG by default, as MMAction2),
    ``rng`` the placement (Python's ``random`` by default)."""
    if not 0 < area_range[0] <= area_range[1] <= 1:
        raise ValueError(f"area_range must satisfy 0 < lo <= hi <= 1, got {area_range}")
    if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
        raise ValueError(f"aspect_ratio_range must satisfy 0 < lo <= hi, got {aspect_ratio_range}")
    gen = np.random.mtrand._rand if np_rng is None else np_rng
    r = _py_random(rng)
    area = height * width
    lo, hi = aspect_ratio_range
    ratios = np.exp(gen.uniform(np.log(lo), np.log(hi), size=max_attempts))
    areas = gen.uniform(*area_range, size=max_attempts) * area
    ws = np.round(np.sqrt(areas * ratios)).astype(np.int32)
    hs = np.round(np.sqrt(areas / ratios)).astype(np.int32)
    for cw, ch in zip(ws.tolist(), hs.tolist()):
        if 0 < ch <= height and 0 < cw <= width:
            x, y = r.randint(0, width - cw), r.randint(0, height - ch)
            return x, y, x + cw, y + ch
    side = min(height, width)
    x, y = (width - side) // 2, (height - side) // 2
    return x, y, x + side, y + side
