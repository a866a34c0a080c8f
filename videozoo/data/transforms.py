"""Pixel operations on uint8 frame stacks, batched, on CPU or GPU.

Frames travel channels-last, as decoders return them: ``(..., H, W, C)`` uint8 (C=3 RGB, C=2
flow). The test path is ``resize -> normalise -> crop/flip -> fold into views``; it runs wherever
the frames are, so an evaluator can decode uint8 in DataLoader workers, move the small uint8 clip
to the GPU and build the views there (:func:`make_views`).

Resize backends (MMAction2 resizes with mmcv, i.e. ``cv2.resize(INTER_LINEAR)`` on uint8):

* ``'cv2'``: OpenCV itself; CPU only. The default on CPU.
* ``'torch'``: OpenCV's fixed-point arithmetic (11-bit weights, its vertical rounding) redone in
  int32 torch ops: bit-identical to cv2 on every size tested, on any device. The default on GPU.
  On CPU it is ~20-40x slower than cv2 (13-30 ms against 0.3-1 ms per 320x240 frame: torch's
  CPU kernels for int32 gathers, shifts and broadcasts are not vectorised the way OpenCV's
  fixed-point SIMD loop is), so 'auto' never picks it there: cv2 *is* MMAction2's resize
  (mmcv.imresize calls cv2.resize INTER_LINEAR on the uint8 frames), so nothing is lost.
* ``'interpolate'``: ``F.interpolate(bilinear, align_corners=False, antialias=False)`` in
  float32, rounded: never more than one level from cv2, on 1.6% of the values of decoded video
  frames (13% on random noise); see ``benchmarks/data.py``.

Normalisation is ``(x - mean) / std`` in float32, MMAction2 1.x's data preprocessor (0.x
multiplied by the reciprocal: at most 1 ulp apart).
"""
from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from .decoders import check_frame_bytes
from .geometry import Box, crop_views, resize_shape

ArrayLike = Union[np.ndarray, torch.Tensor]

INPUT_FORMATS = ("NCHW", "NCTHW", "NCHW_Flow")

__all__ = [
    "INPUT_FORMATS",
    "ClipAugMix",
    "ClipRandAugment",
    "ColorJitter",
    "as_frames",
    "crop_frames",
    "flip_frames",
    "fold_views",
    "make_views",
    "normalize",
    "resize_frames",
]


def as_frames(frames: ArrayLike, device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """A uint8 torch tensor ``(..., H, W, C)`` on ``device`` (numpy arrays are not copied)."""
    t = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) \
        else frames
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"frames must be a numpy array or a torch tensor, got {type(frames)}")
    if t.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 (..., H, W, C) as decoded, got {t.dtype}")
    if t.ndim < 3 or t.shape[-1] not in (1, 2, 3):
        raise ValueError("frames must be laid out (..., H, W, C) with C = 3 (RGB) or 2 (flow), "
                         f"got shape {tuple(t.shape)}")
    return t.to(device) if device is not None else t


