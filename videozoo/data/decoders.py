"""Video decoders behind one small interface, chosen by name from a registry.

Every decoder answers ``len(decoder)`` (frames in the video) and ``get_frames(indices)`` (uint8
``(N, H, W, C)``, RGB with C=3, or (x, y) flow with C=2, in the order asked). Only the frames a
clip needs are decoded, duplicates once. Any failure to read a video (missing, empty, truncated,
corrupt, no frames, not a regular file) raises :class:`VideoDecodeError` naming the file, so
callers catch one type. Frames are refused before they are decoded when they would take more than
``max_frame_bytes()`` (``VIDEOZOO_MAX_FRAME_BYTES``, default 1 GiB).

Backends:

* ``'decord'`` (default): MMAction2's decoder and its pixels, with the right frames. decord
  seeks to the wrong frame in open-GOP H.264/HEVC files, silently, and MMAction2 inherits it:
  on the open-GOP file of ``tests/test_data_adversarial.py`` (x264 ``open_gop=1``, keyframes
  every 32 frames, numbers written into the pictures) frames [30, 33, 40, 53, 63, 96] come back
  as [32, 35, 42, 55, 65, 97]. So by default (``mmaction2_compatible=False``) frames are found
  by timestamp with a seek-aware PyAV reader (:mod:`videozoo.data.frame_index`): the same
  pixels as decord (checked against decord itself on the first file of each stream format),
  the frame asked for, and faster on H.264 with B-frames: non-reference frames nobody asked for
  are not decoded (MMAction2's whole data path takes 1.5-2x as long,
  ``benchmarks/compare_mmaction2_data.py``). Where PyAV's colour
  conversion differs from decord's (odd frame sizes), decord decodes, and for open-GOP files it
  decodes sequentially from frame 0 (no seeks, so no wrong frames). ``mmaction2_compatible=
  True`` (or the decoder name ``'decord_mmaction2'``, e.g. ``cfg.replace(decoder=
  'decord_mmaction2')`` or ``--decoder decord_mmaction2``) is decord's ``get_batch`` exactly as
  MMAction2 calls it, wrong frames included, for reproducing MMAction2's numbers bit for bit. (decord 0.6 cannot convert a few narrow widths,
  e.g. 16, 24, 48 or 72 px.)
* ``'rawframes'``: MMAction2 frame folders (``img_00001.jpg``, flow ``x_00001.jpg`` /
  ``y_00001.jpg``), decoded like mmcv: ``cv2.imdecode`` then BGR -> RGB; flow as grayscale.
  OpenCV (``opencv-python-headless``) rather than PIL or torchvision.io because it *is*
  MMAction2's decoder (and its resize is the reference too): no libjpeg build or IDCT/upsampling
  setting can then drift from the numbers being reproduced. It is also the faster of the two
  (``benchmarks/data.py``: 0.85 vs 1.3 ms per frame; identical pixels on its test frames).
  A folder with a gap in its numbering is an error naming the first missing frame.
* ``'pyav'``: the seek-aware PyAV reader alone (frames by timestamp; counted from the start for
  streams without usable timestamps), for files decord cannot open.

A new backend is a subclass registered with ``@register_decoder('name')``; callers pass the name.
"""
from __future__ import annotations

import abc
import os
import stat
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, os.PathLike]

DEFAULT_MAX_FRAME_BYTES = 1 << 30

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "DecordDecoder",
    "FrameFolderDecoder",
    "MMAction2DecordDecoder",
    "PyAVDecoder",
    "VideoDecodeError",
    "VideoDecoder",
    "check_frame_bytes",
    "list_decoders",
    "max_frame_bytes",
    "open_video",
    "register_decoder",
]


class VideoDecodeError(RuntimeError):
    """A video (or frame folder) could not be decoded; ``path`` names it."""

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot decode {self.path}: {reason}")


def max_frame_bytes() -> int:
    """The most bytes of uint8 frames one video may decode or resize into at once:
    ``VIDEOZOO_MAX_FRAME_BYTES`` (an integer) or 1 GiB."""
    text = os.environ.get("VIDEOZOO_MAX_FRAME_BYTES", "").strip()
    if not text:
        return DEFAULT_MAX_FRAME_BYTES
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"VIDEOZOO_MAX_FRAME_BYTES must be a number of bytes, got {text!r}") \
            from None
    if value < 1:
        raise ValueError(f"VIDEOZOO_MAX_FRAME_BYTES must be positive, got {text!r}")
    return value


