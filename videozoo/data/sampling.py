"""Which frames a clip reads: MMAction2's ``SampleFrames`` and ``DenseSampleFrames``, exactly.

The index arithmetic (float offsets, truncation after the modulo, the order of the clips) is what
makes a checkpoint's reported accuracy reproducible, so it follows MMAction2 step for step:

* test mode is deterministic; MMAction2 1.x and 0.x agree for ``clip_len == 1`` and differ for
  longer clips (1.x spreads clip starts from the first to the last possible start, 0.x centres each
  clip in an equal bin): ``legacy=True`` selects 0.x;
* train mode is random and identical in both versions;
* indices past the end wrap around (``out_of_bound_opt='loop'``), which is how videos shorter
  than a clip are handled.

Indices are returned 0-based; decoders add a frame folder's ``start_index`` themselves.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

RandomSource = Union[None, int, np.random.RandomState, np.random.Generator]

__all__ = ["sample_frame_indices", "num_sampled_clips"]


def _as_rng(rng: RandomSource) -> Any:
    """None -> numpy's global RNG (what MMAction2 draws from); int -> a seeded RandomState."""
    if rng is None:
        return np.random.mtrand._rand
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.RandomState(int(rng))
    raise TypeError(f"rng must be None, an int seed, a RandomState or a Generator, got {type(rng)}")


def _randint(rng: Any, low: int, high: int, size: Optional[int] = None) -> Any:
    if isinstance(rng, np.random.Generator):
        return rng.integers(low, high, size=size)
    return rng.randint(low, high, size=size)


