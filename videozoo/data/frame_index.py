"""Frame-exact random access to a video stream with PyAV.

Why: decord (and so MMAction2) seeks to the wrong place in open-GOP H.264/HEVC files (leading
B-frames of a non-IDR keyframe) and returns a frame a few positions away from the one asked for,
without any error. Here a frame is found by its *timestamp*, never by counting after a seek:

1. :func:`probe_stream` demuxes the file once without decoding (a few ms for a 10 s clip) and
   records every frame's display timestamp, the keyframes and whether the GOPs are open
   (a keyframe followed in decode order by frames shown before it). The result is cached per
   (path, size, mtime).
2. :func:`decode_frames` seeks to the keyframe at or before each run of wanted frames, decodes
   forward, keeps the frames whose timestamps are wanted, and asks FFmpeg to skip non-reference
   frames nobody wants (``skip_frame='NONREF'``: they are never decoded). A wanted frame that
   does not come out (a decoder that drops leading pictures after a seek) is looked for again
   from an earlier keyframe, and finally from the start of the stream, so the answer is the
   frame asked for or an error.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

__all__ = ["StreamIndex", "decode_frames", "probe_stream"]


@dataclass(frozen=True)
class StreamIndex:
    """Display-order timestamps of a video stream's frames and where decoding can start."""

    pts: np.ndarray  # int64, ascending: frame i (0-based, display order) has timestamp pts[i]
    keyframes: np.ndarray  # display indices of keyframes, ascending (0 when the stream is sane)
    open_gop: bool  # some keyframe after the first has leading pictures (decord may mis-seek)
    width: int
    height: int
    pix_fmt: str
    codec: str

    def __len__(self) -> int:
        return int(self.pts.size)

    @property
    def format_key(self) -> tuple[Any, ...]:
        """What decides the YUV -> RGB conversion (checked once per key against decord)."""
        return self.codec, self.pix_fmt, self.width, self.height

    def keyframe_at_or_before(self, index: int) -> int:
        pos = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[max(pos, 0)])

    def seek_start(self, index: int) -> int:
        """Where to start decoding for frame ``index``. In an open-GOP stream one keyframe
        earlier: frames after a non-IDR keyframe may refer to its leading pictures, which need
        the previous GOP."""
        pos = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        if self.open_gop:
            pos -= 1
        return int(self.keyframes[max(pos, 0)])


def _stat_key(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


_CACHE: dict[tuple[str, int, int], Optional[StreamIndex]] = {}
_CACHE_SIZE = 512


def clear_cache() -> None:
    _CACHE.clear()


def _build_index(container: Any) -> Optional[StreamIndex]:
    if not container.streams.video:
        return None
    stream = container.streams.video[0]
    cc = stream.codec_context
    decode_order: list[tuple[int, bool]] = []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if packet.pts is None:
            return None  # no timestamps: frames can only be counted from the start
        if getattr(packet, "is_discard", False):
            continue
        decode_order.append((int(packet.pts), bool(packet.is_keyframe)))
    width, height, pix_fmt = cc.width, cc.height, str(cc.pix_fmt or "")
    codec = cc.name
    if not decode_order:
        return None
    pts = np.array([p for p, _ in decode_order], dtype=np.int64)
    order = np.sort(pts)
    if np.any(np.diff(order) == 0):
        return None  # duplicate timestamps: a timestamp does not name one frame
    rank = np.searchsorted(order, pts)
    keys = [i for i, (_, k) in enumerate(decode_order) if k]
    open_gop = False
    for j, pos in enumerate(keys):
        end = keys[j + 1] if j + 1 < len(keys) else len(pts)
        if j > 0 and end > pos + 1 and pts[pos + 1:end].min() < pts[pos]:
            open_gop = True
            break
    key_display = np.unique(rank[keys]) if keys else np.array([0], dtype=np.int64)
    if key_display[0] != 0:  # the first frames shown are not after a keyframe: start there
        key_display = np.concatenate([[0], key_display])
    return StreamIndex(order, key_display.astype(np.int64), open_gop, int(width), int(height),
                       pix_fmt, codec)


def probe_stream(path: str, container: Any = None) -> Optional[StreamIndex]:
    """The frame index of the first video stream of ``path``; None when its timestamps cannot
    name frames (missing or duplicate), so frames must be counted from the start. Cached per
    (path, size, mtime); an open ``container`` of the file is used (and left at its start)
    instead of opening it again."""
    key = _stat_key(path)
    if key in _CACHE:
        return _CACHE[key]
    if container is None:
        import av

        with av.open(path) as own:
            index = _build_index(own)
    else:
        index = _build_index(container)
        container.seek(0)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = index
    return index


class RGBConverter:
    """``frame -> (H, W, 3) uint8`` through one reused swscale context. Setting one up costs
    more than converting a frame (PyAV's ``to_ndarray(format='rgb24')`` does it per frame), so
    :func:`rgb_converter` keeps one per thread for every video; the pixels are the same."""

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()

    def __call__(self, frame: Any) -> np.ndarray:
        # threads=1: swscale's own slice threads would not survive a fork into DataLoader
        # workers (a context made in the parent would wait forever for them)
        return self._reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()


_THREAD_LOCAL = threading.local()


def _forget_converters() -> None:  # a forked child starts with fresh swscale contexts
    global _THREAD_LOCAL
    _THREAD_LOCAL = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_converters)


