"""Small synthetic labelled videos for tests, examples and demos, written the way real datasets
are stored (mp4 files or MMAction2 frame folders) with an MMAction2 annotation list.

Kinds:

* ``'moving_object'``: a square of a class-specific colour moving in a random direction over a
  noisy background: any single frame tells the class.
* ``'direction'``: the same grey square moving left or right (``num_classes=2``; 4 adds up and
  down). Every frame of a "left" video could equally be a frame of a "right" video played
  backwards, so a single frame, or an order-free average over frames (TSN), carries no
  information; only the order of the frames (TSM's temporal shift, 3D convolutions) does.

    from videozoo.data.synthetic import make_synthetic_dataset
    ds = make_synthetic_dataset("/tmp/synth", num_videos=40, num_classes=2, kind="direction")
    dataset = videozoo.VideoDataset(ds.ann_file, "tsm_r50", root=ds.root)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

__all__ = [
    "SyntheticDataset",
    "make_synthetic_dataset",
    "make_synthetic_video",
    "numbered_frames",
    "read_frame_number",
    "write_flow_folder",
    "write_frame_folder",
    "write_video",
]

KINDS = ("moving_object", "direction")
FORMATS = ("video", "rawframes", "flow")
_DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # left, right, up, down (dx, dy)


@dataclass(frozen=True)
class SyntheticDataset:
    root: str  # paths in the annotation list are relative to this
    ann_file: str
    labels: tuple[int, ...]
    kind: str
    format: str  # 'video' | 'rawframes' | 'flow'
    num_classes: int


def _size(size: Union[int, tuple[int, int]]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else size
    if h < 8 or w < 8:
        raise ValueError(f"synthetic frames must be at least 8x8, got {h}x{w}")
    return int(h), int(w)


def _class_colour(label: int, num_classes: int) -> np.ndarray:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(label / max(num_classes, 1), 0.9, 0.95)
    return (np.array([r, g, b]) * 255).astype(np.uint8)


def make_synthetic_video(label: int, num_classes: int, frames: int = 16,
                         size: Union[int, tuple[int, int]] = (48, 64), kind: str = "moving_object",
                         rng: Optional[np.random.Generator] = None,
                         return_flow: bool = False):
    """uint8 ``(T, H, W, 3)`` frames of one video of class ``label`` (and, with
    ``return_flow``, its uint8 ``(T, H, W, 2)`` optical flow in MMAction2's 128-centred
    encoding)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not 0 <= label < num_classes:
        raise ValueError(f"label {label} outside [0, {num_classes})")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    rng = rng if rng is not None else np.random.default_rng()
    h, w = _size(size)
    side = max(4, min(h, w) // 4)
    if kind == "direction":
        if num_classes not in (2, 4):
            raise ValueError("kind='direction' has 2 (left/right) or 4 (+up/down) classes")
        dx, dy = _DIRECTIONS[label]
        colour = np.array([200, 200, 200], dtype=np.uint8)
    else:
        dx, dy = _DIRECTIONS[int(rng.integers(4))]
        colour = _class_colour(label, num_classes)
    # a speed that keeps the square inside the frame for the whole clip, random start on the path
    room_x, room_y = w - side, h - side
    span = room_x if dx else room_y
    speed = max(1, min(3, span // max(frames - 1, 1))) if frames > 1 else 0
    travel = speed * (frames - 1)
    start = int(rng.integers(0, max(span - travel, 0) + 1))
    fixed = int(rng.integers(0, (room_y if dx else room_x) + 1))
    # a smooth random gradient with a little noise: textured, yet kind to video/JPEG codecs
    c0, c1 = rng.uniform(30, 110, size=(2, 3))
    ramp = (np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5
            else np.linspace(0, 1, h)[:, None, None])
    background = np.clip(c0 + (c1 - c0) * ramp + rng.normal(0, 2, (h, w, 3)), 0, 255)
    background = np.broadcast_to(background, (h, w, 3)).astype(np.uint8)
    video = np.repeat(background[None], frames, axis=0)
    flow = np.full((frames, h, w, 2), 128, dtype=np.uint8) if return_flow else None
    step = dx if dx else dy
    for t in range(frames):
        pos = start + speed * t if step > 0 else span - start - speed * t
        pos = int(np.clip(pos, 0, span))
        x, y = (pos, fixed) if dx else (fixed, pos)
        video[t, y:y + side, x:x + side] = colour
        if flow is not None:
            flow[t, y:y + side, x:x + side, 0] = 128 + 16 * speed * dx
            flow[t, y:y + side, x:x + side, 1] = 128 + 16 * speed * dy
    return (video, flow) if return_flow else video


_NUMBER_BITS = 10  # frame numbers up to 1023


def numbered_frames(frames: int, size: tuple[int, int] = (96, 128), seed: int = 0) -> np.ndarray:
    """uint8 ``(T, H, W, 3)`` frames whose top band spells the frame number in black/white
    blocks (any codec keeps them readable, see :func:`read_frame_number`) over a moving
    texture (so encoders use P- and B-frames): to check that a decoder returns the frame asked
    for."""
    h, w = _size(size)
    if w < 4 * _NUMBER_BITS or h < 32:
        raise ValueError(f"numbered frames need at least {4 * _NUMBER_BITS}x32 pixels, got "
                         f"{w}x{h}")
    if not 1 <= frames <= 2 ** _NUMBER_BITS:
        raise ValueError(f"frames must lie in [1, {2 ** _NUMBER_BITS}], got {frames}")
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (h + frames, w + 2 * frames, 3)).astype(np.float32)
    kernel = np.ones(5, np.float32) / 5  # blur: a texture codecs can predict
    for axis in (0, 1):
        texture = np.apply_along_axis(np.convolve, axis, texture, kernel, "same")
    texture = texture.astype(np.uint8)
    band, bw = max(16, h // 6) // 2 * 2, w // _NUMBER_BITS
    out = np.empty((frames, h, w, 3), dtype=np.uint8)
    for t in range(frames):
        out[t] = texture[t:t + h, 2 * t:2 * t + w]
        for b in range(_NUMBER_BITS):
            out[t, :band, b * bw:(b + 1) * bw] = 255 if (t >> b) & 1 else 0
    return out


def read_frame_number(frame: np.ndarray) -> int:
    """The number :func:`numbered_frames` wrote into ``frame`` (H, W, C)."""
    h, w = frame.shape[:2]
    band, bw = max(16, h // 6) // 2 * 2, w // _NUMBER_BITS
    number = 0
    for b in range(_NUMBER_BITS):
        block = frame[2:band - 2, b * bw + 2:(b + 1) * bw - 2]
        number |= (1 << b) if block.mean() > 128 else 0
    return number


def write_video(path: Union[str, os.PathLike], frames: np.ndarray, fps: int = 25,
                codec: str = "mpeg4", bit_rate: int = 4_000_000,
                options: Optional[dict[str, str]] = None) -> str:
    """Encode uint8 ``(T, H, W, 3)`` RGB frames with PyAV (mpeg4 takes any size; libx264 needs
    even sizes). ``options`` go to the encoder, e.g. ``{'x264-params':
    'open_gop=1:bframes=3:keyint=32:scenecut=0'}`` for open-GOP H.264 (``bit_rate`` is then
    ignored by x264's default CRF unless the options ask for it)."""
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_video expects uint8 (T, H, W, 3), got {frames.shape} "
                         f"{frames.dtype}")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=fps, options=dict(options or {}))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if not options:
            stream.bit_rate = bit_rate
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(folder: Union[str, os.PathLike], frames: np.ndarray,
                       filename_tmpl: str = "img_{:05d}.jpg", start_index: int = 1,
                       quality: int = 95) -> str:
    """Write RGB frames as MMAction2 JPEG files (``img_00001.jpg``, ...)."""
    import cv2

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(np.asarray(frames)):
        name = os.path.join(folder, filename_tmpl.format(i + start_index))
        if not cv2.imwrite(name, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"could not write {name}")
    return folder


def write_flow_folder(folder: Union[str, os.PathLike], flow: np.ndarray,
                      filename_tmpl: str = "{}_{:05d}.jpg", start_index: int = 1,
                      quality: int = 95) -> str:
    """Write uint8 ``(T, H, W, 2)`` flow as MMAction2 grayscale ``x_00001.jpg`` /
    ``y_00001.jpg`` files."""
    import cv2

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(np.asarray(flow)):
        for c, d in enumerate("xy"):
            name = os.path.join(folder, filename_tmpl.format(d, i + start_index))
            if not cv2.imwrite(name, np.ascontiguousarray(f[..., c]),
                               [cv2.IMWRITE_JPEG_QUALITY, quality]):
                raise OSError(f"could not write {name}")
    return folder


def make_synthetic_dataset(root: Union[str, os.PathLike], num_videos: int = 20,
                           num_classes: int = 2, frames: Union[int, tuple[int, int]] = 16,
                           size: Union[int, tuple[int, int]] = (48, 64),
                           kind: str = "moving_object", seed: int = 0, format: str = "video",
                           ann_name: Optional[str] = None, codec: str = "mpeg4"
                           ) -> SyntheticDataset:
    """Write ``num_videos`` labelled videos (classes balanced, order shuffled) under ``root``.

    Args:
        frames: frames per video, or a (min, max) range drawn per video.
        format: ``'video'`` (mp4 + ``path label`` list), ``'rawframes'`` (``img_00001.jpg``
            folders + ``dir total_frames label`` list) or ``'flow'`` (``x_/y_00001.jpg``).
        ann_name: annotation list file name (default ``{format}_list.txt``).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if num_videos < 1 or num_classes < 1:
        raise ValueError("num_videos and num_classes must be >= 1")
    rng = np.random.default_rng(seed)
    root_path = Path(root)
    root_path.mkdir(parents=True, exist_ok=True)
    labels = rng.permutation(np.arange(num_videos) % num_classes).tolist()
    lo, hi = (frames, frames) if isinstance(frames, int) else frames
    lines = []
    for i, label in enumerate(labels):
        n = int(rng.integers(lo, hi + 1))
        video, flow = make_synthetic_video(label, num_classes, n, size, kind, rng,
                                           return_flow=True)
        name = f"{kind}_{i:04d}"
        if format == "video":
            write_video(root_path / f"{name}.mp4", video, codec=codec)
            lines.append(f"{name}.mp4 {label}")
        elif format == "rawframes":
            write_frame_folder(root_path / name, video)
            lines.append(f"{name} {n} {label}")
        else:
            write_flow_folder(root_path / name, flow)
            lines.append(f"{name} {n} {label}")
    ann_file = root_path / (ann_name or f"{format}_list.txt")
    ann_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SyntheticDataset(str(root_path), str(ann_file), tuple(labels), kind, format,
                            num_classes)
