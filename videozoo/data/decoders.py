"""Video decoders behind one small interface, chosen by name from a registry.

Every decoder answers ``len(decoder)`` (frames in the video) and ``get_frames(indices)`` (uint8
``(N, H, W, C)``, RGB with C=3, or (x, y) flow with C=2, in the order asked). Only the frames a
clip needs are decoded, duplicates once. Any failure to read a video (missing, empty, truncated,
corrupt, no frames) raises :class:`VideoDecodeError` naming the file, so callers catch one type.

Backends:

* ``'decord'`` (default): decord ``VideoReader.get_batch``, as MMAction2's DecordDecode.
  (decord 0.6 cannot convert a few narrow frame widths, e.g. 16, 24, 48 or 72 px.)
* ``'rawframes'``: MMAction2 frame folders (``img_00001.jpg``, flow ``x_00001.jpg`` /
  ``y_00001.jpg``), decoded like mmcv: ``cv2.imdecode`` then BGR -> RGB; flow as grayscale.
  OpenCV (``opencv-python-headless``) rather than PIL or torchvision.io because it *is*
  MMAction2's decoder (and its resize is the reference too): no libjpeg build or IDCT/upsampling
  setting can then drift from the numbers being reproduced. It is also the faster of the two
  (``benchmarks/data.py``: 0.85 vs 1.3 ms per frame; identical pixels on its test frames).
* ``'pyav'``: PyAV, sequential decoding up to the last frame needed (no seeking), for files
  decord cannot open. Its YUV -> RGB conversion (swscale) may differ from decord's by a level.

A new backend is a subclass registered with ``@register_decoder('name')``; callers pass the name.
"""
from __future__ import annotations

import abc
import os
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, os.PathLike]

__all__ = [
    "DecordDecoder",
    "FrameFolderDecoder",
    "PyAVDecoder",
    "VideoDecodeError",
    "VideoDecoder",
    "list_decoders",
    "open_video",
    "register_decoder",
]


class VideoDecodeError(RuntimeError):
    """A video (or frame folder) could not be decoded; ``path`` names it."""

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot decode {self.path}: {reason}")


_DECODERS: dict[str, type[VideoDecoder]] = {}


def register_decoder(name: str) -> Callable[[type[VideoDecoder]], type[VideoDecoder]]:
    """Class decorator: make a ``VideoDecoder`` subclass available as ``open_video(..., name)``."""

    def wrap(cls: type[VideoDecoder]) -> type[VideoDecoder]:
        if name in _DECODERS:
            raise ValueError(f"decoder {name!r} registered twice")
        cls.name = name
        _DECODERS[name] = cls
        return cls

    return wrap


def list_decoders() -> list[str]:
    return sorted(_DECODERS)


def open_video(source: PathLike, decoder: str = "decord", **kwargs: Any) -> VideoDecoder:
    """Open ``source`` with the named backend; kwargs go to its constructor
    (e.g. ``num_threads`` for decord, ``filename_tmpl``/``start_index``/``modality``/
    ``total_frames`` for frame folders)."""
    if decoder not in _DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; registered: {', '.join(list_decoders())}")
    return _DECODERS[decoder](source, **kwargs)