def rgb_converter() -> RGBConverter:
    """This thread's :class:`RGBConverter` (swscale contexts are not shared across threads)."""
    conv = getattr(_THREAD_LOCAL, "rgb", None)
    if conv is None:
        conv = _THREAD_LOCAL.rgb = RGBConverter()
    return conv


def _decode_from(container: Any, stream: Any, index: StreamIndex, start: int,
                 wanted: list[int], out: dict[int, np.ndarray], skip_unwanted: bool,
                 to_rgb: RGBConverter) -> None:
    """Seek to keyframe ``start`` and decode forward until every wanted frame is in ``out``
    or the next wanted frame is better reached by seeking again."""
    cc = stream.codec_context
    pts_to_index = {int(p): i for i, p in enumerate(index.pts.tolist())}
    wanted_pts = {int(index.pts[i]) for i in wanted if i not in out}
    if not wanted_pts:
        return
    container.seek(int(index.pts[start]), stream=stream, backward=True, any_frame=False)
    last_wanted = max(pts_to_index[p] for p in wanted_pts)
    shown = -1  # highest display index decoded since the seek
    reseek_at = _reseek_point(index, pts_to_index, wanted_pts, start)
    try:
        for packet in container.demux(stream):
            if skip_unwanted:
                cc.skip_frame = "DEFAULT" if packet.pts is None or packet.pts in wanted_pts \
                    else "NONREF"
            got = False
            for frame in cc.decode(packet):
                i = pts_to_index.get(frame.pts) if frame.pts is not None else None
                if i is None:
                    continue
                shown = max(shown, i)
                if frame.pts in wanted_pts and i not in out:
                    out[i] = to_rgb(frame)
                    wanted_pts.discard(frame.pts)
                    got = True
            if not wanted_pts or shown >= last_wanted:  # output comes in display order
                return
            if got:
                reseek_at = _reseek_point(index, pts_to_index, wanted_pts, start)
            if reseek_at > shown + 1:
                return  # the next wanted frame is a seek away: the caller seeks there
    finally:
        cc.skip_frame = "DEFAULT"


def _reseek_point(index: StreamIndex, pts_to_index: dict[int, int], wanted_pts: set[int],
                  start: int) -> int:
    """The keyframe to seek to for the next wanted frame, or -1 if that is where we are."""
    k = index.seek_start(min(pts_to_index[p] for p in wanted_pts)) if wanted_pts else -1
    return k if k > start else -1


def decode_frames(container: Any, index: StreamIndex, indices: np.ndarray,
                  skip_unwanted: bool = True,
                  to_rgb: Optional[RGBConverter] = None) -> list[np.ndarray]:
    """RGB uint8 frames for sorted, unique, in-range display ``indices`` of the container's
    first video stream; raises LookupError naming a frame that cannot be decoded."""
    stream = container.streams.video[0]
    to_rgb = to_rgb or rgb_converter()
    out: dict[int, np.ndarray] = {}
    wanted = [int(i) for i in indices.tolist()]
    attempts = 0
    while len(out) < len(wanted):
        missing = [i for i in wanted if i not in out]
        start = index.seek_start(missing[0])
        before = len(out)
        _decode_from(container, stream, index, start, missing, out, skip_unwanted, to_rgb)
        if len(out) > before:
            continue
        # nothing new came out from there: go back one keyframe at a time, then the start
        attempts += 1
        earlier = index.keyframes[index.keyframes < start]
        restart = int(earlier[-1]) if earlier.size and attempts < 3 else 0
        _decode_from(container, stream, index, restart, missing, out, False, to_rgb)
        if len(out) == before:
            if restart == 0:
                raise LookupError(f"frame {missing[0]} could not be decoded")
            attempts = 3  # next round: from the start
    return [out[i] for i in wanted]