def _check_positive(**values: Any) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _test_offsets(total: int, clip_len: int, interval: int, num_clips: int, twice: bool,
                  legacy: bool) -> np.ndarray:
    if legacy:  # MMAction2 0.x: clips centred in equal bins, for any clip length
        span = clip_len * interval
        avg = (total - span + 1) / float(num_clips)
        if total > span - 1:
            base = np.arange(num_clips) * avg
            offsets = (base + avg / 2.0).astype(np.int64)
            if twice:  # the un-shifted starts stay float; truncated with the final cast
                offsets = np.concatenate([offsets, base])
        else:  # too short: every clip starts at 0 (not doubled by twice_sample)
            offsets = np.zeros((num_clips,), dtype=np.int64)
        return offsets
    if clip_len == 1:  # MMAction2 1.x, "2D recognizer" branch
        avg = total / float(num_clips)
        base = np.arange(num_clips) * avg
        offsets = base + avg / 2.0
        if twice:
            offsets = np.concatenate([offsets, base])
        return offsets
    # MMAction2 1.x, "3D recognizer" branch: starts spread from 0 to the last possible start
    span = (clip_len - 1) * interval + 1
    max_offset = max(total - span, 0)
    count = num_clips * 2 if twice else num_clips
    if count > 1:
        if num_clips == 1:
            raise ValueError("MMAction2 1.x cannot twice-sample a single clip of more than one "
                             "frame (its spacing divides by num_clips - 1 = 0); use num_clips > 1 "
                             "or legacy=True")
        between = max_offset / float(num_clips - 1)
        return np.round(np.arange(count) * between)
    return np.array([max_offset // 2])


def _train_offsets(total: int, clip_len: int, interval: int, num_clips: int, rng: Any,
                   keep_tail_frames: bool) -> np.ndarray:
    span = clip_len * interval
    if keep_tail_frames:
        avg = (total - span + 1) / float(num_clips)
        if total > span - 1:
            base = np.arange(num_clips) * avg
            return (base + rng.uniform(0, avg, num_clips)).astype(np.int64)
        return np.zeros((num_clips,), dtype=np.int64)
    avg = (total - span + 1) // num_clips
    if avg > 0:  # one random start inside each of num_clips equal bins
        return np.arange(num_clips) * avg + _randint(rng, 0, avg, size=num_clips)
    if total > max(num_clips, span):  # fewer frames than bins: sorted random starts
        return np.sort(_randint(rng, 0, total - span + 1, size=num_clips))
    if avg == 0:
        ratio = (total - span + 1.0) / num_clips
        return np.around(np.arange(num_clips) * ratio)
    return np.zeros((num_clips,), dtype=np.int64)


def _dense_offsets(total: int, num_clips: int, test_mode: bool, rng: Any, sample_range: int,
                   num_sample_positions: int) -> np.ndarray:
    positions = max(1, 1 + total - sample_range)
    interval = sample_range // num_clips
    base = np.arange(num_clips) * interval
    if test_mode:
        starts = np.linspace(0, positions - 1, num=num_sample_positions, dtype=int)
        return np.concatenate([(base + s) % total for s in starts])
    start = 0 if positions == 1 else _randint(rng, 0, positions - 1)
    return (base + start) % total


def sample_frame_indices(
    total_frames: int,
    clip_len: int,
    frame_interval: int,
    num_clips: int,
    test_mode: bool = True,
    twice_sample: bool = False,
    dense: bool = False,
    rng: RandomSource = None,
    legacy: bool = False,
    *,
    start_index: int = 0,
    out_of_bound: str = "loop",
    keep_tail_frames: bool = False,
    sample_range: int = 64,
    num_sample_positions: int = 10,
) -> np.ndarray:
    """Frame indices of MMAction2's ``SampleFrames`` (or ``DenseSampleFrames`` when ``dense``).

    Args:
        total_frames: frames in the video (decord's ``len(VideoReader)`` or the annotation's count).
        clip_len, frame_interval, num_clips: MMAction2's names; a TSN/TSM "1x1x8" is
            ``clip_len=1, frame_interval=1, num_clips=8``, TPN's "8x8x1" is ``8, 8, 1``.
        test_mode: deterministic test sampling; otherwise random training sampling.
        twice_sample: TSM's "accurate" test: append the un-shifted clip starts (2x clips).
        dense: ``DenseSampleFrames``: ``num_sample_positions`` start positions in test mode.
        rng: training randomness: None (numpy's global RNG, as MMAction2), an int seed
            (a ``RandomState``, so ``np.random.seed(s)`` in MMAction2 gives the same draw), a
            ``RandomState`` or a ``Generator``. Ignored in test mode.
        legacy: MMAction2 0.x test sampling (differs from 1.x only for ``clip_len > 1``).
        start_index: added to every index (1 for MMAction2 frame folders); 0 by default.
        out_of_bound: 'loop' (MMAction2's default, index mod total_frames) or 'repeat_last'.
        keep_tail_frames, sample_range, num_sample_positions: MMAction2's options, same defaults.

    Returns:
        int64 indices, clip-major (all ``clip_len`` frames of clip 0, then clip 1, ...).
    """
    _check_positive(total_frames=total_frames, clip_len=clip_len, frame_interval=frame_interval,
                    num_clips=num_clips, sample_range=sample_range,
                    num_sample_positions=num_sample_positions)
    if out_of_bound not in ("loop", "repeat_last"):
        raise ValueError(f"out_of_bound must be 'loop' or 'repeat_last', got {out_of_bound!r}")
    total = int(total_frames)
    gen = None if test_mode else _as_rng(rng)
    if dense:
        offsets = _dense_offsets(total, num_clips, test_mode, gen, sample_range,
                                 num_sample_positions)
    elif test_mode:
        offsets = _test_offsets(total, clip_len, frame_interval, num_clips, twice_sample, legacy)
    else:
        offsets = _train_offsets(total, clip_len, frame_interval, num_clips, gen, keep_tail_frames)

    inds = np.asarray(offsets)[:, None] + np.arange(clip_len)[None, :] * frame_interval
    if out_of_bound == "loop":
        inds = np.mod(inds, total)
    else:  # repeat the last in-range index of each clip
        safe = inds < total
        last = np.max(safe * inds, axis=1)
        inds = safe * inds + ((1 - safe).T * last).T
    return (inds.reshape(-1) + start_index).astype(np.int64)


def num_sampled_clips(num_clips: int, twice_sample: bool = False, dense: bool = False,
                      num_sample_positions: int = 10, test_mode: bool = True) -> int:
    """How many clips ``sample_frame_indices`` returns in test (or train) mode."""
    if dense:
        return num_clips * num_sample_positions if test_mode else num_clips
    return num_clips * 2 if (twice_sample and test_mode) else num_clips