def check_frame_bytes(count: int, height: int, width: int, channels: int, what: str,
                      path: Optional[PathLike] = None) -> None:
    """Refuse ``count`` frames of ``height x width x channels`` bytes above the limit, with one
    line that says how big and how to raise the limit."""
    need = int(count) * int(height) * int(width) * int(channels)
    limit = max_frame_bytes()
    if need > limit:
        reason = (f"{what} {count} frames of {width}x{height} would take {need / 2**20:.0f} MiB, "
                  f"over the {limit / 2**20:.0f} MiB limit (set VIDEOZOO_MAX_FRAME_BYTES to "
                  "raise it)")
        if path is not None:
            raise VideoDecodeError(path, reason)
        raise ValueError(reason)


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
    (e.g. ``num_threads`` / ``mmaction2_compatible`` for decord, ``filename_tmpl`` /
    ``start_index`` / ``modality`` / ``total_frames`` for frame folders)."""
    if decoder not in _DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; registered: {', '.join(list_decoders())}")
    return _DECODERS[decoder](source, **kwargs)


class VideoDecoder(abc.ABC):
    """One opened video. Subclasses implement ``__len__`` and ``_decode_sorted``; those that
    know their frame size before decoding set ``frame_shape`` so oversized requests are refused
    before any work."""

    name = "base"
    frame_shape: Optional[tuple[int, int, int]] = None  # (H, W, C) when known up front

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
        if self.frame_shape is not None:
            check_frame_bytes(unique.size, *self.frame_shape, "decoding", self.path)
        try:
            frames = self._decode_sorted(unique)
        except VideoDecodeError:
            raise
        except Exception as e:  # decord/av/cv2 raise many types; callers need one
            raise VideoDecodeError(self.path, f"{type(e).__name__}: {_first_line(e)}") from e
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


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "(no message)"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _check_file(path: str) -> None:
    """A regular, non-empty file; FIFOs and devices are refused (reading them can block
    forever), without opening them."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VideoDecodeError(path, "no such file") from None
    except OSError as e:
        raise VideoDecodeError(path, f"cannot stat the file ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VideoDecodeError(path, f"{_kind(st.st_mode)}, not a regular file")
    if st.st_size == 0:
        raise VideoDecodeError(path, "the file is empty")


def read_regular_file(path: str) -> bytes:
    """The bytes of a regular file. Opened non-blocking and checked with ``fstat`` first, so a
    FIFO or device put in place of a frame file is refused at once instead of blocking."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise VideoDecodeError(path, "no such file") from None
    except OSError as e:
        raise VideoDecodeError(path, f"cannot read the file ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise VideoDecodeError(path, f"{_kind(st.st_mode)}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError as e:
        raise VideoDecodeError(path, f"cannot read the file ({e.strerror or e})") from None
    finally:
        os.close(fd)


# YUV -> RGB: does PyAV's conversion give decord's pixels for this stream format? Checked once
# per (codec, pixel format, size) per process, on the first frame, against decord itself.
_SAME_PIXELS_AS_DECORD: dict[tuple[Any, ...], bool] = {}


def _decord_reader(path: str, num_threads: int) -> Any:
    try:
        import decord
    except ImportError as e:  # pragma: no cover - decord is a dependency
        raise ImportError("the 'decord' decoder needs `pip install decord`") from e
    try:
        return decord.VideoReader(path, num_threads=num_threads)
    except Exception as e:
        raise VideoDecodeError(path, f"{type(e).__name__}: {_first_line(e)}") from e


class _PyAVStream:
    """An opened PyAV container with its frame index (None: count frames from the start)."""

    def __init__(self, path: str, num_threads: int = 1) -> None:
        import av

        from .frame_index import probe_stream, rgb_converter

        self.path = path
        self.to_rgb = rgb_converter()
        try:
            self.container = av.open(path)
            if not self.container.streams.video:
                raise VideoDecodeError(path, "the file has no video stream")
            self.index = probe_stream(path, self.container)
            stream = self.container.streams.video[0]
            stream.codec_context.thread_count = max(int(num_threads), 0)
            if int(num_threads) != 1:  # FFmpeg frame threading (0: as many as it likes)
                stream.codec_context.thread_type = "AUTO"
            self.header_frames = int(stream.frames or 0)
            self.length = len(self.index) if self.index is not None else \
                (self.header_frames or self._count_frames())
            cc = stream.codec_context
            self.shape = (int(cc.height), int(cc.width), 3) if cc.width and cc.height else None
        except VideoDecodeError:
            self.close()
            raise
        except Exception as e:
            self.close()
            raise VideoDecodeError(path, f"{type(e).__name__}: {_first_line(e)}") from e

    def _count_frames(self) -> int:
        self.container.seek(0)
        n = sum(1 for _ in self.container.decode(video=0))
        self.container.seek(0)
        return n

    def decode(self, indices: np.ndarray) -> np.ndarray:
        from .frame_index import decode_frames

        if self.index is not None:
            try:
                return np.stack(decode_frames(self.container, self.index, indices,
                                              to_rgb=self.to_rgb))
            except LookupError as e:
                raise VideoDecodeError(self.path, str(e)) from None
        self.container.seek(0)  # no usable timestamps: count from the start
        wanted = iter(indices.tolist())
        target, out, i = next(wanted), [], -1
        for i, frame in enumerate(self.container.decode(video=0)):
            if i == target:
                out.append(self.to_rgb(frame))
                target = next(wanted, None)
                if target is None:
                    break
        if len(out) != indices.size:
            raise VideoDecodeError(self.path, f"only {i + 1} frames could be decoded, frame "
                                   f"{target} was asked for")
        return np.stack(out)

    def close(self) -> None:
        if getattr(self, "container", None) is not None:
            self.container.close()
            self.container = None


@register_decoder("decord")
class DecordDecoder(VideoDecoder):
    """MMAction2's decoder (decord ``VideoReader``), with its pixels and the right frames.

    Args:
        num_threads: decord's (1 is MMAction2's setting: parallelism comes from DataLoader
            workers; 0 lets decord choose); also the PyAV reader's FFmpeg threads.
        mmaction2_compatible: decode with decord's ``get_batch`` exactly as MMAction2 does,
            wrong frames of open-GOP files included (see the module docstring). Default False:
            frames are found by timestamp.

    ``backend`` says how this file is read: ``'pyav'`` (seek-aware, by timestamp),
    ``'decord'`` (``get_batch``) or ``'decord-sequential'`` (decord from frame 0, no seeks).
    """

    def __init__(self, source: PathLike, num_threads: int = 1,
                 mmaction2_compatible: bool = False) -> None:
        super().__init__(source)
        _check_file(self.path)
        self.num_threads = int(num_threads)
        self.mmaction2_compatible = bool(mmaction2_compatible)
        self._reader: Any = None
        self._stream: Optional[_PyAVStream] = None
        if self.mmaction2_compatible:
            self.backend = "decord"
        else:
            self._stream = _PyAVStream(self.path, self.num_threads)
            self.backend = self._choose_backend(self._stream)
            if self.backend != "pyav":
                self._stream.close()
                self._stream = None
        if self._stream is not None:
            self._len = self._stream.length
            self.frame_shape = self._stream.shape
        else:
            self._reader = _decord_reader(self.path, self.num_threads)
            self._len = len(self._reader)
        if self._len < 1:
            self.close()
            raise VideoDecodeError(self.path, "the video has no frames")

    def _choose_backend(self, stream: _PyAVStream) -> str:
        index = stream.index
        if index is None:
            return "decord-sequential"  # no timestamps to check decord's seeks against
        if stream.header_frames and stream.header_frames != len(index):
            # decord counts from the header: keep its length, avoid its seeks where unsafe
            return "decord-sequential" if index.open_gop else "decord"
        key = index.format_key
        if key not in _SAME_PIXELS_AS_DECORD:
            reader = _decord_reader(self.path, self.num_threads)
            same = self._same_first_frame(stream, reader) if len(reader) == stream.length \
                else None
            if same is None:  # this file, not its format, is the question: nothing cached
                return "decord-sequential" if index.open_gop else "decord"
            _SAME_PIXELS_AS_DECORD[key] = same
        if _SAME_PIXELS_AS_DECORD[key]:
            return "pyav"
        return "decord-sequential" if index.open_gop else "decord"

    @staticmethod
    def _same_first_frame(stream: _PyAVStream, reader: Any) -> Optional[bool]:
        """Whether both give the same pixels for frame 0; None if either cannot decode it."""
        try:
            ours = stream.decode(np.array([0]))
            theirs = reader.get_batch([0]).asnumpy()
        except Exception:
            return None
        return ours.shape == theirs.shape and bool(np.array_equal(ours, theirs))

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        if self._reader is None:
            self._reader = _decord_reader(self.path, self.num_threads)
        return float(self._reader.get_avg_fps())

    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        if self._stream is not None:
            return self._stream.decode(indices)
        wanted = indices.tolist()
        if self.backend == "decord-sequential":
            wanted = list(range(int(indices[-1]) + 1))
        try:
            frames = self._reader.get_batch(wanted).asnumpy()
        except Exception as e:
            if "must exactly match" in str(e):  # decord 0.6 fails on a few narrow widths
                raise VideoDecodeError(self.path, f"decord cannot convert this frame size "
                                       f"({e}); decoder='pyav' can") from e
            raise
        return frames[indices] if self.backend == "decord-sequential" else frames

    def close(self) -> None:
        self._reader = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None


@register_decoder("decord_mmaction2")
class MMAction2DecordDecoder(DecordDecoder):
    """``DecordDecoder(mmaction2_compatible=True)`` under its own name, so a data config or the
    CLI can ask for MMAction2's decoding bit for bit (``decoder='decord_mmaction2'``)."""

    def __init__(self, source: PathLike, num_threads: int = 1) -> None:
        super().__init__(source, num_threads=num_threads, mmaction2_compatible=True)