def _resize_cv2(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    import cv2

    h, w = size
    lead, (H, W, C) = frames.shape[:-3], frames.shape[-3:]
    flat = frames.reshape(-1, H, W, C).numpy()
    out = np.empty((flat.shape[0], h, w, C), dtype=np.uint8)
    for i, img in enumerate(flat):
        r = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        out[i] = r.reshape(h, w, C)
    return torch.from_numpy(out).reshape(*lead, h, w, C)


@functools.lru_cache(maxsize=256)
def _linear_taps(src: int, dst: int, clamp_edges: bool) -> tuple[np.ndarray, ...]:
    """cv2 INTER_LINEAR taps along one axis: source indices and 11-bit fixed-point weights,
    computed exactly as OpenCV does (float32 positions, weights rounded to nearest of x2048).
    Along x OpenCV snaps out-of-range positions to the edge pixel with weight (1, 0); along y it
    only clamps the row index and keeps both weights, which matters for its rounding."""
    pos = ((np.arange(dst) + 0.5) * (1.0 / (dst / src)) - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = pos - first.astype(np.float32)
    if clamp_edges:
        low, high = first < 0, first >= src - 1
        frac[low | high] = 0
        first[low], first[high] = 0, src - 1
    w0 = np.round((np.float32(1) - frac) * np.float32(2048)).astype(np.int32)
    w1 = np.round(frac * np.float32(2048)).astype(np.int32)
    return np.clip(first, 0, src - 1), np.clip(first + 1, 0, src - 1), w0, w1


def _resize_torch(frames: torch.Tensor, size: tuple[int, int], chunk: int = 16) -> torch.Tensor:
    """OpenCV's uint8 INTER_LINEAR re-done in int32 torch ops (bit-exact, any device): a
    horizontal pass with 11-bit weights, then OpenCV's vertical rounding
    ``(((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2``."""
    lead, (H, W, C) = frames.shape[:-3], frames.shape[-3:]
    h, w = size
    if C == 2 and H == 2 * h and W == 2 * w:
        # OpenCV turns an exact 2x INTER_LINEAR downscale into INTER_AREA; for 2 channels its
        # generic area code rounds the 2x2 mean half to even (other channel counts take a fast
        # path equal to the linear formula below)
        s = frames.reshape(*lead, h, 2, w, 2, C).int().sum(dim=(-4, -2))
        q, r = s >> 2, s & 3
        return (q + (r > 2).int() + ((r == 2) & (q & 1).bool()).int()).to(torch.uint8)
    dev = frames.device
    x0, x1, a0, a1 = (torch.from_numpy(v).to(dev) for v in _linear_taps(W, w, True))
    y0, y1, b0, b1 = _linear_taps(H, h, False)
    rows, inv = np.unique(np.concatenate([y0, y1]), return_inverse=True)
    r0, r1 = (torch.from_numpy(v).to(dev) for v in (inv[:h], inv[h:]))
    b0, b1 = (torch.from_numpy(v).to(dev).view(1, h, 1, 1) for v in (b0, b1))
    rows_t = torch.from_numpy(rows).to(dev)
    a0, a1 = a0.view(1, 1, w, 1), a1.view(1, 1, w, 1)
    flat = frames.reshape(-1, H, W, C)
    out = torch.empty((flat.shape[0], h, w, C), dtype=torch.uint8, device=dev)
    for i in range(0, flat.shape[0], chunk):  # bounds the int32 intermediates
        src = flat[i:i + chunk].index_select(1, rows_t).int()
        horiz = src.index_select(2, x0) * a0 + src.index_select(2, x1) * a1
        s0, s1 = horiz.index_select(1, r0) >> 4, horiz.index_select(1, r1) >> 4
        v = (((b0 * s0) >> 16) + ((b1 * s1) >> 16) + 2) >> 2
        out[i:i + chunk] = v.clamp_(0, 255).to(torch.uint8)
    return out.reshape(*lead, h, w, C)


def _resize_interpolate(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    lead, (H, W, C) = frames.shape[:-3], frames.shape[-3:]
    x = frames.reshape(-1, H, W, C).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
    x = (x + 0.5).floor_().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).reshape(*lead, size[0], size[1], C)


def resize_frames(frames: ArrayLike, size: tuple[int, int], backend: str = "auto") -> torch.Tensor:
    """Bilinear resize of uint8 ``(..., H, W, C)`` frames to ``size = (h, w)``, uint8 out.

    ``backend``: 'cv2' (OpenCV itself, CPU), 'torch' (OpenCV's arithmetic in integer torch ops,
    bit-identical, any device), 'interpolate' (``F.interpolate`` in float32: close, not exact)
    or 'auto' (cv2 for CPU tensors when OpenCV is installed, else 'torch').
    """
    t = as_frames(frames)
    size = (int(size[0]), int(size[1]))
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"resize target must be positive, got {size}")
    if tuple(t.shape[-3:-1]) == size:
        return t
    count = int(np.prod(t.shape[:-3])) if t.ndim > 3 else 1
    check_frame_bytes(count, size[0], size[1], t.shape[-1],
                      f"resizing {t.shape[-2]}x{t.shape[-3]} frames to {size[1]}x{size[0]}:")
    if backend == "auto":
        backend = "cv2" if t.device.type == "cpu" and _has_cv2() else "torch"
    if backend == "cv2":
        if t.device.type != "cpu":
            raise ValueError("the cv2 resize backend runs on CPU tensors; use backend='torch'")
        return _resize_cv2(t, size)
    if backend == "torch":
        return _resize_torch(t, size)
    if backend == "interpolate":
        return _resize_interpolate(t, size)
    raise ValueError("resize backend must be 'auto', 'cv2', 'torch' or 'interpolate', got "
                     f"{backend!r}")


def _cv2() -> Any:
    """OpenCV, or None where it is not installed (every cv2 path has a torch/numpy twin)."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _has_cv2() -> bool:
    return _cv2() is not None


def crop_frames(frames: torch.Tensor, box: Box) -> torch.Tensor:
    """``frames[..., y1:y2, x1:x2, :]`` (a view, no copy)."""
    x1, y1, x2, y2 = box
    return frames[..., y1:y2, x1:x2, :]


def flip_frames(frames: torch.Tensor, invert_x_flow: bool = False) -> torch.Tensor:
    """Horizontal flip of ``(..., H, W, C)`` frames. ``invert_x_flow`` (training Flip on flow
    only, as mmcv ``iminvert``) replaces the x-flow channel v by 255 - v; test-time TenCrop
    flips do not invert."""
    out = frames.flip(-2)
    if invert_x_flow:
        if out.shape[-1] != 2 or out.dtype != torch.uint8:
            raise ValueError("invert_x_flow expects uint8 (..., H, W, 2) flow frames")
        out[..., 0] = 255 - out[..., 0]
    return out


def normalize(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """float32 ``(x - mean) / std`` over the last (channel) axis."""
    c = frames.shape[-1]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"mean/std have {len(mean)}/{len(std)} values for {c}-channel frames")
    m = torch.as_tensor(mean, dtype=torch.float32, device=frames.device)
    s = torch.as_tensor(std, dtype=torch.float32, device=frames.device)
    return (frames.float() - m) / s


def fold_views(crops: torch.Tensor, input_format: str, clip_len: int = 1,
               num_segments: Optional[int] = None) -> torch.Tensor:
    """Fold cropped frames ``(N, K, M, h, w, C)`` (K crops of M sampled frames each, clip-major
    as sampled) into model views ``(N, V, C', T, h, w)``; views are crop-major like MMAction2.

    * ``'NCTHW'`` (3D, TPN SlowOnly): a view per (crop, clip): V = K * M / clip_len,
      T = clip_len.
    * ``'NCHW'`` (2D): the K * M frames in crop-major order, ``num_segments`` per view (TSM),
      or all in one view when None (TSN, whose head averages features over every frame).
    * ``'NCHW_Flow'``: each clip of ``clip_len`` flow frames becomes one ``2 * clip_len``
      channel stack (x_t0, y_t0, x_t1, ...), then grouped as 'NCHW'.
    """
    if crops.ndim != 6:
        raise ValueError(f"fold_views expects (N, K, M, h, w, C), got {tuple(crops.shape)}")
    return _fold_channels_first(crops.permute(0, 1, 2, 5, 3, 4), input_format, clip_len,
                                num_segments)


def _fold_channels_first(crops: torch.Tensor, input_format: str, clip_len: int = 1,
                         num_segments: Optional[int] = None) -> torch.Tensor:
    """:func:`fold_views` of channel-first crops ``(N, K, M, C, h, w)``. Kept channel-first so
    the final copy moves whole ``h x w`` planes (the uint8 HWC -> CHW transposition, the slow
    part, is done once by the caller on whichever is smaller: frames or crops)."""
    n, k, m, c, h, w = crops.shape
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
    if input_format != "NCHW" and m % clip_len:
        raise ValueError(f"{m} frames per crop do not split into clips of {clip_len}")
    if input_format == "NCTHW":
        x = crops.reshape(n, k * (m // clip_len), clip_len, c, h, w)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous()
    if input_format == "NCHW_Flow":
        if c != 2:
            raise ValueError(f"flow views need 2-channel frames, got {c}")
        x = crops.reshape(n, k * (m // clip_len), 2 * clip_len, h, w)  # stacks x_t0, y_t0, ...
    else:
        x = crops.reshape(n, k * m, c, h, w)  # (N, frames, C, h, w)
    frames = x.shape[1]
    seg = frames if num_segments is None else int(num_segments)
    if seg < 1 or frames % seg:
        raise ValueError(f"{frames} frames per video (crops x clips) do not split into views of "
                         f"num_segments={seg}")
    x = x.reshape(n, frames // seg, seg, x.shape[2], h, w)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous()


def _fold_planes(crops: list[torch.Tensor], flips: list[bool],
                 fmt_args: tuple[Any, ...]) -> torch.Tensor:
    """:func:`_fold_channels_first` of the stacked crops, on CPU without the stack: each
    ``h x w`` plane is copied once, straight into the output; a flipped one through OpenCV's
    SIMD ``flip`` when it is there (numpy's reversed-view copy is ~7x slower, and TenCrop flips
    half the planes). Where each plane goes is found by folding a small index tensor the same
    way."""
    n, m, c, h, w = crops[0].shape
    k = len(crops)
    index = torch.arange(k * m * c).reshape(1, k, m, c, 1, 1)
    where = _fold_channels_first(index, *fmt_args)[0, :, :, :, 0, 0].numpy()  # (V, C', T)
    sources = [x.numpy() for x in crops]
    cv2 = _cv2()
    out = np.empty((n, *where.shape, h, w), dtype=np.uint8)
    for (v, ch, t), src in np.ndenumerate(where):
        kk, rest = divmod(int(src), m * c)
        plane = sources[kk][:, rest // c, rest % c]
        if not flips[kk]:
            out[:, v, ch, t] = plane
        elif cv2 is None:
            out[:, v, ch, t] = plane[..., ::-1]
        else:
            for i in range(n):
                cv2.flip(plane[i], 1, dst=out[i, v, ch, t])
    return torch.from_numpy(out)


def _channels_first(frames: torch.Tensor) -> torch.Tensor:
    """``(..., H, W, C) -> (..., C, H, W)`` contiguous. On CPU uint8 through ``cv2.split``
    (SIMD, several times torch's strided copy), elsewhere torch."""
    lead, (h, w, c) = frames.shape[:-3], frames.shape[-3:]
    if frames.device.type != "cpu" or frames.dtype != torch.uint8 or c == 1 or not _has_cv2():
        return frames.movedim(-1, -3).contiguous()
    import cv2

    flat = frames.reshape(-1, h, w, c).numpy()
    out = np.empty((flat.shape[0], c, h, w), dtype=np.uint8)
    for i, img in enumerate(flat):
        cv2.split(np.ascontiguousarray(img), list(out[i]))
    return torch.from_numpy(out).reshape(*lead, c, h, w)


def _cfg_value(cfg: Any, name: str, default: Any = None) -> Any:
    if isinstance(cfg, dict):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def _input_format(cfg: Any, channels: int) -> str:
    fmt = _cfg_value(cfg, "input_format")
    if fmt:
        return fmt
    modality = _cfg_value(cfg, "modality") or ("flow" if channels == 2 else "rgb")
    if modality == "flow":
        return "NCHW_Flow"
    return "NCTHW" if int(_cfg_value(cfg, "clip_len", 1)) > 1 else "NCHW"


def make_views(frames: ArrayLike, cfg: Any, mean: Optional[Sequence[float]] = None,
               std: Optional[Sequence[float]] = None,
               device: Optional[Union[str, torch.device]] = None,
               resize_backend: str = "auto", normalize: bool = True) -> torch.Tensor:
    """The test views of sampled uint8 frames: ``(M, H, W, C) -> (V, C', T, h, w)`` float32, or
    batched ``(N, M, H, W, C) -> (N, V, C', T, h, w)``. ``normalize=False`` stops before the
    normalisation and returns the uint8 views (what a DataLoader worker should hand over, as
    MMAction2's pipeline does: a quarter of the bytes; normalise on the device).

    ``cfg`` is a :class:`~videozoo.data.pipeline.DataConfig`, a zoo ``TestProtocol`` or a dict
    with ``resize``, ``crop``, ``crop_size``, ``clip_len``, ``num_segments`` (and optionally
    ``keep_ratio``, ``modality``, ``input_format``, ``mean``, ``std``). ``M`` is the sampled
    frames in ``sample_frame_indices`` order. Steps, as MMAction2: resize the whole frame,
    crop (CenterCrop/ThreeCrop/TenCrop; TenCrop also flips), fold crop-major, normalise.
    """
    t = as_frames(frames, device)
    batched = t.ndim == 5
    if not batched:
        if t.ndim != 4:
            raise ValueError("make_views expects (M, H, W, C) or (N, M, H, W, C) uint8 frames, "
                             f"got shape {tuple(t.shape)}")
        t = t.unsqueeze(0)
    mean = mean if mean is not None else _cfg_value(cfg, "mean")
    std = std if std is not None else _cfg_value(cfg, "std")
    if normalize and (mean is None or std is None):
        raise ValueError("make_views needs mean and std (from the data config or as arguments)")
    channels = t.shape[-1]
    fmt = _input_format(cfg, channels)
    scale = _cfg_value(cfg, "resize")
    if scale is not None:
        h, w = resize_shape(t.shape[-3], t.shape[-2], tuple(scale) if isinstance(
            scale, (list, tuple)) else scale, bool(_cfg_value(cfg, "keep_ratio", True)))
        t = resize_frames(t, (h, w), resize_backend)
    if normalize and (len(mean) != channels or len(std) != channels):
        raise ValueError(f"mean/std have {len(mean)}/{len(std)} values for {channels}-channel "
                         "frames")
    crop = _cfg_value(cfg, "crop", "center")
    crop_size = _cfg_value(cfg, "crop_size", 224)
    fmt_args = (fmt, int(_cfg_value(cfg, "clip_len", 1)), _cfg_value(cfg, "num_segments"))
    if crop in (None, "none"):
        views = [((0, 0, t.shape[-2], t.shape[-3]), False)]
    else:
        views = crop_views(t.shape[-3], t.shape[-2], crop_size, crop)
    (x1, y1, x2, y2), _ = views[0]
    if len(views) * (x2 - x1) * (y2 - y1) >= t.shape[-3] * t.shape[-2]:
        t = _channels_first(t)  # crops cover more pixels than the frame: transpose it first
        crops = [t[..., y1:y2, x1:x2] for (x1, y1, x2, y2), _ in views]
    else:  # transpose only the crops
        crops = [_channels_first(crop_frames(t, box)) for box, _ in views]
    flips = [flipped for _, flipped in views]
    if t.device.type == "cpu":
        out = _fold_planes(crops, flips, fmt_args)
    else:  # crops and folding move uint8; the float copy is made once, in the final layout
        crops = [c.flip(-1) if f else c for c, f in zip(crops, flips)]
        out = _fold_channels_first(torch.stack(crops, dim=1), *fmt_args)
    if not normalize:
        return out if batched else out[0]
    reps = out.shape[2] // channels  # flow stacks repeat (x, y) clip_len times
    m = torch.as_tensor(mean, dtype=torch.float32, device=out.device).repeat(reps)
    s = torch.as_tensor(std, dtype=torch.float32, device=out.device).repeat(reps)
    out = out.float().sub_(m.view(-1, 1, 1, 1)).div_(s.view(-1, 1, 1, 1))
    return out if batched else out[0]


# --------------------------------------------------------------------------------------------
# training-time photometric augmentation (one draw per clip, the same for all its frames)
# --------------------------------------------------------------------------------------------
class ColorJitter:
    """MMAction2's ``ColorJitter`` (TPN training): brightness, contrast, saturation (factors
    around 1) and hue (shift in cv2's 0-180 hue units) drawn once per clip, applied in an order
    fixed at construction, on float32 with the BT.601-like grey of MMAction2."""

    def __init__(self, brightness: float = 0.5, contrast: float = 0.5, saturation: float = 0.5,
                 hue: float = 0.1, rng: Any = None) -> None:
        for name, v, hi in (("brightness", brightness, 1), ("contrast", contrast, 1),
                            ("saturation", saturation, 1), ("hue", hue, 0.5)):
            if not 0 <= v <= hi:
                raise ValueError(f"{name} must lie in [0, {hi}], got {v}")
        self.brightness = (1 - brightness, 1 + brightness)
        self.contrast = (1 - contrast, 1 + contrast)
        self.saturation = (1 - saturation, 1 + saturation)
        self.hue = (-hue, hue)
        gen = np.random.mtrand._rand if rng is None else rng
        self.order = [int(i) for i in gen.permutation(4)]

    @staticmethod
    def _gray(img: np.ndarray) -> np.ndarray:
        return 0.2989 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]

    @staticmethod
    def _hue(img: np.ndarray, factor: float) -> np.ndarray:
        import cv2

        shape = img.shape
        u8 = np.clip(img, 0, 255).astype(np.uint8).reshape(-1, shape[-2], 3)
        hsv = cv2.cvtColor(u8, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(factor * 255)) % 180
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(shape).astype(np.float32)

    def __call__(self, frames: ArrayLike, rng: Any = None) -> torch.Tensor:
        gen = np.random.mtrand._rand if rng is None else rng
        b, c, s, h = (gen.uniform(*r) for r in (self.brightness, self.contrast,
                                                  self.saturation, self.hue))
        clip = as_frames(frames).cpu().numpy()
        if clip.shape[-1] != 3:
            raise ValueError("ColorJitter needs RGB frames")
        out = np.empty_like(clip)
        for i, frame in enumerate(clip):  # MMAction2 computes the contrast mean per frame
            img = frame.astype(np.float32)
            for op in self.order:
                if op == 0 and b != 1:
                    img = img * np.float32(b)
                elif op == 1 and c != 1:
                    img = c * img + (1 - c) * np.mean(self._gray(img))
                elif op == 2 and s != 1:
                    img = s * img + (1 - s) * self._gray(img)[..., None]
                elif op == 3 and h != 0:
                    img = self._hue(img, h)
            out[i] = np.clip(img, 0, 255).astype(np.uint8)
        return torch.from_numpy(out)


class _ClipV2:
    """Apply a torchvision.transforms.v2 transform to a whole clip with one random draw: the
    clip is wrapped as a ``tv_tensors.Video`` (T, C, H, W), so every frame gets the same ops."""

    def __init__(self, transform: Any) -> None:
        self.transform = transform

    def __call__(self, frames: ArrayLike) -> torch.Tensor:
        from torchvision import tv_tensors

        t = as_frames(frames)
        if t.shape[-1] != 3:
            raise ValueError(f"{type(self).__name__} needs RGB frames")
        video = tv_tensors.Video(t.permute(0, 3, 1, 2))
        out = self.transform(video)
        return out.as_subclass(torch.Tensor).permute(0, 2, 3, 1).contiguous()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transform!r})"


class ClipRandAugment(_ClipV2):
    """torchvision RandAugment (defaults: 2 ops, magnitude 9), one draw per clip."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, **kwargs: Any) -> None:
        from torchvision.transforms import v2

        super().__init__(v2.RandAugment(num_ops=num_ops, magnitude=magnitude, **kwargs))


class ClipAugMix(_ClipV2):
    """torchvision AugMix (defaults: severity 3, width 3), one draw per clip."""

    def __init__(self, severity: int = 3, mixture_width: int = 3, **kwargs: Any) -> None:
        from torchvision.transforms import v2

        super().__init__(v2.AugMix(severity=severity, mixture_width=mixture_width, **kwargs))