class VideoDecoder(abc.ABC):
    """One opened video. Subclasses implement ``__len__`` and ``_decode_sorted``."""

    name = "base"

    def __init__(self, source: PathLike) -> None:
        self.path = os.fspath(source)

    @abc.abstractmethod
    def __len__(self) -> int:
        """Frames in the video (what MMAction2 calls ``total_frames``)."""

    @abc.abstractmethod
    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        """Decode strictly increasing, in-range, 0-based indices -> (N, H, W, C) uint8."""

    @property
    def num_frames(self) -> int:
        return len(self)

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 ``(len(indices), H, W, C)`` frames in the order asked; each distinct index is
        decoded once. Indices are 0-based and must lie in ``[0, len(self))``."""
        inds = np.asarray(indices, dtype=np.int64).reshape(-1)
        if inds.size == 0:
            raise ValueError("get_frames needs at least one index")
        total = len(self)
        if inds.min() < 0 or inds.max() >= total:
            raise ValueError(f"frame indices must lie in [0, {total}) for {self.path}, got "
                             f"[{int(inds.min())}, {int(inds.max())}]")
        unique, inverse = np.unique(inds, return_inverse=True)
        try:
            frames = self._decode_sorted(unique)
        except VideoDecodeError:
            raise
        except Exception as e:  # decord/av/cv2 raise many types; callers need one
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {e}") from e
        if frames.ndim != 4 or frames.shape[0] != unique.size or frames.dtype != np.uint8:
            raise VideoDecodeError(self.path, f"decoder returned {frames.shape} {frames.dtype} "
                                   f"for {unique.size} frames")
        return frames if unique.size == inds.size and np.array_equal(unique, inds) \
            else frames[inverse.reshape(-1)]

    def close(self) -> None:  # noqa: B027  (optional hook: most backends hold no resource)
        """Release the file; the decoder cannot be used afterwards."""

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


def _check_file(path: str) -> None:
    if not os.path.isfile(path):
        raise VideoDecodeError(path, "no such file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(path, "the file is empty")


@register_decoder("decord")
class DecordDecoder(VideoDecoder):
    """decord ``VideoReader``; ``num_threads=1`` is MMAction2's setting (parallelism comes from
    DataLoader workers), 0 lets decord choose."""

    def __init__(self, source: PathLike, num_threads: int = 1) -> None:
        super().__init__(source)
        _check_file(self.path)
        try:
            import decord
        except ImportError as e:  # pragma: no cover - decord is a dependency
            raise ImportError("the 'decord' decoder needs `pip install decord`") from e
        try:
            self._reader = decord.VideoReader(self.path, num_threads=num_threads)
            self._len = len(self._reader)
        except Exception as e:
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {str(e).splitlines()[0]}") \
                from e
        if self._len < 1:
            raise VideoDecodeError(self.path, "the video has no frames")

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        return float(self._reader.get_avg_fps())

    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        try:
            return self._reader.get_batch(indices.tolist()).asnumpy()
        except Exception as e:
            if "must exactly match" in str(e):  # decord 0.6 fails on a few narrow widths
                raise VideoDecodeError(self.path, f"decord cannot convert this frame size "
                                       f"({e}); decoder='pyav' can") from e
            raise

    def close(self) -> None:
        self._reader = None


@register_decoder("pyav")
class PyAVDecoder(VideoDecoder):
    """PyAV, decoding forward from the start and keeping only the frames asked for."""

    def __init__(self, source: PathLike) -> None:
        super().__init__(source)
        _check_file(self.path)
        import av

        try:
            self._container = av.open(self.path)
            if not self._container.streams.video:
                raise VideoDecodeError(self.path, "the file has no video stream")
            stream = self._container.streams.video[0]
            self._len = int(stream.frames) or self._count_frames()
        except VideoDecodeError:
            raise
        except Exception as e:
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {e}") from e
        if self._len < 1:
            raise VideoDecodeError(self.path, "the video has no frames")

    def _count_frames(self) -> int:
        self._container.seek(0)
        n = sum(1 for _ in self._container.decode(video=0))
        self._container.seek(0)
        return n

    def __len__(self) -> int:
        return self._len

    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        self._container.seek(0)
        wanted = iter(indices.tolist())
        target, out = next(wanted), []
        for i, frame in enumerate(self._container.decode(video=0)):
            if i == target:
                out.append(frame.to_ndarray(format="rgb24"))
                target = next(wanted, None)
                if target is None:
                    break
        if len(out) != indices.size:
            raise VideoDecodeError(self.path, f"only {i + 1 if out else 0} frames could be "
                                   f"decoded, frame {target} was asked for")
        return np.stack(out)

    def close(self) -> None:
        if getattr(self, "_container", None) is not None:
            self._container.close()
            self._container = None


@register_decoder("rawframes")
class FrameFolderDecoder(VideoDecoder):
    """An MMAction2 frame folder: ``filename_tmpl.format(i + start_index)`` for RGB frames
    (``'img_{:05d}.jpg'``, sthv1/Jester ``'{:05d}.jpg'``), or for flow
    ``filename_tmpl.format('x'|'y', i + start_index)`` (``'{}_{:05d}.jpg'``), returning
    (H, W, 2) frames with x in channel 0. ``total_frames`` comes from the annotation list as in
    MMAction2; when None the files are counted."""

    def __init__(self, source: PathLike, total_frames: Optional[int] = None,
                 filename_tmpl: Optional[str] = None, start_index: int = 1,
                 modality: str = "rgb") -> None:
        super().__init__(source)
        modality = modality.lower()
        if modality not in ("rgb", "flow"):
            raise ValueError(f"modality must be 'rgb' or 'flow', got {modality!r}")
        self.modality = modality
        if filename_tmpl is None:
            filename_tmpl = "{}_{:05d}.jpg" if modality == "flow" else "img_{:05d}.jpg"
        self.filename_tmpl = filename_tmpl
        self.start_index = int(start_index)
        if not os.path.isdir(self.path):
            raise VideoDecodeError(self.path, "no such frame folder")
        if total_frames is None:
            total_frames = self._count_files()
        self._len = int(total_frames)
        if self._len < 1:
            raise VideoDecodeError(self.path, "the frame folder has no frames "
                                   f"(template {self.filename_tmpl!r})")

    def frame_paths(self, index: int) -> list[str]:
        """The file(s) holding 0-based frame ``index`` (two for flow: x then y)."""
        n = index + self.start_index
        if self.modality == "flow":
            return [os.path.join(self.path, self.filename_tmpl.format(d, n)) for d in ("x", "y")]
        return [os.path.join(self.path, self.filename_tmpl.format(n))]

    def _count_files(self) -> int:
        n = 0
        while all(os.path.isfile(p) for p in self.frame_paths(n)):
            n += 1
        return n

    def __len__(self) -> int:
        return self._len

    def _read(self, path: str, gray: bool) -> np.ndarray:
        import cv2

        try:
            buf = np.fromfile(path, dtype=np.uint8)
        except OSError as e:
            raise VideoDecodeError(path, f"cannot read frame file ({e.strerror or e})") from e
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR) \
            if buf.size else None
        if img is None:
            raise VideoDecodeError(path, "not a decodable image (empty, truncated or corrupt)")
        return img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        frames = []
        for i in indices.tolist():
            paths = self.frame_paths(i)
            if self.modality == "flow":
                x, y = (self._read(p, gray=True) for p in paths)
                if x.shape != y.shape:
                    raise VideoDecodeError(paths[1], f"y-flow {y.shape} differs from x-flow "
                                           f"{x.shape}")
                frames.append(np.stack([x, y], axis=-1))
            else:
                frames.append(self._read(paths[0], gray=False))
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise VideoDecodeError(self.path, f"frames differ in size: {sorted(shapes)}")
        return np.stack(frames)


def decoder_kwargs(decoder: str, filename_tmpl: Optional[str] = None, start_index: int = 1,
                   modality: str = "rgb", total_frames: Optional[int] = None) -> dict[str, Any]:
    """The constructor arguments a data config implies for ``decoder``."""
    if decoder == "rawframes":
        return {"filename_tmpl": filename_tmpl, "start_index": start_index,
                "modality": modality, "total_frames": total_frames}
    return {}