@register_decoder("pyav")
class PyAVDecoder(VideoDecoder):
    """PyAV alone: frames found by timestamp after seeking to the nearest keyframe (see
    :mod:`videozoo.data.frame_index`), or counted from the start when timestamps are unusable."""

    def __init__(self, source: PathLike, num_threads: int = 1) -> None:
        super().__init__(source)
        _check_file(self.path)
        self._stream: Optional[_PyAVStream] = _PyAVStream(self.path, num_threads)
        self._len = self._stream.length
        self.frame_shape = self._stream.shape
        if self._len < 1:
            self.close()
            raise VideoDecodeError(self.path, "the video has no frames")

    def __len__(self) -> int:
        return self._len

    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        if self._stream is None:
            raise VideoDecodeError(self.path, "the decoder is closed")
        return self._stream.decode(indices)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


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
        self._pending = 0
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
        """Frames numbered without a gap from the first; a later frame after a missing one is an
        error naming the first missing file (MMAction2 would silently stop counting there)."""
        try:
            names = set(os.listdir(self.path))
        except OSError as e:
            raise VideoDecodeError(self.path, f"cannot list the frame folder ({e.strerror or e})")\
                from None
        def present(i: int) -> bool:
            return all(os.path.basename(p) in names for p in self.frame_paths(i))

        n = 0
        while present(n):
            n += 1
        later = next((i for i in range(n + 1, n + 1 + len(names)) if present(i)), None)
        if later is not None:
            raise VideoDecodeError(self.path, f"frame file {self._missing_name(n)} is missing "
                                   f"but later frames exist (e.g. "
                                   f"{os.path.basename(self.frame_paths(later)[0])}); fix the "
                                   "folder or give total_frames")
        return n

    def _missing_name(self, index: int) -> str:
        paths = self.frame_paths(index)
        return os.path.basename(next((p for p in paths if not os.path.exists(p)), paths[0]))

    def __len__(self) -> int:
        return self._len

    def _read(self, path: str, gray: bool) -> np.ndarray:
        import cv2

        try:
            data = read_regular_file(path)
        except VideoDecodeError as e:
            if e.reason == "no such file":
                have = self._count_present()
                raise VideoDecodeError(path, f"no such frame file (the list gives {self._len} "
                                       f"frames; {self.path} holds {have} numbered from "
                                       f"{self.start_index})") from None
            raise
        buf = np.frombuffer(data, dtype=np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR) \
            if buf.size else None
        if img is None:
            raise VideoDecodeError(path, "not a decodable image (empty, truncated or corrupt)")
        if self.frame_shape is None:  # the first frame tells the size of the rest
            self.frame_shape = (img.shape[0], img.shape[1], 2 if self.modality == "flow" else 3)
            check_frame_bytes(self._pending, *self.frame_shape, "decoding", self.path)
        return img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _count_present(self) -> int:
        n = 0
        while n < self._len and all(os.path.exists(p) for p in self.frame_paths(n)):
            n += 1
        return n

    def _decode_sorted(self, indices: np.ndarray) -> np.ndarray:
        frames = []
        self._pending = int(indices.size)
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
